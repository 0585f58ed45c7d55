// SPDX-License-Identifier: Apache-2.0
/* `boxlite-vmm --status`: waits, on events only, for the box socket to exist (the per-box
 * process renames it into place once it listens: inotify on its folder), then for the box
 * to be ready (the agent's HELLO, through the mux), and prints STATUS as one JSON line
 * (src/proto/control_json.h). --pid PID: give up as soon as that process (the per-box
 * process, or the jail's supervisor) has exited. --until-exit: then stay connected until
 * the box ends and print EXIT as a second line. --now: ask at once, without waiting for
 * the box to be ready (no HELLO: the state may be "starting"). --pause: once ready, ask
 * PAUSE (save the memory, end the VM) and print "paused", or the refusal on stderr (the lab
 * proves with it that the KVM engine refuses). --balloon MIB: once ready, send BALLOON with
 * that target (0: none) and print "balloon: target T MiB, actual A MiB" (the lab drives the
 * KVM engine's balloon with it). Exit status 0 when it printed what it was asked for, 1
 * otherwise (the reason on stderr). */
#include "vmm/status_tool.h"

#include "common/cleanup.h"
#include "common/clock.h"
#include "proto/client.h"
#include "proto/control_json.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void print_json(json_t *j)
{
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    printf("%s\n", t ? t : "{}");
    fflush(stdout);
    free(t);
    json_decref(j);
}

