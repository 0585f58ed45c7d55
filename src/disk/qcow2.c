// SPDX-License-Identifier: Apache-2.0
/* qcow2 disk images (QEMU docs/interop/qcow2.txt, versions 2 and 3): reads through L1/L2
 * tables (allocated, zero, compressed and unallocated clusters, the last from the backing
 * file), writes with cluster allocation and copy-on-write from the backing file.
 *
 * Crash consistency comes from ordering, as in QEMU. New clusters are only ever appended
 * at the end of the file and their refcounts are raised (in a batch, "the pool") before
 * any table points at them. L2 tables are cached and written back on flush: data and
 * refcounts are made durable (fdatasync), then the dirty L2 tables are written, then
 * (after another barrier) the L1 entries of new L2 tables. Whatever the moment a crash
 * happens, every table entry on disk points at a cluster whose refcount is already
 * counted: the worst case is a leaked cluster, which `qemu-img check` reports as a leak,
 * not as corruption. On a clean close the unused part of the pool is given back.
 * Clusters that lose their last reference (overwritten compressed clusters) are released
 * only after the tables that dropped them are on disk; freed space is never reused.
 * A dirty image (lazy refcounts, crashed) gets fresh refcounts on a read-write open. */
#include "disk/backend.h"
#include "disk/qcow2.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* L2 table cache: about 1 MiB of tables (16 with the usual 64 KiB clusters, mapping
 * 8 GiB; the VMM's own memory goal is 5 MiB), never fewer than 4 or more than 256. */
#define L2_CACHE_BYTES (1u << 20)
#define L2_CACHE_MIN 4
#define L2_CACHE_MAX 256
#define POOL_BYTES (4u << 20) /* clusters reserved per refcount update */
#define POOL_MIN_CLUSTERS 8

struct l2_slot {
    uint64_t l1_index;
    uint64_t *table; /* one cluster of big-endian entries, as on disk */
    uint64_t last_used;
    int valid, dirty;
};

/* zlib is loaded on the first compressed cluster: only old or converted images need it. */
struct zlib_api {
    void *handle;
    int (*inflate_init2)(z_streamp, int, const char *, int);
    int (*inflate)(z_streamp, int);
    int (*inflate_end)(z_streamp);
};

struct qcow2 {
    struct disk d;
    int fd;
    char *path;
    struct qcow2_header h;
    unsigned cluster_bits, l2_bits, rb_bits; /* rb_bits: log2 of entries per refblock */
    uint64_t cluster_size;
    uint64_t file_size; /* as far as we know it (we are the only writer) */

    uint64_t *l1; /* host-endian */
    uint64_t l1_dirty_lo, l1_dirty_hi; /* dirty entry range [lo, hi), empty when lo >= hi */
    uint64_t *rt; /* refcount table, host-endian */
    uint64_t rt_entries;

    struct l2_slot *l2;
    int nl2;
    uint64_t tick;

    /* Allocation: clusters [alloc_next, pool_end) have refcount 1 and no user yet. */
    uint64_t alloc_next, pool_end;

    /* One pending data write, grown while writes are contiguous in the file too. */
    uint64_t pend_host;
    const uint8_t *pend_buf;
    size_t pend_len;

    uint8_t *bounce;  /* one cluster, for copy-on-write */
    uint8_t *rbuf;    /* one cluster, for refcount blocks */
    uint8_t *zc_in;   /* compressed input, up to two clusters */
    uint8_t *zc_out;  /* the last decompressed cluster */
    uint64_t zc_entry; /* its L2 entry, 0 if none */
    struct zlib_api zlib;
    ZSTD_DCtx *zstd;

    /* References dropped by dirty L2 tables (compressed or shared clusters overwritten):
     * their refcounts go down only once the tables no longer pointing at them are on
     * disk. Pairs of (first cluster index, count). */
    uint64_t *drops;
    size_t ndrops, cap_drops;

    struct disk *backing;
    int broken; /* a metadata write failed: refuse further writes */
};

static struct qcow2 *q_of(struct disk *d) { return (struct qcow2 *)d; }

static int q_ioerr(struct qcow2 *q, struct bl_error *err, int errnum, const char *what,
                   uint64_t off)
{
    return bl_errno(err, errnum, "qcow2 %s: %s at %llu", q->path, what,
                    (unsigned long long)off);
}

static int q_corrupt(struct qcow2 *q, struct bl_error *err, const char *what, uint64_t val)
{
    return bl_err(err, BOXLITE_ERR_INVALID, "qcow2 %s: corrupt image: %s (%llu)", q->path,
                  what, (unsigned long long)val);
}

/* Writes entries [lo, lo + count) of a host-endian table of 64-bit entries (the L1 table,
 * the refcount table) to its big-endian place in the file at table_off. A failed write
 * leaves the image's metadata unknown: the image is marked broken. */
static int write_table(struct qcow2 *q, const uint64_t *table, uint64_t lo, uint64_t count,
                       uint64_t table_off, const char *name, struct bl_error *err)
{
    uint8_t *be = malloc(count * 8);
    if (!be)
        return bl_errno(err, ENOMEM, "qcow2 %s: %s", q->path, name);
    for (uint64_t i = 0; i < count; i++)
        qcow2_put_be64(be + 8 * i, table[lo + i]);
    uint64_t at = table_off + lo * 8;
    int rc = disk_pwrite_full(q->fd, be, count * 8, at);
    free(be);
    if (rc < 0) {
        char what[64];
        snprintf(what, sizeof what, "write %s", name);
        q->broken = 1;
        return q_ioerr(q, err, -rc, what, at);
    }
    return 0;
}

/* ---- refcounts ------------------------------------------------------------------------ */

static void rc_set(const struct qcow2 *q, uint8_t *block, uint64_t i, uint64_t v)
{
    switch (q->h.refcount_order) {
    case 3: block[i] = (uint8_t)v; break;
    case 4: block[2 * i] = (uint8_t)(v >> 8), block[2 * i + 1] = (uint8_t)v; break;
    case 5: qcow2_put_be32(block + 4 * i, (uint32_t)v); break;
    default: qcow2_put_be64(block + 8 * i, v); break;
    }
}

static uint64_t rc_get(const struct qcow2 *q, const uint8_t *block, uint64_t i)
{
    switch (q->h.refcount_order) {
    case 3: return block[i];
    case 4: return (uint64_t)block[2 * i] << 8 | block[2 * i + 1];
    case 5: return qcow2_be32(block + 4 * i);
    default: return qcow2_be64(block + 8 * i);
    }
}

#define RC_DECREMENT UINT64_MAX

/* Sets the refcount of clusters [first, first+count) to v (or lowers each by one, never
 * below zero, for RC_DECREMENT) in existing refcount blocks. */
