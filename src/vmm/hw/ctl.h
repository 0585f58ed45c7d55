/* The BoxLite control page (docs/architecture.md): 4 KiB of MMIO through which the guest
 * agent says "ready" and reports its exit status before power-off. */
#ifndef VMM_HW_CTL_H
#define VMM_HW_CTL_H

#include "vmm/core/device.h"

#include <stdint.h>

#define CTL_BASE 0xd0000000ull
#define CTL_SIZE 0x1000
#define CTL_REG_READY 0x0  /* write u32 CTL_READY_MAGIC: the agent is ready */
#define CTL_REG_EXIT 0x4   /* write u32: the guest's exit status; power-off follows */
#define CTL_REG_ID 0x8     /* read u32: CTL_ID, so the guest can tell the page is there */
#define CTL_READY_MAGIC 0x7ead
#define CTL_ID 0x424c5831 /* "1XLB" read as little-endian bytes "BLX1" */

/* Callbacks run on the vCPU thread that wrote the register; each at most once per VM. */
struct ctl_ops {
    void (*ready)(void *opaque);
    void (*exit_status)(void *opaque, uint32_t status);
};

struct ctl;
struct ctl *ctl_new(const struct ctl_ops *ops, void *opaque); /* NULL: out of memory */
void ctl_free(struct ctl *c);                                 /* NULL is a no-op */

/* MMIO at [CTL_BASE, +CTL_SIZE), opaque = the ctl. 32-bit aligned accesses only; others
 * read zeros and are ignored. Reading CTL_REG_READY gives 1 once ready was marked. */
extern const struct bus_ops ctl_bus_ops;

#endif
