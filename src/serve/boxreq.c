// SPDX-License-Identifier: Apache-2.0
/* Request bodies of the API (docs/api.yaml components/schemas: CreateBoxRequest,
 * ExecRequest, SignalRequest, ResizeRequest, StopBoxRequest) decoded into what the library
 * takes, and the library's box info encoded as the document's Box. Every body is a remote
 * client's: unknown fields, wrong types and out-of-range values are refused, naming the
 * field, never guessed at or wrapped. Pure: no I/O, no library calls. */
#include "serve/serve.h"

#include <limits.h>
#include "common/lazy_crypto.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *load_object(const char *body, size_t len, bool empty_ok, const char *what,
                           struct bl_error *err)
{
    if (len == 0 && empty_ok)
        return json_object();
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        bl_err(err, BOXLITE_ERR_INVALID, "%s: malformed JSON at line %d column %d: %s", what,
               je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        bl_err(err, BOXLITE_ERR_INVALID, "%s: the body must be a JSON object", what);
        return NULL;
    }
    return o;
}

static int check_keys(json_t *o, const char *const *keys, const char *what,
                      struct bl_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool known = false;
        for (size_t i = 0; keys[i] && !known; i++)
            known = !strcmp(keys[i], k);
        if (!known)
            return bl_err(err, BOXLITE_ERR_INVALID, "%s: unknown field \"%.64s\"", what, k);
    }
    return 0;
}

/* An integer field in [lo, hi]: 0 absent (left as is), 1 set, negative error. */
static int get_int(json_t *o, const char *k, long long lo, long long hi, long long *out,
                   struct bl_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: must be an integer", k);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: %lld is not between %lld and %lld", k, x,
                      lo, hi);
    *out = x;
    return 1;
}

static int get_str(json_t *o, const char *k, size_t maxlen, const char **out,
                   struct bl_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: must be a string", k);
    if (json_string_length(v) > maxlen || strlen(json_string_value(v)) != json_string_length(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: longer than %zu bytes or holds a NUL", k,
                      maxlen);
    *out = json_string_value(v);
    return 1;
}

static int get_bool(json_t *o, const char *k, bool *out, struct bl_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: must be true or false", k);
    *out = json_is_true(v);
    return 1;
}

/* An array of strings (each at most maxlen, at most maxn of them), copied. */
static int get_strv(json_t *o, const char *k, size_t maxn, json_t **out, struct bl_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > maxn)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: must be an array of at most %zu strings",
                      k, maxn);
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        if (!json_is_string(it) || json_string_length(it) > 65536 ||
            strlen(json_string_value(it)) != json_string_length(it))
            return bl_err(err, BOXLITE_ERR_INVALID, "%s[%zu]: must be a string without NUL",
                          k, i);
    }
    *out = json_deep_copy(v);
    return *out ? 1 : bl_err(err, BOXLITE_ERR_NOMEM, "%s: out of memory", k);
}

/* An object of string values (env, labels). */
static int get_map(json_t *o, const char *k, size_t maxn, json_t **out, struct bl_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v) || json_object_size(v) > maxn)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: must be an object of at most %zu strings",
                      k, maxn);
    const char *key;
    json_t *it;
    json_object_foreach(v, key, it) {
        if (!json_is_string(it) || !*key || strchr(key, '=') ||
            strlen(json_string_value(it)) != json_string_length(it))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "%s.%.64s: must be a string (name not empty, without '=')", k, key);
    }
    *out = json_deep_copy(v);
    return *out ? 1 : bl_err(err, BOXLITE_ERR_NOMEM, "%s: out of memory", k);
}

/* An image reference that names a host path (a folder, an OCI layout) would let a remote
 * client read the server's files: only registry references pass. */
static bool image_is_host_path(const char *s)
{
    return s[0] == '/' || s[0] == '.' || s[0] == '~' || !strncmp(s, "oci:", 4) ||
           strstr(s, "..") != NULL;
}

