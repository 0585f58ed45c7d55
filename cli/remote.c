// SPDX-License-Identifier: Apache-2.0
/* boxlite --url URL: the verbs driven against a remote `boxlite serve` (BoxLite's REST API,
 * docs/api.yaml) through src/client, instead of the local library. The same verbs, flags
 * and exit statuses as locally where the API can carry them (run, exec, ps/ls, inspect,
 * rm, stop, start, cp; -it over the TTY WebSocket; the management verbs in remote_manage.c;
 * logs, attach, stats and top in remote_stream.c); a verb or flag it cannot carry is
 * refused plainly (125, "not supported with --url"), never half done. */
#include "remote.h"
#include "proto/tar.h"
#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct client_opts remote_opts(const struct cli *c)
{
    return (struct client_opts){ .url = c->url, .client_id = c->client_id,
                                 .secret = c->client_secret, .prefix = c->prefix,
                                 .ca_file = getenv("BOXLITE_CA_FILE") };
}

int fail_err(const char *what, const struct bl_error *e)
{
    fprintf(stderr, "boxlite: %s: %s\n", what, e->msg);
    return 125;
}

static int unsupported(const char *what)
{
    return cli_usage_error("%s: not supported with --url", what);
}

/* The long name of flag id in verb v's tables (for the refusal). */
static const char *flag_name(const struct cli_verb *v, int id)
{
    for (const struct cli_flag *const *t = v->flags; t && *t; t++)
        for (const struct cli_flag *f = *t; f->id; f++)
            if (f->id == id)
                return f->name;
    return "?";
}

int unsupported_flag(const struct cli_verb *v, int id)
{
    return cli_usage_error("%s --%s: not supported with --url", v->name, flag_name(v, id));
}

char *box_path(struct bl_client *cl, const char *box, const char *tail)
{
    char *b = client_escape(cl, box), *p = NULL;
    if (!b || asprintf(&p, "/boxes/%s%s", b, tail ? tail : "") < 0)
        p = NULL;
    free(b);
    return p;
}

