// SPDX-License-Identifier: Apache-2.0
/* virtio-console multiport: the control handshake as Linux's virtio_console driver does it,
 * named ports bridged to a socket on the event loop, and backpressure both ways. */
#include "harness/harness.h"
#include "vmm/virtio/console.h"
#include "vq_driver.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define NQ 6 /* port 0 rx/tx, control rx/tx, port 1 rx/tx */

static struct vqd_ram ram;
static struct vqd q[NQ];
static uint64_t buf_of[NQ][128]; /* head -> gpa of its buffer */
static struct virtio_dev *dev;
static struct evloop *loop;
static int host[2], host1[2]; /* [0] given to the device, [1] kept by the test */

static void give(unsigned qi, unsigned n, uint32_t len)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t a[] = { vqd_alloc(&q[qi], len) };
        uint32_t l[] = { len };
        uint16_t head = vqd_add(&q[qi], a, l, 0, 1);
        buf_of[qi][head] = a[0];
    }
    vqd_kick(dev, qi);
}

static void guest_send(unsigned qi, const void *data, uint32_t len)
{
    uint64_t a[] = { vqd_alloc(&q[qi], len) };
    uint32_t l[] = { len };
    memcpy(vqd_host(&ram, a[0]), data, len);
    vqd_add(&q[qi], a, l, 1, 0);
    vqd_kick(dev, qi);
}

static void ctrl(uint32_t id, uint16_t event, uint16_t value)
{
    struct virtio_console_control m = { htole32(id), htole16(event), htole16(value) };
    guest_send(3, &m, sizeof(m));
}

/* Next control message from the device; name gets a PORT_NAME's text. */
static int next_ctrl(struct virtio_console_control *m, char *name, size_t name_len)
{
    uint32_t id, len;
    if (!vqd_get_used(&q[2], &id, &len) || len < sizeof(*m))
        return 0;
    uint8_t *p = vqd_host(&ram, buf_of[2][id]);
    memcpy(m, p, sizeof(*m));
    if (name) {
        size_t n = len - sizeof(*m) < name_len - 1 ? len - sizeof(*m) : name_len - 1;
        memcpy(name, p + sizeof(*m), n);
        name[n] = 0;
    }
    return 1;
}

/* Bytes of received data on queue qi, appended to out. */
static size_t take_rx(unsigned qi, char *out, size_t max)
{
    size_t total = 0;
    uint32_t id, len;
    while (vqd_get_used(&q[qi], &id, &len)) {
        if (total + len <= max)
            memcpy(out + total, vqd_host(&ram, buf_of[qi][id]), len);
        total += len;
    }
    return total;
}

static int pending_bytes(int fd)
{
    int n = -1;
    ioctl(fd, FIONREAD, &n);
    return n;
}

static void pump(void)
{
    while (evloop_run_once(loop, 0) > 0) {
    }
}

/* Device with port 0 "boxlite.agent" (and optionally port 1 "second"), driver up. */
static void start(int two_ports)
{
    REQUIRE(vqd_ram_init(&ram) == 0);
    REQUIRE((loop = evloop_new()) != NULL);
    struct bl_error err;
    REQUIRE(console_new(&dev, &ram.mem, (struct irq_line){ 0 }, loop, 2, &err) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, host) == 0);
    REQUIRE(console_add_port(dev, "boxlite.agent", host[0], &err) == 0);
    if (two_ports) {
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, host1) == 0);
        REQUIRE(console_add_port(dev, "second", host1[0], &err) == 1);
    }
    struct vqd *qs[NQ];
    for (unsigned i = 0; i < NQ; i++) {
        vqd_init(&q[i], &ram, i, 128);
        qs[i] = &q[i];
    }
    REQUIRE(vqd_handshake(dev, 1ull << VIRTIO_CONSOLE_F_MULTIPORT, qs, NQ) &
            VIRTIO_CONFIG_S_DRIVER_OK);
    CHECK(virtio_dev_has_feature(dev, VIRTIO_CONSOLE_F_MULTIPORT));
    give(2, 16, 128); /* control receive buffers */
}