int serve_create_options(const char *body, size_t len, const char *prefix,
                         const struct serve_limits *lim, json_t **out, struct bl_error *err)
{
    static const char *const keys[] = {
        "name", "image", "rootfs_path", "cpus", "memory_mib", "disk_size_gb", "working_dir",
        "env", "entrypoint", "cmd", "user", "volumes", "ports", "network", "auto_remove",
        "detach", "security", "labels", "stdin_open", "tty", NULL,
    };
    *out = NULL;
    json_t *in = load_object(body, len, false, "CreateBoxRequest", err);
    if (!in)
        return -BOXLITE_ERR_INVALID;
    json_t *o = json_object();
    int r = check_keys(in, keys, "CreateBoxRequest", err);
    const char *s = NULL;
    long long x;
    bool b;
    json_t *j = NULL;

    if (r >= 0 && (r = get_str(in, "name", SERVE_SEG_MAX, &s, err)) == 1) {
        char full[2 * SERVE_SEG_MAX + 2];
        snprintf(full, sizeof full, "%s.%s", prefix, s);
        /* the library's names are at most 64 bytes and global: the tenant's prefix and a
         * dot come first */
        if (!serve_valid_prefix(s) || strlen(full) > 64)
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "name: \"%.64s\" must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$ and be at most "
                       "%zu characters here", s, 63 - strlen(prefix));
        else
            json_object_set_new(o, "name", json_string(full));
    }
    const char *image = "alpine:latest";
    if (r >= 0 && (r = get_str(in, "image", 1024, &image, err)) >= 0) {
        if (r == 1 && (image[0] == 0 || image_is_host_path(image)))
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "image: \"%.64s\" is not a registry reference (host paths are refused)",
                       image);
    }
    if (r >= 0 && (r = get_str(in, "rootfs_path", 255, &s, err)) == 1) {
        if (json_object_get(in, "image") && !json_is_null(json_object_get(in, "image")))
            r = bl_err(err, BOXLITE_ERR_INVALID, "rootfs_path: excludes image");
        else if (!lim || !lim->rootfs_dir)
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "rootfs_path: this server offers no root file systems (--rootfs-dir)");
        else if (!serve_valid_prefix(s) || strstr(s, ".."))
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "rootfs_path: \"%.64s\" must be the name of a folder in the server's "
                       "--rootfs-dir", s);
        else {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", lim->rootfs_dir, s);
            json_object_set_new(o, "rootfs_path", json_string(path));
            image = NULL;
        }
    }
    if (r >= 0 && image)
        json_object_set_new(o, "image", json_string(image));
    if (r >= 0 && (r = get_int(in, "cpus", 1, lim ? lim->max_cpus : 32, &x, err)) == 1)
        json_object_set_new(o, "cpus", json_integer(x));
    if (r >= 0 &&
        (r = get_int(in, "memory_mib", 128, lim ? lim->max_memory_mib : 16384, &x, err)) == 1)
        json_object_set_new(o, "memory_mib", json_integer(x));
    if (r >= 0 &&
        (r = get_int(in, "disk_size_gb", 1, lim ? lim->max_disk_size_gb : 100, &x, err)) == 1)
        json_object_set_new(o, "disk_size_gb", json_integer(x));
    if (r >= 0 && (r = get_str(in, "working_dir", 4096, &s, err)) == 1)
        json_object_set_new(o, "working_dir", json_string(s));
    if (r >= 0 && (r = get_str(in, "user", 256, &s, err)) == 1)
        json_object_set_new(o, "user", json_string(s));
    if (r >= 0 && (r = get_map(in, "env", 1024, &j, err)) == 1)
        json_object_set_new(o, "env", j);
    if (r >= 0 && (r = get_strv(in, "entrypoint", 1024, &j, err)) == 1)
        json_object_set_new(o, "entrypoint", j);
    if (r >= 0 && (r = get_strv(in, "cmd", 1024, &j, err)) == 1)
        json_object_set_new(o, "cmd", j);
    if (r >= 0) {
        json_t *v = json_object_get(in, "volumes");
        if (v && !json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0))
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "volumes: host folders are not shared over the REST API");
    }
    if (r >= 0) {
        json_t *v = json_object_get(in, "ports");
        if (v && !json_is_null(v)) {
            json_t *ports = json_array();
            json_object_set_new(o, "ports", ports);
            if (!json_is_array(v) || json_array_size(v) > 64)
                r = bl_err(err, BOXLITE_ERR_INVALID, "ports: must be an array of at most 64");
            size_t i;
            json_t *p;
            static const char *const pkeys[] = { "host_port", "guest_port", "protocol",
                                                 "host_ip", NULL };
            json_array_foreach(v, i, p) {
                if (r < 0)
                    break;
                if (!json_is_object(p)) {
                    r = bl_err(err, BOXLITE_ERR_INVALID, "ports[%zu]: must be an object", i);
                    break;
                }
                long long hp = 0, gp = 0;
                const char *proto = "tcp", *ip = NULL;
                if ((r = check_keys(p, pkeys, "PortSpec", err)) < 0 ||
                    (r = get_int(p, "host_port", 0, 65535, &hp, err)) < 0 ||
                    (r = get_int(p, "guest_port", 1, 65535, &gp, err)) < 0 ||
                    (r = get_str(p, "protocol", 8, &proto, err)) < 0 ||
                    (r = get_str(p, "host_ip", 64, &ip, err)) < 0)
                    break;
                if (gp == 0 || (strcmp(proto, "tcp") && strcmp(proto, "udp"))) {
                    r = bl_err(err, BOXLITE_ERR_INVALID,
                               "ports[%zu]: guest_port is required, protocol tcp or udp", i);
                    break;
                }
                json_t *q = json_pack("{s:I,s:I,s:s}", "host_port", (json_int_t)hp,
                                      "guest_port", (json_int_t)gp, "protocol", proto);
                if (ip)
                    json_object_set_new(q, "host_addr", json_string(ip));
                json_array_append_new(ports, q);
            }
        }
    }
    if (r >= 0 && (r = get_str(in, "network", 16, &s, err)) == 1) {
        if (!strcmp(s, "enabled"))
            json_object_set_new(o, "network", json_true());
        else if (!strcmp(s, "disabled"))
            json_object_set_new(o, "network", json_false());
        else
            r = bl_err(err, BOXLITE_ERR_INVALID, "network: \"%.16s\" is not enabled or disabled",
                       s);
    }
    if (r >= 0 && (r = get_bool(in, "auto_remove", &b, err)) == 1)
        json_object_set_new(o, "auto_remove", json_boolean(b));
    if (r >= 0 && (r = get_bool(in, "detach", &b, err)) == 1)
        json_object_set_new(o, "detach", json_boolean(b));
    /* the main process's stdin kept open, its terminal: for attach (POST .../stdin) */
    if (r >= 0 && (r = get_bool(in, "stdin_open", &b, err)) == 1)
        json_object_set_new(o, "stdin_open", json_boolean(b));
    if (r >= 0 && (r = get_bool(in, "tty", &b, err)) == 1)
        json_object_set_new(o, "tty", json_boolean(b));
    if (r >= 0 && (r = get_str(in, "security", 16, &s, err)) == 1) {
        /* every box runs jailed (docs/architecture.md): each preset gets that */
        if (strcmp(s, "development") && strcmp(s, "standard") && strcmp(s, "maximum"))
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "security: \"%.16s\" is not development, standard or maximum", s);
    }
    json_t *labels = NULL;
    if (r >= 0 && (r = get_map(in, "labels", 64, &labels, err)) >= 0) {
        if (!labels)
            labels = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(labels, k, v) {
            if (!strncmp(k, "boxlite.serve.", 14)) {
                r = bl_err(err, BOXLITE_ERR_INVALID, "labels: \"%.64s\" is reserved", k);
                break;
            }
        }
        json_object_set_new(labels, SERVE_LABEL_PREFIX, json_string(prefix));
        json_object_set_new(o, "labels", labels);
    }
    json_decref(in);
    if (r < 0) {
        json_decref(o);
        return r;
    }
    *out = o;
    return 0;
}

