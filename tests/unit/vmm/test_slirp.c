// SPDX-License-Identifier: Apache-2.0
/* The libslirp back end with real frames: DHCP, a guest TCP connection to a server on the
 * host's 127.0.0.1 (allow_host), the policy in front of libslirp (a refused SYN answered
 * with a reset at once and logged once, a refused datagram never sent), host port
 * forwarding (TCP, UDP and the guest's UDP replies), counters, and the bounded queue. */
#include "vmm/net/slirp.h"
#include "vmm/net/relay.h"
#include "vmm/net/udp_relay.h"

#include "harness/harness.h"
#include "unit/vmm/net_frames.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void arp_reply_if_asked(struct slirp_net *sn, const uint8_t *f, size_t n)
{
    if (n < 42 || nf_get16(f + 12) != 0x0806 || nf_get16(f + 20) != 1)
        return;
    uint8_t want[4];
    inet_pton(AF_INET, SLIRP_NET_GUEST_IP, want);
    if (memcmp(f + 38, want, 4) != 0)
        return;
    uint8_t r[42];
    memcpy(r, f + 6, 6);
    memcpy(r + 6, nf_guest_mac, 6);
    nf_put16(r + 12, 0x0806);
    nf_put16(r + 14, 1);
    nf_put16(r + 16, 0x0800);
    r[18] = 6;
    r[19] = 4;
    nf_put16(r + 20, 2);
    memcpy(r + 22, nf_guest_mac, 6);
    memcpy(r + 28, want, 4);
    memcpy(r + 32, f + 22, 10); /* sender of the request becomes the target */
    slirp_net_input(sn, r, sizeof r);
}

typedef bool (*frame_pred)(const uint8_t *f, size_t n, const void *arg);

/* Waits up to secs for a frame matching pred, answering ARP requests for the guest on
 * the way. Returns its length or 0. */
static size_t wait_frame_for(struct slirp_net *sn, uint8_t *buf, size_t cap, frame_pred pred,
                             const void *arg, int secs)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        size_t n;
        while ((n = slirp_net_recv(sn, buf, cap)) > 0) {
            arp_reply_if_asked(sn, buf, n);
            if (pred(buf, n, arg))
                return n;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= secs)
            return 0;
        struct pollfd p = { .fd = slirp_net_rx_fd(sn), .events = POLLIN };
        if (poll(&p, 1, 200) > 0) {
            uint64_t v;
            ssize_t r = read(p.fd, &v, sizeof v);
            (void)r;
        }
    }
}

/* 10 s: long enough never to fail a working stack, short enough that a broken one fails
 * rather than hangs. */
static size_t wait_frame(struct slirp_net *sn, uint8_t *buf, size_t cap, frame_pred pred,
                         const void *arg)
{
    return wait_frame_for(sn, buf, cap, pred, arg, 10);
}

static struct slirp_net *net_with(const struct net_host_port *host, unsigned nhost,
                                   void (*log)(void *, const char *), void *log_opaque)
{
    struct slirp_net *sn = NULL;
    struct slirp_net_cfg cfg = { .policy = { .host = host, .nhost = nhost },
                                 .host_loopback = nhost > 0, .log = log,
                                 .log_opaque = log_opaque };
    struct bl_error err = {0};
    if (slirp_net_new(&sn, &cfg, &err) < 0)
        fprintf(stderr, "slirp_net_new: %s\n", err.msg);
    return sn;
}

static struct slirp_net *net_new(void) { return net_with(NULL, 0, NULL, NULL); }

/* ---- DHCP ---------------------------------------------------------------------------- */

static bool is_dhcp_reply(const uint8_t *f, size_t n, const void *arg)
{
    return n > 14 + 20 + 8 + 240 && nf_get16(f + 12) == 0x0800 && f[14 + 9] == 17 &&
           nf_get16(f + 34) == 67 && nf_get16(f + 36) == 68;
}

