// SPDX-License-Identifier: Apache-2.0
/* What `boxlite --url` reads from a server, decoded strictly (src/client/client.h): base64
 * (RFC 4648 section 4), JSON objects (no duplicate keys, bounded), the error model of
 * docs/api.yaml (ErrorResponse), Server-Sent Events (WHATWG HTML section 9.2, "server-sent
 * events": the event stream's lines, fields id/event/data) and an execution's events. The
 * server is not trusted: a line, an id or a body past its bound is an error. Pure: no I/O. */
#include "client/client.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The printable copy of a server's text (control characters as '?'), bounded by n. */
static void printable(char *out, size_t n, const char *s)
{
    size_t k = 0;
    for (; s && s[k] && k < n - 1; k++)
        out[k] = (unsigned char)s[k] < 0x20 || s[k] == 0x7f ? '?' : s[k];
    out[k] = 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long client_base64_decode(const char *s, size_t n, uint8_t *out)
{
    if (n % 4 || n > (size_t)LONG_MAX / 2)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad) /* "x=y=" */
                return -1;
            if ((v[k] = b64_value(c)) < 0)
                return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        /* the bits past the last byte must be zero (section 3.5: canonical encoding) */
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return -1;
        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(w >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)w;
    }
    return (long)o;
}

json_t *client_json_object(const char *body, size_t n, struct bl_error *err)
{
    if (n > CLIENT_JSON_MAX) {
        bl_err(err, BOXLITE_ERR_IO, "the server's answer is over %u bytes", CLIENT_JSON_MAX);
        return NULL;
    }
    json_error_t je;
    json_t *o = json_loadb(body ? body : "", n, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        bl_err(err, BOXLITE_ERR_IO, "the server's answer is not a JSON object%s%.100s",
               o ? "" : ": ", o ? "" : je.text);
        return NULL;
    }
    return o;
}

int client_error_from(unsigned status, const char *body, size_t n, struct bl_error *err)
{
    int code = status == 404 ? BOXLITE_ERR_NOT_FOUND
             : status == 409 ? BOXLITE_ERR_STATE
             : status == 400 || status == 422 || status == 413 ? BOXLITE_ERR_INVALID
             : status == 401 || status == 403 ? BOXLITE_ERR_AUTH
             : status == 501 ? BOXLITE_ERR_UNSUPPORTED
             : BOXLITE_ERR_IO;
    json_t *o = n ? client_json_object(body, n, NULL) : NULL;
    json_t *e = json_object_get(o, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *type = json_string_value(json_object_get(e, "type"));
    if (type && !strcmp(type, "AlreadyExistsError"))
        code = BOXLITE_ERR_EXISTS;
    int r;
    if (msg) {
        /* the message is the server's text: printable, and not endless */
        char clean[512];
        printable(clean, sizeof clean, msg);
        r = bl_err(err, code, "%s (HTTP %u)", clean, status);
    } else {
        r = bl_err(err, code, "the server answered HTTP %u", status);
    }
    json_decref(o);
    return r;
}

/* ---- Server-Sent Events ---------------------------------------------------------------- */

void client_sse_free(struct client_sse *s)
{
    free(s->line);
    free(s->data);
    memset(s, 0, sizeof *s);
}

static int sse_reset(struct client_sse *s)
{
    s->id[0] = s->event[0] = 0;
    s->dlen = 0;
    s->have_data = false;
    return 0;
}

/* One line (without its end), the spec's "process the field" steps. */
static int sse_line(struct client_sse *s, const char *l, size_t n,
                    int (*fn)(void *, const struct client_sse_event *), void *ud,
                    struct bl_error *err)
{
    if (n == 0) { /* dispatch */
        if (!s->have_data && !s->id[0])
            return sse_reset(s);
        struct client_sse_event ev = { s->id, s->event[0] ? s->event : "message",
                                       s->data ? s->data : "", s->dlen };
        if (s->data)
            s->data[s->dlen] = 0;
        int r = fn(ud, &ev);
        sse_reset(s);
        return r;
    }
    if (l[0] == ':') /* a comment: the server's keep-alive */
        return 0;
    const char *colon = memchr(l, ':', n);
    size_t fl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vl = colon ? n - fl - 1 : 0;
    if (vl && *v == ' ') {
        v++;
        vl--;
    }
    if (fl == 2 && !memcmp(l, "id", 2)) {
        if (vl >= sizeof s->id || memchr(v, 0, vl)) {
            s->bad = true;
            return bl_err(err, BOXLITE_ERR_IO, "an event id over %zu bytes", sizeof s->id - 1);
        }
        memcpy(s->id, v, vl);
        s->id[vl] = 0;
    } else if (fl == 5 && !memcmp(l, "event", 5)) {
        if (vl >= sizeof s->event) {
            s->bad = true;
            return bl_err(err, BOXLITE_ERR_IO, "an event type over %zu bytes",
                          sizeof s->event - 1);
        }
        memcpy(s->event, v, vl);
        s->event[vl] = 0;
    } else if (fl == 4 && !memcmp(l, "data", 4)) {
        /* several data lines join with "\n"; the whole stays within a line's bound */
        size_t need = s->dlen + (s->have_data ? 1 : 0) + vl + 1;
        if (need > CLIENT_SSE_LINE_MAX) {
            s->bad = true;
            return bl_err(err, BOXLITE_ERR_IO, "an event's data over %u bytes",
                          CLIENT_SSE_LINE_MAX);
        }
        char *d = realloc(s->data, need);
        if (!d) {
            s->bad = true;
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        }
        s->data = d;
        if (s->have_data)
            d[s->dlen++] = '\n';
        memcpy(d + s->dlen, v, vl);
        s->dlen += vl;
        s->have_data = true;
    }
    /* retry and unknown fields: ignored, as the spec says */
    return 0;
}

int client_sse_feed(struct client_sse *s, const char *p, size_t n,
                    int (*fn)(void *, const struct client_sse_event *), void *ud,
                    struct bl_error *err)
{
    if (s->bad)
        return bl_err(err, BOXLITE_ERR_IO, "the event stream was malformed");
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        /* CRLF is one line end, even when a read ends between the two */
        bool after_cr = s->cr;
        s->cr = ch == '\r';
        if (ch == '\n' && after_cr)
            continue;
        if (ch == '\n' || ch == '\r') {
            int r = sse_line(s, s->line ? s->line : "", s->len, fn, ud, err);
            s->len = 0;
            if (r < 0)
                return s->bad = true, r;
            if (r > 0)
                return r;
            continue;
        }
        if (s->len + 1 > CLIENT_SSE_LINE_MAX) {
            s->bad = true;
            return bl_err(err, BOXLITE_ERR_IO, "an event stream line over %u bytes",
                          CLIENT_SSE_LINE_MAX);
        }
        if (s->len + 1 > s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 4096;
            if (cap > CLIENT_SSE_LINE_MAX)
                cap = CLIENT_SSE_LINE_MAX;
            char *l = realloc(s->line, cap);
            if (!l) {
                s->bad = true;
                return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
            }
            s->line = l;
            s->cap = cap;
        }
        s->line[s->len++] = ch;
    }
    return 0;
}