int box_call(struct bl_client *cl, const char *method, const char *box, const char *tail,
             json_t *body, json_t **out, struct bl_error *err)
{
    char *p = box_path(cl, box, tail);
    if (!p) {
        json_decref(body);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    int r = client_call(cl, method, p, body, out, err);
    free(p);
    return r;
}

/* ---- executions: output to ours, stdin from ours ---------------------------------------- */

struct exec_out {
    int exit_code;
    bool exited;
    char error[256];
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int on_output(void *ud, const struct client_exec_event *ev)
{
    struct exec_out *o = ud;
    if (ev->kind == CX_STDOUT || ev->kind == CX_STDERR)
        write_all(ev->kind == CX_STDOUT ? 1 : 2, ev->bytes, ev->len);
    else if (ev->kind == CX_EXIT) {
        o->exit_code = ev->exit_code;
        o->exited = true;
        snprintf(o->error, sizeof o->error, "%s", ev->error);
    }
    return 0;
}

/* Our stdin to the execution, on a thread with a connection of its own (the output stream
 * holds the other), then stdin closed. */
struct stdin_pump {
    struct client_opts opts;
    const char *box, *exec;
    pthread_t th;
    struct bl_error err;
};

static void *pump_stdin(void *arg)
{
    struct stdin_pump *p = arg;
    struct bl_client *cl = NULL;
    if (client_new(&p->opts, &cl, &p->err) < 0) {
        fprintf(stderr, "boxlite: exec: stdin: %s\n", p->err.msg);
        return NULL;
    }
    uint8_t *buf = malloc(1 << 20);
    for (;;) {
        ssize_t n = buf ? read(0, buf, 1 << 20) : -1;
        if (n < 0 && errno == EINTR)
            continue;
        bool end = n <= 0;
        if (client_exec_input(cl, p->box, p->exec, buf, end ? 0 : (size_t)n, end, &p->err) < 0) {
            /* the execution ended (its stdin with it) or the server went: nothing to say
             * that the output stream will not */
            break;
        }
        if (end)
            break;
    }
    free(buf);
    client_free(cl);
    free((char *)p->box);
    free((char *)p->exec);
    free(p);
    return NULL;
}

/* The exit status for a refused POST .../exec, as cli_exec_failed says locally: 127 for a
 * program the box does not have, 126 for one it cannot run, 125 for anything else. */
static int exec_refused(const struct bl_error *e)
{
    fprintf(stderr, "boxlite: exec: %s\n", e->msg);
    if (e->code != BOXLITE_ERR_INVALID || !strstr(e->msg, "exec: "))
        return 125;
    if (strstr(e->msg, ": No such file or directory") && !strstr(e->msg, "working directory"))
        return 127;
    return 126;
}

static int remote_exec_stream(struct cli *c, struct bl_client *cl, const char *box,
                              char **argv, json_t *env, const char *cwd, bool interactive,
                              bool detach)
{
    struct bl_error err = {0};
    json_t *req = json_pack("{s:s,s:[]}", "command", argv[0], "args");
    for (size_t i = 1; argv[i]; i++)
        json_array_append_new(json_object_get(req, "args"), json_string(argv[i]));
    if (env && json_object_size(env))
        json_object_set(req, "env", env);
    if (cwd)
        json_object_set_new(req, "working_dir", json_string(cwd));
    json_t *ans = NULL;
    if (box_call(cl, "POST", box, "/exec", req, &ans, &err) < 0)
        return exec_refused(&err);
    const char *xid = json_string_value(json_object_get(ans, "execution_id"));
    char id[129];
    if (!xid || strlen(xid) >= sizeof id || strpbrk(xid, "/?#%")) {
        json_decref(ans);
        return cli_usage_error("exec: the server answered no execution id");
    }
    snprintf(id, sizeof id, "%s", xid);
    json_decref(ans);
    if (detach)
        return 0;
    /* the pump is the thread's: it may still wait on our stdin when the process ends, and
     * the process exits from under it then (its input has nowhere to go) */
    struct stdin_pump *pump = interactive ? calloc(1, sizeof *pump) : NULL;
    if (pump) {
        *pump = (struct stdin_pump){ .opts = remote_opts(c), .box = strdup(box),
                                     .exec = strdup(id) };
        if (!pump->box || !pump->exec || pthread_create(&pump->th, NULL, pump_stdin, pump)) {
            free((char *)pump->box);
            free((char *)pump->exec);
            free(pump);
            return cli_usage_error("exec: cannot pass our input on (out of resources)");
        }
        pthread_detach(pump->th);
    } else if (client_exec_input(cl, box, id, "", 0, true, &err) < 0 &&
               err.code != BOXLITE_ERR_STATE) { /* 409: it ended already, stdin with it */
        fprintf(stderr, "boxlite: exec: close stdin: %s\n", err.msg);
    }
    struct exec_out o = { .exit_code = -1 };
    int r = client_exec_output(cl, box, id, on_output, &o, &err);
    if (r >= 0 && o.exited && o.exit_code < 0) {
        /* it could not be started (the agent refuses once the request arrives): the
         * server's reason, read as cli_exec_failed reads the library's */
        fprintf(stderr, "boxlite: exec: %s\n", o.error[0] ? o.error : "the server could not "
                "read the execution's end");
        if (strstr(o.error, ": No such file or directory") && !strstr(o.error, "working directory"))
            return 127;
        if (strstr(o.error, "Permission denied") || strstr(o.error, "Exec format error") ||
            strstr(o.error, "working directory") || strstr(o.error, "user"))
            return 126;
        return 125;
    }
    if (r < 0)
        return fail_err("exec", &err);
    return o.exited && o.exit_code >= 0 ? o.exit_code : 125;
}

static void tty_out(void *ud, const uint8_t *p, size_t n)
{
    (void)ud;
    write_all(1, p, n);
}

/* A command on a terminal over the TTY WebSocket, our terminal in raw mode and its size
 * following ours. */
static int remote_exec_tty(struct bl_client *cl, const char *box, char **argv, json_t *env,
                           const char *cwd, bool interactive)
{
    struct winsize ws = { .ws_row = 24, .ws_col = 80 };
    ioctl(0, TIOCGWINSZ, &ws);
    struct client_tty *t = NULL;
    struct bl_error err = {0};
    if (client_tty_open(cl, box, (const char *const *)argv, env, cwd,
                        ws.ws_col ? ws.ws_col : 80, ws.ws_row ? ws.ws_row : 24, &t, &err) < 0)
        return exec_refused(&err);
    cli_tty_raw();
    bool in_open = interactive;
    int code = -1, r = 0;
    uint8_t buf[65536];
    for (;;) {
        int rows, cols;
        if (cli_tty_resized(&rows, &cols) && client_tty_resize(t, (unsigned)cols,
                                                               (unsigned)rows, &err) < 0) {
            r = -1;
            break;
        }
        r = client_tty_read(t, tty_out, NULL, &code, &err);
        if (r != 0)
            break;
        struct pollfd p[2] = { { client_tty_fd(t), POLLIN, 0 }, { in_open ? 0 : -1, POLLIN, 0 } };
        if (poll(p, 2, -1) < 0 && errno != EINTR) {
            r = bl_errno(&err, errno, "poll");
            break;
        }
        if (in_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n > 0) {
                if (client_tty_send(t, buf, (size_t)n, &err) < 0) {
                    r = -1;
                    break;
                }
            } else if (n == 0 || errno != EINTR) {
                in_open = false; /* a terminal has no end of input but ^D, a byte */
            }
        }
    }
    cli_tty_restore();
    client_tty_close(t);
    if (r < 0)
        return fail_err("exec", &err);
    return code >= 0 ? code : 125;
}

/* ---- verbs -------------------------------------------------------------------------------- */

static int env_add(json_t *env, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq) {
        const char *v = getenv(kv); /* KEY alone: take it from ours, as locally */
        if (v)
            json_object_set_new(env, kv, json_string(v));
        return 0;
    }
    char *k = strndup(kv, (size_t)(eq - kv));
    if (!k || !*k) {
        free(k);
        return cli_usage_error("-e %s: expected KEY=VALUE", kv);
    }
    json_object_set_new(env, k, json_string(eq + 1));
    free(k);
    return 0;
}

