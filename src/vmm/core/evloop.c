// SPDX-License-Identifier: Apache-2.0
/* epoll event loop. Each registration is a heap entry whose address is the epoll cookie;
 * a deleted entry is marked dead and parked until the batch that may still name it is
 * done, so fd reuse or deletion from inside a handler never reaches a stale handler. */
#include "vmm/core/evloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct ev_entry {
    int fd;
    bool dead;
    ev_handler fn;
    void *opaque;
    struct ev_entry *next_dead;
};

struct evloop {
    int epfd;
    int wakefd; /* eventfd written by evloop_stop() */
    pthread_mutex_t lock;
    struct ev_entry **by_fd; /* indexed by fd */
    int nfds;
    struct ev_entry *dead; /* deleted, freed after the current batch */
    bool stop;
};

#define EV_BATCH 32

struct evloop *evloop_new(void)
{
    struct evloop *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->epfd < 0 || l->wakefd < 0)
        goto fail;
    /* The wake fd's cookie is NULL: it has no entry. */
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0)
        goto fail;
    pthread_mutex_init(&l->lock, NULL);
    return l;
fail:
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    free(l);
    return NULL;
}

static void free_dead(struct evloop *l)
{
    while (l->dead) {
        struct ev_entry *e = l->dead;
        l->dead = e->next_dead;
        free(e);
    }
}

void evloop_free(struct evloop *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->nfds; i++)
        free(l->by_fd[i]);
    free(l->by_fd);
    free_dead(l);
    close(l->epfd);
    close(l->wakefd);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

int evloop_add(struct evloop *l, int fd, uint32_t events, ev_handler fn, void *opaque)
{
    if (!l || fd < 0 || !fn)
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&l->lock);
    if (fd >= l->nfds) {
        int n = l->nfds ? l->nfds : 64;
        while (n <= fd)
            n *= 2;
        struct ev_entry **t = realloc(l->by_fd, (size_t)n * sizeof(*t));
        if (!t) {
            rc = -ENOMEM;
            goto out;
        }
        for (int i = l->nfds; i < n; i++)
            t[i] = NULL;
        l->by_fd = t;
        l->nfds = n;
    }
    if (l->by_fd[fd]) {
        rc = -EEXIST;
        goto out;
    }
    struct ev_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        rc = -ENOMEM;
        goto out;
    }
    *e = (struct ev_entry){ .fd = fd, .fn = fn, .opaque = opaque };
    struct epoll_event ev = { .events = events, .data.ptr = e };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        rc = -errno;
        free(e);
        goto out;
    }
    l->by_fd[fd] = e;
out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int evloop_mod(struct evloop *l, int fd, uint32_t events)
{
    if (!l || fd < 0)
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&l->lock);
    struct ev_entry *e = fd < l->nfds ? l->by_fd[fd] : NULL;
    if (!e) {
        rc = -ENOENT;
    } else {
        struct epoll_event ev = { .events = events, .data.ptr = e };
        if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
            rc = -errno;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int evloop_del(struct evloop *l, int fd)
{
    if (!l || fd < 0)
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&l->lock);
    struct ev_entry *e = fd < l->nfds ? l->by_fd[fd] : NULL;
    if (!e) {
        rc = -ENOENT;
    } else {
        /* The fd may already be closed by its owner (then epoll dropped it itself). */
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        l->by_fd[fd] = NULL;
        e->dead = true;
        e->next_dead = l->dead;
        l->dead = e;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int evloop_run_once(struct evloop *l, int timeout_ms)
{
    struct epoll_event evs[EV_BATCH];
    int n = epoll_wait(l->epfd, evs, EV_BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int ran = 0;
    for (int i = 0; i < n; i++) {
        struct ev_entry *e = evs[i].data.ptr;
        if (!e) {
            uint64_t v;
            if (read(l->wakefd, &v, sizeof(v)) < 0) {
                /* nothing to drain */
            }
            continue;
        }
        pthread_mutex_lock(&l->lock);
        bool dead = e->dead;
        ev_handler fn = e->fn;
        void *opaque = e->opaque;
        int fd = e->fd;
        pthread_mutex_unlock(&l->lock);
        if (dead)
            continue;
        fn(opaque, fd, evs[i].events);
        ran++;
    }
    pthread_mutex_lock(&l->lock);
    free_dead(l);
    pthread_mutex_unlock(&l->lock);
    return ran;
}

int evloop_run(struct evloop *l)
{
    for (;;) {
        pthread_mutex_lock(&l->lock);
        bool stop = l->stop;
        l->stop = false;
        pthread_mutex_unlock(&l->lock);
        if (stop)
            return 0;
        int rc = evloop_run_once(l, -1);
        if (rc < 0)
            return rc;
    }
}

void evloop_stop(struct evloop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stop = true;
    pthread_mutex_unlock(&l->lock);
    uint64_t one = 1;
    if (write(l->wakefd, &one, sizeof(one)) < 0) {
        /* the counter is already non-zero: the loop will wake */
    }
}
