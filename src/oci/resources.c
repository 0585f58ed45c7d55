// SPDX-License-Identifier: Apache-2.0
/* linux.resources and linux.cgroupsPath, read (runtime-spec config-linux.md "Control
 * groups", "Memory", "CPU", "pids"); resources.h says what is kept. */
#include "oci/resources.h"

#include <stdio.h>
#include <string.h>

static int int_field(json_t *o, const char *key, const char *field, bool *has, int64_t *v,
                     int64_t min, struct bl_error *err)
{
    json_t *j = json_object_get(o, key);
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < min)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.%s must be an integer of at least "
                      "%lld", field, key, (long long)min);
    *v = json_integer_value(j);
    *has = true;
    return 0;
}

/* "0-3,8": digits, commas and dashes only (the text goes into a cgroup file as it is) */
static int cpuset_field(json_t *o, const char *key, const char *field, char *out,
                        struct bl_error *err)
{
    json_t *j = json_object_get(o, key);
    if (!j || json_is_null(j))
        return 0;
    const char *s = json_is_string(j) ? json_string_value(j) : NULL;
    size_t n = s ? strlen(s) : 0;
    if (!s || n >= OCI_CPUSET_MAX || strspn(s, "0123456789,-") != n ||
        n != json_string_length(j))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.%s must be a list such as \"0-3,8\"",
                      field, key);
    memcpy(out, s, n + 1);
    return 0;
}

static int want_obj(json_t *j, const char *field, const char *key, struct bl_error *err)
{
    if (j && !json_is_null(j) && !json_is_object(j))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s%s%s must be an object", field,
                      key ? "." : "", key ? key : "");
    return 0;
}

int oci_resources_from(json_t *obj, const char *field, struct oci_resources *r,
                       struct bl_error *err)
{
    memset(r, 0, sizeof *r);
    if (!obj || json_is_null(obj))
        return 0;
    if (want_obj(obj, field, NULL, err))
        return -BOXLITE_ERR_INVALID;
    char f[96];
    json_t *m = json_object_get(obj, "memory"), *c = json_object_get(obj, "cpu"),
           *p = json_object_get(obj, "pids");
    if (want_obj(m, field, "memory", err) || want_obj(c, field, "cpu", err) ||
        want_obj(p, field, "pids", err))
        return -BOXLITE_ERR_INVALID;
    int e = 0;
    int64_t v = 0;
    bool has = false;
    if (json_is_object(m)) {
        snprintf(f, sizeof f, "%s.memory", field);
        e = int_field(m, "limit", f, &r->has_mem_limit, &r->mem_limit, -1, err);
        if (!e)
            e = int_field(m, "reservation", f, &r->has_mem_reservation, &r->mem_reservation,
                          -1, err);
        if (!e)
            e = int_field(m, "swap", f, &r->has_mem_swap, &r->mem_swap, -1, err);
    }
    if (!e && json_is_object(c)) {
        snprintf(f, sizeof f, "%s.cpu", field);
        e = int_field(c, "shares", f, &r->has_cpu_shares, &v, 0, err);
        r->cpu_shares = (uint64_t)v;
        if (!e)
            e = int_field(c, "quota", f, &r->has_cpu_quota, &r->cpu_quota, -1, err);
        /* the kernel takes periods of 1 ms to 1 s (cpu.cfs_period_us); 0 = not given */
        if (!e && !(e = int_field(c, "period", f, &has, &v, 0, err)) && has && v) {
            if (v < 1000 || v > 1000000)
                e = bl_err(err, BOXLITE_ERR_INVALID, "config: %s.period %lld is not from 1000 "
                           "to 1000000 µs", f, (long long)v);
            r->has_cpu_period = true;
            r->cpu_period = (uint64_t)v;
        }
        if (!e && r->has_cpu_quota && r->cpu_quota == 0)
            r->has_cpu_quota = false; /* Go's zero value: not given */
        if (!e && r->has_cpu_shares && r->cpu_shares == 0)
            r->has_cpu_shares = false;
        if (!e)
            e = cpuset_field(c, "cpus", f, r->cpuset_cpus, err);
        if (!e)
            e = cpuset_field(c, "mems", f, r->cpuset_mems, err);
    }
    if (!e && json_is_object(p)) {
        snprintf(f, sizeof f, "%s.pids", field);
        e = int_field(p, "limit", f, &r->has_pids_limit, &r->pids_limit, INT64_MIN, err);
    }
    return e ? -BOXLITE_ERR_INVALID : 0;
}

int oci_resources_parse(const char *json, size_t len, struct oci_resources *r,
                        struct bl_error *err)
{
    memset(r, 0, sizeof *r);
    if (len > (1u << 20))
        return bl_err(err, BOXLITE_ERR_INVALID, "resources: %zu bytes (at most 1 MiB)", len);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return bl_err(err, BOXLITE_ERR_INVALID, "resources: line %d: %s", je.line, je.text);
    int e = oci_resources_from(root, "resources", r, err);
    json_decref(root);
    return e;
}

bool oci_resources_given(const struct oci_resources *r)
{
    return r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap || r->has_cpu_shares ||
           r->has_cpu_quota || r->has_cpu_period || r->has_pids_limit || r->cpuset_cpus[0] ||
           r->cpuset_mems[0];
}

