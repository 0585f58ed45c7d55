// SPDX-License-Identifier: Apache-2.0
/* Executions (docs/api.yaml tag Execution): POST .../exec starts one and answers its id at
 * once; a pump thread per execution turns its stdout and stderr into numbered Server-Sent
 * Events (WHATWG HTML "server-sent events": id, event, data lines) kept for readers, so a
 * reader that lost its connection reconnects with Last-Event-ID and misses nothing; stdin
 * (X-Close-Stdin), signals, resize and status act on the live execution.
 * Output kept is bounded (max_output): events some reader has received are dropped first;
 * when none can be, the pump stops reading and the process blocks on its full pipe, as it
 * would writing to a slow terminal, rather than the server's memory growing. */
#include "serve/server.h"

#include "common/clock.h"

#include <errno.h>
#include "common/lazy_crypto.h"
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXEC_CHUNK 32768     /* bytes of output per event */
#define EXECS_KEPT 64        /* finished executions kept for status and late readers: with
                              * max_output each, what they may hold is bounded */

struct event {
    uint64_t seq;
    char *text; /* the whole SSE event */
    size_t len;
};

struct sexec {
    char id[40];
    char prefix[SERVE_SEG_MAX + 1];
    char box_id[40];
    char box_name[SERVE_SEG_MAX + 1]; /* the tenant's name for the box, or "" */
    boxlite_box *box;
    boxlite_exec *ex;
    bool tty;
    struct serve_execs *reg;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct event *ev;
    size_t nev, cap;
    uint64_t next_seq;      /* the seq the next event gets (first is 1) */
    uint64_t delivered;     /* highest seq some reader has been given */
    size_t kept_bytes;
    size_t max_bytes;
    bool done, stdin_closed, ending;
    boxlite_exec_result res;
    int error;              /* the wait failed: the status says so */
    char errmsg[256];       /* ... and why (the library's message: "exec x: No such file") */
    long long started_at;   /* wall seconds */
    int refs;
};

struct serve_execs {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct sexec **v;
    size_t n;
    int pumps;              /* pump threads still running */
    int readers;            /* SSE streams still open */
    bool stopping;
};

static void exec_unref(struct sexec *x)
{
    pthread_mutex_lock(&x->lock);
    int left = --x->refs;
    pthread_mutex_unlock(&x->lock);
    if (left)
        return;
    boxlite_exec_free(x->ex);
    boxlite_box_free(x->box);
    for (size_t i = 0; i < x->nev; i++)
        free(x->ev[i].text);
    free(x->ev);
    pthread_mutex_destroy(&x->lock);
    pthread_cond_destroy(&x->cond);
    free(x);
}

struct serve_execs *serve_execs_new(void)
{
    struct serve_execs *e = calloc(1, sizeof *e);
    if (e) {
        pthread_mutex_init(&e->lock, NULL);
        pthread_cond_init(&e->cond, NULL);
    }
    return e;
}

/* Appends an event (the lock held); drops delivered ones, or waits for readers, to stay
 * within max_bytes. false when the server is stopping and nobody will read it. */
static bool push_event(struct sexec *x, const char *type, const char *data_json)
{
    char *text = NULL;
    int n = asprintf(&text, "id: %llu\nevent: %s\ndata: %s\n\n",
                     (unsigned long long)x->next_seq, type, data_json);
    if (n < 0)
        return false;
    while (x->kept_bytes + (size_t)n > x->max_bytes && x->nev) {
        size_t drop = 0;
        while (drop < x->nev && x->ev[drop].seq <= x->delivered &&
               x->kept_bytes + (size_t)n > x->max_bytes) {
            x->kept_bytes -= x->ev[drop].len;
            free(x->ev[drop].text);
            drop++;
        }
        if (drop) {
            memmove(x->ev, x->ev + drop, (x->nev - drop) * sizeof *x->ev);
            x->nev -= drop;
            continue;
        }
        if (x->ending)
            break; /* shutting down: keep it, the limit is passed once */
        pthread_cond_wait(&x->cond, &x->lock); /* a reader takes some */
    }
    if (x->nev == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 64;
        struct event *v = realloc(x->ev, cap * sizeof *v);
        if (!v) {
            free(text);
            return false;
        }
        x->ev = v;
        x->cap = cap;
    }
    x->ev[x->nev++] = (struct event){ x->next_seq++, text, (size_t)n };
    x->kept_bytes += (size_t)n;
    pthread_cond_broadcast(&x->cond);
    return true;
}