/* An event's {"data": base64} decoded into *bytes (the caller's), *len. */
static int data_bytes(json_t *o, const char *event, uint8_t **bytes, size_t *len,
                      struct bl_error *err)
{
    json_t *d = json_object_get(o, "data");
    const char *b = json_string_value(d);
    size_t bl = b ? json_string_length(d) : 0;
    uint8_t *buf = b ? malloc(bl / 4 * 3 + 1) : NULL;
    long got = buf ? client_base64_decode(b, bl, buf) : -1;
    if (got < 0) {
        free(buf);
        return bl_err(err, BOXLITE_ERR_IO, "%s event: data is not base64", event);
    }
    *bytes = buf;
    *len = (size_t)got;
    return 0;
}

int client_exec_event(const struct client_sse_event *ev, struct client_exec_event *out,
                      struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    bool out_ = !strcmp(ev->event, "stdout"), err_ = !strcmp(ev->event, "stderr");
    bool exit_ = !strcmp(ev->event, "exit");
    if (!out_ && !err_ && !exit_)
        return bl_err(err, BOXLITE_ERR_IO, "an execution event of unknown type \"%.15s\"",
                      ev->event);
    json_t *o = client_json_object(ev->data, ev->dlen, err);
    if (!o)
        return bl_err_prefix(err, "%s event", ev->event);
    int r = 0;
    if (exit_) {
        json_t *c = json_object_get(o, "exit_code"), *s = json_object_get(o, "signal");
        if (!json_is_integer(c) || json_integer_value(c) < -1 || json_integer_value(c) > 255 ||
            (s && !json_is_null(s) &&
             (!json_is_integer(s) || json_integer_value(s) < 1 || json_integer_value(s) > 64)))
            r = bl_err(err, BOXLITE_ERR_IO, "exit event: exit_code -1..255, signal 1..64");
        else {
            out->kind = CX_EXIT;
            out->exit_code = (int)json_integer_value(c);
            out->signal = json_is_integer(s) ? (int)json_integer_value(s) : 0;
            printable(out->error, sizeof out->error,
                      json_string_value(json_object_get(o, "error")));
        }
    } else {
        r = data_bytes(o, ev->event, &out->bytes, &out->len, err);
        if (r == 0)
            out->kind = out_ ? CX_STDOUT : CX_STDERR;
    }
    json_decref(o);
    return r;
}

