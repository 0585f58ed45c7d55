// SPDX-License-Identifier: Apache-2.0
/* virtio-net (Virtio 1.2 section 5.1): one receive and one transmit queue, a fixed MAC,
 * ethernet frames to and from a back end (src/vmm/net/slirp.h gives the libslirp one).
 *
 * Offered: VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS (link always up), VIRTIO_F_VERSION_1 (the
 * 12-byte virtio_net_hdr). No checksum or segmentation offloads and no MRG_RXBUF: the
 * guest's receive buffers must each hold a whole frame (Linux posts 1518-byte-plus-header
 * buffers without offloads; slirp's MTU is 1500). A receive buffer too small for a frame
 * gets the frame dropped (counted), a transmit chain shorter than the header or carrying a
 * GSO request marks the device broken, a frame over 65550 bytes is dropped (counted). */
#ifndef VMM_VIRTIO_NET_H
#define VMM_VIRTIO_NET_H

#include "common/error.h"
#include "vmm/core/evloop.h"
#include "vmm/virtio/virtio.h"

/* Feature bits and config layout (section 5.1.3, 5.1.4). */
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1
#define VIRTIO_NET_HDR_SIZE 12 /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_FRAME_MAX 65550
#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1

/* Where frames go and come from. send() takes a frame from the guest; peek() is the length
 * of the next frame for the guest (0 if none); recv() takes it (0 if none, or if it did not
 * fit in cap and was dropped). rx_fd, if >= 0, is readable while frames wait: the device
 * watches it on its event loop. All three are called with the device's lock held, from
 * the event loop or vCPU thread, and must not call back into the device. */
struct net_backend {
    void *opaque;
    void (*send)(void *opaque, const uint8_t *frame, size_t len);
    size_t (*peek)(void *opaque);
    size_t (*recv)(void *opaque, uint8_t *buf, size_t cap);
    int rx_fd;
};

struct virtio_net_counters {
    uint64_t tx_frames, rx_frames;
    uint64_t tx_dropped; /* oversized or runt frames from the guest */
    uint64_t rx_dropped; /* frames that did not fit the guest's receive buffer */
};

/* Creates the device. mac is the guest's address (NULL: 52:54:00:12:34:56, or the one a
 * restored snapshot holds; a given one wins over the snapshot's: a fork's). If loop is
 * non-NULL and be.rx_fd >= 0, the device registers rx_fd on loop (removed by
 * virtio_dev_free); without a loop, frames for the guest move when the guest kicks either
 * queue or when virtio_net_poll_rx() is called. The back end is not owned: free the device
 * first, then the back end (e.g. slirp_net_free).
 *
 * Machine wiring (KVM engine):
 *     slirp_net_new(&sn, &cfg, &err);  slirp_net_add_fwd(sn, ...) per port;
 *     virtio_net_new(&dev, &mem, irq, loop, NULL, slirp_net_backend(sn), &err);
 *     virtio_dev_use_eventfds(dev, loop);  map it on the MMIO bus as any virtio device. */
int virtio_net_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
                   struct evloop *loop, const uint8_t *mac, struct net_backend be,
                   struct bl_error *err);
/* Moves waiting frames into the guest's receive buffers (what the rx_fd handler does). */
void virtio_net_poll_rx(struct virtio_dev *dev);
void virtio_net_counters(struct virtio_dev *dev, struct virtio_net_counters *out);

#endif
