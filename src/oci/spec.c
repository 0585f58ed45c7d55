// SPDX-License-Identifier: Apache-2.0
/* config.json decoding for boxlite-runtime (runtime-spec v1.x config.md, "Root", "Mounts",
 * "Process", "Hostname", "Annotations"). jansson parses; every field read here is checked
 * for its type and bounded before use, because the bundle is the caller's input. */
#include "oci/spec.h"

#include "common/cleanup.h"
#include "common/signame.h"
#include "proto/proto.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

void oci_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int dup_str(json_t *v, const char *field, bool required, char **out,
                   struct bl_error *err)
{
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s is missing", field);
        return 0;
    }
    if (!json_is_string(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be a string", field);
    const char *s = json_string_value(v);
    /* a NUL inside a JSON string (\u0000) would cut the value short silently */
    if (strlen(s) != json_string_length(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s holds a NUL character", field);
    if (!(*out = strdup(s)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "config: %s: out of memory", field);
    return 0;
}

/* A JSON array of strings as a NULL-terminated vector (at most max entries). */
static int dup_strv(json_t *v, const char *field, size_t max, char ***out, struct bl_error *err)
{
    *out = NULL;
    if (!v || json_is_null(v)) {
        *out = calloc(1, sizeof **out);
        return *out ? 0 : bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    }
    if (!json_is_array(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an array of strings", field);
    size_t n = json_array_size(v);
    if (n > max)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s has %zu entries (at most %zu)", field,
                      n, max);
    char **r = calloc(n + 1, sizeof *r);
    if (!r)
        return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s[%zu]", field, i);
        int rc = dup_str(json_array_get(v, i), name, true, &r[i], err);
        if (rc) {
            oci_strv_free(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

static int get_u32(json_t *v, const char *field, uint32_t *out, struct bl_error *err)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > (json_int_t)UINT32_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an integer from 0 to %u",
                      field, UINT32_MAX);
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

static int get_bool(json_t *v, const char *field, bool *out, struct bl_error *err)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be true or false", field);
    *out = json_is_true(v);
    return 0;
}

static int want_object(json_t *v, const char *field, struct bl_error *err)
{
    return json_is_object(v) ? 0
                             : bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an object",
                                      field);
}

/* capabilities(7) in the kernel's order (linux/capability.h), so the index is the bit. */
static const char *const cap_names[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",
    "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE",
    "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
    "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
    "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

/* getrlimit(2)'s resources in Linux's generic numbering (asm-generic/resource.h, which
 * x86_64 and arm64 both use): the number the guest's setrlimit takes. */
static const char *const rlimit_names[] = {
    "CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK", "AS",
    "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME",
};

/* The index in names[n] of name without its prefix ("RLIMIT_NOFILE" -> "NOFILE"), or -1. */
static int index_of(const char *name, const char *prefix, const char *const *names, size_t n)
{
    size_t pl = strlen(prefix);
    if (!name || strncmp(name, prefix, pl))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(name + pl, names[i]))
            return (int)i;
    return -1;
}

int oci_rlimit_number(const char *name)
{
    return index_of(name, "RLIMIT_", rlimit_names, sizeof rlimit_names / sizeof rlimit_names[0]);
}

const char *oci_rlimit_name(int resource)
{
    return resource >= 0 && (size_t)resource < sizeof rlimit_names / sizeof rlimit_names[0]
               ? rlimit_names[resource] : NULL;
}

int oci_cap_number(const char *name)
{
    return index_of(name, "CAP_", cap_names, sizeof cap_names / sizeof cap_names[0]);
}

/* A limit: a JSON integer from 0 up, or RLIM_INFINITY (2^64-1, which load() turned into
 * -1; -1 itself is read the same way). */
static int get_limit(json_t *v, const char *field, uint64_t *out, struct bl_error *err)
{
    if (json_is_integer(v) && json_integer_value(v) >= -1) {
        *out = json_integer_value(v) < 0 ? UINT64_MAX : (uint64_t)json_integer_value(v);
        return 0;
    }
    return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an integer from 0 to "
                  "18446744073709551615", field);
}

static int rlimits_from(json_t *v, struct oci_process *x, struct bl_error *err)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: process.rlimits must be an array");
    size_t n = json_array_size(v);
    if (n > OCI_MAX_RLIMITS)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: process.rlimits has %zu entries (at "
                      "most one per resource, %d)", n, OCI_MAX_RLIMITS);
    if (n && !(x->rlimits = calloc(n, sizeof *x->rlimits)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        char f[64];
        snprintf(f, sizeof f, "process.rlimits[%zu]", i);
        int r = want_object(e, f, err);
        if (r)
            return r;
        json_t *t = json_object_get(e, "type");
        if (!json_is_string(t))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.type must be a string", f);
        /* config.md: "If type is invalid or unsupported, runtime MUST generate an error" */
        int res = oci_rlimit_number(json_string_value(t));
        if (res < 0 || strlen(json_string_value(t)) != json_string_length(t))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.type \"%s\" is not a resource "
                          "limit (RLIMIT_NOFILE, RLIMIT_NPROC, ... as getrlimit(2) names them)",
                          f, json_string_value(t));
        struct oci_rlimit *l = &x->rlimits[i];
        l->resource = res;
        char g[80];
        snprintf(g, sizeof g, "%s.soft", f);
        if ((r = get_limit(json_object_get(e, "soft"), g, &l->soft, err)))
            return r;
        snprintf(g, sizeof g, "%s.hard", f);
        if ((r = get_limit(json_object_get(e, "hard"), g, &l->hard, err)))
            return r;
        if (l->soft > l->hard)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s: soft limit %llu above the "
                          "hard limit %llu", f, (unsigned long long)l->soft,
                          (unsigned long long)l->hard);
        /* config.md: "Entries MUST have unique type" */
        for (size_t j = 0; j < i; j++)
            if (x->rlimits[j].resource == res)
                return bl_err(err, BOXLITE_ERR_INVALID, "config: %s: RLIMIT_%s given twice", f,
                              rlimit_names[res]);
        x->nrlimits = i + 1;
    }
    return 0;
}

static int capset_from(json_t *caps, const char *set, uint64_t *out, struct oci_process *x,
                       struct bl_error *err)
{
    json_t *v = json_object_get(caps, set);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > 256)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: process.capabilities.%s must be an "
                      "array of capability names", set);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: process.capabilities.%s[%zu] must "
                          "be a string", set, i);
        int c = oci_cap_number(json_string_value(e));
        if (c >= 0 && strlen(json_string_value(e)) == json_string_length(e))
            *out |= 1ull << c;
        else if (!x->cap_unknown && !(x->cap_unknown = strndup(json_string_value(e), 64)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    }
    return 0;
}

