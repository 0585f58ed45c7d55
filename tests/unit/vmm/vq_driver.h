// SPDX-License-Identifier: Apache-2.0
/* A tiny virtio "driver" for unit tests: guest RAM in plain memory, a split ring laid out
 * in it, and helpers to drive a device through the MMIO register file exactly as Linux
 * does (tests/unit/vmm/test_*.c include it; header-only so each test binary stands alone). */
#ifndef TEST_VQ_DRIVER_H
#define TEST_VQ_DRIVER_H

#include "vmm/virtio/virtio.h"

#include <stdlib.h>
#include <string.h>

#define VQD_RAM_GPA 0x100000ull
#define VQD_RAM_SIZE (4u << 20)

struct vqd_ram {
    struct guest_mem mem;
    uint8_t *ram;
};

static inline int vqd_ram_init(struct vqd_ram *r)
{
    memset(r, 0, sizeof(*r));
    r->ram = aligned_alloc(4096, VQD_RAM_SIZE);
    if (!r->ram)
        return -1;
    memset(r->ram, 0, VQD_RAM_SIZE);
    return gm_add_region(&r->mem, VQD_RAM_GPA, VQD_RAM_SIZE, r->ram);
}
static inline void vqd_ram_free(struct vqd_ram *r) { free(r->ram); }
static inline void *vqd_host(struct vqd_ram *r, uint64_t gpa)
{
    return r->ram + (gpa - VQD_RAM_GPA);
}

/* One queue as the driver sees it. Rings at fixed offsets inside RAM; buffers allocated
 * from a bump pointer above them. */
struct vqd {
    struct vqd_ram *r;
    uint16_t size;
    uint64_t desc, avail, used;
    uint16_t next_desc;  /* next free descriptor (no reuse tracking: tests are short) */
    uint16_t avail_idx;  /* driver's copy */
    uint16_t last_used;  /* next used entry to read */
    uint64_t heap;       /* next free buffer gpa */
};

static inline void vqd_init(struct vqd *q, struct vqd_ram *r, unsigned slot, uint16_t size)
{
    memset(q, 0, sizeof(*q));
    q->r = r;
    q->size = size;
    uint64_t base = VQD_RAM_GPA + (uint64_t)slot * 0x10000;
    q->desc = base;
    q->avail = base + 0x4000;
    q->used = base + 0x8000;
    q->heap = VQD_RAM_GPA + 0x100000 + (uint64_t)slot * 0x40000;
}

/* Points the device-side struct at this ring directly (no transport). */
static inline void vqd_attach(struct vqd *q, struct virtq *vq)
{
    memset(vq, 0, sizeof(*vq));
    vq->size = q->size;
    vq->desc_gpa = q->desc;
    vq->avail_gpa = q->avail;
    vq->used_gpa = q->used;
    vq->mem = &q->r->mem;
    vq->ready = true;
}

static inline uint64_t vqd_alloc(struct vqd *q, uint32_t len)
{
    uint64_t g = q->heap;
    q->heap += (len + 15) & ~15u;
    return g;
}

static inline void vqd_set_desc(struct vqd *q, uint64_t table, uint16_t i, uint64_t addr,
                                uint32_t len, uint16_t flags, uint16_t next)
{
    struct virtq_desc d = { addr, len, flags, next };
    memcpy(vqd_host(q->r, table + 16ull * i), &d, sizeof(d));
}

static inline void vqd_publish(struct vqd *q, uint16_t head)
{
    uint16_t *ring = vqd_host(q->r, q->avail + 4);
    ring[q->avail_idx % q->size] = head;
    q->avail_idx++;
    __atomic_store_n((uint16_t *)vqd_host(q->r, q->avail + 2), q->avail_idx, __ATOMIC_RELEASE);
}

/* Adds a chain of nout device-readable then nin device-writable buffers; returns head. */
static inline uint16_t vqd_add(struct vqd *q, const uint64_t *addrs, const uint32_t *lens,
                               unsigned nout, unsigned nin)
{
    uint16_t head = q->next_desc;
    unsigned n = nout + nin;
    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((head + i) % q->size);
        uint16_t flags = (i >= nout ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
        vqd_set_desc(q, q->desc, idx, addrs[i], lens[i], flags, (uint16_t)((idx + 1) % q->size));
    }
    q->next_desc = (uint16_t)((head + n) % q->size);
    vqd_publish(q, head);
    return head;
}