/* The value of DHCP option code in a BOOTP message's options, or NULL. */
static const uint8_t *dhcp_opt(const uint8_t *bootp, size_t n, uint8_t code, uint8_t *len)
{
    for (size_t i = 240; i + 1 < n;) {
        uint8_t c = bootp[i];
        if (c == 255)
            break;
        if (c == 0) {
            i++;
            continue;
        }
        uint8_t l = bootp[i + 1];
        if (i + 2 + l > n)
            break;
        if (c == code) {
            *len = l;
            return bootp + i + 2;
        }
        i += 2 + (size_t)l;
    }
    return NULL;
}

TEST(dhcp_discover_gets_offer)
{
    struct slirp_net *sn = net_new();
    REQUIRE(sn);
    uint8_t udp[8 + 548] = {0};
    nf_put16(udp, 68);
    nf_put16(udp + 2, 67);
    nf_put16(udp + 4, sizeof udp);
    uint8_t *bp = udp + 8;
    bp[0] = 1; /* BOOTREQUEST */
    bp[1] = 1;
    bp[2] = 6;
    memcpy(bp + 4, "\x12\x34\x56\x78", 4); /* xid */
    memcpy(bp + 28, nf_guest_mac, 6);
    memcpy(bp + 236, "\x63\x82\x53\x63", 4);
    memcpy(bp + 240, "\x35\x01\x01\xff", 4); /* DHCPDISCOVER, end */
    uint8_t f[2048];
    size_t n = nf_ipv4(f, nf_bcast_mac, "0.0.0.0", "255.255.255.255", 17, udp, sizeof udp);
    slirp_net_input(sn, f, n);

    uint8_t r[65536];
    size_t rn = wait_frame(sn, r, sizeof r, is_dhcp_reply, NULL);
    REQUIRE(rn > 0);
    const uint8_t *reply = r + 14 + 20 + 8;
    size_t blen = rn - 14 - 20 - 8;
    CHECK_EQ(reply[0], 2); /* BOOTREPLY */
    CHECK_MEM(reply + 4, "\x12\x34\x56\x78", 4);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, reply + 16, ip, sizeof ip);
    CHECK_STR(ip, SLIRP_NET_GUEST_IP);
    uint8_t len = 0;
    const uint8_t *type = dhcp_opt(reply, blen, 53, &len);
    REQUIRE(type && len == 1);
    CHECK_EQ(type[0], 2); /* DHCPOFFER */
    const uint8_t *router = dhcp_opt(reply, blen, 3, &len);
    REQUIRE(router && len == 4);
    inet_ntop(AF_INET, router, ip, sizeof ip);
    CHECK_STR(ip, SLIRP_NET_HOST_IP);
    const uint8_t *dns = dhcp_opt(reply, blen, 6, &len);
    REQUIRE(dns && len >= 4);
    inet_ntop(AF_INET, dns, ip, sizeof ip);
    CHECK_STR(ip, SLIRP_NET_DNS_IP);

    struct net_stats st;
    slirp_net_stats(sn, &st);
    CHECK_EQ(st.tx_frames, 1);
    CHECK_EQ(st.tx_bytes, n);
    CHECK_EQ(st.udp_out, 1);
    CHECK(st.rx_frames >= 1);
    CHECK(st.rx_bytes >= rn);
    slirp_net_free(sn);
}

/* ---- TCP ----------------------------------------------------------------------------- */

struct tcp_want {
    const char *dst_ip;
    uint16_t dport, sport; /* 0 = any */
    uint8_t flags;         /* exact SYN/ACK bits wanted */
};

static bool is_tcp(const uint8_t *f, size_t n, const void *arg)
{
    const struct tcp_want *w = arg;
    if (n < 14 + 20 + 20 || nf_get16(f + 12) != 0x0800 || f[14 + 9] != 6)
        return false;
    uint8_t dst[4];
    inet_pton(AF_INET, w->dst_ip, dst);
    size_t ihl = (size_t)(f[14] & 15) * 4;
    const uint8_t *t = f + 14 + ihl;
    if (memcmp(f + 14 + 16, dst, 4) != 0 || (w->dport && nf_get16(t + 2) != w->dport) ||
        (w->sport && nf_get16(t) != w->sport))
        return false;
    return (t[13] & 0x12) == w->flags;
}