static void *pump(void *arg)
{
    struct sexec *x = arg;
    int fds[2] = { boxlite_exec_stdout_fd(x->ex), boxlite_exec_stderr_fd(x->ex) };
    bool open_[2] = { fds[0] >= 0, fds[1] >= 0 };
    static const char *const names[2] = { "stdout", "stderr" };
    char *buf = malloc(EXEC_CHUNK);
    while (buf && (open_[0] || open_[1])) {
        struct pollfd p[2];
        int np = 0, which[2];
        for (int i = 0; i < 2; i++)
            if (open_[i]) {
                p[np] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
                which[np++] = i;
            }
        if (poll(p, (nfds_t)np, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < np; k++) {
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int i = which[k];
            ssize_t n = read(fds[i], buf, EXEC_CHUNK);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n <= 0) {
                open_[i] = false;
                continue;
            }
            char *b64 = serve_base64(buf, (size_t)n);
            json_t *d = b64 ? json_pack("{s:s}", "data", b64) : NULL;
            char *js = d ? json_dumps(d, JSON_COMPACT) : NULL;
            json_decref(d);
            free(b64);
            pthread_mutex_lock(&x->lock);
            if (js)
                push_event(x, names[i], js);
            pthread_mutex_unlock(&x->lock);
            free(js);
        }
    }
    free(buf);
    boxlite_exec_result res = {0};
    int r = boxlite_exec_wait(x->ex, -1, &res);
    pthread_mutex_lock(&x->lock);
    x->res = res;
    x->error = r;
    if (r) /* a program the box lacks is refused here: the client's 127 reads this */
        snprintf(x->errmsg, sizeof x->errmsg, "%s", boxlite_errmsg());
    int code = r ? -1 : res.signal ? 128 + res.signal : res.exit_code;
    json_t *d = json_pack("{s:i,s:I}", "exit_code", code, "duration_ms",
                          (json_int_t)res.duration_ms);
    if (res.signal)
        json_object_set_new(d, "signal", json_integer(res.signal));
    if (r)
        json_object_set_new(d, "error", json_string(x->errmsg));
    else /* ours: a client tells a timeout from a kill without a status GET */
        json_object_set_new(d, "timed_out", json_boolean(res.timed_out));
    char *js = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    if (js)
        push_event(x, "exit", js);
    free(js);
    x->done = true;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    struct serve_execs *e = x->reg;
    exec_unref(x);
    pthread_mutex_lock(&e->lock);
    e->pumps--;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* Registers x (one reference for the registry); finished executions beyond EXECS_KEPT go,
 * oldest first. */
static int registry_add(struct serve_execs *e, struct sexec *x)
{
    pthread_mutex_lock(&e->lock);
    if (e->stopping) {
        pthread_mutex_unlock(&e->lock);
        return -1;
    }
    struct sexec **v = realloc(e->v, (e->n + 1) * sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&e->lock);
        return -1;
    }
    e->v = v;
    e->v[e->n++] = x;
    struct sexec *evict[EXECS_KEPT];
    size_t nevict = 0;
    size_t finished = 0;
    for (size_t i = 0; i < e->n; i++) {
        pthread_mutex_lock(&e->v[i]->lock);
        finished += e->v[i]->done;
        pthread_mutex_unlock(&e->v[i]->lock);
    }
    size_t k = 0;
    for (size_t i = 0; i < e->n; i++) {
        struct sexec *y = e->v[i];
        pthread_mutex_lock(&y->lock);
        bool go = y->done && finished > EXECS_KEPT && nevict < EXECS_KEPT;
        pthread_mutex_unlock(&y->lock);
        if (go) {
            evict[nevict++] = y;
            finished--;
        } else {
            e->v[k++] = y;
        }
    }
    e->n = k;
    pthread_mutex_unlock(&e->lock);
    for (size_t i = 0; i < nevict; i++)
        exec_unref(evict[i]);
    return 0;
}

/* The caller's execution id on box (its id or name), with a reference, or NULL. */
static struct sexec *registry_get(struct serve_execs *e, const struct req *q)
{
    struct sexec *found = NULL;
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->n && !found; i++) {
        struct sexec *x = e->v[i];
        if (!strcmp(x->id, q->route.sub) && !strcmp(x->prefix, q->tok.prefix) &&
            (!strcmp(x->box_id, q->route.box) ||
             (x->box_name[0] && !strcmp(x->box_name, q->route.box)))) {
            pthread_mutex_lock(&x->lock);
            x->refs++;
            pthread_mutex_unlock(&x->lock);
            found = x;
        }
    }
    pthread_mutex_unlock(&e->lock);
    return found;
}