static inline uint16_t vqd_used_idx(struct vqd *q)
{
    return __atomic_load_n((uint16_t *)vqd_host(q->r, q->used + 2), __ATOMIC_ACQUIRE);
}

/* Next used element, or 0 if none. */
static inline int vqd_get_used(struct vqd *q, uint32_t *id, uint32_t *len)
{
    if (vqd_used_idx(q) == q->last_used)
        return 0;
    struct virtq_used_elem e;
    memcpy(&e, vqd_host(q->r, q->used + 4 + 8ull * (q->last_used % q->size)), sizeof(e));
    q->last_used++;
    *id = e.id;
    *len = e.len;
    return 1;
}

/* ---- MMIO register access ---- */
static inline uint32_t mmio_r32(struct virtio_dev *d, uint64_t off)
{
    uint32_t v;
    virtio_mmio_bus_ops.read(d, off, (uint8_t *)&v, 4);
    return v;
}
static inline void mmio_w32(struct virtio_dev *d, uint64_t off, uint32_t v)
{
    virtio_mmio_bus_ops.write(d, off, (const uint8_t *)&v, 4);
}

/* The Linux driver's handshake (virtio_mmio.c + virtio.c): reset, ACK, DRIVER, features
 * (accepting `want` of what is offered, plus VERSION_1), FEATURES_OK, queues, DRIVER_OK.
 * qs[i] may be NULL to leave queue i unconfigured. Returns the final status. */
static inline uint32_t vqd_handshake(struct virtio_dev *d, uint64_t want, struct vqd **qs,
                                     unsigned nq)
{
    mmio_w32(d, VIRTIO_MMIO_STATUS, 0);
    mmio_w32(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    mmio_w32(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    uint64_t offered = 0;
    for (uint32_t sel = 0; sel < 2; sel++) {
        mmio_w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
        offered |= (uint64_t)mmio_r32(d, VIRTIO_MMIO_DEVICE_FEATURES) << (32 * sel);
    }
    uint64_t f = offered & (want | (1ull << VIRTIO_F_VERSION_1));
    for (uint32_t sel = 0; sel < 2; sel++) {
        mmio_w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
        mmio_w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> (32 * sel)));
    }
    uint32_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
    mmio_w32(d, VIRTIO_MMIO_STATUS, st);
    if (!(mmio_r32(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK))
        return mmio_r32(d, VIRTIO_MMIO_STATUS);
    for (unsigned i = 0; i < nq; i++) {
        if (!qs[i])
            continue;
        mmio_w32(d, VIRTIO_MMIO_QUEUE_SEL, i);
        if (mmio_r32(d, VIRTIO_MMIO_QUEUE_READY) != 0 || mmio_r32(d, VIRTIO_MMIO_QUEUE_NUM_MAX) < qs[i]->size)
            return 0;
        mmio_w32(d, VIRTIO_MMIO_QUEUE_NUM, qs[i]->size);
        mmio_w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)qs[i]->desc);
        mmio_w32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(qs[i]->desc >> 32));
        mmio_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)qs[i]->avail);
        mmio_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(qs[i]->avail >> 32));
        mmio_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)qs[i]->used);
        mmio_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(qs[i]->used >> 32));
        mmio_w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
    }
    mmio_w32(d, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
    return mmio_r32(d, VIRTIO_MMIO_STATUS);
}

static inline void vqd_kick(struct virtio_dev *d, unsigned q)
{
    mmio_w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* Counts interrupts raised through an irq_line. */
struct irq_count {
    int n;
};
static inline void irq_count_trigger(void *opaque, uint32_t gsi)
{
    __atomic_fetch_add(&((struct irq_count *)opaque)->n, 1, __ATOMIC_SEQ_CST);
}
static inline struct irq_line irq_count_line(struct irq_count *c)
{
    return (struct irq_line){ .trigger = irq_count_trigger, .opaque = c, .gsi = 5 };
}

#endif
