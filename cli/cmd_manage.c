// SPDX-License-Identifier: Apache-2.0
/* Verbs that manage boxes as Docker's do: restart, wait, port, rename, prune (and rm -a's
 * helper), attach, top. Each works through the public API only. */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static json_t *box_info(boxlite_box *b)
{
    char *s = NULL;
    if (boxlite_box_info(b, &s) != BOXLITE_OK)
        return NULL;
    json_t *j = json_loads(s, 0, NULL);
    boxlite_free(s);
    return j;
}

static const char *state_of(json_t *info)
{
    const char *s = json_string_value(json_object_get(info, "state"));
    return s ? s : "unknown";
}

static bool is_live(const char *state)
{
    return !strcmp(state, "running") || !strcmp(state, "starting") || !strcmp(state, "stopping");
}

/* Not ended: live, or paused (its main process goes on at resume; wait and attach stay). */
static bool not_ended(const char *state)
{
    return is_live(state) || !strcmp(state, "paused");
}

/* ---- restart ---------------------------------------------------------------------------- */

int cmd_restart(struct cli *c, const struct cli_args *a)
{
    int timeout_ms = 10000, r, failed = 0;
    for (int i = 0; i < a->nopts; i++) {
        long long secs;
        if (a->opts[i].id != FL_TIME)
            continue;
        if (cli_parse_ll(a->opts[i].value, 0, 3600, &secs))
            return cli_usage_error("restart -t %s: expected seconds, 0-3600", a->opts[i].value);
        timeout_ms = (int)secs * 1000;
    }
    if ((r = cli_open(c)))
        return r;
    for (int i = 0; i < a->nops; i++) {
        boxlite_box *b = NULL;
        int rc = boxlite_box_get(c->rt, a->ops[i], &b);
        json_t *info = rc == BOXLITE_OK ? box_info(b) : NULL;
        /* a box that is not running is simply started, as Docker's restart does; a paused
         * one is stopped first (its saved memory dropped): restart means a fresh run */
        if (rc == BOXLITE_OK && info && not_ended(state_of(info)))
            rc = boxlite_box_stop(b, timeout_ms);
        json_decref(info);
        if (rc == BOXLITE_OK)
            rc = boxlite_box_start(b);
        if (rc != BOXLITE_OK) {
            fprintf(stderr, "boxlite: restart %s: %s\n", a->ops[i], boxlite_errmsg());
            failed = 1;
        } else {
            cli_print_notice(b);
            printf("%s\n", a->ops[i]);
        }
        boxlite_box_free(b);
    }
    return failed ? 125 : 0;
}

/* ---- wait ------------------------------------------------------------------------------- */

/* The status a stopped box reports (wait, attach): its main process's (or container
 * init's) exit status; 137 when the OOM killer ended it without one; 0 when it was stopped
 * on request; 255 when it stopped by itself with no status (its VM died). */
int cli_stop_status(json_t *info)
{
    json_t *ec = json_object_get(info, "exit_code");
    if (json_is_integer(ec))
        return (int)json_integer_value(ec);
    if (json_is_true(json_object_get(info, "oom_killed")))
        return 137;
    return json_is_true(json_object_get(info, "stopped_by_itself")) ? 255 : 0;
}

/* Waits until the box is no longer running: on its per-box process's pidfd when there is
 * one (woken the moment it exits), re-reading the state at least once a second (a pid can
 * be reused; the state is the truth). A paused box has not ended (Docker's wait goes on
 * through a pause too): no process to watch, its state is read once a second. Returns its
 * info, or NULL. */
json_t *cli_wait_stopped(boxlite_box *b)
{
    for (;;) {
        json_t *info = box_info(b);
        if (!info || !not_ended(state_of(info)))
            return info;
        if (!strcmp(state_of(info), "paused")) {
            json_decref(info);
            poll(NULL, 0, 1000);
            continue;
        }
        pid_t pid = (pid_t)json_integer_value(json_object_get(info, "pid"));
        json_decref(info);
        int fd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
        if (fd >= 0) {
            struct pollfd p = { fd, POLLIN, 0 };
            poll(&p, 1, 1000);
            close(fd);
        } else {
            poll(NULL, 0, 200); /* no process to wait on (starting): look again soon */
        }
    }
}

