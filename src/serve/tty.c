// SPDX-License-Identifier: Apache-2.0
/* The interactive TTY (docs/api.yaml GET .../exec/tty): a WebSocket (RFC 6455, ws.c) over
 * libmicrohttpd's protocol upgrade, one execution with a terminal per connection. Binary
 * frames carry the terminal's bytes both ways; the client's text frames are resize
 * messages, the server's last text frame is {"type":"exit","exit_code":N}, then a close
 * (1000). The command is checked and started before the upgrade, so a bad request or a
 * box that is not there gets an HTTP answer in the error model, not a dead socket.
 * Each session runs on a thread of its own (with TLS, libmicrohttpd relays the socket only
 * once the upgrade handler has returned); the server's shutdown sends its process SIGTERM
 * (SIGKILL 10 s later) and waits for the session to end. A client that hangs up, breaks
 * the protocol or stops reading for 30 s ends its session, and the execution is freed
 * (the agent kills a process still running). */
#include "serve/server.h"

#include "common/clock.h"
#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TTY_ARGS_MAX 64
#define WRITE_TIMEOUT_MS 30000

static int64_t now_ms(void)
{
    return (int64_t)mono_ms();
}

struct tty_session {
    struct serve_ttys *reg;
    int refs;                   /* the request's and the session thread's */
    bool started;               /* the upgrade handler ran */
    boxlite_box *box;
    boxlite_exec *ex;
    char box_id[40];
    MHD_socket sock;
    struct MHD_UpgradeResponseHandle *urh;
    uint8_t *in;                /* the client's bytes not yet used */
    size_t in_len;
    int wake[2];                /* the server's shutdown */
    struct tty_session *next;
};

struct serve_ttys {
    pthread_mutex_t lock;
    pthread_cond_t gone;
    struct tty_session *list;
    int n;
    bool stopping;
};

struct serve_ttys *serve_ttys_new(void)
{
    struct serve_ttys *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->gone, NULL);
    return t;
}

void serve_ttys_shutdown(struct serve_ttys *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    for (struct tty_session *s = t->list; s; s = s->next)
        if (s->started && write(s->wake[1], "x", 1) < 0) {
            /* the pipe holds a byte already */
        }
    /* every session ends within its SIGKILL's grace and a close handshake */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    while (t->n > 0 && pthread_cond_timedwait(&t->gone, &t->lock, &until) == 0) {
    }
    pthread_mutex_unlock(&t->lock);
}

void serve_ttys_free(struct serve_ttys *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->gone);
    free(t);
}

static void session_unref(struct tty_session *s)
{
    struct serve_ttys *t = s->reg;
    pthread_mutex_lock(&t->lock);
    bool last = --s->refs == 0;
    if (last) {
        for (struct tty_session **p = &t->list; *p; p = &(*p)->next)
            if (*p == s) {
                *p = s->next;
                break;
            }
        t->n--;
        pthread_cond_broadcast(&t->gone);
    }
    pthread_mutex_unlock(&t->lock);
    if (!last)
        return;
    boxlite_exec_free(s->ex); /* a process still running is killed by the agent */
    boxlite_box_free(s->box);
    close(s->wake[0]);
    close(s->wake[1]);
    free(s->in);
    free(s);
}

void serve_tty_release(void *session)
{
    if (session)
        session_unref(session);
}

/* One frame to the client; -1 when it is gone or stopped reading. */
static int send_frame(struct tty_session *s, unsigned op, const void *p, size_t n)
{
    uint8_t h[10];
    size_t hl = ws_header(h, op, n);
    int64_t until = now_ms() + WRITE_TIMEOUT_MS;
    if (io_write_all_until(s->sock, h, hl, until) != 0)
        return -1;
    return n ? (io_write_all_until(s->sock, p, n, until) != 0 ? -1 : 0) : 0;
}

