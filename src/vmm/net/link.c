// SPDX-License-Identifier: Apache-2.0
/* The datagram-socket link (link.h). */
#include "vmm/net/link.h"

#include "vmm/jail/jail.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINK_FRAME_MAX VIRTIO_NET_FRAME_MAX
#define LINK_BATCH 64 /* datagrams read per wake-up before the other direction gets a turn */
#define LINK_SNDBUF (1 << 20)

struct net_link {
    int fd, stop_fd;
    struct net_backend be;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* stats */
    struct net_link_stats stats;
    /* the thread's own */
    uint8_t in[LINK_FRAME_MAX + 1];
    uint8_t out[LINK_FRAME_MAX];
    size_t pending; /* a frame in out[] that the socket did not take yet */
};

static void count(struct net_link *l, uint64_t in, uint64_t out, uint64_t dropped)
{
    pthread_mutex_lock(&l->lock);
    l->stats.frames_in += in;
    l->stats.frames_out += out;
    l->stats.dropped += dropped;
    pthread_mutex_unlock(&l->lock);
}

/* Sends the pending frame, then whatever the back end has queued. Returns false when the
 * socket is full (a frame stays pending). */
static bool drain(struct net_link *l)
{
    uint64_t sent = 0, dropped = 0;
    bool full = false;
    for (;;) {
        if (!l->pending) {
            l->pending = l->be.recv(l->be.opaque, l->out, sizeof l->out);
            if (!l->pending)
                break;
        }
        ssize_t n = send(l->fd, l->out, l->pending, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            full = true;
            break;
        }
        if (n < 0)
            dropped++; /* the peer is gone or refused it: nothing to wait for */
        else
            sent++;
        l->pending = 0;
    }
    count(l, 0, sent, dropped);
    return !full;
}

static void *link_thread(void *arg)
{
    struct net_link *l = arg;
    pthread_setname_np(pthread_self(), "framelink");
    jail_thread_enter(JAIL_IO); /* hands frames to libslirp, like the KVM engine's device loop */
    bool blocked = false, peer_open = true;
    for (;;) {
        struct pollfd p[3] = {
            { .fd = peer_open ? l->fd : -1, .events = (short)(POLLIN | (blocked ? POLLOUT : 0)) },
            { .fd = blocked ? -1 : l->be.rx_fd, .events = POLLIN },
            { .fd = l->stop_fd, .events = POLLIN },
        };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[2].revents)
            break;
        if (p[0].revents & POLLIN) {
            uint64_t in = 0, dropped = 0;
            for (int i = 0; i < LINK_BATCH; i++) {
                ssize_t n = recv(l->fd, l->in, sizeof l->in, MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0)
                    break;
                if (n == 0)
                    continue; /* an empty datagram carries no frame */
                if ((size_t)n > LINK_FRAME_MAX) {
                    dropped++; /* cut short: not a frame any NIC sends */
                    continue;
                }
                l->be.send(l->be.opaque, l->in, (size_t)n); /* runts: the back end counts */
                in++;
            }
            count(l, in, 0, dropped);
        } else if (p[0].revents & (POLLHUP | POLLERR)) {
            peer_open = false; /* QEMU is gone; wait to be stopped */
            blocked = false;
        }
        if (blocked && (p[0].revents & POLLOUT))
            blocked = !drain(l);
        if (!blocked && (p[1].revents & POLLIN)) {
            uint64_t v;
            if (read(l->be.rx_fd, &v, sizeof v) < 0 && errno != EAGAIN) {
                /* an eventfd read only fails when it is not readable */
            }
            blocked = !drain(l);
        }
        if (!peer_open && l->pending)
            l->pending = 0;
    }
    return NULL;
}

int net_link_start(struct net_link **out, int fd, struct net_backend be, struct bl_error *err)
{
    *out = NULL;
    struct net_link *l = calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        return bl_errno(err, ENOMEM, "network link");
    }
    l->fd = fd;
    l->be = be;
    pthread_mutex_init(&l->lock, NULL);
    l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->stop_fd < 0) {
        int e = errno;
        net_link_stop(l);
        return bl_errno(err, e, "network link: eventfd");
    }
    int sz = LINK_SNDBUF; /* room for a burst toward the guest; the kernel may cap it */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    int rc = pthread_create(&l->thread, NULL, link_thread, l);
    if (rc) {
        net_link_stop(l);
        return bl_errno(err, rc, "network link: thread");
    }
    l->started = true;
    *out = l;
    return 0;
}

void net_link_stop(struct net_link *l)
{
    if (!l)
        return;
    if (l->started) {
        uint64_t one = 1;
        if (write(l->stop_fd, &one, sizeof one) < 0) {
            /* cannot fail for an eventfd far from overflow */
        }
        pthread_join(l->thread, NULL);
    }
    if (l->stop_fd >= 0)
        close(l->stop_fd);
    if (l->fd >= 0)
        close(l->fd);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

void net_link_stats(struct net_link *l, struct net_link_stats *out)
{
    pthread_mutex_lock(&l->lock);
    *out = l->stats;
    pthread_mutex_unlock(&l->lock);
}
