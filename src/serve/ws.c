// SPDX-License-Identifier: Apache-2.0
/* The WebSocket protocol (RFC 6455) as the TTY endpoint needs it, written here because
 * Debian packages no WebSocket helper for libmicrohttpd: the opening handshake's accept key
 * (section 4.2.2), the frame reader (section 5.2) with the rules a server must enforce on a
 * client (section 5.1: every frame masked; 5.5: control frames final and at most 125
 * bytes; 5.4: continuation only inside a fragmented message; no extension, so RSV bits
 * zero; 8.1: text is UTF-8), the frame header writer, and the TTY's text messages (BoxLite's
 * document: {"type":"resize","cols":C,"rows":R}). Pure: no I/O. */
#include "serve/serve.h"

#include "common/lazy_crypto.h"
#include <stdlib.h>
#include <string.h>

/* RFC 6455 section 1.3 */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int ws_accept_key(const char *key, char out[29])
{
    /* the client's key is base64 of 16 bytes (section 4.1): 22 characters and "==" */
    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return -1;
    for (int i = 0; i < 22; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return -1;
    }
    char buf[24 + sizeof WS_GUID];
    memcpy(buf, key, 24);
    memcpy(buf + 24, WS_GUID, sizeof WS_GUID);
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, 24 + sizeof WS_GUID - 1, d);
    char *b = serve_base64(d, sizeof d);
    if (!b || strlen(b) != 28) {
        free(b);
        return -1;
    }
    memcpy(out, b, 29);
    free(b);
    return 0;
}

size_t ws_header(uint8_t out[10], unsigned opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f)); /* FIN: the server never fragments */
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t ws_header_masked(uint8_t out[14], unsigned opcode, uint64_t len, const uint8_t mask[4])
{
    size_t h = ws_header(out, opcode, len);
    out[1] |= 0x80; /* section 5.3: every frame a client sends is masked */
    memcpy(out + h, mask, 4);
    return h + 4;
}

bool ws_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF (RFC 3629 section 3) */
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += k + 1;
    }
    return true;
}

static size_t fail(struct ws_ev *ev, int code, const char *why)
{
    ev->kind = WS_ERROR;
    ev->code = code;
    ev->why = why;
    return 0;
}

/* {"type":"resize","cols":C,"rows":R}, C and R 1-65535. */
static size_t text_message(struct ws_in *s, struct ws_ev *ev, size_t used)
{
    if (!ws_utf8_valid((const uint8_t *)s->text, s->text_len))
        return fail(ev, 1007, "a text message that is not UTF-8");
    json_t *o = json_loadb(s->text, s->text_len, JSON_REJECT_DUPLICATES, NULL);
    s->text_len = 0;
    const char *type = json_string_value(json_object_get(o, "type"));
    json_t *c = json_object_get(o, "cols"), *r = json_object_get(o, "rows");
    if (!type || strcmp(type, "resize") != 0 || json_object_size(o) != 3 ||
        !json_is_integer(c) || !json_is_integer(r) || json_integer_value(c) < 1 ||
        json_integer_value(c) > 65535 || json_integer_value(r) < 1 ||
        json_integer_value(r) > 65535) {
        json_decref(o);
        return fail(ev, 1008,
                    "a text message is {\"type\":\"resize\",\"cols\":1-65535,\"rows\":1-65535}");
    }
    ev->kind = WS_RESIZE;
    ev->cols = (unsigned)json_integer_value(c);
    ev->rows = (unsigned)json_integer_value(r);
    json_decref(o);
    return used;
}

/* One frame's header (section 5.2), for either side: a server's frames must come masked
 * when from_client, unmasked otherwise (section 5.1). 1 with *f filled when the header and
 * max bytes of payload fit the rules, 0 when more bytes are needed, -1 on a protocol error
 * (f->code, f->why). Whether the whole payload is there is the caller's to check. */
