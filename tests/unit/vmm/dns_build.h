// SPDX-License-Identifier: Apache-2.0
/* DNS replies built byte by byte for the tests (RFC 1035 4.1), and the frame slirp would
 * hand the guest with one inside (header-only: test_net_dns.c, test_net_policy.c). */
#ifndef TEST_DNS_BUILD_H
#define TEST_DNS_BUILD_H

#include "unit/vmm/net_frames.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

struct dnsb {
    uint8_t b[2048];
    size_t n;
};

static inline void db_u16(struct dnsb *d, uint16_t v)
{
    nf_put16(d->b + d->n, v);
    d->n += 2;
}
static inline void db_u32(struct dnsb *d, uint32_t v)
{
    db_u16(d, (uint16_t)(v >> 16));
    db_u16(d, (uint16_t)v);
}
/* A name as labels, uncompressed; "" is the root. */
static inline void db_name(struct dnsb *d, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        d->b[d->n++] = (uint8_t)l;
        memcpy(d->b + d->n, name, l);
        d->n += l;
        name += l + (dot ? 1 : 0);
    }
    d->b[d->n++] = 0;
}
/* Header (a reply, no error) and the question (type A, class IN). */
static inline void db_begin(struct dnsb *d, const char *qname, uint16_t ancount)
{
    d->n = 0;
    db_u16(d, 0x1234);
    db_u16(d, 0x8180);
    db_u16(d, 1);
    db_u16(d, ancount);
    db_u16(d, 0);
    db_u16(d, 0);
    db_name(d, qname);
    db_u16(d, 1);
    db_u16(d, 1);
}
/* An A or AAAA record (by the address's form); owner NULL = a pointer to the question. */
static inline void db_addr(struct dnsb *d, const char *owner, const char *ip, uint32_t ttl)
{
    if (owner)
        db_name(d, owner);
    else
        db_u16(d, 0xc00c);
    bool v6 = strchr(ip, ':') != NULL;
    db_u16(d, v6 ? 28 : 1);
    db_u16(d, 1);
    db_u32(d, ttl);
    db_u16(d, v6 ? 16 : 4);
    inet_pton(v6 ? AF_INET6 : AF_INET, ip, d->b + d->n);
    d->n += v6 ? 16 : 4;
}
static inline void db_cname(struct dnsb *d, const char *owner, const char *target, uint32_t ttl)
{
    db_name(d, owner);
    db_u16(d, 5);
    db_u16(d, 1);
    db_u32(d, ttl);
    size_t at = d->n;
    db_u16(d, 0);
    db_name(d, target);
    nf_put16(d->b + at, (uint16_t)(d->n - at - 2));
}

/* A query (ID 0x1234, type A) as the guest's resolver sends it. */
static inline void db_query(struct dnsb *d, const char *qname)
{
    d->n = 0;
    db_u16(d, 0x1234);
    db_u16(d, 0x0100);
    db_u16(d, 1);
    db_u16(d, 0);
    db_u16(d, 0);
    db_u16(d, 0);
    db_name(d, qname);
    db_u16(d, 1);
    db_u16(d, 1);
}

/* The frame the guest sends with this query: UDP from its port 40000 to the DNS address. */
static inline size_t db_query_frame(uint8_t *f, const struct dnsb *d, const char *to)
{
    return nf_udp(f, to, 40000, 53, d->b, d->n);
}

/* The frame libslirp sends the guest with this reply: UDP from the DNS address, port 53. */
static inline size_t db_frame(uint8_t *f, const struct dnsb *d, const char *from)
{
    uint8_t u[8 + sizeof d->b];
    nf_put16(u, 53);
    nf_put16(u + 2, 40000);
    nf_put16(u + 4, (uint16_t)(8 + d->n));
    nf_put16(u + 6, 0);
    memcpy(u + 8, d->b, d->n);
    if (strchr(from, ':'))
        return nf_ipv6(f, nf_guest_mac, from, "fec0::5054:ff:fe12:3456", 17, u, 8 + d->n);
    return nf_ipv4(f, nf_guest_mac, from, "10.0.2.15", 17, u, 8 + d->n);
}

#endif
