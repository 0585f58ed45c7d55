// SPDX-License-Identifier: Apache-2.0
/* A running box's process groups (boxlite_exec_spec.group: a cgroup in the guest that
 * counts a container's processes), changed after their leader made them: GROUP_LIMITS to
 * the agent (docs/protocol.md), as an OCI runtime's `update --pids-limit` needs. */
#include "runtime/runtime.h"

#include "proto/client.h"
#include "runtime/api_error.h"

#define GROUP_TIMEOUT_MS 10000

BOXLITE_API int boxlite_box_set_group_pids(boxlite_box *b, const char *group, long long pids_max)
{
    API_CHECK_ARG(b && group, "NULL argument");
    if (pids_max < 0)
        return api_fail(BOXLITE_ERR_INVALID, "pids limit %lld: must be 0 (none) or more",
                        pids_max);
    struct bl_error err = { 0 };
    struct proto_client *c = NULL;
    struct box_record rec = { 0 };
    int r = rt_box_conn_running(b, "process group limits of", &c, &rec, &err);
    if (!r)
        r = proto_group_limits(c, group, (uint64_t)pids_max, GROUP_TIMEOUT_MS, &err);
    proto_client_close(c);
    if (r && rec.name)
        bl_err_prefix(&err, "box %s", rec.name);
    box_record_clear(&rec);
    return api_return(r, &err);
}
