// SPDX-License-Identifier: Apache-2.0
/* A box's network rules as its owner writes them (--allow-net / --deny-net RULE,
 * --allow-host PORT[/udp]): parsed and checked here, once, for the library (which refuses a
 * bad rule at create) and for the per-box process (src/vmm/net/policy.c applies them).
 *
 *   RULE  = ADDR | ADDR "/" LEN | NAME | "*." NAME, each optionally ":" PORT
 *   ADDR  = an IPv4 address (dotted quad), or an IPv6 address, in brackets when a port or a
 *           prefix length follows it inside them: "[2001:db8::1]:443", "[2001:db8::/32]:443";
 *           without brackets an IPv6 address or prefix takes no port ("2001:db8::/32")
 *   NAME  = a DNS host name (labels of letters, digits, '-' and '_', at most 63 bytes each,
 *           253 in all; the last label not all digits); "*.example.com" matches every name
 *           below example.com, not example.com itself
 *   PORT  = 1..65535; no port means every port. A port applies to TCP and UDP alike.
 *
 * A prefix must not have host bits set ("10.1.0.0/8" is refused, it is ambiguous). Rules that
 * only name the host's loopback (127.0.0.0/8, ::1, 0.0.0.0/8, ::, "localhost") are refused:
 * that is what allow_host is for. */
#ifndef VMM_NET_RULE_H
#define VMM_NET_RULE_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_RULE_TEXT_MAX 300 /* longer input is refused */
#define NET_NAME_MAX 253      /* RFC 1035 2.3.4, without the final dot */
#define NET_RULES_MAX 256     /* per list, for the library and the config alike */

enum net_rule_kind { NET_RULE_ADDR, NET_RULE_NAME };

struct net_rule {
    enum net_rule_kind kind;
    int family;          /* NET_RULE_ADDR: AF_INET or AF_INET6 */
    uint8_t addr[16];    /* network byte order; IPv4 in the first 4 bytes */
    uint8_t prefix;      /* bits: 32 or 128 for one address */
    bool wildcard;       /* NET_RULE_NAME: "*.name", names strictly below name */
    uint16_t port;       /* 0 = every port */
    char name[NET_NAME_MAX + 1]; /* NET_RULE_NAME: lower case, no final dot */
};

/* One host loopback port the box may reach (through the slirp host address). */
struct net_host_port {
    uint16_t port;
    bool udp;
};

/* Parses one rule. The error names the rule: "\"x..y\": empty label in the host name". */
int net_rule_parse(const char *text, struct net_rule *out, struct bl_error *err);
/* The rule in canonical text (what net_rule_parse reads back to the same rule). */
void net_rule_format(const struct net_rule *r, char *buf, size_t len);
/* Whether an address (family AF_INET/AF_INET6, bytes in network order) is in the rule's
 * range. Name rules match no address here (see policy.c: their addresses are learned). */
bool net_rule_covers(const struct net_rule *r, int family, const uint8_t *addr);
/* Whether a host name (lower case, no final dot) is what a name rule names. */
bool net_rule_names(const struct net_rule *r, const char *name);
/* Whether addr is in family/prefix/len (the helper behind every range test). */
bool net_prefix_covers(int family, const uint8_t *net, unsigned bits, int afamily,
                       const uint8_t *addr);

/* "5432", "5432/tcp", "53/udp". */
int net_host_port_parse(const char *text, struct net_host_port *out, struct bl_error *err);
void net_host_port_format(const struct net_host_port *h, char *buf, size_t len);

#endif
