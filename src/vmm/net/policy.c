// SPDX-License-Identifier: Apache-2.0
/* The network policy's frame filter, flow memory and DNS learning (policy.h). Frames come
 * from a hostile guest: every header length is checked against what the frame holds before
 * it is read (IPv4: RFC 791 3.1, IHL and total length, header checksum; IPv6: RFC 8200 3;
 * TCP: RFC 9293 3.1, data offset; UDP: RFC 768). tests/fuzz/fuzz_net_policy.c feeds it. */
#include "vmm/net/policy.h"

#include "vmm/net/dns.h"
#include "vmm/net/vnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define ETH_HLEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_IPV6 0x86dd
#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_ICMP6 58
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
#define IP4_DF 0x4000
#define DHCP_SERVER_PORT 67
#define DHCP6_SERVER_PORT 547
#define FLOW_PROBE 16

/* How a rule's port is judged: a TCP/UDP port, or any port (a fragment, an ICMP echo: a
 * deny rule on any port of the address denies it, an allow rule must allow every port). */
enum port_mode { PORT_EXACT, PORT_ANY };

struct range {
    int family;
    uint8_t net[16];
    unsigned bits;
};

static const struct {
    int family;
    const char *net;
    unsigned bits;
    const char *what;
} default_deny[] = {
    { AF_INET, "10.0.0.0", 8, "a private network" },
    { AF_INET, "172.16.0.0", 12, "a private network" },
    { AF_INET, "192.168.0.0", 16, "a private network" },
    { AF_INET, "100.64.0.0", 10, "shared address space (carrier-grade NAT)" },
    { AF_INET, "169.254.0.0", 16, "link-local (cloud metadata)" },
    { AF_INET, "224.0.0.0", 4, "multicast" },
    { AF_INET, "240.0.0.0", 4, "reserved or broadcast" },
    { AF_INET6, "fc00::", 7, "a unique-local network" },
    { AF_INET6, "fe80::", 10, "link-local" },
    { AF_INET6, "fec0::", 10, "site-local" },
    { AF_INET6, "ff00::", 8, "multicast" },
    { AF_INET6, "::", 96, "an IPv4-compatible address" },
};
#define NDEFAULT (sizeof default_deny / sizeof default_deny[0])

struct learned {
    bool used, deny;
    unsigned rule;
    int family;
    uint8_t addr[16];
    uint64_t expires;
};

struct flow_key {
    uint8_t family, proto;
    uint16_t gport, rport; /* guest's port (or ICMP id), remote port */
    uint8_t raddr[16];
};

struct flow {
    bool used, reply_ok, counted;
    struct flow_key key;
    uint64_t seen;
};

struct dns_query {
    bool used;
    uint16_t gport, id;
    uint64_t at;
    char qname[DNS_NAME_MAX + 1];
};

struct net_policy {
    struct net_rule *allow, *deny;
    unsigned nallow, ndeny;
    struct net_host_port *host;
    unsigned nhost;
    uint16_t *udp_forwards;
    unsigned nudp_forwards;
    bool names; /* any host-name rule: read DNS replies */
    bool (*is_host_addr)(void *opaque, int family, const uint8_t *addr);
    void *opaque;
    uint8_t vnet[4], vhost[4], vdns[4], prefix6[16], vhost6[16], vdns6[16];
    uint8_t allnodes6[16], dhcp6[16], mapped[12], nat64[12];
    struct range defaults[NDEFAULT];
    struct learned learned[NET_LEARN_SLOTS];
    struct flow flows[NET_FLOW_SLOTS];
    struct flow denied[2 * NET_DENIED_SLOTS]; /* key only; half full at most */
    unsigned ndenied;
    bool denied_full;
    struct dns_query queries[NET_DNS_QUERIES]; /* a ring */
    unsigned next_query;
    struct dns_reply dns; /* scratch */
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

/* The Internet checksum (RFC 1071) of n bytes, added to a running sum. */
static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += rd16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}
static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* ---- frame parsing ------------------------------------------------------------------- */

