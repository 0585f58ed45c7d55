// SPDX-License-Identifier: Apache-2.0
/* The VMM's seccomp rules (seccomp.c explains them), as libseccomp calls. Used at build
 * time only: seccomp_gen.c compiles them to BPF once (build/gen/seccomp_bpf.c), so a
 * per-box process spends no time on libseccomp when it starts.
 *
 * The lists were taken from what the threads really call: strace -f of boxlite-vmm running
 * the e2e workloads on both engines (boot, exec, cp both ways, volumes, network, port
 * forwards, stop): scripts/seccomp-trace.sh; docs/architecture.md "The jail". */
#include "vmm/jail/seccomp_rules.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <linux/falloc.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>

#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000
#endif
#define KVMIO 0xAE /* Linux include/uapi/linux/kvm.h: the ioctl type of every KVM call */

/* ---- the lists -------------------------------------------------------------------------- */

/* Every thread: memory, time, locks, its own signals and end. */
static const char *const common[] = {
    "read", "write", "readv", "writev", "close", "futex", "exit", "exit_group",
    "rt_sigreturn", "rt_sigprocmask", "restart_syscall", "clock_gettime", "clock_nanosleep",
    "nanosleep", "gettid", "getpid", "tgkill", "madvise", "mmap", "munmap", "mprotect", "brk",
    "mremap", "sched_yield", "getrandom", "lseek", "fstat", "newfstatat", "statx", "fcntl",
    "dup", "dup3", "poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_ctl", "eventfd2",
    "sched_getaffinity", "set_robust_list", "rseq",
    /* the thread's own signal stack (the sanitizers' runtime sets one per thread) */
    "sigaltstack", NULL
};
/* The control loop, the box socket's mux, the waiter; ready/stats/exit files. */
static const char *const main_calls[] = {
    "accept4", "recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown", "getsockopt",
    "setsockopt", "rename", "renameat", "renameat2", "unlink", "unlinkat", "getrusage",
    "wait4", "waitid", "kill", "pidfd_send_signal", "sysinfo", "pipe2", "fsync", "fdatasync",
    "uname", "getdents64", "epoll_create1",
    /* a pause saves the 9P sessions here: each fid's name, from /proc/self/fd (p9_session.c) */
    "readlinkat",
    /* the engine's teardown runs here: disks flushed and closed (qcow2 metadata) */
    "pread64", "pwrite64", "preadv", "pwritev", "ftruncate", "fallocate", NULL
};
/* KVM_RUN and the exits it handles in place (serial, control page, config space). */
static const char *const vcpu_calls[] = {
    "pread64", "pwrite64", "preadv", "pwritev", "fdatasync", "fsync", "fallocate", "sendmsg",
    "recvmsg", NULL
};
/* Device back ends: disks, the 9p server, console and network sockets; the log pumps
 * (logrot.c rotates with rename). */
static const char *const io_calls[] = {
    "rename", "pread64", "pwrite64", "preadv", "pwritev", "fdatasync", "fsync", "fallocate",
    "getdents64", "unlinkat", "renameat", "renameat2", "linkat", "symlinkat", "readlinkat",
    "utimensat", "ftruncate", "fstatfs", "statfs", "getxattr", "lgetxattr", "fgetxattr",
    "setxattr", "lsetxattr", "fsetxattr", "faccessat", "faccessat2", "connect", "bind",
    "listen", "accept", "accept4", "recvmsg", "sendmsg", "recvfrom", "sendto", "setsockopt",
    "getsockopt", "getsockname", "getpeername", "shutdown", "pipe2", "epoll_create1", NULL
};
/* libslirp's sockets to the outside, and resolv.conf for its DNS forwarder. */
static const char *const slirp_calls[] = {
    "connect", "bind", "listen", "accept", "accept4", "recvmsg", "sendmsg", "recvfrom",
    "sendto", "setsockopt", "getsockopt", "getsockname", "getpeername", "shutdown", "pipe2",
    NULL
};

static uint32_t target; /* build time only, one thread: seccomp_gen.c */