void serve_exec_req_free(struct serve_exec_req *r)
{
    for (size_t i = 0; r->argv && r->argv[i]; i++)
        free(r->argv[i]);
    for (size_t i = 0; r->env && r->env[i]; i++)
        free(r->env[i]);
    free(r->argv);
    free(r->env);
    free(r->working_dir);
    free(r->user);
    memset(r, 0, sizeof *r);
}

int serve_exec_parse(const char *body, size_t len, struct serve_exec_req *out,
                     struct bl_error *err)
{
    static const char *const keys[] = { "command", "args", "env", "timeout_seconds",
                                        "working_dir", "user", "tty", NULL };
    memset(out, 0, sizeof *out);
    json_t *in = load_object(body, len, false, "ExecRequest", err);
    if (!in)
        return -BOXLITE_ERR_INVALID;
    const char *cmd = NULL, *wd = NULL, *user = NULL;
    json_t *args = NULL, *env = NULL;
    bool tty = false;
    int r = check_keys(in, keys, "ExecRequest", err);
    if (r >= 0 && (r = get_str(in, "command", 4096, &cmd, err)) == 0)
        r = bl_err(err, BOXLITE_ERR_INVALID, "command: required");
    if (r >= 0 && !*cmd)
        r = bl_err(err, BOXLITE_ERR_INVALID, "command: empty");
    if (r >= 0)
        r = get_strv(in, "args", 4096, &args, err);
    if (r >= 0)
        r = get_map(in, "env", 1024, &env, err);
    if (r >= 0)
        r = get_str(in, "working_dir", 4096, &wd, err);
    if (r >= 0)
        r = get_str(in, "user", 256, &user, err);
    if (r >= 0 && user && !*user)
        r = bl_err(err, BOXLITE_ERR_INVALID, "user: empty");
    if (r >= 0)
        r = get_bool(in, "tty", &tty, err);
    if (r >= 0) {
        json_t *t = json_object_get(in, "timeout_seconds");
        if (t && !json_is_null(t)) {
            double secs = json_number_value(t);
            if (!json_is_number(t) || !(secs >= 0.1 && secs <= 86400.0 * 7))
                r = bl_err(err, BOXLITE_ERR_INVALID,
                           "timeout_seconds: must be a number between 0.1 and 604800");
            else
                out->timeout_ms = (long long)(secs * 1000.0 + 0.5);
        }
    }
    if (r >= 0) {
        size_t na = json_array_size(args), ne = json_object_size(env);
        out->argv = calloc(na + 2, sizeof *out->argv);
        out->env = calloc(ne + 1, sizeof *out->env);
        if (!out->argv || !out->env || !(out->argv[0] = strdup(cmd)))
            r = bl_err(err, BOXLITE_ERR_NOMEM, "ExecRequest: out of memory");
        for (size_t i = 0; r >= 0 && i < na; i++)
            if (!(out->argv[i + 1] = strdup(json_string_value(json_array_get(args, i)))))
                r = bl_err(err, BOXLITE_ERR_NOMEM, "ExecRequest: out of memory");
        const char *k;
        json_t *v;
        size_t i = 0;
        json_object_foreach(env, k, v) {
            if (r < 0)
                break;
            if (asprintf(&out->env[i++], "%s=%s", k, json_string_value(v)) < 0) {
                out->env[i - 1] = NULL;
                r = bl_err(err, BOXLITE_ERR_NOMEM, "ExecRequest: out of memory");
            }
        }
        if (r >= 0 && wd && !(out->working_dir = strdup(wd)))
            r = bl_err(err, BOXLITE_ERR_NOMEM, "ExecRequest: out of memory");
        if (r >= 0 && user && !(out->user = strdup(user)))
            r = bl_err(err, BOXLITE_ERR_NOMEM, "ExecRequest: out of memory");
        out->tty = tty;
        out->rows = 24;
        out->cols = 80;
    }
    json_decref(args);
    json_decref(env);
    json_decref(in);
    if (r < 0) {
        serve_exec_req_free(out);
        return r < 0 ? r : -BOXLITE_ERR_INVALID;
    }
    return 0;
}

