// SPDX-License-Identifier: Apache-2.0
/* The agent's protocol loop: one poll() loop over the host stream, every execution's pipes
 * or terminal, a signalfd for SIGCHLD, and timers (timeouts, output drain, host-gone).
 * Single-threaded on purpose: it forks, and it enters the container's PID namespace once
 * for all its children. Nothing the host sends can end the loop except SHUTDOWN. */
#include "agent.h"

#include "common/cleanup.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

/* include/uapi/linux/fs.h (musl's headers have no linux/): freeze and thaw a filesystem */
#ifndef FIFREEZE
#define FIFREEZE _IOWR('X', 119, int)
#define FITHAW _IOWR('X', 120, int)
#endif

#define READ_CHUNK 65536
#define PORT_HIGH_WATER (1u << 20) /* stop reading outputs while this much waits for the host */
#define DRAIN_MS 100               /* after exit, an output pipe idle this long is closed */
#define CREDIT_BATCH (PROTO_WINDOW / 4)
#define MAX_CHANNELS 1024 /* open at once; more is refused, memory stays bounded */

struct chan {
    struct chan *next;
    uint32_t id;
    enum spawn_kind kind;
    pid_t pid;
    int status;
    bool exited, muted, tty, timed_out;
    bool attach;          /* EXEC ATTACH: RESIZE sizes the main process's terminal */
    uint64_t start_us, deadline_us, exit_us;
    /* stdin: host -> process */
    int in_fd;
    struct proto_buf inbuf;
    bool in_eof;          /* host sent EOF: close in_fd once inbuf is written */
    uint32_t in_allow;    /* bytes the host may still send */
    uint32_t in_unacked;  /* bytes written to the process, not yet granted back */
    /* stdout/stderr: process -> host (index 1, 2) */
    int out_fd[3];
    uint32_t credit[3];
    uint64_t idle_since[3]; /* when the pipe was last found empty after exit */
    /* copy channels: the child's error text (its stderr, not forwarded) */
    char errtext[512];
    size_t errlen;
    uint64_t bytes;
    /* EXEC GROUP: the group it leads (its end ends the group's processes), or "" */
    char leads[PROTO_GROUP_NAME_MAX + 1];
};

struct agent {
    int fd;
    struct agent_options opt;
    bool connected, ever_connected;
    uint64_t disconnected_us;
    struct proto_reader rd;
    struct proto_buf out;
    struct chan *chans;
    int sigfd;
    bool shutdown;
    struct container ct;
    /* The box's main process (SETUP's MAIN) and the end of the container: once its init
     * or its main process is gone, the host is told (EVENT) and the agent shuts down. */
    pid_t main_pid;
    bool main_started;
    bool ct_gone, stopping;
    /* eth0 has the address the kernel command line gave (a NIC in a container's network
     * namespace, src/vmm/net/netns.h): a later SETUP without one keeps it */
    bool net_addr_set;
    char ct_gone_reason[256];
    int exit_status; /* the main process's, for the control page */
    long long oom_base; /* /proc/vmstat oom_kill when the container started */
    /* The restart policy (SETUP's RESTART): the main process runs again in the same
     * container, after Docker's back-off, instead of the box ending. */
    uint8_t restart;
    uint32_t restart_max;
    uint64_t restarts;
    struct proto_exec_req *main_req; /* what to run again (a copy of SETUP's MAIN) */
    uint64_t main_started_us, restart_at_us, restart_delay_ms;
    /* The main process's stdin with SETUP's MAIN_STDIN (Docker's -i): a pipe whose write
     * end the agent keeps (so the process never sees end-of-file between attaches, and a
     * restarted run reads the same stream) and EXEC ATTACH channels copy into. */
    int main_stdin_r, main_stdin_w;
    /* The main process's terminal with SETUP's MAIN TTY (Docker's -t): the agent keeps its
     * master (output copied to the console, the box's log; attach's input written to it,
     * its window resized by attach) and its slave in main_stdin_r, so a restarted run gets
     * the same terminal and the master never sees the last slave close. -1: none. */
    int main_tty;
    /* FSFREEZE: the frozen root's directory (-1: not frozen) and when the agent thaws it by
     * itself, should the host not (a host killed mid-snapshot must not leave the guest's
     * writers blocked for ever). */
    int frozen_fd;
    uint64_t thaw_at_us;
};

void agent_log(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(line, sizeof line, "boxlite-agent: ");
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    if (len < sizeof line - 1)
        line[len++] = '\n';
    if (write(2, line, len) < 0) {
        /* the console is all we have */
    }
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ---- sending ------------------------------------------------------------------------ */

static void send_frame(struct agent *a, uint16_t type, uint32_t ch, uint8_t stream,
                       const void *p, size_t len)
{
    if (proto_buf_frame(&a->out, type, ch, stream, p, len) < 0)
        agent_log("out of memory queueing a %s frame", proto_type_name(type));
}

static void send_error(struct agent *a, uint32_t ch, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void send_error(struct agent *a, uint32_t ch, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w)
        return;
    proto_error_encode(w, code, msg);
    send_frame(a, PROTO_ERROR, ch, 0, w->buf, w->len);
    free(w);
}

static void send_credit(struct agent *a, uint32_t ch, uint8_t stream, uint32_t n)
{
    uint8_t b[4];
    put_le32(b, n);
    send_frame(a, PROTO_CREDIT, ch, stream, b, 4);
}

static void send_hello(struct agent *a)
{
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w)
        return;
    tlv_init(w);
    tlv_u64(w, T_VERSION, PROTO_VERSION);
    tlv_u64(w, T_VERSION_MIN, PROTO_VERSION);
    tlv_str(w, T_AGENT, "boxlite-agent " BOXLITE_VERSION);
    tlv_u64(w, T_BOOT_MS, a->opt.boot_ms);
    tlv_u64(w, T_READY, a->ct.ready);
    send_frame(a, PROTO_HELLO, 0, 0, w->buf, w->len);
    free(w);
}

/* ---- channels ----------------------------------------------------------------------- */

