// component: common
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the /proc/<pid>/smaps line parser (src/common/procstat.c) behind a box's memory
 * figures: QEMU, which a hostile guest may have taken over, names the files it maps, so the
 * path part of a mapping's line is attacker-chosen. Lines are fed as proc_smaps_read does;
 * the chosen mappings can never hold more than all of them. */
#include "common/procstat.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct proc_smaps a = { .path = "/box/memory" }, b = { .anon_size = 512u << 20 };
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        proc_smaps_line(&a, line);
        proc_smaps_line(&b, line);
    }
    if (a.match_rss > a.rss || b.match_rss > b.rss)
        abort();
    free(text);
    return 0;
}
