// SPDX-License-Identifier: Apache-2.0
/* The BoxLite control page (docs/architecture.md): 4 KiB of MMIO through which the guest
 * agent says it is ready and reports its exit status before power-off; its registers are
 * the guest ABI's (common/guest_abi.h). */
#ifndef VMM_HW_CTL_H
#define VMM_HW_CTL_H

#include "common/guest_abi.h"
#include "vmm/core/device.h"

#include <stdint.h>


/* Callbacks run on the vCPU thread that wrote the register; each at most once per VM. */
struct ctl_ops {
    void (*ready)(void *opaque);
    void (*exit_status)(void *opaque, uint32_t status);
};

struct ctl;
struct ctl *ctl_new(const struct ctl_ops *ops, void *opaque); /* NULL: out of memory */
void ctl_free(struct ctl *c);                                 /* NULL is a no-op */

/* MMIO at [arch_layout.ctl_gpa, +GUEST_CTL_SIZE), opaque = the ctl. 32-bit aligned accesses only; others
 * read zeros and are ignored. Reading GUEST_CTL_REG_READY gives 1 once ready was marked. */
extern const struct bus_ops ctl_bus_ops;

#endif