static int security_from(json_t *p, struct oci_process *x, struct bl_error *err)
{
    int r = rlimits_from(json_object_get(p, "rlimits"), x, err);
    json_t *caps = json_object_get(p, "capabilities");
    if (!r && caps && !json_is_null(caps)) {
        r = want_object(caps, "process.capabilities", err);
        x->has_caps = true;
        if (!r)
            r = capset_from(caps, "bounding", &x->cap_bounding, x, err);
        if (!r)
            r = capset_from(caps, "effective", &x->cap_effective, x, err);
        if (!r)
            r = capset_from(caps, "permitted", &x->cap_permitted, x, err);
        if (!r)
            r = capset_from(caps, "inheritable", &x->cap_inheritable, x, err);
        if (!r)
            r = capset_from(caps, "ambient", &x->cap_ambient, x, err);
    }
    if (!r)
        r = get_bool(json_object_get(p, "noNewPrivileges"), "process.noNewPrivileges",
                     &x->no_new_privs, err);
    json_t *o = json_object_get(p, "oomScoreAdj");
    if (!r && o && !json_is_null(o)) {
        if (!json_is_integer(o) || json_integer_value(o) < -1000 || json_integer_value(o) > 1000)
            r = bl_err(err, BOXLITE_ERR_INVALID, "config: process.oomScoreAdj must be an "
                       "integer from -1000 to 1000");
        x->oom_score_adj = r ? 0 : (int)json_integer_value(o);
        x->has_oom_score_adj = !r;
    }
    json_t *u = json_object_get(p, "user");
    if (r || !json_is_object(u))
        return r;
    json_t *m = json_object_get(u, "umask");
    if (m && !json_is_null(m)) {
        if ((r = get_u32(m, "process.user.umask", &x->umask, err)))
            return r;
        if (x->umask > 0777)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: process.user.umask %o is not a "
                          "mode (at most 0777)", x->umask);
        x->has_umask = true;
    }
    json_t *g = json_object_get(u, "additionalGids");
    if (g && !json_is_null(g)) {
        if (!json_is_array(g) || json_array_size(g) > OCI_MAX_GIDS)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: process.user.additionalGids must "
                          "be an array of at most %d group ids", OCI_MAX_GIDS);
        size_t n = json_array_size(g);
        if (n && !(x->gids = calloc(n, sizeof *x->gids)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
        for (size_t i = 0; i < n; i++) {
            char f[64];
            snprintf(f, sizeof f, "process.user.additionalGids[%zu]", i);
            json_t *e = json_array_get(g, i);
            if (!json_is_integer(e))
                return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an integer", f);
            if ((r = get_u32(e, f, &x->gids[i], err)))
                return r;
            x->ngids = i + 1;
        }
        x->has_gids = true;
    }
    return 0;
}

