// SPDX-License-Identifier: Apache-2.0
/* The per-box process: see spawn.h. */
#include "runtime/spawn.h"

#include "common/cleanup.h"
#include "common/clock.h"
#include "runtime/runtime.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What of the caller's environment the per-box process gets: what it reads (PATH to find
 * QEMU, its own BOXLITE_ switches), the locale and time zone for its messages. Nothing else:
 * the caller's tokens and secrets stay with the caller. */
static bool env_allowed(const char *kv)
{
    static const char *const names[] = { "PATH=", "LANG=", "LANGUAGE=", "TZ=", "BOXLITE_QEMU=",
                                          "BOXLITE_KVM_ANY_HOST=", "BOXLITE_VMM_TEST=", NULL };
    for (const char *const *n = names; *n; n++)
        if (!strncmp(kv, *n, strlen(*n)))
            return true;
    return !strncmp(kv, "LC_", 3);
}

int rt_spawn_vmm(const char *vmm, const char *config_path, const char *log_path, bool detach,
                 struct rt_child *out, struct bl_error *err)
{
    int life[2] = { -1, -1 };
    int report[2] = { -1, -1 }; /* the grandchild's pid, from the middle process */
    int conn[2] = { -1, -1 };   /* our first connection to the box socket's mux */
    int logfd = -1, r = 0;
    char **envp = NULL;
    *out = (struct rt_child){ .lifeline_fd = -1, .conn_fd = -1, .pidfd = -1 };
    if (!detach && pipe2(life, O_CLOEXEC) != 0) {
        r = bl_errno(err, errno, "lifeline pipe");
        goto fail;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, conn) != 0) {
        r = bl_errno(err, errno, "socketpair");
        goto fail;
    }
    if (pipe2(report, O_CLOEXEC) != 0) {
        r = bl_errno(err, errno, "pipe");
        goto fail;
    }
    logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0) {
        r = bl_errno(err, errno, "open %s", log_path);
        goto fail;
    }
    /* 17 bytes of name and up to 19 digits. The lifeline is descriptor 3 in the child, the
     * connection the next one. */
    char lifearg[32] = "3", connarg[32], spawn_ns[48];
    snprintf(connarg, sizeof connarg, "%d", life[0] >= 0 ? 4 : 3);
    /* its working directory: the box's folder (the config's) */
    char cwd[4096];
    snprintf(cwd, sizeof cwd, "%s", config_path);
    char *slash = strrchr(cwd, '/');
    if (slash)
        *(slash == cwd ? slash + 1 : slash) = 0;
    else
        snprintf(cwd, sizeof cwd, ".");
    /* The VMM measures its start-up figures from this moment (CLOCK_MONOTONIC). */
    snprintf(spawn_ns, sizeof spawn_ns, "BOXLITE_SPAWN_NS=%llu", (unsigned long long)mono_ns());
    /* The child's environment is built here: between fork and exec in a threaded program
     * only async-signal-safe calls are allowed (no malloc, so no setenv). */
    extern char **environ;
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    envp = calloc(nenv + 2, sizeof *envp);
    if (!envp) {
        r = bl_err(err, BOXLITE_ERR_NOMEM, "spawn: out of memory");
        goto fail;
    }
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (env_allowed(environ[i]))
            envp[k++] = environ[i];
    envp[k++] = spawn_ns;
    pid_t mid = fork();
    if (mid < 0) {
        r = bl_errno(err, errno, "fork");
        goto fail;
    }
    if (mid == 0) {
        /* Middle process: new session, fork the real one, report its pid, exit so the
         * per-box process is re-parented and never becomes our zombie. */
        setsid();
        pid_t pid = fork();
        if (pid == 0) {
            /* stdio, the lifeline at 3, nothing else: a descriptor the caller had open
             * without O_CLOEXEC (a secret file) must not reach the box's process */
            int lf = life[0] >= 0 ? fcntl(life[0], F_DUPFD_CLOEXEC, 10) : -1;
            int cf = fcntl(conn[1], F_DUPFD_CLOEXEC, 10);
            int lg = fcntl(logfd, F_DUPFD_CLOEXEC, 10);
            int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
            dup2(devnull, 0);
            dup2(lg, 1);
            dup2(lg, 2);
            if (lf >= 0)
                dup2(lf, 3); /* dup2 clears close-on-exec: kept across exec */
            dup2(cf, lf >= 0 ? 4 : 3);
            syscall(SYS_close_range, lf >= 0 ? 5u : 4u, ~0u, 0u);
            if (chdir(cwd) < 0) {
                dprintf(2, "boxlite: chdir %s: %s\n", cwd, strerror(errno));
                _exit(126);
            }
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            char *const with_life[] = { (char *)vmm, "--config", (char *)config_path,
                                        "--lifeline-fd", lifearg, "--client-fd", connarg, NULL };
            char *const without[] = { (char *)vmm, "--config", (char *)config_path,
                                      "--client-fd", connarg, NULL };
            execve(vmm, life[0] >= 0 ? with_life : without, envp);
            dprintf(2, "boxlite: exec %s: %s\n", vmm, strerror(errno));
            _exit(127);
        }
        ssize_t w = write(report[1], &pid, sizeof pid);
        _exit(pid > 0 && w == sizeof pid ? 0 : 1);
    }
    free(envp);
    close(logfd);
    close(report[1]);
    close(conn[1]);
    if (life[0] >= 0)
        close(life[0]);
    pid_t pid = 0;
    ssize_t n = read(report[0], &pid, sizeof pid);
    close(report[0]);
    int st;
    waitpid(mid, &st, 0);
    if (n != sizeof pid || pid <= 0) {
        if (life[1] >= 0)
            close(life[1]);
        close(conn[0]);
        return bl_err(err, BOXLITE_ERR_ENGINE, "could not start %s", vmm);
    }
    out->pid = pid;
    out->pid_start = rt_process_start_time(pid);
    out->lifeline_fd = life[1];
    out->conn_fd = conn[0];
    /* Not our child (double fork): a pidfd is how we learn that it ended. Opened after the
     * start time was read, so a pid reused in between does not pass for it. */
    out->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (out->pidfd >= 0 && rt_process_start_time(pid) != out->pid_start) {
        close(out->pidfd);
        out->pidfd = -1;
    }
    return 0;

