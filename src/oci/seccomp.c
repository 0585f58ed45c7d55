// SPDX-License-Identifier: Apache-2.0
/* linux.seccomp into a BPF program (runtime-spec config-linux.md "Seccomp"). libseccomp
 * builds the filter as runc has it build one: the native architecture plus the listed
 * ones, one rule per syscall name, names this libseccomp does not know skipped, rules
 * whose action is the default one left out (libseccomp refuses them), several conditions
 * on one argument split into one rule each (libseccomp would AND them into one test of
 * that argument). The program is exported rather than loaded: it is the guest's process
 * that runs under it. The object is the caller's input: every field is type-checked. */
#include "oci/seccomp.h"

#include "common/cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest errno a seccomp return value carries (the kernel's MAX_ERRNO). */
#define ERRNO_MAX 4095

static int bad(struct bl_error *err, const char *fmt, const char *field, const char *what)
{
    return bl_err(err, BOXLITE_ERR_INVALID, fmt, field, what);
}

/* An "errnoRet"-like integer: absent = EPERM (runc's default). */
static int errno_of(json_t *v, const char *field, unsigned *out, struct bl_error *err)
{
    *out = EPERM;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > ERRNO_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an errno from 0 to %d",
                      field, ERRNO_MAX);
    *out = (unsigned)json_integer_value(v);
    return 0;
}

/* "SCMP_ACT_ERRNO" and its errno into libseccomp's action value. */
static int action_of(json_t *v, unsigned errno_ret, const char *field, uint32_t *out,
                     struct bl_error *err)
{
    if (!json_is_string(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be a string", field);
    const char *a = json_string_value(v);
    static const struct {
        const char *name;
        uint32_t action;
    } fixed[] = {
        { "SCMP_ACT_KILL", SCMP_ACT_KILL },
        { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD },
        { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS },
        { "SCMP_ACT_TRAP", SCMP_ACT_TRAP },
        { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW },
        { "SCMP_ACT_LOG", SCMP_ACT_LOG },
    };
    for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
        if (!strcmp(a, fixed[i].name)) {
            *out = fixed[i].action;
            return 0;
        }
    if (!strcmp(a, "SCMP_ACT_ERRNO")) {
        *out = SCMP_ACT_ERRNO(errno_ret);
        return 0;
    }
    if (!strcmp(a, "SCMP_ACT_TRACE")) {
        *out = SCMP_ACT_TRACE(errno_ret);
        return 0;
    }
    if (!strcmp(a, "SCMP_ACT_NOTIFY"))
        return bad(err, "config: %s: %s needs a seccomp agent listening on the host "
                   "(listenerPath); the container's process runs in a VM, out of its reach",
                   field, a);
    return bad(err, "config: %s: \"%.64s\" is not a seccomp action (SCMP_ACT_ALLOW, "
               "SCMP_ACT_ERRNO, SCMP_ACT_KILL, ...)", field, a);
}

static int op_of(json_t *v, const char *field, enum scmp_compare *out, struct bl_error *err)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } ops[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
    };
    if (!json_is_string(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be a string", field);
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
        if (!strcmp(json_string_value(v), ops[i].name)) {
            *out = ops[i].op;
            return 0;
        }
    return bad(err, "config: %s: \"%.64s\" is not a comparison (SCMP_CMP_EQ, SCMP_CMP_NE, "
               "SCMP_CMP_MASKED_EQ, ...)", field, json_string_value(v));
}

/* An argument's value: 0 to 2^64-1 (spec.c reads 2^64-1 as -1). */
static int datum_of(json_t *v, const char *field, scmp_datum_t *out, struct bl_error *err)
{
    if (!v || json_is_null(v)) {
        *out = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < -1)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an integer from 0 to "
                      "18446744073709551615", field);
    *out = (scmp_datum_t)json_integer_value(v);
    return 0;
}

static int args_of(json_t *v, const char *f, struct scmp_arg_cmp *args, unsigned *n,
                   struct bl_error *err)
{
    *n = 0;
    if (!v || json_is_null(v))
        return 0;
    char g[160];
    /* six arguments, each at most a few tests: more is no real profile */
    if (!json_is_array(v) || json_array_size(v) > 6)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.args must be an array of at most "
                      "6 conditions", f);
    size_t i;
    json_t *a;
    json_array_foreach(v, i, a) {
        snprintf(g, sizeof g, "%s.args[%zu]", f, i);
        if (!json_is_object(a))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an object", g);
        json_t *ix = json_object_get(a, "index");
        if (!json_is_integer(ix) || json_integer_value(ix) < 0 || json_integer_value(ix) > 5)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.index must be 0 to 5", g);
        struct scmp_arg_cmp *c = &args[i];
        c->arg = (unsigned)json_integer_value(ix);
        char h[200];
        snprintf(h, sizeof h, "%s.op", g);
        int r = op_of(json_object_get(a, "op"), h, &c->op, err);
        snprintf(h, sizeof h, "%s.value", g);
        if (!r)
            r = datum_of(json_object_get(a, "value"), h, &c->datum_a, err);
        snprintf(h, sizeof h, "%s.valueTwo", g);
        if (!r)
            r = datum_of(json_object_get(a, "valueTwo"), h, &c->datum_b, err);
        if (r)
            return r;
        *n = (unsigned)i + 1;
    }
    return 0;
}

