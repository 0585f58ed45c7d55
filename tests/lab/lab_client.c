// SPDX-License-Identifier: Apache-2.0
/* lab_client: the library's side of a box, for make lab-check. Connects to the per-box
 * process's box socket (retrying until the process has created it), waits for the agent's
 * HELLO, checks that the container rootfs is set up, runs a command in it and checks its
 * output and exit code, times command round trips, then asks the agent to power off.
 * Prints "client: ..." lines, and "client: ok" last on success (exit 0); exit 1 on failure.
 *
 * usage: lab_client BOX_SOCKET [TIMEOUT_SEC] [STEP...] [--no-shutdown]
 * With no STEP, the lab-check sequence above. Steps, run in order, each in the container
 * with /bin/busybox sh -c:
 *   -c CMD        run CMD; then optionally
 *   -x CODE       its exit code must be CODE (default 0)
 *   -o TEXT       its output must contain TEXT
 * --no-shutdown: leave the guest running at the end (a test that kills the VMM).
 * --rtt: after the steps, time a command round trip (best of 5), as the default sequence does.
 * Built by lab-check.sh against build/lib/libproto.a and libcommon.a (a lab tool, not part
 * of any component). */
#include "proto/client.h"
#include "proto/proto.h"

#include <errno.h>
#include <stdbool.h>
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
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs argv in the container; stdout into out. Returns 0 and fills res, or -1. */
static int run(struct proto_client *c, char **argv, char *out, size_t cap, struct proto_result *res)
{
    struct bl_error err = { 0 };
    char *env[] = { "PATH=/bin:/usr/bin", NULL };
    struct proto_exec_req req = { .argv = argv, .env = env, .cwd = "/", .timeout_ms = 120000 };
    struct proto_exec *e;
    if (proto_exec_start(c, &req, &e, &err) < 0) {
        printf("client: FAIL: exec %s: %s\n", argv[0], err.msg);
        return -1;
    }
    size_t len = 0;
    int fd = proto_exec_stdout_fd(e);
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 120000) == 0) {
            printf("client: FAIL: no output or end from %s within 120 s\n", argv[0]);
            proto_exec_free(e);
            return -1;
        }
        ssize_t n = read(fd, out + len, cap - 1 - len);
        if (n > 0 && len + (size_t)n < cap - 1) {
            len += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        break; /* end of file (or the buffer is full: the rest does not matter) */
    }
    out[len] = 0;
    int r = proto_exec_wait(e, 120000, res, &err);
    proto_exec_free(e);
    if (r < 0) {
        printf("client: FAIL: %s: %s\n", argv[0], err.msg);
        return -1;
    }
    return 0;
}

/* The steps given on the command line; returns 0 when all passed. */
static int steps(struct proto_client *c, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-c") != 0 || i + 1 >= argc)
            continue;
        char *cmd = argv[++i];
        long want = 0;
        const char *text = NULL;
        while (i + 2 < argc && (!strcmp(argv[i + 1], "-x") || !strcmp(argv[i + 1], "-o"))) {
            if (!strcmp(argv[i + 1], "-x"))
                want = atol(argv[i + 2]);
            else
                text = argv[i + 2];
            i += 2;
        }
        static char out[16384], copy[16384];
        struct proto_result res;
        char *av[] = { "/bin/busybox", "sh", "-c", cmd, NULL };
        printf("client: $ %s\n", cmd);
        if (run(c, av, out, sizeof out, &res) < 0)
            return 1;
        memcpy(copy, out, sizeof copy);
        for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            printf("client: | %s\n", l);
        printf("client: exit %lld%s\n", (long long)res.exit_code, res.signo ? " (signal)" : "");
        if (res.signo || res.exit_code != want) {
            printf("client: FAIL: exit code %lld, expected %ld\n", (long long)res.exit_code, want);
            return 1;
        }
        if (text && !strstr(out, text)) {
            printf("client: FAIL: output lacks \"%s\"\n", text);
            return 1;
        }
    }
    return 0;
}

