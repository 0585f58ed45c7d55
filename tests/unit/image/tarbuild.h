// SPDX-License-Identifier: Apache-2.0
/* Builds small tar layers in memory for the image tests (libarchive's writer). */
#ifndef TEST_IMAGE_TARBUILD_H
#define TEST_IMAGE_TARBUILD_H

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct tarb {
    struct archive *a;
    char *buf;
    size_t cap, used;
};

static inline void tarb_begin(struct tarb *t, int gzip)
{
    t->cap = 16 << 20;
    t->buf = malloc(t->cap);
    t->used = 0;
    t->a = archive_write_new();
    archive_write_set_format_pax_restricted(t->a);
    if (gzip == 1)
        archive_write_add_filter_gzip(t->a);
    else if (gzip == 2)
        archive_write_add_filter_zstd(t->a);
    archive_write_open_memory(t->a, t->buf, t->cap, &t->used);
}

static inline void tarb_add(struct tarb *t, const char *path, int type, int mode, int uid,
                            int gid, const char *data_or_target)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, (unsigned)type);
    archive_entry_set_perm(e, (mode_t)mode);
    archive_entry_set_uid(e, uid);
    archive_entry_set_gid(e, gid);
    archive_entry_set_mtime(e, 1700000000, 0);
    size_t len = 0;
    if (type == AE_IFREG && data_or_target) {
        len = strlen(data_or_target);
        archive_entry_set_size(e, (la_int64_t)len);
    } else if (type == AE_IFLNK) {
        archive_entry_set_symlink(e, data_or_target);
    } else if (type == AE_IFCHR || type == AE_IFBLK) {
        archive_entry_set_rdevmajor(e, 1);
        archive_entry_set_rdevminor(e, 3);
    }
    archive_write_header(t->a, e);
    if (len)
        archive_write_data(t->a, data_or_target, len);
    archive_entry_free(e);
}

/* A regular file of len bytes of data. */
static inline void tarb_add_data(struct tarb *t, const char *path, int mode, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, (mode_t)mode);
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_write_header(t->a, e);
    for (size_t off = 0; off < len;) {
        la_ssize_t n = archive_write_data(t->a, (const char *)data + off, len - off > 65536 ? 65536 : len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    archive_entry_free(e);
}

/* A directory with one extended attribute. */
static inline void tarb_dir_xattr(struct tarb *t, const char *path, const char *xname, const void *xval, size_t xlen)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    if (xname)
        archive_entry_xattr_add_entry(e, xname, xval, xlen);
    archive_write_header(t->a, e);
    archive_entry_free(e);
}

/* A regular file with one extended attribute. */
static inline void tarb_add_xattr(struct tarb *t, const char *path, const char *data, const char *xname,
                                  const void *xval, size_t xlen)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0755);
    archive_entry_set_size(e, (la_int64_t)strlen(data));
    archive_entry_xattr_add_entry(e, xname, xval, xlen);
    archive_write_header(t->a, e);
    archive_write_data(t->a, data, strlen(data));
    archive_entry_free(e);
}

static inline void tarb_link(struct tarb *t, const char *path, const char *target)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_hardlink(e, target);
    archive_write_header(t->a, e);
    archive_entry_free(e);
}

static inline void tarb_end(struct tarb *t)
{
    archive_write_close(t->a);
    archive_write_free(t->a);
}

#endif
