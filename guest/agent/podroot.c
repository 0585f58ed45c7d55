// SPDX-License-Identifier: Apache-2.0
/* A pod's container in the pod's box (docs/kubernetes.md): the sandbox's container is the
 * box's; each other container of the pod is an execution whose ROOT names its rootfs, a
 * folder of the box (the host binds it into the pod's shared folder). The process gets a
 * mount namespace of its own rooted there, so it sees its own image and nothing of the
 * sandbox's or its neighbours' files, while it shares the box's network (localhost), PID,
 * UTS and IPC namespaces as a pod's containers do, and the sandbox's /dev/shm (as runc's
 * containers of a pod share the sandbox's); the files the host bound in its /dev (the
 * kubelet's termination log) stay on its new /dev. mount_namespaces(7), pivot_root(2),
 * open_tree(2), move_mount(2), openat2(2). */
#include "agent.h"

#include "common/cleanup.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Linux include/uapi/linux/openat2.h and fcntl.h (musl's headers lack them) */
#ifndef RESOLVE_BENEATH
struct open_how {
    uint64_t flags, mode, resolve;
};
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

int pod_root_enter(const char *path, struct bl_error *err)
{
    if (path[0] != '/')
        return bl_err(err, BOXLITE_ERR_INVALID, "root %s is not an absolute path", path);
    if (unshare(CLONE_NEWNS) < 0)
        return bl_errno(err, errno, "root %s: a mount namespace", path);
    /* what this process mounts stays its own; the box's later mounts still reach it */
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return bl_errno(err, errno, "root %s: make / a slave", path);
    /* no symlink followed: a process of the pod must not turn the folder into a link to
     * elsewhere in the box (the sandbox's own files) */
    struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV };
    cleanup_close int dir = (int)syscall(SYS_openat2, AT_FDCWD, path + 1, &how, sizeof how);
    if (dir < 0 && errno == EXDEV) {
        /* the rootfs is a mount of its own under the pod's folder (it is on the host) */
        how.resolve &= ~(uint64_t)RESOLVE_NO_XDEV;
        dir = (int)syscall(SYS_openat2, AT_FDCWD, path + 1, &how, sizeof how);
    }
    if (dir < 0)
        return bl_errno(err, errno, "root %s", path);
    /* a bind of the folder onto itself: pivot_root wants a mount */
    cleanup_close int tree = (int)syscall(SYS_open_tree, dir, "",
                                          OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE |
                                              AT_EMPTY_PATH);
    if (tree < 0)
        return bl_errno(err, errno, "root %s: open_tree", path);
    if (syscall(SYS_move_mount, tree, "", dir, "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return bl_errno(err, errno, "root %s: move_mount", path);
    if (fchdir(tree) < 0)
        return bl_errno(err, errno, "root %s: chdir", path);
    /* the pod's /dev/shm, the sandbox's (none: a tmpfs of its own) */
    cleanup_close int shm = (int)syscall(SYS_open_tree, AT_FDCWD, "/dev/shm",
                                         OPEN_TREE_CLONE | O_CLOEXEC);
    return container_pivot_here(shm, true, err) < 0 ? bl_err_prefix(err, "root %s", path) : 0;
}
