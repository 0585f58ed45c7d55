// SPDX-License-Identifier: Apache-2.0
/* Ethernet frames as a guest sends them, for the network tests and fuzz seeds: IPv4 and
 * IPv6 with TCP, UDP or ICMP, checksums filled (header-only so each test binary stands
 * alone; tests/unit/vmm/test_slirp.c, test_net_policy.c). */
#ifndef TEST_NET_FRAMES_H
#define TEST_NET_FRAMES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const uint8_t nf_guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t nf_gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 }; /* slirp's */
static const uint8_t nf_bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static inline void nf_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline uint16_t nf_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t nf_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t nf_sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += nf_get16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}
static inline uint16_t nf_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* The transport checksum of l4 (TCP, UDP, ICMPv6) over the pseudo-header. */
static inline void nf_l4_csum(bool v6, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                              uint8_t *l4, size_t l4len)
{
    size_t off = proto == 6 ? 16 : proto == 17 ? 6 : proto == 58 ? 2 : 0;
    if (!off)
        return;
    nf_put16(l4 + off, 0);
    size_t al = v6 ? 16 : 4;
    uint32_t s = nf_sum16(src, al, 0);
    s = nf_sum16(dst, al, s);
    s += proto + (uint32_t)l4len;
    uint16_t c = nf_fold(nf_sum16(l4, l4len, s));
    nf_put16(l4 + off, c ? c : 0xffff);
}

/* eth + IPv4 + l4 (transport header included); returns the frame length. */
static inline size_t nf_ipv4(uint8_t *f, const uint8_t *dst_mac, const char *src,
                             const char *dst, uint8_t proto, const uint8_t *l4, size_t l4len)
{
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, nf_guest_mac, 6);
    nf_put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    nf_put16(ip + 2, (uint16_t)(20 + l4len));
    ip[8] = 64;
    ip[9] = proto;
    inet_pton(AF_INET, src, ip + 12);
    inet_pton(AF_INET, dst, ip + 16);
    nf_put16(ip + 10, nf_fold(nf_sum16(ip, 20, 0)));
    memcpy(ip + 20, l4, l4len);
    nf_l4_csum(false, ip + 12, ip + 16, proto, ip + 20, l4len);
    return 14 + 20 + l4len;
}

/* eth + IPv6 + l4; returns the frame length. */
static inline size_t nf_ipv6(uint8_t *f, const uint8_t *dst_mac, const char *src,
                             const char *dst, uint8_t nh, const uint8_t *l4, size_t l4len)
{
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, nf_guest_mac, 6);
    nf_put16(f + 12, 0x86dd);
    uint8_t *ip = f + 14;
    memset(ip, 0, 40);
    ip[0] = 0x60;
    nf_put16(ip + 4, (uint16_t)l4len);
    ip[6] = nh;
    ip[7] = 64;
    inet_pton(AF_INET6, src, ip + 8);
    inet_pton(AF_INET6, dst, ip + 24);
    memcpy(ip + 40, l4, l4len);
    nf_l4_csum(true, ip + 8, ip + 24, nh, ip + 40, l4len);
    return 14 + 40 + l4len;
}

/* A TCP header (20 bytes) with the given flags (0x02 SYN) and sequence number. */
static inline void nf_tcp(uint8_t *t, uint16_t sport, uint16_t dport, uint32_t seq,
                          uint8_t flags)
{
    memset(t, 0, 20);
    nf_put16(t, sport);
    nf_put16(t + 2, dport);
    t[4] = (uint8_t)(seq >> 24);
    t[5] = (uint8_t)(seq >> 16);
    t[6] = (uint8_t)(seq >> 8);
    t[7] = (uint8_t)seq;
    t[12] = 5 << 4;
    t[13] = flags;
    nf_put16(t + 14, 65535);
}

/* A TCP SYN from the guest to dst:port (IPv4 or IPv6 by the address's form). */
static inline size_t nf_syn(uint8_t *f, const char *dst, uint16_t sport, uint16_t dport)
{
    uint8_t t[20];
    nf_tcp(t, sport, dport, 1000, 0x02);
    if (strchr(dst, ':'))
        return nf_ipv6(f, nf_gw_mac, "fec0::5054:ff:fe12:3456", dst, 6, t, sizeof t);
    return nf_ipv4(f, nf_gw_mac, "10.0.2.15", dst, 6, t, sizeof t);
}

/* A UDP datagram from the guest's sport to dst:dport carrying data. */
static inline size_t nf_udp(uint8_t *f, const char *dst, uint16_t sport, uint16_t dport,
                            const void *data, size_t len)
{
    uint8_t u[8 + 1500];
    if (len > 1500)
        len = 1500;
    nf_put16(u, sport);
    nf_put16(u + 2, dport);
    nf_put16(u + 4, (uint16_t)(8 + len));
    nf_put16(u + 6, 0);
    memcpy(u + 8, data, len);
    if (strchr(dst, ':'))
        return nf_ipv6(f, nf_gw_mac, "fec0::5054:ff:fe12:3456", dst, 17, u, 8 + len);
    return nf_ipv4(f, nf_gw_mac, "10.0.2.15", dst, 17, u, 8 + len);
}

#endif