static int listen_tcp(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return fd;
}

TEST(guest_syn_to_an_allowed_host_port_gets_synack)
{
    uint16_t port;
    int lfd = listen_tcp(&port);
    REQUIRE(lfd >= 0);
    struct net_host_port hp = { port, false };
    struct slirp_net *sn = net_with(&hp, 1, NULL, NULL);
    REQUIRE(sn);
    uint8_t f[128];
    size_t n = nf_syn(f, SLIRP_NET_HOST_IP, 40000, port);
    slirp_net_input(sn, f, n);

    uint8_t r[65536];
    struct tcp_want w = { .dst_ip = SLIRP_NET_GUEST_IP, .dport = 40000, .sport = port,
                          .flags = 0x12 };
    size_t rn = wait_frame(sn, r, sizeof r, is_tcp, &w);
    REQUIRE(rn > 0);
    const uint8_t *t = r + 14 + 20;
    CHECK_EQ(nf_get32(t + 8), 1001); /* ack = seq+1 */
    /* the host side saw a real connection */
    struct pollfd p = { .fd = lfd, .events = POLLIN };
    CHECK_EQ(poll(&p, 1, 5000), 1);
    struct net_stats st;
    slirp_net_stats(sn, &st);
    CHECK_EQ(st.tcp_out, 1);
    CHECK_EQ(st.conn_allowed, 1);
    CHECK_EQ(st.conn_denied, 0);
    slirp_net_free(sn);
    close(lfd);
}

struct log_lines {
    unsigned n;
    char last[512];
};
static void log_line(void *opaque, const char *line)
{
    struct log_lines *l = opaque;
    l->n++;
    snprintf(l->last, sizeof l->last, "%s", line);
}

static bool is_rst_to(const uint8_t *f, size_t n, uint16_t dport)
{
    return n >= 14 + 20 + 20 && nf_get16(f + 12) == 0x0800 && f[14 + 9] == 6 &&
           nf_get16(f + 34 + 2) == dport && (f[34 + 13] & 0x04);
}

TEST(a_denied_syn_is_reset_at_once_and_logged_once)
{
    /* a server on the host's loopback, denied; another one allowed, to know when libslirp
     * has handled what came before it */
    uint16_t denied_port, allowed_port;
    int denied = listen_tcp(&denied_port), allowed = listen_tcp(&allowed_port);
    REQUIRE(denied >= 0 && allowed >= 0);
    struct net_host_port hp = { allowed_port, false };
    struct log_lines log = { 0 };
    struct slirp_net *sn = net_with(&hp, 1, log_line, &log);
    REQUIRE(sn);
    uint8_t f[128], r[65536];
    for (int i = 0; i < 2; i++) {
        size_t n = nf_syn(f, SLIRP_NET_HOST_IP, 40001, denied_port);
        slirp_net_input(sn, f, n);
        /* the reset is queued before slirp_net_input returns: no waiting on any timer */
        size_t rn = slirp_net_recv(sn, r, sizeof r);
        CHECK(is_rst_to(r, rn, 40001));
        CHECK_EQ(nf_get32(r + 34 + 8), 1001);
    }
    CHECK_EQ(log.n, 1); /* once per destination, not per packet */
    char want[128];
    snprintf(want, sizeof want, "denied tcp 10.0.2.2 port %u: the host's loopback (allow it with "
                                "allow_host %u)", denied_port, denied_port);
    CHECK_STR(log.last, want);
    /* the same over IPv6: fec0::2 is the host's ::1 to libslirp */
    size_t n = nf_syn(f, "fec0::2", 40002, denied_port);
    slirp_net_input(sn, f, n);
    size_t rn = slirp_net_recv(sn, r, sizeof r);
    CHECK(rn == 14 + 40 + 20 && nf_get16(r + 12) == 0x86dd && (r[54 + 13] & 0x04));
    CHECK_EQ(log.n, 2);

    n = nf_syn(f, SLIRP_NET_HOST_IP, 40003, allowed_port);
    slirp_net_input(sn, f, n);
    struct tcp_want w = { .dst_ip = SLIRP_NET_GUEST_IP, .dport = 40003, .flags = 0x12 };
    REQUIRE(wait_frame(sn, r, sizeof r, is_tcp, &w) > 0);
    struct pollfd p[2] = { { .fd = allowed, .events = POLLIN }, { .fd = denied, .events = POLLIN } };
    CHECK_EQ(poll(p, 2, 5000), 1);
    CHECK(p[0].revents & POLLIN);
    CHECK(!(p[1].revents & POLLIN)); /* nothing ever connected to the denied server */
    struct net_stats st;
    slirp_net_stats(sn, &st);
    CHECK_EQ(st.conn_denied, 2); /* one per flow: IPv4 (twice sent) and IPv6 */
    CHECK_EQ(st.conn_allowed, 1);
    slirp_net_free(sn);
    close(denied);
    close(allowed);
}

