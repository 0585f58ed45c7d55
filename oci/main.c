// SPDX-License-Identifier: Apache-2.0
/* boxlite-runtime: an OCI runtime with runc's command line (runtime-spec runtime.md
 * "Operations"; runc's man pages for the flags), so that Podman/conmon, containerd's shim
 * and Docker can run each container in a box. One container = one box, owned by its relay
 * process (relay.c); the bundle's rootfs is shared into the VM (rootfs_share), so the
 * caller sees the container's writes. State: <root>/<id>/state.json (src/oci/state.c). */
#include "runtime.h"

#include "common/cleanup.h"
#include "common/io.h"
#include "common/procstat.h"
#include "oci/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_ROOT "/run/boxlite-runtime"
#define RELAY_SOCK "relay.sock"
#define STARTED_MARK "started"

static struct {
    const char *root;
    const char *log;
    bool log_json;
    bool debug;
} g = { .root = DEFAULT_ROOT };

/* ---- errors: stderr, and the --log file (JSON lines with --log-format json) -------------*/

static void log_line(const char *level, const char *msg)
{
    if (!g.log)
        return;
    FILE *f = fopen(g.log, "ae");
    if (!f)
        return;
    char when[64];
    oci_now_rfc3339(when, sizeof when);
    if (g.log_json) {
        fprintf(f, "{\"level\":\"%s\",\"msg\":\"", level);
        for (const char *p = msg; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '"' || c == '\\')
                fprintf(f, "\\%c", c);
            else if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
        fprintf(f, "\",\"time\":\"%s\"}\n", when);
    } else {
        fprintf(f, "time=\"%s\" level=%s msg=\"%s\"\n", when, level, msg);
    }
    fclose(f);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "boxlite-runtime: %s\n", msg);
    log_line("error", msg);
    return 1;
}

static void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void debug(const char *fmt, ...)
{
    if (!g.debug)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line("debug", msg);
}

/* ---- flags: runc's (Go) style, -f and --f, "--f v" and "--f=v" ---------------------------*/

struct flag {
    const char *name;  /* long name */
    char short_name;   /* 0: none */
    bool has_value;
    const char **value; /* has_value: where the value goes */
    bool *set;          /* !has_value: set to true */
    const char **list;  /* has_value, repeatable: values appended here ... */
    size_t *nlist;      /* ... counted here, at most maxlist */
    size_t maxlist;
};
#define FLAG_V(n, c, v) { .name = n, .short_name = c, .has_value = true, .value = v }
#define FLAG_B(n, c, b) { .name = n, .short_name = c, .set = b }
#define FLAG_END { .name = NULL }

/* Parses flags from argv[*i] on, stopping at the first operand (or after "--"). Returns 0,
 * or an error message printed. */
static int parse_flags(int argc, char **argv, int *i, const struct flag *fl, const char *cmd)
{
    while (*i < argc) {
        const char *a = argv[*i];
        if (!strcmp(a, "--")) {
            (*i)++;
            return 0;
        }
        if (a[0] != '-' || !a[1])
            return 0;
        const char *name = a + 1 + (a[1] == '-');
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        const struct flag *f = NULL;
        for (const struct flag *x = fl; x->name; x++)
            if ((strlen(x->name) == n && !strncmp(x->name, name, n)) ||
                (x->short_name && n == 1 && name[0] == x->short_name))
                f = x;
        if (!f)
            return fail("%s: unknown flag %s", cmd, a);
        (*i)++;
        if (f->has_value) {
            const char *v = eq ? eq + 1 : *i < argc ? argv[(*i)++] : NULL;
            if (!v)
                return fail("%s: flag %s needs a value", cmd, a);
            if (f->list) {
                if (*f->nlist == f->maxlist)
                    return fail("%s: more than %zu %s", cmd, f->maxlist, a);
                f->list[(*f->nlist)++] = v;
            } else {
                *f->value = v;
            }
        } else if (f->set) {
            /* a boolean may be written --flag=false */
            *f->set = !eq || strcmp(eq + 1, "false");
        }
    }
    return 0;
}

/* ---- helpers -----------------------------------------------------------------------------*/

static int read_file(const char *path, size_t max, char **out, size_t *len)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        errno = EFBIG;
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return -1;
    ssize_t n = io_read_full(fd, buf, (size_t)st.st_size);
    if (n < 0) {
        free(buf);
        return -1;
    }
    buf[n] = 0;
    *out = buf;
    *len = (size_t)n;
    return 0;
}

static void state_dir(const char *id, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", g.root, id);
}

