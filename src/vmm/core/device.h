// SPDX-License-Identifier: Apache-2.0
/* How a device meets the machine. The machine (KVM engine, src/vmm/kvm/) owns the MMIO and
 * port I/O buses and the interrupt controller; a device model only sees these callbacks, so
 * the same model runs against a real VM or against plain memory in unit tests. */
#ifndef VMM_DEVICE_H
#define VMM_DEVICE_H

#include <stdint.h>

/* Register access from a vCPU thread. len is 1, 2, 4 or 8; offset is relative to the
 * device's base. Reads of unknown registers return zeros; writes to them are ignored. */
struct bus_ops {
    void (*read)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
    void (*write)(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
};

/* An interrupt line given to a device. trigger() raises an edge (virtio-mmio and the
 * serial port use edge-triggered GSIs on the IOAPIC); it may be called from any thread. */
struct irq_line {
    void (*trigger)(void *opaque, uint32_t gsi);
    void *opaque;
    uint32_t gsi;
};

static inline void irq_trigger(const struct irq_line *irq)
{
    if (irq && irq->trigger)
        irq->trigger(irq->opaque, irq->gsi);
}

#endif
