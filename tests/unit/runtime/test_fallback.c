// SPDX-License-Identifier: Apache-2.0
/* Safe engine choice (src/runtime/fallback.c): which failed starts go again on QEMU, judged
 * from the per-box process's real exit.json format, and what is kept for the user (notice,
 * vmm.log, console-kvm.log, the info record). The whole path with a real KVM engine failing
 * on purpose is proven in the lab: tests/e2e/lab_matrix.sh. Also the cpu_template option. */
#include "harness/harness.h"
#include "runtime/fallback.h"
#include "runtime/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *dir, const char *name, const char *text)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        harness_fail(__FILE__, __LINE__, "cannot write %s", p);
        return;
    }
    fputs(text, f);
    fclose(f);
}

static char *get(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    if (fread(buf, 1, 65535, f) == 0)
        buf[0] = 0;
    fclose(f);
    return buf;
}

/* exit.json as boxlite-vmm writes it (src/vmm/main.c, write_exit). */
static void exit_json(const char *dir, const char *engine, const char *reason, int start_error,
                      const char *tpl)
{
    char j[2048];
    snprintf(j, sizeof j,
             "{\"powered_off\":true,\"killed\":false,\"engine_failed\":false,\"guest_status\":-1,"
             "\"reason\":\"%s\",\"start_error\":%d,\"stats\":{\"engine\":\"%s\","
             "\"start_to_first_run_ms\":3.0,\"start_to_ready_ms\":0.000,\"vm_exits\":12,"
             "\"cpu_user_us\":1,\"cpu_sys_us\":1,\"rss_bytes\":1,\"net_rx_bytes\":0,"
             "\"net_tx_bytes\":0,\"net_connections\":0,\"cpu_template\":\"%s\"}}\n",
             reason, start_error, engine, tpl);
    put(dir, "exit.json", j);
}

TEST(auto_engine_whose_kvm_guest_died_falls_back_and_says_why)
{
    const char *dir = harness_tmpdir();
    struct boxlite_options o;
    opts_init(&o);
    exit_json(dir, "kvm", "guest shut down (reboot or triple fault)", 0, "v3");
    put(dir, "console.log", "[    0.000000] Linux version 6.1\nlast words of the guest\n");
    put(dir, "vmm.log", "boxlite-vmm: guest shut down (reboot or triple fault)\n");
    struct rt_fallback fb;
    REQUIRE(rt_fallback_wanted(dir, &o, NULL, &fb));
    CHECK_STR(fb.reason, "guest shut down (reboot or triple fault)");
    CHECK_STR(fb.cpu_template, "v3");
    CHECK(fb.console && strstr(fb.console, "last words of the guest"));
    char notice[1024];
    json_t *rec = rt_fallback_record(dir, "web", &fb, "the box's VM process exited", notice,
                                     sizeof notice);
    REQUIRE(rec);
    CHECK_STR(json_string_value(json_object_get(rec, "from")), "kvm");
    CHECK_STR(json_string_value(json_object_get(rec, "reason")),
              "guest shut down (reboot or triple fault)");
    CHECK_STR(json_string_value(json_object_get(rec, "cpu_template")), "v3");
    CHECK(strstr(json_string_value(json_object_get(rec, "console")), "last words") != NULL);
    json_decref(rec);
    /* one line, with the reason, the template and how to report it */
    CHECK(strchr(notice, '\n') == NULL);
    CHECK(strstr(notice, "the KVM engine could not start this box (guest shut down (reboot or "
                         "triple fault); CPU template v3), so it runs on QEMU instead") != NULL);
    CHECK(strstr(notice, "`boxlite doctor --json` and `boxlite inspect web`") != NULL);
    /* the KVM attempt's files are kept under their own names; vmm.log has the record */
    char *kc = get(dir, "console-kvm.log"), *log = get(dir, "vmm.log"), *ex = get(dir, "exit-kvm.json");
    CHECK(kc && strstr(kc, "last words of the guest"));
    CHECK(ex && strstr(ex, "triple fault"));
    CHECK(get(dir, "console.log") == NULL && get(dir, "exit.json") == NULL);
    CHECK(log && strstr(log, "boxlite: the KVM engine did not bring the guest up (guest shut "
                             "down (reboot or triple fault); CPU template v3); starting the box "
                             "again on QEMU"));
    CHECK(log && strstr(log, "boxlite-vmm: guest shut down") == log); /* appended, not replaced */
    CHECK(log && strstr(log, "last console lines under KVM") && strstr(log, "last words"));
    free(kc);
    free(log);
    free(ex);
    rt_fallback_clear(&fb);
    opts_clear(&o);
}

