// SPDX-License-Identifier: Apache-2.0
/* What the guest may send out of the namespace's interface (netns.h, netns_guard_prog): a
 * classic BPF program (linux/filter.h; Documentation/networking/filter.rst) that cls_bpf
 * runs in direct-action mode on the tap's ingress, before the redirect. At tc ingress
 * cls_bpf pushes the MAC header back, so offsets count from the Ethernet frame. */
#include "vmm/net/netns.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <string.h>

enum { PASS = 1000, DROP }; /* jump targets resolved at the end */

struct insn {
    uint16_t code;
    uint32_t k;
    unsigned to_true, to_false; /* absolute indices (or PASS/DROP), for jumps */
};

#define LD_W(off) { BPF_LD | BPF_W | BPF_ABS, (off), 0, 0 }
#define LD_H(off) { BPF_LD | BPF_H | BPF_ABS, (off), 0, 0 }
#define LD_LEN { BPF_LD | BPF_W | BPF_LEN, 0, 0, 0 }
#define JEQ(v, t, f) { BPF_JMP | BPF_JEQ | BPF_K, (v), (t), (f) }
#define JGE(v, t, f) { BPF_JMP | BPF_JGE | BPF_K, (v), (t), (f) }

size_t netns_guard_prog(struct sock_filter *out, size_t cap, const struct netns_nic *nic)
{
    char ip[INET_ADDRSTRLEN];
    struct in_addr a;
    const char *slash = strchr(nic->addr, '/');
    size_t iplen = slash ? (size_t)(slash - nic->addr) : strlen(nic->addr);
    if (iplen >= sizeof ip)
        return 0;
    memcpy(ip, nic->addr, iplen);
    ip[iplen] = 0;
    if (inet_pton(AF_INET, ip, &a) != 1)
        return 0;
    uint32_t me = ntohl(a.s_addr);
    const uint8_t *m = nic->mac;
    uint32_t mac_hi = (uint32_t)m[0] << 24 | m[1] << 16 | m[2] << 8 | m[3];
    uint32_t mac_lo = (uint32_t)m[4] << 8 | m[5];
    /* Each length is checked before its loads: a load past the end ends a classic program
     * with 0, which is TC_ACT_OK, and that would hand the frame to the namespace's own
     * stack instead of dropping it. A VLAN tag is untagged into the skb before tc, so it
     * is refused from its metadata (a tagged frame could reach another VLAN of the bridge). */
    const struct insn p[] = {
        /* 0 */ LD_W((uint32_t)(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT)),
        /* 1 */ JEQ(0, 2, DROP),
        /* 2 */ LD_LEN,
        /* 3 */ JGE(ETH_HLEN + 20, 4, DROP), /* the smallest IPv4 header */
        /* 4 */ LD_W(6), /* the Ethernet source */
        /* 5 */ JEQ(mac_hi, 6, DROP),
        /* 6 */ LD_H(10),
        /* 7 */ JEQ(mac_lo, 8, DROP),
        /* 8 */ LD_H(12),
        /* 9 */ JEQ(ETH_P_IP, 10, 12),
        /* 10 */ LD_W(ETH_HLEN + 12), /* the IPv4 source */
        /* 11 */ JEQ(me, PASS, DROP),
        /* 12 */ JEQ(ETH_P_ARP, 13, DROP),
        /* 13 */ LD_LEN,
        /* 14 */ JGE(ETH_HLEN + 28, 15, DROP),
        /* 15 */ LD_W(ETH_HLEN), /* hardware Ethernet (1), protocol IPv4 */
        /* 16 */ JEQ(0x00010000u | ETH_P_IP, 17, DROP),
        /* 17 */ LD_H(ETH_HLEN + 4), /* address sizes 6 and 4 */
        /* 18 */ JEQ(0x0604, 19, DROP),
        /* 19 */ LD_W(ETH_HLEN + 8), /* the sender's MAC */
        /* 20 */ JEQ(mac_hi, 21, DROP),
        /* 21 */ LD_H(ETH_HLEN + 12),
        /* 22 */ JEQ(mac_lo, 23, DROP),
        /* 23 */ LD_W(ETH_HLEN + 14), /* the sender's IPv4 address */
        /* 24 */ JEQ(me, PASS, DROP),
        /* on to the next filter: the redirect */
        /* 25 */ { BPF_RET | BPF_K, (uint32_t)TC_ACT_UNSPEC, 0, 0 },
        /* 26 */ { BPF_RET | BPF_K, TC_ACT_SHOT, 0, 0 },
    };
    const unsigned n = sizeof p / sizeof *p, pass = n - 2, drop = n - 1;
    if (cap < n)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        out[i] = (struct sock_filter){ .code = p[i].code, .k = p[i].k };
        if (BPF_CLASS(p[i].code) != BPF_JMP)
            continue;
        unsigned t = p[i].to_true == PASS ? pass : p[i].to_true == DROP ? drop : p[i].to_true;
        unsigned f = p[i].to_false == PASS ? pass : p[i].to_false == DROP ? drop : p[i].to_false;
        out[i].jt = (uint8_t)(t - i - 1);
        out[i].jf = (uint8_t)(f - i - 1);
    }
    return n;
}
