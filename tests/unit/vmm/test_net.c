// SPDX-License-Identifier: Apache-2.0
/* virtio-net through the MMIO transport: config, the transmit path (header handling,
 * scattered chains, bad lengths), the receive path (header, small buffers, waiting for
 * buffers), and the whole path to libslirp (a DHCP exchange through the rings). */
#include "harness/harness.h"
#include "vmm/net/slirp.h"
#include "vmm/snapshot.h"
#include "vmm/virtio/net.h"
#include "vq_driver.h"

#include <poll.h>
#include <unistd.h>

/* A back end in plain memory: records what the guest sent, serves queued frames. */
struct fake_be {
    uint8_t sent[8][2048];
    size_t sent_len[8];
    int nsent;
    uint8_t q[8][2048];
    size_t qlen[8];
    int qhead, qtail;
};
static void fb_send(void *o, const uint8_t *f, size_t len)
{
    struct fake_be *b = o;
    if (b->nsent < 8 && len <= sizeof b->sent[0]) {
        memcpy(b->sent[b->nsent], f, len);
        b->sent_len[b->nsent++] = len;
    }
}
static size_t fb_peek(void *o)
{
    struct fake_be *b = o;
    return b->qhead < b->qtail ? b->qlen[b->qhead] : 0;
}
static size_t fb_recv(void *o, uint8_t *buf, size_t cap)
{
    struct fake_be *b = o;
    if (b->qhead >= b->qtail)
        return 0;
    size_t n = b->qlen[b->qhead];
    memcpy(buf, b->q[b->qhead++], n);
    return n;
}
static void fb_queue(struct fake_be *b, const void *f, size_t n)
{
    memcpy(b->q[b->qtail], f, n);
    b->qlen[b->qtail++] = n;
}
static struct net_backend fb_backend(struct fake_be *b)
{
    return (struct net_backend){ .opaque = b, .send = fb_send, .peek = fb_peek,
                                 .recv = fb_recv, .rx_fd = -1 };
}

struct rig {
    struct vqd_ram ram;
    struct irq_count irqs;
    struct virtio_dev *dev;
    struct vqd rxq, txq;
};

static const uint8_t rig_mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };

/* mac NULL: the device's default (or a snapshot's) */
static int rig_up_mac(struct rig *r, struct net_backend be, const uint8_t *mac)
{
    memset(r, 0, sizeof *r);
    if (vqd_ram_init(&r->ram) < 0)
        return -1;
    if (virtio_net_new(&r->dev, &r->ram.mem, irq_count_line(&r->irqs), NULL, mac, be, NULL) < 0)
        return -1;
    vqd_init(&r->rxq, &r->ram, 0, 64);
    vqd_init(&r->txq, &r->ram, 1, 64);
    struct vqd *qs[] = { &r->rxq, &r->txq };
    uint64_t want = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS);
    return (vqd_handshake(r->dev, want, qs, 2) & VIRTIO_CONFIG_S_DRIVER_OK) ? 0 : -1;
}

static int rig_up(struct rig *r, struct net_backend be) { return rig_up_mac(r, be, rig_mac); }
static void rig_down(struct rig *r)
{
    virtio_dev_free(r->dev);
    vqd_ram_free(&r->ram);
}

static uint8_t cfg8(struct virtio_dev *d, unsigned off)
{
    uint8_t v;
    virtio_mmio_bus_ops.read(d, VIRTIO_MMIO_CONFIG + off, &v, 1);
    return v;
}

/* Sends hdr+frame as a chain whose buffers are cut at the given sizes. */
static void tx_chain(struct rig *r, const uint8_t *data, size_t len, const uint32_t *cuts,
                     unsigned ncuts)
{
    uint64_t a[8];
    uint32_t l[8];
    size_t off = 0;
    for (unsigned i = 0; i < ncuts; i++) {
        l[i] = cuts[i];
        a[i] = vqd_alloc(&r->txq, cuts[i]);
        memcpy(vqd_host(&r->ram, a[i]), data + off, cuts[i]);
        off += cuts[i];
    }
    (void)len;
    vqd_add(&r->txq, a, l, ncuts, 0);
    vqd_kick(r->dev, VIRTIO_NET_TXQ);
}

