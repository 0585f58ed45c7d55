// SPDX-License-Identifier: Apache-2.0
/* The jail of the per-box process, after Firecracker's jailer: boxlite-vmm (and the QEMU it
 * runs) sees only the files its box needs, in namespaces of its own, as an unprivileged user
 * without capabilities, with a seccomp allow-list per thread kind, resource limits, and
 * nothing inherited from its caller. Configured by the "jail" object of vmm.json
 * (docs/architecture.md); "enabled": false runs unconfined, for debugging only.
 *
 * jail_enter(), early in main() while the process has one thread:
 *   1. closes every inherited descriptor but stdio and those the caller keeps (lifeline);
 *   2. puts itself in the box's cgroups (cgroup.c) and sets rlimits (NOFILE, CORE 0);
 *   3. unshares mount, PID, IPC and UTS namespaces (and, started by a user who is not
 *      root, a user namespace mapping that user to itself); the network namespace stays the
 *      host's where the user-mode network (libslirp) needs it, else an empty one;
 *   4. builds a root on a fresh tmpfs holding only the kernel, initrd, disks and their
 *      backing files, shares, the box folder, /dev/{null,zero,urandom,random} (+kvm for
 *      the KVM engine) and, for the QEMU engine, QEMU's binary, libraries and firmware
 *      (mounts.c), each at the path the config names, read-only where nothing is written,
 *      and pivots into it;
 *   5. forks: the child is PID 1 of the new PID namespace and returns to main() as the
 *      VMM; the parent stays outside as the supervisor (it never returns): it forwards
 *      SIGTERM/SIGINT/SIGHUP, exits with the VMM's status, and when the VMM was killed by a
 *      signal writes exit.json beside the ready file saying why (for a seccomp denial, the
 *      system call's number and name, which the VMM's SIGSYS handler passed it);
 *   6. both drop privileges: started by root, to the configured uid/gid (default
 *      65534:65534), supplementary groups cleared, every capability dropped (bounding,
 *      ambient, inheritable, effective), no_new_privs, not dumpable. A box sharing a
 *      container's root file system ("wide", jail_int.h) instead runs its VMM and QEMU as
 *      uid 0 of a user namespace of its own over 65536 host uids, where QEMU keeps CHOWN,
 *      FOWNER and DAC_OVERRIDE so that the container's owners reach the disk.
 * Files the box writes keep belonging to the box's owner (the user who started the VMM)
 * where the filesystem allows an idmapped mount of the VMM's uid onto the owner's; where
 * it does not (tmpfs before Linux 6.3), the box's own files (folder, disks, console log)
 * are given to the VMM's user and a share is writable only where that user may write.
 *
 * Seccomp (seccomp.c): jail_seccomp_prepare() compiles one filter per thread kind; each
 * thread that starts before the main thread's filter calls jail_thread_enter() with its
 * kind first thing, threads started later inherit their creator's. A denied call ends the
 * process with SIGSYS after the VMM's handler told the supervisor which call it was. */
#ifndef VMM_JAIL_JAIL_H
#define VMM_JAIL_JAIL_H

#include "common/error.h"
#include "vmm/config.h"

#include <stdbool.h>

/* What the engine needs in the jail beyond the config's paths. */
struct jail_needs {
    bool kvm_dev;            /* /dev/kvm (the KVM engine, or QEMU with KVM acceleration) */
    const char *qemu_binary; /* the QEMU engine's binary (with its libraries and firmware) */
    const int *keep_fds;     /* descriptors to keep open besides stdio, -1 ended; may be NULL */
};

/* Enters the jail (see above). Returns 0 in the confined VMM process; the supervisor never
 * returns. On failure nothing was changed that matters: the caller reports err and exits
 * (a VMM that cannot be confined does not run). */
int jail_enter(const struct vmm_config *cfg, const struct jail_needs *needs,
               struct bl_error *err);

/* The kinds of threads, each with its own allow-list. */
enum jail_thread_kind {
    JAIL_MAIN,  /* main(): the control loop, the box socket's mux, waiting for the VM */
    JAIL_VCPU,  /* KVM_RUN and the device exits it handles */
    JAIL_IO,    /* the event loop's device back ends, 9p workers, QEMU's relays */
    JAIL_SLIRP, /* libslirp's poll thread: sockets to the outside */
    JAIL_KINDS
};

/* Compiles the filters (no-op when jail is NULL or disabled). Called by main() once the
 * jail is entered, before the engine starts threads. */
int jail_seccomp_prepare(const struct vmm_config *cfg, struct bl_error *err);
/* For tracing what threads call (the VMM's test build only, BOXLITE_VMM_TEST=trace-syscalls):
 * the filters keep their places but deny nothing. */
void jail_seccomp_trace_mode(void);
/* Installs kind's filter on the calling thread; no-op when none was prepared (unit tests,
 * unconfined runs). A thread that cannot be confined ends the process. */
void jail_thread_enter(enum jail_thread_kind kind);
/* The kind the calling thread declared with jail_thread_enter() (whether or not a filter
 * was installed), or -1 for threads that inherited their creator's. */
int jail_thread_kind(void);
/* In the QEMU engine's child between fork and exec (async-signal-safe): a wide box's
 * capabilities raised to ambient (kept across the exec), then QEMU's own filter
 * on top of its -sandbox: no setuid/setgid mode bits in chmod, open or mkdir, no device
 * nodes or FIFOs, no io_uring or userfaultfd (none when no filter was prepared). With
 * private_ram (guest RAM a file mapped privately, shared with other boxes), no hole punch
 * in any file, confined or not: seccomp_rules.c says why. Returns only if all went in. */
void jail_qemu_child(bool private_ram);

#endif