static int rc_set_range(struct qcow2 *q, uint64_t first, uint64_t count, uint64_t v,
                        struct bl_error *err)
{
    uint64_t end = first + count;
    while (first < end) {
        uint64_t ri = first >> q->rb_bits;
        uint64_t block_end = (ri + 1) << q->rb_bits;
        uint64_t hi = end < block_end ? end : block_end;
        uint64_t off = ri < q->rt_entries ? q->rt[ri] & QCOW2_REFT_OFFSET_MASK : 0;
        if (!off)
            return q_corrupt(q, err, "no refcount block for cluster", first);
        int64_t n = disk_pread_full(q->fd, q->rbuf, q->cluster_size, off);
        if (n < 0)
            return q_ioerr(q, err, (int)-n, "read refcount block", off);
        if ((uint64_t)n < q->cluster_size)
            return q_corrupt(q, err, "refcount block past end of file", off);
        for (uint64_t c = first; c < hi; c++) {
            uint64_t i = c & ((1ull << q->rb_bits) - 1);
            if (v != RC_DECREMENT)
                rc_set(q, q->rbuf, i, v);
            else if (rc_get(q, q->rbuf, i) > 0)
                rc_set(q, q->rbuf, i, rc_get(q, q->rbuf, i) - 1);
        }
        int rc = disk_pwrite_full(q->fd, q->rbuf, q->cluster_size, off);
        if (rc < 0)
            return q_ioerr(q, err, -rc, "write refcount block", off);
        first = hi;
    }
    return 0;
}

static int q_sync(struct qcow2 *q, struct bl_error *err)
{
    if (fdatasync(q->fd) < 0)
        return bl_errno(err, errno, "qcow2 %s: fdatasync", q->path);
    return 0;
}

/* Reserves n more clusters at the end of the file with refcount 1, adding the refcount
 * blocks (and a bigger refcount table) they need. Layout of what is appended:
 * [new refcount table][new refcount blocks][pool], every cluster of it counted. */
static int q_reserve_clusters(struct qcow2 *q, uint64_t n, struct bl_error *err)
{
    const unsigned cb = q->cluster_bits;
    const uint64_t s0 = q->pool_end >> cb;
    uint64_t t = 0, m = 0, new_entries = q->rt_entries;
    int stable = 0;
    for (int iter = 0; iter < 16 && !stable; iter++) {
        uint64_t total = t + m + n;
        uint64_t first_ri = s0 >> q->rb_bits, last_ri = (s0 + total - 1) >> q->rb_bits;
        uint64_t nt = 0, nrt = q->rt_entries;
        if (last_ri + 1 > q->rt_entries) {
            uint64_t per_cluster = q->cluster_size / 8;
            nrt = last_ri + 1 + (last_ri + 1) / 2;
            nrt = (nrt + per_cluster - 1) / per_cluster * per_cluster;
            nt = nrt / per_cluster;
        }
        uint64_t nm = 0;
        for (uint64_t ri = first_ri; ri <= last_ri; ri++)
            if (ri >= q->rt_entries || !(q->rt[ri] & QCOW2_REFT_OFFSET_MASK))
                nm++;
        stable = nt == t && nm == m;
        t = nt, m = nm, new_entries = nrt;
    }
    if (!stable)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "qcow2 %s: refcount layout did not settle",
                      q->path);
    if (new_entries * 8 > QCOW2_MAX_REFTABLE_BYTES)
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2 %s: image file too large", q->path);

    const uint64_t total = t + m + n;
    const uint64_t end = (s0 + total) << cb;
    if (end > q->file_size) {
        if (ftruncate(q->fd, (off_t)end) < 0)
            return q_ioerr(q, err, errno, "grow file to", end);
        q->file_size = end;
    }
    uint64_t *table = NULL;
    if (t) {
        table = calloc(new_entries, sizeof *table);
        if (!table)
            return bl_errno(err, ENOMEM, "qcow2 %s: refcount table", q->path);
        memcpy(table, q->rt, q->rt_entries * sizeof *table);
    }
    uint64_t next_rb = s0 + t;
    uint64_t first_new = UINT64_MAX, last_new = 0;
    uint64_t first_ri = s0 >> q->rb_bits, last_ri = (s0 + total - 1) >> q->rb_bits;
    for (uint64_t ri = first_ri; ri <= last_ri; ri++) {
        uint64_t lo = ri << q->rb_bits, hi = (ri + 1) << q->rb_bits;
        if (lo < s0)
            lo = s0;
        if (hi > s0 + total)
            hi = s0 + total;
        uint64_t off = ri < q->rt_entries ? q->rt[ri] & QCOW2_REFT_OFFSET_MASK : 0;
        int fresh = !off;
        if (fresh) {
            off = next_rb++ << cb;
            memset(q->rbuf, 0, q->cluster_size);
        } else {
            int64_t r = disk_pread_full(q->fd, q->rbuf, q->cluster_size, off);
            if (r < 0 || (uint64_t)r < q->cluster_size) {
                free(table);
                return r < 0 ? q_ioerr(q, err, (int)-r, "read refcount block", off)
                             : q_corrupt(q, err, "refcount block past end of file", off);
            }
        }
        for (uint64_t c = lo; c < hi; c++)
            rc_set(q, q->rbuf, c & ((1ull << q->rb_bits) - 1), 1);
        int rc = disk_pwrite_full(q->fd, q->rbuf, q->cluster_size, off);
        if (rc < 0) {
            free(table);
            return q_ioerr(q, err, -rc, "write refcount block", off);
        }
        if (fresh) {
            if (table) {
                table[ri] = off;
            } else {
                q->rt[ri] = off;
                first_new = ri < first_new ? ri : first_new;
                last_new = ri;
            }
        }
    }

    int rc;
    if (table) {
        /* New table: written whole, made durable, then switched to in one header write. */
        size_t bytes = (size_t)(t << cb);
        uint8_t *be = calloc(1, bytes);
        if (!be) {
            free(table);
            return bl_errno(err, ENOMEM, "qcow2 %s: refcount table", q->path);
        }
        for (uint64_t i = 0; i < new_entries; i++)
            qcow2_put_be64(be + 8 * i, table[i]);
        rc = disk_pwrite_full(q->fd, be, bytes, s0 << cb);
        free(be);
        if (rc < 0) {
            free(table);
            return q_ioerr(q, err, -rc, "write refcount table", s0 << cb);
        }
        if ((rc = q_sync(q, err)) < 0) {
            free(table);
            return rc;
        }
        uint8_t hdr[12];
        qcow2_put_be64(hdr, s0 << cb);
        qcow2_put_be32(hdr + 8, (uint32_t)t);
        rc = disk_pwrite_full(q->fd, hdr, sizeof hdr, QCOW2_OFF_REFTABLE_OFFSET);
        if (rc < 0) {
            free(table);
            q->broken = 1;
            return q_ioerr(q, err, -rc, "write header", QCOW2_OFF_REFTABLE_OFFSET);
        }
        if ((rc = q_sync(q, err)) < 0) {
            free(table);
            q->broken = 1;
            return rc;
        }
        uint64_t old_off = q->h.refcount_table_offset;
        uint64_t old_clusters = q->h.refcount_table_clusters;
        free(q->rt);
        q->rt = table;
        q->rt_entries = new_entries;
        q->h.refcount_table_offset = s0 << cb;
        q->h.refcount_table_clusters = (uint32_t)t;
        /* The old table is no longer referenced: give its clusters back. */
        if ((rc = rc_set_range(q, old_off >> cb, old_clusters, 0, err)) < 0)
            return rc;
    } else if (first_new != UINT64_MAX) {
        /* New refcount blocks must be on disk before the table points at them. */
        if ((rc = q_sync(q, err)) < 0)
            return rc;
        rc = write_table(q, q->rt, first_new, last_new - first_new + 1,
                         q->h.refcount_table_offset, "refcount table", err);
        if (rc < 0)
            return rc;
    }
    /* No barrier needed here: the flush that writes L2 tables starts with one. */
    q->alloc_next = (s0 + t + m) << cb;
    q->pool_end = end;
    return 0;
}

