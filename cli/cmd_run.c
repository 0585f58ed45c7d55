// SPDX-License-Identifier: Apache-2.0
/* run and exec: a command in a box, its output streamed to ours, its exit status returned
 * as ours. With -t the local terminal is put in raw mode and bridged to the box's terminal
 * (resize follows SIGWINCH; Ctrl-C travels as a byte to the box's process). */
#include "cli.h"
#include "common/lines.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t winch;
static void on_winch(int sig) { (void)sig; winch = 1; }

static struct termios saved_tio;
static int raw_fd = -1;
static void restore_tty(void)
{
    if (raw_fd >= 0)
        tcsetattr(raw_fd, TCSADRAIN, &saved_tio);
    raw_fd = -1;
}

void cli_tty_raw(void)
{
    if (raw_fd >= 0 || !isatty(0))
        return;
    tcgetattr(0, &saved_tio);
    struct termios raw = saved_tio;
    cfmakeraw(&raw);
    raw_fd = 0;
    tcsetattr(0, TCSADRAIN, &raw);
    atexit(restore_tty);
    signal(SIGWINCH, on_winch);
    winch = 1; /* the box's terminal takes our size at once */
}

void cli_tty_restore(void) { restore_tty(); }

bool cli_tty_resized(int *rows, int *cols)
{
    struct winsize ws;
    if (!winch)
        return false;
    winch = 0;
    if (ioctl(0, TIOCGWINSZ, &ws) != 0 || !ws.ws_row || !ws.ws_col)
        return false;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return true;
}

static int write_all(int fd, const char *p, ssize_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, (size_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= w;
    }
    return 0;
}

/* Pumps until both output streams end, then returns the process's status docker-style:
 * its exit code, 128+signal, or 124 after a timeout (as coreutils' timeout). */
static int attach(boxlite_exec *ex, bool interactive, bool tty)
{
    int out = boxlite_exec_stdout_fd(ex), err = boxlite_exec_stderr_fd(ex);
    bool in_open = interactive;
    if (tty) {
        cli_tty_raw();
        winch = 0; /* the execution was started with our size */
    }
    if (!interactive)
        boxlite_exec_close_stdin(ex);
    char buf[65536];
    while (out >= 0 || err >= 0) {
        int rows, cols;
        if (cli_tty_resized(&rows, &cols))
            boxlite_exec_resize(ex, rows, cols);
        struct pollfd p[3] = { { out, POLLIN, 0 }, { err, POLLIN, 0 },
                               { in_open ? 0 : -1, POLLIN, 0 } };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            int *fd = i == 0 ? &out : &err;
            if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(*fd, buf, sizeof buf);
            if (n > 0)
                write_all(i == 0 ? 1 : 2, buf, n);
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                *fd = -1;
        }
        if (in_open && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n > 0) {
                if (boxlite_exec_write_stdin(ex, buf, (size_t)n) != BOXLITE_OK)
                    in_open = false;
            } else {
                boxlite_exec_close_stdin(ex);
                in_open = false;
            }
        }
    }
    boxlite_exec_result res;
    int r = boxlite_exec_wait(ex, -1, &res);
    restore_tty();
    if (r != BOXLITE_OK) /* the agent refuses a start once the request arrives */
        return cli_exec_failed("exec");
    if (res.timed_out)
        return 124;
    return res.signal ? 128 + res.signal : res.exit_code;
}

static int run_in_box(boxlite_box *b, char **argv, bool interactive, bool tty,
                      const char *const *env, const char *cwd, const char *user)
{
    struct winsize ws = { .ws_row = 24, .ws_col = 80 };
    if (tty)
        ioctl(0, TIOCGWINSZ, &ws);
    boxlite_exec_spec spec = { .size = sizeof spec, .argv = (const char *const *)argv,
                               .env = env, .working_dir = cwd, .user = user, .tty = tty,
                               .rows = ws.ws_row ? ws.ws_row : 24,
                               .cols = ws.ws_col ? ws.ws_col : 80 };
    boxlite_exec *ex = NULL;
    if (boxlite_exec_start(b, &spec, &ex) != BOXLITE_OK)
        return cli_exec_failed("exec");
    int status = attach(ex, interactive, tty);
    boxlite_exec_free(ex);
    return status;
}

