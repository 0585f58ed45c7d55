// SPDX-License-Identifier: Apache-2.0
/* Format detection and the range-checked entry points shared by every backend. */
#include "disk/backend.h"
#include "disk/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int64_t disk_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (int64_t)done;
}

int disk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        done += (size_t)n;
    }
    return 0;
}

int disk_open_chain(struct disk **out, const char *path, const char *format, int readonly,
                    int depth, struct bl_error *err)
{
    *out = NULL;
    if (format && strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "%s: unsupported disk format '%s'", path,
                      format);
    /* O_NONBLOCK: a FIFO named as a disk (or as a backing file) must not hang us. */
    int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return bl_errno(err, e, "stat %s", path);
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        close(fd);
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: not a regular file or block device", path);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int is_qcow2;
    if (format) {
        is_qcow2 = strcmp(format, "qcow2") == 0;
    } else {
        uint8_t magic[4];
        int64_t n = disk_pread_full(fd, magic, sizeof magic, 0);
        if (n < 0) {
            close(fd);
            return bl_errno(err, (int)-n, "read %s", path);
        }
        is_qcow2 = n == 4 && memcmp(magic, QCOW2_MAGIC_BYTES, 4) == 0;
    }
    if (is_qcow2)
        return qcow2_open_fd(out, fd, path, readonly, depth, err);
    return raw_open_fd(out, fd, path, readonly, err);
}

int disk_open_fmt(struct disk **out, const char *path, const char *format, int readonly,
                  struct bl_error *err)
{
    return disk_open_chain(out, path, format, readonly, 0, err);
}

int disk_open(struct disk **out, const char *path, int readonly, struct bl_error *err)
{
    return disk_open_chain(out, path, NULL, readonly, 0, err);
}

static int check_range(struct disk *d, uint64_t offset, uint64_t len, const char *what,
                       struct bl_error *err)
{
    if (offset > d->size || len > d->size - offset)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "%s of %llu bytes at %llu is past the end of the disk (%llu bytes)", what,
                      (unsigned long long)len, (unsigned long long)offset,
                      (unsigned long long)d->size);
    return 0;
}

int disk_read(struct disk *d, void *buf, uint64_t offset, size_t len, struct bl_error *err)
{
    int rc = check_range(d, offset, len, "read", err);
    if (rc < 0 || len == 0)
        return rc;
    return d->ops->read(d, buf, offset, len, err);
}

int disk_write(struct disk *d, const void *buf, uint64_t offset, size_t len,
               struct bl_error *err)
{
    if (d->readonly)
        return bl_err(err, BOXLITE_ERR_STATE, "write to a read-only disk");
    int rc = check_range(d, offset, len, "write", err);
    if (rc < 0 || len == 0)
        return rc;
    return d->ops->write(d, buf, offset, len, err);
}

int disk_flush(struct disk *d, struct bl_error *err)
{
    if (d->readonly)
        return 0;
    return d->ops->flush(d, err);
}

int disk_discard(struct disk *d, uint64_t offset, uint64_t len, struct bl_error *err)
{
    if (d->readonly)
        return bl_err(err, BOXLITE_ERR_STATE, "discard on a read-only disk");
    if (!d->ops->discard)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "%s disks have no discard", d->ops->name);
    int rc = check_range(d, offset, len, "discard", err);
    if (rc < 0 || len == 0)
        return rc;
    return d->ops->discard(d, offset, len, err);
}

void disk_close(struct disk *d)
{
    if (d)
        d->ops->close(d);
}