int serve_signal_parse(const char *body, size_t len, int *sig, struct bl_error *err)
{
    static const char *const keys[] = { "signal", NULL };
    json_t *in = load_object(body, len, false, "SignalRequest", err);
    if (!in)
        return -BOXLITE_ERR_INVALID;
    long long x = 0;
    int r = check_keys(in, keys, "SignalRequest", err);
    if (r >= 0 && (r = get_int(in, "signal", 1, 64, &x, err)) == 0)
        r = bl_err(err, BOXLITE_ERR_INVALID, "signal: required");
    json_decref(in);
    if (r < 0)
        return r;
    *sig = (int)x;
    return 0;
}

int serve_resize_parse(const char *body, size_t len, unsigned *cols, unsigned *rows,
                       struct bl_error *err)
{
    static const char *const keys[] = { "cols", "rows", NULL };
    json_t *in = load_object(body, len, false, "ResizeRequest", err);
    if (!in)
        return -BOXLITE_ERR_INVALID;
    long long c = 0, w = 0;
    int r = check_keys(in, keys, "ResizeRequest", err);
    if (r >= 0 && (r = get_int(in, "cols", 1, 65535, &c, err)) == 0)
        r = bl_err(err, BOXLITE_ERR_INVALID, "cols: required");
    if (r >= 0 && (r = get_int(in, "rows", 1, 65535, &w, err)) == 0)
        r = bl_err(err, BOXLITE_ERR_INVALID, "rows: required");
    json_decref(in);
    if (r < 0)
        return r;
    *cols = (unsigned)c;
    *rows = (unsigned)w;
    return 0;
}

