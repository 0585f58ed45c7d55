// SPDX-License-Identifier: Apache-2.0
/* Host-side cost of the KVM engine, measured on the real boxlite-vmm binary: the time from
 * the parent's spawn to the first KVM_RUN (passed to the VMM as BOXLITE_SPAWN_NS, so exec
 * and dynamic loading count), and the VMM's resident memory outside guest RAM, after the
 * guest has run for a while. Built and run by bench/vmm.sh.
 *
 *   vmm_start VMM CONFIG RUNS SETTLE_MS [LABEL]
 * LABEL names the start figure instead of "spawn to first KVM_RUN" (the QEMU engine's is
 * spawn to QEMU launched) and leaves out the memory line (the QEMU engine reports QEMU's). */
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static unsigned long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double num(const char *json, const char *key)
{
    const char *p = strstr(json, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: vmm_start VMM CONFIG RUNS SETTLE_MS [LABEL]\n");
        return 2;
    }
    const char *label = argc == 6 ? argv[5] : NULL;
    int runs = atoi(argv[3]), settle = atoi(argv[4]);
    double first[64], rss[64];
    int n = 0;
    for (int i = 0; i < runs && i < 64; i++) {
        int out[2];
        if (pipe(out) < 0)
            return 2;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addclose(&fa, out[0]);
        char *args[] = { argv[1], "--config", argv[2], "--stats", NULL };
        char t0[32];
        unsigned long long now = mono_ns();
        snprintf(t0, sizeof t0, "%llu", now);
        setenv("BOXLITE_SPAWN_NS", t0, 1);
        pid_t pid;
        if (posix_spawn(&pid, argv[1], &fa, NULL, args, environ) != 0) {
            perror("spawn");
            return 2;
        }
        close(out[1]);
        usleep((useconds_t)settle * 1000);
        kill(pid, SIGTERM);
        char buf[4096] = "";
        size_t len = 0;
        ssize_t r;
        while (len + 1 < sizeof buf && (r = read(out[0], buf + len, sizeof buf - 1 - len)) > 0)
            len += (size_t)r;
        buf[len] = '\0';
        close(out[0]);
        int st;
        waitpid(pid, &st, 0);
        double f = num(buf, "\"start_to_first_run_ms\":"), m = num(buf, "\"rss_bytes\":");
        if (f <= 0 || m <= 0) {
            fprintf(stderr, "run %d: no figures from the VMM (output: %s)\n", i, buf);
            return 1;
        }
        first[n] = f;
        rss[n] = m;
        n++;
    }
    qsort(first, (size_t)n, sizeof first[0], cmp);
    qsort(rss, (size_t)n, sizeof rss[0], cmp);
    printf("%s: %.2f ms (median of %d; min %.2f ms, max %.2f ms%s)\n",
           label ? label : "spawn to first KVM_RUN", first[n / 2], n, first[0], first[n - 1],
           label ? "" : "; goal <= 5 ms");
    if (!label)
        printf("VMM resident memory outside guest RAM: %.2f MiB (median of %d; max %.2f MiB; goal "
               "<= 5 MiB)\n", rss[n / 2] / 1048576.0, n, rss[n - 1] / 1048576.0);
    return 0;
}
