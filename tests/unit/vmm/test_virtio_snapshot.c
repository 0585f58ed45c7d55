// SPDX-License-Identifier: Apache-2.0
/* The virtio-mmio transport's snapshot (virtio_dev_save/restore, mmio.c) on plain memory:
 * a device a driver configured comes back with the same registers and queues, a model's
 * held chains rewind its queue, and a hostile payload (another device type, features never
 * offered, a ring outside guest RAM, a bad queue size, DRIVER_OK without FEATURES_OK, a
 * record cut short) is refused with the device left reset. */
#include "harness/harness.h"
#include "vmm/snapshot.h"
#include "vmm/virtio/virtio.h"

#include <stdlib.h>
#include <string.h>

#define RAM (4u << 20)

static uint8_t *ram;
static struct guest_mem gm;
static uint16_t held_on_q1;

static uint16_t held(struct virtio_dev *dev, uint16_t q) { return q == 1 ? held_on_q1 : 0; }
static const struct virtio_dev_ops ops = {
    .name = "t", .device_id = 4, .num_queues = 2, .queue_max_size = 64, .held = held,
};
static const struct virtio_dev_ops other_ops = {
    .name = "u", .device_id = 2, .num_queues = 2, .queue_max_size = 64,
};

static void wr(struct virtio_dev *d, uint64_t off, uint32_t v)
{
    virtio_mmio_bus_ops.write(d, off, (const uint8_t *)&v, 4);
}
static uint32_t rd(struct virtio_dev *d, uint64_t off)
{
    uint32_t v = 0;
    virtio_mmio_bus_ops.read(d, off, (uint8_t *)&v, 4);
    return v;
}

static void new_dev(struct virtio_dev *d, const struct virtio_dev_ops *o)
{
    if (!ram) {
        ram = calloc(1, RAM);
        REQUIRE(ram && gm_add_region(&gm, 0, RAM, ram) == 0);
    }
    REQUIRE(virtio_dev_init(d, o, NULL, &gm, (struct irq_line){ 0 }) == 0);
}

static void configure(struct virtio_dev *d)
{
    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                  VIRTIO_CONFIG_S_FEATURES_OK);
    wr(d, VIRTIO_MMIO_QUEUE_SEL, 1);
    wr(d, VIRTIO_MMIO_QUEUE_NUM, 16);
    wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x10000);
    wr(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x11000);
    wr(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x12000);
    wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                  VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void save(struct virtio_dev *d, struct vmsnap_buf *p)
{
    *p = (struct vmsnap_buf){ 0 };
    virtio_dev_save(d, p);
    REQUIRE(!p->failed);
}

TEST(a_configured_device_comes_back)
{
    struct virtio_dev a, b;
    new_dev(&a, &ops);
    configure(&a);
    a.queues[1].last_avail = 7;
    a.queues[1].used_idx = 5;
    held_on_q1 = 2; /* the model holds the last two chains it popped */
    struct vmsnap_buf p;
    save(&a, &p);
    held_on_q1 = 0;
    new_dev(&b, &ops);
    struct bl_error err = { 0 };
    REQUIRE(virtio_dev_restore(&b, p.p, p.len, &err) == 0);
    CHECK_EQ(rd(&b, VIRTIO_MMIO_STATUS), rd(&a, VIRTIO_MMIO_STATUS));
    CHECK(virtio_dev_has_feature(&b, VIRTIO_F_VERSION_1));
    wr(&b, VIRTIO_MMIO_QUEUE_SEL, 1);
    CHECK_EQ(rd(&b, VIRTIO_MMIO_QUEUE_NUM), 16);
    CHECK_EQ(rd(&b, VIRTIO_MMIO_QUEUE_READY), 1);
    CHECK_EQ(rd(&b, VIRTIO_MMIO_QUEUE_DESC_LOW), 0x10000);
    CHECK_EQ(rd(&b, VIRTIO_MMIO_QUEUE_DRIVER_LOW), 0x11000);
    CHECK_EQ(rd(&b, VIRTIO_MMIO_QUEUE_DEVICE_LOW), 0x12000);
    CHECK_EQ(b.queues[1].last_avail, 5); /* rewound by the two held chains */
    CHECK_EQ(b.queues[1].used_idx, 5);
    CHECK(!b.queues[0].ready);
    virtio_dev_resume(&b); /* empty rings: nothing to do, nothing broken */
    CHECK(!b.broken);
    vmsnap_buf_free(&p);
    virtio_dev_free(&a);
    virtio_dev_free(&b);
}

