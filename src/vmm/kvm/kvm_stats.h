// SPDX-License-Identifier: Apache-2.0
/* KVM's own counters for a VM and its vCPUs (binary statistics: Linux's
 * Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD, Linux >= 5.14): how many exits, page
 * faults and mappings a phase of the guest's life cost, for the log. A diagnostic only:
 * where the kernel has no such statistics nothing is read and nothing is logged. */
#ifndef VMM_KVM_STATS_H
#define VMM_KVM_STATS_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KVM_STATS_MAX 160        /* statistics kept per file (6.1 x86 vCPU: about 60) */
#define KVM_STATS_NAME_MAX 48    /* Linux's KVM_STATS_NAME_SIZE */
#define KVM_STATS_HEAD_MAX (1u << 20) /* header + id + descriptors read at most */
#define KVM_STATS_DATA_MAX (64u << 10) /* the values' block read at most */

/* One statistic of one stats file: its name, where its value is in the file, its kind
 * (KVM_STATS_TYPE_* of the descriptor's flags: cumulative, instant, peak). */
struct kvm_stat {
    char name[KVM_STATS_NAME_MAX];
    uint32_t offset; /* of the value, from the start of the data block */
    uint32_t type;
};

/* A stats file's layout, parsed once. */
struct kvm_stats_layout {
    uint32_t data_offset; /* of the data block in the file */
    uint32_t data_len;    /* bytes of it that hold the kept values */
    unsigned n;
    struct kvm_stat s[KVM_STATS_MAX];
};

/* Parses the first len bytes of a stats file (buf: header, id, descriptors). Every offset
 * and count is the kernel's word, checked against len all the same: a damaged file is
 * refused (BOXLITE_ERR_INVALID with why), never read out of bounds. Kept: single-value
 * statistics (size 1) that are cumulative, instant or peak (histograms are left out), up
 * to KVM_STATS_MAX; a name that is not NUL-terminated in its field refuses the file. */
int kvm_stats_parse(const uint8_t *buf, size_t len, struct kvm_stats_layout *out,
                    struct bl_error *err);
/* How many of buf's bytes the parse needs: 0 when the header says it cannot be parsed,
 * else at least 24 (the header) and at most KVM_STATS_HEAD_MAX. */
size_t kvm_stats_head_len(const uint8_t *hdr, size_t len);

/* The counters of a VM and all its vCPUs, and what they were at the last mark. */
struct kvm_counters;
/* Opens the stats files of vm_fd and each vCPU (ioctl KVM_GET_STATS_FD) and reads them as
 * kvm_counters_from_fds does. */
struct kvm_counters *kvm_counters_open(int vm_fd, const int *vcpu_fds, unsigned ncpus);
/* From stats files already open (any file laid out as one, for tests); takes the fds
 * (closed here on failure too). NULL when one cannot be read or parsed: the caller logs
 * nothing then. The values now are the first mark. */
struct kvm_counters *kvm_counters_from_fds(int vm_stats_fd, const int *vcpu_stats_fds,
                                           unsigned ncpus);
/* One line to f: what changed since the last mark, in phase_ms: every cumulative counter
 * that moved (the vCPUs' summed by name), every instant or peak one that is not 0 (e.g.
 * pages_4k, pages_2m: the VM's mappings now), and the time per exit. Those values are then
 * the new mark. Nothing when a read fails. NULL-safe. */
void kvm_counters_mark(struct kvm_counters *c, FILE *f, const char *phase, double phase_ms);
void kvm_counters_free(struct kvm_counters *c);

#endif
