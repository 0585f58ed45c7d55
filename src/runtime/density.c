// SPDX-License-Identifier: Apache-2.0
/* Density (issue 21): what the library can ask of a running box's memory. The balloon's
 * target (BALLOON on the box socket, docs/protocol.md "Balloon": the per-box process tells
 * the engine) and a reclaim (RECLAIM to the agent: the guest drops its caches and compacts
 * its free memory, which free page reporting then hands to the host). Both act on running
 * boxes only and change no option: a target set here lasts while the box's memory does,
 * through a pause and into its forks (each engine's saved state carries it: the guest's
 * balloon stays as inflated), and ends with a cold start, which begins with the box's option
 * balloon_target_mib again. */
#include "runtime/runtime.h"

#include "common/cleanup.h"
#include "proto/client.h"
#include "runtime/api_error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define DENSITY_TIMEOUT_MS 30000 /* a compaction of a large guest under TCG takes seconds */

BOXLITE_API int boxlite_box_set_balloon(boxlite_box *b, int target_mib)
{
    API_CHECK_ARG(b, "box is NULL");
    struct bl_error err = { 0 };
    if (target_mib < 0)
        return api_fail(BOXLITE_ERR_INVALID, "balloon target %d MiB: must be 0 (none) or "
                        "%d..the box's memory", target_mib, BL_MIN_BALLOON_MIB);
    struct proto_client *c = NULL;
    struct box_record rec = { 0 };
    int r = rt_box_conn_running(b, "balloon", &c, &rec, &err);
    if (!r)
        r = proto_client_balloon(c, (uint64_t)target_mib, DENSITY_TIMEOUT_MS, NULL, &err);
    proto_client_close(c);
    if (r && rec.name)
        bl_err_prefix(&err, "box %s", rec.name);
    box_record_clear(&rec);
    return api_return(r, &err);
}

/* One box's reclaim as JSON: id, name, freed_bytes, or error; with min_idle_ms > 0, only
 * when the box has been idle that long (its STATUS says), else "skipped". */
static json_t *reclaim_one(boxlite_box *b, int min_idle_ms, int *code)
{
    struct bl_error err = { 0 };
    struct proto_client *c = NULL;
    struct box_record rec = { 0 };
    uint64_t freed = 0;
    struct proto_status st = { 0 };
    bool skip = false;
    int r = rt_box_conn_running(b, "reclaim", &c, &rec, &err);
    if (!r && min_idle_ms > 0) {
        r = proto_client_status(c, DENSITY_TIMEOUT_MS, &st, &err);
        skip = !r && st.idle_ms < (uint64_t)min_idle_ms;
    }
    if (!r && !skip)
        r = proto_reclaim(c, DENSITY_TIMEOUT_MS, &freed, &err);
    proto_client_close(c);
    *code = r ? -r : 0;
    json_t *o = json_pack("{s:s, s:s}", "id", b->id, "name", rec.name ? rec.name : "");
    if (o && min_idle_ms > 0 && !r)
        json_object_set_new(o, "idle_ms", json_integer((json_int_t)(st.idle_ms & INT64_MAX)));
    if (o && r)
        json_object_set_new(o, "error", json_string(err.msg));
    else if (o && skip)
        json_object_set_new(o, "skipped", json_true());
    else if (o)
        json_object_set_new(o, "freed_bytes", json_integer((json_int_t)freed));
    proto_status_free(&st);
    box_record_clear(&rec);
    return o;
}

BOXLITE_API int boxlite_box_reclaim(boxlite_box *b, char **json_out)
{
    return boxlite_box_reclaim_idle(b, 0, json_out);
}

BOXLITE_API int boxlite_box_reclaim_idle(boxlite_box *b, int idle_ms, char **json_out)
{
    API_CHECK_ARG(b && json_out, "NULL argument");
    *json_out = NULL;
    API_CHECK_ARG(idle_ms >= 0, "idle_ms is negative");
    int code = 0;
    json_t *o = reclaim_one(b, idle_ms, &code);
    if (!o)
        return api_fail(BOXLITE_ERR_NOMEM, "reclaim: out of memory");
    const char *e = json_string_value(json_object_get(o, "error"));
    if (e) {
        char msg[BL_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", e);
        json_decref(o);
        return api_fail(code, "%s", msg);
    }
    return rt_dump_json(o, json_out) ? api_fail(BOXLITE_ERR_NOMEM, "reclaim: out of memory")
                                     : api_return(0, NULL);
}

BOXLITE_API int boxlite_runtime_reclaim(boxlite_runtime *rt, int idle_ms, char **json_out)
{
    API_CHECK_ARG(rt && json_out, "NULL argument");
    API_CHECK_ARG(idle_ms >= 0, "idle_ms is negative");
    *json_out = NULL;
    cleanup_free char *list = NULL;
    int r = boxlite_box_list(rt, "running", &list);
    if (r)
        return r;
    json_t *arr = json_loads(list, 0, NULL), *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        boxlite_box *b = NULL;
        if (!id || boxlite_box_get(rt, id, &b) != BOXLITE_OK)
            continue; /* removed meanwhile */
        int code;
        json_t *one = reclaim_one(b, idle_ms, &code);
        boxlite_box_free(b);
        if (one)
            json_array_append_new(out, one);
    }
    json_decref(arr);
    return rt_dump_json(out, json_out) ? api_fail(BOXLITE_ERR_NOMEM, "reclaim: out of memory")
                                       : api_return(0, NULL);
}
