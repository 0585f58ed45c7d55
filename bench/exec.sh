#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Execution figures through a running box: the round trip of `true` (host call to result) and
# the throughput of a large stdout stream, through the host client (src/proto/client.c) and
# the engine that runs here (the QEMU engine; TCG on machines without vmx/svm). The box is a
# busybox rootfs on an ext4 disk (mke2fs -d), booted with boxlite.root=/dev/vda.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
runs=${BENCH_RUNS:-20}
mib=${BENCH_STREAM_MIB:-32}
command -v qemu-system-x86_64 >/dev/null || { echo "exec: skipped (qemu-system-x86_64 not installed)"; exit 0; }
vmlinux=$(scripts/build-kernel.sh --cached-only 2>/dev/null) || { echo "exec: skipped (no cached kernel)"; exit 0; }
initrd=$build/guest/initramfs.cpio.gz
[ -f "$initrd" ] || { echo "exec: skipped (no $initrd: run make)"; exit 0; }
[ -x /bin/busybox ] || { echo "exec: skipped (no /bin/busybox)"; exit 0; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true head cat echo dd; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
echo 'root:x:0:' >"$work/rootfs/etc/group"
mke2fs -q -t ext4 -d "$work/rootfs" "$work/root.img" 64M >/dev/null || exit 1

mkdir -p "$build/bench"
cat >"$work/exec_bench.c" <<'EOF'
#include "proto/client.h"
#include "vmm/engine.h"
#include "vmm/qemu/qemu.h"

#include <errno.h>
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

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs argv, discarding output; returns bytes of stdout or -1. */
static long run(struct proto_client *c, char **argv, struct proto_result *res)
{
    struct proto_exec_req req = {.argv = argv};
    struct proto_exec *ex;
    struct bl_error e = {0};
    if (proto_exec_start(c, &req, &ex, &e) < 0) {
        fprintf(stderr, "exec: %s\n", e.msg);
        return -1;
    }
    int fds[2] = {proto_exec_stdout_fd(ex), proto_exec_stderr_fd(ex)};
    long total = 0;
    static char buf[1 << 16];
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd pf[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        poll(pf, 2, -1);
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !pf[i].revents)
                continue;
            ssize_t n = read(fds[i], buf, sizeof buf);
            if (n > 0 && i == 0)
                total += n;
            else if (n == 0 || (n < 0 && errno != EAGAIN))
                fds[i] = -1;
        }
    }
    int rc = proto_exec_wait(ex, -1, res, &e);
    proto_exec_free(ex);
    if (rc < 0) {
        fprintf(stderr, "exec: %s\n", e.msg);
        return -1;
    }
    return total;
}

int main(int argc, char **argv)
{
    const char *kernel = argv[1], *initrd = argv[2], *disk = argv[3];
    int runs = atoi(argv[4]), mib = atoi(argv[5]);
    if (runs < 1 || runs > 1000)
        runs = 20;
    struct vmm_disk_cfg d = {.path = (char *)disk};
    char log[] = "/tmp/boxlite-exec-bench-console.XXXXXX";
    int lfd = mkstemp(log);
    if (lfd >= 0)
        close(lfd);
    struct vmm_config cfg = {.engine = "qemu", .kernel = (char *)kernel, .initrd = (char *)initrd,
                             .cmdline = "boxlite.root=/dev/vda", .cpus = 1, .memory_mib = 512,
                             .disks = &d, .ndisks = 1, .console_log = log};
    struct engine *eng = NULL;
    struct bl_error err = {0};
    double t0 = now_ms();
    if (engine_qemu_ops.start(&eng, &cfg, &err) < 0) {
        fprintf(stderr, "start: %s\n", err.msg);
        return 1;
    }
    int fd = -1;
    while ((fd = engine_qemu_ops.agent_fd(eng)) < 0 && now_ms() - t0 < 60000)
        usleep(10000);
    struct proto_client *c = NULL;
    if (fd < 0 || proto_client_open_fd(dup(fd), 120000, &c, &err) < 0) {
        fprintf(stderr, "agent: %s\n", fd < 0 ? "no channel" : err.msg);
        engine_qemu_ops.stop(eng, true, NULL);
        engine_qemu_ops.destroy(eng);
        return 1;
    }
    double ready = now_ms() - t0;
    const char *accel = qemu_hw_virt_usable() ? "KVM" : "TCG";
    printf("engine: qemu (%s acceleration), 1 vCPU, 512 MiB; box ready after %.0f ms (container %s)\n",
           accel, ready, proto_client_container_ready(c) ? "up" : "NOT up");
    char *t[] = {"true", NULL};
    struct proto_result r;
    run(c, t, &r); /* warm-up: first exec pays page-ins */
    double *v = calloc((size_t)runs, sizeof *v);
    int n = 0;
    for (int i = 0; i < runs; i++) {
        double s = now_ms();
        if (run(c, t, &r) < 0)
            break;
        v[n++] = now_ms() - s;
    }
    if (n) {
        qsort(v, (size_t)n, sizeof *v, cmp);
        printf("qemu/%s exec round trip of `true` (start to result): %.1f ms (median of %d; min %.1f, max %.1f)\n",
               accel, v[n / 2], n, v[0], v[n - 1]);
    }
    /* dd with 64 KiB blocks: busybox head's small buffer costs more CPU under TCG than the
     * channel itself (7 s of guest CPU for 32 MiB to /dev/null) */
    char count[32];
    snprintf(count, sizeof count, "count=%d", mib * 16);
    char *h[] = {"dd", "if=/dev/zero", "bs=65536", count, NULL};
    double s = now_ms();
    long got = run(c, h, &r);
    double el = now_ms() - s;
    if (got == (long)mib * 1048576)
        printf("qemu/%s stdout stream throughput (dd %d MiB of 64 KiB blocks): %.1f MiB/s (%.0f ms)\n",
               accel, mib, mib / (el / 1000), el);
    else
        printf("qemu/%s stdout stream: got %ld of %d MiB\n", accel, got, mib);
    struct bl_error e2 = {0};
    proto_shutdown(c, 10000, &e2);
    proto_client_close(c);
    struct engine_exit ex;
    engine_qemu_ops.wait(eng, &ex);
    engine_qemu_ops.destroy(eng);
    unlink(log);
    free(v);
    return n == runs ? 0 : 1;
}
EOF
bin=$build/bench/exec_bench
gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation \
  -Iinclude -Isrc -o "$bin" "$work/exec_bench.c" \
  -Wl,--start-group "$build"/lib/lib{vmm,netrule,disk,proto,common}.a -Wl,--end-group \
  $(pkg-config --cflags glib-2.0) $(make -s --no-print-directory print-libs) || exit 1
"$bin" "$vmlinux" "$initrd" "$work/root.img" "$runs" "$mib"
