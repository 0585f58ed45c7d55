// SPDX-License-Identifier: Apache-2.0
/* Mounts made in a box's own mount namespace: its VMM's jail, where each share of the box
 * is bound at its host path. A bind attached there is seen by the box's 9p server and so
 * by the guest, and by no other box and not by the host's namespace. What is bound: a pod's
 * later container's rootfs (pod.c), and the spec mounts a share cannot carry as a volume,
 * files (Podman's /etc/hosts, resolv.conf, hostname, .containerenv, a user's `-v FILE:FILE`,
 * the kubelet's termination log): each an open_tree clone of the host file, so the
 * container reads it and its writes reach the host file, as under runc. */
#include "runtime.h"

#include "common/cleanup.h"
#include "common/jail_range.h"
#include "common/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The pid of the box's per-box process (jailed, in the VMM's mount namespace). */
static pid_t box_pid(boxlite_box *box)
{
    char *js = NULL;
    if (boxlite_box_info(box, &js) != BOXLITE_OK)
        return -1;
    json_t *o = json_loads(js, 0, NULL);
    boxlite_free(js);
    json_int_t pid = o ? json_integer_value(json_object_get(o, "pid")) : 0;
    json_decref(o);
    return pid > 0 ? (pid_t)pid : -1;
}

/* A user namespace in which 0 is host uid/gid (the jail maps the box's own files so: its
 * VMM's user owns them): the idmap of a bind into the box, as the jail's own binds have it.
 * A wide jail's VMM user (a container's root is shared) is the first of its range, whose
 * binds map the whole range (common/jail_range.h): the container's owners too. */
static int idmap_ns(uid_t uid, gid_t gid)
{
    return userns_idmap_fd(0, uid, 0, gid, uid >= JAIL_RANGE_BASE ? JAIL_RANGE : 1);
}

/* The owner of the box's per-box process (the jail's user). */
static int proc_owner(pid_t pid, uid_t *uid, gid_t *gid)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d", (int)pid);
    struct stat st;
    if (stat(p, &st) < 0)
        return -1;
    *uid = st.st_uid;
    *gid = st.st_gid;
    return 0;
}

/* One of the container's own mounts (a spec mount bound on the host), ready to attach. */
struct box_bind {
    int tree;         /* open_tree clone, idmapped and read-only as asked */
    const char *dest; /* where in the container's root */
};

/* In a child (setns wants one thread): into the box's mount namespace, then bind tree (if
 * >= 0) on target (a host path, found from the VMM's root without a link) and the binds b
 * on what is at target then; or, for unbind, detach what is mounted on target. */
