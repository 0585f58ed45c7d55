// SPDX-License-Identifier: Apache-2.0
/* The HTTP side of the client of `boxlite serve` (src/client/client.h), over libcurl: the
 * token (client credentials, RFC 6749 section 4.4, POST /v1/oauth/tokens) fetched when first
 * needed and again once when a call is answered 401 (expired); JSON calls; an execution's
 * output as Server-Sent Events, reopened with Last-Event-ID when the connection drops;
 * stdin; files as tar streams. Every answer is bounded as it arrives (the server is not
 * trusted): a body over its limit ends the transfer with an error. */
#include "client/client.h"

#include "common/lazy_curl.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bl_client {
    CURL *easy;
    char *base;   /* "http://host:port" */
    char *id, *secret, *prefix, *ca;
    char *token;
    char *scopes; /* what the last token answer granted ("scope", RFC 6749 5.1) */
};

const char *client_prefix(const struct bl_client *c) { return c->prefix; }
const char *client_base(const struct bl_client *c) { return c->base; }
const char *client_ca(const struct bl_client *c) { return c->ca; }
const char *client_scopes(const struct bl_client *c) { return c->scopes; }

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int client_new(const struct client_opts *o, struct bl_client **out, struct bl_error *err)
{
    *out = NULL;
    const char *u = o->url;
    if (!u || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)))
        return bl_err(err, BOXLITE_ERR_INVALID, "url \"%.200s\": expected http://HOST:PORT or "
                      "https://HOST:PORT", u ? u : "");
    const char *host = strstr(u, "//") + 2;
    if (!*host || *host == '/' || strpbrk(u, " \t\r\n?#"))
        return bl_err(err, BOXLITE_ERR_INVALID, "url \"%.200s\": no host, or a query", u);
    const char *pfx = o->prefix && *o->prefix ? o->prefix : "default";
    for (const char *p = pfx; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              ((*p == '-' || *p == '_' || *p == '.') && p != pfx)) || p - pfx > 127)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "prefix \"%.64s\": must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$", pfx);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return bl_err(err, BOXLITE_ERR_IO, "curl_global_init failed");
    struct bl_client *c = calloc(1, sizeof *c);
    if (!c)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    c->base = strdup(u);
    c->id = dup_or_null(o->client_id);
    c->secret = dup_or_null(o->secret);
    c->prefix = strdup(pfx);
    c->ca = dup_or_null(o->ca_file);
    c->easy = curl_easy_init();
    if (!c->base || !c->prefix || !c->easy || (o->client_id && !c->id) ||
        (o->secret && !c->secret)) {
        bool no_curl = !c->easy && c->base && c->prefix;
        client_free(c);
        return no_curl ? lazylib_null_err(&lazy_curl_lib, err)
                       : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    /* "http://h:p/", "http://h:p/v1" and "http://h:p/v1/" all name the server */
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = 0;
    if (n >= 3 && !strcmp(c->base + n - 3, "/v1") && c->base + n - 3 > strstr(c->base, "//") + 1)
        c->base[n - 3] = 0;
    *out = c;
    return 0;
}

void client_free(struct bl_client *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    if (c->secret)
        explicit_bzero(c->secret, strlen(c->secret));
    if (c->token)
        explicit_bzero(c->token, strlen(c->token));
    free(c->base);
    free(c->scopes);
    free(c->id);
    free(c->secret);
    free(c->prefix);
    free(c->ca);
    free(c->token);
    free(c);
}

char *client_escape(struct bl_client *c, const char *s)
{
    char *e = curl_easy_escape(c->easy, s, 0);
    char *r = e ? strdup(e) : NULL;
    curl_free(e);
    return r;
}

json_t *client_list_all(struct bl_client *c, const char *path, const char *key,
                        struct bl_error *err)
{
    json_t *all = json_array();
    char *token = NULL;
    /* the API's own bound on a page is 1000: this many pages is more than any server has */
    for (int pages = 0; pages < 10000; pages++) {
        char *tok = token ? client_escape(c, token) : NULL, *p = NULL;
        if (asprintf(&p, "%s%s%s", path, tok ? "&pageToken=" : "", tok ? tok : "") < 0)
            p = NULL;
        free(tok);
        free(token);
        token = NULL;
        json_t *ans = NULL;
        int r = p ? client_call(c, "GET", p, NULL, &ans, err)
                  : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        free(p);
        json_t *page = json_object_get(ans, key);
        if (r >= 0 && !json_is_array(page))
            r = bl_err(err, BOXLITE_ERR_PROTOCOL, "the server's answer has no %s", key);
        if (r < 0) {
            json_decref(ans);
            json_decref(all);
            return NULL;
        }
        json_array_extend(all, page);
        const char *next = json_string_value(json_object_get(ans, "next_page_token"));
        token = next && *next ? strdup(next) : NULL;
        json_decref(ans);
        if (!token)
            break;
    }
    free(token);
    return all;
}

