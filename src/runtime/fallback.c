/* Safe engine choice (fallback.h): a box whose engine is "auto" and whose guest did not come
 * up on the KVM engine is started again on QEMU, and the failure is kept for the user to
 * report: the per-box process's exit.json (why the VM ended, the CPU template), the last
 * console lines, the KVM console itself (console-kvm.log). */
#include "runtime/fallback.h"

#include "common/cleanup.h"
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

bool rt_fallback_wanted(const char *box_dir, const struct boxlite_options *o,
                        struct rt_fallback *fb)
{
    memset(fb, 0, sizeof *fb);
    if (!is_auto(o->engine))
        return false; /* an explicit engine is taken as given */
    char path[4200];
    snprintf(path, sizeof path, "%s/exit.json", box_dir);
    json_t *x = json_load_file(path, 0, NULL);
    if (!x)
        return false; /* no engine ran (a config error), or it was killed before it said */
    json_t *stats = json_object_get(x, "stats");
    const char *engine = json_string_value(json_object_get(stats, "engine"));
    const char *reason = json_string_value(json_object_get(x, "reason"));
    const char *tpl = json_string_value(json_object_get(stats, "cpu_template"));
    json_int_t start_error = json_integer_value(json_object_get(x, "start_error"));
    bool want = engine && strcmp(engine, "kvm") == 0 &&
                /* a template the user named and the host cannot satisfy is their error to
                 * see, not something to hide behind another engine */
                !(start_error == BOXLITE_ERR_UNSUPPORTED && !is_auto(o->cpu_template)) &&
                start_error != BOXLITE_ERR_INVALID;
    if (want) {
        snprintf(fb->reason, sizeof fb->reason, "%s", reason && *reason ? reason : "unknown");
        snprintf(fb->cpu_template, sizeof fb->cpu_template, "%s",
                 tpl && *tpl ? tpl : (o->cpu_template ? o->cpu_template : "auto"));
        snprintf(path, sizeof path, "%s/console.log", box_dir);
        fb->console = rt_tail_file(path, 12);
    }
    json_decref(x);
    return want;
}

json_t *rt_fallback_record(const char *box_dir, const char *box_name, const struct rt_fallback *fb,
                           const char *start_error, char *notice, size_t notice_len)
{
    char from[4200], to[4200];
    /* The KVM attempt's console, kept whole: the QEMU attempt writes console.log anew. */
    snprintf(from, sizeof from, "%s/console.log", box_dir);
    snprintf(to, sizeof to, "%s/console-kvm.log", box_dir);
    rename(from, to);
    snprintf(from, sizeof from, "%s/exit.json", box_dir);
    snprintf(to, sizeof to, "%s/exit-kvm.json", box_dir);
    rename(from, to);

    /* The per-box process's log gets the whole record, in its own words. */
    snprintf(from, sizeof from, "%s/vmm.log", box_dir);
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

void rt_exit_reason(const char *box_dir, char *out, size_t len)
{
    char path[4200];
    out[0] = 0;
    snprintf(path, sizeof path, "%s/exit.json", box_dir);
    json_t *x = json_load_file(path, 0, NULL);
    const char *engine = json_string_value(json_object_get(json_object_get(x, "stats"), "engine"));
    const char *reason = json_string_value(json_object_get(x, "reason"));
    if (engine && reason && *reason)
        snprintf(out, len, "the %s engine's VM ended: %s", engine, reason);
    json_decref(x);
}
