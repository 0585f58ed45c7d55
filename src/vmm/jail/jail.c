// SPDX-License-Identifier: Apache-2.0
/* Entering the jail (jail.h): descriptors, cgroups, limits, namespaces, the new root, the
 * fork into the PID namespace, the drop of privileges, and the supervisor that stays
 * outside. Linux: namespaces(7), pivot_root(2), capabilities(7), prctl(2) PR_SET_NO_NEW_PRIVS,
 * user_namespaces(7) (uid_map), Documentation/filesystems/idmappings.rst. */
#include "vmm/jail/jail_int.h"

#include "common/cleanup.h"
#include "common/userns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOFILE_MAX 16384 /* the 9p server holds one or two descriptors per guest fid */
#define STAGE "/tmp"     /* where the new root is built (a tmpfs over it, in our namespace) */

/* ---- descriptors and limits ---------------------------------------------------------------- */

static bool kept(int fd, const int *keep)
{
    for (const int *k = keep; k && *k >= 0; k++)
        if (*k == fd)
            return true;
    return false;
}

/* Closes everything but stdio and keep: an fd the caller had open to a secret file must
 * not stay readable through /proc/<vmm>/fd. */
static void close_inherited(const int *keep)
{
    int hi = 3;
    for (const int *k = keep; k && *k >= 0; k++)
        hi = *k + 1 > hi ? *k + 1 : hi;
    for (int fd = 3; fd < hi; fd++)
        if (!kept(fd, keep))
            close(fd);
    syscall(SYS_close_range, (unsigned)hi, ~0u, 0u);
}

static int set_limits(struct bl_error *err)
{
    struct rlimit core = { 0, 0 }, nofile;
    if (setrlimit(RLIMIT_CORE, &core) < 0)
        return bl_errno(err, errno, "jail: RLIMIT_CORE");
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max > NOFILE_MAX) {
        nofile.rlim_max = NOFILE_MAX;
        if (nofile.rlim_cur > NOFILE_MAX)
            nofile.rlim_cur = NOFILE_MAX;
        if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
            return bl_errno(err, errno, "jail: RLIMIT_NOFILE");
    }
    return 0;
}

/* ---- privileges ------------------------------------------------------------------------------- */

/* To uid:gid of the user namespace the process is in, with every capability gone but keep
 * (permitted and inheritable only: caps.c). */
static int drop(const struct jail_ids *ids, uid_t uid, gid_t gid, uint64_t keep,
                struct bl_error *err)
{
    if (jail_caps_bound(keep, err) < 0)
        return -err->code;
    if (ids->as_root) {
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
            setresuid(uid, uid, uid) < 0)
            return bl_errno(err, errno, "jail: become %u:%u", (unsigned)uid, (unsigned)gid);
    }
    /* from root to a uid the kernel clears them; in a user namespace they stay: set */
    if (jail_caps_set(keep, err) < 0)
        return -err->code;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return bl_errno(err, errno, "jail: no_new_privs");
    /* no ptrace or /proc/<pid>/mem by another process of the same user, no core */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return 0;
}

/* ---- the new root ------------------------------------------------------------------------------- */

/* Mount points of this namespace, deepest first, other than "/" and those under keep. */
static int other_mounts(const char *keep, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -1;
    char line[8192];
    size_t klen = strlen(keep);
    while (fgets(line, sizeof line, f)) {
        /* id parent major:minor root mountpoint ... (proc(5)); spaces are escaped as \040 */
        char mp[4096];
        if (sscanf(line, "%*d %*d %*s %*s %4095s", mp) != 1 || !strcmp(mp, "/"))
            continue;
        if (!strncmp(mp, keep, klen) && (mp[klen] == 0 || mp[klen] == '/'))
            continue;
        char **nl = realloc(*out, (*n + 1) * sizeof *nl);
        if (!nl)
            return -1;
        *out = nl;
        if (!(nl[*n] = strdup(mp)))
            return -1;
        (*n)++;
    }
    /* deepest first: longer paths first is enough for nested mount points */
    for (size_t i = 1; i < *n; i++)
        for (size_t j = i; j > 0 && strlen((*out)[j]) > strlen((*out)[j - 1]); j--) {
            char *t = (*out)[j];
            (*out)[j] = (*out)[j - 1];
            (*out)[j - 1] = t;
        }
    return 0;
}

