// SPDX-License-Identifier: Apache-2.0
/* boxlite-runtime: runc's command line over libboxlite (docs/oci-runtime.md). main.c
 * parses the global flags and dispatches; one file per command group (cmd_create.c: create,
 * start; cmd_state.c: state, ps, features; cmd_kill.c: kill, delete; cmd_exec.c: exec);
 * what they share is written once (log.c, flags.c, container.c); relay.c is the process
 * the caller sees as the container's (or an exec's): it owns the box, carries stdio or a
 * terminal, forwards signals and window size, and exits with the guest process's status. */
#ifndef BOXLITE_OCI_RUNTIME_H
#define BOXLITE_OCI_RUNTIME_H

#include "boxlite.h"
#include "common/error.h"
#include "oci/spec.h"
#include "oci/state.h"

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct sockaddr_un;

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

/* What the process may do (rlimits, capabilities, ...) as the library takes it. */
struct relay_security {
    boxlite_process_security ps;
    boxlite_rlimit rl[OCI_MAX_RLIMITS];
    boxlite_tmpfs tmpfs[OCI_MAX_MOUNTS];
};
/* The exec spec of a process as config.json describes it; argv, env and the groups point
 * into p, the limits into sec. A capability name the runtime does not know is warned about
 * (config.md: logged, not fatal) and left out. */
void relay_exec_spec(const struct oci_process *p, boxlite_exec_spec *spec, char *user,
                     size_t user_len, struct relay_security *sec);

/* What confines a process of the container in the guest: the container's seccomp filter
 * (runc gives an exec'd process the container's filter too) and, for its first process
 * (container), its view: masked and read-only paths, sysctls, devices. s stays owned by
 * the caller. */
void relay_confine(const struct oci_spec *s, bool container, struct relay_security *sec);
/* The spec's tmpfs mounts into sec (tmpfs.c), pointing into s; relay_confine calls it for
 * the container's first process. */
void relay_tmpfs(const struct oci_spec *s, struct relay_security *sec);
/* Makes the folders the spec's tmpfs mounts need in rootfs (relay_mkdir_in_root). */
int relay_tmpfs_mountpoints(const char *rootfs, const struct oci_spec *s, struct bl_error *err);

/* Whether args[0] can be run in the container (runc's LookPath, done on the host since the
 * rootfs and the volumes of s's mounts are host folders): 0, or an error whose text
 * callers parse ("executable file not found in $PATH", "no such file or directory"). */
int relay_lookpath(const char *rootfs, const struct oci_spec *s, const struct oci_process *p,
                   struct bl_error *err);

/* Puts the calling relay in the network namespace config.json asks for (path, or a new
 * one for NULL), once its box is up (a new one before, with relay_netns_later): the box's
 * user-mode network lives in the per-box process, started in the caller's namespace, so
 * it keeps working; what changes
 * is what /proc/<relay>/ns/net names to the engine and its hooks (Docker's
 * libnetwork-setkey, CNI), which must never be the host's own. */
int relay_enter_netns(const char *path, struct bl_error *err);

/* Whether the box's NIC is a tap in the container's network namespace (its path given,
 * docs/oci-runtime.md "Network"): the runtime is root in the first user namespace, so it
 * may create one there. Otherwise (no path, rootless) the box has its user-mode network
 * and the io.boxlite.ports proxies. */
bool relay_netns_nic(const struct oci_spec *s);

/* Whether the box waits for the engine's prestart hooks before it boots: a new network
 * namespace (no path: Docker's, ctr run's) that the runtime could give a tap, as root.
 * Docker's libnetwork-setkey hook moves the container's veth into /proc/<relay>/ns/net
 * only then; relay_netns_has_nic then decides between the tap and the user-mode network. */
bool relay_netns_later(const struct oci_spec *s);

/* Whether the calling thread's network namespace has an interface the box's NIC can
 * mirror (up, not loopback, an IPv4 address); only loopback (ctr run) keeps the box's
 * user-mode network, so it still reaches out. */
bool relay_netns_has_nic(void);

/* Published ports (oci/ports.c): once the relay is in the container's network namespace,
 * a proxy process listens there on each io.boxlite.ports port and carries connections to
 * the box's forward of it, reached in host_ns (the caller's namespace, an open fd). */