/* A failure half way leaves the in-memory refcount table ahead of the file: no more
 * writes after that. */
static int q_reserve(struct qcow2 *q, uint64_t n, struct bl_error *err)
{
    int rc = q_reserve_clusters(q, n, err);
    if (rc < 0)
        q->broken = 1;
    return rc;
}

static int q_alloc_cluster(struct qcow2 *q, uint64_t *off, struct bl_error *err)
{
    if (q->alloc_next >= q->pool_end) {
        uint64_t n = POOL_BYTES >> q->cluster_bits;
        int rc = q_reserve(q, n < POOL_MIN_CLUSTERS ? POOL_MIN_CLUSTERS : n, err);
        if (rc < 0)
            return rc;
    }
    *off = q->alloc_next;
    q->alloc_next += q->cluster_size;
    return 0;
}

/* ---- write-back of metadata ----------------------------------------------------------- */

static int q_issue_pending(struct qcow2 *q, struct bl_error *err)
{
    if (!q->pend_len)
        return 0;
    int rc = disk_pwrite_full(q->fd, q->pend_buf, q->pend_len, q->pend_host);
    uint64_t at = q->pend_host;
    q->pend_len = 0;
    if (rc < 0)
        return q_ioerr(q, err, -rc, "write data", at);
    return 0;
}

static int q_queue_write(struct qcow2 *q, uint64_t host, const uint8_t *buf, size_t len,
                         struct bl_error *err)
{
    if (q->pend_len && q->pend_host + q->pend_len == host && q->pend_buf + q->pend_len == buf &&
        q->pend_len + len <= (64u << 20)) {
        q->pend_len += len;
        return 0;
    }
    int rc = q_issue_pending(q, err);
    q->pend_host = host, q->pend_buf = buf, q->pend_len = len;
    return rc;
}

/* Data and refcounts, then L2 tables, then L1: each step durable before the next. */
static int q_flush_meta(struct qcow2 *q, struct bl_error *err)
{
    int rc = q_issue_pending(q, err);
    if (rc < 0)
        return rc;
    int dirty_l2 = 0;
    for (int i = 0; i < q->nl2; i++)
        dirty_l2 |= q->l2[i].valid && q->l2[i].dirty;
    int dirty_l1 = q->l1_dirty_lo < q->l1_dirty_hi;
    if ((rc = q_sync(q, err)) < 0)
        return rc;
    if (!dirty_l2 && !dirty_l1)
        return 0;
    for (int i = 0; i < q->nl2; i++) {
        struct l2_slot *s = &q->l2[i];
        if (!s->valid || !s->dirty)
            continue;
        uint64_t off = q->l1[s->l1_index] & QCOW2_L1_OFFSET_MASK;
        rc = disk_pwrite_full(q->fd, s->table, q->cluster_size, off);
        if (rc < 0) {
            q->broken = 1;
            return q_ioerr(q, err, -rc, "write L2 table", off);
        }
        s->dirty = 0;
    }
    if (dirty_l1) {
        if ((rc = q_sync(q, err)) < 0)
            return rc;
        rc = write_table(q, q->l1, q->l1_dirty_lo, q->l1_dirty_hi - q->l1_dirty_lo,
                         q->h.l1_table_offset, "L1 table", err);
        if (rc < 0)
            return rc;
        q->l1_dirty_lo = UINT64_MAX, q->l1_dirty_hi = 0;
    }
    if ((rc = q_sync(q, err)) < 0)
        return rc;
    /* Nothing on disk points at the dropped clusters any more: release them. A crash
     * before this, or a failure here, only leaks them. */
    for (size_t i = 0; i < q->ndrops; i++)
        rc_set_range(q, q->drops[2 * i], q->drops[2 * i + 1], RC_DECREMENT, NULL);
    q->ndrops = 0;
    return 0;
}

static int q_drop_later(struct qcow2 *q, uint64_t first, uint64_t count, struct bl_error *err)
{
    if (q->ndrops == q->cap_drops) {
        size_t cap = q->cap_drops ? 2 * q->cap_drops : 64;
        uint64_t *p = realloc(q->drops, cap * 2 * sizeof *p);
        if (!p)
            return bl_errno(err, ENOMEM, "qcow2 %s: cluster list", q->path);
        q->drops = p, q->cap_drops = cap;
    }
    q->drops[2 * q->ndrops] = first;
    q->drops[2 * q->ndrops + 1] = count;
    q->ndrops++;
    return 0;
}

/* ---- L2 tables ------------------------------------------------------------------------ */

/* The L2 table for l1_index, loaded into the cache (or, with alloc, created). *out is
 * NULL when the table does not exist and alloc is 0. */
static int q_get_l2(struct qcow2 *q, uint64_t l1_index, int alloc, struct l2_slot **out,
                    struct bl_error *err)
{
    *out = NULL;
    struct l2_slot *victim = &q->l2[0];
    for (int i = 0; i < q->nl2; i++) {
        struct l2_slot *s = &q->l2[i];
        if (s->valid && s->l1_index == l1_index) {
            s->last_used = ++q->tick;
            *out = s;
            return 0;
        }
        if (!s->valid || (victim->valid && s->last_used < victim->last_used))
            victim = s;
    }
    uint64_t off = q->l1[l1_index] & QCOW2_L1_OFFSET_MASK;
    if (!off && !alloc)
        return 0;
    int rc;
    if (victim->valid && victim->dirty && (rc = q_flush_meta(q, err)) < 0)
        return rc;
    if (!victim->table && !(victim->table = malloc(q->cluster_size)))
        return bl_errno(err, ENOMEM, "qcow2 %s: L2 table", q->path);
    victim->valid = 0;
    if (off) {
        int64_t n = disk_pread_full(q->fd, victim->table, q->cluster_size, off);
        if (n < 0)
            return q_ioerr(q, err, (int)-n, "read L2 table", off);
        if ((uint64_t)n < q->cluster_size)
            return q_corrupt(q, err, "L2 table past end of file", off);
        victim->dirty = 0;
    } else {
        if ((rc = q_alloc_cluster(q, &off, err)) < 0)
            return rc;
        memset(victim->table, 0, q->cluster_size);
        q->l1[l1_index] = off | QCOW2_OFLAG_COPIED;
        if (l1_index < q->l1_dirty_lo)
            q->l1_dirty_lo = l1_index;
        if (l1_index + 1 > q->l1_dirty_hi)
            q->l1_dirty_hi = l1_index + 1;
        victim->dirty = 1;
    }
    victim->valid = 1;
    victim->l1_index = l1_index;
    victim->last_used = ++q->tick;
    *out = victim;
    return 0;
}