/* A name given twice keeps its last value, in its first place (runc sets each in order, so a
 * later one wins: Podman's exec appends `-e PATH=...` after the container's PATH). */
static void env_last_wins(char **env)
{
    for (size_t i = 0; env[i]; i++) {
        size_t n = strcspn(env[i], "=") + 1;
        for (size_t j = i + 1; env[j];) {
            if (strncmp(env[i], env[j], n)) {
                j++;
                continue;
            }
            free(env[i]);
            env[i] = env[j];
            for (size_t k = j; env[k]; k++) /* the NULL moves down too */
                env[k] = env[k + 1];
        }
    }
}

static int process_from(json_t *p, struct oci_process *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    int r = want_object(p, "process", err);
    if (r)
        return r;
    struct oci_process x = { 0 };
    r = dup_strv(json_object_get(p, "args"), "process.args", OCI_MAX_ARGS, &x.args, err);
    if (!r && (!x.args[0] || !x.args[0][0]))
        r = bl_err(err, BOXLITE_ERR_INVALID, "config: process.args must name a program");
    if (!r)
        r = dup_strv(json_object_get(p, "env"), "process.env", OCI_MAX_ENV, &x.env, err);
    for (size_t i = 0; !r && x.env[i]; i++)
        if (!strchr(x.env[i], '=') || x.env[i][0] == '=')
            r = bl_err(err, BOXLITE_ERR_INVALID, "config: process.env[%zu] is not KEY=VALUE", i);
    if (!r)
        env_last_wins(x.env);
    if (!r)
        r = dup_str(json_object_get(p, "cwd"), "process.cwd", false, &x.cwd, err);
    if (!r && !x.cwd && !(x.cwd = strdup("/")))
        r = bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    /* config.md: "cwd ... MUST be an absolute path" */
    if (!r && x.cwd[0] != '/')
        r = bl_err(err, BOXLITE_ERR_INVALID, "config: process.cwd \"%s\" is not absolute", x.cwd);
    if (!r)
        r = get_bool(json_object_get(p, "terminal"), "process.terminal", &x.terminal, err);
    json_t *u = json_object_get(p, "user");
    if (!r && u && !json_is_null(u)) {
        r = want_object(u, "process.user", err);
        if (!r)
            r = get_u32(json_object_get(u, "uid"), "process.user.uid", &x.uid, err);
        if (!r)
            r = get_u32(json_object_get(u, "gid"), "process.user.gid", &x.gid, err);
    }
    json_t *cs = json_object_get(p, "consoleSize");
    if (!r && cs && !json_is_null(cs)) {
        uint32_t h = 0, w = 0;
        r = want_object(cs, "process.consoleSize", err);
        if (!r)
            r = get_u32(json_object_get(cs, "height"), "process.consoleSize.height", &h, err);
        if (!r)
            r = get_u32(json_object_get(cs, "width"), "process.consoleSize.width", &w, err);
        if (!r && (h > 65535 || w > 65535))
            r = bl_err(err, BOXLITE_ERR_INVALID, "config: process.consoleSize over 65535");
        x.rows = h;
        x.cols = w;
    }
    if (!r)
        r = security_from(p, &x, err);
    if (r) {
        oci_process_free(&x);
        return r;
    }
    *out = x;
    return 0;
}

/* A tmpfs mount's options joined as mount(8) writes them, checked now so that a word the
 * guest would refuse fails create, not the container's start. */