static int running_on(struct serve_execs *e, const char *box_id)
{
    int n = 0;
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->n; i++) {
        pthread_mutex_lock(&e->v[i]->lock);
        n += !e->v[i]->done && !strcmp(e->v[i]->box_id, box_id);
        pthread_mutex_unlock(&e->v[i]->lock);
    }
    pthread_mutex_unlock(&e->lock);
    return n;
}

void serve_execs_shutdown(struct serve_execs *e, int sig)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    for (size_t i = 0; i < e->n; i++) {
        struct sexec *x = e->v[i];
        pthread_mutex_lock(&x->lock);
        x->ending = true;
        if (!x->done)
            boxlite_exec_signal(x->ex, sig);
        pthread_cond_broadcast(&x->cond);
        pthread_mutex_unlock(&x->lock);
    }
    /* the processes had their signal: give them a moment to end, then kill what is left */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (e->pumps > 0)
        if (pthread_cond_timedwait(&e->cond, &e->lock, &until) == ETIMEDOUT)
            break;
    for (size_t i = 0; e->pumps > 0 && i < e->n; i++) {
        pthread_mutex_lock(&e->v[i]->lock);
        if (!e->v[i]->done)
            boxlite_exec_signal(e->v[i]->ex, 9);
        pthread_mutex_unlock(&e->v[i]->lock);
    }
    while (e->pumps > 0)
        pthread_cond_wait(&e->cond, &e->lock);
    /* every stream has its exit event now: let the readers send it before the daemon
     * closes their connections (a reader that does not read is given up on) */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (e->readers > 0)
        if (pthread_cond_timedwait(&e->cond, &e->lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&e->lock);
}

void serve_execs_free(struct serve_execs *e)
{
    if (!e)
        return;
    serve_execs_shutdown(e, 15);
    for (size_t i = 0; i < e->n; i++)
        exec_unref(e->v[i]);
    free(e->v);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    free(e);
}

/* ---- handlers ------------------------------------------------------------------------- */

static enum MHD_Result start_exec(struct MHD_Connection *c, struct req *q)
{
    struct bl_error err = {0};
    struct serve_exec_req er;
    if (serve_exec_parse(q->body, q->len, &er, &err))
        return reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
    enum MHD_Result res;
    boxlite_box *b = req_box(c, q, &res);
    if (!b) {
        serve_exec_req_free(&er);
        return res;
    }
    if (running_on(q->s->execs, boxlite_box_id(b)) >= q->s->cfg.max_execs) {
        serve_exec_req_free(&er);
        boxlite_box_free(b);
        return reply_error(c, q, 409, "InvalidStateError",
                           "the box runs %d executions, the most this server allows",
                           q->s->cfg.max_execs);
    }
    boxlite_exec_spec spec = { .size = sizeof spec,
                               .argv = (const char *const *)er.argv,
                               .env = (const char *const *)er.env,
                               .working_dir = er.working_dir,
                               .user = er.user,
                               .tty = er.tty,
                               .rows = er.rows,
                               .cols = er.cols,
                               .timeout_ms = er.timeout_ms };
    boxlite_exec *ex = NULL;
    int r = boxlite_exec_start(b, &spec, &ex); /* starts the box when it is not running */
    serve_exec_req_free(&er);
    if (r != BOXLITE_OK) {
        int code = boxlite_errcode();
        res = code == BOXLITE_ERR_NOT_FOUND || code == BOXLITE_ERR_INVALID
                  ? reply_error(c, q, 400, "ExecutionError", "exec: %s", boxlite_errmsg())
                  : reply_lib_error(c, q, "exec");
        boxlite_box_free(b);
        return res;
    }
    struct sexec *x = calloc(1, sizeof *x);
    unsigned char rnd[8];
    if (!x || RAND_bytes(rnd, sizeof rnd) != 1) {
        free(x);
        boxlite_exec_signal(ex, 9);
        boxlite_exec_free(ex);
        boxlite_box_free(b);
        return reply_error(c, q, 500, "InternalError", "out of memory");
    }
    snprintf(x->id, sizeof x->id, "exec-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    snprintf(x->prefix, sizeof x->prefix, "%s", q->tok.prefix);
    snprintf(x->box_id, sizeof x->box_id, "%s", boxlite_box_id(b));
    const char *name = boxlite_box_name(b);
    size_t pl = strlen(q->tok.prefix);
    if (name && !strncmp(name, q->tok.prefix, pl) && name[pl] == '.')
        snprintf(x->box_name, sizeof x->box_name, "%s", name + pl + 1);
    x->box = b;
    x->ex = ex;
    x->tty = spec.tty;
    x->reg = q->s->execs;
    x->next_seq = 1;
    x->max_bytes = q->s->cfg.max_output;
    x->started_at = (long long)time(NULL);
    x->refs = 2; /* the registry's and the pump's */
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->cond, NULL);
    if (registry_add(q->s->execs, x) != 0) {
        boxlite_exec_signal(ex, 9);
        x->refs = 1;
        exec_unref(x);
        return reply_error(c, q, 503, "InternalError", "the server is shutting down");
    }
    pthread_mutex_lock(&q->s->execs->lock);
    q->s->execs->pumps++;
    pthread_mutex_unlock(&q->s->execs->lock);
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, pump, x) != 0) {
        /* no pump: the execution ends here, its record says so */
        boxlite_exec_signal(ex, 9);
        pthread_mutex_lock(&x->lock);
        x->done = true;
        x->error = -1;
        pthread_mutex_unlock(&x->lock);
        pthread_mutex_lock(&q->s->execs->lock);
        q->s->execs->pumps--;
        pthread_mutex_unlock(&q->s->execs->lock);
        exec_unref(x);
    }
    pthread_attr_destroy(&at);
    char loc[512];
    snprintf(loc, sizeof loc, "/v1/%s/boxes/%s/executions/%s", q->tok.prefix, x->box_id,
             x->id);
    return reply_json_at(c, q, 201, json_pack("{s:s}", "execution_id", x->id), loc);
}

