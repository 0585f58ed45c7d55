// SPDX-License-Identifier: Apache-2.0
/* The box verbs beyond BoxLite's document (docs/api.yaml marks each x-boxlite-extension),
 * so that every management verb of the CLI works over `boxlite --url`: kill, wait, rename,
 * pause, resume, fork, reclaim, balloon on one box, and prune over the tenant's boxes.
 * Tenancy as everywhere: req_box answers another tenant's box 404, names are stored as
 * "<prefix>.<name>", and prune only ever sees the caller's own boxes. */
#include "serve/server.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The library name for a tenant's box name: "<prefix>.<name>", at most 64 bytes. */
static int tenant_name(const struct req *q, const char *name, char out[2 * SERVE_SEG_MAX + 2])
{
    snprintf(out, 2 * SERVE_SEG_MAX + 2, "%s.%s", q->tok.prefix, name);
    return strlen(out) > 64 ? -1 : 0;
}

static enum MHD_Result name_too_long(struct MHD_Connection *c, struct req *q)
{
    return reply_error(c, q, 400, "InvalidArgumentError",
                       "name: at most %zu characters here", 63 - strlen(q->tok.prefix));
}

static bool has_ended(json_t *info)
{
    const char *st = json_string_value(json_object_get(info, "state"));
    return !st || !strcmp(st, "stopped") || !strcmp(st, "configured") ||
           !strcmp(st, "unknown");
}

/* POST .../wait: answers once the box has stopped (a paused box has not), with what its
 * stop left: the main process's exit_code (null without one), oom_killed and
 * stopped_by_itself, from which a client derives Docker's wait status as `boxlite wait`
 * does. The state is read every 200 ms (the box's process is not this server's child);
 * a server shutting down answers 503. */
static enum MHD_Result wait_box(struct MHD_Connection *c, struct req *q, boxlite_box *b)
{
    for (;;) {
        char *s = NULL;
        if (boxlite_box_info(b, &s) != BOXLITE_OK) {
            /* an auto_remove box is gone once it stopped */
            if (boxlite_errcode() == BOXLITE_ERR_NOT_FOUND)
                return reply_json(c, q, 200,
                                  json_pack("{s:s,s:n,s:b,s:b}", "status", "stopped",
                                            "exit_code", "oom_killed", 0,
                                            "stopped_by_itself", 0));
            return reply_lib_error(c, q, "wait");
        }
        json_t *info = json_loads(s, 0, NULL);
        boxlite_free(s);
        if (has_ended(info)) {
            json_t *ec = json_object_get(info, "exit_code");
            json_t *o = json_pack("{s:s,s:O,s:b,s:b}", "status", "stopped", "exit_code",
                                  json_is_integer(ec) ? ec : json_null(), "oom_killed",
                                  json_is_true(json_object_get(info, "oom_killed")),
                                  "stopped_by_itself",
                                  json_is_true(json_object_get(info, "stopped_by_itself")));
            json_decref(info);
            return reply_json(c, q, 200, o);
        }
        json_decref(info);
        if (atomic_load(&q->s->stopping))
            return reply_error(c, q, 503, "InternalError",
                               "the server is shutting down; wait again elsewhere");
        poll(NULL, 0, 200);
    }
}

static enum MHD_Result rename_box(struct MHD_Connection *c, struct req *q, boxlite_box *b)
{
    struct bl_error err = {0};
    char *name = NULL, full[2 * SERVE_SEG_MAX + 2], id[40];
    if (serve_name_parse(q->body, q->len, true, &name, &err))
        return reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
    int tl = tenant_name(q, name, full);
    free(name);
    if (tl)
        return name_too_long(c, q);
    snprintf(id, sizeof id, "%s", boxlite_box_id(b));
    if (boxlite_box_rename(q->s->rt, id, full) != BOXLITE_OK)
        return reply_lib_error(c, q, "rename");
    boxlite_box *nb = NULL;
    if (boxlite_box_get(q->s->rt, id, &nb) != BOXLITE_OK)
        return reply_lib_error(c, q, "rename");
    enum MHD_Result res = reply_box(c, q, 200, nb);
    boxlite_box_free(nb);
    return res;
}

/* POST .../fork {"names": [...]}: 201 {"boxes": [Box...]}, counted against the tenant's
 * box limit as a create is. */
static enum MHD_Result fork_box(struct MHD_Connection *c, struct req *q, boxlite_box *b)
{
    struct bl_error err = {0};
    json_t *names = NULL;
    if (serve_fork_parse(q->body, q->len, &names, &err))
        return reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
    size_t n = json_array_size(names);
    char full[SERVE_FORK_MAX][2 * SERVE_SEG_MAX + 2], gen[16];
    const char *ptrs[SERVE_FORK_MAX];
    for (size_t i = 0; i < n; i++) {
        const char *nm = json_string_value(json_array_get(names, i));
        if (!nm)
            serve_random_name(gen, "fork");
        if (tenant_name(q, nm ? nm : gen, full[i])) {
            json_decref(names);
            return name_too_long(c, q);
        }
        ptrs[i] = full[i];
    }
    json_decref(names);
    boxlite_box *out[SERVE_FORK_MAX] = {0};
    pthread_mutex_lock(&q->s->create_lock);
    size_t have;
    int listed = tenant_box_count(q->s, q->tok.prefix, &have);
    int r = -1;
    if (listed == 0 && have + n <= (size_t)q->s->cfg.max_boxes)
        r = boxlite_box_fork(b, ptrs, n, out);
    pthread_mutex_unlock(&q->s->create_lock);
    if (listed < 0)
        return reply_lib_error(c, q, "list boxes");
    if (r == -1)
        return reply_tenant_full(c, q, have);
    if (r != BOXLITE_OK)
        return reply_lib_error(c, q, "fork");
    json_t *boxes = json_array();
    for (size_t i = 0; i < n; i++) {
        char *s = NULL;
        json_t *info = boxlite_box_info(out[i], &s) == BOXLITE_OK ? json_loads(s, 0, NULL) : NULL;
        boxlite_free(s);
        json_t *box = info ? serve_box_json(info, q->tok.prefix) : NULL;
        json_decref(info);
        if (box)
            json_array_append_new(boxes, box);
        boxlite_box_free(out[i]);
    }
    if (json_array_size(boxes) != n) {
        json_decref(boxes);
        return reply_lib_error(c, q, "fork: box info");
    }
    return reply_json(c, q, 201, json_pack("{s:o}", "boxes", boxes));
}

