// SPDX-License-Identifier: Apache-2.0
/* virtio-balloon, Virtio 1.2 section 5.5: inflate and deflate queues of page frame
 * numbers, the memory statistics queue, and the free page reporting queue; the config
 * space's num_pages (our target) and actual (the driver's count).
 *
 * Guest RAM is private memory (src/vmm/kvm/machine.c): anonymous after a boot, a private
 * mapping of the saved memory file after a resume. Either way MADV_DONTNEED frees the
 * process's own copy of a page, and the next guest access faults in a zeroed page, or the
 * file's (shared in the page cache with the box's forks; over the kernel file that a cold
 * boot maps into RAM, src/vmm/core/load.c, the page every box shares): without PAGE_POISON
 * (not offered, so a guest with init_on_free or page poisoning does not report) the spec
 * leaves an inflated or reported page's content to the device (sections 5.5.6.1 and
 * 5.5.6.6). MADV_REMOVE would be the call for RAM backed by a shared file, which this
 * engine does not use.
 *
 * The guest is hostile: every frame number and reported range is checked against the RAM
 * regions (gm_ptr: never a hole, never the MMIO windows, never across a region's end), and
 * every discard is page-aligned inside one region. A guest that breaks the protocol
 * (writable inflate buffers, readable reports, a frame outside RAM, ragged lengths, a kick
 * on a queue it did not negotiate) gets the device marked broken; harmless oddities
 * (inflating a page twice, deflating one never inflated) are counted, logged once, and
 * ignored. What the balloon cannot do is stop a guest from touching its inflated pages
 * again: that memory is faulted back in, and the box's cgroup limit is the bound. */
#include "vmm/virtio/balloon.h"

#include "vmm/snapshot.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BALLOON_QUEUE_SIZE 128
#define BALLOON_NQUEUES 4 /* inflate, deflate, stats, reporting: at most four are used */
#define STAT_ENTRY 10     /* le16 tag + le64 value, packed (section 5.5.6.3) */
#define STATS_MAX_ENTRIES 64
/* Linux sends at most 256 frame numbers (1 KiB) a buffer; a guest that sends more than 64
 * KiB (64 MiB of pages) is refused rather than given the event loop for as long as it
 * likes. */
#define PFN_BUF_MAX (64u << 10)

/* What each transport queue index is for. Linux numbers only the queues that exist
 * (virtio_mmio's find_vqs skips absent ones), so the reporting queue is 2 when the stats
 * queue was not negotiated and 3 when it was; the roles are fixed at DRIVER_OK. */
enum role { ROLE_NONE, ROLE_INFLATE, ROLE_DEFLATE, ROLE_STATS, ROLE_REPORT };

/* Config space layout (section 5.5.4), little-endian. */
#define CFG_NUM_PAGES 0
#define CFG_ACTUAL 4
#define CFG_SIZE 16 /* + free_page_hint_cmd_id, poison_val: unused, read as zero */

struct balloon {
    struct virtio_dev dev;
    struct virtq_elem el;
    uint32_t pfns[PFN_BUF_MAX / 4]; /* one buffer's frame numbers, copied once */
    struct balloon_cfg cfg;
    enum role role[BALLOON_NQUEUES];
    uint32_t num_pages, actual;
    /* one bit per balloon page of guest physical space, up to the end of the last region */
    uint8_t *inflated;
    uint64_t npfns;
    uint64_t inflated_pages, returned_bytes, reported_bytes, reports, refused;
    bool refusal_logged;
    /* statsq: the buffer the driver gave us, held until we want fresh figures */
    bool stats_held;
    uint16_t stats_head;
    uint64_t guest[BALLOON_NR_STATS];
    uint32_t guest_valid;
    balloon_discard_fn discard;
    void *discard_opaque;
};

static int madvise_discard(void *opaque, void *host, size_t len)
{
    (void)opaque;
    return madvise(host, len, MADV_DONTNEED) == 0 ? 0 : -errno;
}

/* The one place pages leave: aligned, inside one region (the callers got host from gm_ptr
 * for the whole range). */