static int tmpfs_from(json_t *opts, size_t i, struct oci_mount *out, struct bl_error *err)
{
    char joined[OCI_TMPFS_OPTIONS_MAX] = "", data[PROTO_TMPFS_DATA_MAX];
    size_t n = 0, j;
    json_t *o;
    json_array_foreach(opts, j, o) {
        const char *w = json_string_value(o);
        size_t wl = strlen(w);
        if (strchr(w, ','))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: mounts[%zu].options[%zu]: a tmpfs "
                          "option with a comma", i, j);
        if (n + wl + 2 > sizeof joined)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: mounts[%zu].options: more than %d "
                          "bytes", i, OCI_TMPFS_OPTIONS_MAX);
        n += (size_t)sprintf(joined + n, "%s%s", n ? "," : "", w);
    }
    uint32_t flags;
    if (proto_tmpfs_options(joined, &flags, data, sizeof data, err) < 0)
        return bl_err_prefix(err, "config: mounts[%zu] (tmpfs %s)", i, out->destination);
    if (!proto_confine_path_ok(out->destination))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: mounts[%zu]: a tmpfs destination with "
                      "a \"..\" component", i);
    if (!(out->tmpfs_options = strdup(joined)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    return 0;
}

static int mount_from(json_t *m, size_t i, struct oci_mount *out, struct bl_error *err)
{
    char f[64];
    snprintf(f, sizeof f, "mounts[%zu]", i);
    int r = want_object(m, f, err);
    if (r)
        return r;
    snprintf(f, sizeof f, "mounts[%zu].destination", i);
    r = dup_str(json_object_get(m, "destination"), f, true, &out->destination, err);
    if (!r && out->destination[0] != '/')
        r = bl_err(err, BOXLITE_ERR_INVALID, "config: %s \"%s\" is not absolute", f,
                   out->destination);
    snprintf(f, sizeof f, "mounts[%zu].source", i);
    if (!r)
        r = dup_str(json_object_get(m, "source"), f, false, &out->source, err);
    snprintf(f, sizeof f, "mounts[%zu].type", i);
    if (!r)
        r = dup_str(json_object_get(m, "type"), f, false, &out->type, err);
    if (r)
        return r;
    out->bind = out->type && !strcmp(out->type, "bind");
    json_t *opts = json_object_get(m, "options");
    if (opts && !json_is_null(opts)) {
        if (!json_is_array(opts))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: mounts[%zu].options must be an "
                          "array of strings", i);
        size_t j;
        json_t *o;
        json_array_foreach(opts, j, o) {
            if (!json_is_string(o))
                return bl_err(err, BOXLITE_ERR_INVALID, "config: mounts[%zu].options[%zu] must "
                              "be a string", i, j);
            const char *s = json_string_value(o);
            if (!strcmp(s, "bind") || !strcmp(s, "rbind"))
                out->bind = true;
            else if (!strcmp(s, "ro"))
                out->readonly = true;
            else if (!strcmp(s, "rw"))
                out->readonly = false;
        }
    }
    return out->type && !strcmp(out->type, "tmpfs") && !out->bind ? tmpfs_from(opts, i, out, err)
                                                                  : 0;
}

static void mounts_free(struct oci_mount *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].destination);
        free(m[i].source);
        free(m[i].type);
        free(m[i].tmpfs_options);
    }
    free(m);
}

static int annotations_from(json_t *a, struct oci_spec *s, struct bl_error *err)
{
    if (!a || json_is_null(a))
        return 0;
    int r = want_object(a, "annotations", err);
    if (r)
        return r;
    size_t n = json_object_size(a);
    if (n > 4096)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: more than 4096 annotations");
    s->ann_keys = calloc(n + 1, sizeof *s->ann_keys);
    s->ann_values = calloc(n + 1, sizeof *s->ann_values);
    if (!s->ann_keys || !s->ann_values)
        return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v) {
        char f[300];
        snprintf(f, sizeof f, "annotations[\"%.200s\"]", k);
        if ((r = dup_str(v, f, true, &s->ann_values[s->nann], err)))
            return r;
        if (!(s->ann_keys[s->nann] = strdup(k)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
        s->nann++;
    }
    const char *cpus = oci_spec_annotation(s, "io.boxlite.cpus");
    if (cpus) {
        char *end;
        errno = 0;
        long c = strtol(cpus, &end, 10);
        if (errno || end == cpus || *end || c < 1 || c > 256)
            return bl_err(err, BOXLITE_ERR_INVALID, "annotation io.boxlite.cpus: \"%s\" is not "
                          "a count from 1 to 256", cpus);
        s->cpus = (int)c;
    }
    const char *mem = oci_spec_annotation(s, "io.boxlite.memory");
    if (mem && (r = oci_parse_memory_mib(mem, &s->memory_mib, err)))
        return bl_err_prefix(err, "annotation io.boxlite.memory");
    s->engine = oci_spec_annotation(s, "io.boxlite.engine");
    if (s->engine && strcmp(s->engine, "auto") && strcmp(s->engine, "kvm") &&
        strcmp(s->engine, "qemu"))
        return bl_err(err, BOXLITE_ERR_INVALID, "annotation io.boxlite.engine: \"%s\" is not "
                      "auto, kvm or qemu", s->engine);
    const char *net = oci_spec_annotation(s, "io.boxlite.network");
    if (net && strcmp(net, "netns") && strcmp(net, "user"))
        return bl_err(err, BOXLITE_ERR_INVALID, "annotation io.boxlite.network: \"%s\" is not "
                      "netns or user", net);
    s->user_network = net && !strcmp(net, "user");
    const char *ports = oci_spec_annotation(s, "io.boxlite.ports");
    if (ports && (r = oci_parse_ports(ports, s->ports, &s->nports, err)))
        return bl_err_prefix(err, "annotation io.boxlite.ports");
    return 0;
}

int oci_parse_ports(const char *s, uint16_t *ports, size_t *n, struct bl_error *err)
{
    *n = 0;
    for (const char *p = s; *p;) {
        char *end;
        errno = 0;
        long v = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
        if (v < 1 || v > 65535 || errno)
            return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\": a port is a number from 1 to "
                          "65535 (\"80,443/tcp\")", s);
        p = end;
        if (!strncmp(p, "/tcp", 4))
            p += 4;
        if (*p && *p != ',')
            return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\": TCP ports separated by commas "
                          "(\"80,443/tcp\"; UDP is not carried)", s);
        if (*p)
            p++;
        for (size_t i = 0; i < *n; i++)
            if (ports[i] == v)
                return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\": port %ld twice", s, v);
        if (*n == OCI_MAX_PORTS)
            return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\": more than %d ports", s,
                          OCI_MAX_PORTS);
        ports[(*n)++] = (uint16_t)v;
    }
    return 0;
}

