// SPDX-License-Identifier: Apache-2.0
/* Guest physical memory: a handful of regions, and the one place where a guest address and
 * length become a host pointer. */
#include "vmm/core/mem.h"

#include <errno.h>
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
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd,
                   (off_t)offset);
    return p == MAP_FAILED ? NULL : p;
}