void jail_seccomp_target(uint32_t arch) { target = arch; }

/* The native number of name, or __NR_SCMP_ERROR when the target lacks the call. */
static int resolve(const char *name)
{
    if (target && seccomp_syscall_resolve_name_arch(target, name) == __NR_SCMP_ERROR)
        return __NR_SCMP_ERROR;
    return seccomp_syscall_resolve_name(name);
}

static int allow(scmp_filter_ctx ctx, const char *const *names)
{
    for (const char *const *n = names; *n; n++) {
        int nr = resolve(*n);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (r < 0)
            return r;
    }
    return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
                    const struct scmp_arg_cmp *a)
{
    int nr = resolve(name);
    if (nr == __NR_SCMP_ERROR)
        return 0;
    return seccomp_rule_add_array(ctx, action, nr, n, a);
}

/* Allowed only without setuid/setgid mode bits (each rule alone allows). */
static int allow_modes(scmp_filter_ctx ctx, bool files)
{
    int r = 0;
    /* openat(dir, path, flags, mode): not creating, or creating without setid bits */
    struct scmp_arg_cmp no_create = SCMP_A2_32(SCMP_CMP_MASKED_EQ, O_CREAT | __O_TMPFILE, 0);
    struct scmp_arg_cmp plain3 = SCMP_A3_32(SCMP_CMP_MASKED_EQ, 06000, 0);
    struct scmp_arg_cmp plain2 = SCMP_A2_32(SCMP_CMP_MASKED_EQ, 06000, 0);
    struct scmp_arg_cmp plain1 = SCMP_A1_32(SCMP_CMP_MASKED_EQ, 06000, 0);
    struct scmp_arg_cmp reg = SCMP_A2_32(SCMP_CMP_MASKED_EQ, S_IFMT | 06000, S_IFREG);
    struct scmp_arg_cmp sock = SCMP_A2_32(SCMP_CMP_MASKED_EQ, S_IFMT | 06000, S_IFSOCK);
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "openat", 1, &no_create);
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "openat", 1, &plain3);
    if (!files)
        return r;
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "mkdirat", 1, &plain2);
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "fchmodat", 1, &plain2);
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "fchmod", 1, &plain1);
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "mknodat", 1, &reg);
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "mknodat", 1, &sock);
    return r;
}

/* The network policy reads the host's addresses (getifaddrs: a NETLINK_ROUTE socket, at most
 * once a second) in whichever thread hands a guest frame to libslirp (src/vmm/net/slirp.c). */
static int allow_route_netlink(scmp_filter_ctx ctx)
{
    struct scmp_arg_cmp a[2] = { SCMP_A0_32(SCMP_CMP_EQ, AF_NETLINK),
                                 SCMP_A2_32(SCMP_CMP_EQ, NETLINK_ROUTE) };
    return add_rule(ctx, SCMP_ACT_ALLOW, "socket", 2, a);
}

