// SPDX-License-Identifier: Apache-2.0
/* The qcow2 on-disk format (QEMU docs/interop/qcow2.txt, versions 2 and 3): constants,
 * the parsed header, and the header parser (exposed for the unit tests and the fuzzer). */
#ifndef BL_DISK_QCOW2_H
#define BL_DISK_QCOW2_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

#define QCOW2_MAGIC_BYTES "QFI\xfb"
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_LEN 104
/* Limits QEMU also applies (qcow2.h: QCOW_MAX_L1_SIZE, QCOW_MAX_REFTABLE_SIZE). */
#define QCOW2_MAX_L1_BYTES (32u << 20)
#define QCOW2_MAX_REFTABLE_BYTES (8u << 20)
#define QCOW2_MAX_BACKING_NAME 1023
#define QCOW2_MAX_SNAPSHOTS 65536

/* Header field offsets (spec "Header"). */
#define QCOW2_OFF_BACKING_OFFSET 8
#define QCOW2_OFF_REFTABLE_OFFSET 48 /* u64, then refcount_table_clusters u32 at 56 */
#define QCOW2_OFF_INCOMPATIBLE 72
#define QCOW2_OFF_AUTOCLEAR 88

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN                                                               \
    (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DATA_FILE |            \
     QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2)
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

/* Header extension types. */
#define QCOW2_EXT_END 0x00000000u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857u
#define QCOW2_EXT_BITMAPS 0x23852875u
#define QCOW2_EXT_CRYPTO 0x0537be77u
#define QCOW2_EXT_DATA_FILE 0x44415441u

/* Table entries. */
#define QCOW2_OFLAG_COPIED (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO (1ull << 0)
#define QCOW2_L1_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_L2_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_REFT_OFFSET_MASK 0xfffffffffffffe00ull

#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

static inline uint32_t qcow2_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t qcow2_be64(const uint8_t *p)
{
    return (uint64_t)qcow2_be32(p) << 32 | qcow2_be32(p + 4);
}
static inline void qcow2_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}
static inline void qcow2_put_be64(uint8_t *p, uint64_t v)
{
    qcow2_put_be32(p, (uint32_t)(v >> 32));
    qcow2_put_be32(p + 4, (uint32_t)v);
}

struct qcow2_header {
    uint32_t version;
    uint64_t backing_file_offset;
    uint32_t backing_file_size;
    uint32_t cluster_bits;
    uint64_t size;
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_table_offset;
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t incompatible_features;
    uint64_t compatible_features;
    uint64_t autoclear_features;
    uint32_t refcount_order;
    uint32_t header_length;
    uint8_t compression_type;
    /* From the header extensions and the backing file name. */
    char backing_file[QCOW2_MAX_BACKING_NAME + 1]; /* "" when none */
    char backing_format[32];                       /* "" when the extension is absent */
};

/* Parses and validates the header in buf (the image's first bytes: at least one cluster,
 * or the whole file if it is shorter) against an image of file_size bytes. Every field is
 * checked: an image this accepts can be opened read-only without further header checks.
 * Write-only restrictions (dirty, corrupt, snapshots) are left to the caller. */
int qcow2_header_parse(struct qcow2_header *h, const uint8_t *buf, size_t len,
                       uint64_t file_size, struct bl_error *err);
/* Reads the header from an image of file_size bytes open on fd (the first cluster: the
 * header and its extensions live there) and parses it as above. BOXLITE_ERR_IO with "not a
 * qcow2 image" when the magic is not there. */
int qcow2_header_read(int fd, uint64_t file_size, struct qcow2_header *h, struct bl_error *err);

#endif