/* DEVICE_READY, then per port: PORT_ADD -> PORT_READY -> PORT_NAME, PORT_OPEN. */
static void bring_up(uint32_t nports)
{
    struct virtio_console_control m;
    char name[64];
    ctrl(0, VIRTIO_CONSOLE_DEVICE_READY, 1);
    for (uint32_t i = 0; i < nports; i++) {
        REQUIRE(next_ctrl(&m, NULL, 0));
        CHECK_EQ(le16toh(m.event), VIRTIO_CONSOLE_DEVICE_ADD);
        CHECK_EQ(le32toh(m.id), i);
    }
    CHECK(!next_ctrl(&m, NULL, 0));
    for (uint32_t i = 0; i < nports; i++) {
        ctrl(i, VIRTIO_CONSOLE_PORT_READY, 1);
        REQUIRE(next_ctrl(&m, name, sizeof(name)));
        CHECK_EQ(le16toh(m.event), VIRTIO_CONSOLE_PORT_NAME);
        CHECK_EQ(le32toh(m.id), i);
        CHECK_STR(name, i == 0 ? "boxlite.agent" : "second");
        REQUIRE(next_ctrl(&m, NULL, 0));
        CHECK_EQ(le16toh(m.event), VIRTIO_CONSOLE_PORT_OPEN);
        CHECK_EQ(le16toh(m.value), 1);
    }
}

