// SPDX-License-Identifier: Apache-2.0
/* Guest physical memory as the VMM sees it: a few regions of host memory. Every address
 * and length that comes from the guest goes through gm_ptr(), which returns NULL unless
 * [gpa, gpa+len) lies inside one region (no wrap-around, no straddling). Adjacent regions
 * are not merged (their host mappings need not be contiguous), so register contiguous guest
 * RAM as one region, or a buffer crossing the seam is refused as malformed.
 * Regions are set up before the vCPUs run and never change afterwards: readers take no
 * lock. */
#ifndef VMM_MEM_H
#define VMM_MEM_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define GM_MAX_REGIONS 8

struct gm_region {
    uint64_t gpa;  /* guest physical start */
    uint64_t size; /* bytes */
    uint8_t *host; /* where it is mapped in the VMM */
};

struct guest_mem {
    struct gm_region regions[GM_MAX_REGIONS];
    int nregions;
};

/* Host pointer for [gpa, gpa+len), or NULL if that range is not wholly inside one region.
 * len 0 is valid if gpa is inside a region (or at its end). */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* Adds a region; returns -1 if full, overlapping, or gpa+size wraps. */
int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *host);

/* Maps size bytes (page-aligned) of fresh guest RAM: private, anonymous, not reserved, and
 * never backed by the host's transparent huge pages (MADV_NOHUGEPAGE), so that a guest
 * touching one page gets one page (issue 21g); NULL with errno on failure. */
void *gm_map_anon(uint64_t size);

/* ---- the memory file of a snapshot (snapshot.h) ---------------------------------------
 * Guest RAM is saved apart from the device state, region after region from offset 0, so a
 * restore can map it (MAP_PRIVATE: copy-on-write, and forks may share the file's pages)
 * instead of reading it. */
/* Bytes of guest RAM in all regions: the memory file's length. */
uint64_t gm_total(const struct guest_mem *gm);
/* Writes every region into fd (a regular file, truncated to gm_total); pages of zeros are
 * left as holes. 0, or -errno. */
int gm_save(const struct guest_mem *gm, int fd);
/* Maps size bytes of fd at offset (page-aligned) copy-on-write, for a region; NULL with
 * errno on failure. */
void *gm_map_file(int fd, uint64_t offset, uint64_t size);

#endif
