// component: serve
// SPDX-License-Identifier: Apache-2.0
/* What a WebSocket client sends the TTY endpoint (src/serve/ws.c, RFC 6455): any bytes,
 * split into reads at the points the first byte picks, fed through ws_in_step as the
 * session loop does (the used bytes dropped, the rest kept). Nothing may crash, read past
 * the buffer, take more bytes than it was given, or hand back data outside them. */
#include "serve/serve.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    data++;
    size--;
    uint8_t *buf = malloc(size + 1);
    if (!buf)
        return 0;
    struct ws_in st = {0};
    size_t have = 0, fed = 0;
    while (fed < size || have) {
        size_t add = size - fed < chunk ? size - fed : chunk;
        memcpy(buf + have, data + fed, add);
        have += add;
        fed += add;
        size_t off = 0;
        for (;;) {
            struct ws_ev ev;
            size_t used = ws_in_step(&st, buf + off, have - off, &ev);
            if (used > have - off)
                abort();
            if (ev.kind == WS_ERROR) {
                if (!ev.why || ev.code < 1002 || ev.code > 1009)
                    abort();
                free(buf);
                return 0;
            }
            if ((ev.kind == WS_STDIN || ev.kind == WS_PING) &&
                (ev.data < buf + off || ev.data + ev.len > buf + off + used))
                abort();
            if (ev.kind == WS_RESIZE && (!ev.cols || !ev.rows || ev.cols > 65535))
                abort();
            if (!used)
                break;
            off += used;
            if (ev.kind == WS_CLOSE) {
                free(buf);
                return 0;
            }
        }
        memmove(buf, buf + off, have - off);
        have -= off;
        if (fed == size)
            break;
    }
    free(buf);
    return 0;
}
