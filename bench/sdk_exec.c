// SPDX-License-Identifier: Apache-2.0
/* The C API side of bench/sdk.sh: sets up a detached box, measures the exec round trip of
 * `true` and stdout throughput through include/boxlite.h alone, removes the box.
 *   sdk_exec setup NAME ROOTFS | bench NAME RUNS MIB STREAMS | teardown NAME
 * bench prints "rtt MS" per run, "cpu MS" (this process's CPU time per run) and "tput
 * MIB_PER_S" per stream; the SDKs' programs print the same. */
#include "boxlite.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of this process (every thread: the library's I/O thread too), in ms. */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, boxlite_errmsg());
    return 1;
}

/* Runs argv to completion reading both streams; returns stdout's bytes or -1. */
static long long run(boxlite_box *b, const char *const *argv)
{
    boxlite_exec_spec spec = {.size = sizeof spec, .argv = argv};
    boxlite_exec *ex;
    if (boxlite_exec_start(b, &spec, &ex))
        return -1;
    int fds[2] = {boxlite_exec_stdout_fd(ex), boxlite_exec_stderr_fd(ex)};
    long long total = 0;
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
            else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                fds[i] = -1;
        }
    }
    boxlite_exec_result res;
    int rc = boxlite_exec_wait(ex, -1, &res);
    boxlite_exec_free(ex);
    return rc ? -1 : total;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return fprintf(stderr, "usage: sdk_exec setup|bench|teardown NAME ...\n"), 2;
    boxlite_runtime *rt;
    if (boxlite_runtime_open(NULL, &rt))
        return die("runtime");
    const char *mode = argv[1], *name = argv[2];
    if (!strcmp(mode, "setup") && argc == 4) {
        char json[8192];
        snprintf(json, sizeof json,
                 "{\"name\": \"%s\", \"rootfs_path\": \"%s\", \"memory_mib\": 256, "
                 "\"detach\": true, \"auto_remove\": false}", name, argv[3]);
        boxlite_options *o;
        boxlite_box *b;
        if (boxlite_options_from_json(json, &o) || boxlite_box_create(rt, o, &b))
            return die("create");
        boxlite_options_free(o);
        if (boxlite_box_start(b))
            return die("start");
        boxlite_box_free(b);
    } else if (!strcmp(mode, "bench") && argc == 6) {
        int runs = atoi(argv[3]), mib = atoi(argv[4]), streams = atoi(argv[5]);
        boxlite_box *b;
        if (boxlite_box_get(rt, name, &b))
            return die("get");
        const char *t[] = {"true", NULL};
        if (run(b, t) < 0) /* warm-up */
            return die("exec");
        double c0 = cpu_ms();
        for (int i = 0; i < runs; i++) {
            double s = now_ms();
            if (run(b, t) < 0)
                return die("exec");
            printf("rtt %.3f\n", now_ms() - s);
        }
        printf("cpu %.4f\n", (cpu_ms() - c0) / runs);
        char count[32];
        snprintf(count, sizeof count, "count=%d", mib * 16);
        const char *dd[] = {"dd", "if=/dev/zero", "bs=65536", count, NULL};
        for (int i = 0; i < streams; i++) {
            double s = now_ms();
            long long got = run(b, dd);
            double el = now_ms() - s;
            if (got != (long long)mib << 20)
                return fprintf(stderr, "stream: got %lld bytes\n", got), 1;
            printf("tput %.2f\n", mib / (el / 1000));
        }
        boxlite_box_free(b);
    } else if (!strcmp(mode, "teardown")) {
        if (boxlite_box_remove(rt, name, 1))
            return die("remove");
    } else
        return fprintf(stderr, "bad arguments\n"), 2;
    boxlite_runtime_close(rt);
    return 0;
}