static int udp_bind(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return fd;
}

TEST(a_denied_datagram_is_never_sent)
{
    uint16_t denied_port, allowed_port;
    int denied = udp_bind(&denied_port), allowed = udp_bind(&allowed_port);
    REQUIRE(denied >= 0 && allowed >= 0);
    struct net_host_port hp = { allowed_port, true };
    struct slirp_net *sn = net_with(&hp, 1, NULL, NULL);
    REQUIRE(sn);
    uint8_t f[256];
    size_t n = nf_udp(f, SLIRP_NET_HOST_IP, 5000, denied_port, "denied", 6);
    slirp_net_input(sn, f, n);
    n = nf_udp(f, "255.255.255.255", 5000, denied_port, "bcast", 5); /* also the loopback */
    slirp_net_input(sn, f, n);
    n = nf_udp(f, SLIRP_NET_HOST_IP, 5001, allowed_port, "allowed", 7);
    slirp_net_input(sn, f, n);
    /* libslirp sends in order: once the allowed one is there, the denied ones would be */
    struct pollfd p = { .fd = allowed, .events = POLLIN };
    REQUIRE(poll(&p, 1, 5000) == 1);
    char buf[64];
    CHECK_EQ(recv(allowed, buf, sizeof buf, 0), 7);
    CHECK_EQ(recv(denied, buf, sizeof buf, MSG_DONTWAIT), -1);
    CHECK_EQ(errno, EAGAIN);
    struct net_stats st;
    slirp_net_stats(sn, &st);
    CHECK_EQ(st.conn_denied, 2);
    CHECK_EQ(st.conn_allowed, 1);
    slirp_net_free(sn);
    close(denied);
    close(allowed);
}

