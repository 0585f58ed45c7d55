// SPDX-License-Identifier: Apache-2.0
/* The container's cgroup on the host, v1 or v2 (kernel Documentation/admin-guide/cgroup-v1/
 * {memory,cpusets,freezer-subsystem}.rst, cgroup-v2.rst); cgroup.h says what lives there. */
#include "cgroup.h"

#include "common/cgroupfs.h"
#include "common/cleanup.h"
#include "common/io.h"
#include "oci/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG_ROOT "/sys/fs/cgroup"
#define MIB (1024 * 1024)

static void sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int write_at(const char *dir, const char *file, const char *val, struct bl_error *err)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, val, strlen(val)) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return bl_errno(err, e, "write %s to %s", val, p);
    }
    close(fd);
    return 0;
}

static int read_at(const char *dir, const char *file, char *out, size_t len)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    out[n] = 0;
    out[strcspn(out, "\n")] = 0;
    return 0;
}

static bool has_file(const char *dir, const char *file)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return access(p, F_OK) == 0;
}

static bool is_v1(const struct cgroup *cg, size_t i, const char *ctrl)
{
    if (cg->version != 1 || !cg->ctrl[i][0])
        return false;
    return csv_has(cg->ctrl[i], ctrl); /* "cpu,cpuacct" holds cpu */
}

/* The hierarchies of this host: (controllers, mount point, the caller's own cgroup in it),
 * from /proc/self/cgroup and /proc/self/mountinfo. */
struct hier {
    char ctrl[64];
    char mnt[PATH_MAX / 2];
    char own[PATH_MAX / 2];
};

static int hierarchies(bool v2, struct hier *h, size_t max, size_t *n, struct bl_error *err)
{
    *n = 0;
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return bl_errno(err, errno, "open /proc/self/cgroup");
    char line[4096], *id, *ctrl, *path;
    while (fgets(line, sizeof line, f) && *n < max) {
        if (!cgroup_line_split(line, &id, &ctrl, &path))
            continue;
        bool unified = !strcmp(id, "0") && !ctrl[0];
        /* v2: the one unified line; v1: each controller hierarchy (named ones such as
         * name=systemd are systemd's, not joined by runc's cgroupfs driver either) */
        if (v2 ? !unified : (!unified && (!ctrl[0] || !strncmp(ctrl, "name=", 5))))
            continue;
        struct hier *x = &h[*n];
        snprintf(x->ctrl, sizeof x->ctrl, "%s", unified ? "" : ctrl);
        snprintf(x->own, sizeof x->own, "%s", path);
        x->mnt[0] = 0;
        (*n)++;
    }
    fclose(f);
    /* each hierarchy's mount point: fstype cgroup whose super options name its controllers
     * (the first is enough: one controller is in one hierarchy), or cgroup2 */
    f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return bl_errno(err, errno, "open /proc/self/mountinfo");
    char ml[8192];
    while (fgets(ml, sizeof ml, f)) {
        char *dash = strstr(ml, " - ");
        if (!dash)
            continue;
        char root[PATH_MAX], mnt[PATH_MAX], fstype[64], src[256], sopts[1024];
        if (sscanf(ml, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
            sscanf(dash + 3, "%63s %255s %1023s", fstype, src, sopts) != 3)
            continue;
        for (size_t i = 0; i < *n; i++) {
            struct hier *x = &h[i];
            if (x->mnt[0])
                continue;
            bool match = false;
            if (!x->ctrl[0]) {
                match = !strcmp(fstype, "cgroup2");
            } else if (!strcmp(fstype, "cgroup")) {
                char first[64];
                snprintf(first, sizeof first, "%.*s", (int)strcspn(x->ctrl, ","), x->ctrl);
                match = csv_has(sopts, first);
            }
            if (!match)
                continue;
            snprintf(x->mnt, sizeof x->mnt, "%s", mnt);
            /* a mount of a sub-tree (a container's view): own is relative to its root */
            size_t rl = strlen(root);
            if (strcmp(root, "/") && !strncmp(x->own, root, rl))
                memmove(x->own, x->own + rl, strlen(x->own + rl) + 1);
        }
    }
    fclose(f);
    return 0;
}

/* mkdir -p of dir below mnt, each new cpuset level given its parent's cpus and mems (a
 * cpuset folder starts empty, and no process may join an empty one). */
static int make_dir(const char *mnt, const char *dir, bool cpuset, struct bl_error *err)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", dir);
    /* each level below the mount: s at the '/' that ends it, or at the path's end */
    for (char *s = strchr(p + strlen(mnt) + 1, '/');; s = strchr(s + 1, '/')) {
        if (!s)
            s = p + strlen(p);
        char keep = *s;
        *s = 0;
        bool made = mkdir(p, 0755) == 0;
        if (!made && errno != EEXIST) {
            int e = errno;
            *s = keep;
            return bl_errno(err, e, "mkdir %s", p);
        }
        if (made && cpuset) {
            char parent[PATH_MAX], v[4096];
            snprintf(parent, sizeof parent, "%s", p);
            *strrchr(parent, '/') = 0;
            static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
            for (int k = 0; k < 2; k++)
                if (read_at(parent, files[k], v, sizeof v) == 0 && v[0])
                    write_at(p, files[k], v, NULL);
        }
        *s = keep;
        if (!keep)
            break;
    }
    return 0;
}

