// SPDX-License-Identifier: Apache-2.0
/* Clients and bearer tokens (OAuth2 client credentials, RFC 6749 section 4.4). The
 * credentials file holds, per client, its tenant prefix, its scopes and SHA-256(salt ||
 * secret), never the secret: secrets are 256 random bits, so a salted hash cannot be
 * brute-forced and a slow KDF would buy nothing. Tokens are 256 random bits too, kept in
 * memory as their SHA-256 (a server restart ends every session) and looked up by comparing
 * digests in constant time (CRYPTO_memcmp), so response timing says nothing about how much
 * of a guess matched. */
#include "serve/serve.h"

#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include "common/lazy_crypto.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const known_scopes[] = { "boxes:read", "boxes:write", "boxes:exec",
                                            "images:read", "images:write", "runtime:admin",
                                            NULL };

static void sha256(const void *a, size_t an, const void *b, size_t bn, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned n = 32;
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(c, a, an) != 1 ||
        EVP_DigestUpdate(c, b, bn) != 1 || EVP_DigestFinal_ex(c, out, &n) != 1)
        memset(out, 0xff, 32); /* matches nothing a real secret hashes to */
    EVP_MD_CTX_free(c);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", s[2 * i]) ||
            !strchr("0123456789abcdef", s[2 * i + 1]))
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* n random bytes as base64url without padding, after tag; malloc'd. */
static char *random_string(const char *tag, size_t n)
{
    uint8_t raw[48];
    if (n > sizeof raw || RAND_bytes(raw, (int)n) != 1)
        return NULL;
    char *b = serve_base64(raw, n);
    OPENSSL_cleanse(raw, sizeof raw);
    if (!b)
        return NULL;
    char *o = malloc(strlen(tag) + strlen(b) + 1);
    if (o) {
        size_t k = strlen(tag);
        memcpy(o, tag, k);
        for (size_t i = 0; b[i] && b[i] != '='; i++)
            o[k++] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
        o[k] = 0;
    }
    OPENSSL_cleanse(b, strlen(b));
    free(b);
    return o;
}

bool serve_scopes_have(const char *scopes, const char *scope)
{
    size_t n = strlen(scope);
    for (const char *p = scopes; p && *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !memcmp(p, scope, n))
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

char *serve_scopes_normalise(const char *list)
{
    char out[256] = "";
    char *copy = strdup(list ? list : "");
    if (!copy)
        return NULL;
    char *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (!strcmp(t, "-")) /* the file's word for no scope */
            continue;
        bool known = false;
        for (size_t i = 0; known_scopes[i]; i++)
            known |= !strcmp(known_scopes[i], t);
        if (!known) {
            free(copy);
            return NULL;
        }
        if (!serve_scopes_have(out, t)) {
            if (*out)
                strcat(out, " ");
            strcat(out, t); /* 6 known scopes fit in 256 bytes */
        }
    }
    free(copy);
    return strdup(out);
}

void serve_creds_free(struct serve_creds *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].id);
        free(c->v[i].prefix);
        free(c->v[i].scopes);
    }
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

/* A served prefix: the document's pattern without dots (the box's library name is
 * "<prefix>.<name>"), at most 32 characters (names keep 31 of the library's 64). */
static bool served_prefix(const char *p)
{
    return serve_valid_prefix(p) && !strchr(p, '.') && strlen(p) <= 32;
}

static bool valid_client_id(const char *s)
{
    return serve_valid_prefix(s);
}