static int kind_rules(scmp_filter_ctx ctx, enum jail_thread_kind kind)
{
    int r = allow(ctx, common);
    if (r < 0)
        return r;
    /* threads only: a process cannot be forked (clone3 hides its flags: glibc falls back) */
    struct scmp_arg_cmp thread = SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
    struct scmp_arg_cmp not_sigsys = SCMP_A0_32(SCMP_CMP_NE, SIGSYS);
    struct scmp_arg_cmp set_name = SCMP_A0_32(SCMP_CMP_EQ, PR_SET_NAME);
    struct scmp_arg_cmp get_name = SCMP_A0_32(SCMP_CMP_EQ, PR_GET_NAME);
    struct scmp_arg_cmp kvm_ioctl = SCMP_A1_32(SCMP_CMP_MASKED_EQ, 0xff00, KVMIO << 8);
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &thread);
    r = r ?: add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "rt_sigaction", 1, &not_sigsys);
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &set_name);
    r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &get_name);
    if (r < 0)
        return r;
    switch (kind) {
    case JAIL_MAIN: {
        r = allow(ctx, main_calls);
        r = r ?: allow_modes(ctx, false);
        /* the health checker's connection to the box's mux (src/vmm/health.c) */
        struct scmp_arg_cmp unix_only = SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX);
        r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "socketpair", 1, &unix_only);
        r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &kvm_ioctl);
        break;
    }
    case JAIL_VCPU:
        r = allow(ctx, vcpu_calls);
        r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &kvm_ioctl);
        break;
    case JAIL_IO: {
        r = allow(ctx, io_calls);
        r = r ?: allow_modes(ctx, true);
        struct scmp_arg_cmp fionread = SCMP_A1_32(SCMP_CMP_EQ, FIONREAD);
        struct scmp_arg_cmp fionbio = SCMP_A1_32(SCMP_CMP_EQ, FIONBIO);
        r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &kvm_ioctl);
        r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &fionread);
        r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &fionbio);
        static const int domains[] = { AF_UNIX, AF_INET, AF_INET6 };
        for (size_t i = 0; i < 3 && !r; i++) {
            struct scmp_arg_cmp d = SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)domains[i]);
            r = add_rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &d);
        }
        r = r ?: allow_route_netlink(ctx);
        break;
    }
    case JAIL_SLIRP: {
        r = allow(ctx, slirp_calls);
        /* read-only opens (resolv.conf) */
        struct scmp_arg_cmp ro = SCMP_A2_32(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | __O_TMPFILE,
                                            O_RDONLY);
        r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "openat", 1, &ro);
        struct scmp_arg_cmp fionread = SCMP_A1_32(SCMP_CMP_EQ, FIONREAD);
        struct scmp_arg_cmp fionbio = SCMP_A1_32(SCMP_CMP_EQ, FIONBIO);
        r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &fionread);
        r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &fionbio);
        static const int domains[] = { AF_INET, AF_INET6 };
        for (size_t i = 0; i < 2 && !r; i++) {
            struct scmp_arg_cmp d = SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)domains[i]);
            r = add_rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &d);
        }
        r = r ?: allow_route_netlink(ctx);
        break;
    }
    default:
        r = -EINVAL;
    }
    return r;
}

/* QEMU keeps its own -sandbox; this adds what it does not check: default allow. */
static int qemu_rules(scmp_filter_ctx ctx)
{
    int r = 0;
    uint32_t eperm = SCMP_ACT_ERRNO(EPERM), enosys = SCMP_ACT_ERRNO(ENOSYS);
    static const unsigned setid[] = { 04000, 02000 };
    for (size_t i = 0; i < 2 && !r; i++) {
        struct scmp_arg_cmp creat[2] = { SCMP_A2_32(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT),
                                         SCMP_A3_32(SCMP_CMP_MASKED_EQ, setid[i], setid[i]) };
        struct scmp_arg_cmp tmpf[2] = { SCMP_A2_32(SCMP_CMP_MASKED_EQ, __O_TMPFILE, __O_TMPFILE),
                                        SCMP_A3_32(SCMP_CMP_MASKED_EQ, setid[i], setid[i]) };
        struct scmp_arg_cmp m1 = SCMP_A1_32(SCMP_CMP_MASKED_EQ, setid[i], setid[i]);
        struct scmp_arg_cmp m2 = SCMP_A2_32(SCMP_CMP_MASKED_EQ, setid[i], setid[i]);
        struct scmp_arg_cmp o1[2] = { SCMP_A1_32(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT),
                                      SCMP_A2_32(SCMP_CMP_MASKED_EQ, setid[i], setid[i]) };
        r = r ?: add_rule(ctx, eperm, "openat", 2, creat);
        r = r ?: add_rule(ctx, eperm, "openat", 2, tmpf);
        r = r ?: add_rule(ctx, eperm, "open", 2, o1);
        r = r ?: add_rule(ctx, eperm, "creat", 1, &m1);
        r = r ?: add_rule(ctx, eperm, "chmod", 1, &m1);
        r = r ?: add_rule(ctx, eperm, "fchmod", 1, &m1);
        r = r ?: add_rule(ctx, eperm, "fchmodat", 1, &m2);
        r = r ?: add_rule(ctx, eperm, "mkdir", 1, &m1);
        r = r ?: add_rule(ctx, eperm, "mkdirat", 1, &m2);
        r = r ?: add_rule(ctx, eperm, "mknodat", 1, &m2);
        r = r ?: add_rule(ctx, eperm, "mknod", 1, &m1);
    }
    static const unsigned special[] = { S_IFCHR, S_IFBLK, S_IFIFO };
    for (size_t i = 0; i < 3 && !r; i++) {
        struct scmp_arg_cmp t2 = SCMP_A2_32(SCMP_CMP_MASKED_EQ, S_IFMT, special[i]);
        struct scmp_arg_cmp t1 = SCMP_A1_32(SCMP_CMP_MASKED_EQ, S_IFMT, special[i]);
        r = r ?: add_rule(ctx, eperm, "mknodat", 1, &t2);
        r = r ?: add_rule(ctx, eperm, "mknod", 1, &t1);
    }
    static const char *const none[] = { "openat2", "io_uring_setup", "io_uring_enter",
                                        "io_uring_register", "userfaultfd", NULL };
    for (const char *const *n = none; *n && !r; n++)
        r = add_rule(ctx, enosys, *n, 0, NULL);
    static const char *const never[] = { "ptrace", "process_vm_readv", "process_vm_writev",
                                         "mount", "umount2", "pivot_root", "unshare", "setns",
                                         "chroot", "kexec_load", "init_module",
                                         "finit_module", "bpf", "perf_event_open", NULL };
    for (const char *const *n = never; *n && !r; n++)
        r = add_rule(ctx, eperm, *n, 0, NULL);
    return r;
}