const char *oci_hook_stage_name(enum oci_hook_stage stage)
{
    static const char *const names[OCI_HOOK_STAGES] = {
        [OCI_HOOK_PRESTART] = "prestart",
        [OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
        [OCI_HOOK_CREATE_CONTAINER] = "createContainer",
        [OCI_HOOK_START_CONTAINER] = "startContainer",
        [OCI_HOOK_POSTSTART] = "poststart",
        [OCI_HOOK_POSTSTOP] = "poststop",
    };
    return (unsigned)stage < OCI_HOOK_STAGES ? names[stage] : "?";
}

static void hooks_free(struct oci_hook *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].path);
        oci_strv_free(h[i].args);
        oci_strv_free(h[i].env);
    }
    free(h);
}

/* config.md "POSIX-platform Hooks": path REQUIRED and absolute, args and env OPTIONAL
 * arrays of strings, timeout OPTIONAL and greater than zero. */
static int hook_from(json_t *v, const char *f, struct oci_hook *h, struct bl_error *err)
{
    char name[96];
    int r = want_object(v, f, err);
    snprintf(name, sizeof name, "%s.path", f);
    if (!r)
        r = dup_str(json_object_get(v, "path"), name, true, &h->path, err);
    if (!r && h->path[0] != '/')
        r = bl_err(err, BOXLITE_ERR_INVALID, "config: %s \"%s\" is not absolute", name, h->path);
    json_t *a = json_object_get(v, "args");
    snprintf(name, sizeof name, "%s.args", f);
    if (!r && a && !json_is_null(a))
        r = dup_strv(a, name, OCI_MAX_ARGS, &h->args, err);
    json_t *e = json_object_get(v, "env");
    snprintf(name, sizeof name, "%s.env", f);
    if (!r && e && !json_is_null(e))
        r = dup_strv(e, name, OCI_MAX_ENV, &h->env, err);
    for (size_t i = 0; !r && h->env && h->env[i]; i++)
        if (!strchr(h->env[i], '=') || h->env[i][0] == '=')
            r = bl_err(err, BOXLITE_ERR_INVALID, "config: %s[%zu] is not KEY=VALUE", name, i);
    json_t *t = json_object_get(v, "timeout");
    snprintf(name, sizeof name, "%s.timeout", f);
    if (!r && t && !json_is_null(t)) {
        /* a day at most: beyond that a hook is stuck, and seconds * 1000 stays in an int */
        if (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > 86400)
            r = bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an integer from 1 to 86400",
                       name);
        else
            h->timeout = (int)json_integer_value(t);
    }
    return r;
}

static int hooks_from(json_t *hooks, struct oci_spec *s, struct bl_error *err)
{
    if (!hooks || json_is_null(hooks))
        return 0;
    int r = want_object(hooks, "hooks", err);
    for (int st = 0; !r && st < OCI_HOOK_STAGES; st++) {
        const char *key = oci_hook_stage_name((enum oci_hook_stage)st);
        json_t *list = json_object_get(hooks, key);
        if (!list || json_is_null(list))
            continue;
        if (!json_is_array(list))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: hooks.%s must be an array", key);
        size_t n = json_array_size(list);
        if (n > OCI_MAX_HOOKS)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: hooks.%s has %zu hooks (at most %d)",
                          key, n, OCI_MAX_HOOKS);
        if (!(s->hooks[st] = calloc(n + 1, sizeof *s->hooks[st])))
            return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
        for (size_t i = 0; !r && i < n; i++) {
            char f[64];
            snprintf(f, sizeof f, "hooks.%s[%zu]", key, i);
            s->nhooks[st]++;
            r = hook_from(json_array_get(list, i), f, &s->hooks[st][i], err);
        }
    }
    return r;
}