/* Round trip: start a process that does nothing and get its result; best of 5. */
static int round_trip(struct proto_client *c)
{
    char out[256];
    struct proto_result res;
    double best = -1;
    char *nop[] = { "/bin/busybox", "true", NULL };
    for (int i = 0; i < 5; i++) {
        double s = now_ms();
        if (run(c, nop, out, sizeof out, &res) < 0 || res.exit_code != 0)
            return 1;
        double d = now_ms() - s;
        if (best < 0 || d < best)
            best = d;
    }
    printf("client: command round trip (best of 5): %.1f ms\n", best);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: lab_client BOX_SOCKET [TIMEOUT_SEC] [-c CMD [-x CODE] [-o TEXT]]... [--no-shutdown]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    int timeout_s = argc > 2 && argv[2][0] != '-' ? atoi(argv[2]) : 600;
    double t0 = now_ms();
    struct proto_client *c = NULL;
    struct bl_error err = { 0 };
    /* The socket appears once the per-box process has set up; then connect waits for HELLO. */
    while (proto_client_connect(argv[1], (int)(timeout_s * 1000 - (now_ms() - t0)), &c, &err) < 0) {
        if (now_ms() - t0 > timeout_s * 1000.0) {
            printf("client: FAIL: no agent on %s within %d s: %s\n", argv[1], timeout_s, err.msg);
            return 1;
        }
        usleep(50000);
    }
    printf("client: connected, agent HELLO after %.0f ms\n", now_ms() - t0);
    if (!proto_client_container_ready(c)) {
        printf("client: FAIL: the agent reports no container rootfs set up\n");
        proto_client_close(c);
        return 1;
    }

    bool custom = false, shutdown = true, rtt = false;
    for (int i = 2; i < argc; i++) {
        custom |= !strcmp(argv[i], "-c");
        shutdown &= strcmp(argv[i], "--no-shutdown") != 0;
        rtt |= !strcmp(argv[i], "--rtt");
    }
    if (custom) {
        int bad = steps(c, argc - 2, argv + 2);
        if (!bad && rtt)
            bad = round_trip(c);
        if (!bad && shutdown) {
            if (proto_shutdown(c, 60000, &err) < 0) {
                printf("client: FAIL: shutdown: %s\n", err.msg);
                bad = 1;
            } else {
                printf("client: shutdown acknowledged\n");
            }
        }
        if (!bad)
            printf("client: ok\n");
        if (!shutdown) {
            printf("client: leaving the guest running\n");
            _exit(bad); /* no goodbye to the agent: the caller kills the VMM */
        }
        proto_client_close(c);
        return bad;
    }

    char out[4096];
    struct proto_result res;
    char *cmd[] = { "/bin/busybox", "sh", "-c",
                    "echo \"hello from $(cat /etc/lab-rootfs) as $(id -u)\"; exit 7", NULL };
    if (run(c, cmd, out, sizeof out, &res) < 0) {
        proto_client_close(c);
        return 1;
    }
    printf("client: command output: %s", out);
    printf("client: command exit code: %lld\n", (long long)res.exit_code);
    int bad = 0;
    if (!strstr(out, "hello from the lab rootfs as 0")) {
        printf("client: FAIL: unexpected output (the command did not run in the container rootfs)\n");
        bad = 1;
    }
    if (res.signo != 0 || res.exit_code != 7) {
        printf("client: FAIL: exit code %lld signal %lld, expected 7\n", (long long)res.exit_code,
               (long long)res.signo);
        bad = 1;
    }

    if (!bad)
        bad = round_trip(c);

    double s = now_ms();
    if (proto_shutdown(c, 60000, &err) < 0) {
        printf("client: FAIL: shutdown: %s\n", err.msg);
        bad = 1;
    } else {
        printf("client: shutdown acknowledged after %.0f ms\n", now_ms() - s);
    }
    proto_client_close(c);
    if (!bad)
        printf("client: ok\n");
    return bad;
}
