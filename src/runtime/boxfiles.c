/* The per-box process's files: see boxfiles.h. */
#include "runtime/boxfiles.h"

#include "runtime/spawn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const run_files[] = { "ready", "stats.json", "health.json", "exit.json" };

void boxfiles_clear(const char *dir)
{
    char p[4200];
    for (size_t i = 0; i < sizeof run_files / sizeof run_files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, run_files[i]);
        unlink(p);
    }
}

json_t *boxfiles_json(const char *dir, const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return json_load_file(p, 0, NULL);
}

void boxfiles_end(const char *dir, struct box_end_info *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = boxfiles_json(dir, "exit.json");
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
    json_decref(j);
}

void boxfiles_vmm_last_line(const char *dir, char *out, size_t len)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/vmm.log", dir);
    char *tail = rt_tail_file(p, 1);
    if (!tail || !*tail) { /* just rotated: the line is in the previous file */
        free(tail);
        snprintf(p, sizeof p, "%s/vmm.log.1", dir);
        tail = rt_tail_file(p, 1);
    }
    snprintf(out, len, "%s", tail ? tail : "");
    free(tail);
}
