// SPDX-License-Identifier: Apache-2.0
/* The relay: the host process that stands for a container's (or an exec's) process. It
 * is a live descendant of the caller (conmon, a shim: subreapers that wait for it), so
 * its exit status is the container's; it carries stdio or a pseudo-terminal whose master
 * went to --console-socket (runc's convention: one SCM_RIGHTS message), forwards the
 * signals `kill` sends it, and the window size. */
#include "runtime.h"

#include "common/cleanup.h"
#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

void relay_signal_set(sigset_t *set)
{
    sigfillset(set);
    /* not forwardable, or the ones a fault raises in this process itself */
    static const int keep[] = { SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
                                SIGABRT, SIGSYS };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        sigdelset(set, keep[i]);
}

static int send_fd(int sock, int fd, struct bl_error *err)
{
    char byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                          .msg_controllen = sizeof u.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : bl_errno(err, errno, "send the terminal to the console socket");
}

int relay_pty(int console_fd, unsigned rows, unsigned cols, struct bl_error *err)
{
    cleanup_close int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return bl_errno(err, errno, "open a pseudo-terminal");
    char name[128];
    if (grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name))
        return bl_errno(err, errno, "set up a pseudo-terminal");
    if (setsid() < 0 && errno != EPERM)
        return bl_errno(err, errno, "setsid");
    int slave = open(name, O_RDWR | O_CLOEXEC);
    if (slave < 0)
        return bl_errno(err, errno, "open %s", name);
    /* the session's controlling terminal: the caller's resizes arrive as SIGWINCH */
    ioctl(slave, TIOCSCTTY, 0);
    struct termios t;
    if (tcgetattr(slave, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(slave, TCSANOW, &t);
    }
    if (rows && cols) {
        struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
        ioctl(slave, TIOCSWINSZ, &ws);
    }
    if (send_fd(console_fd, master, err) < 0) {
        close(slave);
        return -1;
    }
    return slave;
}

static void relay_security(const struct oci_process *p, struct relay_security *sec)
{
    boxlite_process_security *ps = &sec->ps;
    *ps = (boxlite_process_security){ .size = sizeof *ps, .rlimits = sec->rl,
                                      .n_rlimits = p->nrlimits,
                                      .no_new_privs = p->no_new_privs };
    for (size_t i = 0; i < p->nrlimits && i < OCI_MAX_RLIMITS; i++)
        sec->rl[i] = (boxlite_rlimit){ .resource = p->rlimits[i].resource,
                                       .soft = p->rlimits[i].soft, .hard = p->rlimits[i].hard };
    if (p->has_caps) {
        ps->set |= BOXLITE_PROC_CAPS;
        ps->cap_bounding = p->cap_bounding;
        ps->cap_effective = p->cap_effective;
        ps->cap_permitted = p->cap_permitted;
        ps->cap_inheritable = p->cap_inheritable;
        ps->cap_ambient = p->cap_ambient;
    }
    if (p->cap_unknown)
        warn("process.capabilities: %s is not a capability this runtime knows; left out",
             p->cap_unknown);
    if (p->has_gids) {
        ps->set |= BOXLITE_PROC_GROUPS;
        ps->groups = p->gids;
        ps->n_groups = p->ngids;
    }
    if (p->has_umask) {
        ps->set |= BOXLITE_PROC_UMASK;
        ps->umask = p->umask;
    }
    if (p->has_oom_score_adj) {
        ps->set |= BOXLITE_PROC_OOM_SCORE_ADJ;
        ps->oom_score_adj = p->oom_score_adj;
    }
}

void relay_exec_spec(const struct oci_process *p, boxlite_exec_spec *spec, char *user,
                     size_t user_len, struct relay_security *sec)
{
    snprintf(user, user_len, "%u:%u", p->uid, p->gid);
    *spec = (boxlite_exec_spec){ .size = sizeof *spec, .argv = (const char *const *)p->args,
                                 .env = (const char *const *)p->env, .working_dir = p->cwd,
                                 .user = user, .tty = p->terminal, .rows = p->rows,
                                 .cols = p->cols, .security = &sec->ps };
    relay_security(p, sec);
    if (p->terminal && (!spec->rows || !spec->cols)) {
        spec->rows = 24;
        spec->cols = 80;
    }
}