static void discard(struct balloon *b, void *host, size_t len)
{
    if (!len || ((uintptr_t)host | len) % BALLOON_PAGE_SIZE)
        return;
    int r = b->discard(b->discard_opaque, host, len);
    if (r == 0) {
        b->returned_bytes += len;
    } else if (!b->refusal_logged) {
#ifndef BOXLITE_FUZZ
        fprintf(stderr, "virtio-balloon: discard of %zu bytes failed: %s\n", len, strerror(-r));
#endif
        b->refusal_logged = true;
    }
}

static void refuse(struct balloon *b, const char *what, uint32_t pfn)
{
    b->refused++;
    if (b->refusal_logged)
        return;
    b->refusal_logged = true;
#ifndef BOXLITE_FUZZ
    fprintf(stderr, "virtio-balloon: ignored %s of page %#x (logged once)\n", what, pfn);
#else
    (void)what;
    (void)pfn;
#endif
}

static bool bit_get(const struct balloon *b, uint64_t pfn)
{
    return (b->inflated[pfn / 8] >> (pfn % 8)) & 1;
}
static void bit_set(struct balloon *b, uint64_t pfn, bool on)
{
    if (on)
        b->inflated[pfn / 8] |= (uint8_t)(1u << (pfn % 8));
    else
        b->inflated[pfn / 8] &= (uint8_t)~(1u << (pfn % 8));
}

/* A run of contiguous host pages waiting to be discarded in one madvise. */
struct run {
    uint8_t *start;
    size_t len;
};
static void run_add(struct balloon *b, struct run *r, uint8_t *host)
{
    if (r->len && r->start + r->len == host) {
        r->len += BALLOON_PAGE_SIZE;
        return;
    }
    discard(b, r->start, r->len);
    r->start = host;
    r->len = BALLOON_PAGE_SIZE;
}

/* One inflate or deflate buffer: an array of le32 page frame numbers (section 5.5.6.1).
 * Returns -1 when the device was failed. */
static int do_pfns(struct balloon *b, struct virtq_elem *el, bool inflate)
{
    struct virtio_dev *dev = &b->dev;
    const char *name = inflate ? "inflate" : "deflate";
    if (el->in_num) {
        virtio_dev_fail(dev, "%s buffer has device-writable descriptors", name);
        return -1;
    }
    if (el->out_len % 4 || el->out_len > PFN_BUF_MAX) {
        virtio_dev_fail(dev, "%s buffer of %llu bytes is not whole frame numbers or over %u",
                        name, (unsigned long long)el->out_len, PFN_BUF_MAX);
        return -1;
    }
    /* Copied once: a guest rewriting the buffer meanwhile cannot change what we check. */
    size_t n = iov_to_buf(el->out, el->out_num, 0, b->pfns, (size_t)el->out_len) / 4;
    struct run run = { 0 };
    for (size_t i = 0; i < n; i++) {
        uint32_t pfn = le32toh(b->pfns[i]);
        uint64_t gpa = (uint64_t)pfn * BALLOON_PAGE_SIZE;
        uint8_t *host = gm_ptr(dev->mem, gpa, BALLOON_PAGE_SIZE);
        if (!host || pfn >= b->npfns) {
            discard(b, run.start, run.len);
            virtio_dev_fail(dev, "%s of page %#x: not guest RAM", name, pfn);
            return -1;
        }
        if (bit_get(b, pfn) == inflate) {
            refuse(b, inflate ? "second inflate" : "deflate of a page not inflated", pfn);
            continue;
        }
        bit_set(b, pfn, inflate);
        if (inflate) {
            b->inflated_pages++;
            run_add(b, &run, host);
        } else {
            /* Without MUST_TELL_HOST the guest may use the page already; nothing to map
             * back: the next access faults a zeroed page in. */
            b->inflated_pages--;
        }
    }
    discard(b, run.start, run.len);
    return 0;
}

/* One free page report (section 5.5.6.6): device-writable buffers naming free guest
 * memory, which the device may discard; returned with nothing written. */