static struct chan *chan_find(struct agent *a, uint32_t id)
{
    for (struct chan *c = a->chans; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void chan_free(struct agent *a, struct chan *c)
{
    for (struct chan **pp = &a->chans; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    if (c->leads[0]) /* never reaped (the agent shuts down) */
        procgroup_end(c->leads);
    close_fd(&c->in_fd);
    close_fd(&c->out_fd[1]);
    close_fd(&c->out_fd[2]);
    proto_buf_free(&c->inbuf);
    free(c);
}

static void chan_kill(struct chan *c, int sig)
{
    if (c->pid > 0 && !c->exited && kill(-c->pid, sig) < 0)
        kill(c->pid, sig);
}

/* The channel ends once the process is reaped and both outputs reached end-of-file. */
static void chan_maybe_finish(struct agent *a, struct chan *c)
{
    if (!c->exited || c->out_fd[1] >= 0 || c->out_fd[2] >= 0)
        return;
    if (!c->muted) {
        struct proto_result r = {0};
        if (WIFSIGNALED(c->status))
            r.signo = WTERMSIG(c->status);
        else
            r.exit_code = WEXITSTATUS(c->status);
        r.timed_out = c->timed_out;
        r.duration_us = c->exit_us - c->start_us;
        r.bytes = c->bytes;
        if (c->kind != SPAWN_EXEC && (r.signo || r.exit_code)) {
            c->errtext[c->errlen] = 0;
            size_t n = strlen(c->errtext);
            while (n && c->errtext[n - 1] == '\n')
                c->errtext[--n] = 0;
            /* a copy's exit status is its error's code (exec.c); a signal is an I/O error */
            int code = r.signo || r.exit_code >= 126 ? BOXLITE_ERR_IO : r.exit_code;
            send_error(a, c->id, code, "%s", n ? c->errtext : "copy failed");
        } else {
            struct tlv_writer *w = malloc(sizeof *w);
            if (w) {
                proto_result_encode(&r, w);
                send_frame(a, PROTO_RESULT, c->id, 0, w->buf, w->len);
                free(w);
            }
        }
    }
    chan_free(a, c);
}

/* Starts the process of a channel (exec.c) and takes over its descriptors. */
static int chan_spawn(struct agent *a, struct chan *c, const struct proto_exec_req *req,
                      const char *path, struct bl_error *err)
{
    struct spawned sp;
    c->start_us = mono_us();
    int rc = exec_spawn(&a->ct, c->kind, req, path, &sp, err);
    if (rc < 0)
        return rc;
    c->pid = sp.pid;
    c->in_fd = sp.in_fd;
    c->out_fd[1] = sp.out_fd;
    c->out_fd[2] = sp.err_fd;
    c->tty = sp.tty;
    return 0;
}

static struct chan *chan_new(struct agent *a, uint32_t id, enum spawn_kind kind)
{
    struct chan *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = id;
    c->kind = kind;
    c->in_fd = c->out_fd[0] = c->out_fd[1] = c->out_fd[2] = -1;
    c->in_allow = PROTO_WINDOW;
    c->credit[1] = c->credit[2] = PROTO_WINDOW;
    return c;
}

static void chan_link(struct agent *a, struct chan *c)
{
    c->next = a->chans;
    a->chans = c;
}

/* ---- requests ----------------------------------------------------------------------- */

/* The guest may boot without a usable real-time clock; the host's HELLO carries its time.
 * Only a clock off by more than a second is stepped. */
static void set_clock(uint64_t host_ns)
{
    int64_t guest_ns = (int64_t)wall_ns();
    int64_t diff = guest_ns - (int64_t)host_ns;
    if (diff > -1000000000 && diff < 1000000000)
        return;
    struct timespec ts = {.tv_sec = (time_t)(host_ns / 1000000000u), .tv_nsec = (long)(host_ns % 1000000000u)};
    if (clock_settime(CLOCK_REALTIME, &ts) == 0)
        agent_log("clock set from the host (was off by %lld s)", (long long)(diff / 1000000000));
}

/* A request that needs the container after it is gone gets the reason, not a failed fork
 * ("fork: Out of memory" is what a dead PID namespace answers). */
static bool refuse_if_gone(struct agent *a, uint32_t id)
{
    if (!a->ct_gone)
        return false;
    send_error(a, id, BOXLITE_ERR_STATE, "the box has stopped: %s", a->ct_gone_reason);
    return true;
}

/* EXEC ATTACH: a copier of the agent's own (forked, no exec) from the channel's stdin to
 * the main process's; the channel's outputs end at once (the main process's output is the
 * console's). Its end (the host's EOF, or the main process gone: EPIPE) ends the channel
 * with its status; the main process's stdin stays open for the next attach. */
static int attach_spawn(struct agent *a, struct chan *c, struct bl_error *err)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            close_fd(&in[i]);
            close_fd(&out[i]);
            close_fd(&errp[i]);
        }
        return bl_errno(err, e, "attach: pipe");
    }
    pid_t pid = fork();
    if (pid == 0) {
        setsid(); /* its own group, as every channel's process (chan_kill signals it) */
        signal(SIGPIPE, SIG_IGN);
        /* only its two ends: holding the agent's other descriptors (another channel's
         * stdin, its own pipe's write end) would keep their readers from end-of-file */
        if (dup2(in[0], 0) < 0 || dup2(a->main_stdin_w, 1) < 0)
            _exit(1);
        syscall(SYS_close_range, 3u, ~0u, 0u);
        char buf[4096];
        for (;;) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                _exit(n < 0 ? 1 : 0);
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(1, buf + off, (size_t)(n - off));
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    _exit(1); /* the main process is gone */
                off += w;
            }
        }
    }
    int e = errno;
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&errp[1]);
    if (pid < 0) {
        close_fd(&in[1]);
        close_fd(&out[0]);
        close_fd(&errp[0]);
        return bl_errno(err, e, "attach: fork");
    }
    c->start_us = mono_us();
    c->pid = pid;
    c->in_fd = in[1];
    c->out_fd[1] = out[0];
    c->out_fd[2] = errp[0];
    for (int i = 0; i < 3; i++) {
        int fd = i == 0 ? c->in_fd : c->out_fd[i];
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return 0;
}

/* EXEC GROUP: the group made (or found); *leads says whether this execution leads it (no
 * live channel does). */
static int group_prepare(struct agent *a, const struct proto_exec_req *req, bool *leads,
                         struct bl_error *err)
{
    *leads = !req->detach && !req->attach;
    for (struct chan *c = a->chans; c && *leads; c = c->next)
        if (!strcmp(c->leads, req->group))
            *leads = false;
    return procgroup_make(req->group, req->pids_max, *leads, err);
}

static void handle_exec(struct agent *a, uint32_t id, const uint8_t *p, size_t len)
{
    struct bl_error e = {0};
    struct proto_exec_req req;
    if (refuse_if_gone(a, id))
        return;
    if (proto_exec_req_decode(&req, p, len, &e) < 0) {
        send_error(a, id, BOXLITE_ERR_PROTOCOL, "exec: %s", e.msg);
        return;
    }
    bool leads = false;
    if (req.group && group_prepare(a, &req, &leads, &e) < 0) {
        /* a limit asked for is not dropped silently; a group for cleanup alone is a loss
         * the process can run without (a kernel without cgroup v2 pids) */
        if (req.pids_max) {
            send_error(a, id, e.code, "exec: %s", e.msg);
            proto_exec_req_free(&req);
            return;
        }
        agent_log("exec %s without its group: %s", req.argv[0], e.msg);
        free(req.group);
        req.group = NULL;
        leads = false;
    }
    if (req.detach) {
        /* exec -d: the process runs on its own, writing to the console as the main process
         * does; the channel ends at once, RESULT 0 saying it started (or ERROR saying why
         * not: no such program is still 127 to the user). */
        struct spawned sp;
        if (exec_spawn(&a->ct, SPAWN_DETACHED, &req, NULL, &sp, &e) < 0) {
            send_error(a, id, e.code, "%s", e.msg);
        } else {
            agent_log("detached process %s started as pid %d", req.argv[0], (int)sp.pid);
            send_frame(a, PROTO_EOF, id, PROTO_STDOUT, NULL, 0);
            send_frame(a, PROTO_EOF, id, PROTO_STDERR, NULL, 0);
            struct proto_result r = {0};
            struct tlv_writer *w = malloc(sizeof *w);
            if (w) {
                proto_result_encode(&r, w);
                send_frame(a, PROTO_RESULT, id, 0, w->buf, w->len);
                free(w);
            }
        }
        proto_exec_req_free(&req);
        return;
    }
    if (req.attach && a->main_stdin_w < 0) {
        send_error(a, id, BOXLITE_ERR_STATE,
                   "attach: the box's main process has no open stdin (create the box with -i)");
        proto_exec_req_free(&req);
        return;
    }
    struct chan *c = chan_new(a, id, SPAWN_EXEC);
    if (!c) {
        send_error(a, id, BOXLITE_ERR_NOMEM, "exec: out of memory");
    } else if (req.attach ? attach_spawn(a, c, &e) < 0 : chan_spawn(a, c, &req, NULL, &e) < 0) {
        send_error(a, id, e.code, "%s", e.msg);
        free(c);
    } else {
        if (req.timeout_ms)
            c->deadline_us = c->start_us + req.timeout_ms * 1000u;
        c->attach = req.attach;
        if (leads)
            snprintf(c->leads, sizeof c->leads, "%s", req.group);
        chan_link(a, c);
    }
    proto_exec_req_free(&req);
}