int serve_creds_load(const char *path, struct serve_creds *c, struct bl_error *err)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0; /* no clients yet */
        return bl_errno(err, errno, "credentials %s", path);
    }
    char line[1024];
    int lineno = 0, r = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        char id[256], prefix[256], scopes[256], salt[64], hash[128];
        struct serve_client cl = {0};
        if (sscanf(line, "%255s %255s %255s %63s %127s", id, prefix, scopes, salt, hash) != 5 ||
            !valid_client_id(id) || !served_prefix(prefix) || unhex(salt, cl.salt, 16) ||
            unhex(hash, cl.hash, 32)) {
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "credentials %s:%d: not \"CLIENT_ID PREFIX SCOPES SALT HASH\"", path,
                       lineno);
            break;
        }
        for (size_t i = 0; i < c->n; i++)
            if (!strcmp(c->v[i].id, id))
                r = bl_err(err, BOXLITE_ERR_INVALID, "credentials %s:%d: client %s twice",
                           path, lineno, id);
        char *sc = serve_scopes_normalise(scopes);
        if (!r && !sc)
            r = bl_err(err, BOXLITE_ERR_INVALID, "credentials %s:%d: unknown scope in %s", path,
                       lineno, scopes);
        struct serve_client *n = r ? NULL : realloc(c->v, (c->n + 1) * sizeof *n);
        if (!r && !n)
            r = bl_err(err, BOXLITE_ERR_NOMEM, "credentials: out of memory");
        if (r) {
            free(sc);
            break;
        }
        c->v = n;
        cl.id = strdup(id);
        cl.prefix = strdup(prefix);
        cl.scopes = sc;
        c->v[c->n++] = cl;
    }
    fclose(f);
    if (r)
        serve_creds_free(c);
    return r;
}

static int creds_write(const char *path, const struct serve_creds *c, struct bl_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return bl_errno(err, errno, "credentials %s", tmp);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return bl_errno(err, errno, "credentials %s", tmp);
    }
    fprintf(f, "# boxlite serve credentials: CLIENT_ID PREFIX SCOPES SALT SHA256(SALT||SECRET)\n");
    for (size_t i = 0; i < c->n; i++) {
        char salt[33], hash[65], scopes[256];
        hex(c->v[i].salt, 16, salt);
        hex(c->v[i].hash, 32, hash);
        snprintf(scopes, sizeof scopes, "%s", c->v[i].scopes);
        for (char *p = scopes; *p; p++)
            if (*p == ' ')
                *p = ',';
        fprintf(f, "%s %s %s %s %s\n", c->v[i].id, c->v[i].prefix, *scopes ? scopes : "-",
                salt, hash);
    }
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return bl_errno(err, e, "credentials %s", path);
    }
    return 0;
}

int serve_creds_add(const char *path, const char *id, const char *prefix, const char *scopes,
                    char **secret, struct bl_error *err)
{
    *secret = NULL;
    if (!valid_client_id(id))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "client id \"%s\" must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$", id);
    if (!served_prefix(prefix))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "prefix \"%s\" must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*$ (no dot), at most "
                      "32 characters", prefix);
    char *sc = serve_scopes_normalise(scopes);
    if (!sc)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "scopes \"%s\": known ones are boxes:read, boxes:write, boxes:exec, "
                      "images:read, images:write, runtime:admin", scopes);
    struct serve_creds c;
    int r = serve_creds_load(path, &c, err);
    if (r) {
        free(sc);
        return r;
    }
    for (size_t i = 0; i < c.n; i++)
        if (!strcmp(c.v[i].id, id)) {
            free(sc);
            serve_creds_free(&c);
            return bl_err(err, BOXLITE_ERR_EXISTS, "client %s exists in %s", id, path);
        }
    struct serve_client cl = { strdup(id), strdup(prefix), sc, {0}, {0} };
    char *s = random_string("bls_", 32);
    struct serve_client *n = realloc(c.v, (c.n + 1) * sizeof *n);
    if (!s || !n || RAND_bytes(cl.salt, 16) != 1 || !cl.id || !cl.prefix) {
        free(cl.id);
        free(cl.prefix);
        free(sc);
        free(s);
        if (n)
            c.v = n;
        serve_creds_free(&c);
        return bl_err(err, BOXLITE_ERR_INTERNAL, "credentials: no random bytes or no memory");
    }
    sha256(cl.salt, 16, s, strlen(s), cl.hash);
    c.v = n;
    c.v[c.n++] = cl;
    r = creds_write(path, &c, err);
    serve_creds_free(&c);
    if (r) {
        free(s);
        return r;
    }
    *secret = s;
    return 0;
}

int serve_creds_remove(const char *path, const char *id, struct bl_error *err)
{
    struct serve_creds c;
    int r = serve_creds_load(path, &c, err);
    if (r)
        return r;
    size_t k = 0;
    bool found = false;
    for (size_t i = 0; i < c.n; i++) {
        if (!strcmp(c.v[i].id, id)) {
            found = true;
            free(c.v[i].id);
            free(c.v[i].prefix);
            free(c.v[i].scopes);
            continue;
        }
        c.v[k++] = c.v[i];
    }
    c.n = k;
    r = found ? creds_write(path, &c, err)
              : bl_err(err, BOXLITE_ERR_NOT_FOUND, "client %s is not in %s", id, path);
    serve_creds_free(&c);
    return r;
}

