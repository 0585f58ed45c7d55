// component: proto
// SPDX-License-Identifier: Apache-2.0
/* The agent protocol decoder: frame reassembly from arbitrary chunks, header checks,
 * resynchronisation, and every request/result body decoder. The first input byte picks
 * the chunk size, so frames split across reads are covered. */
#include "proto/control.h"
#include "proto/proto.h"

#include <stdlib.h>
#include <string.h>

static void bodies(const struct proto_hdr *h, const uint8_t *p)
{
    struct bl_error e;
    struct proto_exec_req r;
    struct proto_setup s;
    struct proto_result res;
    int code;
    char msg[64];
    switch (h->type) {
    case PROTO_EXEC:
        if (proto_exec_req_decode(&r, p, h->len, &e) == 0) {
            /* what decodes must re-encode */
            struct tlv_writer *w = malloc(sizeof *w);
            if (proto_exec_req_encode(&r, w, &e) != 0 && r.argv[0])
                __builtin_trap();
            free(w);
            proto_exec_req_free(&r);
        }
        break;
    case PROTO_SETUP:
        if (proto_setup_decode(&s, p, h->len, &e) == 0)
            proto_setup_free(&s);
        break;
    case PROTO_RESULT: proto_result_decode(&res, p, h->len, &e); break;
    case PROTO_EVENT: {
        struct proto_event ev;
        if (proto_event_decode(&ev, p, h->len, &e) == 0 &&
            (strnlen(ev.kind, sizeof ev.kind) == sizeof ev.kind ||
             strnlen(ev.message, sizeof ev.message) == sizeof ev.message))
            __builtin_trap(); /* decoded strings are always terminated */
        break;
    }
    case PROTO_ERROR: proto_error_decode(p, h->len, &code, msg, sizeof msg); break;
    case PROTO_HOLD: {
        bool hold;
        proto_hold_decode(p, h->len, &hold, &e);
        break;
    }
    case PROTO_GROUP_LIMITS: {
        struct proto_group_limits g;
        if (proto_group_limits_decode(&g, p, h->len, &e) == 0 &&
            !proto_group_name_ok(g.group))
            __builtin_trap(); /* what decodes is a name the agent may make a path of */
        break;
    }
    default: {
        struct tlv_iter it;
        struct tlv_field f;
        tlv_iter_init(&it, p, h->len);
        while (tlv_next(&it, &f, NULL) > 0) {
            char *str = NULL;
            uint64_t v;
            if (tlv_get_str(&f, &str, NULL) == 0)
                free(str);
            tlv_get_u64(&f, &v, NULL);
        }
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    static struct proto_reader r;
    memset(&r, 0, sizeof r);
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t pos = 0;
        while (pos < n) {
            if (r.failed) {
                pos += proto_reader_resync(&r, data + off + pos, n - pos);
                continue;
            }
            struct proto_hdr h;
            const uint8_t *p;
            size_t used;
            struct bl_error e;
            int rc = proto_reader_feed(&r, data + off + pos, n - pos, &used, &h, &p, &e);
            pos += used;
            if (rc > 0) {
                if (h.len > PROTO_MAX_PAYLOAD)
                    __builtin_trap();
                if (proto_hdr_check(&h, &e) == 0)
                    bodies(&h, p);
            }
            if (!used && rc == 0)
                break;
        }
        off += n;
    }
    return 0;
}