static bool host_is_v2(void)
{
    struct statfs sf;
    return statfs(CG_ROOT, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup_create(const char *spec_path, bool systemd, const char *id,
                  const struct oci_resources *r, struct cgroup *cg, struct bl_error *err)
{
    memset(cg, 0, sizeof *cg);
    char rel[PATH_MAX / 2];
    if (oci_cgroup_path(spec_path, systemd, id, rel, sizeof rel, err))
        return -1;
    bool v2 = host_is_v2();
    cg->version = v2 ? 2 : 1;
    struct hier h[CG_MAX_DIRS];
    size_t nh;
    if (hierarchies(v2, h, CG_MAX_DIRS, &nh, err))
        return -1;
    for (size_t i = 0; i < nh; i++) {
        if (!h[i].mnt[0])
            continue;
        size_t k = cg->n++;
        /* absolute: from the hierarchy's root; relative: under the caller's own cgroup */
        bool abs = rel[0] == '/';
        int w = snprintf(cg->dir[k], sizeof cg->dir[k], "%s%s%s%s", h[i].mnt,
                         abs ? "" : h[i].own, abs || !strcmp(h[i].own, "/") ? "" : "/", rel);
        if (w < 0 || (size_t)w >= sizeof cg->dir[k])
            return bl_err(err, BOXLITE_ERR_INVALID, "cgroup %s: path too long", rel);
        snprintf(cg->ctrl[k], sizeof cg->ctrl[k], "%s", h[i].ctrl);
        if (make_dir(h[i].mnt, cg->dir[k], is_v1(cg, k, "cpuset"), err) < 0) {
            cgroup_destroy(cg, NULL);
            return bl_err_prefix(err, "cgroup %s", rel);
        }
    }
    if (!cg->n)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "no cgroup hierarchy is mounted");
    if (v2) {
        /* the controllers a v2 leaf needs, enabled on the way down (best effort: a
         * controller the parent lacks is then simply not there, as with runc) */
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s", cg->dir[0]);
        /* each ancestor, the root first: s at the '/' that ends it */
        for (char *s = p + strlen(CG_ROOT); s && *s == '/'; s = strchr(s + 1, '/')) {
            *s = 0;
            static const char *const ctl[] = { "+cpu", "+memory", "+pids", "+cpuset" };
            for (size_t k = 0; k < 4; k++)
                write_at(p, "cgroup.subtree_control", ctl[k], NULL);
            *s = '/';
        }
    }
    if (cgroup_apply(cg, r, err) < 0) {
        cgroup_destroy(cg, NULL);
        return bl_err_prefix(err, "cgroup %s", rel);
    }
    return 0;
}

int cgroup_join(const struct cgroup *cg, pid_t pid, struct bl_error *err)
{
    char v[32];
    snprintf(v, sizeof v, "%d", (int)pid);
    for (size_t i = 0; i < cg->n; i++)
        if (write_at(cg->dir[i], "cgroup.procs", v, err) < 0)
            return -1;
    return 0;
}

/* The host's memory limit for a limit of the container: the box's RAM plus the VMM's own. */
static int64_t host_mem(int64_t limit)
{
    if (limit < 0)
        return -1;
    int64_t box = limit < (int64_t)CG_BOX_MIN_MIB * MIB ? (int64_t)CG_BOX_MIN_MIB * MIB : limit;
    return box + (int64_t)CG_VMM_OVERHEAD_MIB * MIB;
}

/* The host's pids limit: the container's (held in the guest too), never below what the
 * VMM's own threads need. */
static int64_t host_pids(const struct oci_resources *r)
{
    if (r->pids_limit <= 0)
        return -1;
    return r->pids_limit < CG_HOST_MIN_PIDS ? CG_HOST_MIN_PIDS : r->pids_limit;
}

static int put_num(const char *dir, const char *file, int64_t v, const char *unlimited,
                   struct bl_error *err)
{
    char s[32];
    if (v < 0 && unlimited)
        snprintf(s, sizeof s, "%s", unlimited);
    else
        snprintf(s, sizeof s, "%" PRId64, v);
    return write_at(dir, file, s, err);
}

static int apply_v1(const struct cgroup *cg, size_t i, const struct oci_resources *r,
                    struct bl_error *err)
{
    const char *d = cg->dir[i];
    int e = 0;
    if (is_v1(cg, i, "memory")) {
        bool memsw = has_file(d, "memory.memsw.limit_in_bytes");
        int64_t lim = r->has_mem_limit ? host_mem(r->mem_limit) : 0;
        /* memory + swap: the host's memory limit plus the swap the container was given
         * beyond its limit (both rounded and raised alike, so memsw never ends below) */
        int64_t sw = -1;
        if (r->has_mem_swap && r->mem_swap >= 0) {
            bool lim_given = r->has_mem_limit && r->mem_limit >= 0;
            sw = lim_given ? lim + (r->mem_swap > r->mem_limit ? r->mem_swap - r->mem_limit : 0)
                           : host_mem(r->mem_swap);
        }
        /* memsw may never be below the limit, before or after either write: swap first
         * when it grows past the current limit, else the limit first */
        char cur[32] = "";
        read_at(d, "memory.limit_in_bytes", cur, sizeof cur);
        bool swap_first = memsw && r->has_mem_swap &&
                          (sw < 0 || strtoull(cur, NULL, 10) < (unsigned long long)sw);
        if (swap_first)
            e = put_num(d, "memory.memsw.limit_in_bytes", sw, "-1", err);
        if (!e && r->has_mem_limit)
            e = put_num(d, "memory.limit_in_bytes", lim, "-1", err);
        if (!e && memsw && r->has_mem_swap && !swap_first)
            e = put_num(d, "memory.memsw.limit_in_bytes", sw, "-1", err);
        if (!e && r->has_mem_reservation)
            e = put_num(d, "memory.soft_limit_in_bytes", r->mem_reservation, "-1", err);
    }
    if (!e && is_v1(cg, i, "cpu")) {
        if (r->has_cpu_shares)
            e = put_num(d, "cpu.shares", (int64_t)r->cpu_shares, NULL, err);
        if (!e && r->has_cpu_period)
            e = put_num(d, "cpu.cfs_period_us", (int64_t)r->cpu_period, NULL, err);
        if (!e && r->has_cpu_quota)
            e = put_num(d, "cpu.cfs_quota_us", r->cpu_quota, "-1", err);
    }
    /* pids: the host's processes and threads of the container (relay, per-box process,
     * QEMU's threads); the guest's are limited in the guest (docs/oci-runtime.md "cgroups") */
    if (!e && is_v1(cg, i, "pids") && r->has_pids_limit)
        e = put_num(d, "pids.max", host_pids(r), "max", err);
    if (!e && is_v1(cg, i, "cpuset")) {
        if (r->cpuset_cpus[0])
            e = write_at(d, "cpuset.cpus", r->cpuset_cpus, err);
        if (!e && r->cpuset_mems[0])
            e = write_at(d, "cpuset.mems", r->cpuset_mems, err);
    }
    return e;
}

static int apply_v2(const char *d, const struct oci_resources *r, struct bl_error *err)
{
    int e = 0;
    if (r->has_mem_limit)
        e = put_num(d, "memory.max", host_mem(r->mem_limit), "max", err);
    /* runtime-spec's swap is memory plus swap; v2's swap.max is the swap alone */
    if (!e && r->has_mem_swap && has_file(d, "memory.swap.max"))
        e = put_num(d, "memory.swap.max", r->mem_swap < 0 || !r->has_mem_limit ? r->mem_swap
                    : r->mem_swap - (r->mem_limit < 0 ? 0 : r->mem_limit), "max", err);
    if (!e && r->has_mem_reservation)
        e = put_num(d, "memory.low", r->mem_reservation, "max", err);
    if (!e && r->has_cpu_shares) /* runc's conversion of shares (2..262144) to a weight */
        e = put_num(d, "cpu.weight", 1 + (((int64_t)r->cpu_shares - 2) * 9999) / 262142, NULL,
                    err);
    if (!e && (r->has_cpu_quota || r->has_cpu_period)) {
        char v[64], cur[64] = "max 100000";
        read_at(d, "cpu.max", cur, sizeof cur);
        char q[32];
        unsigned long long per = 100000;
        sscanf(cur, "%31s %llu", q, &per);
        if (r->has_cpu_quota && r->cpu_quota >= 0)
            snprintf(q, sizeof q, "%" PRId64, r->cpu_quota);
        else if (r->has_cpu_quota)
            snprintf(q, sizeof q, "max");
        snprintf(v, sizeof v, "%s %llu", q,
                 r->has_cpu_period ? (unsigned long long)r->cpu_period : per);
        e = write_at(d, "cpu.max", v, err);
    }
    if (!e && r->has_pids_limit)
        e = put_num(d, "pids.max", host_pids(r), "max", err);
    if (!e && r->cpuset_cpus[0])
        e = write_at(d, "cpuset.cpus", r->cpuset_cpus, err);
    if (!e && r->cpuset_mems[0])
        e = write_at(d, "cpuset.mems", r->cpuset_mems, err);
    return e;
}

int cgroup_apply(const struct cgroup *cg, const struct oci_resources *r, struct bl_error *err)
{
    for (size_t i = 0; i < cg->n; i++) {
        int e = cg->version == 2 ? apply_v2(cg->dir[i], r, err) : apply_v1(cg, i, r, err);
        if (e)
            return -1;
    }
    return 0;
}

int cgroup_save(const struct cgroup *cg, const char *state_dir, struct bl_error *err)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/cgroup", state_dir);
    size_t cap = 16 + cg->n * (PATH_MAX + 80), at = 0;
    cleanup_free char *text = malloc(cap);
    if (!text)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    at += (size_t)snprintf(text, cap, "v%d\n", cg->version);
    for (size_t i = 0; i < cg->n; i++)
        at += (size_t)snprintf(text + at, cap - at, "%s %s\n",
                               cg->ctrl[i][0] ? cg->ctrl[i] : "-", cg->dir[i]);
    return oci_write_atomic(p, text, at, err);
}