static int q_l2_entry(struct qcow2 *q, uint64_t vcluster, uint64_t *entry,
                      struct bl_error *err)
{
    struct l2_slot *s;
    int rc = q_get_l2(q, vcluster >> q->l2_bits, 0, &s, err);
    if (rc < 0)
        return rc;
    *entry = s ? qcow2_be64((const uint8_t *)&s->table[vcluster & ((1ull << q->l2_bits) - 1)])
               : 0;
    return 0;
}

/* ---- reading clusters ----------------------------------------------------------------- */

static int zlib_load(struct qcow2 *q, struct bl_error *err)
{
    if (q->zlib.handle)
        return 0;
    void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "qcow2 %s: compressed cluster needs zlib (libz.so.1): %s", q->path,
                      dlerror());
    q->zlib.inflate_init2 = (int (*)(z_streamp, int, const char *, int))dlsym(h, "inflateInit2_");
    q->zlib.inflate = (int (*)(z_streamp, int))dlsym(h, "inflate");
    q->zlib.inflate_end = (int (*)(z_streamp))dlsym(h, "inflateEnd");
    if (!q->zlib.inflate_init2 || !q->zlib.inflate || !q->zlib.inflate_end) {
        dlclose(h);
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "qcow2 %s: libz.so.1 lacks inflate",
                      q->path);
    }
    q->zlib.handle = h;
    return 0;
}

static int inflate_cluster(struct qcow2 *q, size_t in_len, struct bl_error *err)
{
    int rc = zlib_load(q, err);
    if (rc < 0)
        return rc;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* qcow2 stores raw deflate data (no zlib header), window of 4 KiB (-12). */
    if (q->zlib.inflate_init2(&zs, -12, ZLIB_VERSION, (int)sizeof zs) != Z_OK)
        return bl_err(err, BOXLITE_ERR_NOMEM, "qcow2 %s: inflateInit2 failed", q->path);
    zs.next_in = q->zc_in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = q->zc_out;
    zs.avail_out = (uInt)q->cluster_size;
    int zr = q->zlib.inflate(&zs, Z_FINISH);
    q->zlib.inflate_end(&zs);
    /* Complete when the output is full, whether or not the stream says it ended. */
    if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR && zr != Z_OK) || zs.avail_out != 0)
        return q_corrupt(q, err, "compressed cluster does not inflate to a cluster", in_len);
    return 0;
}

static int unzstd_cluster(struct qcow2 *q, size_t in_len, struct bl_error *err)
{
    if (!q->zstd && !(q->zstd = ZSTD_createDCtx()))
        return bl_errno(err, ENOMEM, "qcow2 %s: zstd", q->path);
    ZSTD_DCtx_reset(q->zstd, ZSTD_reset_session_only);
    ZSTD_inBuffer in = {q->zc_in, in_len, 0};
    ZSTD_outBuffer out = {q->zc_out, q->cluster_size, 0};
    while (out.pos < out.size) {
        size_t in_pos = in.pos, out_pos = out.pos;
        size_t r = ZSTD_decompressStream(q->zstd, &out, &in);
        if (ZSTD_isError(r) || (in.pos == in_pos && out.pos == out_pos))
            return q_corrupt(q, err, "compressed cluster does not decompress to a cluster",
                             in_len);
    }
    return 0;
}

static int q_decompress(struct qcow2 *q, uint64_t entry, struct bl_error *err)
{
    if (q->zc_entry == entry)
        return 0;
    if (!q->zc_in && !(q->zc_in = malloc(2 * q->cluster_size)))
        return bl_errno(err, ENOMEM, "qcow2 %s: compressed cluster", q->path);
    if (!q->zc_out && !(q->zc_out = malloc(q->cluster_size)))
        return bl_errno(err, ENOMEM, "qcow2 %s: compressed cluster", q->path);
    const unsigned shift = 62 - (q->cluster_bits - 8);
    uint64_t coff = entry & ((1ull << shift) - 1);
    uint64_t sectors = ((entry >> shift) & ((1ull << (q->cluster_bits - 8)) - 1)) + 1;
    size_t clen = (size_t)(sectors * 512 - (coff & 511));
    int64_t n = disk_pread_full(q->fd, q->zc_in, clen, coff);
    if (n < 0)
        return q_ioerr(q, err, (int)-n, "read compressed cluster", coff);
    if (n == 0)
        return q_corrupt(q, err, "compressed cluster past end of file", coff);
    q->zc_entry = 0;
    int rc = q->h.compression_type == QCOW2_COMPRESSION_ZSTD
                 ? unzstd_cluster(q, (size_t)n, err)
                 : inflate_cluster(q, (size_t)n, err);
    if (rc < 0)
        return rc;
    q->zc_entry = entry;
    return 0;
}

/* Checks a standard L2 entry's host offset; returns it (0 = not allocated). */
static int q_host_offset(struct qcow2 *q, uint64_t entry, uint64_t *host, struct bl_error *err)
{
    *host = entry & QCOW2_L2_OFFSET_MASK;
    if (*host & (q->cluster_size - 1))
        return q_corrupt(q, err, "unaligned data cluster offset", *host);
    return 0;
}

/* Reads [in, in+n) of virtual cluster vcluster, whose L2 entry is entry. */
static int q_read_cluster(struct qcow2 *q, uint64_t vcluster, uint64_t entry, uint8_t *buf,
                          size_t in, size_t n, struct bl_error *err)
{
    int rc;
    if (entry & QCOW2_OFLAG_COMPRESSED) {
        if ((rc = q_decompress(q, entry, err)) < 0)
            return rc;
        memcpy(buf, q->zc_out + in, n);
        return 0;
    }
    uint64_t host;
    if ((rc = q_host_offset(q, entry, &host, err)) < 0)
        return rc;
    if (entry & QCOW2_OFLAG_ZERO) {
        memset(buf, 0, n);
        return 0;
    }
    if (host) {
        int64_t r = disk_pread_full(q->fd, buf, n, host + in);
        if (r < 0)
            return q_ioerr(q, err, (int)-r, "read data", host + in);
        memset(buf + r, 0, n - (size_t)r); /* past the end of the file reads as zeros */
        return 0;
    }
    uint64_t voff = (vcluster << q->cluster_bits) + in;
    size_t from_backing = 0;
    if (q->backing && voff < q->backing->size) {
        from_backing = q->backing->size - voff < n ? (size_t)(q->backing->size - voff) : n;
        if ((rc = q->backing->ops->read(q->backing, buf, voff, from_backing, err)) < 0)
            return bl_err_prefix(err, "qcow2 %s: backing file", q->path);
    }
    memset(buf + from_backing, 0, n - from_backing);
    return 0;
}

