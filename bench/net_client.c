// SPDX-License-Identifier: Apache-2.0
/* The client half of bench/net.sh: through a box's socket (the per-box process's mux), the
 * exec round trip of `true`, the stdout stream throughput, TCP throughput from the box to the
 * host through a port forward, and what a connection to a host loopback port meets (the
 * policy's reset, or, before it, the host's server).
 *
 *   net_client LABEL BOX_SOCKET FORWARD_PORT LOOPBACK_PORT RUNS MIB
 * Prints "LABEL ..." figure lines; asks the agent to power off at the end. */
#include "proto/client.h"
#include "proto/proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs sh -c CMD in the container; keeps up to cap-1 bytes of stdout in out (if out), and
 * returns the number of stdout bytes, or -1. */
static long run(struct proto_client *c, const char *cmd, char *out, size_t cap)
{
    char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
    char *env[] = { "PATH=/bin", NULL };
    struct proto_exec_req req = { .argv = argv, .env = env, .cwd = "/" };
    struct proto_exec *ex;
    struct bl_error e = { 0 };
    if (proto_exec_start(c, &req, &ex, &e) < 0) {
        fprintf(stderr, "exec: %s\n", e.msg);
        return -1;
    }
    int fds[2] = { proto_exec_stdout_fd(ex), proto_exec_stderr_fd(ex) };
    long total = 0;
    size_t kept = 0;
    static char buf[1 << 16];
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd pf[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
        poll(pf, 2, -1);
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !pf[i].revents)
                continue;
            ssize_t n = read(fds[i], buf, sizeof buf);
            if (n > 0 && i == 0) {
                total += n;
                if (out && kept + 1 < cap) {
                    size_t k = (size_t)n < cap - 1 - kept ? (size_t)n : cap - 1 - kept;
                    memcpy(out + kept, buf, k);
                    kept += k;
                }
            } else if (n == 0 || (n < 0 && errno != EAGAIN)) {
                fds[i] = -1;
            }
        }
    }
    if (out)
        out[kept] = 0;
    struct proto_result res;
    int rc = proto_exec_wait(ex, -1, &res, &e);
    proto_exec_free(ex);
    return rc < 0 ? -1 : total;
}

/* Box -> host through the forward: the box sends mib MiB to whoever connects to its port
 * 5000; we connect to the forward and read it all. Returns MiB/s, or -1. */
static double forward_throughput(struct proto_client *c, int port, int mib)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero bs=65536 count=%d 2>/dev/null | nc -l -p 5000",
             mib * 16);
    char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    char *env[] = { "PATH=/bin", NULL };
    struct proto_exec_req req = { .argv = argv, .env = env, .cwd = "/" };
    struct proto_exec *ex;
    struct bl_error e = { 0 };
    if (proto_exec_start(c, &req, &ex, &e) < 0)
        return -1;
    static char buf[1 << 16];
    long want = (long)mib << 20, got = 0;
    double t0 = 0;
    /* nc listens a moment after the exec starts: until then the forward's connection is
     * closed at once, and we try again */
    for (int attempt = 0; attempt < 300 && got < want; attempt++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
            t0 = now_ms();
            ssize_t n;
            while (got < want && (n = read(s, buf, sizeof buf)) > 0)
                got += n;
        }
        close(s);
        if (got < want) {
            got = 0;
            usleep(100000);
        }
    }
    double el = now_ms() - t0;
    struct proto_result res;
    proto_exec_wait(ex, 30000, &res, &e);
    proto_exec_free(ex);
    return got == want && el > 0 ? mib / (el / 1000) : -1;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: net_client LABEL BOX_SOCKET FORWARD_PORT LOOPBACK_PORT RUNS MIB\n");
        return 2;
    }
    const char *label = argv[1];
    int fwd = atoi(argv[3]), lo = atoi(argv[4]), runs = atoi(argv[5]), mib = atoi(argv[6]);
    if (runs < 1 || runs > 1000)
        runs = 20;
    if (mib < 1 || mib > 4096)
        mib = 16;
    struct bl_error err = { 0 };
    struct proto_client *c;
    if (proto_client_connect(argv[2], 300000, &c, &err) < 0) {
        fprintf(stderr, "connect: %s\n", err.msg);
        return 1;
    }
    run(c, "true", NULL, 0); /* warm-up: the first exec pays page-ins */
    double *v = calloc((size_t)runs, sizeof *v);
    int n = 0;
    for (int i = 0; i < runs; i++) {
        double s = now_ms();
        if (run(c, "true", NULL, 0) < 0)
            break;
        v[n++] = now_ms() - s;
    }
    if (n) {
        qsort(v, (size_t)n, sizeof *v, cmp);
        printf("%s exec round trip of `true`: %.1f ms (median of %d; min %.1f, max %.1f)\n", label,
               v[n / 2], n, v[0], v[n - 1]);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero bs=65536 count=%d 2>/dev/null", mib * 16);
    double s = now_ms();
    long got = run(c, cmd, NULL, 0);
    double el = now_ms() - s;
    if (got == (long)mib << 20)
        printf("%s stdout stream throughput (%d MiB): %.1f MiB/s\n", label, mib, mib / (el / 1000));
    else
        printf("%s stdout stream: got %ld of %d MiB\n", label, got, mib);
    double tp = fwd > 0 ? forward_throughput(c, fwd, mib) : -1;
    if (tp > 0)
        printf("%s TCP box->host through a port forward (%d MiB): %.1f MiB/s\n", label, mib, tp);
    else
        printf("%s TCP box->host through a port forward: failed\n", label);
    if (lo > 0) {
        /* a host loopback port with a listener, 100 connects in a row inside the guest */
        char out[256] = "", verb[32] = "?";
        double ms = 0;
        snprintf(cmd, sizeof cmd, "netprobe tcpn 100 10.0.2.2 %d", lo);
        if (run(c, cmd, out, sizeof out) > 0 && sscanf(out, "%31s %*s %lf ms", verb, &ms) == 2)
            printf("%s a connection to a listening host loopback port (10.0.2.2:%d): %s in %.2f ms "
                   "(mean of 100 in a row, the guest's clock)\n", label, lo, verb, ms);
        else
            printf("%s a connection to a host loopback port: %s\n", label, out[0] ? out : "no answer");
    }
    proto_shutdown(c, 30000, &err);
    proto_client_close(c);
    free(v);
    return 0;
}
