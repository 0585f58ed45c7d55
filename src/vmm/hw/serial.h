// SPDX-License-Identifier: Apache-2.0
/* An 8250/16550A UART, enough for Linux to detect a 16550A and run its console on it:
 * transmitted bytes go to a log fd, input bytes can be queued for the guest. */
#ifndef VMM_HW_SERIAL_H
#define VMM_HW_SERIAL_H

#include "vmm/core/device.h"

#include <stddef.h>

#define SERIAL_COM1_PORT 0x3f8
#define SERIAL_COM1_GSI 4
#define SERIAL_IO_SIZE 8

struct serial;

/* out_fd receives every byte the guest transmits (not owned, may be -1 to discard); irq
 * is raised (an edge) whenever an enabled interrupt condition becomes pending. Returns
 * NULL when out of memory. */
struct serial *serial_new(int out_fd, struct irq_line irq);
void serial_free(struct serial *s); /* NULL is a no-op */
/* Queues up to len bytes of input for the guest (any thread); returns how many fit in the
 * receive FIFO (the rest is the caller's to retry after the guest reads). */
size_t serial_input(struct serial *s, const void *buf, size_t len);

/* Snapshots (machine_add_state; core/device.h): the registers the driver set and the
 * receive FIFO; opaque = the serial. */
extern const struct machine_state_ops serial_state_ops;

/* Port I/O at [SERIAL_COM1_PORT, +8), opaque = the serial; offsets 0..7, len 1. */
extern const struct bus_ops serial_bus_ops;

#endif