/* The supervisor (jail.c) waits, forwards signals and writes exit.json: no more. */
static int supervisor_rules(scmp_filter_ctx ctx)
{
    static const char *const calls[] = {
        "read", "write", "close", "wait4", "waitid", "kill", "tgkill", "getpid", "gettid",
        "rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "poll", "ppoll", "openat",
        "rename", "renameat", "renameat2", "fstat", "newfstatat", "lseek", "brk", "mmap",
        "munmap", "exit", "exit_group", "futex", "clock_gettime", "restart_syscall", "fcntl",
        "sigaltstack", /* the sanitizers' _exit takes down their signal stack */
        NULL
    };
    return allow(ctx, calls);
}

/* A QEMU whose guest RAM is a file mapped privately (a fork's memory.base, shared with its
 * source and siblings): QEMU 7.2 gives the pages a guest frees (free page reporting, balloon
 * inflation) back with fallocate(PUNCH_HOLE) on the RAM file whether it maps it shared or
 * not (physmem.c, ram_block_discard_range), which would zero those pages in every other box
 * mapping the file. A hole punch fails instead: QEMU keeps the page (it logs the failure), and
 * a disk's discard is then unsupported (QEMU's block layer ignores that). */
static int private_ram_rules(scmp_filter_ctx ctx)
{
    struct scmp_arg_cmp punch = SCMP_A1_32(SCMP_CMP_MASKED_EQ, FALLOC_FL_PUNCH_HOLE,
                                           FALLOC_FL_PUNCH_HOLE);
    return add_rule(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP), "fallocate", 1, &punch);
}

uint32_t jail_seccomp_default(int which)
{
    if (which == JAIL_FILTER_QEMU || which == JAIL_FILTER_PRIVATE_RAM)
        return SCMP_ACT_ALLOW; /* they deny what they name */
    return which == JAIL_FILTER_SUPERVISOR ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_TRAP;
}

int jail_seccomp_rules(scmp_filter_ctx ctx, int which)
{
    if (which == JAIL_FILTER_QEMU)
        return qemu_rules(ctx);
    if (which == JAIL_FILTER_SUPERVISOR)
        return supervisor_rules(ctx);
    if (which == JAIL_FILTER_PRIVATE_RAM)
        return private_ram_rules(ctx);
    return kind_rules(ctx, (enum jail_thread_kind)which);
}
