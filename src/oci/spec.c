// SPDX-License-Identifier: Apache-2.0
/* config.json decoding for boxlite-runtime (runtime-spec v1.x config.md, "Root", "Mounts",
 * "Process", "Hostname", "Annotations"). jansson parses; every field read here is checked
 * for its type and bounded before use, because the bundle is the caller's input. */
#include "oci/spec.h"

#include "common/cleanup.h"
#include "common/signame.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void strv_free(char **v)
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
            strv_free(r);
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
    if (r) {
        oci_process_free(&x);
        return r;
    }
    *out = x;
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
    return 0;
}

static void mounts_free(struct oci_mount *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].destination);
        free(m[i].source);
        free(m[i].type);
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
        strv_free(h[i].args);
        strv_free(h[i].env);
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
    strv_free(p->args);
    strv_free(p->env);
    free(p->cwd);
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
