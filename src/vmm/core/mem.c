// SPDX-License-Identifier: Apache-2.0
/* Guest physical memory: a handful of regions, and the one place where a guest address and
 * length become a host pointer. */
#include "vmm/core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
    if (!gm)
        return NULL;
    for (int i = 0; i < gm->nregions; i++) {
        const struct gm_region *r = &gm->regions[i];
        if (gpa < r->gpa)
            continue;
        uint64_t off = gpa - r->gpa;
        /* off <= size and len <= size - off: no addition, so no wrap-around */
        if (off > r->size || len > r->size - off)
            continue;
        return r->host + off;
    }
    return NULL;
}

int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *host)
{
    if (!gm || !host || size == 0 || gm->nregions >= GM_MAX_REGIONS)
        return -1;
    uint64_t last = gpa + size - 1;
    if (last < gpa)
        return -1; /* wraps (a region ending exactly at 2^64 is allowed) */
    for (int i = 0; i < gm->nregions; i++) {
        const struct gm_region *r = &gm->regions[i];
        uint64_t rlast = r->gpa + r->size - 1;
        if (gpa <= rlast && r->gpa <= last)
            return -1;
    }
    gm->regions[gm->nregions++] = (struct gm_region){ .gpa = gpa, .size = size, .host = host };
    return 0;
}

uint64_t gm_total(const struct guest_mem *gm)
{
    uint64_t n = 0;
    for (int i = 0; i < gm->nregions; i++)
        n += gm->regions[i].size;
    return n;
}

#define GM_PAGE 4096u
#define GM_HUGE (2u << 20) /* an x86_64 or arm64 (4 KiB granule) huge page */

static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *q = (const uint64_t *)p;
    for (unsigned i = 0; i < GM_PAGE / 8; i++)
        if (q[i])
            return false;
    return true;
}

/* pwrite of a run, retrying short writes. */
static int write_run(int fd, const uint8_t *p, uint64_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n > (1u << 30) ? (1u << 30) : (size_t)n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        off += (uint64_t)w;
        n -= (uint64_t)w;
    }
    return 0;
}

int gm_save(const struct guest_mem *gm, int fd)
{
    /* Zero the file first: a hole reads as zeros, so only the pages with data are written. */
    if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)gm_total(gm)) < 0)
        return -errno;
    uint64_t file_off = 0;
    for (int i = 0; i < gm->nregions; i++) {
        const struct gm_region *r = &gm->regions[i];
        uint64_t run = 0, run_len = 0; /* the pending run of non-zero pages */
        for (uint64_t o = 0; o < r->size; o += GM_PAGE) {
            uint64_t n = r->size - o < GM_PAGE ? r->size - o : GM_PAGE;
            bool zero = n == GM_PAGE ? page_is_zero(r->host + o) : false;
            if (!zero) {
                if (!run_len)
                    run = o;
                run_len += n;
                continue;
            }
            if (run_len) {
                int e = write_run(fd, r->host + run, run_len, file_off + run);
                if (e < 0)
                    return e;
                run_len = 0;
            }
        }
        if (run_len) {
            int e = write_run(fd, r->host + run, run_len, file_off + run);
            if (e < 0)
                return e;
        }
        file_off += r->size;
    }
    return fsync(fd) < 0 ? -errno : 0;
}

void *gm_map_anon(uint64_t size)
{
    if (size % GM_PAGE || size == 0) {
        errno = EINVAL;
        return NULL;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* A host with THP "always" backs the first touch in each 2 MiB of guest RAM with a
     * whole huge page. The guest frees and reports its memory in small chunks, so the
     * never-used pages around what it keeps stayed resident: 3.9 MiB of an idle 512 MiB
     * box (lab, 10 boxes). The cost is 4 KiB pages under the guest (more TLB misses for a
     * memory-heavy guest), as on hosts whose THP is "madvise". EINVAL (a kernel without
     * THP) changes nothing. */
    (void)madvise(p, size, MADV_NOHUGEPAGE);
    return p;
}

void *gm_map_file(int fd, uint64_t offset, uint64_t size)
{
    if ((offset | size) % GM_PAGE || size == 0) {
        errno = EINVAL;
        return NULL;
    }
    /* At a 2 MiB boundary, as guest physical addresses of RAM are: only then can the host
     * back a 2 MiB stretch of the guest with one huge page (gm_dense_to_huge). */
    uint8_t *res = mmap(NULL, size + GM_HUGE, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED)
        return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)res + GM_HUGE - 1) & ~(uintptr_t)(GM_HUGE - 1));
    if (mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED, fd,
             (off_t)offset) == MAP_FAILED) {
        int e = errno;
        munmap(res, size + GM_HUGE);
        errno = e;
        return NULL;
    }
    if (p > res)
        munmap(res, (size_t)(p - res));
    if (res + size + GM_HUGE > p + size)
        munmap(p + size, (size_t)(res + size + GM_HUGE - (p + size)));
    return p;
}

/* Bytes of data (not holes) in fd's [off, off + len). */
static int64_t data_in(int fd, uint64_t off, uint64_t len)
{
    int64_t n = 0;
    uint64_t end = off + len;
    while (off < end) {
        off_t d = lseek(fd, (off_t)off, SEEK_DATA);
        if (d < 0)
            return errno == ENXIO ? n : -errno; /* ENXIO: no data after off */
        if ((uint64_t)d >= end)
            break;
        off_t h = lseek(fd, d, SEEK_HOLE);
        if (h < 0)
            return -errno;
        uint64_t stop = (uint64_t)h < end ? (uint64_t)h : end;
        n += (int64_t)(stop - (uint64_t)d);
        off = stop;
    }
    return n;
}

/* Reads fd's data runs of [off, off + len) to dst (holes stay the zeros dst has). */
static int read_data(int fd, uint8_t *dst, uint64_t off, uint64_t len)
{
    uint64_t pos = off, end = off + len;
    while (pos < end) {
        off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
        if (d < 0)
            return errno == ENXIO ? 0 : -errno;
        if ((uint64_t)d >= end)
            return 0;
        off_t h = lseek(fd, d, SEEK_HOLE);
        if (h < 0)
            return -errno;
        uint64_t stop = (uint64_t)h < end ? (uint64_t)h : end;
        for (uint64_t at = (uint64_t)d; at < stop;) {
            ssize_t r = pread(fd, dst + (at - off), stop - at, (off_t)at);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return r < 0 ? -errno : -EIO; /* the file shrank under us */
            at += (uint64_t)r;
        }
        pos = stop;
    }
    return 0;
}

int64_t gm_dense_to_huge(uint8_t *host, uint64_t size, int fd, uint64_t offset,
                         uint64_t min_data)
{
    if ((uintptr_t)host % GM_HUGE || offset % GM_PAGE)
        return -EINVAL;
    int64_t moved = 0;
    for (uint64_t c = 0; c + GM_HUGE <= size; c += GM_HUGE) {
        int64_t n = data_in(fd, offset + c, GM_HUGE);
        if (n < 0)
            return n;
        if ((uint64_t)n < min_data || n == 0)
            continue;
        if (mmap(host + c, GM_HUGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
            return -errno;
        /* before the first touch: the first write then faults in one huge page */
        (void)madvise(host + c, GM_HUGE, MADV_HUGEPAGE);
        int e = read_data(fd, host + c, offset + c, GM_HUGE);
        if (e < 0)
            return e;
        moved += (int64_t)GM_HUGE;
    }
    return moved;
}
