// SPDX-License-Identifier: Apache-2.0
/* The network policy on crafted frames: rule parsing, the default ranges, the virtual
 * network (gateway = host loopback, DNS), allow_host, allow and deny rules, host names
 * learned from DNS replies, fragments, ICMP, malformed frames, UDP replies, flow counting,
 * the log's once-per-destination memory, and the reset sent for a refused SYN. */
#include "vmm/net/policy.h"

#include "common/cleanup.h"
#include "harness/harness.h"
#include "unit/vmm/dns_build.h"
#include "unit/vmm/net_frames.h"

#include <sys/socket.h>

static uint8_t f[4096];
static uint64_t now = 1000000;

static struct net_policy *policy(const char *const *allow, const char *const *deny,
                                 const struct net_host_port *host, unsigned nhost)
{
    static struct net_rule a[16], d[16];
    unsigned na = 0, nd = 0;
    struct bl_error err = { 0 };
    for (; allow && allow[na]; na++)
        if (net_rule_parse(allow[na], &a[na], &err) < 0)
            fprintf(stderr, "%s\n", err.msg);
    for (; deny && deny[nd]; nd++)
        if (net_rule_parse(deny[nd], &d[nd], &err) < 0)
            fprintf(stderr, "%s\n", err.msg);
    struct net_policy_cfg cfg = { .allow = a, .nallow = na, .deny = d, .ndeny = nd,
                                  .host = host, .nhost = nhost };
    struct net_policy *p = NULL;
    if (net_policy_new(&p, &cfg, &err) < 0)
        fprintf(stderr, "%s\n", err.msg);
    return p;
}

static struct net_decision dec;
static bool csum_ok_tcp(const uint8_t *r, bool v6);

static enum net_verdict tcp(struct net_policy *p, const char *dst, uint16_t port)
{
    size_t n = nf_syn(f, dst, 40000, port);
    net_policy_check(p, f, n, now, &dec);
    return dec.verdict;
}

static enum net_verdict udp(struct net_policy *p, const char *dst, uint16_t sport,
                            uint16_t port)
{
    size_t n = nf_udp(f, dst, sport, port, "x", 1);
    net_policy_check(p, f, n, now, &dec);
    return dec.verdict;
}

/* ---- rules --------------------------------------------------------------------------- */