TEST(what_does_not_fall_back)
{
    const char *dir = harness_tmpdir();
    struct boxlite_options o;
    struct rt_fallback fb;
    struct bl_error err = { 0 };
    opts_init(&o);
    /* no exit.json: the process never ran an engine (bad config) or was killed */
    CHECK(!rt_fallback_wanted(dir, &o, NULL, &fb));
    /* QEMU failed: nothing to fall back to */
    exit_json(dir, "qemu", "QEMU exited with status 1", 0, "qemu:max");
    CHECK(!rt_fallback_wanted(dir, &o, NULL, &fb));
    /* an explicit engine is taken as given */
    exit_json(dir, "kvm", "vCPU 0: KVM_EXIT_INTERNAL_ERROR suberror 1, data 0x0", 0, "v3");
    REQUIRE(opts_set_engine(&o, "kvm", &err) == 0);
    CHECK(!rt_fallback_wanted(dir, &o, NULL, &fb));
    REQUIRE(opts_set_engine(&o, "auto", &err) == 0);
    CHECK(rt_fallback_wanted(dir, &o, NULL, &fb));
    rt_fallback_clear(&fb);
    /* a template the user named that the host cannot satisfy is theirs to see ... */
    exit_json(dir, "kvm", "KVM engine: CPU template v3: the host's KVM lacks avx2", 13, "");
    REQUIRE(opts_set_cpu_template(&o, "v3", &err) == 0);
    CHECK(!rt_fallback_wanted(dir, &o, NULL, &fb));
    /* ... but when "auto" found no template, QEMU may still run the box */
    REQUIRE(opts_set_cpu_template(&o, "auto", &err) == 0);
    CHECK(o.cpu_template == NULL);
    REQUIRE(rt_fallback_wanted(dir, &o, NULL, &fb));
    CHECK_STR(fb.cpu_template, "auto"); /* none was built: the one asked for */
    rt_fallback_clear(&fb);
    /* an invalid request fails the same on QEMU */
    exit_json(dir, "kvm", "config: kernel: is required", 1, "");
    CHECK(!rt_fallback_wanted(dir, &o, NULL, &fb));
    /* a malformed exit.json is not a reason to do anything */
    put(dir, "exit.json", "{\"stats\": [");
    CHECK(!rt_fallback_wanted(dir, &o, NULL, &fb));
    opts_clear(&o);
}

TEST(exit_reason_for_the_start_error)
{
    const char *dir = harness_tmpdir();
    char why[600];
    rt_exit_reason(dir, NULL, why, sizeof why);
    CHECK_STR(why, "");
    exit_json(dir, "kvm", "vCPU 0: KVM_EXIT_INTERNAL_ERROR suberror 1, data 0x0", 0, "v3");
    rt_exit_reason(dir, NULL, why, sizeof why);
    CHECK_STR(why, "the kvm engine's VM ended: vCPU 0: KVM_EXIT_INTERNAL_ERROR suberror 1, data 0x0");
}

TEST(cpu_template_option)
{
    struct boxlite_options o;
    struct bl_error err = { 0 };
    opts_init(&o);
    CHECK(o.cpu_template == NULL);
    REQUIRE(opts_from_json(&o, "{\"cpu_template\": \"baseline\"}", &err) == 0);
    CHECK_STR(o.cpu_template, "baseline");
    char *j = opts_to_json(&o);
    CHECK(j && strstr(j, "\"cpu_template\":\"baseline\""));
    free(j);
    static const char *const bad[] = { "", "V3", "v3;rm", "a-very-long-template-name-over-31" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(opts_set_cpu_template(&o, bad[i], &err), -BOXLITE_ERR_INVALID);
        CHECK(strstr(err.msg, "cpu_template") != NULL);
    }
    CHECK_EQ(opts_from_json(&o, "{\"cpu_template\": 3}", &err), -BOXLITE_ERR_INVALID);
    CHECK_STR(o.cpu_template, "baseline"); /* a refused value changes nothing */
    REQUIRE(opts_set_cpu_template(&o, "auto", &err) == 0);
    j = opts_to_json(&o);
    CHECK(j && strstr(j, "\"cpu_template\":\"auto\""));
    free(j);
    opts_clear(&o);
}
