// SPDX-License-Identifier: Apache-2.0
/* A TCP relay for port forwards from IPv6 host addresses (Docker's -p [::1]:8080:80):
 * listeners of ours whose connections are spliced to a libslirp forward on 127.0.0.1
 * (relay.c says why libslirp cannot take them itself). One thread for every listener and
 * connection (the I/O threads' seccomp list); at most 64 listeners and 256 connections,
 * 16 KiB buffered each way: a client beyond that is refused, never queued without bound. */
#ifndef VMM_NET_RELAY_H
#define VMM_NET_RELAY_H

#include "common/error.h"

#include <stdint.h>
#include <sys/socket.h>

struct tcp_relay;

int tcp_relay_new(struct tcp_relay **out, struct bl_error *err);
/* Listens on addr (its port 0: any free one, said in *bound_port) and relays each
 * connection to 127.0.0.1:target_port. The thread starts with the first listener. */
int tcp_relay_add(struct tcp_relay *r, const struct sockaddr *addr, socklen_t len,
                  uint16_t target_port, uint16_t *bound_port, struct bl_error *err);
/* Stops the thread, closes every listener and connection. NULL is a no-op. */
void tcp_relay_free(struct tcp_relay *r);

#endif
