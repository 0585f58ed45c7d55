// SPDX-License-Identifier: Apache-2.0
/* A tap in a container's network namespace, mirrored to its interface (netns.h). The tc
 * messages follow rtnetlink(7) and the kernel's uapi (linux/pkt_sched.h, pkt_cls.h,
 * tc_act/tc_mirred.h), as `tc qdisc add dev IF ingress` and `tc filter add dev IF parent
 * ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev TAP` send them;
 * the tap's guard (netns_guard.c) as `tc filter add dev TAP parent ffff: prio 1 bpf da
 * bytecode ...` does (linux/pkt_cls.h TCA_BPF_*). */
#include "vmm/net/netns.h"

#include "common/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <net/route.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- messages ------------------------------------------------------------------------ */

struct msg {
    uint8_t *buf;
    size_t cap, len;
    bool short_;
};

static void *msg_put(struct msg *m, const void *data, size_t len)
{
    size_t at = m->len, end = at + NLMSG_ALIGN(len);
    if (m->short_ || end > m->cap) {
        m->short_ = true;
        return NULL;
    }
    memset(m->buf + at, 0, end - at);
    if (data)
        memcpy(m->buf + at, data, len);
    m->len = end;
    return m->buf + at;
}

/* An attribute; a nest is one whose length msg_end fixes once its children are in. */
static size_t msg_attr(struct msg *m, uint16_t type, const void *data, size_t len)
{
    size_t at = m->len;
    struct rtattr *a = msg_put(m, NULL, RTA_LENGTH(len));
    if (!a)
        return at;
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (data)
        memcpy(RTA_DATA(a), data, len);
    return at;
}

static void msg_end(struct msg *m, size_t nest)
{
    if (!m->short_)
        ((struct rtattr *)(m->buf + nest))->rta_len = (unsigned short)(m->len - nest);
}

static void msg_head(struct msg *m, uint16_t type, uint16_t flags, uint32_t seq, int ifindex,
                     uint32_t handle, uint32_t parent, uint32_t info)
{
    struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags,
                          .nlmsg_seq = seq };
    struct tcmsg t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_handle = handle,
                       .tcm_parent = parent, .tcm_info = info };
    msg_put(m, &h, sizeof h);
    msg_put(m, &t, sizeof t);
}

static size_t msg_done(struct msg *m)
{
    if (m->short_)
        return 0;
    ((struct nlmsghdr *)m->buf)->nlmsg_len = (uint32_t)m->len;
    return m->len;
}

static size_t msg_qdisc(uint8_t *buf, size_t cap, uint16_t type, uint16_t flags, int ifindex,
                        uint32_t seq)
{
    struct msg m = { buf, cap, 0, false };
    msg_head(&m, type, flags, seq, ifindex, TC_H_MAKE(TC_H_INGRESS, 0), TC_H_INGRESS, 0);
    msg_attr(&m, TCA_KIND, "ingress", sizeof "ingress");
    return msg_done(&m);
}

size_t netns_msg_ingress(uint8_t *buf, size_t cap, int ifindex, uint32_t seq)
{
    return msg_qdisc(buf, cap, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, seq);
}

/* tc priorities on an ingress qdisc: lower first; the guard (the tap's) before the wire */
enum { PRIO_GUARD = 1, PRIO_REDIRECT = 2 };

