// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The QEMU engine's reader of QEMU output (which carries guest-influenced data): the QMP
 * line reader and message classifier, fed in chunks whose sizes come from the input (the
 * first byte is unused: it once picked among three readers). */
#include "vmm/qemu/qemu.h"
#include "vmm/qemu/qmp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t chunk = data[1];
    data += 2;
    size -= 2;
    struct bl_error err = {0};
    struct qmp_reader r = {0};
    size_t step = chunk ? chunk : 1;
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (qmp_reader_feed(&r, data + off, n, &err) < 0)
            break;
        struct qmp_msg m;
        int rc;
        while ((rc = qmp_reader_next(&r, &m, &err)) != 0) {
            if (rc == 1) {
                if (m.kind == QMP_ERROR && (!m.error_desc || !m.error_class))
                    abort();
                if (m.kind == QMP_EVENT && !m.event)
                    abort();
                qmp_msg_free(&m);
            }
        }
    }
    qmp_reader_free(&r);
    return 0;
}