static int do_report(struct balloon *b, struct virtq_elem *el)
{
    struct virtio_dev *dev = &b->dev;
    if (el->out_num) {
        virtio_dev_fail(dev, "free page report has device-readable descriptors");
        return -1;
    }
    for (uint32_t i = 0; i < el->in_num; i++) {
        uintptr_t p = (uintptr_t)el->in[i].iov_base;
        size_t len = el->in[i].iov_len;
        if ((p | len) % BALLOON_PAGE_SIZE) {
            virtio_dev_fail(dev, "free page report of %zu bytes not page-aligned", len);
            return -1;
        }
    }
    /* Checked whole before any page goes: a bad report discards nothing. */
    for (uint32_t i = 0; i < el->in_num; i++) {
        discard(b, el->in[i].iov_base, el->in[i].iov_len);
        b->reported_bytes += el->in[i].iov_len;
    }
    b->reports++;
    return 0;
}

static void push_stats_back(struct balloon *b)
{
    if (!b->stats_held)
        return;
    struct virtq *q = NULL;
    for (uint16_t i = 0; i < BALLOON_NQUEUES; i++)
        if (b->role[i] == ROLE_STATS)
            q = &b->dev.queues[i];
    b->stats_held = false;
    if (!q)
        return;
    uint16_t old = q->used_idx;
    b->el.head = b->stats_head;
    b->el.in_len = 0;
    virtq_push(q, &b->el, 0);
    virtio_dev_interrupt(&b->dev, q->index, old);
}

/* A statistics buffer (section 5.5.6.3): tag/value pairs the device reads. The device
 * keeps the buffer until it wants fresh figures. */
static int do_stats(struct balloon *b, struct virtq_elem *el)
{
    struct virtio_dev *dev = &b->dev;
    if (el->in_num) {
        virtio_dev_fail(dev, "statistics buffer has device-writable descriptors");
        return -1;
    }
    uint64_t n = el->out_len / STAT_ENTRY;
    if (n > STATS_MAX_ENTRIES)
        n = STATS_MAX_ENTRIES; /* the spec has ten tags; more is padding or abuse */
    for (uint64_t i = 0; i < n; i++) {
        uint8_t e[STAT_ENTRY];
        iov_to_buf(el->out, el->out_num, (size_t)(i * STAT_ENTRY), e, sizeof e);
        uint16_t tag = (uint16_t)(e[0] | e[1] << 8);
        uint64_t v;
        memcpy(&v, e + 2, 8);
        if (tag < BALLOON_NR_STATS) {
            b->guest[tag] = le64toh(v);
            b->guest_valid |= 1u << tag;
        }
    }
    /* A driver that queues a second buffer while we hold one gets the older one back. */
    uint16_t head = el->head;
    push_stats_back(b);
    b->stats_held = true;
    b->stats_head = head;
    return 0;
}

static void balloon_notify(struct virtio_dev *dev, uint16_t qidx)
{
    struct balloon *b = dev->priv;
    struct virtq *q = &dev->queues[qidx];
    enum role role = qidx < BALLOON_NQUEUES ? b->role[qidx] : ROLE_NONE;
    if (role == ROLE_NONE) {
        /* The transport also calls here for every ready queue at DRIVER_OK: an empty
         * queue the features do not give is harmless, a buffer on one is not. */
        if (virtq_pop(q, &b->el) == 1)
            virtio_dev_fail(dev, "buffer on queue %u, which the features do not give", qidx);
        return;
    }
    uint16_t old = q->used_idx;
    int r;
    while ((r = virtq_pop(q, &b->el)) == 1) {
        int rc;
        switch (role) {
        case ROLE_INFLATE: rc = do_pfns(b, &b->el, true); break;
        case ROLE_DEFLATE: rc = do_pfns(b, &b->el, false); break;
        case ROLE_REPORT: rc = do_report(b, &b->el); break;
        default: rc = do_stats(b, &b->el); break;
        }
        if (rc < 0)
            return;
        if (role == ROLE_STATS)
            continue; /* held, not returned */
        virtq_push(q, &b->el, 0);
    }
    virtio_dev_interrupt(dev, qidx, old);
}

