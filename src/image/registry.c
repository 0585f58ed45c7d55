// SPDX-License-Identifier: Apache-2.0
#include "image/registry.h"

#include "common/cleanup.h"
#include "common/clock.h"
#include "image/ref.h"

#include "common/lazy_curl.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST_MAX (4u << 20)
#define TOKEN_MAX (1u << 20)
#define ACCEPT_MANIFESTS                                                                   \
    "Accept: " MT_OCI_INDEX ", " MT_OCI_MANIFEST ", " MT_DOCKER_LIST ", " MT_DOCKER_MANIFEST
#define USER_AGENT "boxlite/0.1"
/* Longer waits than this (a rate limit reset hours away) fail at once with the reason. */
#define RETRY_AFTER_MAX_MS 60000u

struct registry {
    char *name, *host, *repository;
    char base[600]; /* "https://host" */
    int plain_http, skip_verify, local;
    struct registry_opts o;
    struct registry_creds creds;
    char *token;
    int use_basic;
    CURL *easy;
    int cancelled; /* the progress callback asked to stop the current fetch */
};

struct membuf {
    char *data;
    size_t len, max;
    int overflow;
};

struct resp {
    long status;
    char *content_type;
    char *www_auth;
    char *retry_after; /* RFC 9110 section 10.2.3: seconds or an HTTP date */
    char *content_digest; /* Docker-Content-Digest (distribution-spec) */
    struct membuf body;
};

static void resp_free(struct resp *r)
{
    free(r->content_type);
    free(r->www_auth);
    free(r->retry_after);
    free(r->content_digest);
    free(r->body.data);
    memset(r, 0, sizeof *r);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static size_t mem_write(char *p, size_t sz, size_t nm, void *ud)
{
    struct membuf *b = ud;
    size_t n = sz * nm;
    if (b->len + n > b->max) {
        b->overflow = 1;
        return 0;
    }
    char *nd = realloc(b->data, b->len + n + 1);
    if (!nd)
        return 0;
    b->data = nd;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return n;
}

/* Header lines of the final response: a redirect's headers are replaced by the next. */
static void header_take(char **slot, const char *line, size_t n, const char *name)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0)
        return;
    const char *v = line + nl;
    size_t vl = n - nl;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    free(*slot);
    *slot = strndup(v, vl);
}

static size_t resp_header(char *line, size_t sz, size_t nm, void *ud)
{
    struct resp *r = ud;
    size_t n = sz * nm;
    if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
        free(r->www_auth);
        r->www_auth = NULL;
        free(r->content_type);
        r->content_type = NULL;
        free(r->retry_after);
        r->retry_after = NULL;
        free(r->content_digest);
        r->content_digest = NULL;
    }
    header_take(&r->content_type, line, n, "Content-Type:");
    header_take(&r->www_auth, line, n, "WWW-Authenticate:");
    header_take(&r->retry_after, line, n, "Retry-After:");
    header_take(&r->content_digest, line, n, "Docker-Content-Digest:");
    return n;
}

static int is_local(const char *host)
{
    return !strncmp(host, "localhost", 9) && (host[9] == 0 || host[9] == ':') ? 1
           : !strncmp(host, "127.0.0.1", 9) && (host[9] == 0 || host[9] == ':') ? 1
           : !strncmp(host, "[::1]", 5) && (host[5] == 0 || host[5] == ':');
}

static void setup_common(struct registry *r, CURL *c)
{
    curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, r->plain_http || r->skip_verify ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (r->skip_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (r->o.ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, r->o.ca_file);
}

static struct curl_slist *auth_headers(struct registry *r, struct curl_slist *h)
{
    if (r->token) {
        size_t n = strlen(r->token) + 32;
        char *line = malloc(n);
        if (line) {
            snprintf(line, n, "Authorization: Bearer %s", r->token);
            h = curl_slist_append(h, line);
            free(line);
        }
    }
    return h;
}

static void setup_auth(struct registry *r, CURL *c)
{
    if (r->use_basic && r->creds.username) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, r->creds.username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, r->creds.password ? r->creds.password : "");
    }
}

