// component: common
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the /proc/<pid>/stat parser (src/common/procstat.c): field 2 (comm) is chosen by
 * the process itself (prctl PR_SET_NAME), so it may hold spaces, parentheses and anything
 * else; the text is NUL-terminated as proc_stat_read hands it over. */
#include "common/procstat.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct proc_stat ps;
    if (proc_stat_parse(text, &ps) == 0 && !strrchr(text, ')'))
        abort(); /* accepted without the end of comm */
    free(text);
    return 0;
}
