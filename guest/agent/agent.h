// SPDX-License-Identifier: Apache-2.0
/* boxlite-agent's services, independent of being PID 1: the protocol loop on one byte
 * stream (the virtio-console port in the guest, a socketpair in the unit tests), the
 * execution service, file copy and the container. main.c adds the boot steps around it. */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include "common/error.h"
#include "proto/proto.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct agent;

/* A volume as SETUP mounted it, and where it is mounted now (volumes.c): in the agent's
 * own mount namespace under the rootfs, and in the container's. */
struct ct_volume {
    char *tag, *path;
    bool readonly, in_agent, in_container;
};

struct container {
    bool ready;
    struct ct_volume *vols;
    unsigned nvols;
    pid_t init_pid;              /* PID 1 of the container's PID namespace (our reaper) */
    int mnt_fd, uts_fd, ipc_fd;  /* its namespaces, entered by every execution */
    char root[256];              /* the rootfs as the agent sees it */
    char source[256];            /* what it was set up from (device or directory) */
    char hostname[65];
};

struct agent_options {
    /* The stream is a virtio-console port: end-of-file means "host not connected" (retry),
     * not "gone for good". Otherwise (socketpair) end-of-file ends agent_run(). */
    bool port;
    /* After the host was connected and went away, shut down after this long (port only). */
    int host_gone_shutdown_ms;
    uint64_t boot_ms; /* reported in HELLO */
    /* We are the guest's agent: SETUP may configure the network and hostname of the
     * machine (never in tests on a host). */
    bool guest;
    /* Fault injection for tests/e2e/faults.sh (kernel word boxlite.fault_exit_ms=N): the
     * agent exits N ms after its loop starts, as if it had crashed (in the guest, PID 1
     * dying panics the kernel). 0 = never. */
    uint64_t fault_exit_ms;
};

/* Takes ownership of fd (made non-blocking). */
struct agent *agent_new(int fd, const struct agent_options *opt, struct bl_error *err);
/* Applies a setup: network and hostname (opt.guest only), rootfs, volumes and container.
 * Also used for the kernel command line's boxlite.* words before the loop runs. A second
 * setup with the same rootfs succeeds without doing anything again. */
int agent_setup(struct agent *a, const struct proto_setup *s, struct bl_error *err);
/* Serves until a SHUTDOWN request (returns 1: processes stopped; the caller syncs, unmounts
 * and powers off) or, without opt.port, until the peer closes the stream (returns 0). */
int agent_run(struct agent *a);
void agent_free(struct agent *a);
/* The main process's exit status (128 + signal when killed), 0 when there was none. */
int agent_exit_status(const struct agent *a);
/* Stops every process (SIGTERM, then SIGKILL after grace_ms) and the container. */
void agent_stop_all(struct agent *a, int grace_ms);

/* ---- exec.c ------------------------------------------------------------------------ */
/* SPAWN_MAIN: the box's main process, stdin /dev/null, stdout and stderr the agent's own
 * stderr (the console); no pipes come back. */
/* SPAWN_DETACHED: an execution that runs on its own (exec -d), stdio as SPAWN_MAIN's, owned
 * by no channel (reaped like any orphan). */
enum spawn_kind { SPAWN_EXEC, SPAWN_COPY_IN, SPAWN_COPY_OUT, SPAWN_MAIN, SPAWN_DETACHED };
struct spawned {
    pid_t pid;          /* its own session and process group */
    int in_fd;          /* stdin's write end (with a tty: a dup of the master) */
    int out_fd, err_fd; /* read ends; err_fd is -1 with a tty */
    bool tty;
};
/* Forks the process of a request: SPAWN_EXEC runs req; SPAWN_COPY_IN extracts the tar on
 * its stdin to path; SPAWN_COPY_OUT writes the tar of path to its stdout (a copy's errors
 * come on its stderr, exit status 1). Inside the container when ct->ready. Descriptors are
 * non-blocking and close-on-exec. Fails with the reason when the program cannot start. */
/* A terminal of the container's devpts (the agent's own before the container exists), its
 * window rows x cols (0: 24x80): both ends close-on-exec, blocking. */
int exec_open_pty(const struct container *ct, unsigned rows, unsigned cols, int *master,
                  int *slave, struct bl_error *err);
