// SPDX-License-Identifier: Apache-2.0
/* virtio-net, Virtio 1.2 section 5.1: transmit chains become ethernet frames for the back
 * end; frames from the back end fill receive chains behind a 12-byte virtio_net_hdr. */
#include "vmm/virtio/net.h"

#include "vmm/snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* struct virtio_net_hdr (section 5.1.6): flags, gso_type, hdr_len, gso_size, csum_start,
 * csum_offset, num_buffers; little-endian. */
#define HDR_GSO_TYPE 1
#define HDR_NUM_BUFFERS 10

struct net_config {
    uint8_t mac[6];
    uint16_t status;
    uint16_t max_virtqueue_pairs;
} __attribute__((packed));

struct vnet {
    struct virtio_dev dev;
    struct net_backend be;
    struct evloop *loop;
    bool rx_registered;
    struct net_config cfg;
    bool mac_given; /* by the creator: it wins over a snapshot's (a fork's new MAC) */
    struct virtio_net_counters cnt;
    struct virtq_elem el;
    uint8_t frame[VIRTIO_NET_HDR_SIZE + VIRTIO_NET_FRAME_MAX];
};

static uint64_t net_features(struct virtio_dev *dev)
{
    return (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS);
}

static void net_config_read(struct virtio_dev *dev, uint64_t off, uint8_t *data, uint32_t len)
{
    struct vnet *n = dev->priv;
    memset(data, 0, len);
    if (off < sizeof n->cfg && len <= sizeof n->cfg - off)
        memcpy(data, (const uint8_t *)&n->cfg + off, len);
}

static void tx(struct vnet *n)
{
    struct virtq *q = &n->dev.queues[VIRTIO_NET_TXQ];
    uint16_t old = q->used_idx;
    int rc;
    while ((rc = virtq_pop(q, &n->el)) == 1) {
        struct virtq_elem *e = &n->el;
        if (e->out_len < VIRTIO_NET_HDR_SIZE) {
            virtio_dev_fail(&n->dev, "tx chain of %llu bytes, shorter than the header",
                            (unsigned long long)e->out_len);
            return;
        }
        uint8_t hdr[VIRTIO_NET_HDR_SIZE];
        iov_to_buf(e->out, e->out_num, 0, hdr, sizeof hdr);
        if (hdr[HDR_GSO_TYPE] != VIRTIO_NET_HDR_GSO_NONE) {
            virtio_dev_fail(&n->dev, "tx with gso_type %u, not negotiated",
                            hdr[HDR_GSO_TYPE]);
            return;
        }
        uint64_t flen = e->out_len - VIRTIO_NET_HDR_SIZE;
        if (flen < 14 || flen > VIRTIO_NET_FRAME_MAX) {
            n->cnt.tx_dropped++;
        } else {
            size_t got = iov_to_buf(e->out, e->out_num, VIRTIO_NET_HDR_SIZE, n->frame, flen);
            n->be.send(n->be.opaque, n->frame, got);
            n->cnt.tx_frames++;
        }
        if (virtq_push(q, e, 0) < 0)
            break;
    }
    virtio_dev_interrupt(&n->dev, VIRTIO_NET_TXQ, old);
}

static void rx(struct vnet *n)
{
    struct virtq *q = &n->dev.queues[VIRTIO_NET_RXQ];
    if (!q->ready)
        return;
    uint16_t old = q->used_idx;
    while (n->be.peek(n->be.opaque) > 0) {
        if (virtq_pop(q, &n->el) != 1)
            break; /* no buffer: the frame waits for the guest's next kick */
        struct virtq_elem *e = &n->el;
        size_t flen = n->be.recv(n->be.opaque, n->frame + VIRTIO_NET_HDR_SIZE,
                                 VIRTIO_NET_FRAME_MAX);
        size_t total = VIRTIO_NET_HDR_SIZE + flen;
        uint32_t written = 0;
        if (flen == 0) {
            /* dropped by the back end: give the buffer back unused */
        } else if (e->in_len < total) {
            n->cnt.rx_dropped++;
        } else {
            memset(n->frame, 0, VIRTIO_NET_HDR_SIZE);
            n->frame[HDR_NUM_BUFFERS] = 1;
            written = (uint32_t)iov_from_buf(e->in, e->in_num, 0, n->frame, total);
            n->cnt.rx_frames++;
        }
        if (virtq_push(q, e, written) < 0)
            break;
    }
    virtio_dev_interrupt(&n->dev, VIRTIO_NET_RXQ, old);
}