static int load_state(const char *id, struct oci_state *st)
{
    struct bl_error err = { 0 };
    if (oci_id_valid(id, &err))
        return fail("%s", err.msg);
    char dir[PATH_MAX], p[PATH_MAX + 32];
    state_dir(id, dir, sizeof dir);
    snprintf(p, sizeof p, "%s/state.json", dir);
    cleanup_free char *text = NULL;
    size_t len;
    if (read_file(p, 1 << 20, &text, &len) < 0) {
        if (errno == ENOENT)
            return fail("container \"%s\" does not exist", id);
        return fail("read %s: %s", p, strerror(errno));
    }
    if (oci_state_parse(text, len, st, &err))
        return fail("%s: %s", p, err.msg);
    return 0;
}

/* The relay's pid file descriptor, if it still is the process the state names. */
static int relay_pidfd(const struct oci_state *st)
{
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)st->pid, 0);
    if (fd < 0)
        return -1;
    /* checked after the open: a pidfd names one process, so a reused pid is seen here */
    struct proc_stat ps;
    if (proc_stat_read(st->pid, &ps) < 0 || ps.starttime != st->pid_start || ps.state == 'Z' ||
        ps.state == 'X') {
        close(fd);
        return -1;
    }
    return fd;
}

static enum oci_status status_of(const struct oci_state *st)
{
    int fd = relay_pidfd(st);
    if (fd < 0)
        return OCI_STOPPED;
    close(fd);
    char dir[PATH_MAX], p[PATH_MAX + 32];
    state_dir(st->id, dir, sizeof dir);
    snprintf(p, sizeof p, "%s/" STARTED_MARK, dir);
    return access(p, F_OK) == 0 ? OCI_RUNNING : OCI_CREATED;
}

/* A Unix socket path for a file in dir that fits sun_path whatever dir's length: through
 * /proc/self/fd of an open descriptor of dir. */
static int sock_addr(int dirfd, const char *name, struct sockaddr_un *a)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    return snprintf(a->sun_path, sizeof a->sun_path, "/proc/self/fd/%d/%s", dirfd, name) <
                   (int)sizeof a->sun_path
               ? 0
               : -1;
}