static void send_close(struct tty_session *s, int code, const char *why)
{
    uint8_t b[125];
    size_t n = 2, wl = why ? strlen(why) : 0;
    b[0] = (uint8_t)(code >> 8);
    b[1] = (uint8_t)code;
    if (wl > sizeof b - 2)
        wl = sizeof b - 2;
    if (wl)
        memcpy(b + 2, why, wl);
    send_frame(s, 0x8, b, n + wl);
}

/* The client's bytes, frame by frame: 1 when the session is to end. */
static int client_frames(struct tty_session *s, struct ws_in *st)
{
    size_t off = 0;
    int end = 0;
    while (!end && off < s->in_len) {
        struct ws_ev ev;
        size_t used = ws_in_step(st, s->in + off, s->in_len - off, &ev);
        switch (ev.kind) {
        case WS_NEED_MORE:
            break;
        case WS_STDIN:
            if (ev.len && boxlite_exec_write_stdin(s->ex, ev.data, ev.len) != BOXLITE_OK)
                end = 0; /* the process has closed its terminal: its end comes by done_fd */
            break;
        case WS_RESIZE:
            boxlite_exec_resize(s->ex, ev.rows, ev.cols);
            break;
        case WS_PING:
            if (send_frame(s, 0xa, ev.data, ev.len))
                end = 1;
            break;
        case WS_PONG:
            break;
        case WS_CLOSE:
            /* the client hangs up: the terminal's process gets SIGHUP, as a hung-up line's */
            boxlite_exec_signal(s->ex, SIGHUP);
            send_close(s, ev.code == 1005 ? 1000 : ev.code, NULL);
            end = 1;
            break;
        case WS_ERROR:
            send_close(s, ev.code, ev.why);
            end = 1;
            break;
        }
        if (!used)
            break;
        off += used;
    }
    memmove(s->in, s->in + off, s->in_len - off);
    s->in_len -= off;
    return end;
}

/* The process has ended and its output is all sent: the exit message, then the close. */
static void finish(struct tty_session *s)
{
    boxlite_exec_result res = {0};
    bool ok = boxlite_exec_wait(s->ex, 5000, &res) == BOXLITE_OK;
    /* as the SSE exit event: -1 with the reason when the process never ran */
    json_t *o = json_pack("{s:s,s:i}", "type", "exit", "exit_code",
                          !ok ? -1 : res.signal ? 128 + res.signal : res.exit_code);
    if (o && !ok)
        json_object_set_new(o, "error", json_string(boxlite_errmsg()));
    char *msg = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    int r = msg ? send_frame(s, 0x1, msg, strlen(msg)) : -1;
    free(msg);
    if (r)
        return;
    send_close(s, 1000, NULL);
    /* the client's close answers ours (section 7.1.2); not waited on for long */
    struct pollfd p = { .fd = s->sock, .events = POLLIN };
    int64_t until = now_ms() + 5000;
    struct ws_in st = {0};
    while (now_ms() < until && poll(&p, 1, (int)(until - now_ms())) > 0) {
        ssize_t r = recv(s->sock, s->in, WS_FRAME_MAX + 14, 0);
        if (r <= 0)
            break;
        struct ws_ev ev;
        s->in_len = (size_t)r;
        ws_in_step(&st, s->in, s->in_len, &ev);
        if (ev.kind == WS_CLOSE || ev.kind == WS_ERROR)
            break;
    }
}

