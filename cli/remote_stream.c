// SPDX-License-Identifier: Apache-2.0
/* boxlite --url: the verbs that follow a box rather than act on it once. logs and attach
 * read the box's console as Server-Sent Events (GET .../logs, docs/api.yaml: ours, beyond
 * BoxLite's document), attach types our input on the main process's stdin (POST
 * .../stdin); stats reads GET .../metrics (the library's figures under "boxlite") through
 * the same table code as locally (cli_stats); top runs the image's ps as an execution.
 * Flags mean what they mean locally; one the API cannot carry is refused (125). */
#include "remote.h"

#include "common/io.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- logs and attach: the console as events ------------------------------------------- */

struct log_out {
    void (*on_open)(void *ud); /* called at the first event: the log is open */
    void *open_ud;
    bool opened;
    bool escape;          /* show the box's control characters, not obey them */
    struct term_escape st;
    int status;           /* attach: the main process's, once the end came */
    char error[256];
};

static int on_log(void *ud, const struct client_sse_event *ev)
{
    struct log_out *o = ud;
    struct client_log_event e;
    struct bl_error err = {0};
    if (client_log_event(ev, &e, &err) < 0) {
        snprintf(o->error, sizeof o->error, "%s", err.msg);
        return -1;
    }
    if (!o->opened && o->on_open)
        o->on_open(o->open_ud);
    o->opened = true;
    if (e.kind == CL_LOG) {
        if (o->escape)
            term_escape_write(&o->st, 1, (const char *)e.bytes, e.len);
        else
            io_write_all(1, e.bytes, e.len);
        free(e.bytes);
        return 0;
    }
    /* the end: how the box's main process ended, as `boxlite wait` says it */
    json_t *info = json_pack("{s:b,s:b}", "oom_killed", e.oom_killed, "stopped_by_itself",
                             e.stopped_by_itself);
    if (info && e.exit_code >= 0)
        json_object_set_new(info, "exit_code", json_integer(e.exit_code));
    o->status = cli_stop_status(info);
    json_decref(info);
    snprintf(o->error, sizeof o->error, "%s", e.error);
    return 1;
}

/* The console from GET .../logs?QUERY to our stdout; 0, or 125 after saying why. */
static int follow_log(struct bl_client *cl, const char *box, const char *query, bool escape,
                      const char *verb, struct log_out *o)
{
    char *path = box_path(cl, box, query);
    struct bl_error err = {0};
    o->escape = escape;
    int r = path ? client_sse_get(cl, path, on_log, o, &err)
                 : bl_err(&err, BOXLITE_ERR_NOMEM, "out of memory");
    free(path);
    if (escape)
        term_escape_flush(&o->st, 1);
    if (r < 0 && o->error[0] && !err.msg[0])
        bl_err(&err, BOXLITE_ERR_PROTOCOL, "%s", o->error);
    if (r < 0)
        return fail_err(verb, &err);
    if (o->error[0]) { /* the server could not read the log to its end */
        fprintf(stderr, "boxlite: %s: %s\n", verb, o->error);
        return 125;
    }
    return 0;
}

/* A query argument appended: "&key=value", the value escaped. */
static int query_add(struct bl_client *cl, char *q, size_t cap, const char *key,
                     const char *value)
{
    char *v = client_escape(cl, value);
    size_t have = strlen(q);
    int n = v ? snprintf(q + have, cap - have, "%s%s=%s", have > 5 ? "&" : "", key, v) : -1;
    free(v);
    return n < 0 || (size_t)n >= cap - have ? cli_usage_error("logs: too long a query") : 0;
}

int remote_logs(struct bl_client *cl, const struct cli_args *a)
{
    char q[1024] = "/logs?";
    bool raw = false;
    int r = 0;
    for (int i = 0; i < a->nopts && !r; i++) {
        const char *v = a->opts[i].value;
        switch (a->opts[i].id) {
        case FL_FOLLOW: r = query_add(cl, q, sizeof q, "follow", "true"); break;
        case FL_TIMESTAMPS: r = query_add(cl, q, sizeof q, "timestamps", "true"); break;
        case FL_RAW: raw = true; break;
        case FL_SINCE: r = query_add(cl, q, sizeof q, "since", v); break;
        case FL_UNTIL: r = query_add(cl, q, sizeof q, "until", v); break;
        case FL_TAIL: {
            long long n;
            if (strcmp(v, "all") && cli_parse_ll(v, 0, 1LL << 40, &n))
                r = cli_usage_error("logs --tail %s: expected a number of lines or all", v);
            else
                r = query_add(cl, q, sizeof q, "tail", v);
            break;
        }
        default: r = unsupported_flag(a->verb, a->opts[i].id); /* --vmm: the host's */
        }
    }
    if (r)
        return r;
    struct log_out o = {0};
    return follow_log(cl, a->ops[0], q, !raw && isatty(1), "logs", &o);
}