/* POST .../boxes/prune: removes the tenant's boxes that are stopped or were never started
 * (as `boxlite prune`); 200 {"removed": [box ids]}. One removed meanwhile by someone else
 * is not an error. */
static enum MHD_Result prune_boxes(struct MHD_Connection *c, struct req *q)
{
    json_t *mine = tenant_boxes(q->s, q->tok.prefix, NULL);
    if (!mine)
        return reply_lib_error(c, q, "list boxes");
    json_t *removed = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(mine, i, it) {
        const char *st = json_string_value(json_object_get(it, "state"));
        const char *id = json_string_value(json_object_get(it, "id"));
        if (!st || (strcmp(st, "stopped") && strcmp(st, "configured")))
            continue;
        if (boxlite_box_remove(q->s->rt, id, 0) == BOXLITE_OK)
            json_array_append_new(removed, json_string(id));
        else if (boxlite_errcode() != BOXLITE_ERR_NOT_FOUND) {
            json_decref(removed);
            json_decref(mine);
            return reply_lib_error(c, q, "prune");
        }
    }
    json_decref(mine);
    return reply_json(c, q, 200, json_pack("{s:o}", "removed", removed));
}

enum MHD_Result h_manage(struct MHD_Connection *c, struct req *q)
{
    if (q->route.id == R_BOXES_PRUNE)
        return prune_boxes(c, q);
    enum MHD_Result res;
    boxlite_box *b = req_box(c, q, &res);
    if (!b)
        return res;
    struct bl_error err = {0};
    int x = 0;
    switch (q->route.id) {
    case R_BOX_KILL:
        if (serve_signal_parse(q->body, q->len, &x, &err))
            res = reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
        else
            res = boxlite_box_kill(b, x) == BOXLITE_OK ? reply_empty(c, q, 204)
                                                       : reply_lib_error(c, q, "kill");
        break;
    case R_BOX_WAIT:
        res = wait_box(c, q, b);
        break;
    case R_BOX_RENAME:
        res = rename_box(c, q, b);
        break;
    case R_BOX_PAUSE:
    case R_BOX_RESUME:
        if (q->route.id == R_BOX_PAUSE && serve_pause_parse(q->body, q->len, &x, &err)) {
            res = reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
            break;
        }
        x = q->route.id == R_BOX_PAUSE ? boxlite_box_pause(b, x) : boxlite_box_resume(b);
        res = x == BOXLITE_OK ? reply_box(c, q, 200, b)
                              : reply_lib_error(c, q, q->route.id == R_BOX_PAUSE ? "pause"
                                                                                 : "resume");
        break;
    case R_BOX_FORK:
        res = fork_box(c, q, b);
        break;
    case R_BOX_RECLAIM: {
        /* ?idle_ms=N: only a box idle that long (`reclaim --idle`), as the library decides */
        const char *is = req_arg(c, "idle_ms");
        char *end = NULL, *s = NULL;
        errno = 0;
        long idle = is ? strtol(is, &end, 10) : 0;
        if (is && (!isdigit((unsigned char)*is) || *end || errno || idle > INT32_MAX)) {
            res = reply_error(c, q, 400, "InvalidArgumentError",
                              "idle_ms: milliseconds, 0 to %d", INT32_MAX);
            break;
        }
        if (boxlite_box_reclaim_idle(b, (int)idle, &s) != BOXLITE_OK) {
            res = reply_lib_error(c, q, "reclaim");
            break;
        }
        json_t *o = json_loads(s, 0, NULL);
        boxlite_free(s);
        json_t *ans = json_object();
        static const char *const keep[] = { "freed_bytes", "skipped", "idle_ms" };
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
            if (json_object_get(o, keep[i]))
                json_object_set(ans, keep[i], json_object_get(o, keep[i]));
        res = reply_json(c, q, 200, ans);
        json_decref(o);
        break;
    }
    case R_BOX_BALLOON:
        if (serve_balloon_parse(q->body, q->len, &x, &err))
            res = reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
        else
            res = boxlite_box_set_balloon(b, x) == BOXLITE_OK ? reply_empty(c, q, 204)
                                                              : reply_lib_error(c, q, "balloon");
        break;
    default:
        res = reply_error(c, q, 501, "UnsupportedError", "not implemented");
    }
    boxlite_box_free(b);
    return res;
}
