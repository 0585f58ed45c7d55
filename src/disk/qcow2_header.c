// SPDX-License-Identifier: Apache-2.0
/* qcow2 header parsing and validation (QEMU docs/interop/qcow2.txt, "Header" and
 * "Header extensions"). Everything here reads untrusted bytes: each offset, size and count
 * is checked against the file and against QEMU's own limits before anyone uses it. */
#include "disk/qcow2.h"

#include "disk/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_incompat[] = {
    "dirty bit", "corrupt bit", "external data file", "compression type", "extended L2 entries",
};

/* Names the incompatible bits in `bits`, from the image's feature table when it has one. */
static void name_features(char *out, size_t outlen, uint64_t bits, const uint8_t *table,
                          uint32_t table_len)
{
    size_t used = 0;
    out[0] = 0;
    for (int bit = 0; bit < 64; bit++) {
        if (!(bits & (1ull << bit)))
            continue;
        char name[47];
        snprintf(name, sizeof name, "bit %d", bit);
        if (bit < (int)(sizeof known_incompat / sizeof known_incompat[0]))
            snprintf(name, sizeof name, "%s", known_incompat[bit]);
        for (uint32_t i = 0; table && i + 48 <= table_len; i += 48) {
            if (table[i] == 0 && table[i + 1] == bit) {
                memcpy(name, table + i + 2, 46);
                name[46] = 0;
                for (char *c = name; *c; c++)
                    if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                        *c = '?';
            }
        }
        int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", name);
        if (n < 0 || (size_t)n >= outlen - used)
            break;
        used += (size_t)n;
    }
}

/* offset .. offset+len lies inside [0, limit), without overflow. */
static int inside(uint64_t offset, uint64_t len, uint64_t limit)
{
    return offset <= limit && len <= limit - offset;
}