TEST(net_config_and_features)
{
    struct fake_be b = {0};
    struct rig r;
    REQUIRE(rig_up(&r, fb_backend(&b)) == 0);
    CHECK_EQ(mmio_r32(r.dev, VIRTIO_MMIO_DEVICE_ID), 1);
    CHECK_EQ(cfg8(r.dev, 0), 0x02);
    CHECK_EQ(cfg8(r.dev, 5), 0xcc);
    CHECK_EQ(cfg8(r.dev, 6), VIRTIO_NET_S_LINK_UP);
    CHECK_EQ(cfg8(r.dev, 200), 0); /* past the end reads zero */
    mmio_w32(r.dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint32_t f = mmio_r32(r.dev, VIRTIO_MMIO_DEVICE_FEATURES);
    CHECK(f & (1u << VIRTIO_NET_F_MAC));
    CHECK(!(f & 1u)); /* no checksum offload offered */
    rig_down(&r);
}

static void cfg_mac(struct virtio_dev *d, uint8_t out[6])
{
    for (unsigned i = 0; i < 6; i++)
        out[i] = cfg8(d, i);
}

/* A snapshot carries the MAC in config space: a box resumed as it was (no MAC given) shows
 * the saved one, a fork (a MAC given: vmm.json network.mac) its own; a model record that
 * is not a MAC is refused. */
TEST(net_snapshot_keeps_the_mac_unless_one_is_given)
{
    struct fake_be b = {0};
    struct rig src, same, fork;
    REQUIRE(rig_up(&src, fb_backend(&b)) == 0);
    struct vmsnap_buf p = {0};
    virtio_dev_save(src.dev, &p);
    REQUIRE(p.failed == NULL);
    struct bl_error err = {0};
    uint8_t mac[6];

    REQUIRE(rig_up_mac(&same, fb_backend(&b), NULL) == 0);
    cfg_mac(same.dev, mac);
    CHECK_EQ(mac[0], 0x52); /* the default before the restore */
    CHECK_EQ(virtio_dev_restore(same.dev, p.p, p.len, &err), 0);
    cfg_mac(same.dev, mac);
    CHECK(memcmp(mac, rig_mac, 6) == 0);

    static const uint8_t new_mac[6] = { 0x06, 0x11, 0x22, 0x33, 0x44, 0x55 };
    REQUIRE(rig_up_mac(&fork, fb_backend(&b), new_mac) == 0);
    CHECK_EQ(virtio_dev_restore(fork.dev, p.p, p.len, &err), 0);
    cfg_mac(fork.dev, mac);
    CHECK(memcmp(mac, new_mac, 6) == 0);

    /* The MAC record claims 5 bytes: the payload's last record is the model's, holding
     * just the MAC record (8 bytes of tag and length, 6 of MAC, 2 of padding). */
    uint8_t *q = malloc(p.len);
    REQUIRE(q != NULL);
    memcpy(q, p.p, p.len);
    uint32_t five = 5;
    memcpy(q + p.len - 16 + 4, &five, 4);
    err = (struct bl_error){0};
    CHECK(virtio_dev_restore(same.dev, q, p.len, &err) < 0);
    CHECK(strstr(err.msg, "virtio-net") != NULL);
    free(q);
    vmsnap_buf_free(&p);
    rig_down(&src);
    rig_down(&same);
    rig_down(&fork);
}

TEST(net_tx_strips_header_across_buffers)
{
    struct fake_be b = {0};
    struct rig r;
    REQUIRE(rig_up(&r, fb_backend(&b)) == 0);
    uint8_t pkt[12 + 60] = {0};
    for (int i = 0; i < 60; i++)
        pkt[12 + i] = (uint8_t)i;
    uint32_t one[] = { sizeof pkt };
    tx_chain(&r, pkt, sizeof pkt, one, 1);
    uint32_t split[] = { 5, 10, 57 }; /* header split, frame split */
    tx_chain(&r, pkt, sizeof pkt, split, 3);
    uint32_t id, len;
    CHECK(vqd_get_used(&r.txq, &id, &len));
    CHECK(vqd_get_used(&r.txq, &id, &len));
    REQUIRE(b.nsent == 2);
    CHECK_EQ(b.sent_len[0], 60);
    CHECK_EQ(b.sent_len[1], 60);
    CHECK_MEM(b.sent[1], pkt + 12, 60);
    CHECK(r.irqs.n >= 1);

    /* runt frame: dropped and counted, chain returned, device fine */
    uint32_t runt[] = { 12 + 5 };
    tx_chain(&r, pkt, 17, runt, 1);
    CHECK(vqd_get_used(&r.txq, &id, &len));
    struct virtio_net_counters c;
    virtio_net_counters(r.dev, &c);
    CHECK_EQ(c.tx_dropped, 1);
    CHECK_EQ(c.tx_frames, 2);
    CHECK(!r.dev->broken);

    /* oversized frame: dropped */
    static uint8_t big[12 + 70000];
    uint32_t bigc[] = { sizeof big };
    tx_chain(&r, big, sizeof big, bigc, 1);
    virtio_net_counters(r.dev, &c);
    CHECK_EQ(c.tx_dropped, 2);
    CHECK_EQ(b.nsent, 2);
    rig_down(&r);
}

TEST(net_tx_short_header_breaks_device)
{
    struct fake_be b = {0};
    struct rig r;
    REQUIRE(rig_up(&r, fb_backend(&b)) == 0);
    uint8_t pkt[8] = {0};
    uint32_t c[] = { 8 };
    tx_chain(&r, pkt, 8, c, 1);
    CHECK(r.dev->broken);
    CHECK(mmio_r32(r.dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
    CHECK_EQ(b.nsent, 0);
    rig_down(&r);
}

TEST(net_tx_gso_breaks_device)
{
    struct fake_be b = {0};
    struct rig r;
    REQUIRE(rig_up(&r, fb_backend(&b)) == 0);
    uint8_t pkt[12 + 60] = {0};
    pkt[1] = 1; /* GSO_TCPV4, never negotiated */
    uint32_t c[] = { sizeof pkt };
    tx_chain(&r, pkt, sizeof pkt, c, 1);
    CHECK(r.dev->broken);
    CHECK_EQ(b.nsent, 0);
    rig_down(&r);
}

static uint64_t post_rx(struct rig *r, uint32_t size)
{
    uint64_t a[] = { vqd_alloc(&r->rxq, size) };
    uint32_t l[] = { size };
    vqd_add(&r->rxq, a, l, 0, 1);
    return a[0];
}

TEST(net_rx_fills_buffers_and_waits_for_them)
{
    struct fake_be b = {0};
    struct rig r;
    REQUIRE(rig_up(&r, fb_backend(&b)) == 0);
    uint8_t frame[100];
    for (int i = 0; i < 100; i++)
        frame[i] = (uint8_t)(0xa0 ^ i);
    fb_queue(&b, frame, sizeof frame);
    fb_queue(&b, frame, 60);
    /* no buffers yet: nothing moves */
    virtio_net_poll_rx(r.dev);
    CHECK_EQ(fb_peek(&b), 100);
    uint64_t a = post_rx(&r, 1526);
    vqd_kick(r.dev, VIRTIO_NET_RXQ);
    uint32_t id, len;
    REQUIRE(vqd_get_used(&r.rxq, &id, &len));
    CHECK_EQ(len, 12 + 100);
    uint8_t *h = vqd_host(&r.ram, a);
    CHECK_EQ(h[10], 1); /* num_buffers */
    CHECK_EQ(h[0], 0);
    CHECK_MEM(h + 12, frame, 100);
    CHECK_EQ(fb_peek(&b), 60); /* second frame waits */

    /* a buffer split in two (header alone first) */
    uint64_t x[] = { vqd_alloc(&r.rxq, 12), vqd_alloc(&r.rxq, 1514) };
    uint32_t xl[] = { 12, 1514 };
    vqd_add(&r.rxq, x, xl, 0, 2);
    virtio_net_poll_rx(r.dev);
    REQUIRE(vqd_get_used(&r.rxq, &id, &len));
    CHECK_EQ(len, 72);
    CHECK_MEM(vqd_host(&r.ram, x[1]), frame, 60);

    /* a buffer too small for the frame: the frame is dropped, the buffer returned empty */
    fb_queue(&b, frame, 100);
    post_rx(&r, 50);
    virtio_net_poll_rx(r.dev);
    REQUIRE(vqd_get_used(&r.rxq, &id, &len));
    CHECK_EQ(len, 0);
    struct virtio_net_counters c;
    virtio_net_counters(r.dev, &c);
    CHECK_EQ(c.rx_dropped, 1);
    CHECK_EQ(c.rx_frames, 2);
    CHECK(!r.dev->broken);
    rig_down(&r);
}

/* The whole path: a DHCP discover through the tx ring reaches slirp, the offer comes back
 * through the rx ring. */
TEST(net_dhcp_through_rings_and_slirp)
{
    struct slirp_net *sn = NULL;
    struct slirp_net_cfg cfg = { 0 };
    REQUIRE(slirp_net_new(&sn, &cfg, NULL) == 0);
    struct rig r;
    REQUIRE(rig_up(&r, slirp_net_backend(sn)) == 0);
    for (int i = 0; i < 8; i++)
        post_rx(&r, 1526);
    vqd_kick(r.dev, VIRTIO_NET_RXQ);

    static uint8_t pkt[12 + 14 + 20 + 8 + 548];
    memset(pkt, 0, sizeof pkt);
    uint8_t *f = pkt + 12;
    memset(f, 0xff, 6);
    memcpy(f + 6, "\x02\x00\x00\xaa\xbb\xcc", 6);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (20 + 8 + 548) >> 8;
    ip[3] = (20 + 8 + 548) & 0xff;
    ip[8] = 64;
    ip[9] = 17;
    memset(ip + 16, 0xff, 4);
    uint32_t s = 0;
    for (int i = 0; i < 20; i += 2)
        s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    ip[10] = (uint8_t)(~s >> 8);
    ip[11] = (uint8_t)~s;
    uint8_t *udp = ip + 20;
    udp[1] = 68;
    udp[3] = 67;
    udp[4] = (8 + 548) >> 8;
    udp[5] = (8 + 548) & 0xff;
    uint8_t *bp = udp + 8;
    bp[0] = 1;
    bp[1] = 1;
    bp[2] = 6;
    memcpy(bp + 4, "\xde\xad\xbe\xef", 4);
    memcpy(bp + 28, "\x02\x00\x00\xaa\xbb\xcc", 6);
    memcpy(bp + 236, "\x63\x82\x53\x63\x35\x01\x01\xff", 8);
    uint32_t c[] = { sizeof pkt };
    tx_chain(&r, pkt, sizeof pkt, c, 1);

    bool got = false;
    for (int i = 0; i < 50 && !got; i++) {
        struct pollfd p = { .fd = slirp_net_rx_fd(sn), .events = POLLIN };
        poll(&p, 1, 200);
        uint64_t v;
        ssize_t rr = read(p.fd, &v, sizeof v);
        (void)rr;
        virtio_net_poll_rx(r.dev);
        uint32_t id, len;
        while (vqd_get_used(&r.rxq, &id, &len)) {
            /* find the buffer by its descriptor: post_rx allocated them in order */
            uint64_t gpa;
            memcpy(&gpa, vqd_host(&r.ram, r.rxq.desc + 16ull * id), 8);
            uint8_t *b = vqd_host(&r.ram, gpa);
            uint8_t *e = b + 12;
            if (len > 12 + 14 + 20 + 8 + 240 && e[12] == 0x08 && e[14 + 9] == 17 &&
                e[14 + 20 + 1] == 67 && memcmp(e + 14 + 28 + 4, "\xde\xad\xbe\xef", 4) == 0) {
                CHECK(memcmp(e, "\x02\x00\x00\xaa\xbb\xcc", 6) == 0 ||
                      memcmp(e, "\xff\xff\xff\xff\xff\xff", 6) == 0);
                CHECK_MEM(e + 14 + 28 + 16, "\x0a\x00\x02\x0f", 4); /* yiaddr 10.0.2.15 */
                got = true;
            }
        }
    }
    CHECK(got);
    struct net_stats st;
    slirp_net_stats(sn, &st);
    CHECK_EQ(st.tx_frames, 1);
    CHECK(st.rx_frames >= 1);
    rig_down(&r);
    slirp_net_free(sn);
}