static int retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static int retryable_status(long s) { return s == 429 || s == 408 || (s >= 500 && s <= 599); }

static int max_retries(const struct registry *r) { return r->o.max_retries < 0 ? 0 : r->o.max_retries ? r->o.max_retries : 3; }

static unsigned backoff_ms(const struct registry *r, int attempt)
{
    unsigned base = r->o.retry_base_ms ? r->o.retry_base_ms : 200;
    unsigned ms = base << (attempt > 6 ? 6 : attempt);
    return ms > 10000 ? 10000 : ms;
}

/* The wait a 429 or 503 asks for (Retry-After: delay-seconds or an HTTP date), in ms;
 * -1 if the header is absent or unreadable. */
long registry_retry_after_ms(const char *v, time_t now)
{
    if (!v || !*v)
        return -1;
    char *end;
    errno = 0;
    unsigned long long secs = strtoull(v, &end, 10);
    if (end != v && !*end && !errno && v[0] != '-')
        return secs > 86400ull * 365 ? 86400L * 365 * 1000 : (long)secs * 1000;
    time_t t = curl_getdate(v, NULL);
    if (t < 0)
        return -1;
    return t <= now ? 0 : (long)(t - now) * 1000;
}

/* How long to wait before attempt+1 after a retryable answer: the registry's Retry-After
 * when it gave one (never less than our own backoff). */
static unsigned retry_wait_ms(const struct registry *r, int attempt, const char *retry_after)
{
    unsigned ms = backoff_ms(r, attempt);
    long ra = registry_retry_after_ms(retry_after, time(NULL));
    return ra > (long)ms ? (unsigned)ra : ms;
}

/* A throttled registry that wants us back later than we wait: say so. */
static int throttled(const struct registry *r, long status, const char *retry_after, const char *what,
                     int attempts, struct bl_error *err)
{
    long ra = registry_retry_after_ms(retry_after, time(NULL));
    if (ra >= 0)
        return bl_err(err, BOXLITE_ERR_NETWORK,
                      "%s: registry %s is throttling requests (HTTP %ld) and asks to retry after %ld s",
                      what, r->name, status, (ra + 999) / 1000);
    return bl_err(err, BOXLITE_ERR_NETWORK, "%s: registry %s is throttling requests (HTTP %ld, %d attempts)",
                  what, r->name, status, attempts);
}

/* One GET (or POST with form) on the shared handle, retried on transient failures. */
static int perform(struct registry *r, const char *url, const char *accept, const char *post, int head,
                   int with_auth, int basic_user, size_t max, struct resp *out, struct bl_error *err)
{
    for (int attempt = 0;; attempt++) {
        resp_free(out);
        out->body.max = max;
        CURL *c = r->easy;
        curl_easy_reset(c);
        setup_common(r, c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, resp_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
        struct curl_slist *h = NULL;
        if (accept)
            h = curl_slist_append(h, accept);
        if (with_auth) {
            h = auth_headers(r, h);
            setup_auth(r, c);
        }
        if (basic_user && r->creds.username) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(c, CURLOPT_USERNAME, r->creds.username);
            curl_easy_setopt(c, CURLOPT_PASSWORD, r->creds.password ? r->creds.password : "");
        }
        if (head)
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        if (post) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
            h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        CURLcode rc = curl_easy_perform(c);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(h);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        if (rc == CURLE_OK && !retryable_status(out->status))
            return 0;
        if (rc == CURLE_WRITE_ERROR && out->body.overflow)
            return bl_err(err, BOXLITE_ERR_IMAGE, "GET %s: response larger than %zu bytes", url, max);
        unsigned wait = rc == CURLE_OK ? retry_wait_ms(r, attempt, out->retry_after) : backoff_ms(r, attempt);
        int give_up = attempt >= max_retries(r) || (rc != CURLE_OK && !retryable_curl(rc)) || wait > RETRY_AFTER_MAX_MS;
        if (give_up) {
            if (rc != CURLE_OK)
                return bl_err(err, BOXLITE_ERR_NETWORK, "GET %s: %s", url, curl_easy_strerror(rc));
            if (out->status == 429 || out->status == 503)
                return throttled(r, out->status, out->retry_after, "GET", attempt + 1, err);
            return bl_err(err, BOXLITE_ERR_NETWORK, "GET %s: HTTP %ld after %d attempts", url, out->status, attempt + 1);
        }
        sleep_ms(wait);
    }
}

