// SPDX-License-Identifier: Apache-2.0
/* virtio-balloon (Virtio 1.2 section 5.5): the guest gives pages back to the host, by
 * inflating the balloon towards a target the host sets (num_pages) and by free page
 * reporting (VIRTIO_BALLOON_F_PAGE_REPORTING). Given-back pages are discarded from the
 * VMM's mapping of guest RAM (madvise MADV_DONTNEED), so the host's memory follows what the
 * guest really uses. */
#ifndef VMM_VIRTIO_BALLOON_H
#define VMM_VIRTIO_BALLOON_H

#include "common/error.h"
#include "vmm/virtio/virtio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The balloon's page, fixed by the spec whatever the guest's page size (section 5.5.6). */
#define BALLOON_PAGE_SIZE 4096u

/* Feature bits (section 5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON 4
#define VIRTIO_BALLOON_F_PAGE_REPORTING 5

/* Memory statistics tags (section 5.5.6.3). */
#define VIRTIO_BALLOON_S_SWAP_IN 0
#define VIRTIO_BALLOON_S_SWAP_OUT 1
#define VIRTIO_BALLOON_S_MAJFLT 2
#define VIRTIO_BALLOON_S_MINFLT 3
#define VIRTIO_BALLOON_S_MEMFREE 4
#define VIRTIO_BALLOON_S_MEMTOT 5
#define VIRTIO_BALLOON_S_AVAIL 6
#define VIRTIO_BALLOON_S_CACHES 7
#define VIRTIO_BALLOON_S_HTLB_PGALLOC 8
#define VIRTIO_BALLOON_S_HTLB_PGFAIL 9
#define BALLOON_NR_STATS 10

struct balloon_cfg {
    uint64_t ram_bytes;        /* the guest's RAM, what target_mib is measured against */
    uint32_t target_mib;       /* guest memory to leave the guest; 0 = no target */
    bool free_page_reporting;  /* offer VIRTIO_BALLOON_F_PAGE_REPORTING */
};

struct balloon_stats {
    uint32_t target_mib;      /* the target it was set to (0 = none) */
    uint32_t num_pages;       /* what the device asks for (config num_pages) */
    uint32_t actual_pages;    /* what the driver says it holds (config actual) */
    uint64_t inflated_pages;  /* pages in the balloon as the device counted them */
    uint64_t returned_bytes;  /* discarded from guest RAM so far: inflated + reported */
    uint64_t reported_bytes;  /* of which through free page reporting */
    uint64_t reports;         /* free page reports handled */
    uint64_t refused;         /* frame numbers ignored: inflated twice, deflated unheld */
    /* The guest's last memory statistics (statsq), by tag; valid bit per tag. */
    uint64_t guest[BALLOON_NR_STATS];
    uint32_t guest_valid;
};

/* Creates the device; virtio_dev_free(*out) frees it. */
int balloon_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
                const struct balloon_cfg *cfg, struct bl_error *err);
/* Sets the memory the guest may keep, in MiB (0 = no target: the balloon empties). The
 * driver is told through a config interrupt. Any thread. */
void balloon_set_target(struct virtio_dev *dev, uint32_t target_mib);
/* Figures as of now. Any thread. */
void balloon_get_stats(struct virtio_dev *dev, struct balloon_stats *out);
/* Hands the guest's statistics buffer back so it sends fresh figures (section 5.5.6.3);
 * balloon_get_stats shows them once the driver answered. Any thread. */
void balloon_request_stats(struct virtio_dev *dev);

/* Where discarded pages go: madvise(MADV_DONTNEED) unless replaced, for tests and the
 * fuzz target that check every range the device discards. host and len are multiples of
 * BALLOON_PAGE_SIZE and lie inside one guest RAM region. Returns 0 or -errno. */
typedef int (*balloon_discard_fn)(void *opaque, void *host, size_t len);
void balloon_set_discard(struct virtio_dev *dev, balloon_discard_fn fn, void *opaque);

#endif
