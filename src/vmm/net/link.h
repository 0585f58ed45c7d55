// SPDX-License-Identifier: Apache-2.0
/* A datagram socket as the wire between a NIC outside this process and the box's network:
 * the QEMU engine hands QEMU one end of a SOCK_DGRAM socketpair (QEMU 7.2's
 * `-netdev dgram,id=N,local.type=fd,local.str=FD`, docs/system/invocation: one ethernet
 * frame per datagram, no header) and relays the other end to a net_backend
 * (slirp_net_backend), so QEMU's guest meets the same stack, policy and counters as the KVM
 * engine's virtio-net.
 *
 * One thread: frames read from the socket go to be.send; frames the back end queues for the
 * guest (be.rx_fd readable) are sent to the socket. When QEMU's side is full (EAGAIN) the
 * frame waits and the queue with it until the socket is writable again: the back end's own
 * bounded queue drops what does not fit, as a full NIC ring would. A datagram larger than
 * a frame can be is cut short by the kernel and dropped here (counted). */
#ifndef VMM_NET_LINK_H
#define VMM_NET_LINK_H

#include "common/error.h"
#include "vmm/virtio/net.h"

#include <stdint.h>

struct net_link;

struct net_link_stats {
    uint64_t frames_in, frames_out; /* from the socket to be.send / from the back end out */
    uint64_t dropped;               /* oversized datagrams, frames the peer refused */
};

/* Takes fd (a connected SOCK_DGRAM socket) and starts the thread. */
int net_link_start(struct net_link **out, int fd, struct net_backend be, struct bl_error *err);
/* Stops the thread, closes fd. NULL is a no-op. */
void net_link_stop(struct net_link *l);
void net_link_stats(struct net_link *l, struct net_link_stats *out);

#endif