static char *esc(CURL *c, const char *s) { return curl_easy_escape(c, s, 0); }

/* Answers a challenge: a Bearer token for our repository, or Basic credentials. */
static int authenticate(struct registry *r, const char *www_auth, struct bl_error *err)
{
    struct auth_challenge ch;
    int rc = auth_challenge_parse(&ch, www_auth, err);
    if (rc < 0)
        return bl_err_prefix(err, "registry %s", r->name);
    if (!strcmp(ch.scheme, "basic")) {
        auth_challenge_free(&ch);
        if (!r->creds.username)
            return bl_err(err, BOXLITE_ERR_AUTH, "registry %s requires a login (basic auth) and %s",
                          r->name, r->o.anonymous ? "this pull is anonymous (no stored credentials are used)"
                                                  : "no credentials were found");
        if (r->use_basic)
            return bl_err(err, BOXLITE_ERR_AUTH, "registry %s refused the credentials for user %s", r->name, r->creds.username);
        r->use_basic = 1;
        return 0;
    }
    if (strcmp(ch.scheme, "bearer") != 0) {
        rc = bl_err(err, BOXLITE_ERR_AUTH, "registry %s: unsupported auth scheme \"%s\"", r->name, ch.scheme);
        auth_challenge_free(&ch);
        return rc;
    }
    if (strncmp(ch.realm, "https://", 8) != 0 &&
        !(strncmp(ch.realm, "http://", 7) == 0 && (r->plain_http || r->skip_verify))) {
        rc = bl_err(err, BOXLITE_ERR_AUTH, "registry %s: token realm %.200s is not https", r->name, ch.realm);
        auth_challenge_free(&ch);
        return rc;
    }
    char scope[1024];
    snprintf(scope, sizeof scope, "repository:%s:pull", r->repository);
    char *e_service = ch.service ? esc(r->easy, ch.service) : NULL;
    char *e_scope = esc(r->easy, scope);
    struct resp resp = {0};
    cleanup_free char *url = NULL, *post = NULL;
    if (r->creds.identitytoken) {
        char *e_tok = esc(r->easy, r->creds.identitytoken);
        if (asprintf(&post, "grant_type=refresh_token&client_id=boxlite&service=%s&scope=%s&refresh_token=%s",
                     e_service ? e_service : "", e_scope ? e_scope : "", e_tok ? e_tok : "") < 0)
            post = NULL;
        curl_free(e_tok);
        url = strdup(ch.realm);
    } else if (asprintf(&url, "%s%sservice=%s&scope=%s", ch.realm, strchr(ch.realm, '?') ? "&" : "?",
                        e_service ? e_service : "", e_scope ? e_scope : "") < 0) {
        url = NULL;
    }
    curl_free(e_service);
    curl_free(e_scope);
    auth_challenge_free(&ch);
    if (!url || (r->creds.identitytoken && !post))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    rc = perform(r, url, NULL, post, 0, 0, !r->creds.identitytoken, TOKEN_MAX, &resp, err);
    if (rc < 0) {
        resp_free(&resp);
        return bl_err_prefix(err, "registry %s: token", r->name);
    }
    if (resp.status == 401 || resp.status == 403) {
        resp_free(&resp);
        return bl_err(err, BOXLITE_ERR_AUTH, "registry %s refused %s (token service answered HTTP %ld)", r->name,
                      r->creds.username || r->creds.identitytoken ? "the credentials" : "anonymous access",
                      resp.status);
    }
    if (resp.status != 200) {
        long s = resp.status;
        resp_free(&resp);
        return bl_err(err, BOXLITE_ERR_AUTH, "registry %s: token service answered HTTP %ld", r->name, s);
    }
    json_t *j = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
    const char *tok = json_string_value(json_object_get(j, "token"));
    if (!tok || !*tok)
        tok = json_string_value(json_object_get(j, "access_token"));
    if (!tok || !*tok || strpbrk(tok, "\r\n")) {
        json_decref(j);
        resp_free(&resp);
        return bl_err(err, BOXLITE_ERR_AUTH, "registry %s: token service returned no token", r->name);
    }
    free(r->token);
    r->token = strdup(tok);
    json_decref(j);
    resp_free(&resp);
    return r->token ? 0 : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
}