/* A body that may be empty holding {"timeout_seconds": 0..3600} (StopBoxRequest,
 * PauseBoxRequest): *timeout_ms, dflt when absent. */
static int timeout_parse(const char *body, size_t len, const char *what, int dflt,
                         int *timeout_ms, struct bl_error *err)
{
    static const char *const keys[] = { "timeout_seconds", NULL };
    json_t *in = load_object(body, len, true, what, err);
    if (!in)
        return -BOXLITE_ERR_INVALID;
    int r = check_keys(in, keys, what, err);
    *timeout_ms = dflt;
    json_t *t = json_object_get(in, "timeout_seconds");
    if (r >= 0 && t && !json_is_null(t)) {
        double secs = json_number_value(t);
        if (!json_is_number(t) || !(secs >= 0 && secs <= 3600))
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "timeout_seconds: must be a number between 0 and 3600");
        else
            *timeout_ms = (int)(secs * 1000.0 + 0.5);
    }
    json_decref(in);
    return r < 0 ? r : 0;
}

int serve_stop_parse(const char *body, size_t len, int *timeout_ms, struct bl_error *err)
{
    return timeout_parse(body, len, "StopBoxRequest", 30000, timeout_ms, err);
}

int serve_pause_parse(const char *body, size_t len, int *timeout_ms, struct bl_error *err)
{
    /* 0: the library's own (two minutes) */
    return timeout_parse(body, len, "PauseBoxRequest", 0, timeout_ms, err);
}

int serve_name_parse(const char *body, size_t len, bool required, char **name,
                     struct bl_error *err)
{
    static const char *const keys[] = { "name", NULL };
    *name = NULL;
    json_t *in = load_object(body, len, !required, "request", err);
    if (!in)
        return -BOXLITE_ERR_INVALID;
    const char *s = NULL;
    int r = check_keys(in, keys, "request", err);
    if (r >= 0 && (r = get_str(in, "name", SERVE_SEG_MAX, &s, err)) == 0 && required)
        r = bl_err(err, BOXLITE_ERR_INVALID, "name: required");
    if (r >= 0 && s && !serve_valid_prefix(s))
        r = bl_err(err, BOXLITE_ERR_INVALID,
                   "name: \"%.64s\" must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$", s);
    if (r >= 0 && s && !(*name = strdup(s)))
        r = bl_err(err, BOXLITE_ERR_NOMEM, "name: out of memory");
    json_decref(in);
    return r < 0 ? r : 0;
}

/* BalloonRequest {"target_mib"}: required, 0 (none) or 32..1048576 (the library checks it
 * against the box's memory). */
int serve_balloon_parse(const char *body, size_t len, int *mib, struct bl_error *err)
{
    static const char *const keys[] = { "target_mib", NULL };
    json_t *in = load_object(body, len, false, "BalloonRequest", err);
    if (!in)
        return -BOXLITE_ERR_INVALID;
    long long x = -1;
    int r = check_keys(in, keys, "BalloonRequest", err);
    if (r >= 0 && (r = get_int(in, "target_mib", 0, 1 << 20, &x, err)) == 0)
        r = bl_err(err, BOXLITE_ERR_INVALID, "target_mib: required");
    if (r >= 0 && x > 0 && x < 32)
        r = bl_err(err, BOXLITE_ERR_INVALID, "target_mib: 0 (none) or at least 32");
    json_decref(in);
    if (r < 0)
        return r;
    *mib = (int)x;
    return 0;
}

int serve_fork_parse(const char *body, size_t len, json_t **names, struct bl_error *err)
{
    static const char *const keys[] = { "names", NULL };
    *names = NULL;
    json_t *in = load_object(body, len, true, "ForkBoxRequest", err);
    if (!in)
        return -BOXLITE_ERR_INVALID;
    json_t *v = NULL;
    int r = check_keys(in, keys, "ForkBoxRequest", err);
    if (r >= 0 && (r = get_strv(in, "names", SERVE_FORK_MAX, &v, err)) == 0)
        v = json_pack("[n]"); /* one fork, its name generated */
    size_t i;
    json_t *it;
    if (r >= 0 && json_array_size(v) == 0)
        r = bl_err(err, BOXLITE_ERR_INVALID, "names: at least one");
    json_array_foreach(v, i, it) {
        if (r < 0)
            break;
        if (json_is_string(it) && !serve_valid_prefix(json_string_value(it)))
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "names[%zu]: must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$", i);
    }
    json_decref(in);
    if (r < 0) {
        json_decref(v);
        return r;
    }
    *names = v;
    return 0;
}

