/* The libslirp back end with real frames: DHCP, a guest TCP connection to a server on the
 * host's 127.0.0.1, host port forwarding (TCP and UDP), counters, and the bounded queue. */
#include "vmm/net/slirp.h"

#include "harness/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += get16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}
static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* Builds eth + IPv4 + payload (transport header included), filling checksums for TCP/UDP.
 * Returns the frame length. */
static size_t ipv4_frame(uint8_t *f, const uint8_t *dst_mac, const char *src, const char *dst,
                         uint8_t proto, const uint8_t *l4, size_t l4len)
{
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, guest_mac, 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + l4len));
    ip[8] = 64;
    ip[9] = proto;
    inet_pton(AF_INET, src, ip + 12);
    inet_pton(AF_INET, dst, ip + 16);
    put16(ip + 10, fold(sum16(ip, 20, 0)));
    uint8_t *t = ip + 20;
    memcpy(t, l4, l4len);
    if (proto == 6 || proto == 17) {
        size_t csum_off = proto == 6 ? 16 : 6;
        put16(t + csum_off, 0);
        uint8_t pseudo[12];
        memcpy(pseudo, ip + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = proto;
        put16(pseudo + 10, (uint16_t)l4len);
        uint16_t c = fold(sum16(t, l4len, sum16(pseudo, 12, 0)));
        put16(t + csum_off, c ? c : 0xffff);
    }
    return 14 + 20 + l4len;
}

