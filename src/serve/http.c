// SPDX-License-Identifier: Apache-2.0
/* HTTP glue over libmicrohttpd: one thread per connection (a slow or stalled client holds
 * its own thread only, and an SSE stream may block waiting for output), bodies gathered up
 * to a limit (a Content-Length above it is refused before a byte is read), the bearer token
 * checked before the body is read, the route's scope enforced, the document's error model
 * (docs/api.yaml ErrorResponse) for every failure, and one log line per request (method,
 * path, status, duration, client id; never a secret, a token or a query string). */
#include "serve/server.h"

#include "common/clock.h"
#include "common/io.h"

#include <arpa/inet.h>
#include "common/lazy_crypto.h"
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *req_arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* The answer to a request holding an Idempotency-Key is kept for the key, unless the
 * server failed (5xx) or held the caller back (429): then a retry carries it out. */
static void idem_settle(struct req *q, unsigned status, struct MHD_Response *r)
{
    if (!q->idem_key[0])
        return;
    if (status >= 500 || status == 429 || !r)
        serve_idem_abort(q->s->idem, q->tok.prefix, q->idem_key);
    else
        serve_idem_finish(q->s->idem, q->tok.prefix, q->idem_key, status, q->idem_body,
                          MHD_get_response_header(r, "Location"));
    q->idem_key[0] = 0;
    free(q->idem_body);
    q->idem_body = NULL;
}

enum MHD_Result reply_response(struct MHD_Connection *c, struct req *q, unsigned status,
                               struct MHD_Response *r)
{
    idem_settle(q, status, r);
    if (!r)
        return MHD_NO;
    q->status = (int)status;
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result res = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return res;
}

/* Keeps a copy of a JSON body when the request holds an Idempotency-Key. */
static void idem_keep(struct req *q, const char *body)
{
    if (q->idem_key[0] && !q->idem_body)
        q->idem_body = strdup(body);
}

enum MHD_Result reply_json(struct MHD_Connection *c, struct req *q, unsigned status,
                           json_t *body)
{
    return reply_json_at(c, q, status, body, NULL);
}

enum MHD_Result reply_json_at(struct MHD_Connection *c, struct req *q, unsigned status,
                              json_t *body, const char *location)
{
    if (!body) /* an encoder found nothing to say: still an answer, not a dropped connection */
        return reply_error(c, q, 500, "InternalError", "no response body could be made");
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s)
        return reply_error(c, q, 500, "InternalError", "out of memory");
    size_t n = strlen(s);
    idem_keep(q, s);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, s, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(s);
        return reply_response(c, q, status, NULL);
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (location)
        MHD_add_response_header(r, "Location", location);
    return reply_response(c, q, status, r);
}

enum MHD_Result reply_empty(struct MHD_Connection *c, struct req *q, unsigned status)
{
    return reply_response(c, q, status,
                          MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

json_t *serve_error_model(unsigned status, const char *type, const char *msg)
{
    json_t *e = json_pack("{s:{s:s,s:s,s:i}}", "error", "message", msg, "type", type, "code",
                          (int)status);
    if (!e) /* a message that is not UTF-8 (a guest's or a registry's bytes): say so without it */
        e = json_pack("{s:{s:s,s:s,s:i}}", "error", "message", "(message not UTF-8)", "type",
                      type, "code", (int)status);
    return e;
}

enum MHD_Result reply_error(struct MHD_Connection *c, struct req *q, unsigned status,
                            const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = serve_error_model(status, type, msg);
    char *body = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (body)
        idem_keep(q, body);
    struct MHD_Response *r =
        body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE)
             : NULL;
    if (!r) {
        free(body);
        return reply_response(c, q, status, NULL);
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (status == 401) /* RFC 6750 section 3 */
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"boxlite\"");
    if (status == 405)
        MHD_add_response_header(r, "Allow", serve_route_methods(q->route.id));
    if (status == 429)
        MHD_add_response_header(r, "Retry-After", "1");
    return reply_response(c, q, status, r);
}

enum MHD_Result reply_lib_error(struct MHD_Connection *c, struct req *q, const char *what)
{
    static const struct { int code; unsigned status; const char *type; } map[] = {
        { BOXLITE_ERR_INVALID, 400, "InvalidArgumentError" },
        { BOXLITE_ERR_NOT_FOUND, 404, "NotFoundError" },
        { BOXLITE_ERR_EXISTS, 409, "AlreadyExistsError" },
        { BOXLITE_ERR_STATE, 409, "InvalidStateError" },
        { BOXLITE_ERR_IO, 500, "StorageError" },
        { BOXLITE_ERR_NOMEM, 500, "InternalError" },
        { BOXLITE_ERR_ENGINE, 500, "EngineError" },
        { BOXLITE_ERR_TIMEOUT, 504, "InternalError" },
        { BOXLITE_ERR_IMAGE, 422, "ImageError" },
        { BOXLITE_ERR_AUTH, 422, "ImageError" },
        { BOXLITE_ERR_NETWORK, 502, "NetworkError" },
        { BOXLITE_ERR_PROTOCOL, 502, "RpcError" },
        { BOXLITE_ERR_UNSUPPORTED, 501, "UnsupportedError" },
    };
    int code = boxlite_errcode();
    unsigned status = 500;
    const char *type = "InternalError";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].code == code) {
            status = map[i].status;
            type = map[i].type;
        }
    return reply_error(c, q, status, type, "%s: %s", what, boxlite_errmsg());
}