const struct serve_client *serve_creds_check(const struct serve_creds *c, const char *id,
                                             const char *secret)
{
    const struct serve_client *found = NULL;
    if (!id || !secret)
        return NULL;
    /* every client's digest is computed and compared, so timing does not tell which ids
     * exist */
    uint8_t idh[32], want[32];
    sha256(id, strlen(id), "", 0, want);
    for (size_t i = 0; i < c->n; i++) {
        uint8_t h[32];
        sha256(c->v[i].salt, 16, secret, strlen(secret), h);
        sha256(c->v[i].id, strlen(c->v[i].id), "", 0, idh);
        int id_ok = CRYPTO_memcmp(idh, want, 32) == 0;
        int secret_ok = CRYPTO_memcmp(h, c->v[i].hash, 32) == 0;
        if (id_ok & secret_ok)
            found = &c->v[i];
    }
    return found;
}

/* ---- tokens ---------------------------------------------------------------------- */
#define TOKENS_MAX 100000

struct token {
    uint8_t digest[32];
    uint64_t expires_ms; /* monotonic */
    double bucket;       /* requests it may still make now (rate limit) */
    uint64_t filled_ms;
    struct serve_token_info info;
};

struct serve_tokens {
    pthread_mutex_t lock;
    unsigned rate;
    struct token *v;
    size_t n, cap;
};

struct serve_tokens *serve_tokens_new(unsigned rate)
{
    struct serve_tokens *t = calloc(1, sizeof *t);
    if (t) {
        pthread_mutex_init(&t->lock, NULL);
        t->rate = rate;
    }
    return t;
}

void serve_tokens_free(struct serve_tokens *t)
{
    if (!t)
        return;
    OPENSSL_cleanse(t->v, t->cap * sizeof *t->v);
    free(t->v);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

char *serve_token_issue(struct serve_tokens *t, const struct serve_client *cl,
                        const char *scopes, unsigned ttl_s)
{
    char *tok = random_string("blt_", 32);
    if (!tok)
        return NULL;
    struct token n = {0};
    sha256(tok, strlen(tok), "", 0, n.digest);
    n.expires_ms = mono_ms() + (uint64_t)ttl_s * 1000;
    n.bucket = t->rate;
    n.filled_ms = mono_ms();
    snprintf(n.info.client, sizeof n.info.client, "%s", cl->id);
    snprintf(n.info.prefix, sizeof n.info.prefix, "%s", cl->prefix);
    snprintf(n.info.scopes, sizeof n.info.scopes, "%s", scopes);
    pthread_mutex_lock(&t->lock);
    uint64_t now = mono_ms();
    size_t k = 0; /* expired tokens go first: the table never grows past live ones */
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].expires_ms > now)
            t->v[k++] = t->v[i];
    t->n = k;
    bool ok = t->n < TOKENS_MAX;
    if (ok && t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct token *v = realloc(t->v, cap * sizeof *v);
        if (v) {
            t->v = v;
            t->cap = cap;
        }
        ok = v != NULL;
    }
    if (ok)
        t->v[t->n++] = n;
    pthread_mutex_unlock(&t->lock);
    if (!ok) {
        free(tok);
        return NULL;
    }
    return tok;
}

int serve_token_check(struct serve_tokens *t, const char *tok, struct serve_token_info *out)
{
    uint8_t d[32];
    sha256(tok, strlen(tok), "", 0, d);
    int r = -1;
    pthread_mutex_lock(&t->lock);
    uint64_t now = mono_ms();
    for (size_t i = 0; i < t->n; i++) {
        if (CRYPTO_memcmp(t->v[i].digest, d, 32) == 0) {
            struct token *k = &t->v[i];
            r = k->expires_ms > now ? 0 : -2;
            *out = k->info;
            if (r == 0 && t->rate) { /* a token bucket: rate per second, as many at once */
                k->bucket += (double)(now - k->filled_ms) * t->rate / 1000.0;
                if (k->bucket > t->rate)
                    k->bucket = t->rate;
                k->filled_ms = now;
                if (k->bucket < 1.0)
                    r = -3;
                else
                    k->bucket -= 1.0;
            }
        }
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}