static int q_read(struct disk *d, void *buf, uint64_t offset, size_t len, struct bl_error *err)
{
    struct qcow2 *q = q_of(d);
    uint8_t *p = buf;
    /* Contiguous allocated clusters are read with one pread. */
    uint64_t run_host = 0;
    uint8_t *run_buf = NULL;
    size_t run_len = 0;
    int rc = 0;
    while (len > 0) {
        uint64_t vcl = offset >> q->cluster_bits;
        size_t in = (size_t)(offset & (q->cluster_size - 1));
        size_t n = q->cluster_size - in < len ? q->cluster_size - in : len;
        uint64_t entry, host = 0;
        if ((rc = q_l2_entry(q, vcl, &entry, err)) < 0)
            return rc;
        int plain = !(entry & (QCOW2_OFLAG_COMPRESSED | QCOW2_OFLAG_ZERO));
        if (plain && (rc = q_host_offset(q, entry, &host, err)) < 0)
            return rc;
        if (plain && host && run_len && run_host + run_len == host + in &&
            run_buf + run_len == p) {
            run_len += n;
        } else {
            if (run_len) {
                int64_t r = disk_pread_full(q->fd, run_buf, run_len, run_host);
                if (r < 0)
                    return q_ioerr(q, err, (int)-r, "read data", run_host);
                memset(run_buf + r, 0, run_len - (size_t)r);
                run_len = 0;
            }
            if (plain && host) {
                run_host = host + in, run_buf = p, run_len = n;
            } else if ((rc = q_read_cluster(q, vcl, entry, p, in, n, err)) < 0) {
                return rc;
            }
        }
        p += n, offset += n, len -= n;
    }
    if (run_len) {
        int64_t r = disk_pread_full(q->fd, run_buf, run_len, run_host);
        if (r < 0)
            return q_ioerr(q, err, (int)-r, "read data", run_host);
        memset(run_buf + r, 0, run_len - (size_t)r);
    }
    return 0;
}

/* ---- writing -------------------------------------------------------------------------- */

/* A data cluster we are about to overwrite in place must not be metadata we know of. */
static int q_check_data_cluster(struct qcow2 *q, uint64_t host, struct bl_error *err)
{
    uint64_t cs = q->cluster_size;
    uint64_t l1_end = q->h.l1_table_offset + (uint64_t)q->h.l1_size * 8;
    uint64_t rt_end = q->h.refcount_table_offset + q->rt_entries * 8;
    if (host < cs || host + cs > q->alloc_next ||
        (host < l1_end && q->h.l1_table_offset < host + cs) ||
        (host < rt_end && q->h.refcount_table_offset < host + cs))
        return q_corrupt(q, err, "data cluster overlaps metadata or lies past the end", host);
    return 0;
}

static void q_set_l2(struct qcow2 *q, struct l2_slot *s, uint64_t vcl, uint64_t entry)
{
    qcow2_put_be64((uint8_t *)&s->table[vcl & ((1ull << q->l2_bits) - 1)], entry);
    s->dirty = 1;
}

static int all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* An L2 entry is being replaced: the clusters it used (compressed data, or a shared
 * cluster other than keep) lose a reference once the new table is on disk. */
static int q_drop_entry(struct qcow2 *q, uint64_t entry, uint64_t keep, struct bl_error *err)
{
    if (entry & QCOW2_OFLAG_COMPRESSED) {
        const unsigned shift = 62 - (q->cluster_bits - 8);
        uint64_t coff = entry & ((1ull << shift) - 1);
        uint64_t sectors = ((entry >> shift) & ((1ull << (q->cluster_bits - 8)) - 1)) + 1;
        uint64_t first = coff >> q->cluster_bits;
        uint64_t last = ((coff & ~511ull) + sectors * 512 - 1) >> q->cluster_bits;
        return q_drop_later(q, first, last - first + 1, err);
    }
    uint64_t host = entry & QCOW2_L2_OFFSET_MASK;
    if (host && host != keep)
        return q_drop_later(q, host >> q->cluster_bits, 1, err);
    return 0;
}

/* Writes [in, in+n) of virtual cluster vcl from p (p == NULL writes zeros). */
static int q_write_cluster(struct qcow2 *q, uint64_t vcl, const uint8_t *p, size_t in,
                           size_t n, struct bl_error *err)
{
    struct l2_slot *s;
    int rc = q_get_l2(q, vcl >> q->l2_bits, 1, &s, err);
    if (rc < 0)
        return rc;
    uint64_t entry = qcow2_be64((const uint8_t *)&s->table[vcl & ((1ull << q->l2_bits) - 1)]);
    uint64_t host = 0;
    int compressed = (entry & QCOW2_OFLAG_COMPRESSED) != 0;
    if (!compressed && (rc = q_host_offset(q, entry, &host, err)) < 0)
        return rc;
    int owned = !compressed && host && (entry & QCOW2_OFLAG_COPIED);
    if (owned && (rc = q_check_data_cluster(q, host, err)) < 0)
        return rc;
    if (owned && !(entry & QCOW2_OFLAG_ZERO)) {
        if (p)
            return q_queue_write(q, host + in, p, n, err);
        if ((rc = q_issue_pending(q, err)) < 0)
            return rc;
        memset(q->bounce, 0, n);
        rc = disk_pwrite_full(q->fd, q->bounce, n, host + in);
        return rc < 0 ? q_ioerr(q, err, -rc, "write data", host + in) : 0;
    }
    /* The cluster gets new contents: in its own (zero-flagged) cluster or a new one. */
    uint64_t target = host;
    if (!owned && (rc = q_alloc_cluster(q, &target, err)) < 0)
        return rc;
    if (n == q->cluster_size && p) {
        if ((rc = q_queue_write(q, target, p, n, err)) < 0)
            return rc;
    } else {
        if ((rc = q_issue_pending(q, err)) < 0)
            return rc;
        if (n < q->cluster_size &&
            (rc = q_read_cluster(q, vcl, entry, q->bounce, 0, q->cluster_size, err)) < 0)
            return rc;
        if (p)
            memcpy(q->bounce + in, p, n);
        else
            memset(q->bounce + in, 0, n);
        /* A new cluster lies past the old end of the file and reads as zeros already:
         * when the copied-in bytes are zeros too, only the new bytes need writing. */
        size_t wo = 0, wn = q->cluster_size;
        if (!owned && all_zero(q->bounce, in) &&
            all_zero(q->bounce + in + n, q->cluster_size - in - n))
            wo = in, wn = n;
        rc = disk_pwrite_full(q->fd, q->bounce + wo, wn, target + wo);
        if (rc < 0)
            return q_ioerr(q, err, -rc, "write data", target + wo);
    }
    if ((rc = q_drop_entry(q, entry, target, err)) < 0)
        return rc;
    q_set_l2(q, s, vcl, target | QCOW2_OFLAG_COPIED);
    return 0;
}