void relay_confine(const struct oci_spec *s, bool container, struct relay_security *sec)
{
    const struct oci_seccomp *f = &s->seccomp;
    sec->ps.seccomp_filter = f->bpf;
    sec->ps.seccomp_len = f->len;
    sec->ps.seccomp_flags = f->flags;
    if (f->skipped)
        debug("seccomp: %zu syscall names unknown to libseccomp skipped (%s, ...)", f->skipped,
              f->first_skipped);
    if (!container)
        return;
    sec->ps.masked_paths = (const char *const *)s->view.masked;
    sec->ps.readonly_paths = (const char *const *)s->view.readonly;
    sec->ps.sysctl = (const char *const *)s->view.sysctl;
    sec->ps.devices = s->view.devices;
    sec->ps.n_devices = s->view.ndevices;
    relay_tmpfs(s, sec);
}

int relay_mount_kind(const struct oci_mount *m)
{
    /* the guest's container init makes its own /proc, /sys, /dev; a file bound in /dev
     * (the kubelet's termination log) is carried onto the new /dev of a pod's container
     * (guest/agent/container.c), a folder there (/dev/shm) is the guest's */
    static const char *const own[] = { "/proc", "/sys", "/dev" };
    bool in_dev = false;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        size_t n = strlen(own[i]);
        if (!strncmp(m->destination, own[i], n) &&
            (!m->destination[n] || m->destination[n] == '/')) {
            if (i != 2)
                return 0;
            in_dev = true;
        }
    }
    struct stat st;
    if (!m->bind || !m->source || stat(m->source, &st) != 0)
        return 0;
    if (in_dev) /* directly in /dev: the guest carries no deeper file */
        return S_ISREG(st.st_mode) && m->destination[4] == '/' && m->destination[5] &&
                       !strchr(m->destination + 5, '/')
                   ? S_IFREG
                   : 0;
    return S_ISDIR(st.st_mode) ? S_IFDIR : S_ISREG(st.st_mode) ? S_IFREG : 0;
}

