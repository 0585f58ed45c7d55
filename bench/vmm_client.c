// SPDX-License-Identifier: Apache-2.0
/* The lab half of bench/vmm.sh: a library-style client of a box booted by the KVM engine.
 * Through the box socket (the per-box process's mux, the virtio-console agent port), it
 * waits for the agent's HELLO, times a request's round trip, and asks the agent to power
 * the VM off.
 *
 *   vmm_client BOX_SOCKET */
#include "proto/client.h"
#include "proto/proto.h"

#include <stdio.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One request answered by the agent: exec of a program that does not exist in the
 * initramfs (the agent replies with its error). A command in a container rootfs is
 * tests/lab/lab-check.sh's part. Returns 0 when the agent answered. */
static int round_trip(struct proto_client *c)
{
    struct bl_error err = { 0 };
    char *argv[] = { "/no-such-program", NULL };
    char *env[] = { NULL };
    struct proto_exec_req req = { .argv = argv, .env = env, .cwd = "/" };
    struct proto_exec *e;
    if (proto_exec_start(c, &req, &e, &err) < 0) {
        fprintf(stderr, "exec: %s\n", err.msg);
        return -1;
    }
    struct proto_result res;
    int r = proto_exec_wait(e, 60000, &res, &err);
    proto_exec_free(e);
    if (r == -BOXLITE_ERR_TIMEOUT) {
        fprintf(stderr, "exec: no answer within 60 s\n");
        return -1;
    }
    return 0; /* an error from the agent ("No such file") or an exit code: both answers */
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: vmm_client BOX_SOCKET\n");
        return 2;
    }
    struct bl_error err = { 0 };
    struct proto_client *c;
    double t0 = now_ms();
    /* bench/vmm.sh waited for the box to be ready (boxlite-vmm --status) */
    if (proto_client_connect(argv[1], 300000, &c, &err) < 0) {
        fprintf(stderr, "connect: %s\n", err.msg);
        return 1;
    }
    printf("client connected (agent HELLO through the mux) after %.0f ms\n", now_ms() - t0);
    double best = 1e9;
    for (int i = 0; i < 5; i++) {
        double s = now_ms();
        if (round_trip(c) < 0)
            return 1;
        double d = now_ms() - s;
        best = d < best ? d : best;
    }
    printf("request round trip (exec answered by the agent): %.1f ms (best of 5)\n", best);
    if (proto_shutdown(c, 60000, &err) < 0) {
        fprintf(stderr, "shutdown: %s\n", err.msg);
        return 1;
    }
    proto_client_close(c);
    return 0;
}
