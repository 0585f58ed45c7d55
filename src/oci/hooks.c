// SPDX-License-Identifier: Apache-2.0
/* Runs config.json's hooks on the host (runtime-spec config.md "POSIX-platform Hooks"): the
 * state on stdin, the output kept for the error, the timeout enforced through a pidfd. A
 * hook is the bundle author's program, trusted as runc trusts it; what is guarded here is
 * the runtime itself: a hook that never reads its stdin, never closes its output, leaves a
 * child holding the output open, or ignores SIGTERM can neither block nor crash us. */
#include "oci/hooks.h"

#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void close_pair(int p[2])
{
    for (int k = 0; k < 2; k++)
        if (p[k] >= 0)
            close(p[k]);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static __attribute__((noreturn)) void hook_child(const char *path, char *const *argv,
                                                 char *const *envp, int in, int out)
{
    /* the caller may be a relay with its signals blocked for a signalfd, and may ignore
     * SIGPIPE: a hook starts as a fresh program would */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(126);
    syscall(SYS_close_range, 3u, ~0u, 0u);
    execve(path, argv, envp);
    /* the parent reads this as the hook's output */
    const char *m = strerror(errno);
    (void)!write(2, "exec: ", 6);
    (void)!write(2, m, strlen(m));
    _exit(127);
}

int oci_hook_run(const struct oci_hook *h, const char *state, size_t len, struct bl_error *err)
{
    char *const default_argv[] = { h->path, NULL };
    char *const *argv = h->args && h->args[0] ? h->args : default_argv;
    char *const *envp = h->env ? h->env : environ;
    int in[2] = { -1, -1 }, out[2] = { -1, -1 };
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        int e = errno;
        close_pair(in);
        close_pair(out);
        return bl_errno(err, e, "hook %s: pipe", h->path);
    }
    /* a runtime started with 0, 1 or 2 closed gets pipes there, which dup2 in the child
     * would leave close-on-exec: move them above 2 */
    int *ends[4] = { &in[0], &in[1], &out[0], &out[1] };
    for (int k = 0; k < 4; k++)
        if (*ends[k] <= 2) {
            int moved = fcntl(*ends[k], F_DUPFD_CLOEXEC, 3);
            if (moved < 0) {
                int e = errno;
                close_pair(in);
                close_pair(out);
                return bl_errno(err, e, "hook %s: pipe", h->path);
            }
            close(*ends[k]);
            *ends[k] = moved;
        }
    /* no SIGPIPE from a hook that exits without reading its stdin: EPIPE instead */
    struct sigaction ign = { .sa_handler = SIG_IGN }, old;
    sigaction(SIGPIPE, &ign, &old);
    pid_t pid = fork();
    if (pid == 0)
        hook_child(h->path, argv, envp, in[0], out[1]);
    int fork_errno = errno;
    close(in[0]);
    close(out[1]);
    int pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    if (pid < 0 || pidfd < 0) {
        int e = pid < 0 ? fork_errno : errno;
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        close(in[1]);
        close(out[0]);
        sigaction(SIGPIPE, &old, NULL);
        return bl_errno(err, e, "hook %s: start", h->path);
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    uint64_t deadline = h->timeout ? mono_ms() + (uint64_t)h->timeout * 1000 : 0;
    char output[OCI_HOOK_OUTPUT_MAX + 1];
    size_t got = 0, sent = 0;
    bool exited = false, timed_out = false;
    int in_fd = in[1], out_fd = out[0];
    if (len == 0) {
        close(in_fd);
        in_fd = -1;
    }
    while (!exited) {
        int wait_ms = -1;
        if (deadline) {
            uint64_t now = mono_ms();
            if (now >= deadline) {
                timed_out = true;
                break;
            }
            wait_ms = (int)(deadline - now);
        }
        struct pollfd p[3] = { { .fd = pidfd, .events = POLLIN },
                               { .fd = in_fd, .events = POLLOUT },
                               { .fd = out_fd, .events = POLLIN } };
        if (poll(p, 3, wait_ms) < 0 && errno != EINTR)
            break;
        if (p[1].revents) {
            ssize_t n = write(in_fd, state + sent, len - sent);
            if (n > 0)
                sent += (size_t)n;
            /* all written, or the hook closed its stdin: end of its input either way */
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == len) {
                close(in_fd);
                in_fd = -1;
            }
        }
        if (p[2].revents) {
            char buf[4096];
            ssize_t n = read(out_fd, buf, sizeof buf);
            if (n > 0 && got < OCI_HOOK_OUTPUT_MAX) {
                size_t take = (size_t)n < OCI_HOOK_OUTPUT_MAX - got ? (size_t)n
                                                                    : OCI_HOOK_OUTPUT_MAX - got;
                memcpy(output + got, buf, take);
                got += take;
            }
            /* end of output is not the end of the hook (nor is the hook's end the end of
             * output: a child it left may hold it), so only the pidfd ends the wait */
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                close(out_fd);
                out_fd = -1;
            }
        }
        exited = p[0].revents != 0;
    }
    if (!exited)
        kill(pid, SIGKILL);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    /* what the hook wrote just before it exited */
    while (out_fd >= 0 && got < OCI_HOOK_OUTPUT_MAX) {
        ssize_t n = read(out_fd, output + got, OCI_HOOK_OUTPUT_MAX - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (in_fd >= 0)
        close(in_fd);
    if (out_fd >= 0)
        close(out_fd);
    close(pidfd);
    sigaction(SIGPIPE, &old, NULL);
    output[got] = 0;
    while (got && (output[got - 1] == '\n' || output[got - 1] == ' '))
        output[--got] = 0;
    char how[64];
    if (timed_out)
        snprintf(how, sizeof how, "ran past its timeout of %d s", h->timeout);
    else if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
        return 0;
    else if (WIFEXITED(ws))
        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(ws));
    else
        snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(ws));
    return bl_err(err, timed_out ? BOXLITE_ERR_TIMEOUT : BOXLITE_ERR_IO, "%s%s%s", how, got ? ", output: " : "", output);
}

int oci_hooks_run(const struct oci_spec *s, enum oci_hook_stage stage, const char *state,
                  struct bl_error *err)
{
    if ((unsigned)stage >= OCI_HOOK_STAGES)
        return bl_err(err, BOXLITE_ERR_INVALID, "no hook stage %d", (int)stage);
    for (size_t i = 0; i < s->nhooks[stage]; i++) {
        const struct oci_hook *h = &s->hooks[stage][i];
        int r = oci_hook_run(h, state, strlen(state), err);
        if (r) {
            bl_err_prefix(err, "%s hook #%zu (%s)", oci_hook_stage_name(stage), i, h->path);
            return r;
        }
    }
    return 0;
}