size_t netns_msg_redirect(uint8_t *buf, size_t cap, int ifindex, int to_ifindex, uint32_t seq)
{
    struct msg m = { buf, cap, 0, false };
    /* every protocol; attached to the ingress qdisc (ffff:) */
    msg_head(&m, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, seq, ifindex, 0,
             TC_H_MAKE(TC_H_INGRESS, 0),
             TC_H_MAKE((uint32_t)PRIO_REDIRECT << 16, htons(ETH_P_ALL)));
    msg_attr(&m, TCA_KIND, "u32", sizeof "u32");
    size_t opts = msg_attr(&m, TCA_OPTIONS, NULL, 0);
    /* one key that matches every frame (mask 0 at offset 0), terminal */
    struct {
        struct tc_u32_sel sel;
        struct tc_u32_key key;
    } sel = { .sel = { .flags = TC_U32_TERMINAL, .nkeys = 1 } };
    msg_attr(&m, TCA_U32_SEL, &sel, sizeof sel);
    size_t acts = msg_attr(&m, TCA_U32_ACT, NULL, 0);
    size_t act = msg_attr(&m, 1, NULL, 0); /* the first action */
    msg_attr(&m, TCA_ACT_KIND, "mirred", sizeof "mirred");
    size_t aopts = msg_attr(&m, TCA_ACT_OPTIONS, NULL, 0);
    struct tc_mirred p = { .action = TC_ACT_STOLEN, .eaction = TCA_EGRESS_REDIR,
                           .ifindex = (uint32_t)to_ifindex };
    msg_attr(&m, TCA_MIRRED_PARMS, &p, sizeof p);
    msg_end(&m, aopts);
    msg_end(&m, act);
    msg_end(&m, acts);
    msg_end(&m, opts);
    return msg_done(&m);
}

size_t netns_msg_guard(uint8_t *buf, size_t cap, int ifindex, const struct sock_filter *prog,
                       size_t n, uint32_t seq)
{
    struct msg m = { buf, cap, 0, false };
    msg_head(&m, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, seq, ifindex, 0,
             TC_H_MAKE(TC_H_INGRESS, 0), TC_H_MAKE((uint32_t)PRIO_GUARD << 16, htons(ETH_P_ALL)));
    msg_attr(&m, TCA_KIND, "bpf", sizeof "bpf");
    size_t opts = msg_attr(&m, TCA_OPTIONS, NULL, 0);
    uint16_t len = (uint16_t)n;
    msg_attr(&m, TCA_BPF_OPS_LEN, &len, sizeof len);
    msg_attr(&m, TCA_BPF_OPS, prog, n * sizeof *prog);
    uint32_t flags = TCA_BPF_FLAG_ACT_DIRECT; /* the program's return is the verdict */
    msg_attr(&m, TCA_BPF_FLAGS, &flags, sizeof flags);
    msg_end(&m, opts);
    return msg_done(&m);
}

/* Sends one request and reads its acknowledgement: 0, or the kernel's -errno. */
static int nl_talk(int sk, const uint8_t *req, size_t len)
{
    if (send(sk, req, len, 0) != (ssize_t)len)
        return -errno;
    uint32_t seq = ((const struct nlmsghdr *)req)->nlmsg_seq;
    uint8_t buf[8192] __attribute__((aligned(4)));
    for (;;) {
        ssize_t n = recv(sk, buf, sizeof buf, 0);
        if (n < 0)
            return errno == EINTR ? 0 : -errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR)
                continue;
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
                return -EPROTO;
            return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        }
    }
}

/* ---- the interface ------------------------------------------------------------------- */

static int find_interface(struct netns_nic *out, struct bl_error *err)
{
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0)
        return bl_errno(err, errno, "list interfaces");
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
            !(i->ifa_flags & IFF_UP) || !i->ifa_netmask || strlen(i->ifa_name) >= sizeof out->ifname ||
            !strcmp(i->ifa_name, NETNS_TAP_NAME))
            continue;
        struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
        uint32_t mask = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
        int prefix = 0;
        while (prefix < 32 && (mask & (0x80000000u >> prefix)))
            prefix++;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a, ip, sizeof ip);
        snprintf(out->ifname, sizeof out->ifname, "%s", i->ifa_name);
        snprintf(out->addr, sizeof out->addr, "%s/%d", ip, prefix);
        break;
    }
    freeifaddrs(ifs);
    return 0;
}

/* The default route's gateway through ifname, from /proc's route table of this thread's
 * namespace (hex, network order). */
