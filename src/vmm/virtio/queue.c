// SPDX-License-Identifier: Apache-2.0
/* The split virtqueue, device side (Virtio 1.2 section 2.7). Every index, length and
 * address comes from guest memory the guest may rewrite at any time: each value is read
 * once into a local, checked, and only the checked copy is used. */
#include "vmm/virtio/virtio.h"

#include <endian.h>
#include <string.h>

struct ring {
    uint8_t *desc;  /* size * 16 */
    uint8_t *avail; /* flags, idx, ring[size], used_event */
    uint8_t *used;  /* flags, idx, ring[size] of {id, len}, avail_event */
};

static int q_fail(struct virtq *q, const char *why)
{
    if (!q->broken) {
        q->broken = true;
        q->error = why;
    }
    return -1;
}

static inline uint16_t load16(const uint8_t *p, int order)
{
    return le16toh(__atomic_load_n((const uint16_t *)p, order));
}
static inline void store16(uint8_t *p, uint16_t v, int order)
{
    __atomic_store_n((uint16_t *)p, htole16(v), order);
}

/* Maps the three rings; alignment as section 2.7 requires (16, 2, 4). */
static int ring_map(struct virtq *q, struct ring *r)
{
    uint32_t n = q->size;
    if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
        return q_fail(q, "queue size is not a power of 2 within limits");
    if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
        return q_fail(q, "ring address misaligned");
    r->desc = gm_ptr(q->mem, q->desc_gpa, 16ull * n);
    r->avail = gm_ptr(q->mem, q->avail_gpa, 6ull + 2ull * n);
    r->used = gm_ptr(q->mem, q->used_gpa, 6ull + 8ull * n);
    if (!r->desc || !r->avail || !r->used)
        return q_fail(q, "ring outside guest memory");
    if (((uintptr_t)r->avail & 1) || ((uintptr_t)r->used & 3))
        return q_fail(q, "ring misaligned in host memory");
    return 0;
}

void virtq_reset(struct virtq *q)
{
    struct virtq keep = { .mem = q->mem, .dev = q->dev, .index = q->index };
    *q = keep;
}

static void read_desc(const uint8_t *table, uint32_t i, struct virtq_desc *d)
{
    struct virtq_desc raw;
    memcpy(&raw, table + 16ull * i, sizeof(raw));
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* one read, not re-read later */
    d->addr = le64toh(raw.addr);
    d->len = le32toh(raw.len);
    d->flags = le16toh(raw.flags);
    d->next = le16toh(raw.next);
}

static int walk_chain(struct virtq *q, const struct ring *r, uint16_t head,
                      struct virtq_elem *e)
{
    const uint8_t *table = r->desc;
    uint32_t table_size = q->size;
    uint32_t idx = head, seen = 0, total = 0;
    bool indirect = false;

    e->head = head;
    e->out_num = e->in_num = 0;
    e->out_len = e->in_len = 0;
    for (;;) {
        struct virtq_desc d;
        read_desc(table, idx, &d);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (indirect)
                return q_fail(q, "indirect descriptor inside an indirect table");
            if (seen != 0)
                return q_fail(q, "indirect descriptor not at the head of its chain");
            if (d.flags & VIRTQ_DESC_F_NEXT)
                return q_fail(q, "indirect descriptor with NEXT set");
            if (d.len == 0 || d.len % 16)
                return q_fail(q, "indirect table length not a multiple of 16");
            if (d.len / 16 > VIRTQ_MAX_CHAIN)
                return q_fail(q, "indirect table too long");
            table = gm_ptr(q->mem, d.addr, d.len);
            if (!table)
                return q_fail(q, "indirect table outside guest memory");
            table_size = d.len / 16;
            indirect = true;
            idx = 0;
            continue;
        }
        /* A chain visits each descriptor of its table at most once. */
        if (++seen > table_size)
            return q_fail(q, "descriptor chain loops");
        if (total >= VIRTQ_MAX_CHAIN)
            return q_fail(q, "descriptor chain too long");
        void *p = gm_ptr(q->mem, d.addr, d.len);
        if (!p)
            return q_fail(q, "buffer outside guest memory");
        if (d.flags & VIRTQ_DESC_F_WRITE) {
            e->in[e->in_num++] = (struct iovec){ p, d.len };
            e->in_len += d.len;
        } else {
            if (e->in_num)
                return q_fail(q, "read-only buffer after a write-only one");
            e->out[e->out_num++] = (struct iovec){ p, d.len };
            e->out_len += d.len;
        }
        total++;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 1;
        if (d.next >= table_size)
            return q_fail(q, "next descriptor index out of range");
        idx = d.next;
    }
}

