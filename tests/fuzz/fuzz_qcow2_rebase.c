// component: disk
// SPDX-License-Identifier: Apache-2.0
/* Rewriting the backing file name of a qcow2 header from an untrusted file (an imported
 * layer): whatever header it accepts, the result parses again and names what was set. */
#include "disk/disk.h"
#include "disk/qcow2.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 21))
        return 0;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct bl_error e = { 0 };
    const char *name = (size & 1) ? "layer-0123456789abcdef.qcow2" : NULL;
    if (qcow2_header_set_backing(buf, size, size, name, name ? "qcow2" : NULL, &e) == 0) {
        struct qcow2_header *h = malloc(sizeof *h);
        if (!h || qcow2_header_parse(h, buf, size, size, &e) != 0)
            abort();
        if (strcmp(h->backing_file, name ? name : "") ||
            strcmp(h->backing_format, name ? "qcow2" : h->backing_format))
            abort();
        free(h);
    }
    free(buf);
    return 0;
}
