// SPDX-License-Identifier: Apache-2.0
/* What the 9P fuzz targets (fuzz_p9, fuzz_p9_session) share: a request framed for
 * p9_handle() (size, type, tag 1, then the body). */
#ifndef BOXLITE_FUZZ_P9_MSG_H
#define BOXLITE_FUZZ_P9_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Writes the request into b (room for 7 + n bytes); returns its length. */
static inline size_t msg(uint8_t *b, uint8_t type, const uint8_t *body, size_t n)
{
    size_t len = 7 + n;
    b[0] = (uint8_t)len;
    b[1] = (uint8_t)(len >> 8);
    b[2] = b[3] = 0;
    b[4] = type;
    b[5] = 1;
    b[6] = 0;
    memcpy(b + 7, body, n);
    return len;
}

#endif