static json_t *exec_info(struct sexec *x)
{
    pthread_mutex_lock(&x->lock);
    char when[32];
    serve_rfc3339(x->started_at, when);
    const char *status = !x->done            ? "running"
                         : x->res.timed_out  ? "timed_out"
                         : x->res.signal     ? "killed"
                                             : "completed";
    json_t *o = json_pack("{s:s,s:s,s:s}", "execution_id", x->id, "status", status,
                          "started_at", when);
    if (x->done && !x->error) {
        json_object_set_new(o, "exit_code",
                            json_integer(x->res.signal ? 128 + x->res.signal : x->res.exit_code));
        json_object_set_new(o, "duration_ms", json_integer((json_int_t)x->res.duration_ms));
        json_object_set_new(o, "error_message", json_null());
    } else {
        json_object_set_new(o, "exit_code", json_null());
        json_object_set_new(o, "duration_ms", json_null());
        json_object_set_new(o, "error_message",
                            !x->done      ? json_null()
                            : x->errmsg[0] ? json_string(x->errmsg)
                                           : json_string("the execution's end could not be read"));
    }
    pthread_mutex_unlock(&x->lock);
    return o;
}

/* An SSE reader: where it is in the execution's events. */
struct reader {
    struct sexec *x;
    uint64_t next;   /* the seq of the event to send next */
    size_t off;      /* bytes of it already sent */
    bool ended;
};

