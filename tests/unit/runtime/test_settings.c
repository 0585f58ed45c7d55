// SPDX-License-Identifier: Apache-2.0
/* boxlite_runtime_open_with: every environment variable the library reads has an option,
 * the variables stay the defaults, and a wrong option is refused before anything is made.
 * Also the numeric version and the error state's documented rules (include/boxlite.h). */
#include "harness/harness.h"
#include "runtime/assets.h"
#include "runtime/runtime.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *home(const char *name)
{
    static char p[600];
    snprintf(p, sizeof p, "%s/%s", harness_tmpdir(), name);
    return p;
}

TEST(wrong_options_are_refused_naming_them_and_create_nothing)
{
    static const struct { const char *json, *needle; } bad[] = {
        { "{\"vmm\": 3}", "\"vmm\"" },
        { "{\"no_such\": 1}", "unknown option \"no_such\"" },
        { "{\"jail_uid\": 0}", "\"jail_uid\"" },
        { "{\"jail_gid\": 4294967295}", "\"jail_gid\"" },
        { "{\"jail_uid\": \"1000\"}", "\"jail_uid\"" },
        { "{\"unconfined\": 1}", "\"unconfined\"" },
        { "{\"insecure_registries\": \"a:5000\"}", "\"insecure_registries\"" },
        { "{\"insecure_registries\": [\"a,b\"]}", "\"insecure_registries\"[0]" },
        { "{\"kernel\": \"\"}", "\"kernel\"" },
        { "{\"qemu\": \"\"}", "\"qemu\"" },
        { "{\"qemu\": true}", "\"qemu\"" },
        { "[1]", "expected a JSON object" },
        { "{\"vmm\": ", "runtime options" },
        { "{\"vmm\": \"/a\", \"vmm\": \"/b\"}", "runtime options" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        boxlite_runtime *rt = (boxlite_runtime *)1;
        CHECK_EQ(boxlite_runtime_open_with(home("bad"), bad[i].json, &rt), BOXLITE_ERR_INVALID);
        CHECK(rt == NULL);
        if (!strstr(boxlite_errmsg(), bad[i].needle))
            harness_fail(__FILE__, __LINE__, "%s: message '%s' lacks '%s'", bad[i].json,
                         boxlite_errmsg(), bad[i].needle);
        CHECK_EQ(boxlite_errcode(), BOXLITE_ERR_INVALID);
    }
    CHECK(access(home("bad"), F_OK) != 0);
}

TEST(options_win_over_the_environment_which_stays_the_default)
{
    setenv("BOXLITE_KERNEL", "/nonexistent/env-kernel", 1);
    setenv("BOXLITE_INITRD", "/bin/true", 1);
    setenv("BOXLITE_VMM", "/nonexistent/env-vmm", 1);
    setenv("BOXLITE_JAIL_UID", "4242", 1);
    setenv("BOXLITE_INSECURE_REGISTRIES", "env.example:5000", 1);
    unsetenv("BOXLITE_UNCONFINED");
    boxlite_runtime *rt = NULL;
    REQUIRE(boxlite_runtime_open_with(home("h1"), "{\"vmm\": \"/bin/true\", \"kernel\": "
                                      "\"/bin/sh\", \"unconfined\": true, \"jail_gid\": 777, "
                                      "\"insecure_registries\": [\"a.example:5000\", "
                                      "\"198.51.100.7\"], \"kernel_cmdline\": \"quiet\", "
                                      "\"docker_config\": null}", &rt) == BOXLITE_OK);
    CHECK_STR(boxlite_errmsg(), "");
    struct rt_settings *s = &rt->settings;
    CHECK_STR(rt_settings_get(s, RT_SET_KERNEL), "/bin/sh");
    CHECK_STR(rt_settings_get(s, RT_SET_INITRD), "/bin/true");      /* from the environment */
    CHECK_STR(rt_settings_get(s, RT_SET_JAIL_UID), "4242");         /* from the environment */
    CHECK_STR(rt_settings_get(s, RT_SET_JAIL_GID), "777");
    CHECK_STR(rt_settings_get(s, RT_SET_UNCONFINED), "1");
    CHECK_STR(rt_settings_get(s, RT_SET_INSECURE), "a.example:5000,198.51.100.7");
    CHECK_STR(rt_settings_get(s, RT_SET_KERNEL_CMDLINE), "quiet");
    CHECK(rt_settings_get(s, RT_SET_QEMU) == NULL); /* neither option nor BOXLITE_QEMU */
    struct rt_assets a;
    struct bl_error err = { 0 };
    CHECK_EQ(rt_find_assets(s, &a, &err), 0);
    CHECK_STR(a.vmm, "/bin/true");
    CHECK_STR(a.kernel, "/bin/sh");
    /* Without the option, the variable decides (and a wrong one is named as such). */
    CHECK_EQ(rt_find_assets(NULL, &a, &err), -BOXLITE_ERR_ENGINE);
    CHECK(strstr(err.msg, "/nonexistent/env-vmm") && strstr(err.msg, "BOXLITE_VMM"));
    setenv("BOXLITE_VMM", "/bin/true", 1);
    CHECK_EQ(rt_find_assets(NULL, &a, &err), -BOXLITE_ERR_ENGINE);
    CHECK(strstr(err.msg, "/nonexistent/env-kernel") && strstr(err.msg, "BOXLITE_KERNEL"));
    boxlite_runtime_close(rt);
    unsetenv("BOXLITE_KERNEL");
    unsetenv("BOXLITE_VMM");
    unsetenv("BOXLITE_INITRD");
    unsetenv("BOXLITE_JAIL_UID");
    unsetenv("BOXLITE_INSECURE_REGISTRIES");
}

TEST(a_missing_asset_names_the_option_and_every_place_tried)
{
    unsetenv("BOXLITE_VMM");
    boxlite_runtime *rt = NULL;
    REQUIRE(boxlite_runtime_open_with(home("h2"), "{\"vmm\": \"/nonexistent/vmm\"}", &rt) ==
            BOXLITE_OK);
    struct rt_assets a;
    struct bl_error err = { 0 };
    CHECK_EQ(rt_find_assets(&rt->settings, &a, &err), -BOXLITE_ERR_ENGINE);
    CHECK(strstr(err.msg, "/nonexistent/vmm") && strstr(err.msg, "\"vmm\""));
    boxlite_runtime_close(rt);
    /* No option, no variable: the places relative to the library are listed. */
    CHECK_EQ(rt_find_assets(NULL, &a, &err), -BOXLITE_ERR_ENGINE);
    CHECK(strstr(err.msg, "libexec/boxlite/boxlite-vmm") != NULL);
}

TEST(numeric_version_matches_the_string)
{
    CHECK_EQ(boxlite_version_number(), BOXLITE_VERSION_NUMBER);
    char v[32];
    int n = boxlite_version_number();
    snprintf(v, sizeof v, "%d.%d.%d", n / 1000000, n / 1000 % 1000, n % 1000);
    CHECK_STR(v, boxlite_version());
    CHECK_STR(boxlite_code_str(BOXLITE_ERR_CANCELLED), "cancelled");
}

TEST(error_state_follows_the_documented_rules)
{
    CHECK_EQ(boxlite_exec_stdout_fd(NULL), -1);
    CHECK(strstr(boxlite_errmsg(), "execution is NULL") != NULL);
    CHECK_EQ(boxlite_errcode(), BOXLITE_ERR_INVALID);
    boxlite_options *o = NULL;
    CHECK_EQ(boxlite_options_new(&o), BOXLITE_OK); /* success clears it */
    CHECK_STR(boxlite_errmsg(), "");
    CHECK_EQ(boxlite_errcode(), 0);
    CHECK_EQ(boxlite_options_set_cpus(o, -1), BOXLITE_ERR_INVALID);
    CHECK(boxlite_errmsg()[0] != 0);
    boxlite_options_free(o); /* void: leaves it */
    CHECK_EQ(boxlite_errcode(), BOXLITE_ERR_INVALID);
}

/* The QEMU binary: the "qemu" option, else BOXLITE_QEMU; boxlite_host_check_with checks the
 * binary those options name (through boxlite-vmm --qemu PATH --check --json). */
TEST(qemu_option_wins_over_boxlite_qemu_and_reaches_the_host_check)
{
    setenv("BOXLITE_QEMU", "/nonexistent/env-qemu", 1);
    boxlite_runtime *rt = NULL;
    REQUIRE(boxlite_runtime_open_with(home("q1"), "{\"qemu\": \"/nonexistent/opt-qemu\"}",
                                      &rt) == BOXLITE_OK);
    CHECK_STR(rt_settings_get(&rt->settings, RT_SET_QEMU), "/nonexistent/opt-qemu");
    boxlite_runtime_close(rt);
    REQUIRE(boxlite_runtime_open_with(home("q2"), NULL, &rt) == BOXLITE_OK);
    CHECK_STR(rt_settings_get(&rt->settings, RT_SET_QEMU), "/nonexistent/env-qemu");
    boxlite_runtime_close(rt);
    unsetenv("BOXLITE_QEMU");

    char *out = NULL;
    CHECK_EQ(boxlite_host_check_with(home("q3"), "{\"qemu\": 1}", &out), BOXLITE_ERR_INVALID);
    CHECK(out == NULL && strstr(boxlite_errmsg(), "\"qemu\""));
    CHECK_EQ(boxlite_host_check_with(home("q3"), "{\"no_such\": 1}", &out), BOXLITE_ERR_INVALID);
    /* The boxlite-vmm of this build tree (<O>/tests/unit/runtime/test_settings ->
     * <O>/bin/boxlite-vmm) answers for the binary named. */
    char vmm[600];
    ssize_t n = readlink("/proc/self/exe", vmm, sizeof vmm - 1);
    REQUIRE(n > 0);
    vmm[n] = 0;
    for (int up = 0; up < 4; up++)
        *strrchr(vmm, '/') = 0;
    strcat(vmm, "/bin/boxlite-vmm");
    if (access(vmm, X_OK) != 0)
        harness_need("%s (make all builds it)", vmm);
    char opts[800];
    snprintf(opts, sizeof opts, "{\"vmm\": \"%s\", \"qemu\": \"/nonexistent/opt-qemu\"}",
             vmm);
    REQUIRE(boxlite_host_check_with(home("q3"), opts, &out) == BOXLITE_OK);
    CHECK(strstr(out, "qemu_binary /nonexistent/opt-qemu") != NULL);
    CHECK(strstr(out, "\"binary\":\"/nonexistent/opt-qemu\"") == NULL);
    boxlite_free(out);
    snprintf(opts, sizeof opts, "{\"vmm\": \"%s\", \"qemu\": \"/bin/true\"}", vmm);
    REQUIRE(boxlite_host_check_with(home("q3"), opts, &out) == BOXLITE_OK);
    CHECK(strstr(out, "\"binary\":\"/usr/bin/true\"") || strstr(out, "\"binary\":\"/bin/true\""));
    boxlite_free(out);
    CHECK(access(home("q3"), F_OK) != 0); /* nothing created */
}