static void handle_copy(struct agent *a, uint32_t id, enum spawn_kind kind, const uint8_t *p,
                        size_t len)
{
    struct bl_error e = {0};
    struct tlv_iter it;
    struct tlv_field f;
    cleanup_free char *path = NULL;
    int rc;
    if (refuse_if_gone(a, id))
        return;
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, &e)) > 0)
        if (f.tag == T_PATH && (rc = tlv_get_str(&f, &path, &e)) < 0)
            break;
    if (rc < 0 || !path || path[0] != '/') {
        send_error(a, id, BOXLITE_ERR_PROTOCOL, "copy: %s",
                   rc < 0 ? e.msg : "an absolute path is required");
        return;
    }
    struct chan *c = chan_new(a, id, kind);
    if (!c) {
        send_error(a, id, BOXLITE_ERR_NOMEM, "copy: out of memory");
        return;
    }
    if (chan_spawn(a, c, NULL, path, &e) < 0) {
        send_error(a, id, e.code, "copy %s: %s", path, e.msg);
        free(c);
        return;
    }
    if (kind == SPAWN_COPY_OUT)
        close_fd(&c->in_fd);
    chan_link(a, c);
}

static void handle_setup(struct agent *a, uint32_t id, const uint8_t *p, size_t len)
{
    struct bl_error e = {0};
    struct proto_setup s;
    if (proto_setup_decode(&s, p, len, &e) < 0) {
        send_error(a, id, BOXLITE_ERR_PROTOCOL, "setup: %s", e.msg);
        return;
    }
    if (agent_setup(a, &s, &e) < 0) {
        send_error(a, id, e.code, "setup: %s", e.msg);
    } else {
        struct tlv_writer *w = malloc(sizeof *w);
        if (w) {
            struct proto_result r = {0};
            proto_result_encode(&r, w);
            send_frame(a, PROTO_RESULT, id, 0, w->buf, w->len);
            free(w);
        }
    }
    proto_setup_free(&s);
}

static void send_empty_result(struct agent *a, uint32_t id)
{
    struct tlv_writer *w = malloc(sizeof *w);
    if (w) {
        struct proto_result r = {0};
        proto_result_encode(&r, w);
        send_frame(a, PROTO_RESULT, id, 0, w->buf, w->len);
        free(w);
    }
}

static void thaw(struct agent *a, const char *why)
{
    if (a->frozen_fd < 0)
        return;
    if (ioctl(a->frozen_fd, FITHAW, 0) < 0 && errno != EINVAL)
        agent_log("thaw %s: %s", a->ct.root, strerror(errno));
    close(a->frozen_fd);
    a->frozen_fd = -1;
    if (why)
        agent_log("thawed %s: %s", a->ct.root, why);
}

/* KILL: a signal to the main process alone, as Docker's kill sends one to the container's
 * first process (its children are its business: a shell forwards or not). */
/* The one number a KILL or VOLUMES body carries (field tag; *v kept when it is absent):
 * 0, or negative with e filled for a broken body. */
static int body_u64(const uint8_t *p, size_t len, unsigned tag, uint64_t *v, struct bl_error *e)
{
    struct tlv_iter it;
    struct tlv_field f;
    tlv_iter_init(&it, p, len);
    int r;
    while ((r = tlv_next(&it, &f, e)) > 0)
        if (f.tag == tag && (r = tlv_get_u64(&f, v, e)) < 0)
            break;
    return r < 0 ? r : 0;
}

static void handle_kill(struct agent *a, uint32_t id, const uint8_t *p, size_t len)
{
    uint64_t sig = 0;
    struct bl_error e = {0};
    int r = body_u64(p, len, T_SIGNO, &sig, &e);
    if (r < 0 || sig < 1 || sig > 64) {
        send_error(a, id, BOXLITE_ERR_INVALID, "KILL: %s", r < 0 ? e.msg : "SIGNO must be 1..64");
        return;
    }
    if (a->main_pid <= 0) {
        send_error(a, id, BOXLITE_ERR_STATE, "the box's main process is not running%s",
                   a->restart_at_us ? " (it is waiting to restart)" : "");
        return;
    }
    if (kill(a->main_pid, (int)sig) < 0) {
        send_error(a, id, BOXLITE_ERR_IO, "kill %d: %s", (int)a->main_pid, strerror(errno));
        return;
    }
    agent_log("signal %d sent to the main process (pid %d)", (int)sig, (int)a->main_pid);
    send_empty_result(a, id);
}

/* FSFREEZE: FIFREEZE syncs the filesystem and flushes the disk's cache (so the host's copy
 * of the disk is consistent), then blocks writers until FITHAW. Only in a guest: run
 * natively (the unit tests), it would freeze the host's filesystem. */
