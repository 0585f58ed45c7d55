// SPDX-License-Identifier: Apache-2.0
/* The per-box multiplexer: many library clients (connections to the box socket) share the
 * one byte stream to the agent. Each client numbers its channels as it likes; the mux maps
 * them to agent channels of its own and back, answers HELLO itself (with the agent's HELLO,
 * once there is one: a client's handshake therefore waits for the box to be ready), and
 * closes an abandoned client's channels (the agent kills their processes).
 *
 * Flow control is end to end (credits pass through unchanged), so the mux holds at most
 * what the windows allow; a client that lets its queue grow past a hard limit is dropped.
 *
 * Driving it: either poll its fds from your loop (proto_mux_pollfds, then proto_mux_handle
 * with the same array) or let it run a thread of its own (proto_mux_start). Callbacks run
 * on whichever thread drives it. With the thread, the other functions may be called from
 * any thread. */
#ifndef PROTO_MUX_H
#define PROTO_MUX_H

#include "common/error.h"
#include "proto/control.h"
#include "proto/proto.h"

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

struct proto_mux;

struct proto_mux_events {
    void *opaque;
    /* The agent's first HELLO arrived (the box is ready); boot_ms as the agent reported. */
    void (*ready)(void *opaque, uint64_t boot_ms, bool container_ready);
    /* The agent stream ended (the VM is gone). */
    void (*agent_lost)(void *opaque);
    /* The agent sent an EVENT (docs/protocol.md), decoded; malformed ones are dropped. */
    void (*event)(void *opaque, const struct proto_event *ev);
    /* A client asked STATUS (src/proto/control.h): fill *out (zeroed; a state left empty
     * becomes "starting" or "running" by the agent's HELLO). NULL: STATUS is refused. */
    void (*status)(void *opaque, struct proto_status *out);
    /* A client asked PAUSE (no request open: the mux refuses new ones meanwhile): save the
     * box's memory and end the VM; 0, or a boxlite_code with why in `why` (the mux answers
     * ERROR and serves requests again). NULL: PAUSE is refused. */
    int (*pause)(void *opaque, char *why, size_t why_len);
    /* BALLOON from a CONTROL client (docs/protocol.md "Balloon"), on the mux's thread:
     * 0 with *actual_mib (what the engine last saw), or a boxlite_code and why. NULL:
     * answered UNSUPPORTED. */
    int (*balloon)(void *opaque, uint64_t target_mib, uint64_t *actual_mib, char *why,
                   size_t why_len);
    /* An EXEC's answer (the agent's RESULT or ERROR) was passed on to its client: the
     * command ended. NULL: nothing is told. */
    void (*exec_done)(void *opaque);
    /* First thing on the mux's own thread (proto_mux_start), e.g. to confine it. */
    void (*thread_start)(void *opaque);
};

/* listen_fd: a listening Unix socket (stays the caller's). ev may be NULL. */
int proto_mux_new(int listen_fd, const struct proto_mux_events *ev, struct proto_mux **out,
                  struct bl_error *err);
/* The engine's agent stream (non-blocking, stays the caller's); may come later than
 * proto_mux_new. The mux greets the agent with a HELLO so that a HELLO lost before the
 * host end was connected is repeated. */
void proto_mux_set_agent_fd(struct proto_mux *m, int fd);
/* Serves fd, a connected stream socket, as a client of the box socket (the per-box process's
 * own clients, which may not see the socket's path from its jail); fd becomes the mux's,
 * closed on failure too. 0 or -errno. */
int proto_mux_adopt(struct proto_mux *m, int fd);
/* A client of the mux inside this process (the health checker, the auto-pause): a socket
 * pair, one end adopted, the other opened as a proto_client (HELLO within timeout_ms).
 * The box socket's path may be outside the per-box process's jail. 0 or -code with err. */
struct proto_client;
int proto_mux_dial(struct proto_mux *m, int timeout_ms, struct proto_client **out,
                   struct bl_error *err);
/* The same for the pause itself (auto-pause's VOLUMES): its requests pass a hold. */
int proto_mux_dial_pauser(struct proto_mux *m, int timeout_ms, struct proto_client **out,
                          struct bl_error *err);
/* Fills at most max entries; returns how many (at most 2 + 1 + clients). */
int proto_mux_pollfds(struct proto_mux *m, struct pollfd *pfds, int max);
void proto_mux_handle(struct proto_mux *m, const struct pollfd *pfds, int n);
/* One poll round of at most timeout_ms, then handle. */
int proto_mux_step(struct proto_mux *m, int timeout_ms);
int proto_mux_start(struct proto_mux *m, struct bl_error *err);
void proto_mux_stop(struct proto_mux *m);
bool proto_mux_ready(struct proto_mux *m);
unsigned proto_mux_clients(struct proto_mux *m);
/* Sends SHUTDOWN to the agent on the mux's own channel; *acked (by the thread driving the
 * mux) once the agent answered. */
int proto_mux_shutdown_agent(struct proto_mux *m, struct bl_error *err);
bool proto_mux_shutdown_acked(struct proto_mux *m);
/* Whether a client (or proto_mux_shutdown_agent) asked the agent to shut down: the box's
 * end is then a stop its user asked for, whoever is left to say so. */
bool proto_mux_shutdown_requested(struct proto_mux *m);
/* Sends EXIT to every client that spoke CONTROL in its HELLO: the box has ended. Without
 * the thread (after proto_mux_stop) it is written before this returns, as far as each
 * client takes it within 500 ms in all; then proto_mux_free closes the connections. */
void proto_mux_push_exit(struct proto_mux *m, const struct proto_exit *x);
/* Pausing (auto-pause, src/vmm/main.c): with no request open or promised (a PING answered
 * in the last 2 s that no request followed yet), holds every new one back (answered ERROR
 * STATE "the box is pausing", as is a PING) and returns 0; else returns how many are open,
 * or 1 while a client holds (HOLD: an explicit pause), and holds nothing. A PING answered
 * restarts the idle timer. proto_mux_release lets requests through again (a pause that
 * failed). A client's HOLD (docs/protocol.md "Pause") is the same hold, taken by a request;
 * its connection's requests pass it, and its end lifts it. */
unsigned proto_mux_hold(struct proto_mux *m);
void proto_mux_release(struct proto_mux *m);
/* Milliseconds (mono_ms) of the last request opened or ended, and whether the box is busy:
 * a request is open, or none has come yet. */
uint64_t proto_mux_last_activity(struct proto_mux *m, bool *busy);
/* Stops the thread if any, closes clients. NULL-safe. */
void proto_mux_free(struct proto_mux *m);

#endif
