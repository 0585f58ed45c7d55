// SPDX-License-Identifier: Apache-2.0
/* Starting a box's per-box process (boxlite-vmm) and waiting for its guest to be ready. */
#ifndef RT_SPAWN_H
#define RT_SPAWN_H

#include "common/error.h"
#include "proto/client.h"
#include "runtime/assets.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct rt_child {
    pid_t pid;          /* the per-box process (not our child: it is double-forked) */
    int64_t pid_start;  /* its /proc start time */
    int lifeline_fd;    /* our end of the lifeline pipe, or -1 when detached */
    int conn_fd;        /* our end of the first connection to its box socket's mux */
    int pidfd;          /* readable once it has exited; -1 if it could not be opened */
};
/* Closes conn_fd and pidfd when rt_wait_ready did not take them. */
void rt_child_close(struct rt_child *c);

/* Starts `vmm --config config_path --client-fd N` in its own session with stdio to log_path, in the
 * config's folder, with nothing of ours but an allow-list of the environment (PATH, the
 * locale, TZ, the VMM's own BOXLITE_ switches; BOXLITE_SPAWN_NS added) and no descriptor
 * but stdio and the lifeline. Unless detach, the process gets, as descriptor 3, the read end
 * of a pipe whose write end we keep (CLOEXEC): when this process exits or crashes, the pipe
 * closes and the box stops. The process also gets one end of a socket pair as a client of
 * its box socket (--client-fd): out->conn_fd, connected before the process even listens. */
int rt_spawn_vmm(const char *vmm, const char *config_path, const char *log_path, bool detach,
                 struct rt_child *out, struct bl_error *err);

/* Waits until the box is ready (the agent's HELLO reached the per-box process's mux: the
 * HELLO on the connection made at spawn is answered), the process ends (its pidfd), or
 * timeout_ms passes; no polling. On success *conn is that connection (the box's first).
 * On failure *end is the process's EXIT when it said how the box ended (end->stop_reason ""
 * without), and the error carries that or the last line of vmm_log, and the last lines of
 * console_log, so the user sees why the guest did not come up. Takes c's conn_fd and
 * pidfd. */
int rt_wait_ready(struct rt_child *c, const char *console_log, const char *vmm_log,
                  int timeout_ms, struct proto_client **conn, struct proto_exit *end,
                  struct bl_error *err);
/* Waits up to timeout_ms for the process (pid, its start time) to be gone, on its pidfd.
 * True when it is gone. */
bool rt_process_wait_gone(int64_t pid, int64_t pid_start, int timeout_ms);

/* The last max_lines lines of a text file (malloc'd), or NULL. */
char *rt_tail_file(const char *path, int max_lines);

#endif
