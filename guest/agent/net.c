// SPDX-License-Identifier: Apache-2.0
/* Guest networking with plain ioctls (no netlink needed for one static address): lo up,
 * eth0 with the box's address and a default route through the host's user-mode network
 * (slirp's defaults: 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3), or, for a NIC in a
 * container's network namespace, that namespace's interface's address, gateway, MAC and
 * MTU (boxlite.ip/gw/mac/mtu, src/vmm/net/netns.h). */
#include "agent.h"

#include "common/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int if_up(int s, const char *name, struct bl_error *err)
{
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return bl_errno(err, errno, "%s: get flags", name);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return bl_errno(err, errno, "%s: up", name);
    return 0;
}

static int set_addr(int s, const char *name, unsigned long req, struct in_addr a, struct bl_error *err)
{
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = a};
    memcpy(&ifr.ifr_addr, &sin, sizeof sin);
    if (ioctl(s, req, &ifr) < 0)
        return bl_errno(err, errno, "%s: set address", name);
    return 0;
}

int net_set_mac(const char *mac, struct bl_error *err)
{
    uint8_t m[6];
    if (proto_mac_parse(mac, m) < 0)
        return bl_err(err, BOXLITE_ERR_INVALID, "bad MAC %s", mac);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return bl_errno(err, errno, "socket");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "eth0");
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, m, 6);
    int rc = 0;
    if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0) {
        if (errno == ENODEV) {
            rc = 0; /* no network in this box */
        } else if (errno == EBUSY) {
            /* a driver without live address changes: down, change, up */
            struct ifreq fl = ifr;
            if (ioctl(s, SIOCGIFFLAGS, &fl) == 0) {
                short up = fl.ifr_flags;
                fl.ifr_flags = (short)(up & ~IFF_UP);
                ioctl(s, SIOCSIFFLAGS, &fl);
                if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
                    rc = bl_errno(err, errno, "set the MAC of eth0");
                fl.ifr_flags = up;
                ioctl(s, SIOCSIFFLAGS, &fl);
            }
        } else {
            rc = bl_errno(err, errno, "set the MAC of eth0");
        }
    }
    close(s);
    return rc;
}

int net_configure(const struct proto_setup *s, struct bl_error *err)
{
    cleanup_close int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sk < 0)
        return bl_errno(err, errno, "socket");
    int rc = if_up(sk, "lo", err);
    /* no NIC at all: the VMM gave none (a network namespace with loopback only) */
    if (rc < 0 || !s->net || access("/sys/class/net/eth0", F_OK) != 0)
        return rc;
    char addr[64];
    snprintf(addr, sizeof addr, "%s", s->net_addr && *s->net_addr ? s->net_addr : "10.0.2.15/24");
    int prefix = 24;
    char *slash = strchr(addr, '/');
    if (slash) {
        *slash = 0;
        prefix = atoi(slash + 1);
    }
    struct in_addr ip, mask, gw;
    if (inet_pton(AF_INET, addr, &ip) != 1 || prefix < 0 || prefix > 32)
        return bl_err(err, BOXLITE_ERR_INVALID, "bad address %s", s->net_addr);
    mask.s_addr = htonl(prefix ? 0xffffffffu << (32 - prefix) : 0);
    /* slirp's gateway with slirp's address; a given address without a gateway has no
     * default route (a namespace's interface without one) */
    bool own_addr = s->net_addr && *s->net_addr;
    const char *gws = s->net_gw && *s->net_gw ? s->net_gw : own_addr ? NULL : "10.0.2.2";
    if (gws && inet_pton(AF_INET, gws, &gw) != 1)
        return bl_err(err, BOXLITE_ERR_INVALID, "bad gateway %s", gws);
    /* a NIC in a container's network namespace is that namespace's interface: its MAC
     * (the peers' ARP caches and the engine's bridge know it) and MTU (the CNI's) */
    if (s->net_mac && *s->net_mac && (rc = net_set_mac(s->net_mac, err)) < 0)
        return rc;
    if (s->net_mtu) {
        struct ifreq ifr = {.ifr_mtu = (int)s->net_mtu};
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "eth0");
        if (ioctl(sk, SIOCSIFMTU, &ifr) < 0)
            return bl_errno(err, errno, "eth0: MTU %u", s->net_mtu);
    }
    if ((rc = set_addr(sk, "eth0", SIOCSIFADDR, ip, err)) < 0 ||
        (rc = set_addr(sk, "eth0", SIOCSIFNETMASK, mask, err)) < 0 ||
        (rc = if_up(sk, "eth0", err)) < 0)
        return rc;
    if (!gws)
        return 0;
    struct rtentry rt = {0};
    struct sockaddr_in dst = {.sin_family = AF_INET}, g = {.sin_family = AF_INET, .sin_addr = gw},
                       m = {.sin_family = AF_INET};
    memcpy(&rt.rt_dst, &dst, sizeof dst);
    memcpy(&rt.rt_gateway, &g, sizeof g);
    memcpy(&rt.rt_genmask, &m, sizeof m);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    char dev[] = "eth0";
    rt.rt_dev = dev;
    if (ioctl(sk, SIOCADDRT, &rt) < 0 && errno != EEXIST)
        return bl_errno(err, errno, "default route via %s", gws);
    return 0;
}
