// SPDX-License-Identifier: Apache-2.0
/* Rewriting a qcow2 image's backing file name in its first cluster (QEMU
 * docs/interop/qcow2.txt, "Header" and "Header extensions"), as `qemu-img rebase -u` does:
 * the data is not touched, only which file the image says it sits on. Export writes layers
 * with member names instead of host paths; import sets names of its own choosing over
 * whatever an archive's header said (a hostile header could name /etc/shadow). */
#include "disk/backend.h"
#include "disk/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int qcow2_header_set_backing(uint8_t *buf, size_t len, uint64_t file_size, const char *backing,
                             const char *backing_fmt, struct bl_error *err)
{
    if (len > file_size) /* as the parser sees it: nothing is placed past the file's end */
        len = (size_t)file_size;
    struct qcow2_header *h = malloc(sizeof *h);
    if (!h)
        return bl_err(err, BOXLITE_ERR_NOMEM, "qcow2: out of memory");
    int r = qcow2_header_parse(h, buf, len, file_size, err);
    if (r < 0) {
        free(h);
        return r;
    }
    const uint64_t cs = 1ull << h->cluster_bits;
    const size_t end = len < cs ? len : (size_t)cs;
    const size_t hlen = h->header_length;
    size_t blen = backing ? strlen(backing) : 0;
    size_t flen = backing_fmt ? strlen(backing_fmt) : 0;
    uint64_t ext_end = end;
    if (h->backing_file_offset && h->backing_file_offset < ext_end)
        ext_end = h->backing_file_offset;
    free(h);
    if (backing && (blen == 0 || blen > QCOW2_MAX_BACKING_NAME || flen == 0 || flen > 16))
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: bad backing file name or format");

    /* The new extension area: every extension but the backing format (kept as is, in
     * order), then ours, the end marker and the name. Built apart, then copied over. */
    uint8_t *out = calloc(1, end);
    if (!out)
        return bl_err(err, BOXLITE_ERR_NOMEM, "qcow2: out of memory");
    size_t o = hlen, pos = hlen;
    r = 0;
    while (pos + 8 <= ext_end) {
        uint32_t type = qcow2_be32(buf + pos), elen = qcow2_be32(buf + pos + 4);
        if (type == QCOW2_EXT_END)
            break;
        /* The parser checked the data, not the padding: the old name may start inside it.
         * Only what is there is copied, but the copy keeps its whole padded length (zeros)
         * so that the next extension starts where a reader looks for it. */
        size_t padded = 8 + (((size_t)elen + 7) & ~(size_t)7);
        size_t avail = pos + padded > ext_end ? ext_end - pos : padded;
        if (type != QCOW2_EXT_BACKING_FORMAT) {
            if (o + padded > end) {
                r = -1;
                break;
            }
            memcpy(out + o, buf + pos, avail);
            o += padded;
        }
        pos += avail;
    }
    if (!r && backing) {
        size_t need = 8 + ((flen + 7) & ~(size_t)7);
        if (o + need > end)
            r = -1;
        else {
            qcow2_put_be32(out + o, QCOW2_EXT_BACKING_FORMAT);
            qcow2_put_be32(out + o + 4, (uint32_t)flen);
            memcpy(out + o + 8, backing_fmt, flen);
            o += need;
        }
    }
    if (!r && o + 8 + blen > end)
        r = -1;
    if (r) {
        free(out);
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "qcow2: the backing file name does not fit in the header cluster");
    }
    o += 8; /* end of extensions: type 0, length 0 (already zero) */
    if (backing) {
        memcpy(out + o, backing, blen);
        qcow2_put_be64(buf + QCOW2_OFF_BACKING_OFFSET, o);
        qcow2_put_be32(buf + QCOW2_OFF_BACKING_OFFSET + 8, (uint32_t)blen);
        o += blen;
    } else {
        qcow2_put_be64(buf + QCOW2_OFF_BACKING_OFFSET, 0);
        qcow2_put_be32(buf + QCOW2_OFF_BACKING_OFFSET + 8, 0);
    }
    memcpy(buf + hlen, out + hlen, end - hlen);
    free(out);
    return 0;
}

int qcow2_set_backing(const char *path, const char *backing, const char *backing_fmt,
                      struct bl_error *err)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "rebase %s", path);
    struct stat st;
    uint8_t *buf = malloc(1u << QCOW2_MAX_CLUSTER_BITS);
    int r = 0;
    int64_t n = 0;
    if (!buf)
        r = bl_err(err, BOXLITE_ERR_NOMEM, "rebase %s: out of memory", path);
    else if (fstat(fd, &st) < 0)
        r = bl_errno(err, errno, "rebase %s", path);
    else if ((n = disk_pread_full(fd, buf, 1u << QCOW2_MAX_CLUSTER_BITS, 0)) < 0)
        r = bl_errno(err, (int)-n, "rebase %s", path);
    if (!r)
        if ((r = qcow2_header_set_backing(buf, (size_t)n, (uint64_t)st.st_size, backing,
                                          backing_fmt, err)) < 0)
            bl_err_prefix(err, "rebase %s", path);
    /* Only the header cluster is written: one sector-sized write would be atomic, a
     * cluster is not, so callers rebase files that are not in use (import's staging). */
    if (!r) {
        struct qcow2_header h;
        struct bl_error e = { 0 };
        size_t cs = qcow2_header_parse(&h, buf, (size_t)n, (uint64_t)st.st_size, &e) == 0
                        ? (size_t)1 << h.cluster_bits : (size_t)n;
        size_t w = cs < (size_t)n ? cs : (size_t)n;
        int wr = disk_pwrite_full(fd, buf, w, 0);
        if (wr < 0 || fdatasync(fd) < 0)
            r = bl_errno(err, wr < 0 ? -wr : errno, "rebase %s", path);
    }
    free(buf);
    close(fd);
    return r;
}