static bool same_index_twice(const struct scmp_arg_cmp *args, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < i; j++)
            if (args[i].arg == args[j].arg)
                return true;
    return false;
}

static int rule_of(scmp_filter_ctx ctx, uint32_t def, json_t *e, size_t k,
                   struct oci_seccomp *out, struct bl_error *err)
{
    char f[64], g[96];
    snprintf(f, sizeof f, "linux.seccomp.syscalls[%zu]", k);
    if (!json_is_object(e))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an object", f);
    unsigned eno;
    uint32_t action;
    snprintf(g, sizeof g, "%s.errnoRet", f);
    int r = errno_of(json_object_get(e, "errnoRet"), g, &eno, err);
    snprintf(g, sizeof g, "%s.action", f);
    if (!r)
        r = action_of(json_object_get(e, "action"), eno, g, &action, err);
    struct scmp_arg_cmp args[6];
    unsigned nargs = 0;
    if (!r)
        r = args_of(json_object_get(e, "args"), f, args, &nargs, err);
    if (r)
        return r;
    json_t *names = json_object_get(e, "names");
    if (!json_is_array(names) || json_array_size(names) > OCI_SECCOMP_MAX_RULES)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.names must be an array of at most "
                      "%d syscall names", f, OCI_SECCOMP_MAX_RULES);
    size_t i;
    json_t *nm;
    json_array_foreach(names, i, nm) {
        if (!json_is_string(nm) || strlen(json_string_value(nm)) != json_string_length(nm))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.names[%zu] must be a string",
                          f, i);
        const char *name = json_string_value(nm);
        if (action == def)
            continue; /* what the default does anyway */
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) {
            /* a newer syscall than this libseccomp knows, or none: runc skips it too */
            if (!out->skipped++)
                snprintf(out->first_skipped, sizeof out->first_skipped, "%s", name);
            continue;
        }
        if (same_index_twice(args, nargs)) {
            for (unsigned a = 0; !r && a < nargs; a++)
                r = seccomp_rule_add_array(ctx, action, nr, 1, &args[a]);
        } else {
            r = seccomp_rule_add_array(ctx, action, nr, nargs, args);
        }
        if (r < 0)
            return bl_errno(err, -r, "config: %s: syscall %.64s", f, name);
    }
    return 0;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token (its names are the suffix in lower case). */
static uint32_t arch_of(const char *name)
{
    static const char prefix[] = "SCMP_ARCH_";
    char low[32];
    size_t n = strlen(name);
    if (strncmp(name, prefix, sizeof prefix - 1) || n - (sizeof prefix - 1) >= sizeof low)
        return 0;
    for (size_t i = 0; name[sizeof prefix - 1 + i]; i++)
        low[i] = (char)tolower((unsigned char)name[sizeof prefix - 1 + i]);
    low[n - (sizeof prefix - 1)] = 0;
    return seccomp_arch_resolve_name(low);
}

static int arches_of(scmp_filter_ctx ctx, json_t *v, struct bl_error *err)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > 32)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.seccomp.architectures must be "
                      "an array of at most 32 names");
    size_t i;
    json_t *a;
    json_array_foreach(v, i, a) {
        uint32_t tok = json_is_string(a) ? arch_of(json_string_value(a)) : 0;
        if (!tok)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.seccomp.architectures[%zu] "
                          "is not an architecture libseccomp knows (SCMP_ARCH_X86_64, "
                          "SCMP_ARCH_AARCH64, ...)", i);
        int r = seccomp_arch_add(ctx, tok);
        if (r < 0 && r != -EEXIST)
            return bl_errno(err, -r, "config: linux.seccomp.architectures[%zu]", i);
    }
    return 0;
}

