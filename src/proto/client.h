// SPDX-License-Identifier: Apache-2.0
/* The host side of the agent protocol: one connection (to the box socket served by the
 * per-box process's mux, or straight to an agent stream) carrying many channels.
 *
 * Threading: a connection runs one I/O thread of its own; every function here may be called
 * from any thread. Output of an execution arrives on pipes the caller polls or reads; flow
 * control is automatic: a caller that stops reading stdout only stops that one execution
 * (its pipe fills, credit stops, the agent stops reading the process's output). */
#ifndef PROTO_CLIENT_H
#define PROTO_CLIENT_H

#include "common/error.h"
#include "proto/control.h"
#include "proto/proto.h"

struct proto_client;
struct proto_exec;

/* Connects to a Unix socket and waits up to timeout_ms (-1 forever) for the agent's HELLO
 * (through the mux this is "the box is ready"). */
int proto_client_connect(const char *path, int timeout_ms, struct proto_client **out,
                         struct bl_error *err);
/* Same on a connected stream fd (takes ownership), e.g. a socketpair to an agent. */
int proto_client_open_fd(int fd, int timeout_ms, struct proto_client **out, struct bl_error *err);
/* Same, watching watch_fd (a pidfd of the peer's process; taken too, -1 for none): once it
 * is readable the peer is gone, so waits end then (what the peer sent before, EXIT, is read
 * first) even if something else holds the socket's other end open. When the handshake fails
 * because the box ended, *end (may be NULL) gets its EXIT; end->stop_reason is "" without. */
int proto_client_open_watch(int fd, int watch_fd, int timeout_ms, struct proto_client **out,
                            struct proto_exit *end, struct bl_error *err);
/* Closes the connection; executions still open are abandoned (the agent kills them). */
void proto_client_close(struct proto_client *c);
/* The box socket's control frames (src/proto/control.h). STATUS: asks the per-box process
 * what the box is doing; *out's health is the caller's to free (proto_status_free). A
 * process older than the control protocol (no CONTROL in its HELLO) is refused at once with
 * BOXLITE_ERR_UNSUPPORTED, never waited for. */
int proto_client_status(struct proto_client *c, int timeout_ms, struct proto_status *out,
                        struct bl_error *err);
/* PAUSE (docs/protocol.md): the per-box process saves the box's memory and ends; returns
 * once it said the state is saved (its EXIT, paused, follows), or its refusal. */
int proto_client_pause(struct proto_client *c, int timeout_ms, struct bl_error *err);
/* HOLD (docs/protocol.md "Pause"): hold=true makes the per-box process hold every other
 * connection's requests back (ERROR STATE "the box is pausing") while this one's pass (its
 * VOLUMES, then PAUSE); refused while a request is open or on its way. hold=false lets them
 * through again; so does the end of this connection. Ask only a peer that
 * proto_client_holds. */
int proto_client_hold(struct proto_client *c, bool hold, int timeout_ms, struct bl_error *err);
/* Whether the peer's HELLO said it understands HOLD (an older per-box process does not). */
bool proto_client_holds(struct proto_client *c);
/* PING before a request (docs/protocol.md "Auto-pause"): 0 once the per-box process
 * answered PONG (its idle timer restarted: no auto-pause begins before the request), or
 * its ERROR (BOXLITE_ERR_STATE "the box is pausing"). */
int proto_client_ping(struct proto_client *c, int timeout_ms, struct bl_error *err);
/* Whether the per-box process said the box ended (EXIT), and how (*out may be NULL). */
bool proto_client_exit(struct proto_client *c, struct proto_exit *out);
/* Waits up to timeout_ms (-1 forever) for the connection to end (the box's process closed
 * it or, with a watch fd, exited): 0, or -BOXLITE_ERR_TIMEOUT. */
int proto_client_wait_end(struct proto_client *c, int timeout_ms);
/* Whether the connection ended (the peer closed it, or it broke). */
bool proto_client_dead(struct proto_client *c);
/* Whether the peer's HELLO offered the control frames. */
bool proto_client_control(struct proto_client *c);
/* Whether the agent reported its container set up (HELLO's ready field). */
bool proto_client_container_ready(struct proto_client *c);

/* Starts a process. Returns once the request is sent; a failure to start (no such program,
 * bad user) is reported by proto_exec_wait. */
int proto_exec_start(struct proto_client *c, const struct proto_exec_req *req,
                     struct proto_exec **out, struct bl_error *err);