static void *session_main(void *arg)
{
    struct tty_session *s = arg;
    struct ws_in st = {0};
    int out = boxlite_exec_stdout_fd(s->ex), done = boxlite_exec_done_fd(s->ex);
    bool out_eof = out < 0, ended = false, kill_sent = false;
    int64_t kill_at = -1;
    uint8_t buf[65536];
    int end = s->in_len ? client_frames(s, &st) : 0; /* bytes sent with the handshake */
    while (!end) {
        struct pollfd p[4] = {
            { .fd = s->sock, .events = POLLIN },
            { .fd = out_eof ? -1 : out, .events = POLLIN },
            { .fd = ended ? -1 : done, .events = POLLIN },
            { .fd = s->wake[0], .events = POLLIN },
        };
        int timeout = kill_at < 0 ? -1 : (int)(kill_at > now_ms() ? kill_at - now_ms() : 0);
        if (poll(p, 4, timeout) < 0 && errno != EINTR)
            break;
        if (kill_at >= 0 && now_ms() >= kill_at && !kill_sent) {
            boxlite_exec_signal(s->ex, SIGKILL);
            kill_sent = true;
        }
        if (p[3].revents) {
            char x;
            if (read(s->wake[0], &x, 1) == 1 && kill_at < 0) {
                boxlite_exec_signal(s->ex, SIGTERM); /* the server stops */
                kill_at = now_ms() + 10000;
            }
        }
        if (p[1].revents) {
            ssize_t r = read(out, buf, sizeof buf);
            if (r > 0 && send_frame(s, 0x2, buf, (size_t)r))
                break; /* the client is gone or stalled */
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                out_eof = true;
        }
        if (p[2].revents)
            ended = true;
        if (ended && out_eof) {
            finish(s);
            break;
        }
        if (p[0].revents) {
            ssize_t r = recv(s->sock, s->in + s->in_len, WS_FRAME_MAX + 14 - s->in_len, 0);
            if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EINTR))) {
                boxlite_exec_signal(s->ex, SIGHUP); /* the client vanished: a hang-up */
                break;
            }
            if (r > 0) {
                s->in_len += (size_t)r;
                end = client_frames(s, &st);
            }
        }
    }
    MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
    session_unref(s);
    return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *req_cls, const char *extra,
                       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    (void)c;
    (void)req_cls;
    struct tty_session *s = cls;
    s->sock = sock;
    s->urh = urh;
    /* early bytes from the client: at most what a frame may be, more is a protocol error */
    if (extra_len > WS_FRAME_MAX + 14)
        extra_len = WS_FRAME_MAX + 14;
    memcpy(s->in, extra, extra_len);
    s->in_len = extra_len;
    pthread_mutex_lock(&s->reg->lock);
    s->started = true;
    s->refs++;
    bool stopping = s->reg->stopping;
    pthread_mutex_unlock(&s->reg->lock);
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (stopping || pthread_create(&th, &at, session_main, s) != 0) {
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        session_unref(s);
    }
    pthread_attr_destroy(&at);
}

struct args_ctx {
    const char *argv[TTY_ARGS_MAX + 2];
    const char *env[TTY_ARGS_MAX + 1]; /* "K=V", as ExecRequest's env becomes */
    int n, nenv;
    const char *bad;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct args_ctx *a = cls;
    bool arg = !strcmp(key, "args"), env = !strcmp(key, "env");
    if (!arg && !env)
        return MHD_YES;
    const char *v = value ? value : "";
    if (arg ? a->n >= TTY_ARGS_MAX + 1 : a->nenv >= TTY_ARGS_MAX) {
        a->bad = arg ? "args: at most 64" : "env: at most 64";
        return MHD_NO;
    }
    const char *eq = strchr(v, '=');
    if (env && (!eq || eq == v)) {
        a->bad = "env: each one KEY=VALUE, KEY not empty";
        return MHD_NO;
    }
    if (arg)
        a->argv[a->n++] = v;
    else
        a->env[a->nenv++] = v;
    return MHD_YES;
}

/* A header's comma-separated tokens hold tok (case-insensitive). */
static bool has_token(const char *h, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == n && !strncasecmp(p, tok, n))
            return true;
        p = e;
    }
    return false;
}

static int parse_dim(const char *v, unsigned dflt, unsigned *out)
{
    if (!v) {
        *out = dflt;
        return 0;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > 65535)
        return -1;
    *out = (unsigned)n;
    return 0;
}

