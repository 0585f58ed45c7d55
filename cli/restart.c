// SPDX-License-Identifier: Apache-2.0
/* --restart no|on-failure[:N]|always: the CLI's, not the library's. The policy is kept with
 * the box as the label boxlite.restart; when such a box is started (run -d, start,
 * restart), the CLI leaves a supervisor behind: `boxlite __restarter BOX`, in a session of
 * its own, which waits on the box (its per-box process's pidfd) and starts it again when
 * it stops by itself: always, or on-failure while its status is not 0 and fewer than N
 * restarts were made. A box stopped on request (stop, rm) is left alone, and the
 * supervisor ends with it. One supervisor per box: it holds the abstract socket
 * "boxlite-restart-<id>". Nothing restarts a box whose supervisor was killed (or after a host reboot) until it is
 * started again by boxlite. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RESTART_LABEL "boxlite.restart"

/* "no", "always", "on-failure", "on-failure:N" -> 0 ok (max 0 = no limit) */
int cli_restart_parse(const char *s, bool *always, long long *max)
{
    *always = false;
    *max = 0;
    if (!strcmp(s, "no"))
        return 0;
    if (!strcmp(s, "always")) {
        *always = true;
        return 0;
    }
    if (!strcmp(s, "on-failure"))
        return 0;
    if (!strncmp(s, "on-failure:", 11) && cli_parse_ll(s + 11, 1, 1000000, max) == 0)
        return 0;
    return -1;
}

/* After a start: a supervisor for a box with a policy (none for "no" or no label). */
void cli_restart_watch(struct cli *c, boxlite_box *b)
{
    char *s = NULL;
    if (boxlite_box_info(b, &s) != BOXLITE_OK)
        return;
    json_t *info = json_loads(s, 0, NULL);
    boxlite_free(s);
    const char *policy = json_string_value(json_object_get(json_object_get(info, "labels"),
                                                           RESTART_LABEL));
    if (!policy || !strcmp(policy, "no")) {
        json_decref(info);
        return;
    }
    json_decref(info);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return;
    self[n] = 0;
    const char *argv[] = { self, "--home", c->home ? c->home : "", "__restarter",
                           boxlite_box_id(b), NULL };
    const char **args = argv;
    const char *no_home[] = { self, "__restarter", boxlite_box_id(b), NULL };
    if (!c->home)
        args = no_home;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID); /* not in our terminal's job */
    pid_t pid;
    extern char **environ;
    if (posix_spawn(&pid, self, &fa, &at, (char *const *)args, environ) != 0)
        fprintf(stderr, "boxlite: --restart: could not start its supervisor: %s\n",
                strerror(errno));
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
}

int cmd_restarter(struct cli *c, const struct cli_args *a)
{
    const char *id = a->ops[0];
    /* one supervisor per box */
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int len = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "boxlite-restart-%s", id);
    if (sock < 0 || bind(sock, (struct sockaddr *)&sa,
                         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len)) < 0)
        return 0; /* another one watches it */
    int r = cli_open(c);
    if (r)
        return r;
    unsigned restarts = 0;
    for (;;) {
        boxlite_box *b = NULL;
        if (boxlite_box_get(c->rt, id, &b) != BOXLITE_OK)
            return 0; /* removed */
        json_t *info = cli_wait_stopped(b);
        const char *policy = json_string_value(
            json_object_get(json_object_get(info, "labels"), RESTART_LABEL));
        bool always;
        long long max;
        if (!info || !policy || cli_restart_parse(policy, &always, &max) ||
            !strcmp(policy, "no") || !json_is_true(json_object_get(info, "stopped_by_itself"))) {
            json_decref(info);
            boxlite_box_free(b);
            return 0; /* stopped on request, or no policy any more */
        }
        int status = cli_stop_status(info);
        json_decref(info);
        if (!always && (status == 0 || (max && restarts >= max))) {
            boxlite_box_free(b);
            return 0;
        }
        restarts++;
        if (boxlite_box_start(b) != BOXLITE_OK) {
            boxlite_box_free(b);
            return 125;
        }
        boxlite_box_free(b);
    }
}