int cli_capture(boxlite_box *b, const char **argv, char **out, char **err)
{
    *out = *err = NULL;
    boxlite_exec_spec spec = { .size = sizeof spec, .argv = argv };
    boxlite_exec *ex = NULL;
    if (boxlite_exec_start(b, &spec, &ex) != BOXLITE_OK)
        return cli_exec_failed("exec");
    boxlite_exec_close_stdin(ex);
    int fds[2] = { boxlite_exec_stdout_fd(ex), boxlite_exec_stderr_fd(ex) };
    char *bufs[2] = { NULL, NULL };
    size_t lens[2] = { 0, 0 };
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[65536];
            ssize_t n = read(fds[i], chunk, sizeof chunk);
            if (n > 0 && lens[i] < (64u << 20)) { /* a listing, not a stream: 64 MiB at most */
                char *nb = realloc(bufs[i], lens[i] + (size_t)n + 1);
                if (nb) {
                    memcpy(nb + lens[i], chunk, (size_t)n);
                    lens[i] += (size_t)n;
                    nb[lens[i]] = 0;
                    bufs[i] = nb;
                }
            } else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                fds[i] = -1;
            }
        }
    }
    *out = bufs[0];
    *err = bufs[1];
    boxlite_exec_result res;
    int r = boxlite_exec_wait(ex, -1, &res);
    boxlite_exec_free(ex);
    if (r != BOXLITE_OK)
        return cli_exec_failed("exec");
    return res.signal ? 128 + res.signal : res.exit_code;
}

int cmd_run(struct cli *c, const struct cli_args *a)
{
    boxlite_options *o = NULL;
    struct box_flags f;
    int next = 0, argc = a->nops;
    char **argv = a->ops;
    if (boxlite_options_new(&o) != BOXLITE_OK)
        return cli_fail("run");
    int r = cli_apply_box_flags(a, o, &f);
    if (!r && f.restart && (f.rm || !f.detach))
        r = cli_usage_error("run: --restart needs -d (and no --rm): the box outlives this command");
    if (r) {
        boxlite_options_free(o);
        return r;
    }
    const char *image = argv[next++];
    if (image[0] == '/' || image[0] == '.')
        boxlite_options_set_rootfs_path(o, image);
    else
        boxlite_options_set_image(o, image);
    /* docker's defaults: a detached box stays; otherwise the box goes with --rm. */
    boxlite_options_set_detach(o, f.detach);
    boxlite_options_set_auto_remove(o, !f.detach && f.rm);
    if (f.detach) {
        /* Docker's run -d: CMD (else the image's Cmd) runs as the box's main process, its
         * exit stops the box; --entrypoint replaces the image's Entrypoint. */
        const char *ep[] = { f.entrypoint, NULL };
        const char *none[] = { NULL };
        /* A rootfs folder has no image config to take a command from: without CMD such a
         * box runs none (executions only), as before. */
        bool rootfs = image[0] == '/' || image[0] == '.';
        int rc = boxlite_options_set_main_process(o, !rootfs);
        if (rc == BOXLITE_OK && next < argc)
            rc = boxlite_options_set_cmd(o, (const char *const *)argv + next);
        if (rc == BOXLITE_OK && f.entrypoint)
            rc = boxlite_options_set_entrypoint(o, f.entrypoint[0] ? ep : none);
        /* -d -i: the main process's stdin stays open for `attach` (Docker's OpenStdin) */
        if (rc == BOXLITE_OK && f.interactive)
            rc = boxlite_options_set_stdin_open(o, 1);
        /* -d -t: the main process runs on a terminal (Docker's Tty), for attach */
        if (rc == BOXLITE_OK && f.tty)
            rc = boxlite_options_set_tty(o, 1);
        if (rc != BOXLITE_OK) {
            boxlite_options_free(o);
            return cli_fail("run");
        }
    }
    boxlite_box *b = NULL;
    if ((r = cli_open(c)) || boxlite_box_create(c->rt, o, &b) != BOXLITE_OK) {
        boxlite_options_free(o);
        return r ? r : cli_fail("run");
    }
    boxlite_options_free(o);
    if (boxlite_box_start(b) != BOXLITE_OK) {
        r = cli_fail("run");
        if (!f.detach)
            boxlite_box_remove(c->rt, boxlite_box_id(b), 1);
        boxlite_box_free(b);
        return r;
    }
    cli_print_notice(b);
    if (f.detach) {
        printf("%s\n", boxlite_box_id(b));
        boxlite_box_free(b);
        return 0;
    }
    /* Attached: the command runs as an execution in the box (a shell by default), its
     * output and status ours; --entrypoint goes first. */
    char *shell[] = { "/bin/sh", NULL };
    char **cmd = next < argc ? argv + next : shell;
    char **full = NULL;
    if (f.entrypoint && f.entrypoint[0]) {
        size_t n = 0;
        while (next < argc && cmd[n])
            n++;
        full = calloc(n + 2, sizeof *full);
        if (!full) {
            boxlite_box_free(b);
            return cli_usage_error("run: out of memory");
        }
        full[0] = (char *)f.entrypoint;
        for (size_t i = 0; i < n; i++)
            full[i + 1] = cmd[i];
        cmd = full;
    }
    r = run_in_box(b, cmd, f.interactive, f.tty, NULL, NULL, NULL);
    free(full);
    char id[64];
    snprintf(id, sizeof id, "%s", boxlite_box_id(b));
    if (boxlite_box_stop(b, 10000) != BOXLITE_OK && boxlite_errcode() != BOXLITE_ERR_NOT_FOUND)
        fprintf(stderr, "boxlite: stop: %s\n", boxlite_errmsg());
    if (f.rm)
        boxlite_box_remove(c->rt, id, 1);
    boxlite_box_free(b);
    return r;
}