int relay_ports_start(boxlite_box *box, const struct oci_spec *s, int host_ns,
                      struct bl_error *err);

/* Makes the folder path (and its parents) inside rootfs, resolved as the guest would
 * (symlinks stay inside), as runc makes mount points: the guest's root cannot write a
 * read-only folder of the host's (a rootfs whose top is 0555). */
int relay_mkdir_in_root(const char *rootfs, const char *path, struct bl_error *err);
/* The same, the last component an empty file if file (a file bind's mount point). */
int relay_mountpoint_in_root(const char *rootfs, const char *path, bool file,
                             struct bl_error *err);
/* What of a spec's mount the box carries: S_IFDIR (a bound folder), S_IFREG (a bound file),
 * 0 (left to the guest: /proc, /sys, /dev and what is not a bind of either). */
int relay_mount_kind(const struct oci_mount *m);

/* ---- boxns.c: binds in a box's own mount namespace (its VMM's jail) ---------------------*/

#define BOXNS_ROOT 1u  /* rootfs itself (read-only for root.readonly) onto target */
#define BOXNS_DIRS 2u  /* s's bound folders */
#define BOXNS_FILES 4u /* s's bound files */
/* Binds onto target (a folder of the box's shares, by its host path) what `what` names of
 * rootfs and s's mounts, each idmapped to the box's VMM user and read-only if asked; the
 * mount points are made in rootfs first, as runc makes them. */
int boxns_bind(boxlite_box *box, const char *target, const char *rootfs, const struct oci_spec *s,
               unsigned what, struct bl_error *err);
/* What is mounted on target in the box's namespace, detached (nothing if it is not up). */
int boxns_unbind(boxlite_box *box, const char *target, struct bl_error *err);

/* ---- pod.c: the containers of a Kubernetes pod in one box ------------------------------*/

/* Where the pod's folder is in the sandbox's container (the guest side of its volume). */
#define POD_GUEST_DIR "/.boxlite-pod"
enum pod_kind { POD_NONE, POD_SANDBOX, POD_CONTAINER };
struct pod {
    enum pod_kind kind;
    char sandbox[256];          /* the sandbox container's id */
    char dir[PATH_MAX];         /* <sandbox's rootfs>/POD_GUEST_DIR: the pod's folder */
    char guest_root[300];       /* POD_GUEST_DIR/<id>: a container's root in the box */
};
/* What config.json's CRI annotations make of container id: POD_NONE without them. */
int pod_role(const struct oci_spec *s, const char *id, const char *rootfs, struct pod *p,
             struct bl_error *err);
/* A sandbox: the pod's folder made in its rootfs (which its box shares). */
int pod_sandbox_prepare(const char *rootfs, struct bl_error *err);
/* A container of the pod: rootfs bound into the pod's folder inside the box's mount
 * namespace (read-only for root.readonly), with its bound folders and files (s's mounts)
 * on it; *box is the pod's box (a handle of rt's, not owned: the sandbox's relay
 * holds its life). */
int pod_join(boxlite_runtime *rt, const struct pod *p, const char *id, const char *rootfs,
             const struct oci_spec *s, boxlite_box **box, struct bl_error *err);
/* The role, kept in the container's state folder for exec and delete. */
int pod_record(const struct pod *p, const char *id, struct bl_error *err);
enum pod_kind pod_of(const char *id, struct pod *p);
/* At delete: a container's bind undone (if its box still runs), or a sandbox's folder gone. */
void pod_leave(const struct pod *p, const char *id);
void pod_sandbox_gone(const struct pod *p);

#define DEFAULT_ROOT "/run/boxlite-runtime"
#define RELAY_SOCK "relay.sock"
#define STARTED_MARK "started"

/* The global flags (main.c). */
struct runtime_opts {
    const char *root;
    const char *log;
    bool log_json;
    bool debug;
    bool systemd_cgroup; /* cgroupsPath is slice:prefix:name */
};
extern struct runtime_opts opts;

/* ---- log.c ----------------------------------------------------------------------------*/

/* Prints "boxlite-runtime: MSG" on stderr and logs it as an error; returns 1. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "boxlite-runtime: warning: MSG" on stderr, and in the log as a warning. */
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- flags.c --------------------------------------------------------------------------*/