static uint64_t balloon_features(struct virtio_dev *dev)
{
    struct balloon *b = dev->priv;
    uint64_t f = 1ull << VIRTIO_BALLOON_F_STATS_VQ;
    if (b->cfg.free_page_reporting)
        f |= 1ull << VIRTIO_BALLOON_F_PAGE_REPORTING;
    return f;
}

static int balloon_activate(struct virtio_dev *dev)
{
    struct balloon *b = dev->priv;
    unsigned n = 0;
    memset(b->role, 0, sizeof b->role);
    b->role[n++] = ROLE_INFLATE;
    b->role[n++] = ROLE_DEFLATE;
    if (virtio_dev_has_feature(dev, VIRTIO_BALLOON_F_STATS_VQ))
        b->role[n++] = ROLE_STATS;
    if (virtio_dev_has_feature(dev, VIRTIO_BALLOON_F_PAGE_REPORTING))
        b->role[n++] = ROLE_REPORT;
    return 0;
}

static void cfg_bytes(struct balloon *b, uint8_t out[CFG_SIZE])
{
    memset(out, 0, CFG_SIZE);
    uint32_t np = htole32(b->num_pages), ac = htole32(b->actual);
    memcpy(out + CFG_NUM_PAGES, &np, 4);
    memcpy(out + CFG_ACTUAL, &ac, 4);
}

static void balloon_config_read(struct virtio_dev *dev, uint64_t off, uint8_t *data,
                                uint32_t len)
{
    uint8_t c[CFG_SIZE];
    cfg_bytes(dev->priv, c);
    for (uint32_t i = 0; i < len; i++)
        data[i] = off + i < CFG_SIZE ? c[off + i] : 0;
}

/* Only actual is the driver's to write (section 5.5.4); the rest is ignored. */
static void balloon_config_write(struct virtio_dev *dev, uint64_t off, const uint8_t *data,
                                 uint32_t len)
{
    struct balloon *b = dev->priv;
    uint8_t c[CFG_SIZE];
    cfg_bytes(b, c);
    for (uint32_t i = 0; i < len; i++)
        if (off + i >= CFG_ACTUAL && off + i < CFG_ACTUAL + 4)
            c[off + i] = data[i];
    uint32_t ac;
    memcpy(&ac, c + CFG_ACTUAL, 4);
    b->actual = le32toh(ac);
}

/* The driver let go of everything (reset, reboot, module unload): the guest owns all its
 * memory again. Pages already discarded stay discarded until touched. */
static void balloon_reset(struct virtio_dev *dev)
{
    struct balloon *b = dev->priv;
    memset(b->inflated, 0, (size_t)((b->npfns + 7) / 8));
    memset(b->role, 0, sizeof b->role);
    b->inflated_pages = 0;
    b->actual = 0;
    b->stats_held = false;
}

static void balloon_free(struct virtio_dev *dev)
{
    struct balloon *b = dev->priv;
    free(b->inflated);
    free(b);
}

