// component: runtime
// SPDX-License-Identifier: Apache-2.0
/* The export archive's manifest (src/runtime/archive_manifest.c), as an archive from anyone
 * could carry it: whatever it accepts must hold what the importer relies on. */
#include "runtime/archive.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bx_manifest m;
    struct bl_error e = { 0 };
    if (bx_manifest_parse(&m, (const char *)data, size, &e) != 0)
        return 0;
    /* what import builds paths and names from */
    if (m.ndisk < 1 || m.ndisk > BX_MAX_DISKS || !m.options || !m.name[0])
        abort();
    for (int i = 0; i < m.ndisk; i++) {
        char want[32];
        bx_disk_member_name(want, sizeof want, i, m.disk[i].format);
        if (strcmp(want, m.disk[i].member) || strstr(m.disk[i].member, "..") ||
            strlen(m.disk[i].sha256) != 64 || m.disk[i].size > BX_MAX_MEMBER)
            abort();
        if (i > 0 && strcmp(m.disk[i].format, "qcow2"))
            abort();
    }
    if (m.has_config && (strcmp(m.config.member, BX_CONFIG) || m.config.size > BX_MAX_CONFIG))
        abort();
    bx_manifest_free(&m);
    return 0;
}
