// SPDX-License-Identifier: Apache-2.0
/* update (runc's command): new linux.resources for a running container, from --resources
 * FILE ("-": stdin, as containerd's shim sends them) and/or runc's flags, applied to the
 * container's cgroup on the host and, for memory and the pids limit, in the guest. The box's
 * own size (its vCPUs and RAM) is fixed at boot: a memory limit reaches the guest through
 * its balloon, never above the boot size (docs/oci-runtime.md "cgroups"). */
#include "runtime.h"
#include "cgroup.h"

#include "common/cleanup.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* runc's sizes: bytes, or with a unit k, m, g (any case, an optional b), "-1" unlimited */
static int size_flag(const char *name, const char *v, bool *has, int64_t *out)
{
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    int64_t mul = 1;
    switch (*end | 0x20) {
    case 'k': mul = 1024; end++; break;
    case 'm': mul = 1024 * 1024; end++; break;
    case 'g': mul = 1024LL * 1024 * 1024; end++; break;
    }
    if (mul > 1 && (*end | 0x20) == 'b')
        end++;
    if (errno || end == v || *end || n < -1 || (n == -1 && mul > 1) || n > INT64_MAX / mul)
        return fail("update: --%s %s is not a size (bytes, or with k, m, g; -1: unlimited)",
                    name, v);
    *has = true;
    *out = n * mul;
    return 0;
}

/* A lowered memory limit reaches the guest too (the box's RAM is fixed at boot): its balloon
 * holds what is above the limit, so the guest cannot use more (include/boxlite.h "Density").
 * A limit at or above the boot size lets the balloon go; it cannot give the guest more RAM
 * than it booted with. A pod's later container shares the sandbox's VM: its limit stays on
 * its relay's cgroup. */
static int guest_memory(boxlite_box *box, const struct oci_state *st, int64_t limit,
                        struct bl_error *err)
{
    struct pod pod;
    if (pod_of(st->id, &pod) == POD_CONTAINER)
        return 0;
    char *js = NULL;
    if (boxlite_box_info(box, &js) != BOXLITE_OK)
        return bl_err(err, BOXLITE_ERR_NOT_FOUND, "the container's box: %s", boxlite_errmsg());
    json_t *o = json_loads(js, 0, NULL);
    boxlite_free(js);
    json_int_t boot = o ? json_integer_value(json_object_get(o, "memory_mib")) : 0;
    json_decref(o);
    int64_t mib = limit > 0 ? limit >> 20 : 0;
    /* never below the least RAM a box boots with, as the host's limit (cgroup.c) */
    if (mib > 0 && mib < CG_BOX_MIN_MIB)
        mib = CG_BOX_MIN_MIB;
    int target = mib > 0 && mib < boot ? (int)mib : 0;
    int rc = boxlite_box_set_balloon(box, target);
    /* no balloon (its engine's, or its slots taken): the host's limit alone holds */
    if (rc != BOXLITE_OK && rc != BOXLITE_ERR_UNSUPPORTED)
        return bl_err(err, rc, "the guest's balloon to %d MiB: %s", target, boxlite_errmsg());
    return 0;
}

/* The pids limit counts the container's processes in the guest (their group, named by the
 * container id: cmd_create.c), a pod's container's too, in the pod's box; -1 or 0 is none,
 * as runc reads them. A container created and not started has no group yet: it starts
 * with config.json's limit (docs/oci-runtime.md "cgroups"). */
static int guest_pids(boxlite_box *box, const struct oci_state *st, int64_t limit,
                      struct bl_error *err)
{
    int rc = boxlite_box_set_group_pids(box, st->id, limit > 0 ? limit : 0);
    if (rc == BOXLITE_ERR_NOT_FOUND && status_of(st) == OCI_CREATED) {
        warn("update: %s has not started: its processes in the guest get config.json's pids "
             "limit", st->id);
        return 0;
    }
    return rc ? bl_err(err, rc, "the guest's pids limit: %s", boxlite_errmsg()) : 0;
}

/* What of an update reaches the guest: memory and the pids limit (the box's). */
static int guest_apply(const struct oci_state *st, const struct oci_resources *r,
                       struct bl_error *err)
{
    if (!r->has_mem_limit && !r->has_pids_limit)
        return 0;
    boxlite_runtime *rt = NULL;
    boxlite_box *box = NULL;
    int rc = 0;
    if (open_runtime(&rt) || boxlite_box_get(rt, st->box, &box) != BOXLITE_OK)
        rc = bl_err(err, BOXLITE_ERR_NOT_FOUND, "the container's box: %s", boxlite_errmsg());
    if (!rc && r->has_mem_limit)
        rc = guest_memory(box, st, r->mem_limit, err);
    if (!rc && r->has_pids_limit)
        rc = guest_pids(box, st, r->pids_limit, err);
    boxlite_box_free(box);
    boxlite_runtime_close(rt);
    return rc;
}