static uint32_t target_pages(const struct balloon *b, uint32_t target_mib)
{
    uint64_t ram = b->cfg.ram_bytes / BALLOON_PAGE_SIZE;
    uint64_t keep = (uint64_t)target_mib * ((1u << 20) / BALLOON_PAGE_SIZE);
    if (!target_mib || keep >= ram)
        return 0;
    uint64_t n = ram - keep;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Snapshots: the statistics buffer is the one chain the balloon holds (virtio.h). */
static uint16_t balloon_held(struct virtio_dev *dev, uint16_t qidx)
{
    struct balloon *b = dev->priv;
    return qidx < BALLOON_NQUEUES && b->role[qidx] == ROLE_STATS && b->stats_held;
}

/* The model's state across a pause: the target and the driver's count (a resumed guest
 * must not see its target move back to vmm.json's and deflate), which pages are in the
 * balloon (a deflate after the resume names them), the figures so far and the guest's last
 * statistics. The roles follow the features at resume (activate); the held statistics
 * buffer is popped again (held). */
enum { B_TARGET = 1, B_COUNTS, B_GUEST, B_INFLATED, B_END };
struct saved_target {
    uint32_t num_pages, target_mib, actual, pad;
};
struct saved_counts {
    uint64_t inflated_pages, returned_bytes, reported_bytes, reports, refused;
};
struct saved_guest {
    uint64_t guest[BALLOON_NR_STATS];
    uint32_t valid, pad;
};

static void balloon_save(struct virtio_dev *dev, struct vmsnap_buf *p)
{
    struct balloon *b = dev->priv;
    struct saved_target t = { .num_pages = b->num_pages, .target_mib = b->cfg.target_mib,
                              .actual = b->actual };
    struct saved_counts c = { .inflated_pages = b->inflated_pages,
                              .returned_bytes = b->returned_bytes,
                              .reported_bytes = b->reported_bytes, .reports = b->reports,
                              .refused = b->refused };
    struct saved_guest g = { .valid = b->guest_valid };
    memcpy(g.guest, b->guest, sizeof g.guest);
    vmsnap_rec(p, B_TARGET, &t, sizeof t);
    vmsnap_rec(p, B_COUNTS, &c, sizeof c);
    vmsnap_rec(p, B_GUEST, &g, sizeof g);
    vmsnap_rec(p, B_INFLATED, b->inflated, (size_t)((b->npfns + 7) / 8));
}

/* The saved map must be this RAM's: its length, no bit past the last frame or on a page
 * that is not guest RAM, and as many bits as the count says. */
static int check_inflated(const struct balloon *b, const uint8_t *map, size_t n,
                          uint64_t count, struct bl_error *err)
{
    if (n != (b->npfns + 7) / 8)
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-balloon: the page map has %zu bytes, "
                      "this RAM's %llu", n, (unsigned long long)((b->npfns + 7) / 8));
    uint64_t set = 0;
    for (size_t i = 0; i < n; i++) {
        if (!map[i])
            continue;
        for (unsigned k = 0; k < 8; k++) {
            uint64_t pfn = (uint64_t)i * 8 + k;
            if (!((map[i] >> k) & 1))
                continue;
            if (pfn >= b->npfns || !gm_ptr(b->dev.mem, pfn * BALLOON_PAGE_SIZE, BALLOON_PAGE_SIZE))
                return bl_err(err, BOXLITE_ERR_INVALID, "virtio-balloon: page %#llx in the "
                              "balloon is not guest RAM", (unsigned long long)pfn);
            set++;
        }
    }
    if (set != count)
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-balloon: %llu pages in the map, the "
                      "count says %llu", (unsigned long long)set, (unsigned long long)count);
    return 0;
}

static int balloon_restore(struct virtio_dev *dev, const uint8_t *p, size_t len,
                           struct bl_error *err)
{
    struct balloon *b = dev->priv;
    struct saved_target t;
    struct saved_counts c;
    struct saved_guest g;
    size_t n = 0;
    const uint8_t *map;
    if (vmsnap_rec_check(p, len, B_END, "virtio-balloon", err) < 0 ||
        vmsnap_rec_copy(p, len, B_TARGET, &t, sizeof t, "virtio-balloon", err) < 0 ||
        vmsnap_rec_copy(p, len, B_COUNTS, &c, sizeof c, "virtio-balloon", err) < 0 ||
        vmsnap_rec_copy(p, len, B_GUEST, &g, sizeof g, "virtio-balloon", err) < 0)
        return -err->code;
    if (!(map = vmsnap_rec_get(p, len, B_INFLATED, &n)))
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-balloon: the page map is missing");
    /* the target as the host set it: the same pages asked for as this RAM gives */
    if (t.num_pages != target_pages(b, t.target_mib))
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-balloon: a target of %u MiB is not "
                      "%u pages of this RAM", t.target_mib, t.num_pages);
    if (c.reported_bytes > c.returned_bytes || g.valid >> BALLOON_NR_STATS)
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-balloon: figures that do not add up");
    int r = check_inflated(b, map, n, c.inflated_pages, err);
    if (r < 0)
        return r;
    memcpy(b->inflated, map, n);
    b->num_pages = t.num_pages;
    b->cfg.target_mib = t.target_mib;
    b->actual = t.actual;
    b->inflated_pages = c.inflated_pages;
    b->returned_bytes = c.returned_bytes;
    b->reported_bytes = c.reported_bytes;
    b->reports = c.reports;
    b->refused = c.refused;
    memcpy(b->guest, g.guest, sizeof b->guest);
    b->guest_valid = g.valid;
    return 0;
}

