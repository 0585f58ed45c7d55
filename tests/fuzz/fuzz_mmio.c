// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The virtio-mmio register file driven by any sequence of accesses a guest could make
 * (any offset, width and value: feature and queue selectors out of range, queue set-up on
 * live queues, status in any order, resets, notifies of any index), over a virtio-rng
 * and a virtio-blk whose rings live in guest RAM filled from the input. */
#include "unit/vmm/vq_driver.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/rng.h"

#include <stdlib.h>

#define DISK_SIZE (64u << 10)

struct memdisk {
    struct disk d;
    uint8_t data[DISK_SIZE];
};
static int md_read(struct disk *d, void *buf, uint64_t off, size_t len, struct bl_error *e)
{
    if (off > DISK_SIZE || len > DISK_SIZE - off)
        abort();
    memcpy(buf, ((struct memdisk *)d)->data + off, len);
    return 0;
}
static int md_write(struct disk *d, const void *buf, uint64_t off, size_t len,
                    struct bl_error *e)
{
    if (off > DISK_SIZE || len > DISK_SIZE - off)
        abort();
    memcpy(((struct memdisk *)d)->data + off, buf, len);
    return 0;
}
static int md_flush(struct disk *d, struct bl_error *e) { return 0; }
static void md_close(struct disk *d) { free(d); }
static const struct disk_ops md_ops = { "mem", md_read, md_write, md_flush, NULL, md_close };

#define RAM_USED (256u << 10)
static struct vqd_ram ram;

static int irqs;
static void count(void *o, uint32_t gsi) { irqs++; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ram.ram && vqd_ram_init(&ram) != 0)
        abort();
    /* The first quarter of the input (at most RAM_USED bytes) is guest RAM. */
    size_t nram = size / 4 < RAM_USED ? size / 4 : RAM_USED;
    memset(ram.ram, 0, RAM_USED);
    memcpy(ram.ram, data, nram);
    struct irq_line irq = { .trigger = count, .gsi = 5 };
    struct virtio_dev *devs[2];
    struct bl_error err;
    struct memdisk *md = calloc(1, sizeof(*md));
    md->d.ops = &md_ops;
    md->d.size = DISK_SIZE;
    if (rng_new(&devs[0], &ram.mem, irq, &err) || blk_new(&devs[1], &ram.mem, irq, &md->d, "f", &err))
        abort();
    for (size_t pos = nram; pos + 7 <= size; pos += 7) {
        const uint8_t *op = data + pos;
        struct virtio_dev *dev = devs[op[0] >> 7];
        static const uint32_t widths[] = { 1, 2, 4, 8 };
        uint32_t len = widths[op[0] & 3];
        uint64_t off = (uint64_t)(op[1] | op[2] << 8) % 0x180;
        if (op[0] & 0x40)
            off &= ~3ull; /* mostly aligned */
        uint64_t v = (uint64_t)op[3] | (uint64_t)op[4] << 8 | (uint64_t)op[5] << 16 |
                     (uint64_t)op[6] << 24;
        /* Ring addresses usually point into RAM, so queues get used. */
        if ((op[0] & 0x20) && (off == VIRTIO_MMIO_QUEUE_DESC_LOW ||
                               off == VIRTIO_MMIO_QUEUE_DRIVER_LOW ||
                               off == VIRTIO_MMIO_QUEUE_DEVICE_LOW))
            v = VQD_RAM_GPA + (v % RAM_USED);
        uint8_t buf[8];
        if (op[0] & 4) {
            memcpy(buf, &v, 4);
            memset(buf + 4, 0, 4);
            virtio_mmio_bus_ops.write(dev, off, buf, len);
        } else {
            virtio_mmio_bus_ops.read(dev, off, buf, len);
        }
    }
    virtio_dev_free(devs[0]);
    virtio_dev_free(devs[1]);
    return 0;
}
