// SPDX-License-Identifier: Apache-2.0
/* Internals of the jail (jail.h), shared by its files: the list of what the jail's root
 * holds (mounts.c), the cgroups (cgroup.c) and the supervisor's crash record (seccomp.c). */
#ifndef VMM_JAIL_INT_H
#define VMM_JAIL_INT_H

#include "vmm/jail/jail.h"

#include <stdint.h>
#include <sys/types.h>

/* One host file or folder made visible in the jail, at the path the config names. */
struct jail_bind {
    char *path;  /* in the jail: absolute, as the config names it (symlinks kept lexically) */
    char *real;  /* the host object (realpath), for deduplication */
    bool dir;
    bool rw;
    bool own;    /* the box's own (folder, disks, console log): may be given to the VMM's uid
                    where no idmapped mount is possible */
    bool system; /* QEMU's binary, libraries, firmware: world-readable, never idmapped */
    int fd;      /* detached clone (open_tree), -1 until opened */
};

struct jail_link { char *path, *target; }; /* a symlink to recreate (/lib -> usr/lib) */

struct jail_plan {
    struct jail_bind *b;
    size_t n, cap;
    struct jail_link *links;
    size_t nlinks;
    char **dirs; /* skeleton folders with nothing bound (those a ".." in a path leaves) */
    size_t ndirs;
    bool kvm_dev;
    char *cwd; /* the box folder: the VMM's working directory */
};

/* Lists what the jail must hold for cfg and needs (the backing files of qcow2 disks
 * included, read from their headers), sorted so that a folder comes before what lies in it,
 * without what an enclosing bind already shows. */
int jail_plan_build(struct jail_plan *p, const struct vmm_config *cfg,
                    const struct jail_needs *needs, struct bl_error *err);
void jail_plan_free(struct jail_plan *p);

/* Identity of the jail's users: who the VMM runs as, whose files the box writes. */
struct jail_ids {
    bool as_root;       /* started by root: drop to uid/gid */
    uid_t uid, owner_uid;
    gid_t gid, owner_gid;
    int idmap_fd;       /* a user namespace mapping owner to uid (idmapped mounts), or -1 */
};

/* Takes a detached clone of every bind (open_tree), idmapped where ids says so and the
 * filesystem allows; where it does not, the box's own objects are chowned to the VMM's
 * user. Then mounts a tmpfs at root and builds the jail there: skeleton folders, the binds
 * (read-only unless rw; never setuid, never devices), the symlinks, /dev, /proc (empty, for
 * the VMM to mount), and makes the tmpfs read-only. */
int jail_root_build(struct jail_plan *p, const char *root, const struct jail_ids *ids,
                    struct bl_error *err);

/* cgroup.c: creates <controller>/<name> for memory, pids and cpu (v2 unified or v1
 * hierarchies, whichever the host mounts), sets the limits and moves this process in.
 * Returns 0 with *notice filled ("" when all was applied) when a controller is missing. */
int jail_cgroup_enter(const struct vmm_config *cfg, bool qemu, char *notice, size_t notice_len,
                      struct bl_error *err);

/* seccomp.c: the record the VMM's SIGSYS handler writes to the supervisor. */
struct jail_crash {
    uint32_t magic;   /* JAIL_CRASH_MAGIC */
    int32_t syscall;  /* si_syscall */
    uint32_t arch;    /* si_arch (AUDIT_ARCH_*) */
    int32_t kind;     /* enum jail_thread_kind of the thread, -1 unknown */
};
#define JAIL_CRASH_MAGIC 0x6a61696cu /* "jail" */
/* Installs the supervisor's filter (jail.c: wait, forward signals, write exit.json). */
int jail_supervisor_filter(void);
/* The write end of the crash pipe in the VMM (set before its handler is installed). */
void jail_crash_fd(int fd);
/* The name of a system call (libseccomp's table), or "unknown". */
const char *jail_syscall_name(int nr, uint32_t arch);
const char *jail_kind_name(int kind);

#endif
