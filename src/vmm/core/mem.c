// SPDX-License-Identifier: Apache-2.0
/* Guest physical memory: a handful of regions, and the one place where a guest address and
 * length become a host pointer. */
#include "vmm/core/mem.h"

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
