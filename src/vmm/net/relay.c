// SPDX-License-Identifier: Apache-2.0
/* A TCP relay from host addresses libslirp cannot forward from to ones it can (relay.h):
 * libslirp 4.7's extended forward (slirp_add_hostxfwd) listens on an IPv6 host address but
 * crashes in slirp_pollfds_poll when a connection to it is for the IPv4 guest (the accept
 * path keeps the guest's family with the peer's IPv6 address; test_slirp shows it). So
 * -p [::1]:8080:80 is a listener of ours on [::1]:8080 whose connections are spliced, one
 * thread for all, to a libslirp forward on 127.0.0.1 (an ephemeral port: any process that
 * can reach [::1] can reach it too, so nothing is opened that was not). */
#include "vmm/net/relay.h"

#include "vmm/jail/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_MAX_PAIRS 256
#define RELAY_BUF 16384 /* per direction: at most 8 MiB for RELAY_MAX_PAIRS */

struct pair {
    int fd[2];              /* 0: the client's, 1: the loopback forward's */
    char buf[2][RELAY_BUF]; /* buf[d]: read from fd[d], to be written to fd[1-d] */
    size_t len[2], off[2];
    bool eof[2], shut[2];
};

/* ---- the listeners both relays keep (relay.h) ---------------------------------------- */

int relay_listeners_init(struct relay_listeners *l, struct bl_error *err)
{
    *l = (struct relay_listeners){ 0 };
    l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wake < 0)
        return bl_errno(err, errno, "relay: eventfd");
    pthread_mutex_init(&l->lock, NULL);
    return 0;
}

static void relay_wake(struct relay_listeners *l)
{
    uint64_t v = 1;
    if (write(l->wake, &v, sizeof v) < 0) {
        /* an eventfd with a small counter does not fail */
    }
}

