// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The network policy's frame filter (src/vmm/net/policy.c) on frames a hostile guest
 * sends, and its DNS learning on frames libslirp hands the guest. The first byte picks a
 * policy (the default; an allow list with host names, allow_host and UDP forwards; deny
 * rules); the rest
 * is frames, each led by a 2-byte length, judged in turn (one flow table across them) with
 * the odd ones also read as frames toward the guest. A reset is built for every refused
 * SYN and must itself pass as a segment that opens nothing. */
#include "vmm/net/policy.h"

#include <stdlib.h>
#include <string.h>

static struct net_policy *policies[3];

static struct net_policy *make(unsigned which)
{
    static const char *const allow[] = { "198.51.100.0/24:443", "api.example.com",
                                         "*.example.net:80", "[2001:db8::/32]:53" };
    static const char *const deny[] = { "93.184.216.34", "blocked.example.com:25",
                                        "2001:db8:bad::/48" };
    struct net_rule a[4], d[3];
    for (unsigned i = 0; i < 4; i++)
        if (net_rule_parse(allow[i], &a[i], NULL) < 0)
            abort();
    for (unsigned i = 0; i < 3; i++)
        if (net_rule_parse(deny[i], &d[i], NULL) < 0)
            abort();
    struct net_host_port h[] = { { 8080, false }, { 53, true } };
    struct net_policy_cfg cfg = { 0 };
    if (which == 1) {
        static const uint16_t fwd[] = { 53, 5353 };
        cfg = (struct net_policy_cfg){ .allow = a, .nallow = 4, .host = h, .nhost = 2,
                                       .udp_forwards = fwd, .nudp_forwards = 2 };
    } else if (which == 2) {
        cfg = (struct net_policy_cfg){ .deny = d, .ndeny = 3 };
    }
    struct net_policy *p;
    if (net_policy_new(&p, &cfg, NULL) < 0)
        abort();
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned which = data[0] % 3;
    if (!policies[which])
        policies[which] = make(which);
    struct net_policy *p = policies[which];
    data++;
    size--;
    uint64_t now = 1000000;
    for (unsigned i = 0; size >= 2; i++) {
        size_t n = (size_t)(data[0] | data[1] << 8);
        data += 2;
        size -= 2;
        if (n > size)
            n = size;
        uint8_t *f = malloc(n ? n : 1); /* exact size: ASan sees any read past the frame */
        if (!f)
            abort();
        memcpy(f, data, n);
        data += n;
        size -= n;
        now += 1000;
        if (i & 1) {
            net_policy_observe(p, f, n, now);
        } else {
            struct net_decision d;
            net_policy_check(p, f, n, now, &d);
            if (d.verdict > NET_DENY_RST || (d.verdict == NET_DROP && d.attempt))
                abort();
            if (d.verdict == NET_DENY || d.verdict == NET_DENY_RST) {
                char line[512];
                bool full;
                net_policy_describe(p, &d, line, sizeof line);
                net_policy_denial_is_new(p, &d, &full);
            }
            uint8_t rst[128];
            size_t rn = net_tcp_reset(f, n, rst, sizeof rst);
            if (d.verdict == NET_DENY_RST && rn == 0)
                abort(); /* a refused SYN always gets its reset */
            if (rn) {
                struct net_decision r;
                net_policy_check(p, rst, rn, now, &r);
                if (r.verdict != NET_PASS || r.attempt)
                    abort();
            }
        }
        free(f);
    }
    return 0;
}
