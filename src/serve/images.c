// SPDX-License-Identifier: Apache-2.0
/* Images (docs/api.yaml tag Images): pull, list, get, HEAD, and beyond the document remove
 * and prune, over the runtime's one image
 * store. The store is shared by every tenant, but what a tenant sees of it is what it
 * pulled through this server (held in memory: a restart forgets it; the store keeps the
 * images), so one tenant cannot learn which images another uses. A pull runs on the
 * request's own thread (libmicrohttpd's thread per connection) until the image is stored;
 * a reference naming a host path ("oci:<dir>") is refused. A box is created from an image
 * only once its tenant has pulled it (serve_image_grant pulls it first): the shared store
 * must not hand one tenant what the registry gave another. */
#include "serve/server.h"

#include <stdlib.h>
#include <string.h>

#define PULLS_PER_PREFIX 1000

struct serve_pulls {
    pthread_mutex_t lock;
    json_t *by_prefix; /* {"acme": {"docker.io/library/alpine:latest": true, ...}} */
};

struct serve_pulls *serve_pulls_new(void)
{
    struct serve_pulls *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->by_prefix = json_object();
    if (!p->by_prefix) {
        free(p);
        return NULL;
    }
    return p;
}

void serve_pulls_free(struct serve_pulls *p)
{
    if (!p)
        return;
    json_decref(p->by_prefix);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static int remember(struct serve_pulls *p, const char *prefix, const char *ref)
{
    int r = 0;
    pthread_mutex_lock(&p->lock);
    json_t *set = json_object_get(p->by_prefix, prefix);
    if (!set) {
        set = json_object();
        json_object_set_new(p->by_prefix, prefix, set);
    }
    if (!json_object_get(set, ref) && json_object_size(set) >= PULLS_PER_PREFIX)
        r = -1;
    else
        json_object_set_new(set, ref, json_true());
    pthread_mutex_unlock(&p->lock);
    return r;
}

static bool pulled_by(struct serve_pulls *p, const char *prefix, const char *ref)
{
    pthread_mutex_lock(&p->lock);
    bool yes = json_object_get(json_object_get(p->by_prefix, prefix), ref) != NULL;
    pthread_mutex_unlock(&p->lock);
    return yes;
}

/* The tenant's images as ImageInfo, sorted by reference (the library's order); NULL when
 * the store cannot be read. */
static json_t *tenant_images(struct server *s, const char *prefix)
{
    char *text = NULL;
    if (boxlite_image_list(s->rt, &text) != BOXLITE_OK)
        return NULL;
    json_t *all = json_loads(text, 0, NULL), *mine = json_array();
    boxlite_free(text);
    size_t i;
    json_t *it;
    json_array_foreach(all, i, it) {
        const char *ref = json_string_value(json_object_get(it, "ref"));
        json_t *img = ref && pulled_by(s->pulls, prefix, ref) ? serve_image_json(it) : NULL;
        if (img)
            json_array_append_new(mine, img);
    }
    json_decref(all);
    return mine;
}

/* The image whose id ("sha256:<64 hex>" or the 64 hex alone) or reference is key. */
static json_t *find_image(json_t *list, const char *key)
{
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *ref = json_string_value(json_object_get(it, "reference"));
        if ((id && (!strcmp(id, key) || (strlen(key) == 64 && !strcmp(id + 7, key)))) ||
            (ref && !strcmp(ref, key)))
            return json_incref(it);
    }
    return NULL;
}

/* Whether the store's normalised reference r is what ref names: the same, or ref with the
 * registry and repository path the library adds ("alpine" for
 * "docker.io/library/alpine:latest"). */
static bool ref_matches(const char *r, const char *ref)
{
    size_t n = r ? strlen(r) : 0, rl = ref ? strlen(ref) : 0;
    return r && ref &&
           (!strcmp(r, ref) || (n > rl && !strcmp(r + n - rl, ref) && r[n - rl - 1] == '/') ||
            (n >= rl + 7 && !strncmp(r + n - rl - 7, ref, rl) && !strcmp(r + n - 7, ":latest") &&
             (n - rl - 7 == 0 || r[n - rl - 8] == '/')));
}

/* The registry is asked every time, with the server's credentials (anonymous unless the
 * operator lent the host's): an image in the store is the tenant's only once the registry
 * has given it to the tenant. */