static int in_box_ns(pid_t vmm, const char *target, int tree, const struct box_bind *b,
                     size_t nb, bool unbind, struct bl_error *err)
{
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "/proc/%d/root", (int)vmm);
    cleanup_close int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)vmm);
    cleanup_close int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (root < 0 || ns < 0)
        return bl_errno(err, errno, "the box's mount namespace (process %d)", (int)vmm);
    int rep[2];
    if (pipe2(rep, O_CLOEXEC) < 0)
        return bl_errno(err, errno, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(rep[0]);
        if (setns(ns, CLONE_NEWNS) < 0) {
            report(rep[1], "setns: %s", strerror(errno));
            _exit(1);
        }
        /* the folder as the VMM sees it (its jail binds it at the host's path), no link */
        struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS };
        int t = (int)syscall(SYS_openat2, root, target + 1, &how, sizeof how);
        if (t < 0) {
            report(rep[1], "%s in the box's jail: %s", target, strerror(errno));
            _exit(1);
        }
        if (tree >= 0 &&
            move_mount(tree, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
            report(rep[1], "move_mount to %s: %s", target, strerror(errno));
            _exit(1);
        }
        /* the container's root: tree, or what target is (reopened: t is the mount point,
         * beneath what was just attached); each mount point resolved in it as the guest
         * would (a link in the image stays inside), as runc resolves its mounts */
        int croot = tree >= 0 ? tree : t;
        for (size_t i = 0; i < nb; i++) {
            struct open_how in = { .flags = O_PATH | O_CLOEXEC,
                                   .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
            cleanup_close int at = (int)syscall(SYS_openat2, croot, b[i].dest, &in, sizeof in);
            if (at < 0 || move_mount(b[i].tree, "", at, "",
                                     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
                report(rep[1], "mount %s: %s", b[i].dest, strerror(errno));
                _exit(1);
            }
        }
        char at[64];
        snprintf(at, sizeof at, "/proc/self/fd/%d", t);
        if (unbind && umount2(at, MNT_DETACH) < 0 && errno != EINVAL) {
            report(rep[1], "unmount %s: %s", target, strerror(errno));
            _exit(1);
        }
        report(rep[1], "ok");
        _exit(0);
    }
    close(rep[1]);
    char msg[512];
    read_report(rep[0], msg, sizeof msg);
    close(rep[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    if (pid < 0 || strcmp(msg, "ok"))
        return bl_err(err, BOXLITE_ERR_IO, "%s", pid < 0 ? strerror(errno) : msg[0] ? msg : "died");
    return 0;
}

/* A clone of the tree at path, as the box's VMM user owns it (uid != 0: an idmap through
 * userns) and read-only if asked: what is attached in the box's namespace. */
static int bind_tree(const char *path, bool recursive_ro, bool top_ro, int userns,
                     struct bl_error *err)
{
    int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0)
        return bl_errno(err, errno, "open_tree %s", path);
    struct mount_attr idmap = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
    struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
    if (userns >= 0 &&
        mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &idmap, sizeof idmap) < 0) {
        close(tree);
        return bl_errno(err, errno, "idmap the bind of %s for the box's user", path);
    }
    unsigned flags = AT_EMPTY_PATH | (recursive_ro ? AT_RECURSIVE : 0);
    if ((recursive_ro || top_ro) && mount_setattr(tree, "", flags, &ro, sizeof ro) < 0) {
        close(tree);
        return bl_errno(err, errno, "read-only bind of %s", path);
    }
    return tree;
}


int boxns_bind(boxlite_box *box, const char *target, const char *rootfs, const struct oci_spec *s,
               unsigned what, struct bl_error *err)
{
    pid_t vmm = box_pid(box);
    uid_t uid;
    gid_t gid;
    if (vmm <= 0 || proc_owner(vmm, &uid, &gid) < 0)
        return bl_err(err, BOXLITE_ERR_STATE, "the box has no running VM");
    /* the box's files are its VMM user's in the jail (an idmapped bind); so are these */
    cleanup_close int userns = uid ? idmap_ns(uid, gid) : -1;
    int r = uid && userns < 0 ? bl_errno(err, errno, "a user namespace for the box's user %u",
                                         (unsigned)uid)
                              : 0;
    struct box_bind *b = calloc(s->nmounts + 1, sizeof *b);
    size_t nb = 0;
    if (!b)
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    /* mount points made in the rootfs first, as runc does */
    for (size_t i = 0; !r && i < s->nmounts; i++) {
        const struct oci_mount *m = &s->mounts[i];
        int kind = relay_mount_kind(m);
        if (!(kind == S_IFDIR ? what & BOXNS_DIRS : kind == S_IFREG ? what & BOXNS_FILES : 0))
            continue;
        if (relay_mountpoint_in_root(rootfs, m->destination, kind == S_IFREG, err) < 0)
            r = -1;
        else if ((b[nb].tree = bind_tree(m->source, m->readonly, false, userns, err)) < 0)
            r = -1;
        else
            b[nb++].dest = m->destination;
    }
    int tree = -1;
    if (!r && (what & BOXNS_ROOT) &&
        (tree = bind_tree(rootfs, false, s->root_readonly, userns, err)) < 0)
        r = -1;
    if (!r && (tree >= 0 || nb))
        r = in_box_ns(vmm, target, tree, b, nb, false, err);
    if (tree >= 0)
        close(tree);
    for (size_t i = 0; i < nb; i++)
        close(b[i].tree);
    free(b);
    return r;
}

int boxns_unbind(boxlite_box *box, const char *target, struct bl_error *err)
{
    pid_t vmm = box_pid(box);
    return vmm > 0 ? in_box_ns(vmm, target, -1, NULL, 0, true, err) : 0;
}