/* config-linux.md "Namespaces": the entry's type, and its path kept for create to check
 * (oci_namespaces_check), which needs the file and so is no part of parsing. */
static const struct {
    const char *type;
    int flag;
} ns_kinds[] = {
    { "pid", CLONE_NEWPID }, { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS },
    { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "user", CLONE_NEWUSER },
    { "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

static int namespace_of(json_t *v, const char *f, const char *type, struct oci_spec *s,
                        struct bl_error *err)
{
    int flag = -1;
    for (size_t i = 0; i < ARRAY_SIZE(ns_kinds); i++)
        if (!strcmp(type, ns_kinds[i].type))
            flag = ns_kinds[i].flag;
    /* config-linux.md: "The following namespace types SHOULD be supported" and no other */
    if (flag < 0)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.type \"%.32s\" is not a namespace "
                      "type (pid, network, mount, ipc, uts, user, cgroup, time)", f, type);
    json_t *p = json_object_get(v, "path");
    if (!p || json_is_null(p))
        return 0;
    for (size_t i = 0; i < s->nns; i++)
        if (s->ns[i].type == flag)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s: a second %s namespace", f,
                          type);
    char g[80];
    snprintf(g, sizeof g, "%s.path", f);
    struct oci_ns_path *n = &s->ns[s->nns];
    int r = dup_str(p, g, true, &n->path, err);
    if (r)
        return r;
    n->type = flag;
    s->nns++;
    if (n->path[0] != '/')
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s \"%s\" is not absolute", g, n->path);
    return 0;
}

/* config-linux.md "Namespaces": only the network namespace matters to a box's relay. */
static int namespaces_from(json_t *linux, struct oci_spec *s, struct bl_error *err)
{
    if (!linux || json_is_null(linux))
        return 0;
    int r = want_object(linux, "linux", err);
    json_t *ns = r ? NULL : json_object_get(linux, "namespaces");
    if (r || !ns || json_is_null(ns))
        return r;
    if (!json_is_array(ns))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.namespaces must be an array");
    size_t i;
    json_t *v;
    json_array_foreach(ns, i, v) {
        char f[64];
        snprintf(f, sizeof f, "linux.namespaces[%zu]", i);
        if ((r = want_object(v, f, err)))
            return r;
        json_t *t = json_object_get(v, "type");
        if (!json_is_string(t))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.type must be a string", f);
        if (strlen(json_string_value(t)) != json_string_length(t) ||
            (r = namespace_of(v, f, json_string_value(t), s, err)))
            return r ? r : bl_err(err, BOXLITE_ERR_INVALID, "config: %s.type holds a NUL", f);
        if (strcmp(json_string_value(t), "network"))
            continue;
        if (s->netns)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s: a second network namespace", f);
        s->netns = true;
        snprintf(f, sizeof f, "linux.namespaces[%zu].path", i);
        if ((r = dup_str(json_object_get(v, "path"), f, false, &s->netns_path, err)))
            return r;
        if (s->netns_path && s->netns_path[0] != '/')
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s \"%s\" is not absolute", f,
                          s->netns_path);
    }
    return 0;
}

/* The rest of linux: cgroupsPath, resources, seccomp and the container's view. */
static int linux_from(json_t *linux, struct oci_spec *s, struct bl_error *err)
{
    if (!json_is_object(linux)) /* namespaces_from refused anything else */
        return 0;
    int r = dup_str(json_object_get(linux, "cgroupsPath"), "linux.cgroupsPath", false,
                    &s->cgroups_path, err);
    if (!r)
        r = oci_resources_from(json_object_get(linux, "resources"), "linux.resources", &s->res,
                               err);
    if (!r)
        r = oci_seccomp_compile(json_object_get(linux, "seccomp"), &s->seccomp, err);
    return r ? r : oci_view_from(linux, &s->view, err);
}

/* Every number token 18446744073709551615 outside strings becomes "-1" and spaces. */
static void infinity_to_minus_one(char *t, size_t len)
{
    static const char inf[] = "18446744073709551615";
    const size_t n = sizeof inf - 1;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        if (in_str) {
            if (t[i] == '\\')
                i++;
            else if (t[i] == '"')
                in_str = false;
        } else if (t[i] == '"') {
            in_str = true;
        } else if (len - i >= n && !memcmp(t + i, inf, n) &&
                   (i == 0 || !strchr("0123456789.-+eE", t[i - 1])) &&
                   (i + n == len || !strchr("0123456789.eE", t[i + n]))) {
            memcpy(t + i, "-1", 2);
            memset(t + i + 2, ' ', n - 2);
            i += n - 1;
        }
    }
}

