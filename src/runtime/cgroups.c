// SPDX-License-Identifier: Apache-2.0
/* The box's cgroups, which its per-box process's jail makes as <controller>/boxlite/<id>
 * (src/vmm/jail/cgroup.c) and cannot remove itself (it runs unprivileged): removed by the
 * library once the process is gone. */
#include "runtime/runtime.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* rmdir removes only an empty group; anything else is left as it is. A process whose pidfd
 * said it exited can still be a zombie for a moment, until its reaper (init, for a detached
 * box) collects it, and cgroup v1 counts it in the group until then (EBUSY). Nothing
 * reports that reap, so a busy group is tried again for at most a second: a cleanup's bound,
 * not a wait for the box. */
void rt_box_cgroups_remove(const char *id)
{
    static const char *const roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/memory",
                                         "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu" };
    int tries_left = 100;
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/boxlite/%s", roots[i], id);
        while (rmdir(path) < 0 && errno == EBUSY && tries_left-- > 0) {
            struct timespec tick = { 0, 10 * 1000 * 1000 };
            nanosleep(&tick, NULL);
        }
    }
}
