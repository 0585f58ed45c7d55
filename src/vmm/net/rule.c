// SPDX-License-Identifier: Apache-2.0
/* Network rule parsing (rule.h). Pure and allocation-free: the library and the per-box
 * process both call it, and tests/fuzz/fuzz_net_rule.c feeds it anything. */
#include "vmm/net/rule.h"

#include "vmm/net/vnet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

bool net_prefix_covers(int family, const uint8_t *net, unsigned bits, int afamily,
                       const uint8_t *addr)
{
    if (family != afamily)
        return false;
    unsigned max = family == AF_INET ? 32 : 128;
    if (bits > max)
        return false;
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(net, addr, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net[whole] & mask) == (addr[whole] & mask);
}

bool net_rule_covers(const struct net_rule *r, int family, const uint8_t *addr)
{
    return r->kind == NET_RULE_ADDR && net_prefix_covers(r->family, r->addr, r->prefix, family, addr);
}

bool net_rule_names(const struct net_rule *r, const char *name)
{
    if (r->kind != NET_RULE_NAME)
        return false;
    if (!r->wildcard)
        return strcmp(r->name, name) == 0;
    size_t n = strlen(name), m = strlen(r->name);
    return n > m + 1 && name[n - m - 1] == '.' && strcmp(name + n - m, r->name) == 0;
}

static int bad(struct bl_error *err, const char *text, const char *why)
{
    return bl_err(err, BOXLITE_ERR_INVALID, "\"%s\": %s", text, why);
}

/* A decimal number of 1..max_digits digits, nothing else, at most max. */
static bool parse_num(const char *s, size_t len, unsigned max_digits, unsigned long max,
                      unsigned long *out)
{
    if (len == 0 || len > max_digits)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static int parse_port(const char *text, const char *s, size_t len, uint16_t *port,
                      struct bl_error *err)
{
    unsigned long v;
    if (!parse_num(s, len, 5, 65535, &v) || v == 0)
        return bad(err, text, "the port must be a number from 1 to 65535");
    *port = (uint16_t)v;
    return 0;
}

/* "ADDR" or "ADDR/LEN" (len bytes of s) into r as an address rule. */
static int parse_addr(const char *text, const char *s, size_t len, struct net_rule *r,
                      struct bl_error *err)
{
    char buf[64];
    if (len == 0)
        return bad(err, text, "no address");
    if (len >= sizeof buf)
        return bad(err, text, "not an IP address");
    memcpy(buf, s, len);
    buf[len] = 0;
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = 0;
    r->kind = NET_RULE_ADDR;
    memset(r->addr, 0, sizeof r->addr);
    if (inet_pton(AF_INET, buf, r->addr) == 1)
        r->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, r->addr) == 1)
        r->family = AF_INET6;
    else
        return bad(err, text, "not an IP address");
    unsigned long bits = r->family == AF_INET ? 32 : 128;
    if (slash && !parse_num(slash + 1, strlen(slash + 1), 3, bits, &bits))
        return bad(err, text, r->family == AF_INET
                                  ? "the prefix length must be a number from 0 to 32"
                                  : "the prefix length must be a number from 0 to 128");
    r->prefix = (uint8_t)bits;
    /* host bits set: "10.1.0.0/8" says two things; refuse rather than guess */
    unsigned max = r->family == AF_INET ? 4 : 16;
    for (unsigned i = 0; i < max; i++) {
        unsigned first = i * 8;
        uint8_t keep = first >= bits ? 0 : first + 8 <= bits ? 0xff : (uint8_t)(0xff << (8 - (bits - first)));
        if (r->addr[i] & (uint8_t)~keep)
            return bad(err, text, "the address has bits set beyond its prefix length");
    }
    return 0;
}

/* Rules that could only ever name the host itself or the box's virtual network: refused
 * with the option that does what was meant. */
static int check_reachable(const char *text, const struct net_rule *r, struct bl_error *err)
{
    static const struct { int family; const char *net; unsigned bits; const char *why; } own[] = {
        { AF_INET, "127.0.0.0", 8, "is the host's loopback: use allow_host PORT" },
        { AF_INET, "0.0.0.0", 8, "is the host itself: use allow_host PORT" },
        { AF_INET6, "::1", 128, "is the host's loopback: use allow_host PORT" },
        { AF_INET6, "::", 128, "is the host itself: use allow_host PORT" },
        { AF_INET6, "::ffff:127.0.0.0", 104, "is the host's loopback: use allow_host PORT" },
        { AF_INET6, "::ffff:0.0.0.0", 104, "is the host itself: use allow_host PORT" },
        { AF_INET, VNET_NETWORK, VNET_PREFIX_BITS,
          "is the box's own virtual network (its gateway is the host: use allow_host PORT)" },
        { AF_INET6, VNET_PREFIX6, VNET_PREFIX6_BITS,
          "is the box's own virtual network (its gateway is the host: use allow_host PORT)" },
    };
    if (r->kind == NET_RULE_NAME) {
        size_t n = strlen(r->name);
        if (strcmp(r->name, "localhost") == 0 ||
            (n > 10 && strcmp(r->name + n - 10, ".localhost") == 0))
            return bad(err, text, "is the host's loopback: use allow_host PORT");
        return 0;
    }
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        uint8_t net[16] = { 0 };
        inet_pton(own[i].family, own[i].net, net);
        /* the rule's whole range lies inside this one */
        if (r->prefix >= own[i].bits &&
            net_prefix_covers(own[i].family, net, own[i].bits, r->family, r->addr))
            return bad(err, text, own[i].why);
    }
    return 0;
}

