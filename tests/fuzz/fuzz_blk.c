// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* virtio-blk request parsing: the fuzzer chooses each chain's shape (how many readable
 * and writable descriptors, their lengths) and every byte the device reads (header, data,
 * discard segments), against a small memory disk, read-only or not, with or without
 * discard. Afterwards the device must either be healthy or cleanly marked broken. */
#include "unit/vmm/vq_driver.h"
#include "vmm/virtio/blk.h"

#include <stdlib.h>

#define DISK_SIZE (64u << 10)

struct memdisk {
    struct disk d;
    uint8_t data[DISK_SIZE];
};

static int md_read(struct disk *d, void *buf, uint64_t off, size_t len, struct bl_error *e)
{
    if (off > DISK_SIZE || len > DISK_SIZE - off)
        abort(); /* the device must have checked the range */
    memcpy(buf, ((struct memdisk *)d)->data + off, len);
    return 0;
}
static int md_write(struct disk *d, const void *buf, uint64_t off, size_t len,
                    struct bl_error *e)
{
    if (off > DISK_SIZE || len > DISK_SIZE - off || d->readonly)
        abort();
    memcpy(((struct memdisk *)d)->data + off, buf, len);
    return 0;
}
static int md_flush(struct disk *d, struct bl_error *e) { return 0; }
static int md_discard(struct disk *d, uint64_t off, uint64_t len, struct bl_error *e)
{
    if (off > DISK_SIZE || len > DISK_SIZE - off || d->readonly)
        abort();
    memset(((struct memdisk *)d)->data + off, 0, len);
    return 0;
}
static void md_close(struct disk *d) { free(d); }
static const struct disk_ops ops_discard = { "mem", md_read, md_write, md_flush, md_discard, md_close };
static const struct disk_ops ops_plain = { "mem", md_read, md_write, md_flush, NULL, md_close };

static struct vqd_ram ram;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (!ram.ram && vqd_ram_init(&ram) != 0)
        abort();
    memset(ram.ram, 0, 0x200000);
    struct memdisk *md = calloc(1, sizeof(*md));
    md->d.ops = (data[0] & 1) ? &ops_discard : &ops_plain;
    md->d.size = (data[0] & 4) ? DISK_SIZE - 100 : DISK_SIZE; /* also a ragged size */
    md->d.readonly = (data[0] >> 1) & 1;
    struct virtio_dev *dev;
    struct bl_error err;
    if (blk_new(&dev, &ram.mem, (struct irq_line){ 0 }, &md->d, "fuzz", &err) != 0)
        abort();
    struct vqd q;
    vqd_init(&q, &ram, 0, 64);
    struct vqd *qs[] = { &q };
    if (!(vqd_handshake(dev, ~0ull, qs, 1) & VIRTIO_CONFIG_S_DRIVER_OK))
        abort();
    size_t pos = 1;
    for (int req = 0; req < 16 && pos + 2 <= size; req++) {
        unsigned nout = data[pos] & 3, nin = (data[pos] >> 2) & 3;
        pos++;
        if (nout + nin == 0)
            nout = 1;
        uint64_t a[6];
        uint32_t l[6];
        for (unsigned i = 0; i < nout + nin; i++) {
            uint32_t len = pos + 2 <= size ? (uint32_t)(data[pos] | data[pos + 1] << 8) % 8192 : 16;
            pos += 2;
            a[i] = vqd_alloc(&q, len ? len : 1);
            l[i] = len;
            if (i < nout) { /* device-readable: the fuzzer's bytes */
                size_t k = pos < size ? (size - pos < len ? size - pos : len) : 0;
                memcpy(vqd_host(&ram, a[i]), data + pos, k);
                pos += k;
            }
        }
        vqd_add(&q, a, l, nout, nin);
        vqd_kick(dev, 0);
        if (dev->broken)
            break;
    }
    uint32_t id, len;
    while (vqd_get_used(&q, &id, &len)) {
    }
    virtio_dev_free(dev);
    return 0;
}
