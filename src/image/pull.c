// SPDX-License-Identifier: Apache-2.0
/* Where a pull's bytes come from: see pull.h. */
#include "image/pull.h"

#include "common/cleanup.h"
#include "common/hostarch.h"
#include "image/ref.h"
#include "image/regconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SOURCES 9 /* up to 8 mirrors, then the registry itself */

void pulled_free(struct pulled *p)
{
    oci_manifest_free(&p->m);
    free(p->blobs);
    memset(p, 0, sizeof *p);
}

int pulled_from_manifest(struct pulled *p, const char *body, size_t len, struct bl_error *err)
{
    int r = oci_manifest_parse(&p->m, body, len, err);
    if (r < 0)
        return r;
    p->n_blobs = p->m.n_layers + 1;
    p->blobs = calloc(p->n_blobs, sizeof *p->blobs);
    if (!p->blobs)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    p->blobs[0] = p->m.config;
    for (size_t i = 0; i < p->m.n_layers; i++)
        p->blobs[i + 1] = p->m.layers[i];
    return 0;
}

void pull_platform(const struct image_pull_opts *o, const char **os, const char **arch, const char **variant)
{
    *os = o && o->os ? o->os : "linux";
    *variant = o ? o->variant : NULL;
    if (o && o->arch) {
        *arch = o->arch;
        return;
    }
    *arch = host_oci_arch();
}

void pull_notice(const struct image_pull_opts *o, const char *fmt, ...)
{
    if (!o || !o->notice)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->notice(o->notice_ud, msg);
}

void pull_candidates_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

int pull_candidates(const char *refstr, const struct image_pull_opts *o, char ***out, struct bl_error *err)
{
    const struct regconf *c = o ? o->conf : NULL;
    int search = !image_ref_has_registry(refstr) && c && c->n_search;
    size_t n = search ? c->n_search : 1;
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!search)
            v[i] = strdup(refstr);
        else if (asprintf(&v[i], "%s/%s", c->search[i], refstr) < 0)
            v[i] = NULL;
        if (!v[i]) {
            pull_candidates_free(v);
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        }
    }
    *out = v;
    return 0;
}

/* ---- the plan: sources of one reference ------------------------------------------------ */

struct pull_plan {
    const struct image_pull_opts *o;
    struct image_ref ref;
    char *norm;
    char *host[MAX_SOURCES];
    struct registry *reg[MAX_SOURCES];
    char **insecure[MAX_SOURCES];
    int n, cur;
    char pinned[DIGEST_LEN + 1];
};

const char *pull_plan_ref(const struct pull_plan *p) { return p->norm; }

