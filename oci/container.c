// SPDX-License-Identifier: Apache-2.0
/* What the commands share about one container: its state folder under --root, its
 * record, its status (from the relay process), the relay's socket, and the reports a
 * relay sends its parent over a pipe or socket. */
#include "runtime.h"
#include "cgroup.h"

#include "common/cleanup.h"
#include "common/io.h"
#include "common/procstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- helpers -----------------------------------------------------------------------------*/

int read_file(const char *path, size_t max, char **out, size_t *len)
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

void state_dir(const char *id, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", opts.root, id);
}

int load_state(const char *id, struct oci_state *st)
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
int relay_pidfd(const struct oci_state *st)
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

enum oci_status status_of(const struct oci_state *st)
{
    int fd = relay_pidfd(st);
    if (fd < 0)
        return OCI_STOPPED;
    close(fd);
    char dir[PATH_MAX], p[PATH_MAX + 32];
    state_dir(st->id, dir, sizeof dir);
    snprintf(p, sizeof p, "%s/" STARTED_MARK, dir);
    struct cgroup cg;
    if (load_cgroup(st->id, &cg) == 1 && cgroup_frozen(&cg))
        return OCI_PAUSED;
    return access(p, F_OK) == 0 ? OCI_RUNNING : OCI_CREATED;
}

int load_cgroup(const char *id, struct cgroup *cg)
{
    char dir[PATH_MAX];
    state_dir(id, dir, sizeof dir);
    return cgroup_load(dir, cg);
}

/* A Unix socket path for a file in dir that fits sun_path whatever dir's length: through
 * /proc/self/fd of an open descriptor of dir. */
int sock_addr(int dirfd, const char *name, struct sockaddr_un *a)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    return snprintf(a->sun_path, sizeof a->sun_path, "/proc/self/fd/%d/%s", dirfd, name) <
                   (int)sizeof a->sun_path
               ? 0
               : -1;
}

int connect_unix(const char *path)
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

int rm_state_dir(const char *id)
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

int open_runtime(boxlite_runtime **rt)
{
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s/home", opts.root);
    if (boxlite_runtime_open(home, rt) != BOXLITE_OK)
        return fail("open the box runtime at %s: %s", home, boxlite_errmsg());
    return 0;
}

int write_pid_file(const char *path, pid_t pid)
{
    if (!path)
        return 0;
    char text[32];
    int n = snprintf(text, sizeof text, "%d", (int)pid); /* no newline: runc writes none */
    struct bl_error err = { 0 };
    return oci_write_atomic(path, text, (size_t)n, &err) ? fail("pid file: %s", err.msg) : 0;
}

/* A child's report over a pipe: "ok ..." or the error's text; "" when it died first. */
void read_report(int fd, char *buf, size_t len)
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

void report(int fd, const char *fmt, ...)
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

int signal_fd(void)
{
    sigset_t set;
    relay_signal_set(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int load_spec(const char *bundle, struct oci_spec *s, struct bl_error *err)
{
    char cfg[PATH_MAX + 16];
    snprintf(cfg, sizeof cfg, "%s/config.json", bundle);
    cleanup_free char *text = NULL;
    size_t len;
    if (read_file(cfg, OCI_SPEC_MAX_BYTES, &text, &len) < 0)
        return bl_errno(err, errno, "read %s", cfg);
    if (oci_spec_parse(text, len, s, err))
        return bl_err_prefix(err, "%s", cfg);
    return 0;
}

void relay_stdio_to_null(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    for (int k = 0; k < 3; k++)
        dup2(fd, k);
    if (fd > 2)
        close(fd);
}