/* exec_spawn with the main process's stdin (SPAWN_MAIN only; -1 = /dev/null): the read end
 * of the pipe `attach` writes into when the box was created with stdin open (-i); with
 * req->tty, the slave of the main process's terminal, which becomes its stdout, stderr and
 * controlling terminal too. */
int exec_spawn_in(const struct container *ct, enum spawn_kind kind,
                  const struct proto_exec_req *req, int stdin_fd, struct spawned *res,
                  struct bl_error *err);
int exec_spawn(const struct container *ct, enum spawn_kind kind, const struct proto_exec_req *req,
               const char *path, struct spawned *out, struct bl_error *err);

/* ---- container.c -------------------------------------------------------------------- */
int container_create(struct container *c, const struct proto_setup *s, struct bl_error *err);
/* Grows the ext4 filesystem on dev, mounted at dir, online (EXT4_IOC_RESIZE_FS) to fill the
 * device (BLKGETSIZE64), as when a box's disk is larger than its image. Nothing to do when
 * it already does. Block counts before and after go to *old_blocks and *new_blocks. */
int disk_grow(const char *dir, const char *dev, uint64_t *old_blocks, uint64_t *new_blocks,
              struct bl_error *err);
/* The block device whose <sys_block>/<name>/serial (virtio-blk's serial) is `serial`:
 * "/dev/<name>" into dev. A DISK given as serial:NAME is found this way in /sys/block. */
int disk_by_serial(const char *sys_block, const char *serial, char *dev, size_t n,
                   struct bl_error *err);
/* Linux include/uapi/linux/mount.h (Linux >= 5.2): open_tree and move_mount */
#define OPEN_TREE_CLONE 1
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
/* 9p mount options of volumes and a shared rootfs. */
extern const char P9_OPTS[];
/* mkdir -p of rel below the directory dirfd, never following a symlink, so a volume path
 * cannot lead outside the rootfs. Returns an O_PATH|O_DIRECTORY fd of the last component. */
int mkdir_beneath(int dirfd, const char *rel, struct bl_error *err);
/* After a helper child (one that entered the container's namespaces) was forked: reads what
 * it wrote on fd (closed) into msg, reaps it; returns its exit status (-1: it died). */
int helper_reap(pid_t pid, int fd, char *msg, size_t len);
/* In a forked child: enters the container's mount, UTS and IPC namespaces. */
int container_enter(const struct container *c, struct bl_error *err);
/* cwd (a mount of its own) becomes the calling process's root: /proc, /sys and a fresh /dev
 * made in it, pivot_root, the old root detached. shm_tree (>= 0: an open_tree clone) becomes
 * its /dev/shm instead of a new tmpfs; carry_dev: the regular files of cwd's dev/ (binds
 * the host made) are bound onto the new /dev. */
int container_pivot_here(int shm_tree, bool carry_dev, struct bl_error *err);
/* podroot.c: after container_enter, the folder path of the container (exec's ROOT) becomes
 * the process's root in a mount namespace of its own (a pod's container sharing the box). */
int pod_root_enter(const char *path, struct bl_error *err);

/* procgroup.c: EXEC GROUP, a container's processes as a cgroup of the guest. make: the
 * group exists (its leader sets pids.max, 0 = none); join: the calling process moves in
 * (before it enters the container); end: every process left in it killed. */
int procgroup_make(const char *name, uint64_t pids_max, bool leader, struct bl_error *err);
int procgroup_join(const char *name, struct bl_error *err);
void procgroup_end(const char *name);
/* A group's pids.max now (0: "max"); BOXLITE_ERR_NOT_FOUND when there is no such group. */
int procgroup_set_pids(const char *name, uint64_t pids_max, struct bl_error *err);
void container_destroy(struct container *c);

/* ---- volumes.c: unmounted around a pause (docs/protocol.md, VOLUMES) -------------------- */
/* Keeps SETUP's volumes (mounted in both namespaces). -1: out of memory. */
int volumes_remember(struct container *c, const struct proto_volume *v, unsigned n);
/* Unmounts every volume, last first; a busy one (EBUSY: a file open on it, a working
 * directory or a mount in it) fails with BOXLITE_ERR_STATE and every volume mounted again. */
int volumes_unmount(struct container *c, struct bl_error *err);
/* Mounts again, in the container, every volume that is not mounted; 0 when none is missing. */
int volumes_mount(struct container *c, struct bl_error *err);