static int q_write(struct disk *d, const void *buf, uint64_t offset, size_t len,
                   struct bl_error *err)
{
    struct qcow2 *q = q_of(d);
    if (q->broken)
        return bl_err(err, BOXLITE_ERR_IO, "qcow2 %s: an earlier metadata write failed",
                      q->path);
    const uint8_t *p = buf;
    while (len > 0) {
        uint64_t vcl = offset >> q->cluster_bits;
        size_t in = (size_t)(offset & (q->cluster_size - 1));
        size_t n = q->cluster_size - in < len ? q->cluster_size - in : len;
        int rc = q_write_cluster(q, vcl, p, in, n, err);
        if (rc < 0) {
            q_issue_pending(q, NULL);
            return rc;
        }
        p += n, offset += n, len -= n;
    }
    return q_issue_pending(q, err);
}

/* Whole clusters become zero clusters (version 3; they keep their allocation), partial
 * ones are written with zeros. */
static int q_discard(struct disk *d, uint64_t offset, uint64_t len, struct bl_error *err)
{
    struct qcow2 *q = q_of(d);
    if (q->broken)
        return bl_err(err, BOXLITE_ERR_IO, "qcow2 %s: an earlier metadata write failed",
                      q->path);
    int rc = 0;
    while (len > 0 && rc == 0) {
        uint64_t vcl = offset >> q->cluster_bits;
        size_t in = (size_t)(offset & (q->cluster_size - 1));
        size_t n = q->cluster_size - in < len ? (size_t)(q->cluster_size - in) : (size_t)len;
        if (n < q->cluster_size || q->h.version < 3) {
            rc = q_write_cluster(q, vcl, NULL, in, n, err);
        } else {
            uint64_t entry;
            if ((rc = q_l2_entry(q, vcl, &entry, err)) < 0)
                break;
            uint64_t host = entry & QCOW2_L2_OFFSET_MASK;
            int owned = !(entry & QCOW2_OFLAG_COMPRESSED) && host &&
                        (entry & QCOW2_OFLAG_COPIED) && !(host & (q->cluster_size - 1));
            uint64_t zero = owned ? host | QCOW2_OFLAG_COPIED | QCOW2_OFLAG_ZERO
                                  : QCOW2_OFLAG_ZERO;
            if (entry == zero || (!entry && !q->backing))
                goto next; /* already reads as zeros */
            struct l2_slot *s;
            if ((rc = q_get_l2(q, vcl >> q->l2_bits, 1, &s, err)) < 0 ||
                (rc = q_drop_entry(q, entry, owned ? host : 0, err)) < 0)
                break;
            q_set_l2(q, s, vcl, zero);
        }
    next:
        offset += n, len -= n;
    }
    return rc;
}

static int q_flush(struct disk *d, struct bl_error *err)
{
    struct qcow2 *q = q_of(d);
    if (q->broken)
        return bl_err(err, BOXLITE_ERR_IO, "qcow2 %s: an earlier metadata write failed",
                      q->path);
    return q_flush_meta(q, err);
}

static void q_free(struct qcow2 *q)
{
    for (int i = 0; q->l2 && i < q->nl2; i++)
        free(q->l2[i].table);
    free(q->l2);
    if (q->zlib.handle)
        dlclose(q->zlib.handle);
    ZSTD_freeDCtx(q->zstd);
    disk_close(q->backing);
    if (q->fd >= 0)
        close(q->fd);
    free(q->l1);
    free(q->rt);
    free(q->bounce);
    free(q->rbuf);
    free(q->zc_in);
    free(q->zc_out);
    free(q->drops);
    free(q->path);
    free(q);
}

static void q_close(struct disk *d)
{
    struct qcow2 *q = q_of(d);
    if (!d->readonly && !q->broken && q_flush_meta(q, NULL) == 0 &&
        q->alloc_next < q->pool_end) {
        /* Give back the reserved clusters nobody uses, then drop them from the file. */
        uint64_t first = q->alloc_next >> q->cluster_bits;
        uint64_t count = (q->pool_end - q->alloc_next) >> q->cluster_bits;
        if (rc_set_range(q, first, count, 0, NULL) == 0 && fdatasync(q->fd) == 0 &&
            ftruncate(q->fd, (off_t)q->alloc_next) == 0)
            fdatasync(q->fd);
    }
    q_free(q);
}

static const struct disk_ops qcow2_ops = {
    .name = "qcow2",
    .read = q_read,
    .write = q_write,
    .flush = q_flush,
    .discard = q_discard,
    .close = q_close,
};


/* ---- repair of a dirty image --------------------------------------------------------- */

/* Refcounts may be stale after a crash with lazy refcounts (the dirty bit): count every
 * reference from the tables, write a fresh refcount table and blocks at the end of the
 * file, switch the header to them, then clear the dirty bit (QEMU does the same on open).
 * A crash at any point leaves either the old structures with the dirty bit set, or the
 * new ones. */
#define REPAIR_MAX_CLUSTERS (1ull << 26)

static int count_ref(struct qcow2 *q, uint32_t *counts, uint64_t n, uint64_t first,
                     uint64_t last, const char *what, struct bl_error *err)
{
    if (last >= n)
        return q_corrupt(q, err, what, first << q->cluster_bits);
    for (uint64_t c = first; c <= last; c++)
        if (counts[c] != UINT32_MAX)
            counts[c]++;
    return 0;
}

