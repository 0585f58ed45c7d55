// SPDX-License-Identifier: Apache-2.0
/* A container's processes as one group in the guest (EXEC GROUP, docs/protocol.md): a
 * cgroup v2 group under /sys/fs/cgroup/boxlite, so that its pids limit counts every process
 * of the container (a fork bomb stops at it in the guest, where the host's pids cgroup sees
 * only the VMM's threads), and so that when its leader (the container's main process) ends
 * or is abandoned, what it left behind in other sessions and process groups is killed
 * (cgroup.kill), as a PID namespace's end kills its processes. Documentation/admin-guide/
 * cgroup-v2.rst ("PID", "cgroup.kill"). */
#include "agent.h"

#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROCGROUP_TOP "/sys/fs/cgroup"
#define PROCGROUP_ROOT PROCGROUP_TOP "/boxlite"

static int put(const char *dir, const char *file, const char *text)
{
    char p[PROTO_GROUP_NAME_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = io_write_all(fd, text, strlen(text));
    close(fd);
    return r < 0 ? -1 : 0;
}

/* pids.max of the group at dir: the number, or "max" for 0 */
static int set_pids(const char *dir, const char *name, uint64_t pids_max, struct bl_error *err)
{
    char v[32] = "max";
    if (pids_max)
        snprintf(v, sizeof v, "%" PRIu64, pids_max);
    return put(dir, "pids.max", v) < 0
               ? bl_errno(err, errno, "process group %s: pids.max %s", name, v)
               : 0;
}

int procgroup_make(const char *name, uint64_t pids_max, bool leader, struct bl_error *err)
{
    char dir[PROTO_GROUP_NAME_MAX + 32];
    snprintf(dir, sizeof dir, PROCGROUP_ROOT "/%s", name);
    /* the pids controller reaches the groups: the top's children, then boxlite's */
    if ((mkdir(PROCGROUP_ROOT, 0755) < 0 && errno != EEXIST) ||
        put(PROCGROUP_TOP, "cgroup.subtree_control", "+pids") < 0 ||
        put(PROCGROUP_ROOT, "cgroup.subtree_control", "+pids") < 0)
        return bl_errno(err, errno, "process group: the guest's pids cgroup");
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return bl_errno(err, errno, "process group %s", name);
    return leader ? set_pids(dir, name, pids_max, err) : 0;
}

int procgroup_set_pids(const char *name, uint64_t pids_max, struct bl_error *err)
{
    char dir[PROTO_GROUP_NAME_MAX + 32];
    snprintf(dir, sizeof dir, PROCGROUP_ROOT "/%s", name);
    struct stat st;
    if (stat(dir, &st) < 0)
        return errno == ENOENT ? bl_err(err, BOXLITE_ERR_NOT_FOUND, "no process group %s", name)
                               : bl_errno(err, errno, "process group %s", name);
    return set_pids(dir, name, pids_max, err);
}

int procgroup_join(const char *name, struct bl_error *err)
{
    char dir[PROTO_GROUP_NAME_MAX + 32];
    snprintf(dir, sizeof dir, PROCGROUP_ROOT "/%s", name);
    return put(dir, "cgroup.procs", "0") < 0 ? bl_errno(err, errno, "join process group %s", name)
                                             : 0;
}

void procgroup_end(const char *name)
{
    char dir[PROTO_GROUP_NAME_MAX + 32];
    snprintf(dir, sizeof dir, PROCGROUP_ROOT "/%s", name);
    if (put(dir, "cgroup.kill", "1") < 0)
        agent_log("process group %s: kill: %s", name, strerror(errno));
    /* empty once the kernel has killed them and they are reaped; a busy group is kept and
     * taken again by the next leader of the name */
    rmdir(dir);
}