static int remote_run(struct cli *c, struct bl_client *cl, const struct cli_args *a)
{
    const struct cli_verb *v = a->verb;
    bool interactive = false, tty = false, detach = false, rm = false;
    const char *entrypoint = NULL;
    json_t *req = json_object(), *env = json_object(), *labels = json_object();
    int r = 0;
    for (int i = 0; i < a->nopts && !r; i++) {
        const char *val = a->opts[i].value;
        switch (a->opts[i].id) {
        case FL_INTERACTIVE: interactive = true; break;
        case FL_TTY: tty = true; break;
        case FL_DETACH: detach = true; break;
        case FL_RM: rm = true; break;
        case FL_NAME: json_object_set_new(req, "name", json_string(val)); break;
        case FL_ENV: r = env_add(env, val); break;
        case FL_WORKDIR: json_object_set_new(req, "working_dir", json_string(val)); break;
        case FL_USER: json_object_set_new(req, "user", json_string(val)); break;
        case FL_ENTRYPOINT: entrypoint = val; break;
        case FL_CPUS: {
            long long n;
            if (cli_parse_ll(val, 1, 32, &n))
                r = cli_usage_error("run --cpus %s: expected 1 to 32", val);
            else
                json_object_set_new(req, "cpus", json_integer(n));
            break;
        }
        case FL_MEMORY: {
            long long mib = cli_parse_mib(val);
            if (mib < 0)
                r = cli_usage_error("run --memory %s: expected a size such as 512m or 2g", val);
            else
                json_object_set_new(req, "memory_mib", json_integer(mib));
            break;
        }
        case FL_LABEL: {
            const char *eq = strchr(val, '=');
            char *k = strndup(val, eq ? (size_t)(eq - val) : strlen(val));
            if (k)
                json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
            free(k);
            break;
        }
        case FL_NO_NETWORK: json_object_set_new(req, "network", json_string("disabled")); break;
        case FL_PUBLISH: break; /* all of them at once, below */
        case FL_NETWORK:
            if (!strcmp(val, "none"))
                json_object_set_new(req, "network", json_string("disabled"));
            else if (strcmp(val, "default"))
                r = cli_usage_error("run --network %s: expected default or none", val);
            break;
        default:
            r = unsupported_flag(v, a->opts[i].id);
        }
    }
    const char *image = a->ops[0];
    char **cmd = a->nops > 1 ? a->ops + 1 : NULL;
    if (!r && (image[0] == '/' || image[0] == '.'))
        r = cli_usage_error("run %s: a host folder cannot be a remote box's root; "
                            "rootfs:NAME names a folder of the server's --rootfs-dir", image);
    if (!r)
        r = remote_publish(req, a);
    if (r) {
        json_decref(req);
        json_decref(env);
        json_decref(labels);
        return r;
    }
    if (!strncmp(image, "rootfs:", 7))
        json_object_set_new(req, "rootfs_path", json_string(image + 7));
    else
        json_object_set_new(req, "image", json_string(image));
    if (json_object_size(env))
        json_object_set(req, "env", env);
    if (json_object_size(labels))
        json_object_set(req, "labels", labels);
    /* as locally: a detached box's command is its main process and the box stays; an
     * attached run's command is an execution, the box removed with --rm */
    json_object_set_new(req, "detach", json_boolean(detach));
    /* -d -i/-t: the main process's stdin and terminal, for attach (as locally) */
    if (detach && interactive)
        json_object_set_new(req, "stdin_open", json_true());
    if (detach && tty)
        json_object_set_new(req, "tty", json_true());
    json_object_set_new(req, "auto_remove", json_boolean(!detach && rm));
    if (detach && cmd) {
        json_t *arr = json_array();
        for (int i = 0; cmd[i]; i++)
            json_array_append_new(arr, json_string(cmd[i]));
        json_object_set_new(req, "cmd", arr);
    }
    if (detach && entrypoint)
        json_object_set_new(req, "entrypoint", entrypoint[0] ? json_pack("[s]", entrypoint)
                                                              : json_array());
    struct bl_error err = {0};
    json_t *box = NULL;
    r = client_call(cl, "POST", "/boxes", req, &box, &err);
    json_decref(labels);
    const char *id = json_string_value(json_object_get(box, "box_id"));
    if (r < 0 || !id) {
        json_decref(box);
        json_decref(env);
        return r < 0 ? fail_err(v->name, &err) : cli_usage_error("%s: no box_id in the answer",
                                                                  v->name);
    }
    char bid[65];
    snprintf(bid, sizeof bid, "%s", id);
    json_decref(box);
    if (box_call(cl, "POST", bid, "/start", NULL, NULL, &err) < 0) {
        json_decref(env);
        int st = fail_err(v->name, &err);
        if (!detach)
            box_call(cl, "DELETE", bid, "?force=true", NULL, NULL, &err);
        return st;
    }
    if (detach) {
        json_decref(env);
        printf("%s\n", bid);
        return 0;
    }
    char *shell[] = { "/bin/sh", NULL };
    char **argv = cmd ? cmd : shell;
    char **full = NULL;
    if (entrypoint && entrypoint[0]) {
        size_t n = 0;
        while (argv[n])
            n++;
        full = calloc(n + 2, sizeof *full);
        if (full) {
            full[0] = (char *)entrypoint;
            memcpy(full + 1, argv, n * sizeof *argv);
            argv = full;
        }
    }
    /* the box's options (env, working_dir) hold for its executions already */
    int status = tty ? remote_exec_tty(cl, bid, argv, NULL, NULL, interactive)
                     : remote_exec_stream(c, cl, bid, argv, NULL, NULL, interactive, false);
    free(full);
    json_decref(env);
    if (box_call(cl, "POST", bid, "/stop", json_pack("{s:i}", "timeout_seconds", 10), NULL,
                 &err) < 0 && err.code != BOXLITE_ERR_NOT_FOUND && err.code != BOXLITE_ERR_STATE)
        fprintf(stderr, "boxlite: stop: %s\n", err.msg);
    if (rm) {
        if (box_call(cl, "DELETE", bid, "?force=true", NULL, NULL, &err) < 0 &&
            err.code != BOXLITE_ERR_NOT_FOUND)
            fprintf(stderr, "boxlite: rm: %s\n", err.msg);
    }
    return status;
}

