// SPDX-License-Identifier: Apache-2.0
/* virtio-rng (Virtio 1.2 section 5.4): entropy from the host's getrandom(). */
#ifndef VMM_VIRTIO_RNG_H
#define VMM_VIRTIO_RNG_H

#include "common/error.h"
#include "vmm/virtio/virtio.h"

/* Creates the device; virtio_dev_free(*out) frees it. */
int rng_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
            struct bl_error *err);

#endif