int cgroup_load(const char *state_dir, struct cgroup *cg)
{
    memset(cg, 0, sizeof *cg);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/cgroup", state_dir);
    FILE *f = fopen(p, "re");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char line[PATH_MAX + 80];
    int rc = 1;
    if (!fgets(line, sizeof line, f) || (strcmp(line, "v1\n") && strcmp(line, "v2\n")))
        rc = -1;
    else
        cg->version = line[1] - '0';
    while (rc == 1 && fgets(line, sizeof line, f) && cg->n < CG_MAX_DIRS) {
        line[strcspn(line, "\n")] = 0;
        char *sp = strchr(line, ' ');
        /* written by create; still, only folders of the cgroup mount are acted on */
        if (!sp || strncmp(sp + 1, CG_ROOT "/", sizeof CG_ROOT) || strstr(sp + 1, "/..")) {
            rc = -1;
            break;
        }
        *sp = 0;
        snprintf(cg->ctrl[cg->n], sizeof cg->ctrl[0], "%s", strcmp(line, "-") ? line : "");
        snprintf(cg->dir[cg->n], sizeof cg->dir[0], "%s", sp + 1);
        cg->n++;
    }
    fclose(f);
    return rc;
}

/* The folder whose file freezes: v1's freezer hierarchy, or v2's unified one. */
static const char *freezer_dir(const struct cgroup *cg)
{
    for (size_t i = 0; i < cg->n; i++)
        if (cg->version == 2 || is_v1(cg, i, "freezer"))
            return cg->dir[i];
    return NULL;
}

