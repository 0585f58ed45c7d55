// SPDX-License-Identifier: Apache-2.0
/* DNS reply reading for host-name rules (dns.h). RFC 1035 4.1.1 (header), 4.1.2 (question),
 * 4.1.3 (resource records), 4.1.4 (compression); RFC 3596 (AAAA); RFC 2181 8 (a TTL with the
 * top bit set counts as 0). */
#include "vmm/net/dns.h"

#include <string.h>
#include <sys/socket.h>

#define DNS_HEADER 12
#define DNS_CLASS_IN 1
#define DNS_CHAIN_MAX 8

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads the name at *off into out (lower case, dotted, no final dot) and moves *off past it
 * as it is written there (a pointer ends it). A pointer must point before every byte of the
 * name read so far (not merely before itself: labels read after a jump back could lead to
 * the same pointer again), so every walk ends, and after DNS_JUMPS_MAX jumps it is refused
 * (a chain of pointers would make each name cost the whole message). Returns -1 on a
 * malformed name; a name that is well formed but not a plain host name (odd bytes in a
 * label, too long) comes back as "". */
#define DNS_JUMPS_MAX 32
static int read_name(const uint8_t *msg, size_t len, size_t *off, char *out)
{
    size_t pos = *off, end = 0, n = 0, lowest = *off;
    unsigned jumps = 0;
    bool plain = true;
    for (;;) {
        if (pos >= len)
            return -1;
        uint8_t l = msg[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= len)
                return -1;
            size_t to = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
            if (to >= lowest || ++jumps > DNS_JUMPS_MAX)
                return -1;
            if (jumps == 1)
                end = pos + 2;
            lowest = pos = to;
            continue;
        }
        if (l & 0xc0) /* 0x40 and 0x80 label types are not in use (RFC 6891 9) */
            return -1;
        if (l == 0) {
            if (!jumps)
                end = pos + 1;
            break;
        }
        if (pos + 1 + l > len)
            return -1;
        if (n + (n ? 1 : 0) + l > DNS_NAME_MAX)
            plain = false;
        for (size_t i = 0; i < l && plain; i++) {
            char c = (char)msg[pos + 1 + i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                plain = false;
        }
        if (plain) {
            if (n)
                out[n++] = '.';
            for (size_t i = 0; i < l; i++) {
                char c = (char)msg[pos + 1 + i];
                out[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
            }
        }
        pos += 1 + (size_t)l;
    }
    out[plain ? n : 0] = 0;
    *off = end;
    return 0;
}

int dns_reply_parse(const uint8_t *msg, size_t len, struct dns_reply *out)
{
    out->qname[0] = 0;
    out->nanswers = 0;
    if (!msg || len < DNS_HEADER)
        return -1;
    uint16_t flags = rd16(msg + 2);
    if (!(flags & 0x8000) || ((flags >> 11) & 0xf) != 0) /* a reply to a standard query */
        return -1;
    if (rd16(msg + 4) != 1)
        return -1;
    unsigned ancount = rd16(msg + 6);
    size_t off = DNS_HEADER;
    if (read_name(msg, len, &off, out->qname) < 0 || off + 4 > len ||
        rd16(msg + off + 2) != DNS_CLASS_IN)
        return -1;
    off += 4;
    for (unsigned i = 0; i < ancount; i++) {
        struct dns_answer a;
        if (read_name(msg, len, &off, a.owner) < 0 || off + 10 > len)
            return -1;
        uint16_t type = rd16(msg + off), cls = rd16(msg + off + 2);
        uint32_t ttl = rd32(msg + off + 4);
        size_t rdlen = rd16(msg + off + 8);
        off += 10;
        if (off + rdlen > len)
            return -1;
        size_t rdata = off;
        off += rdlen;
        if (cls != DNS_CLASS_IN || out->nanswers >= DNS_MAX_ANSWERS)
            continue;
        a.type = type;
        a.ttl = ttl & 0x80000000u ? 0 : ttl;
        a.target[0] = 0;
        if (type == DNS_TYPE_A && rdlen == 4) {
            memcpy(a.addr, msg + rdata, 4);
        } else if (type == DNS_TYPE_AAAA && rdlen == 16) {
            memcpy(a.addr, msg + rdata, 16);
        } else if (type == DNS_TYPE_CNAME) {
            size_t t = rdata;
            /* the target must end inside its own record */
            if (read_name(msg, rdata + rdlen, &t, a.target) < 0 || t != rdata + rdlen)
                return -1;
        } else {
            continue;
        }
        out->answers[out->nanswers++] = a;
    }
    return 0;
}

uint16_t dns_id(const uint8_t *msg, size_t len) { return msg && len >= DNS_HEADER ? rd16(msg) : 0; }

int dns_query_parse(const uint8_t *msg, size_t len, char *qname)
{
    qname[0] = 0;
    if (!msg || len < DNS_HEADER)
        return -1;
    uint16_t flags = rd16(msg + 2);
    if ((flags & 0x8000) || ((flags >> 11) & 0xf) != 0 || rd16(msg + 4) != 1)
        return -1;
    size_t off = DNS_HEADER;
    return read_name(msg, len, &off, qname) < 0 || off + 4 > len ? -1 : 0;
}

static bool in_chain(char chain[][DNS_NAME_MAX + 1], unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(chain[i], name) == 0)
            return true;
    return false;
}

unsigned dns_reply_addresses(const struct dns_reply *r,
                             void (*fn)(void *arg, int family, const uint8_t *addr,
                                        uint32_t ttl),
                             void *arg)
{
    if (!r->qname[0])
        return 0;
    char chain[DNS_CHAIN_MAX + 1][DNS_NAME_MAX + 1];
    unsigned n = 1;
    memcpy(chain[0], r->qname, sizeof chain[0]);
    /* CNAMEs may come in any order: repeat until the chain stops growing */
    for (bool grew = true; grew && n <= DNS_CHAIN_MAX;) {
        grew = false;
        for (unsigned i = 0; i < r->nanswers && n <= DNS_CHAIN_MAX; i++) {
            const struct dns_answer *a = &r->answers[i];
            if (a->type == DNS_TYPE_CNAME && a->owner[0] && a->target[0] &&
                in_chain(chain, n, a->owner) && !in_chain(chain, n, a->target)) {
                memcpy(chain[n++], a->target, sizeof chain[0]);
                grew = true;
            }
        }
    }
    unsigned found = 0;
    for (unsigned i = 0; i < r->nanswers; i++) {
        const struct dns_answer *a = &r->answers[i];
        if ((a->type != DNS_TYPE_A && a->type != DNS_TYPE_AAAA) || !a->owner[0] ||
            !in_chain(chain, n, a->owner))
            continue;
        if (fn)
            fn(arg, a->type == DNS_TYPE_A ? AF_INET : AF_INET6, a->addr, a->ttl);
        found++;
    }
    return found;
}
