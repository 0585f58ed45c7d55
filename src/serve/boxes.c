// SPDX-License-Identifier: Apache-2.0
/* Boxes (docs/api.yaml tag Boxes): create, list (page tokens, status filter), get by id or
 * name, HEAD, delete (force), start, stop, clone, snapshots. A box belongs to the tenant
 * whose prefix its SERVE_LABEL_PREFIX label names; any other box, whoever made it, does not
 * exist for the caller (404, the same answer as for no box at all). */
#include "serve/server.h"

#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include "common/lazy_crypto.h"
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static bool is_full_id(const char *s)
{
    if (strlen(s) != 32)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* The box's info when it is the caller's, else NULL. */
static json_t *owned_info(boxlite_box *b, const char *prefix)
{
    char *s = NULL;
    if (boxlite_box_info(b, &s) != BOXLITE_OK)
        return NULL;
    json_t *info = json_loads(s, 0, NULL);
    boxlite_free(s);
    const char *owner =
        json_string_value(json_object_get(json_object_get(info, "labels"), SERVE_LABEL_PREFIX));
    if (!owner || strcmp(owner, prefix) != 0) {
        json_decref(info);
        return NULL;
    }
    return info;
}

static boxlite_box *open_box(struct req *q, const char *key, json_t **info)
{
    boxlite_box *b = NULL;
    /* only a whole id or a name of this tenant's: a short id prefix could be matched
     * against other tenants' boxes and tell their ids apart by the answer */
    char name[2 * SERVE_SEG_MAX + 2];
    int r;
    if (is_full_id(key)) {
        r = boxlite_box_get(q->s->rt, key, &b);
    } else {
        if (!serve_valid_prefix(key))
            return NULL;
        snprintf(name, sizeof name, "%s.%s", q->tok.prefix, key);
        r = boxlite_box_get(q->s->rt, name, &b);
    }
    if (r != BOXLITE_OK)
        return NULL;
    json_t *i = owned_info(b, q->tok.prefix);
    if (!i) {
        boxlite_box_free(b);
        return NULL;
    }
    if (info)
        *info = i;
    else
        json_decref(i);
    return b;
}

boxlite_box *req_box(struct MHD_Connection *c, struct req *q, enum MHD_Result *res)
{
    boxlite_box *b = open_box(q, q->route.box, NULL);
    if (!b)
        *res = q->route.id == R_BOX && !strcmp(q->method, "HEAD")
                   ? reply_empty(c, q, 404)
                   : reply_error(c, q, 404, "NotFoundError", "box not found: %s", q->route.box);
    return b;
}

/* The tenant's boxes as the document's Box objects, oldest first (then by id). */
static int cmp_box(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t cx = json_integer_value(json_object_get(x, "created"));
    json_int_t cy = json_integer_value(json_object_get(y, "created"));
    if (cx != cy)
        return cx < cy ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "id")),
                  json_string_value(json_object_get(y, "id")));
}

/* The library's infos of prefix's boxes (in state, or all), sorted; NULL on error. */
json_t *tenant_boxes(struct server *s, const char *prefix, const char *state)
{
    char *text = NULL;
    if (boxlite_box_list(s->rt, state, &text) != BOXLITE_OK)
        return NULL;
    json_t *all = json_loads(text, 0, NULL);
    boxlite_free(text);
    json_t *mine = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(all, i, it) {
        const char *owner = json_string_value(
            json_object_get(json_object_get(it, "labels"), SERVE_LABEL_PREFIX));
        if (owner && !strcmp(owner, prefix) && json_is_string(json_object_get(it, "id")))
            json_array_append(mine, it);
    }
    json_decref(all);
    size_t n = json_array_size(mine);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        json_decref(mine);
        return NULL;
    }
    for (i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(mine, i));
    qsort(v, n, sizeof *v, cmp_box);
    json_array_clear(mine);
    for (i = 0; i < n; i++)
        json_array_append_new(mine, v[i]);
    free(v);
    return mine;
}

/* How many boxes a tenant has, for its limit (max_boxes); -1 when they cannot be listed.
 * Creates and imports call it under create_lock, so that counting and adding one do not
 * interleave with another. */
int tenant_box_count(struct server *s, const char *prefix, size_t *have)
{
    json_t *mine = tenant_boxes(s, prefix, NULL);
    *have = json_array_size(mine);
    json_decref(mine);
    return mine ? 0 : -1;
}

