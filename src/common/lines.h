// SPDX-License-Identifier: Apache-2.0
/* Lines of text in a buffer: where the last N of them begin (`logs --tail N`, locally and
 * through `boxlite serve`). Written once for both. */
#ifndef BL_LINES_H
#define BL_LINES_H

#include <stddef.h>

/* The offset in buf (len bytes) where its last n lines begin: len for n == 0, 0 when it
 * holds n lines or fewer. A last line without its newline counts as a line. */
size_t lines_tail_start(const char *buf, size_t len, long long n);

#endif
