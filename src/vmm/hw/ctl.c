// SPDX-License-Identifier: Apache-2.0
/* BoxLite control page: the guest's ready mark (as Firecracker's boot timer device does)
 * and its exit status, each reported once to the machine through callbacks. */
#include "vmm/hw/ctl.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct ctl {
    const struct ctl_ops *ops;
    void *opaque;
    bool ready, exited; /* atomic: set once */
};

struct ctl *ctl_new(const struct ctl_ops *ops, void *opaque)
{
    struct ctl *c = calloc(1, sizeof(*c));
    if (c) {
        c->ops = ops;
        c->opaque = opaque;
    }
    return c;
}

void ctl_free(struct ctl *c) { free(c); }

static void ctl_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    struct ctl *c = opaque;
    memset(data, 0, len);
    if (len != 4 || (off & 3))
        return;
    uint32_t v = 0;
    if (off == GUEST_CTL_REG_READY)
        v = __atomic_load_n(&c->ready, __ATOMIC_SEQ_CST);
    else if (off == GUEST_CTL_REG_ID)
        v = GUEST_CTL_ID;
    memcpy(data, &v, 4);
}

static void ctl_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    struct ctl *c = opaque;
    if (len != 4 || (off & 3))
        return;
    uint32_t v;
    memcpy(&v, data, 4);
    if (off == GUEST_CTL_REG_READY && v == GUEST_CTL_READY_MAGIC) {
        if (!__atomic_exchange_n(&c->ready, true, __ATOMIC_SEQ_CST) && c->ops && c->ops->ready)
            c->ops->ready(c->opaque);
    } else if (off == GUEST_CTL_REG_EXIT) {
        if (!__atomic_exchange_n(&c->exited, true, __ATOMIC_SEQ_CST) && c->ops &&
            c->ops->exit_status)
            c->ops->exit_status(c->opaque, v);
    }
}

const struct bus_ops ctl_bus_ops = { .read = ctl_read, .write = ctl_write };
