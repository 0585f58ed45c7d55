// SPDX-License-Identifier: Apache-2.0
/* The VMM's seccomp filters at run time: one per thread kind (jail.h), QEMU's extra filter
 * (and, with private RAM, its no-hole-punch filter) and the supervisor's. Their rules are
 * in seccomp_rules.c (what each thread kind may call, and why), compiled to BPF when the
 * VMM is built (seccomp_gen.c -> build/gen/seccomp_bpf.c: jail_bpf[]), so installing one
 * is a single seccomp(2): cheap at start, and async-signal-safe (QEMU's child installs its
 * filters between fork and exec).
 *
 * A denied call traps (SECCOMP_RET_TRAP): the handler installed here writes the call's
 * number to the supervisor (jail.c) and makes one more denied call with its handler reset,
 * which the kernel then delivers as a fatal SIGSYS even to a namespace's init. */
#include "vmm/jail/jail_int.h"

#include "vmm/jail/seccomp_rules.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern const struct sock_fprog jail_bpf[JAIL_FILTERS]; /* build/gen/seccomp_bpf.c */

static bool prepared;
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

/* The sanitizer build's leak check cannot run in a confined process: LeakSanitizer stops the
 * world with a traced helper (prctl PR_SET_PTRACER, a non-thread clone, ptrace), which the
 * filters deny, so every exit ended in SIGSYS. Registered after LeakSanitizer's own at-exit
 * check and before the VMM's other handlers (which run first, being later), this ends the
 * process with its status once they are done. Leaks in the VMM's parts are checked where
 * they run unconfined: the unit tests and BOXLITE_UNCONFINED=1 boxes. */
#if defined(__SANITIZE_ADDRESS__)
#define JAIL_SKIP_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JAIL_SKIP_LEAK_CHECK 1
#endif
#endif
#ifdef JAIL_SKIP_LEAK_CHECK
static void exit_before_leak_check(int status, void *arg)
{
    (void)arg;
    fflush(NULL);
    _exit(status);
}
#endif

int jail_seccomp_prepare(const struct vmm_config *cfg, struct bl_error *err)
{
    if (!cfg || cfg->jail.disabled)
        return 0;
    struct sigaction sa = { .sa_sigaction = on_sigsys,
                            .sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0)
        return bl_errno(err, errno, "seccomp: SIGSYS handler");
#ifdef JAIL_SKIP_LEAK_CHECK
    on_exit(exit_before_leak_check, NULL);
#endif
    prepared = true;
    return 0;
}

void jail_seccomp_trace_mode(void)
{
    /* Every filter's denial (its default SECCOMP_RET_TRAP) becomes an allow: the filters
     * are installed where they would be, each thread's calls go through, and strace shows
     * which the lists lack (scripts/seccomp-trace.sh). The test build's only. */
    for (int w = 0; w < JAIL_KINDS; w++)
        for (unsigned i = 0; i < jail_bpf[w].len; i++)
            if (jail_bpf[w].filter[i].code == (BPF_RET | BPF_K) &&
                jail_bpf[w].filter[i].k == SECCOMP_RET_TRAP)
                jail_bpf[w].filter[i].k = SECCOMP_RET_ALLOW;
}

static int load(const struct sock_fprog *p)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, p);
}

int jail_supervisor_filter(void) { return load(&jail_bpf[JAIL_FILTER_SUPERVISOR]); }

int jail_thread_kind(void) { return thread_kind; }

void jail_thread_enter(enum jail_thread_kind kind)
{
    if (kind < 0 || kind >= JAIL_KINDS)
        return;
    thread_kind = kind;
    if (!prepared)
        return;
    if (load(&jail_bpf[kind]) < 0) {
        fprintf(stderr, "boxlite-vmm: seccomp (%s thread): %s: stopping\n", kind_names[kind],
                strerror(errno));
        syscall(SYS_exit_group, 2);
    }
}

void jail_qemu_child(bool private_ram)
{
    jail_caps_ambient(JAIL_FS_CAPS); /* a wide box's (jail_int.h); others have none to raise */
    if ((prepared && load(&jail_bpf[JAIL_FILTER_QEMU]) < 0) ||
        (private_ram && load(&jail_bpf[JAIL_FILTER_PRIVATE_RAM]) < 0)) {
        static const char msg[] = "boxlite: cannot confine QEMU (seccomp)\n";
        ssize_t n = write(2, msg, sizeof msg - 1);
        (void)n;
        _exit(127);
    }
}
