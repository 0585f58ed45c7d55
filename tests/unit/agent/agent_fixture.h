// SPDX-License-Identifier: Apache-2.0
/* Runs the agent natively in a child process on one end of a socketpair; the test talks to
 * it through the real host client (src/proto/client.c) or raw frames. */
#ifndef TEST_AGENT_FIXTURE_H
#define TEST_AGENT_FIXTURE_H

#include "../../../guest/agent/agent.h"
#include "harness/harness.h"
#include "proto/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t fixture_agent_pid = -1;

/* Starts an agent; `setup` (may be NULL) is applied in the agent's process first, inside a
 * private mount namespace of its own. Returns the host's end of the stream. */
static __attribute__((unused)) int start_agent_fd(const struct proto_setup *setup)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(sv[0]);
        struct bl_error e = {0};
        if (setup) {
            if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                _exit(3);
        }
        struct agent_options o = {0};
        struct agent *a = agent_new(sv[1], &o, &e);
        if (!a)
            _exit(2);
        if (setup && agent_setup(a, setup, &e) < 0) {
            fprintf(stderr, "agent setup: %s\n", e.msg);
            _exit(4);
        }
        agent_run(a);
        agent_stop_all(a, 200);
        agent_free(a);
        _exit(0);
    }
    close(sv[1]);
    fixture_agent_pid = pid;
    return sv[0];
}

static __attribute__((unused)) struct proto_client *start_agent(const struct proto_setup *setup)
{
    int fd = start_agent_fd(setup);
    if (fd < 0)
        return NULL;
    struct proto_client *c = NULL;
    struct bl_error e = {0};
    if (proto_client_open_fd(fd, 10000, &c, &e) < 0) {
        harness_fail(__FILE__, __LINE__, "connect: %s", e.msg);
        return NULL;
    }
    return c;
}

static __attribute__((unused)) int stop_agent(struct proto_client *c)
{
    proto_client_close(c);
    int status = 0;
    if (fixture_agent_pid > 0)
        waitpid(fixture_agent_pid, &status, 0);
    fixture_agent_pid = -1;
    return status;
}

struct run_out {
    char *out, *err;
    size_t out_len, err_len;
    struct proto_result res;
    int rc;
    char msg[512];
};

static __attribute__((unused)) void append(char **buf, size_t *len, const char *p, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = 0;
}

/* Reads both outputs to end-of-file, then waits. */
static __attribute__((unused)) void collect(struct proto_exec *ex, struct run_out *o)
{
    int fds[2] = {proto_exec_stdout_fd(ex), proto_exec_stderr_fd(ex)};
    bool open_[2] = {true, true};
    char buf[65536];
    while (open_[0] || open_[1]) {
        struct pollfd pf[2];
        int n = 0, which[2];
        for (int i = 0; i < 2; i++)
            if (open_[i]) {
                pf[n] = (struct pollfd){.fd = fds[i], .events = POLLIN};
                which[n++] = i;
            }
        if (poll(pf, (nfds_t)n, -1) < 0)
            break;
        for (int k = 0; k < n; k++) {
            if (!pf[k].revents)
                continue;
            int i = which[k];
            ssize_t r = read(fds[i], buf, sizeof buf);
            if (r > 0)
                append(i ? &o->err : &o->out, i ? &o->err_len : &o->out_len, buf, (size_t)r);
            else if (r == 0 || errno != EAGAIN)
                open_[i] = false;
        }
    }
    struct bl_error e = {0};
    o->rc = proto_exec_wait(ex, -1, &o->res, &e);
    snprintf(o->msg, sizeof o->msg, "%s", e.msg);
}

static __attribute__((unused)) void run(struct proto_client *c, const char *const *argv, const char *input,
                struct run_out *o)
{
    memset(o, 0, sizeof *o);
    o->out = calloc(1, 1);
    o->err = calloc(1, 1);
    struct proto_exec_req req = {.argv = (char **)argv};
    struct proto_exec *ex;
    struct bl_error e = {0};
    if (proto_exec_start(c, &req, &ex, &e) < 0) {
        o->rc = -1;
        snprintf(o->msg, sizeof o->msg, "%s", e.msg);
        return;
    }
    if (input) {
        proto_exec_write_stdin(ex, input, strlen(input), &e);
        proto_exec_close_stdin(ex, &e);
    }
    collect(ex, o);
    proto_exec_free(ex);
}

static __attribute__((unused)) void run_free(struct run_out *o)
{
    free(o->out);
    free(o->err);
}

/* Runs fn in a forked child (what it changes of the process stays there); what it writes to
 * f comes back in out. Returns the child's exit status (fn's return), or -1. */
static __attribute__((unused)) int in_child(int (*fn)(void *arg, FILE *f), void *arg, char *out,
                                            size_t len)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        FILE *f = fdopen(p[1], "w");
        int rc = fn(arg, f);
        fclose(f);
        _exit(rc);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t n;
    while (got < len - 1 && (n = read(p[0], out + got, len - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = 0;
    close(p[0]);
    int ws;
    if (pid < 0 || waitpid(pid, &ws, 0) < 0)
        return -1;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

#endif