int ws_frame_head(const uint8_t *buf, size_t n, bool from_client, uint64_t max,
                  struct ws_frame *f)
{
    memset(f, 0, sizeof *f);
    if (n < 2)
        return 0;
    f->fin = buf[0] & 0x80;
    f->op = buf[0] & 0x0f;
    f->code = 1002;
    if (buf[0] & 0x70)
        return f->why = "RSV bits set without an extension", -1;
    bool masked = buf[1] & 0x80;
    if (from_client && !masked)
        return f->why = "a client frame that is not masked", -1;
    if (!from_client && masked)
        return f->why = "a server frame that is masked", -1;
    uint64_t len = buf[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = ((uint64_t)buf[2] << 8) | buf[3];
        if (len < 126)
            return f->why = "a length not in its shortest form", -1;
        h = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | buf[2 + i];
        if (len >> 63)
            return f->why = "a 64-bit length with its top bit set", -1;
        if (len <= 0xffff)
            return f->why = "a length not in its shortest form", -1;
        h = 10;
    }
    if ((f->op & 0x08) && (!f->fin || len > 125))
        return f->why = "a control frame fragmented or over 125 bytes", -1;
    if (len > max) {
        f->code = 1009;
        return f->why = "a frame over the size limit", -1;
    }
    if (masked) {
        if (n < h + 4)
            return 0;
        memcpy(f->mask, buf + h, 4);
        h += 4;
    }
    f->masked = masked;
    f->head = h;
    f->len = len;
    f->code = 0;
    return 1;
}

size_t ws_in_step(struct ws_in *s, uint8_t *buf, size_t n, struct ws_ev *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = WS_NEED_MORE;
    struct ws_frame fr;
    int hr = ws_frame_head(buf, n, true, WS_FRAME_MAX, &fr);
    if (hr < 0)
        return fail(ev, fr.code, fr.code == 1009 ? "a frame over 1 MiB" : fr.why);
    if (hr == 0)
        return 0;
    bool fin = fr.fin;
    unsigned op = fr.op;
    uint64_t len = fr.len;
    if (n - fr.head < len)
        return 0;
    uint8_t *p = buf + fr.head;
    for (uint64_t i = 0; i < len; i++)
        p[i] ^= fr.mask[i & 3];
    size_t used = fr.head + (size_t)len;
    ev->data = p;
    ev->len = (size_t)len;
    switch (op) {
    case 0x0: /* continuation */
        if (!s->msg)
            return fail(ev, 1002, "a continuation without a message");
        break;
    case 0x1:
    case 0x2:
        if (s->msg)
            return fail(ev, 1002, "a new message inside a fragmented one");
        s->msg = op;
        break;
    case 0x8: {
        ev->kind = WS_CLOSE;
        ev->code = 1005; /* no status (section 7.1.5) */
        if (len == 1)
            return fail(ev, 1002, "a close frame of one byte");
        if (len >= 2) {
            ev->code = (p[0] << 8) | p[1];
            if (!ws_utf8_valid(p + 2, (size_t)len - 2))
                return fail(ev, 1007, "a close reason that is not UTF-8");
            /* section 7.4: codes an endpoint may send */
            if (ev->code < 1000 || (ev->code >= 1004 && ev->code <= 1006) ||
                (ev->code >= 1015 && ev->code < 3000) || ev->code > 4999)
                return fail(ev, 1002, "a close code that may not be sent");
        }
        return used;
    }
    case 0x9:
        ev->kind = WS_PING;
        return used;
    case 0xa:
        ev->kind = WS_PONG;
        return used;
    default:
        return fail(ev, 1002, "an unknown opcode");
    }
    unsigned msg = s->msg;
    if (fin)
        s->msg = 0;
    if (msg == 0x2) {
        ev->kind = WS_STDIN; /* a binary message's bytes go to the terminal as they come */
        return used;
    }
    if (s->text_len + len > sizeof s->text)
        return fail(ev, 1009, "a text message over 4 KiB");
    memcpy(s->text + s->text_len, p, (size_t)len);
    s->text_len += (size_t)len;
    if (!fin) {
        ev->kind = WS_NEED_MORE; /* consumed; the message goes on */
        return used;
    }
    return text_message(s, ev, used);
}