enum MHD_Result reply_tenant_full(struct MHD_Connection *c, struct req *q, size_t have)
{
    return reply_error(c, q, 409, "InvalidStateError",
                       "prefix %s has %zu boxes, the most this server allows", q->tok.prefix,
                       have);
}

static enum MHD_Result list_boxes(struct MHD_Connection *c, struct req *q)
{
    const char *status = req_arg(c, "status");
    const char *state = NULL;
    if (status && !(state = serve_status_filter(status)))
        return reply_error(c, q, 400, "InvalidArgumentError",
                           "status: \"%.32s\" is not a BoxStatus", status);
    long long size = 100;
    const char *ps = req_arg(c, "pageSize");
    if (ps) {
        char *end;
        size = strtoll(ps, &end, 10);
        if (!*ps || *end || size < 1 || size > 1000)
            return reply_error(c, q, 400, "InvalidArgumentError",
                               "pageSize: must be a whole number between 1 and 1000");
    }
    long long after_created = -1;
    char after_id[65] = "";
    const char *pt = req_arg(c, "pageToken");
    if (pt && *pt && serve_page_token_parse(pt, &after_created, after_id) != 0)
        return reply_error(c, q, 400, "InvalidArgumentError", "pageToken: not one of ours");
    /* "running" covers the library's "starting" too (serve_box_status) */
    json_t *mine = tenant_boxes(q->s, q->tok.prefix,
                                state && !strcmp(state, "running") ? NULL : state);
    if (!mine)
        return reply_lib_error(c, q, "list boxes");
    json_t *out = json_array();
    json_t *last = NULL;
    bool more = false;
    size_t i;
    json_t *it;
    json_array_foreach(mine, i, it) {
        json_int_t cr = json_integer_value(json_object_get(it, "created"));
        const char *id = json_string_value(json_object_get(it, "id"));
        if (after_created >= 0 &&
            (cr < after_created || (cr == after_created && strcmp(id, after_id) <= 0)))
            continue;
        json_t *box = serve_box_json(it, q->tok.prefix);
        if (!box)
            continue;
        if (status && strcmp(json_string_value(json_object_get(box, "status")), status)) {
            json_decref(box);
            continue;
        }
        if ((long long)json_array_size(out) == size) {
            json_decref(box);
            more = true;
            break;
        }
        json_array_append_new(out, box);
        last = it;
    }
    json_t *o = json_pack("{s:o}", "boxes", out);
    if (more && last) {
        char *tok = serve_page_token(json_integer_value(json_object_get(last, "created")),
                                     json_string_value(json_object_get(last, "id")));
        json_object_set_new(o, "next_page_token", tok ? json_string(tok) : json_null());
        free(tok);
    } else {
        json_object_set_new(o, "next_page_token", json_null());
    }
    json_decref(mine);
    return reply_json(c, q, 200, o);
}

enum MHD_Result reply_box(struct MHD_Connection *c, struct req *q, unsigned status,
                          boxlite_box *b)
{
    json_t *info = owned_info(b, q->tok.prefix);
    json_t *box = info ? serve_box_json(info, q->tok.prefix) : NULL;
    json_decref(info);
    if (!box)
        return reply_lib_error(c, q, "box info");
    if (status == 201) {
        char loc[512];
        snprintf(loc, sizeof loc, "/v1/%s/boxes/%s", q->tok.prefix, boxlite_box_id(b));
        return reply_json_at(c, q, status, box, loc);
    }
    return reply_json(c, q, status, box);
}

static enum MHD_Result create_box(struct MHD_Connection *c, struct req *q)
{
    struct bl_error err = {0};
    json_t *opts = NULL;
    if (serve_create_options(q->body, q->len, q->tok.prefix, &q->s->cfg.lim, &opts, &err))
        return reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
    const char *image = json_string_value(json_object_get(opts, "image"));
    bool granted = true;
    enum MHD_Result res = image ? serve_image_grant(c, q, image, &granted) : MHD_YES;
    if (!granted) {
        json_decref(opts);
        return res;
    }
    char *text = json_dumps(opts, JSON_COMPACT);
    json_decref(opts);
    boxlite_options *o = NULL;
    if (!text || boxlite_options_from_json(text, &o) != BOXLITE_OK) {
        free(text);
        return reply_lib_error(c, q, "CreateBoxRequest");
    }
    free(text);
    /* counting the tenant's boxes and adding one must not interleave with another create */
    pthread_mutex_lock(&q->s->create_lock);
    size_t have;
    int listed = tenant_box_count(q->s, q->tok.prefix, &have);
    boxlite_box *b = NULL;
    int r = -1;
    if (listed == 0 && have < (size_t)q->s->cfg.max_boxes)
        r = boxlite_box_create(q->s->rt, o, &b);
    pthread_mutex_unlock(&q->s->create_lock);
    boxlite_options_free(o);
    if (listed < 0)
        return reply_lib_error(c, q, "list boxes");
    if (r == -1)
        return reply_tenant_full(c, q, have);
    if (r != BOXLITE_OK)
        return reply_lib_error(c, q, "create box");
    res = reply_box(c, q, 201, b);
    boxlite_box_free(b);
    return res;
}