static int remote_exec(struct cli *c, struct bl_client *cl, const struct cli_args *a)
{
    bool interactive = false, tty = false, detach = false;
    const char *cwd = NULL;
    json_t *env = json_object();
    int r = 0;
    for (int i = 0; i < a->nopts && !r; i++) {
        switch (a->opts[i].id) {
        case FL_INTERACTIVE: interactive = true; break;
        case FL_TTY: tty = true; break;
        case FL_DETACH: detach = true; break;
        case FL_ENV: r = env_add(env, a->opts[i].value); break;
        case FL_WORKDIR: cwd = a->opts[i].value; break;
        default: r = unsupported_flag(a->verb, a->opts[i].id);
        }
    }
    if (!r && detach && (interactive || tty))
        r = cli_usage_error("exec: -d runs the command on its own: no -i or -t with it");
    if (!r)
        r = tty ? remote_exec_tty(cl, a->ops[0], a->ops + 1, env, cwd, interactive)
                : remote_exec_stream(c, cl, a->ops[0], a->ops + 1, env, cwd, interactive, detach);
    json_decref(env);
    return r;
}

/* A Box of the API as a row of ps (the fields its --format documents that the API has). */
static json_t *ps_row(json_t *b, bool no_trunc)
{
    const char *id = json_string_value(json_object_get(b, "box_id"));
    const char *status = json_string_value(json_object_get(b, "status"));
    char id12[13];
    snprintf(id12, sizeof id12, "%.12s", id ? id : "");
    char labels[2048];
    cli_labels_text(json_object_get(b, "labels"), labels, sizeof labels);
    json_t *row = json_object();
    json_object_set_new(row, "ID", json_string(no_trunc || !id ? (id ? id : "") : id12));
    json_t *name = json_object_get(b, "name");
    json_object_set_new(row, "Name", json_is_string(name) ? json_incref(name) : json_string(""));
    json_object_set_new(row, "Image", json_string(json_string_value(json_object_get(b, "image")) ?: ""));
    json_object_set_new(row, "CreatedAt", json_string(json_string_value(json_object_get(b, "created_at")) ?: ""));
    json_object_set_new(row, "State", json_string(status ? status : ""));
    json_object_set_new(row, "Status", json_string(status ? status : ""));
    json_object_set_new(row, "Labels", json_string(labels));
    return row;
}

