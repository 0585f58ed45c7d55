/* The VMM's event loop: one epoll thread that owns device back ends (sockets, disk I/O
 * completions, queue-notify eventfds). vCPU threads never block on I/O: a guest's
 * QueueNotify write signals an ioeventfd, and the loop runs the device's handler. */
#ifndef VMM_EVLOOP_H
#define VMM_EVLOOP_H

#include <stdint.h>

struct evloop;
typedef void (*ev_handler)(void *opaque, int fd, uint32_t events);

struct evloop *evloop_new(void);
void evloop_free(struct evloop *l);
/* events are EPOLLIN/EPOLLOUT/...; handlers run on the loop thread. */
int evloop_add(struct evloop *l, int fd, uint32_t events, ev_handler fn, void *opaque);
int evloop_mod(struct evloop *l, int fd, uint32_t events);
int evloop_del(struct evloop *l, int fd);
/* Runs until evloop_stop() is called (from any thread); returns 0. */
int evloop_run(struct evloop *l);
void evloop_stop(struct evloop *l);
/* Runs handlers for ready fds once, waiting at most timeout_ms; for tests. */
int evloop_run_once(struct evloop *l, int timeout_ms);

#endif