static int connect_unix(const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    /* a long path: through the folder's descriptor */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = path;
    cleanup_close int dfd = -1;
    if (slash) {
        *slash = 0;
        base = slash + 1;
        dfd = open(slash == dir ? "/" : dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    } else {
        dfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    struct sockaddr_un a;
    if (dfd < 0 || sock_addr(dfd, base, &a) < 0 ||
        connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

static int rm_state_dir(const char *id)
{
    char dir[PATH_MAX];
    state_dir(id, dir, sizeof dir);
    cleanup_closedir DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    return rmdir(dir);
}

static int open_runtime(boxlite_runtime **rt)
{
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s/home", g.root);
    if (boxlite_runtime_open(home, rt) != BOXLITE_OK)
        return fail("open the box runtime at %s: %s", home, boxlite_errmsg());
    return 0;
}

static int write_pid_file(const char *path, pid_t pid)
{
    if (!path)
        return 0;
    char text[32];
    int n = snprintf(text, sizeof text, "%d", (int)pid); /* no newline: runc writes none */
    struct bl_error err = { 0 };
    return oci_write_atomic(path, text, (size_t)n, &err) ? fail("pid file: %s", err.msg) : 0;
}

/* A child's report over a pipe: "ok ..." or the error's text; "" when it died first. */
static void read_report(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = 0;
}

static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int fd, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof msg - 1)
        n = (int)sizeof msg - 1;
    io_write_all(fd, msg, (size_t)n);
}

static int signal_fd(void)
{
    sigset_t set;
    relay_signal_set(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* ---- create: a relay that boots the box and waits for start ------------------------------*/

static bool skip_mount(const struct oci_mount *m)
{
    /* the guest's container init makes its own /proc, /sys, /dev */
    static const char *const own[] = { "/proc", "/sys", "/dev" };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        size_t n = strlen(own[i]);
        if (!strncmp(m->destination, own[i], n) &&
            (!m->destination[n] || m->destination[n] == '/'))
            return true;
    }
    struct stat st;
    /* a volume is a shared folder (9p); file binds are not carried yet */
    return !m->bind || !m->source || stat(m->source, &st) != 0 || !S_ISDIR(st.st_mode);
}

static int box_options(const struct oci_spec *s, const char *id, const char *rootfs,
                       boxlite_options **out, struct bl_error *err)
{
    boxlite_options *o = NULL;
    int r = boxlite_options_new(&o);
    if (!r)
        r = boxlite_options_set_rootfs_path(o, rootfs);
    if (!r)
        r = boxlite_options_set_rootfs_share(o, 1);
    if (!r)
        r = boxlite_options_set_read_only(o, s->root_readonly);
    /* the container id names the box when it is a valid box name (podman's are) */
    if (!r && boxlite_options_set_name(o, id) != BOXLITE_OK)
        r = 0;
    if (!r && s->hostname && s->hostname[0])
        r = boxlite_options_set_hostname(o, s->hostname);
    if (!r && s->cpus)
        r = boxlite_options_set_cpus(o, s->cpus);
    if (!r && s->memory_mib)
        r = boxlite_options_set_memory_mib(o, s->memory_mib);
    if (!r && s->engine)
        r = boxlite_options_set_engine(o, s->engine);
    for (size_t i = 0; !r && i < s->nmounts; i++)
        if (!skip_mount(&s->mounts[i]) &&
            !(r = relay_mkdir_in_root(rootfs, s->mounts[i].destination, err) < 0 ? -1 : 0))
            r = boxlite_options_add_volume(o, s->mounts[i].source, s->mounts[i].destination,
                                           s->mounts[i].readonly);
    if (r) {
        if (r > 0) /* the library's error; a mount point's is in err already */
            bl_err(err, BOXLITE_ERR_INVALID, "%s", boxlite_errmsg());
        boxlite_options_free(o);
        return -1;
    }
    *out = o;
    return 0;
}

/* The created container's relay: boots the box, reports to create (ready_fd), waits for
 * start, then runs the process. Never returns. */
static __attribute__((noreturn)) void create_relay(const char *id, const struct oci_spec *s,
                                                   const char *rootfs, int console_fd,
                                                   int listen_fd, int ready_fd)
{
    int sigfd = signal_fd();
    struct bl_error err = { 0 };
    int tty = -1;
    if (s->process.terminal) {
        tty = relay_pty(console_fd, s->process.rows, s->process.cols, &err);
        if (tty < 0) {
            report(ready_fd, "%s", err.msg);
            _exit(1);
        }
    }
    if (console_fd >= 0)
        close(console_fd);
    boxlite_runtime *rt = NULL;
    boxlite_options *o = NULL;
    boxlite_box *box = NULL;
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s/home", g.root);
    if (boxlite_runtime_open(home, &rt) != BOXLITE_OK) {
        report(ready_fd, "open the box runtime at %s: %s", home, boxlite_errmsg());
        _exit(1);
    }
    /* a box left by an earlier container of this id (its relay killed before delete) */
    boxlite_box_remove(rt, id, 1);
    if (box_options(s, id, rootfs, &o, &err) < 0) {
        report(ready_fd, "%s", err.msg);
        _exit(1);
    }
    if (boxlite_box_create(rt, o, &box) != BOXLITE_OK || boxlite_box_start(box) != BOXLITE_OK) {
        report(ready_fd, "start the box: %s", boxlite_errmsg());
        if (box)
            boxlite_box_remove(rt, boxlite_box_id(box), 1);
        _exit(1);
    }
    boxlite_options_free(o);
    report(ready_fd, "ok %s", boxlite_box_id(box));
    close(ready_fd);

    /* created: wait for start (or a signal: a container killed before it started) */
    int conn = -1;
    while (conn < 0) {
        struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN },
                               { .fd = sigfd, .events = POLLIN } };
        if (poll(p, 2, -1) < 0)
            continue;
        if (p[1].revents) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si && si.ssi_signo != SIGWINCH &&
                si.ssi_signo != SIGCHLD && si.ssi_signo != SIGPIPE)
                _exit(128 + (int)si.ssi_signo); /* the box stops with us (its lifeline) */
        }
        if (p[0].revents)
            conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn >= 0) {
            char req[16];
            read_report(conn, req, sizeof req);
            if (strncmp(req, "start", 5)) {
                close(conn);
                conn = -1;
            }
        }
    }
    close(listen_fd);
    boxlite_exec_spec spec;
    char user[32];
    relay_exec_spec(&s->process, &spec, user, sizeof user);
    /* the caller sizes the terminal once it holds the master, possibly while the container
     * was only created (its SIGWINCH was not forwarded then): the size at start is the one */
    struct winsize ws;
    if (tty >= 0 && ioctl(tty, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
        spec.rows = ws.ws_row;
        spec.cols = ws.ws_col;
    }
    boxlite_exec *ex = NULL;
    if (boxlite_exec_start(box, &spec, &ex) != BOXLITE_OK) {
        report(conn, "%s", boxlite_errmsg());
        _exit(boxlite_errcode() == BOXLITE_ERR_NOT_FOUND ? 127 : 1);
    }
    char dir[PATH_MAX], mark[PATH_MAX + 32];
    state_dir(id, dir, sizeof dir);
    snprintf(mark, sizeof mark, "%s/" STARTED_MARK, dir);
    close(open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    report(conn, "ok");
    close(conn);
    int status = tty >= 0 ? relay_pump(ex, tty, tty, tty, tty, sigfd)
                          : relay_pump(ex, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, -1, sigfd);
    /* the box goes down with this process (its lifeline); nothing to wait for here */
    _exit(status);
}

static int abs_path(const char *base, const char *p, char *out, size_t len)
{
    char joined[PATH_MAX * 2];
    snprintf(joined, sizeof joined, "%s%s%s", p[0] == '/' ? "" : base, p[0] == '/' ? "" : "/", p);
    if (!realpath(joined, out))
        return -1;
    (void)len;
    return 0;
}

static int cmd_create(int argc, char **argv, int i)
{
    const char *bundle = ".", *pid_file = NULL, *console = NULL, *preserve = NULL;
    bool nopivot = false, nokeyring = false;
    const struct flag fl[] = {
        FLAG_V("bundle", 'b', &bundle),
        FLAG_V("pid-file", 0, &pid_file),
        FLAG_V("console-socket", 0, &console),
        FLAG_V("preserve-fds", 0, &preserve),
        FLAG_B("no-pivot", 0, &nopivot),
        FLAG_B("no-new-keyring", 0, &nokeyring),
        FLAG_END,
    };
    if (parse_flags(argc, argv, &i, fl, "create"))
        return 1;
    if (i != argc - 1)
        return fail("create: usage: create [flags] CONTAINER-ID");
    const char *id = argv[i];
    struct bl_error err = { 0 };
    if (oci_id_valid(id, &err))
        return fail("%s", err.msg);
    char bdir[PATH_MAX], cfg[PATH_MAX + 16], rootfs[PATH_MAX];
    if (!realpath(bundle, bdir))
        return fail("bundle %s: %s", bundle, strerror(errno));
    snprintf(cfg, sizeof cfg, "%s/config.json", bdir);
    cleanup_free char *text = NULL;
    size_t len;
    if (read_file(cfg, OCI_SPEC_MAX_BYTES, &text, &len) < 0)
        return fail("read %s: %s", cfg, strerror(errno));
    struct oci_spec s;
    if (oci_spec_parse(text, len, &s, &err))
        return fail("%s: %s", cfg, err.msg);
    int rc = 1;
    char *js = NULL;
    if (abs_path(bdir, s.root_path, rootfs, sizeof rootfs) < 0) {
        rc = fail("root.path %s: %s", s.root_path, strerror(errno));
        goto out;
    }
    if (s.process.terminal && !console) {
        rc = fail("create: a terminal was asked for (process.terminal) without --console-socket");
        goto out;
    }
    if (relay_lookpath(rootfs, &s.process, &err) < 0) {
        rc = fail("%s", err.msg);
        goto out;
    }
    mkdir(g.root, 0700);
    char dir[PATH_MAX];
    state_dir(id, dir, sizeof dir);
    if (mkdir(dir, 0700) < 0) {
        rc = errno == EEXIST ? fail("container with id exists: %s", id)
                             : fail("mkdir %s: %s", dir, strerror(errno));
        goto out;
    }
    /* the socket start connects to, made before the relay exists so no start can miss it */
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a;
    if (dfd < 0 || ls < 0 || sock_addr(dfd, RELAY_SOCK, &a) < 0 ||
        bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4) < 0) {
        rc = fail("relay socket in %s: %s", dir, strerror(errno));
        rm_state_dir(id);
        goto out;
    }
    close(dfd);
    int cfd = -1;
    if (console && (cfd = connect_unix(console)) < 0) {
        rc = fail("console socket %s: %s", console, strerror(errno));
        rm_state_dir(id);
        goto out;
    }
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        rc = fail("pipe: %s", strerror(errno));
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        rc = fail("fork: %s", strerror(errno));
        rm_state_dir(id);
        goto out;
    }
    if (pid == 0) {
        close(ready[0]);
        create_relay(id, &s, rootfs, cfd, ls, ready[1]);
    }
    close(ready[1]);
    close(ls);
    if (cfd >= 0)
        close(cfd);
    char msg[2048];
    read_report(ready[0], msg, sizeof msg);
    close(ready[0]);
    if (strncmp(msg, "ok ", 3)) {
        int ws = 0;
        waitpid(pid, &ws, 0);
        rc = fail("%s", msg[0] ? msg : "the container's relay process died");
        rm_state_dir(id);
        goto out;
    }
    struct proc_stat ps = { 0 };
    proc_stat_read(pid, &ps);
    char created[64];
    oci_now_rfc3339(created, sizeof created);
    struct oci_state st = { .id = (char *)id, .bundle = bdir, .rootfs = rootfs,
                            .created = created, .box = msg + 3, .pid = pid,
                            .pid_start = ps.starttime };
    js = oci_state_dump(&st);
    char sp[PATH_MAX + 32];
    snprintf(sp, sizeof sp, "%s/state.json", dir);
    if (!js || oci_write_atomic(sp, js, strlen(js), &err)) {
        kill(pid, SIGKILL);
        rc = fail("write %s: %s", sp, js ? err.msg : "out of memory");
        rm_state_dir(id);
        goto out;
    }
    rc = write_pid_file(pid_file, pid);
    debug("created %s: relay %d, box %s", id, (int)pid, msg + 3);
