// SPDX-License-Identifier: Apache-2.0
/* The jail's per-thread seccomp filters (src/vmm/jail/seccomp_rules.c) as the kernel applies
 * them: each case runs in a child process whose one extra thread enters a thread kind's
 * filter and makes one call. An allowed call returns; a denied one ends the whole process
 * with SIGSYS after the handler reported the call and the thread kind on the crash pipe
 * (what the jail's supervisor writes into exit.json). */
#include "harness/harness.h"

#include "p9_client.h"
#include "vmm/config.h"
#include "vmm/jail/jail.h"
#include "vmm/jail/jail_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum call {
    CALL_PTRACE,
    CALL_FORK,        /* clone without CLONE_THREAD */
    CALL_NETLINK_ROUTE,
    CALL_NETLINK_AUDIT,
    CALL_PACKET,
    CALL_INET,
    CALL_UNIX,
    CALL_SOCKETPAIR_UNIX,
    CALL_TIOCSTI,     /* typing into a terminal */
    CALL_CREATE_PLAIN,
    CALL_CREATE_SETUID,
    CALL_OPEN_READ,
    CALL_P9_SESSION_SAVE, /* what a pause does on the thread that runs it */
};

struct job {
    enum jail_thread_kind kind;
    enum call call;
    char path[256];
    int result_fd;
    struct p9_server *p9; /* CALL_P9_SESSION_SAVE: a session with a walked and an open fid */
};