struct flag {
    const char *name;  /* long name */
    char short_name;   /* 0: none */
    bool has_value;
    const char **value; /* has_value: where the value goes */
    bool *set;          /* !has_value: set to true */
    const char **list;  /* has_value, repeatable: values appended here ... */
    size_t *nlist;      /* ... counted here, at most maxlist */
    size_t maxlist;
};
#define FLAG_V(n, c, v) { .name = n, .short_name = c, .has_value = true, .value = v }
#define FLAG_B(n, c, b) { .name = n, .short_name = c, .set = b }
#define FLAG_END { .name = NULL }

/* Parses flags from argv[*i] on, stopping at the first operand (or after "--"). Returns 0,
 * or an error message printed. */
int parse_flags(int argc, char **argv, int *i, const struct flag *fl, const char *cmd);

/* ---- container.c ----------------------------------------------------------------------*/

/* A regular file of at most max bytes, NUL-terminated; -1 with errno. */
int read_file(const char *path, size_t max, char **out, size_t *len);
/* <root>/<id> */
void state_dir(const char *id, char *out, size_t len);
/* The container's record; an error printed ("container "ID" does not exist"). */
int load_state(const char *id, struct oci_state *st);
/* The relay's pid file descriptor, if it still is the process the state names; -1. */
int relay_pidfd(const struct oci_state *st);
/* Running and created containers whose cgroup is frozen are paused. */
enum oci_status status_of(const struct oci_state *st);
struct cgroup;
/* The container's cgroup record (oci/cgroup.h): 1, 0 when it has none, -1 unreadable. */
int load_cgroup(const char *id, struct cgroup *cg);
/* A Unix socket path for a file in dir that fits sun_path whatever dir's length. */
int sock_addr(int dirfd, const char *name, struct sockaddr_un *a);
int connect_unix(const char *path);
int rm_state_dir(const char *id);
int open_runtime(boxlite_runtime **rt);
int write_pid_file(const char *path, pid_t pid);
/* A child's report over a pipe: "ok ..." or the error's text; "" when it died first. */
void read_report(int fd, char *buf, size_t len);
void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A signalfd of relay_signal_set's signals, which are blocked. */
int signal_fd(void);
/* A relay whose process has a terminal lets go of the stdio it was started with (/dev/null
 * instead): containerd's shim (go-runc) reads `create`'s and `exec --detach`'s output to
 * its end, which comes only when every holder of that pipe has closed it, as runc's
 * terminal-bound init has. */
void relay_stdio_to_null(void);
/* The bundle's config.json, parsed. */
int load_spec(const char *bundle, struct oci_spec *s, struct bl_error *err);

/* ---- hooks.c: where each stage of config.json's hooks runs (docs/oci-runtime.md) -----*/

/* Runs the hooks of a host stage with the state (as status) on stdin. A failure of
 * prestart, createRuntime or createContainer is returned (err); poststart's and poststop's
 * are logged as warnings and 0 is returned (runtime.md "Lifecycle"). */
int host_hooks(const struct oci_spec *s, enum oci_hook_stage stage, const struct oci_state *st,
               enum oci_status status, struct bl_error *err);
/* Runs the startContainer hooks in the box, before the container's process (config.md: in
 * the container's namespaces, path resolved there): each as an execution with the state
 * on stdin and its timeout. 0, or the first failure in err. */
int guest_start_hooks(boxlite_box *box, const struct oci_spec *s, const char *state,
                      struct bl_error *err);

/* ---- the commands: (argc, argv, index of the command's first argument) -> exit status --*/

int cmd_create(int argc, char **argv, int i);
int cmd_start(int argc, char **argv, int i);
int cmd_state(int argc, char **argv, int i);
int cmd_ps(int argc, char **argv, int i);
int cmd_features(int argc, char **argv, int i);
int cmd_kill(int argc, char **argv, int i);
int cmd_delete(int argc, char **argv, int i);
int cmd_exec(int argc, char **argv, int i);
int cmd_pause(int argc, char **argv, int i);
int cmd_resume(int argc, char **argv, int i);
int cmd_update(int argc, char **argv, int i);

#endif
