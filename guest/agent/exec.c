// SPDX-License-Identifier: Apache-2.0
/* Starting the process behind a channel: an execution (argv, environment, user, working
 * directory, terminal, all inside the container when there is one) or the child that reads
 * or writes a copy's tar stream. The child reports a failure before exec on a close-on-exec
 * pipe, so "no such program" is an error of the request, not an exit status. */
#include "agent.h"

#include "common/cleanup.h"
#include "proto/tar.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41) /* Linux 4.13; older libc headers lack it */
#endif

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

struct spawn {
    const struct proto_exec_req *req; /* SPAWN_EXEC */
    const char *path;                 /* copy channels */
    int in, out, err;                 /* the child's stdio */
    int tty_fd;                       /* slave, or -1 */
    int report;                       /* CLOEXEC pipe: error text if exec fails */
};

static __attribute__((noreturn)) void child_fail(int report, struct bl_error *e)
{
    if (write(report, e->msg, strlen(e->msg)) < 0) {
    }
    _exit(127);
}

static void child_reset_signals(void)
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
}

static bool env_has(char **env, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; env && env[i]; i++)
        if (!strncmp(env[i], key, n) && env[i][n] == '=')
            return true;
    return false;
}

static __attribute__((noreturn)) void child_main(const struct container *ct, enum spawn_kind kind,
                                                 struct spawn *sp)
{
    struct bl_error e = {0};
    child_reset_signals();
    /* The agent is shielded from the OOM killer; what it starts for the workload is not. */
    oom_adj_self(OOM_ADJ_WORKLOAD);
    setsid();
    if (sp->tty_fd >= 0)
        ioctl(sp->tty_fd, TIOCSCTTY, 0);
    if (dup2(sp->in, 0) < 0 || dup2(sp->out, 1) < 0 || dup2(sp->err, 2) < 0) {
        bl_errno(&e, errno, "dup2");
        child_fail(sp->report, &e);
    }
    /* the group first: its cgroup is the agent's to reach, not the container's */
    if (sp->req && sp->req->group && procgroup_join(sp->req->group, &e) < 0)
        child_fail(sp->report, &e);
    if (ct->ready && container_enter(ct, &e) < 0)
        child_fail(sp->report, &e);
    if (kind != SPAWN_COPY_IN && kind != SPAWN_COPY_OUT && sp->req && sp->req->root &&
        pod_root_enter(sp->req->root, &e) < 0)
        child_fail(sp->report, &e);
    if (kind == SPAWN_COPY_IN || kind == SPAWN_COPY_OUT) {
        /* No exec follows, so close-on-exec does not apply: close the agent's descriptors
         * (the stdin pipe's write end among them, or end-of-file would never come). */
        if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
            for (int fd = 3; fd < 4096; fd++)
                close(fd);
        uint64_t bytes = 0;
        int rc = kind == SPAWN_COPY_IN ? tar_extract(0, sp->path, &bytes, &e)
                                    : tar_write(1, sp->path, &bytes, &e);
        if (rc < 0) {
            if (write(2, e.msg, strlen(e.msg)) < 0) {
            }
            /* the exit status carries the error's code (a boxlite_code, 1..125) to the
             * agent, so that a path missing in the box reaches the host as NOT_FOUND */
            _exit(e.code > 0 && e.code < 126 ? e.code : BOXLITE_ERR_IO);
        }
        _exit(0);
    }
    const struct proto_exec_req *r = sp->req;
    if (container_view(r, &e) < 0)
        child_fail(sp->report, &e);
    struct user_info u;
    if (user_resolve(r->user, &u, &e) < 0)
        child_fail(sp->report, &e);
    /* The environment: the request's, plus what a login would give when missing. */
    size_t n = 0;
    while (r->env && r->env[n])
        n++;
    char **env = calloc(n + 7, sizeof *env);
    if (!env)
        child_fail(sp->report, &e);
    if (n)
        memcpy(env, r->env, n * sizeof *env);
    if (!env_has(env, "PATH"))
        env[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    char home[300], term[] = "TERM=xterm", host[80];
    if (!env_has(env, "HOME")) {
        snprintf(home, sizeof home, "HOME=%s", u.home[0] ? u.home : "/");
        env[n++] = home;
    }
    char user[80], logname[90];
    if (!env_has(env, "USER") && u.name[0]) {
        snprintf(user, sizeof user, "USER=%s", u.name);
        env[n++] = user;
    }
    if (!env_has(env, "LOGNAME") && u.name[0]) {
        snprintf(logname, sizeof logname, "LOGNAME=%s", u.name);
        env[n++] = logname;
    }
    if (r->tty && !env_has(env, "TERM"))
        env[n++] = term;
    if (!env_has(env, "HOSTNAME") && ct->hostname[0]) {
        snprintf(host, sizeof host, "HOSTNAME=%s", ct->hostname);
        env[n++] = host;
    }
    const char *cwd = r->cwd && r->cwd[0] ? r->cwd : "/";
    if (chdir(cwd) < 0) {
        bl_errno(&e, errno, "exec %s: working directory %s", r->argv[0], cwd);
        child_fail(sp->report, &e);
    }
    if (process_become(r, &u, &e) < 0) {
        bl_err_prefix(&e, "exec %s", r->argv[0]);
        child_fail(sp->report, &e);
    }
    extern char **environ;
    environ = env;
    execvp(r->argv[0], r->argv);
    bl_errno(&e, errno, "exec %s", r->argv[0]);
    child_fail(sp->report, &e);
}

static int spawn(const struct container *ct, enum spawn_kind kind,
                 const struct proto_exec_req *req, const char *path, int stdin_fd,
                 struct spawned *res, struct bl_error *err);

int exec_spawn_in(const struct container *ct, enum spawn_kind kind,
                  const struct proto_exec_req *req, int stdin_fd, struct spawned *res,
                  struct bl_error *err)
{
    return spawn(ct, kind, req, NULL, kind == SPAWN_MAIN ? stdin_fd : -1, res, err);
}

int exec_spawn(const struct container *ct, enum spawn_kind kind, const struct proto_exec_req *req,
               const char *path, struct spawned *res, struct bl_error *err)
{
    return spawn(ct, kind, req, path, -1, res, err);
}

int exec_open_pty(const struct container *ct, unsigned rows, unsigned cols, int *master_out,
                  int *slave_out, struct bl_error *err)
{
    /* The terminal comes from the container's own devpts, so that inside it the
     * process's tty is a /dev/pts/N that exists there. */
    char ptmx[64] = "/dev/ptmx";
    if (ct->ready)
        snprintf(ptmx, sizeof ptmx, "/proc/%d/root/dev/pts/ptmx", (int)ct->init_pid);
    int master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || unlockpt(master) < 0) {
        int e = errno;
        if (master >= 0)
            close(master);
        return bl_errno(err, e, "open a terminal (%s)", ptmx);
    }
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        int e = errno;
        close(master);
        return bl_errno(err, e, "open the terminal's slave");
    }
    struct winsize ws = {.ws_row = (unsigned short)(rows ? rows : 24),
                         .ws_col = (unsigned short)(cols ? cols : 80)};
    ioctl(master, TIOCSWINSZ, &ws);
    *master_out = master;
    *slave_out = slave;
    return 0;
}

