// SPDX-License-Identifier: Apache-2.0
/* A UDP relay for port forwards from IPv6 host addresses (Docker's -p [::1]:5353:53/udp):
 * listeners of ours whose datagrams go, one flow per client address, to a libslirp forward
 * on 127.0.0.1, and whose answers go back to that client (relay.c says why libslirp cannot
 * take IPv6 host addresses itself). One thread (the I/O threads' seccomp list); at most 64
 * listeners and 256 flows, a flow ending after 60 s without a datagram, the least recently
 * used one giving way to a new client when all are taken: memory stays bounded whatever
 * clients send. */
#ifndef VMM_NET_UDP_RELAY_H
#define VMM_NET_UDP_RELAY_H

#include "common/error.h"

#include <stdint.h>
#include <sys/socket.h>

struct udp_relay;

int udp_relay_new(struct udp_relay **out, struct bl_error *err);
/* Binds addr (its port 0: any free one, said in *bound_port) and relays each client's
 * datagrams to 127.0.0.1:target_port. The thread starts with the first listener. */
int udp_relay_add(struct udp_relay *r, const struct sockaddr *addr, socklen_t len,
                  uint16_t target_port, uint16_t *bound_port, struct bl_error *err);
/* Stops the thread, closes every listener and flow. NULL is a no-op. */
void udp_relay_free(struct udp_relay *r);

#endif