static int remote_ps(struct bl_client *cl, const struct cli_args *a)
{
    bool all = false, quiet = false, no_trunc = false, as_json = false;
    const char *format = NULL;
    for (int i = 0; i < a->nopts; i++) {
        switch (a->opts[i].id) {
        case FL_ALL: all = true; break;
        case FL_QUIET: quiet = true; break;
        case FL_NO_TRUNC: no_trunc = true; break;
        case FL_JSON: as_json = true; break;
        case FL_FORMAT: format = a->opts[i].value; break;
        default: return unsupported_flag(a->verb, a->opts[i].id);
        }
    }
    struct cli_format fmt;
    int r = cli_format_parse(format, &fmt);
    if (r)
        return r;
    struct bl_error err = {0};
    json_t *boxes = client_list_all(cl, all ? "/boxes?pageSize=1000"
                                            : "/boxes?pageSize=1000&status=running",
                                    "boxes", &err);
    if (!boxes)
        return fail_err("ps", &err);
    if (as_json) {
        char *s = json_dumps(boxes, JSON_COMPACT);
        printf("%s\n", s ? s : "[]");
        free(s);
        json_decref(boxes);
        return 0;
    }
    if (fmt.kind == FMT_TABLE) {
        fmt.kind = FMT_TEMPLATE;
        fmt.header = true;
        fmt.tmpl = "{{.ID}}\t{{.Name}}\t{{.Image}}\t{{.CreatedAt}}\t{{.Status}}";
    }
    struct cli_table t = { 0 };
    if (fmt.header && !quiet)
        cli_table_add(&t, cli_format_header(&fmt));
    size_t i;
    json_t *b;
    json_array_foreach(boxes, i, b) {
        if (!json_is_object(b))
            continue;
        json_t *row = ps_row(b, no_trunc);
        cli_table_add(&t, quiet ? strdup(json_string_value(json_object_get(row, "ID")))
                                : cli_format_row(&fmt, row));
        json_decref(row);
    }
    json_decref(boxes);
    cli_table_print(&t, stdout, fmt.header && !quiet);
    return 0;
}

