// SPDX-License-Identifier: Apache-2.0
/* Lines of text in a buffer (common/lines.h). */
#include "common/lines.h"

size_t lines_tail_start(const char *buf, size_t len, long long n)
{
    if (n <= 0)
        return len;
    /* the newline ending the last line is not the start of one more */
    size_t start = len && buf[len - 1] == '\n' ? len - 1 : len;
    long long lines = 0;
    for (; start > 0; start--)
        if (buf[start - 1] == '\n' && ++lines == n)
            break;
    return start;
}
