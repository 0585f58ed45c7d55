// SPDX-License-Identifier: Apache-2.0
/* A box's console log and its main process's stdin (docs/api.yaml GET .../logs and POST
 * .../stdin; both beyond BoxLite's document, marked x-boxlite-differs there): what `boxlite
 * logs` and `boxlite attach` do locally, for `boxlite --url`.
 * The log is streamed as execution output is (WHATWG HTML "server-sent events"): `log`
 * events carrying base64 bytes (the first one empty, sent as soon as the log is open),
 * each with an id that is the library's position in the log after its bytes
 * (boxlite_log_position), then one `end` event with the box's state and how its main
 * process ended. A reader that lost its connection asks again with the same query and
 * Last-Event-ID: the log is opened at that position, so the resume is exact whatever
 * window (tail, a relative since) the first request picked.
 * A follower is woken every 100 ms (the library's log reader has no descriptor to wait
 * on; `boxlite logs -f` polls it too), sends a keep-alive comment after 15 s of silence,
 * and ends when the box has stopped and its last words are sent, when the --until time
 * has passed, or when the server stops. */
#include "serve/server.h"

#include "common/clock.h"
#include "common/lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_CHUNK 24576        /* bytes per event: its base64 stays under 32 KiB */
#define LOG_TAIL_MAX (64u << 20) /* what --tail reads to find the last lines */
#define STATE_EVERY_MS 1000    /* a follower looks at the box's state this often */

struct log_reader {
    struct server *s;
    boxlite_box *box;
    boxlite_log *log;
    bool follow, ended;
    struct sse_out out;
    uint64_t state_at;
};

/* The box's info as the end event has it: state, and how its main process ended. */
static json_t *end_info(boxlite_box *b, const char *error)
{
    char *text = NULL;
    json_t *info = boxlite_box_info(b, &text) == BOXLITE_OK ? json_loads(text, 0, NULL) : NULL;
    boxlite_free(text);
    json_t *o = json_object();
    json_t *st = json_object_get(info, "state");
    json_object_set_new(o, "state", json_string(json_string_value(st) ?: "unknown"));
    json_t *ec = json_object_get(info, "exit_code");
    json_object_set(o, "exit_code", json_is_integer(ec) ? ec : json_null());
    json_object_set_new(o, "oom_killed",
                        json_boolean(json_is_true(json_object_get(info, "oom_killed"))));
    json_object_set_new(o, "stopped_by_itself",
                        json_boolean(json_is_true(json_object_get(info, "stopped_by_itself"))));
    if (error)
        json_object_set_new(o, "error", json_string(error));
    json_decref(info);
    return o;
}

static bool box_ended(boxlite_box *b)
{
    char *text = NULL;
    if (boxlite_box_info(b, &text) != BOXLITE_OK)
        return true; /* removed meanwhile */
    json_t *info = json_loads(text, 0, NULL);
    boxlite_free(text);
    const char *s = json_string_value(json_object_get(info, "state"));
    /* a pause is not an end: attach goes on through one, as locally */
    bool live = s && (!strcmp(s, "running") || !strcmp(s, "starting") ||
                      !strcmp(s, "stopping") || !strcmp(s, "paused"));
    json_decref(info);
    return !live;
}

/* The next event, made from bytes (a log event) or the end (data NULL); its id is the
 * log's position after it, so a reconnect resumes exactly there. */
static int make_event(struct log_reader *r, const char *data, size_t n, const char *error)
{
    json_t *d;
    if (data) {
        char *b64 = serve_base64(data, n);
        d = b64 ? json_pack("{s:s}", "data", b64) : NULL;
        free(b64);
    } else {
        d = end_info(r->box, error);
        r->ended = true;
    }
    char at[BOXLITE_LOG_POSITION_MAX];
    if (boxlite_log_position(r->log, at, sizeof at) != BOXLITE_OK) {
        json_decref(d);
        return -1;
    }
    return sse_out_event(&r->out, at, data ? "log" : "end", d);
}