static int q_repair(struct qcow2 *q, struct bl_error *err)
{
    const unsigned cb = q->cluster_bits;
    const uint64_t cs = q->cluster_size;
    const uint64_t s0 = (q->file_size + cs - 1) >> cb;
    if (s0 > REPAIR_MAX_CLUSTERS)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "qcow2 %s: too large to repair here; use 'qemu-img check -r all'",
                      q->path);
    const uint64_t rbe = 1ull << q->rb_bits;
    /* New structures after the file: t table clusters, then m blocks covering it all. */
    uint64_t t = 1, m = 1;
    for (int i = 0; i < 16; i++) {
        uint64_t nm = (s0 + t + m + rbe - 1) / rbe;
        uint64_t nt = (nm * 8 + cs - 1) / cs;
        if (nm == m && nt == t)
            break;
        m = nm, t = nt;
    }
    if (t * cs > QCOW2_MAX_REFTABLE_BYTES)
        return bl_err(err, BOXLITE_ERR_INVALID, "qcow2 %s: image file too large", q->path);
    const uint64_t total = s0 + t + m;
    uint32_t *counts = calloc(total, sizeof *counts);
    uint8_t *l2 = malloc(cs);
    uint64_t *table = NULL;
    int rc = 0;
    if (!counts || !l2) {
        rc = bl_errno(err, ENOMEM, "qcow2 %s: repair", q->path);
        goto out;
    }
    counts[0] = 1; /* header */
    if (q->h.l1_size &&
        (rc = count_ref(q, counts, s0, q->h.l1_table_offset >> cb,
                        (q->h.l1_table_offset + (uint64_t)q->h.l1_size * 8 - 1) >> cb,
                        "L1 table past end of file", err)) < 0)
        goto out;
    const unsigned shift = 62 - (cb - 8);
    for (uint32_t i = 0; i < q->h.l1_size; i++) {
        uint64_t off = q->l1[i] & QCOW2_L1_OFFSET_MASK;
        if (!off)
            continue;
        if ((rc = count_ref(q, counts, s0, off >> cb, off >> cb, "L2 table past end of file",
                            err)) < 0)
            goto out;
        int64_t n = disk_pread_full(q->fd, l2, cs, off);
        if (n < 0 || (uint64_t)n < cs) {
            rc = n < 0 ? q_ioerr(q, err, (int)-n, "read L2 table", off)
                       : q_corrupt(q, err, "L2 table past end of file", off);
            goto out;
        }
        for (uint64_t j = 0; j < cs / 8; j++) {
            uint64_t e = qcow2_be64(l2 + 8 * j);
            if (e & QCOW2_OFLAG_COMPRESSED) {
                uint64_t coff = e & ((1ull << shift) - 1);
                uint64_t sectors = ((e >> shift) & ((1ull << (cb - 8)) - 1)) + 1;
                rc = count_ref(q, counts, s0, coff >> cb,
                               ((coff & ~511ull) + sectors * 512 - 1) >> cb,
                               "compressed cluster past end of file", err);
            } else if ((e & QCOW2_L2_OFFSET_MASK) != 0) {
                uint64_t host = e & QCOW2_L2_OFFSET_MASK;
                if (host & (cs - 1))
                    rc = q_corrupt(q, err, "unaligned data cluster offset", host);
                else
                    rc = count_ref(q, counts, s0, host >> cb, host >> cb,
                                   "data cluster past end of file", err);
            }
            if (rc < 0)
                goto out;
        }
    }
    for (uint64_t c = s0; c < total; c++)
        counts[c] = 1;
    const uint64_t max = q->h.refcount_order == 6 ? UINT64_MAX
                                                  : (1ull << (1u << q->h.refcount_order)) - 1;
    for (uint64_t c = 0; c < total; c++)
        if (counts[c] > max) {
            rc = q_corrupt(q, err, "refcount overflow in cluster", c);
            goto out;
        }

    if (ftruncate(q->fd, (off_t)(total << cb)) < 0) {
        rc = q_ioerr(q, err, errno, "grow file to", total << cb);
        goto out;
    }
    q->file_size = total << cb;
    table = calloc(t * cs / 8, sizeof *table);
    if (!table) {
        rc = bl_errno(err, ENOMEM, "qcow2 %s: repair", q->path);
        goto out;
    }
    for (uint64_t b = 0; b < m; b++) {
        memset(q->rbuf, 0, cs);
        for (uint64_t i = 0; i < rbe && b * rbe + i < total; i++)
            rc_set(q, q->rbuf, i, counts[b * rbe + i]);
        uint64_t at = (s0 + t + b) << cb;
        table[b] = at;
        if ((rc = disk_pwrite_full(q->fd, q->rbuf, cs, at)) < 0) {
            rc = q_ioerr(q, err, -rc, "write refcount block", at);
            goto out_table;
        }
    }
    {
        uint8_t *be = calloc(1, t * cs);
        if (!be) {
            rc = bl_errno(err, ENOMEM, "qcow2 %s: repair", q->path);
            goto out_table;
        }
        for (uint64_t i = 0; i < m; i++)
            qcow2_put_be64(be + 8 * i, table[i]);
        rc = disk_pwrite_full(q->fd, be, t * cs, s0 << cb);
        free(be);
        if (rc < 0) {
            rc = q_ioerr(q, err, -rc, "write refcount table", s0 << cb);
            goto out_table;
        }
    }
    uint8_t hdr[12], inc[8];
    qcow2_put_be64(hdr, s0 << cb);
    qcow2_put_be32(hdr + 8, (uint32_t)t);
    qcow2_put_be64(inc, q->h.incompatible_features & ~QCOW2_INCOMPAT_DIRTY);
    if ((rc = q_sync(q, err)) < 0)
        goto out_table;
    if ((rc = disk_pwrite_full(q->fd, hdr, sizeof hdr, QCOW2_OFF_REFTABLE_OFFSET)) < 0) {
        rc = q_ioerr(q, err, -rc, "write header", QCOW2_OFF_REFTABLE_OFFSET);
        goto out_table;
    }
    if ((rc = q_sync(q, err)) < 0)
        goto out_table;
    if ((rc = disk_pwrite_full(q->fd, inc, sizeof inc, QCOW2_OFF_INCOMPATIBLE)) < 0) {
        rc = q_ioerr(q, err, -rc, "write header", QCOW2_OFF_INCOMPATIBLE);
        goto out_table;
    }
    if ((rc = q_sync(q, err)) < 0)
        goto out_table;
    free(q->rt);
    q->rt = table;
    q->rt_entries = t * cs / 8;
    q->h.refcount_table_offset = s0 << cb;
    q->h.refcount_table_clusters = (uint32_t)t;
    q->h.incompatible_features &= ~QCOW2_INCOMPAT_DIRTY;
    table = NULL;
out_table:
    free(table);
out:
    free(counts);
    free(l2);
    return rc;
}

/* ---- open ----------------------------------------------------------------------------- */

