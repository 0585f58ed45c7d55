// SPDX-License-Identifier: Apache-2.0
/* Metrics: the runtime's counters, and a box's figures (STATUS from its per-box process
 * on the box socket, asked now), the start timings the starter recorded, and execution
 * counters from the state database. */
#include "runtime/runtime.h"

#include "common/cleanup.h"
#include "proto/control_json.h"
#include "runtime/api_error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

BOXLITE_API int boxlite_box_metrics(boxlite_box *b, char **json_out)
{
    API_CHECK_ARG(b && json_out, "NULL argument");
    *json_out = NULL;
    struct bl_error err = { 0 };
    struct box_record rec;
    int r = rt_box_lookup(b->rt, b->id, &rec, &err);
    if (r)
        return api_return(r, &err);
    json_t *m = json_object();
    json_object_set_new(m, "state", json_string(box_state_name(rec.state)));
    json_t *stats = NULL, *status = NULL;
    struct proto_status st;
    if (rec.state == BOX_STATE_RUNNING && rt_box_status(b->dir, b->id, &st, NULL) == 0) {
        stats = proto_figures_json(&st.fig);
        status = proto_status_json(&st);
        proto_status_free(&st);
    }
    json_object_set_new(m, "vmm", stats ? stats : json_null());
    json_object_set_new(m, "boot", status ? status : json_null());
    json_t *info = rec.runtime_info ? json_loads(rec.runtime_info, 0, NULL) : NULL;
    json_object_set_new(m, "start", info ? json_incref(json_object_get(info, "start_ms")) : json_null());
    json_decref(info);
    char key[80];
    snprintf(key, sizeof key, "box:%s:execs", b->id);
    json_object_set_new(m, "executions", json_integer(state_counter_get(b->rt->db, key)));
    snprintf(key, sizeof key, "box:%s:exec_errors", b->id);
    json_object_set_new(m, "execution_errors", json_integer(state_counter_get(b->rt->db, key)));
    box_record_clear(&rec);
    *json_out = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return *json_out ? api_return(0, NULL) : api_fail(BOXLITE_ERR_NOMEM, "metrics: out of memory");
}

BOXLITE_API int boxlite_runtime_metrics(boxlite_runtime *rt, char **json_out)
{
    API_CHECK_ARG(json_out, "json_out is NULL");
    *json_out = NULL;
    API_CHECK_ARG(rt, "runtime is NULL");
    cleanup_free char *list = NULL;
    int r = boxlite_box_list(rt, box_state_name(BOX_STATE_RUNNING), &list);
    if (r)
        return r;
    json_t *arr = json_loads(list, 0, NULL);
    json_t *o = json_pack("{s:I, s:I, s:I, s:I}",
                          "boxes_created", (json_int_t)state_counter_get(rt->db, "boxes_created"),
                          "boxes_failed", (json_int_t)state_counter_get(rt->db, "boxes_failed"),
                          "boxes_running", (json_int_t)json_array_size(arr),
                          "boxes_started", (json_int_t)state_counter_get(rt->db, "boxes_started"));
    json_decref(arr);
    /* boxes started again on QEMU after the KVM engine failed them (fallback.h) */
    json_object_set_new(o, "kvm_fallbacks", json_integer(state_counter_get(rt->db, "kvm_fallbacks")));
    return rt_dump_json(o, json_out) ? api_fail(BOXLITE_ERR_NOMEM, "metrics: out of memory")
                                     : api_return(0, NULL);
}