TEST(rules_parse_to_their_canonical_form)
{
    static const char *const ok[][2] = {
        { "198.51.100.7", "198.51.100.7" },
        { "198.51.100.0/24", "198.51.100.0/24" },
        { "198.51.100.7:443", "198.51.100.7:443" },
        { "198.51.100.0/24:53", "198.51.100.0/24:53" },
        { "0.0.0.0/0", "0.0.0.0/0" },
        { "2001:db8::1", "2001:db8::1" },
        { "2001:DB8::/32", "2001:db8::/32" },
        { "[2001:db8::1]:443", "[2001:db8::1]:443" },
        { "[2001:db8::/32]:443", "[2001:db8::/32]:443" },
        { "[2001:db8::1]", "2001:db8::1" },
        { "::/0", "::/0" },
        { "API.Example.com", "api.example.com" },
        { "api.example.com.:443", "api.example.com:443" },
        { "*.example.com", "*.example.com" },
        { "_srv.example-1.com:8080", "_srv.example-1.com:8080" },
        { "db", "db" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        struct net_rule r;
        struct bl_error err = { 0 };
        char out[NET_RULE_TEXT_MAX + 16];
        CHECK(net_rule_parse(ok[i][0], &r, &err) == 0);
        net_rule_format(&r, out, sizeof out);
        CHECK_STR(out, ok[i][1]);
        struct net_rule again;
        CHECK(net_rule_parse(out, &again, &err) == 0);
        CHECK(memcmp(&again, &r, sizeof r) == 0);
    }
}

TEST(bad_rules_are_refused_by_name)
{
    static const char *const bad[][2] = {
        { "", "empty" },
        { "1.2.3", "not an IP address" },
        { "1.2.3.4/33", "from 0 to 32" },
        { "10.1.0.0/8", "bits set beyond" },
        { "2001:db8::1/129", "prefix length" },
        { "1.2.3.4:0", "port" },
        { "1.2.3.4:65536", "port" },
        { "1.2.3.4:http", "port" },
        { "example.com:", "port" },
        { "[2001:db8::1", "']'" },
        { "[1.2.3.4]:80", "brackets" },
        { "[2001:db8::1]x", "only \":PORT\"" },
        { "a..b", "empty label" },
        { ".example.com", "empty label" },
        { "exa mple.com", "space" },
        { "ex\x01" "ample.com", "control" },
        { "ex/ample.com", "not an IP address" },
        { "bad!name.com", "host name" },
        { "*.", "no host name" },
        { "127.0.0.1", "allow_host" },
        { "127.0.0.0/8:5432", "allow_host" },
        { "0.0.0.0", "allow_host" },
        { "::1", "allow_host" },
        { "[::]:80", "allow_host" },
        { "::ffff:127.0.0.1", "allow_host" },
        { "localhost", "allow_host" },
        { "db.localhost:5432", "allow_host" },
        { "10.0.2.2", "virtual network" },
        { "10.0.2.0/24", "virtual network" },
        { "fec0::2", "virtual network" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct net_rule r;
        struct bl_error err = { 0 };
        CHECK(net_rule_parse(bad[i][0], &r, &err) < 0);
        CHECK_EQ(err.code, BOXLITE_ERR_INVALID);
        if (!strstr(err.msg, bad[i][1]) || (bad[i][0][0] && !strstr(err.msg, "\"")))
            fprintf(stderr, "rule \"%s\": %s\n", bad[i][0], err.msg);
        CHECK(strstr(err.msg, bad[i][1]) != NULL);
    }
    /* the message quotes the rule */
    struct net_rule r;
    struct bl_error err = { 0 };
    CHECK(net_rule_parse("a..b", &r, &err) < 0);
    CHECK(strstr(err.msg, "\"a..b\"") != NULL);
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK(net_rule_parse(longname, &r, &err) < 0);
    CHECK(net_rule_parse(NULL, &r, &err) < 0);
    /* a 64-byte label, a 254-byte name */
    char label[80] = "";
    memset(label, 'b', 64);
    strcat(label, ".com");
    CHECK(net_rule_parse(label, &r, &err) < 0);
    char name[300] = "";
    for (int i = 0; i < 51; i++)
        strcat(name, "abcd.");
    strcat(name, "com");
    CHECK(net_rule_parse(name, &r, &err) < 0);
    CHECK(strstr(err.msg, "253") != NULL);
}

TEST(host_ports_parse)
{
    struct net_host_port h;
    struct bl_error err = { 0 };
    CHECK(net_host_port_parse("5432", &h, &err) == 0 && h.port == 5432 && !h.udp);
    CHECK(net_host_port_parse("53/udp", &h, &err) == 0 && h.port == 53 && h.udp);
    CHECK(net_host_port_parse("80/tcp", &h, &err) == 0 && h.port == 80 && !h.udp);
    char out[32];
    net_host_port_format(&h, out, sizeof out);
    CHECK_STR(out, "80/tcp");
    static const char *const bad[] = { "", "0", "65536", "80/sctp", "-1", "8o", "80/", "/udp",
                                       "123456789012345678" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        CHECK(net_host_port_parse(bad[i], &h, &err) < 0);
    CHECK(net_host_port_parse(NULL, &h, &err) < 0);
}

/* ---- the default policy --------------------------------------------------------------- */

TEST(default_policy)
{
    struct net_policy *p = policy(NULL, NULL, NULL, 0);
    REQUIRE(p);
    static const struct {
        const char *dst;
        uint16_t port;
        enum net_verdict v;
        enum net_why why;
    } cases[] = {
        { "93.184.216.34", 80, NET_PASS, NET_WHY_NONE },
        { "198.51.100.1", 8080, NET_PASS, NET_WHY_NONE },
        { "10.0.2.2", 8080, NET_DENY_RST, NET_WHY_GATEWAY },
        { "10.0.2.3", 53, NET_PASS, NET_WHY_NONE },
        { "10.0.2.3", 80, NET_DENY_RST, NET_WHY_VNET },
        { "10.0.2.99", 80, NET_DENY_RST, NET_WHY_VNET },
        { "10.0.2.255", 80, NET_DENY_RST, NET_WHY_VNET },
        { "255.255.255.255", 80, NET_DENY_RST, NET_WHY_GATEWAY },
        { "127.0.0.1", 80, NET_DENY_RST, NET_WHY_HOST },
        { "127.9.9.9", 80, NET_DENY_RST, NET_WHY_HOST },
        { "0.0.0.0", 80, NET_DENY_RST, NET_WHY_HOST },
        { "169.254.169.254", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "10.1.2.3", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "172.16.0.1", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "172.31.255.255", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "172.32.0.1", 80, NET_PASS, NET_WHY_NONE },
        { "192.168.1.1", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "100.64.0.1", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "100.128.0.1", 80, NET_PASS, NET_WHY_NONE },
        { "224.0.0.251", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "240.0.0.1", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "fec0::2", 8080, NET_DENY_RST, NET_WHY_GATEWAY },
        { "fec0::99", 80, NET_DENY_RST, NET_WHY_GATEWAY },
        { "fec0::3", 53, NET_PASS, NET_WHY_NONE },
        { "fec0::3", 80, NET_DENY_RST, NET_WHY_VNET },
        { "::1", 80, NET_DENY_RST, NET_WHY_HOST },
        { "::", 80, NET_DENY_RST, NET_WHY_HOST },
        { "ff02::1", 80, NET_DENY_RST, NET_WHY_GATEWAY },
        { "ff05::1", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "fe80::1", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "fd12::1", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "fec1::1", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "::1.2.3.4", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "2001:db8::1", 80, NET_PASS, NET_WHY_NONE },
        { "::ffff:127.0.0.1", 80, NET_DENY_RST, NET_WHY_HOST },
        { "::ffff:10.0.2.2", 80, NET_DENY_RST, NET_WHY_GATEWAY },
        { "::ffff:169.254.169.254", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "::ffff:93.184.216.34", 80, NET_PASS, NET_WHY_NONE },
        { "64:ff9b::a9fe:a9fe", 80, NET_DENY_RST, NET_WHY_DEFAULT },
        { "64:ff9b::7f00:1", 80, NET_DENY_RST, NET_WHY_HOST },
        { "64:ff9b::5db8:d822", 80, NET_PASS, NET_WHY_NONE },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        tcp(p, cases[i].dst, cases[i].port);
        if (dec.verdict != cases[i].v || dec.why != cases[i].why)
            fprintf(stderr, "tcp %s port %u: verdict %d why %d\n", cases[i].dst, cases[i].port,
                    dec.verdict, dec.why);
        CHECK_EQ(dec.verdict, cases[i].v);
        CHECK_EQ(dec.why, cases[i].why);
        CHECK(dec.attempt);
        /* UDP: the same answer, dropped rather than reset */
        udp(p, cases[i].dst, 50000, cases[i].port);
        CHECK_EQ(dec.verdict, cases[i].v == NET_PASS ? NET_PASS : NET_DENY);
        CHECK_EQ(dec.why, cases[i].why);
    }
    net_policy_free(p);
    net_policy_free(NULL);
}

TEST(allow_host_opens_one_gateway_port)
{
    struct net_host_port h[] = { { 8080, false }, { 53, true } };
    struct net_policy *p = policy(NULL, NULL, h, 2);
    REQUIRE(p);
    CHECK_EQ(tcp(p, "10.0.2.2", 8080), NET_PASS);
    CHECK_EQ(tcp(p, "fec0::2", 8080), NET_PASS);
    CHECK_EQ(tcp(p, "10.0.2.2", 8081), NET_DENY_RST);
    CHECK_EQ(udp(p, "10.0.2.2", 5000, 8080), NET_DENY); /* TCP only */
    CHECK_EQ(udp(p, "10.0.2.2", 5000, 53), NET_PASS);
    CHECK_EQ(tcp(p, "10.0.2.2", 53), NET_DENY_RST);      /* UDP only */
    CHECK_EQ(udp(p, "255.255.255.255", 5000, 53), NET_DENY); /* not through broadcast */
    CHECK_EQ(tcp(p, "fec0::99", 8080), NET_DENY_RST);   /* nor another prefix address */
    CHECK_EQ(tcp(p, "10.0.2.99", 8080), NET_DENY_RST);
    CHECK_EQ(tcp(p, "127.0.0.1", 8080), NET_DENY_RST);  /* the loopback itself: never */
    net_policy_free(p);
}

TEST(an_allow_list_denies_everything_else)
{
    const char *allow[] = { "198.51.100.7:443", "2001:db8::/32", NULL };
    struct net_policy *p = policy(allow, NULL, NULL, 0);
    REQUIRE(p);
    CHECK_EQ(tcp(p, "198.51.100.7", 443), NET_PASS);
    CHECK_EQ(udp(p, "198.51.100.7", 5000, 443), NET_PASS);
    CHECK_EQ(tcp(p, "198.51.100.7", 80), NET_DENY_RST);
    CHECK_EQ(dec.why, NET_WHY_NOT_ALLOWED);
    CHECK_EQ(tcp(p, "93.184.216.34", 443), NET_DENY_RST);
    CHECK_EQ(tcp(p, "2001:db8:1::5", 1), NET_PASS);
    CHECK_EQ(tcp(p, "10.0.2.3", 53), NET_PASS); /* DNS stays */
    net_policy_free(p);
    /* allowing everything still leaves the host and the gateway out */
    const char *all[] = { "0.0.0.0/0", "::/0", NULL };
    p = policy(all, NULL, NULL, 0);
    REQUIRE(p);
    CHECK_EQ(tcp(p, "10.1.1.1", 80), NET_PASS); /* explicitly: private ranges too */
    CHECK_EQ(tcp(p, "10.0.2.2", 80), NET_DENY_RST);
    CHECK_EQ(tcp(p, "127.0.0.1", 80), NET_DENY_RST);
    CHECK_EQ(tcp(p, "::1", 80), NET_DENY_RST);
    CHECK_EQ(tcp(p, "::ffff:127.0.0.1", 80), NET_DENY_RST);
    CHECK_EQ(udp(p, "ff02::1", 5000, 80), NET_DENY);
    net_policy_free(p);
}

TEST(deny_rules_win)
{
    const char *deny[] = { "93.184.216.0/24", "198.51.100.9:25", "::ffff:198.51.100.10", NULL };
    const char *allow[] = { "93.184.216.34", "198.51.100.0/24", NULL };
    struct net_policy *p = policy(NULL, deny, NULL, 0);
    REQUIRE(p);
    CHECK_EQ(tcp(p, "93.184.216.34", 80), NET_DENY_RST);
    CHECK_EQ(dec.why, NET_WHY_DENY_RULE);
    CHECK_EQ(dec.rule, 0);
    CHECK_EQ(tcp(p, "198.51.100.9", 25), NET_DENY_RST);
    CHECK_EQ(dec.rule, 1);
    CHECK_EQ(tcp(p, "198.51.100.9", 80), NET_PASS);
    CHECK_EQ(tcp(p, "198.51.100.10", 80), NET_DENY_RST); /* a mapped rule is an IPv4 rule */
    char line[256];
    tcp(p, "93.184.216.34", 80);
    net_policy_describe(p, &dec, line, sizeof line);
    CHECK(strstr(line, "deny_net 93.184.216.0/24") != NULL);
    net_policy_free(p);
    p = policy(allow, deny, NULL, 0);
    REQUIRE(p);
    CHECK_EQ(tcp(p, "93.184.216.34", 80), NET_DENY_RST);
    CHECK_EQ(tcp(p, "198.51.100.9", 25), NET_DENY_RST);
    CHECK_EQ(tcp(p, "198.51.100.9", 26), NET_PASS);
    net_policy_free(p);
}

/* ---- protocols ----------------------------------------------------------------------- */

static enum net_verdict echo(struct net_policy *p, const char *dst, uint8_t type)
{
    uint8_t icmp[8] = { type, 0, 0, 0, 0x12, 0x34, 0, 1 };
    nf_put16(icmp + 2, nf_fold(nf_sum16(icmp, 8, 0)));
    size_t n = nf_ipv4(f, nf_gw_mac, "10.0.2.15", dst, 1, icmp, sizeof icmp);
    net_policy_check(p, f, n, now, &dec);
    return dec.verdict;
}

TEST(icmp_echo)
{
    const char *deny[] = { "198.51.100.9:80", NULL };
    struct net_policy *p = policy(NULL, deny, NULL, 0);
    REQUIRE(p);
    CHECK_EQ(echo(p, "93.184.216.34", 8), NET_PASS);
    CHECK(dec.attempt);
    CHECK_EQ(echo(p, "10.0.2.2", 8), NET_PASS); /* answered by libslirp itself */
    CHECK(!dec.attempt);
    CHECK_EQ(echo(p, "127.0.0.1", 8), NET_DENY);
    CHECK_EQ(echo(p, "169.254.169.254", 8), NET_DENY);
    /* a deny rule on one port of the address: libslirp may echo through UDP port 7 */
    CHECK_EQ(echo(p, "198.51.100.9", 8), NET_DENY);
    CHECK_EQ(echo(p, "198.51.100.10", 8), NET_PASS);
    CHECK_EQ(echo(p, "93.184.216.34", 0), NET_DROP); /* only echo requests */
    CHECK_EQ(echo(p, "93.184.216.34", 3), NET_DROP);
    net_policy_free(p);
    const char *allow[] = { "198.51.100.7:443", NULL };
    p = policy(allow, NULL, NULL, 0);
    REQUIRE(p);
    CHECK_EQ(echo(p, "198.51.100.7", 8), NET_DENY);
    net_policy_free(p);

    /* ICMPv6: NDP passes, an echo only to the gateway (libslirp 4.7 forwards none) */
    p = policy(NULL, NULL, NULL, 0);
    uint8_t ns[24] = { 135 };
    size_t n = nf_ipv6(f, nf_bcast_mac, "::", "ff02::1:ff00:2", 58, ns, sizeof ns);
    net_policy_check(p, f, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_PASS);
    uint8_t rs[8] = { 133 };
    n = nf_ipv6(f, nf_bcast_mac, "fe80::1", "ff02::2", 58, rs, sizeof rs);
    net_policy_check(p, f, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_PASS);
    uint8_t e6[8] = { 128 };
    n = nf_ipv6(f, nf_gw_mac, "fec0::5", "fec0::2", 58, e6, sizeof e6);
    net_policy_check(p, f, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_PASS);
    n = nf_ipv6(f, nf_gw_mac, "fec0::5", "2001:db8::1", 58, e6, sizeof e6);
    net_policy_check(p, f, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    net_policy_free(p);
}

/* A UDP datagram's IPv4 fragment: offset (8-byte units) and the more-fragments bit. */
static enum net_verdict fragment(struct net_policy *p, const char *dst, uint16_t off, bool mf,
                                 uint8_t proto)
{
    uint8_t l4[16] = { 0 };
    size_t n = nf_ipv4(f, nf_gw_mac, "10.0.2.15", dst, proto, l4, sizeof l4);
    uint8_t *ip = f + 14;
    nf_put16(ip + 6, (uint16_t)((mf ? 0x2000 : 0) | off));
    nf_put16(ip + 10, 0);
    nf_put16(ip + 10, nf_fold(nf_sum16(ip, 20, 0)));
    net_policy_check(p, f, n, now, &dec);
    return dec.verdict;
}

TEST(fragments_need_every_port)
{
    struct net_policy *p = policy(NULL, NULL, NULL, 0);
    REQUIRE(p);
    CHECK_EQ(fragment(p, "93.184.216.34", 0, true, 17), NET_PASS);
    CHECK(dec.fragment);
    CHECK_EQ(fragment(p, "93.184.216.34", 185, false, 17), NET_PASS);
    CHECK_EQ(fragment(p, "10.0.2.3", 0, true, 17), NET_DENY); /* not even DNS */
    CHECK_EQ(fragment(p, "10.0.2.2", 4, false, 6), NET_DENY);  /* a TCP fragment: no reset */
    CHECK_EQ(fragment(p, "127.0.0.1", 4, false, 1), NET_DENY);
    CHECK_EQ(fragment(p, "93.184.216.34", 4, false, 47), NET_DROP); /* GRE: libslirp has none */
    /* the reserved flag bit also makes libslirp reassemble: judged as a fragment */
    size_t n = nf_syn(f, "10.0.2.2", 1, 80);
    nf_put16(f + 14 + 6, 0x8000);
    nf_put16(f + 14 + 10, 0);
    nf_put16(f + 14 + 10, nf_fold(nf_sum16(f + 14, 20, 0)));
    net_policy_check(p, f, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DENY);
    CHECK(dec.fragment);
    /* DF alone is not a fragment */
    n = nf_syn(f, "93.184.216.34", 1, 80);
    nf_put16(f + 14 + 6, 0x4000);
    nf_put16(f + 14 + 10, 0);
    nf_put16(f + 14 + 10, nf_fold(nf_sum16(f + 14, 20, 0)));
    net_policy_check(p, f, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_PASS);
    CHECK(!dec.fragment);
    net_policy_free(p);

    const char *deny[] = { "93.184.216.34:53", NULL };
    p = policy(NULL, deny, NULL, 0);
    CHECK_EQ(fragment(p, "93.184.216.34", 0, true, 17), NET_DENY); /* could be port 53 */
    net_policy_free(p);
    const char *allow_port[] = { "198.51.100.7:443", NULL };
    p = policy(allow_port, NULL, NULL, 0);
    CHECK_EQ(fragment(p, "198.51.100.7", 0, true, 17), NET_DENY);
    net_policy_free(p);
    const char *allow_all[] = { "198.51.100.7", NULL };
    p = policy(allow_all, NULL, NULL, 0);
    CHECK_EQ(fragment(p, "198.51.100.7", 0, true, 17), NET_PASS);
    net_policy_free(p);
}

TEST(malformed_frames_are_dropped)
{
    struct net_policy *p = policy(NULL, NULL, NULL, 0);
    REQUIRE(p);
    size_t n = nf_syn(f, "93.184.216.34", 1, 80);
    uint8_t g[256];
    /* every truncation of a SYN */
    for (size_t len = 0; len < n; len++) {
        memcpy(g, f, len);
        net_policy_check(p, g, len, now, &dec);
        CHECK_EQ(dec.verdict, NET_DROP);
    }
    net_policy_check(p, NULL, 0, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    /* IHL below 5, above the total length; a bad header checksum; total past the frame */
    memcpy(g, f, n);
    g[14] = 0x44;
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    memcpy(g, f, n);
    g[14] = 0x4f;
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    memcpy(g, f, n);
    g[14 + 10] ^= 1;
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    memcpy(g, f, n);
    nf_put16(g + 14 + 2, 200);
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    /* TCP data offset below 5 or past the segment */
    memcpy(g, f, n);
    g[14 + 20 + 12] = 4 << 4;
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    memcpy(g, f, n);
    g[14 + 20 + 12] = 15 << 4;
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    /* padding after the datagram is fine (short frames are padded to 60 bytes) */
    memcpy(g, f, n);
    memset(g + n, 0, 20);
    net_policy_check(p, g, n + 20, now, &dec);
    CHECK_EQ(dec.verdict, NET_PASS);
    /* IPv6: payload past the frame; extension headers (hop-by-hop, fragment) */
    n = nf_syn(f, "2001:db8::1", 1, 80);
    memcpy(g, f, n);
    nf_put16(g + 14 + 4, 100);
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    memcpy(g, f, n);
    g[14 + 6] = 0;
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    g[14 + 6] = 44;
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    memcpy(g, f, n);
    g[14] = 0x40; /* version 4 in an IPv6 frame */
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    /* other ethertypes drop; ARP passes */
    memcpy(g, f, n);
    nf_put16(g + 12, 0x88f8); /* NC-SI */
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    nf_put16(g + 12, 0x0806);
    net_policy_check(p, g, 42, now, &dec);
    CHECK_EQ(dec.verdict, NET_PASS);
    /* a runt UDP header */
    uint8_t u[4] = { 0 };
    n = nf_ipv4(f, nf_gw_mac, "10.0.2.15", "93.184.216.34", 17, u, sizeof u);
    net_policy_check(p, f, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DROP);
    net_policy_free(p);
}

/* A SYN whose IPv4 header carries 4 bytes of options (four NOPs): the ports are after them. */
static size_t syn_with_options(uint8_t *g, const char *dst, uint16_t dport)
{
    uint8_t t[20];
    nf_tcp(t, 40000, dport, 7, 0x02);
    uint8_t l4[24];
    memcpy(l4 + 4, t, 20);
    /* built as protocol 0 (no checksum filled in the wrong place), then made TCP */
    size_t n = nf_ipv4(g, nf_gw_mac, "10.0.2.15", dst, 0, l4, sizeof l4);
    uint8_t *ip = g + 14;
    memset(ip + 20, 1, 4); /* NOP NOP NOP NOP where the first 4 "payload" bytes were */
    ip[0] = 0x46;
    ip[9] = 6;
    nf_put16(ip + 10, 0);
    nf_put16(ip + 10, nf_fold(nf_sum16(ip, 24, 0)));
    /* the TCP checksum over the segment after the options */
    nf_l4_csum(false, ip + 12, ip + 16, 6, ip + 24, 20);
    return n;
}

TEST(ipv4_options_are_stepped_over)
{
    struct net_policy *p = policy(NULL, NULL, NULL, 0);
    uint8_t g[128], r[128];
    size_t n = syn_with_options(g, "10.0.2.2", 8080);
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DENY_RST);
    CHECK_EQ(dec.port, 8080);
    size_t rn = net_tcp_reset(g, n, r, sizeof r);
    REQUIRE(rn == 14 + 20 + 20);
    CHECK_EQ(r[14], 0x45);
    CHECK_EQ(nf_get16(r + 34), 8080);
    CHECK_EQ(nf_get32(r + 34 + 8), 8);
    CHECK(csum_ok_tcp(r, false));
    n = syn_with_options(g, "93.184.216.34", 443);
    net_policy_check(p, g, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_PASS);
    CHECK_EQ(dec.port, 443);
    net_policy_free(p);
}

TEST(segments_that_open_nothing_pass)
{
    struct net_policy *p = policy(NULL, NULL, NULL, 0);
    uint8_t t[20];
    static const uint8_t flags[] = { 0x10, 0x12, 0x18, 0x04, 0x11, 0x00 };
    for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
        nf_tcp(t, 40000, 8080, 1, flags[i]);
        size_t n = nf_ipv4(f, nf_gw_mac, "10.0.2.15", "10.0.2.2", 6, t, sizeof t);
        net_policy_check(p, f, n, now, &dec);
        CHECK_EQ(dec.verdict, NET_PASS);
        CHECK(!dec.attempt);
    }
    /* SYN with FIN or URG still judged: libslirp refuses those itself, we refuse first */
    nf_tcp(t, 40000, 8080, 1, 0x03);
    size_t n = nf_ipv4(f, nf_gw_mac, "10.0.2.15", "10.0.2.2", 6, t, sizeof t);
    net_policy_check(p, f, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_DENY_RST);
    net_policy_free(p);
}

TEST(dhcp_passes)
{
    struct net_policy *p = policy(NULL, NULL, NULL, 0);
    uint8_t dhcp[8 + 240] = { 0, 68, 0, 67, 0, 248 };
    size_t n = nf_ipv4(f, nf_bcast_mac, "0.0.0.0", "255.255.255.255", 17, dhcp, sizeof dhcp);
    net_policy_check(p, f, n, now, &dec);
    CHECK_EQ(dec.verdict, NET_PASS);
    CHECK(!dec.attempt);
    CHECK_EQ(udp(p, "10.0.2.2", 68, 67), NET_PASS);
    CHECK_EQ(udp(p, "ff02::1:2", 546, 547), NET_PASS);
    CHECK_EQ(udp(p, "255.255.255.255", 68, 68), NET_DENY); /* other broadcasts: the loopback */
    net_policy_free(p);
}

/* A datagram libslirp hands the guest from src:sport to the guest's dport. */
static void inbound_udp(struct net_policy *p, const char *src, uint16_t sport, uint16_t dport)
{
    uint8_t u[9] = { 0 };
    nf_put16(u, sport);
    nf_put16(u + 2, dport);
    nf_put16(u + 4, 9);
    size_t n = nf_ipv4(f, nf_guest_mac, src, "10.0.2.15", 17, u, sizeof u);
    net_policy_observe(p, f, n, now);
}

TEST(udp_replies_only_through_a_forward)
{
    /* a datagram that reached a guest port with no forward opens nothing: libslirp's host
     * sockets take datagrams from anyone who finds their port */
    const char *allow[] = { "198.51.100.7:53", NULL };
    struct net_policy *q = policy(allow, NULL, NULL, 0);
    inbound_udp(q, "203.0.113.9", 4444, 5000);
    CHECK_EQ(udp(q, "203.0.113.9", 5000, 4444), NET_DENY);
    inbound_udp(q, "10.0.2.2", 40123, 5353);
    CHECK_EQ(udp(q, "10.0.2.2", 5353, 40123), NET_DENY);
    net_policy_free(q);

    static const uint16_t fwd[] = { 5353 };
    struct net_policy_cfg cfg = { .udp_forwards = fwd, .nudp_forwards = 1 };
    struct net_policy *p;
    REQUIRE(net_policy_new(&p, &cfg, NULL) == 0);
    inbound_udp(p, "10.0.2.2", 40123, 5353); /* the forward, from the host's loopback */
    CHECK_EQ(udp(p, "10.0.2.2", 5353, 40123), NET_PASS);
    CHECK(!dec.attempt);
    CHECK_EQ(udp(p, "10.0.2.2", 5353, 40124), NET_DENY);
    CHECK_EQ(udp(p, "10.0.2.2", 5354, 40123), NET_DENY);
    CHECK_EQ(tcp(p, "10.0.2.2", 40123), NET_DENY_RST); /* UDP only */
    now += NET_FLOW_MS + 1;
    CHECK_EQ(udp(p, "10.0.2.2", 5353, 40123), NET_DENY); /* forgotten when idle */
    net_policy_free(p);
}

TEST(attempts_count_once_per_flow)
{
    struct net_policy *p = policy(NULL, NULL, NULL, 0);
    tcp(p, "93.184.216.34", 80);
    CHECK(dec.attempt);
    tcp(p, "93.184.216.34", 80); /* a retransmitted SYN */
    CHECK(!dec.attempt);
    udp(p, "127.0.0.1", 5000, 9);
    CHECK(dec.attempt);
    udp(p, "127.0.0.1", 5000, 9);
    CHECK(!dec.attempt);
    udp(p, "127.0.0.1", 5001, 9);
    CHECK(dec.attempt);
    now += NET_FLOW_MS + 1;
    tcp(p, "93.184.216.34", 80);
    CHECK(dec.attempt);
    /* thousands of flows: the table stays bounded and still answers */
    for (unsigned i = 0; i < 5 * NET_FLOW_SLOTS; i++) {
        char dst[32];
        snprintf(dst, sizeof dst, "93.184.%u.%u", (i >> 8) & 255, i & 255);
        tcp(p, dst, (uint16_t)(1 + i % 1000));
        CHECK_EQ(dec.verdict, NET_PASS);
    }
    net_policy_free(p);
}

/* ---- host names ---------------------------------------------------------------------- */

/* The guest asks `to` (the resolver, or not) for qname. */
static void dns_ask(struct net_policy *p, const char *to, const char *qname)
{
    struct dnsb q;
    db_query(&q, qname);
    size_t n = db_query_frame(f, &q, to);
    net_policy_check(p, f, n, now, &dec);
}

/* A reply from `from` (without a question asked first). */
static void dns_reply(struct net_policy *p, const char *from, const char *qname,
                      const char *ip, uint32_t ttl)
{
    struct dnsb d;
    db_begin(&d, qname, 1);
    db_addr(&d, NULL, ip, ttl);
    size_t n = db_frame(f, &d, from);
    net_policy_observe(p, f, n, now);
}

/* The guest asks the resolver, the answer comes back. */
static void dns_answer(struct net_policy *p, const char *from, const char *qname,
                       const char *ip, uint32_t ttl)
{
    dns_ask(p, strchr(from, ':') ? "fec0::3" : "10.0.2.3", qname);
    dns_reply(p, from, qname, ip, ttl);
}

TEST(names_follow_the_boxs_dns_answers)
{
    const char *allow[] = { "api.example.com:443", "*.example.net", NULL };
    struct net_policy *p = policy(allow, NULL, NULL, 0);
    REQUIRE(p);
    CHECK_EQ(tcp(p, "198.51.100.10", 443), NET_DENY_RST); /* not resolved yet */
    dns_answer(p, "10.0.2.3", "api.example.com", "198.51.100.10", 60);
    CHECK_EQ(tcp(p, "198.51.100.10", 443), NET_PASS);
    CHECK_EQ(tcp(p, "198.51.100.10", 80), NET_DENY_RST); /* the rule's port only */
    CHECK_EQ(tcp(p, "198.51.100.11", 443), NET_DENY_RST);
    /* the address changes: the new one is learned from the next answer */
    now += 1000;
    dns_answer(p, "10.0.2.3", "API.example.com", "198.51.100.11", 60);
    CHECK_EQ(tcp(p, "198.51.100.11", 443), NET_PASS);
    CHECK_EQ(tcp(p, "198.51.100.10", 443), NET_PASS); /* kept for a while */
    now += NET_LEARN_MIN_MS - 500;
    CHECK_EQ(tcp(p, "198.51.100.10", 443), NET_DENY_RST); /* expired */
    CHECK_EQ(tcp(p, "198.51.100.11", 443), NET_PASS);
    /* IPv6 answers too, and IPv4-mapped ones become IPv4 */
    dns_answer(p, "fec0::3", "api.example.com", "2001:db8::10", 60);
    CHECK_EQ(tcp(p, "2001:db8::10", 443), NET_PASS);
    dns_answer(p, "10.0.2.3", "api.example.com", "::ffff:198.51.100.12", 60);
    CHECK_EQ(tcp(p, "198.51.100.12", 443), NET_PASS);
    /* a wildcard: names below it, not itself */
    dns_answer(p, "10.0.2.3", "a.b.example.net", "198.51.100.13", 60);
    CHECK_EQ(tcp(p, "198.51.100.13", 80), NET_PASS);
    dns_answer(p, "10.0.2.3", "example.net", "198.51.100.14", 60);
    CHECK_EQ(tcp(p, "198.51.100.14", 80), NET_DENY_RST);
    /* only the box's resolver is believed, only on port 53 */
    dns_answer(p, "198.51.100.1", "api.example.com", "198.51.100.15", 60);
    CHECK_EQ(tcp(p, "198.51.100.15", 443), NET_DENY_RST);
    /* an address in a reply about another name is not learned for this one */
    struct dnsb d;
    dns_ask(p, "10.0.2.3", "evil.test");
    db_begin(&d, "evil.test", 2);
    db_cname(&d, "evil.test", "x.evil.test", 60);
    db_addr(&d, "api.example.com", "198.51.100.16", 60);
    size_t n = db_frame(f, &d, "10.0.2.3");
    net_policy_observe(p, f, n, now);
    CHECK_EQ(tcp(p, "198.51.100.16", 443), NET_DENY_RST);
    /* a CNAME chain from the rule's name */
    dns_ask(p, "10.0.2.3", "api.example.com");
    db_begin(&d, "api.example.com", 2);
    db_addr(&d, "edge.cdn.test", "198.51.100.17", 60);
    db_cname(&d, "api.example.com", "edge.cdn.test", 60);
    n = db_frame(f, &d, "10.0.2.3");
    net_policy_observe(p, f, n, now);
    CHECK_EQ(tcp(p, "198.51.100.17", 443), NET_PASS);
    /* the host is never reachable through a name */
    dns_answer(p, "10.0.2.3", "api.example.com", "127.0.0.1", 60);
    CHECK_EQ(tcp(p, "127.0.0.1", 443), NET_DENY_RST);
    dns_answer(p, "10.0.2.3", "api.example.com", "10.0.2.2", 60);
    CHECK_EQ(tcp(p, "10.0.2.2", 443), NET_DENY_RST);
    net_policy_free(p);
}

TEST(only_answers_to_the_guests_questions_teach)
{
    const char *allow[] = { "api.example.com:443", NULL };
    struct net_policy *p = policy(allow, NULL, NULL, 0);
    REQUIRE(p);
    /* unsolicited (libslirp shows whatever reaches its socket as from the DNS address) */
    dns_reply(p, "10.0.2.3", "api.example.com", "198.51.100.30", 60);
    CHECK_EQ(tcp(p, "198.51.100.30", 443), NET_DENY_RST);
    /* asked for another name */
    dns_ask(p, "10.0.2.3", "other.example.com");
    dns_reply(p, "10.0.2.3", "api.example.com", "198.51.100.31", 60);
    CHECK_EQ(tcp(p, "198.51.100.31", 443), NET_DENY_RST);
    /* asked someone else than the resolver */
    dns_ask(p, "198.51.100.1", "api.example.com");
    dns_reply(p, "10.0.2.3", "api.example.com", "198.51.100.32", 60);
    CHECK_EQ(tcp(p, "198.51.100.32", 443), NET_DENY_RST);
    /* another ID */
    dns_ask(p, "10.0.2.3", "api.example.com");
    struct dnsb d;
    db_begin(&d, "api.example.com", 1);
    db_addr(&d, NULL, "198.51.100.33", 60);
    nf_put16(d.b, 0x4321);
    size_t n = db_frame(f, &d, "10.0.2.3");
    net_policy_observe(p, f, n, now);
    CHECK_EQ(tcp(p, "198.51.100.33", 443), NET_DENY_RST);
    /* the right one; then the same reply again teaches nothing more */
    dns_reply(p, "10.0.2.3", "api.example.com", "198.51.100.34", 60);
    CHECK_EQ(tcp(p, "198.51.100.34", 443), NET_PASS);
    dns_reply(p, "10.0.2.3", "api.example.com", "198.51.100.35", 60);
    CHECK_EQ(tcp(p, "198.51.100.35", 443), NET_DENY_RST);
    /* too late */
    dns_ask(p, "10.0.2.3", "api.example.com");
    now += NET_DNS_QUERY_MS + 1;
    dns_reply(p, "10.0.2.3", "api.example.com", "198.51.100.36", 60);
    CHECK_EQ(tcp(p, "198.51.100.36", 443), NET_DENY_RST);
    net_policy_free(p);
}

TEST(deny_names_and_many_answers)
{
    const char *deny[] = { "blocked.example.com", NULL };
    struct net_policy *p = policy(NULL, deny, NULL, 0);
    REQUIRE(p);
    CHECK_EQ(tcp(p, "198.51.100.20", 80), NET_PASS);
    dns_answer(p, "10.0.2.3", "blocked.example.com", "198.51.100.20", 60);
    CHECK_EQ(tcp(p, "198.51.100.20", 80), NET_DENY_RST);
    CHECK_EQ(dec.why, NET_WHY_DENY_RULE);
    /* more answers than slots: bounded, the newest still work */
    for (unsigned i = 0; i < 2 * NET_LEARN_SLOTS; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "203.0.%u.%u", (i >> 8) & 255, i & 255);
        dns_answer(p, "10.0.2.3", "blocked.example.com", ip, 60);
        now++;
    }
    CHECK_EQ(tcp(p, "203.0.7.255", 80), NET_DENY_RST);
    net_policy_free(p);
}

/* ---- the rest ------------------------------------------------------------------------ */

static bool host_addr(void *opaque, int family, const uint8_t *a)
{
    uint8_t mine[4];
    inet_pton(AF_INET, "198.51.100.2", mine);
    return family == AF_INET && memcmp(a, mine, 4) == 0;
}

TEST(the_hosts_own_addresses_are_the_host)
{
    struct net_rule all;
    REQUIRE(net_rule_parse("0.0.0.0/0", &all, NULL) == 0);
    struct net_policy_cfg cfg = { .allow = &all, .nallow = 1, .is_host_addr = host_addr };
    struct net_policy *p;
    REQUIRE(net_policy_new(&p, &cfg, NULL) == 0);
    CHECK_EQ(tcp(p, "198.51.100.2", 80), NET_DENY_RST);
    CHECK_EQ(dec.why, NET_WHY_HOST);
    CHECK_EQ(tcp(p, "198.51.100.1", 80), NET_PASS);
    net_policy_free(p);
}

TEST(each_denied_destination_is_logged_once)
{
    struct net_policy *p = policy(NULL, NULL, NULL, 0);
    bool full = false;
    tcp(p, "10.0.2.2", 8080);
    CHECK(net_policy_denial_is_new(p, &dec, &full));
    CHECK(!net_policy_denial_is_new(p, &dec, &full));
    tcp(p, "10.0.2.2", 8081);
    CHECK(net_policy_denial_is_new(p, &dec, &full));
    udp(p, "10.0.2.2", 1, 8081);
    CHECK(net_policy_denial_is_new(p, &dec, &full)); /* another protocol */
    unsigned logged = 3, fulls = 0;
    for (unsigned i = 0; i < NET_DENIED_SLOTS + 10; i++) {
        tcp(p, "127.0.0.1", (uint16_t)(1 + i));
        logged += net_policy_denial_is_new(p, &dec, &full);
        fulls += full;
    }
    CHECK_EQ(logged, NET_DENIED_SLOTS);
    CHECK_EQ(fulls, 1);
    char line[256];
    tcp(p, "10.0.2.2", 8080);
    net_policy_describe(p, &dec, line, sizeof line);
    CHECK_STR(line, "tcp 10.0.2.2 port 8080: the host's loopback (allow it with allow_host 8080)");
    udp(p, "169.254.169.254", 1, 80);
    net_policy_describe(p, &dec, line, sizeof line);
    CHECK(strstr(line, "udp 169.254.169.254 port 80: link-local") == line);
    net_policy_free(p);
}

static bool csum_ok_tcp(const uint8_t *r, bool v6)
{
    const uint8_t *ip = r + 14, *t = ip + (v6 ? 40 : 20);
    size_t al = v6 ? 16 : 4;
    uint32_t s = nf_sum16(ip + (v6 ? 8 : 12), 2 * al, 0);
    s += 6 + 20;
    return nf_fold(nf_sum16(t, 20, s)) == 0;
}

TEST(a_refused_syn_gets_a_reset)
{
    uint8_t r[128];
    uint8_t t[30];
    nf_tcp(t, 40000, 8080, 1000, 0x02);
    memcpy(t + 20, "0123456789", 10); /* a SYN with data (TCP Fast Open) */
    size_t n = nf_ipv4(f, nf_gw_mac, "10.0.2.15", "10.0.2.2", 6, t, sizeof t);
    size_t rn = net_tcp_reset(f, n, r, sizeof r);
    REQUIRE(rn == 14 + 20 + 20);
    CHECK_MEM(r, nf_guest_mac, 6);
    CHECK_MEM(r + 6, nf_gw_mac, 6);
    CHECK_EQ(nf_get16(r + 12), 0x0800);
    CHECK_EQ(nf_fold(nf_sum16(r + 14, 20, 0)), 0);
    CHECK_MEM(r + 14 + 12, f + 14 + 16, 4); /* from the address it was sent to */
    CHECK_MEM(r + 14 + 16, f + 14 + 12, 4);
    const uint8_t *rt = r + 34;
    CHECK_EQ(nf_get16(rt), 8080);
    CHECK_EQ(nf_get16(rt + 2), 40000);
    CHECK_EQ(nf_get32(rt + 4), 0);
    CHECK_EQ(nf_get32(rt + 8), 1000 + 1 + 10);
    CHECK_EQ(rt[13], 0x14); /* RST|ACK */
    CHECK(csum_ok_tcp(r, false));

    n = nf_syn(f, "fec0::2", 40001, 22);
    rn = net_tcp_reset(f, n, r, sizeof r);
    REQUIRE(rn == 14 + 40 + 20);
    CHECK_EQ(nf_get16(r + 12), 0x86dd);
    CHECK_EQ(nf_get16(r + 14 + 4), 20);
    CHECK_MEM(r + 14 + 8, f + 14 + 24, 16);
    CHECK_EQ(nf_get32(r + 54 + 8), 1001);
    CHECK(csum_ok_tcp(r, true));

    CHECK_EQ(net_tcp_reset(f, n, r, 60), 0); /* no room */
    n = nf_udp(f, "10.0.2.2", 1, 2, "x", 1);
    CHECK_EQ(net_tcp_reset(f, n, r, sizeof r), 0); /* not TCP */
    CHECK_EQ(net_tcp_reset(NULL, 0, r, sizeof r), 0);
}