static int spawn(const struct container *ct, enum spawn_kind kind,
                 const struct proto_exec_req *req, const char *path, int stdin_fd,
                 struct spawned *res, struct bl_error *err)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, rep[2] = {-1, -1};
    int master = -1, slave = -1;
    int rc = -1;
    int devnull = -1;
    struct spawn sp = {.req = req, .path = path, .tty_fd = -1};
    if (pipe2(rep, O_CLOEXEC) < 0)
        return bl_errno(err, errno, "pipe");
    if (kind == SPAWN_MAIN || kind == SPAWN_DETACHED) {
        /* Its output is the box's log (the console), as a container's is Docker's. */
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0) {
            bl_errno(err, errno, "open /dev/null");
            goto out;
        }
        sp.in = stdin_fd >= 0 ? stdin_fd : devnull;
        sp.out = sp.err = 2;
        /* -t: stdin_fd is the slave of the terminal the agent keeps (exec_open_pty); the
         * process's three streams and controlling terminal */
        if (kind == SPAWN_MAIN && req && req->tty && stdin_fd >= 0)
            sp.out = sp.err = sp.tty_fd = stdin_fd;
    } else if (req && req->tty) {
        if (exec_open_pty(ct, req->rows, req->cols, &master, &slave, err) < 0)
            goto out;
        sp.in = sp.out = sp.err = sp.tty_fd = slave;
    } else {
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
            bl_errno(err, errno, "pipe");
            goto out;
        }
        sp.in = in[0];
        sp.out = out[1];
        sp.err = errp[1];
    }
    sp.report = rep[1];
    pid_t pid = fork();
    if (pid < 0) {
        bl_errno(err, errno, "fork");
        goto out;
    }
    if (pid == 0)
        child_main(ct, kind, &sp);
    close_fd(&rep[1]);
    /* The child reports a failure before exec; end-of-file means exec happened. */
    char msg[512];
    ssize_t n, got = 0;
    while ((n = read(rep[0], msg + got, sizeof msg - 1 - (size_t)got)) > 0 ||
           (n < 0 && errno == EINTR))
        if (n > 0)
            got += n;
    if (got > 0) {
        msg[got] = 0;
        bl_err(err, strstr(msg, "No such file") ? BOXLITE_ERR_NOT_FOUND : BOXLITE_ERR_INVALID,
               "%s", msg);
        kill(pid, SIGKILL);
        /* reaped by the SIGCHLD path; no channel owns it */
        goto out;
    }
    *res = (struct spawned){.pid = pid, .in_fd = -1, .out_fd = -1, .err_fd = -1};
    if (kind == SPAWN_MAIN || kind == SPAWN_DETACHED) {
        /* no descriptors to hand over */
    } else if (master >= 0) {
        res->out_fd = steal_fd(&master);
        res->in_fd = fcntl(res->out_fd, F_DUPFD_CLOEXEC, 0);
        res->tty = true;
    } else {
        res->in_fd = steal_fd(&in[1]);
        res->out_fd = steal_fd(&out[0]);
        res->err_fd = steal_fd(&errp[0]);
    }
    int fds[] = {res->in_fd, res->out_fd, res->err_fd};
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
        if (fds[i] >= 0)
            fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    rc = 0;
out:
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&out[i]);
        close_fd(&errp[i]);
        close_fd(&rep[i]);
    }
    close_fd(&master);
    close_fd(&slave);
    close_fd(&devnull);
    return rc < 0 ? -(err->code ? err->code : BOXLITE_ERR_IO) : 0;
}