enum MHD_Result h_tty(struct MHD_Connection *c, struct req *q)
{
    const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade");
    const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection");
    const char *ver = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    char accept[29];
    if (!up || !has_token(up, "websocket") || !conn || !has_token(conn, "upgrade"))
        return reply_error(c, q, 400, "InvalidArgumentError",
                           "a WebSocket upgrade (Upgrade: websocket, Connection: Upgrade)");
    if (!ver || strcmp(ver, "13") != 0)
        return reply_error(c, q, 400, "InvalidArgumentError", "Sec-WebSocket-Version: 13");
    if (ws_accept_key(key, accept) != 0)
        return reply_error(c, q, 400, "InvalidArgumentError",
                           "Sec-WebSocket-Key: base64 of 16 bytes");
    unsigned cols, rows;
    if (parse_dim(req_arg(c, "cols"), 80, &cols) || parse_dim(req_arg(c, "rows"), 24, &rows))
        return reply_error(c, q, 400, "InvalidArgumentError", "cols, rows: 1 to 65535");
    struct args_ctx a = { .n = 1 };
    const char *cmd = req_arg(c, "command");
    a.argv[0] = cmd && *cmd ? cmd : "sh";
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
    if (a.bad)
        return reply_error(c, q, 400, "InvalidArgumentError", "%s", a.bad);
    a.argv[a.n] = NULL;
    a.env[a.nenv] = NULL;
    /* the working directory as ExecRequest's: at most 4096 bytes */
    const char *cwd = req_arg(c, "working_dir");
    if (cwd && strlen(cwd) > 4096)
        return reply_error(c, q, 400, "InvalidArgumentError", "working_dir: at most 4096 bytes");
    enum MHD_Result res;
    boxlite_box *b = req_box(c, q, &res);
    if (!b)
        return res;
    struct serve_ttys *t = q->s->ttys;
    pthread_mutex_lock(&t->lock);
    int on_box = 0;
    for (struct tty_session *o = t->list; o; o = o->next)
        on_box += !strcmp(o->box_id, boxlite_box_id(b));
    pthread_mutex_unlock(&t->lock);
    if (on_box >= q->s->cfg.max_execs) {
        boxlite_box_free(b);
        return reply_error(c, q, 409, "InvalidStateError",
                           "the box has %d terminal sessions, the most this server allows",
                           q->s->cfg.max_execs);
    }
    boxlite_exec_spec spec = { .size = sizeof spec, .argv = a.argv, .tty = 1, .rows = rows,
                               .cols = cols, .env = a.nenv ? a.env : NULL,
                               .working_dir = cwd };
    boxlite_exec *ex = NULL;
    if (boxlite_exec_start(b, &spec, &ex) != BOXLITE_OK) {
        int code = boxlite_errcode();
        res = code == BOXLITE_ERR_NOT_FOUND || code == BOXLITE_ERR_INVALID
                  ? reply_error(c, q, 400, "ExecutionError", "exec: %s", boxlite_errmsg())
                  : reply_lib_error(c, q, "exec");
        boxlite_box_free(b);
        return res;
    }
    struct tty_session *s = calloc(1, sizeof *s);
    if (!s || !(s->in = malloc(WS_FRAME_MAX + 14)) || pipe2(s->wake, O_CLOEXEC | O_NONBLOCK)) {
        if (s)
            free(s->in);
        free(s);
        boxlite_exec_free(ex);
        boxlite_box_free(b);
        return reply_error(c, q, 500, "InternalError", "out of memory");
    }
    s->reg = t;
    s->refs = 1; /* the request's, released when it completes (serve_tty_release) */
    s->box = b;
    s->ex = ex;
    snprintf(s->box_id, sizeof s->box_id, "%s", boxlite_box_id(b));
    pthread_mutex_lock(&t->lock);
    s->next = t->list;
    t->list = s;
    t->n++;
    pthread_mutex_unlock(&t->lock);
    q->tty = s;
    struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, s);
    if (!r)
        return reply_error(c, q, 500, "InternalError", "out of memory");
    MHD_add_response_header(r, "Upgrade", "websocket");
    MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
    return reply_response(c, q, 101, r);
}