int cmd_wait(struct cli *c, const struct cli_args *a)
{
    int r = cli_open(c), status = 0;
    if (r)
        return r;
    for (int i = 0; i < a->nops; i++) {
        boxlite_box *b = NULL;
        json_t *info = NULL;
        if (boxlite_box_get(c->rt, a->ops[i], &b) != BOXLITE_OK ||
            !(info = cli_wait_stopped(b))) {
            fprintf(stderr, "boxlite: wait %s: %s\n", a->ops[i], boxlite_errmsg());
            boxlite_box_free(b);
            return 125;
        }
        status = cli_stop_status(info);
        printf("%d\n", status);
        fflush(stdout);
        json_decref(info);
        boxlite_box_free(b);
    }
    return status;
}

/* ---- port ------------------------------------------------------------------------------- */

/* The ports of a box (the library's records: guest_port, protocol, host_addr, host_port)
 * as `port` prints them, all or those of a.ops[1] (GUEST-PORT[/tcp|/udp]); ports NULL only
 * checks that spec. Shared with `port --url`. */
int cli_port_show(const struct cli_args *a, json_t *ports)
{
    long long want = 0;
    const char *proto = NULL;
    char spec[32] = "";
    if (a->nops == 2) {
        snprintf(spec, sizeof spec, "%s", a->ops[1]);
        char *slash = strchr(spec, '/');
        if (slash) {
            *slash = 0;
            proto = slash + 1;
        }
        if (cli_parse_ll(spec, 1, 65535, &want) ||
            (proto && strcmp(proto, "tcp") && strcmp(proto, "udp")))
            return cli_usage_error("port %s: expected GUEST-PORT[/tcp|/udp]", a->ops[1]);
    }
    if (!ports)
        return 0;
    size_t i, shown = 0;
    json_t *p;
    json_array_foreach(ports, i, p) {
        long long gp = json_integer_value(json_object_get(p, "guest_port"));
        const char *pr = json_string_value(json_object_get(p, "protocol"));
        if (want && (gp != want || (proto && strcmp(proto, pr ? pr : "tcp"))))
            continue;
        const char *addr = json_string_value(json_object_get(p, "host_addr"));
        long long hp = json_integer_value(json_object_get(p, "host_port"));
        /* a port asked as "any" (0) is known once the box runs */
        char hps[32];
        snprintf(hps, sizeof hps, hp ? "%lld" : "(chosen when it runs)", hp);
        bool v6 = addr && strchr(addr, ':');
        if (want)
            printf("%s%s%s:%s\n", v6 ? "[" : "", addr ? addr : "127.0.0.1", v6 ? "]" : "", hps);
        else
            printf("%lld/%s -> %s%s%s:%s\n", gp, pr ? pr : "tcp", v6 ? "[" : "",
                   addr ? addr : "127.0.0.1", v6 ? "]" : "", hps);
        shown++;
    }
    if (want && !shown)
        return cli_usage_error("port: no public port %s published for %s", a->ops[1], a->ops[0]);
    return 0;
}

int cmd_port(struct cli *c, const struct cli_args *a)
{
    int r = cli_port_show(a, NULL);
    if (r || (r = cli_open(c)))
        return r;
    boxlite_box *b = NULL;
    json_t *info = NULL;
    if (boxlite_box_get(c->rt, a->ops[0], &b) != BOXLITE_OK || !(info = box_info(b))) {
        boxlite_box_free(b);
        return cli_fail("port");
    }
    r = cli_port_show(a, json_object_get(info, "ports"));
    json_decref(info);
    boxlite_box_free(b);
    return r;
}

/* ---- rename ----------------------------------------------------------------------------- */

int cmd_rename(struct cli *c, const struct cli_args *a)
{
    int r = cli_open(c);
    if (r)
        return r;
    return boxlite_box_rename(c->rt, a->ops[0], a->ops[1]) == BOXLITE_OK ? 0 : cli_fail("rename");
}