enum MHD_Result h_boxes(struct MHD_Connection *c, struct req *q)
{
    if (!strcmp(q->method, "GET"))
        return list_boxes(c, q);
    return create_box(c, q);
}

static bool want_true(const char *v)
{
    return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

void serve_random_name(char out[16], const char *kind)
{
    unsigned char r[4] = {0};
    RAND_bytes(r, sizeof r);
    snprintf(out, 16, "%.5s-%02x%02x%02x%02x", kind, r[0], r[1], r[2], r[3]);
}

static enum MHD_Result clone_box(struct MHD_Connection *c, struct req *q, boxlite_box *b)
{
    struct bl_error err = {0};
    char *name = NULL;
    if (serve_name_parse(q->body, q->len, false, &name, &err))
        return reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
    char gen[16], full[2 * SERVE_SEG_MAX + 2];
    if (!name)
        serve_random_name(gen, "clone");
    snprintf(full, sizeof full, "%s.%s", q->tok.prefix, name ? name : gen);
    free(name);
    if (strlen(full) > 64)
        return reply_error(c, q, 400, "InvalidArgumentError", "name: too long here");
    pthread_mutex_lock(&q->s->create_lock);
    json_t *mine = tenant_boxes(q->s, q->tok.prefix, NULL);
    size_t have = json_array_size(mine);
    json_decref(mine);
    boxlite_box *nb = NULL;
    int r = -1;
    if (mine && have < (size_t)q->s->cfg.max_boxes)
        r = boxlite_box_clone(q->s->rt, boxlite_box_id(b), full, &nb);
    pthread_mutex_unlock(&q->s->create_lock);
    if (r == -1)
        return reply_error(c, q, 409, "InvalidStateError",
                           "prefix %s has %zu boxes, the most this server allows", q->tok.prefix,
                           have);
    if (r != BOXLITE_OK)
        return reply_lib_error(c, q, "clone");
    enum MHD_Result res = reply_box(c, q, 201, nb);
    boxlite_box_free(nb);
    return res;
}

/* POST .../export: the box as the library's archive (boxlite_box_export: options, image,
 * disk chain, checksums; a running box's disk is frozen for the copy), written to the
 * request's scratch folder and sent from there; one over --max-file-bytes is refused. */
static enum MHD_Result export_box(struct MHD_Connection *c, struct req *q, boxlite_box *b)
{
    if (serve_scratch_make(q))
        return reply_error(c, q, 500, "StorageError", "scratch directory: %s",
                           strerror(errno));
    char path[sizeof q->scratch + 16];
    snprintf(path, sizeof path, "%s/box.boxlite", q->scratch);
    if (boxlite_box_export(b, path) != BOXLITE_OK)
        return reply_lib_error(c, q, "export");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return reply_error(c, q, 500, "StorageError", "archive: %s", strerror(errno));
    }
    if ((unsigned long long)st.st_size > q->s->cfg.max_file) {
        close(fd);
        return reply_error(c, q, 409, "InvalidStateError",
                           "the box's archive is %lld bytes, over this server's %llu "
                           "(--max-file-bytes)", (long long)st.st_size, q->s->cfg.max_file);
    }
    /* the descriptor keeps the archive alive; the scratch folder goes now */
    io_remove_tree(q->scratch);
    q->scratch[0] = 0;
    struct MHD_Response *r = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    return reply_response(c, q, 200, r);
}

