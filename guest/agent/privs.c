// SPDX-License-Identifier: Apache-2.0
/* The last steps of a process before its program: limits, then who it is and what it may
 * do (runtime-spec config.md "POSIX process": rlimits, oomScoreAdj, user.umask,
 * capabilities, user.additionalGids, noNewPrivileges; docs/protocol.md "The process's
 * limits and privileges"). The order is forced by the kernel (capabilities(7)): what needs
 * privilege (raising a hard limit, lowering oom_score_adj, dropping from the bounding set)
 * comes while the process is still root with every capability; PR_SET_KEEPCAPS carries the
 * permitted set across setuid so capset can then leave exactly the asked-for sets; ambient
 * capabilities (the only ones a non-root program keeps across execve) are raised last. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* capset(2)'s structures (linux/capability.h, which the musl build does not see) */
#define CAP_VERSION_3 0x20080522
struct cap_header {
    uint32_t version;
    int pid;
};
struct cap_data {
    uint32_t effective, permitted, inheritable;
};

/* The highest capability this kernel knows: PR_CAPBSET_READ says EINVAL past it. */
static int cap_last(void)
{
    int c = 0;
    while (c < 63 && prctl(PR_CAPBSET_READ, c + 1, 0, 0, 0) >= 0)
        c++;
    return c;
}

static int set_caps(const uint64_t caps[PROTO_CAP_SETS], int last, struct bl_error *e)
{
    uint64_t known = last >= 63 ? ~0ull : (1ull << (last + 1)) - 1;
    uint64_t eff = caps[PROTO_CAP_EFFECTIVE] & known, prm = caps[PROTO_CAP_PERMITTED] & known,
             inh = caps[PROTO_CAP_INHERITABLE] & known;
    struct cap_header h = { .version = CAP_VERSION_3 };
    struct cap_data d[2] = {
        { (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
        { (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) },
    };
    if (syscall(SYS_capset, &h, d) < 0)
        return bl_errno(e, errno, "set capabilities (effective %#llx, permitted %#llx, "
                        "inheritable %#llx; effective must lie in permitted, inheritable in "
                        "the bounding set)", (unsigned long long)eff, (unsigned long long)prm,
                        (unsigned long long)inh);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return bl_errno(e, errno, "clear the ambient capabilities");
    for (int c = 0; c <= last; c++)
        if ((caps[PROTO_CAP_AMBIENT] >> c & 1) &&
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            return bl_errno(e, errno, "raise ambient capability %d (it must be permitted and "
                            "inheritable)", c);
    return 0;
}

int process_become(const struct proto_exec_req *r, const struct user_info *u,
                   struct bl_error *e)
{
    for (unsigned i = 0; i < r->nrlimits; i++) {
        const struct proto_rlimit *l = &r->rlimits[i];
        /* RLIM_INFINITY is all ones in both the protocol and the kernel */
        struct rlimit rl = { .rlim_cur = (rlim_t)l->soft, .rlim_max = (rlim_t)l->hard };
        if (setrlimit((int)l->resource, &rl) < 0)
            return bl_errno(e, errno, "setrlimit %u (soft %llu, hard %llu)", l->resource,
                            (unsigned long long)l->soft, (unsigned long long)l->hard);
    }
    if (r->has_oom_score_adj) {
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        char b[16];
        int n = snprintf(b, sizeof b, "%d", (int)r->oom_score_adj);
        int rc = fd < 0 ? -1 : (int)write(fd, b, (size_t)n);
        int saved = errno;
        if (fd >= 0)
            close(fd);
        if (rc != n)
            return bl_errno(e, saved, "oom_score_adj %d", (int)r->oom_score_adj);
    }
    if (r->has_umask)
        umask((mode_t)r->umask);
    if (process_seccomp(r, false, e) < 0)
        return -1;
    int last = r->has_caps ? cap_last() : 0;
    if (r->has_caps) {
        /* dropping from the bounding set needs CAP_SETPCAP: before the uid changes */
        for (int c = 0; c <= last; c++)
            if (!(r->caps[PROTO_CAP_BOUNDING] >> c & 1) &&
                prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                return bl_errno(e, errno, "drop capability %d from the bounding set", c);
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            return bl_errno(e, errno, "keep capabilities across setuid");
    }
    size_t ngroups = r->has_groups ? r->ngroups : (size_t)u->ngroups;
    const gid_t *groups = r->has_groups ? (const gid_t *)r->groups : u->groups;
    if (setgroups(ngroups, groups) < 0 || setgid(u->gid) < 0 || setuid(u->uid) < 0) {
        /* natively (unit tests, not root) the agent already is the user it was asked for */
        if (u->uid != getuid() || u->gid != getgid())
            return bl_errno(e, errno, "switch to user %u:%u", (unsigned)u->uid,
                            (unsigned)u->gid);
    }
    if (r->has_caps) {
        if (set_caps(r->caps, last, e) < 0)
            return -1;
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    }
    if (r->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return bl_errno(e, errno, "no_new_privs");
    return process_seccomp(r, true, e);
}