out:
    free(js);
    oci_spec_free(&s);
    return rc;
}

/* ---- start, state, kill, delete, ps --------------------------------------------------------*/

static int cmd_start(int argc, char **argv, int i)
{
    const struct flag fl[] = { FLAG_END };
    if (parse_flags(argc, argv, &i, fl, "start"))
        return 1;
    if (i != argc - 1)
        return fail("start: usage: start CONTAINER-ID");
    struct oci_state st;
    if (load_state(argv[i], &st))
        return 1;
    enum oci_status s = status_of(&st);
    int rc = 0;
    if (s == OCI_RUNNING)
        rc = fail("cannot start an already running container");
    else if (s == OCI_STOPPED)
        rc = fail("cannot start a container that has stopped");
    char dir[PATH_MAX], p[PATH_MAX + 32];
    state_dir(st.id, dir, sizeof dir);
    snprintf(p, sizeof p, "%s/" RELAY_SOCK, dir);
    int c = rc ? -1 : connect_unix(p);
    if (!rc && c < 0)
        rc = fail("container not running: %s: %s", p, strerror(errno));
    if (!rc) {
        char msg[2048];
        io_write_all(c, "start", 5);
        shutdown(c, SHUT_WR);
        read_report(c, msg, sizeof msg);
        close(c);
        if (strcmp(msg, "ok"))
            rc = fail("%s", msg[0] ? msg : "the container's relay process died");
    }
    oci_state_free(&st);
    return rc;
}