static void arp_reply_if_asked(struct slirp_net *sn, const uint8_t *f, size_t n)
{
    if (n < 42 || get16(f + 12) != 0x0806 || get16(f + 20) != 1)
        return;
    uint8_t want[4];
    inet_pton(AF_INET, SLIRP_NET_GUEST_IP, want);
    if (memcmp(f + 38, want, 4) != 0)
        return;
    uint8_t r[42];
    memcpy(r, f + 6, 6);
    memcpy(r + 6, guest_mac, 6);
    put16(r + 12, 0x0806);
    put16(r + 14, 1);
    put16(r + 16, 0x0800);
    r[18] = 6;
    r[19] = 4;
    put16(r + 20, 2);
    memcpy(r + 22, guest_mac, 6);
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

static struct slirp_net *net_new(void)
{
    struct slirp_net *sn = NULL;
    struct slirp_net_cfg cfg = { .allow_host_loopback = true };
    struct bl_error err = {0};
    if (slirp_net_new(&sn, &cfg, &err) < 0)
        fprintf(stderr, "slirp_net_new: %s\n", err.msg);
    return sn;
}

/* ---- DHCP ---------------------------------------------------------------------------- */

static bool is_dhcp_reply(const uint8_t *f, size_t n, const void *arg)
{
    return n > 14 + 20 + 8 + 240 && get16(f + 12) == 0x0800 && f[14 + 9] == 17 &&
           get16(f + 34) == 67 && get16(f + 36) == 68;
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
    put16(udp, 68);
    put16(udp + 2, 67);
    put16(udp + 4, sizeof udp);
    uint8_t *bp = udp + 8;
    bp[0] = 1; /* BOOTREQUEST */
    bp[1] = 1;
    bp[2] = 6;
    memcpy(bp + 4, "\x12\x34\x56\x78", 4); /* xid */
    memcpy(bp + 28, guest_mac, 6);
    memcpy(bp + 236, "\x63\x82\x53\x63", 4);
    memcpy(bp + 240, "\x35\x01\x01\xff", 4); /* DHCPDISCOVER, end */
    uint8_t f[2048];
    size_t n = ipv4_frame(f, bcast, "0.0.0.0", "255.255.255.255", 17, udp, sizeof udp);
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
    if (n < 14 + 20 + 20 || get16(f + 12) != 0x0800 || f[14 + 9] != 6)
        return false;
    uint8_t dst[4];
    inet_pton(AF_INET, w->dst_ip, dst);
    size_t ihl = (size_t)(f[14] & 15) * 4;
    const uint8_t *t = f + 14 + ihl;
    if (memcmp(f + 14 + 16, dst, 4) != 0 || (w->dport && get16(t + 2) != w->dport) ||
        (w->sport && get16(t) != w->sport))
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

TEST(guest_syn_to_host_gets_synack)
{
    uint16_t port;
    int lfd = listen_tcp(&port);
    REQUIRE(lfd >= 0);
    struct slirp_net *sn = net_new();
    REQUIRE(sn);
    uint8_t tcp[20] = {0};
    put16(tcp, 40000);
    put16(tcp + 2, port);
    memcpy(tcp + 4, "\x00\x00\x03\xe8", 4); /* seq 1000 */
    tcp[12] = 5 << 4;
    tcp[13] = 0x02; /* SYN */
    put16(tcp + 14, 65535);
    uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 }; /* slirp's own MAC */
    uint8_t f[128];
    size_t n = ipv4_frame(f, gw_mac, SLIRP_NET_GUEST_IP, SLIRP_NET_HOST_IP, 6, tcp, sizeof tcp);
    slirp_net_input(sn, f, n);

    uint8_t r[65536];
    struct tcp_want w = { .dst_ip = SLIRP_NET_GUEST_IP, .dport = 40000, .sport = port,
                          .flags = 0x12 };
    size_t rn = wait_frame(sn, r, sizeof r, is_tcp, &w);
    REQUIRE(rn > 0);
    const uint8_t *t = r + 14 + 20;
    CHECK_EQ(((uint32_t)t[8] << 24 | t[9] << 16 | t[10] << 8 | t[11]), 1001); /* ack = seq+1 */
    /* the host side saw a real connection */
    struct pollfd p = { .fd = lfd, .events = POLLIN };
    CHECK_EQ(poll(&p, 1, 5000), 1);
    struct net_stats st;
    slirp_net_stats(sn, &st);
    CHECK_EQ(st.tcp_out, 1);
    slirp_net_free(sn);
    close(lfd);
}

TEST(guest_syn_refused_without_loopback)
{
    uint16_t port;
    int lfd = listen_tcp(&port);
    REQUIRE(lfd >= 0);
    struct slirp_net *sn = NULL;
    struct slirp_net_cfg cfg = { .allow_host_loopback = false };
    REQUIRE(slirp_net_new(&sn, &cfg, NULL) == 0);
    uint8_t tcp[20] = {0};
    put16(tcp, 40001);
    put16(tcp + 2, port);
    tcp[12] = 5 << 4;
    tcp[13] = 0x02;
    put16(tcp + 14, 65535);
    uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
    uint8_t f[128];
    size_t n = ipv4_frame(f, gw_mac, SLIRP_NET_GUEST_IP, SLIRP_NET_HOST_IP, 6, tcp, sizeof tcp);
    slirp_net_input(sn, f, n);
    /* 10.0.2.2 is then not the host's loopback: no SYN-ACK from our listener (which
     * answers within milliseconds when reachable), and no connection on it */
    uint8_t r[65536];
    struct tcp_want w = { .dst_ip = SLIRP_NET_GUEST_IP, .dport = 40001, .flags = 0x12 };
    CHECK_EQ(wait_frame_for(sn, r, sizeof r, is_tcp, &w, 2), 0);
    struct pollfd p = { .fd = lfd, .events = POLLIN };
    CHECK_EQ(poll(&p, 1, 0), 0);
    slirp_net_free(sn);
    close(lfd);
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
    return n >= 14 + 20 + 8 && get16(f + 12) == 0x0800 && f[14 + 9] == 17 &&
           get16(f + 14 + (f[14] & 15) * 4 + 2) == dport;
}

TEST(host_forward_udp_reaches_guest)
{
    struct slirp_net *sn = net_new();
    REQUIRE(sn);
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
    close(fd);
    slirp_net_free(sn);
}

TEST(rx_queue_is_bounded_and_counts_drops)
{
    struct slirp_net *sn = NULL;
    struct slirp_net_cfg cfg = { .allow_host_loopback = true, .rx_queue_max = 2 };
    REQUIRE(slirp_net_new(&sn, &cfg, NULL) == 0);
    /* each ARP request for the gateway gets a reply frame; nobody takes them */
    uint8_t req[42] = {0};
    memcpy(req, bcast, 6);
    memcpy(req + 6, guest_mac, 6);
    put16(req + 12, 0x0806);
    put16(req + 14, 1);
    put16(req + 16, 0x0800);
    req[18] = 6;
    req[19] = 4;
    put16(req + 20, 1);
    memcpy(req + 22, guest_mac, 6);
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
    CHECK_EQ(get16(r + 20), 2); /* ARP reply */
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
    put16(f + 12, 0x0800);
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