struct user_info {
    uid_t uid;
    gid_t gid;
    gid_t groups[64];
    int ngroups;
    char name[64];
    char home[256];
    char shell[256];
};
/* "name", "uid", "uid:gid", "name:group" resolved from the current root's /etc/passwd and
 * /etc/group (files only, no NSS). NULL or "" means root. */
int user_resolve(const char *spec, struct user_info *u, struct bl_error *err);

/* ---- privs.c ------------------------------------------------------------------------
 * The request's rlimits, oom_score_adj, umask, capabilities, groups and no_new_privs, and
 * the switch to user u, in the child just before execve. 0, or -1 with e. */
int process_become(const struct proto_exec_req *r, const struct user_info *u,
                   struct bl_error *e);

/* ---- confine.c ----------------------------------------------------------------------
 * The request's seccomp filter, if any: called before the user changes (after_nnp false)
 * and after no_new_privs (true); it is installed by the call that fits the request. */
int process_seccomp(const struct proto_exec_req *r, bool after_nnp, struct bl_error *e);
/* The request's masked and read-only paths, sysctls and device nodes, made in the
 * container the child entered (its mount namespace: they stay for later processes).
 * 0, or -1 with e. */
int container_view(const struct proto_exec_req *r, struct bl_error *e);

/* ---- oom.c --------------------------------------------------------------------------
 * The guest's OOM killer protects what the box cannot live without: the agent (PID 1 of
 * the guest) is never chosen, the container's init only when nothing else is left, and
 * every process started for the workload is an ordinary candidate. */
#define OOM_ADJ_AGENT (-1000)
#define OOM_ADJ_CONTAINER_INIT (-999)
#define OOM_ADJ_WORKLOAD 0
/* Writes /proc/self/oom_score_adj; best effort (a host test may lack the privilege). */
void oom_adj_self(int adj);
/* Whether the kernel log (kmsg_path: /dev/kmsg, one record per read, or a plain file)
 * says its OOM killer killed pid: "Killed process <pid> (comm) ...". -1 when it cannot be
 * read. */
int oom_killed_in_log(const char *kmsg_path, pid_t pid);
/* The oom_kill counter of a vmstat file (/proc/vmstat), or -1. */
long long oom_kill_count(const char *vmstat_path);

/* ---- cmdline.c ---------------------------------------------------------------------
 * Adds the boxlite.* words of a kernel command line to s (see docs/protocol.md); *ctl is
 * set by boxlite.ctl. Malformed words are logged and ignored. */
void agent_parse_cmdline(const char *cmdline, struct proto_setup *s, bool *ctl);

/* ---- identity.c -------------------------------------------------------------------- */
/* A fork's new identity (IDENTITY): RNG reseeded from the host's seed, host name (the
 * agent's and the container's, and /etc/hosts' 127.0.1.1 line), the container's boot_id,
 * eth0's MAC. Only with guest (the machine is ours). */
int identity_apply(const struct proto_identity *id, struct container *ct, bool guest,
                   struct bl_error *err);
/* The hosts file text in[0..n) with the whole token old replaced by new on the lines of
 * 127.0.1.1 (the one the agent writes for the host name), other lines as they are, into
 * out. Returns the new length, or -1 when it does not fit in cap. */
long identity_hosts_rename(const char *in, size_t n, const char *old, const char *new, char *out,
                           size_t cap);

/* ---- net.c ------------------------------------------------------------------------- */
/* Brings up lo, and eth0 when s->net: address "a.b.c.d/len", default gateway. */
int net_configure(const struct proto_setup *s, struct bl_error *err);
/* eth0's MAC (aa:bb:cc:dd:ee:ff); no eth0 is no error (a box without a network). */
int net_set_mac(const char *mac, struct bl_error *err);

/* Logs one line to stderr (the console) prefixed "boxlite-agent: ". */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- reporting.c ------------------------------------------------------------------- */
/* The order asked for by GUEST_REPORTING_ORDER_PARAM=N on a kernel command line (the last
 * such word), or -1 when there is none or N is not an order from 0 to 10. */
int agent_reporting_order_parse(const char *cmdline);
/* Writes that order to param_path (GUEST_REPORTING_ORDER_SYSFS in the guest): the order set,
 * -1 when the command line asks for none, -2 (logged) when it cannot be written. */
int agent_reporting_order_apply(const char *cmdline, const char *param_path);

#endif