/* Where an answer's bytes go: a bounded buffer (JSON, errors), a file descriptor (a tar
 * stream) or the SSE decoder. The status decides at the first byte: anything but 2xx is
 * an error body, buffered. */
enum sink_kind { SINK_BUF, SINK_FD, SINK_SSE };
struct sink {
    enum sink_kind kind;
    CURL *easy;
    long status;
    char *buf;
    size_t len, max;
    bool over;
    int fd;
    unsigned long long written, fd_max;
    bool fd_failed;
    struct client_sse sse;
    int (*sse_fn)(void *, const struct client_sse_event *);
    void *sse_ud;
    int sse_r;           /* what the SSE side said: >0 stop (done), <0 error */
    struct bl_error *err;
};

static size_t buffer_add(struct sink *s, const char *p, size_t n)
{
    if (s->len + n > s->max) {
        s->over = true;
        return 0;
    }
    char *b = realloc(s->buf, s->len + n + 1);
    if (!b)
        return 0;
    memcpy(b + s->len, p, n);
    s->len += n;
    b[s->len] = 0;
    s->buf = b;
    return n;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (!s->status)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status < 200 || s->status > 299 || s->kind == SINK_BUF)
        return buffer_add(s, p, n);
    if (s->kind == SINK_FD) {
        if (s->fd_max && s->written + n > s->fd_max) {
            s->over = true;
            return 0;
        }
        for (size_t off = 0; off < n;) {
            ssize_t w = write(s->fd, p + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                s->fd_failed = true;
                return 0;
            }
            off += (size_t)w;
        }
        s->written += n;
        return n;
    }
    int r = client_sse_feed(&s->sse, p, n, s->sse_fn, s->sse_ud, s->err);
    if (r) {
        s->sse_r = r;
        return 0; /* ends the transfer: the exit event came, or the stream is bad */
    }
    return n;
}

struct upload {
    int fd;
    const char *mem;
    size_t len, off;
};

static size_t on_read(char *p, size_t size, size_t nmemb, void *ud)
{
    struct upload *u = ud;
    size_t n = size * nmemb;
    if (u->fd >= 0) {
        ssize_t r;
        do
            r = read(u->fd, p, n);
        while (r < 0 && errno == EINTR);
        return r < 0 ? CURL_READFUNC_ABORT : (size_t)r;
    }
    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(p, u->mem + u->off, n);
    u->off += n;
    return n;
}

/* One request. url is whole; body (len bytes) or up (a PUT of a file) or neither; extra
 * headers (NULL-terminated). The status in s->status; <0 with err when the transfer
 * failed (not for a non-2xx status: the caller reads s->buf then). */
static int perform(struct bl_client *c, const char *method, const char *url,
                   const char *const *hdrs, const char *body, size_t len,
                   struct upload *up, struct sink *s, struct bl_error *err)
{
    CURL *e = c->easy;
    curl_easy_reset(e);
    s->easy = e;
    s->status = 0;
    struct curl_slist *h = NULL;
    for (size_t i = 0; hdrs && hdrs[i]; i++) {
        struct curl_slist *t = curl_slist_append(h, hdrs[i]);
        if (!t) {
            curl_slist_free_all(h);
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        }
        h = t;
    }
    char auth[600];
    if (c->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        struct curl_slist *t = curl_slist_append(h, auth);
        explicit_bzero(auth, sizeof auth);
        if (!t) {
            curl_slist_free_all(h);
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        }
        h = t;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    if (c->ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca);
    if (up) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, up);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    } else if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(e);
    curl_slist_free_all(h);
    if (!s->status)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &s->status);
    if (rc == CURLE_WRITE_ERROR && s->kind == SINK_SSE && s->sse_r > 0)
        return 0; /* we ended it: the exit event came */
    if (rc == CURLE_WRITE_ERROR && s->kind == SINK_SSE && s->sse_r < 0)
        return s->sse_r;
    if (rc == CURLE_WRITE_ERROR && s->over)
        return bl_err(err, BOXLITE_ERR_IO, "%s %s: the answer is over its limit", method, url);
    if (rc == CURLE_WRITE_ERROR && s->fd_failed)
        return bl_errno(err, errno, "%s: writing what the server sent", method);
    if (rc != CURLE_OK)
        return bl_err(err, rc == CURLE_OPERATION_TIMEDOUT ? BOXLITE_ERR_TIMEOUT
                                                          : BOXLITE_ERR_NETWORK,
                      "%s %s: %s", method, url, curl_easy_strerror(rc));
    return 0;
}