/* Opens path inside rootfs as the guest would resolve it (symlinks stay inside). */
static int open_in_root(int rootfd, const char *path)
{
    struct open_how how = { .flags = O_PATH | O_CLOEXEC,
                            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
    return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

static bool executable_at(int rootfd, const char *path)
{
    cleanup_close int fd = open_in_root(rootfd, path);
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

int relay_mkdir_in_root(const char *rootfs, const char *path, struct bl_error *err)
{
    return relay_mountpoint_in_root(rootfs, path, false, err);
}

int relay_mountpoint_in_root(const char *rootfs, const char *path, bool file,
                             struct bl_error *err)
{
    cleanup_close int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return bl_errno(err, errno, "open rootfs %s", rootfs);
    char prefix[4200] = "";
    size_t plen = 0;
    for (const char *c = path; *c;) {
        while (*c == '/')
            c++;
        size_t n = strcspn(c, "/");
        if (!n)
            break;
        if (plen + n + 2 >= sizeof prefix)
            return bl_err(err, BOXLITE_ERR_INVALID, "mount point %s: path too long", path);
        /* the parent resolved as the guest would (a symlink stays inside the rootfs) */
        cleanup_close int parent = open_in_root(rootfd, plen ? prefix : "/");
        if (parent < 0)
            return bl_errno(err, errno, "mount point %s: open %s", path, plen ? prefix : "/");
        char comp[256];
        if (n >= sizeof comp)
            return bl_err(err, BOXLITE_ERR_INVALID, "mount point %s: name too long", path);
        memcpy(comp, c, n);
        comp[n] = 0;
        if (!strcmp(comp, ".."))
            return bl_err(err, BOXLITE_ERR_INVALID, "mount point %s: \"..\"", path);
        /* O_PATH descriptors cannot be used with mkdirat: through /proc/self/fd */
        char at[64];
        snprintf(at, sizeof at, "/proc/self/fd/%d", parent);
        cleanup_close int pdir = open(at, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        c += n;
        bool last = !c[strspn(c, "/")];
        if (file && last) {
            /* a file bind's mount point: an empty file, never through a link, never waiting
             * on a FIFO the image put there, nothing written */
            int f = pdir < 0 ? -1
                             : openat(pdir, comp, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
                                                      O_CLOEXEC, 0644);
            if (f < 0 && errno == ELOOP)
                f = open_in_root(rootfd, path); /* a link in the image: where it leads */
            if (f < 0)
                return bl_errno(err, errno, "mount point %s: create %s", path, comp);
            close(f);
            return 0;
        }
        if (pdir < 0 || (mkdirat(pdir, comp, 0755) < 0 && errno != EEXIST))
            return bl_errno(err, errno, "mount point %s: mkdir %s", path, comp);
        prefix[plen++] = '/';
        memcpy(prefix + plen, comp, n + 1);
        plen += n;
    }
    return 0;
}

/* Whether path is an executable file of the container: under a volume's destination the
 * box sees the volume's folder (9p), not the rootfs beneath it (the deepest volume wins). */
static bool executable_in(int rootfd, const struct oci_spec *s, const char *path)
{
    const struct oci_mount *vol = NULL;
    size_t at = 0;
    for (size_t i = 0; i < s->nmounts; i++) {
        const struct oci_mount *m = &s->mounts[i];
        size_t n = strlen(m->destination);
        while (n > 1 && m->destination[n - 1] == '/')
            n--;
        if (n > at && n > 1 && !strncmp(path, m->destination, n) && path[n] == '/' &&
            relay_mount_kind(m) == S_IFDIR) {
            vol = m;
            at = n;
        }
    }
    if (!vol)
        return executable_at(rootfd, path);
    cleanup_close int volfd = open(vol->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return volfd >= 0 && executable_at(volfd, path + at);
}

int relay_lookpath(const char *rootfs, const struct oci_spec *s, const struct oci_process *p,
                   struct bl_error *err)
{
    cleanup_close int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return bl_errno(err, errno, "open rootfs %s", rootfs);
    const char *prog = p->args[0];
    if (strchr(prog, '/')) {
        char path[4200];
        /* a relative path with a slash is relative to the working directory */
        snprintf(path, sizeof path, "%s%s%s", prog[0] == '/' ? "" : p->cwd,
                 prog[0] == '/' || p->cwd[strlen(p->cwd) - 1] == '/' ? "" : "/", prog);
        if (executable_in(rootfd, s, path))
            return 0;
        return bl_err(err, BOXLITE_ERR_NOT_FOUND,
                      "exec: \"%s\": stat %s: no such file or directory", prog, prog);
    }
    const char *path = oci_env_get(p->env, "PATH");
    if (!path)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const char *d = path; *d;) {
        size_t n = strcspn(d, ":");
        char cand[4200];
        if (n && snprintf(cand, sizeof cand, "%.*s/%s", (int)n, d, prog) < (int)sizeof cand &&
            executable_in(rootfd, s, cand))
            return 0;
        d += n + (d[n] == ':');
    }
    return bl_err(err, BOXLITE_ERR_NOT_FOUND, "exec: \"%s\": executable file not found in $PATH",
                  prog);
}

/* Copies what is readable on from to to; 0 at end of stream (or a dead reader), 1 else. */
static int copy_out(int from, int to, bool *to_ok)
{
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 1 : 0;
    if (n == 0)
        return 0;
    if (*to_ok && io_write_all(to, buf, (size_t)n) < 0)
        *to_ok = false; /* the caller stopped reading: keep draining, so the guest never blocks */
    return 1;
}

int relay_pump(boxlite_exec *ex, int in_fd, int out_fd, int err_fd, int tty_fd, int sigfd)
{
    int ofd = boxlite_exec_stdout_fd(ex), efd = boxlite_exec_stderr_fd(ex);
    int dfd = boxlite_exec_done_fd(ex);
    bool out_ok = true, err_ok = true, done = false;
    /* after the process ended, what it wrote is drained; a grandchild holding its streams
     * open must not keep the container alive forever, so the drain has a bound */
    int drain_ms = 2000;
    for (;;) {
        struct pollfd p[5] = {
            { .fd = in_fd, .events = POLLIN }, { .fd = ofd, .events = POLLIN },
            { .fd = efd, .events = POLLIN },   { .fd = done ? -1 : dfd, .events = POLLIN },
            { .fd = sigfd, .events = POLLIN },
        };
        if (done && ofd < 0 && efd < 0)
            break;
        int n = poll(p, 5, done ? drain_ms : -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break; /* drained as far as we wait */
        /* signals first: a resize made before the keys typed after it reaches the guest
         * before them */
        if (p[4].revents) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                int sig = (int)si.ssi_signo;
                if (sig == SIGWINCH) {
                    struct winsize ws;
                    if (tty_fd >= 0 && ioctl(tty_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row &&
                        ws.ws_col)
                        boxlite_exec_resize(ex, ws.ws_row, ws.ws_col);
                } else if (sig != SIGCHLD && sig != SIGPIPE) {
                    boxlite_exec_signal(ex, sig);
                }
            }
        }
        if (p[0].revents) {
            char buf[65536];
            ssize_t r = read(in_fd, buf, sizeof buf);
            if (r > 0) {
                if (boxlite_exec_write_stdin(ex, buf, (size_t)r) != BOXLITE_OK)
                    in_fd = -1;
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                /* the caller's end of stdin (a terminal's hang-up reads as EIO) */
                if (in_fd != tty_fd)
                    boxlite_exec_close_stdin(ex);
                in_fd = -1;
            }
        }
        if (p[1].revents && !copy_out(ofd, out_fd, &out_ok))
            ofd = -1;
        if (p[2].revents && !copy_out(efd, err_fd, &err_ok))
            efd = -1;
        if (p[3].revents)
            done = true;
    }
    boxlite_exec_result res = { 0 };
    if (boxlite_exec_wait(ex, -1, &res) != BOXLITE_OK) {
        /* the box went away under the process (its VM died): what the caller can read */
        fprintf(stderr, "boxlite-runtime: %s\n", boxlite_errmsg());
        return 255;
    }
    return res.signal ? 128 + res.signal : res.exit_code;
}

int relay_enter_netns(const char *path, struct bl_error *err)
{
    if (!path)
        return unshare(CLONE_NEWNET) < 0 ? bl_errno(err, errno, "a new network namespace") : 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "network namespace %s", path);
    int r = setns(fd, CLONE_NEWNET);
    int e = errno;
    close(fd);
    return r < 0 ? bl_errno(err, e, "join the network namespace %s", path) : 0;
}

/* A user namespace other than the first one (uid_map not the identity over all ids): a
 * rootless engine's, where the namespace's network is slirp4netns' or pasta's. */
static bool in_child_userns(void)
{
    cleanup_fclose FILE *f = fopen("/proc/self/uid_map", "re");
    unsigned long in, out, count;
    return !f || fscanf(f, "%lu %lu %lu", &in, &out, &count) != 3 || in != 0 || out != 0 ||
           count != 4294967295UL;
}

/* May the runtime create a tap in the container's namespace: root in the first user
 * namespace, and the annotation io.boxlite.network=user absent. */
static bool nic_allowed(const struct oci_spec *s)
{
    return !s->user_network && geteuid() == 0 && !in_child_userns();
}

bool relay_netns_nic(const struct oci_spec *s)
{
    return s->netns && s->netns_path && nic_allowed(s);
}

bool relay_netns_later(const struct oci_spec *s)
{
    return s->netns && !s->netns_path && nic_allowed(s);
}

bool relay_netns_has_nic(void)
{
    /* netns_nic_attach's choice (src/vmm/net/netns.c), which the per-box process makes
     * again: an interface that is up, not loopback, with an IPv4 address */
    struct ifaddrs *list;
    if (getifaddrs(&list) < 0)
        return false;
    bool found = false;
    for (struct ifaddrs *a = list; a && !found; a = a->ifa_next)
        found = a->ifa_addr && a->ifa_addr->sa_family == AF_INET && (a->ifa_flags & IFF_UP) &&
                !(a->ifa_flags & IFF_LOOPBACK);
    freeifaddrs(list);
    return found;
}
