// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* virtio-balloon as a hostile guest drives it: the fuzzer chooses the features, then a
 * series of operations: buffers on any of the four queues (how many readable and writable
 * descriptors, their guest addresses, which may be anywhere, their lengths and the frame
 * numbers or statistics they hold), config-space reads and writes of any width and offset,
 * host target changes and statistics requests. Every range the device discards must be
 * page-aligned inside one RAM region (else abort); afterwards the device is either healthy
 * or cleanly marked broken, and a reset brings it back. */
#include "unit/vmm/vq_driver.h"
#include "vmm/virtio/balloon.h"

#include <stdlib.h>
#include <sys/mman.h>

static struct vqd_ram ram;

static int check_discard(void *opaque, void *host, size_t len)
{
    (void)opaque;
    uint8_t *p = host;
    if (p < ram.ram || len > VQD_RAM_SIZE || (size_t)(p - ram.ram) > VQD_RAM_SIZE - len ||
        ((uintptr_t)p | len) % BALLOON_PAGE_SIZE || len == 0)
        abort();
    /* the real call: a guest that discards its own rings must not hurt the host */
    return madvise(host, len, MADV_DONTNEED) == 0 ? 0 : -1;
}

struct in {
    const uint8_t *d;
    size_t n, pos;
};
static uint32_t take(struct in *in, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint32_t)(in->pos < in->n ? in->d[in->pos++] : 0) << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (!ram.ram) {
        /* mmap, not malloc: discards must be real madvise calls on anonymous memory */
        ram.ram = mmap(NULL, VQD_RAM_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (ram.ram == MAP_FAILED || gm_add_region(&ram.mem, VQD_RAM_GPA, VQD_RAM_SIZE, ram.ram))
            abort();
    }
    memset(ram.ram, 0, 0x300000);
    struct in in = { data, size, 0 };
    uint32_t mode = take(&in, 1);
    struct balloon_cfg cfg = { .ram_bytes = (uint64_t)(take(&in, 1) + 1) << 20,
                               .target_mib = take(&in, 1),
                               .free_page_reporting = mode & 1 };
    struct virtio_dev *dev;
    struct bl_error err;
    if (balloon_new(&dev, &ram.mem, (struct irq_line){ 0 }, &cfg, &err) != 0)
        abort();
    balloon_set_discard(dev, check_discard, NULL);
    struct vqd q[4];
    struct vqd *qs[4];
    for (unsigned i = 0; i < 4; i++) {
        vqd_init(&q[i], &ram, i, 64);
        qs[i] = &q[i];
    }
    uint64_t want = (uint64_t)(mode >> 1) & 0x3f;
    if (!(vqd_handshake(dev, want, qs, 4) & VIRTIO_CONFIG_S_DRIVER_OK))
        abort();
    for (int op = 0; op < 24 && in.pos < in.n; op++) {
        uint32_t kind = take(&in, 1);
        switch (kind & 7) {
        case 0: { /* config access */
            uint32_t off = take(&in, 1), w = 1u << (take(&in, 1) & 3);
            uint8_t buf[8];
            uint32_t v = take(&in, 4);
            memcpy(buf, &v, 4);
            memcpy(buf + 4, &v, 4);
            if (kind & 8)
                virtio_mmio_bus_ops.write(dev, VIRTIO_MMIO_CONFIG + off, buf, w);
            else
                virtio_mmio_bus_ops.read(dev, VIRTIO_MMIO_CONFIG + off, buf, w);
            break;
        }
        case 1: balloon_set_target(dev, take(&in, 2)); break;
        case 2: balloon_request_stats(dev); break;
        default: { /* a buffer on queue (kind >> 3) & 3 */
            unsigned qi = (kind >> 3) & 3;
            uint32_t shape = take(&in, 1);
            unsigned nout = shape & 3, nin = (shape >> 2) & 3;
            if (nout + nin == 0)
                nout = 1;
            uint64_t a[6];
            uint32_t l[6];
            for (unsigned i = 0; i < nout + nin; i++) {
                uint32_t len = take(&in, 2) % 8192;
                if (take(&in, 1) & 1) {
                    /* an address of the fuzzer's: anywhere, often a hole or a ring */
                    a[i] = (uint64_t)take(&in, 3) << 8;
                } else {
                    a[i] = vqd_alloc(&q[qi], len ? len : 1);
                    if (i < nout) { /* frame numbers or statistics from the input */
                        size_t k = in.pos < in.n ? (in.n - in.pos < len ? in.n - in.pos : len) : 0;
                        memcpy(vqd_host(&ram, a[i]), in.d + in.pos, k);
                        in.pos += k;
                    }
                }
                l[i] = len;
            }
            vqd_add(&q[qi], a, l, nout, nin);
            vqd_kick(dev, qi);
            break;
        }
        }
    }
    struct balloon_stats s;
    balloon_get_stats(dev, &s);
    if (s.inflated_pages > VQD_RAM_SIZE / BALLOON_PAGE_SIZE)
        abort(); /* only pages of RAM can be in the balloon */
    /* a reset always brings the device back */
    mmio_w32(dev, VIRTIO_MMIO_STATUS, 0);
    if (dev->broken || (mmio_r32(dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET))
        abort();
    balloon_get_stats(dev, &s);
    if (s.inflated_pages != 0 || s.actual_pages != 0)
        abort();
    virtio_dev_free(dev);
    return 0;
}
