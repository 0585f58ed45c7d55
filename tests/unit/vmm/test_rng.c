// SPDX-License-Identifier: Apache-2.0
/* virtio-rng through the MMIO transport. */
#include "harness/harness.h"
#include "vmm/virtio/rng.h"
#include "vq_driver.h"

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

TEST(rng_fills_writable_buffers)
{
    struct vqd_ram ram;
    REQUIRE(vqd_ram_init(&ram) == 0);
    struct irq_count irqs = { 0 };
    struct virtio_dev *dev;
    struct bl_error err;
    REQUIRE(rng_new(&dev, &ram.mem, irq_count_line(&irqs), &err) == 0);
    CHECK_EQ(mmio_r32(dev, VIRTIO_MMIO_DEVICE_ID), 4);
    struct vqd q;
    vqd_init(&q, &ram, 0, 64);
    struct vqd *qs[] = { &q };
    REQUIRE(vqd_handshake(dev, 0, qs, 1) & VIRTIO_CONFIG_S_DRIVER_OK);

    uint64_t a[] = { vqd_alloc(&q, 32), vqd_alloc(&q, 32) };
    uint32_t l[] = { 32, 32 };
    vqd_add(&q, a, l, 0, 2);
    vqd_kick(dev, 0);
    uint32_t id, len;
    REQUIRE(vqd_get_used(&q, &id, &len));
    CHECK_EQ(len, 64);
    CHECK(!all_zero(vqd_host(&ram, a[0]), 32));
    CHECK(!all_zero(vqd_host(&ram, a[1]), 32));
    CHECK(memcmp(vqd_host(&ram, a[0]), vqd_host(&ram, a[1]), 32) != 0);
    CHECK_EQ(irqs.n, 1);

    /* a chain with nothing writable gets 0 bytes, not an error */
    uint64_t b[] = { vqd_alloc(&q, 8) };
    uint32_t bl[] = { 8 };
    vqd_add(&q, b, bl, 1, 0);
    vqd_kick(dev, 0);
    REQUIRE(vqd_get_used(&q, &id, &len));
    CHECK_EQ(len, 0);
    CHECK(!dev->broken);

    /* a huge request is filled partially (64 KiB) */
    uint64_t c[] = { vqd_alloc(&q, 1 << 20) };
    uint32_t cl[] = { 1 << 20 };
    vqd_add(&q, c, cl, 0, 1);
    vqd_kick(dev, 0);
    REQUIRE(vqd_get_used(&q, &id, &len));
    CHECK_EQ(len, 64 << 10);
    virtio_dev_free(dev);
    vqd_ram_free(&ram);
}
