// SPDX-License-Identifier: Apache-2.0
/* IDENTITY (docs/protocol.md): a fork resumed from another box's memory is that box in
 * every byte, so it must become someone else before it serves anyone: its own host name
 * (in the agent's and the container's UTS namespaces), its own MAC on eth0, and an RNG
 * whose state no sibling shares: the host's seed is mixed in (RNDADDENTROPY) and the
 * kernel's CRNG reseeded at once (RNDRESEEDCRNG, Linux >= 4.17) rather than at its next
 * scheduled reseed, so the first bytes any fork reads differ. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Linux include/uapi/linux/random.h (musl's headers do not carry it) */
#define RNDADDENTROPY _IOW('R', 0x03, int[2])
#define RNDRESEEDCRNG _IO('R', 0x07)
struct rand_pool_info {
    int entropy_count;
    int buf_size;
};

static int reseed(const uint8_t *seed, size_t n, struct bl_error *err)
{
    int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "open /dev/urandom");
    struct {
        struct rand_pool_info info;
        uint8_t buf[64];
    } in;
    memset(&in, 0, sizeof in);
    in.info.entropy_count = (int)(n * 8);
    in.info.buf_size = (int)n;
    memcpy(in.buf, seed, n);
    int rc = 0;
    if (ioctl(fd, RNDADDENTROPY, &in) < 0)
        rc = bl_errno(err, errno, "RNDADDENTROPY");
    else if (ioctl(fd, RNDRESEEDCRNG) < 0)
        rc = bl_errno(err, errno, "RNDRESEEDCRNG");
    explicit_bzero(&in, sizeof in);
    close(fd);
    return rc;
}

static int set_mac(const char *mac, struct bl_error *err)
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

static int set_hostname(const char *name, struct container *ct, struct bl_error *err)
{
    if (sethostname(name, strlen(name)) < 0)
        return bl_errno(err, errno, "sethostname");
    if (!ct->ready)
        return 0;
    /* The container's own UTS namespace: enter it, set, come back. */
    int self = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return bl_errno(err, errno, "open our UTS namespace");
    int rc = 0;
    if (setns(ct->uts_fd, CLONE_NEWUTS) < 0)
        rc = bl_errno(err, errno, "enter the container's UTS namespace");
    else if (sethostname(name, strlen(name)) < 0)
        rc = bl_errno(err, errno, "sethostname in the container");
    if (setns(self, CLONE_NEWUTS) < 0 && !rc)
        rc = bl_errno(err, errno, "return to our UTS namespace");
    close(self);
    if (!rc)
        snprintf(ct->hostname, sizeof ct->hostname, "%s", name);
    return rc;
}

int identity_apply(const struct proto_identity *id, struct container *ct, bool guest,
                   struct bl_error *err)
{
    if (!guest)
        return 0; /* natively (unit tests) the machine is not ours to change */
    if (reseed(id->seed, sizeof id->seed, err) < 0)
        return bl_err_prefix(err, "reseed the RNG");
    /* Said only once done: tests/e2e/pause.sh reads it (two forks' first bytes differ
     * anyway while the source is young: Linux reseeds every uptime/2 s then). */
    agent_log("RNG reseeded from the host's seed");
    if (id->hostname[0] && set_hostname(id->hostname, ct, err) < 0)
        return bl_err_prefix(err, "hostname");
    if (id->mac[0] && set_mac(id->mac, err) < 0)
        return -err->code;
    return 0;
}
