// SPDX-License-Identifier: Apache-2.0
/* virtio-rng, Virtio 1.2 section 5.4: one request queue; each chain's device-writable
 * buffers are filled from getrandom(). */
#include "vmm/virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_PER_REQUEST (64u << 10) /* a huge buffer gets a partial fill, as allowed */

struct rng {
    struct virtio_dev dev;
    struct virtq_elem el;
};

static size_t fill(void *p, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom((uint8_t *)p + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        done += (size_t)n;
    }
    return done;
}

static void rng_notify(struct virtio_dev *dev, uint16_t qidx)
{
    struct rng *r = dev->priv;
    struct virtq *q = &dev->queues[0];
    uint16_t old = q->used_idx;
    while (virtq_pop(q, &r->el) == 1) {
        size_t total = 0;
        for (uint32_t i = 0; i < r->el.in_num && total < RNG_MAX_PER_REQUEST; i++) {
            size_t want = r->el.in[i].iov_len;
            if (want > RNG_MAX_PER_REQUEST - total)
                want = RNG_MAX_PER_REQUEST - total;
            size_t got = fill(r->el.in[i].iov_base, want);
            total += got;
            if (got < want)
                break;
        }
        virtq_push(q, &r->el, (uint32_t)total);
    }
    virtio_dev_interrupt(dev, 0, old);
}

static void rng_free(struct virtio_dev *dev) { free(dev->priv); }

static const struct virtio_dev_ops rng_ops = {
    .name = "rng",
    .device_id = 4,
    .num_queues = 1,
    .queue_max_size = RNG_QUEUE_SIZE,
    .notify = rng_notify,
    .free = rng_free,
};

int rng_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
            struct bl_error *err)
{
    struct rng *r = calloc(1, sizeof(*r));
    if (!r)
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-rng: out of memory");
    if (virtio_dev_init(&r->dev, &rng_ops, r, mem, irq) < 0) {
        free(r);
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-rng: out of memory");
    }
    *out = &r->dev;
    return 0;
}