int virtq_pop(struct virtq *q, struct virtq_elem *elem)
{
    if (q->broken)
        return -1;
    if (!q->ready)
        return 0;
    struct ring r;
    if (ring_map(q, &r) < 0)
        return -1;
    uint16_t avail_idx = load16(r.avail + 2, __ATOMIC_ACQUIRE);
    if (avail_idx == q->last_avail && q->event_idx) {
        /* Ask for a kick at the next buffer, then look again: the driver may have added
         * one before it could see the new avail_event. */
        store16(r.used + 4 + 8ull * q->size, q->last_avail, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        avail_idx = load16(r.avail + 2, __ATOMIC_ACQUIRE);
    }
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending == 0)
        return 0;
    if (pending > q->size)
        return q_fail(q, "available index moved past the queue size");
    uint16_t head = load16(r.avail + 4 + 2ull * (q->last_avail % q->size), __ATOMIC_RELAXED);
    if (head >= q->size)
        return q_fail(q, "available ring names a descriptor out of range");
    q->last_avail++;
    return walk_chain(q, &r, head, elem);
}

int virtq_push(struct virtq *q, const struct virtq_elem *elem, uint32_t len)
{
    if (q->broken)
        return -1;
    struct ring r;
    if (ring_map(q, &r) < 0)
        return -1;
    if (elem->head >= q->size)
        return q_fail(q, "pushed a descriptor index out of range");
    if (len > elem->in_len)
        len = (uint32_t)elem->in_len;
    struct virtq_used_elem u = { .id = htole32(elem->head), .len = htole32(len) };
    memcpy(r.used + 4 + 8ull * (q->used_idx % q->size), &u, sizeof(u));
    q->used_idx++;
    /* The entry is visible before the index that publishes it. */
    store16(r.used + 2, q->used_idx, __ATOMIC_RELEASE);
    return 0;
}

bool virtq_should_notify(struct virtq *q, uint16_t old_used_idx)
{
    if (q->broken || !q->ready || q->used_idx == old_used_idx)
        return false; /* nothing new to signal */
    struct ring r;
    if (ring_map(q, &r) < 0)
        return false;
    /* Our used-index store must be ordered before reading the driver's suppression. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (q->event_idx) {
        uint16_t event = load16(r.avail + 4 + 2ull * q->size, __ATOMIC_RELAXED);
        uint16_t new_idx = q->used_idx;
        /* vring_need_event: did new_idx pass event since old_used_idx? (section 2.7.7.2) */
        return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_used_idx);
    }
    return !(load16(r.avail, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        size_t k = iov[i].iov_len - skip;
        if (k > len - done)
            k = len - done;
        memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + skip, k);
        done += k;
        skip = 0;
    }
    return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf,
                    size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        size_t k = iov[i].iov_len - skip;
        if (k > len - done)
            k = len - done;
        memcpy((uint8_t *)iov[i].iov_base + skip, (const uint8_t *)buf + done, k);
        done += k;
        skip = 0;
    }
    return done;
}

unsigned iov_slice(struct iovec *dst, unsigned dst_max, const struct iovec *iov, unsigned n,
                   size_t skip, size_t len)
{
    unsigned used = 0;
    for (unsigned i = 0; i < n && len > 0 && used < dst_max; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        size_t k = iov[i].iov_len - skip;
        if (k > len)
            k = len;
        dst[used++] = (struct iovec){ (uint8_t *)iov[i].iov_base + skip, k };
        len -= k;
        skip = 0;
    }
    return used;
}