static ssize_t read_events(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct reader *rd = cls;
    struct sexec *x = rd->x;
    pthread_mutex_lock(&x->lock);
    while (1) {
        uint64_t first = x->nev ? x->ev[0].seq : x->next_seq;
        if (rd->next < first) { /* dropped while this reader was away */
            rd->next = first;
            rd->off = 0;
        }
        if (rd->next < x->next_seq) {
            struct event *e = &x->ev[rd->next - first];
            size_t n = e->len - rd->off < max ? e->len - rd->off : max;
            memcpy(buf, e->text + rd->off, n);
            rd->off += n;
            if (rd->off == e->len) {
                if (e->seq > x->delivered)
                    x->delivered = e->seq;
                rd->next++;
                rd->off = 0;
                pthread_cond_broadcast(&x->cond); /* a pump may wait for room */
            }
            pthread_mutex_unlock(&x->lock);
            return (ssize_t)n;
        }
        /* at shutdown too: the pump ends once the process does, after its exit event */
        if (x->done) {
            pthread_mutex_unlock(&x->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SSE_KEEPALIVE_MS / 1000;
        if (pthread_cond_timedwait(&x->cond, &x->lock, &until) == ETIMEDOUT) {
            size_t n = sse_keepalive(buf, max);
            if (n) {
                pthread_mutex_unlock(&x->lock);
                return (ssize_t)n;
            }
        }
    }
}

static void free_reader(void *cls)
{
    struct reader *rd = cls;
    struct serve_execs *e = rd->x->reg;
    exec_unref(rd->x);
    free(rd);
    pthread_mutex_lock(&e->lock);
    e->readers--;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
}

static enum MHD_Result stream_output(struct MHD_Connection *c, struct req *q, struct sexec *x)
{
    uint64_t last_id = 0;
    int last = serve_last_event_id(c, &last_id);
    if (last < 0) {
        exec_unref(x);
        return reply_error(c, q, 400, "InvalidArgumentError",
                           "Last-Event-ID: not an event id of this stream");
    }
    uint64_t next = last ? last_id + 1 : 1;
    pthread_mutex_lock(&x->lock);
    uint64_t first = x->nev ? x->ev[0].seq : x->next_seq;
    bool gone = last && next < first;
    bool ahead = next > x->next_seq;
    pthread_mutex_unlock(&x->lock);
    if (gone || ahead) {
        exec_unref(x);
        return reply_error(c, q, 409, "InvalidStateError",
                           gone ? "events before %llu are no longer kept"
                                : "event %llu has not been sent yet",
                           (unsigned long long)(gone ? first : next - 1));
    }
    struct reader *rd = calloc(1, sizeof *rd);
    if (!rd) {
        exec_unref(x);
        return MHD_NO;
    }
    rd->x = x; /* the reference registry_get took is the reader's now */
    rd->next = next;
    pthread_mutex_lock(&x->reg->lock);
    x->reg->readers++;
    pthread_mutex_unlock(&x->reg->lock);
    return reply_events(c, q, read_events, rd, free_reader);
}

enum MHD_Result h_exec(struct MHD_Connection *c, struct req *q)
{
    if (q->route.id == R_BOX_EXEC)
        return start_exec(c, q);
    struct sexec *x = registry_get(q->s->execs, q);
    if (!x)
        return reply_error(c, q, 404, "NotFoundError", "execution not found: %s", q->route.sub);
    enum MHD_Result res;
    struct bl_error err = {0};
    switch (q->route.id) {
    case R_EXECUTION:
        res = reply_json(c, q, 200, exec_info(x));
        break;
    case R_EXEC_OUTPUT:
        return stream_output(c, q, x); /* keeps the reference */
    case R_EXEC_INPUT: {
        const char *cs = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Close-Stdin");
        bool close_it = cs && (!strcasecmp(cs, "true") || !strcmp(cs, "1"));
        pthread_mutex_lock(&x->lock);
        bool closed = x->stdin_closed, done = x->done;
        if (close_it)
            x->stdin_closed = true;
        pthread_mutex_unlock(&x->lock);
        if (closed || done) {
            res = reply_error(c, q, 409, "InvalidStateError",
                              closed ? "stdin is closed" : "the execution has ended");
            break;
        }
        if (q->len && boxlite_exec_write_stdin(x->ex, q->body, q->len) != BOXLITE_OK) {
            res = reply_lib_error(c, q, "stdin");
            break;
        }
        if (close_it && boxlite_exec_close_stdin(x->ex) != BOXLITE_OK) {
            res = reply_lib_error(c, q, "close stdin");
            break;
        }
        res = reply_empty(c, q, 204);
        break;
    }
    case R_EXEC_SIGNAL: {
        int sig = 0;
        if (serve_signal_parse(q->body, q->len, &sig, &err)) {
            res = reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
            break;
        }
        pthread_mutex_lock(&x->lock);
        bool done = x->done;
        pthread_mutex_unlock(&x->lock);
        res = done ? reply_error(c, q, 409, "InvalidStateError", "the execution has ended")
              : boxlite_exec_signal(x->ex, sig) == BOXLITE_OK ? reply_empty(c, q, 204)
                                                              : reply_lib_error(c, q, "signal");
        break;
    }
    case R_EXEC_RESIZE: {
        unsigned cols = 0, rows = 0;
        if (serve_resize_parse(q->body, q->len, &cols, &rows, &err)) {
            res = reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
            break;
        }
        pthread_mutex_lock(&x->lock);
        bool done = x->done;
        pthread_mutex_unlock(&x->lock);
        if (!x->tty || done)
            res = reply_error(c, q, 409, "InvalidStateError",
                              done ? "the execution has ended" : "the execution has no tty");
        else
            res = boxlite_exec_resize(x->ex, rows, cols) == BOXLITE_OK
                      ? reply_empty(c, q, 204)
                      : reply_lib_error(c, q, "resize");
        break;
    }
    default:
        res = reply_error(c, q, 501, "UnsupportedError", "not implemented");
    }
    exec_unref(x);
    return res;
}