static json_t *load(const char *json, size_t len, struct bl_error *err)
{
    if (len > OCI_SPEC_MAX_BYTES) {
        bl_err(err, BOXLITE_ERR_INVALID, "config: %zu bytes (at most %u)", len,
               OCI_SPEC_MAX_BYTES);
        return NULL;
    }
    json_error_t je;
    /* JSON_REJECT_DUPLICATES: two values for one key would let two readers disagree */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root && json_error_code(&je) == json_error_numeric_overflow) {
        /* Go's engines write an unlimited rlimit as RLIM_INFINITY, 18446744073709551615,
         * beyond jansson's integers: read that one number as -1 (same length) and retry */
        cleanup_free char *copy = malloc(len);
        if (copy) {
            memcpy(copy, json, len);
            infinity_to_minus_one(copy, len);
            root = json_loadb(copy, len, JSON_REJECT_DUPLICATES, &je);
        }
    }
    if (!root)
        bl_err(err, BOXLITE_ERR_INVALID, "config: not JSON: %s (line %d)", je.text, je.line);
    else if (!json_is_object(root)) {
        json_decref(root);
        root = NULL;
        bl_err(err, BOXLITE_ERR_INVALID, "config: not a JSON object");
    }
    return root;
}

int oci_spec_parse(const char *json, size_t len, struct oci_spec *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = load(json, len, err);
    if (!root)
        return -BOXLITE_ERR_INVALID;
    struct oci_spec s = { 0 };
    int r = dup_str(json_object_get(root, "ociVersion"), "ociVersion", true, &s.oci_version, err);
    json_t *rt = json_object_get(root, "root");
    if (!r && !rt)
        r = bl_err(err, BOXLITE_ERR_INVALID, "config: root is missing");
    if (!r)
        r = want_object(rt, "root", err);
    if (!r)
        r = dup_str(json_object_get(rt, "path"), "root.path", true, &s.root_path, err);
    if (!r && !s.root_path[0])
        r = bl_err(err, BOXLITE_ERR_INVALID, "config: root.path is empty");
    if (!r)
        r = get_bool(json_object_get(rt, "readonly"), "root.readonly", &s.root_readonly, err);
    json_t *p = json_object_get(root, "process");
    /* config.md: process is REQUIRED when start is called; a bundle without one cannot run */
    if (!r && !p)
        r = bl_err(err, BOXLITE_ERR_INVALID, "config: process is missing");
    if (!r)
        r = process_from(p, &s.process, err);
    if (!r)
        r = dup_str(json_object_get(root, "hostname"), "hostname", false, &s.hostname, err);
    json_t *m = json_object_get(root, "mounts");
    if (!r && m && !json_is_null(m)) {
        if (!json_is_array(m))
            r = bl_err(err, BOXLITE_ERR_INVALID, "config: mounts must be an array");
        else if (json_array_size(m) > OCI_MAX_MOUNTS)
            r = bl_err(err, BOXLITE_ERR_INVALID, "config: more than %d mounts", OCI_MAX_MOUNTS);
        else if (!(s.mounts = calloc(json_array_size(m) + 1, sizeof *s.mounts)))
            r = bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
        for (size_t i = 0; !r && i < json_array_size(m); i++) {
            s.nmounts++;
            r = mount_from(json_array_get(m, i), i, &s.mounts[i], err);
        }
    }
    if (!r)
        r = annotations_from(json_object_get(root, "annotations"), &s, err);
    if (!r)
        r = hooks_from(json_object_get(root, "hooks"), &s, err);
    if (!r)
        r = namespaces_from(json_object_get(root, "linux"), &s, err);
    if (!r)
        r = linux_from(json_object_get(root, "linux"), &s, err);
    json_decref(root);
    if (r) {
        oci_spec_free(&s);
        return r;
    }
    *out = s;
    return 0;
}

int oci_process_parse(const char *json, size_t len, struct oci_process *p, struct bl_error *err)
{
    memset(p, 0, sizeof *p);
    json_t *root = load(json, len, err);
    if (!root)
        return -BOXLITE_ERR_INVALID;
    int r = process_from(root, p, err);
    json_decref(root);
    return r;
}

void oci_process_free(struct oci_process *p)
{
    if (!p)
        return;
    oci_strv_free(p->args);
    oci_strv_free(p->env);
    free(p->cwd);
    free(p->rlimits);
    free(p->gids);
    free(p->cap_unknown);
    memset(p, 0, sizeof *p);
}