int cmd_exec(struct cli *c, const struct cli_args *a)
{
    bool interactive = false, tty = false, detach = false;
    const char *cwd = NULL, *user = NULL;
    const char *env[64];
    int nenv = 0;
    for (int i = 0; i < a->nopts; i++) {
        const char *optarg = a->opts[i].value;
        switch (a->opts[i].id) {
        case FL_DETACH: detach = true; break;
        case FL_INTERACTIVE: interactive = true; break;
        case FL_TTY: tty = true; break;
        case FL_ENV:
            if (nenv == 63 || !strchr(optarg, '='))
                return cli_usage_error("exec: -e expects KEY=VALUE (at most 63)");
            env[nenv++] = optarg;
            break;
        case FL_WORKDIR: cwd = optarg; break;
        case FL_USER: user = optarg; break;
        }
    }
    env[nenv] = NULL;
    if (detach && (interactive || tty))
        return cli_usage_error("exec: -d runs the command on its own: no -i or -t with it");
    int r = cli_open(c);
    if (r)
        return r;
    boxlite_box *b = NULL;
    if (boxlite_box_get(c->rt, a->ops[0], &b) != BOXLITE_OK)
        return cli_fail("exec");
    if (detach) {
        boxlite_exec_spec spec = { .size = sizeof spec, .argv = (const char *const *)a->ops + 1,
                                   .env = nenv ? env : NULL, .working_dir = cwd, .user = user };
        r = boxlite_exec_start_detached(b, &spec) == BOXLITE_OK ? 0 : cli_exec_failed("exec");
        boxlite_box_free(b);
        return r;
    }
    r = run_in_box(b, a->ops + 1, interactive, tty, nenv ? env : NULL, cwd, user);
    boxlite_box_free(b);
    return r;
}

static bool box_running(boxlite_box *b)
{
    char *info = NULL;
    if (boxlite_box_info(b, &info) != BOXLITE_OK)
        return false;
    bool running = strstr(info, "\"state\":\"running\"") || strstr(info, "\"state\":\"starting\"");
    boxlite_free(info);
    return running;
}

/* A time of --since/--until as a JSON string (the library parses it: the SDKs share the
 * forms). Such times hold no quote, backslash or control character. */
