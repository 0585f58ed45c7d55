// SPDX-License-Identifier: Apache-2.0
/* linux.seccomp compiled on the host (src/oci/seccomp.c). The oracle is the kernel: each
 * program is installed in a child (seccomp(2), as the guest agent installs it) and the
 * child's syscalls show what it does. Podman's default profile must compile within the
 * kernel's 4096 instructions; malformed profiles are refused naming the field. */
#include "harness/harness.h"
#include "oci/seccomp.h"
#include "oci/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int compile(const char *json, struct oci_seccomp *f, struct bl_error *err)
{
    return oci_seccomp_parse(json, strlen(json), f, err);
}

/* Runs fn in a child under the filter; returns its wait status. */
static int under(const struct oci_seccomp *f, int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        struct sock_fprog prog = { .len = (unsigned short)(f->len / 8),
                                   .filter = (struct sock_filter *)f->bpf };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog) < 0)
            _exit(200);
        _exit(fn());
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static int nothing(void)
{
    return 0;
}

/* Skips where a filter cannot be installed at all: under qemu-user (the cross-built tests'
 * runs) seccomp(2) is not emulated, the kernel there filters QEMU, not the program. */
static void need_seccomp(void)
{
    static struct sock_filter ret_allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    const struct oci_seccomp allow = { .bpf = (uint8_t *)&ret_allow, .len = sizeof ret_allow };
    int st = under(&allow, nothing);
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 200)
        harness_skip("seccomp(2) cannot install a filter here (qemu-user?)");
}

/* mkdir's errno (0 when it worked), getpid still working */
static int try_mkdir(void)
{
    char p[64];
    snprintf(p, sizeof p, "/tmp/bl-seccomp-%d", (int)getpid());
    int r = mkdir(p, 0700);
    int e = r < 0 ? errno : 0;
    if (r == 0)
        rmdir(p);
    return getpid() > 0 ? e : 199;
}

TEST(deny_mkdir_with_eperm)
{
    need_seccomp();
    struct oci_seccomp f;
    struct bl_error err = { 0 };
    REQUIRE(compile("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                    "[\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
                    &f, &err) == 0);
    CHECK(f.len > 0 && f.len % 8 == 0);
    int st = under(&f, try_mkdir);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), EPERM);
    oci_seccomp_free(&f);
    /* errnoRet chosen; without a filter mkdir works */
    REQUIRE(compile("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                    "[\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 28}]}",
                    &f, &err) == 0);
    st = under(&f, try_mkdir);
    CHECK_EQ(WEXITSTATUS(st), ENOSPC);
    oci_seccomp_free(&f);
    CHECK_EQ(try_mkdir(), 0);
}

/* mkdir's errno by raw system calls only: the sanitizers' own calls are not on the
 * allow-list this is tried under */
static int raw_mkdir(void)
{
    long r = syscall(SYS_mkdirat, AT_FDCWD, "/nonexistent-dir/x", 0700); /* every arch has it */
    syscall(SYS_exit_group, r < 0 ? errno : 0);
    return 198;
}

TEST(default_errno_and_allow_list)
{
    need_seccomp();
    /* Podman's shape: everything ENOSYS but what is listed */
    struct oci_seccomp f;
    struct bl_error err = { 0 };
    REQUIRE(compile("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38, "
                    "\"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", "
                    "\"SCMP_ARCH_X32\"], \"syscalls\": [{\"names\": [\"getpid\", \"exit_group\", "
                    "\"exit\", \"no_such_call_ever\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
                    &f, &err) == 0);
    CHECK_EQ(f.skipped, 1);
    CHECK_STR(f.first_skipped, "no_such_call_ever");
    int st = under(&f, raw_mkdir);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), ENOSYS);
    oci_seccomp_free(&f);
}

static int try_kill_arg(void)
{
    /* kill(0, 0): refused by the argument rule */
    return syscall(SYS_kill, 0, 0) == 0 ? 10 : 11;
}

