// SPDX-License-Identifier: Apache-2.0
/* A TCP relay for port forwards from IPv6 host addresses (Docker's -p [::1]:8080:80):
 * listeners of ours whose connections are spliced to a libslirp forward on 127.0.0.1
 * (relay.c says why libslirp cannot take them itself). One thread for every listener and
 * connection (the I/O threads' seccomp list); at most 64 listeners and 256 connections,
 * 16 KiB buffered each way: a client beyond that is refused, never queued without bound. */
#ifndef VMM_NET_RELAY_H
#define VMM_NET_RELAY_H

#include "common/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define RELAY_MAX_LISTEN 64

/* What the TCP and UDP relays share: their listeners (each with the 127.0.0.1 port its
 * traffic goes to), the one thread that serves them, started with the first listener, and
 * the eventfd that wakes it when a listener is added or it must stop. */
struct relay_listeners {
    pthread_mutex_t lock;
    pthread_t thread;
    bool started, stop;
    int wake;
    int lfd[RELAY_MAX_LISTEN];
    uint16_t target[RELAY_MAX_LISTEN];
    unsigned nl;
};
int relay_listeners_init(struct relay_listeners *l, struct bl_error *err);
/* Binds a socket of type (SOCK_STREAM: listening too) to addr (port 0: any free one, said
 * in *bound_port; IPv6 only for an IPv6 address), to be relayed to 127.0.0.1:target_port;
 * starts thread(arg) with the first one. */
int relay_listeners_add(struct relay_listeners *l, int type, const struct sockaddr *addr,
                        socklen_t len, uint16_t target_port, uint16_t *bound_port,
                        void *(*thread)(void *), void *arg, struct bl_error *err);
/* The thread's view: how many listeners to poll now. */
unsigned relay_listeners_count(struct relay_listeners *l);
/* The thread's wake fd was readable: true when it must stop. */
bool relay_listeners_woken(struct relay_listeners *l);
/* Stops and joins the thread, closes the listeners and the eventfd. */
void relay_listeners_close(struct relay_listeners *l);

struct tcp_relay;

int tcp_relay_new(struct tcp_relay **out, struct bl_error *err);
/* Listens on addr (its port 0: any free one, said in *bound_port) and relays each
 * connection to 127.0.0.1:target_port. The thread starts with the first listener. */
int tcp_relay_add(struct tcp_relay *r, const struct sockaddr *addr, socklen_t len,
                  uint16_t target_port, uint16_t *bound_port, struct bl_error *err);
/* Stops the thread, closes every listener and connection. NULL is a no-op. */
void tcp_relay_free(struct tcp_relay *r);

#endif