/* A connected socket to path, waiting up to deadline for it to be there and listening. */
static int connect_when_there(const char *path, int pidfd, int64_t deadline)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "boxlite-vmm --status: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    char dir[sizeof sa.sun_path];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash == path)
        snprintf(dir, sizeof dir, "/");
    int in cleanup_close = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    /* watched before the first try: a socket renamed in between is not missed */
    if (in < 0 || inotify_add_watch(in, dir, IN_CREATE | IN_MOVED_TO) < 0) {
        fprintf(stderr, "boxlite-vmm --status: watch %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return fd;
        int e = errno;
        close(fd);
        if (e != ENOENT && e != ECONNREFUSED) { /* refused: a previous run's socket file */
            fprintf(stderr, "boxlite-vmm --status: connect %s: %s\n", path, strerror(e));
            return -1;
        }
        int64_t left = deadline - (int64_t)mono_ms();
        struct pollfd p[2] = { { .fd = in, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
        int n = left > 0 ? poll(p, 2, (int)left) : 0;
        if (n <= 0 && !(n < 0 && errno == EINTR)) {
            fprintf(stderr, "boxlite-vmm --status: %s: no box socket (%s)\n", path,
                    e == ENOENT ? "not there" : "nobody listening");
            return -1;
        }
        if (p[1].revents) {
            fprintf(stderr, "boxlite-vmm --status: the box's process exited before it listened\n");
            return -1;
        }
        char buf[4096];
        while (read(in, buf, sizeof buf) > 0) {
        }
    }
}

/* STATUS without a HELLO: one frame out, one back. */
static int status_now(int fd, int pidfd, int64_t deadline)
{
    uint8_t hdr[PROTO_HDR_SIZE];
    proto_hdr_encode(hdr, &(struct proto_hdr){ .type = PROTO_STATUS });
    if (write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr) {
        fprintf(stderr, "boxlite-vmm --status: send: %s\n", strerror(errno));
        return 1;
    }
    struct proto_reader *rd cleanup_free = calloc(1, sizeof *rd);
    uint8_t buf[4096];
    while (rd) {
        int64_t left = deadline - (int64_t)mono_ms();
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
        if (left <= 0 || poll(p, 2, (int)left) <= 0 || !(p[0].revents & (POLLIN | POLLHUP))) {
            fprintf(stderr, "boxlite-vmm --status: no answer\n");
            return 1;
        }
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            fprintf(stderr, "boxlite-vmm --status: the connection ended\n");
            return 1;
        }
        for (size_t off = 0; off < (size_t)n;) {
            struct proto_hdr h;
            const uint8_t *pl;
            size_t used;
            struct bl_error e = { 0 };
            int rc = proto_reader_feed(rd, buf + off, (size_t)n - off, &used, &h, &pl, &e);
            off += used;
            if (rc < 0) {
                fprintf(stderr, "boxlite-vmm --status: %s\n", e.msg);
                return 1;
            }
            if (rc == 0 || h.channel != 0)
                continue;
            if (h.type == PROTO_ERROR) {
                int code;
                char msg[256];
                proto_error_decode(pl, h.len, &code, msg, sizeof msg);
                fprintf(stderr, "boxlite-vmm --status: %s\n", msg);
                return 1;
            }
            struct proto_status st;
            if (h.type != PROTO_STATUS)
                continue;
            if (proto_status_decode(&st, pl, h.len, &e) < 0) {
                fprintf(stderr, "boxlite-vmm --status: %s\n", e.msg);
                return 1;
            }
            print_json(proto_status_json(&st));
            proto_status_free(&st);
            return 0;
        }
    }
    return 1;
}

int vmm_status_tool(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : NULL;
    int wait_ms = 10000, pidfd = -1;
    bool until_exit = false, now = false, pause = false;
    long long balloon = -1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--wait") && i + 1 < argc)
            wait_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pid") && i + 1 < argc) {
            pidfd = (int)syscall(SYS_pidfd_open, atoi(argv[++i]), 0);
            if (pidfd < 0) {
                fprintf(stderr, "boxlite-vmm --status: pid %s: %s\n", argv[i], strerror(errno));
                return 1;
            }
        } else if (!strcmp(argv[i], "--until-exit"))
            until_exit = true;
        else if (!strcmp(argv[i], "--now"))
            now = true;
        else if (!strcmp(argv[i], "--pause"))
            pause = true;
        else if (!strcmp(argv[i], "--balloon") && i + 1 < argc) {
            char *end;
            balloon = strtoll(argv[++i], &end, 10);
            if (*end || end == argv[i] || balloon < 0 || balloon > UINT32_MAX)
                path = NULL;
        } else
            path = NULL;
    }
    if (!path) {
        fprintf(stderr, "usage: boxlite-vmm --status SOCKET [--wait MS] [--pid PID] [--until-exit | --now | --pause | --balloon MIB]\n");
        return 2;
    }
    int64_t deadline = (int64_t)mono_ms() + wait_ms;
    int fd = connect_when_there(path, pidfd, deadline);
    if (fd < 0)
        return 1;
    if (now) {
        int rc = status_now(fd, pidfd, deadline);
        close(fd);
        return rc;
    }
    struct bl_error err = { 0 };
    struct proto_client *c = NULL;
    int64_t left = deadline - (int64_t)mono_ms();
    if (proto_client_open_watch(fd, pidfd, left > 0 ? (int)left : 0, &c, NULL, &err) < 0) {
        fprintf(stderr, "boxlite-vmm --status: %s: %s\n", path, err.msg);
        return 1;
    }
    if (pause) {
        /* PAUSE (docs/protocol.md): "paused" once saved, else the refusal; exit 0 or 1 */
        int rc = proto_client_pause(c, 120000, &err);
        if (rc < 0)
            fprintf(stderr, "boxlite-vmm --status --pause: %s\n", err.msg);
        else
            printf("paused\n");
        proto_client_close(c);
        return rc < 0 ? 1 : 0;
    }
    if (balloon >= 0) {
        uint64_t actual = 0;
        int rc = proto_client_balloon(c, (uint64_t)balloon, 10000, &actual, &err);
        if (rc < 0)
            fprintf(stderr, "boxlite-vmm --status --balloon: %s\n", err.msg);
        else
            printf("balloon: target %lld MiB, actual %llu MiB\n", balloon,
                   (unsigned long long)actual);
        proto_client_close(c);
        return rc < 0 ? 1 : 0;
    }
    struct proto_status st;
    if (proto_client_status(c, 10000, &st, &err) < 0) {
        fprintf(stderr, "boxlite-vmm --status: %s\n", err.msg);
        proto_client_close(c);
        return 1;
    }
    print_json(proto_status_json(&st));
    proto_status_free(&st);
    int rc = 0;
    if (until_exit) {
        struct proto_exit x;
        proto_client_wait_end(c, -1);
        if (proto_client_exit(c, &x))
            print_json(proto_exit_json(&x));
        else {
            fprintf(stderr, "boxlite-vmm --status: the connection ended without EXIT\n");
            rc = 1;
        }
    }
    proto_client_close(c);
    return rc;
}
