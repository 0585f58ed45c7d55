// SPDX-License-Identifier: Apache-2.0
/* What a box may reach: the policy applied to every frame the guest sends before libslirp
 * sees it, the same for both engines (both feed slirp.c).
 *
 * Decision for a connection attempt (a TCP SYN, a UDP datagram, an ICMP echo request):
 *   1. the box's virtual network (vnet.h): DNS to the resolver (port 53) is allowed; the
 *      gateway is allowed only on the allow_host ports (it is the host's loopback); every
 *      other address there, 255.255.255.255 and ff02::1 (which libslirp also sends to the
 *      host's loopback) are denied;
 *   2. the host itself (127.0.0.0/8, 0.0.0.0/8, ::1, ::, any address of the host's own
 *      interfaces) is denied, whatever the rules say;
 *   3. a deny rule that matches denies;
 *   4. with any allow rule, only what an allow rule matches is allowed;
 *   5. without allow rules, the public internet is allowed and these are denied:
 *      10/8, 172.16/12, 192.168/16, 100.64/10 (private, shared), 169.254/16 (link-local:
 *      cloud metadata), 224/4 and 240/4 (multicast, reserved, broadcast), fc00::/7
 *      (unique-local), fe80::/10 (link-local), fec0::/10 (site-local), ff00::/8
 *      (multicast), ::/96 (IPv4-compatible); an IPv4-mapped address (::ffff:a.b.c.d) is
 *      judged as the IPv4 address, a NAT64 one (64:ff9b::a.b.c.d) as both.
 * Host names in rules match the addresses the box's own DNS answers gave for that name
 * (net_policy_observe reads the replies slirp hands the guest), kept for the answer's TTL
 * but at least NET_LEARN_MIN_MS. A reply teaches something only when it answers a query the
 * guest sent (same guest port, ID and name, within NET_DNS_QUERY_MS): libslirp shows every
 * datagram that reaches its host socket as coming from the DNS address, so an unsolicited
 * one must not count.
 *
 * Frames that start nothing: TCP segments without SYN (libslirp opens a host socket only
 * for a bare SYN, and answers any other segment of an unknown connection with a reset
 * itself), UDP replies from a UDP port forward's guest port to whoever sent to it (the
 * guest sees the host's loopback as the gateway address: see net_policy_observe), ARP,
 * DHCP(v6) and NDP (answered inside libslirp). Replies to datagrams that reached other
 * guest ports are not let through: libslirp's host UDP sockets take datagrams from anyone
 * who finds their port, and that must not open a way out of an allow list.
 * IPv4 fragments carry no ports after the first: they pass only to a destination allowed
 * on every port. IPv6 extension headers, other protocols and other ethertypes are dropped
 * (libslirp 4.7 handles none of them). A malformed frame is dropped.
 *
 * Not thread-safe: slirp.c calls it under its lock. */
#ifndef VMM_NET_POLICY_H
#define VMM_NET_POLICY_H

#include "common/error.h"
#include "vmm/net/rule.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_LEARN_MIN_MS (300 * 1000)   /* an address learned from DNS is kept at least this */
#define NET_LEARN_MAX_MS (86400 * 1000) /* and at most this */
#define NET_LEARN_SLOTS 1024            /* learned addresses; the soonest to expire goes first */
#define NET_FLOW_SLOTS 1024             /* flows remembered (counting, UDP replies) */
#define NET_FLOW_MS (240 * 1000)        /* a flow is forgotten after this idle time (slirp's
                                         * own UDP socket expiry, SO_EXPIRE) */
#define NET_DENIED_SLOTS 1024           /* denied destinations remembered for the log */
#define NET_DNS_QUERIES 64              /* DNS queries awaiting their reply */
#define NET_DNS_QUERY_MS (30 * 1000)

struct net_policy_cfg {
    const struct net_rule *allow;
    unsigned nallow;
    const struct net_rule *deny;
    unsigned ndeny;
    const struct net_host_port *host; /* allow_host */
    unsigned nhost;
    const uint16_t *udp_forwards; /* guest ports of UDP port forwards */
    unsigned nudp_forwards;
    /* Whether an address is one of the host's own (family AF_INET/AF_INET6). NULL: none
     * besides the loopback ranges. */
    bool (*is_host_addr)(void *opaque, int family, const uint8_t *addr);
    void *opaque;
};

enum net_verdict {
    NET_PASS,     /* hand it to libslirp */
    NET_DROP,     /* malformed or unsupported: dropped, not counted */
    NET_DENY,     /* refused by the policy: dropped (UDP, ICMP, fragments) */
    NET_DENY_RST, /* refused TCP connection: answer the guest with a reset */
};

enum net_why {
    NET_WHY_NONE,
    NET_WHY_GATEWAY,   /* the gateway (host loopback) on a port not in allow_host */
    NET_WHY_VNET,      /* another address of the virtual network */
    NET_WHY_HOST,      /* the host itself */
    NET_WHY_DENY_RULE, /* rule = index in deny */
    NET_WHY_NOT_ALLOWED,
    NET_WHY_DEFAULT,   /* range = which default range */
};

struct net_decision {
    enum net_verdict verdict;
    bool attempt;     /* the first frame of a flow: counts as a connection allowed or denied */
    uint8_t proto;    /* 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 0 other */
    bool fragment;
    int family;       /* of dst */
    uint8_t dst[16];
    uint16_t port;    /* destination port; 0 for ICMP and fragments */
    enum net_why why;
    int rule;         /* NET_WHY_DENY_RULE: index; NET_WHY_DEFAULT: index in the range table */
};

struct net_policy;

/* Copies the rules. */
int net_policy_new(struct net_policy **out, const struct net_policy_cfg *cfg,
                   struct bl_error *err);
void net_policy_free(struct net_policy *p); /* NULL-safe */

/* Judges a frame from the guest (ethernet, no virtio header). now_ms: a monotonic clock. */
void net_policy_check(struct net_policy *p, const uint8_t *frame, size_t len, uint64_t now_ms,
                      struct net_decision *d);
/* Reads a frame libslirp sends to the guest: learns DNS answers for host-name rules, and
 * UDP flows that came in through a port forward (so the guest's replies to them pass). */
void net_policy_observe(struct net_policy *p, const uint8_t *frame, size_t len,
                        uint64_t now_ms);
/* Whether a denied destination (proto, address, port) is new, i.e. to be logged. Once
 * NET_DENIED_SLOTS are known, returns false, with *full set the one time it fills up. */
bool net_policy_denial_is_new(struct net_policy *p, const struct net_decision *d, bool *full);
/* "tcp 10.0.2.2 port 8080: the host's loopback (allow it with allow_host 8080)" */
void net_policy_describe(const struct net_policy *p, const struct net_decision *d, char *buf,
                         size_t len);

/* The reset (RST|ACK, RFC 9293 3.10.7.1) answering a TCP SYN the guest sent, addressed back
 * to the guest. Returns its length, 0 if syn is not a TCP segment or out is too small. */
size_t net_tcp_reset(const uint8_t *syn, size_t len, uint8_t *out, size_t cap);

#endif
