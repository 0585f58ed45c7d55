// SPDX-License-Identifier: Apache-2.0
/* Boot figures of the QEMU engine: start() to QEMU running (QMP answered), to the agent's
 * first console line, and to the agent's first bytes on its channel (its HELLO = ready).
 * With a rootfs disk: create to first output = start(), HELLO, SETUP of the rootfs, exec
 * `echo`, its first stdout byte (the host client of src/proto; no image pull, the disk
 * exists). Built and run by bench/qemu.sh.
 *   qemu_boot KERNEL INITRD RUNS [ROOTFS] */
#include "proto/client.h"
#include "vmm/engine.h"
#include "vmm/qemu/qemu.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static bool log_has(const char *path, const char *text)
{
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return strstr(buf, text) != NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
    if (n == 0) {
        printf("%s: n/a\n", what);
        return;
    }
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%s: %.1f ms (median of %d; min %.1f ms, max %.1f ms)\n", what, v[n / 2], n, v[0],
           v[n - 1]);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s KERNEL INITRD [RUNS]\n", argv[0]);
        return 2;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (runs < 1 || runs > 100)
        runs = 5;
    char dir[] = "/tmp/boxlite-bench-qemu-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char log[256];
    snprintf(log, sizeof log, "%s/console.log", dir);
    double launch[100], line[100], hello[100], cpu[100];
    int nl = 0, nh = 0;
    for (int i = 0; i < runs; i++) {
        unlink(log);
        struct vmm_config cfg = {.engine = "qemu", .kernel = argv[1], .initrd = argv[2],
                                 .cpus = 1, .memory_mib = 512, .console_log = log};
        struct engine *e = NULL;
        struct bl_error err = {0};
        double t0 = now_ms();
        if (engine_qemu_ops.start(&e, &cfg, &err) < 0) {
            fprintf(stderr, "start: %s\n", err.msg);
            return 1;
        }
        launch[i] = now_ms() - t0;
        int fd = engine_qemu_ops.agent_fd(e);
        bool got_line = false, got_hello = false;
        /* Until the agent speaks or the VM ends (the placeholder agent reboots), 60 s. */
        while (now_ms() - t0 < 60000 && !(got_line && got_hello)) {
            struct pollfd p = {.fd = fd, .events = got_hello ? 0 : POLLIN};
            int r = poll(&p, 1, 2);
            if (r > 0 && (p.revents & POLLIN)) {
                char b[4096];
                ssize_t n = read(fd, b, sizeof b);
                if (n > 0 && !got_hello) {
                    hello[nh++] = now_ms() - t0;
                    got_hello = true;
                }
            }
            if (r > 0 && (p.revents & (POLLHUP | POLLERR)) && !(p.revents & POLLIN))
                break; /* QEMU is gone */
            if (!got_line && log_has(log, "boxlite-agent")) {
                line[nl++] = now_ms() - t0;
                got_line = true;
            }
            if (got_line && !got_hello && now_ms() - t0 - line[nl - 1] > 3000)
                break; /* an agent that does not speak on its channel */
        }
        struct engine_stats s;
        engine_qemu_ops.stats(e, &s);
        cpu[i] = (double)(s.cpu_user_us + s.cpu_sys_us) / 1000;
        engine_qemu_ops.stop(e, true, NULL);
        engine_qemu_ops.destroy(e);
    }
    const char *accel = qemu_hw_virt_usable() ? "KVM" : "TCG";
    printf("engine: qemu (%s acceleration), 1 vCPU, 512 MiB, %d boots\n", accel, runs);
    char what[160];
    snprintf(what, sizeof what, "qemu/%s start to QEMU running (QMP answered)", accel);
    report(what, launch, runs);
    snprintf(what, sizeof what, "qemu/%s boot to the agent's first console line", accel);
    report(what, line, nl);
    snprintf(what, sizeof what, "qemu/%s boot to agent-ready (its HELLO on the channel)", accel);
    report(what, hello, nh);
    if (nh == 0)
        printf("  (no HELLO: this initramfs's agent does not speak on its channel yet)\n");
    snprintf(what, sizeof what, "qemu/%s QEMU CPU time per boot, until stopped", accel);
    report(what, cpu, runs);
    int rc = nl == runs ? 0 : 1;
    if (argc > 4) {
        double first[100];
        int nf = 0;
        for (int i = 0; i < runs; i++) {
            struct vmm_disk_cfg disk = {.path = argv[4]};
            struct vmm_config cfg = {.engine = "qemu", .kernel = argv[1], .initrd = argv[2],
                                     .cpus = 1, .memory_mib = 512, .console_log = log,
                                     .disks = &disk, .ndisks = 1};
            struct engine *e = NULL;
            struct proto_client *c = NULL;
            struct proto_exec *x = NULL;
            struct bl_error err = {0};
            double t0 = now_ms();
            struct proto_setup setup = {.root_dev = "/dev/vda", .root_fstype = "ext4"};
            struct proto_exec_req req = {.argv = (char *[]){"echo", "first-output", NULL}};
            if (engine_qemu_ops.start(&e, &cfg, &err) < 0 ||
                proto_client_open_fd(dup(engine_qemu_ops.agent_fd(e)), 60000, &c, &err) < 0 ||
                proto_setup(c, &setup, 60000, &err) < 0 ||
                proto_exec_start(c, &req, &x, &err) < 0) {
                fprintf(stderr, "create to first output: %s\n", err.msg);
                rc = 1;
            } else {
                struct pollfd p = {.fd = proto_exec_stdout_fd(x), .events = POLLIN};
                char b;
                if (poll(&p, 1, 60000) == 1 && read(p.fd, &b, 1) == 1)
                    first[nf++] = now_ms() - t0;
            }
            proto_exec_free(x);
            if (c)
                proto_shutdown(c, 10000, NULL);
            proto_client_close(c);
            engine_qemu_ops.destroy(e);
        }
        snprintf(what, sizeof what,
                 "qemu/%s create to first output (start, HELLO, SETUP rootfs, exec echo)", accel);
        report(what, first, nf);
    }
    unlink(log);
    rmdir(dir);
    return rc;
}