/* attach's input: our stdin to the main process's, each read a POST .../stdin on a
 * connection of its own; on a terminal Ctrl-P Ctrl-Q detaches (Docker's keys). */
struct attach_in {
    struct client_opts opts;
    char *box;
    bool keys; /* Ctrl-P Ctrl-Q detaches */
    bool tty;  /* the box's terminal follows our window's size */
};

/* POST .../stdin?cols=&rows=: the box's terminal sized as ours. */
static void resize(struct bl_client *cl, const char *box, unsigned rows, unsigned cols)
{
    char q[64];
    snprintf(q, sizeof q, "/stdin?cols=%u&rows=%u", cols, rows);
    char *path = box_path(cl, box, q);
    struct bl_error err = {0};
    if (path && client_post_bytes(cl, path, "", 0, NULL, &err) < 0)
        fprintf(stderr, "boxlite: attach: resize: %s\r\n", err.msg);
    free(path);
}

static void *pump_attach(void *arg)
{
    struct attach_in *p = arg;
    struct bl_client *cl = NULL;
    struct bl_error err = {0};
    char *path = NULL;
    if (client_new(&p->opts, &cl, &err) < 0 || !(path = box_path(cl, p->box, "/stdin"))) {
        fprintf(stderr, "boxlite: attach: stdin: %s\r\n", err.msg[0] ? err.msg : "out of memory");
        client_free(cl);
        free(p->box);
        free(p);
        return NULL;
    }
    static char buf[1 << 19]; /* under the server's body limit (1 MiB) */
    bool ctrl_p = false;
    struct winsize ws;
    if (p->tty && ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
        resize(cl, p->box, ws.ws_row, ws.ws_col); /* the box's terminal is ours in size */
    for (;;) {
        int rows, cols;
        if (p->tty && cli_tty_resized(&rows, &cols))
            resize(cl, p->box, (unsigned)rows, (unsigned)cols);
        struct pollfd pf = { .fd = 0, .events = POLLIN };
        if (p->tty && poll(&pf, 1, 250) == 0)
            continue; /* a look at the window's size now and then */
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* our end of input leaves the box's stdin open, as Docker's */
        for (ssize_t i = 0; p->keys && i < n; i++) {
            if (ctrl_p && buf[i] == 0x11) {
                cli_tty_restore();
                fprintf(stderr, "\r\nboxlite: detached from %s (it runs on)\r\n", p->box);
                _exit(0);
            }
            ctrl_p = buf[i] == 0x10;
        }
        if (client_post_bytes(cl, path, buf, (size_t)n, NULL, &err) < 0) {
            fprintf(stderr, "boxlite: attach: stdin: %s\r\n", err.msg);
            break;
        }
    }
    free(path);
    client_free(cl);
    free(p->box);
    free(p);
    return NULL;
}

static void start_pump(void *ud)
{
    struct attach_in *pump = ud;
    pthread_t th;
    if (!pump->box || pthread_create(&th, NULL, pump_attach, pump)) {
        fprintf(stderr, "boxlite: attach: our input cannot be passed on (output only)\n");
        free(pump->box);
        free(pump);
        return;
    }
    pthread_detach(th); /* the thread's now: it may wait on our stdin when we exit */
}

/* --sig-proxy (the default, as locally): the signals we get go to the box's main process
 * (POST .../kill), waited for by a thread of its own with its own connection while the
 * attach lasts; every other thread keeps them blocked. */
struct sig_proxy {
    struct client_opts opts;
    const char *box;
    atomic_bool done;
    pthread_t thread;
    sigset_t set, old;
};
static const int proxied[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void *proxy_signals(void *ud)
{
    struct sig_proxy *p = ud;
    struct bl_client *cl = NULL;
    struct bl_error err = {0};
    if (client_new(&p->opts, &cl, &err) < 0)
        fprintf(stderr, "boxlite: attach: signals cannot be passed on: %s\n", err.msg);
    const struct timespec tick = { 0, 200 * 1000 * 1000 }; /* to see done */
    while (!atomic_load(&p->done)) {
        int sig = sigtimedwait(&p->set, NULL, &tick);
        if (sig <= 0 || !cl)
            continue;
        if (box_call(cl, "POST", p->box, "/kill", json_pack("{s:i}", "signal", sig), NULL,
                     &err) < 0)
            fprintf(stderr, "boxlite: attach: signal %d: %s\n", sig, err.msg);
    }
    client_free(cl);
    return NULL;
}

/* Blocks the proxied signals here (threads started later inherit it) and starts the
 * proxy; false when it cannot (the signals then end us, as --sig-proxy=false). */
static bool sig_proxy_start(struct sig_proxy *p, struct cli *c, const char *box)
{
    *p = (struct sig_proxy){ .opts = remote_opts(c), .box = box };
    sigemptyset(&p->set);
    for (size_t i = 0; i < sizeof proxied / sizeof proxied[0]; i++)
        sigaddset(&p->set, proxied[i]);
    pthread_sigmask(SIG_BLOCK, &p->set, &p->old);
    if (pthread_create(&p->thread, NULL, proxy_signals, p) == 0)
        return true;
    pthread_sigmask(SIG_SETMASK, &p->old, NULL);
    return false;
}

static void sig_proxy_stop(struct sig_proxy *p)
{
    atomic_store(&p->done, true);
    pthread_join(p->thread, NULL);
    pthread_sigmask(SIG_SETMASK, &p->old, NULL);
}

int remote_attach(struct cli *c, struct bl_client *cl, const struct cli_args *a)
{
    bool raw = false, no_stdin = false, sig_proxy = true;
    for (int i = 0; i < a->nopts; i++) {
        switch (a->opts[i].id) {
        case FL_RAW: raw = true; break;
        case FL_NO_STDIN: no_stdin = true; break;
        case FL_SIG_PROXY: sig_proxy = false; break; /* recorded only as =false */
        default: return unsupported_flag(a->verb, a->opts[i].id);
        }
    }
    const char *box = a->ops[0];
    struct bl_error err = {0};
    json_t *b = NULL;
    if (box_call(cl, "GET", box, NULL, NULL, &b, &err) < 0)
        return fail_err("attach", &err);
    const char *status = json_string_value(json_object_get(b, "status"));
    if (!status || (strcmp(status, "running") && strcmp(status, "paused"))) {
        fprintf(stderr, "boxlite: attach %s: the box is %s (start it first)\n", box,
                status ? status : "unknown");
        json_decref(b);
        return 125;
    }
    bool tty = json_is_true(json_object_get(b, "tty"));
    bool in = !no_stdin && json_is_true(json_object_get(b, "stdin_open"));
    json_decref(b);
    if (tty && in)
        cli_tty_raw();
    /* Docker's: on a terminal, its keys make the signals */
    struct sig_proxy sp;
    bool proxy = sig_proxy && !tty && sig_proxy_start(&sp, c, box);
    struct attach_in *pump = in ? calloc(1, sizeof *pump) : NULL;
    if (pump)
        *pump = (struct attach_in){ .opts = remote_opts(c), .box = strdup(box),
                                    .keys = tty && isatty(0), .tty = tty && isatty(0) };
    /* from now on (what came before is `logs`'), until the box stops; our input goes once
     * the log is open */
    struct log_out o = { .on_open = pump ? start_pump : NULL, .open_ud = pump };
    int r = follow_log(cl, box, "/logs?follow=true&tail=0", !raw && !tty && isatty(1), "attach",
                   &o);
    if (pump && !o.opened) { /* never started: still ours */
        free(pump->box);
        free(pump);
    }
    if (proxy)
        sig_proxy_stop(&sp);
    cli_tty_restore();
    return r ? r : o.status;
}

/* ---- stats: the server's metrics through the local table ------------------------------- */

/* A box of the API ({"box_id","name","status","memory_mib"}) as the library's info. */
static json_t *info_of(json_t *box)
{
    json_t *i = json_object();
    json_object_set(i, "id", json_object_get(box, "box_id"));
    json_object_set(i, "name", json_object_get(box, "name"));
    json_object_set(i, "state", json_object_get(box, "status"));
    json_object_set(i, "memory_mib", json_object_get(box, "memory_mib"));
    return i;
}

static void remote_take(void *ud, const char *key, json_t **metrics, json_t **info)
{
    struct bl_client *cl = ud;
    struct bl_error err = {0};
    json_t *b = NULL, *m = NULL;
    if (box_call(cl, "GET", key, NULL, NULL, &b, &err) >= 0 &&
        box_call(cl, "GET", key, "/metrics", NULL, &m, &err) >= 0 &&
        json_is_object(json_object_get(m, "boxlite"))) {
        *metrics = json_incref(json_object_get(m, "boxlite"));
        *info = info_of(b);
    }
    json_decref(b);
    json_decref(m);
}

static int remote_keys(void *ud, const struct cli_args *a, char (**out)[80], int *n)
{
    struct bl_client *cl = ud;
    struct bl_error err = {0};
    json_t *list = NULL;
    if (a->nops) {
        list = json_array();
        for (int i = 0; i < a->nops; i++) {
            json_t *b = NULL;
            if (box_call(cl, "GET", a->ops[i], NULL, NULL, &b, &err) < 0) {
                json_decref(list);
                return fail_err("stats", &err);
            }
            json_array_append_new(list, b);
        }
    } else {
        json_t *ans = NULL;
        /* one page of the running boxes: the API's largest */
        if (client_call(cl, "GET", "/boxes?pageSize=1000&status=running", NULL, &ans, &err) < 0)
            return fail_err("stats", &err);
        list = json_incref(json_object_get(ans, "boxes"));
        json_decref(ans);
    }
    *n = (int)json_array_size(list);
    *out = calloc((size_t)*n + 1, sizeof **out);
    for (int i = 0; *out && i < *n; i++)
        snprintf((*out)[i], sizeof (*out)[i], "%s",
                 json_string_value(json_object_get(json_array_get(list, (size_t)i), "box_id"))
                     ?: "");
    json_decref(list);
    return *out ? 0 : cli_usage_error("out of memory");
}

int remote_stats(struct bl_client *cl, const struct cli_args *a)
{
    struct stats_source src = { remote_keys, remote_take, cl };
    return cli_stats(a, &src);
}

/* ---- top: the box's ps, as an execution -------------------------------------------------- */

struct captured {
    int code;
    char error[256];
};

static int on_top(void *ud, const struct client_exec_event *ev)
{
    struct captured *o = ud;
    if (ev->kind == CX_STDOUT || ev->kind == CX_STDERR)
        io_write_all(ev->kind == CX_STDOUT ? 1 : 2, ev->bytes, ev->len);
    else {
        o->code = ev->exit_code;
        snprintf(o->error, sizeof o->error, "%s", ev->error);
    }
    return 0;
}

/* argv in the box, its output ours: its status, 127 when the box lacks the program, or
 * -1 with err. */
static int run_in(struct bl_client *cl, const char *box, const char *const *argv,
                  struct bl_error *err)
{
    json_t *req = json_pack("{s:s,s:[]}", "command", argv[0], "args");
    for (size_t i = 1; argv[i]; i++)
        json_array_append_new(json_object_get(req, "args"), json_string(argv[i]));
    json_t *ans = NULL;
    if (box_call(cl, "POST", box, "/exec", req, &ans, err) < 0)
        return strstr(err->msg, "No such file or directory") ? 127 : -1;
    char id[129];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(ans, "execution_id")) ?: "");
    json_decref(ans);
    client_exec_input(cl, box, id, "", 0, true, err); /* no input: ps reads none */
    struct captured o = { .code = -1 };
    if (client_exec_output(cl, box, id, on_top, &o, err) < 0)
        return -1;
    if (o.code < 0 && strstr(o.error, "No such file or directory"))
        return 127;
    if (o.code < 0)
        return bl_err(err, BOXLITE_ERR_IO, "%s", o.error[0] ? o.error : "no exit status");
    return o.code;
}

int remote_top(struct bl_client *cl, const struct cli_args *a)
{
    const char *argv[66] = { "ps", "-ef", NULL };
    for (int i = 1, n = 1; i < a->nops && n < 65; i++) {
        argv[n++] = a->ops[i];
        argv[n] = NULL;
    }
    struct bl_error err = {0};
    int st = run_in(cl, a->ops[0], argv, &err);
    if (st == 127) { /* no ps: /proc read by the image's sh, as locally (cmd_top) */
        st = run_in(cl, a->ops[0], cli_top_proc_ls, &err);
        if (st == 127) {
            fprintf(stderr, "boxlite: top: the box has neither ps nor /bin/sh to list its "
                            "processes with\n");
            return 125;
        }
    }
    return st < 0 ? fail_err("top", &err) : st;
}
