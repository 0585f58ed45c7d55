// SPDX-License-Identifier: Apache-2.0
/* Guest text on the user's terminal (`boxlite logs`): a box's console is the guest's to
 * write, so its control characters are shown, not obeyed (ECMA-48: C0 controls 0x00-0x1f
 * and DEL, C1 controls 0x80-0x9f, here as their UTF-8 encoding C2 80..C2 9F). Newline and
 * tab pass; the serial console's CR LF line ends become LF. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

struct outbuf { int fd; char b[8192]; size_t n; };

static void out_flush(struct outbuf *o)
{
    size_t off = 0;
    while (off < o->n) {
        ssize_t w = write(o->fd, o->b + off, o->n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    o->n = 0;
}

static void out(struct outbuf *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (o->n == sizeof o->b)
            out_flush(o);
        o->b[o->n++] = p[i];
    }
}

static void plain(struct outbuf *o, unsigned char c)
{
    char esc[8];
    if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f)) {
        out(o, (const char *)&c, 1);
    } else {
        int k = snprintf(esc, sizeof esc, "^%c", c == 0x7f ? '?' : c + 0x40);
        out(o, esc, (size_t)k);
    }
}

void term_escape_write(struct term_escape *st, int fd, const char *p, size_t n)
{
    struct outbuf o = { .fd = fd };
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (st->c2) {
            st->c2 = false;
            if (c >= 0x80 && c <= 0x9f) {
                char esc[8];
                int k = snprintf(esc, sizeof esc, "\\u%04x", c);
                out(&o, esc, (size_t)k);
                continue;
            }
            out(&o, "\xc2", 1);
        }
        if (st->cr) {
            st->cr = false;
            if (c != '\n')
                out(&o, "^M", 2);
        }
        if (c == '\r')
            st->cr = true;
        else if (c == 0xc2)
            st->c2 = true;
        else
            plain(&o, c);
    }
    out_flush(&o);
}

void term_escape_flush(struct term_escape *st, int fd)
{
    struct outbuf o = { .fd = fd };
    if (st->c2)
        out(&o, "\xc2", 1);
    if (st->cr)
        out(&o, "^M", 2);
    st->c2 = st->cr = false;
    out_flush(&o);
}
