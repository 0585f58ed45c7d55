// SPDX-License-Identifier: Apache-2.0
/* Safe engine choice (fallback.h): a box whose engine is "auto" and whose guest did not come
 * up on the KVM engine is started again on QEMU, and the failure is kept for the user to
 * report: the per-box process's EXIT or exit.json (why the VM ended, the CPU template), the last
 * console lines, the KVM console itself (console-kvm.log). */
#include "runtime/fallback.h"

#include "common/boxpath.h"
#include "common/cleanup.h"
#include "proto/control_json.h"
#include "runtime/spawn.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void rt_fallback_clear(struct rt_fallback *fb)
{
    free(fb->console);
    memset(fb, 0, sizeof *fb);
}

static bool is_auto(const char *v) { return !v || !*v || strcmp(v, "auto") == 0; }

bool rt_box_end_known(const char *box_dir, const struct proto_exit *end, struct proto_exit *out)
{
    if (end && end->stop_reason[0]) {
        *out = *end;
        return true;
    }
    char path[4200];
    box_file_path(path, sizeof path, box_dir, BOX_EXIT_JSON, 0);
    json_t *x = json_load_file(path, 0, NULL);
    int r = proto_exit_from_json(out, x);
    json_decref(x);
    return r == 0;
}

bool rt_fallback_wanted(const char *box_dir, const struct boxlite_options *o,
                        const struct proto_exit *end, struct rt_fallback *fb)
{
    memset(fb, 0, sizeof *fb);
    if (!is_auto(o->engine))
        return false; /* an explicit engine is taken as given */
    struct proto_exit x;
    if (!rt_box_end_known(box_dir, end, &x))
        return false; /* no engine ran (a config error), or it was killed before it said */
    const char *engine = x.fig.engine, *reason = x.reason, *tpl = x.fig.cpu_template;
    int start_error = x.start_error;
    bool want = strcmp(engine, "kvm") == 0 &&
                /* a template the user named and the host cannot satisfy is their error to
                 * see, not something to hide behind another engine */
                !(start_error == BOXLITE_ERR_UNSUPPORTED && !is_auto(o->cpu_template)) &&
                start_error != BOXLITE_ERR_INVALID;
    if (want) {
        snprintf(fb->reason, sizeof fb->reason, "%s", reason && *reason ? reason : "unknown");
        snprintf(fb->cpu_template, sizeof fb->cpu_template, "%s",
                 tpl && *tpl ? tpl : (o->cpu_template ? o->cpu_template : "auto"));
        char path[4200];
        box_file_path(path, sizeof path, box_dir, BOX_CONSOLE_LOG, 0);
        fb->console = rt_tail_file(path, 12);
    }
    return want;
}

json_t *rt_fallback_record(const char *box_dir, const char *box_name, const struct rt_fallback *fb,
                           const char *start_error, char *notice, size_t notice_len)
{
    char from[4200], to[4200];
    /* The KVM attempt's console, kept whole: the QEMU attempt writes console.log anew. */
    box_file_path(from, sizeof from, box_dir, BOX_CONSOLE_LOG, 0);
    box_file_path(to, sizeof to, box_dir, BOX_CONSOLE_KVM, 0);
    rename(from, to);
    box_file_path(from, sizeof from, box_dir, BOX_EXIT_JSON, 0);
    box_file_path(to, sizeof to, box_dir, BOX_EXIT_KVM, 0);
    rename(from, to);

    /* The per-box process's log gets the whole record, in its own words. */
    box_file_path(from, sizeof from, box_dir, BOX_VMM_LOG, 0);
    int fd cleanup_close = open(from, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dprintf(fd,
                "boxlite: the KVM engine did not bring the guest up (%s; CPU template %s); "
                "starting the box again on QEMU\nboxlite: %s\n"
                "boxlite: last console lines under KVM (all of them in console-kvm.log):\n%s\n",
                fb->reason, fb->cpu_template, start_error ? start_error : "",
                fb->console && *fb->console ? fb->console : "(console is empty)");
    }
    snprintf(notice, notice_len,
             "the KVM engine could not start this box (%s; CPU template %s), so it runs on "
             "QEMU instead; please report it with the output of `boxlite doctor --json` and "
             "`boxlite inspect %s`",
             fb->reason, fb->cpu_template, box_name);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "from", "kvm", "reason", fb->reason,
                     "cpu_template", fb->cpu_template, "console",
                     fb->console ? fb->console : "", "error", start_error ? start_error : "",
                     "at", (json_int_t)time(NULL));
}

void rt_exit_reason(const char *box_dir, const struct proto_exit *end, char *out, size_t len)
{
    out[0] = 0;
    struct proto_exit x;
    if (rt_box_end_known(box_dir, end, &x) && x.fig.engine[0] && x.reason[0])
        snprintf(out, len, "the %s engine's VM ended: %s", x.fig.engine, x.reason);
}
