// SPDX-License-Identifier: Apache-2.0
/* QEMU's output kept for error reports (src/vmm/qemu/output.c): a child writing far more
 * than the ring holds costs QEMU_OUTPUT_KEEP bytes, never more; the report gets its last
 * words even when the reader has not run since, on one line; a writer still alive does not
 * hold up the free. */
#include "harness/harness.h"
#include "vmm/qemu/output.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child that writes `lines` lines of 100 bytes to fd then its last words, and exits (or
 * sleeps holding fd when linger). */
static pid_t writer(int fd, unsigned lines, const char *last, bool linger)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char line[101];
    memset(line, 'x', 99);
    line[99] = '\n';
    for (unsigned i = 0; i < lines; i++)
        if (write(fd, line, 100) != 100)
            _exit(1);
    if (write(fd, last, strlen(last)) != (ssize_t)strlen(last))
        _exit(1);
    if (linger)
        pause();
    _exit(0);
}

TEST(a_flood_is_capped_and_its_end_kept)
{
    struct qemu_output *o = NULL;
    struct bl_error err = { 0 };
    int w = -1;
    REQUIRE(qemu_output_open(&o, &w, &err) == 0);
    const char *last = "qemu-system-x86_64: migration is blocked by 9p\n\n";
    pid_t pid = writer(w, 100000, last, false); /* 10 MB */
    close(w);
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char tail[512];
    qemu_output_tail(o, tail, sizeof tail); /* at once: what is still in the pipe counts */
    size_t kept;
    uint64_t total;
    qemu_output_counts(o, &kept, &total);
    CHECK_EQ(total, 100000ull * 100 + strlen(last));
    CHECK(kept <= QEMU_OUTPUT_KEEP);
    CHECK_EQ(strlen(tail), sizeof tail - 1); /* the last 511 bytes before the line ends */
    const char *want = "xxx qemu-system-x86_64: migration is blocked by 9p";
    CHECK(strlen(tail) >= strlen(want) &&
          strcmp(tail + strlen(tail) - strlen(want), want) == 0);
    CHECK(strchr(tail, '\n') == NULL);
    qemu_output_free(o);
}

TEST(short_output_and_none)
{
    struct qemu_output *o = NULL;
    struct bl_error err = { 0 };
    int w = -1;
    REQUIRE(qemu_output_open(&o, &w, &err) == 0);
    char tail[64] = "junk";
    qemu_output_tail(o, tail, sizeof tail);
    CHECK_STR(tail, "");
    REQUIRE(write(w, "first\nsecond\r\n", 14) == 14);
    qemu_output_tail(o, tail, sizeof tail);
    CHECK_STR(tail, "first second");
    qemu_output_tail(o, tail, 7); /* the end, not the start */
    CHECK_STR(tail, "second");
    close(w);
    qemu_output_free(o);
    qemu_output_tail(NULL, tail, sizeof tail);
    CHECK_STR(tail, "");
}

TEST(a_writer_alive_does_not_hold_the_free)
{
    struct qemu_output *o = NULL;
    struct bl_error err = { 0 };
    int w = -1;
    REQUIRE(qemu_output_open(&o, &w, &err) == 0);
    pid_t pid = writer(w, 10, "still here\n", true);
    close(w);
    char tail[64] = "";
    for (int i = 0; i < 500 && !strstr(tail, "still here"); i++) {
        usleep(10000);
        qemu_output_tail(o, tail, sizeof tail);
    }
    CHECK(strstr(tail, "still here") != NULL);
    qemu_output_free(o); /* the child still holds its end */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