bool cgroup_frozen(const struct cgroup *cg)
{
    const char *d = freezer_dir(cg);
    char v[256] = "";
    if (!d)
        return false;
    if (cg->version == 1)
        return read_at(d, "freezer.state", v, sizeof v) == 0 && !strcmp(v, "FROZEN");
    return read_at(d, "cgroup.freeze", v, sizeof v) == 0 && !strcmp(v, "1");
}

/* v2's cgroup.events "frozen 1": the freeze is complete, not only asked for */
static bool v2_frozen_done(const char *d, bool frozen)
{
    char p[PATH_MAX + 32], line[128];
    snprintf(p, sizeof p, "%s/cgroup.events", d);
    FILE *f = fopen(p, "re");
    bool done = false;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "frozen ", 7))
            done = (line[7] == '1') == frozen;
    if (f)
        fclose(f);
    return done;
}

int cgroup_freeze(const struct cgroup *cg, bool frozen, struct bl_error *err)
{
    const char *d = freezer_dir(cg);
    if (!d)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "the container's cgroup has no freezer");
    const char *want = cg->version == 1 ? (frozen ? "FROZEN" : "THAWED") : (frozen ? "1" : "0");
    const char *file = cg->version == 1 ? "freezer.state" : "cgroup.freeze";
    /* v1 may answer FREEZING for a while (a task in an uninterruptible sleep): asking
     * again is how the freezer is meant to be driven; give up after 10 s, thawed */
    for (int tries = 0; tries < 1000; tries++) {
        if (tries % 50 == 0 && write_at(d, file, want, err) < 0)
            return -1;
        char v[64] = "";
        bool done = cg->version == 1 ? read_at(d, file, v, sizeof v) == 0 && !strcmp(v, want)
                                     : v2_frozen_done(d, frozen);
        if (done)
            return 0;
        sleep_ms(10);
    }
    if (frozen)
        write_at(d, file, cg->version == 1 ? "THAWED" : "0", NULL);
    return bl_err(err, BOXLITE_ERR_TIMEOUT, "the container's processes did not %s in 10 s",
                  frozen ? "freeze" : "thaw");
}

