// SPDX-License-Identifier: Apache-2.0
/* boxlite-runtime: runc's command line over libboxlite (docs/oci-runtime.md). main.c
 * parses the command line and runs the verbs; relay.c is the process the caller sees as the
 * container's (or an exec's): it owns the box, carries stdio or a terminal, forwards
 * signals and window size, and exits with the guest process's status. */
#ifndef BOXLITE_OCI_RUNTIME_H
#define BOXLITE_OCI_RUNTIME_H

#include "boxlite.h"
#include "common/error.h"
#include "oci/spec.h"

#include <signal.h>
#include <stdbool.h>

/* The signals a relay takes through its signalfd: all it forwards, and SIGWINCH. */
void relay_signal_set(sigset_t *set);

/* A new pseudo-terminal: its master goes to the caller through console_fd (a connected
 * Unix socket, SCM_RIGHTS, as runc sends it), its slave becomes this process's controlling
 * terminal (the caller's resizes then reach us as SIGWINCH) in raw mode, since the
 * terminal that interprets keys is the guest's. Returns the slave, or -1 with err. */
int relay_pty(int console_fd, unsigned rows, unsigned cols, struct bl_error *err);

/* Pumps an execution until its process ends: in_fd (the caller's stdin or the pty, -1 for
 * none) to its stdin, its stdout/stderr to out_fd/err_fd (a terminal gives only stdout),
 * signals from sigfd forwarded (SIGWINCH: tty_fd's size sent as a resize). Returns the
 * status to exit with: the exit code, or 128 + the signal that ended it. */
int relay_pump(boxlite_exec *ex, int in_fd, int out_fd, int err_fd, int tty_fd, int sigfd);

/* The exec spec of a process as config.json describes it; argv and env point into p. */
void relay_exec_spec(const struct oci_process *p, boxlite_exec_spec *spec, char *user,
                     size_t user_len);

/* Whether args[0] can be run in the rootfs (runc's LookPath, done on the host since the
 * rootfs is a host folder): 0, or an error whose text callers parse ("executable file not
 * found in $PATH", "no such file or directory"). */
int relay_lookpath(const char *rootfs, const struct oci_process *p, struct bl_error *err);

/* Makes the folder path (and its parents) inside rootfs, resolved as the guest would
 * (symlinks stay inside), as runc makes mount points: the guest's root cannot write a
 * read-only folder of the host's (a rootfs whose top is 0555). */
int relay_mkdir_in_root(const char *rootfs, const char *path, struct bl_error *err);

#endif
