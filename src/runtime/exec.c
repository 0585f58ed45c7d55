// SPDX-License-Identifier: Apache-2.0
/* Executions: the box's defaults (image config, box options) merged with the request, then
 * the agent protocol's client does the rest (src/proto/client.h). */
#include "runtime/runtime.h"
#include "common/boxpath.h"
#include "proto/control_json.h"

#include "common/cleanup.h"
#include "runtime/api_error.h"
#include "runtime/spawn.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct boxlite_exec {
    boxlite_box *box;
    struct proto_exec *pe;
};

/* env: image defaults, then the box's, then the request's; a later KEY replaces an earlier. */
struct envlist { char **v; size_t n; };

static int env_put(struct envlist *l, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
    for (size_t i = 0; i < l->n; i++) {
        if (!strncmp(l->v[i], kv, klen) && l->v[i][klen] == '=') {
            char *c = strdup(kv);
            if (!c)
                return -1;
            free(l->v[i]);
            l->v[i] = c;
            return 0;
        }
    }
    char **n = realloc(l->v, (l->n + 2) * sizeof *n);
    if (!n)
        return -1;
    l->v = n;
    if (!(l->v[l->n] = strdup(kv)))
        return -1;
    l->v[++l->n] = NULL;
    return 0;
}

static void env_free(struct envlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int rt_box_request(boxlite_box *b, const struct image_config *ic, const char *const *extra_env,
                   bool tty, const char *cwd, const char *user, struct proto_exec_req *req,
                   struct bl_error *err)
{
    memset(req, 0, sizeof *req);
    struct envlist env = { 0 };
    int bad = env_put(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for (char **e = ic ? ic->env : NULL; !bad && e && *e; e++)
        bad = env_put(&env, *e);
    for (size_t i = 0; !bad && i < b->opts.nenv; i++) {
        cleanup_free char *kv = NULL;
        bad = asprintf(&kv, "%s=%s", b->opts.env[i].key, b->opts.env[i].value) < 0 ||
              env_put(&env, kv);
    }
    if (tty && !bad)
        bad = env_put(&env, "TERM=xterm");
    for (const char *const *e = extra_env; !bad && e && *e; e++) {
        if (!strchr(*e, '=')) {
            env_free(&env);
            return bl_err(err, BOXLITE_ERR_INVALID, "env entry \"%s\" is not KEY=VALUE", *e);
        }
        bad = env_put(&env, *e);
    }
    req->env = env.v;
    const char *c = cwd ? cwd
                    : b->opts.working_dir ? b->opts.working_dir
                    : ic && ic->working_dir && *ic->working_dir ? ic->working_dir : "/";
    const char *u = user ? user
                    : b->opts.user ? b->opts.user
                    : ic && ic->user && *ic->user ? ic->user : "0:0";
    req->cwd = dup_or_null(c);
    req->user = dup_or_null(u);
    if (bad || !req->cwd || !req->user) {
        rt_request_free(req);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    return 0;
}

void rt_request_free(struct proto_exec_req *req)
{
    for (size_t i = 0; req->env && req->env[i]; i++)
        free(req->env[i]);
    free(req->env);
    free(req->cwd);
    free(req->user);
    free(req->rlimits);
    free(req->groups);
    free(req->devices); /* the array only: its paths are the caller's */
    for (size_t i = 0; i < req->ntmpfs; i++)
        free(req->tmpfs[i].data); /* the destinations are the caller's */
    free(req->tmpfs);
    req->tmpfs = NULL;
    req->ntmpfs = 0;
    req->devices = NULL;
    req->env = NULL;
    req->cwd = req->user = NULL;
    req->rlimits = NULL;
    req->groups = NULL;
}

/* A NULL-terminated list of the container's view, borrowed into the request. */
static int view_list(const char *const *v, const char *what, bool sysctl, char ***out,
                     size_t *n, struct bl_error *err)
{
    size_t k = 0;
    for (; v && v[k]; k++) {
        bool ok = sysctl ? proto_sysctl_ok(v[k]) : proto_confine_path_ok(v[k]);
        if (k >= PROTO_MAX_CONFINE || !ok)
            return bl_err(err, BOXLITE_ERR_INVALID, "security: %s[%zu] \"%.64s\": %s", what, k,
                          v[k], k >= PROTO_MAX_CONFINE ? "more than 256"
                          : sysctl ? "not name=value (a relative name without \"..\")"
                                   : "not an absolute path without \"..\"");
    }
    *out = (char **)v;
    *n = k;
    return 0;
}

/* maskedPaths, readonlyPaths, sysctl, devices: checked, then borrowed (the caller's). */
static int request_view(const boxlite_process_security *ps, struct proto_exec_req *req,
                        struct bl_error *err)
{
    int r = view_list(ps->masked_paths, "masked_paths", false, &req->masked, &req->nmasked, err);
    if (!r)
        r = view_list(ps->readonly_paths, "readonly_paths", false, &req->ro_paths,
                      &req->nro_paths, err);
    if (!r)
        r = view_list(ps->sysctl, "sysctl", true, &req->sysctl, &req->nsysctl, err);
    if (r)
        return r;
    if (ps->n_devices > PROTO_MAX_CONFINE || (ps->n_devices && !ps->devices))
        return bl_err(err, BOXLITE_ERR_INVALID, "security: bad devices (at most %d)",
                      PROTO_MAX_CONFINE);
    if (ps->n_devices && !(req->devices = calloc(ps->n_devices, sizeof *req->devices)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ps->n_devices; i++) {
        const boxlite_device *d = &ps->devices[i];
        if (!d->path || !proto_confine_path_ok(d->path) || !d->type ||
            !strchr("cbup", d->type) || d->mode > 07777)
            return bl_err(err, BOXLITE_ERR_INVALID, "security: devices[%zu]: an absolute path, "
                          "type c, b, u or p, mode at most 07777", i);
        req->devices[i] = (struct proto_device){ .type = d->type, .major = d->major,
                                                 .minor = d->minor,
                                                 .mode = d->mode ? d->mode : 0666,
                                                 .uid = d->uid, .gid = d->gid,
                                                 .path = (char *)d->path };
        req->ndevices = i + 1;
    }
    return 0;
}

/* The tmpfs mounts: the caller's options checked and split into flags and data. */
static int request_tmpfs(const boxlite_process_security *ps, struct proto_exec_req *req,
                         struct bl_error *err)
{
    if (ps->n_tmpfs > PROTO_MAX_CONFINE || (ps->n_tmpfs && !ps->tmpfs))
        return bl_err(err, BOXLITE_ERR_INVALID, "security: bad tmpfs (at most %d)",
                      PROTO_MAX_CONFINE);
    if (ps->n_tmpfs && !(req->tmpfs = calloc(ps->n_tmpfs, sizeof *req->tmpfs)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ps->n_tmpfs; i++) {
        const boxlite_tmpfs *t = &ps->tmpfs[i];
        struct proto_tmpfs *o = &req->tmpfs[i];
        char data[PROTO_TMPFS_DATA_MAX];
        if (!t->destination || !proto_confine_path_ok(t->destination) ||
            strlen(t->destination) > PROTO_DEVICE_PATH_MAX)
            return bl_err(err, BOXLITE_ERR_INVALID, "security: tmpfs[%zu]: the destination "
                          "must be an absolute path without \"..\" (at most %u bytes)", i,
                          PROTO_DEVICE_PATH_MAX);
        if (proto_tmpfs_options(t->options, &o->flags, data, sizeof data, err) < 0)
            return bl_err_prefix(err, "security: tmpfs %.64s", t->destination);
        req->ntmpfs = i + 1;
        o->path = (char *)t->destination; /* the caller's, borrowed */
        if (!(o->data = strdup(data)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* The process's limits and privileges (boxlite_process_security) into the request,
 * checked here so that a mistake is the caller's error, not the agent's. */
static int request_security(const boxlite_process_security *ps, struct proto_exec_req *req,
                            struct bl_error *err)
{
    /* the struct grew (seccomp_*, the view): an older caller's size ends before those */
    if (ps->size < offsetof(boxlite_process_security, seccomp_filter))
        return bl_err(err, BOXLITE_ERR_INVALID, "security->size is too small");
    if (ps->set & ~(BOXLITE_PROC_CAPS | BOXLITE_PROC_GROUPS | BOXLITE_PROC_UMASK |
                    BOXLITE_PROC_OOM_SCORE_ADJ))
        return bl_err(err, BOXLITE_ERR_INVALID, "security->set has unknown flags");
    if (ps->n_rlimits > PROTO_RLIMIT_RESOURCES || (ps->n_rlimits && !ps->rlimits))
        return bl_err(err, BOXLITE_ERR_INVALID, "security: bad rlimits");
    if (ps->n_rlimits && !(req->rlimits = calloc(ps->n_rlimits, sizeof *req->rlimits)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ps->n_rlimits; i++) {
        const boxlite_rlimit *l = &ps->rlimits[i];
        if (l->resource < 0 || l->resource >= PROTO_RLIMIT_RESOURCES)
            return bl_err(err, BOXLITE_ERR_INVALID, "security: rlimit resource %d unknown",
                          l->resource);
        if (l->soft > l->hard)
            return bl_err(err, BOXLITE_ERR_INVALID, "security: rlimit %d: soft limit above "
                          "hard", l->resource);
        for (size_t j = 0; j < i; j++)
            if (ps->rlimits[j].resource == l->resource)
                return bl_err(err, BOXLITE_ERR_INVALID, "security: rlimit %d given twice",
                              l->resource);
        req->rlimits[i] = (struct proto_rlimit){ .resource = (uint32_t)l->resource,
                                                 .soft = l->soft, .hard = l->hard };
    }
    req->nrlimits = (unsigned)ps->n_rlimits;
    if (ps->set & BOXLITE_PROC_CAPS) {
        req->has_caps = true;
        req->caps[PROTO_CAP_BOUNDING] = ps->cap_bounding;
        req->caps[PROTO_CAP_EFFECTIVE] = ps->cap_effective;
        req->caps[PROTO_CAP_PERMITTED] = ps->cap_permitted;
        req->caps[PROTO_CAP_INHERITABLE] = ps->cap_inheritable;
        req->caps[PROTO_CAP_AMBIENT] = ps->cap_ambient;
    }
    req->no_new_privs = ps->no_new_privs != 0;
    if (ps->set & BOXLITE_PROC_GROUPS) {
        if (ps->n_groups > PROTO_MAX_GROUPS || (ps->n_groups && !ps->groups))
            return bl_err(err, BOXLITE_ERR_INVALID, "security: bad groups (at most %d)",
                          PROTO_MAX_GROUPS);
        if (ps->n_groups && !(req->groups = calloc(ps->n_groups, sizeof *req->groups)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < ps->n_groups; i++)
            req->groups[i] = ps->groups[i];
        req->ngroups = (unsigned)ps->n_groups;
        req->has_groups = true;
    }
    if (ps->set & BOXLITE_PROC_UMASK) {
        if (ps->umask > 0777)
            return bl_err(err, BOXLITE_ERR_INVALID, "security: umask %o out of range",
                          ps->umask);
        req->has_umask = true;
        req->umask = ps->umask;
    }
    if (ps->set & BOXLITE_PROC_OOM_SCORE_ADJ) {
        if (ps->oom_score_adj < -1000 || ps->oom_score_adj > 1000)
            return bl_err(err, BOXLITE_ERR_INVALID, "security: oom_score_adj %d out of "
                          "-1000..1000", ps->oom_score_adj);
        req->has_oom_score_adj = true;
        req->oom_score_adj = ps->oom_score_adj;
    }
    if (ps->size >= sizeof *ps && (ps->seccomp_len || ps->seccomp_filter)) {
        if (!ps->seccomp_filter || !ps->seccomp_len || ps->seccomp_len % 8 ||
            ps->seccomp_len / 8 > BOXLITE_SECCOMP_MAX_INSNS)
            return bl_err(err, BOXLITE_ERR_INVALID, "security: a seccomp filter is 1 to %d "
                          "BPF instructions of 8 bytes (%zu bytes given)",
                          BOXLITE_SECCOMP_MAX_INSNS, ps->seccomp_len);
        if (ps->seccomp_flags & ~(BOXLITE_SECCOMP_TSYNC | BOXLITE_SECCOMP_LOG |
                                  BOXLITE_SECCOMP_SPEC_ALLOW))
            return bl_err(err, BOXLITE_ERR_INVALID, "security: seccomp_flags %#x unknown",
                          ps->seccomp_flags);
        /* the caller's buffer, borrowed until the request is sent */
        req->seccomp = (uint8_t *)ps->seccomp_filter;
        req->seccomp_len = (uint32_t)ps->seccomp_len;
        req->seccomp_flags = ps->seccomp_flags;
    }
    if (ps->size >= offsetof(boxlite_process_security, tmpfs) &&
        request_view(ps, req, err) < 0)
        return -1;
    return ps->size >= sizeof *ps ? request_tmpfs(ps, req, err) : 0;
}

void rt_box_image_config(boxlite_box *b, struct image_config *ic)
{
    memset(ic, 0, sizeof *ic);
    struct image_store *store;
    struct bl_error ignored = { 0 };
    if (b->opts.image && rt_images(b->rt, &store, &ignored) == 0 &&
        image_get_config(store, b->opts.image, ic, &ignored) == 0) /* best effort */
        return;
    /* An imported box whose image is not in this home: the configuration it brought along
     * (archive.c), parsed like a pulled one. */
    char p[4300];
    snprintf(p, sizeof p, "%s/image-config.json", b->dir);
    FILE *f = fopen(p, "re");
    char *buf = f ? malloc(8u << 20) : NULL;
    size_t n = buf ? fread(buf, 1, 8u << 20, f) : 0;
    if (f)
        fclose(f);
    if (buf && n > 0 && n < (8u << 20)) {
        image_config_free(ic);
        memset(ic, 0, sizeof *ic);
        image_config_parse(ic, buf, n, &ignored);
    }
    free(buf);
}

enum exec_mode { EXEC_PLAIN, EXEC_DETACH, EXEC_ATTACH };
static int exec_start(boxlite_box *b, const boxlite_exec_spec *spec, enum exec_mode mode,
                      boxlite_exec **out);

BOXLITE_API int boxlite_exec_start(boxlite_box *b, const boxlite_exec_spec *spec,
                                   boxlite_exec **out)
{
    return exec_start(b, spec, EXEC_PLAIN, out);
}

BOXLITE_API int boxlite_exec_start_detached(boxlite_box *b, const boxlite_exec_spec *spec)
{
    API_CHECK_ARG(spec && !spec->tty, "a detached execution has no terminal");
    boxlite_exec *ex = NULL;
    int r = exec_start(b, spec, EXEC_DETACH, &ex);
    if (r != BOXLITE_OK)
        return r;
    /* the agent answers once the process started (RESULT) or could not (ERROR) */
    boxlite_exec_result res;
    r = boxlite_exec_wait(ex, -1, &res);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", r ? boxlite_errmsg() : "");
    boxlite_exec_free(ex);
    return r ? api_fail(r, "%s", msg) : api_return(0, NULL);
}

static int exec_start(boxlite_box *b, const boxlite_exec_spec *spec, enum exec_mode mode,
                      boxlite_exec **out)
{
    API_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    API_CHECK_ARG(b, "box is NULL");
    API_CHECK_ARG(spec, "spec is NULL");
    /* the struct grew (security): an older caller's size ends before it */
    API_CHECK_ARG(spec->size >= offsetof(boxlite_exec_spec, security), "spec->size is too small");
    const boxlite_process_security *security =
        spec->size > offsetof(boxlite_exec_spec, security) ? spec->security : NULL;
    const char *root = spec->size > offsetof(boxlite_exec_spec, root) ? spec->root : NULL;
    API_CHECK_ARG(!root || root[0] == '/', "root is not an absolute path");
    const char *group = spec->size > offsetof(boxlite_exec_spec, group) ? spec->group : NULL;
    long long pids_max = spec->size > offsetof(boxlite_exec_spec, pids_max) ? spec->pids_max : 0;
    API_CHECK_ARG(!group || proto_group_name_ok(group), "group is not a name of [A-Za-z0-9_.+-]");
    API_CHECK_ARG(pids_max >= 0 && (!pids_max || group), "pids_max needs a group, and >= 0");
    API_CHECK_ARG(spec->argv && spec->argv[0] && spec->argv[0][0], "no program given");
    API_CHECK_ARG(spec->timeout_ms >= 0, "negative timeout");
    API_CHECK_ARG(!spec->tty || (spec->rows <= 10000 && spec->cols <= 10000), "bad tty size");
    struct bl_error err = { 0 };
    /* checked first: a mistake in it is the caller's, whatever state the box is in */
    struct proto_exec_req sec = { 0 };
    int r = security ? request_security(security, &sec, &err) : 0;
    if (r < 0) {
        rt_request_free(&sec);
        return api_return(bl_err_prefix(&err, "exec %s", spec->argv[0]), &err);
    }
    struct proto_client *conn;
    r = rt_box_conn(b, &conn, &err);
    if (r) {
        rt_request_free(&sec);
        return api_return(r, &err);
    }

    struct image_config ic;
    rt_box_image_config(b, &ic);
    struct proto_exec_req req;
    r = rt_box_request(b, &ic, spec->env, spec->tty != 0, spec->working_dir, spec->user, &req,
                       &err);
    image_config_free(&ic);
    if (r) {
        rt_request_free(&sec);
        return api_return(bl_err_prefix(&err, "exec"), &err);
    }
    req.argv = (char **)spec->argv;
    req.tty = spec->tty != 0;
    req.rows = spec->rows ? spec->rows : 24;
    req.cols = spec->cols ? spec->cols : 80;
    req.timeout_ms = (uint64_t)spec->timeout_ms;
    req.detach = mode == EXEC_DETACH;
    req.attach = mode == EXEC_ATTACH;
    /* the limits and privileges move over (rt_request_free(&req) frees them) */
    req.rlimits = sec.rlimits;
    req.nrlimits = sec.nrlimits;
    req.has_caps = sec.has_caps;
    memcpy(req.caps, sec.caps, sizeof req.caps);
    req.no_new_privs = sec.no_new_privs;
    req.has_groups = sec.has_groups;
    req.groups = sec.groups;
    req.ngroups = sec.ngroups;
    req.has_umask = sec.has_umask;
    req.umask = sec.umask;
    req.has_oom_score_adj = sec.has_oom_score_adj;
    req.oom_score_adj = sec.oom_score_adj;
    req.seccomp = sec.seccomp;
    req.seccomp_len = sec.seccomp_len;
    req.seccomp_flags = sec.seccomp_flags;
    req.masked = sec.masked;
    req.nmasked = sec.nmasked;
    req.ro_paths = sec.ro_paths;
    req.nro_paths = sec.nro_paths;
    req.sysctl = sec.sysctl;
    req.nsysctl = sec.nsysctl;
    req.devices = sec.devices;
    req.ndevices = sec.ndevices;
    req.tmpfs = sec.tmpfs;
    req.ntmpfs = sec.ntmpfs;
    req.root = (char *)root;
    req.group = (char *)group;
    req.pids_max = (uint64_t)pids_max;
    boxlite_exec *ex = calloc(1, sizeof *ex);
    if (!ex)
        r = bl_err(&err, BOXLITE_ERR_NOMEM, "exec: out of memory");
    else
        r = proto_exec_start(conn, &req, &ex->pe, &err);
    req.argv = NULL;
    req.root = NULL;
    req.seccomp = NULL; /* the caller's */
    req.masked = req.ro_paths = req.sysctl = NULL;
    req.group = NULL;
    rt_request_free(&req);
    char key[80];
    snprintf(key, sizeof key, "box:%s:%s", b->id, r ? "exec_errors" : "execs");
    state_counter_add(b->rt->db, key, 1, NULL);
    if (r) {
        free(ex);
        return api_return(bl_err_prefix(&err, "exec %s", spec->argv[0]), &err);
    }
    ex->box = b;
    *out = ex;
    return api_return(0, NULL);
}

BOXLITE_API int boxlite_exec_stdout_fd(boxlite_exec *ex)
{
    if (!ex)
        return api_fail(BOXLITE_ERR_INVALID, "%s: execution is NULL", __func__), -1;
    return proto_exec_stdout_fd(ex->pe);
}

BOXLITE_API int boxlite_exec_stderr_fd(boxlite_exec *ex)
{
    if (!ex)
        return api_fail(BOXLITE_ERR_INVALID, "%s: execution is NULL", __func__), -1;
    return proto_exec_stderr_fd(ex->pe);
}

BOXLITE_API int boxlite_exec_done_fd(boxlite_exec *ex)
{
    if (!ex)
        return api_fail(BOXLITE_ERR_INVALID, "%s: execution is NULL", __func__), -1;
    return proto_exec_done_fd(ex->pe);
}

BOXLITE_API int boxlite_exec_write_stdin(boxlite_exec *ex, const void *data, size_t len)
{
    API_CHECK_ARG(ex, "execution is NULL");
    API_CHECK_ARG(data || !len, "data is NULL");
    struct bl_error err = { 0 };
    return api_return(proto_exec_write_stdin(ex->pe, data, len, &err), &err);
}

BOXLITE_API int boxlite_exec_close_stdin(boxlite_exec *ex)
{
    API_CHECK_ARG(ex, "execution is NULL");
    struct bl_error err = { 0 };
    return api_return(proto_exec_close_stdin(ex->pe, &err), &err);
}

BOXLITE_API int boxlite_exec_signal(boxlite_exec *ex, int sig)
{
    API_CHECK_ARG(ex, "execution is NULL");
    API_CHECK_ARG(sig > 0 && sig < 65, "signal out of range");
    struct bl_error err = { 0 };
    return api_return(proto_exec_signal(ex->pe, sig, &err), &err);
}

BOXLITE_API int boxlite_exec_resize(boxlite_exec *ex, unsigned rows, unsigned cols)
{
    API_CHECK_ARG(ex, "execution is NULL");
    API_CHECK_ARG(rows && cols && rows <= 10000 && cols <= 10000, "bad terminal size");
    struct bl_error err = { 0 };
    return api_return(proto_exec_resize(ex->pe, rows, cols, &err), &err);
}

BOXLITE_API int boxlite_exec_wait(boxlite_exec *ex, int timeout_ms, boxlite_exec_result *res)
{
    API_CHECK_ARG(ex && res, "NULL argument");
    struct bl_error err = { 0 };
    struct proto_result pr = { 0 };
    int r = proto_exec_wait(ex->pe, timeout_ms, &pr, &err);
    if (!r) {
        res->exit_code = (int)pr.exit_code;
        res->signal = (int)pr.signo;
        res->timed_out = pr.timed_out;
        res->duration_ms = pr.duration_us / 1000.0;
    }
    return api_return(r, &err);
}

BOXLITE_API void boxlite_exec_free(boxlite_exec *ex)
{
    if (!ex)
        return;
    proto_exec_free(ex->pe);
    free(ex);
}

/* attach's stdin: an execution without a process of its own whose stdin is the box's main
 * process's (the agent copies it there: docs/protocol.md, EXEC ATTACH). Its end (close
 * stdin, or free) leaves the main process's stdin open, as Docker's attach does. */
BOXLITE_API int boxlite_box_attach_stdin(boxlite_box *b, boxlite_exec **out)
{
    static const char *const argv[] = { "attach", NULL };
    boxlite_exec_spec spec = { .size = sizeof spec, .argv = argv };
    return exec_start(b, &spec, EXEC_ATTACH, out);
}

BOXLITE_API int boxlite_box_kill(boxlite_box *b, int sig)
{
    API_CHECK_ARG(b, "box is NULL");
    API_CHECK_ARG(sig >= 1 && sig <= 64, "signal out of range (1..64)");
    struct bl_error err = { 0 };
    struct box_record rec;
    int r = rt_box_lookup(b->rt, b->id, &rec, &err);
    if (r)
        return api_return(r, &err);
    /* a paused box is resumed by the connection, as for an exec: its process goes on */
    bool live = rec.state == BOX_STATE_RUNNING || rec.state == BOX_STATE_PAUSED;
    if (!live)
        r = bl_err(&err, BOXLITE_ERR_STATE, "box %s is not running (it is %s)", rec.name,
                   box_state_name(rec.state));
    box_record_clear(&rec);
    struct proto_client *conn;
    if (!r)
        r = rt_box_conn(b, &conn, &err);
    if (!r)
        r = proto_kill(conn, sig, 10000, &err);
    return api_return(r ? bl_err_prefix(&err, "kill") : 0, &err);
}
