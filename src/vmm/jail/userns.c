// SPDX-License-Identifier: Apache-2.0
/* The jail's user namespaces (jail_int.h): the idmapping of its binds, which is also, for a
 * box sharing a container's root file system, the namespace its VMM and QEMU run in; and
 * the namespace of a VMM started by a user who is not root. user_namespaces(7) (uid_map),
 * Documentation/filesystems/idmappings.rst. */
#include "vmm/jail/jail_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

uint32_t jail_range_first(uint32_t jail_uid)
{
    /* Above 2^31, where no distribution gives out users (systemd calls 2^31..2^32-2 unsafe
     * for 32-bit signed code), one 65536-wide range per jail uid modulo 32767: two boxes
     * with different uids from one BOXLITE_JAIL_UIDS range (at most 32767 wide) get
     * disjoint ranges, and the last one ends below 2^32-65536, far from -1. */
    return JAIL_RANGE_BASE + (jail_uid % JAIL_RANGE_SLOTS) * JAIL_RANGE;
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
    char path[64];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    else
        snprintf(path, sizeof path, "/proc/self/%s", file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -e;
}

/* The child behind jail_idmap_userns: born in its user namespace, it only waits for the
 * pipe to close. It shares our memory (no copy of page tables) and touches nothing of it. */
static char idmap_stack[16384] __attribute__((aligned(64)));
static int idmap_child(void *arg)
{
    const int *sync = arg; /* its own copies: close the write end, wait for end of file */
    char c;
    syscall(SYS_close, sync[1]);
    syscall(SYS_read, sync[0], &c, 1);
    return 0;
}

int jail_idmap_userns(uid_t inner, uid_t outer, gid_t ginner, gid_t gouter, uint32_t count,
                      pid_t *pid)
{
    static int sync[2];
    *pid = -1;
    if (pipe2(sync, O_CLOEXEC) < 0)
        return -1;
    *pid = clone(idmap_child, idmap_stack + sizeof idmap_stack, CLONE_NEWUSER | CLONE_VM | SIGCHLD,
                 sync);
    int fd = -1;
    if (*pid > 0) {
        char map[64], gmap[64], path[64];
        snprintf(map, sizeof map, "%u %u %u\n", (unsigned)inner, (unsigned)outer, count);
        snprintf(gmap, sizeof gmap, "%u %u %u\n", (unsigned)ginner, (unsigned)gouter, count);
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)*pid);
        if (write_proc(*pid, "uid_map", map) == 0 && write_proc(*pid, "gid_map", gmap) == 0)
            fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    close(sync[0]);
    close(sync[1]);
    return fd;
}

int jail_self_userns(struct bl_error *err)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER) < 0)
        return bl_errno(err, errno, "jail: unshare a user namespace (unprivileged user "
                                    "namespaces disabled?)");
    char map[64];
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    int r = write_proc(0, "uid_map", map);
    if (!r)
        r = write_proc(0, "setgroups", "deny");
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    if (!r)
        r = write_proc(0, "gid_map", map);
    return r ? bl_errno(err, -r, "jail: user namespace maps") : 0;
}
