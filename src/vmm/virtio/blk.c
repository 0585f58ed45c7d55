// SPDX-License-Identifier: Apache-2.0
/* virtio-blk, Virtio 1.2 section 5.2: one request queue; each request is a 16-byte header
 * the device reads, data, and a status byte the device writes last. Requests are parsed
 * by byte offset (any descriptor layout, as VERSION_1 allows); every sector range is
 * checked against the disk before any I/O. */
#include "vmm/virtio/blk.h"

#include "vmm/snapshot.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR 512ull
#define BLK_ID_BYTES 20
#define ZERO_CHUNK (64u << 10)

struct blk_req_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

struct blk_dz_seg { /* section 5.2.6: virtio_blk_discard_write_zeroes */
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags; /* bit 0: unmap */
};

struct blk {
    struct virtio_dev dev;
    struct disk *disk;
    char serial[BLK_ID_BYTES];
    uint8_t *zeros;
    struct virtq_elem el;
    struct iovec data[VIRTQ_MAX_CHAIN];
};

static uint64_t blk_features(struct virtio_dev *dev)
{
    struct blk *b = dev->priv;
    uint64_t f = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                 (1ull << VIRTIO_BLK_F_FLUSH);
    if (b->disk->readonly)
        f |= 1ull << VIRTIO_BLK_F_RO;
    else {
        f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
        if (b->disk->ops->discard)
            f |= 1ull << VIRTIO_BLK_F_DISCARD;
    }
    return f;
}

static void put32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
}

/* struct virtio_blk_config, section 5.2.4 (offsets in comments). */
static void blk_config_read(struct virtio_dev *dev, uint64_t off, uint8_t *data, uint32_t len)
{
    struct blk *b = dev->priv;
    uint8_t c[64] = { 0 };
    uint64_t cap = htole64(b->disk->size / SECTOR);
    memcpy(c + 0, &cap, 8);               /* capacity */
    put32(c + 12, BLK_SEG_MAX);           /* seg_max */
    put32(c + 20, SECTOR);                /* blk_size */
    put32(c + 36, BLK_MAX_DZ_SECTORS);    /* max_discard_sectors */
    put32(c + 40, BLK_MAX_DZ_SEG);        /* max_discard_seg */
    put32(c + 44, 1);                     /* discard_sector_alignment */
    put32(c + 48, BLK_MAX_DZ_SECTORS);    /* max_write_zeroes_sectors */
    put32(c + 52, BLK_MAX_DZ_SEG);        /* max_write_zeroes_seg */
    if (off < sizeof(c) && len <= sizeof(c) - off)
        memcpy(data, c + off, len);
}

/* Is [sector, sector + bytes/512) inside the disk? */
static bool range_ok(const struct disk *d, uint64_t sector, uint64_t bytes)
{
    if (sector > d->size / SECTOR)
        return false;
    uint64_t off = sector * SECTOR;
    return bytes <= d->size - off;
}

static uint8_t do_rw(struct blk *b, const struct blk_req_hdr *h, bool write, uint32_t *written)
{
    struct virtq_elem *e = &b->el;
    struct disk *d = b->disk;
    uint64_t len = write ? e->out_len - sizeof(*h) : e->in_len - 1;
    if (write && d->readonly)
        return VIRTIO_BLK_S_IOERR;
    if (len % SECTOR || len > BLK_MAX_REQUEST || !range_ok(d, h->sector, len))
        return VIRTIO_BLK_S_IOERR;
    unsigned n = write ? iov_slice(b->data, VIRTQ_MAX_CHAIN, e->out, e->out_num, sizeof(*h), len)
                       : iov_slice(b->data, VIRTQ_MAX_CHAIN, e->in, e->in_num, 0, len);
    uint64_t off = h->sector * SECTOR;
    struct bl_error err;
    for (unsigned i = 0; i < n; i++) {
        struct iovec *v = &b->data[i];
        if (v->iov_len == 0)
            continue;
        int rc = write ? d->ops->write(d, v->iov_base, off, v->iov_len, &err)
                       : d->ops->read(d, v->iov_base, off, v->iov_len, &err);
        if (rc < 0)
            return VIRTIO_BLK_S_IOERR;
        off += v->iov_len;
    }
    if (!write)
        *written = (uint32_t)len;
    return VIRTIO_BLK_S_OK;
}

static int write_zeroes(struct blk *b, uint64_t off, uint64_t len)
{
    struct bl_error err;
    if (!b->zeros && !(b->zeros = calloc(1, ZERO_CHUNK)))
        return -1;
    while (len) {
        size_t k = len < ZERO_CHUNK ? len : ZERO_CHUNK;
        if (b->disk->ops->write(b->disk, b->zeros, off, k, &err) < 0)
            return -1;
        off += k;
        len -= k;
    }
    return 0;
}