static int num_flag(const char *name, const char *v, bool *has, int64_t *out, int64_t min)
{
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < min)
        return fail("update: --%s %s is not a number of at least %lld", name, v,
                    (long long)min);
    *has = true;
    *out = n;
    return 0;
}

static int cpuset_flag(const char *name, const char *v, char *out)
{
    if (!v)
        return 0;
    size_t n = strlen(v);
    if (n >= OCI_CPUSET_MAX || strspn(v, "0123456789,-") != n)
        return fail("update: --%s %s is not a list such as 0-3,8", name, v);
    memcpy(out, v, n + 1);
    return 0;
}

int cmd_update(int argc, char **argv, int i)
{
    const char *file = NULL, *mem = NULL, *res = NULL, *swap = NULL, *shares = NULL,
               *quota = NULL, *period = NULL, *cpus = NULL, *mems = NULL, *pids = NULL,
               *ignored = NULL;
    const struct flag fl[] = {
        FLAG_V("resources", 'r', &file),
        FLAG_V("memory", 0, &mem),
        FLAG_V("memory-reservation", 0, &res),
        FLAG_V("memory-swap", 0, &swap),
        FLAG_V("cpu-share", 0, &shares),
        FLAG_V("cpu-quota", 0, &quota),
        FLAG_V("cpu-period", 0, &period),
        FLAG_V("cpuset-cpus", 0, &cpus),
        FLAG_V("cpuset-mems", 0, &mems),
        FLAG_V("pids-limit", 0, &pids),
        /* accepted as runc does, and not applied (docs/oci-runtime.md "cgroups") */
        FLAG_V("blkio-weight", 0, &ignored),
        FLAG_V("kernel-memory", 0, &ignored),
        FLAG_V("kernel-memory-tcp", 0, &ignored),
        FLAG_V("cpu-rt-period", 0, &ignored),
        FLAG_V("cpu-rt-runtime", 0, &ignored),
        FLAG_V("l3-cache-schema", 0, &ignored),
        FLAG_V("mem-bw-schema", 0, &ignored),
        FLAG_END,
    };
    if (parse_flags(argc, argv, &i, fl, "update"))
        return 1;
    if (i != argc - 1)
        return fail("update: usage: update [--resources FILE] [flags] CONTAINER-ID");
    struct oci_resources r = { 0 }, flags = { 0 };
    struct bl_error err = { 0 };
    if (file) {
        cleanup_free char *text = NULL;
        size_t len = 0;
        if (!strcmp(file, "-")) {
            /* stdin: read to its end, at most 1 MiB */
            size_t cap = 1 << 20;
            text = malloc(cap + 1);
            ssize_t n = 0;
            while (text && len < cap && (n = read(STDIN_FILENO, text + len, cap - len)) > 0)
                len += (size_t)n;
            if (!text || n < 0)
                return fail("update: read the resources from stdin: %s", strerror(errno));
        } else if (read_file(file, 1 << 20, &text, &len) < 0) {
            return fail("update: read %s: %s", file, strerror(errno));
        }
        if (oci_resources_parse(text, len, &r, &err))
            return fail("update: %s", err.msg);
    }
    int64_t v = 0;
    bool has = false;
    if (size_flag("memory", mem, &flags.has_mem_limit, &flags.mem_limit) ||
        size_flag("memory-reservation", res, &flags.has_mem_reservation,
                  &flags.mem_reservation) ||
        size_flag("memory-swap", swap, &flags.has_mem_swap, &flags.mem_swap) ||
        num_flag("cpu-share", shares, &has, &v, 2) ||
        num_flag("cpu-quota", quota, &flags.has_cpu_quota, &flags.cpu_quota, -1) ||
        cpuset_flag("cpuset-cpus", cpus, flags.cpuset_cpus) ||
        cpuset_flag("cpuset-mems", mems, flags.cpuset_mems) ||
        num_flag("pids-limit", pids, &flags.has_pids_limit, &flags.pids_limit, INT64_MIN))
        return 1;
    flags.has_cpu_shares = has;
    flags.cpu_shares = (uint64_t)v;
    has = false;
    if (num_flag("cpu-period", period, &has, &v, 1000))
        return 1;
    if (has && v > 1000000)
        return fail("update: --cpu-period %s is not from 1000 to 1000000 µs", period);
    flags.has_cpu_period = has;
    flags.cpu_period = (uint64_t)v;
    /* runc: the flags win over the file */
    oci_resources_merge(&r, &flags);
    struct oci_state st;
    if (load_state(argv[i], &st))
        return 1;
    enum oci_status s = status_of(&st);
    struct cgroup cg;
    int rc = 0;
    if (s == OCI_STOPPED)
        rc = fail("container not running");
    else if (load_cgroup(st.id, &cg) != 1)
        rc = fail("update: the container has no cgroup (made without one)");
    else if (cgroup_apply(&cg, &r, &err) < 0 || guest_apply(&st, &r, &err) < 0)
        rc = fail("update: %s", err.msg);
    oci_state_free(&st);
    return rc;
}