void oci_spec_free(struct oci_spec *s)
{
    if (!s)
        return;
    free(s->oci_version);
    free(s->root_path);
    oci_process_free(&s->process);
    free(s->hostname);
    mounts_free(s->mounts, s->nmounts);
    for (size_t i = 0; i < s->nann; i++) {
        free(s->ann_keys[i]);
        free(s->ann_values[i]);
    }
    /* the entry being filled when a parse failed */
    if (s->ann_values && s->ann_keys && !s->ann_keys[s->nann])
        free(s->ann_values[s->nann]);
    free(s->ann_keys);
    free(s->ann_values);
    for (int st = 0; st < OCI_HOOK_STAGES; st++)
        hooks_free(s->hooks[st], s->nhooks[st]);
    free(s->netns_path);
    free(s->cgroups_path);
    oci_seccomp_free(&s->seccomp);
    oci_view_free(&s->view);
    for (size_t i = 0; i < s->nns; i++)
        free(s->ns[i].path);
    memset(s, 0, sizeof *s);
}

const char *oci_spec_annotation(const struct oci_spec *s, const char *key)
{
    for (size_t i = 0; i < s->nann; i++)
        if (!strcmp(s->ann_keys[i], key))
            return s->ann_values[i];
    return NULL;
}

int oci_parse_memory_mib(const char *s, int *mib, struct bl_error *err)
{
    const long long max_mib = 1LL << 20; /* 1 TiB */
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)s[0]))
        return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\" is not a size", s);
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || n > (unsigned long long)max_mib << 20)
        return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\" is too large (at most 1 TiB)", s);
    long long bytes;
    char u = (char)tolower((unsigned char)*end);
    if (!*end) {
        bytes = (long long)n << 20;
    } else {
        int shift = u == 'k' ? 10 : u == 'm' ? 20 : u == 'g' ? 30 : -1;
        const char *rest = end + 1;
        if (shift < 0)
            return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\": unknown unit (k, m, g)", s);
        if (tolower((unsigned char)*rest) == 'i')
            rest++;
        if (tolower((unsigned char)*rest) == 'b')
            rest++;
        if (*rest)
            return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\": unknown unit (k, m, g)", s);
        if (n > ((unsigned long long)max_mib << 20) >> shift)
            return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\" is too large (at most 1 TiB)", s);
        bytes = (long long)(n << shift);
    }
    long long m = bytes >> 20;
    if (m < 1 || m > max_mib)
        return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\" is not between 1 MiB and 1 TiB", s);
    *mib = (int)m;
    return 0;
}

int oci_parse_signal(const char *s, int *sig, struct bl_error *err)
{
    int n = signal_parse(s);
    if (n < 0)
        return bl_err(err, BOXLITE_ERR_INVALID, "invalid signal \"%s\"", s);
    *sig = n;
    return 0;
}

const char *oci_env_get(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; env && env[i]; i++)
        if (!strncmp(env[i], name, n) && env[i][n] == '=')
            return env[i] + n + 1;
    return NULL;
}

/* NS_GET_NSTYPE (linux/nsfs.h): the CLONE_NEW* type of a namespace file */
#define OCI_NS_GET_NSTYPE 0xb703
#define OCI_NSFS_MAGIC 0x6e736673

int oci_namespaces_check(const struct oci_spec *s, struct bl_error *err)
{
    for (size_t i = 0; i < s->nns; i++) {
        const char *p = s->ns[i].path, *kind = oci_ns_type_name(s->ns[i].type);
        struct statfs fs;
        /* nothing is opened that is not a namespace (a FIFO or a device could block) */
        if (statfs(p, &fs) < 0)
            return bl_errno(err, errno, "%s namespace %s", kind, p);
        if (fs.f_type != OCI_NSFS_MAGIC)
            return bl_err(err, BOXLITE_ERR_INVALID, "%s namespace %s is not a namespace", kind,
                          p);
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
            return bl_errno(err, errno, "%s namespace %s", kind, p);
        int type = ioctl(fd, OCI_NS_GET_NSTYPE);
        int e = errno;
        close(fd);
        if (type < 0)
            return bl_errno(err, e, "%s namespace %s: its type", kind, p);
        if (type != s->ns[i].type)
            return bl_err(err, BOXLITE_ERR_INVALID, "%s namespace %s is not a %s namespace "
                          "(config-linux.md: a path must refer to a namespace of its entry's "
                          "type)", kind, p, kind);
    }
    return 0;
}

const char *oci_ns_type_name(int type)
{
    for (size_t i = 0; i < ARRAY_SIZE(ns_kinds); i++)
        if (ns_kinds[i].flag == type)
            return ns_kinds[i].type;
    return "?";
}
