// SPDX-License-Identifier: Apache-2.0
/* The KVM engine end to end with the project's kernel and agent, where KVM can run Linux:
 * a host with hardware virtualization, or the lab's L1 (tests/lab/run.sh runs this binary
 * there). Boots to the agent's ready mark (control page), talks to the agent over the
 * engine's agent stream (virtio-console), asks it to power off and checks the exit the
 * engine reports. Skipped where the engine is unavailable (this project's build machines)
 * or the kernel/initramfs are not built.
 * Paths: BOXLITE_KERNEL (else scripts/build-kernel.sh --cached-only), BOXLITE_INITRD (else
 * build/guest/initramfs.cpio.gz). LAB_L2_CMDLINE, set only inside the lab, adds the timer
 * options a nested guest needs under TCG. */
#include "harness/harness.h"
#include "proto/client.h"
#include "vmm/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *kernel_path(void)
{
    const char *k = getenv("BOXLITE_KERNEL");
    if (k)
        return strdup(k);
    FILE *p = popen("scripts/build-kernel.sh --cached-only 2>/dev/null", "r");
    char line[1024] = "";
    if (!p)
        return NULL;
    char *r = fgets(line, sizeof line, p);
    pclose(p);
    if (!r)
        return NULL;
    line[strcspn(line, "\n")] = '\0';
    return access(line, R_OK) == 0 ? strdup(line) : NULL;
}

TEST_TIMEOUT(kvm_engine_boots_agent_and_powers_off, 600)
{
    char why[256];
    if (!engine_kvm_ops.available(why, sizeof why))
        harness_skip("KVM engine unavailable: %s; proven by tests/e2e/lab_smoke.sh (runs this test in the lab)", why);
    char *kernel = kernel_path();
    const char *initrd = getenv("BOXLITE_INITRD");
    if (!initrd)
        initrd = "build/guest/initramfs.cpio.gz";
    if (!kernel || access(initrd, R_OK) != 0) {
        free(kernel);
        harness_need("no kernel or initramfs built");
    }
    char log[600], cmdline[1024];
    snprintf(log, sizeof log, "%s/console.log", harness_tmpdir());
    snprintf(cmdline, sizeof cmdline, "quiet %s", getenv("LAB_L2_CMDLINE") ? getenv("LAB_L2_CMDLINE") : "");
    struct vmm_config cfg = {
        .engine = "kvm", .kernel = kernel, .initrd = (char *)initrd, .cmdline = cmdline,
        .cpus = 2, .memory_mib = 512, .console_log = log,
    };
    struct engine *e;
    struct bl_error err = { 0 };
    if (engine_kvm_ops.start(&e, &cfg, &err) < 0) {
        harness_fail(__FILE__, __LINE__, "start: %s", err.msg);
        free(kernel);
        return;
    }
    /* the agent's ready mark on the control page */
    struct engine_stats st = { 0 };
    for (int i = 0; i < 3000 && st.start_to_ready_ms == 0; i++) {
        usleep(100000);
        engine_kvm_ops.stats(e, &st);
    }
    if (st.start_to_ready_ms == 0) {
        harness_fail(__FILE__, __LINE__, "no ready mark within 300 s");
        engine_kvm_ops.stop(e, true, &err);
    } else {
        printf("# ready after %.0f ms, %llu VM exits\n", st.start_to_ready_ms,
               (unsigned long long)st.vm_exits);
        CHECK(st.vm_exits > 0);
        CHECK(st.start_to_first_run_ms > 0 && st.start_to_first_run_ms < st.start_to_ready_ms);
        /* the agent's stream: HELLO, then a shutdown request it acknowledges */
        int fd = dup(engine_kvm_ops.agent_fd(e));
        struct proto_client *c = NULL;
        if (fd < 0 || proto_client_open_fd(fd, 60000, &c, &err) < 0) {
            harness_fail(__FILE__, __LINE__, "agent stream: %s", err.msg);
            engine_kvm_ops.stop(e, true, &err);
        } else if (proto_shutdown(c, 60000, &err) < 0) {
            harness_fail(__FILE__, __LINE__, "shutdown: %s", err.msg);
            engine_kvm_ops.stop(e, true, &err);
        }
        proto_client_close(c);
    }
    struct engine_exit ex;
    CHECK(engine_kvm_ops.wait(e, &ex) == 0);
    CHECK(ex.powered_off);
    CHECK(!ex.killed);
    CHECK_EQ(ex.guest_status, 0); /* reported on the control page before power-off */
    CHECK_STR(ex.reason, "guest powered off");
    engine_kvm_ops.destroy(e);

    FILE *f = fopen(log, "r");
    char buf[8192] = "";
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    CHECK(strstr(buf, "boxlite-agent") != NULL);
    free(kernel);
}