/* ---- prune / rm -a ---------------------------------------------------------------------- */

/* Asks on stdin, as Docker's prune does; anything but y/yes is no. */
bool cli_confirm(const char *question)
{
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char line[32];
    if (!fgets(line, sizeof line, stdin))
        return false;
    line[strcspn(line, "\r\n")] = 0;
    return !strcmp(line, "y") || !strcmp(line, "Y") || !strcmp(line, "yes");
}

/* Removes every box that is not running (all of them with force); prints each id.
 * Returns 0, or 125 if one could not be removed. */
int cli_remove_all(struct cli *c, bool force, unsigned *count)
{
    char *list = NULL;
    *count = 0;
    if (boxlite_box_list(c->rt, NULL, &list) != BOXLITE_OK)
        return cli_fail("list boxes");
    json_t *arr = json_loads(list, 0, NULL);
    boxlite_free(list);
    size_t i;
    json_t *b;
    int failed = 0;
    json_array_foreach(arr, i, b) {
        const char *id = json_string_value(json_object_get(b, "id"));
        const char *state = state_of(b);
        if (!id || (!force && strcmp(state, "stopped") && strcmp(state, "configured")))
            continue;
        if (boxlite_box_remove(c->rt, id, force) != BOXLITE_OK) {
            /* one that went away meanwhile is not a failure */
            if (boxlite_errcode() != BOXLITE_ERR_NOT_FOUND) {
                fprintf(stderr, "boxlite: rm %s: %s\n", id, boxlite_errmsg());
                failed = 1;
            }
            continue;
        }
        printf("%s\n", id);
        (*count)++;
    }
    json_decref(arr);
    return failed ? 125 : 0;
}

int cmd_prune(struct cli *c, const struct cli_args *a)
{
    bool force = false;
    for (int i = 0; i < a->nopts; i++)
        force |= a->opts[i].id == FL_FORCE;
    if (!force && !cli_confirm("WARNING! This will remove all stopped boxes.\nAre you sure you "
                               "want to continue?"))
        return 0;
    int r = cli_open(c);
    if (r)
        return r;
    unsigned n;
    r = cli_remove_all(c, false, &n);
    fprintf(stderr, "Removed %u box%s\n", n, n == 1 ? "" : "es");
    return r;
}

/* ---- attach ----------------------------------------------------------------------------- */

static volatile sig_atomic_t detach_asked;
static void on_detach(int sig) { (void)sig; detach_asked = 1; }

/* --sig-proxy: what attach is sent goes to the main process (docker attach's default). */
static const int proxied[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
static volatile sig_atomic_t proxy_pending[65];
static void on_proxied(int sig) { proxy_pending[sig] = 1; }

static void proxy_signals(boxlite_box *b)
{
    for (size_t i = 0; i < sizeof proxied / sizeof proxied[0]; i++) {
        int sig = proxied[i];
        if (!proxy_pending[sig])
            continue;
        proxy_pending[sig] = 0;
        if (boxlite_box_kill(b, sig) != BOXLITE_OK)
            fprintf(stderr, "boxlite: attach: %s\n", boxlite_errmsg());
    }
}

/* Our stdin to the main process's, for a box created with -i: an attach execution
 * (boxlite_box_attach_stdin) fed from fd 0 as it becomes readable. At our end of file its
 * stdin is closed, which leaves the main process's open (Docker's attach without
 * --stdin-once). NULL when the box has no open stdin or --no-stdin. */
static boxlite_exec *attach_stdin(boxlite_box *b, json_t *info, bool no_stdin)
{
    if (no_stdin || !json_is_true(json_object_get(info, "stdin_open")))
        return NULL;
    boxlite_exec *ex = NULL;
    if (boxlite_box_attach_stdin(b, &ex) != BOXLITE_OK) {
        fprintf(stderr, "boxlite: attach: %s (output only)\n", boxlite_errmsg());
        return NULL;
    }
    return ex;
}

/* Docker's detach keys on a terminal: Ctrl-P then Ctrl-Q leaves the box running. */
#define DETACH_1 0x10
#define DETACH_2 0x11
static bool held_ctrl_p; /* a Ctrl-P ended the last read: sent once we know what follows */

/* One read of our stdin into the main process's; false once it ended (or failed). With
 * keys (a terminal), Ctrl-P Ctrl-Q asks to detach instead. */
static bool forward_stdin(boxlite_exec *ex, bool keys)
{
    char buf[16384 + 1];
    size_t off = held_ctrl_p ? 1 : 0;
    ssize_t n = read(0, buf + off, sizeof buf - off);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n > 0 && keys) {
        if (held_ctrl_p)
            buf[0] = DETACH_1;
        held_ctrl_p = false;
        size_t len = off + (size_t)n;
        for (size_t i = 0; i < len; i++) {
            if (buf[i] != DETACH_1)
                continue;
            if (i + 1 == len) { /* its pair may come in the next read */
                held_ctrl_p = true;
                n = (ssize_t)i;
                break;
            }
            if (buf[i + 1] == DETACH_2) {
                if (i)
                    boxlite_exec_write_stdin(ex, buf, i);
                detach_asked = 1;
                return true;
            }
        }
        if (!held_ctrl_p)
            n = (ssize_t)len;
        if (!n)
            return true;
    }
    if (n <= 0 || boxlite_exec_write_stdin(ex, buf, (size_t)n) != BOXLITE_OK) {
        boxlite_exec_close_stdin(ex);
        return false;
    }
    return true;
}