enum MHD_Result h_box(struct MHD_Connection *c, struct req *q)
{
    enum MHD_Result res;
    json_t *info = NULL;
    boxlite_box *b = open_box(q, q->route.box, &info);
    if (!b) {
        if (q->route.id == R_BOX && !strcmp(q->method, "HEAD"))
            return reply_empty(c, q, 404);
        return reply_error(c, q, 404, "NotFoundError", "box not found: %s", q->route.box);
    }
    const char *state = json_string_value(json_object_get(info, "state"));
    switch (q->route.id) {
    case R_BOX:
        if (!strcmp(q->method, "HEAD")) {
            res = reply_empty(c, q, 204);
        } else if (!strcmp(q->method, "GET")) {
            res = reply_json(c, q, 200, serve_box_json(info, q->tok.prefix));
        } else {
            const char *f = req_arg(c, "force");
            if (f && strcmp(f, "true") && strcmp(f, "false") && strcmp(f, "1") &&
                strcmp(f, "0")) {
                res = reply_error(c, q, 400, "InvalidArgumentError", "force: true or false");
                break;
            }
            char id[40];
            snprintf(id, sizeof id, "%s", boxlite_box_id(b));
            boxlite_box_free(b);
            b = NULL;
            res = boxlite_box_remove(q->s->rt, id, want_true(f)) == BOXLITE_OK
                      ? reply_empty(c, q, 204)
                      : reply_lib_error(c, q, "remove box");
        }
        break;
    case R_BOX_START:
        /* idempotent: a running box is answered as it is */
        if (state && (!strcmp(state, "running") || !strcmp(state, "starting")))
            res = reply_json(c, q, 200, serve_box_json(info, q->tok.prefix));
        else if (boxlite_box_start(b) != BOXLITE_OK)
            res = reply_lib_error(c, q, "start box");
        else
            res = reply_box(c, q, 200, b);
        break;
    case R_BOX_STOP: {
        struct bl_error err = {0};
        int ms = 0;
        if (serve_stop_parse(q->body, q->len, &ms, &err)) {
            res = reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
            break;
        }
        if (boxlite_box_stop(b, ms) != BOXLITE_OK) {
            res = reply_lib_error(c, q, "stop box");
            break;
        }
        /* an auto_remove box is gone now: answer with what it was, stopped */
        json_t *after = owned_info(b, q->tok.prefix);
        json_t *box = serve_box_json(after ? after : info, q->tok.prefix);
        json_decref(after);
        if (box) {
            json_object_set_new(box, "status", json_string("stopped"));
            json_object_set_new(box, "pid", json_null());
        }
        res = reply_json(c, q, 200, box);
        break;
    }
    case R_BOX_CLONE:
        res = clone_box(c, q, b);
        break;
    case R_BOX_METRICS: {
        char *s = NULL;
        if (boxlite_box_metrics(b, &s) != BOXLITE_OK) {
            res = reply_lib_error(c, q, "box metrics");
            break;
        }
        json_t *m = json_loads(s, 0, NULL);
        boxlite_free(s);
        res = reply_json(c, q, 200, m ? serve_box_metrics(m) : NULL);
        json_decref(m);
        break;
    }
    case R_BOX_EXPORT:
        res = export_box(c, q, b);
        break;
    default:
        res = reply_error(c, q, 501, "UnsupportedError", "not implemented");
    }
    json_decref(info);
    boxlite_box_free(b);
    return res;
}

/* POST .../boxes/import?name=N: the body is an archive of export (kept in a scratch file
 * by http.c, at most --max-file-bytes), made a box by boxlite_box_import_with, which checks
 * every member before the box exists. The box gets the tenant's label: an archive this
 * prefix exported keeps it, one exported outside the server (`boxlite export`, no label)
 * is adopted, one whose box carries another tenant's label is refused (the library's
 * owner_label) and leaves nothing, so no tenant takes over another's box. The name is the
 * request's (or generated), never the archive's, for the same reason; cpus and memory
 * beyond the server's limits are refused as create refuses them. */
