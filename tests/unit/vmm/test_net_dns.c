// SPDX-License-Identifier: Apache-2.0
/* The DNS reply reader behind host-name rules: A, AAAA and CNAME records, compression,
 * chains in any order, and replies that are malformed or hostile. */
#include "vmm/net/dns.h"

#include "harness/harness.h"
#include "unit/vmm/dns_build.h"

#include <sys/socket.h>

static struct dns_reply r;

struct seen {
    unsigned n;
    int family[8];
    char addr[8][64];
    uint32_t ttl[8];
};
static void collect(void *arg, int family, const uint8_t *addr, uint32_t ttl)
{
    struct seen *s = arg;
    if (s->n >= 8)
        return;
    s->family[s->n] = family;
    inet_ntop(family, addr, s->addr[s->n], sizeof s->addr[0]);
    s->ttl[s->n++] = ttl;
}

TEST(a_and_aaaa_answers)
{
    struct dnsb d;
    db_begin(&d, "Api.Example.COM", 2);
    db_addr(&d, NULL, "198.51.100.10", 60); /* owner by a pointer to the question */
    db_addr(&d, "api.example.com", "2001:db8::10", 120);
    REQUIRE(dns_reply_parse(d.b, d.n, &r) == 0);
    CHECK_STR(r.qname, "api.example.com"); /* names compare in lower case */
    CHECK_EQ(r.nanswers, 2);
    struct seen s = { 0 };
    CHECK_EQ(dns_reply_addresses(&r, collect, &s), 2);
    CHECK_EQ(s.family[0], AF_INET);
    CHECK_STR(s.addr[0], "198.51.100.10");
    CHECK_EQ(s.ttl[0], 60);
    CHECK_EQ(s.family[1], AF_INET6);
    CHECK_STR(s.addr[1], "2001:db8::10");
}

TEST(cname_chains_in_any_order)
{
    struct dnsb d;
    db_begin(&d, "www.example.org", 4);
    db_addr(&d, "edge.cdn.example", "198.51.100.20", 30);
    db_cname(&d, "alias.example.net", "edge.cdn.example", 30);
    db_cname(&d, "www.example.org", "alias.example.net", 30);
    db_addr(&d, "unrelated.example", "203.0.113.66", 30); /* not on the chain */
    REQUIRE(dns_reply_parse(d.b, d.n, &r) == 0);
    struct seen s = { 0 };
    CHECK_EQ(dns_reply_addresses(&r, collect, &s), 1);
    CHECK_STR(s.addr[0], "198.51.100.20");
}

TEST(cname_loops_end)
{
    struct dnsb d;
    db_begin(&d, "a.example", 3);
    db_cname(&d, "a.example", "b.example", 30);
    db_cname(&d, "b.example", "a.example", 30);
    db_addr(&d, "b.example", "198.51.100.30", 30);
    REQUIRE(dns_reply_parse(d.b, d.n, &r) == 0);
    CHECK_EQ(dns_reply_addresses(&r, NULL, NULL), 1);
}

TEST(odd_labels_match_nothing)
{
    /* a label holding a dot would read as another name: "api.example" + "com" */
    struct dnsb d;
    d.n = 0;
    db_u16(&d, 1);
    db_u16(&d, 0x8180);
    db_u16(&d, 1);
    db_u16(&d, 1);
    db_u16(&d, 0);
    db_u16(&d, 0);
    const uint8_t qname[] = "\x0b" "api.example" "\x03" "com";
    memcpy(d.b + d.n, qname, sizeof qname); /* with its final zero */
    d.n += sizeof qname;
    db_u16(&d, 1);
    db_u16(&d, 1);
    db_addr(&d, NULL, "198.51.100.40", 30);
    REQUIRE(dns_reply_parse(d.b, d.n, &r) == 0);
    CHECK_STR(r.qname, "");
    CHECK_EQ(dns_reply_addresses(&r, NULL, NULL), 0);
}

TEST(ttl_with_the_top_bit_is_zero)
{
    struct dnsb d;
    db_begin(&d, "t.example", 1);
    db_addr(&d, NULL, "198.51.100.50", 0x80000001u);
    REQUIRE(dns_reply_parse(d.b, d.n, &r) == 0);
    CHECK_EQ(r.answers[0].ttl, 0);
}