static int time_json(char *out, size_t len, const char *key, const char *v)
{
    for (const char *p = v; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            return cli_usage_error("logs --%s %s: not a time", key, v);
    size_t have = strlen(out);
    int n = snprintf(out + have, len - have, "%s\"%s\":\"%s\"", have > 1 ? "," : "", key, v);
    if (n < 0 || (size_t)n >= len - have)
        return cli_usage_error("logs --%s: too long", key);
    return 0;
}

/* logs [-f] [--raw] [--vmm] [-t] [--since T] [--until T] BOX: the box's console (the
 * guest's and its main process's output), every retained rotation; -f follows it, across
 * rotations, until the box stops or the --until time passes. On a terminal the guest's control characters are shown,
 * not obeyed, unless --raw. Times come from the index the per-box process keeps. */
int cmd_logs(struct cli *c, const struct cli_args *a)
{
    bool follow = false, raw = false, stamps = false;
    long long tail = -1;
    const char *which = "console";
    char lopts[512] = "{";
    for (int i = 0; i < a->nopts; i++) {
        switch (a->opts[i].id) {
        case FL_FOLLOW: follow = true; break;
        case FL_RAW: raw = true; break;
        case FL_VMM: which = "vmm"; break;
        case FL_TIMESTAMPS: stamps = true; break;
        case FL_SINCE:
        case FL_UNTIL: {
            int r = time_json(lopts, sizeof lopts - 32,
                              a->opts[i].id == FL_SINCE ? "since" : "until", a->opts[i].value);
            if (r)
                return r;
            break;
        }
        case FL_TAIL:
            if (strcmp(a->opts[i].value, "all") &&
                cli_parse_ll(a->opts[i].value, 0, 1LL << 40, &tail))
                return cli_usage_error("logs --tail %s: expected a number of lines or all",
                                       a->opts[i].value);
            break;
        }
    }
    int r = cli_open(c);
    if (r)
        return r;
    boxlite_box *b = NULL;
    boxlite_log *log = NULL;
    if (stamps)
        strcat(lopts, strlen(lopts) > 1 ? ",\"timestamps\":true" : "\"timestamps\":true");
    strcat(lopts, "}");
    if (boxlite_box_get(c->rt, a->ops[0], &b) != BOXLITE_OK ||
        boxlite_box_log_open_with(b, which, lopts, &log) != BOXLITE_OK) {
        boxlite_box_free(b);
        return cli_fail("logs");
    }
    bool escape = !raw && isatty(1);
    struct term_escape st = { 0 };
    char buf[65536];
    int idle = 0;
    if (tail >= 0) {
        /* --tail N: what is there now, its last N lines (then -f goes on from there) */
        char *all = NULL;
        size_t len = 0;
        long long n;
        while ((n = boxlite_log_read(log, buf, sizeof buf)) > 0) {
            char *nb = realloc(all, len + (size_t)n);
            if (!nb)
                break;
            memcpy(nb + len, buf, (size_t)n);
            all = nb;
            len += (size_t)n;
        }
        size_t start = lines_tail_start(all, len, tail);
        if (escape)
            term_escape_write(&st, 1, all + start, len - start);
        else
            write_all(1, all + start, (ssize_t)(len - start));
        free(all);
        if (n < 0)
            r = cli_fail("logs");
        if (!follow || r) {
            if (escape)
                term_escape_flush(&st, 1);
            boxlite_log_close(log);
            boxlite_box_free(b);
            return r;
        }
    }
    for (;;) {
        long long n = boxlite_log_read(log, buf, sizeof buf);
        if (n < 0) {
            r = cli_fail("logs");
            break;
        }
        if (n > 0) {
            if (escape)
                term_escape_write(&st, 1, buf, (size_t)n);
            else
                write_all(1, buf, n);
            idle = 0;
            continue;
        }
        /* Nothing new. Without -f that is the end; with -f, wait for more until the box
         * has stopped (checked about once a second) and its last words are read, or the
         * --until time has passed. */
        if (!follow || boxlite_log_ended(log))
            break;
        if (++idle % 10 == 0 && !box_running(b)) {
            while ((n = boxlite_log_read(log, buf, sizeof buf)) > 0) {
                if (escape)
                    term_escape_write(&st, 1, buf, (size_t)n);
                else
                    write_all(1, buf, n);
            }
            break;
        }
        usleep(100000);
    }
    if (escape)
        term_escape_flush(&st, 1);
    boxlite_log_close(log);
    boxlite_box_free(b);
    return r;
}

/* cp [--max-size SIZE] BOX:PATH HOSTPATH | HOSTPATH BOX:PATH */
int cmd_cp(struct cli *c, const struct cli_args *a)
{
    boxlite_copy_options copts = { .size = sizeof copts };
    for (int i = 0; i < a->nopts; i++) {
        if (a->opts[i].id != FL_MAX_SIZE)
            continue;
        const char *v = a->opts[i].value;
        long long n = cli_parse_bytes(v);
        if (n <= 0)
            return cli_usage_error("cp: --max-size %s: expected a size such as 1048576, 512k, "
                                   "1m or 2g", v);
        copts.max_bytes = (unsigned long long)n;
    }
    const char *src = a->ops[0], *dst = a->ops[1];
    int out = strchr(src, ':') != NULL;
    if (!out && copts.max_bytes)
        return cli_usage_error("cp: --max-size bounds a copy out of a box (BOX:PATH HOSTPATH)");
    char *spec = strdup(out ? src : dst);
    char *colon = spec ? strchr(spec, ':') : NULL;
    if (!colon) {
        free(spec);
        return cli_usage_error("cp: one side must be BOX:PATH");
    }
    *colon = 0;
    int r = cli_open(c);
    boxlite_box *b = NULL;
    if (!r && boxlite_box_get(c->rt, spec, &b) != BOXLITE_OK)
        r = cli_fail("cp");
    if (!r) {
        int rc = out ? boxlite_box_copy_out_opts(b, colon + 1, dst, &copts)
                     : boxlite_box_copy_in(b, src, colon + 1);
        if (rc != BOXLITE_OK)
            r = cli_fail("cp");
    }
    boxlite_box_free(b);
    free(spec);
    return r;
}
