// SPDX-License-Identifier: Apache-2.0
/* boxlite-vmm --check --json, --cpuid, --cpu-templates (check.h). Everything here only
 * looks: no VM is created. */
#include "vmm/check.h"

#include "common/cleanup.h"
#include "vmm/arch/arch.h"
#include "vmm/engine.h"
#include "vmm/kvm/kvm.h"
#include "vmm/qemu/qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static json_t *engine_json(const struct engine_ops *ops)
{
    char why[256] = "";
    bool ok = ops->available(why, sizeof why);
    json_t *o = json_pack("{s:s, s:b}", "name", ops->name, "available", ok);
    if (!ok)
        json_object_set_new(o, "why", json_string(why));
    return o;
}

/* /dev/kvm as the KVM engine sees it: opened, its API, the capabilities the engine needs,
 * and which CPU templates the host's supported CPUID satisfies. */
static json_t *kvm_json(void)
{
    json_t *k = json_object();
    struct arch_host_virt v;
    bool hw = arch_host_virt(&v);
    json_object_set_new(k, "hardware_virtualization", hw ? json_string(v.flag) : json_null());
    json_object_set_new(k, "hardware_virtualization_name", hw ? json_string(v.name) : json_null());
    json_object_set_new(k, "hardware_virtualization_wanted", json_string(arch_host_virt_wanted));
    json_object_set_new(k, "nested", json_boolean(arch_host_is_vm()));
    int fd cleanup_close = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    json_object_set_new(k, "device_open", json_boolean(fd >= 0));
    if (fd < 0) {
        json_object_set_new(k, "device_error", json_string(strerror(errno)));
        return k;
    }
    json_object_set_new(k, "api_version", json_integer(ioctl(fd, KVM_GET_API_VERSION, 0)));
    char missing[512];
    engine_kvm_missing_caps(fd, missing, sizeof missing);
    json_object_set_new(k, "missing_caps", json_string(missing));
    json_t *tpl = json_array();
    for (const char *const *t = arch_cpu_templates; *t; t++) {
        struct arch_cpu *c = NULL;
        struct bl_error err = { 0 };
        json_t *o = json_pack("{s:s}", "name", *t);
        bool ok = arch_cpu_new(fd, *t, &c, &err) == 0;
        json_object_set_new(o, "ok", json_boolean(ok));
        if (!ok)
            json_object_set_new(o, "error", json_string(err.msg));
        json_array_append_new(tpl, o);
        arch_cpu_free(c);
    }
    json_object_set_new(k, "cpu_templates", tpl);
    struct arch_cpu *c = NULL;
    struct bl_error err = { 0 };
    if (arch_cpu_new(fd, "auto", &c, &err) == 0)
        json_object_set_new(k, "cpu_template_default", json_string(arch_cpu_template(c)));
    else
        json_object_set_new(k, "cpu_template_error", json_string(err.msg));
    arch_cpu_free(c);
    return k;
}

int vmm_check_json(void)
{
    json_t *o = json_object();
    json_t *engines = json_array();
    json_array_append_new(engines, engine_json(&engine_kvm_ops));
    json_array_append_new(engines, engine_json(&engine_qemu_ops));
    json_object_set_new(o, "engines", engines);
    char notice[512];
    struct bl_error err = { 0 };
    const struct engine_ops *sel = engine_select("auto", notice, sizeof notice, &err);
    json_object_set_new(o, "selected", sel ? json_string(sel->name) : json_null());
    if (!sel)
        json_object_set_new(o, "error", json_string(err.msg));
    json_object_set_new(o, "notice", json_string(sel ? notice : ""));
    json_object_set_new(o, "kvm", kvm_json());
    char path[4096], why[512];
    json_t *q = json_object();
    if (qemu_find_binary(path, sizeof path, why, sizeof why))
        json_object_set_new(q, "binary", json_string(path));
    else
        json_object_set_new(q, "why", json_string(why));
    json_object_set_new(q, "accel", json_string(qemu_hw_virt_usable() ? "kvm" : "tcg"));
    json_object_set_new(o, "qemu", q);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return 2;
    puts(s);
    free(s);
    return sel ? 0 : 1;
}

int vmm_cpuid_dump(void)
{
    int fd cleanup_close = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "boxlite-vmm: /dev/kvm: %s\n", strerror(errno));
        return 1;
    }
    struct bl_error err = { 0 };
    char *s = arch_cpu_host_dump(fd, &err);
    if (!s) {
        fprintf(stderr, "boxlite-vmm: %s\n", err.msg);
        return 1;
    }
    fputs(s, stdout);
    free(s);
    return 0;
}

int vmm_cpu_templates(const char *name)
{
    int found = 0;
    for (const char *const *t = arch_cpu_templates; *t; t++) {
        if (name && strcmp(name, *t) != 0)
            continue;
        char *d = arch_cpu_describe(*t);
        if (d) {
            fputs(d, stdout);
            free(d);
            found++;
        }
    }
    if (!found)
        fprintf(stderr, "boxlite-vmm: unknown CPU template \"%s\"\n", name);
    return found ? 0 : 1;
}