const char *serve_box_status(const char *state)
{
    static const char *const same[] = { "configured", "running", "stopping", "stopped",
                                        "paused", NULL };
    for (size_t i = 0; state && same[i]; i++)
        if (!strcmp(state, same[i]))
            return same[i];
    if (state && !strcmp(state, "starting"))
        return "running";
    return "unknown";
}

const char *serve_status_filter(const char *status)
{
    static const char *const known[] = { "configured", "running", "stopping", "stopped",
                                         "paused", "unknown", NULL };
    for (size_t i = 0; known[i]; i++)
        if (!strcmp(status, known[i]))
            return known[i];
    return NULL;
}

void serve_rfc3339(long long secs, char out[32])
{
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        strcpy(out, "1970-01-01T00:00:00Z");
}

json_t *serve_box_json(json_t *info, const char *prefix)
{
    json_t *labels = json_object_get(info, "labels");
    const char *owner = json_string_value(json_object_get(labels, SERVE_LABEL_PREFIX));
    if (!owner || strcmp(owner, prefix) != 0)
        return NULL;
    const char *id = json_string_value(json_object_get(info, "id"));
    const char *name = json_string_value(json_object_get(info, "name"));
    size_t pl = strlen(prefix);
    json_t *o = json_object();
    json_object_set_new(o, "box_id", json_string(id ? id : ""));
    if (name && !strncmp(name, prefix, pl) && name[pl] == '.' && name[pl + 1])
        json_object_set_new(o, "name", json_string(name + pl + 1));
    else
        json_object_set_new(o, "name", json_null());
    json_object_set_new(o, "status",
                        json_string(serve_box_status(
                            json_string_value(json_object_get(info, "state")))));
    char when[32];
    serve_rfc3339(json_integer_value(json_object_get(info, "created")), when);
    json_object_set_new(o, "created_at", json_string(when));
    /* the library keeps no time of the last state change yet: creation stands in */
    json_object_set_new(o, "updated_at", json_string(when));
    json_int_t pid = json_integer_value(json_object_get(info, "pid"));
    json_object_set_new(o, "pid", pid > 0 ? json_integer(pid) : json_null());
    const char *image = json_string_value(json_object_get(info, "image"));
    json_object_set_new(o, "image", json_string(image ? image : ""));
    json_t *c = json_object_get(info, "cpus"), *m = json_object_get(info, "memory_mib");
    json_object_set_new(o, "cpus", json_integer(json_is_integer(c) ? json_integer_value(c) : 1));
    json_object_set_new(o, "memory_mib",
                        json_integer(json_is_integer(m) ? json_integer_value(m) : 512));
    static const char *const main_io[] = { "stdin_open", "tty" }; /* for attach */
    for (size_t i = 0; i < 2; i++)
        json_object_set_new(o, main_io[i],
                            json_boolean(json_is_true(json_object_get(info, main_io[i]))));
    json_t *mine = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
        if (strncmp(k, "boxlite.serve.", 14) != 0)
            json_object_set(mine, k, v);
    json_object_set_new(o, "labels", mine);
    /* ours: the published ports as PortSpec (host_port as bound once the box runs) */
    json_t *ports = json_array(), *p;
    size_t i;
    json_array_foreach(json_object_get(info, "ports"), i, p) {
        const char *proto = json_string_value(json_object_get(p, "protocol"));
        const char *addr = json_string_value(json_object_get(p, "host_addr"));
        json_array_append_new(
            ports, json_pack("{s:I,s:I,s:s,s:s}", "host_port",
                             json_integer_value(json_object_get(p, "host_port")), "guest_port",
                             json_integer_value(json_object_get(p, "guest_port")), "protocol",
                             proto && !strcmp(proto, "udp") ? "udp" : "tcp", "host_ip",
                             addr ? addr : "127.0.0.1"));
    }
    json_object_set_new(o, "ports", ports);
    /* ours: what the library says beyond the state, so a remote client reads a box's
     * status, stop reason and health as a local one does */
    const char *text = json_string_value(json_object_get(info, "status"));
    const char *why = json_string_value(json_object_get(info, "stop_reason"));
    const char *health =
        json_string_value(json_object_get(json_object_get(info, "health"), "status"));
    json_object_set_new(o, "status_text", json_string(text ? text : ""));
    json_object_set_new(o, "stop_reason", why ? json_string(why) : json_null());
    json_object_set_new(o, "health", health ? json_string(health) : json_null());
    return o;
}