struct pkt {
    int family;
    const uint8_t *src, *dst; /* into the frame: 4 or 16 bytes */
    uint8_t proto;
    bool fragment;
    const uint8_t *l4;
    size_t l4len;
};

/* The IP header of an ethernet frame. Returns 0 for IPv4/IPv6 (k filled), -1 otherwise. */
static int parse_ip(const uint8_t *f, size_t len, struct pkt *k)
{
    memset(k, 0, sizeof *k);
    if (len < ETH_HLEN)
        return -1;
    uint16_t type = rd16(f + 12);
    const uint8_t *ip = f + ETH_HLEN;
    size_t n = len - ETH_HLEN;
    if (type == ETHERTYPE_IPV4) {
        if (n < 20 || (ip[0] >> 4) != 4)
            return -1;
        size_t ihl = (size_t)(ip[0] & 0x0f) * 4, total = rd16(ip + 2);
        if (ihl < 20 || total < ihl || total > n)
            return -1;
        if (csum_fold(csum_add(0, ip, ihl)) != 0) /* libslirp drops these too */
            return -1;
        k->family = AF_INET;
        k->src = ip + 12;
        k->dst = ip + 16;
        k->proto = ip[9];
        /* anything but DF set means reassembly (libslirp ip_input: ip_off & ~IP_DF) */
        k->fragment = (rd16(ip + 6) & (uint16_t)~IP4_DF) != 0;
        k->l4 = ip + ihl;
        k->l4len = total - ihl;
        return 0;
    }
    if (type == ETHERTYPE_IPV6) {
        if (n < 40 || (ip[0] >> 4) != 6)
            return -1;
        size_t pl = rd16(ip + 4);
        if (40 + pl > n)
            return -1;
        k->family = AF_INET6;
        k->src = ip + 8;
        k->dst = ip + 24;
        k->proto = ip[6]; /* libslirp reads no extension headers: neither do we */
        k->l4 = ip + 40;
        k->l4len = pl;
        return 0;
    }
    return -1;
}

static size_t alen(int family) { return family == AF_INET ? 4 : 16; }

static bool addr_eq(int family, const uint8_t *a, int bfamily, const uint8_t *b)
{
    return family == bfamily && memcmp(a, b, alen(family)) == 0;
}

/* ---- tables -------------------------------------------------------------------------- */