int serve_tenant_pull(struct server *s, const char *prefix, const char *ref,
                      boxlite_pull_progress_fn progress, void *ud, json_t **info,
                      struct pull_failure *f)
{
    *info = NULL;
    if (boxlite_image_pull(s->rt, ref, progress, ud) != BOXLITE_OK) {
        /* the document's answer for an image that cannot be pulled is 422 ImageError,
         * whatever the library's reason (a registry that is down included) */
        f->type = "ImageError";
        snprintf(f->msg, sizeof f->msg, "pull %s: %s", ref, boxlite_errmsg());
        return 422;
    }
    /* the library records the normalised reference: find it by what it resolved to */
    char *text = NULL;
    json_t *hit = NULL;
    if (boxlite_image_list(s->rt, &text) == BOXLITE_OK) {
        json_t *all = json_loads(text, 0, NULL);
        boxlite_free(text);
        size_t i;
        json_t *it;
        json_array_foreach(all, i, it) {
            const char *r = json_string_value(json_object_get(it, "ref"));
            if (r && ref_matches(r, ref) && !hit)
                hit = json_incref(it);
        }
        json_decref(all);
    }
    int status = 0;
    if (!hit) {
        f->type = "InternalError";
        snprintf(f->msg, sizeof f->msg, "pulled %s but cannot find it in the store", ref);
        status = 500;
    } else if (remember(s->pulls, prefix, json_string_value(json_object_get(hit, "ref")))) {
        f->type = "InvalidStateError";
        snprintf(f->msg, sizeof f->msg, "more than %d images for prefix %s", PULLS_PER_PREFIX,
                 prefix);
        status = 409;
    } else {
        *info = serve_image_json(hit);
    }
    json_decref(hit);
    return status;
}

/* Whether tenant prefix has pulled what ref names through this server. */
static bool tenant_has(struct server *s, const char *prefix, const char *ref)
{
    bool yes = false;
    pthread_mutex_lock(&s->pulls->lock);
    const char *r;
    json_t *v;
    json_object_foreach(json_object_get(s->pulls->by_prefix, prefix), r, v)
        yes = yes || ref_matches(r, ref);
    pthread_mutex_unlock(&s->pulls->lock);
    return yes;
}

enum MHD_Result serve_image_grant(struct MHD_Connection *c, struct req *q, const char *ref,
                                  bool *granted)
{
    *granted = tenant_has(q->s, q->tok.prefix, ref);
    if (*granted)
        return MHD_YES;
    json_t *info = NULL;
    struct pull_failure f;
    int status = serve_tenant_pull(q->s, q->tok.prefix, ref, NULL, NULL, &info, &f);
    json_decref(info);
    *granted = status == 0;
    return status ? reply_error(c, q, status, f.type, "%s", f.msg) : MHD_YES;
}

static void forget(struct serve_pulls *p, const char *prefix, const char *ref)
{
    pthread_mutex_lock(&p->lock);
    json_object_del(json_object_get(p->by_prefix, prefix), ref);
    pthread_mutex_unlock(&p->lock);
}

/* Whether a tenant other than prefix pulled ref. */
static bool pulled_by_other(struct serve_pulls *p, const char *prefix, const char *ref)
{
    bool yes = false;
    pthread_mutex_lock(&p->lock);
    const char *k;
    json_t *set;
    json_object_foreach(p->by_prefix, k, set)
        yes |= strcmp(k, prefix) && json_object_get(set, ref);
    pthread_mutex_unlock(&p->lock);
    return yes;
}

/* The name of a box of the tenant's made from ref, or NULL (*failed when its boxes could
 * not be listed). The name is the tenant's own ("web", its prefix taken off). */
static char *used_by(struct server *s, const char *prefix, const char *ref, bool *failed)
{
    json_t *mine = tenant_boxes(s, prefix, NULL);
    *failed = !mine;
    char *user = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(mine, i, it) {
        if (user || !ref_matches(ref, json_string_value(json_object_get(it, "image"))))
            continue;
        json_t *box = serve_box_json(it, prefix);
        const char *nm = json_string_value(json_object_get(box, "name"));
        user = strdup(nm ? nm : json_string_value(json_object_get(it, "id")));
        json_decref(box);
    }
    json_decref(mine);
    return user;
}

/* Removes ref for the tenant: it forgets ref, and the store drops it when no other tenant
 * pulled it and no box uses it. The library's refusal (another tenant's box was made from
 * it) is kept to ourselves: the image stays stored for that box, and the caller learns
 * nothing of it. 1 when the tenant's own box uses it (kept, unless force: then only
 * forgotten), 0 when removed, -1 on the library's error. */
static int remove_for(struct server *s, const char *prefix, const char *ref, bool force,
                      char **user)
{
    bool failed;
    *user = used_by(s, prefix, ref, &failed);
    if (failed)
        return -1;
    if (*user && !force)
        return 1;
    forget(s->pulls, prefix, ref);
    if (*user || pulled_by_other(s->pulls, prefix, ref))
        return 0;
    if (boxlite_image_remove(s->rt, ref, 0) != BOXLITE_OK &&
        boxlite_errcode() != BOXLITE_ERR_STATE && boxlite_errcode() != BOXLITE_ERR_NOT_FOUND)
        return -1;
    return 0;
}