static int cmd_state(int argc, char **argv, int i)
{
    const struct flag fl[] = { FLAG_END };
    if (parse_flags(argc, argv, &i, fl, "state"))
        return 1;
    if (i != argc - 1)
        return fail("state: usage: state CONTAINER-ID");
    struct oci_state st;
    if (load_state(argv[i], &st))
        return 1;
    char *js = oci_state_report(&st, status_of(&st));
    oci_state_free(&st);
    if (!js)
        return fail("out of memory");
    printf("%s\n", js);
    free(js);
    return 0;
}

static int cmd_kill(int argc, char **argv, int i)
{
    bool all = false;
    const struct flag fl[] = { FLAG_B("all", 'a', &all), FLAG_END };
    if (parse_flags(argc, argv, &i, fl, "kill"))
        return 1;
    if (i != argc - 1 && i != argc - 2)
        return fail("kill: usage: kill [--all] CONTAINER-ID [SIGNAL]");
    int sig = SIGTERM;
    struct bl_error err = { 0 };
    if (i == argc - 2 && oci_parse_signal(argv[i + 1], &sig, &err))
        return fail("%s", err.msg);
    struct oci_state st;
    if (load_state(argv[i], &st))
        return 1;
    int fd = relay_pidfd(&st);
    int rc = 0;
    /* the relay forwards the signal to the guest process (SIGKILL ends the relay, and with
     * it the box) */
    if (fd < 0)
        rc = fail("container not running");
    else if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
        rc = errno == ESRCH ? fail("container not running") : fail("kill: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
    oci_state_free(&st);
    return rc;
}

static int cmd_delete(int argc, char **argv, int i)
{
    bool force = false;
    const struct flag fl[] = { FLAG_B("force", 'f', &force),
                               FLAG_END };
    if (parse_flags(argc, argv, &i, fl, "delete"))
        return 1;
    if (i != argc - 1)
        return fail("delete: usage: delete [--force] CONTAINER-ID");
    struct oci_state st;
    char dir[PATH_MAX], sp[PATH_MAX + 32];
    state_dir(argv[i], dir, sizeof dir);
    snprintf(sp, sizeof sp, "%s/state.json", dir);
    /* As runc: forced, a container that does not exist (or whose create never finished
     * writing its state) is not an error; otherwise "does not exist", which callers match. */
    if (force && oci_id_valid(argv[i], NULL) == 0 && access(sp, F_OK) != 0 && errno == ENOENT) {
        rm_state_dir(argv[i]);
        return 0;
    }
    if (load_state(argv[i], &st))
        return 1;
    enum oci_status s = status_of(&st);
    if (s == OCI_RUNNING && !force) {
        oci_state_free(&st);
        return fail("cannot delete container %s that is not stopped: running", argv[i]);
    }
    int fd = relay_pidfd(&st);
    if (fd >= 0) {
        syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
        /* a pidfd polls readable once the process has exited, child of ours or not */
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, 10000);
        close(fd);
    }
    boxlite_runtime *rt = NULL;
    int rc = open_runtime(&rt);
    if (!rc) {
        int r = boxlite_box_remove(rt, st.box, 1);
        if (r != BOXLITE_OK && r != BOXLITE_ERR_NOT_FOUND)
            rc = fail("remove box %s: %s", st.box, boxlite_errmsg());
        boxlite_runtime_close(rt);
    }
    if (!rc && rm_state_dir(st.id) < 0)
        rc = fail("remove the state of %s: %s", st.id, strerror(errno));
    oci_state_free(&st);
    return rc;
}

