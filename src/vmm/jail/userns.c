// SPDX-License-Identifier: Apache-2.0
/* The jail's user namespaces (jail_int.h): its ids' range; the namespace of a VMM started
 * by a user who is not root. The idmapping of its binds (also, for a box sharing a
 * container's root file system, the namespace its VMM and QEMU run in) is
 * common/userns.c's userns_idmap_fd. user_namespaces(7) (uid_map),
 * Documentation/filesystems/idmappings.rst. */
#include "vmm/jail/jail_int.h"

#include "common/userns.h"

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

int jail_self_userns(struct bl_error *err)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER) < 0)
        return bl_errno(err, errno, "jail: unshare a user namespace (unprivileged user "
                                    "namespaces disabled?)");
    char map[64];
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    int r = proc_write(0, "uid_map", map);
    if (!r)
        r = proc_write(0, "setgroups", "deny");
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    if (!r)
        r = proc_write(0, "gid_map", map);
    return r ? bl_errno(err, -r, "jail: user namespace maps") : 0;
}