void oci_resources_merge(struct oci_resources *dst, const struct oci_resources *src)
{
#define TAKE(has, f) if (src->has) { dst->has = true; dst->f = src->f; }
    TAKE(has_mem_limit, mem_limit)
    TAKE(has_mem_reservation, mem_reservation)
    TAKE(has_mem_swap, mem_swap)
    TAKE(has_cpu_shares, cpu_shares)
    TAKE(has_cpu_quota, cpu_quota)
    TAKE(has_cpu_period, cpu_period)
    TAKE(has_pids_limit, pids_limit)
#undef TAKE
    if (src->cpuset_cpus[0])
        memcpy(dst->cpuset_cpus, src->cpuset_cpus, sizeof dst->cpuset_cpus);
    if (src->cpuset_mems[0])
        memcpy(dst->cpuset_mems, src->cpuset_mems, sizeof dst->cpuset_mems);
}

/* Appends s (n bytes) at *at; false when out is full. */
static bool put(char *out, size_t len, size_t *at, const char *s, size_t n)
{
    if (*at + n >= len)
        return false;
    memcpy(out + *at, s, n);
    *at += n;
    out[*at] = 0;
    return true;
}

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice" (systemd.slice(5): a dash nests);
 * "-.slice" is the root. */
static int expand_slice(const char *slice, char *out, size_t len, size_t *at,
                        struct bl_error *err)
{
    size_t n = strlen(slice);
    if (n < 6 || strcmp(slice + n - 6, ".slice") || strchr(slice, '/'))
        return bl_err(err, BOXLITE_ERR_INVALID, "cgroupsPath: \"%s\" is not a slice name", slice);
    if (!strcmp(slice, "-.slice"))
        return 0;
    size_t name_len = n - 6;
    if (slice[0] == '-' || slice[name_len - 1] == '-' || strstr(slice, "--"))
        return bl_err(err, BOXLITE_ERR_INVALID, "cgroupsPath: \"%s\" is not a slice name", slice);
    /* each dash closes a parent: "/a.slice" for "a-b.slice", then the slice itself */
    for (size_t i = 0; i < name_len; i++)
        if (slice[i] == '-' && (!put(out, len, at, "/", 1) || !put(out, len, at, slice, i) ||
                                !put(out, len, at, ".slice", 6)))
            return bl_err(err, BOXLITE_ERR_INVALID, "cgroupsPath: too long");
    if (!put(out, len, at, "/", 1) || !put(out, len, at, slice, n))
        return bl_err(err, BOXLITE_ERR_INVALID, "cgroupsPath: too long");
    return 0;
}

int oci_cgroup_path(const char *spec_path, bool systemd, const char *id, char *out,
                    size_t len, struct bl_error *err)
{
    size_t at = 0;
    out[0] = 0;
    if (!systemd) {
        const char *p = spec_path && spec_path[0] ? spec_path : id;
        if (!put(out, len, &at, p, strlen(p)))
            return bl_err(err, BOXLITE_ERR_INVALID, "cgroupsPath: too long");
    } else {
        /* "slice:prefix:name"; runc's default is system.slice:runc:ID */
        char slice[256] = "system.slice", prefix[256] = "runc", name[256];
        snprintf(name, sizeof name, "%s", id);
        if (spec_path && spec_path[0]) {
            const char *c1 = strchr(spec_path, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (!c2 || strchr(c2 + 1, ':') || (size_t)(c1 - spec_path) >= sizeof slice ||
                (size_t)(c2 - c1 - 1) >= sizeof prefix || strlen(c2 + 1) >= sizeof name)
                return bl_err(err, BOXLITE_ERR_INVALID, "cgroupsPath: \"%s\" is not "
                              "slice:prefix:name (--systemd-cgroup)", spec_path);
            if (c1 > spec_path)
                snprintf(slice, sizeof slice, "%.*s", (int)(c1 - spec_path), spec_path);
            snprintf(prefix, sizeof prefix, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
            snprintf(name, sizeof name, "%s", c2 + 1);
        }
        if (expand_slice(slice, out, len, &at, err))
            return -BOXLITE_ERR_INVALID;
        if (strchr(prefix, '/') || strchr(name, '/') || !name[0])
            return bl_err(err, BOXLITE_ERR_INVALID, "cgroupsPath: \"%s\": a name with a slash",
                          spec_path);
        /* a name that is itself a slice is that slice (systemd's own convention) */
        size_t nl = strlen(name);
        bool is_slice = nl > 6 && !strcmp(name + nl - 6, ".slice");
        char unit[600];
        if (is_slice)
            snprintf(unit, sizeof unit, "/%s", name);
        else
            snprintf(unit, sizeof unit, "/%s%s%s.scope", prefix, prefix[0] ? "-" : "", name);
        if (!put(out, len, &at, unit, strlen(unit)))
            return bl_err(err, BOXLITE_ERR_INVALID, "cgroupsPath: too long");
    }
    /* no "..": a path must stay inside the hierarchy it names */
    for (const char *s = out; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return bl_err(err, BOXLITE_ERR_INVALID, "cgroupsPath: \"%s\" leaves the cgroup "
                          "hierarchy (..)", out);
        s += n;
        while (*s == '/')
            s++;
    }
    return 0;
}