static uint8_t do_discard_or_zeroes(struct blk *b, uint32_t type)
{
    struct virtq_elem *e = &b->el;
    struct disk *d = b->disk;
    bool zeroes = type == VIRTIO_BLK_T_WRITE_ZEROES;
    if (!zeroes && !d->ops->discard)
        return VIRTIO_BLK_S_UNSUPP;
    if (d->readonly)
        return VIRTIO_BLK_S_IOERR;
    uint64_t payload = e->out_len - sizeof(struct blk_req_hdr);
    if (payload == 0 || payload % sizeof(struct blk_dz_seg) ||
        payload / sizeof(struct blk_dz_seg) > BLK_MAX_DZ_SEG)
        return VIRTIO_BLK_S_IOERR;
    unsigned nseg = (unsigned)(payload / sizeof(struct blk_dz_seg));
    struct blk_dz_seg segs[BLK_MAX_DZ_SEG];
    iov_to_buf(e->out, e->out_num, sizeof(struct blk_req_hdr), segs, payload);
    /* Check every segment before touching the disk. */
    for (unsigned i = 0; i < nseg; i++) {
        uint32_t flags = le32toh(segs[i].flags);
        if ((flags & ~1u) || (!zeroes && (flags & 1u)))
            return VIRTIO_BLK_S_UNSUPP; /* section 5.2.6.2: unknown or unmap on discard */
        uint32_t ns = le32toh(segs[i].num_sectors);
        if (ns > BLK_MAX_DZ_SECTORS || !range_ok(d, le64toh(segs[i].sector), ns * SECTOR))
            return VIRTIO_BLK_S_IOERR;
    }
    struct bl_error err;
    for (unsigned i = 0; i < nseg; i++) {
        uint64_t off = le64toh(segs[i].sector) * SECTOR;
        uint64_t len = le32toh(segs[i].num_sectors) * SECTOR;
        if (len == 0)
            continue;
        int rc = zeroes ? write_zeroes(b, off, len) : d->ops->discard(d, off, len, &err);
        if (rc < 0)
            return VIRTIO_BLK_S_IOERR;
    }
    return VIRTIO_BLK_S_OK;
}

/* Handles b->el; returns false if the request is too malformed to answer. */
static bool handle(struct blk *b)
{
    struct virtq_elem *e = &b->el;
    struct blk_req_hdr h;
    if (e->out_len < sizeof(h) || e->in_len < 1) {
        virtio_dev_fail(&b->dev, "request without a header or a status byte");
        return false;
    }
    iov_to_buf(e->out, e->out_num, 0, &h, sizeof(h));
    h.type = le32toh(h.type);
    h.sector = le64toh(h.sector);
    uint32_t written = 0;
    uint8_t status;
    switch (h.type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        status = do_rw(b, &h, h.type == VIRTIO_BLK_T_OUT, &written);
        break;
    case VIRTIO_BLK_T_FLUSH: {
        struct bl_error err;
        status = VIRTIO_BLK_S_OK;
        if (!b->disk->readonly && b->disk->ops->flush && b->disk->ops->flush(b->disk, &err) < 0)
            status = VIRTIO_BLK_S_IOERR;
        break;
    }
    case VIRTIO_BLK_T_GET_ID: {
        uint64_t n = e->in_len - 1 < BLK_ID_BYTES ? e->in_len - 1 : BLK_ID_BYTES;
        written = (uint32_t)iov_from_buf(e->in, e->in_num, 0, b->serial, n);
        status = VIRTIO_BLK_S_OK;
        break;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        status = do_discard_or_zeroes(b, h.type);
        break;
    default:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    iov_from_buf(e->in, e->in_num, e->in_len - 1, &status, 1);
    virtq_push(&b->dev.queues[0], e, written + 1);
    return true;
}

static void blk_notify(struct virtio_dev *dev, uint16_t qidx)
{
    struct blk *b = dev->priv;
    struct virtq *q = &dev->queues[0];
    uint16_t old = q->used_idx;
    while (virtq_pop(q, &b->el) == 1)
        if (!handle(b))
            break;
    virtio_dev_interrupt(dev, 0, old);
}

static void blk_free(struct virtio_dev *dev)
{
    struct blk *b = dev->priv;
    b->disk->ops->close(b->disk);
    free(b->zeros);
    free(b);
}

/* Snapshots: nothing of the model's own to keep (requests complete before the loop stops),
 * but what the guest wrote must be on the disk, metadata included, before the state that
 * says it was written: a resume opens the disk afresh. */
static void blk_save(struct virtio_dev *dev, struct vmsnap_buf *p)
{
    struct blk *b = dev->priv;
    struct bl_error err = { 0 };
    if (disk_flush(b->disk, &err) < 0)
        p->failed = "the disk could not be flushed";
}

static int blk_restore(struct virtio_dev *dev, const uint8_t *p, size_t len,
                       struct bl_error *err)
{
    return len ? bl_err(err, BOXLITE_ERR_INVALID, "virtio-blk: unexpected state") : 0;
}

static const struct virtio_dev_ops blk_ops = {
    .name = "blk",
    .device_id = 2,
    .num_queues = 1,
    .queue_max_size = BLK_QUEUE_SIZE,
    .features = blk_features,
    .config_read = blk_config_read,
    .notify = blk_notify,
    .free = blk_free,
    .save = blk_save,
    .restore = blk_restore,
};

int blk_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
            struct disk *disk, const char *serial, struct bl_error *err)
{
    struct blk *b = calloc(1, sizeof(*b));
    if (!b || virtio_dev_init(&b->dev, &blk_ops, b, mem, irq) < 0) {
        free(b);
        disk->ops->close(disk);
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-blk: out of memory");
    }
    b->disk = disk;
    if (serial)
        memcpy(b->serial, serial, strnlen(serial, sizeof(b->serial))); /* no NUL at 20 */
    *out = &b->dev;
    return 0;
}
