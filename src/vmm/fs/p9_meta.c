// SPDX-License-Identifier: Apache-2.0
/* The mapped-xattr record of a shared file (p9_meta.h). Extended attributes have no *at()
 * calls on the kernels we run on (getxattrat came in 6.13) and fgetxattr() refuses O_PATH
 * descriptors, so they are reached through /proc/self/fd/N, which names exactly the file the
 * descriptor holds (no path is resolved again). */
#include "vmm/fs/p9_meta.h"

#include <errno.h>
#include <stdio.h>
#include <sys/xattr.h>

#define X_UID "user.virtfs.uid"
#define X_GID "user.virtfs.gid"
#define X_MODE "user.virtfs.mode"
#define X_RDEV "user.virtfs.rdev"

static void fd_path(char *buf, size_t len, int fd) { snprintf(buf, len, "/proc/self/fd/%d", fd); }

static uint64_t le_get(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void le_put(unsigned char *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* An attribute of exactly n bytes; anything else (missing, a different size) is no record. */
static bool get_le(const char *path, const char *name, unsigned n, uint64_t *out)
{
    unsigned char b[8];
    if (getxattr(path, name, b, n) != (ssize_t)n)
        return false;
    *out = le_get(b, n);
    return true;
}

bool p9_meta_supported(int fd)
{
    char path[40];
    unsigned char b[4];
    fd_path(path, sizeof path, fd);
    return getxattr(path, X_UID, b, sizeof b) >= 0 || (errno != EOPNOTSUPP && errno != ENOTSUP);
}

void p9_meta_apply(int fd, struct stat *st)
{
    if (S_ISLNK(st->st_mode) || (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)))
        return;
    char path[40];
    fd_path(path, sizeof path, fd);
    uint64_t v;
    if (get_le(path, X_UID, 4, &v))
        st->st_uid = (uid_t)v;
    if (get_le(path, X_GID, 4, &v))
        st->st_gid = (gid_t)v;
    if (get_le(path, X_MODE, 4, &v)) {
        mode_t type = (mode_t)v & S_IFMT;
        bool special = S_ISLNK(type) || S_ISSOCK(type) || S_ISFIFO(type) || S_ISCHR(type) ||
                       S_ISBLK(type);
        if (!(S_ISREG(st->st_mode) && special))
            type = st->st_mode & S_IFMT;
        st->st_mode = type | ((mode_t)v & 07777);
    }
    if (get_le(path, X_RDEV, 8, &v))
        st->st_rdev = (dev_t)v;
}

int p9_meta_set(int fd, const struct p9_meta *m)
{
    char path[40];
    fd_path(path, sizeof path, fd);
    struct { bool set; const char *name; uint64_t v; unsigned n; } f[] = {
        { m->set_uid, X_UID, m->uid, 4 },
        { m->set_gid, X_GID, m->gid, 4 },
        { m->set_mode, X_MODE, m->mode, 4 },
        { m->set_rdev, X_RDEV, m->rdev, 8 },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!f[i].set)
            continue;
        unsigned char b[8];
        le_put(b, f[i].v, f[i].n);
        if (setxattr(path, f[i].name, b, f[i].n, 0) < 0)
            return errno;
    }
    return 0;
}