static int cmd_ps(int argc, char **argv, int i)
{
    const char *format = "table";
    const struct flag fl[] = { FLAG_V("format", 'f', &format),
                               FLAG_END };
    if (parse_flags(argc, argv, &i, fl, "ps"))
        return 1;
    if (i >= argc)
        return fail("ps: usage: ps [--format table|json] CONTAINER-ID");
    struct oci_state st;
    if (load_state(argv[i], &st))
        return 1;
    /* the host processes of the container: its relay (the guest's are inside the VM) */
    bool alive = status_of(&st) != OCI_STOPPED;
    if (!strcmp(format, "json"))
        printf(alive ? "[%lld]\n" : "[]\n", (long long)st.pid);
    else if (!strcmp(format, "table"))
        printf(alive ? "PID\n%lld\n" : "PID\n", (long long)st.pid);
    else
        return fail("ps: unknown format %s", format);
    oci_state_free(&st);
    return 0;
}

/* ---- exec ---------------------------------------------------------------------------------*/

static int exec_process(int argc, char **argv, int i, const char *process_file,
                        const struct oci_state *st, struct oci_process *p, const char *cwd,
                        const char *user, const char *const *envs, size_t nenv, bool tty)
{
    struct bl_error err = { 0 };
    cleanup_free char *text = NULL;
    size_t len;
    if (process_file) {
        if (read_file(process_file, OCI_SPEC_MAX_BYTES, &text, &len) < 0)
            return fail("read %s: %s", process_file, strerror(errno));
        if (oci_process_parse(text, len, p, &err))
            return fail("%s: %s", process_file, err.msg);
        return 0;
    }
    if (i >= argc)
        return fail("exec: no command (exec [flags] CONTAINER-ID COMMAND [ARGS...])");
    /* the plain form: the container's process settings, this command */
    char cfg[PATH_MAX + 16];
    snprintf(cfg, sizeof cfg, "%s/config.json", st->bundle);
    struct oci_spec s;
    if (read_file(cfg, OCI_SPEC_MAX_BYTES, &text, &len) < 0)
        return fail("read %s: %s", cfg, strerror(errno));
    if (oci_spec_parse(text, len, &s, &err))
        return fail("%s: %s", cfg, err.msg);
    *p = s.process;
    memset(&s.process, 0, sizeof s.process);
    oci_spec_free(&s);
    size_t n = (size_t)(argc - i), ne = 0;
    while (p->env[ne])
        ne++;
    char **args = calloc(n + 1, sizeof *args);
    char **env = realloc(p->env, (ne + nenv + 1) * sizeof *env);
    if (!args || !env) {
        free(args);
        return fail("out of memory");
    }
    p->env = env;
    for (size_t k = 0; k < nenv; k++)
        env[ne + k] = strdup(envs[k]);
    env[ne + nenv] = NULL;
    for (size_t k = 0; k < n; k++)
        args[k] = strdup(argv[i + k]);
    for (size_t k = 0; p->args[k]; k++)
        free(p->args[k]);
    free(p->args);
    p->args = args;
    p->terminal = tty;
    if (cwd) {
        free(p->cwd);
        p->cwd = strdup(cwd);
    }
    if (user) {
        unsigned uid = 0, gid = 0;
        int k = sscanf(user, "%u:%u", &uid, &gid);
        if (k < 1)
            return fail("exec: --user %s: uid[:gid] expected", user);
        p->uid = uid;
        p->gid = k == 2 ? gid : 0;
    }
    return 0;
}