int relay_listeners_add(struct relay_listeners *l, int type, const struct sockaddr *addr,
                        socklen_t len, uint16_t target_port, uint16_t *bound_port,
                        void *(*thread)(void *), void *arg, struct bl_error *err)
{
    pthread_mutex_lock(&l->lock);
    int rc = 0, fd = -1;
    if (l->nl >= RELAY_MAX_LISTEN) {
        rc = bl_err(err, BOXLITE_ERR_INVALID, "relay: more than %d forwards", RELAY_MAX_LISTEN);
        goto out;
    }
    fd = socket(addr->sa_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || (addr->sa_family == AF_INET6 &&
                   setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
        (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
        bind(fd, addr, len) < 0 || (type == SOCK_STREAM && listen(fd, 64) < 0)) {
        rc = bl_errno(err, errno, "relay: %s", type == SOCK_STREAM ? "listen" : "bind");
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        rc = bl_errno(err, errno, "relay: getsockname");
        goto out;
    }
    if (bound_port)
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    if (!l->started) {
        int e = pthread_create(&l->thread, NULL, thread, arg);
        if (e) {
            rc = bl_errno(err, e, "relay: thread");
            goto out;
        }
        l->started = true;
    }
    l->lfd[l->nl] = fd;
    l->target[l->nl] = target_port;
    l->nl++;
    fd = -1;
    relay_wake(l);
out:
    if (fd >= 0)
        close(fd);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

unsigned relay_listeners_count(struct relay_listeners *l)
{
    pthread_mutex_lock(&l->lock);
    unsigned nl = l->nl;
    pthread_mutex_unlock(&l->lock);
    return nl;
}

bool relay_listeners_woken(struct relay_listeners *l)
{
    uint64_t v;
    if (read(l->wake, &v, sizeof v) < 0) {
        /* already read: the flag below says why it was written */
    }
    pthread_mutex_lock(&l->lock);
    bool stop = l->stop;
    pthread_mutex_unlock(&l->lock);
    return stop;
}

void relay_listeners_close(struct relay_listeners *l)
{
    if (l->started) {
        pthread_mutex_lock(&l->lock);
        l->stop = true;
        pthread_mutex_unlock(&l->lock);
        relay_wake(l);
        pthread_join(l->thread, NULL);
    }
    for (unsigned i = 0; i < l->nl; i++)
        close(l->lfd[i]);
    close(l->wake);
    pthread_mutex_destroy(&l->lock);
}

/* ---- TCP -------------------------------------------------------------------------------- */

struct tcp_relay {
    struct relay_listeners l;
    struct pair *pairs[RELAY_MAX_PAIRS];
    unsigned np;
};

int tcp_relay_new(struct tcp_relay **out, struct bl_error *err)
{
    *out = NULL;
    struct tcp_relay *r = calloc(1, sizeof *r);
    if (!r)
        return bl_err(err, BOXLITE_ERR_NOMEM, "relay: out of memory");
    if (relay_listeners_init(&r->l, err) < 0) {
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

static void pair_free(struct pair *p)
{
    close(p->fd[0]);
    close(p->fd[1]);
    free(p);
}

/* A new client: its connection to the loopback forward (on loopback a connect to a
 * listening socket completes at once; libslirp accepts it in its own loop). */
static void relay_accept(struct tcp_relay *r, unsigned i)
{
    int c = accept4(r->l.lfd[i], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0)
        return;
    if (r->np >= RELAY_MAX_PAIRS) {
        close(c); /* full: refused, as a full backlog would */
        return;
    }
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(r->l.target[i]),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct pair *p = t >= 0 ? calloc(1, sizeof *p) : NULL;
    if (!p || connect(t, (struct sockaddr *)&to, sizeof to) < 0) {
        free(p);
        if (t >= 0)
            close(t);
        close(c);
        return;
    }
    fcntl(t, F_SETFL, fcntl(t, F_GETFL) | O_NONBLOCK);
    p->fd[0] = c;
    p->fd[1] = t;
    r->pairs[r->np++] = p;
}

/* Moves what it can one way; false when the pair is done or broken. */
static bool pump(struct pair *p, int d, short rev_in, short rev_out)
{
    if ((rev_in & (POLLIN | POLLHUP | POLLERR)) && !p->eof[d] && p->len[d] == 0) {
        ssize_t n = read(p->fd[d], p->buf[d], RELAY_BUF);
        if (n > 0) {
            p->len[d] = (size_t)n;
            p->off[d] = 0;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            p->eof[d] = true;
        }
    }
    if (p->len[d] > 0 && (rev_out & (POLLOUT | POLLERR | POLLHUP) || rev_in)) {
        ssize_t n = write(p->fd[1 - d], p->buf[d] + p->off[d], p->len[d]);
        if (n > 0) {
            p->off[d] += (size_t)n;
            p->len[d] -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return false; /* the other side is gone: so is this connection */
        }
    }
    if (p->eof[d] && p->len[d] == 0 && !p->shut[d]) {
        shutdown(p->fd[1 - d], SHUT_WR); /* half-close, as the client did */
        p->shut[d] = true;
    }
    return !(p->shut[0] && p->shut[1]);
}

static void *relay_thread(void *arg)
{
    struct tcp_relay *r = arg;
    pthread_setname_np(pthread_self(), "relay");
    jail_thread_enter(JAIL_IO); /* sockets, accept, connect: the I/O threads' list */
    struct pollfd pf[1 + RELAY_MAX_LISTEN + 2 * RELAY_MAX_PAIRS];
    for (;;) {
        unsigned nl = relay_listeners_count(&r->l);
        size_t n = 0;
        pf[n++] = (struct pollfd){ .fd = r->l.wake, .events = POLLIN };
        for (unsigned i = 0; i < nl; i++)
            pf[n++] = (struct pollfd){ .fd = r->np < RELAY_MAX_PAIRS ? r->l.lfd[i] : -1,
                                       .events = POLLIN };
        for (unsigned k = 0; k < r->np; k++) {
            struct pair *p = r->pairs[k];
            for (int d = 0; d < 2; d++)
                pf[n++] = (struct pollfd){
                    .fd = p->fd[d],
                    .events = (short)((!p->eof[d] && p->len[d] == 0 ? POLLIN : 0) |
                                      (p->len[1 - d] > 0 ? POLLOUT : 0)) };
        }
        if (poll(pf, n, -1) < 0 && errno != EINTR)
            break;
        if (pf[0].revents) {
            if (relay_listeners_woken(&r->l))
                break;
            continue; /* a new listener: poll it too */
        }
        unsigned np = r->np;
        for (unsigned k = 0; k < np;) {
            struct pair *p = r->pairs[k];
            struct pollfd *a = &pf[1 + nl + 2 * k], *b = a + 1;
            bool alive = pump(p, 0, a->revents, b->revents) && pump(p, 1, b->revents, a->revents);
            if (alive) {
                k++;
                continue;
            }
            pair_free(p);
            /* keep the poll slots in step with the pairs: the last one takes this place */
            r->pairs[k] = r->pairs[np - 1];
            pf[1 + nl + 2 * k] = pf[1 + nl + 2 * (np - 1)];
            pf[2 + nl + 2 * k] = pf[2 + nl + 2 * (np - 1)];
            np--;
        }
        r->np = np;
        for (unsigned i = 0; i < nl; i++)
            if (pf[1 + i].revents & POLLIN)
                relay_accept(r, i);
    }
    return NULL;
}

int tcp_relay_add(struct tcp_relay *r, const struct sockaddr *addr, socklen_t len,
                  uint16_t target_port, uint16_t *bound_port, struct bl_error *err)
{
    return relay_listeners_add(&r->l, SOCK_STREAM, addr, len, target_port, bound_port,
                               relay_thread, r, err);
}

void tcp_relay_free(struct tcp_relay *r)
{
    if (!r)
        return;
    relay_listeners_close(&r->l); /* the thread first: then the pairs are ours alone */
    for (unsigned i = 0; i < r->np; i++)
        pair_free(r->pairs[i]);
    free(r);
}
