// SPDX-License-Identifier: Apache-2.0
/* io.h */
#include "common/io.h"

#include "common/clock.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int io_write_all_until(int fd, const void *p, size_t n, int64_t deadline_ms)
{
    const char *c = p;
    bool sock = true;
    while (n) {
        /* send(MSG_NOSIGNAL): a peer that went away is EPIPE, not a signal that kills
         * the library's caller; anything but a socket takes write(). */
        ssize_t w = sock ? send(fd, c, n, MSG_NOSIGNAL) : write(fd, c, n);
        if (w < 0 && errno == ENOTSOCK && sock) {
            sock = false;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int wait = -1;
            if (deadline_ms >= 0) {
                int64_t left = deadline_ms - (int64_t)mono_ms();
                if (left <= 0)
                    return -ETIMEDOUT;
                wait = left > INT_MAX ? INT_MAX : (int)left;
            }
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (poll(&pf, 1, wait) < 0 && errno != EINTR)
                return -errno;
            continue;
        }
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int io_write_all(int fd, const void *p, size_t n) { return io_write_all_until(fd, p, n, -1); }

ssize_t io_read_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int mkdir_p(const char *path, mode_t mode, struct bl_error *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return bl_err(err, BOXLITE_ERR_INVALID, "path too long: %.100s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return bl_errno(err, errno, "mkdir %s", buf);
        *p = c;
        if (!c)
            break;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int io_remove_tree(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT ? -1 : 0;
}
