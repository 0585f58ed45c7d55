// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* virtio-console control messages and port traffic: after the device announces its
 * ports, the fuzzer sends control messages of any length and content (DEVICE_READY,
 * PORT_READY, PORT_OPEN for real and unknown ports, garbage), adds and withholds receive
 * buffers, writes on ports and closes the host side, with the event loop run between. */
#include "unit/vmm/vq_driver.h"
#include "vmm/virtio/console.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define NQ 6

static struct vqd_ram ram;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ram.ram && vqd_ram_init(&ram) != 0)
        abort();
    memset(ram.ram, 0, 0x300000);
    struct evloop *loop = evloop_new();
    struct virtio_dev *dev;
    struct bl_error err;
    if (!loop || console_new(&dev, &ram.mem, (struct irq_line){ 0 }, loop, 2, &err) != 0)
        abort();
    int h0[2], h1[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, h0) || socketpair(AF_UNIX, SOCK_STREAM, 0, h1))
        abort();
    console_add_port(dev, "boxlite.agent", h0[0], &err);
    console_add_console_port(dev, NULL, h1[0], &err);
    struct vqd q[NQ], *qs[NQ];
    for (unsigned i = 0; i < NQ; i++) {
        vqd_init(&q[i], &ram, i, 64);
        qs[i] = &q[i];
    }
    if (!(vqd_handshake(dev, ~0ull, qs, NQ) & VIRTIO_CONFIG_S_DRIVER_OK))
        abort();
    size_t pos = 0;
    for (int step = 0; step < 48 && pos < size && !dev->broken; step++) {
        uint8_t op = data[pos++];
        unsigned qi = (op >> 3) % NQ;
        switch (op & 7) {
        case 0: /* a control message (or any bytes) on the control transmit queue */
        case 1: {
            uint32_t len = pos < size ? data[pos++] % 24 : 8;
            uint64_t a[] = { vqd_alloc(&q[3], len ? len : 1) };
            uint32_t l[] = { len };
            size_t k = size - pos < len ? size - pos : len;
            memcpy(vqd_host(&ram, a[0]), data + pos, k);
            pos += k;
            vqd_add(&q[3], a, l, 1, 0);
            vqd_kick(dev, 3);
            break;
        }
        case 2: { /* receive buffers on some queue */
            uint32_t len = pos < size ? data[pos++] % 64 : 16;
            uint64_t a[] = { vqd_alloc(&q[qi], len ? len : 1) };
            uint32_t l[] = { len };
            vqd_add(&q[qi], a, l, 0, 1);
            vqd_kick(dev, qi);
            break;
        }
        case 3: { /* the guest writes on a port's transmit queue */
            uint32_t len = pos < size ? data[pos++] % 64 : 4;
            uint64_t a[] = { vqd_alloc(&q[qi | 1], len ? len : 1) };
            uint32_t l[] = { len };
            vqd_add(&q[qi | 1], a, l, 1, 0);
            vqd_kick(dev, qi | 1);
            break;
        }
        case 4: /* the host writes */
            if (send((op & 8) ? h1[1] : h0[1], data, size < 100 ? size : 100,
                     MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            }
            break;
        case 5: /* the host reads */ {
            char buf[256];
            if (recv((op & 8) ? h1[1] : h0[1], buf, sizeof(buf), MSG_DONTWAIT) < 0) {
            }
            break;
        }
        case 6: /* the host closes a port */
            shutdown((op & 8) ? h1[1] : h0[1], SHUT_RDWR);
            break;
        case 7: /* reset, or a bare kick */
            if (op & 8)
                mmio_w32(dev, VIRTIO_MMIO_STATUS, 0);
            else
                vqd_kick(dev, qi);
            break;
        }
        for (int i = 0; i < 4 && evloop_run_once(loop, 0) > 0; i++) {
        }
    }
    virtio_dev_free(dev);
    close(h0[1]);
    close(h1[1]);
    evloop_free(loop);
    return 0;
}
