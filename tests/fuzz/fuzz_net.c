// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* virtio-net's transmit and receive paths with guest-controlled contents: chains whose
 * buffer sizes and bytes come from the input go through the tx queue (header checks,
 * gathering, the back end's frame classifier), and frames from the input fill rx buffers
 * of input-chosen sizes. The ring itself is well formed (the virtqueue walk has its own
 * target); what is fuzzed is what the device does with what the guest put in it. */
#include "unit/vmm/vq_driver.h"
#include "vmm/net/slirp.h"
#include "vmm/virtio/net.h"

#include <stdlib.h>
#include <string.h>

struct be {
    const uint8_t *rx;
    size_t rx_left;
    unsigned frames;
};
static void be_send(void *o, const uint8_t *f, size_t len)
{
    if (len < 14 || len > VIRTIO_NET_FRAME_MAX)
        abort(); /* the device promised to filter these */
    net_frame_classify(f, len);
}
static size_t be_peek(void *o)
{
    struct be *b = o;
    if (b->frames >= 8 || b->rx_left < 2)
        return 0;
    size_t n = (size_t)(b->rx[0] | b->rx[1] << 8);
    return n ? n : 1;
}
static size_t be_recv(void *o, uint8_t *buf, size_t cap)
{
    struct be *b = o;
    if (b->frames >= 8 || b->rx_left < 2)
        return 0;
    size_t n = (size_t)(b->rx[0] | b->rx[1] << 8);
    b->rx += 2;
    b->rx_left -= 2;
    if (n > b->rx_left)
        n = b->rx_left;
    b->frames++;
    if (n > cap)
        return 0;
    memcpy(buf, b->rx, n);
    b->rx += n;
    b->rx_left -= n;
    return n;
}

static struct vqd_ram ram;
static struct virtio_dev *dev;
static struct be be;
static struct irq_count irqs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dev) {
        if (vqd_ram_init(&ram) < 0)
            abort();
        struct net_backend nb = { .opaque = &be, .send = be_send, .peek = be_peek,
                                  .recv = be_recv, .rx_fd = -1 };
        if (virtio_net_new(&dev, &ram.mem, irq_count_line(&irqs), NULL, NULL, nb, NULL) < 0)
            abort();
    }
    memset(&be, 0, sizeof be);
    struct vqd rxq, txq;
    vqd_init(&rxq, &ram, 0, 16);
    vqd_init(&txq, &ram, 1, 16);
    struct vqd *qs[] = { &rxq, &txq };
    if (!(vqd_handshake(dev, (1ull << VIRTIO_NET_F_MAC), qs, 2) & VIRTIO_CONFIG_S_DRIVER_OK))
        abort();
    if (size < 1)
        return 0;
    unsigned nchains = data[0] % 4 + 1;
    data++;
    size--;
    /* tx chains: [nbufs][len16 x nbufs] then the bytes */
    for (unsigned c = 0; c < nchains && size >= 1; c++) {
        unsigned nb = data[0] % 4 + 1;
        data++;
        size--;
        uint64_t a[4];
        uint32_t l[4];
        for (unsigned i = 0; i < nb; i++) {
            uint32_t len = 0;
            if (size >= 2) {
                len = (uint32_t)(data[0] | data[1] << 8);
                data += 2;
                size -= 2;
            }
            len %= 0x9000;
            a[i] = vqd_alloc(&txq, len ? len : 1);
            l[i] = len;
            size_t take = len < size ? len : size;
            memset(vqd_host(&ram, a[i]), 0, len);
            memcpy(vqd_host(&ram, a[i]), data, take);
            data += take;
            size -= take;
        }
        vqd_add(&txq, a, l, nb, 0);
    }
    vqd_kick(dev, VIRTIO_NET_TXQ);
    /* rx: four buffers of input-chosen sizes, then the rest of the input as frames */
    for (unsigned i = 0; i < 4; i++) {
        uint32_t len = 1526;
        if (size >= 2) {
            len = (uint32_t)(data[0] | data[1] << 8) % 0x9000;
            data += 2;
            size -= 2;
        }
        uint64_t a[] = { vqd_alloc(&rxq, len ? len : 1) };
        uint32_t l[] = { len };
        vqd_add(&rxq, a, l, 0, 1);
    }
    be.rx = data;
    be.rx_left = size;
    vqd_kick(dev, VIRTIO_NET_RXQ);
    return 0;
}