static int flags_of(json_t *v, unsigned *out, struct bl_error *err)
{
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > 16)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.seccomp.flags must be an array "
                      "of flag names");
    size_t i;
    json_t *f;
    json_array_foreach(v, i, f) {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        if (!strcmp(s, "SECCOMP_FILTER_FLAG_TSYNC"))
            *out |= BOXLITE_SECCOMP_TSYNC;
        else if (!strcmp(s, "SECCOMP_FILTER_FLAG_LOG"))
            *out |= BOXLITE_SECCOMP_LOG;
        else if (!strcmp(s, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
            *out |= BOXLITE_SECCOMP_SPEC_ALLOW;
        else if (strcmp(s, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"))
            /* that one only concerns a notify listener, which is refused anyway */
            return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.seccomp.flags[%zu] \"%.64s\" "
                          "is not a seccomp filter flag (SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW, "
                          "_TSYNC)", i, s);
    }
    return 0;
}

/* The compiled program out of libseccomp (2.5 exports to a file descriptor only). */
static int export(scmp_filter_ctx ctx, struct oci_seccomp *out, struct bl_error *err)
{
    cleanup_close int fd = memfd_create("seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "seccomp: memfd");
    int r = seccomp_export_bpf(ctx, fd);
    if (r < 0)
        return bl_errno(err, -r, "seccomp: compile the filter");
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "seccomp: memfd");
    size_t len = (size_t)st.st_size;
    if (len == 0 || len % 8)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "seccomp: libseccomp gave %zu bytes", len);
    if (len / 8 > BOXLITE_SECCOMP_MAX_INSNS)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.seccomp compiles to %zu BPF "
                      "instructions, more than the kernel's %d", len / 8, BOXLITE_SECCOMP_MAX_INSNS);
    if (!(out->bpf = malloc(len)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "seccomp: out of memory");
    if (pread(fd, out->bpf, len, 0) != (ssize_t)len)
        return bl_errno(err, errno, "seccomp: read the filter back");
    out->len = len;
    return 0;
}

static int compile(json_t *v, struct oci_seccomp *out, struct bl_error *err)
{
    if (!json_is_object(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.seccomp must be an object");
    unsigned eno;
    uint32_t def;
    int r = errno_of(json_object_get(v, "defaultErrnoRet"), "linux.seccomp.defaultErrnoRet",
                     &eno, err);
    if (!r)
        r = action_of(json_object_get(v, "defaultAction"), eno, "linux.seccomp.defaultAction",
                      &def, err);
    if (!r)
        r = flags_of(json_object_get(v, "flags"), &out->flags, err);
    json_t *sys = json_object_get(v, "syscalls");
    if (!r && sys && !json_is_null(sys) &&
        (!json_is_array(sys) || json_array_size(sys) > OCI_SECCOMP_MAX_RULES))
        r = bl_err(err, BOXLITE_ERR_INVALID, "config: linux.seccomp.syscalls must be an array "
                   "of at most %d rules", OCI_SECCOMP_MAX_RULES);
    if (r)
        return r;
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.seccomp.defaultAction refused "
                      "by libseccomp");
    /* a binary tree of syscalls: large profiles (Docker's) stay well under 4096
     * instructions and take fewer comparisons per call */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    r = arches_of(ctx, json_object_get(v, "architectures"), err);
    size_t k;
    json_t *e;
    json_array_foreach(sys, k, e) {
        if (r)
            break;
        r = rule_of(ctx, def, e, k, out, err);
    }
    if (!r)
        r = export(ctx, out, err);
    seccomp_release(ctx);
    return r;
}

int oci_seccomp_compile(json_t *v, struct oci_seccomp *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!v || json_is_null(v))
        return 0;
    int r = compile(v, out, err);
    if (r)
        oci_seccomp_free(out);
    return r;
}

int oci_seccomp_parse(const char *json, size_t len, struct oci_seccomp *out,
                      struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *v = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return bl_err(err, BOXLITE_ERR_INVALID, "seccomp: not JSON: %s", je.text);
    int r = oci_seccomp_compile(v, out, err);
    json_decref(v);
    return r;
}

void oci_seccomp_free(struct oci_seccomp *s)
{
    if (!s)
        return;
    free(s->bpf);
    memset(s, 0, sizeof *s);
}

const char *oci_seccomp_features(void)
{
    /* features.md "Seccomp": what action_of, op_of and flags_of accept; the architectures
     * a profile may add beside the native one (any libseccomp knows is accepted) */
    return "{\"enabled\": true, "
           "\"actions\": [\"SCMP_ACT_ALLOW\", \"SCMP_ACT_ERRNO\", \"SCMP_ACT_KILL\", "
           "\"SCMP_ACT_KILL_PROCESS\", \"SCMP_ACT_KILL_THREAD\", \"SCMP_ACT_LOG\", "
           "\"SCMP_ACT_TRACE\", \"SCMP_ACT_TRAP\"], "
           "\"operators\": [\"SCMP_CMP_EQ\", \"SCMP_CMP_GE\", \"SCMP_CMP_GT\", "
           "\"SCMP_CMP_LE\", \"SCMP_CMP_LT\", \"SCMP_CMP_MASKED_EQ\", \"SCMP_CMP_NE\"], "
           "\"archs\": [\"SCMP_ARCH_AARCH64\", \"SCMP_ARCH_ARM\", \"SCMP_ARCH_X32\", "
           "\"SCMP_ARCH_X86\", \"SCMP_ARCH_X86_64\"], "
           "\"knownFlags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_LOG\", "
           "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\", \"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"], "
           "\"supportedFlags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_LOG\", "
           "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"]}";
}