/* "Bearer <token>" checked; 0 with q->tok, or the status already replied. */
static int authenticate(struct MHD_Connection *c, struct req *q, enum MHD_Result *res)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
        *res = reply_error(c, q, 401, "UnauthorizedError",
                           "missing bearer token (POST /v1/oauth/tokens issues one)");
        return -1;
    }
    int r = strlen(h + 7) > 256 ? -1 : serve_token_check(q->s->tokens, h + 7, &q->tok);
    if (r == -2) {
        *res = reply_error(c, q, 401, "UnauthorizedError", "expired access token");
        return -1;
    }
    if (r == -3) {
        q->authed = true; /* the log names who was held back */
        *res = reply_error(c, q, 429, "InvalidStateError",
                           "more than %u requests per second with this token; retry later",
                           q->s->cfg.rate);
        return -1;
    }
    if (r != 0) {
        *res = reply_error(c, q, 401, "UnauthorizedError", "invalid access token");
        return -1;
    }
    q->authed = true;
    const char *scope = serve_route_scope(q->route.id, q->method);
    if (q->route.prefix[0] && strcmp(q->route.prefix, q->tok.prefix) != 0) {
        /* another tenant's prefix: nothing there exists for this caller */
        *res = reply_error(c, q, 404, "NotFoundError", "not found: %s", q->path);
        return -1;
    }
    if (scope && !serve_scopes_have(q->tok.scopes, scope)) {
        *res = reply_error(c, q, 403, "UnauthorizedError", "the token lacks scope %s", scope);
        return -1;
    }
    return 0;
}

static bool method_allowed(const char *allowed, const char *m)
{
    size_t n = strlen(m);
    for (const char *p = allowed; (p = strstr(p, m)); p += n)
        if ((p == allowed || p[-1] == ' ') && (p[n] == ',' || p[n] == 0))
            return true;
    return false;
}

/* The routes whose POST (DELETE for a box) takes an Idempotency-Key: those of BoxLite's
 * document (create, delete, start, stop, exec, signal, pull) and the other two that create
 * (clone, snapshot). */
static bool idem_route(const struct req *q)
{
    switch (q->route.id) {
    case R_BOX:
        return !strcmp(q->method, "DELETE");
    case R_BOXES:
    case R_BOX_START:
    case R_BOX_STOP:
    case R_BOX_CLONE:
    case R_BOX_SNAPSHOTS:
    case R_BOX_EXEC:
    case R_EXEC_SIGNAL:
    case R_IMAGES_PULL:
    case R_BOX_FORK:
    case R_BOX_KILL:
        return !strcmp(q->method, "POST");
    default:
        return false;
    }
}

static enum MHD_Result hash_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    EVP_MD_CTX *h = cls;
    EVP_DigestUpdate(h, key, strlen(key) + 1);
    EVP_DigestUpdate(h, value ? value : "", value ? strlen(value) + 1 : 1);
    return MHD_YES;
}

/* The request's fingerprint: method, path, query arguments (in order), body. */
static int fingerprint(struct MHD_Connection *c, const struct req *q, uint8_t fp[32])
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned n = 0;
    int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(h, q->method, strlen(q->method) + 1) &&
             EVP_DigestUpdate(h, q->path, strlen(q->path) + 1);
    if (ok) {
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, hash_arg, h);
        ok = EVP_DigestUpdate(h, "\n", 1) && (!q->len || EVP_DigestUpdate(h, q->body, q->len)) &&
             EVP_DigestFinal_ex(h, fp, &n);
    }
    EVP_MD_CTX_free(h);
    return ok && n == 32 ? 0 : -1;
}

