// SPDX-License-Identifier: Apache-2.0
/* How a device meets the machine. The machine (KVM engine, src/vmm/kvm/) owns the MMIO and
 * port I/O buses and the interrupt controller; a device model only sees these callbacks, so
 * the same model runs against a real VM or against plain memory in unit tests. */
#ifndef VMM_DEVICE_H
#define VMM_DEVICE_H

#include <stddef.h>
#include <stdint.h>

/* Register access from a vCPU thread. len is 1, 2, 4 or 8; offset is relative to the
 * device's base. Reads of unknown registers return zeros; writes to them are ignored. */
struct bus_ops {
    void (*read)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
    void (*write)(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
};

/* An interrupt line given to a device. trigger() raises an edge (virtio-mmio and the
 * serial port use edge-triggered GSIs on the IOAPIC); it may be called from any thread.
 * A level-triggered line (the PL011 on the GIC) has set_level instead: the device holds it
 * high while its interrupt condition lasts. */
struct irq_line {
    void (*trigger)(void *opaque, uint32_t gsi);
    void *opaque;
    uint32_t gsi;
    void (*set_level)(void *opaque, uint32_t gsi, int level);
};

static inline void irq_trigger(const struct irq_line *irq)
{
    if (irq && irq->trigger)
        irq->trigger(irq->opaque, irq->gsi);
}

/* A level change; on an edge-only line a rise is an edge and a fall nothing. */
static inline void irq_set_level(const struct irq_line *irq, int level)
{
    if (irq && irq->set_level)
        irq->set_level(irq->opaque, irq->gsi, level);
    else if (level)
        irq_trigger(irq);
}

/* A device's state for the KVM machine's snapshots (machine_add_state, src/vmm/snapshot.h):
 * save writes records (vmsnap_rec) while no vCPU runs; restore reads them back from an
 * untrusted payload into a device created as the saved one was (0, or -BOXLITE_ERR_*). */
struct vmsnap_buf;
struct bl_error;
struct machine_state_ops {
    const char *name;
    void (*save)(void *opaque, struct vmsnap_buf *p);
    int (*restore)(void *opaque, const uint8_t *p, size_t len, struct bl_error *err);
};

#endif
