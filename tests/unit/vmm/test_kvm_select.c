// SPDX-License-Identifier: Apache-2.0
/* engine_select (engine.h): "auto" takes KVM where it can run and QEMU otherwise, saying so;
 * an explicit engine is taken as given or refused with the reason; unknown names are
 * invalid. Holds on any host: the expectations follow what the engines say about it. */
#include "harness/harness.h"
#include "vmm/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TEST(select_auto_follows_availability)
{
    char why[256], notice[512];
    struct bl_error err = { 0 };
    unsetenv("BOXLITE_KVM_ANY_HOST");
    bool kvm = engine_kvm_ops.available(why, sizeof why);
    bool qemu = engine_qemu_ops.available(why, sizeof why);
    const struct engine_ops *ops = engine_select("auto", notice, sizeof notice, &err);
    const struct engine_ops *null_ops = engine_select(NULL, notice, sizeof notice, &err);
    CHECK(ops == null_ops);
    if (kvm) {
        CHECK(ops == &engine_kvm_ops);
        CHECK_STR(notice, "");
    } else if (qemu) {
        CHECK(ops == &engine_qemu_ops);
        CHECK(strstr(notice, "KVM is not usable") != NULL);
    } else {
        CHECK(ops == NULL);
        CHECK_EQ(err.code, BOXLITE_ERR_ENGINE);
    }
}

TEST(select_explicit_engine)
{
    char why[256], notice[512];
    struct bl_error err = { 0 };
    unsetenv("BOXLITE_KVM_ANY_HOST");
    bool kvm = engine_kvm_ops.available(why, sizeof why);
    const struct engine_ops *ops = engine_select("kvm", notice, sizeof notice, &err);
    if (kvm) {
        CHECK(ops == &engine_kvm_ops);
    } else {
        CHECK(ops == NULL);
        CHECK_EQ(err.code, BOXLITE_ERR_ENGINE);
        CHECK(strstr(err.msg, "engine kvm is not available here") != NULL);
        CHECK(strstr(err.msg, why) != NULL); /* the reason is passed on */
    }
    CHECK(engine_select("xen", notice, sizeof notice, &err) == NULL);
    CHECK_EQ(err.code, BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "xen") != NULL);
}

TEST(kvm_availability_needs_hardware_virtualization)
{
    char why[256] = "";
    unsetenv("BOXLITE_KVM_ANY_HOST");
    FILE *f = fopen("/proc/cpuinfo", "r");
    REQUIRE(f);
    char line[8192];
    bool hw = false;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5) && (strstr(line, " vmx") || strstr(line, " svm")))
            hw = true;
    fclose(f);
    if (!hw) {
        CHECK(!engine_kvm_ops.available(why, sizeof why));
        CHECK(strstr(why, "vmx or svm") != NULL);
        /* the measuring override lets it run on a host whose /dev/kvm is not hardware */
        setenv("BOXLITE_KVM_ANY_HOST", "1", 1);
        bool any = engine_kvm_ops.available(why, sizeof why);
        CHECK(any == (access("/dev/kvm", R_OK | W_OK) == 0));
        unsetenv("BOXLITE_KVM_ANY_HOST");
    } else if (access("/dev/kvm", R_OK | W_OK) == 0) {
        CHECK(engine_kvm_ops.available(why, sizeof why));
    }
}
