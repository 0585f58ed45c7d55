// SPDX-License-Identifier: Apache-2.0
/* The agent channel's relay: QEMU's end of the virtserialport socket on one side, the fd the
 * per-box process gets (agent_fd) on the other, bytes copied both ways with backpressure.
 * It exists to see the agent's first frame: a HELLO there is the guest's ready mark under
 * QEMU, where there is no control page (docs/architecture.md). */
#include "vmm/qemu/qemu.h"

#include "proto/proto.h"
#include "vmm/jail/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_BUF 65536

struct direction {
    int from, to;
    char buf[RELAY_BUF];
    size_t off, len;
    bool eof;  /* nothing more will be read */
    bool done; /* eof seen and everything written (or the reader is gone) */
};

struct relay {
    struct direction out; /* guest -> per-box process */
    struct direction in;  /* per-box process -> guest */
    int wake_fd;
    pthread_t thread;
    pthread_mutex_t lock;
    uint8_t first[PROTO_HDR_SIZE];
    size_t first_have;
    bool hello;
    void (*on_hello)(void *arg);
    void *arg;
};

/* Reads what fits into the (empty) buffer; notes the end of the source. */
static void pull(struct relay *r, struct direction *d)
{
    ssize_t n = read(d->from, d->buf, sizeof d->buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        d->eof = true;
        return;
    }
    d->off = 0;
    d->len = (size_t)n;
    if (d == &r->out && r->first_have < PROTO_HDR_SIZE) {
        size_t take = PROTO_HDR_SIZE - r->first_have;
        if (take > (size_t)n)
            take = (size_t)n;
        memcpy(r->first + r->first_have, d->buf, take);
        r->first_have += take;
        if (r->first_have == PROTO_HDR_SIZE && proto_is_hello_hdr(r->first)) {
            pthread_mutex_lock(&r->lock);
            r->hello = true;
            pthread_mutex_unlock(&r->lock);
            if (r->on_hello)
                r->on_hello(r->arg);
        }
    }
}

static void push(struct direction *d)
{
    ssize_t n = send(d->to, d->buf + d->off, d->len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n < 0) {
        /* the reader is gone: what it would have read is dropped */
        d->len = 0;
        d->eof = true;
        return;
    }
    d->off += (size_t)n;
    d->len -= (size_t)n;
}

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    pthread_setname_np(pthread_self(), "relay");
    jail_thread_enter(JAIL_IO);
    struct direction *dirs[2] = {&r->out, &r->in};
    for (;;) {
        struct pollfd p[5];
        int np = 0, idx[2][2];
        for (int i = 0; i < 2; i++) {
            struct direction *d = dirs[i];
            idx[i][0] = idx[i][1] = -1;
            if (d->done)
                continue;
            if (d->len > 0) {
                idx[i][1] = np;
                p[np++] = (struct pollfd){.fd = d->to, .events = POLLOUT};
            } else if (!d->eof) {
                idx[i][0] = np;
                p[np++] = (struct pollfd){.fd = d->from, .events = POLLIN};
            }
        }
        if (np == 0)
            break;
        p[np++] = (struct pollfd){.fd = r->wake_fd, .events = POLLIN};
        if (poll(p, (nfds_t)np, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[np - 1].revents)
            break;
        for (int i = 0; i < 2; i++) {
            struct direction *d = dirs[i];
            if (idx[i][0] >= 0 && p[idx[i][0]].revents)
                pull(r, d);
            else if (idx[i][1] >= 0 && p[idx[i][1]].revents)
                push(d);
            if (d->eof && d->len == 0 && !d->done) {
                d->done = true;
                shutdown(d->to, SHUT_WR); /* the other side sees the end too */
            }
        }
    }
    return NULL;
}

int relay_start(struct relay **out, int qemu_fd, int *client_fd, void (*on_hello)(void *),
                void *arg, struct bl_error *err)
{
    *out = NULL;
    *client_fd = -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        return bl_errno(err, errno, "agent channel: socketpair");
    struct relay *r = calloc(1, sizeof *r);
    if (!r) {
        close(sv[0]);
        close(sv[1]);
        return bl_errno(err, ENOMEM, "agent channel");
    }
    int fl = fcntl(qemu_fd, F_GETFL);
    if (fl >= 0)
        fcntl(qemu_fd, F_SETFL, fl | O_NONBLOCK);
    r->out = (struct direction){.from = qemu_fd, .to = sv[0]};
    r->in = (struct direction){.from = sv[0], .to = qemu_fd};
    r->on_hello = on_hello;
    r->arg = arg;
    pthread_mutex_init(&r->lock, NULL);
    r->wake_fd = eventfd(0, EFD_CLOEXEC);
    int rc = r->wake_fd < 0 ? errno : pthread_create(&r->thread, NULL, relay_main, r);
    if (rc != 0) {
        if (r->wake_fd >= 0)
            close(r->wake_fd);
        pthread_mutex_destroy(&r->lock);
        free(r);
        close(sv[0]);
        close(sv[1]);
        return bl_errno(err, rc, "agent channel: relay thread");
    }
    *client_fd = sv[1];
    *out = r;
    return 0;
}

bool relay_hello_seen(struct relay *r)
{
    pthread_mutex_lock(&r->lock);
    bool h = r->hello;
    pthread_mutex_unlock(&r->lock);
    return h;
}

void relay_stop(struct relay *r)
{
    if (!r)
        return;
    uint64_t one = 1;
    if (write(r->wake_fd, &one, sizeof one) < 0) {
        /* an eventfd write fails only on overflow; the thread is woken either way */
    }
    pthread_join(r->thread, NULL);
    close(r->wake_fd);
    close(r->out.from);
    close(r->out.to);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
