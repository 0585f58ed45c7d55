// SPDX-License-Identifier: Apache-2.0
/* Internals of the jail (jail.h), shared by its files: the list of what the jail's root
 * holds (mounts.c), the cgroups (cgroup.c) and the supervisor's crash record (seccomp.c). */
#ifndef VMM_JAIL_INT_H
#define VMM_JAIL_INT_H

#include "common/jail_range.h"
#include "vmm/jail/jail.h"

#include <linux/capability.h>
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
    bool wide;          /* a container's root is shared (9p, security_model=none): see below */
    uid_t uid, owner_uid;
    gid_t gid, owner_gid;
    int idmap_fd;       /* a user namespace mapping owner to uid (idmapped mounts), or -1;
                           a wide box's VMM enters it */
};

/* A box sharing a container's root file system (boxlite-runtime's bundle rootfs, QEMU's 9p
 * with security_model=none) must keep the container's owners: podman cp/diff/mount read
 * the rootfs on the host, where the container's uid k must be the file's uid k. Such a
 * box ("wide") runs its VMM and QEMU as uid 0 of a user namespace of its own mapping 0..65535
 * onto host uids R..R+65535, R = jail_range_first(jail uid), and the same namespace idmaps its
 * binds (on-disk k <-> R+k). QEMU keeps JAIL_FS_CAPS there: its chown of a file the guest
 * made lands on disk as the guest's uid. Those capabilities act only on inodes whose owner
 * and group are mapped, i.e. only through the idmapped binds (the jail's tmpfs, /dev and
 * QEMU's own files are host root's, unmapped); the mount and network namespaces belong to
 * the host's first user namespace, where the box has nothing. */
#define JAIL_FS_CAPS ((1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_FOWNER))
/* R for a jail uid (see above). */
uint32_t jail_range_first(uint32_t jail_uid);

/* userns.c. The binds' user namespace is common/userns.h's userns_idmap_fd. */
/* Started by a user who is not root: a user namespace mapping that user to itself, in which
 * the mount work is allowed. */
int jail_self_userns(struct bl_error *err);

/* caps.c: drops from the bounding set every capability but keep, and clears the ambient set
 * (needs CAP_SETPCAP: before the uid changes). */
int jail_caps_bound(uint64_t keep, struct bl_error *err);
/* Sets permitted and inheritable to keep, effective to none. */
int jail_caps_set(uint64_t keep, struct bl_error *err);
/* Raises keep into the ambient set where permitted (between fork and exec: QEMU's). */
void jail_caps_ambient(uint64_t keep);

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