enum MHD_Result h_import(struct MHD_Connection *c, struct req *q)
{
    const char *name = req_arg(c, "name");
    char gen[16], full[2 * SERVE_SEG_MAX + 2];
    if (name && (!serve_valid_prefix(name) || strlen(q->tok.prefix) + 1 + strlen(name) > 64))
        return reply_error(c, q, 400, "InvalidArgumentError",
                           "name: must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$ and be at most %zu "
                           "characters here", 63 - strlen(q->tok.prefix));
    if (!name)
        serve_random_name(gen, "impt");
    snprintf(full, sizeof full, "%s.%s", q->tok.prefix, name ? name : gen);
    char path[sizeof q->scratch + 16];
    snprintf(path, sizeof path, "%s/in.tar", q->scratch);
    if (q->upload_fd <= 0 || q->len == 0)
        return reply_error(c, q, 400, "InvalidArgumentError",
                           "the body is an archive of export (application/octet-stream)");
    /* the box becomes this tenant's: an archive of another tenant's box is refused (the
     * library's owner_label), one made outside the server (no tenant) is adopted */
    json_t *io = json_pack("{s:{s:s},s:s}", "labels", SERVE_LABEL_PREFIX, q->tok.prefix,
                           "owner_label", SERVE_LABEL_PREFIX);
    char *opts = io ? json_dumps(io, JSON_COMPACT) : NULL;
    json_decref(io);
    if (!opts)
        return reply_error(c, q, 500, "InternalError", "out of memory");
    pthread_mutex_lock(&q->s->create_lock);
    size_t have;
    int listed = tenant_box_count(q->s, q->tok.prefix, &have);
    boxlite_box *nb = NULL;
    int r = -1;
    if (listed == 0 && have < (size_t)q->s->cfg.max_boxes)
        r = boxlite_box_import_with(q->s->rt, path, full, opts, &nb);
    free(opts);
    pthread_mutex_unlock(&q->s->create_lock);
    if (listed < 0)
        return reply_lib_error(c, q, "list boxes");
    if (r == -1)
        return reply_tenant_full(c, q, have);
    /* the only file it reads is the client's: an archive it cannot read is the client's
     * error (libarchive's "Unrecognized archive format" comes back as I/O) */
    if (r != BOXLITE_OK && boxlite_errcode() == BOXLITE_ERR_IO)
        return reply_error(c, q, 400, "InvalidArgumentError", "import: %s", boxlite_errmsg());
    if (r != BOXLITE_OK)
        return reply_lib_error(c, q, "import");
    /* what create would refuse is refused here too: the archive's options are the
     * client's (its checksums are no signature) */
    json_t *info = owned_info(nb, q->tok.prefix);
    const struct serve_limits *lim = &q->s->cfg.lim;
    json_int_t cpus = json_integer_value(json_object_get(info, "cpus"));
    json_int_t mib = json_integer_value(json_object_get(info, "memory_mib"));
    const char *over = !info ? NULL
                     : lim->max_cpus > 0 && cpus > lim->max_cpus ? "cpus"
                     : lim->max_memory_mib > 0 && mib > lim->max_memory_mib ? "memory_mib"
                                                                    : NULL;
    json_decref(info);
    if (!info || over) {
        char id[40];
        snprintf(id, sizeof id, "%s", boxlite_box_id(nb));
        boxlite_box_free(nb);
        boxlite_box_remove(q->s->rt, id, 1);
        if (!over)
            return reply_error(c, q, 400, "InvalidArgumentError",
                               "import: the archive's box is not this tenant's");
        return reply_error(c, q, 400, "InvalidArgumentError",
                           "import: %s: over what this server allows (max_cpus %d, "
                           "max_memory_mib %d)", over, lim->max_cpus, lim->max_memory_mib);
    }
    enum MHD_Result res = reply_box(c, q, 201, nb);
    boxlite_box_free(nb);
    return res;
}

static json_t *snapshot_json(json_t *s, const char *box_id)
{
    json_int_t size = json_integer_value(json_object_get(s, "size_bytes"));
    const char *name = json_string_value(json_object_get(s, "name"));
    /* the library names a snapshot within its box; that name is its id here */
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "id", name ? name : "", "box_id", box_id,
                     "name", name ? name : "", "created_at",
                     json_integer_value(json_object_get(s, "created")), "guest_disk_bytes",
                     (json_int_t)0, "container_disk_bytes", size, "size_bytes", size);
}

static json_t *find_snapshot(boxlite_box *b, const char *name)
{
    char *s = NULL;
    if (boxlite_snapshot_list(b, &s) != BOXLITE_OK)
        return NULL;
    json_t *a = json_loads(s, 0, NULL);
    boxlite_free(s);
    size_t i;
    json_t *it, *found = NULL;
    json_array_foreach(a, i, it)
        if (!found && !strcmp(json_string_value(json_object_get(it, "name")) ?: "", name))
            found = snapshot_json(it, "");
    json_decref(a);
    return found;
}