/* The main process's output is the box's console: attach follows the console from now on
 * and, when the box stops, exits with the main process's status. Its stdin (a box created
 * with -i) gets ours, unless --no-stdin. The signals we get go to the main process; with
 * --sig-proxy=false Ctrl-C detaches and leaves the box running. A box whose main process
 * has a terminal (-t) gets ours in raw mode instead: keys (Ctrl-C too) are typed on its
 * terminal, our window's size is its, Ctrl-P Ctrl-Q detaches, and the output is passed
 * through as a terminal's is. */
int cmd_attach(struct cli *c, const struct cli_args *a)
{
    bool raw = false, no_stdin = false, sig_proxy = true;
    for (int i = 0; i < a->nopts; i++) {
        raw |= a->opts[i].id == FL_RAW;
        no_stdin |= a->opts[i].id == FL_NO_STDIN;
        sig_proxy &= a->opts[i].id != FL_SIG_PROXY; /* recorded only as =false */
    }
    int r = cli_open(c);
    if (r)
        return r;
    boxlite_box *b = NULL;
    boxlite_log *log = NULL;
    json_t *info = NULL;
    if (boxlite_box_get(c->rt, a->ops[0], &b) != BOXLITE_OK || !(info = box_info(b))) {
        boxlite_box_free(b);
        return cli_fail("attach");
    }
    if (!not_ended(state_of(info))) {
        fprintf(stderr, "boxlite: attach %s: the box is %s (start it first)\n", a->ops[0],
                state_of(info));
        json_decref(info);
        boxlite_box_free(b);
        return 125;
    }
    boxlite_exec *in = attach_stdin(b, info, no_stdin);
    bool in_open = in != NULL;
    bool tty = json_is_true(json_object_get(info, "tty"));
    json_decref(info);
    if (tty) {
        sig_proxy = false; /* Docker's: a terminal's keys make its signals */
        raw = true;
        if (in_open)
            cli_tty_raw();
    }
    bool keys = tty && in_open && isatty(0);
    if (boxlite_box_log_open(b, "console", &log) != BOXLITE_OK) {
        boxlite_exec_free(in);
        boxlite_box_free(b);
        return cli_fail("attach");
    }
    char buf[65536];
    long long n;
    while ((n = boxlite_log_read(log, buf, sizeof buf)) > 0)
        ; /* what was written before we attached is `logs`' */
    struct sigaction sa = { .sa_handler = sig_proxy ? on_proxied : on_detach };
    if (sig_proxy)
        for (size_t i = 0; i < sizeof proxied / sizeof proxied[0]; i++)
            sigaction(proxied[i], &sa, NULL);
    else
        sigaction(SIGINT, &sa, NULL);
    bool escape = !raw && isatty(1);
    struct term_escape st = { 0 };
    int status = 0;
    for (;;) {
        proxy_signals(b); /* first: a flood of output must not hold a Ctrl-C back */
        int rows, cols;
        if (in_open && cli_tty_resized(&rows, &cols))
            boxlite_exec_resize(in, rows, cols);
        n = boxlite_log_read(log, buf, sizeof buf);
        if (n > 0) {
            if (escape)
                term_escape_write(&st, 1, buf, (size_t)n);
            else if (write(1, buf, (size_t)n) < 0 && errno == EPIPE)
                break;
            continue;
        }
        if (n < 0) {
            status = cli_fail("attach");
            break;
        }
        if (detach_asked)
            break;
        if (in_open) {
            struct pollfd p = { .fd = 0, .events = POLLIN };
            if (poll(&p, 1, 0) == 1 && !(in_open = forward_stdin(in, keys)))
                continue;
        }
        /* nothing new: wait for the box to end or a tenth of a second for more output */
        info = box_info(b);
        bool live = info && not_ended(state_of(info)); /* a pause does not detach */
        if (!live) {
            while ((n = boxlite_log_read(log, buf, sizeof buf)) > 0) {
                if (escape)
                    term_escape_write(&st, 1, buf, (size_t)n);
                else if (write(1, buf, (size_t)n) < 0)
                    break;
            }
            status = info ? cli_stop_status(info) : cli_fail("attach");
            json_decref(info);
            break;
        }
        json_decref(info);
        /* a tenth of a second, or less when our stdin has something for the box */
        struct pollfd p = { .fd = in_open ? 0 : -1, .events = POLLIN };
        poll(&p, 1, 100);
    }
    if (escape)
        term_escape_flush(&st, 1);
    cli_tty_restore();
    if (detach_asked && keys)
        fprintf(stderr, "\r\nboxlite: detached from %s (it runs on)\r\n", a->ops[0]);
    boxlite_exec_free(in);
    boxlite_log_close(log);
    boxlite_box_free(b);
    return status;
}