static void handle_fsfreeze(struct agent *a, uint32_t id, const uint8_t *p, size_t len)
{
    uint64_t freeze = 2, ms = 10000;
    struct tlv_iter it;
    struct tlv_field f;
    struct bl_error e = {0};
    tlv_iter_init(&it, p, len);
    int r;
    while ((r = tlv_next(&it, &f, &e)) > 0) {
        if (f.tag == T_FREEZE && tlv_get_u64(&f, &freeze, &e) < 0)
            r = -1;
        if (f.tag == T_TIMEOUT_MS && tlv_get_u64(&f, &ms, &e) < 0)
            r = -1;
        if (r < 0)
            break;
    }
    if (r < 0 || freeze > 1 || ms < 1 || ms > 60000) {
        send_error(a, id, BOXLITE_ERR_INVALID, "FSFREEZE: %s", r < 0 ? e.msg
                   : "FREEZE must be 0 or 1 and TIMEOUT_MS 1..60000");
        return;
    }
    if (!freeze) {
        /* Not frozen any more: it thawed by itself (the timeout) while the host worked, so
         * what the host copied meanwhile may be inconsistent; the host must know. */
        if (a->frozen_fd < 0)
            send_error(a, id, BOXLITE_ERR_STATE, "FSFREEZE: the root is not frozen (it was "
                       "thawed after the timeout, or never frozen)");
        else {
            thaw(a, NULL);
            send_empty_result(a, id);
        }
        return;
    }
    if (!a->opt.guest || !a->ct.ready || !a->ct.root[0]) {
        send_error(a, id, BOXLITE_ERR_STATE, "FSFREEZE: no container root to freeze");
        return;
    }
    if (a->frozen_fd >= 0) {
        send_error(a, id, BOXLITE_ERR_STATE, "FSFREEZE: %s is already frozen", a->ct.root);
        return;
    }
    int fd = open(a->ct.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ioctl(fd, FIFREEZE, 0) < 0) {
        send_error(a, id, errno == EOPNOTSUPP ? BOXLITE_ERR_UNSUPPORTED : BOXLITE_ERR_IO,
                   "FSFREEZE %s: %s", a->ct.root, strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    a->frozen_fd = fd;
    a->thaw_at_us = mono_us() + ms * 1000u;
    send_empty_result(a, id);
}

/* The guest's free memory in bytes (/proc/meminfo MemFree), 0 if unknown. */
static uint64_t mem_free(void)
{
    char buf[256];
    unsigned long long kb = 0;
    FILE *f = fopen("/proc/meminfo", "re");
    while (f && fgets(buf, sizeof buf, f))
        if (sscanf(buf, "MemFree: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (uint64_t)kb * 1024;
}

static int write_sysctl(const char *path, const char *v)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, v, strlen(v));
    int e = errno;
    close(fd);
    return n < 0 ? -e : 0;
}

/* RECLAIM (docs/protocol.md "Balloon"): the page cache and reclaimable slab go (clean pages
 * only: nothing is lost, files are read again when used), then compaction gathers the free
 * pages into the large blocks free page reporting hands to the host. RESULT's BYTES is how
 * much the guest's free memory grew. Only in a guest: run natively it would drop the
 * host's caches. */
static void handle_reclaim(struct agent *a, uint32_t id)
{
    if (!a->opt.guest) {
        send_error(a, id, BOXLITE_ERR_UNSUPPORTED, "RECLAIM: not in a guest");
        return;
    }
    uint64_t before = mem_free();
    int r = write_sysctl("/proc/sys/vm/drop_caches", "3");
    /* a kernel without CONFIG_COMPACTION has no such file: the caches went all the same */
    if (r == 0 && (r = write_sysctl("/proc/sys/vm/compact_memory", "1")) == -ENOENT)
        r = 0;
    if (r < 0) {
        send_error(a, id, BOXLITE_ERR_IO, "RECLAIM: %s", strerror(-r));
        return;
    }
    uint64_t after = mem_free();
    struct tlv_writer *w = malloc(sizeof *w);
    if (w) {
        struct proto_result res = { .bytes = after > before ? after - before : 0 };
        proto_result_encode(&res, w);
        send_frame(a, PROTO_RESULT, id, 0, w->buf, w->len);
        free(w);
    }
}

/* VOLUMES (docs/protocol.md): unmounted before a pause, mounted again after the resume
 * (volumes.c). */
static void handle_volumes(struct agent *a, uint32_t id, const uint8_t *p, size_t len)
{
    uint64_t mount_them = 2;
    struct bl_error e = {0};
    int r = body_u64(p, len, T_MOUNT, &mount_them, &e);
    if (r < 0 || mount_them > 1) {
        send_error(a, id, BOXLITE_ERR_INVALID, "VOLUMES: %s", r < 0 ? e.msg
                   : "MOUNT must be 0 or 1");
        return;
    }
    if ((mount_them ? volumes_mount(&a->ct, &e) : volumes_unmount(&a->ct, &e)) < 0)
        send_error(a, id, e.code ? e.code : BOXLITE_ERR_IO, "VOLUMES: %s", e.msg);
    else
        send_empty_result(a, id);
}

/* GROUP_LIMITS (docs/protocol.md): a container's `update --pids-limit` reaching the group
 * its processes are counted in (procgroup.c). */
static void handle_group_limits(struct agent *a, uint32_t id, const uint8_t *p, size_t len)
{
    struct proto_group_limits g;
    struct bl_error e = {0};
    if (proto_group_limits_decode(&g, p, len, &e) < 0)
        send_error(a, id, BOXLITE_ERR_INVALID, "GROUP_LIMITS: %s", e.msg);
    else if (procgroup_set_pids(g.group, g.pids_max, &e) < 0)
        send_error(a, id, e.code ? e.code : BOXLITE_ERR_IO, "GROUP_LIMITS: %s", e.msg);
    else
        send_empty_result(a, id);
}

static void handle_identity(struct agent *a, uint32_t id, const uint8_t *p, size_t len)
{
    struct bl_error e = {0};
    struct proto_identity ident;
    if (proto_identity_decode(&ident, p, len, &e) < 0) {
        send_error(a, id, BOXLITE_ERR_PROTOCOL, "identity: %s", e.msg);
        return;
    }
    if (a->opt.guest && ident.time_ns)
        set_clock(ident.time_ns);
    int rc = identity_apply(&ident, &a->ct, a->opt.guest, &e);
    explicit_bzero(ident.seed, sizeof ident.seed);
    if (rc < 0) {
        send_error(a, id, e.code ? e.code : BOXLITE_ERR_IO, "identity: %s", e.msg);
        return;
    }
    if (a->opt.guest)
        agent_log("new identity: hostname %s, MAC %s", ident.hostname,
                  ident.mac[0] ? ident.mac : "unchanged");
    /* A fork is a new box: its main process's restarts count from 0 (Docker's RestartCount
     * of a new container; on-failure:N allows N more), as its per-box process reports. */
    a->restarts = 0;
    a->restart_delay_ms = 0;
    send_empty_result(a, id);
}

static void chan_abort(struct agent *a, struct chan *c, const char *why)
{
    send_error(a, c->id, BOXLITE_ERR_PROTOCOL, "%s", why);
    c->muted = true;
    chan_kill(c, SIGKILL);
    close_fd(&c->in_fd);
}

static void handle_frame(struct agent *a, const struct proto_hdr *h, const uint8_t *p)
{
    struct bl_error e = {0};
    if (proto_hdr_check(h, &e) < 0) {
        send_error(a, h->channel, BOXLITE_ERR_PROTOCOL, "%s", e.msg);
        return;
    }
    a->ever_connected = a->connected = true;
    struct chan *c = h->channel ? chan_find(a, h->channel) : NULL;
    bool request = h->type == PROTO_EXEC || h->type == PROTO_COPY_IN ||
                   h->type == PROTO_COPY_OUT || h->type == PROTO_SETUP ||
                   h->type == PROTO_SHUTDOWN || h->type == PROTO_FSFREEZE ||
                   h->type == PROTO_IDENTITY || h->type == PROTO_RECLAIM ||
                   h->type == PROTO_VOLUMES || h->type == PROTO_GROUP_LIMITS;
    if (request && c && !c->muted) {
        send_error(a, h->channel, BOXLITE_ERR_PROTOCOL, "%s on busy channel %u",
                   proto_type_name(h->type), h->channel);
        return;
    }
    if (request && !c) {
        unsigned n = 0;
        for (struct chan *x = a->chans; x; x = x->next)
            n++;
        if (n >= MAX_CHANNELS) {
            send_error(a, h->channel, BOXLITE_ERR_STATE, "too many open channels (%d)", MAX_CHANNELS);
            return;
        }
    }
    if (request && c) {
        /* An abandoned channel still waiting for its process: the id is free for the
         * host, so detach the old one. */
        c->id = 0;
        c = NULL;
    }
    switch (h->type) {
    case PROTO_HELLO: {
        uint64_t v = 0, host_ns = 0;
        struct tlv_iter it;
        struct tlv_field f;
        tlv_iter_init(&it, p, h->len);
        while (tlv_next(&it, &f, NULL) > 0) {
            if (f.tag == T_VERSION)
                tlv_get_u64(&f, &v, NULL);
            if (f.tag == T_TIME_NS)
                tlv_get_u64(&f, &host_ns, NULL);
        }
        if (a->opt.guest && host_ns)
            set_clock(host_ns);
        if (v != PROTO_VERSION) {
            send_error(a, 0, BOXLITE_ERR_PROTOCOL, "protocol version %llu not supported (agent speaks %d)",
                       (unsigned long long)v, PROTO_VERSION);
            return;
        }
        send_hello(a);
        return;
    }
    case PROTO_PING: send_frame(a, PROTO_PONG, 0, 0, p, h->len); return;
    case PROTO_PONG:
    case PROTO_ERROR: return; /* the host's complaints are for its log, not ours */
    case PROTO_RESULT:
        send_error(a, h->channel, BOXLITE_ERR_PROTOCOL, "RESULT is sent by the agent only");
        return;
    case PROTO_STATUS:
    case PROTO_PAUSE:
    case PROTO_BALLOON:
    case PROTO_EXIT: /* the box socket's control frames: the per-box process answers them */
        send_error(a, 0, BOXLITE_ERR_PROTOCOL, "%s is for the per-box process, not the agent",
                   proto_type_name(h->type));
        return;
    case PROTO_EXEC: handle_exec(a, h->channel, p, h->len); return;
    case PROTO_COPY_IN: handle_copy(a, h->channel, SPAWN_COPY_IN, p, h->len); return;
    case PROTO_COPY_OUT: handle_copy(a, h->channel, SPAWN_COPY_OUT, p, h->len); return;
    case PROTO_SETUP: handle_setup(a, h->channel, p, h->len); return;
    case PROTO_FSFREEZE: handle_fsfreeze(a, h->channel, p, h->len); return;
    case PROTO_KILL: handle_kill(a, h->channel, p, h->len); return;
    case PROTO_RECLAIM: handle_reclaim(a, h->channel); return;
    case PROTO_VOLUMES: handle_volumes(a, h->channel, p, h->len); return;
    case PROTO_GROUP_LIMITS: handle_group_limits(a, h->channel, p, h->len); return;
    case PROTO_IDENTITY: handle_identity(a, h->channel, p, h->len); return;
    case PROTO_SHUTDOWN: {
        struct tlv_writer *w = malloc(sizeof *w);
        if (w) {
            struct proto_result r = {0};
            proto_result_encode(&r, w);
            send_frame(a, PROTO_RESULT, h->channel, 0, w->buf, w->len);
            free(w);
        }
        a->shutdown = true;
        return;
    }
    default: break;
    }
    /* Channel frames. A frame for a channel that has just ended is a normal race (the host
     * had not seen RESULT yet): dropped silently. */
    if (!c || c->muted)
        return;
    switch (h->type) {
    case PROTO_DATA:
        if (h->stream != PROTO_STDIN || c->kind == SPAWN_COPY_OUT) {
            chan_abort(a, c, "DATA on a stream the host does not write");
        } else if (c->in_eof) {
            chan_abort(a, c, "DATA after EOF");
        } else if (h->len > c->in_allow) {
            chan_abort(a, c, "flow control violated: DATA beyond the granted credit");
        } else {
            c->in_allow -= h->len;
            if (c->in_fd < 0) { /* the process closed its stdin: discard, keep credit going */
                c->in_unacked += h->len;
            } else if (proto_buf_put(&c->inbuf, p, h->len) < 0) {
                chan_abort(a, c, "out of memory");
            }
        }
        return;
    case PROTO_EOF:
        if (h->stream != PROTO_STDIN)
            chan_abort(a, c, "EOF on a stream the host does not write");
        else
            c->in_eof = true;
        return;
    case PROTO_CREDIT: {
        uint32_t n = get_le32(p);
        if (h->stream == PROTO_STDIN || (uint64_t)c->credit[h->stream] + n > 64u * PROTO_WINDOW)
            chan_abort(a, c, "flow control violated: bad CREDIT");
        else
            c->credit[h->stream] += n;
        return;
    }
    case PROTO_SIGNAL: {
        uint32_t sig = get_le32(p);
        if (sig < 1 || sig > 64)
            send_error(a, c->id, BOXLITE_ERR_INVALID, "signal %u out of range", sig);
        else if (!c->exited)
            kill(c->tty ? -c->pid : c->pid, (int)sig);
        return;
    }
    case PROTO_RESIZE: {
        struct winsize ws = {.ws_row = (unsigned short)get_le32(p),
                             .ws_col = (unsigned short)get_le32(p + 4)};
        if (c->attach && a->main_tty >= 0)
            ioctl(a->main_tty, TIOCSWINSZ, &ws);
        else if (c->tty && c->out_fd[1] >= 0)
            ioctl(c->out_fd[1], TIOCSWINSZ, &ws);
        return;
    }
    case PROTO_CLOSE:
        c->muted = true;
        chan_kill(c, SIGKILL);
        close_fd(&c->in_fd);
        return;
    default: return;
    }
}

/* ---- I/O ---------------------------------------------------------------------------- */

static void host_disconnected(struct agent *a)
{
    if (a->connected)
        agent_log("host disconnected");
    a->connected = false;
    a->disconnected_us = mono_us();
    a->rd.have = 0;
    a->rd.done = false;
    a->rd.failed = false;
    a->out.len = a->out.off = 0;
    thaw(a, "the host disconnected");
    /* A new host knows nothing of the old channels. */
    for (struct chan *c = a->chans; c; c = c->next) {
        c->muted = true;
        chan_kill(c, SIGKILL);
        close_fd(&c->in_fd);
    }
}

/* Returns -1 when the stream ended for good. */
static int read_host(struct agent *a)
{
    uint8_t buf[65536];
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = read(a->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            if (a->connected)
                host_disconnected(a);
            return a->opt.port ? 0 : -1;
        }
        a->connected = true;
        size_t off = 0;
        while (off < (size_t)n) {
            if (a->rd.failed) {
                off += proto_reader_resync(&a->rd, buf + off, (size_t)n - off);
                continue;
            }
            struct proto_hdr h;
            const uint8_t *payload;
            size_t used;
            struct bl_error e = {0};
            int rc = proto_reader_feed(&a->rd, buf + off, (size_t)n - off, &used, &h, &payload, &e);
            off += used;
            if (rc < 0) {
                agent_log("host stream: %s; waiting for HELLO", e.msg);
                send_error(a, 0, BOXLITE_ERR_PROTOCOL, "%s; resend HELLO", e.msg);
            } else if (rc > 0) {
                handle_frame(a, &h, payload);
            }
        }
    }
    return 0;
}

static void write_stdin(struct agent *a, struct chan *c)
{
    size_t before = proto_buf_pending(&c->inbuf);
    if (c->in_fd >= 0 && before) {
        int rc = proto_buf_flush(&c->inbuf, c->in_fd);
        if (rc < 0) { /* EPIPE: the process no longer reads stdin; discard the rest */
            c->in_unacked += (uint32_t)proto_buf_pending(&c->inbuf);
            c->inbuf.len = c->inbuf.off = 0;
            close_fd(&c->in_fd);
        }
        c->in_unacked += (uint32_t)(before - proto_buf_pending(&c->inbuf));
    }
    if (c->in_fd >= 0 && c->in_eof && !proto_buf_pending(&c->inbuf)) {
        if (c->tty) {
            /* A terminal has no half-close: the line discipline's EOF character does it. */
            if (write(c->in_fd, "\x04", 1) < 0) {
            }
        }
        close_fd(&c->in_fd);
    }
    if (!c->muted && c->in_unacked &&
        (c->in_unacked >= CREDIT_BATCH || !proto_buf_pending(&c->inbuf))) {
        send_credit(a, c->id, PROTO_STDIN, c->in_unacked);
        c->in_allow += c->in_unacked;
        c->in_unacked = 0;
    }
}

static void out_eof(struct agent *a, struct chan *c, int s)
{
    close_fd(&c->out_fd[s]);
    if (c->tty && s == 1)
        close_fd(&c->in_fd);
    if (!c->muted && !(c->kind != SPAWN_EXEC && s == 2))
        send_frame(a, PROTO_EOF, c->id, (uint8_t)s, NULL, 0);
}

static void read_output(struct agent *a, struct chan *c, int s)
{
    uint8_t buf[READ_CHUNK];
    bool internal = c->kind != SPAWN_EXEC && s == 2; /* a copy's error text */
    if (!internal && !c->muted &&
        (c->credit[s] == 0 || proto_buf_pending(&a->out) >= PORT_HIGH_WATER))
        return; /* the host's credit, or the port, holds us back */
    size_t want = sizeof buf;
    if (!internal && !c->muted && want > c->credit[s])
        want = c->credit[s];
    ssize_t n = read(c->out_fd[s], buf, want);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (c->exited && !c->idle_since[s])
            c->idle_since[s] = mono_us();
        return;
    }
    if (n <= 0) { /* end of file, or EIO from a terminal whose last holder closed it */
        out_eof(a, c, s);
        return;
    }
    c->idle_since[s] = 0;
    if (internal) {
        size_t room = sizeof c->errtext - 1 - c->errlen, k = (size_t)n < room ? (size_t)n : room;
        memcpy(c->errtext + c->errlen, buf, k);
        c->errlen += k;
        return;
    }
    if (c->kind == SPAWN_COPY_OUT)
        c->bytes += (uint64_t)n;
    if (c->muted)
        return;
    c->credit[s] -= (uint32_t)n;
    send_frame(a, PROTO_DATA, c->id, (uint8_t)s, buf, (size_t)n);
}