static ssize_t read_log(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct log_reader *r = cls;
    for (;;) {
        size_t sent = sse_out_copy(&r->out, out, max);
        if (sent)
            return (ssize_t)sent;
        if (r->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        char buf[LOG_CHUNK];
        long long n = boxlite_log_read(r->log, buf, sizeof buf);
        if (n < 0) {
            if (make_event(r, NULL, 0, boxlite_errmsg()) < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        if (n > 0) {
            if (make_event(r, buf, (size_t)n, NULL) < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        /* nothing new */
        uint64_t now = mono_ms();
        bool end = !r->follow || boxlite_log_ended(r->log) || atomic_load(&r->s->stopping);
        if (!end && now - r->state_at >= STATE_EVERY_MS) {
            r->state_at = now;
            if (box_ended(r->box)) {
                /* its last words first: what it wrote before it stopped (the state is
                 * looked at again once they are sent) */
                n = boxlite_log_read(r->log, buf, sizeof buf);
                if (n > 0) {
                    if (make_event(r, buf, (size_t)n, NULL) < 0)
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                    r->state_at = 0;
                    continue;
                }
                end = true;
            }
        }
        if (end) {
            if (make_event(r, NULL, 0, NULL) < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        if ((sent = sse_out_keepalive(&r->out, out, max)))
            return (ssize_t)sent;
        usleep(100000);
    }
}

static void free_reader(void *cls)
{
    struct log_reader *r = cls;
    boxlite_log_close(r->log);
    boxlite_box_free(r->box);
    sse_out_free(&r->out);
    free(r);
}

/* --tail N: the reader moved to the start of the last N lines the log holds now. The log
 * is read through once, keeping its newest bytes (bounded: a log is rotated, but its
 * retention is the box owner's setting) and the position before each read; the log is
 * then opened again at the position of the read that holds the tail's first byte and read
 * up to it, so that byte has an exact position of its own (the events' ids). */
struct mark {
    uint64_t at;                           /* bytes of the stream before this read */
    char pos[BOXLITE_LOG_POSITION_MAX];
};

static int read_tail(struct log_reader *r, long long tail, json_t *opts)
{
    char buf[LOG_CHUNK];
    char *keep = NULL;
    size_t keep_len = 0;
    uint64_t base = 0, total = 0;          /* keep holds the stream's bytes from base */
    struct mark *marks = NULL;
    size_t nmarks = 0, cap = 0;
    int rc = -1;
    for (;;) {
        if (nmarks == cap) {
            struct mark *m = realloc(marks, (cap = cap ? 2 * cap : 64) * sizeof *m);
            if (!m)
                goto out;
            marks = m;
        }
        marks[nmarks].at = total;
        if (boxlite_log_position(r->log, marks[nmarks].pos, sizeof marks[nmarks].pos) != 0)
            goto out;
        nmarks++;
        long long n = boxlite_log_read(r->log, buf, sizeof buf);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (keep_len + (size_t)n > LOG_TAIL_MAX) {
            /* keep the newest half: the last lines are what --tail asks for */
            size_t drop = keep_len - LOG_TAIL_MAX / 2;
            memmove(keep, keep + drop, keep_len - drop);
            keep_len -= drop;
            base += drop;
        }
        char *p = realloc(keep, keep_len + (size_t)n);
        if (!p)
            goto out;
        memcpy(p + keep_len, buf, (size_t)n);
        keep = p;
        keep_len += (size_t)n;
        total += (uint64_t)n;
    }
    uint64_t start = base + lines_tail_start(keep, keep_len, tail);
    size_t k = nmarks - 1;
    while (marks[k].at > start)
        k--;
    json_object_set_new(opts, "from", json_string(marks[k].pos));
    char *js = json_dumps(opts, JSON_COMPACT);
    boxlite_log_close(r->log);
    r->log = NULL;
    if (!js || boxlite_box_log_open_with(r->box, "console", js, &r->log) != BOXLITE_OK) {
        free(js);
        goto out;
    }
    free(js);
    for (uint64_t left = start - marks[k].at; left;) {
        long long n = boxlite_log_read(r->log, buf, left < sizeof buf ? left : sizeof buf);
        if (n <= 0)
            goto out; /* the same bytes were there a moment ago */
        left -= (uint64_t)n;
    }
    rc = 0;
out:
    free(keep);
    free(marks);
    return rc;
}

/* The query as the library's log options: {"since","until","timestamps"}. */
static int log_options(struct MHD_Connection *c, json_t *o, bool *follow, long long *tail,
                       const char **bad)
{
    bool stamps;
    const char *t = req_arg(c, "tail");
    if (serve_bool_arg(req_arg(c, "follow"), false, follow))
        return *bad = "follow: true or false", -1;
    if (serve_bool_arg(req_arg(c, "timestamps"), false, &stamps))
        return *bad = "timestamps: true or false", -1;
    *tail = -1;
    if (t && strcmp(t, "all")) {
        char *end;
        errno = 0;
        *tail = strtoll(t, &end, 10);
        if (!*t || *end || errno || *tail < 0)
            return *bad = "tail: a number of lines (0 or more) or all", -1;
    }
    if (stamps)
        json_object_set_new(o, "timestamps", json_true());
    static const char *const times[] = { "since", "until" };
    for (int i = 0; i < 2; i++) {
        const char *v = req_arg(c, times[i]);
        if (v && (strlen(v) > 64 || !*v))
            return *bad = "since, until: 1 to 64 characters", -1;
        if (v)
            json_object_set_new(o, times[i], json_string(v));
    }
    return 0;
}

static enum MHD_Result stream_logs(struct MHD_Connection *c, struct req *q, boxlite_box *b)
{
    json_t *o = json_object();
    bool follow;
    long long tail;
    const char *bad = NULL;
    if (log_options(c, o, &follow, &tail, &bad) < 0) {
        json_decref(o);
        boxlite_box_free(b);
        return reply_error(c, q, 400, "InvalidArgumentError", "%s", bad);
    }
    /* a reconnect goes on where its stream stopped; the window (tail) was the first
     * request's */
    const char *from = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (from && (strlen(from) >= BOXLITE_LOG_POSITION_MAX || !*from)) {
        json_decref(o);
        boxlite_box_free(b);
        return reply_error(c, q, 400, "InvalidArgumentError",
                           "Last-Event-ID: not an event id of this stream");
    }
    if (from)
        json_object_set_new(o, "from", json_string(from));
    char *opts = json_dumps(o, JSON_COMPACT);
    struct log_reader *r = calloc(1, sizeof *r);
    if (!r || !opts) {
        free(opts);
        free(r);
        json_decref(o);
        boxlite_box_free(b);
        return reply_error(c, q, 500, "InternalError", "out of memory");
    }
    *r = (struct log_reader){ .s = q->s, .box = b, .follow = follow };
    sse_out_init(&r->out);
    int rc = boxlite_box_log_open_with(b, "console", opts, &r->log);
    free(opts);
    if (rc != BOXLITE_OK) {
        json_decref(o);
        free_reader(r);
        /* a bad since/until is the library's 400, and so is a forged Last-Event-ID */
        return reply_lib_error(c, q, "logs");
    }
    rc = !from && tail >= 0 ? read_tail(r, tail, o) : 0;
    json_decref(o);
    if (rc < 0) {
        free_reader(r);
        return reply_lib_error(c, q, "logs");
    }
    /* an empty first event: the reader knows the log is open (an attach sends input only
     * then, so the output it causes is not missed) */
    if (make_event(r, "", 0, NULL) < 0) {
        free_reader(r);
        return reply_error(c, q, 500, "InternalError", "out of memory");
    }
    return reply_events(c, q, read_log, r, free_reader);
}

/* POST .../stdin[?cols=C&rows=R]: the body to the main process's stdin (a box made with
 * stdin_open), and its terminal's size when given. Its stdin stays open for the next
 * writer (Docker's attach leaves it open too), so each request opens its own attach: the
 * agent's copier ends once it has passed on everything before the channel's end of input
 * (docs/protocol.md, EXEC ATTACH), and the answer waits for that, so the bytes are in the
 * pipe when the client hears 204. */
static enum MHD_Result write_stdin(struct MHD_Connection *c, struct req *q, boxlite_box *b)
{
    const char *cs = req_arg(c, "cols"), *rs = req_arg(c, "rows");
    char *end = NULL;
    long cols = cs ? strtol(cs, &end, 10) : 0, rows = 0;
    bool bad = cs && (!*cs || *end || cols < 1 || cols > 65535);
    rows = rs ? strtol(rs, &end, 10) : 0;
    bad |= (rs && (!*rs || *end || rows < 1 || rows > 65535)) || !cs != !rs;
    if (bad) {
        boxlite_box_free(b);
        return reply_error(c, q, 400, "InvalidArgumentError", "cols, rows: both, 1 to 65535");
    }
    boxlite_exec *in = NULL;
    boxlite_exec_result done;
    enum MHD_Result res;
    if (boxlite_box_attach_stdin(b, &in) != BOXLITE_OK)
        res = reply_lib_error(c, q, "stdin"); /* no open stdin: 409 */
    else if (cs && boxlite_exec_resize(in, (unsigned)rows, (unsigned)cols) != BOXLITE_OK)
        res = reply_lib_error(c, q, "resize");
    else if (q->len && boxlite_exec_write_stdin(in, q->body, q->len) != BOXLITE_OK)
        res = reply_lib_error(c, q, "stdin");
    else if (boxlite_exec_close_stdin(in) != BOXLITE_OK ||
             boxlite_exec_wait(in, 30000, &done) != BOXLITE_OK)
        res = reply_lib_error(c, q, "stdin");
    else if (done.exit_code != 0)
        res = reply_error(c, q, 409, "InvalidStateError", "stdin: the main process has ended");
    else
        res = reply_empty(c, q, 204);
    boxlite_exec_free(in);
    boxlite_box_free(b);
    return res;
}

enum MHD_Result h_logs(struct MHD_Connection *c, struct req *q)
{
    enum MHD_Result res;
    boxlite_box *b = req_box(c, q, &res);
    if (!b)
        return res;
    return q->route.id == R_BOX_LOGS ? stream_logs(c, q, b) : write_stdin(c, q, b);
}