static int remote_inspect(struct bl_client *cl, const struct cli_args *a)
{
    const char *format = NULL;
    for (int i = 0; i < a->nopts; i++)
        if (a->opts[i].id == FL_FORMAT)
            format = a->opts[i].value;
    struct cli_format fmt;
    int r = format ? cli_format_parse(format, &fmt) : 0, failed = 0;
    if (r)
        return r;
    json_t *out = json_array();
    for (int i = 0; i < a->nops; i++) {
        struct bl_error err = {0};
        json_t *b = NULL;
        if (box_call(cl, "GET", a->ops[i], NULL, NULL, &b, &err) < 0) {
            fprintf(stderr, "boxlite: inspect %s: %s\n", a->ops[i], err.msg);
            failed = 1;
        } else if (format && fmt.kind != FMT_TABLE) {
            char *line = cli_format_row(&fmt, b);
            printf("%s\n", line ? line : "");
            free(line);
            json_decref(b);
        } else {
            json_array_append_new(out, b);
        }
    }
    if (!format || fmt.kind == FMT_TABLE) {
        char *s = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", s ? s : "[]");
        free(s);
    }
    json_decref(out);
    return failed ? 125 : 0;
}

/* rm, stop, start: each box in turn, its name printed when done (as locally). */
static int remote_each(struct bl_client *cl, const struct cli_args *a)
{
    const char *verb = a->verb->name;
    bool force = false;
    long long secs = 10;
    for (int i = 0; i < a->nopts; i++) {
        switch (a->opts[i].id) {
        case FL_FORCE: force = true; break;
        case FL_TIME:
            if (cli_parse_ll(a->opts[i].value, 0, 3600, &secs))
                return cli_usage_error("stop -t %s: expected seconds, 0 to 3600",
                                       a->opts[i].value);
            break;
        default: return unsupported_flag(a->verb, a->opts[i].id);
        }
    }
    int failed = 0;
    for (int i = 0; i < a->nops; i++) {
        struct bl_error err = {0};
        const char *tail = !strcmp(verb, "rm") ? (force ? "?force=true" : "?force=false")
                         : !strcmp(verb, "stop") ? "/stop" : "/start";
        json_t *body = !strcmp(verb, "stop") ? json_pack("{s:I}", "timeout_seconds",
                                                         (json_int_t)secs) : NULL;
        if (box_call(cl, !strcmp(verb, "rm") ? "DELETE" : "POST", a->ops[i], tail, body, NULL,
                     &err) < 0) {
            fprintf(stderr, "boxlite: %s %s: %s\n", verb, a->ops[i], err.msg);
            failed = 1;
        } else {
            printf("%s\n", a->ops[i]);
        }
    }
    return failed ? 125 : 0;
}

