// SPDX-License-Identifier: Apache-2.0
/* Choosing the engine that runs a box (engine.h): ours on KVM where the CPU virtualizes,
 * QEMU with TCG everywhere else, an explicit request taken as given. */
#include "vmm/engine.h"

#include "common/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t start_ns;
__attribute__((constructor)) static void note_process_start(void)
{
    start_ns = mono_ns();
    const char *s = getenv("BOXLITE_SPAWN_NS");
    char *end;
    if (s && *s) {
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == '\0' && v > 0 && v <= start_ns)
            start_ns = v;
    }
}

uint64_t engine_start_ns(void) { return start_ns; }
double engine_ms_since_start(void) { return (double)(mono_ns() - start_ns) / 1e6; }

const struct engine_ops *engine_select(const char *requested, char *notice, size_t notice_len,
                                       struct bl_error *err)
{
    char why[256] = "";
    if (notice && notice_len)
        notice[0] = '\0';
    if (requested && strcmp(requested, "auto") != 0) {
        const struct engine_ops *ops = strcmp(requested, "kvm") == 0    ? &engine_kvm_ops
                                       : strcmp(requested, "qemu") == 0 ? &engine_qemu_ops
                                                                        : NULL;
        if (!ops)
            return bl_err(err, BOXLITE_ERR_INVALID, "unknown engine \"%s\" (kvm, qemu, auto)",
                          requested),
                   NULL;
        if (!ops->available(why, sizeof why))
            return bl_err(err, BOXLITE_ERR_ENGINE, "engine %s is not available here: %s",
                          ops->name, why),
                   NULL;
        return ops;
    }
    if (engine_kvm_ops.available(why, sizeof why))
        return &engine_kvm_ops;
    char qwhy[256] = "";
    if (engine_qemu_ops.available(qwhy, sizeof qwhy)) {
        if (notice && notice_len)
            snprintf(notice, notice_len, "KVM is not usable (%s): running the box under QEMU "
                     "with TCG, which is much slower", why);
        return &engine_qemu_ops;
    }
    bl_err(err, BOXLITE_ERR_ENGINE, "no engine can run here: kvm: %s; qemu: %s", why, qwhy);
    return NULL;
}