/* A registry API request with the auth dance: a 401 is answered once, then final. */
static int api_get(struct registry *r, const char *path, const char *accept, int head, size_t max,
                   struct resp *out, struct bl_error *err)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", r->base, path);
    for (int round = 0;; round++) {
        int rc = perform(r, url, accept, NULL, head, 1, 0, max, out, err);
        if (rc < 0)
            return rc;
        if (out->status != 401)
            return 0;
        if (round > 0 || !out->www_auth) {
            return bl_err(err, BOXLITE_ERR_AUTH,
                          "registry %s refused %s for %s (HTTP 401): the repository does not exist or needs a login",
                          r->name, r->creds.username || r->creds.identitytoken ? "the credentials" : "anonymous access",
                          r->repository);
        }
        if ((rc = authenticate(r, out->www_auth, err)) < 0)
            return rc;
    }
}

void registry_close(struct registry *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->host);
    free(r->repository);
    registry_creds_free(&r->creds);
    free(r->token);
    if (r->easy)
        curl_easy_cleanup(r->easy);
    free(r);
}

static int in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (!strcmp(*list, s))
            return 1;
    return 0;
}

int registry_open(struct registry **out, const char *name, const char *repository,
                  const struct registry_opts *opts, struct bl_error *err)
{
    *out = NULL;
    static const struct registry_opts none;
    curl_global_init(CURL_GLOBAL_DEFAULT); /* idempotent; thread-safe on curl >= 7.84 */
    struct registry *r = calloc(1, sizeof *r);
    if (!r)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    r->o = opts ? *opts : none;
    const char *host = !strcmp(name, "docker.io") ? "registry-1.docker.io" : name;
    r->name = strdup(name);
    r->host = strdup(host);
    r->repository = strdup(repository);
    r->easy = curl_easy_init();
    if (!r->name || !r->host || !r->repository || !r->easy) {
        bool no_curl = r->name && r->host && r->repository;
        registry_close(r);
        return no_curl ? lazylib_null_err(&lazy_curl_lib, err)
                       : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    if (r->o.anonymous) {
        /* nothing: the registry sees an anonymous client */
    } else if (r->o.username) {
        r->creds.username = strdup(r->o.username);
        r->creds.password = strdup(r->o.password ? r->o.password : "");
    } else {
        int rc = registry_creds_lookup(&r->creds, r->o.docker_config, name, r->o.helper_timeout_ms, err);
        if (rc < 0) {
            registry_close(r);
            return rc;
        }
    }
    int insecure = in_list(r->o.insecure, name) || in_list(r->o.insecure, host);
    r->local = is_local(host);
    r->skip_verify = insecure;
    snprintf(r->base, sizeof r->base, "https://%s", host);

    /* Ping /v2/: which scheme works, and what auth the registry wants. */
    struct resp resp = {0};
    int saved_retries = r->o.max_retries;
    if (insecure || r->local)
        r->o.max_retries = -1; /* the HTTPS probe fails fast on a plain-HTTP registry */
    char url[700];
    snprintf(url, sizeof url, "%s/v2/", r->base);
    int rc = perform(r, url, NULL, NULL, 0, 0, 0, 65536, &resp, err);
    if (rc < 0 && (insecure || r->local)) {
        char https_err[400];
        snprintf(https_err, sizeof https_err, "%s", err ? err->msg : "");
        r->plain_http = 1;
        snprintf(r->base, sizeof r->base, "http://%s", host);
        snprintf(url, sizeof url, "%s/v2/", r->base);
        r->o.max_retries = saved_retries;
        rc = perform(r, url, NULL, NULL, 0, 0, 0, 65536, &resp, err);
        /* Both failed: the HTTPS reason is usually the one that matters (a TLS-only
         * registry answers plain HTTP with 400). */
        if (rc < 0) {
            char http_err[400];
            snprintf(http_err, sizeof http_err, "%s", err ? err->msg : "");
            bl_err(err, BOXLITE_ERR_NETWORK, "%s (and over plain HTTP: %s)", https_err, http_err);
        }
        else if (resp.status != 200 && resp.status != 401)
            rc = bl_err(err, BOXLITE_ERR_NETWORK, "%s (and plain HTTP answered %ld)", https_err, resp.status);
    }
    r->o.max_retries = saved_retries;
    if (rc < 0) {
        resp_free(&resp);
        registry_close(r);
        return bl_err_prefix(err, "registry %s", name);
    }
    if (resp.status == 401)
        rc = authenticate(r, resp.www_auth, err);
    else if (resp.status != 200)
        rc = bl_err(err, BOXLITE_ERR_IMAGE, "registry %s: GET /v2/ answered HTTP %ld (not a registry?)", name, resp.status);
    resp_free(&resp);
    if (rc < 0) {
        registry_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int registry_get_manifest(struct registry *r, const char *reference, char **body, size_t *len,
                          char **content_type, char digest_out[DIGEST_LEN + 1], struct bl_error *err)
{
    *body = NULL;
    *len = 0;
    if (content_type)
        *content_type = NULL;
    char path[1500];
    snprintf(path, sizeof path, "/v2/%s/manifests/%s", r->repository, reference);
    struct resp resp = {0};
    int rc = api_get(r, path, ACCEPT_MANIFESTS, 0, MANIFEST_MAX, &resp, err);
    if (rc < 0) {
        resp_free(&resp);
        return bl_err_prefix(err, "manifest %s/%s:%s", r->name, r->repository, reference);
    }
    if (resp.status == 404) {
        resp_free(&resp);
        return bl_err(err, BOXLITE_ERR_NOT_FOUND, "image %s/%s:%s not found (manifest unknown)", r->name,
                      r->repository, reference);
    }
    if (resp.status != 200) {
        long s = resp.status;
        resp_free(&resp);
        return bl_err(err, BOXLITE_ERR_IMAGE, "manifest %s/%s:%s: HTTP %ld", r->name, r->repository, reference, s);
    }
    if (!resp.body.data) {
        resp_free(&resp);
        return bl_err(err, BOXLITE_ERR_IMAGE, "manifest %s/%s:%s: empty body", r->name, r->repository, reference);
    }
    blob_digest(resp.body.data, resp.body.len, digest_out);
    if (!strncmp(reference, "sha256:", 7) && strcmp(reference, digest_out) != 0) {
        resp_free(&resp);
        return bl_err(err, BOXLITE_ERR_IMAGE, "manifest %s/%s@%s: content does not match its digest (got %s)",
                      r->name, r->repository, reference, digest_out);
    }
    *body = resp.body.data;
    *len = resp.body.len;
    resp.body.data = NULL;
    if (content_type) {
        *content_type = resp.content_type;
        resp.content_type = NULL;
    }
    resp_free(&resp);
    return 0;
}

int registry_head_manifest(struct registry *r, const char *reference, char digest_out[DIGEST_LEN + 1],
                           struct bl_error *err)
{
    digest_out[0] = 0;
    char path[1500];
    snprintf(path, sizeof path, "/v2/%s/manifests/%s", r->repository, reference);
    struct resp resp = {0};
    int rc = api_get(r, path, ACCEPT_MANIFESTS, 1, 0, &resp, err);
    if (rc < 0) {
        resp_free(&resp);
        return bl_err_prefix(err, "manifest %s/%s:%s", r->name, r->repository, reference);
    }
    long s = resp.status;
    int found = s == 200 && resp.content_digest && image_digest_valid(resp.content_digest);
    if (found)
        snprintf(digest_out, DIGEST_LEN + 1, "%s", resp.content_digest);
    resp_free(&resp);
    if (s == 404)
        return bl_err(err, BOXLITE_ERR_NOT_FOUND, "image %s/%s:%s not found (manifest unknown)", r->name,
                      r->repository, reference);
    if (s != 200 && s != 405)
        return bl_err(err, BOXLITE_ERR_IMAGE, "manifest %s/%s:%s: HEAD answered HTTP %ld", r->name, r->repository,
                      reference, s);
    return found;
}

/* ---- blobs, several at once ---------------------------------------------------------- */

struct xfer {
    struct registry *r;
    size_t i;
    const struct oci_descriptor *d;
    const struct registry_fetch_events *ev;
    CURL *easy;
    struct curl_slist *hdrs;
    struct blob_writer w;
    int writer_open;
    struct resp resp; /* headers only */
    int attempts, reauthed, active, done, fresh_retry;
    uint64_t not_before;
    struct bl_error werr;
    int failed_write;
    int64_t range_from; /* resumed at this offset (Range request), 0 = whole blob */
    int range_ignored;  /* the server answered a Range request with the whole blob */
};

/* The caller's progress callback; a nonzero answer cancels the fetch. */
static void progress(struct xfer *x, uint64_t done)
{
    if (x->r->o.progress && !x->r->cancelled &&
        x->r->o.progress(x->r->o.progress_ud, x->i, x->d->digest, done, (uint64_t)x->d->size))
        x->r->cancelled = 1;
}

static void report(struct xfer *x)
{
    if (x->ev && x->ev->on_data)
        x->ev->on_data(x->ev->ud, x->i, x->w.fd, (uint64_t)x->w.written);
    progress(x, (uint64_t)x->w.written);
}

static size_t blob_write(char *p, size_t sz, size_t nm, void *ud)
{
    struct xfer *x = ud;
    size_t n = sz * nm;
    long status = 0;
    if (x->r->cancelled)
        return 0; /* curl ends the transfer (CURLE_WRITE_ERROR); the bytes so far stay */
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200 && x->range_from > 0 && !x->range_ignored) {
        /* Range not honoured: the whole blob follows, start over. */
        x->range_ignored = 1;
        if (blob_writer_restart(&x->w, &x->werr) < 0) {
            x->failed_write = 1;
            return 0;
        }
    }
    if (status != 200 && !(status == 206 && x->range_from > 0))
        return n; /* an error page or a redirect's body: not blob bytes */
    if (blob_writer_write(&x->w, p, n, &x->werr) < 0) {
        x->failed_write = 1;
        return 0;
    }
    report(x);
    return n;
}

static int xfer_start(struct registry *r, CURLM *multi, struct xfer *x, struct bl_error *err)
{
    if (!x->easy && !(x->easy = curl_easy_init()))
        return lazylib_null_err(&lazy_curl_lib, err);
    CURL *c = x->easy;
    curl_easy_reset(c);
    setup_common(r, c);
    char url[2048];
    snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", r->base, r->repository, x->d->digest);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, blob_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, resp_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x->resp);
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_slist_free_all(x->hdrs);
    x->hdrs = auth_headers(r, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
    setup_auth(r, c);
    resp_free(&x->resp);
    x->failed_write = 0;
    /* A retry, or a download an earlier process left, resumes where the bytes stop; the
     * hash carries on. */
    x->range_from = x->w.written;
    x->range_ignored = 0;
    if (x->range_from > 0) {
        char range[48];
        snprintf(range, sizeof range, "%lld-", (long long)x->range_from);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    if (curl_multi_add_handle(multi, c) != CURLM_OK)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "curl_multi_add_handle failed");
    x->active = 1;
    return 0;
}

static void xfer_done(struct xfer *x)
{
    x->done = 1;
    progress(x, (uint64_t)x->d->size);
    if (x->ev && x->ev->on_done)
        x->ev->on_done(x->ev->ud, x->i);
}

/* Opens blob x's partial file. 1 when it is already stored (by another process that was
 * writing it), 2 when another process is writing it now (try again later), 0 when open. */
static int xfer_open_writer(struct xfer *x, const struct blobstore *bs, struct bl_error *err)
{
    if (blobstore_has(bs, x->d->digest, x->d->size))
        return 1;
    int r = blob_writer_open(&x->w, bs, x->d->digest, x->d->size, err);
    if (r < 0)
        return r;
    if (r == BLOB_WRITER_BUSY)
        return blobstore_has(bs, x->d->digest, x->d->size) ? 1 : 2;
    if (blobstore_has(bs, x->d->digest, x->d->size)) {
        /* Another process stored it between our look and our lock (it renames its partial
         * into place, then unlocks): the file we hold is a fresh, empty one. */
        blob_writer_discard(&x->w);
        return 1;
    }
    x->writer_open = 1;
    if (x->w.written > 0)
        report(x); /* bytes an earlier download left count as done */
    if (x->d->size > 0 && x->w.written == x->d->size) {
        /* An earlier download got every byte but was killed before storing it: nothing
         * to fetch (a Range past the end would only be refused). Wrong bytes are
         * discarded by the commit; then start afresh. */
        x->writer_open = 0;
        struct bl_error e2 = {0};
        if (blob_writer_commit(&x->w, &e2) == 0)
            return 1;
        return xfer_open_writer(x, bs, err);
    }
    return 0;
}

int registry_fetch_blobs(struct registry *r, const struct blobstore *bs, const struct oci_descriptor *blobs,
                         size_t n, const struct registry_fetch_events *ev, struct bl_error *err)
{
    if (n == 0)
        return 0;
    struct xfer *xs = calloc(n, sizeof *xs);
    CURLM *multi = curl_multi_init();
    if (!xs || !multi) {
        free(xs);
        if (multi)
            curl_multi_cleanup(multi);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    int parallel = r->o.max_parallel > 0 ? r->o.max_parallel : 4;
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)parallel);
    size_t remaining = 0;
    int rc = 0;
    r->cancelled = 0;
    for (size_t i = 0; i < n; i++) {
        xs[i].r = r;
        xs[i].i = i;
        xs[i].d = &blobs[i];
        xs[i].ev = ev;
        xs[i].w.fd = -1;
        if (blobstore_has(bs, blobs[i].digest, blobs[i].size))
            xfer_done(&xs[i]);
        else
            remaining++;
    }
    int active = 0;
    while (remaining > 0 && rc == 0 && !r->cancelled) {
        uint64_t now = mono_ms(), next_wake = now + 1000;
        for (size_t i = 0; i < n && active < parallel && rc == 0 && !r->cancelled; i++) {
            struct xfer *x = &xs[i];
            if (x->done || x->active)
                continue;
            if (x->not_before > now) {
                if (x->not_before < next_wake)
                    next_wake = x->not_before;
                continue;
            }
            if (!x->writer_open) {
                int o = xfer_open_writer(x, bs, err);
                if (o < 0) {
                    rc = o;
                    break;
                }
                if (o == 1) {
                    xfer_done(x);
                    remaining--;
                    continue;
                }
                if (o == 2) { /* another process downloads it: look again soon */
                    x->not_before = now + 100;
                    if (x->not_before < next_wake)
                        next_wake = x->not_before;
                    continue;
                }
            }
            if ((rc = xfer_start(r, multi, x, err)) < 0)
                break;
            active++;
        }
        if (rc < 0)
            break;
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while (rc == 0 && (msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode cr = msg->data.result;
            curl_multi_remove_handle(multi, msg->easy_handle);
            x->active = 0;
            active--;
            long status = 0;
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
            const char *dg = x->d->digest;
            int can_retry = x->attempts < max_retries(r);
            if (r->cancelled) {
                break; /* what this transfer got stays in its partial file */
            } else if (x->failed_write) {
                *err = x->werr;
                rc = -err->code;
            } else if (cr == CURLE_OK && (status == 200 || (status == 206 && x->range_from > 0))) {
                if (x->w.written < x->d->size && can_retry) {
                    /* The body ended early without curl noticing (no length): resume. */
                    x->not_before = mono_ms() + backoff_ms(r, x->attempts++);
                    continue;
                }
                int64_t resumed = x->w.resumed_from;
                x->writer_open = 0;
                if ((rc = blob_writer_commit(&x->w, err)) < 0) {
                    /* Bytes left by an earlier download may be what is wrong: the partial
                     * file is gone now, so try once more from the start. */
                    if (resumed > 0 && !x->fresh_retry) {
                        x->fresh_retry = 1;
                        rc = 0;
                        x->not_before = mono_ms();
                    }
                    continue;
                }
                xfer_done(x);
                remaining--;
            } else if (cr == CURLE_OK && status == 401 && !x->reauthed && x->resp.www_auth) {
                x->reauthed = 1;
                if ((rc = authenticate(r, x->resp.www_auth, err)) < 0)
                    break;
            } else if (cr == CURLE_OK && (status == 401 || status == 403)) {
                rc = bl_err(err, BOXLITE_ERR_AUTH, "blob %s: registry %s refused access (HTTP %ld)", dg, r->name, status);
            } else if (cr == CURLE_OK && status == 404) {
                rc = bl_err(err, BOXLITE_ERR_NOT_FOUND, "blob %s not found in %s/%s", dg, r->name, r->repository);
            } else if (cr == CURLE_OK && status == 416 && can_retry) {
                blob_writer_restart(&x->w, err); /* the resume offset was refused: from 0 */
                x->not_before = mono_ms() + backoff_ms(r, x->attempts++);
            } else if (cr == CURLE_OK && retryable_status(status)) {
                unsigned wait = retry_wait_ms(r, x->attempts, x->resp.retry_after);
                if (can_retry && wait <= RETRY_AFTER_MAX_MS) {
                    x->not_before = mono_ms() + wait;
                    x->attempts++;
                } else if (status == 429 || status == 503) {
                    char what[120];
                    snprintf(what, sizeof what, "blob %s", dg);
                    rc = throttled(r, status, x->resp.retry_after, what, x->attempts + 1, err);
                } else {
                    rc = bl_err(err, BOXLITE_ERR_NETWORK, "blob %s: registry %s answered HTTP %ld (%d attempts)", dg,
                                r->name, status, x->attempts + 1);
                }
            } else if (cr != CURLE_OK && retryable_curl(cr) && can_retry) {
                x->not_before = mono_ms() + backoff_ms(r, x->attempts++);
            } else if (cr == CURLE_PARTIAL_FILE) {
                rc = bl_err(err, BOXLITE_ERR_NETWORK, "blob %s: truncated download: got %lld of %lld bytes (%d attempts)",
                            dg, (long long)x->w.written, (long long)x->d->size, x->attempts + 1);
            } else if (cr != CURLE_OK) {
                rc = bl_err(err, BOXLITE_ERR_NETWORK, "blob %s: %s (after %d attempts; got %lld of %lld bytes)", dg,
                            curl_easy_strerror(cr), x->attempts + 1, (long long)x->w.written, (long long)x->d->size);
            } else {
                rc = bl_err(err, BOXLITE_ERR_IMAGE, "blob %s: HTTP %ld", dg, status);
            }
        }
        if (rc < 0 || remaining == 0 || r->cancelled)
            break;
        uint64_t t = mono_ms();
        int timeout = next_wake > t ? (int)(next_wake - t) : 0;
        if (timeout > 1000)
            timeout = 1000;
        curl_multi_poll(multi, NULL, 0, active ? timeout : (timeout ? timeout : 1), NULL);
    }
    if (r->cancelled && rc == 0)
        rc = bl_err(err, BOXLITE_ERR_CANCELLED, "pull cancelled by its progress callback (%zu "
                    "of %zu blobs still to fetch; what was downloaded is kept, and a later "
                    "pull resumes it)", remaining, n);
    /* A write failed (a full disk): every partial file goes, not only that blob's, or a
     * download still under way when the disk filled would keep holding its space. */
    int write_failed = 0;
    for (size_t i = 0; i < n; i++)
        write_failed |= xs[i].failed_write;
    for (size_t i = 0; i < n; i++) {
        struct xfer *x = &xs[i];
        if (x->active)
            curl_multi_remove_handle(multi, x->easy);
        if (x->writer_open && write_failed)
            blob_writer_discard(&x->w); /* a full disk: give the space back */
        else if (x->writer_open)
            blob_writer_abort(&x->w); /* kept: the next pull resumes it */
        if (x->easy)
            curl_easy_cleanup(x->easy);
        curl_slist_free_all(x->hdrs);
        resp_free(&x->resp);
    }
    curl_multi_cleanup(multi);
    free(xs);
    return rc;
}