/* Offsets inside the payload: record 1 (transport) at 8, record 2 (queues) after it. */
struct saved_transport_view {
    uint32_t device_id, num_queues, status, dfs, drfs, qsel;
    uint64_t driver_features;
};
#define T_OFF 8
#define Q_OFF (8 + 48 + 8) /* transport record padded to 48 bytes, then a record header */
#define Q_SIZE 32          /* one saved queue */

static int restore_edited(void (*edit)(uint8_t *p), size_t cut, char *msg, size_t n)
{
    struct virtio_dev a, b;
    new_dev(&a, &ops);
    configure(&a);
    struct vmsnap_buf p;
    save(&a, &p);
    edit(p.p);
    new_dev(&b, &ops);
    struct bl_error err = { 0 };
    int r = virtio_dev_restore(&b, p.p, p.len - cut, &err);
    snprintf(msg, n, "%s", err.msg);
    if (r < 0) {
        CHECK(err.msg[0]);
        CHECK_EQ(rd(&b, VIRTIO_MMIO_STATUS), 0); /* left reset */
    }
    vmsnap_buf_free(&p);
    virtio_dev_free(&a);
    virtio_dev_free(&b);
    return r;
}

static void no_edit(uint8_t *p) { (void)p; }
static void other_type(uint8_t *p) { uint32_t v = 9; memcpy(p + T_OFF, &v, 4); }
static void unoffered(uint8_t *p) { uint64_t f = 1ull << 40 | 1ull << 32; memcpy(p + T_OFF + 24, &f, 8); }
static void live_without_features_ok(uint8_t *p)
{
    uint32_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK;
    memcpy(p + T_OFF + 8, &st, 4);
}
static void ring_outside(uint8_t *p) { uint64_t a = RAM - 8; memcpy(p + Q_OFF + Q_SIZE + 16, &a, 8); }
static void ring_wraps(uint8_t *p) { uint64_t a = ~0ull - 8; memcpy(p + Q_OFF + Q_SIZE, &a, 8); }
static void bad_size(uint8_t *p) { uint16_t n = 48; memcpy(p + Q_OFF + Q_SIZE + 24, &n, 2); }
static void too_big(uint8_t *p) { uint16_t n = 128; memcpy(p + Q_OFF + Q_SIZE + 24, &n, 2); }

TEST(hostile_transport_state_is_refused)
{
    char msg[BL_ERRMSG_MAX];
    CHECK_EQ(restore_edited(no_edit, 0, msg, sizeof msg), 0);
    CHECK(restore_edited(other_type, 0, msg, sizeof msg) < 0);
    CHECK(strstr(msg, "virtio type 9") != NULL);
    CHECK(restore_edited(unoffered, 0, msg, sizeof msg) < 0);
    CHECK(strstr(msg, "could have reached") != NULL);
    CHECK(restore_edited(live_without_features_ok, 0, msg, sizeof msg) < 0);
    CHECK(restore_edited(ring_outside, 0, msg, sizeof msg) < 0);
    CHECK(strstr(msg, "outside guest RAM") != NULL);
    CHECK(restore_edited(ring_wraps, 0, msg, sizeof msg) < 0);
    CHECK(restore_edited(bad_size, 0, msg, sizeof msg) < 0);
    CHECK(strstr(msg, "bad size 48") != NULL);
    CHECK(restore_edited(too_big, 0, msg, sizeof msg) < 0);
    CHECK(restore_edited(no_edit, 8, msg, sizeof msg) < 0); /* the queue record cut short */
}

TEST(another_device_model_is_refused)
{
    struct virtio_dev a, b;
    new_dev(&a, &ops);
    configure(&a);
    struct vmsnap_buf p;
    save(&a, &p);
    new_dev(&b, &other_ops);
    struct bl_error err = { 0 };
    CHECK(virtio_dev_restore(&b, p.p, p.len, &err) < 0);
    CHECK(strstr(err.msg, "virtio-u") != NULL);
    vmsnap_buf_free(&p);
    virtio_dev_free(&a);
    virtio_dev_free(&b);
}