/* cp: a tar stream each way (docs/api.yaml Files). Out of the box, the archive's root entry
 * (the path's last component) is unpacked as an untrusted archive in a private folder
 * beside the destination, then renamed into place: DEST, or DEST/NAME when DEST is a
 * folder, as `boxlite cp` does locally. Into the box, SRC's tree is archived and PATH
 * becomes the copy (the library's boxlite_box_copy_in rule, as locally). */
static int remote_cp(struct bl_client *cl, const struct cli_args *a)
{
    unsigned long long max = 0;
    for (int i = 0; i < a->nopts; i++) {
        if (a->opts[i].id != FL_MAX_SIZE)
            return unsupported_flag(a->verb, a->opts[i].id);
        long long n = cli_parse_bytes(a->opts[i].value);
        if (n <= 0)
            return cli_usage_error("cp: --max-size %s: expected a size such as 1048576, 512k, "
                                   "1m or 2g", a->opts[i].value);
        max = (unsigned long long)n;
    }
    const char *src = a->ops[0], *dst = a->ops[1];
    bool out = strchr(src, ':') != NULL;
    if (!out && max)
        return cli_usage_error("cp: --max-size bounds a copy out of a box (BOX:PATH HOSTPATH)");
    char *spec = strdup(out ? src : dst);
    char *colon = spec ? strchr(spec, ':') : NULL;
    if (!colon) {
        free(spec);
        return cli_usage_error("cp: one side must be BOX:PATH");
    }
    *colon = 0;
    const char *box = spec, *gpath = colon + 1;
    struct bl_error err = {0};
    int r = 0;
    char tmpl[4200];
    char *hd = strdup(out ? dst : src), *parent = hd ? dirname(hd) : ".";
    snprintf(tmpl, sizeof tmpl, "%s/.boxlite-cp.XXXXXX", out ? parent : "/tmp");
    if (!mkdtemp(tmpl)) {
        r = bl_errno(&err, errno, "cp: a scratch folder beside %s", out ? dst : src);
        goto done;
    }
    char tarp[4300];
    snprintf(tarp, sizeof tarp, "%s/t.tar", tmpl);
    int fd = open(tarp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = bl_errno(&err, errno, "cp: %s", tarp);
        goto done_tmp;
    }
    if (out) {
        const char *name = strrchr(gpath, '/');
        name = name && name[1] ? name + 1 : NULL;
        if (!name || !strcmp(name, ".") || !strcmp(name, "..")) {
            r = bl_err(&err, BOXLITE_ERR_INVALID, "cp: %s: name a file or folder of the box",
                       gpath);
        } else if ((r = client_files_get(cl, box, gpath, fd, max ? max + max / 8 + 65536 : 0,
                                         &err)) >= 0) {
            char x[4400], from[4700], to[8400];
            snprintf(x, sizeof x, "%s/x", tmpl);
            struct tar_untrusted u = { .max_bytes = max };
            struct stat st;
            if (lseek(fd, 0, SEEK_SET) != 0)
                r = bl_errno(&err, errno, "cp");
            else if ((r = tar_extract_untrusted(fd, x, &u, NULL, &err)) >= 0) {
                snprintf(from, sizeof from, "%s/%s", x, name);
                if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode))
                    snprintf(to, sizeof to, "%s/%s", dst, name);
                else
                    snprintf(to, sizeof to, "%s", dst);
                if (lstat(from, &st) != 0)
                    r = bl_err(&err, BOXLITE_ERR_PROTOCOL,
                               "cp: the server's archive does not hold %s", name);
                else if (rename(from, to) != 0)
                    r = bl_errno(&err, errno, "cp: %s", to);
            }
        }
    } else {
        /* the library's rule, as locally: PATH becomes the copy */
        if ((r = tar_write(fd, src, NULL, &err)) >= 0)
            r = client_files_put(cl, box, gpath, fd, &err);
    }
    close(fd);