int client_pull_event(const struct client_sse_event *ev, struct client_pull_event *out,
                      struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    bool progress = !strcmp(ev->event, "progress"), pulled = !strcmp(ev->event, "pulled"),
         error = !strcmp(ev->event, "error");
    if (!progress && !pulled && !error)
        return bl_err(err, BOXLITE_ERR_IO, "a pull event of unknown type \"%.15s\"", ev->event);
    json_t *o = client_json_object(ev->data, ev->dlen, err);
    if (!o)
        return bl_err_prefix(err, "%s event", ev->event);
    int r = 0;
    if (error) {
        out->kind = CP_ERROR;
        json_t *e = json_object_get(o, "error"), *code = json_object_get(e, "code");
        int status = json_is_integer(code) && json_integer_value(code) >= 400 &&
                             json_integer_value(code) <= 599
                         ? (int)json_integer_value(code)
                         : 500;
        /* the error model as an answer's body carries it: read as such answers are */
        char *body = json_dumps(o, JSON_COMPACT);
        r = body ? client_error_from((unsigned)status, body, strlen(body), err)
                 : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        free(body);
        if (r >= 0)
            r = bl_err(err, BOXLITE_ERR_IO, "the pull failed");
    } else if (pulled) {
        out->kind = CP_PULLED;
    } else {
        json_t *l = json_object_get(o, "layer"), *n = json_object_get(o, "n_layers");
        json_t *d = json_object_get(o, "done"), *t = json_object_get(o, "total");
        json_t *dg = json_object_get(o, "digest");
        if (!json_is_integer(l) || json_integer_value(l) < 0 || json_integer_value(l) > 4095 ||
            !json_is_integer(n) || json_integer_value(n) < 0 || json_integer_value(n) > 4096 ||
            !json_is_integer(d) || json_integer_value(d) < 0 || !json_is_integer(t) ||
            json_integer_value(t) < 0 || !json_is_string(dg)) {
            r = bl_err(err, BOXLITE_ERR_IO, "progress event: layer 0..4095, n_layers, done, "
                       "total, digest");
        } else {
            out->kind = CP_PROGRESS;
            out->layer = (int)json_integer_value(l);
            out->n_layers = (int)json_integer_value(n);
            out->done = (unsigned long long)json_integer_value(d);
            out->total = (unsigned long long)json_integer_value(t);
            printable(out->digest, sizeof out->digest, json_string_value(dg));
        }
    }
    json_decref(o);
    return r;
}

int client_log_event(const struct client_sse_event *ev, struct client_log_event *out,
                     struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    bool log = !strcmp(ev->event, "log"), end = !strcmp(ev->event, "end");
    if (!log && !end)
        return bl_err(err, BOXLITE_ERR_IO, "a log event of unknown type \"%.15s\"", ev->event);
    json_t *o = client_json_object(ev->data, ev->dlen, err);
    if (!o)
        return bl_err_prefix(err, "%s event", ev->event);
    int r = 0;
    if (log) {
        r = data_bytes(o, ev->event, &out->bytes, &out->len, err);
        if (r == 0)
            out->kind = CL_LOG;
    } else {
        json_t *st = json_object_get(o, "state"), *ec = json_object_get(o, "exit_code");
        if (!json_is_string(st) || (ec && !json_is_null(ec) &&
                                    (!json_is_integer(ec) || json_integer_value(ec) < 0 ||
                                     json_integer_value(ec) > 255))) {
            r = bl_err(err, BOXLITE_ERR_IO, "end event: state a string, exit_code 0..255 or "
                       "null");
        } else {
            out->kind = CL_END;
            printable(out->state, sizeof out->state, json_string_value(st));
            out->exit_code = json_is_integer(ec) ? (int)json_integer_value(ec) : -1;
            out->oom_killed = json_is_true(json_object_get(o, "oom_killed"));
            out->stopped_by_itself = json_is_true(json_object_get(o, "stopped_by_itself"));
            printable(out->error, sizeof out->error,
                      json_string_value(json_object_get(o, "error")));
        }
    }
    json_decref(o);
    return r;
}