static int cmd_exec(int argc, char **argv, int i)
{
    const char *process_file = NULL, *pid_file = NULL, *console = NULL, *cwd = NULL,
               *user = NULL, *preserve = NULL, *label = NULL, *apparmor = NULL, *cap = NULL;
    bool detach = false, tty = false, nnp = false;
    const char *envs[256];
    size_t nenv = 0;
    const struct flag fl[] = {
        FLAG_V("process", 'p', &process_file),
        FLAG_B("detach", 'd', &detach),
        FLAG_V("pid-file", 0, &pid_file),
        FLAG_B("tty", 't', &tty),
        FLAG_V("console-socket", 0, &console),
        FLAG_V("cwd", 0, &cwd),
        FLAG_V("user", 'u', &user),
        { .name = "env", .short_name = 'e', .has_value = true, .list = envs, .nlist = &nenv,
          .maxlist = sizeof envs / sizeof envs[0] },
        FLAG_V("preserve-fds", 0, &preserve),
        FLAG_V("process-label", 0, &label),
        FLAG_V("apparmor", 0, &apparmor),
        FLAG_V("cap", 'c', &cap),
        FLAG_B("no-new-privs", 0, &nnp),
        FLAG_END,
    };
    if (parse_flags(argc, argv, &i, fl, "exec"))
        return 1;
    if (i >= argc)
        return fail("exec: usage: exec [flags] CONTAINER-ID [COMMAND...]");
    const char *id = argv[i++];
    struct oci_state st;
    if (load_state(id, &st))
        return 1;
    int rc = 1;
    struct oci_process p = { 0 };
    if (status_of(&st) != OCI_RUNNING) {
        rc = fail("cannot exec in a stopped container: container not running");
        goto out;
    }
    if (exec_process(argc, argv, i, process_file, &st, &p, cwd, user, envs, nenv, tty))
        goto out;
    struct bl_error err = { 0 };
    if (relay_lookpath(st.rootfs, &p, &err) < 0) {
        rc = fail("%s", err.msg);
        goto out;
    }
    if (p.terminal && detach && !console) {
        rc = fail("exec: a detached terminal needs --console-socket");
        goto out;
    }
    int cfd = -1;
    if (console && (cfd = connect_unix(console)) < 0) {
        rc = fail("console socket %s: %s", console, strerror(errno));
        goto out;
    }
    int ready[2] = { -1, -1 };
    pid_t pid = 0;
    if (detach) {
        if (pipe2(ready, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
            rc = fail("fork: %s", strerror(errno));
            goto out;
        }
        if (pid > 0) {
            close(ready[1]);
            char msg[2048];
            read_report(ready[0], msg, sizeof msg);
            if (strcmp(msg, "ok")) {
                int ws;
                waitpid(pid, &ws, 0);
                rc = fail("%s", msg[0] ? msg : "the exec's relay process died");
                goto out;
            }
            rc = write_pid_file(pid_file, pid);
            goto out;
        }
        close(ready[0]);
    }
    /* the relay (this process, or the detached child) */
    int sigfd = signal_fd();
    int term = -1;
    struct termios saved;
    bool restore = false;
    if (p.terminal && cfd >= 0) {
        term = relay_pty(cfd, p.rows, p.cols, &err);
        if (term < 0) {
            report(ready[1], "%s", err.msg);
            rc = detach ? 1 : fail("%s", err.msg);
            goto relay_out;
        }
    } else if (p.terminal && isatty(STDIN_FILENO)) {
        /* `exec -t` at a terminal: ours, in raw mode while the process runs */
        term = STDIN_FILENO;
        if (tcgetattr(term, &saved) == 0) {
            struct termios t = saved;
            cfmakeraw(&t);
            restore = tcsetattr(term, TCSANOW, &t) == 0;
        }
        struct winsize ws;
        if (ioctl(term, TIOCGWINSZ, &ws) == 0 && ws.ws_row) {
            p.rows = ws.ws_row;
            p.cols = ws.ws_col;
        }
    }
    if (cfd >= 0)
        close(cfd);
    boxlite_runtime *rt = NULL;
    boxlite_box *box = NULL;
    boxlite_exec *ex = NULL;
    boxlite_exec_spec spec;
    char ustr[32];
    relay_exec_spec(&p, &spec, ustr, sizeof ustr);
    if (open_runtime(&rt) || boxlite_box_get(rt, st.box, &box) != BOXLITE_OK ||
        boxlite_exec_start(box, &spec, &ex) != BOXLITE_OK) {
        const char *m = boxlite_errmsg();
        if (detach)
            report(ready[1], "%s", m);
        else
            fail("%s", m);
        rc = boxlite_errcode() == BOXLITE_ERR_NOT_FOUND ? 127 : 1;
        goto relay_out;
    }
    if (detach) {
        report(ready[1], "ok");
        close(ready[1]);
        ready[1] = -1;
    }
    rc = term >= 0 ? relay_pump(ex, term, term, term, term, sigfd)
                   : relay_pump(ex, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, -1, sigfd);
    boxlite_exec_free(ex);
relay_out:
    if (restore)
        tcsetattr(term, TCSANOW, &saved);
    boxlite_box_free(box);
    boxlite_runtime_close(rt);
    if (detach)
        _exit(rc);
out:
    oci_process_free(&p);
    oci_state_free(&st);
    return rc;
}

/* ---- features, version, dispatch ---------------------------------------------------------*/

static int cmd_features(int argc, char **argv, int i)
{
    (void)argc;
    (void)argv;
    (void)i;
    /* runtime-spec features.md: what this runtime understands */
    printf("{\n"
           "  \"ociVersionMin\": \"1.0.0\",\n"
           "  \"ociVersionMax\": \"%s\",\n"
           "  \"hooks\": [],\n"
           "  \"mountOptions\": [\"bind\", \"rbind\", \"ro\", \"rw\"],\n"
           "  \"linux\": {\n"
           "    \"namespaces\": [\"pid\", \"mount\", \"uts\", \"ipc\"],\n"
           "    \"capabilities\": [],\n"
           "    \"cgroup\": {\"v1\": false, \"v2\": false, \"systemd\": false, "
           "\"systemdUser\": false},\n"
           "    \"seccomp\": {\"enabled\": false},\n"
           "    \"apparmor\": {\"enabled\": false},\n"
           "    \"selinux\": {\"enabled\": false}\n"
           "  },\n"
           "  \"annotations\": {\n"
           "    \"io.boxlite.runtime.version\": \"%s\",\n"
           "    \"io.boxlite.vm\": \"true\"\n"
           "  }\n"
           "}\n",
           OCI_SPEC_VERSION, boxlite_version());
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: boxlite-runtime [global flags] COMMAND [flags] [ARGS]\n"
               "An OCI runtime (runc's command line): each container runs in a BoxLite micro-VM.\n"
               "commands: create, start, state, kill, delete, exec, ps, features\n"
               "global flags: --root DIR (default " DEFAULT_ROOT "), --log FILE, "
               "--log-format text|json, --debug, --systemd-cgroup, --rootless VALUE, "
               "--version\n");
}