static int fetch_token(struct bl_client *c, struct bl_error *err);

const char *client_token(struct bl_client *c, bool fresh, struct bl_error *err)
{
    if (fresh) {
        free(c->token);
        c->token = NULL;
    }
    if (!c->token && fetch_token(c, err) < 0)
        return NULL;
    return c->token;
}

static int fetch_token(struct bl_client *c, struct bl_error *err)
{
    if (!c->id || !c->secret)
        return bl_err(err, BOXLITE_ERR_AUTH, "no client credentials (--client-id and "
                      "--client-secret, or BOXLITE_CLIENT_ID and BOXLITE_CLIENT_SECRET)");
    char *id = client_escape(c, c->id), *sec = client_escape(c, c->secret);
    char *form = NULL, url[2048];
    int fl = id && sec ? asprintf(&form, "grant_type=client_credentials&client_id=%s"
                                  "&client_secret=%s", id, sec) : -1;
    if (sec)
        explicit_bzero(sec, strlen(sec));
    free(id);
    free(sec);
    if (fl < 0)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    snprintf(url, sizeof url, "%s/v1/oauth/tokens", c->base);
    free(c->token);
    c->token = NULL;
    static const char *const hdrs[] = {
        "Content-Type: application/x-www-form-urlencoded", "Accept: application/json", NULL };
    struct sink s = { .kind = SINK_BUF, .max = 64 * 1024 };
    int r = perform(c, "POST", url, hdrs, form, (size_t)fl, NULL, &s, err);
    explicit_bzero(form, (size_t)fl);
    free(form);
    if (r >= 0 && s.status != 200)
        r = client_error_from((unsigned)s.status, s.buf, s.len, err);
    json_t *o = r >= 0 ? client_json_object(s.buf, s.len, err) : NULL;
    const char *tok = json_string_value(json_object_get(o, "access_token"));
    if (r >= 0 && o && (!tok || !*tok || strlen(tok) > 512 || strpbrk(tok, "\r\n")))
        r = bl_err(err, BOXLITE_ERR_IO, "the token answer has no usable access_token");
    else if (r >= 0 && !o)
        r = -BOXLITE_ERR_IO;
    if (r >= 0 && !(c->token = strdup(tok)))
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    const char *sc = json_string_value(json_object_get(o, "scope"));
    free(c->scopes);
    c->scopes = r >= 0 && sc && strlen(sc) < 1024 ? strdup(sc) : NULL;
    json_decref(o);
    free(s.buf);
    return r < 0 ? bl_err_prefix(err, "token from %s", c->base) : 0;
}

/* A call with the token, fetched first when there is none and again after a 401. */
static int authed(struct bl_client *c, const char *method, const char *url,
                  const char *const *hdrs, const char *body, size_t len, struct upload *up,
                  struct sink *s, struct bl_error *err)
{
    for (int attempt = 0;; attempt++) {
        if (!c->token) {
            int r = fetch_token(c, err);
            if (r < 0)
                return r;
        }
        if (up && up->fd >= 0 && lseek(up->fd, 0, SEEK_SET) < 0)
            return bl_errno(err, errno, "rewind the upload");
        s->len = 0;
        s->over = false;
        int r = perform(c, method, url, hdrs, body, len, up, s, err);
        if (r < 0 || s->status != 401 || attempt == 1 || s->written)
            return r;
        free(c->token); /* expired: one new token, one more try */
        c->token = NULL;
    }
}