/* ---- top -------------------------------------------------------------------------------- */

/* An image without ps: each process's PID and command read from /proc by sh's builtins. */
const char *const cli_top_proc_ls[] = {
    "/bin/sh", "-c",
    "echo 'PID   COMMAND'; for d in /proc/[0-9]*; do "
    "read -r name < \"$d/comm\" 2>/dev/null || continue; "
    "printf '%-5s %s\\n' \"${d#/proc/}\" \"$name\"; done", NULL };

/* The box's processes from inside it: an execution of the image's `ps` (arguments as
 * given, default -ef, as Docker's top); an image without ps gets a listing of /proc made
 * with sh's builtins only. */
int cmd_top(struct cli *c, const struct cli_args *a)
{
    int r = cli_open(c);
    if (r)
        return r;
    boxlite_box *b = NULL;
    if (boxlite_box_get(c->rt, a->ops[0], &b) != BOXLITE_OK)
        return cli_fail("top");
    const char *def[] = { "ps", "-ef", NULL };
    const char **argv = def;
    const char *with[66] = { "ps" };
    if (a->nops > 1) {
        int n = 1;
        for (int i = 1; i < a->nops && n < 65; i++)
            with[n++] = a->ops[i];
        with[n] = NULL;
        argv = with;
    }
    char *out = NULL, *err = NULL;
    int st = cli_capture(b, argv, &out, &err);
    if (st == 127) {
        free(out);
        free(err);
        out = err = NULL;
        st = cli_capture(b, (const char **)cli_top_proc_ls, &out, &err);
        if (st == 127) {
            fprintf(stderr, "boxlite: top: the box has neither ps nor /bin/sh to list its "
                            "processes with\n");
            st = 125;
        }
    }
    if (out)
        fputs(out, stdout);
    if (err && st)
        fputs(err, stderr);
    free(out);
    free(err);
    boxlite_box_free(b);
    return st;
}
