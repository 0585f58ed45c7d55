// component: proto
// SPDX-License-Identifier: Apache-2.0
/* The box socket's control bodies (src/proto/control.h): STATUS and EXIT decoders, fed
 * whatever a hostile peer of the box socket could send. What decodes must re-encode and
 * decode to the same fields; nothing may crash, leak or read out of bounds. The first byte
 * picks the decoder (odd: STATUS; 2 mod 4: BALLOON and 4 mod 8: HOLD, whose bodies a client
 * sends; else EXIT). */
#include "proto/control.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct bl_error e;
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w)
        return 0;
    if (data[0] & 1) {
        struct proto_status s, t;
        if (proto_status_decode(&s, data + 1, size - 1, &e) == 0) {
            proto_status_encode(&s, w);
            if (w->overflow || proto_status_decode(&t, w->buf, w->len, &e) != 0)
                __builtin_trap();
            if (strcmp(s.state, t.state) || s.nports != t.nports ||
                s.pause_shares != t.pause_shares || s.pause_shares > PROTO_SHARES_KEPT ||
                memcmp(&s.fig, &t.fig, sizeof s.fig) != 0)
                __builtin_trap();
            proto_status_free(&t);
            proto_status_free(&s);
        }
    } else if ((data[0] & 3) == 2) {
        uint64_t target, actual, t2, a2;
        if (proto_balloon_decode(data + 1, size - 1, &target, &actual, &e) == 0) {
            proto_balloon_encode(target, actual, true, w);
            if (proto_balloon_decode(w->buf, w->len, &t2, &a2, &e) != 0 || t2 != target ||
                a2 != actual)
                __builtin_trap();
        }
    } else if ((data[0] & 7) == 4) {
        bool hold, again;
        if (proto_hold_decode(data + 1, size - 1, &hold, &e) == 0) {
            proto_hold_encode(hold, w);
            if (proto_hold_decode(w->buf, w->len, &again, &e) != 0 || again != hold)
                __builtin_trap();
        }
    } else {
        struct proto_exit x, y;
        if (proto_exit_decode(&x, data + 1, size - 1, &e) == 0) {
            proto_exit_encode(&x, w);
            if (w->overflow || proto_exit_decode(&y, w->buf, w->len, &e) != 0)
                __builtin_trap();
            if (strcmp(x.stop_reason, y.stop_reason) || x.start_error != y.start_error ||
                x.has_exit_code != y.has_exit_code || x.pause_shares != y.pause_shares ||
                x.pause_shares > PROTO_SHARES_KEPT)
                __builtin_trap();
        }
    }
    free(w);
    return 0;
}
