// component: client
// SPDX-License-Identifier: Apache-2.0
/* What a server sends `boxlite --url` (src/client/decode.c, tty.c): any bytes as an event
 * stream, split into reads at the points the first byte picks, each event decoded as an
 * execution's (base64 output, the exit event), as a box log's (the end event) and as a
 * pull's (progress, pulled, error); the
 * same bytes as the server's WebSocket frames, and as a JSON answer and an error body.
 * Nothing may crash, leak, read past the buffer or hand back more bytes than were given. */
#include "client/client.h"

#include <stdlib.h>
#include <string.h>

static int on_event(void *ud, const struct client_sse_event *ev)
{
    size_t *total = ud;
    struct client_exec_event x;
    struct bl_error e = {0};
    if (client_exec_event(ev, &x, &e) == 0) {
        if (x.kind != CX_EXIT && x.len > ev->dlen)
            abort(); /* decoding never grows */
        *total += x.len;
        free(x.bytes);
    }
    struct client_log_event l;
    if (client_log_event(ev, &l, &e) == 0) {
        if (l.kind == CL_LOG && l.len > ev->dlen)
            abort();
        if (l.kind == CL_END && (l.exit_code < -1 || l.exit_code > 255))
            abort();
        free(l.bytes);
    }
    struct client_pull_event p;
    if (client_pull_event(ev, &p, &e) == 0 && p.kind == CP_PROGRESS &&
        (p.layer < 0 || p.layer > 4095 || p.n_layers < 0 || !memchr(p.digest, 0, sizeof p.digest)))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    data++;
    size--;
    struct client_sse s = {0};
    struct bl_error e = {0};
    size_t total = 0;
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (client_sse_feed(&s, (const char *)data + off, n, on_event, &total, &e) < 0)
            break;
    }
    client_sse_free(&s);
    /* the same bytes as WebSocket frames from the server */
    size_t off = 0;
    for (;;) {
        unsigned op;
        const uint8_t *p;
        size_t len;
        long used = client_ws_frame(data + off, size - off, &op, &p, &len, &e);
        if (used <= 0)
            break;
        if (p < data + off || p + len > data + size)
            abort();
        if (op == 1) {
            int code;
            client_tty_exit_message((const char *)p, len, &code);
        }
        off += (size_t)used;
    }
    json_decref(client_json_object((const char *)data, size, &e));
    client_error_from(400 + (unsigned)(size % 200), (const char *)data, size, &e);
    return 0;
}
