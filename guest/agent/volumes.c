// SPDX-License-Identifier: Apache-2.0
/* Volumes around a pause (docs/protocol.md, VOLUMES): QEMU cannot save a 9p device whose
 * share the guest has mounted (its migration blocker lasts until the guest clunks the root
 * fid, that is until the last mount of the share is gone), so the host asks the agent to
 * unmount every volume before the snapshot and to mount them again after the resume.
 *
 * SETUP mounted each volume below the rootfs in the agent's own mount namespace, and the
 * container's namespace holds a copy of that mount (one 9p session: a virtio 9p channel
 * serves one mount at a time). Unmounting takes the container's copy first, with
 * umount2(0): a volume the workload holds (an open file, a working directory, a mount
 * inside it) is EBUSY, and then the pause is refused and what was unmounted is mounted
 * again (clones of the agent's copy: the channel is still that copy's), so the box runs on
 * as it was. The agent's copy goes next (nothing of the agent's holds it). Mounting again
 * mounts in the container only: nothing needs the agent's copy. */
#include "agent.h"

#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUEST_ROOT "/mnt/rootfs" /* container.c's */

int volumes_remember(struct container *c, const struct proto_volume *v, unsigned n)
{
    if (!n)
        return 0;
    c->vols = calloc(n, sizeof *c->vols);
    if (!c->vols)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        c->vols[i] = (struct ct_volume){ strdup(v[i].tag), strdup(v[i].path), v[i].readonly,
                                         true, true };
        c->nvols = i + 1;
        if (!c->vols[i].tag || !c->vols[i].path)
            return -1;
    }
    return 0;
}

/* In the container's mount namespace (a child): attaches volume v at its path, the clone
 * `tree` of its mount when there is one, else a new 9p mount (a virtio 9p channel serves
 * one session at a time: while the agent's own copy is mounted, only a clone of it can
 * come back). */
static int attach_here(const struct ct_volume *v, int tree, char *msg, size_t len)
{
    struct bl_error e = {0};
    cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    cleanup_close int dfd = root < 0 ? -1 : mkdir_beneath(root, v->path, &e);
    char target[64];
    snprintf(target, sizeof target, "/proc/self/fd/%d", dfd);
    int r = dfd < 0 ? -1
            : tree >= 0 ? (int)syscall(SYS_move_mount, tree, "", dfd, "",
                                       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
                        : mount(v->tag, target, "9p", v->readonly ? MS_RDONLY : 0, P9_OPTS);
    if (r < 0) {
        snprintf(msg, len, "mount volume %s on %s: %s", v->tag, v->path,
                 dfd < 0 ? e.msg : strerror(errno));
        return -1;
    }
    return 0;
}

/* The child's work in the container's mount namespace. Unmount: last first; on a failure
 * the ones it unmounted are attached again (first first, trees[i] when >= 0) and the
 * message says which volume was busy. Returns the exit status: 0, 1 (failed: msg), 2
 * (busy: msg). */
static int in_container(const struct container *c, bool mount_them, const int *trees,
                        char *msg, size_t len)
{
    if (mount_them) {
        for (unsigned i = 0; i < c->nvols; i++)
            if (!c->vols[i].in_container && attach_here(&c->vols[i], -1, msg, len) < 0)
                return 1;
        return 0;
    }
    for (unsigned i = c->nvols; i-- > 0;) {
        const struct ct_volume *v = &c->vols[i];
        if (!v->in_container || umount2(v->path, UMOUNT_NOFOLLOW) == 0)
            continue;
        int e = errno;
        if (e == EBUSY)
            snprintf(msg, len, "volume %s is in use in the box (a file open on it, a "
                     "process's working directory or a mount inside it): close it, or stop "
                     "the box instead", v->path);
        else
            snprintf(msg, len, "unmount volume %s: %s", v->path, strerror(e));
        char lost[256] = "";
        for (unsigned j = i + 1; j < c->nvols; j++)
            if (c->vols[j].in_container && attach_here(&c->vols[j], trees[j], lost, sizeof lost))
                snprintf(msg + strlen(msg), len - strlen(msg), "; and %s", lost);
        return e == EBUSY ? 2 : 1;
    }
    return 0;
}

/* Runs in_container in a child that entered the container's mount namespace. Before an
 * unmount, each volume still mounted in the agent's namespace is cloned (open_tree), for
 * the child to put back should a later one be busy. */
static int container_step(struct container *c, bool mount_them, struct bl_error *err)
{
    int *trees = calloc(c->nvols, sizeof *trees);
    if (!trees)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    for (unsigned i = 0; i < c->nvols; i++) {
        char p[4400];
        snprintf(p, sizeof p, GUEST_ROOT "%s%s", c->vols[i].path[0] == '/' ? "" : "/",
                 c->vols[i].path);
        trees[i] = mount_them || !c->vols[i].in_agent ? -1
                   : (int)syscall(SYS_open_tree, AT_FDCWD, p, OPEN_TREE_CLONE | O_CLOEXEC);
    }
    int p[2] = {-1, -1};
    pid_t pid = pipe2(p, O_CLOEXEC) < 0 ? -1 : fork();
    if (pid == 0) {
        char msg[512] = "";
        int rc = 1;
        if (setns(c->mnt_fd, CLONE_NEWNS) < 0 || chdir("/") < 0)
            snprintf(msg, sizeof msg, "enter the container's mount namespace: %s",
                     strerror(errno));
        else
            rc = in_container(c, mount_them, trees, msg, sizeof msg);
        if (msg[0] && write(p[1], msg, strlen(msg)) < 0) {
        }
        _exit(rc);
    }
    int e = errno;
    for (unsigned i = 0; i < c->nvols; i++)
        if (trees[i] >= 0)
            close(trees[i]); /* a clone never attached dissolves */
    free(trees);
    if (p[1] >= 0)
        close(p[1]);
    if (pid < 0) {
        if (p[0] >= 0)
            close(p[0]);
        return bl_errno(err, e, "fork");
    }
    char msg[513];
    int rc = helper_reap(pid, p[0], msg, sizeof msg);
    if (rc)
        return bl_err(err, rc == 2 ? BOXLITE_ERR_STATE : BOXLITE_ERR_IO, "%s",
                      msg[0] ? msg : "the volumes' helper died");
    for (unsigned i = 0; i < c->nvols; i++)
        c->vols[i].in_container = mount_them;
    return 0;
}

int volumes_unmount(struct container *c, struct bl_error *err)
{
    if (!c->ready || !c->nvols)
        return 0;
    if (container_step(c, false, err) < 0)
        return -err->code;
    for (unsigned i = c->nvols; i-- > 0;) {
        struct ct_volume *v = &c->vols[i];
        char p[4400];
        snprintf(p, sizeof p, GUEST_ROOT "%s%s", v->path[0] == '/' ? "" : "/", v->path);
        /* detached: nothing of the agent's uses it, and a failure here only leaves QEMU's
         * blocker in place, which refuses the snapshot by itself */
        if (v->in_agent && umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
            agent_log("unmount %s: %s", p, strerror(errno));
        v->in_agent = false;
    }
    agent_log("%u volume%s unmounted", c->nvols, c->nvols == 1 ? "" : "s");
    return 0;
}

int volumes_mount(struct container *c, struct bl_error *err)
{
    bool missing = false;
    for (unsigned i = 0; i < c->nvols; i++)
        missing |= !c->vols[i].in_container;
    if (!c->ready || !missing)
        return 0;
    if (container_step(c, true, err) < 0)
        return -err->code;
    agent_log("%u volume%s mounted again", c->nvols, c->nvols == 1 ? "" : "s");
    return 0;
}
