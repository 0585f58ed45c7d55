/* The lab half of bench/vmm.sh: a library-style client of a box booted by the KVM engine.
 * Through the box socket (the per-box process's mux, the virtio-console agent port), it
 * waits for the agent, copies a static busybox in, runs a command and checks its output
 * and exit code, times a command round trip, and asks the agent to power the VM off.
 *
 *   vmm_client BOX_SOCKET BUSYBOX */
#include "proto/client.h"
#include "proto/proto.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs argv, collects stdout into out; returns the exit code or -1. */
static int run(struct proto_client *c, char **argv, char *out, size_t cap)
{
    struct bl_error err = { 0 };
    char *env[] = { "PATH=/bin", NULL };
    struct proto_exec_req req = { .argv = argv, .env = env, .cwd = "/" };
    struct proto_exec *e;
    if (proto_exec_start(c, &req, &e, &err) < 0) {
        fprintf(stderr, "exec: %s\n", err.msg);
        return -1;
    }
    size_t len = 0;
    int fd = proto_exec_stdout_fd(e);
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, 60000);
        ssize_t n = read(fd, out + len, cap - 1 - len);
        if (n > 0)
            len += (size_t)n;
        else if (n == 0 || len + 1 >= cap)
            break;
    }
    out[len] = '\0';
    struct proto_result res;
    int r = proto_exec_wait(e, 60000, &res, &err);
    proto_exec_free(e);
    if (r < 0) {
        fprintf(stderr, "exec wait: %s\n", err.msg);
        return -1;
    }
    return res.signo ? -1 : (int)res.exit_code;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vmm_client BOX_SOCKET BUSYBOX\n");
        return 2;
    }
    struct bl_error err = { 0 };
    struct proto_client *c;
    double t0 = now_ms();
    /* The per-box process creates the socket right after it starts. */
    for (int i = 0; i < 3000 && access(argv[1], F_OK) != 0; i++)
        usleep(10000);
    if (proto_client_connect(argv[1], 300000, &c, &err) < 0) {
        fprintf(stderr, "connect: %s\n", err.msg);
        return 1;
    }
    printf("client connected (agent HELLO through the mux) after %.0f ms\n", now_ms() - t0);
    if (proto_copy_in(c, argv[2], "/bb", &err) < 0) {
        fprintf(stderr, "copy in: %s\n", err.msg);
        return 1;
    }
    char out[4096];
    char *cmd[] = { "/bb", "sh", "-c", "echo hello from $(/bb uname -s); exit 7", NULL };
    int code = run(c, cmd, out, sizeof out);
    printf("command output: %s", out);
    printf("command exit code: %d\n", code);
    if (code != 7 || strcmp(out, "hello from Linux\n") != 0) {
        fprintf(stderr, "FAIL: wrong output or exit code\n");
        return 1;
    }
    char *t[] = { "/bb", "true", NULL };
    double best = 1e9;
    for (int i = 0; i < 5; i++) {
        double s = now_ms();
        if (run(c, t, out, sizeof out) != 0) {
            fprintf(stderr, "FAIL: /bb true\n");
            return 1;
        }
        double d = now_ms() - s;
        best = d < best ? d : best;
    }
    printf("command round trip (busybox true): %.1f ms (best of 5)\n", best);
    if (proto_shutdown(c, 60000, &err) < 0) {
        fprintf(stderr, "shutdown: %s\n", err.msg);
        return 1;
    }
    proto_client_close(c);
    return 0;
}
