/* `boxlite-vmm --status`: waits, on events only, for the box socket to exist (the per-box
 * process renames it into place once it listens: inotify on its folder), then for the box
 * to be ready (the agent's HELLO, through the mux), and prints STATUS as one JSON line
 * (src/proto/control_json.h). --pid PID: give up as soon as that process (the per-box
 * process, or the jail's supervisor) has exited. --until-exit: then stay connected until
 * the box ends and print EXIT as a second line. Exit status 0 when it printed what it was
 * asked for, 1 otherwise (the reason on stderr). */
#include "vmm/status_tool.h"

#include "common/cleanup.h"
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

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
        int64_t left = deadline - mono_ms();
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

int vmm_status_tool(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : NULL;
    int wait_ms = 10000, pidfd = -1;
    bool until_exit = false;
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
        else
            path = NULL;
    }
    if (!path) {
        fprintf(stderr, "usage: boxlite-vmm --status SOCKET [--wait MS] [--pid PID] [--until-exit]\n");
        return 2;
    }
    int64_t deadline = mono_ms() + wait_ms;
    int fd = connect_when_there(path, pidfd, deadline);
    if (fd < 0)
        return 1;
    struct bl_error err = { 0 };
    struct proto_client *c = NULL;
    int64_t left = deadline - mono_ms();
    if (proto_client_open_watch(fd, pidfd, left > 0 ? (int)left : 0, &c, NULL, &err) < 0) {
        fprintf(stderr, "boxlite-vmm --status: %s: %s\n", path, err.msg);
        return 1;
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