TEST(arguments_and_kill)
{
    need_seccomp();
    struct oci_seccomp f;
    struct bl_error err = { 0 };
    /* kill with a signal of 0 is refused with EACCES; any other signal passes */
    REQUIRE(compile("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                    "[\"kill\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13, \"args\": "
                    "[{\"index\": 1, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                    &f, &err) == 0);
    int st = under(&f, try_kill_arg);
    CHECK_EQ(WEXITSTATUS(st), 11);
    oci_seccomp_free(&f);
    /* the process is killed (SIGSYS) for mkdir */
    REQUIRE(compile("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": "
                    "[\"SECCOMP_FILTER_FLAG_LOG\"], \"syscalls\": [{\"names\": [\"mkdir\", "
                    "\"mkdirat\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"}]}", &f, &err) == 0);
    CHECK_EQ(f.flags, BOXLITE_SECCOMP_LOG);
    st = under(&f, try_mkdir);
    CHECK(WIFSIGNALED(st));
    CHECK_EQ(WTERMSIG(st), SIGSYS);
    oci_seccomp_free(&f);
}

TEST(podman_default_profile)
{
    need_seccomp();
    static const char path[] = "/usr/share/containers/seccomp.json";
    FILE *fp = fopen(path, "re");
    if (!fp)
        harness_need("%s (podman's containers-common, scripts/setup.sh)", path);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    struct oci_seccomp f;
    struct bl_error err = { 0 };
    int r = oci_seccomp_parse(buf, n, &f, &err);
    if (r)
        fprintf(stderr, "%s\n", err.msg);
    REQUIRE(r == 0);
    CHECK(f.len / 8 > 100);
    CHECK(f.len / 8 <= BOXLITE_SECCOMP_MAX_INSNS);
    /* its allow-list lets an ordinary program run, mkdir included */
    int st = under(&f, try_mkdir);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    oci_seccomp_free(&f);
}

TEST(refusals_name_the_field)
{
    static const struct {
        const char *json, *want;
    } bad[] = {
        { "[]", "linux.seccomp must be an object" },
        { "{}", "linux.seccomp.defaultAction must be a string" },
        { "{\"defaultAction\": \"SCMP_ACT_NOPE\"}", "\"SCMP_ACT_NOPE\" is not a seccomp action" },
        { "{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "needs a seccomp agent" },
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 5000}",
          "defaultErrnoRet must be an errno" },
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_VAX\"]}",
          "architectures[0] is not an architecture" },
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_X\"]}",
          "flags[0] \"SECCOMP_FILTER_FLAG_X\" is not a seccomp filter flag" },
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"], "
          "\"action\": \"SCMP_ACT_BOGUS\"}]}", "syscalls[0].action: \"SCMP_ACT_BOGUS\"" },
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": \"mkdir\", "
          "\"action\": \"SCMP_ACT_ERRNO\"}]}", "syscalls[0].names must be an array" },
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"kill\"], "
          "\"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"op\": \"SCMP_CMP_EQ\"}]}]}",
          "syscalls[0].args[0].index must be 0 to 5" },
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"kill\"], "
          "\"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 1, \"op\": \"SCMP_CMP_XX\"}]}]}",
          "syscalls[0].args[0].op: \"SCMP_CMP_XX\" is not a comparison" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct oci_seccomp f;
        struct bl_error err = { 0 };
        CHECK(compile(bad[i].json, &f, &err) < 0);
        if (!strstr(err.msg, bad[i].want))
            harness_fail(__FILE__, __LINE__, "%s: \"%s\" lacks \"%s\"", bad[i].json, err.msg,
                         bad[i].want);
        CHECK(f.bpf == NULL && f.len == 0);
    }
}

TEST(spec_carries_seccomp_and_namespace_types)
{
    static const char cfg[] =
        "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}, \"process\": "
        "{\"args\": [\"sh\"]}, \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": "
        "\"uts\", \"path\": \"/proc/self/ns/ipc\"}], \"seccomp\": {\"defaultAction\": "
        "\"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": "
        "\"SCMP_ACT_ERRNO\"}]}}}";
    struct oci_spec s;
    struct bl_error err = { 0 };
    REQUIRE(oci_spec_parse(cfg, strlen(cfg), &s, &err) == 0);
    CHECK(s.seccomp.len > 0);
    CHECK_EQ(s.nns, 1);
    /* the path names an ipc namespace, the entry says uts: refused at create (runc's) */
    CHECK(oci_namespaces_check(&s, &err) < 0);
    CHECK(strstr(err.msg, "is not a uts namespace") != NULL);
    free(s.ns[0].path);
    s.ns[0].path = strdup("/proc/self/ns/uts");
    CHECK(oci_namespaces_check(&s, &err) == 0);
    free(s.ns[0].path);
    s.ns[0].path = strdup("/etc/hostname");
    CHECK(oci_namespaces_check(&s, &err) < 0);
    CHECK(strstr(err.msg, "is not a namespace") != NULL);
    oci_spec_free(&s);
    static const char bad_type[] =
        "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": "
        "[\"sh\"]}, \"linux\": {\"namespaces\": [{\"type\": \"pidd\"}]}}";
    CHECK(oci_spec_parse(bad_type, strlen(bad_type), &s, &err) < 0);
    CHECK(strstr(err.msg, "\"pidd\" is not a namespace type") != NULL);
}
