// SPDX-License-Identifier: Apache-2.0
/* The harness's runner: see harness.h. Output is TAP-like ("ok 3 - name") and ends with
 * "N passed, N failed[, N skipped]", which tests/run.sh adds up. */
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 1024
#define EXIT_SKIP 77

struct test { const char *name; harness_fn fn; int timeout_s; };
static struct test tests[MAX_TESTS];
static int ntests;
static int failures; /* in the current test */
static char tmpdir[256];

void harness_register(const char *name, harness_fn fn, int timeout_s)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "harness: too many tests\n");
        abort();
    }
    tests[ntests++] = (struct test){ name, fn, timeout_s };
}

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "#   %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    failures++;
}

int harness_strict(void)
{
    const char *ci = getenv("CI"), *strict = getenv("BOXLITE_TEST_STRICT");
    return (ci && strcmp(ci, "true") == 0) || (strict && strcmp(strict, "1") == 0);
}

__attribute__((noreturn)) static void leave(int status, const char *what, const char *fmt, va_list ap)
{
    printf("#   %s", what);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    exit(status);
}

void harness_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* A test that already failed does not get to call itself skipped. */
    if (failures)
        leave(1, "skip after a failed check, counted as a failure: ", fmt, ap);
    leave(EXIT_SKIP, "skip: ", fmt, ap);
}

void harness_need(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (failures || harness_strict())
        leave(1, "missing prerequisite (scripts/setup.sh or CI provides it): ", fmt, ap);
    leave(EXIT_SKIP, "skip: missing prerequisite: ", fmt, ap);
}

const char *harness_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(tmpdir, sizeof tmpdir, "%s/bltest.XXXXXX", base);
        if (!mkdtemp(tmpdir)) {
            fprintf(stdout, "#   mkdtemp %s: %s\n", tmpdir, strerror(errno));
            exit(1);
        }
    }
    return tmpdir;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static void remove_tmpdir(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i]))
            return 1;
    return 0;
}

/* Runs one test in a child; returns 0 pass, 1 fail, 2 skip. */
static int run_one(const struct test *t)
{
    if (getenv("HARNESS_NOFORK")) {
        failures = 0;
        t->fn();
        return failures ? 1 : 0;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        printf("#   fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        failures = 0;
        tmpdir[0] = 0;
        atexit(remove_tmpdir);
        t->fn();
        fflush(stdout);
        /* exit, not _exit: LeakSanitizer checks the test's own process on the way out. */
        exit(failures ? 1 : 0);
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > t->timeout_s) {
            printf("#   timed out after %d s\n", t->timeout_s);
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return 1;
        }
        usleep(2000);
    }
    kill(-pid, SIGKILL); /* anything the test left running */
    if (WIFSIGNALED(status)) {
        printf("#   killed by signal %d\n", WTERMSIG(status));
        return 1;
    }
    if (WEXITSTATUS(status) == EXIT_SKIP)
        return 2;
    return WEXITSTATUS(status) ? 1 : 0;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0, n = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < ntests; i++) {
        if (!selected(tests[i].name, argc, argv))
            continue;
        int r = run_one(&tests[i]);
        n++;
        if (r == 0) {
            passed++;
            printf("ok %d - %s\n", n, tests[i].name);
        } else if (r == 2) {
            skipped++;
            printf("ok %d - %s # SKIP\n", n, tests[i].name);
        } else {
            failed++;
            printf("not ok %d - %s\n", n, tests[i].name);
        }
    }
    printf("1..%d\n", n);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}

int harness_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *harness_output(char *buf, size_t cap, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    buf[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p)
        return buf;
    size_t n = fread(buf, 1, cap - 1, p);
    buf[n] = 0;
    pclose(p);
    return buf;
}