static void find_gateway(struct netns_nic *nic)
{
    cleanup_fclose FILE *f = fopen("/proc/thread-self/net/route", "re");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        char dev[32];
        unsigned dst, gw, flags, mask;
        if (sscanf(line, "%31s %x %x %x %*d %*d %*d %x", dev, &dst, &gw, &flags, &mask) == 5 &&
            !strcmp(dev, nic->ifname) && dst == 0 && mask == 0 && (flags & RTF_GATEWAY)) {
            struct in_addr g = { .s_addr = gw };
            inet_ntop(AF_INET, &g, nic->gw, sizeof nic->gw);
            return;
        }
    }
}

static int ifreq_ioctl(int sk, const char *name, unsigned long req, struct ifreq *ifr)
{
    snprintf(ifr->ifr_name, sizeof ifr->ifr_name, "%s", name);
    return ioctl(sk, req, ifr);
}

/* The tap's guard (netns.h, netns_guard_prog): -errno if it cannot be put. */
static int guard_tap(int nl, int tapindex, const struct netns_nic *nic, uint32_t seq)
{
    struct sock_filter prog[NETNS_GUARD_MAX];
    uint8_t req[1024] __attribute__((aligned(4)));
    size_t n = netns_guard_prog(prog, NETNS_GUARD_MAX, nic);
    size_t len = n ? netns_msg_guard(req, sizeof req, tapindex, prog, n, seq) : 0;
    return len ? nl_talk(nl, req, len) : -EINVAL;
}

/* In the namespace: the interface's properties, the tap, the two redirects. */
static int attach_here(struct netns_nic *out, struct bl_error *err)
{
    if (find_interface(out, err) < 0)
        return -err->code;
    if (!out->ifname[0])
        return 0; /* loopback only */
    find_gateway(out);
    cleanup_close int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sk < 0)
        return bl_errno(err, errno, "socket");
    struct ifreq ifr = {0};
    if (ifreq_ioctl(sk, out->ifname, SIOCGIFHWADDR, &ifr) < 0)
        return bl_errno(err, errno, "%s: MAC address", out->ifname);
    memcpy(out->mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ifreq_ioctl(sk, out->ifname, SIOCGIFMTU, &ifr) < 0)
        return bl_errno(err, errno, "%s: MTU", out->ifname);
    out->mtu = (unsigned)ifr.ifr_mtu;
    int ifindex = (int)if_nametoindex(out->ifname);

    cleanup_close int tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tap < 0)
        return bl_errno(err, errno, "open /dev/net/tun");
    struct ifreq t = { .ifr_flags = IFF_TAP | IFF_NO_PI };
    snprintf(t.ifr_name, sizeof t.ifr_name, "%s", NETNS_TAP_NAME);
    if (ioctl(tap, TUNSETIFF, &t) < 0)
        return bl_errno(err, errno, "create the tap %s (it needs CAP_NET_ADMIN in the "
                        "namespace)", NETNS_TAP_NAME);
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_mtu = (int)out->mtu;
    if (ifreq_ioctl(sk, NETNS_TAP_NAME, SIOCSIFMTU, &ifr) < 0)
        return bl_errno(err, errno, "%s: set MTU %u", NETNS_TAP_NAME, out->mtu);
    memset(&ifr, 0, sizeof ifr);
    if (ifreq_ioctl(sk, NETNS_TAP_NAME, SIOCGIFFLAGS, &ifr) < 0)
        return bl_errno(err, errno, "%s: flags", NETNS_TAP_NAME);
    ifr.ifr_flags |= IFF_UP;
    if (ifreq_ioctl(sk, NETNS_TAP_NAME, SIOCSIFFLAGS, &ifr) < 0)
        return bl_errno(err, errno, "%s: up", NETNS_TAP_NAME);
    int tapindex = (int)if_nametoindex(NETNS_TAP_NAME);

    cleanup_close int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (nl < 0)
        return bl_errno(err, errno, "netlink socket");
    uint8_t req[1024] __attribute__((aligned(4)));
    uint32_t seq = 1;
    /* an earlier container's redirect (its tap gone with its box) goes with its qdisc */
    size_t n = msg_qdisc(req, sizeof req, RTM_DELQDISC, 0, ifindex, seq++);
    nl_talk(nl, req, n);
    const struct { int from, to; const char *name; } way[2] = {
        { ifindex, tapindex, out->ifname }, { tapindex, ifindex, NETNS_TAP_NAME } };
    for (int i = 0; i < 2; i++) {
        int r = nl_talk(nl, req, netns_msg_ingress(req, sizeof req, way[i].from, seq++));
        if (r < 0)
            return bl_errno(err, -r, "%s: add an ingress qdisc", way[i].name);
        if (way[i].from == tapindex && (r = guard_tap(nl, tapindex, out, seq++)) < 0)
            return bl_errno(err, -r, "%s: the guard on what the guest sends (tc bpf)",
                            NETNS_TAP_NAME);
        r = nl_talk(nl, req, netns_msg_redirect(req, sizeof req, way[i].from, way[i].to, seq++));
        if (r < 0)
            return bl_errno(err, -r, "%s: redirect to %s (tc u32 + mirred)", way[i].name,
                            way[i ^ 1].name);
    }
    out->tap_fd = steal_fd(&tap);
    out->ifindex = ifindex;
    out->nl_fd = steal_fd(&nl);
    return 0;
}