static int q_load_tables(struct qcow2 *q, struct bl_error *err)
{
    const uint64_t cs = q->cluster_size;
    size_t l1_bytes = (size_t)q->h.l1_size * 8;
    q->l1 = calloc(q->h.l1_size ? q->h.l1_size : 1, 8);
    q->rt_entries = ((uint64_t)q->h.refcount_table_clusters << q->cluster_bits) / 8;
    q->rt = calloc(q->rt_entries, 8);
    if (!q->l1 || !q->rt)
        return bl_errno(err, ENOMEM, "qcow2 %s: tables", q->path);
    uint8_t *raw = malloc(l1_bytes > q->rt_entries * 8 ? l1_bytes : q->rt_entries * 8);
    if (!raw)
        return bl_errno(err, ENOMEM, "qcow2 %s: tables", q->path);
    int64_t n = disk_pread_full(q->fd, raw, l1_bytes, q->h.l1_table_offset);
    if (n < 0 || (size_t)n < l1_bytes) {
        free(raw);
        return n < 0 ? q_ioerr(q, err, (int)-n, "read L1 table", q->h.l1_table_offset)
                     : q_corrupt(q, err, "L1 table past end of file", q->h.l1_table_offset);
    }
    for (uint32_t i = 0; i < q->h.l1_size; i++) {
        uint64_t e = qcow2_be64(raw + 8 * i), off = e & QCOW2_L1_OFFSET_MASK;
        if (off && (off % cs != 0 || off < cs || off > q->file_size || cs > q->file_size - off)) {
            free(raw);
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "qcow2 %s: L1 entry %u points to an L2 table at %llu, outside the "
                          "file or unaligned",
                          q->path, i, (unsigned long long)off);
        }
        q->l1[i] = e;
    }
    n = disk_pread_full(q->fd, raw, q->rt_entries * 8, q->h.refcount_table_offset);
    if (n < 0 || (uint64_t)n < q->rt_entries * 8) {
        free(raw);
        return n < 0 ? q_ioerr(q, err, (int)-n, "read refcount table",
                               q->h.refcount_table_offset)
                     : q_corrupt(q, err, "refcount table past end of file",
                                 q->h.refcount_table_offset);
    }
    for (uint64_t i = 0; i < q->rt_entries; i++) {
        uint64_t off = qcow2_be64(raw + 8 * i) & QCOW2_REFT_OFFSET_MASK;
        if (off && (off % cs != 0 || off < cs || off > q->file_size || cs > q->file_size - off)) {
            free(raw);
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "qcow2 %s: refcount table entry %llu points to %llu, outside the "
                          "file or unaligned",
                          q->path, (unsigned long long)i, (unsigned long long)off);
        }
        q->rt[i] = off;
    }
    free(raw);
    return 0;
}

static int q_open_backing(struct qcow2 *q, int depth, struct bl_error *err)
{
    const char *name = q->h.backing_file, *fmt = q->h.backing_format;
    if (depth + 1 >= DISK_MAX_BACKING_DEPTH)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "qcow2 %s: backing chain deeper than %d (a loop?)", q->path,
                      DISK_MAX_BACKING_DEPTH);
    if (fmt[0] && strcmp(fmt, "raw") != 0 && strcmp(fmt, "qcow2") != 0)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "qcow2 %s: backing file format '%s' is not supported", q->path, fmt);
    char *full = NULL;
    const char *slash = strrchr(q->path, '/');
    if (name[0] != '/' && slash) {
        if (asprintf(&full, "%.*s/%s", (int)(slash - q->path), q->path, name) < 0)
            return bl_errno(err, ENOMEM, "qcow2 %s: backing path", q->path);
    } else if (!(full = strdup(name))) {
        return bl_errno(err, ENOMEM, "qcow2 %s: backing path", q->path);
    }
    int rc = disk_open_chain(&q->backing, full, fmt[0] ? fmt : NULL, 1, depth + 1, err);
    free(full);
    if (rc < 0)
        return bl_err_prefix(err, "qcow2 %s: backing file", q->path);
    return 0;
}

int qcow2_open_fd(struct disk **out, int fd, const char *path, int readonly, int depth,
                  struct bl_error *err)
{
    *out = NULL;
    struct qcow2 *q = calloc(1, sizeof *q);
    if (!q) {
        close(fd);
        return bl_errno(err, ENOMEM, "open %s", path);
    }
    q->fd = fd;
    q->d.ops = &qcow2_ops;
    q->d.readonly = readonly;
    q->l1_dirty_lo = UINT64_MAX;
    int rc;
    struct stat st;
    if (!(q->path = strdup(path))) {
        rc = bl_errno(err, ENOMEM, "open %s", path);
        goto fail;
    }
    if (fstat(fd, &st) < 0) {
        rc = bl_errno(err, errno, "stat %s", path);
        goto fail;
    }
    q->file_size = (uint64_t)st.st_size;

    rc = qcow2_header_read(fd, q->file_size, &q->h, err);
    if (rc < 0) {
        bl_err_prefix(err, "%s", path);
        goto fail;
    }
    q->cluster_bits = q->h.cluster_bits;
    q->cluster_size = 1ull << q->cluster_bits;
    q->l2_bits = q->cluster_bits - 3;
    q->rb_bits = q->cluster_bits + 3 - q->h.refcount_order;
    q->d.size = q->h.size;

    if (!readonly) {
        const char *why = NULL;
        if (q->h.incompatible_features & QCOW2_INCOMPAT_CORRUPT)
            why = "it is marked corrupt; repair it with 'qemu-img check -r all'";
        else if (q->h.nb_snapshots > 0)
            why = "it has internal snapshots";
        if (why) {
            rc = bl_err(err, BOXLITE_ERR_UNSUPPORTED, "%s: cannot open for writing: %s", path,
                        why);
            goto fail;
        }
    }
    if ((rc = q_load_tables(q, err)) < 0)
        goto fail;
    q->nl2 = (int)(L2_CACHE_BYTES >> q->cluster_bits);
    q->nl2 = q->nl2 < L2_CACHE_MIN ? L2_CACHE_MIN : q->nl2 > L2_CACHE_MAX ? L2_CACHE_MAX : q->nl2;
    q->l2 = calloc((size_t)q->nl2, sizeof *q->l2);
    q->bounce = malloc(q->cluster_size);
    q->rbuf = malloc(q->cluster_size);
    if (!q->l2 || !q->bounce || !q->rbuf) {
        rc = bl_errno(err, ENOMEM, "open %s", path);
        goto fail;
    }
    if (q->h.backing_file[0] && (rc = q_open_backing(q, depth, err)) < 0)
        goto fail;

    if (!readonly && q->h.autoclear_features) {
        /* Autoclear features (e.g. bitmaps) become stale as soon as we write: clear them
         * first, as the spec asks of writers that do not maintain them. */
        uint8_t zero[8] = {0};
        if ((rc = disk_pwrite_full(fd, zero, 8, QCOW2_OFF_AUTOCLEAR)) < 0) {
            rc = bl_errno(err, -rc, "write %s", path);
            goto fail;
        }
        if ((rc = q_sync(q, err)) < 0)
            goto fail;
        q->h.autoclear_features = 0;
    }
    if (!readonly && (q->h.incompatible_features & QCOW2_INCOMPAT_DIRTY) &&
        (rc = q_repair(q, err)) < 0) {
        bl_err_prefix(err, "repair of dirty refcounts");
        goto fail;
    }
    q->alloc_next = q->pool_end = (q->file_size + q->cluster_size - 1) & ~(q->cluster_size - 1);
    *out = &q->d;
    return 0;
fail:
    q_free(q);
    return rc;
}