/* Sends sig to every process in dir; the count of processes found. */
static int kill_all(const char *dir, int sig)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/cgroup.procs", dir);
    FILE *f = fopen(p, "re");
    if (!f)
        return 0;
    int n = 0, pid;
    while (fscanf(f, "%d", &pid) == 1)
        if (pid > 0 && pid != getpid()) {
            kill(pid, sig);
            n++;
        }
    fclose(f);
    return n;
}

/* Empties and removes dir and the groups below it (the box's jail makes its own there:
 * boxlite/<box id>), deepest first; the first failure in err. */
static int remove_tree(const char *dir, int depth, struct bl_error *err)
{
    int rc = 0;
    DIR *d = depth < 8 ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char sub[PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) < (int)sizeof sub &&
                remove_tree(sub, depth + 1, err) < 0 && !rc)
                rc = -1;
        }
    if (d)
        closedir(d);
    /* the relay's end takes the box with it; anything left goes the same way (5 s) */
    for (int t = 0; t < 500 && kill_all(dir, SIGKILL); t++)
        sleep_ms(10);
    if (rmdir(dir) < 0 && errno != ENOENT && !rc)
        rc = bl_errno(err, errno, "rmdir %s", dir);
    return rc;
}

int cgroup_destroy(const struct cgroup *cg, struct bl_error *err)
{
    if (cgroup_frozen(cg))
        cgroup_freeze(cg, false, NULL);
    int rc = 0;
    for (size_t i = 0; i < cg->n; i++)
        if (remove_tree(cg->dir[i], 0, rc ? NULL : err) < 0)
            rc = -1;
    return rc;
}

void cgroup_box_size(const struct oci_resources *r, int *cpus, int *memory_mib)
{
    *cpus = 0;
    *memory_mib = 0;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1)
        online = 1;
    if (r->has_cpu_quota && r->cpu_quota > 0) {
        uint64_t per = r->has_cpu_period ? r->cpu_period : 100000;
        uint64_t n = ((uint64_t)r->cpu_quota + per - 1) / per;
        *cpus = n > (uint64_t)online ? (int)online : (int)n;
    } else if (r->cpuset_cpus[0]) {
        /* "0-3,8": the count of CPUs listed */
        long n = 0;
        for (const char *s = r->cpuset_cpus; *s;) {
            char *end;
            long a = strtol(s, &end, 10), b = a;
            if (end == s)
                break;
            if (*end == '-')
                b = strtol(end + 1, &end, 10);
            n += b >= a ? b - a + 1 : 1;
            s = *end == ',' ? end + 1 : end;
            if (*s && *s != ',' && !(*s >= '0' && *s <= '9'))
                break;
        }
        *cpus = n < 1 ? 0 : n > online ? (int)online : (int)n;
    }
    if (r->has_mem_limit && r->mem_limit > 0) {
        int64_t mib = (r->mem_limit + MIB - 1) / MIB;
        *memory_mib = mib < CG_BOX_MIN_MIB ? CG_BOX_MIN_MIB : mib > (1 << 20) ? 1 << 20 : (int)mib;
    }
}
