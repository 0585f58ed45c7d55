// SPDX-License-Identifier: Apache-2.0
/* A small unit-test harness: TEST() registers a test, CHECK*() records failures.
 * Each test runs in its own child process (a crash or a hang fails that test, not the
 * run) with a time limit; the binary ends with the line "N passed, N failed".
 * HARNESS_NOFORK=1 runs tests in-process (for gdb); argv[1..] selects tests by name. */
#ifndef BOXLITE_TEST_HARNESS_H
#define BOXLITE_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*harness_fn)(void);
void harness_register(const char *name, harness_fn fn, int timeout_s);
void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Skip the current test because this machine cannot do what it tests (no vmx/svm, a
 * capability the sandbox withholds). The reason must say where the same behaviour is proven
 * instead ("...; proven by tests/e2e/x.sh"): in strict mode (CI=true or
 * BOXLITE_TEST_STRICT=1) tests/run.sh fails a skip that does not. A skip after a failed
 * CHECK is a failure. */
void harness_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A prerequisite that scripts/setup.sh installs is missing (QEMU, the kernel, a registry):
 * a skip on a developer's machine, a failure naming it in strict mode. */
void harness_need(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* 1 when missing prerequisites fail instead of skipping (CI=true, BOXLITE_TEST_STRICT=1). */
int harness_strict(void);
/* A scratch directory private to the current test, removed afterwards. */
const char *harness_tmpdir(void);
/* A shell command built like printf: its exit status (-1 if it did not exit), as tests
 * that drive real tools (ip, tc, debugfs) as oracles need. */
int harness_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The output of a shell command built like printf (stdout only, at most cap - 1 bytes,
 * NUL-terminated; "" if it could not run). */
const char *harness_output(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TEST_TIMEOUT(name, secs)                                                   \
    static void test_##name(void);                                                 \
    __attribute__((constructor)) static void register_##name(void)                 \
    {                                                                              \
        harness_register(#name, test_##name, secs);                                \
    }                                                                              \
    static void test_##name(void)
#define TEST(name) TEST_TIMEOUT(name, 60)

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            harness_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                  \
    } while (0)
/* Like CHECK but stops the test: later steps depend on this one. */
#define REQUIRE(cond)                                                              \
    do {                                                                           \
        if (!(cond)) {                                                             \
            harness_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                \
            return;                                                                \
        }                                                                          \
    } while (0)
#define CHECK_EQ(a, b)                                                             \
    do {                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                        \
        if (_a != _b)                                                              \
            harness_fail(__FILE__, __LINE__, "%s == %s (%lld != %lld)", #a, #b,    \
                         _a, _b);                                                  \
    } while (0)
#define CHECK_STR(a, b)                                                            \
    do {                                                                           \
        const char *_a = (a), *_b = (b);                                           \
        if (!_a || !_b || strcmp(_a, _b) != 0)                                     \
            harness_fail(__FILE__, __LINE__, "%s == %s (\"%s\" != \"%s\")", #a,    \
                         #b, _a ? _a : "(null)", _b ? _b : "(null)");              \
    } while (0)
#define CHECK_MEM(a, b, n)                                                         \
    do {                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                            \
            harness_fail(__FILE__, __LINE__, "memcmp(%s, %s, %s) != 0", #a, #b,    \
                         #n);                                                      \
    } while (0)

#endif