/* An Idempotency-Key: 0 to go on (the key reserved, or none), else the request answered. */
static int idempotency(struct MHD_Connection *c, struct req *q, enum MHD_Result *res)
{
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    if (!key || !idem_route(q))
        return 0;
    uint8_t fp[32];
    if (!serve_idem_key_ok(key)) {
        *res = reply_error(c, q, 400, "InvalidArgumentError",
                           "Idempotency-Key: 1 to %d printable characters",
                           SERVE_IDEM_KEY_MAX);
        return -1;
    }
    if (fingerprint(c, q, fp)) {
        *res = reply_error(c, q, 500, "InternalError", "out of memory");
        return -1;
    }
    struct serve_idem_answer a;
    switch (serve_idem_begin(q->s->idem, q->tok.prefix, key, fp, (long long)time(NULL), &a)) {
    case IDEM_NEW:
        snprintf(q->idem_key, sizeof q->idem_key, "%s", key);
        return 0;
    case IDEM_REPLAY: {
        struct MHD_Response *r =
            a.body ? MHD_create_response_from_buffer(strlen(a.body), a.body,
                                                     MHD_RESPMEM_MUST_FREE)
                   : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!r) {
            serve_idem_answer_free(&a);
            *res = MHD_NO;
            return -1;
        }
        a.body = NULL; /* the response's now */
        if (r && MHD_get_response_header(r, "Content-Type") == NULL && a.status != 204)
            MHD_add_response_header(r, "Content-Type", "application/json");
        if (a.location)
            MHD_add_response_header(r, "Location", a.location);
        MHD_add_response_header(r, "Idempotent-Replayed", "true");
        serve_idem_answer_free(&a);
        *res = reply_response(c, q, a.status, r);
        return -1;
    }
    case IDEM_MISMATCH:
        *res = reply_error(c, q, 422, "InvalidArgumentError",
                           "Idempotency-Key %.64s was used for another request", key);
        return -1;
    case IDEM_BUSY:
        *res = reply_error(c, q, 409, "InvalidStateError",
                           "a request with Idempotency-Key %.64s is still being carried out",
                           key);
        return -1;
    case IDEM_FULL:
        *res = reply_error(c, q, 503, "InternalError",
                           "too many idempotency keys in flight; retry later");
        return -1;
    default:
        *res = reply_error(c, q, 400, "InvalidArgumentError", "Idempotency-Key: not a key");
        return -1;
    }
}