fail:
    free(envp);
    if (logfd >= 0)
        close(logfd);
    for (int i = 0; i < 2; i++) {
        if (conn[i] >= 0)
            close(conn[i]);
        if (report[i] >= 0)
            close(report[i]);
        if (life[i] >= 0)
            close(life[i]);
    }
    return r;
}

char *rt_tail_file(const char *path, int max_lines)
{
    cleanup_fclose FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    /* Read the last 16 KiB at most, then keep the last max_lines lines of it. */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long start = size > 16384 ? size - 16384 : 0;
    fseek(f, start, SEEK_SET);
    char *buf = calloc(1, (size_t)(size - start) + 1);
    if (!buf)
        return NULL;
    size_t n = fread(buf, 1, (size_t)(size - start), f);
    buf[n] = 0;
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = 0;
    int lines = 0;
    char *p = buf + n;
    while (p > buf) {
        if (p[-1] == '\n' && ++lines == max_lines)
            break;
        p--;
    }
    memmove(buf, p, strlen(p) + 1);
    return buf;
}

/* The last line of a log that rotates (<path>, else <path>.1 just after a rotation). */
static char *last_line(const char *path)
{
    char *t = path ? rt_tail_file(path, 1) : NULL;
    if (path && (!t || !*t)) {
        free(t);
        char p[4200];
        snprintf(p, sizeof p, "%s.1", path);
        t = rt_tail_file(p, 1);
    }
    return t;
}

void rt_child_close(struct rt_child *c)
{
    if (c->conn_fd >= 0)
        close(c->conn_fd);
    if (c->pidfd >= 0)
        close(c->pidfd);
    c->conn_fd = c->pidfd = -1;
}

int rt_wait_ready(struct rt_child *c, const char *console_log, const char *vmm_log,
                  int timeout_ms, struct proto_client **conn, struct proto_exit *end,
                  struct bl_error *err)
{
    *conn = NULL;
    end->stop_reason[0] = 0;
    if (c->conn_fd < 0)
        return bl_err(err, BOXLITE_ERR_ENGINE, "no connection to the box's process");
    int fd = c->conn_fd, pidfd = c->pidfd;
    c->conn_fd = c->pidfd = -1; /* the connection's now */
    struct bl_error why = { 0 };
    if (proto_client_open_watch(fd, pidfd, timeout_ms, conn, end, &why) == 0)
        return 0;
    /* a connection that ended is a process ending: its pidfd says when (bounded) */
    bool alive = why.code == BOXLITE_ERR_TIMEOUT ? rt_process_alive(c->pid, c->pid_start)
                                                 : !rt_process_wait_gone(c->pid, c->pid_start, 2000);
    cleanup_free char *tail = rt_tail_file(console_log, 12);
    cleanup_free char *said = last_line(vmm_log);
    char vmm[700] = "";
    if (end->stop_reason[0])
        snprintf(vmm, sizeof vmm, " (it said: %s)", end->stop_reason);
    else if (said && *said)
        snprintf(vmm, sizeof vmm, " (it said: %s)", said);
    if (alive && why.code == BOXLITE_ERR_TIMEOUT)
        return bl_err(err, BOXLITE_ERR_TIMEOUT,
                      "the guest did not become ready within %d ms%s; last console lines:\n%s",
                      timeout_ms, vmm, tail && *tail ? tail : "(console is empty)");
    if (alive)
        return bl_err(err, BOXLITE_ERR_ENGINE, "the box's process refused the connection: %s%s",
                      why.msg, vmm);
    return bl_err(err, BOXLITE_ERR_ENGINE,
                  "the box's VM process exited before the guest was ready%s; last console "
                  "lines:\n%s", vmm, tail && *tail ? tail : "(console is empty)");
}

bool rt_process_wait_gone(int64_t pid, int64_t pid_start, int timeout_ms)
{
    if (!rt_process_alive(pid, pid_start))
        return true;
    int fd cleanup_close = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (fd < 0 || !rt_process_alive(pid, pid_start)) /* gone, or another process now */
        return !rt_process_alive(pid, pid_start);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n;
    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    return n > 0;
}
