// SPDX-License-Identifier: Apache-2.0
/* The VMM's event loop: one epoll thread that owns device back ends (sockets, disk I/O
 * completions, queue-notify eventfds). vCPU threads never block on I/O: a guest's
 * QueueNotify write signals an ioeventfd, and the loop runs the device's handler.
 *
 * Level-triggered. evloop_add/mod/del may be called from any thread, also from inside a
 * handler (for its own fd or another one): a deleted fd's pending event is dropped, never
 * delivered to a stale handler, and its registration is freed only after the current batch
 * of events has been dispatched. Handlers run on the thread inside evloop_run/_run_once. */
#ifndef VMM_EVLOOP_H
#define VMM_EVLOOP_H

#include <stdint.h>

struct evloop;
typedef void (*ev_handler)(void *opaque, int fd, uint32_t events);

struct evloop *evloop_new(void);
void evloop_free(struct evloop *l); /* NULL is a no-op; does not close registered fds */
/* events are EPOLLIN/EPOLLOUT/...; handlers run on the loop thread. Returns 0, or -errno
 * (-EEXIST if fd is already registered). events 0 keeps the fd registered but quiet
 * (EPOLLHUP/EPOLLERR are still reported by epoll). */
int evloop_add(struct evloop *l, int fd, uint32_t events, ev_handler fn, void *opaque);
int evloop_mod(struct evloop *l, int fd, uint32_t events); /* -ENOENT if not registered */
int evloop_del(struct evloop *l, int fd);                  /* -ENOENT if not registered */
/* Runs until evloop_stop() is called (from any thread); returns 0, or -errno if epoll
 * fails. */
int evloop_run(struct evloop *l);
void evloop_stop(struct evloop *l);
/* Runs handlers for ready fds once, waiting at most timeout_ms (-1: forever); returns the
 * number of handlers run, or -errno. For tests and for callers with their own loop. */
int evloop_run_once(struct evloop *l, int timeout_ms);

#endif