static enum MHD_Result dispatch(struct MHD_Connection *c, struct req *q)
{
    enum MHD_Result res;
    if (idempotency(c, q, &res) != 0)
        return res;
    switch (q->route.id) {
    case R_CONFIG:
        return h_config(c, q);
    case R_TOKENS:
        return h_token(c, q);
    case R_BOXES:
        return h_boxes(c, q);
    case R_BOX:
    case R_BOX_START:
    case R_BOX_STOP:
    case R_BOX_CLONE:
    case R_BOX_METRICS:
    case R_BOX_EXPORT:
        return h_box(c, q);
    case R_BOXES_IMPORT:
        return h_import(c, q);
    case R_BOX_SNAPSHOTS:
    case R_SNAPSHOT:
    case R_SNAPSHOT_RESTORE:
        return h_box_snapshots(c, q);
    case R_BOX_FILES:
        return h_files(c, q);
    case R_IMAGES:
    case R_IMAGES_PULL:
    case R_IMAGE:
    case R_IMAGES_PRUNE:
        return h_images(c, q);
    case R_BOX_KILL: case R_BOX_WAIT: case R_BOX_RENAME: case R_BOX_PAUSE:
    case R_BOX_RESUME: case R_BOX_FORK: case R_BOX_RECLAIM: case R_BOX_BALLOON:
    case R_BOXES_PRUNE:
        return h_manage(c, q);
    case R_METRICS:
        return h_metrics(c, q);
    case R_HOST:
        return h_host(c, q);
    case R_BOX_TTY:
        return h_tty(c, q);
    case R_BOX_LOGS:
    case R_BOX_STDIN:
        return h_logs(c, q);
    case R_BOX_EXEC:
    case R_EXECUTION:
    case R_EXEC_OUTPUT:
    case R_EXEC_INPUT:
    case R_EXEC_SIGNAL:
    case R_EXEC_RESIZE:
        return h_exec(c, q);
    default:
        return reply_error(c, q, 501, "UnsupportedError",
                           "%s %s is not implemented by this server yet (docs/api.yaml lists "
                           "what is)", q->method, q->path);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **ctx)
{
    struct server *s = cls;
    struct req *q = *ctx;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        *ctx = q;
        q->s = s;
        q->start_us = mono_us();
        q->method = method;
        snprintf(q->path, sizeof q->path, "%s", url);
        if (serve_route_parse(url, &q->route) != 0)
            return reply_error(c, q, 404, "NotFoundError", "no such path: %s", q->path);
        if (!method_allowed(serve_route_methods(q->route.id), method))
            return reply_error(c, q, 405, "InvalidArgumentError", "%s is not allowed on %s",
                               method, q->path);
        enum MHD_Result res;
        if (serve_route_scope(q->route.id, method) && authenticate(c, q, &res) != 0)
            return res;
        q->limit = q->route.id == R_EXEC_INPUT ? s->cfg.max_input : s->cfg.max_body;
        /* files and box archives go to a scratch file, never to memory */
        bool to_file = (q->route.id == R_BOX_FILES && !strcmp(method, "PUT")) ||
                       q->route.id == R_BOXES_IMPORT;
        if (to_file)
            q->limit = (size_t)s->cfg.max_file;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > q->limit)
                return reply_error(c, q, 413, "InvalidArgumentError",
                                   "request body larger than %zu bytes", q->limit);
        }
        if (to_file && serve_files_upload_open(q) != 0)
            return reply_error(c, q, 500, "StorageError", "scratch file: %s", strerror(errno));
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->upload_fd > 0 && !q->too_big && q->len + n <= q->limit) {
            if (io_write_all(q->upload_fd, upload_data, n) != 0)
                return MHD_NO; /* the scratch disk is full: the connection ends */
            q->len += n;
            return MHD_YES;
        }
        if (q->too_big || q->len + n > q->limit) {
            q->too_big = true; /* a chunked body past the limit: read and dropped */
            free(q->body);
            q->body = NULL;
            return MHD_YES;
        }
        char *b = realloc(q->body, q->len + n + 1);
        if (!b)
            return MHD_NO;
        memcpy(b + q->len, upload_data, n);
        q->body = b;
        q->len += n;
        q->body[q->len] = 0;
        return MHD_YES;
    }
    if (q->too_big)
        return reply_error(c, q, 413, "InvalidArgumentError",
                           "request body larger than %zu bytes", q->limit);
    if (atomic_load(&s->stopping))
        return reply_error(c, q, 503, "InternalError", "the server is shutting down");
    return dispatch(c, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct req *q = *ctx;
    if (!q)
        return;
    double ms = (double)(mono_us() - q->start_us) / 1000.0;
    if (s->cfg.log) {
        pthread_mutex_lock(&s->log_lock);
        fprintf(s->cfg.log, "serve: %s %s %d %.1fms client=%s%s\n", q->method, q->path,
                q->status, ms, q->authed ? q->tok.client : "-",
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
        fflush(s->cfg.log);
        pthread_mutex_unlock(&s->log_lock);
    }
    serve_files_cleanup(q);
    idem_settle(q, 500, NULL); /* never answered: the key is released */
    serve_tty_release(q->tty);
    free(q->body);
    free(q);
    *ctx = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct server *s = cls;
    if (!s->cfg.log)
        return;
    pthread_mutex_lock(&s->log_lock);
    fputs("serve: libmicrohttpd: ", s->cfg.log);
    vfprintf(s->cfg.log, fmt, ap);
    fflush(s->cfg.log);
    pthread_mutex_unlock(&s->log_lock);
}

static char *read_file(const char *path, struct bl_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        bl_errno(err, errno, "%s", path);
        return NULL;
    }
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf) {
        bl_err(err, BOXLITE_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

/* "127.0.0.1:8100", "[::1]:8100", "0.0.0.0:0" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, bool *loopback,
                        struct bl_error *err)
{
    memset(ss, 0, sizeof *ss);
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host)
        return bl_err(err, BOXLITE_ERR_INVALID, "--listen %s: not ADDR:PORT", s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535)
        return bl_err(err, BOXLITE_ERR_INVALID, "--listen %s: bad port", s);
    size_t hl = strlen(host);
    if (host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = 0;
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return bl_err(err, BOXLITE_ERR_INVALID, "--listen %s: bad IPv6 address", s);
        *loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return bl_err(err, BOXLITE_ERR_INVALID, "--listen %s: bad IPv4 address", s);
    *loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

/* The runtime the server drives. Its pulls are a tenant's, not this host's user's: unless
 * the operator lends them (--registry-credentials), they present no stored credentials, so
 * a tenant reaches only what the registry gives anyone, and no credential helper runs on
 * a tenant's behalf. */
static int open_runtime(struct server *s, struct bl_error *err)
{
    json_t *o = s->cfg.runtime_options ? json_loads(s->cfg.runtime_options, 0, NULL)
                                       : json_object();
    if (!json_is_object(o)) {
        json_decref(o);
        return bl_err(err, BOXLITE_ERR_INVALID, "runtime options: not a JSON object");
    }
    if (!s->cfg.registry_credentials)
        json_object_set_new(o, "anonymous_pulls", json_true());
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return bl_err(err, BOXLITE_ERR_NOMEM, "runtime options: out of memory");
    int r = boxlite_runtime_open_with(s->cfg.home, text, &s->rt);
    free(text);
    return r ? bl_err(err, r, "runtime: %s", boxlite_errmsg()) : 0;
}

int serve_start(struct server *s, struct bl_error *err)
{
    struct sockaddr_storage ss;
    bool loopback = false;
    int r = parse_listen(s->cfg.listen, &ss, &loopback, err);
    if (r)
        return r;
    bool tls = s->cfg.tls_cert || s->cfg.tls_key;
    if (tls && !(s->cfg.tls_cert && s->cfg.tls_key))
        return bl_err(err, BOXLITE_ERR_INVALID, "--tls-cert and --tls-key go together");
    if (!loopback && !tls && !s->cfg.insecure)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "--listen %s is not a loopback address: give --tls-cert and --tls-key "
                      "(or --insecure to send tokens in clear text anyway)", s->cfg.listen);
    pthread_mutex_init(&s->log_lock, NULL);
    pthread_mutex_init(&s->create_lock, NULL);
    if ((r = serve_creds_load(s->cfg.credentials, &s->creds, err)))
        return r;
    s->tokens = serve_tokens_new(s->cfg.rate);
    s->execs = serve_execs_new();
    s->pulls = serve_pulls_new();
    /* every tenant (client prefix) may hold its full share of keys at once */
    s->idem = serve_idem_new(SERVE_IDEM_PER_TENANT * (s->creds.n ? s->creds.n : 1),
                             SERVE_IDEM_PER_TENANT, s->cfg.idem_ttl_s);
    s->ttys = serve_ttys_new();
    if (!s->tokens || !s->execs || !s->pulls || !s->idem || !s->ttys)
        return bl_err(err, BOXLITE_ERR_NOMEM, "serve: out of memory");
    if ((r = open_runtime(s, err)))
        return r;
    char *cert = NULL, *key = NULL;
    if (tls) {
        cert = read_file(s->cfg.tls_cert, err);
        key = cert ? read_file(s->cfg.tls_key, err) : NULL;
        if (!key) {
            free(cert);
            return -err->code;
        }
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_UPGRADE;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_opts[] = {
        { MHD_OPTION_HTTPS_MEM_CERT, 0, cert },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, key },
        { MHD_OPTION_END, 0, NULL },
    };
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, /* first: see its doc */
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_LIMIT, 512u,
                            /* idle connections go; an SSE stream sends a comment every 15 s */
                            MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                            MHD_OPTION_ARRAY, tls ? tls_opts : tls_opts + 2,
                            MHD_OPTION_END);
    if (cert)
        memset(key, 0, strlen(key));
    free(cert);
    free(key);
    if (!s->d && !lazy_mhd())
        return lazylib_null_err(&lazy_mhd_lib, err);
    if (!s->d)
        return bl_err(err, BOXLITE_ERR_IO, "cannot listen on %s (in use, or a bad TLS "
                      "certificate or key)", s->cfg.listen);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return 0;
}

void serve_stop(struct server *s)
{
    atomic_store(&s->stopping, true);
    if (s->d)
        MHD_quiesce_daemon(s->d); /* no new connections from here on */
    if (s->execs)
        serve_execs_shutdown(s->execs, 15);
    serve_ttys_shutdown(s->ttys); /* upgraded connections are ours to end before MHD stops */
    if (s->d)
        MHD_stop_daemon(s->d); /* waits for every connection's thread */
    s->d = NULL;
    serve_execs_free(s->execs);
    s->execs = NULL;
    serve_tokens_free(s->tokens);
    s->tokens = NULL;
    serve_pulls_free(s->pulls);
    s->pulls = NULL;
    serve_idem_free(s->idem);
    s->idem = NULL;
    serve_ttys_free(s->ttys);
    s->ttys = NULL;
    serve_creds_free(&s->creds);
    boxlite_runtime_close(s->rt);
    s->rt = NULL;
}