/* Non-blocking read ends of the process's stdout and stderr; end-of-file when the stream
 * ends. Owned by the execution. With a tty everything comes on stdout. */
int proto_exec_stdout_fd(struct proto_exec *e);
int proto_exec_stderr_fd(struct proto_exec *e);
/* Sends all of data, waiting for credit as needed; fails once the execution has ended. */
int proto_exec_write_stdin(struct proto_exec *e, const void *data, size_t len, struct bl_error *err);
int proto_exec_close_stdin(struct proto_exec *e, struct bl_error *err);
int proto_exec_signal(struct proto_exec *e, int sig, struct bl_error *err);
int proto_exec_resize(struct proto_exec *e, unsigned rows, unsigned cols, struct bl_error *err);
/* Waits up to timeout_ms (-1 forever). -BOXLITE_ERR_TIMEOUT if still running; the agent's
 * error (e.g. "exec foo: No such file or directory") if it could not start. */
int proto_exec_wait(struct proto_exec *e, int timeout_ms, struct proto_result *res,
                    struct bl_error *err);
/* Readable (end-of-file) once the execution has ended. */
int proto_exec_done_fd(struct proto_exec *e);
/* Releases the execution; if still running, the agent kills it. NULL-safe. */
void proto_exec_free(struct proto_exec *e);

/* Copies a host file or tree to guest_path (which becomes the copy), and back. */
int proto_copy_in(struct proto_client *c, const char *host_path, const char *guest_path,
                  struct bl_error *err);
int proto_copy_out(struct proto_client *c, const char *guest_path, const char *host_path,
                   struct bl_error *err);
/* The same with a bound on what may arrive (0 = none; see tar_extract_untrusted, whose rules
 * every copy out follows: the archive is the guest's). host_path becomes the copy. */
int proto_copy_out_max(struct proto_client *c, const char *guest_path, const char *host_path,
                       uint64_t max_bytes, struct bl_error *err);
/* Sends a SETUP (rootfs, volumes, network, hostname) and waits for its result. */
int proto_setup(struct proto_client *c, const struct proto_setup *s, int timeout_ms,
                struct bl_error *err);
/* IDENTITY: a fork's new hostname, MAC, clock and RNG seed (docs/protocol.md). */
int proto_identity(struct proto_client *c, const struct proto_identity *id, int timeout_ms,
                   struct bl_error *err);
/* KILL: sig (1..64) to the box's main process; BOXLITE_ERR_STATE when none is running. */
int proto_kill(struct proto_client *c, int sig, int timeout_ms, struct bl_error *err);
/* Asks the agent to stop everything and power off; returns when it acknowledged. */
int proto_shutdown(struct proto_client *c, int timeout_ms, struct bl_error *err);
/* FSFREEZE (docs/protocol.md): freeze the container's root filesystem (every write the guest
 * made reaches the disk first; later writers wait), or thaw it. The agent thaws by itself
 * after auto_thaw_ms (1..60000) if the host does not. */
int proto_fsfreeze(struct proto_client *c, bool freeze, int auto_thaw_ms, int timeout_ms,
                   struct bl_error *err);
/* VOLUMES (docs/protocol.md): the agent unmounts the box's volumes (mount_them false; a
 * busy one is BOXLITE_ERR_STATE and leaves them all mounted) or mounts them again. */
int proto_volumes(struct proto_client *c, bool mount_them, int timeout_ms, struct bl_error *err);
/* GROUP_LIMITS (docs/protocol.md): a process group's pids.max now (0 = none). The agent
 * answers NOT_FOUND when no execution made the group. */
int proto_group_limits(struct proto_client *c, const char *group, uint64_t pids_max,
                       int timeout_ms, struct bl_error *err);
/* RECLAIM (docs/protocol.md "Balloon"): the guest drops its caches and compacts its free
 * memory; *freed = how much its free memory grew, bytes. */
int proto_reclaim(struct proto_client *c, int timeout_ms, uint64_t *freed, struct bl_error *err);
/* BALLOON (control frame): sets the balloon's target (MiB the guest may keep; 0 = none);
 * *actual_mib (may be NULL) = what the balloon leaves the guest, as the engine last saw. */
int proto_client_balloon(struct proto_client *c, uint64_t target_mib, int timeout_ms,
                         uint64_t *actual_mib, struct bl_error *err);

#endif
