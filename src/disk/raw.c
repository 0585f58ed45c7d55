// SPDX-License-Identifier: Apache-2.0
/* Raw disk images: the file (or block device) is the disk, byte for byte. Discard punches
 * holes (fallocate PUNCH_HOLE), falling back to writing zeros where that is unsupported. */
#include "disk/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct raw {
    struct disk d;
    int fd;
};

static struct raw *raw_of(struct disk *d) { return (struct raw *)d; }

static int raw_read(struct disk *d, void *buf, uint64_t offset, size_t len,
                    struct bl_error *err)
{
    int64_t n = disk_pread_full(raw_of(d)->fd, buf, len, offset);
    if (n < 0)
        return bl_errno(err, (int)-n, "raw read at %llu", (unsigned long long)offset);
    if ((size_t)n < len) /* the file shrank under us: what is gone reads as zeros */
        memset((char *)buf + n, 0, len - (size_t)n);
    return 0;
}

static int raw_write(struct disk *d, const void *buf, uint64_t offset, size_t len,
                     struct bl_error *err)
{
    int rc = disk_pwrite_full(raw_of(d)->fd, buf, len, offset);
    if (rc < 0)
        return bl_errno(err, -rc, "raw write at %llu", (unsigned long long)offset);
    return 0;
}

static int raw_flush(struct disk *d, struct bl_error *err)
{
    if (fdatasync(raw_of(d)->fd) < 0)
        return bl_errno(err, errno, "raw flush");
    return 0;
}

static int raw_discard(struct disk *d, uint64_t offset, uint64_t len, struct bl_error *err)
{
    struct raw *r = raw_of(d);
    if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
                  (off_t)len) == 0)
        return 0;
    if (errno != EOPNOTSUPP && errno != ENOSYS)
        return bl_errno(err, errno, "raw discard at %llu", (unsigned long long)offset);
    static const char zeros[65536];
    while (len > 0) {
        size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
        int rc = raw_write(d, zeros, offset, n, err);
        if (rc < 0)
            return rc;
        offset += n;
        len -= n;
    }
    return 0;
}

static void raw_close(struct disk *d)
{
    struct raw *r = raw_of(d);
    if (!d->readonly)
        fdatasync(r->fd);
    close(r->fd);
    free(r);
}

static const struct disk_ops raw_ops = {
    .name = "raw",
    .read = raw_read,
    .write = raw_write,
    .flush = raw_flush,
    .discard = raw_discard,
    .close = raw_close,
};

int raw_open_fd(struct disk **out, int fd, const char *path, int readonly,
                struct bl_error *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return bl_errno(err, e, "stat %s", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0) {
        int e = errno;
        close(fd);
        return bl_errno(err, e, "size of block device %s", path);
    } else if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
        close(fd);
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: not a regular file or block device",
                      path);
    }
    struct raw *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return bl_errno(err, ENOMEM, "open %s", path);
    }
    r->d.ops = &raw_ops;
    r->d.size = size;
    r->d.readonly = readonly;
    r->fd = fd;
    *out = &r->d;
    return 0;
}
