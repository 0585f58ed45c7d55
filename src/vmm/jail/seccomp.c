/* The VMM's seccomp allow-lists, one per thread kind (jail.h), and QEMU's extra filter.
 * Built with libseccomp from system call names (a name the architecture lacks is skipped),
 * compiled once to BPF, then installed by each thread with seccomp(2) itself, which is
 * cheap and async-signal-safe (QEMU's child installs its filter between fork and exec).
 *
 * The lists were taken from what the threads really call: strace -f of boxlite-vmm running
 * the e2e workloads on both engines (boot, exec, cp both ways, volumes, network, port
 * forwards, stop), see docs/architecture.md "The jail". Arguments are checked where it
 * matters: no setuid/setgid mode bit in chmod, open(O_CREAT) or mkdir (a compromised VMM
 * writing through an idmapped volume would otherwise make setuid-root files), only thread
 * clones (no fork), only KVM ioctls on vCPU threads, no new SIGSYS handler.
 *
 * A denied call traps (SECCOMP_RET_TRAP): the handler installed here writes the call's
 * number to the supervisor (jail.c) and makes one more denied call with its handler reset,
 * which the kernel then delivers as a fatal SIGSYS even to a namespace's init. */
#include "vmm/jail/jail_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000
#endif
#define KVMIO 0xAE /* Linux include/uapi/linux/kvm.h: the ioctl type of every KVM call */

static struct sock_fprog progs[JAIL_KINDS];
static struct sock_fprog qemu_prog;
static int crash_fd = -1;
static _Thread_local int thread_kind = -1;

static const char *const kind_names[JAIL_KINDS] = { "main", "vcpu", "io", "slirp" };
const char *jail_kind_name(int kind)
{
    return kind >= 0 && kind < JAIL_KINDS ? kind_names[kind] : "unknown";
}

const char *jail_syscall_name(int nr, uint32_t arch)
{
    static char name[64];
    char *n = seccomp_syscall_resolve_num_arch(arch, nr);
    snprintf(name, sizeof name, "%s", n ? n : "unknown");
    free(n);
    return name;
}

void jail_crash_fd(int fd) { crash_fd = fd; }

/* ---- the lists -------------------------------------------------------------------------- */

/* Every thread: memory, time, locks, its own signals and end. */
static const char *const common[] = {
    "read", "write", "readv", "writev", "close", "futex", "exit", "exit_group",
    "rt_sigreturn", "rt_sigprocmask", "restart_syscall", "clock_gettime", "clock_nanosleep",
    "nanosleep", "gettid", "getpid", "tgkill", "madvise", "mmap", "munmap", "mprotect", "brk",
    "mremap", "sched_yield", "getrandom", "lseek", "fstat", "newfstatat", "statx", "fcntl",
    "dup", "dup3", "poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_ctl", "eventfd2",
    "sched_getaffinity", "set_robust_list", "rseq", NULL
};
/* The control loop, the box socket's mux, the waiter; ready/stats/exit files. */
static const char *const main_calls[] = {
    "accept4", "recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown", "getsockopt",
    "setsockopt", "rename", "renameat", "renameat2", "unlink", "unlinkat", "getrusage",
    "wait4", "waitid", "kill", "pidfd_send_signal", "sysinfo", "pipe2", "fsync", "fdatasync",
    "uname", "getdents64", "epoll_create1", NULL
};
/* KVM_RUN and the exits it handles in place (serial, control page, config space). */
static const char *const vcpu_calls[] = {
    "pread64", "pwrite64", "preadv", "pwritev", "fdatasync", "fsync", "fallocate", "sendmsg",
    "recvmsg", NULL
};
/* Device back ends: disks, the 9p server, console and network sockets. */
static const char *const io_calls[] = {
    "pread64", "pwrite64", "preadv", "pwritev", "fdatasync", "fsync", "fallocate",
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

typedef struct { const char *name; unsigned n; struct scmp_arg_cmp a[2]; } cond_rule;

static int allow(scmp_filter_ctx ctx, const char *const *names)
{
    for (const char *const *n = names; *n; n++) {
        int nr = seccomp_syscall_resolve_name(*n);
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
    int nr = seccomp_syscall_resolve_name(name);
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
    case JAIL_MAIN:
        r = allow(ctx, main_calls);
        r = r ?: allow_modes(ctx, false);
        r = r ?: add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &kvm_ioctl);
        break;
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

/* Compiles ctx to BPF (libseccomp 2.5 exports to a descriptor only). */
static int compile(scmp_filter_ctx ctx, struct sock_fprog *out)
{
    int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = seccomp_export_bpf(ctx, fd);
    off_t len = r < 0 ? -1 : lseek(fd, 0, SEEK_END);
    struct sock_filter *f = len > 0 ? malloc((size_t)len) : NULL;
    if (r == 0 && (!f || pread(fd, f, (size_t)len, 0) != len))
        r = -EIO;
    close(fd);
    if (r < 0) {
        free(f);
        return r;
    }
    out->filter = f;
    out->len = (unsigned short)(len / (off_t)sizeof *f);
    return 0;
}

/* ---- the SIGSYS handler ------------------------------------------------------------------- */

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    struct jail_crash c = { .magic = JAIL_CRASH_MAGIC, .syscall = si->si_syscall,
                            .arch = si->si_arch, .kind = thread_kind };
    if (crash_fd >= 0) {
        ssize_t n = write(crash_fd, &c, sizeof c);
        (void)n;
    }
    /* SA_RESETHAND made SIGSYS fatal again: one more denied call is delivered as a forced
     * SIGSYS, which ends even a PID namespace's init. */
    syscall(SYS_kexec_load, 0, 0, 0, 0);
    syscall(SYS_exit_group, 128 + SIGSYS);
}

int jail_seccomp_prepare(const struct vmm_config *cfg, struct bl_error *err)
{
    if (!cfg || cfg->jail.disabled)
        return 0;
    for (int k = 0; k < JAIL_KINDS; k++) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
        if (!ctx)
            return bl_errno(err, ENOMEM, "seccomp");
        int r = kind_rules(ctx, (enum jail_thread_kind)k);
        if (r == 0)
            r = compile(ctx, &progs[k]);
        seccomp_release(ctx);
        if (r < 0)
            return bl_errno(err, -r, "seccomp: the %s filter", kind_names[k]);
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return bl_errno(err, ENOMEM, "seccomp");
    int r = qemu_rules(ctx);
    if (r == 0)
        r = compile(ctx, &qemu_prog);
    seccomp_release(ctx);
    if (r < 0)
        return bl_errno(err, -r, "seccomp: QEMU's filter");
    struct sigaction sa = { .sa_sigaction = on_sigsys,
                            .sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0)
        return bl_errno(err, errno, "seccomp: SIGSYS handler");
    return 0;
}

static int load(const struct sock_fprog *p)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, p);
}

void jail_thread_enter(enum jail_thread_kind kind)
{
    if (kind < 0 || kind >= JAIL_KINDS || !progs[kind].filter)
        return;
    thread_kind = kind;
    if (load(&progs[kind]) < 0) {
        fprintf(stderr, "boxlite-vmm: seccomp (%s thread): %s: stopping\n", kind_names[kind],
                strerror(errno));
        syscall(SYS_exit_group, 2);
    }
}

void jail_qemu_child(void)
{
    if (qemu_prog.filter && load(&qemu_prog) < 0) {
        static const char msg[] = "boxlite: cannot confine QEMU (seccomp)\n";
        ssize_t n = write(2, msg, sizeof msg - 1);
        (void)n;
        _exit(127);
    }
}