int main(int argc, char **argv)
{
    const char *log_format = "text", *rootless = NULL, *criu = NULL;
    bool debug_flag = false, systemd = false, version = false, help = false;
    const struct flag fl[] = {
        FLAG_V("root", 0, &g.root),
        FLAG_V("log", 0, &g.log),
        FLAG_V("log-format", 0, &log_format),
        FLAG_B("debug", 0, &debug_flag),
        FLAG_B("systemd-cgroup", 0, &systemd),
        FLAG_V("rootless", 0, &rootless),
        FLAG_V("criu", 0, &criu),
        FLAG_B("version", 'v', &version),
        FLAG_B("help", 'h', &help),
        FLAG_END,
    };
    int i = 1;
    if (parse_flags(argc, argv, &i, fl, "boxlite-runtime"))
        return 1;
    g.debug = debug_flag;
    if (strcmp(log_format, "text") && strcmp(log_format, "json"))
        return fail("unknown --log-format %s (text or json)", log_format);
    g.log_json = !strcmp(log_format, "json");
    if (version) {
        printf("boxlite-runtime version %s\nspec: %s\nlibboxlite: %s\n", boxlite_version(),
               OCI_SPEC_VERSION, boxlite_version());
        return 0;
    }
    if (help || i >= argc) {
        usage(help ? stdout : stderr);
        return help ? 0 : 1;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **, int);
    } cmds[] = {
        { "create", cmd_create }, { "start", cmd_start },   { "state", cmd_state },
        { "kill", cmd_kill },     { "delete", cmd_delete }, { "exec", cmd_exec },
        { "ps", cmd_ps },         { "features", cmd_features },
    };
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (!strcmp(argv[i], cmds[k].name)) {
            debug("%s", argv[i]);
            return cmds[k].fn(argc, argv, i + 1);
        }
    return fail("unknown command %s", argv[i]);
}