/* Makes the tmpfs at STAGE the root of this mount namespace, the old root unreachable.
 * pivot_root(".", ".") then detaching the old root; where the old root is the initramfs
 * (rootfs cannot be pivoted away: EINVAL, as in the lab's L1), every other mount is detached
 * and the new root moved over "/" and chrooted into, as switch_root does. */
static int enter_root(void)
{
    if (chdir(STAGE) < 0)
        return -1;
    if (syscall(SYS_pivot_root, ".", ".") == 0)
        return umount2(".", MNT_DETACH) < 0 || chdir("/") < 0 ? -1 : 0;
    if (errno != EINVAL)
        return -1;
    char **mps;
    size_t n;
    if (other_mounts(STAGE, &mps, &n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        umount2(mps[i], MNT_DETACH); /* best effort: what stays is covered by the new root */
        free(mps[i]);
    }
    free(mps);
    if (mount(STAGE, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
        return -1;
    return 0;
}

/* ---- the supervisor -------------------------------------------------------------------------- */

static void json_text(FILE *f, const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
}

/* exit.json beside the ready file for a VMM that could not write its own. */
static void write_crash(const char *ready_file, const char *reason, int sig,
                        const struct jail_crash *c)
{
    if (!ready_file)
        return;
    const char *slash = strrchr(ready_file, '/');
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%.*s/exit.json", slash ? (int)(slash - ready_file) : 1,
             slash ? ready_file : ".");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return;
    fputs("{\"powered_off\":false,\"killed\":false,\"engine_failed\":true,\"crashed\":true,"
          "\"guest_status\":-1,",
          f);
    fprintf(f, "\"signal\":%d,", sig);
    if (c)
        fprintf(f, "\"syscall\":%d,\"syscall_name\":\"%s\",\"thread\":\"%s\",", c->syscall,
                jail_syscall_name(c->syscall, c->arch), jail_kind_name(c->kind));
    fputs("\"reason\":\"", f);
    json_text(f, reason);
    fputs("\"}\n", f);
    if (fclose(f) == 0)
        rename(tmp, path);
}

/* The parent side after the fork: never returns. */
static void __attribute__((noreturn))
supervise(pid_t child, int crash_rd, int sfd, const char *ready_file)
{
    struct jail_crash c = { 0 };
    bool have_crash = false;
    for (;;) {
        struct pollfd p[2] = { { .fd = sfd, .events = POLLIN },
                               { .fd = crash_rd, .events = POLLIN } };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents & POLLIN) {
            struct jail_crash r;
            if (read(crash_rd, &r, sizeof r) == (ssize_t)sizeof r && r.magic == JAIL_CRASH_MAGIC &&
                !have_crash) {
                c = r;
                have_crash = true;
            }
        } else if (p[1].revents) {
            p[1].fd = -1;
        }
        if (!(p[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo != SIGCHLD) {
                kill(child, (int)si.ssi_signo); /* stop requests go to the VMM */
                continue;
            }
            int st;
            pid_t w = waitpid(child, &st, WNOHANG);
            if (w != child)
                continue;
            if (WIFEXITED(st))
                _exit(WEXITSTATUS(st));
            int sig = WIFSIGNALED(st) ? WTERMSIG(st) : SIGKILL;
            struct jail_crash r;
            if (!have_crash && read(crash_rd, &r, sizeof r) == (ssize_t)sizeof r &&
                r.magic == JAIL_CRASH_MAGIC) {
                c = r;
                have_crash = true;
            }
            char reason[256];
            if (sig == SIGSYS && have_crash)
                snprintf(reason, sizeof reason,
                         "boxlite-vmm was killed by seccomp: forbidden system call %d (%s) in a "
                         "%s thread",
                         c.syscall, jail_syscall_name(c.syscall, c.arch), jail_kind_name(c.kind));
            else
                snprintf(reason, sizeof reason, "boxlite-vmm was killed by signal %d (%s)", sig,
                         strsignal(sig));
            fprintf(stderr, "boxlite-vmm: %s\n", reason);
            write_crash(ready_file, reason, sig, sig == SIGSYS && have_crash ? &c : NULL);
            /* die the same way, for whoever waits for this process */
            signal(sig, SIG_DFL);
            sigset_t all;
            sigfillset(&all);
            sigprocmask(SIG_UNBLOCK, &all, NULL);
            kill(getpid(), sig);
            _exit(128 + sig);
        }
    }
    _exit(2);
}

/* ---- entering ---------------------------------------------------------------------------------- */

/* A uid of the box's own from the configured range: the first whose lock file no running
 * box holds. The lock (flock, on a descriptor the supervisor and the VMM share) lasts as long
 * as this box's processes: a crash frees it with them. Boxes then share no uid, so a VMM
 * that escaped its namespaces still could not signal, trace or read another box's. */
static int pick_uid(const struct vmm_jail_cfg *j, struct jail_ids *ids, struct bl_error *err)
{
    if (mkdir(j->uid_locks, 0700) < 0 && errno != EEXIST)
        return bl_errno(err, errno, "jail: uid locks %s", j->uid_locks);
    for (uint32_t i = 0; i < j->uid_count; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%u.lock", j->uid_locks, j->uid_first + i);
        int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return bl_errno(err, errno, "jail: uid lock %s", p);
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            ids->uid = ids->gid = j->uid_first + i; /* fd stays open: the box's lock */
            return 0;
        }
        close(fd);
    }
    return bl_err(err, BOXLITE_ERR_STATE, "jail: all %u uids from %u are taken by running boxes "
                  "(widen BOXLITE_JAIL_UIDS)", j->uid_count, j->uid_first);
}

/* A container's root file system among the shares (QEMU's security_model=none). */
static bool shares_rootfs(const struct vmm_config *cfg)
{
    for (unsigned i = 0; i < cfg->nshares; i++)
        if (cfg->shares[i].rootfs)
            return true;
    return false;
}

int jail_enter(const struct vmm_config *cfg, const struct jail_needs *needs, struct bl_error *err)
{
    if (cfg->jail.disabled)
        return 0;
    close_inherited(needs ? needs->keep_fds : NULL);
    struct jail_ids ids = { .as_root = geteuid() == 0, .idmap_fd = -1 };
    ids.owner_uid = geteuid();
    ids.owner_gid = getegid();
    ids.uid = ids.as_root ? cfg->jail.uid : ids.owner_uid;
    ids.gid = ids.as_root ? cfg->jail.gid : ids.owner_gid;
    if (ids.as_root && cfg->jail.uid_count && pick_uid(&cfg->jail, &ids, err) < 0)
        return -err->code;
    /* Only the QEMU engine serves a container's root (the KVM engine's 9p server has no
     * security_model=none); every other box keeps the one-uid jail (jail_int.h). */
    ids.wide = ids.as_root && needs && needs->qemu_binary && shares_rootfs(cfg);
    if (ids.wide)
        ids.uid = ids.gid = jail_range_first(ids.uid);

    struct jail_plan plan;
    int r = jail_plan_build(&plan, cfg, needs, err);
    char notice[512] = "";
    if (!r && ids.as_root)
        r = jail_cgroup_enter(cfg, needs && needs->qemu_binary, notice, sizeof notice, err);
    if (!r && notice[0])
        fprintf(stderr, "boxlite-vmm: jail: cgroup limits not all applied: %s\n", notice);
    if (!r)
        r = set_limits(err);
    /* files the box writes keep belonging to its owner: the VMM's uid maps onto the owner's */
    if (!r && ids.as_root && (ids.wide || ids.uid != ids.owner_uid || ids.gid != ids.owner_gid))
        ids.idmap_fd = userns_idmap_fd(ids.owner_uid, ids.uid, ids.owner_gid, ids.gid,
                                       ids.wide ? JAIL_RANGE : 1);
    if (!r && ids.wide && ids.idmap_fd < 0)
        r = bl_errno(err, errno, "jail: the box's user namespace (%u uids from %u)", JAIL_RANGE,
                     (unsigned)ids.uid);
    if (!r && !ids.as_root)
        r = jail_self_userns(err);
    /* The host's network namespace only where the user-mode network needs it: a box
     * without a network gets an empty one (no interface but a down loopback). */
    int ns = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID | (cfg->network && !cfg->netns ? 0 : CLONE_NEWNET);
    if (!r && unshare(ns) < 0)
        r = bl_errno(err, errno, "jail: unshare namespaces");
    if (!r && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        r = bl_errno(err, errno, "jail: make mounts private");
    if (!r)
        r = jail_root_build(&plan, STAGE, &ids, err);
    if (ids.idmap_fd >= 0 && !ids.wide) /* a wide VMM enters it below */
        close(ids.idmap_fd);
    int crash[2] = { -1, -1 }, up[2] = { -1, -1 }, down[2] = { -1, -1 };
    if (!r && (pipe2(crash, O_CLOEXEC) < 0 || pipe2(up, O_CLOEXEC) < 0 ||
               pipe2(down, O_CLOEXEC) < 0))
        r = bl_errno(err, errno, "jail: pipe");
    if (r) {
        if (ids.wide && ids.idmap_fd >= 0)
            close(ids.idmap_fd);
        jail_plan_free(&plan);
        return r;
    }
    sethostname("boxlite-vmm", 11);
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGCHLD);
    sigprocmask(SIG_BLOCK, &sigs, &old);
    pid_t child = fork();
    if (child < 0) {
        jail_plan_free(&plan);
        return bl_errno(err, errno, "jail: fork");
    }
    char c;
    if (child > 0) {
        /* The supervisor. The VMM mounts its /proc first (a new procfs in a user namespace
         * needs a visible one: the host's, until the pivot), then the old root goes. */
        close(crash[1]);
        close(up[1]);
        close(down[0]);
        bool ok = read(up[0], &c, 1) == 1;
        if (ok && enter_root() < 0) {
            fprintf(stderr, "boxlite-vmm: jail: pivot_root: %s\n", strerror(errno));
            ok = false;
        }
        if (!ok || write(down[1], "x", 1) != 1)
            kill(child, SIGKILL);
        int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
        struct bl_error e2 = { 0 };
        if (sfd < 0 || drop(&ids, ids.uid, ids.gid, 0, &e2) < 0) {
            fprintf(stderr, "boxlite-vmm: jail: supervisor: %s\n",
                    e2.msg[0] ? e2.msg : strerror(errno));
            kill(child, SIGKILL);
        }
        for (int fd = 3; fd < 1024; fd++)
            if (fd != sfd && fd != crash[0])
                close(fd);
        if (jail_supervisor_filter() < 0) {
            fprintf(stderr, "boxlite-vmm: jail: supervisor: seccomp failed\n");
            kill(child, SIGKILL);
        }
        supervise(child, crash[0], sfd, cfg->ready_file);
    }
    /* The VMM: PID 1 of its namespace. Its procfs shows processes only (no /proc/sys, no
     * kcore; subset=pid, Linux 5.8). */
    close(crash[0]);
    close(up[0]);
    close(down[1]);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (mount("proc", STAGE "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid") < 0 &&
        mount("proc", STAGE "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        r = bl_errno(err, errno, "jail: mount /proc");
    /* standing in the new root while the supervisor switches to it: pivot_root moves our
     * root along, a move over "/" (enter_root) needs our chroot(".") too */
    if (!r && chdir(STAGE) < 0)
        r = bl_errno(err, errno, "jail: chdir %s", STAGE);
    if (!r && (write(up[1], "x", 1) != 1 || read(down[0], &c, 1) != 1))
        r = bl_err(err, BOXLITE_ERR_ENGINE, "jail: the supervisor could not pivot");
    close(up[1]);
    close(down[0]);
    if (!r && (chroot(".") < 0 || chdir("/") < 0))
        r = bl_errno(err, errno, "jail: chroot");
    if (!r && chdir(plan.cwd ? plan.cwd : "/") < 0)
        r = bl_errno(err, errno, "jail: chdir %s", plan.cwd);
    /* A wide box's VMM becomes uid 0 of its own user namespace (host ids.uid), keeping
     * JAIL_FS_CAPS for QEMU: it is single-threaded and root here, as setns(2) requires. */
    if (!r && ids.wide && setns(ids.idmap_fd, CLONE_NEWUSER) < 0)
        r = bl_errno(err, errno, "jail: enter the box's user namespace");
    if (ids.wide)
        close(ids.idmap_fd);
    if (!r)
        r = ids.wide ? drop(&ids, 0, 0, JAIL_FS_CAPS, err) : drop(&ids, ids.uid, ids.gid, 0, err);
    /* after the drop: a change of credentials clears the parent-death signal */
    if (!r && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        r = bl_errno(err, errno, "jail: PR_SET_PDEATHSIG");
    /* A supervisor killed before that line sent no signal: it held the crash pipe's read
     * end, so a hung-up pipe says it is gone (getppid is 0 for a namespace's init). */
    struct pollfd sup = { .fd = crash[1], .events = 0 };
    if (!r && poll(&sup, 1, 0) == 1 && (sup.revents & (POLLERR | POLLHUP)))
        r = bl_err(err, BOXLITE_ERR_ENGINE, "jail: the supervisor is gone");
    jail_crash_fd(crash[1]);
    jail_plan_free(&plan);
    return r;
}