done_tmp:
    io_remove_tree(tmpl);
done:
    free(hd);
    free(spec);
    return r < 0 ? fail_err("cp", &err) : 0;
}

/* export BOX FILE: the server's archive written beside FILE and renamed onto it, so FILE
 * appears whole or not at all (as locally). import FILE [--name N]: prints the box's id. */
static int remote_export(struct bl_client *cl, const struct cli_args *a)
{
    const char *file = a->ops[1];
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", file);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return cli_usage_error("export: %s: %s", file, strerror(errno));
    struct bl_error err = {0};
    int r = client_box_export(cl, a->ops[0], fd, &err);
    if (r >= 0 && (fsync(fd) != 0 || fchmod(fd, 0644) != 0 || rename(tmp, file) != 0))
        r = bl_errno(&err, errno, "export: %s", file);
    close(fd);
    if (r < 0) {
        unlink(tmp);
        return fail_err("export", &err);
    }
    return 0;
}

static int remote_import(struct bl_client *cl, const struct cli_args *a)
{
    const char *name = NULL;
    for (int i = 0; i < a->nopts; i++)
        if (a->opts[i].id == FL_NAME)
            name = a->opts[i].value;
    int fd = open(a->ops[0], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_usage_error("import: %s: %s", a->ops[0], strerror(errno));
    struct bl_error err = {0};
    json_t *box = NULL;
    int r = client_box_import(cl, fd, name, &box, &err);
    close(fd);
    if (r < 0)
        return fail_err("import", &err);
    const char *id = json_string_value(json_object_get(box, "box_id"));
    printf("%s\n", id ? id : "");
    json_decref(box);
    return id ? 0 : 125;
}

int cli_remote(struct cli *c, const struct cli_args *a)
{
    const char *name = a->verb->name;
    /* what needs no box: the tool's own verbs, and serve (a server is local by nature) */
    if (!strcmp(name, "help") || !strcmp(name, "version") || !strcmp(name, "completion") ||
        !strcmp(name, "serve"))
        return a->verb->run(c, a);
    static const char *const remote[] = { "run", "exec", "ps", "ls", "inspect", "rm",
                                          "stop", "start", "cp", "export", "import", "logs",
                                          "attach", "stats", "top", "doctor", NULL };
    bool ok = false, manage = cli_remote_manages(name);
    for (size_t i = 0; remote[i]; i++)
        ok |= !strcmp(remote[i], name);
    if (!ok && !manage)
        return unsupported(name);
    struct bl_client *cl = NULL;
    struct bl_error err = {0};
    struct client_opts o = remote_opts(c);
    if (client_new(&o, &cl, &err) < 0)
        return fail_err("--url", &err);
    int r;
    if (manage)
        r = cli_remote_manage(cl, a);
    else if (!strcmp(name, "run"))
        r = remote_run(c, cl, a);
    else if (!strcmp(name, "exec"))
        r = remote_exec(c, cl, a);
    else if (!strcmp(name, "ps") || !strcmp(name, "ls"))
        r = remote_ps(cl, a);
    else if (!strcmp(name, "inspect"))
        r = remote_inspect(cl, a);
    else if (!strcmp(name, "cp"))
        r = remote_cp(cl, a);
    else if (!strcmp(name, "export"))
        r = remote_export(cl, a);
    else if (!strcmp(name, "import"))
        r = remote_import(cl, a);
    else if (!strcmp(name, "logs"))
        r = remote_logs(cl, a);
    else if (!strcmp(name, "attach"))
        r = remote_attach(c, cl, a);
    else if (!strcmp(name, "stats"))
        r = remote_stats(cl, a);
    else if (!strcmp(name, "top"))
        r = remote_top(cl, a);
    else if (!strcmp(name, "doctor"))
        r = remote_doctor(c, cl, a);
    else
        r = remote_each(cl, a);
    client_free(cl);
    return r;
}