TEST(malformed_replies_are_refused)
{
    struct dnsb d;
    db_begin(&d, "m.example", 1);
    db_addr(&d, NULL, "198.51.100.60", 30);
    /* every truncation of a good reply: refused or read without the cut record */
    for (size_t n = 0; n < d.n; n++) {
        int rc = dns_reply_parse(d.b, n, &r);
        CHECK(rc < 0 || r.nanswers == 0);
    }
    /* a query, not a reply */
    struct dnsb q = d;
    nf_put16(q.b + 2, 0x0100);
    CHECK(dns_reply_parse(q.b, q.n, &r) < 0);
    /* two questions */
    q = d;
    nf_put16(q.b + 4, 2);
    CHECK(dns_reply_parse(q.b, q.n, &r) < 0);
    /* a pointer forward (or to itself) could loop: refused */
    q = d;
    size_t owner = q.n - 16; /* the answer's owner pointer: 2 + 10 + 4 from the end */
    REQUIRE(nf_get16(q.b + owner) == 0xc00c);
    nf_put16(q.b + owner, (uint16_t)(0xc000 | owner));
    CHECK(dns_reply_parse(q.b, q.n, &r) < 0);
    nf_put16(q.b + owner, (uint16_t)(0xc000 | (owner + 4)));
    CHECK(dns_reply_parse(q.b, q.n, &r) < 0);
    /* a label, then a pointer back to that label: backwards, yet a loop (found by
     * fuzz_net_policy: the reader once only asked for pointers before themselves) */
    struct dnsb l;
    db_begin(&l, "l.example", 1);
    size_t at = l.n;
    l.b[l.n++] = 1;
    l.b[l.n++] = 'x';
    db_u16(&l, (uint16_t)(0xc000 | at));
    db_u16(&l, 1);
    db_u16(&l, 1);
    db_u32(&l, 30);
    db_u16(&l, 4);
    db_u32(&l, 0xc6336401);
    CHECK(dns_reply_parse(l.b, l.n, &r) < 0);
    /* a chain of pointers, each to the one before it (hidden in a TXT record's data), as
     * the next answer's owner: refused after a few jumps */
    struct dnsb ch;
    db_begin(&ch, "c.example", 2);
    db_u16(&ch, 0xc00c);
    db_u16(&ch, 16);
    db_u16(&ch, 1);
    db_u32(&ch, 30);
    db_u16(&ch, 1 + 2 * 100);
    size_t root = ch.n;
    ch.b[ch.n++] = 0;
    size_t last = root;
    for (int i = 0; i < 100; i++) {
        size_t here = ch.n;
        db_u16(&ch, (uint16_t)(0xc000 | last));
        last = here;
    }
    db_u16(&ch, (uint16_t)(0xc000 | last));
    db_u16(&ch, 1);
    db_u16(&ch, 1);
    db_u32(&ch, 30);
    db_u16(&ch, 4);
    db_u32(&ch, 0xc6336401);
    CHECK(dns_reply_parse(ch.b, ch.n, &r) < 0);
    nf_put16(ch.b + ch.n - 16, (uint16_t)(0xc000 | (root + 1 + 2 * 9))); /* 10 links: fine */
    CHECK(dns_reply_parse(ch.b, ch.n, &r) == 0);
    /* label types 01 and 10 */
    q = d;
    q.b[12] = 0x45;
    CHECK(dns_reply_parse(q.b, q.n, &r) < 0);
    q.b[12] = 0x85;
    CHECK(dns_reply_parse(q.b, q.n, &r) < 0);
    /* rdlength past the end */
    q = d;
    nf_put16(q.b + q.n - 6, 200);
    CHECK(dns_reply_parse(q.b, q.n, &r) < 0);
    /* a CNAME whose target runs past its own record */
    struct dnsb c;
    db_begin(&c, "c.example", 1);
    db_cname(&c, "c.example", "target.example", 30);
    nf_put16(c.b + c.n - 16 - 2, 4); /* rdlength 4 of a 16-byte name */
    CHECK(dns_reply_parse(c.b, c.n, &r) < 0);
    CHECK(dns_reply_parse(NULL, 0, &r) < 0);
}

TEST(many_answers_are_bounded)
{
    struct dnsb d;
    db_begin(&d, "many.example", 60);
    for (int i = 0; i < 60; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "198.51.100.%d", i + 1);
        db_addr(&d, NULL, ip, 30);
    }
    REQUIRE(dns_reply_parse(d.b, d.n, &r) == 0);
    CHECK_EQ(r.nanswers, DNS_MAX_ANSWERS);
}
