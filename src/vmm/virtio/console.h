// SPDX-License-Identifier: Apache-2.0
/* virtio-console with VIRTIO_CONSOLE_F_MULTIPORT (Virtio 1.2 section 5.3): named ports,
 * each bridged to a host file descriptor (a connected socket) on the VMM's event loop.
 * The guest finds a port by name (/sys/class/virtio-ports/vportNpM/name). */
#ifndef VMM_VIRTIO_CONSOLE_H
#define VMM_VIRTIO_CONSOLE_H

#include "common/error.h"
#include "vmm/core/evloop.h"
#include "vmm/virtio/virtio.h"

/* Control messages (section 5.3.6.2). */
#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_DEVICE_READY 0
#define VIRTIO_CONSOLE_DEVICE_ADD 1 /* "PORT_ADD" */
#define VIRTIO_CONSOLE_DEVICE_REMOVE 2
#define VIRTIO_CONSOLE_PORT_READY 3
#define VIRTIO_CONSOLE_CONSOLE_PORT 4
#define VIRTIO_CONSOLE_RESIZE 5
#define VIRTIO_CONSOLE_PORT_OPEN 6
#define VIRTIO_CONSOLE_PORT_NAME 7

struct virtio_console_control {
    uint32_t id;    /* port number, little-endian */
    uint16_t event; /* VIRTIO_CONSOLE_* */
    uint16_t value;
};

#define CONSOLE_MAX_PORTS 16
#define CONSOLE_QUEUE_SIZE 128
#define CONSOLE_NAME_MAX 255

/* Creates the device with room for max_ports ports (1..CONSOLE_MAX_PORTS); its host
 * fds are served on loop. virtio_dev_free(*out) frees it, unregisters and closes every
 * port's fd. */
int console_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
                struct evloop *loop, uint32_t max_ports, struct bl_error *err);

/* Adds a named port bridged to fd, which the device takes over (made non-blocking; closed
 * by virtio_dev_free, also when this fails). Bytes the guest writes to the port are
 * written to fd; bytes read from fd go to the guest once the guest has opened the port.
 * Backpressure both ways: fd is not read while the guest has no receive buffer, and the
 * guest's transmit queue is not consumed while fd would block, so nothing is dropped or
 * buffered without bound (at most one guest buffer per direction is held). When fd reaches
 * end of file or fails, the guest is told the host side closed (PORT_OPEN 0) and what it
 * writes afterwards is discarded. Ports get ids 0, 1, 2... in order; returns the id or a
 * negative error. May be called before or after the driver is up. Writes use
 * MSG_NOSIGNAL on sockets; for a pipe the process must ignore SIGPIPE. */
int console_add_port(struct virtio_dev *dev, const char *name, int fd, struct bl_error *err);
/* The same for a console port (hvc in the guest); name may be NULL. */
int console_add_console_port(struct virtio_dev *dev, const char *name, int fd,
                             struct bl_error *err);
/* Whether the guest has port id open (PORT_OPEN 1 received, not closed since). */
bool console_port_guest_open(struct virtio_dev *dev, uint32_t id);

#endif