int pull_plan_open(struct pull_plan **out, const char *refstr, const struct image_pull_opts *o, struct bl_error *err)
{
    struct pull_plan *p = calloc(1, sizeof *p);
    if (!p)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    p->o = o;
    int r = image_ref_parse(&p->ref, refstr, err);
    if (r < 0) {
        free(p);
        return r;
    }
    *out = p;
    if (!(p->norm = image_ref_string(&p->ref)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    const struct regconf_entry *e = regconf_find(o ? o->conf : NULL, p->ref.registry);
    for (size_t i = 0; e && i < e->n_mirrors && p->n < MAX_SOURCES - 1; i++)
        if (!(p->host[p->n++] = strdup(e->mirrors[i])))
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    if (!(p->host[p->n++] = strdup(p->ref.registry)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    return 0;
}

void pull_plan_close(struct pull_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++) {
        registry_close(p->reg[i]);
        free(p->host[i]);
        pull_candidates_free(p->insecure[i]);
    }
    free(p->norm);
    image_ref_free(&p->ref);
    free(p);
}

static int is_origin(const struct pull_plan *p, int k) { return k == p->n - 1; }

/* Source k's connection, opened on first use with that host's settings. */
static int source(struct pull_plan *p, int k, struct registry **out, struct bl_error *err)
{
    if (p->reg[k]) {
        *out = p->reg[k];
        return 0;
    }
    static const struct registry_opts none;
    struct registry_opts ro = p->o ? p->o->registry : none;
    const struct regconf_entry *e = regconf_find(p->o ? p->o->conf : NULL, p->host[k]);
    if (e) {
        if (e->ca_file)
            ro.ca_file = e->ca_file;
        if (e->username) {
            ro.username = e->username;
            ro.password = e->password;
        }
        if (e->insecure) {
            size_t n = 0;
            for (const char *const *q = ro.insecure; q && *q; q++)
                n++;
            char **list = calloc(n + 2, sizeof *list);
            if (!list)
                return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
            p->insecure[k] = list;
            for (size_t i = 0; i < n; i++)
                if (!(list[i] = strdup(ro.insecure[i])))
                    return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
            if (!(list[n] = strdup(p->host[k])))
                return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
            ro.insecure = (const char *const *)list;
        }
    }
    int r = registry_open(&p->reg[k], p->host[k], p->ref.repository, &ro, err);
    if (r < 0)
        return r;
    *out = p->reg[k];
    return 0;
}

/* A failure that another source may not have: the network, the registry's answers. A
 * full disk or a lack of memory is ours wherever the bytes come from. */
static int source_failure(int code)
{
    return code == BOXLITE_ERR_NETWORK || code == BOXLITE_ERR_IMAGE || code == BOXLITE_ERR_NOT_FOUND ||
           code == BOXLITE_ERR_AUTH || code == BOXLITE_ERR_TIMEOUT;
}

/* A manifest by reference: from the store when the reference is a digest already there
 * (verified when stored), else from the registry (verified against a digest reference). */
static int get_manifest(struct image_store *s, struct registry *reg, const char *reference, char **body,
                        size_t *len, char **ctype, char digest[DIGEST_LEN + 1], struct bl_error *err)
{
    if (image_digest_valid(reference) && blobstore_has(&s->bs, reference, -1)) {
        *ctype = NULL;
        snprintf(digest, DIGEST_LEN + 1, "%s", reference);
        return blobstore_read(&s->bs, reference, 4u << 20, body, len, err);
    }
    return registry_get_manifest(reg, reference, body, len, ctype, digest, err);
}

/* Reference -> the platform's manifest, both stored. */
static int resolve_at(struct image_store *s, struct registry *reg, const char *reference,
                      const struct image_pull_opts *o, struct pulled *p, struct bl_error *err)
{
    cleanup_free char *body = NULL, *ctype = NULL;
    size_t len = 0;
    int r = get_manifest(s, reg, reference, &body, &len, &ctype, p->top, err);
    if (r < 0)
        return r;
    int kind = oci_detect_kind(body, len, ctype, err);
    if (kind < 0)
        return bl_err_prefix(err, "manifest %s", reference);
    if ((r = blobstore_put(&s->bs, p->top, body, len, NULL, err)) < 0)
        return r;
    memcpy(p->manifest, p->top, sizeof p->top);
    if (kind == OCI_KIND_INDEX) {
        struct oci_index ix;
        if ((r = oci_index_parse(&ix, body, len, err)) < 0)
            return bl_err_prefix(err, "%s", reference);
        const char *os, *arch, *variant;
        pull_platform(o, &os, &arch, &variant);
        int sel = oci_index_select(&ix, os, arch, variant, err);
        if (sel < 0) {
            oci_index_free(&ix);
            return bl_err_prefix(err, "%s", reference);
        }
        char want[DIGEST_LEN + 1];
        snprintf(want, sizeof want, "%s", ix.manifests[sel].digest);
        oci_index_free(&ix);
        free(body);
        free(ctype);
        body = ctype = NULL;
        if ((r = get_manifest(s, reg, want, &body, &len, &ctype, p->manifest, err)) < 0)
            return r;
        kind = oci_detect_kind(body, len, ctype, err);
        if (kind < 0)
            return bl_err_prefix(err, "manifest %s", want);
        if (kind != OCI_KIND_MANIFEST)
            return bl_err(err, BOXLITE_ERR_IMAGE, "manifest %s: an index inside an index is not supported", want);
        if ((r = blobstore_put(&s->bs, p->manifest, body, len, NULL, err)) < 0)
            return r;
    }
    r = pulled_from_manifest(p, body, len, err);
    return r < 0 ? bl_err_prefix(err, "%s", reference) : 0;
}

/* A tag -> its digest, asked of the registry itself; of the mirrors only when it cannot be
 * reached. The registry is asked with a HEAD request (its Docker-Content-Digest answer),
 * so that the manifest itself, like the blobs, comes from the first mirror that serves it
 * verified against that digest: Docker Hub counts manifest GETs against its pull rate
 * limit, not HEADs. A registry that gives no digest on HEAD is asked for the manifest,
 * which is then stored. */
static int pin(struct pull_plan *p, struct image_store *s, struct bl_error *err)
{
    const char *tag = image_ref_reference(&p->ref);
    int origin = p->n - 1;
    struct registry *reg;
    cleanup_free char *body = NULL, *ctype = NULL;
    size_t len;
    int r = source(p, origin, &reg, err);
    if (r == 0 && (r = registry_head_manifest(reg, tag, p->pinned, err)) == 1)
        return 0;
    if (r == 0)
        r = registry_get_manifest(reg, tag, &body, &len, &ctype, p->pinned, err);
    if (r == 0)
        return blobstore_put(&s->bs, p->pinned, body, len, NULL, err);
    if (err->code != BOXLITE_ERR_NETWORK && err->code != BOXLITE_ERR_TIMEOUT)
        return r; /* the registry answered: its answer stands */
    char why[600];
    snprintf(why, sizeof why, "%s", err->msg);
    for (int k = 0; k < origin; k++) {
        struct bl_error e2 = {0};
        free(body);
        free(ctype);
        body = ctype = NULL;
        if (source(p, k, &reg, &e2) == 0 &&
            registry_get_manifest(reg, tag, &body, &len, &ctype, p->pinned, &e2) == 0 &&
            blobstore_put(&s->bs, p->pinned, body, len, NULL, &e2) == 0) {
            pull_notice(p->o, "%s: registry %s could not be reached (%s); the tag %s was resolved by its mirror %s",
                        p->norm, p->ref.registry, why, tag, p->host[k]);
            return 0;
        }
        pull_notice(p->o, "%s: mirror %s: %s", p->norm, p->host[k], e2.msg);
    }
    p->pinned[0] = 0;
    return bl_err(err, BOXLITE_ERR_NETWORK, "%s (and no mirror answered)", why);
}

int pull_plan_resolve(struct pull_plan *p, struct image_store *s, struct pulled *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    int r = 0;
    if (p->n > 1 && !p->ref.digest && (r = pin(p, s, err)) < 0)
        return r;
    const char *reference = p->pinned[0] ? p->pinned : image_ref_reference(&p->ref);
    for (int k = 0; k < p->n; k++) {
        struct registry *reg;
        if ((r = source(p, k, &reg, err)) == 0 && (r = resolve_at(s, reg, reference, p->o, out, err)) == 0) {
            p->cur = k;
            return 0;
        }
        pulled_free(out);
        if (is_origin(p, k) || !source_failure(err->code))
            return r;
        pull_notice(p->o, "%s: mirror %s refused: %s", p->norm, p->host[k], err->msg);
    }
    return r;
}

int pull_plan_fetch(struct pull_plan *p, struct image_store *s, const struct pulled *pl,
                    const struct registry_fetch_events *ev, struct bl_error *err)
{
    int r = 0;
    for (int k = p->cur; k < p->n; k++) {
        struct registry *reg;
        if ((r = source(p, k, &reg, err)) == 0 &&
            (r = registry_fetch_blobs(reg, &s->bs, pl->blobs, pl->n_blobs, ev, err)) == 0)
            return 0;
        if (is_origin(p, k) || !source_failure(err->code))
            return r;
        /* What it stored (verified) stays; the next source fetches the rest. */
        pull_notice(p->o, "%s: mirror %s refused (%s); trying %s", p->norm, p->host[k], err->msg, p->host[k + 1]);
    }
    return r;
}