TEST(host_forward_tcp_sends_syn_to_guest)
{
    struct slirp_net *sn = net_new();
    REQUIRE(sn);
    uint16_t port = 0;
    struct bl_error err = {0};
    REQUIRE(slirp_net_add_fwd(sn, false, "127.0.0.1", 0, 80, &port, &err) == 0);
    CHECK(port != 0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    CHECK(rc == 0 || errno == EINPROGRESS);
    uint8_t r[65536];
    struct tcp_want w = { .dst_ip = SLIRP_NET_GUEST_IP, .dport = 80, .flags = 0x02 };
    CHECK(wait_frame(sn, r, sizeof r, is_tcp, &w) > 0);
    struct net_stats st;
    slirp_net_stats(sn, &st);
    CHECK(st.tcp_in >= 1);
    close(fd);

    /* a taken port is an error, not a silent success */
    uint16_t used;
    int busy = listen_tcp(&used);
    REQUIRE(busy >= 0);
    CHECK(slirp_net_add_fwd(sn, false, "127.0.0.1", used, 81, NULL, &err) < 0);
    CHECK(slirp_net_add_fwd(sn, false, "not-an-ip", 0, 81, NULL, &err) < 0);
    CHECK(slirp_net_add_fwd(sn, false, NULL, 0, 0, NULL, &err) < 0);
    close(busy);
    slirp_net_free(sn);
}

static bool is_udp_to(const uint8_t *f, size_t n, const void *arg)
{
    uint16_t dport = *(const uint16_t *)arg;
    return n >= 14 + 20 + 8 && nf_get16(f + 12) == 0x0800 && f[14 + 9] == 17 &&
           nf_get16(f + 14 + (f[14] & 15) * 4 + 2) == dport;
}

TEST(host_forward_udp_reaches_guest_and_its_reply_the_host)
{
    /* as boxnet.c sets it up for a UDP forward: libslirp may reach the loopback, the policy
     * lets only replies through */
    static const uint16_t fwd[] = { 5353 };
    struct slirp_net *sn = NULL;
    struct slirp_net_cfg cfg = { .policy = { .udp_forwards = fwd, .nudp_forwards = 1 },
                                 .host_loopback = true };
    REQUIRE(slirp_net_new(&sn, &cfg, NULL) == 0);
    uint16_t port = 0;
    REQUIRE(slirp_net_add_fwd(sn, true, NULL, 0, 5353, &port, NULL) == 0);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    CHECK_EQ(sendto(fd, "ping", 4, 0, (struct sockaddr *)&sa, sizeof sa), 4);
    uint8_t r[65536];
    uint16_t dport = 5353;
    size_t n = wait_frame(sn, r, sizeof r, is_udp_to, &dport);
    REQUIRE(n > 0);
    CHECK_MEM(r + 14 + 20 + 8, "ping", 4);
    /* the guest answers whoever wrote: the gateway address and the port it saw */
    char src[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, r + 14 + 12, src, sizeof src);
    CHECK_STR(src, SLIRP_NET_HOST_IP);
    uint16_t sport = nf_get16(r + 34);
    uint8_t f[256];
    size_t fn = nf_udp(f, SLIRP_NET_HOST_IP, 5353, sport, "pong", 4);
    slirp_net_input(sn, f, fn);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    REQUIRE(poll(&p, 1, 5000) == 1);
    char got[16];
    CHECK_EQ(recv(fd, got, sizeof got, 0), 4);
    CHECK_MEM(got, "pong", 4);
    /* but not to another port of the host's loopback from there */
    fn = nf_udp(f, SLIRP_NET_HOST_IP, 5353, (uint16_t)(sport + 1), "nope", 4);
    slirp_net_input(sn, f, fn);
    struct net_stats st;
    slirp_net_stats(sn, &st);
    CHECK_EQ(st.conn_denied, 1);
    close(fd);
    slirp_net_free(sn);
}

TEST(rx_queue_is_bounded_and_counts_drops)
{
    struct slirp_net *sn = NULL;
    struct slirp_net_cfg cfg = { .rx_queue_max = 2 };
    REQUIRE(slirp_net_new(&sn, &cfg, NULL) == 0);
    /* each ARP request for the gateway gets a reply frame; nobody takes them */
    uint8_t req[42] = {0};
    memcpy(req, nf_bcast_mac, 6);
    memcpy(req + 6, nf_guest_mac, 6);
    nf_put16(req + 12, 0x0806);
    nf_put16(req + 14, 1);
    nf_put16(req + 16, 0x0800);
    req[18] = 6;
    req[19] = 4;
    nf_put16(req + 20, 1);
    memcpy(req + 22, nf_guest_mac, 6);
    inet_pton(AF_INET, SLIRP_NET_GUEST_IP, req + 28);
    inet_pton(AF_INET, SLIRP_NET_HOST_IP, req + 38);
    for (int i = 0; i < 5; i++)
        slirp_net_input(sn, req, sizeof req);
    struct net_stats st;
    slirp_net_stats(sn, &st);
    CHECK_EQ(st.rx_dropped, 3);
    CHECK(slirp_net_peek(sn) >= 42);
    uint8_t small[10];
    CHECK_EQ(slirp_net_recv(sn, small, sizeof small), 0); /* too big for the buffer: dropped */
    uint8_t r[128];
    CHECK(slirp_net_recv(sn, r, sizeof r) >= 42);
    CHECK_EQ(nf_get16(r + 20), 2); /* ARP reply */
    CHECK_EQ(slirp_net_recv(sn, r, sizeof r), 0);
    CHECK_EQ(slirp_net_peek(sn), 0);
    slirp_net_stats(sn, &st);
    CHECK_EQ(st.rx_dropped, 4);
    CHECK_EQ(st.rx_frames, 1);
    /* runt and oversized frames from the guest are refused and counted */
    slirp_net_input(sn, req, 10);
    slirp_net_stats(sn, &st);
    CHECK_EQ(st.tx_dropped, 1);
    slirp_net_free(sn);
}

TEST(classify_checks_lengths)
{
    uint8_t f[128] = {0};
    CHECK_EQ(net_frame_classify(NULL, 0), 0);
    CHECK_EQ(net_frame_classify(f, 13), 0);
    nf_put16(f + 12, 0x0800);
    f[14] = 0x4f; /* ihl 60 > frame */
    f[14 + 9] = 6;
    CHECK_EQ(net_frame_classify(f, 40), 0);
    f[14] = 0x45;
    f[34 + 13] = 0x02;
    CHECK_EQ(net_frame_classify(f, 14 + 20 + 19), 0);
    CHECK_EQ(net_frame_classify(f, 14 + 20 + 20), 1);
    f[34 + 13] = 0x12;
    CHECK_EQ(net_frame_classify(f, 14 + 20 + 20), 0);
    f[14 + 9] = 17;
    CHECK_EQ(net_frame_classify(f, 14 + 20 + 8), 2);
    CHECK_EQ(net_frame_classify(f, 14 + 20 + 7), 0);
}

/* Docker's -p [::1]:8080:80: a forward listening on an IPv6 host address reaches the
 * guest's IPv4 address (through relay.c: libslirp 4.7 crashes on it), TCP and UDP
 * (udp_relay.c); port 0 picks one. */
TEST(host_forward_from_an_ipv6_address_reaches_the_guest)
{
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 lo = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    if (probe < 0 || bind(probe, (struct sockaddr *)&lo, sizeof lo) < 0)
        harness_need("no IPv6 loopback (::1) on this host");
    close(probe);
    static const uint16_t fwd[] = { 5353 };
    struct slirp_net *sn = NULL;
    struct slirp_net_cfg cfg = { .policy = { .udp_forwards = fwd, .nudp_forwards = 1 },
                                 .host_loopback = true };
    REQUIRE(slirp_net_new(&sn, &cfg, NULL) == 0);
    uint16_t port = 0, uport = 0;
    struct bl_error err = {0};
    REQUIRE(slirp_net_add_fwd(sn, false, "::1", 0, 80, &port, &err) == 0);
    CHECK(port != 0);
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = lo;
    sa.sin6_port = htons(port);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    CHECK(rc == 0 || errno == EINPROGRESS);
    uint8_t r[65536];
    struct tcp_want w = { .dst_ip = SLIRP_NET_GUEST_IP, .dport = 80, .flags = 0x02 };
    CHECK(wait_frame(sn, r, sizeof r, is_tcp, &w) > 0);
    close(fd);
    /* the same port on 127.0.0.1 is not forwarded: the listener is IPv6 only */
    int v4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    CHECK(connect(v4, (struct sockaddr *)&s4, sizeof s4) < 0);
    close(v4);
    /* (bytes through it: relay_splices_both_ways_and_half_closes; with a real guest:
     * tests/e2e/boxlite_run.sh) UDP from an IPv6 address: a datagram reaches the guest,
     * and the guest's answer comes back to the client from the address it wrote to */
    REQUIRE(slirp_net_add_fwd(sn, true, "::1", 0, 5353, &uport, &err) == 0);
    CHECK(uport != 0);
    int u = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 ua = lo;
    ua.sin6_port = htons(uport);
    CHECK_EQ(sendto(u, "dns?", 4, 0, (struct sockaddr *)&ua, sizeof ua), 4);
    uint16_t dport = 5353;
    size_t un = wait_frame(sn, r, sizeof r, is_udp_to, &dport);
    REQUIRE(un > 0);
    CHECK_MEM(r + 14 + 20 + 8, "dns?", 4);
    uint8_t f[256];
    size_t fn = nf_udp(f, SLIRP_NET_HOST_IP, 5353, nf_get16(r + 34), "42", 2);
    slirp_net_input(sn, f, fn);
    struct pollfd up = { .fd = u, .events = POLLIN };
    REQUIRE(poll(&up, 1, 5000) == 1);
    struct sockaddr_in6 from;
    socklen_t fl = sizeof from;
    char got[16];
    CHECK_EQ(recvfrom(u, got, sizeof got, 0, (struct sockaddr *)&from, &fl), 2);
    CHECK_MEM(got, "42", 2);
    CHECK_EQ(ntohs(from.sin6_port), uport);
    close(u);
    CHECK(slirp_net_add_fwd(sn, false, "::zz", 0, 81, NULL, &err) < 0);
    slirp_net_free(sn);
}

/* The relay alone (relay.c), to a plain listener on 127.0.0.1 standing in for libslirp's
 * forward: bytes both ways, a client's half-close reaches the other side, which can still
 * answer; then both ends close. */
TEST(relay_splices_both_ways_and_half_closes)
{
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 lo = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    if (probe < 0 || bind(probe, (struct sockaddr *)&lo, sizeof lo) < 0)
        harness_need("no IPv6 loopback (::1) on this host");
    close(probe);
    uint16_t tport;
    int target = listen_tcp(&tport);
    REQUIRE(target >= 0);
    struct tcp_relay *r = NULL;
    struct bl_error err = {0};
    REQUIRE(tcp_relay_new(&r, &err) == 0);
    uint16_t port = 0;
    REQUIRE(tcp_relay_add(r, (struct sockaddr *)&lo, sizeof lo, tport, &port, &err) == 0);
    CHECK(port != 0);
    int c = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = lo;
    sa.sin6_port = htons(port);
    REQUIRE(connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
    int t = accept(target, NULL, NULL); /* the relay connected on the client's behalf */
    REQUIRE(t >= 0);
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    /* more than the relay buffers at once: it must wait for the reader, not drop */
    size_t sent = 0, got = 0;
    static char back[sizeof big];
    while (got < sizeof big) {
        struct pollfd p[2] = { { .fd = c, .events = sent < sizeof big ? POLLOUT : 0 },
                               { .fd = t, .events = POLLIN } };
        REQUIRE(poll(p, 2, 10000) > 0);
        if (p[0].revents & POLLOUT) {
            ssize_t n = send(c, big + sent, sizeof big - sent, MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
        }
        if (p[1].revents & POLLIN) {
            ssize_t n = recv(t, back + got, sizeof back - got, 0);
            REQUIRE(n > 0);
            got += (size_t)n;
        }
    }
    CHECK(!memcmp(big, back, sizeof big));
    shutdown(c, SHUT_WR); /* the client is done sending */
    char b[16];
    struct pollfd pt = { .fd = t, .events = POLLIN };
    REQUIRE(poll(&pt, 1, 10000) == 1);
    CHECK_EQ(recv(t, b, sizeof b, 0), 0); /* ...and the far side sees its end */
    CHECK_EQ(send(t, "answer", 6, 0), 6);  /* which may still answer */
    close(t);
    struct pollfd pc = { .fd = c, .events = POLLIN };
    REQUIRE(poll(&pc, 1, 10000) == 1);
    CHECK_EQ(recv(c, b, sizeof b, MSG_WAITALL), 6);
    CHECK_MEM(b, "answer", 6);
    CHECK_EQ(recv(c, b, sizeof b, 0), 0);
    close(c);
    tcp_relay_free(r);
    close(target);
}

/* The UDP relay alone (udp_relay.c), to a plain UDP socket on 127.0.0.1 standing in for
 * libslirp's forward: each client address is a flow of its own (its own source port at the
 * forward), answers go back to the client that asked from the address it wrote to, and
 * more clients than flows evict the least recently used one, whose next datagram simply
 * makes a new flow. */
static uint16_t recv_port(int fd, char *buf, size_t len, ssize_t *n)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 5000) != 1)
        return 0;
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    *n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&from, &fl);
    return *n < 0 ? 0 : ntohs(from.sin_port);
}