static int box_url(struct bl_client *c, const char *path, char **url, struct bl_error *err)
{
    if (asprintf(url, "%s/v1/%s%s", c->base, c->prefix, path) < 0) {
        *url = NULL;
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int client_config(struct bl_client *c, json_t **out, struct bl_error *err)
{
    *out = NULL;
    char *url = NULL;
    if (asprintf(&url, "%s/v1/config", c->base) < 0)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    static const char *const hdrs[] = { "Accept: application/json", NULL };
    struct sink s = { .kind = SINK_BUF, .max = CLIENT_JSON_MAX };
    int r = perform(c, "GET", url, hdrs, NULL, 0, NULL, &s, err);
    if (r >= 0 && s.status != 200)
        r = client_error_from((unsigned)s.status, s.buf, s.len, err);
    else if (r >= 0 && !(*out = client_json_object(s.buf, s.len, err)))
        r = -BOXLITE_ERR_IO;
    free(url);
    free(s.buf);
    return r < 0 ? bl_err_prefix(err, "GET /v1/config") : 0;
}

int client_call(struct bl_client *c, const char *method, const char *path, json_t *body,
                json_t **out, struct bl_error *err)
{
    if (out)
        *out = NULL;
    char *url = NULL, *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body); /* ours (client.h) */
    if (box_url(c, path, &url, err) < 0 || (body && !text)) {
        free(url);
        free(text);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    static const char *const hdrs[] = { "Content-Type: application/json",
                                        "Accept: application/json", NULL };
    struct sink s = { .kind = SINK_BUF, .max = CLIENT_JSON_MAX };
    int r = authed(c, method, url, hdrs, text ? text : (strcmp(method, "GET") &&
                                                        strcmp(method, "HEAD") &&
                                                        strcmp(method, "DELETE") ? "" : NULL),
                   text ? strlen(text) : 0, NULL, &s, err);
    free(text);
    if (r >= 0 && (s.status < 200 || s.status > 299))
        r = client_error_from((unsigned)s.status, s.buf, s.len, err);
    else if (r >= 0 && s.len && out && !(*out = client_json_object(s.buf, s.len, err)))
        r = -BOXLITE_ERR_IO;
    if (r < 0)
        bl_err_prefix(err, "%s %s", method, path);
    free(url);
    free(s.buf);
    return r < 0 ? r : (int)s.status;
}

/* ---- executions ----------------------------------------------------------------------- */

/* One stream's progress: the id of the last whole event, and whether the last came. */
struct sse_ctx {
    int (*fn)(void *, const struct client_sse_event *);
    void *ud;
    char last[CLIENT_SSE_ID_MAX];
    bool ended;
};

static int on_sse(void *ud, const struct client_sse_event *ev)
{
    struct sse_ctx *x = ud;
    int r = x->fn(x->ud, ev);
    if (r >= 0)
        snprintf(x->last, sizeof x->last, "%s", ev->id);
    if (r > 0)
        x->ended = true;
    return r;
}

int client_sse_get(struct bl_client *c, const char *path,
                   int (*fn)(void *, const struct client_sse_event *), void *ud,
                   struct bl_error *err)
{
    char *url = NULL;
    int r = box_url(c, path, &url, err);
    struct sse_ctx ctx = { .fn = fn, .ud = ud };
    /* a stream cut short (a proxy, a restart of the connection) is taken up where it
     * stopped: the server keeps the events (docs/api.yaml, Last-Event-ID) */
    for (int tries = 0; r >= 0 && !ctx.ended; tries++) {
        if (tries == 5) {
            r = bl_err(err, BOXLITE_ERR_NETWORK, "the stream ended %d times without its "
                       "last event", tries);
            break;
        }
        char last[CLIENT_SSE_ID_MAX + 32];
        snprintf(last, sizeof last, "Last-Event-ID: %s", ctx.last);
        const char *hdrs[] = { "Accept: text/event-stream", ctx.last[0] ? last : NULL, NULL };
        struct sink s = { .kind = SINK_SSE, .sse_fn = on_sse, .sse_ud = &ctx, .err = err,
                          .max = 64 * 1024 };
        r = authed(c, "GET", url, hdrs, NULL, 0, NULL, &s, err);
        /* the stream broke after it began (a reset, a partial answer): the events not
         * whole yet are dropped with this sink, and the next try asks for those after the
         * last whole one */
        if (r < 0 && s.status == 200 && s.sse_r == 0 &&
            (-r == BOXLITE_ERR_NETWORK || -r == BOXLITE_ERR_TIMEOUT))
            r = 0;
        if (r >= 0 && (s.status < 200 || s.status > 299))
            r = client_error_from((unsigned)s.status, s.buf, s.len, err);
        if (r >= 0 && s.sse_r < 0)
            r = s.sse_r;
        client_sse_free(&s.sse);
        free(s.buf);
    }
    free(url);
    return r < 0 ? r : 0;
}

struct out_ctx {
    int (*fn)(void *, const struct client_exec_event *);
    void *ud;
    struct bl_error *err;
};

static int on_event(void *ud, const struct client_sse_event *ev)
{
    struct out_ctx *x = ud;
    struct client_exec_event e;
    if (client_exec_event(ev, &e, x->err) < 0)
        return -1;
    int r = x->fn(x->ud, &e);
    free(e.bytes);
    return e.kind == CX_EXIT ? 1 : r;
}

int client_exec_output(struct bl_client *c, const char *box, const char *exec,
                       int (*fn)(void *, const struct client_exec_event *), void *ud,
                       struct bl_error *err)
{
    char *b = client_escape(c, box), *x = client_escape(c, exec), *path = NULL;
    int r = b && x && asprintf(&path, "/boxes/%s/executions/%s/output", b, x) >= 0
                ? 0 : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    free(b);
    free(x);
    struct out_ctx ctx = { .fn = fn, .ud = ud, .err = err };
    if (r >= 0)
        r = client_sse_get(c, path, on_event, &ctx, err);
    if (r < 0)
        bl_err_prefix(err, "output of %.64s", exec);
    free(path);
    return r < 0 ? r : 0;
}

struct pull_ctx {
    int (*fn)(void *, const struct client_pull_event *);
    void *ud;
    struct bl_error *err;
    bool done;
};

static int on_pull(void *ud, const struct client_sse_event *ev)
{
    struct pull_ctx *x = ud;
    struct client_pull_event e;
    if (client_pull_event(ev, &e, x->err) < 0)
        return -1;
    if (e.kind == CP_PULLED) {
        x->done = true;
        return 1;
    }
    return x->fn(x->ud, &e);
}

int client_pull(struct bl_client *c, const char *ref,
                int (*fn)(void *, const struct client_pull_event *), void *ud,
                struct bl_error *err)
{
    char *url = NULL;
    json_t *req = json_pack("{s:s}", "reference", ref);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    int r = body ? box_url(c, "/images/pull", &url, err)
                 : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    struct pull_ctx ctx = { .fn = fn, .ud = ud, .err = err };
    if (r >= 0) {
        static const char *const hdrs[] = { "Content-Type: application/json",
                                            "Accept: text/event-stream", NULL };
        struct sink s = { .kind = SINK_SSE, .sse_fn = on_pull, .sse_ud = &ctx, .err = err,
                          .max = 64 * 1024 };
        r = authed(c, "POST", url, hdrs, body, strlen(body), NULL, &s, err);
        if (r >= 0 && (s.status < 200 || s.status > 299))
            r = client_error_from((unsigned)s.status, s.buf, s.len, err);
        if (r >= 0 && s.sse_r < 0)
            r = s.sse_r;
        /* a pull is not taken up again (pulling again is): a cut stream is an error */
        if (r >= 0 && !ctx.done)
            r = bl_err(err, BOXLITE_ERR_NETWORK, "the stream ended before the pull did");
        client_sse_free(&s.sse);
        free(s.buf);
    }
    free(url);
    free(body);
    return r < 0 ? r : 0;
}

int client_post_bytes(struct bl_client *c, const char *path, const void *p, size_t n,
                      const char *header, struct bl_error *err)
{
    char *url = NULL;
    int r = box_url(c, path, &url, err);
    const char *hdrs[] = { "Content-Type: application/octet-stream", header, NULL };
    struct sink s = { .kind = SINK_BUF, .max = 64 * 1024 };
    if (r >= 0)
        r = authed(c, "POST", url, hdrs, n ? p : "", n, NULL, &s, err);
    if (r >= 0 && (s.status < 200 || s.status > 299))
        r = client_error_from((unsigned)s.status, s.buf, s.len, err);
    free(s.buf);
    free(url);
    return r < 0 ? r : 0;
}

int client_exec_input(struct bl_client *c, const char *box, const char *exec, const void *p,
                      size_t n, bool close_, struct bl_error *err)
{
    char *b = client_escape(c, box), *x = client_escape(c, exec), *path = NULL;
    int r = b && x && asprintf(&path, "/boxes/%s/executions/%s/input", b, x) >= 0
                ? 0 : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    free(b);
    free(x);
    if (r >= 0)
        r = client_post_bytes(c, path, p, n, close_ ? "X-Close-Stdin: true" : NULL, err);
    if (r < 0)
        bl_err_prefix(err, "input of %.64s", exec);
    free(path);
    return r < 0 ? r : 0;
}

/* ---- files ------------------------------------------------------------------------------- */

static int files_url(struct bl_client *c, const char *box, const char *gpath, char **url,
                     struct bl_error *err)
{
    char *b = client_escape(c, box), *g = client_escape(c, gpath), *path = NULL;
    int r = b && g && asprintf(&path, "/boxes/%s/files?path=%s", b, g) >= 0
                ? box_url(c, path, url, err) : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    free(b);
    free(g);
    free(path);
    return r;
}

int client_files_put(struct bl_client *c, const char *box, const char *gpath, int fd,
                     struct bl_error *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "upload");
    char *url = NULL;
    int r = files_url(c, box, gpath, &url, err);
    static const char *const hdrs[] = { "Content-Type: application/x-tar", NULL };
    struct upload up = { .fd = fd };
    struct sink s = { .kind = SINK_BUF, .max = 64 * 1024 };
    if (r >= 0)
        r = authed(c, "PUT", url, hdrs, NULL, (size_t)st.st_size, &up, &s, err);
    if (r >= 0 && (s.status < 200 || s.status > 299))
        r = client_error_from((unsigned)s.status, s.buf, s.len, err);
    free(s.buf);
    free(url);
    return r < 0 ? r : 0;
}

int client_files_get(struct bl_client *c, const char *box, const char *gpath, int fd,
                     unsigned long long max, struct bl_error *err)
{
    char *url = NULL;
    int r = files_url(c, box, gpath, &url, err);
    static const char *const hdrs[] = { "Accept: application/x-tar", NULL };
    struct sink s = { .kind = SINK_FD, .fd = fd, .fd_max = max, .max = 64 * 1024 };
    if (r >= 0)
        r = authed(c, "GET", url, hdrs, NULL, 0, NULL, &s, err);
    if (r >= 0 && (s.status < 200 || s.status > 299))
        r = client_error_from((unsigned)s.status, s.buf, s.len, err);
    free(s.buf);
    free(url);
    return r < 0 ? r : 0;
}

/* ---- box archives -------------------------------------------------------------------------- */

int client_box_export(struct bl_client *c, const char *box, int fd, struct bl_error *err)
{
    char *b = client_escape(c, box), *path = NULL, *url = NULL;
    int r = b && asprintf(&path, "/boxes/%s/export", b) >= 0
                ? box_url(c, path, &url, err) : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    free(b);
    static const char *const hdrs[] = { "Accept: application/octet-stream", NULL };
    struct sink s = { .kind = SINK_FD, .fd = fd, .max = 64 * 1024 };
    if (r >= 0)
        r = authed(c, "POST", url, hdrs, "", 0, NULL, &s, err);
    if (r >= 0 && (s.status < 200 || s.status > 299))
        r = client_error_from((unsigned)s.status, s.buf, s.len, err);
    free(s.buf);
    free(path);
    free(url);
    return r < 0 ? r : 0;
}

int client_box_import(struct bl_client *c, int fd, const char *name, json_t **out,
                      struct bl_error *err)
{
    *out = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "import");
    char *n = name ? client_escape(c, name) : NULL, *path = NULL, *url = NULL;
    int r = (!name || n) && asprintf(&path, "/boxes/import%s%s", n ? "?name=" : "",
                                     n ? n : "") >= 0
                ? box_url(c, path, &url, err) : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    free(n);
    static const char *const hdrs[] = { "Content-Type: application/octet-stream",
                                        "Accept: application/json", NULL };
    struct upload up = { .fd = fd };
    struct sink s = { .kind = SINK_BUF, .max = CLIENT_JSON_MAX };
    if (r >= 0)
        r = authed(c, "POST", url, hdrs, NULL, (size_t)st.st_size, &up, &s, err);
    if (r >= 0 && (s.status < 200 || s.status > 299))
        r = client_error_from((unsigned)s.status, s.buf, s.len, err);
    else if (r >= 0 && !(*out = client_json_object(s.buf, s.len, err)))
        r = -BOXLITE_ERR_IO;
    free(s.buf);
    free(path);
    free(url);
    return r < 0 ? r : 0;
}
