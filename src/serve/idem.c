// SPDX-License-Identifier: Apache-2.0
/* Idempotency keys (the `Idempotency-Key` header of BoxLite's document, the pattern of the
 * IETF httpapi draft "The Idempotency-Key HTTP Header Field"): the first request with a key
 * is carried out and its answer kept; the same key with the same request (method, path,
 * query, body: a SHA-256 fingerprint) gets that answer again without doing it twice; the
 * same key with another request is 422; while the first is still being carried out, 409.
 * Keys are per tenant (one tenant's key is not another's), expire after a lifetime, and the
 * store is bounded: so many keys per tenant and in all, answers of at most
 * SERVE_IDEM_BODY_MAX bytes; a full tenant's oldest finished key makes room. Pure: no I/O. */
#include "serve/serve.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct idem_entry {
    char prefix[SERVE_SEG_MAX + 1];
    char key[SERVE_IDEM_KEY_MAX + 1];
    uint8_t fp[32];
    bool done;
    unsigned status;
    char *body;       /* the answer's body (NULL: none) */
    char *location;   /* its Location header, or NULL */
    long long at;     /* when the key was first seen, seconds */
};

struct serve_idem {
    pthread_mutex_t lock;
    struct idem_entry *v;
    size_t n, max, per_tenant;
    unsigned ttl_s;
};

struct serve_idem *serve_idem_new(size_t max, size_t per_tenant, unsigned ttl_s)
{
    struct serve_idem *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->v = calloc(max ? max : 1, sizeof *m->v);
    if (!m->v) {
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->max = max;
    m->per_tenant = per_tenant;
    m->ttl_s = ttl_s;
    return m;
}

static void entry_clear(struct idem_entry *e)
{
    free(e->body);
    free(e->location);
    memset(e, 0, sizeof *e);
}

void serve_idem_free(struct serve_idem *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        entry_clear(&m->v[i]);
    free(m->v);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static void drop(struct serve_idem *m, size_t i)
{
    entry_clear(&m->v[i]);
    m->v[i] = m->v[--m->n];
    memset(&m->v[m->n], 0, sizeof m->v[m->n]);
}

bool serve_idem_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (!n || n > SERVE_IDEM_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f)
            return false;
    return true;
}

enum serve_idem_result serve_idem_begin(struct serve_idem *m, const char *prefix,
                                        const char *key, const uint8_t fp[32], long long now,
                                        struct serve_idem_answer *out)
{
    memset(out, 0, sizeof *out);
    if (!serve_idem_key_ok(key) || strlen(prefix) > SERVE_SEG_MAX)
        return IDEM_INVALID;
    pthread_mutex_lock(&m->lock);
    enum serve_idem_result r;
    size_t mine = 0, oldest = SIZE_MAX, found = SIZE_MAX;
    for (size_t i = 0; i < m->n;) {
        struct idem_entry *e = &m->v[i];
        if (e->done && now - e->at >= (long long)m->ttl_s) {
            drop(m, i); /* expired: forgotten, the slot reused */
            continue;
        }
        if (!strcmp(e->prefix, prefix)) {
            if (!strcmp(e->key, key))
                found = i;
            mine++;
            if (e->done && (oldest == SIZE_MAX || e->at < m->v[oldest].at))
                oldest = i;
        }
        i++;
    }
    if (found != SIZE_MAX) {
        struct idem_entry *e = &m->v[found];
        if (memcmp(e->fp, fp, 32) != 0) {
            r = IDEM_MISMATCH;
        } else if (!e->done) {
            r = IDEM_BUSY;
        } else {
            out->status = e->status;
            out->body = e->body ? strdup(e->body) : NULL;
            out->location = e->location ? strdup(e->location) : NULL;
            r = (e->body && !out->body) || (e->location && !out->location) ? IDEM_FULL
                                                                            : IDEM_REPLAY;
            if (r == IDEM_FULL)
                serve_idem_answer_free(out);
        }
        goto out;
    }
    if (mine >= m->per_tenant || m->n >= m->max) {
        /* room from this tenant's oldest finished key, never another tenant's */
        if (oldest == SIZE_MAX) {
            r = IDEM_FULL;
            goto out;
        }
        drop(m, oldest);
    }
    struct idem_entry *e = &m->v[m->n++];
    snprintf(e->prefix, sizeof e->prefix, "%s", prefix);
    snprintf(e->key, sizeof e->key, "%s", key);
    memcpy(e->fp, fp, 32);
    e->at = now;
    r = IDEM_NEW;
out:
    pthread_mutex_unlock(&m->lock);
    return r;
}

static size_t find(struct serve_idem *m, const char *prefix, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->v[i].prefix, prefix) && !strcmp(m->v[i].key, key))
            return i;
    return SIZE_MAX;
}

void serve_idem_finish(struct serve_idem *m, const char *prefix, const char *key,
                       unsigned status, const char *body, const char *location)
{
    pthread_mutex_lock(&m->lock);
    size_t i = find(m, prefix, key);
    if (i != SIZE_MAX && !m->v[i].done) {
        struct idem_entry *e = &m->v[i];
        size_t bl = body ? strlen(body) : 0;
        e->body = body && bl <= SERVE_IDEM_BODY_MAX ? strdup(body) : NULL;
        e->location = location ? strdup(location) : NULL;
        if ((body && !e->body) || (location && !e->location))
            drop(m, i); /* an answer too big to keep (or no memory): the key is released */
        else {
            e->status = status;
            e->done = true;
        }
    }
    pthread_mutex_unlock(&m->lock);
}

void serve_idem_abort(struct serve_idem *m, const char *prefix, const char *key)
{
    pthread_mutex_lock(&m->lock);
    size_t i = find(m, prefix, key);
    if (i != SIZE_MAX && !m->v[i].done)
        drop(m, i);
    pthread_mutex_unlock(&m->lock);
}

void serve_idem_answer_free(struct serve_idem_answer *a)
{
    free(a->body);
    free(a->location);
    a->body = a->location = NULL;
}