TEST(udp_relay_keeps_a_flow_per_client_and_stays_bounded)
{
    int probe = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 lo = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    if (probe < 0 || bind(probe, (struct sockaddr *)&lo, sizeof lo) < 0)
        harness_need("no IPv6 loopback (::1) on this host");
    close(probe);
    int target = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in ta = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t tl = sizeof ta;
    REQUIRE(bind(target, (struct sockaddr *)&ta, sizeof ta) == 0);
    REQUIRE(getsockname(target, (struct sockaddr *)&ta, &tl) == 0);
    struct udp_relay *r = NULL;
    struct bl_error err = {0};
    REQUIRE(udp_relay_new(&r, &err) == 0);
    uint16_t port = 0;
    REQUIRE(udp_relay_add(r, (struct sockaddr *)&lo, sizeof lo, ntohs(ta.sin_port), &port, &err) == 0);
    struct sockaddr_in6 la = lo;
    la.sin6_port = htons(port);
    enum { N = 300 }; /* more clients than the relay's 256 flows */
    static int cl[N];
    char buf[64];
    ssize_t n = 0;
    uint16_t first = 0, second = 0;
    for (int i = 0; i < N; i++) {
        cl[i] = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(cl[i] >= 0);
        char m[16];
        int ml = snprintf(m, sizeof m, "c%d", i);
        REQUIRE(sendto(cl[i], m, (size_t)ml, 0, (struct sockaddr *)&la, sizeof la) == ml);
        uint16_t src = recv_port(target, buf, sizeof buf, &n);
        REQUIRE(src != 0);
        CHECK(n == ml && !memcmp(buf, m, (size_t)ml));
        if (i == 0)
            first = src;
        if (i == 1)
            second = src;
        if (i < 2) { /* the answer reaches that client, from the listener's address */
            struct sockaddr_in back = ta;
            back.sin_port = htons(src);
            REQUIRE(sendto(target, "ans", 3, 0, (struct sockaddr *)&back, sizeof back) == 3);
            struct pollfd p = { .fd = cl[i], .events = POLLIN };
            REQUIRE(poll(&p, 1, 5000) == 1);
            struct sockaddr_in6 from;
            socklen_t fl = sizeof from;
            CHECK_EQ(recvfrom(cl[i], buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 3);
            CHECK_EQ(ntohs(from.sin6_port), port);
        }
    }
    CHECK(first != second); /* two clients, two flows */
    /* client 0's flow was the least recently used: evicted; it writes again, a new flow */
    REQUIRE(sendto(cl[0], "again", 5, 0, (struct sockaddr *)&la, sizeof la) == 5);
    uint16_t src = recv_port(target, buf, sizeof buf, &n);
    CHECK(src != 0 && src != first);
    struct sockaddr_in back = ta;
    back.sin_port = htons(src);
    REQUIRE(sendto(target, "ok", 2, 0, (struct sockaddr *)&back, sizeof back) == 2);
    struct pollfd p = { .fd = cl[0], .events = POLLIN };
    REQUIRE(poll(&p, 1, 5000) == 1);
    CHECK_EQ(recv(cl[0], buf, sizeof buf, 0), 2);
    for (int i = 0; i < N; i++)
        close(cl[i]);
    udp_relay_free(r);
    close(target);
}