static void net_notify(struct virtio_dev *dev, uint16_t qidx)
{
    struct vnet *n = dev->priv;
    if (qidx == VIRTIO_NET_TXQ)
        tx(n);
    /* a tx kick may have produced replies (ARP, DHCP) synchronously: deliver them too */
    if (!dev->broken)
        rx(n);
}

static void on_rx_fd(void *opaque, int fd, uint32_t events)
{
    struct vnet *n = opaque;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v); /* drain before looking at the queue */
    (void)r;
    virtio_dev_notify(&n->dev, VIRTIO_NET_RXQ);
}

void virtio_net_poll_rx(struct virtio_dev *dev)
{
    virtio_dev_notify(dev, VIRTIO_NET_RXQ);
}

void virtio_net_counters(struct virtio_dev *dev, struct virtio_net_counters *out)
{
    struct vnet *n = dev->priv;
    pthread_mutex_lock(&dev->lock);
    *out = n->cnt;
    pthread_mutex_unlock(&dev->lock);
}

static void net_free(struct virtio_dev *dev)
{
    struct vnet *n = dev->priv;
    if (n->rx_registered)
        evloop_del(n->loop, n->be.rx_fd);
    free(n);
}

/* Snapshots: the MAC in config space. A box resumed as it was keeps the one its guest read
 * at probe; a fork is given a new one (vmm.json network.mac), which a later re-probe reads. */
enum { N_MAC = 1, N_END };

static void net_save(struct virtio_dev *dev, struct vmsnap_buf *b)
{
    struct vnet *n = dev->priv;
    vmsnap_rec(b, N_MAC, n->cfg.mac, sizeof n->cfg.mac);
}

static int net_restore(struct virtio_dev *dev, const uint8_t *b, size_t len, struct bl_error *err)
{
    struct vnet *n = dev->priv;
    uint8_t mac[6];
    if (vmsnap_rec_check(b, len, N_END, "virtio-net", err) < 0 ||
        vmsnap_rec_copy(b, len, N_MAC, mac, sizeof mac, "virtio-net", err) < 0)
        return -err->code;
    if (!n->mac_given)
        memcpy(n->cfg.mac, mac, sizeof mac);
    return 0;
}

static const struct virtio_dev_ops net_ops = {
    .name = "net",
    .device_id = 1,
    .num_queues = 2,
    .queue_max_size = VIRTIO_NET_QUEUE_SIZE,
    .features = net_features,
    .config_read = net_config_read,
    .notify = net_notify,
    .free = net_free,
    .save = net_save,
    .restore = net_restore,
};

int virtio_net_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
                   struct evloop *loop, const uint8_t *mac, struct net_backend be,
                   struct bl_error *err)
{
    static const uint8_t default_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    if (!be.send || !be.peek || !be.recv)
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-net: incomplete back end");
    struct vnet *n = calloc(1, sizeof *n);
    if (!n)
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-net: out of memory");
    n->be = be;
    n->loop = loop;
    memcpy(n->cfg.mac, mac ? mac : default_mac, 6);
    n->mac_given = mac != NULL;
    n->cfg.status = VIRTIO_NET_S_LINK_UP; /* little-endian host (x86_64, aarch64) */
    n->cfg.max_virtqueue_pairs = 1;
    if (virtio_dev_init(&n->dev, &net_ops, n, mem, irq) < 0) {
        free(n);
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-net: out of memory");
    }
    if (loop && be.rx_fd >= 0) {
        int rc = evloop_add(loop, be.rx_fd, EPOLLIN, on_rx_fd, n);
        if (rc < 0) {
            virtio_dev_free(&n->dev);
            return bl_errno(err, -rc, "virtio-net: watch back end");
        }
        n->rx_registered = true;
    }
    *out = &n->dev;
    return 0;
}