char *serve_base64(const void *p, size_t n)
{
    if (n > (SIZE_MAX / 4) * 3 - 3 || n > INT_MAX / 2)
        return NULL;
    char *o = malloc(4 * ((n + 2) / 3) + 1);
    if (o)
        EVP_EncodeBlock((unsigned char *)o, p, (int)n);
    return o;
}

char *serve_page_token(long long created, const char *id)
{
    char raw[128];
    int n = snprintf(raw, sizeof raw, "%lld:%s", created, id);
    if (n < 0 || (size_t)n >= sizeof raw)
        return NULL;
    char *b = serve_base64(raw, (size_t)n);
    if (!b)
        return NULL;
    /* base64url without padding (RFC 4648 section 5): safe in a query string */
    size_t k = 0;
    for (size_t i = 0; b[i]; i++) {
        if (b[i] == '=')
            break;
        b[k++] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
    }
    b[k] = 0;
    return b;
}

int serve_page_token_parse(const char *tok, long long *created, char id[65])
{
    size_t n = strlen(tok);
    if (n == 0 || n > 160)
        return -1;
    char b[168];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = tok[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return -1;
        b[k++] = c;
    }
    if (k % 4 == 1)
        return -1;
    while (k % 4)
        b[k++] = '=';
    b[k] = 0;
    unsigned char raw[128];
    int m = EVP_DecodeBlock(raw, (unsigned char *)b, (int)k);
    if (m < 0)
        return -1;
    /* DecodeBlock counts the padding's zero bytes: drop them */
    while (m > 0 && raw[m - 1] == 0)
        m--;
    raw[m] = 0;
    char *colon = memchr(raw, ':', (size_t)m);
    if (!colon || colon == (char *)raw || strlen(colon + 1) == 0 || strlen(colon + 1) > 64)
        return -1;
    *colon = 0;
    char *end;
    long long c = strtoll((char *)raw, &end, 10);
    if (*end || c < 0)
        return -1;
    for (const char *p = colon + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -1;
    *created = c;
    strcpy(id, colon + 1);
    return 0;
}

int serve_guest_path(const char *in, char *out, size_t cap, struct bl_error *err)
{
    if (!in || !*in)
        return bl_err(err, BOXLITE_ERR_INVALID, "path: required (an absolute path in the box)");
    size_t n = strlen(in);
    if (n > SERVE_PATH_MAX || cap < 2)
        return bl_err(err, BOXLITE_ERR_INVALID, "path: longer than %d bytes", SERVE_PATH_MAX);
    if (in[0] != '/')
        return bl_err(err, BOXLITE_ERR_INVALID, "path: \"%.64s\" is not absolute", in);
    size_t o = 0;
    out[o++] = '/';
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t len = (size_t)(e - p);
        for (const char *c = p; c < e; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return bl_err(err, BOXLITE_ERR_INVALID, "path: a control character in it");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            /* even where it would stay inside ("/a/../b"): the box's own symlinks decide
             * what ".." means there, so it is refused rather than resolved here */
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "path: \"%.64s\" has a \"..\" component (paths outside the box "
                          "are refused)", in);
        if (len && !(len == 1 && p[0] == '.')) {
            if (o > 1)
                out[o++] = '/';
            if (o + len + 1 > cap)
                return bl_err(err, BOXLITE_ERR_INVALID, "path: too long");
            memcpy(out + o, p, len);
            o += len;
        }
        p = e;
    }
    out[o] = 0;
    return 0;
}

int serve_bool_arg(const char *v, bool dflt, bool *out)
{
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!strcmp(v, "true") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "0"))
        *out = false;
    else
        return -1;
    return 0;
}

/* A number of the library's metrics, or JSON null when it has none. */
static json_t *num_or_null(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_integer((json_int_t)json_number_value(v)) : json_null();
}