static uint32_t hash_key(const struct flow_key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void make_key(struct flow_key *k, int family, uint8_t proto, uint16_t gport,
                     const uint8_t *raddr, uint16_t rport)
{
    memset(k, 0, sizeof *k);
    k->family = (uint8_t)family;
    k->proto = proto;
    k->gport = gport;
    k->rport = rport;
    memcpy(k->raddr, raddr, alen(family));
}

/* The flow for key: found, or a new one in the least recently seen slot of its probe
 * window (a free slot counts as never seen) (*fresh set). Never NULL. */
static struct flow *flow_get(struct net_policy *p, const struct flow_key *k, uint64_t now,
                             bool *fresh)
{
    uint32_t h = hash_key(k);
    struct flow *victim = NULL;
    for (unsigned i = 0; i < FLOW_PROBE; i++) {
        struct flow *f = &p->flows[(h + i) % NET_FLOW_SLOTS];
        if (f->used && now - f->seen <= NET_FLOW_MS && memcmp(&f->key, k, sizeof *k) == 0) {
            *fresh = false;
            return f;
        }
        if (!victim || (f->used ? f->seen : 0) < (victim->used ? victim->seen : 0))
            victim = f;
    }
    memset(victim, 0, sizeof *victim);
    victim->used = true;
    victim->key = *k;
    victim->seen = now;
    *fresh = true;
    return victim;
}

static struct flow *flow_find(struct net_policy *p, const struct flow_key *k, uint64_t now)
{
    uint32_t h = hash_key(k);
    for (unsigned i = 0; i < FLOW_PROBE; i++) {
        struct flow *f = &p->flows[(h + i) % NET_FLOW_SLOTS];
        if (f->used && now - f->seen <= NET_FLOW_MS && memcmp(&f->key, k, sizeof *k) == 0)
            return f;
    }
    return NULL;
}

/* IPv4-mapped IPv6 (::ffff:a.b.c.d, RFC 4291 2.5.5.2) becomes the IPv4 address: the host's
 * IPv6 socket would reach that IPv4 address. */
static void normalize(const struct net_policy *p, int *family, uint8_t *a)
{
    if (*family == AF_INET6 && memcmp(a, p->mapped, 12) == 0) {
        memmove(a, a + 12, 4);
        memset(a + 4, 0, 12);
        *family = AF_INET;
    }
}

static void learn(struct net_policy *p, bool deny, unsigned rule, int family,
                  const uint8_t *addr, uint32_t ttl, uint64_t now)
{
    uint8_t a[16] = { 0 };
    memcpy(a, addr, alen(family));
    normalize(p, &family, a);
    uint64_t keep = (uint64_t)ttl * 1000;
    if (keep < NET_LEARN_MIN_MS)
        keep = NET_LEARN_MIN_MS;
    if (keep > NET_LEARN_MAX_MS)
        keep = NET_LEARN_MAX_MS;
    struct learned *slot = NULL;
    for (unsigned i = 0; i < NET_LEARN_SLOTS; i++) {
        struct learned *l = &p->learned[i];
        if (l->used && l->deny == deny && l->rule == rule && addr_eq(l->family, l->addr, family, a)) {
            if (l->expires < now + keep)
                l->expires = now + keep;
            return;
        }
        if (!slot || !l->used || (slot->used && l->expires < slot->expires))
            slot = l;
    }
    *slot = (struct learned){ .used = true, .deny = deny, .rule = rule, .family = family,
                              .expires = now + keep };
    memcpy(slot->addr, a, 16);
}

/* ---- judging ------------------------------------------------------------------------- */

static bool rule_port_applies(uint16_t rport, uint16_t port, enum port_mode mode, bool deny)
{
    if (rport == 0)
        return true;
    if (mode == PORT_EXACT)
        return rport == port;
    return mode == PORT_ANY && deny;
}

/* A rule of a list matching the address (directly, or through an address its name
 * resolved to). Returns its index or -1. */
static int list_match(const struct net_policy *p, bool deny, int family, const uint8_t *a,
                      uint16_t port, enum port_mode mode, uint64_t now)
{
    const struct net_rule *rules = deny ? p->deny : p->allow;
    unsigned n = deny ? p->ndeny : p->nallow;
    for (unsigned i = 0; i < n; i++)
        if (net_rule_covers(&rules[i], family, a) &&
            rule_port_applies(rules[i].port, port, mode, deny))
            return (int)i;
    if (!p->names)
        return -1;
    for (unsigned i = 0; i < NET_LEARN_SLOTS; i++) {
        const struct learned *l = &p->learned[i];
        if (l->used && l->deny == deny && l->expires > now && l->rule < n &&
            addr_eq(l->family, l->addr, family, a) &&
            rule_port_applies(rules[l->rule].port, port, mode, deny))
            return (int)l->rule;
    }
    return -1;
}

static bool host_class(const struct net_policy *p, int family, const uint8_t *a)
{
    static const uint8_t any6[16], loop6[16] = { [15] = 1 };
    if (family == AF_INET && (a[0] == 127 || a[0] == 0))
        return true;
    if (family == AF_INET6 && (!memcmp(a, any6, 16) || !memcmp(a, loop6, 16)))
        return true;
    return p->is_host_addr && p->is_host_addr(p->opaque, family, a);
}

static int default_range(const struct net_policy *p, int family, const uint8_t *a)
{
    for (unsigned i = 0; i < NDEFAULT; i++)
        if (net_prefix_covers(p->defaults[i].family, p->defaults[i].net, p->defaults[i].bits,
                              family, a))
            return (int)i;
    return -1;
}

static enum net_why evaluate(const struct net_policy *p, int family, const uint8_t *dst,
                             uint8_t proto, uint16_t port, enum port_mode mode, uint64_t now,
                             int *rule)
{
    uint8_t a[16] = { 0 };
    memcpy(a, dst, alen(family));
    normalize(p, &family, a);
    *rule = -1;
    static const uint8_t bcast[4] = { 255, 255, 255, 255 };
    bool tcp_udp = mode == PORT_EXACT && (proto == P_TCP || proto == P_UDP);
    if (family == AF_INET &&
        (net_prefix_covers(AF_INET, p->vnet, VNET_PREFIX_BITS, family, a) || !memcmp(a, bcast, 4))) {
        if (tcp_udp && port == VNET_DNS_PORT && !memcmp(a, p->vdns, 4))
            return NET_WHY_NONE;
        bool gw = !memcmp(a, p->vhost, 4) || !memcmp(a, bcast, 4);
        if (tcp_udp && !memcmp(a, p->vhost, 4))
            for (unsigned i = 0; i < p->nhost; i++)
                if (p->host[i].port == port && p->host[i].udp == (proto == P_UDP))
                    return NET_WHY_NONE;
        return gw ? NET_WHY_GATEWAY : NET_WHY_VNET;
    }
    if (family == AF_INET6 && (net_prefix_covers(AF_INET6, p->prefix6, VNET_PREFIX6_BITS, family, a) ||
                               !memcmp(a, p->allnodes6, 16))) {
        if (tcp_udp && port == VNET_DNS_PORT && !memcmp(a, p->vdns6, 16))
            return NET_WHY_NONE;
        if (tcp_udp && !memcmp(a, p->vhost6, 16))
            for (unsigned i = 0; i < p->nhost; i++)
                if (p->host[i].port == port && p->host[i].udp == (proto == P_UDP))
                    return NET_WHY_NONE;
        /* every other address of the prefix is the host's ::1 too */
        return memcmp(a, p->vdns6, 16) ? NET_WHY_GATEWAY : NET_WHY_VNET;
    }
    if (host_class(p, family, a))
        return NET_WHY_HOST;
    int r = list_match(p, true, family, a, port, mode, now);
    if (r >= 0) {
        *rule = r;
        return NET_WHY_DENY_RULE;
    }
    if (p->nallow)
        return list_match(p, false, family, a, port, mode, now) >= 0 ? NET_WHY_NONE
                                                                     : NET_WHY_NOT_ALLOWED;
    if ((r = default_range(p, family, a)) >= 0) {
        *rule = r;
        return NET_WHY_DEFAULT;
    }
    /* NAT64 (64:ff9b::/96, RFC 6052): the IPv4 address inside is where it goes */
    if (family == AF_INET6 && !memcmp(a, p->nat64, 12)) {
        if (host_class(p, AF_INET, a + 12))
            return NET_WHY_HOST;
        if ((r = default_range(p, AF_INET, a + 12)) >= 0) {
            *rule = r;
            return NET_WHY_DEFAULT;
        }
    }
    return NET_WHY_NONE;
}

/* A connection attempt: the policy's answer, and whether it starts a flow (counted). */
static void judge(struct net_policy *p, struct net_decision *d, const struct pkt *k,
                  uint16_t gport, enum port_mode mode, uint64_t now)
{
    d->why = evaluate(p, k->family, k->dst, k->proto, d->port, mode, now, &d->rule);
    struct flow_key key;
    make_key(&key, k->family, k->proto, gport, k->dst, d->port);
    bool fresh;
    struct flow *f = flow_get(p, &key, now, &fresh);
    d->attempt = fresh || !f->counted;
    f->counted = true;
    f->seen = now;
    if (d->why == NET_WHY_NONE)
        d->verdict = NET_PASS;
    else
        d->verdict = k->proto == P_TCP && !k->fragment ? NET_DENY_RST : NET_DENY;
}

void net_policy_check(struct net_policy *p, const uint8_t *frame, size_t len, uint64_t now,
                      struct net_decision *d)
{
    memset(d, 0, sizeof *d);
    d->verdict = NET_DROP;
    d->rule = -1;
    if (!frame || len < ETH_HLEN)
        return;
    if (rd16(frame + 12) == ETHERTYPE_ARP) {
        d->verdict = NET_PASS; /* answered inside libslirp (arp_input) */
        return;
    }
    struct pkt k;
    if (parse_ip(frame, len, &k) < 0)
        return;
    d->family = k.family;
    memcpy(d->dst, k.dst, alen(k.family));
    d->proto = k.proto;
    if (k.fragment) {
        if (k.proto != P_TCP && k.proto != P_UDP && k.proto != P_ICMP)
            return;
        d->fragment = true;
        judge(p, d, &k, 0, PORT_ANY, now);
        return;
    }
    const uint8_t *t = k.l4;
    switch (k.proto) {
    case P_TCP: {
        if (k.l4len < 20 || (t[12] >> 4) < 5 || (size_t)(t[12] >> 4) * 4 > k.l4len)
            return;
        uint8_t flags = t[13];
        if (!(flags & TCP_SYN) || (flags & TCP_ACK)) {
            d->verdict = NET_PASS; /* a segment of a connection that exists, or nothing */
            return;
        }
        d->port = rd16(t + 2);
        judge(p, d, &k, rd16(t), PORT_EXACT, now);
        return;
    }
    case P_UDP: {
        if (k.l4len < 8)
            return;
        uint16_t sport = rd16(t), dport = rd16(t + 2);
        static const uint8_t bcast[4] = { 255, 255, 255, 255 };
        /* DHCP and DHCPv6 are answered inside libslirp (bootp.c, dhcpv6.c) */
        if (k.family == AF_INET && dport == DHCP_SERVER_PORT &&
            (!memcmp(k.dst, p->vhost, 4) || !memcmp(k.dst, bcast, 4))) {
            d->verdict = NET_PASS;
            return;
        }
        if (k.family == AF_INET6 && dport == DHCP6_SERVER_PORT &&
            (!memcmp(k.dst, p->vhost6, 16) || !memcmp(k.dst, p->dhcp6, 16))) {
            d->verdict = NET_PASS;
            return;
        }
        d->port = dport;
        if (p->names && dport == VNET_DNS_PORT && k.l4len > 8 &&
            (k.family == AF_INET ? !memcmp(k.dst, p->vdns, 4) : !memcmp(k.dst, p->vdns6, 16))) {
            /* a query to the box's resolver: its reply may teach host-name rules */
            struct dns_query *q = &p->queries[p->next_query];
            if (dns_query_parse(t + 8, k.l4len - 8, q->qname) == 0 && q->qname[0]) {
                q->used = true;
                q->gport = sport;
                q->id = dns_id(t + 8, k.l4len - 8);
                q->at = now;
                p->next_query = (p->next_query + 1) % NET_DNS_QUERIES;
            }
        }
        struct flow_key key;
        make_key(&key, k.family, P_UDP, sport, k.dst, dport);
        struct flow *f = flow_find(p, &key, now);
        if (f && f->reply_ok) {
            f->seen = now;
            d->verdict = NET_PASS; /* a reply to a flow that came in */
            return;
        }
        judge(p, d, &k, sport, PORT_EXACT, now);
        return;
    }
    case P_ICMP:
        if (k.family != AF_INET || k.l4len < 8 || t[0] != 8) /* echo request only */
            return;
        if (!memcmp(k.dst, p->vhost, 4) || !memcmp(k.dst, p->vdns, 4)) {
            d->verdict = NET_PASS; /* answered inside libslirp (icmp_reflect) */
            return;
        }
        /* libslirp falls back to UDP port 7 when it cannot open a ping socket: judged as
         * every port of the address */
        judge(p, d, &k, rd16(t + 4), PORT_ANY, now);
        return;
    case P_ICMP6:
        if (k.family != AF_INET6 || k.l4len < 4)
            return;
        /* NDP (RFC 4861 4: RS, RA, NS, NA, redirect) is answered inside libslirp; an echo
         * to the gateway too. libslirp 4.7 cannot send an echo anywhere else. */
        if ((t[0] >= 133 && t[0] <= 137) || (t[0] == 128 && !memcmp(k.dst, p->vhost6, 16)))
            d->verdict = NET_PASS;
        return;
    default:
        return;
    }
}

/* ---- what slirp sends the guest ------------------------------------------------------ */

struct learn_ctx {
    struct net_policy *p;
    bool deny;
    unsigned rule;
    uint64_t now;
};

static void learn_one(void *arg, int family, const uint8_t *addr, uint32_t ttl)
{
    struct learn_ctx *c = arg;
    learn(c->p, c->deny, c->rule, family, addr, ttl, c->now);
}

void net_policy_observe(struct net_policy *p, const uint8_t *frame, size_t len, uint64_t now)
{
    struct pkt k;
    if (!frame || parse_ip(frame, len, &k) < 0 || k.proto != P_UDP || k.fragment ||
        k.l4len < 8)
        return;
    uint16_t sport = rd16(k.l4), dport = rd16(k.l4 + 2);
    size_t ulen = rd16(k.l4 + 4);
    if (ulen < 8 || ulen > k.l4len)
        return;
    /* through a UDP port forward, the guest may answer whoever reached it */
    for (unsigned i = 0; i < p->nudp_forwards; i++) {
        if (p->udp_forwards[i] != dport)
            continue;
        struct flow_key key;
        make_key(&key, k.family, P_UDP, dport, k.src, sport);
        bool fresh;
        struct flow *f = flow_get(p, &key, now, &fresh);
        f->reply_ok = true;
        f->seen = now;
        break;
    }

    if (!p->names || sport != VNET_DNS_PORT ||
        !(k.family == AF_INET ? !memcmp(k.src, p->vdns, 4) : !memcmp(k.src, p->vdns6, 16)))
        return;
    if (dns_reply_parse(k.l4 + 8, ulen - 8, &p->dns) < 0 || !p->dns.qname[0])
        return;
    /* only the answer to a question the guest asked (and only once) */
    uint16_t id = dns_id(k.l4 + 8, ulen - 8);
    struct dns_query *asked = NULL;
    for (unsigned i = 0; i < NET_DNS_QUERIES && !asked; i++) {
        struct dns_query *q = &p->queries[i];
        if (q->used && q->gport == dport && q->id == id && now - q->at <= NET_DNS_QUERY_MS &&
            !strcmp(q->qname, p->dns.qname))
            asked = q;
    }
    if (!asked)
        return;
    asked->used = false;
    for (int deny = 0; deny < 2; deny++) {
        const struct net_rule *rules = deny ? p->deny : p->allow;
        unsigned n = deny ? p->ndeny : p->nallow;
        for (unsigned i = 0; i < n; i++) {
            if (!net_rule_names(&rules[i], p->dns.qname))
                continue;
            struct learn_ctx c = { p, deny != 0, i, now };
            dns_reply_addresses(&p->dns, learn_one, &c);
        }
    }
}

bool net_policy_denial_is_new(struct net_policy *p, const struct net_decision *d, bool *full)
{
    *full = false;
    struct flow_key key;
    make_key(&key, d->family, d->proto, 0, d->dst, d->port);
    uint32_t h = hash_key(&key);
    for (unsigned i = 0; i < 2 * NET_DENIED_SLOTS; i++) {
        struct flow *e = &p->denied[(h + i) % (2 * NET_DENIED_SLOTS)];
        if (e->used && memcmp(&e->key, &key, sizeof key) == 0)
            return false;
        if (!e->used) {
            if (p->ndenied >= NET_DENIED_SLOTS) {
                *full = !p->denied_full;
                p->denied_full = true;
                return false;
            }
            e->used = true;
            e->key = key;
            p->ndenied++;
            return true;
        }
    }
    return false;
}

void net_policy_describe(const struct net_policy *p, const struct net_decision *d, char *buf,
                         size_t len)
{
    const char *proto = d->proto == P_TCP ? "tcp" : d->proto == P_UDP ? "udp"
                      : d->proto == P_ICMP || d->proto == P_ICMP6 ? "icmp" : "ip";
    char a[INET6_ADDRSTRLEN] = "?";
    inet_ntop(d->family == AF_INET ? AF_INET : AF_INET6, d->dst, a, sizeof a);
    char where[INET6_ADDRSTRLEN + 64];
    if (d->fragment)
        snprintf(where, sizeof where, "%s fragment to %s", proto, a);
    else if (d->port)
        snprintf(where, sizeof where, "%s %s port %u", proto, a, d->port);
    else
        snprintf(where, sizeof where, "%s %s", proto, a);
    char rule[NET_RULE_TEXT_MAX + 8] = "";
    switch (d->why) {
    case NET_WHY_GATEWAY:
        if (d->port && !d->fragment)
            snprintf(buf, len, "%s: the host's loopback (allow it with allow_host %u%s)", where,
                     d->port, d->proto == P_UDP ? "/udp" : "");
        else
            snprintf(buf, len, "%s: the host's loopback", where);
        return;
    case NET_WHY_VNET:
        snprintf(buf, len, "%s: the box's virtual network", where);
        return;
    case NET_WHY_HOST:
        snprintf(buf, len, "%s: the host itself", where);
        return;
    case NET_WHY_DENY_RULE:
        if (d->rule >= 0 && (unsigned)d->rule < p->ndeny)
            net_rule_format(&p->deny[d->rule], rule, sizeof rule);
        snprintf(buf, len, "%s: deny_net %s", where, rule);
        return;
    case NET_WHY_NOT_ALLOWED:
        snprintf(buf, len, "%s: not in allow_net", where);
        return;
    case NET_WHY_DEFAULT:
        snprintf(buf, len, "%s: %s (denied by default; allow_net opens it)", where,
                 d->rule >= 0 && (unsigned)d->rule < NDEFAULT ? default_deny[d->rule].what : "?");
        return;
    case NET_WHY_NONE:
        snprintf(buf, len, "%s: allowed", where);
        return;
    }
}

size_t net_tcp_reset(const uint8_t *syn, size_t len, uint8_t *out, size_t cap)
{
    struct pkt k;
    if (!syn || parse_ip(syn, len, &k) < 0 || k.proto != P_TCP || k.fragment || k.l4len < 20)
        return 0;
    const uint8_t *t = k.l4;
    size_t doff = (size_t)(t[12] >> 4) * 4;
    if (doff < 20 || doff > k.l4len)
        return 0;
    size_t iph = k.family == AF_INET ? 20 : 40, n = ETH_HLEN + iph + 20;
    if (cap < n)
        return 0;
    uint8_t flags = t[13];
    uint32_t seglen = (uint32_t)(k.l4len - doff) + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
    memset(out, 0, n);
    memcpy(out, syn + 6, 6); /* back to the guest, from whom it was sent to */
    memcpy(out + 6, syn, 6);
    memcpy(out + 12, syn + 12, 2);
    uint8_t *ip = out + ETH_HLEN, *tcp = ip + iph;
    size_t al = alen(k.family);
    if (k.family == AF_INET) {
        ip[0] = 0x45;
        wr16(ip + 2, (uint16_t)(iph + 20));
        wr16(ip + 6, IP4_DF);
        ip[8] = 64;
        ip[9] = P_TCP;
        memcpy(ip + 12, k.dst, 4);
        memcpy(ip + 16, k.src, 4);
        wr16(ip + 10, csum_fold(csum_add(0, ip, 20)));
    } else {
        ip[0] = 0x60;
        wr16(ip + 4, 20);
        ip[6] = P_TCP;
        ip[7] = 64;
        memcpy(ip + 8, k.dst, 16);
        memcpy(ip + 24, k.src, 16);
    }
    memcpy(tcp, t + 2, 2);
    memcpy(tcp + 2, t, 2);
    /* RFC 9293 3.10.7.1: no ACK on the segment: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> */
    if (flags & TCP_ACK)
        memcpy(tcp + 4, t + 8, 4);
    else
        wr32(tcp + 8, rd32(t + 4) + seglen);
    tcp[12] = 5 << 4;
    tcp[13] = TCP_RST | (flags & TCP_ACK ? 0 : TCP_ACK);
    /* pseudo-header (RFC 9293 3.1; RFC 8200 8.1) */
    uint32_t s = csum_add(0, ip + (k.family == AF_INET ? 12 : 8), 2 * al);
    s += P_TCP + 20;
    s = csum_add(s, tcp, 20);
    wr16(tcp + 16, csum_fold(s));
    return n;
}

/* ---- life ---------------------------------------------------------------------------- */

static int copy_rules(struct net_rule **dst, const struct net_rule *src, unsigned n)
{
    *dst = NULL;
    if (!n)
        return 0;
    *dst = calloc(n, sizeof **dst);
    if (!*dst)
        return -ENOMEM;
    memcpy(*dst, src, n * sizeof **dst);
    /* a rule on IPv4-mapped addresses is an IPv4 rule: destinations are judged that way */
    for (unsigned i = 0; i < n; i++) {
        struct net_rule *r = &(*dst)[i];
        static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
        if (r->kind == NET_RULE_ADDR && r->family == AF_INET6 && r->prefix >= 96 &&
            !memcmp(r->addr, mapped, 12)) {
            memmove(r->addr, r->addr + 12, 4);
            memset(r->addr + 4, 0, 12);
            r->family = AF_INET;
            r->prefix = (uint8_t)(r->prefix - 96);
        }
    }
    return 0;
}

int net_policy_new(struct net_policy **out, const struct net_policy_cfg *cfg,
                   struct bl_error *err)
{
    *out = NULL;
    struct net_policy *p = calloc(1, sizeof *p);
    if (!p)
        return bl_errno(err, ENOMEM, "network policy");
    if (cfg) {
        if (copy_rules(&p->allow, cfg->allow, cfg->nallow) < 0 ||
            copy_rules(&p->deny, cfg->deny, cfg->ndeny) < 0 ||
            (cfg->nhost && !(p->host = calloc(cfg->nhost, sizeof *p->host))) ||
            (cfg->nudp_forwards &&
             !(p->udp_forwards = calloc(cfg->nudp_forwards, sizeof *p->udp_forwards)))) {
            net_policy_free(p);
            return bl_errno(err, ENOMEM, "network policy");
        }
        p->nallow = cfg->nallow;
        p->ndeny = cfg->ndeny;
        p->nhost = cfg->nhost;
        if (cfg->nhost)
            memcpy(p->host, cfg->host, cfg->nhost * sizeof *p->host);
        p->nudp_forwards = cfg->nudp_forwards;
        if (cfg->nudp_forwards)
            memcpy(p->udp_forwards, cfg->udp_forwards,
                   cfg->nudp_forwards * sizeof *p->udp_forwards);
        p->is_host_addr = cfg->is_host_addr;
        p->opaque = cfg->opaque;
    }
    for (unsigned i = 0; i < p->nallow; i++)
        p->names |= p->allow[i].kind == NET_RULE_NAME;
    for (unsigned i = 0; i < p->ndeny; i++)
        p->names |= p->deny[i].kind == NET_RULE_NAME;
    inet_pton(AF_INET, VNET_NETWORK, p->vnet);
    inet_pton(AF_INET, VNET_HOST, p->vhost);
    inet_pton(AF_INET, VNET_DNS, p->vdns);
    inet_pton(AF_INET6, VNET_PREFIX6, p->prefix6);
    inet_pton(AF_INET6, VNET_HOST6, p->vhost6);
    inet_pton(AF_INET6, VNET_DNS6, p->vdns6);
    inet_pton(AF_INET6, "ff02::1", p->allnodes6);
    inet_pton(AF_INET6, "ff02::1:2", p->dhcp6); /* All_DHCP_Relay_Agents_and_Servers */
    static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
    static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
    memcpy(p->mapped, mapped, 12);
    memcpy(p->nat64, nat64, 12);
    for (unsigned i = 0; i < NDEFAULT; i++) {
        p->defaults[i].family = default_deny[i].family;
        p->defaults[i].bits = default_deny[i].bits;
        inet_pton(default_deny[i].family, default_deny[i].net, p->defaults[i].net);
    }
    *out = p;
    return 0;
}

void net_policy_free(struct net_policy *p)
{
    if (!p)
        return;
    free(p->allow);
    free(p->deny);
    free(p->host);
    free(p->udp_forwards);
    free(p);
}
