// SPDX-License-Identifier: Apache-2.0
/* The QMP client against a real QEMU (machine "none": no guest, just the monitor), and
 * against peers that misbehave: silence, garbage, a closed socket. */
#include "harness/harness.h"
#include "vmm/qemu/qemu.h"
#include "vmm/qemu/qmp.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t qemu_pid;

/* Starts QEMU with QMP on one end of a socketpair; returns our end. */
static int spawn_qemu(void)
{
    char bin[4096], why[512];
    if (!qemu_find_binary(bin, sizeof bin, why, sizeof why))
        harness_need("%s", why);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    qemu_pid = fork();
    if (qemu_pid == 0) {
        dup2(sv[1], 3);
        execl(bin, bin, "-M", "none", "-nodefaults", "-no-user-config", "-display", "none",
              "-chardev", "socket,id=qmp,fd=3", "-mon", "chardev=qmp,mode=control", (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    return sv[0];
}

static int reap(void)
{
    int st = 0;
    waitpid(qemu_pid, &st, 0);
    return st;
}

TEST(qmp_talks_to_a_real_qemu)
{
    int fd = spawn_qemu();
    REQUIRE(fd >= 0);
    struct qmp q;
    struct bl_error err = {0};
    REQUIRE(qmp_open(&q, fd, 30000, &err) == 0);

    json_t *ret = NULL;
    REQUIRE(qmp_execute(&q, "query-status", NULL, &ret, 10000, &err) == 0);
    CHECK(json_string_value(json_object_get(ret, "status")) != NULL);
    json_decref(ret);

    char *text = NULL;
    REQUIRE(qmp_hmp(&q, "info version", &text, 10000, &err) == 0);
    CHECK(strncmp(text, "7.", 2) == 0 || strncmp(text, "8.", 2) == 0 || strncmp(text, "9.", 2) == 0);
    free(text);

    /* QEMU's own error answer reaches the caller */
    CHECK_EQ(qmp_execute(&q, "no-such-command", NULL, &ret, 10000, &err), -BOXLITE_ERR_ENGINE);
    CHECK(strstr(err.msg, "CommandNotFound") != NULL);
    CHECK(ret == NULL);
    CHECK_EQ(qmp_execute(&q, "query-status", json_pack("{s:i}", "bogus", 1), NULL, 10000, &err),
             -BOXLITE_ERR_ENGINE);

    /* events that arrive before an answer are noted, not mistaken for it */
    REQUIRE(qmp_execute(&q, "stop", NULL, NULL, 10000, &err) == 0);
    REQUIRE(qmp_execute(&q, "query-status", NULL, &ret, 10000, &err) == 0);
    CHECK_STR(json_string_value(json_object_get(ret, "status")), "paused");
    json_decref(ret);
    CHECK(q.events_seen >= 1);

    REQUIRE(qmp_execute(&q, "quit", NULL, NULL, 10000, &err) == 0);
    qmp_drain(&q, 10000);
    CHECK(q.shutdown_seen);
    CHECK(!q.shutdown_guest);
    CHECK_STR(q.shutdown_reason, "host-qmp-quit");
    int st = reap();
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* after QEMU is gone: a clear error, no hang */
    CHECK(qmp_execute(&q, "query-status", NULL, NULL, 10000, &err) < 0);
    qmp_close(&q);
}

TEST(qmp_silent_peer_times_out)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct qmp q;
    struct bl_error err = {0};
    CHECK_EQ(qmp_open(&q, sv[0], 200, &err), -BOXLITE_ERR_TIMEOUT);
    qmp_close(&q);
    close(sv[1]);
}

TEST(qmp_bad_peers)
{
    struct {
        const char *says;
        int code;
    } cases[] = {
        {"hello\n", BOXLITE_ERR_PROTOCOL},
        {"{\"return\": {}}\n", BOXLITE_ERR_PROTOCOL}, /* no greeting */
        {"", BOXLITE_ERR_ENGINE},                      /* closes at once */
        {"{\"QMP\": {}}\n{\"error\": {\"class\": \"X\", \"desc\": \"no\"}}\n", BOXLITE_ERR_ENGINE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        CHECK(write(sv[1], cases[i].says, strlen(cases[i].says)) == (ssize_t)strlen(cases[i].says));
        shutdown(sv[1], SHUT_WR);
        struct qmp q;
        struct bl_error err = {0};
        CHECK_EQ(qmp_open(&q, sv[0], 5000, &err), -cases[i].code);
        qmp_close(&q);
        close(sv[1]);
    }
}