int qcow2_header_parse(struct qcow2_header *h, const uint8_t *buf, size_t len,
                       uint64_t file_size, struct bl_error *err)
{
    memset(h, 0, sizeof *h);
    if (len > file_size)
        len = (size_t)file_size;
    if (len < QCOW2_V2_HEADER_LEN)
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: truncated header (%zu bytes)", len);
    if (memcmp(buf, QCOW2_MAGIC_BYTES, 4) != 0)
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: bad magic");
    h->version = qcow2_be32(buf + 4);
    h->backing_file_offset = qcow2_be64(buf + 8);
    h->backing_file_size = qcow2_be32(buf + 16);
    h->cluster_bits = qcow2_be32(buf + 20);
    h->size = qcow2_be64(buf + 24);
    h->crypt_method = qcow2_be32(buf + 32);
    h->l1_size = qcow2_be32(buf + 36);
    h->l1_table_offset = qcow2_be64(buf + 40);
    h->refcount_table_offset = qcow2_be64(buf + 48);
    h->refcount_table_clusters = qcow2_be32(buf + 56);
    h->nb_snapshots = qcow2_be32(buf + 60);
    h->snapshots_offset = qcow2_be64(buf + 64);

    if (h->version != 2 && h->version != 3)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "qcow2: unsupported version %u",
                      h->version);
    if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS || h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: cluster_bits %u not in %d..%d",
                      h->cluster_bits, QCOW2_MIN_CLUSTER_BITS, QCOW2_MAX_CLUSTER_BITS);
    const uint64_t cs = 1ull << h->cluster_bits;

    if (h->version == 2) {
        h->refcount_order = 4;
        h->header_length = QCOW2_V2_HEADER_LEN;
    } else {
        if (len < QCOW2_V3_HEADER_LEN)
            return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: truncated v3 header (%zu bytes)",
                          len);
        h->incompatible_features = qcow2_be64(buf + 72);
        h->compatible_features = qcow2_be64(buf + 80);
        h->autoclear_features = qcow2_be64(buf + 88);
        h->refcount_order = qcow2_be32(buf + 96);
        h->header_length = qcow2_be32(buf + 100);
        if (h->header_length < QCOW2_V3_HEADER_LEN)
            return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: header_length %u is below %d",
                          h->header_length, QCOW2_V3_HEADER_LEN);
        if (h->header_length > cs)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "qcow2: header_length %u exceeds the cluster size %llu",
                          h->header_length, (unsigned long long)cs);
        if (h->header_length > len)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "qcow2: truncated header (%zu of %u bytes)", len, h->header_length);
        if (h->header_length > QCOW2_V3_HEADER_LEN)
            h->compression_type = buf[104];
    }

    if (h->crypt_method != 0)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "qcow2: encrypted images are not supported (crypt_method %u)",
                      h->crypt_method);
    if (h->refcount_order > 6)
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: refcount_order %u is above 6",
                      h->refcount_order);
    if (h->refcount_order < 3)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "qcow2: %u-bit refcounts are not supported (8 to 64 bits are)",
                      1u << h->refcount_order);

    /* Backing file name: inside the first cluster, after the header. */
    if (h->backing_file_offset != 0) {
        if (h->backing_file_size == 0 || h->backing_file_size > QCOW2_MAX_BACKING_NAME)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "qcow2: backing file name length %u not in 1..%d",
                          h->backing_file_size, QCOW2_MAX_BACKING_NAME);
        if (h->backing_file_offset < h->header_length ||
            !inside(h->backing_file_offset, h->backing_file_size, cs) ||
            !inside(h->backing_file_offset, h->backing_file_size, len))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "qcow2: backing file name at %llu (%u bytes) is outside the header "
                          "cluster",
                          (unsigned long long)h->backing_file_offset, h->backing_file_size);
        const uint8_t *name = buf + h->backing_file_offset;
        if (memchr(name, 0, h->backing_file_size))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "qcow2: backing file name contains a NUL byte");
        memcpy(h->backing_file, name, h->backing_file_size);
        h->backing_file[h->backing_file_size] = 0;
    } else if (h->backing_file_size != 0) {
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "qcow2: backing_file_size %u without a backing file offset",
                      h->backing_file_size);
    }

    /* Header extensions, up to the backing file name or the end of the cluster. */
    const uint8_t *feature_table = NULL;
    uint32_t feature_table_len = 0;
    uint64_t ext_end = len < cs ? len : cs;
    if (h->backing_file_offset != 0 && h->backing_file_offset < ext_end)
        ext_end = h->backing_file_offset;
    uint64_t pos = h->header_length;
    int seen_data_file = 0;
    while (pos + 8 <= ext_end) {
        uint32_t type = qcow2_be32(buf + pos), elen = qcow2_be32(buf + pos + 4);
        if (type == QCOW2_EXT_END)
            break;
        pos += 8;
        if (!inside(pos, elen, ext_end))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "qcow2: header extension 0x%08x (%u bytes) runs past the header",
                          type, elen);
        const uint8_t *data = buf + pos;
        switch (type) {
        case QCOW2_EXT_BACKING_FORMAT:
            if (elen == 0 || elen >= sizeof h->backing_format || memchr(data, 0, elen))
                return bl_err(err, BOXLITE_ERR_INVALID,
                              "qcow2: bad backing format extension (%u bytes)", elen);
            memcpy(h->backing_format, data, elen);
            h->backing_format[elen] = 0;
            break;
        case QCOW2_EXT_FEATURE_TABLE:
            feature_table = data;
            feature_table_len = elen;
            break;
        case QCOW2_EXT_DATA_FILE:
            seen_data_file = 1;
            break;
        default: /* bitmaps, crypto, unknown: not needed to read the image */
            break;
        }
        pos += ((uint64_t)elen + 7) & ~7ull;
    }

    uint64_t unknown = h->incompatible_features & ~QCOW2_INCOMPAT_KNOWN;
    if (unknown) {
        char names[256];
        name_features(names, sizeof names, unknown, feature_table, feature_table_len);
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "qcow2: unsupported incompatible feature(s): %s", names);
    }
    if ((h->incompatible_features & QCOW2_INCOMPAT_DATA_FILE) || seen_data_file)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "qcow2: images with an external data file are not supported");
    if (h->incompatible_features & QCOW2_INCOMPAT_EXTL2)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "qcow2: extended L2 entries (subclusters) are not supported");
    if (h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION) {
        if (h->header_length <= QCOW2_V3_HEADER_LEN)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "qcow2: compression type bit set but the header has no such field");
        if (h->compression_type != QCOW2_COMPRESSION_ZLIB &&
            h->compression_type != QCOW2_COMPRESSION_ZSTD)
            return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "qcow2: unknown compression type %u",
                          h->compression_type);
    } else if (h->compression_type != QCOW2_COMPRESSION_ZLIB) {
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "qcow2: compression type %u without the compression type feature bit",
                      h->compression_type);
    }

    /* Size and L1 table: the L1 must map the whole virtual size and lie inside the file. */
    const unsigned l2_bits = h->cluster_bits - 3;
    const unsigned span_bits = h->cluster_bits + l2_bits; /* bytes mapped by one L1 entry */
    if (h->size > (1ull << 61))
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: virtual size %llu is too large",
                      (unsigned long long)h->size);
    uint64_t l1_needed = (h->size + (1ull << span_bits) - 1) >> span_bits;
    if ((uint64_t)h->l1_size * 8 > QCOW2_MAX_L1_BYTES)
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: L1 table of %u entries is too large",
                      h->l1_size);
    if (h->l1_size < l1_needed)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "qcow2: L1 table of %u entries is too small for %llu bytes", h->l1_size,
                      (unsigned long long)h->size);
    uint64_t l1_bytes = (uint64_t)h->l1_size * 8;
    if (h->l1_size > 0) {
        if (h->l1_table_offset % cs != 0 || h->l1_table_offset < cs)
            return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: bad L1 table offset %llu",
                          (unsigned long long)h->l1_table_offset);
        if (!inside(h->l1_table_offset, l1_bytes, file_size))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "qcow2: L1 table at %llu (%llu bytes) is past the end of the file "
                          "(%llu bytes)",
                          (unsigned long long)h->l1_table_offset, (unsigned long long)l1_bytes,
                          (unsigned long long)file_size);
    }

    /* Refcount table. */
    uint64_t rt_bytes = (uint64_t)h->refcount_table_clusters << h->cluster_bits;
    if (h->refcount_table_clusters == 0 || rt_bytes > QCOW2_MAX_REFTABLE_BYTES)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "qcow2: refcount table of %u clusters is out of range",
                      h->refcount_table_clusters);
    if (h->refcount_table_offset % cs != 0 || h->refcount_table_offset < cs)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "qcow2: bad refcount table offset %llu (it must be cluster aligned and "
                      "after the header)",
                      (unsigned long long)h->refcount_table_offset);
    if (!inside(h->refcount_table_offset, rt_bytes, file_size))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "qcow2: refcount table at %llu (%llu bytes) is past the end of the file "
                      "(%llu bytes)",
                      (unsigned long long)h->refcount_table_offset,
                      (unsigned long long)rt_bytes, (unsigned long long)file_size);
    if (h->l1_size > 0 && h->l1_table_offset < h->refcount_table_offset + rt_bytes &&
        h->refcount_table_offset < h->l1_table_offset + l1_bytes)
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: L1 table overlaps the refcount table");

    /* Snapshots: only located here (the active L1 is what we read). */
    if (h->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: %u snapshots is too many",
                      h->nb_snapshots);
    if (h->nb_snapshots > 0 &&
        (h->snapshots_offset % cs != 0 || h->snapshots_offset < cs ||
         h->snapshots_offset >= file_size))
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2: bad snapshot table offset %llu",
                      (unsigned long long)h->snapshots_offset);
    return 0;
}

int qcow2_header_read(int fd, uint64_t file_size, struct qcow2_header *h, struct bl_error *err)
{
    uint8_t first[512];
    int64_t n = disk_pread_full(fd, first, sizeof first, 0);
    if (n < 0)
        return bl_errno(err, (int)-n, "read");
    size_t want = (size_t)n;
    if (n >= 24) {
        uint32_t cb = qcow2_be32(first + 20);
        if (cb >= QCOW2_MIN_CLUSTER_BITS && cb <= QCOW2_MAX_CLUSTER_BITS)
            want = (size_t)1 << cb;
    }
    if (want > file_size)
        want = (size_t)file_size;
    uint8_t *buf = malloc(want ? want : 1);
    if (!buf)
        return bl_errno(err, ENOMEM, "read the qcow2 header");
    n = disk_pread_full(fd, buf, want, 0);
    int rc = n < 0 ? bl_errno(err, (int)-n, "read")
                   : qcow2_header_parse(h, buf, (size_t)n, file_size, err);
    free(buf);
    return rc;
}