json_t *serve_box_metrics(json_t *lib)
{
    json_t *vmm = json_object_get(lib, "vmm");  /* null unless the box runs */
    json_t *start = json_object_get(lib, "start");
    json_t *m = json_pack("{s:I,s:I,s:n}", "commands_executed_total",
                          json_integer_value(json_object_get(lib, "executions")),
                          "exec_errors_total",
                          json_integer_value(json_object_get(lib, "execution_errors")),
                          "cpu_percent");
    if (!m)
        return NULL;
    json_object_set_new(m, "memory_bytes", num_or_null(vmm, "rss_bytes"));
    /* the box's network as the guest sees it: what it received came from the host side */
    json_object_set_new(m, "network_bytes_sent", num_or_null(vmm, "net_rx_bytes"));
    json_object_set_new(m, "network_bytes_received", num_or_null(vmm, "net_tx_bytes"));
    json_object_set_new(m, "network_tcp_connections", num_or_null(vmm, "net_connections"));
    json_object_set_new(m, "network_tcp_errors", num_or_null(vmm, "net_denied"));
    json_t *bt = json_object();
    json_object_set_new(bt, "total_create_ms", num_or_null(start, "total"));
    json_object_set_new(bt, "guest_boot_ms", num_or_null(start, "boot_to_ready"));
    json_object_set_new(bt, "image_prepare_ms", num_or_null(start, "disk"));
    json_object_set_new(bt, "container_init_ms", num_or_null(start, "setup"));
    json_object_set_new(m, "boot_timing", bt);
    /* everything the library says, as `boxlite stats` and `inspect` read it */
    json_object_set(m, "boxlite", lib);
    return m;
}

json_t *serve_image_json(json_t *lib)
{
    const char *ref = json_string_value(json_object_get(lib, "ref"));
    const char *id = json_string_value(json_object_get(lib, "id"));
    if (!ref || !id)
        return NULL;
    /* repository and tag: "host/repo:tag" or "host/repo@sha256:..." (a colon after the last
     * slash is the tag's) */
    const char *at = strchr(ref, '@');
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(ref, ':');
    size_t rlen = strlen(ref);
    const char *tag = "";
    if (at) {
        rlen = (size_t)(at - ref);
    } else if (colon && (!slash || colon > slash)) {
        rlen = (size_t)(colon - ref);
        tag = colon + 1;
    }
    char idd[80];
    snprintf(idd, sizeof idd, "sha256:%s", id);
    const char *created = json_string_value(json_object_get(lib, "created"));
    json_t *o = json_pack("{s:s,s:s%,s:s,s:s,s:s,s:O}", "reference", ref, "repository", ref,
                          rlen, "tag", tag, "id", idd, "cached_at",
                          created ? created : "1970-01-01T00:00:00Z", "size_bytes",
                          json_object_get(lib, "size") ? json_object_get(lib, "size")
                                                       : json_null());
    json_t *layers = json_object_get(lib, "layers");
    if (o && json_is_integer(layers))
        json_object_set(o, "layers", layers); /* ours, as `boxlite images` shows them */
    return o;
}

int serve_pull_parse(const char *body, size_t len, char **ref, struct bl_error *err)
{
    *ref = NULL;
    json_error_t je;
    json_t *o = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return bl_err(err, BOXLITE_ERR_INVALID, "body: a JSON object: %s", je.text);
    }
    const char *k;
    json_t *v;
    int r = 0;
    json_object_foreach(o, k, v)
        if (strcmp(k, "reference") != 0) {
            r = bl_err(err, BOXLITE_ERR_INVALID, "unknown field \"%.64s\"", k);
            goto out;
        }
    const char *s = json_string_value(json_object_get(o, "reference"));
    size_t n = s ? strlen(s) : 0;
    if (!s || !n || n > 512) {
        r = bl_err(err, BOXLITE_ERR_INVALID, "reference: a string of 1 to 512 characters");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
            r = bl_err(err, BOXLITE_ERR_INVALID, "reference: no spaces or control characters");
            goto out;
        }
    /* "oci:<dir>" reads a folder of the server's host: never a remote client's to name */
    if (!strncmp(s, "oci:", 4) || s[0] == '/' || s[0] == '.') {
        r = bl_err(err, BOXLITE_ERR_INVALID, "reference: a registry reference, not a host path");
        goto out;
    }
    *ref = strdup(s);
    if (!*ref)
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
out:
    json_decref(o);
    return r;
}