TEST(config_space)
{
    start(0);
    uint32_t max = 0;
    virtio_mmio_bus_ops.read(dev, VIRTIO_MMIO_CONFIG + 4, (uint8_t *)&max, 4);
    CHECK_EQ(max, 2);
    CHECK_EQ(mmio_r32(dev, VIRTIO_MMIO_DEVICE_ID), 3);
    mmio_w32(dev, VIRTIO_MMIO_QUEUE_SEL, 5);
    CHECK_EQ(mmio_r32(dev, VIRTIO_MMIO_QUEUE_NUM_MAX), CONSOLE_QUEUE_SIZE);
    mmio_w32(dev, VIRTIO_MMIO_QUEUE_SEL, 6);
    CHECK_EQ(mmio_r32(dev, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
    struct bl_error err;
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    CHECK(console_add_port(dev, "x", fds[0], &err) == 1);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    CHECK(console_add_port(dev, "y", fds[0], &err) < 0); /* only 2 ports */
    CHECK(fcntl(fds[0], F_GETFD) < 0 && errno == EBADF);  /* taken over: closed */
    virtio_dev_free(dev);
    evloop_free(loop);
}

TEST(handshake_and_data_both_ways)
{
    start(1);
    bring_up(2);
    CHECK(!console_port_guest_open(dev, 0));
    /* bytes from the host wait until the guest opens the port */
    CHECK_EQ(write(host[1], "hello", 5), 5);
    give(0, 4, 64);
    pump();
    CHECK_EQ(pending_bytes(host[0]), 5);
    ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
    CHECK(console_port_guest_open(dev, 0));
    pump();
    char got[256];
    CHECK_EQ(take_rx(0, got, sizeof(got)), 5);
    CHECK_MEM(got, "hello", 5);
    /* guest to host */
    guest_send(1, "world", 5);
    char h[16] = { 0 };
    CHECK_EQ(read(host[1], h, sizeof(h)), 5);
    CHECK_MEM(h, "world", 5);
    uint32_t id, len;
    CHECK(vqd_get_used(&q[1], &id, &len)); /* tx buffer returned */
    /* port 1 is separate: queues 4/5 */
    give(4, 2, 64);
    ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
    CHECK_EQ(write(host1[1], "p1", 2), 2);
    pump();
    CHECK_EQ(take_rx(4, got, sizeof(got)), 2);
    CHECK_EQ(take_rx(0, got, sizeof(got)), 0);
    guest_send(5, "to-p1", 5);
    CHECK_EQ(read(host1[1], h, sizeof(h)), 5);
    CHECK(!dev->broken);
    virtio_dev_free(dev);
    evloop_free(loop);
}

TEST(rx_backpressure_no_guest_buffers)
{
    start(0);
    bring_up(1);
    give(0, 1, 8);
    ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
    char data[100];
    for (int i = 0; i < 100; i++)
        data[i] = (char)i;
    CHECK_EQ(write(host[1], data, 100), 100);
    for (int i = 0; i < 5; i++)
        pump();
    char got[128];
    CHECK_EQ(take_rx(0, got, sizeof(got)), 8);
    CHECK_EQ(pending_bytes(host[0]), 92); /* left in the socket, not buffered by us */
    give(0, 2, 50); /* the driver adds buffers and kicks: delivery resumes */
    pump();
    size_t n = take_rx(0, got + 8, sizeof(got) - 8);
    CHECK_EQ(n, 92);
    CHECK_MEM(got, data, 100);
    CHECK_EQ(pending_bytes(host[0]), 0);
    virtio_dev_free(dev);
    evloop_free(loop);
}

TEST(tx_backpressure_host_not_reading)
{
    start(0);
    bring_up(1);
    int small = 4096;
    setsockopt(host[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(host[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    enum { N = 100, SZ = 1024 };
    static char sent[N * SZ];
    for (int i = 0; i < N * SZ; i++)
        sent[i] = (char)(i * 31 + i / 1000);
    for (int i = 0; i < N; i++)
        guest_send(1, sent + i * SZ, SZ);
    pump();
    uint32_t id, len;
    int done = 0;
    while (vqd_get_used(&q[1], &id, &len))
        done++;
    CHECK(done < N); /* the device stopped consuming: the socket is full */
    /* read everything; the device resumes on EPOLLOUT */
    static char recvd[N * SZ];
    size_t total = 0;
    for (int spins = 0; total < sizeof(recvd) && spins < 100000; spins++) {
        ssize_t r = recv(host[1], recvd + total, sizeof(recvd) - total, MSG_DONTWAIT);
        if (r > 0)
            total += (size_t)r;
        evloop_run_once(loop, 10);
    }
    CHECK_EQ(total, sizeof(recvd));
    CHECK_MEM(recvd, sent, sizeof(sent));
    while (vqd_get_used(&q[1], &id, &len))
        done++;
    CHECK_EQ(done, N);
    virtio_dev_free(dev);
    evloop_free(loop);
}

TEST(host_close_tells_guest)
{
    start(0);
    bring_up(1);
    give(0, 2, 64);
    ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
    CHECK_EQ(write(host[1], "last", 4), 4);
    close(host[1]);
    pump();
    char got[64];
    CHECK_EQ(take_rx(0, got, sizeof(got)), 4); /* data before the close still arrives */
    struct virtio_console_control m;
    REQUIRE(next_ctrl(&m, NULL, 0));
    CHECK_EQ(le16toh(m.event), VIRTIO_CONSOLE_PORT_OPEN);
    CHECK_EQ(le16toh(m.value), 0);
    /* what the guest writes now is consumed and dropped, not stuck */
    guest_send(1, "into the void", 13);
    uint32_t id, len;
    CHECK(vqd_get_used(&q[1], &id, &len));
    CHECK(!dev->broken);
    virtio_dev_free(dev);
    evloop_free(loop);
}

TEST(control_messages_wait_for_buffers)
{
    REQUIRE(vqd_ram_init(&ram) == 0);
    REQUIRE((loop = evloop_new()) != NULL);
    struct bl_error err;
    REQUIRE(console_new(&dev, &ram.mem, (struct irq_line){ 0 }, loop, 2, &err) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, host) == 0);
    REQUIRE(console_add_port(dev, "boxlite.agent", host[0], &err) == 0);
    struct vqd *qs[NQ];
    for (unsigned i = 0; i < NQ; i++) {
        vqd_init(&q[i], &ram, i, 128);
        qs[i] = &q[i];
    }
    REQUIRE(vqd_handshake(dev, 1ull << VIRTIO_CONSOLE_F_MULTIPORT, qs, NQ) & VIRTIO_CONFIG_S_DRIVER_OK);
    ctrl(0, VIRTIO_CONSOLE_DEVICE_READY, 1); /* no control rx buffers yet */
    struct virtio_console_control m;
    CHECK(!next_ctrl(&m, NULL, 0));
    /* a guest repeating PORT_READY without buffers cannot grow anything */
    for (int i = 0; i < 1000; i++)
        ctrl(0, VIRTIO_CONSOLE_PORT_READY, 1);
    give(2, 8, 128);
    int n = 0;
    while (next_ctrl(&m, NULL, 0))
        n++;
    CHECK_EQ(n, 3); /* ADD, NAME, OPEN: each owed message once */
    /* hot-plug after DEVICE_READY */
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    REQUIRE(console_add_port(dev, "late", fds[0], &err) == 1);
    REQUIRE(next_ctrl(&m, NULL, 0));
    CHECK_EQ(le16toh(m.event), VIRTIO_CONSOLE_DEVICE_ADD);
    CHECK_EQ(le32toh(m.id), 1);
    CHECK(!dev->broken);
    virtio_dev_free(dev);
    evloop_free(loop);
}

TEST(malformed_control_breaks_device)
{
    start(0);
    guest_send(3, "abc", 3); /* shorter than a control message */
    CHECK(dev->broken);
    CHECK(mmio_r32(dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
    /* unknown ports and events are ignored, not fatal, after a reset */
    mmio_w32(dev, VIRTIO_MMIO_STATUS, 0);
    virtio_dev_free(dev);
    evloop_free(loop);
}

TEST(unknown_port_and_event_ignored)
{
    start(0);
    ctrl(7, VIRTIO_CONSOLE_PORT_READY, 1);
    ctrl(0, 99, 1);
    ctrl(12345, VIRTIO_CONSOLE_PORT_OPEN, 1);
    CHECK(!dev->broken);
    bring_up(1);
    virtio_dev_free(dev);
    evloop_free(loop);
}

TEST(reset_stops_the_bridge)
{
    start(0);
    bring_up(1);
    give(0, 2, 64);
    ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
    mmio_w32(dev, VIRTIO_MMIO_STATUS, 0);
    CHECK(!console_port_guest_open(dev, 0));
    CHECK_EQ(write(host[1], "x", 1), 1);
    pump();
    CHECK_EQ(pending_bytes(host[0]), 1); /* not read: nobody to give it to */
    virtio_dev_free(dev);
    evloop_free(loop);
}

TEST(console_port_announced_as_console)
{
    REQUIRE(vqd_ram_init(&ram) == 0);
    REQUIRE((loop = evloop_new()) != NULL);
    struct bl_error err;
    REQUIRE(console_new(&dev, &ram.mem, (struct irq_line){ 0 }, loop, 2, &err) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, host) == 0);
    REQUIRE(console_add_console_port(dev, NULL, host[0], &err) == 0);
    CHECK(console_add_port(dev, NULL, -1, &err) < 0); /* a plain port needs a name */
    CHECK(console_add_port(dev, "", -1, &err) < 0);
    struct vqd *qs[NQ];
    for (unsigned i = 0; i < NQ; i++) {
        vqd_init(&q[i], &ram, i, 128);
        qs[i] = &q[i];
    }
    REQUIRE(vqd_handshake(dev, ~0ull, qs, NQ) & VIRTIO_CONFIG_S_DRIVER_OK);
    give(2, 8, 128);
    ctrl(0, VIRTIO_CONSOLE_DEVICE_READY, 1);
    struct virtio_console_control m;
    REQUIRE(next_ctrl(&m, NULL, 0));
    CHECK_EQ(le16toh(m.event), VIRTIO_CONSOLE_DEVICE_ADD);
    ctrl(0, VIRTIO_CONSOLE_PORT_READY, 1);
    REQUIRE(next_ctrl(&m, NULL, 0));
    CHECK_EQ(le16toh(m.event), VIRTIO_CONSOLE_CONSOLE_PORT);
    CHECK_EQ(le16toh(m.value), 1);
    REQUIRE(next_ctrl(&m, NULL, 0));
    CHECK_EQ(le16toh(m.event), VIRTIO_CONSOLE_PORT_OPEN); /* no name: no PORT_NAME */
    CHECK(!next_ctrl(&m, NULL, 0));
    /* hvc writes reach the host */
    ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
    guest_send(1, "login: ", 7);
    char h[16];
    CHECK_EQ(read(host[1], h, sizeof(h)), 7);
    virtio_dev_free(dev);
    evloop_free(loop);
}
