// SPDX-License-Identifier: Apache-2.0
/* The per-box process's files: see boxfiles.h. */
#include "runtime/boxfiles.h"

#include "common/boxpath.h"
#include "proto/control_json.h"
#include "runtime/spawn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a previous run left: its post-mortem record. */
static const enum box_file run_files[] = { BOX_EXIT_JSON };

void boxfiles_clear(const char *dir)
{
    char p[4200];
    for (size_t i = 0; i < sizeof run_files / sizeof run_files[0]; i++) {
        box_file_path(p, sizeof p, dir, run_files[i], 0);
        unlink(p);
    }
}

void boxfiles_end(const char *dir, struct box_end_info *out)
{
    memset(out, 0, sizeof *out);
    char p[4200];
    box_file_path(p, sizeof p, dir, BOX_EXIT_JSON, 0);
    json_t *j = json_load_file(p, 0, NULL);
    if (!j)
        return;
    const char *why = json_string_value(json_object_get(j, "stop_reason"));
    if (!why) /* a per-box process older than stop reasons */
        why = json_string_value(json_object_get(j, "reason"));
    out->known = true;
    snprintf(out->reason, sizeof out->reason, "%s", why && *why ? why : "the VM ended");
    out->requested = json_is_true(json_object_get(j, "requested"));
    json_t *code = json_object_get(j, "exit_code");
    if (json_is_integer(code)) {
        out->has_exit_code = true;
        out->exit_code = json_integer_value(code);
    }
    out->oom_killed = json_is_true(json_object_get(j, "oom_killed"));
    json_t *rc = json_object_get(j, "restart_count");
    if (json_is_integer(rc) && json_integer_value(rc) > 0 && json_integer_value(rc) <= UINT32_MAX)
        out->restarts = (uint64_t)json_integer_value(rc);
    out->pause_shares =
        proto_pause_shares_parse(json_string_value(json_object_get(j, "pause_shares")));
    json_decref(j);
}

int boxfiles_fork_end(const char *src_dir, const char *dir, struct bl_error *err)
{
    struct box_end_info src;
    boxfiles_end(src_dir, &src);
    if (src.pause_shares == PROTO_SHARES_UNSAID)
        return 0;
    struct proto_exit x = { .guest_status = -1, .paused = true,
                            .pause_shares = src.pause_shares };
    snprintf(x.stop_reason, sizeof x.stop_reason, "paused");
    char p[4200];
    box_file_path(p, sizeof p, dir, BOX_EXIT_JSON, 0);
    json_t *j = proto_exit_json(&x);
    int r = j && json_dump_file(j, p, JSON_COMPACT) == 0
                ? 0 : bl_err(err, BOXLITE_ERR_IO, "write %s", p);
    json_decref(j);
    return r;
}

void boxfiles_vmm_last_line(const char *dir, char *out, size_t len)
{
    char p[4200];
    box_file_path(p, sizeof p, dir, BOX_VMM_LOG, 0);
    char *tail = rt_tail_file(p, 1);
    if (!tail || !*tail) { /* just rotated: the line is in the previous file */
        free(tail);
        box_file_path(p, sizeof p, dir, BOX_VMM_LOG, 1);
        tail = rt_tail_file(p, 1);
    }
    snprintf(out, len, "%s", tail ? tail : "");
    free(tail);
}
