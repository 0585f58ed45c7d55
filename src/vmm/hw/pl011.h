// SPDX-License-Identifier: Apache-2.0
/* Arm's PrimeCell UART (PL011), enough for Linux's amba-pl011 driver to probe it and run
 * its console (ttyAMA0) and earlycon: transmitted bytes go to a log fd, input bytes can be
 * queued for the guest. */
#ifndef VMM_HW_PL011_H
#define VMM_HW_PL011_H

#include "vmm/core/device.h"

#include <stddef.h>

#define PL011_MMIO_SIZE 0x1000

struct pl011;

/* out_fd receives every byte the guest transmits (not owned, may be -1 to discard); irq is
 * a level-triggered line (the PL011's UARTINTR), held high while an enabled interrupt is
 * pending. NULL when out of memory. */
struct pl011 *pl011_new(int out_fd, struct irq_line irq);
void pl011_free(struct pl011 *u); /* NULL is a no-op */
/* Queues up to len bytes of input for the guest (any thread); returns how many fit in the
 * receive FIFO. */
size_t pl011_input(struct pl011 *u, const void *buf, size_t len);

/* MMIO at [base, +PL011_MMIO_SIZE), opaque = the UART; 32-bit registers (narrower
 * accesses are accepted, as Linux's earlycon writes DR with a byte store). */
extern const struct bus_ops pl011_bus_ops;
/* Snapshots (machine_add_state; core/device.h): the registers the driver set, the receive
 * FIFO and the line as last driven. */
extern const struct machine_state_ops pl011_state_ops;

#endif