enum MHD_Result h_box_snapshots(struct MHD_Connection *c, struct req *q)
{
    enum MHD_Result res;
    boxlite_box *b = req_box(c, q, &res);
    if (!b)
        return res;
    const char *id = boxlite_box_id(b);
    if (q->route.id == R_BOX_SNAPSHOTS && !strcmp(q->method, "GET")) {
        char *s = NULL;
        if (boxlite_snapshot_list(b, &s) != BOXLITE_OK) {
            res = reply_lib_error(c, q, "list snapshots");
        } else {
            json_t *a = json_loads(s, 0, NULL), *out = json_array();
            boxlite_free(s);
            size_t i;
            json_t *it;
            json_array_foreach(a, i, it)
                json_array_append_new(out, snapshot_json(it, id));
            json_decref(a);
            res = reply_json(c, q, 200, json_pack("{s:o}", "snapshots", out));
        }
    } else if (q->route.id == R_BOX_SNAPSHOTS) {
        struct bl_error err = {0};
        char *name = NULL;
        if (serve_name_parse(q->body, q->len, true, &name, &err)) {
            res = reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
        } else if (boxlite_snapshot_create(b, name) != BOXLITE_OK) {
            res = reply_lib_error(c, q, "create snapshot");
        } else {
            json_t *snap = find_snapshot(b, name);
            if (snap)
                json_object_set_new(snap, "box_id", json_string(id));
            res = snap ? reply_json(c, q, 201, snap) : reply_lib_error(c, q, "snapshot");
        }
        free(name);
    } else {
        json_t *snap = find_snapshot(b, q->route.sub);
        if (!snap) {
            res = reply_error(c, q, 404, "NotFoundError", "snapshot not found: %s",
                              q->route.sub);
        } else if (q->route.id == R_SNAPSHOT && !strcmp(q->method, "GET")) {
            json_object_set_new(snap, "box_id", json_string(id));
            res = reply_json(c, q, 200, json_incref(snap));
        } else if (q->route.id == R_SNAPSHOT) {
            res = boxlite_snapshot_remove(b, q->route.sub) == BOXLITE_OK
                      ? reply_empty(c, q, 204)
                      : reply_lib_error(c, q, "remove snapshot");
        } else {
            res = boxlite_snapshot_restore(b, q->route.sub) == BOXLITE_OK
                      ? reply_empty(c, q, 204)
                      : reply_lib_error(c, q, "restore snapshot");
        }
        json_decref(snap);
    }
    boxlite_box_free(b);
    return res;
}

/* The tenant's figures: its running boxes and the executions of all its boxes (the library's
 * counters per box), beside the runtime's counters, which count every tenant's boxes (the
 * scope runtime:admin is the host's operator's). */
enum MHD_Result h_metrics(struct MHD_Connection *c, struct req *q)
{
    json_t *mine = tenant_boxes(q->s, q->tok.prefix, NULL);
    char *text = NULL;
    if (!mine || boxlite_runtime_metrics(q->s->rt, &text) != BOXLITE_OK) {
        json_decref(mine);
        return reply_lib_error(c, q, "metrics");
    }
    json_t *rt = json_loads(text, 0, NULL);
    boxlite_free(text);
    json_int_t running = 0, execs = 0, errors = 0;
    size_t i;
    json_t *it;
    json_array_foreach(mine, i, it) {
        const char *st = json_string_value(json_object_get(it, "state"));
        if (st && (!strcmp(st, "running") || !strcmp(st, "starting")))
            running++;
        boxlite_box *b = NULL;
        char *ms = NULL;
        if (boxlite_box_get(q->s->rt, json_string_value(json_object_get(it, "id")), &b) ==
                BOXLITE_OK &&
            boxlite_box_metrics(b, &ms) == BOXLITE_OK) {
            json_t *m = json_loads(ms, 0, NULL);
            execs += json_integer_value(json_object_get(m, "executions"));
            errors += json_integer_value(json_object_get(m, "execution_errors"));
            json_decref(m);
        }
        boxlite_free(ms);
        boxlite_box_free(b);
    }
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:O}", "boxes_created_total",
                          json_integer_value(json_object_get(rt, "boxes_created")),
                          "boxes_failed_total",
                          json_integer_value(json_object_get(rt, "boxes_failed")),
                          "boxes_stopped_total", (json_int_t)0, "num_running_boxes", running,
                          "total_commands_executed", execs, "total_exec_errors", errors,
                          "boxlite", rt ? rt : json_null());
    json_decref(rt);
    json_decref(mine);
    return reply_json(c, q, 200, o);
}