static const struct virtio_dev_ops balloon_ops = {
    .name = "balloon",
    .device_id = 5,
    .num_queues = BALLOON_NQUEUES,
    .queue_max_size = BALLOON_QUEUE_SIZE,
    .features = balloon_features,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .activate = balloon_activate,
    .notify = balloon_notify,
    .reset = balloon_reset,
    .free = balloon_free,
    .held = balloon_held,
    .save = balloon_save,
    .restore = balloon_restore,
};

int balloon_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
                const struct balloon_cfg *cfg, struct bl_error *err)
{
    uint64_t end = 0;
    for (int i = 0; i < mem->nregions; i++) {
        const struct gm_region *r = &mem->regions[i];
        if ((r->gpa | r->size | (uintptr_t)r->host) % BALLOON_PAGE_SIZE)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "virtio-balloon: guest RAM region %d is not page-aligned", i);
        if (r->gpa + r->size > end)
            end = r->gpa + r->size;
    }
    /* Frame numbers are 32 bits: RAM beyond 16 TiB cannot be ballooned, nor is it offered. */
    uint64_t npfns = end / BALLOON_PAGE_SIZE;
    if (npfns > (1ull << 32))
        npfns = 1ull << 32;
    struct balloon *b = calloc(1, sizeof(*b));
    uint8_t *bits = calloc((size_t)((npfns + 7) / 8) + 1, 1);
    if (!b || !bits) {
        free(b);
        free(bits);
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-balloon: out of memory");
    }
    b->cfg = *cfg;
    b->inflated = bits;
    b->npfns = npfns;
    b->discard = madvise_discard;
    b->num_pages = target_pages(b, cfg->target_mib);
    if (virtio_dev_init(&b->dev, &balloon_ops, b, mem, irq) < 0) {
        free(bits);
        free(b);
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-balloon: out of memory");
    }
    *out = &b->dev;
    return 0;
}

void balloon_set_target(struct virtio_dev *dev, uint32_t target_mib)
{
    struct balloon *b = dev->priv;
    pthread_mutex_lock(&dev->lock);
    uint32_t n = target_pages(b, target_mib);
    bool changed = n != b->num_pages;
    b->cfg.target_mib = target_mib;
    b->num_pages = n;
    pthread_mutex_unlock(&dev->lock);
    if (changed)
        virtio_dev_config_changed(dev);
}

void balloon_get_stats(struct virtio_dev *dev, struct balloon_stats *out)
{
    struct balloon *b = dev->priv;
    pthread_mutex_lock(&dev->lock);
    *out = (struct balloon_stats){
        .target_mib = b->cfg.target_mib,
        .num_pages = b->num_pages,
        .actual_pages = b->actual,
        .inflated_pages = b->inflated_pages,
        .returned_bytes = b->returned_bytes,
        .reported_bytes = b->reported_bytes,
        .reports = b->reports,
        .refused = b->refused,
        .guest_valid = b->guest_valid,
    };
    memcpy(out->guest, b->guest, sizeof out->guest);
    pthread_mutex_unlock(&dev->lock);
}

void balloon_request_stats(struct virtio_dev *dev)
{
    pthread_mutex_lock(&dev->lock);
    if (!dev->broken && (dev->status & VIRTIO_CONFIG_S_DRIVER_OK))
        push_stats_back(dev->priv);
    pthread_mutex_unlock(&dev->lock);
}

void balloon_set_discard(struct virtio_dev *dev, balloon_discard_fn fn, void *opaque)
{
    struct balloon *b = dev->priv;
    pthread_mutex_lock(&dev->lock);
    b->discard = fn ? fn : madvise_discard;
    b->discard_opaque = fn ? opaque : NULL;
    pthread_mutex_unlock(&dev->lock);
}