void netns_nic_detach(struct netns_nic *nic)
{
    if (nic->tap_fd >= 0)
        close(nic->tap_fd);
    nic->tap_fd = -1;
    if (nic->nl_fd < 0)
        return;
    uint8_t req[128] __attribute__((aligned(4)));
    size_t n = msg_qdisc(req, sizeof req, RTM_DELQDISC, 0, nic->ifindex, 1);
    nl_talk(nic->nl_fd, req, n);
    close(nic->nl_fd);
    nic->nl_fd = -1;
}

int netns_nic_attach(const char *path, struct netns_nic *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    out->tap_fd = out->nl_fd = -1;
    cleanup_close int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    cleanup_close int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return bl_errno(err, errno, "network namespace: this thread's");
    if (ns < 0)
        return bl_errno(err, errno, "network namespace %s", path);
    /* The host's own namespace (pid 1's) has the host's interface: redirecting it to the
     * box would take the host off its network. A box shares it with no one (runc's
     * "join the host's namespace" has no VM equivalent): refused. */
    struct stat st, host;
    if (fstat(ns, &st) == 0 && stat("/proc/1/ns/net", &host) == 0 && st.st_dev == host.st_dev &&
        st.st_ino == host.st_ino)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "network namespace %s is the host's own (pid 1's): its interface "
                      "would be taken from the host; give the box a namespace of its own",
                      path);
    if (setns(ns, CLONE_NEWNET) < 0)
        return bl_errno(err, errno, "join the network namespace %s", path);
    int rc = attach_here(out, err);
    if (setns(self, CLONE_NEWNET) < 0 && rc == 0) {
        rc = bl_errno(err, errno, "back from the network namespace %s", path);
        netns_nic_detach(out);
    }
    return rc < 0 ? bl_err_prefix(err, "network namespace %s", path) : 0;
}

int netns_nic_undo_at_exit(struct netns_nic *nic, int *keep_fd, struct bl_error *err)
{
    *keep_fd = -1;
    if (nic->nl_fd < 0)
        return 0;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return bl_errno(err, errno, "network namespace: pipe");
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return bl_errno(err, errno, "network namespace: fork");
    }
    if (pid == 0) {
        /* nothing of the VMM's but the pipe and the socket; the box's stop signals are the
         * VMM's business, this one ends at the pipe's end */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        int keep_rd = p[0], keep_nl = nic->nl_fd;
        for (int fd = 0; fd < 1024; fd++)
            if (fd != keep_rd && fd != keep_nl)
                close(fd);
        char c;
        ssize_t n;
        do /* nobody writes: the end of the file is the VMM's end */
            n = read(keep_rd, &c, 1);
        while (n > 0 || (n < 0 && errno == EINTR));
        nic->tap_fd = -1;
        netns_nic_detach(nic);
        _exit(0);
    }
    close(p[0]);
    close(nic->nl_fd);
    nic->nl_fd = -1;
    *keep_fd = p[1];
    return 0;
}
