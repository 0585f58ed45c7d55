// component: disk
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the qcow2 header parser alone, in memory (fast): the input is the image's first
 * bytes; the file size is taken from its first 4 bytes, as a multiple of 512 bytes, so that
 * the checks of tables against the end of the file are explored too. */
#include "disk/qcow2.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint64_t file_size = (uint64_t)qcow2_be32(data) * 512 + size;
    struct qcow2_header h;
    struct bl_error err = {0};
    if (qcow2_header_parse(&h, data, size, file_size, &err) == 0) {
        /* What the parser accepts must be self-consistent. */
        if (h.cluster_bits < QCOW2_MIN_CLUSTER_BITS || h.cluster_bits > QCOW2_MAX_CLUSTER_BITS ||
            strlen(h.backing_file) > QCOW2_MAX_BACKING_NAME ||
            (h.l1_size && h.l1_table_offset + (uint64_t)h.l1_size * 8 > file_size))
            __builtin_trap();
    } else if (err.msg[0] == 0) {
        __builtin_trap(); /* every failure explains itself */
    }
    return 0;
}