static bool is_label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* A host name into r as a name rule (s is len bytes, not NUL-terminated). */
static int parse_name(const char *text, const char *s, size_t len, struct net_rule *r,
                      struct bl_error *err)
{
    r->kind = NET_RULE_NAME;
    r->wildcard = false;
    if (len >= 2 && s[0] == '*' && s[1] == '.') {
        r->wildcard = true;
        s += 2;
        len -= 2;
    }
    if (len > 0 && s[len - 1] == '.')
        len--; /* "example.com." is the same name */
    if (len == 0)
        return bad(err, text, "no host name");
    if (len > NET_NAME_MAX)
        return bad(err, text, "the host name is longer than 253 bytes");
    size_t label = 0;
    bool all_digits = true;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        r->name[i] = c;
        if (c == '.') {
            if (label == 0)
                return bad(err, text, "empty label in the host name");
            label = 0;
            all_digits = true;
            continue;
        }
        if (!is_label_char(c))
            return bad(err, text,
                       "not an IP address, and a host name has only letters, digits, '-', '_' "
                       "and dots");
        if (++label > 63)
            return bad(err, text, "a label of the host name is longer than 63 bytes");
        all_digits &= c >= '0' && c <= '9';
    }
    if (label == 0)
        return bad(err, text, "empty label in the host name");
    if (all_digits)
        return bad(err, text, "not an IP address (and a host name's last label is not a number)");
    r->name[len] = 0;
    return 0;
}

int net_rule_parse(const char *text, struct net_rule *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return bl_err(err, BOXLITE_ERR_INVALID, "empty rule");
    size_t n = strnlen(text, NET_RULE_TEXT_MAX + 1);
    if (n > NET_RULE_TEXT_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "rule \"%.40s...\": longer than %d bytes", text,
                      NET_RULE_TEXT_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] <= ' ' || (unsigned char)text[i] >= 0x7f)
            return bad(err, text, "contains a space or a control character");

    const char *host = text, *port = NULL;
    size_t hostlen = n;
    int rc;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return bad(err, text, "no ']' after the IPv6 address");
        host = text + 1;
        hostlen = (size_t)(close - host);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return bad(err, text, "only \":PORT\" may follow ']'");
        rc = parse_addr(text, host, hostlen, out, err);
        if (rc == 0 && out->family != AF_INET6)
            return bad(err, text, "brackets are for IPv6 addresses");
    } else {
        const char *colon = strchr(text, ':');
        if (colon && strchr(colon + 1, ':')) {
            /* a bare IPv6 address or prefix: its colons leave no room for a port */
            rc = parse_addr(text, text, n, out, err);
        } else {
            if (colon) {
                hostlen = (size_t)(colon - text);
                port = colon + 1;
            }
            uint8_t probe[4];
            char head[20] = "";
            size_t headlen = strcspn(host, "/:");
            if (headlen < sizeof head) {
                memcpy(head, host, headlen);
                head[headlen] = 0;
            }
            if (memchr(host, '/', hostlen) || inet_pton(AF_INET, head, probe) == 1)
                rc = parse_addr(text, host, hostlen, out, err);
            else
                rc = parse_name(text, host, hostlen, out, err);
        }
    }
    if (rc < 0)
        return rc;
    if (port && (rc = parse_port(text, port, strlen(port), &out->port, err)) < 0)
        return rc;
    return check_reachable(text, out, err);
}

void net_rule_format(const struct net_rule *r, char *buf, size_t len)
{
    char port[8] = "";
    if (r->port)
        snprintf(port, sizeof port, ":%u", r->port);
    if (r->kind == NET_RULE_NAME) {
        snprintf(buf, len, "%s%s%s", r->wildcard ? "*." : "", r->name, port);
        return;
    }
    char a[INET6_ADDRSTRLEN] = "";
    inet_ntop(r->family, r->addr, a, sizeof a);
    char pfx[8] = "";
    if (r->prefix != (r->family == AF_INET ? 32 : 128))
        snprintf(pfx, sizeof pfx, "/%u", r->prefix);
    if (r->family == AF_INET6 && r->port)
        snprintf(buf, len, "[%s%s]%s", a, pfx, port);
    else
        snprintf(buf, len, "%s%s%s", a, pfx, port);
}

int net_host_port_parse(const char *text, struct net_host_port *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return bl_err(err, BOXLITE_ERR_INVALID, "empty host port");
    size_t n = strnlen(text, 16);
    const char *slash = memchr(text, '/', n);
    size_t numlen = slash ? (size_t)(slash - text) : n;
    if (n >= 16)
        return bl_err(err, BOXLITE_ERR_INVALID, "host port \"%.16s...\": too long", text);
    if (slash) {
        if (strcmp(slash + 1, "udp") == 0)
            out->udp = true;
        else if (strcmp(slash + 1, "tcp") != 0)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "host port \"%s\": the protocol must be tcp or udp", text);
    }
    unsigned long v;
    if (!parse_num(text, numlen, 5, 65535, &v) || v == 0)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "host port \"%s\": expected PORT[/udp], a port from 1 to 65535", text);
    out->port = (uint16_t)v;
    return 0;
}

void net_host_port_format(const struct net_host_port *h, char *buf, size_t len)
{
    snprintf(buf, len, "%u/%s", h->port, h->udp ? "udp" : "tcp");
}
