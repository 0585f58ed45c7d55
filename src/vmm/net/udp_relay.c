// SPDX-License-Identifier: Apache-2.0
/* The UDP relay for port forwards from IPv6 host addresses (udp_relay.h): what relay.c does
 * for TCP, for datagrams. A datagram has no connection to splice, so each client address
 * gets a flow of its own: a socket connected to the libslirp forward on 127.0.0.1, whose
 * answers go back to that client from the listener's address (the client sees its peer
 * unchanged, as through Docker's userland proxy). Flows end after UDP_IDLE_MS without a
 * datagram either way; when all are taken the least recently used one gives way. */
#include "vmm/net/udp_relay.h"

#include "vmm/net/relay.h"

#include "vmm/jail/jail.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UDP_MAX_FLOWS 256
#define UDP_IDLE_MS 60000

struct flow {
    int fd;                         /* connected to 127.0.0.1:target of its listener */
    unsigned listener;
    struct sockaddr_storage client; /* where its answers go */
    socklen_t client_len;
    uint64_t last_ms;
};

struct udp_relay {
    struct relay_listeners l;
    struct flow flows[UDP_MAX_FLOWS];
    unsigned nf;
    char buf[65536];                /* one datagram at a time (the relay's thread only) */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int udp_relay_new(struct udp_relay **out, struct bl_error *err)
{
    *out = NULL;
    struct udp_relay *r = calloc(1, sizeof *r);
    if (!r)
        return bl_err(err, BOXLITE_ERR_NOMEM, "udp relay: out of memory");
    if (relay_listeners_init(&r->l, err) < 0) {
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

static void flow_drop(struct udp_relay *r, unsigned k)
{
    close(r->flows[k].fd);
    r->flows[k] = r->flows[--r->nf];
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t al,
                      const struct sockaddr_storage *b, socklen_t bl)
{
    return al == bl && !memcmp(a, b, al);
}

/* The flow of a client of listener i, made if it has none (the oldest one goes when all
 * are taken); -1 when no socket can be made for it (the datagram is dropped, as UDP may). */
static int flow_for(struct udp_relay *r, unsigned i, const struct sockaddr_storage *from,
                    socklen_t from_len, uint64_t now)
{
    for (unsigned k = 0; k < r->nf; k++)
        if (r->flows[k].listener == i && same_addr(&r->flows[k].client, r->flows[k].client_len,
                                                   from, from_len))
            return (int)k;
    if (r->nf == UDP_MAX_FLOWS) {
        unsigned oldest = 0;
        for (unsigned k = 1; k < r->nf; k++)
            if (r->flows[k].last_ms < r->flows[oldest].last_ms)
                oldest = k;
        flow_drop(r, oldest);
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(r->l.target[i]),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct flow *f = &r->flows[r->nf];
    *f = (struct flow){ .fd = fd, .listener = i, .client_len = from_len, .last_ms = now };
    memcpy(&f->client, from, from_len);
    return (int)r->nf++;
}

/* Datagrams a round takes from one socket: a flood on one must not starve the others. */
#define UDP_BURST 64

/* The datagrams waiting on listener i, each to its client's flow. */
static void from_clients(struct udp_relay *r, unsigned i, uint64_t now)
{
    for (int b = 0; b < UDP_BURST; b++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(r->l.lfd[i], r->buf, sizeof r->buf, MSG_DONTWAIT,
                             (struct sockaddr *)&from, &fl);
        if (n < 0)
            return; /* EAGAIN: all read; another error: the next poll says */
        int k = flow_for(r, i, &from, fl, now);
        if (k < 0)
            continue;
        r->flows[k].last_ms = now;
        /* a full socket buffer or a refusal from the forward drops it: UDP's contract */
        (void)send(r->flows[k].fd, r->buf, (size_t)n, MSG_DONTWAIT);
    }
}

/* The answers waiting on flow k, back to its client from the listener's address. */
static void to_client(struct udp_relay *r, unsigned k, uint64_t now)
{
    struct flow *f = &r->flows[k];
    for (int b = 0; b < UDP_BURST; b++) {
        ssize_t n = recv(f->fd, r->buf, sizeof r->buf, MSG_DONTWAIT);
        if (n < 0)
            return; /* EAGAIN, or ECONNREFUSED of an earlier datagram: nothing to pass on */
        f->last_ms = now;
        (void)sendto(r->l.lfd[f->listener], r->buf, (size_t)n, MSG_DONTWAIT,
                     (struct sockaddr *)&f->client, f->client_len);
    }
}

static void *relay_thread(void *arg)
{
    struct udp_relay *r = arg;
    pthread_setname_np(pthread_self(), "udp-relay");
    jail_thread_enter(JAIL_IO); /* sockets, connect, datagrams: the I/O threads' list */
    struct pollfd pf[1 + RELAY_MAX_LISTEN + UDP_MAX_FLOWS];
    for (;;) {
        unsigned nl = relay_listeners_count(&r->l);
        uint64_t now = now_ms();
        for (unsigned k = 0; k < r->nf;) {
            if (now - r->flows[k].last_ms >= UDP_IDLE_MS)
                flow_drop(r, k); /* the last one takes its place: look at k again */
            else
                k++;
        }
        size_t n = 0;
        pf[n++] = (struct pollfd){ .fd = r->l.wake, .events = POLLIN };
        for (unsigned i = 0; i < nl; i++)
            pf[n++] = (struct pollfd){ .fd = r->l.lfd[i], .events = POLLIN };
        unsigned nf = r->nf;
        for (unsigned k = 0; k < nf; k++)
            pf[n++] = (struct pollfd){ .fd = r->flows[k].fd, .events = POLLIN };
        /* wake for the next expiry at the latest (a second's slack is fine for 60 s) */
        if (poll(pf, n, nf ? 1000 : -1) < 0 && errno != EINTR)
            break;
        if (pf[0].revents) {
            if (relay_listeners_woken(&r->l))
                break;
            continue; /* a new listener: poll it too */
        }
        now = now_ms();
        /* answers first, while the flows are those that were polled */
        for (unsigned k = 0; k < nf; k++)
            if (pf[1 + nl + k].revents)
                to_client(r, k, now);
        for (unsigned i = 0; i < nl; i++)
            if (pf[1 + i].revents)
                from_clients(r, i, now);
    }
    return NULL;
}

int udp_relay_add(struct udp_relay *r, const struct sockaddr *addr, socklen_t len,
                  uint16_t target_port, uint16_t *bound_port, struct bl_error *err)
{
    return relay_listeners_add(&r->l, SOCK_DGRAM, addr, len, target_port, bound_port,
                               relay_thread, r, err);
}

void udp_relay_free(struct udp_relay *r)
{
    if (!r)
        return;
    relay_listeners_close(&r->l); /* the thread first: then the flows are ours alone */
    for (unsigned k = 0; k < r->nf; k++)
        close(r->flows[k].fd);
    free(r);
}
