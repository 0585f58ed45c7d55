// SPDX-License-Identifier: Apache-2.0
/* The box's cgroups (jail_int.h): memory (guest RAM plus the engine's overhead), pids and a
 * CPU quota, on the unified hierarchy (cgroup v2: memory.max, pids.max, cpu.max) or on the
 * v1 hierarchies (memory.limit_in_bytes, pids.max, cpu.cfs_quota_us), whichever the host
 * mounts under /sys/fs/cgroup. Kernel documentation: Documentation/admin-guide/cgroup-v2.rst
 * and cgroup-v1/{memory,pids}.rst, scheduler/sched-bwc.rst. */
#include "vmm/jail/jail_int.h"

#include "common/cgroupfs.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_ROOT "/sys/fs/cgroup"
#define CPU_PERIOD_US 100000
#define DEFAULT_PIDS 512
/* What the engine itself may use beyond guest RAM: QEMU's TCG translation cache and device
 * models are the larger; our VMM's queues, slirp and page cache the smaller. */
#define OVERHEAD_QEMU_MIB 512
#define OVERHEAD_KVM_MIB 128

static int write_file(const char *dir, const char *name, const char *value)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, value, strlen(value));
    int e = n < 0 ? errno : 0;
    close(fd);
    return n == (ssize_t)strlen(value) ? 0 : -(e ? e : EIO);
}

/* mkdir -p below base; 0 or -errno */
static int make_dirs(const char *base, const char *rel, char *out, size_t len)
{
    if ((size_t)snprintf(out, len, "%s/%s", base, rel) >= len)
        return -ENAMETOOLONG;
    for (char *p = out + strlen(base) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(out, 0755);
        *p = '/';
        if (r < 0 && errno != EEXIST)
            return -errno;
    }
    return mkdir(out, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* The base of the box's groups in a hierarchy: its mount (CG_ROOT, or CG_ROOT/<ctrl> for v1),
 * and, nested, this process's own group there (/proc/self/cgroup: "N:ctrl[,ctrl]:/path", v2
 * "0::/path"). */
static void cgroup_base(bool nested, const char *ctrl, char *out, size_t len)
{
    snprintf(out, len, CG_ROOT "%s%s", ctrl ? "/" : "", ctrl ? ctrl : "");
    FILE *f = nested ? fopen("/proc/self/cgroup", "re") : NULL;
    char line[1024], *id, *ctrls, *path;
    while (f && fgets(line, sizeof line, f)) {
        if (!cgroup_line_split(line, &id, &ctrls, &path) || path[0] != '/')
            continue;
        bool match = ctrl ? csv_has(ctrls, ctrl) : !strcmp(id, "0") && !ctrls[0];
        if (match && strcmp(path, "/")) {
            size_t used = strlen(out);
            snprintf(out + used, len - used, "%s", path);
            break;
        }
    }
    if (f)
        fclose(f);
}

static void note(char *notice, size_t len, const char *what, int e)
{
    size_t used = strlen(notice);
    if (used < len)
        snprintf(notice + used, len - used, "%s%s (%s)", used ? "; " : "", what, strerror(-e));
}

int jail_cgroup_enter(const struct vmm_config *cfg, bool qemu, char *notice, size_t notice_len,
                      struct bl_error *err)
{
    notice[0] = 0;
    const struct vmm_jail_cfg *j = &cfg->jail;
    if (!j->cgroup)
        return 0;
    unsigned long long mem_mib = j->memory_mib
                                     ? j->memory_mib
                                     : cfg->memory_mib + (qemu ? OVERHEAD_QEMU_MIB : OVERHEAD_KVM_MIB);
    char mem[32], pids[32], quota[32], cpumax[64], pid[32];
    snprintf(mem, sizeof mem, "%llu", mem_mib << 20);
    snprintf(pids, sizeof pids, "%u", j->pids ? j->pids : DEFAULT_PIDS);
    /* the guest's vCPUs plus one for the engine's own device and network work */
    long long q = (long long)(cfg->cpus + 1) * CPU_PERIOD_US;
    snprintf(quota, sizeof quota, "%lld", q);
    snprintf(cpumax, sizeof cpumax, "%lld %d", q, CPU_PERIOD_US);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    char dir[512];
    int r;
    if (access(CG_ROOT "/cgroup.controllers", F_OK) == 0) {
        /* v2: enable the controllers down to the box's group, set, join */
        char base[256];
        cgroup_base(j->cgroup_nested, NULL, base, sizeof base);
        r = make_dirs(base, j->cgroup, dir, sizeof dir);
        if (r < 0)
            return note(notice, notice_len, "cgroup v2: mkdir", r), 0;
        char parent[512];
        snprintf(parent, sizeof parent, "%s", base);
        const char *rel = j->cgroup;
        for (;;) {
            write_file(parent, "cgroup.subtree_control", "+memory +pids +cpu");
            const char *slash = strchr(rel, '/');
            if (!slash)
                break;
            size_t used = strlen(parent);
            snprintf(parent + used, sizeof parent - used, "/%.*s", (int)(slash - rel), rel);
            rel = slash + 1;
        }
        if ((r = write_file(dir, "memory.max", mem)) < 0)
            note(notice, notice_len, "memory.max", r);
        if ((r = write_file(dir, "pids.max", pids)) < 0)
            note(notice, notice_len, "pids.max", r);
        if ((r = write_file(dir, "cpu.max", cpumax)) < 0)
            note(notice, notice_len, "cpu.max", r);
        if ((r = write_file(dir, "cgroup.procs", pid)) < 0)
            return bl_errno(err, -r, "jail: join cgroup %s", dir);
        return 0;
    }
    /* v1: one hierarchy per controller */
    static const struct { const char *ctrl, *file; int which; } v1[] = {
        { "memory", "memory.limit_in_bytes", 0 },
        { "pids", "pids.max", 1 },
        { "cpu", "cpu.cfs_period_us", 2 },
    };
    for (size_t i = 0; i < sizeof v1 / sizeof v1[0]; i++) {
        char base[256];
        cgroup_base(j->cgroup_nested, v1[i].ctrl, base, sizeof base);
        struct stat st;
        if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode)) {
            note(notice, notice_len, v1[i].ctrl, -ENOENT);
            continue;
        }
        if ((r = make_dirs(base, j->cgroup, dir, sizeof dir)) < 0) {
            note(notice, notice_len, v1[i].ctrl, r);
            continue;
        }
        const char *value = v1[i].which == 0 ? mem : v1[i].which == 1 ? pids : NULL;
        if (value)
            r = write_file(dir, v1[i].file, value);
        else {
            char period[16];
            snprintf(period, sizeof period, "%d", CPU_PERIOD_US);
            r = write_file(dir, "cpu.cfs_period_us", period);
            if (r == 0)
                r = write_file(dir, "cpu.cfs_quota_us", quota);
        }
        if (r < 0)
            note(notice, notice_len, v1[i].file, r);
        if ((r = write_file(dir, "cgroup.procs", pid)) < 0)
            return bl_errno(err, -r, "jail: join cgroup %s", dir);
    }
    return 0;
}