static long make_call(struct job *j)
{
    switch (j->call) {
    case CALL_PTRACE: return syscall(SYS_ptrace, 0, 0, 0, 0);
    case CALL_FORK: return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    case CALL_NETLINK_ROUTE: return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    case CALL_NETLINK_AUDIT: return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
    case CALL_PACKET: return socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    case CALL_INET: return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    case CALL_UNIX: return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    case CALL_SOCKETPAIR_UNIX: {
        int sv[2];
        return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    }
    case CALL_TIOCSTI: {
        char c = 'x';
        return ioctl(0, TIOCSTI, &c);
    }
    case CALL_CREATE_PLAIN: return openat(AT_FDCWD, j->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    case CALL_CREATE_SETUID: return openat(AT_FDCWD, j->path, O_WRONLY | O_CREAT | O_CLOEXEC, 04755);
    case CALL_OPEN_READ: return openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
    case CALL_P9_SESSION_SAVE: {
        uint8_t *b = NULL;
        size_t n = 0;
        long r = j->p9 ? p9_session_save(j->p9, &b, &n, NULL) : -1;
        free(b);
        return r;
    }
    }
    return -1;
}

static void *thread_main(void *arg)
{
    struct job *j = arg;
    jail_thread_enter(j->kind);
    long r = make_call(j);
    char line[64];
    int n = snprintf(line, sizeof line, "%ld %d\n", r, r < 0 ? errno : 0);
    if (write(j->result_fd, line, (size_t)n) < 0) {
        /* the parent reads nothing: the case fails there */
    }
    for (;;) { /* the process ends from the main thread (exit_group) */
        struct timespec t = { 1, 0 };
        nanosleep(&t, NULL);
    }
    return NULL;
}

struct outcome {
    bool killed_by_sigsys;
    bool returned;
    int kind, syscall_nr; /* from the crash record, -1 when none */
};

static struct outcome run_case(enum jail_thread_kind kind, enum call call)
{
    struct outcome o = { .kind = -1, .syscall_nr = -1 };
    int res[2], crash[2];
    if (pipe(res) < 0 || pipe(crash) < 0)
        return o;
    pid_t pid = fork();
    if (pid == 0) {
        close(res[0]);
        close(crash[0]);
        struct vmm_config cfg;
        memset(&cfg, 0, sizeof cfg);
        struct bl_error err = { 0 };
        jail_crash_fd(crash[1]);
        if (jail_seccomp_prepare(&cfg, &err) < 0)
            _exit(3);
        static struct job j;
        j.kind = kind;
        j.call = call;
        j.result_fd = res[1];
        snprintf(j.path, sizeof j.path, "%s/f%d-%d", harness_tmpdir(), (int)kind, (int)call);
        if (call == CALL_P9_SESSION_SAVE) { /* the server is made before the filter */
            char dir[300];
            snprintf(dir, sizeof dir, "%s/share", harness_tmpdir());
            mkdir(dir, 0755);
            snprintf(dir, sizeof dir, "%s/share/sub", harness_tmpdir());
            mkdir(dir, 0755);
            snprintf(dir, sizeof dir, "%s/share", harness_tmpdir());
            j.p9 = server(dir, false);
            if (!j.p9 || walk(j.p9, 0, 1, "sub", NULL) != P9_RWALK ||
                lopen(j.p9, 1, 0200000) != P9_RLOPEN)
                _exit(5);
        }
        pthread_t t;
        if (pthread_create(&t, NULL, thread_main, &j) != 0)
            _exit(4);
        /* the parent reads the thread's answer, or sees the process die of SIGSYS */
        for (;;) {
            struct timespec tick = { 0, 10 * 1000 * 1000 };
            nanosleep(&tick, NULL);
        }
    }
    close(res[1]);
    close(crash[1]);
    char line[64] = "";
    ssize_t n = read(res[0], line, sizeof line - 1);
    if (n > 0) {
        o.returned = true;
        kill(pid, SIGKILL);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    o.killed_by_sigsys = WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
    struct jail_crash c;
    if (read(crash[0], &c, sizeof c) == (ssize_t)sizeof c && c.magic == JAIL_CRASH_MAGIC) {
        o.kind = c.kind;
        o.syscall_nr = c.syscall;
    }
    close(res[0]);
    close(crash[0]);
    return o;
}

static void expect_allowed(enum jail_thread_kind kind, enum call call, const char *what)
{
    struct outcome o = run_case(kind, call);
    if (!o.returned || o.killed_by_sigsys)
        harness_fail(__FILE__, __LINE__, "%s thread: %s was denied (SIGSYS %d, syscall %d)",
                     jail_kind_name((int)kind), what, o.killed_by_sigsys, o.syscall_nr);
}

static void expect_denied(enum jail_thread_kind kind, enum call call, long nr, const char *what)
{
    struct outcome o = run_case(kind, call);
    if (o.returned || !o.killed_by_sigsys)
        harness_fail(__FILE__, __LINE__, "%s thread: %s was not denied (returned %d)",
                     jail_kind_name((int)kind), what, o.returned);
    else if (o.kind != (int)kind || o.syscall_nr != nr)
        harness_fail(__FILE__, __LINE__, "%s thread: %s: the crash record says kind %d, "
                     "syscall %d (wanted %d, %ld)", jail_kind_name((int)kind), what, o.kind,
                     o.syscall_nr, (int)kind, nr);
}

TEST(no_kind_may_trace_fork_or_type_into_a_terminal)
{
    for (int k = 0; k < JAIL_KINDS; k++) {
        expect_denied((enum jail_thread_kind)k, CALL_PTRACE, SYS_ptrace, "ptrace");
        expect_denied((enum jail_thread_kind)k, CALL_FORK, SYS_clone, "clone without CLONE_THREAD");
        expect_denied((enum jail_thread_kind)k, CALL_TIOCSTI, SYS_ioctl, "ioctl TIOCSTI");
        expect_denied((enum jail_thread_kind)k, CALL_PACKET, SYS_socket, "an AF_PACKET socket");
        expect_denied((enum jail_thread_kind)k, CALL_NETLINK_AUDIT, SYS_socket,
                      "a NETLINK_AUDIT socket");
    }
}

/* The network policy reads the host's addresses (getifaddrs) where guest frames reach
 * libslirp: the io threads (KVM device loop, QEMU frame link) and the slirp thread. */
TEST(route_netlink_where_the_policy_runs_only)
{
    expect_allowed(JAIL_IO, CALL_NETLINK_ROUTE, "a NETLINK_ROUTE socket");
    expect_allowed(JAIL_SLIRP, CALL_NETLINK_ROUTE, "a NETLINK_ROUTE socket");
    expect_denied(JAIL_VCPU, CALL_NETLINK_ROUTE, SYS_socket, "a NETLINK_ROUTE socket");
    expect_denied(JAIL_MAIN, CALL_NETLINK_ROUTE, SYS_socket, "a NETLINK_ROUTE socket");
}

TEST(sockets_by_kind)
{
    expect_allowed(JAIL_SLIRP, CALL_INET, "an AF_INET socket");
    expect_denied(JAIL_SLIRP, CALL_UNIX, SYS_socket, "an AF_UNIX socket");
    expect_allowed(JAIL_IO, CALL_UNIX, "an AF_UNIX socket");
    expect_denied(JAIL_VCPU, CALL_INET, SYS_socket, "an AF_INET socket");
    /* the health checker (main's filter, inherited) reaches the mux through a socket pair */
    expect_allowed(JAIL_MAIN, CALL_SOCKETPAIR_UNIX, "an AF_UNIX socket pair");
    expect_denied(JAIL_MAIN, CALL_INET, SYS_socket, "an AF_INET socket");
}

TEST(files_never_get_setuid_bits)
{
    expect_allowed(JAIL_IO, CALL_CREATE_PLAIN, "creating a 0644 file");
    expect_denied(JAIL_IO, CALL_CREATE_SETUID, SYS_openat, "creating a 04755 file");
    expect_denied(JAIL_MAIN, CALL_CREATE_SETUID, SYS_openat, "creating a 04755 file");
    /* libslirp reads resolv.conf, and writes nothing */
    expect_allowed(JAIL_SLIRP, CALL_OPEN_READ, "a read-only open");
    expect_denied(JAIL_SLIRP, CALL_CREATE_PLAIN, SYS_openat, "creating a file");
    /* a vCPU thread opens nothing */
    expect_denied(JAIL_VCPU, CALL_OPEN_READ, SYS_openat, "an open");
}

/* A pause runs on the main thread kind (the mux's thread, or the idle timer's): it saves
 * the 9P sessions there (src/vmm/fs/p9_session.c: /proc/self/fd names, walks, stats). */
TEST(the_main_thread_saves_9p_sessions)
{
    expect_allowed(JAIL_MAIN, CALL_P9_SESSION_SAVE, "saving the 9P sessions");
}

/* In a child: jail_qemu_child(private_ram) with no filter prepared (an unconfined run),
 * then a hole punch and a plain reservation in a file of 1 MiB of 0x5a bytes. Exit status:
 * bit 0 the punch failed with EOPNOTSUPP, bit 1 the reservation worked, bit 2 the file's
 * first byte is still 0x5a. */
static int punch_outcome(bool private_ram)
{
    char path[256];
    snprintf(path, sizeof path, "%s/ram-%d", harness_tmpdir(), (int)private_ram);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        static char buf[1 << 20];
        memset(buf, 0x5a, sizeof buf);
        if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
            _exit(64);
        jail_qemu_child(private_ram);
        int bits = 0;
        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 20) < 0 &&
            errno == EOPNOTSUPP)
            bits |= 1;
        if (fallocate(fd, 0, 0, 2 << 20) == 0)
            bits |= 2;
        char c = 0;
        if (pread(fd, &c, 1, 0) == 1 && c == 0x5a)
            bits |= 4;
        _exit(bits);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A QEMU whose RAM file is shared with other boxes (a fork's memory.base) may not punch
 * holes in it: QEMU 7.2 would, for every page its guest reports free, zeroing it for every
 * other box (seccomp_rules.c, private_ram_rules). */
TEST(a_qemu_with_private_ram_punches_no_hole)
{
    CHECK_EQ(punch_outcome(true), 1 | 2 | 4);
    /* and one with its own RAM file may (the balloon gives the file's blocks back) */
    CHECK_EQ(punch_outcome(false), 2);
}