static enum MHD_Result prune(struct MHD_Connection *c, struct req *q, json_t *list)
{
    json_t *removed = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        const char *ref = json_string_value(json_object_get(it, "reference"));
        char *user = NULL;
        int r = remove_for(q->s, q->tok.prefix, ref, false, &user);
        free(user);
        if (r < 0) {
            json_decref(removed);
            return reply_lib_error(c, q, "image prune");
        }
        if (r == 0)
            json_array_append_new(removed, json_string(ref));
    }
    return reply_json(c, q, 200, json_pack("{s:o}", "removed", removed));
}

static enum MHD_Result pull(struct MHD_Connection *c, struct req *q)
{
    char *ref = NULL;
    struct bl_error err = {0};
    if (serve_pull_parse(q->body, q->len, &ref, &err))
        return reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
    /* the client asking for events gets the layers' progress as the pull goes (ours) */
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    if (accept && strstr(accept, "text/event-stream"))
        return serve_pull_events(c, q, ref);
    json_t *info = NULL;
    struct pull_failure f;
    int status = serve_tenant_pull(q->s, q->tok.prefix, ref, NULL, NULL, &info, &f);
    free(ref);
    return status ? reply_error(c, q, status, f.type, "%s", f.msg) : reply_json(c, q, 200, info);
}

/* DELETE .../images/{image}?force=: 204; 409 while a box of the tenant's uses it (force:
 * the tenant forgets it anyway; the store keeps it for that box). */
static enum MHD_Result remove_image(struct MHD_Connection *c, struct req *q, json_t *img)
{
    const char *f = req_arg(c, "force");
    bool force = false;
    if (serve_bool_arg(f, false, &force) < 0)
        return reply_error(c, q, 400, "InvalidArgumentError", "force: true or false");
    const char *ref = json_string_value(json_object_get(img, "reference"));
    char *user = NULL;
    int r = remove_for(q->s, q->tok.prefix, ref, force, &user);
    enum MHD_Result res =
        r < 0    ? reply_lib_error(c, q, "remove image")
        : r == 1 ? reply_error(c, q, 409, "InvalidStateError",
                               "image %s is used by box %s (remove the box first, or force)",
                               ref, user)
                 : reply_empty(c, q, 204);
    free(user);
    return res;
}

enum MHD_Result h_images(struct MHD_Connection *c, struct req *q)
{
    if (q->route.id == R_IMAGES_PULL)
        return pull(c, q);
    json_t *list = tenant_images(q->s, q->tok.prefix);
    if (!list)
        return reply_lib_error(c, q, "list images");
    enum MHD_Result res;
    if (q->route.id == R_IMAGES_PRUNE) {
        res = prune(c, q, list);
    } else if (q->route.id == R_IMAGES) {
        /* one page holds them all (at most PULLS_PER_PREFIX): pageSize beyond it and a
         * pageToken are accepted; a later page is empty */
        const char *ps = req_arg(c, "pageSize");
        char *end = NULL;
        long long size = ps ? strtoll(ps, &end, 10) : 100;
        if (ps && (!*ps || *end || size < 1 || size > 1000)) {
            json_decref(list);
            return reply_error(c, q, 400, "InvalidArgumentError",
                               "pageSize: must be a whole number between 1 and 1000");
        }
        long long from = 0;
        const char *tok = req_arg(c, "pageToken");
        if (tok) {
            from = strtoll(tok, &end, 10);
            if (!*tok || *end || from < 0 || from > PULLS_PER_PREFIX) {
                json_decref(list);
                return reply_error(c, q, 400, "InvalidArgumentError", "pageToken: not one of ours");
            }
        }
        json_t *page = json_array();
        size_t n = json_array_size(list);
        for (size_t i = (size_t)from; i < n && i < (size_t)(from + size); i++)
            json_array_append(page, json_array_get(list, i));
        json_t *o = json_pack("{s:o}", "images", page);
        if ((size_t)(from + size) < n) {
            char next[24];
            snprintf(next, sizeof next, "%lld", from + size);
            json_object_set_new(o, "next_page_token", json_string(next));
        }
        res = reply_json(c, q, 200, o);
    } else {
        json_t *img = find_image(list, q->route.sub);
        if (!strcmp(q->method, "HEAD"))
            res = reply_empty(c, q, img ? 204 : 404);
        else if (!img)
            res = reply_error(c, q, 404, "NotFoundError", "image not found: %s", q->route.sub);
        else if (!strcmp(q->method, "GET"))
            res = reply_json(c, q, 200, json_incref(img));
        else
            res = remove_image(c, q, img);
        json_decref(img);
    }
    json_decref(list);
    return res;
}