static const char *signame(int sig)
{
    static const char *const names[] = {
        [SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
        [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT", [SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE",
        [SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV",
        [SIGUSR2] = "SIGUSR2", [SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM",
        [SIGTERM] = "SIGTERM",
    };
    return sig > 0 && sig < (int)ARRAY_SIZE(names) && names[sig] ? names[sig] : "";
}

/* Why a process of the container ended, in words; *oom when the OOM killer chose it. */
/* An EVENT to the host on channel 0 (a best effort: without memory it is not sent). */
static void send_event(struct agent *a, const struct proto_event *ev)
{
    struct tlv_writer *w = malloc(sizeof *w);
    if (w) {
        proto_event_encode(ev, w);
        send_frame(a, PROTO_EVENT, 0, 0, w->buf, w->len);
        free(w);
    }
}

static void describe_end(struct agent *a, const char *who, pid_t pid, int status,
                         struct proto_event *ev)
{
    memset(ev, 0, sizeof *ev);
    snprintf(ev->kind, sizeof ev->kind, "%s", PROTO_EVENT_CONTAINER_EXIT);
    snprintf(ev->who, sizeof ev->who, "%s", who);
    const char *name = !strcmp(who, "main") ? "main process" : "container init";
    if (WIFEXITED(status)) {
        ev->exit_code = WEXITSTATUS(status);
        snprintf(ev->message, sizeof ev->message, "%s exited with status %d", name,
                 WEXITSTATUS(status));
        return;
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    ev->signo = sig;
    if (sig == SIGKILL) {
        /* The kernel's own account first; the counter when its log cannot be read. */
        int logged = oom_killed_in_log("/dev/kmsg", pid);
        long long now = oom_kill_count("/proc/vmstat");
        ev->oom = logged > 0 || (logged < 0 && a->oom_base >= 0 && now > a->oom_base);
    }
    if (ev->oom)
        snprintf(ev->message, sizeof ev->message, "%s killed by OOM", name);
    else if (!strcmp(who, "init") && sig == SIGHUP)
        /* reboot(2) inside a PID namespace ends its init with SIGHUP (restart) or SIGINT
         * (power off, halt): kernel/pid_namespace.c, reboot_pid_ns() */
        snprintf(ev->message, sizeof ev->message, "the container was rebooted from inside the box");
    else if (!strcmp(who, "init") && sig == SIGINT)
        snprintf(ev->message, sizeof ev->message,
                 "the container was powered off from inside the box");
    else
        snprintf(ev->message, sizeof ev->message, "%s killed by signal %d%s%s%s", name, sig,
                 signame(sig)[0] ? " (" : "", signame(sig), signame(sig)[0] ? ")" : "");
}

/* The container's init or the main process ended: the box ends with it, as a Docker
 * container ends with its PID 1. Said once, and not when the host asked for the stop. */
static void container_gone(struct agent *a, const char *who, pid_t pid, int status)
{
    if (a->ct_gone || a->shutdown || a->stopping)
        return;
    struct proto_event ev;
    describe_end(a, who, pid, status, &ev);
    a->ct_gone = true;
    snprintf(a->ct_gone_reason, sizeof a->ct_gone_reason, "%s", ev.message);
    if (!strcmp(who, "main"))
        a->exit_status = ev.signo ? 128 + (int)ev.signo : (int)ev.exit_code;
    agent_log("%s: stopping the box", ev.message);
    send_event(a, &ev);
    a->shutdown = true;
}

/* A copy of a request, through its encoding (one code path for every field). */
static struct proto_exec_req *req_copy(const struct proto_exec_req *r)
{
    struct tlv_writer *w = malloc(sizeof *w);
    struct proto_exec_req *c = calloc(1, sizeof *c);
    if (!w || !c || proto_exec_req_encode(r, w, NULL) < 0 ||
        proto_exec_req_decode(c, w->buf, w->len, NULL) < 0) {
        free(w);
        free(c);
        return NULL;
    }
    free(w);
    return c;
}

/* The main process ended: whether the restart policy runs it again (Docker's rules:
 * always, or on-failure for a status other than 0, at most restart_max times). The host
 * hears it (EVENT main-restart) and the new run starts after the back-off: 100 ms,
 * doubled at each restart, back to 100 ms after a run of 10 s, at most a minute. */
static bool main_restart_due(struct agent *a, pid_t pid, int status)
{
    if (!a->restart || !a->main_req || a->ct_gone || a->shutdown || a->stopping)
        return false;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (a->restart == PROTO_RESTART_ON_FAILURE &&
        (ok || (a->restart_max && a->restarts >= a->restart_max)))
        return false;
    struct proto_event ev;
    describe_end(a, "main", pid, status, &ev);
    uint64_t now = mono_us();
    if (!a->restart_delay_ms || now - a->main_started_us >= 10000000u)
        a->restart_delay_ms = 100;
    else if ((a->restart_delay_ms *= 2) > 60000)
        a->restart_delay_ms = 60000;
    a->restarts++;
    a->restart_at_us = now + a->restart_delay_ms * 1000u;
    snprintf(ev.kind, sizeof ev.kind, "%s", PROTO_EVENT_MAIN_RESTART);
    ev.restarts = a->restarts;
    size_t n = strlen(ev.message);
    snprintf(ev.message + n, sizeof ev.message - n, ": restart %llu in %llu ms",
             (unsigned long long)a->restarts, (unsigned long long)a->restart_delay_ms);
    agent_log("%s", ev.message);
    send_event(a, &ev);
    return true;
}

/* What the main process wrote on its terminal goes to the console, as its output would
 * without one. One read a round (other work is not starved by a chatty process); the
 * console write may wait for the host to take the log, as the process's own would. */
static void main_tty_pump(struct agent *a)
{
    char buf[16384];
    ssize_t n = read(a->main_tty, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        agent_log("main process's terminal: %s", n < 0 ? strerror(errno) : "closed");
        close_fd(&a->main_tty);
        return;
    }
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(2, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the console is gone: nothing to tell */
        off += w;
    }
}

/* The back-off is over: the main process again, as SETUP asked for it. */
static void main_rerun(struct agent *a)
{
    a->restart_at_us = 0;
    if (a->ct_gone || a->shutdown || a->stopping)
        return;
    struct spawned sp;
    struct bl_error err = { 0 };
    if (exec_spawn_in(&a->ct, SPAWN_MAIN, a->main_req, a->main_stdin_r, &sp, &err) < 0) {
        agent_log("main process restart: %s", err.msg);
        container_gone(a, "main", 0, 127 << 8); /* as a shell says a program it cannot run */
        return;
    }
    a->main_pid = sp.pid;
    a->main_started_us = mono_us();
    agent_log("main process %s started again as pid %d", a->main_req->argv[0], (int)sp.pid);
}

static void reap(struct agent *a)
{
    struct signalfd_siginfo si;
    while (read(a->sigfd, &si, sizeof si) > 0) {
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == a->ct.init_pid) {
            agent_log("container init exited (status 0x%x)", status);
            a->ct.init_pid = -1;
            container_gone(a, "init", pid, status);
        }
        if (pid == a->main_pid) {
            a->main_pid = 0;
            if (!main_restart_due(a, pid, status))
                container_gone(a, "main", pid, status);
        }
        for (struct chan *c = a->chans; c; c = c->next)
            if (c->pid == pid && !c->exited) {
                c->exited = true;
                c->status = status;
                c->exit_us = mono_us();
                /* the leader's end ends its group, whatever still holds its output open */
                if (c->leads[0])
                    procgroup_end(c->leads);
                c->leads[0] = 0;
                if (c->kind == SPAWN_COPY_IN)
                    close_fd(&c->in_fd);
            }
    }
}

static void check_timers(struct agent *a, uint64_t now)
{
    if (a->frozen_fd >= 0 && now >= a->thaw_at_us)
        thaw(a, "the host did not thaw it in time");
    for (struct chan *c = a->chans; c; c = c->next) {
        if (c->deadline_us && !c->exited && now >= c->deadline_us && !c->timed_out) {
            c->timed_out = true;
            kill(-c->pid, SIGKILL);
            kill(c->pid, SIGKILL);
        }
        /* After the process exits, bytes it wrote are already in the pipe (a read finds
         * them); an output still open but idle is held by a descendant: stop waiting. */
        for (int s = 1; s <= 2; s++)
            if (c->out_fd[s] >= 0 && c->idle_since[s] && now - c->idle_since[s] >= DRAIN_MS * 1000u)
                out_eof(a, c, s);
    }
}

struct agent *agent_new(int fd, const struct agent_options *opt, struct bl_error *err)
{
    struct agent *a = calloc(1, sizeof *a);
    if (!a) {
        bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    a->fd = fd;
    a->opt = *opt;
    if (a->opt.host_gone_shutdown_ms <= 0)
        a->opt.host_gone_shutdown_ms = 10000;
    a->ct.init_pid = -1;
    a->ct.mnt_fd = a->ct.uts_fd = a->ct.ipc_fd = -1;
    a->main_stdin_r = a->main_stdin_w = a->main_tty = -1;
    a->oom_base = -1;
    a->frozen_fd = -1;
    set_nonblock(fd);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    a->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (a->sigfd < 0) {
        bl_errno(err, errno, "signalfd");
        free(a);
        return NULL;
    }
    a->connected = true; /* until a read or write says otherwise */
    return a;
}

/* The main process runs once per boot: a repeated SETUP does not start it again (its
 * restarts are the agent's own, main_restart_due). */
static int main_start(struct agent *a, const struct proto_setup *s, struct bl_error *err)
{
    const struct proto_exec_req *req = s->main;
    if (a->main_started)
        return 0;
    if (a->ct_gone)
        return bl_err(err, BOXLITE_ERR_STATE, "the box has stopped: %s", a->ct_gone_reason);
    if (!a->ct.ready)
        return bl_err(err, BOXLITE_ERR_STATE, "a main process needs a container");
    struct spawned sp;
    if (req->tty && a->main_tty < 0) {
        int master, slave;
        if (exec_open_pty(&a->ct, req->rows, req->cols, &master, &slave, err) < 0)
            return bl_err_prefix(err, "main process");
        a->main_tty = master;
        a->main_stdin_r = slave;
        /* -i: attach's input is typed on the terminal (a copier writes to this) */
        if (s->main_stdin && (a->main_stdin_w = fcntl(master, F_DUPFD_CLOEXEC, 0)) < 0)
            return bl_errno(err, errno, "main process: terminal");
    } else if (s->main_stdin && a->main_stdin_w < 0) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return bl_errno(err, errno, "main process: stdin pipe");
        a->main_stdin_r = p[0];
        a->main_stdin_w = p[1];
    }
    if (exec_spawn_in(&a->ct, SPAWN_MAIN, req, a->main_stdin_r, &sp, err) < 0)
        return bl_err_prefix(err, "main process");
    a->main_pid = sp.pid;
    a->main_started = true;
    a->main_started_us = mono_us();
    if (s->restart && (a->main_req = req_copy(req))) {
        a->restart = s->restart;
        a->restart_max = s->restart_max;
    } else if (s->restart) {
        agent_log("out of memory: the main process will not be restarted");
    }
    agent_log("main process %s started as pid %d", req->argv[0], (int)sp.pid);
    return 0;
}

int agent_setup(struct agent *a, const struct proto_setup *s, struct bl_error *err)
{
    if (a->ct.ready) {
        bool same = (s->root_dev && !strcmp(s->root_dev, a->ct.source)) ||
                    (s->root_dir && !strcmp(s->root_dir, a->ct.source));
        if (!same)
            return bl_err(err, BOXLITE_ERR_STATE, "the container is already set up from %s",
                          a->ct.source);
        return s->main ? main_start(a, s, err) : 0;
    }
    if (a->ct_gone)
        return bl_err(err, BOXLITE_ERR_STATE, "the box has stopped: %s", a->ct_gone_reason);
    if (a->opt.guest) {
        if (s->hostname && s->hostname[0])
            sethostname(s->hostname, strlen(s->hostname));
        bool explicit_addr = s->net_addr && *s->net_addr;
        if ((explicit_addr || !a->net_addr_set) && net_configure(s, err) < 0)
            return bl_err_prefix(err, "network");
        a->net_addr_set |= explicit_addr && s->net;
    }
    if (!s->root_dev && !s->root_dir)
        return s->main ? bl_err(err, BOXLITE_ERR_INVALID, "a main process needs a rootfs") : 0;
    a->oom_base = oom_kill_count("/proc/vmstat");
    int rc = container_create(&a->ct, s, err);
    if (rc < 0)
        return rc;
    snprintf(a->ct.source, sizeof a->ct.source, "%s", s->root_dev ? s->root_dev : s->root_dir);
    return s->main ? main_start(a, s, err) : 0;
}

int agent_exit_status(const struct agent *a) { return a->exit_status; }

int agent_run(struct agent *a)
{
    struct pollfd *pf = NULL;
    struct chan **owner = NULL;
    int *stream = NULL;
    size_t cap = 0;
    int ret = 0;
    send_hello(a); /* the agent speaks first: its HELLO is the "ready" message */
    uint64_t fault_at = a->opt.fault_exit_ms ? mono_us() + a->opt.fault_exit_ms * 1000u : 0;
    while (!a->shutdown) {
        if (fault_at && mono_us() >= fault_at) {
            agent_log("fault injection (boxlite.fault_exit_ms): exiting");
            _exit(1);
        }
        size_t need = 3;
        for (struct chan *c = a->chans; c; c = c->next)
            need += 3;
        if (need > cap) {
            cap = need * 2;
            pf = realloc(pf, cap * sizeof *pf);
            owner = realloc(owner, cap * sizeof *owner);
            stream = realloc(stream, cap * sizeof *stream);
            if (!pf || !owner || !stream) {
                agent_log("out of memory");
                sleep(1);
                continue;
            }
        }
        size_t n = 0;
        pf[n] = (struct pollfd){.fd = a->sigfd, .events = POLLIN};
        owner[n++] = NULL;
        int host_slot = -1;
        if (a->connected) {
            host_slot = (int)n;
            pf[n] = (struct pollfd){.fd = a->fd, .events = POLLIN};
            if (proto_buf_pending(&a->out))
                pf[n].events |= POLLOUT;
            owner[n++] = NULL;
        }
        int tty_slot = -1;
        if (a->main_tty >= 0) {
            tty_slot = (int)n;
            pf[n] = (struct pollfd){.fd = a->main_tty, .events = POLLIN};
            owner[n++] = NULL;
        }
        bool backlog = proto_buf_pending(&a->out) >= PORT_HIGH_WATER;
        uint64_t now = mono_us(), wake = UINT64_MAX;
        for (struct chan *c = a->chans; c; c = c->next) {
            for (int s = 1; s <= 2; s++) {
                if (c->out_fd[s] < 0)
                    continue;
                bool internal = c->kind != SPAWN_EXEC && s == 2;
                if (internal || c->muted || (c->credit[s] && !backlog)) {
                    pf[n] = (struct pollfd){.fd = c->out_fd[s], .events = POLLIN};
                    owner[n] = c;
                    stream[n++] = s;
                }
                if (c->idle_since[s] && c->idle_since[s] + DRAIN_MS * 1000u < wake)
                    wake = c->idle_since[s] + DRAIN_MS * 1000u;
                if (c->exited && !c->idle_since[s] &&
                    ((c->credit[s] && !backlog) || c->muted || internal))
                    wake = now; /* poll once more to notice an idle pipe */
            }
            if (c->in_fd >= 0 && proto_buf_pending(&c->inbuf)) {
                pf[n] = (struct pollfd){.fd = c->in_fd, .events = POLLOUT};
                owner[n] = c;
                stream[n++] = 0;
            }
            if (c->deadline_us && !c->exited && c->deadline_us < wake)
                wake = c->deadline_us;
        }
        if (!a->connected)
            wake = now + 50000; /* the port reports no connection by HUP: retry */
        if (a->frozen_fd >= 0 && a->thaw_at_us < wake)
            wake = a->thaw_at_us;
        if (fault_at && fault_at < wake)
            wake = fault_at;
        if (a->restart_at_us && a->restart_at_us < wake)
            wake = a->restart_at_us;
        int timeout = wake == UINT64_MAX ? -1 : wake <= now ? 0 : (int)((wake - now + 999) / 1000);
        int r = poll(pf, n, timeout);
        if (r < 0 && errno != EINTR) {
            agent_log("poll: %s", strerror(errno));
            sleep(1);
        }
        if (pf[0].revents)
            reap(a);
        if (tty_slot >= 0 && pf[tty_slot].revents && a->main_tty >= 0)
            main_tty_pump(a);
        if (host_slot >= 0 && (pf[host_slot].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (read_host(a) < 0) {
                ret = 0;
                break;
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (!owner[i] || !pf[i].revents)
                continue;
            struct chan *c = owner[i];
            /* the channel may have ended during this round */
            bool alive = false;
            for (struct chan *x = a->chans; x; x = x->next)
                alive |= x == c;
            if (!alive)
                continue;
            if (stream[i] == 0)
                write_stdin(a, c);
            else if (c->out_fd[stream[i]] == pf[i].fd)
                read_output(a, c, stream[i]);
        }
        for (struct chan *c = a->chans; c; c = c->next)
            if (c->exited)
                for (int s = 1; s <= 2; s++)
                    if (c->out_fd[s] >= 0 && !c->idle_since[s] &&
                        (c->credit[s] || c->muted || (c->kind != SPAWN_EXEC && s == 2)))
                        read_output(a, c, s);
        for (struct chan *c = a->chans; c; c = c->next)
            write_stdin(a, c);
        check_timers(a, mono_us());
        if (a->restart_at_us && mono_us() >= a->restart_at_us)
            main_rerun(a);
        for (struct chan *c = a->chans, *next; c; c = next) {
            next = c->next;
            chan_maybe_finish(a, c);
        }
        if (a->connected && proto_buf_pending(&a->out)) {
            int rc = proto_buf_flush(&a->out, a->fd);
            if (rc < 0) {
                host_disconnected(a);
                if (!a->opt.port)
                    break;
            }
        }
        if (!a->connected && a->opt.port) {
            if (a->ever_connected && mono_us() - a->disconnected_us >
                                         (uint64_t)a->opt.host_gone_shutdown_ms * 1000u) {
                agent_log("host gone: shutting down");
                a->shutdown = true;
            }
            /* A port without a host reports HUP all the time, so it is not polled while
             * disconnected; it is probed, and once HUP is gone the host is back. */
            struct pollfd p = {.fd = a->fd, .events = POLLIN | POLLOUT};
            if (poll(&p, 1, 0) == 1 && !(p.revents & (POLLHUP | POLLERR | POLLNVAL))) {
                agent_log("host connected");
                a->connected = true;
                send_hello(a);
            }
        }
    }
    thaw(a, a->shutdown ? "shutting down" : "the loop ended"); /* a frozen root cannot sync */
    if (a->shutdown) {
        ret = 1;
        /* Best effort: let the RESULT of SHUTDOWN reach the host. */
        for (int i = 0; i < 50 && a->connected && proto_buf_pending(&a->out); i++) {
            struct pollfd p = {.fd = a->fd, .events = POLLOUT};
            poll(&p, 1, 20);
            if (proto_buf_flush(&a->out, a->fd) < 0)
                break;
        }
    }
    free(pf);
    free(owner);
    free(stream);
    return ret;
}

void agent_stop_all(struct agent *a, int grace_ms)
{
    a->stopping = true; /* what ends from here on was stopped, not lost */
    for (struct chan *c = a->chans; c; c = c->next)
        chan_kill(c, SIGTERM);
    if (a->main_pid > 0)
        kill(a->main_pid, SIGTERM);
    uint64_t end = mono_us() + (uint64_t)grace_ms * 1000u;
    for (;;) {
        reap(a);
        bool left = a->main_pid > 0;
        for (struct chan *c = a->chans; c; c = c->next)
            left |= c->pid > 0 && !c->exited;
        if (!left || mono_us() >= end)
            break;
        struct pollfd p = {.fd = a->sigfd, .events = POLLIN};
        poll(&p, 1, 20);
    }
    for (struct chan *c = a->chans; c; c = c->next)
        chan_kill(c, SIGKILL);
    if (a->main_pid > 0)
        kill(a->main_pid, SIGKILL);
    container_destroy(&a->ct);
    reap(a);
}

void agent_free(struct agent *a)
{
    if (!a)
        return;
    while (a->chans) {
        chan_kill(a->chans, SIGKILL);
        chan_free(a, a->chans);
    }
    container_destroy(&a->ct);
    close_fd(&a->main_stdin_r);
    close_fd(&a->main_stdin_w);
    close_fd(&a->main_tty);
    if (a->main_req) {
        proto_exec_req_free(a->main_req);
        free(a->main_req);
    }
    proto_buf_free(&a->out);
    close_fd(&a->sigfd);
    close_fd(&a->fd);
    free(a);
}
