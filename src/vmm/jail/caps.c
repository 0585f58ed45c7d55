// SPDX-License-Identifier: Apache-2.0
/* The capabilities the jail leaves (jail_int.h): none, or for the QEMU of a box sharing a
 * container's root file system, JAIL_FS_CAPS in that box's own user namespace.
 * capabilities(7): the bounding set, capset(2), ambient capabilities (PR_CAP_AMBIENT). */
#include "vmm/jail/jail_int.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int jail_caps_bound(uint64_t keep, struct bl_error *err)
{
    /* the bounding set needs CAP_SETPCAP, so before the uid changes */
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        if (!(keep & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            return bl_errno(err, errno, "jail: drop capability %d", c);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return bl_errno(err, errno, "jail: clear ambient capabilities");
    return 0;
}

int jail_caps_set(uint64_t keep, struct bl_error *err)
{
    /* Permitted and inheritable, never effective: the VMM itself uses none of them; only
     * QEMU, which gets them as ambient capabilities across its exec (jail_caps_ambient). */
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct d[2] = { 0 };
    for (int i = 0; i < 2; i++)
        d[i].permitted = d[i].inheritable = (uint32_t)(keep >> (32 * i));
    if (syscall(SYS_capset, &h, d) < 0)
        return bl_errno(err, errno, "jail: capset");
    return 0;
}

void jail_caps_ambient(uint64_t keep)
{
    /* async-signal-safe (between fork and exec); a process without them (every box but
     * a shared root's) gets EPERM and keeps none */
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        if (keep & (1ull << c))
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
}
