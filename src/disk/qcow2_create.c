// SPDX-License-Identifier: Apache-2.0
/* Creating an empty qcow2 version 3 image (QEMU docs/interop/qcow2.txt), optionally a thin
 * overlay over a backing file. The layout is QEMU's own: header, refcount table, one
 * refcount block, L1 table, one cluster each (the L1 more if the disk is huge). The file is
 * sparse; only the few bytes that are not zero are written. */
#include "disk/backend.h"
#include "disk/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#define CREATE_CLUSTER_BITS 16
#define CREATE_HEADER_LEN 112 /* v3 header with the compression type byte, padded */

static const struct {
    uint8_t type, bit;
    const char *name;
} feature_names[] = {
    {0, 0, "dirty bit"},          {0, 1, "corrupt bit"},
    {0, 2, "external data file"}, {0, 3, "compression type"},
    {0, 4, "extended L2 entries"}, {1, 0, "lazy refcounts"},
    {2, 0, "bitmaps"},            {2, 1, "raw external data"},
};

/* Resolves a relative backing path against the new image's folder, as readers will. */
static char *backing_path(const char *image, const char *backing)
{
    const char *slash = strrchr(image, '/');
    char *out = NULL;
    if (backing[0] == '/' || !slash)
        return strdup(backing);
    if (asprintf(&out, "%.*s/%s", (int)(slash - image), image, backing) < 0)
        return NULL;
    return out;
}

int qcow2_create(const char *path, uint64_t virtual_size, const char *backing,
                 const char *backing_fmt, struct bl_error *err)
{
    const unsigned cb = CREATE_CLUSTER_BITS;
    const uint64_t cs = 1ull << cb;
    char fmt[16] = "";
    if (backing) {
        size_t blen = strlen(backing);
        if (blen == 0 || blen > QCOW2_MAX_BACKING_NAME)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "create %s: backing file name must be 1..%d bytes", path,
                          QCOW2_MAX_BACKING_NAME);
        if (backing_fmt && strcmp(backing_fmt, "raw") != 0 && strcmp(backing_fmt, "qcow2") != 0)
            return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                          "create %s: backing format '%s' is not supported", path, backing_fmt);
        /* Open the backing file now: it must exist, and gives the size and format. */
        char *full = backing_path(path, backing);
        if (!full)
            return bl_errno(err, ENOMEM, "create %s", path);
        struct disk *b;
        int rc = disk_open_chain(&b, full, backing_fmt, 1, 1, err);
        free(full);
        if (rc < 0)
            return bl_err_prefix(err, "create %s: backing file", path);
        if (virtual_size == 0)
            virtual_size = b->size;
        snprintf(fmt, sizeof fmt, "%s", b->ops->name);
        disk_close(b);
    } else if (backing_fmt) {
        return bl_err(err, BOXLITE_ERR_INVALID, "create %s: backing format without a file",
                      path);
    }

    const unsigned span_bits = cb + cb - 3;
    if (virtual_size > (1ull << 61))
        return bl_err(err, BOXLITE_ERR_INVALID, "create %s: size %llu is too large", path,
                      (unsigned long long)virtual_size);
    uint64_t l1_size = (virtual_size + (1ull << span_bits) - 1) >> span_bits;
    if (l1_size == 0)
        l1_size = 1;
    if (l1_size * 8 > QCOW2_MAX_L1_BYTES)
        return bl_err(err, BOXLITE_ERR_INVALID, "create %s: size %llu is too large", path,
                      (unsigned long long)virtual_size);
    const uint64_t l1_clusters = (l1_size * 8 + cs - 1) / cs;
    const uint64_t nclusters = 3 + l1_clusters; /* header, reftable, refblock, L1 */

    /* Cluster 0: header, extensions, backing file name. */
    uint8_t hdr[4096];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, QCOW2_MAGIC_BYTES, 4);
    qcow2_put_be32(hdr + 4, 3);
    qcow2_put_be32(hdr + 20, cb);
    qcow2_put_be64(hdr + 24, virtual_size);
    qcow2_put_be32(hdr + 36, (uint32_t)l1_size);
    qcow2_put_be64(hdr + 40, 3 * cs);
    qcow2_put_be64(hdr + 48, cs);
    qcow2_put_be32(hdr + 56, 1);
    qcow2_put_be32(hdr + 96, 4); /* 16-bit refcounts */
    qcow2_put_be32(hdr + 100, CREATE_HEADER_LEN);
    size_t pos = CREATE_HEADER_LEN;
    if (backing) {
        size_t flen = strlen(fmt);
        qcow2_put_be32(hdr + pos, QCOW2_EXT_BACKING_FORMAT);
        qcow2_put_be32(hdr + pos + 4, (uint32_t)flen);
        memcpy(hdr + pos + 8, fmt, flen);
        pos += 8 + ((flen + 7) & ~(size_t)7);
    }
    qcow2_put_be32(hdr + pos, QCOW2_EXT_FEATURE_TABLE);
    qcow2_put_be32(hdr + pos + 4, (uint32_t)(48 * (sizeof feature_names / sizeof feature_names[0])));
    pos += 8;
    for (size_t i = 0; i < (sizeof feature_names / sizeof feature_names[0]); i++, pos += 48) {
        hdr[pos] = feature_names[i].type;
        hdr[pos + 1] = feature_names[i].bit;
        memcpy(hdr + pos + 2, feature_names[i].name, strlen(feature_names[i].name));
    }
    pos += 8; /* end of extensions: type 0, length 0 */
    size_t hdr_len = pos;
    if (backing) {
        size_t blen = strlen(backing);
        if (pos + blen > sizeof hdr)
            return bl_err(err, BOXLITE_ERR_INVALID, "create %s: backing file name too long",
                          path);
        qcow2_put_be64(hdr + 8, pos);
        qcow2_put_be32(hdr + 16, (uint32_t)blen);
        memcpy(hdr + pos, backing, blen);
        hdr_len = pos + blen;
    }

    /* Refcount table entry 0 -> the block in cluster 2, which counts clusters 0..n-1. */
    uint8_t rt[8], rb[2 * 64];
    qcow2_put_be64(rt, 2 * cs);
    if (nclusters > sizeof rb / 2)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "create %s: metadata too large", path);
    for (uint64_t i = 0; i < nclusters; i++)
        rb[2 * i] = 0, rb[2 * i + 1] = 1;

    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return bl_errno(err, errno, "create %s", path);
    int rc;
    if ((rc = disk_pwrite_full(fd, hdr, hdr_len, 0)) < 0 ||
        (rc = disk_pwrite_full(fd, rt, sizeof rt, cs)) < 0 ||
        (rc = disk_pwrite_full(fd, rb, 2 * nclusters, 2 * cs)) < 0 ||
        (ftruncate(fd, (off_t)(nclusters * cs)) < 0 && (rc = -errno)) ||
        (fdatasync(fd) < 0 && (rc = -errno))) {
        close(fd);
        unlink(path);
        return bl_errno(err, -rc, "create %s", path);
    }
    close(fd);
    return 0;
}
