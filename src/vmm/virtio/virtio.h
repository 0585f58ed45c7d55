// SPDX-License-Identifier: Apache-2.0
/* Virtio devices over the MMIO transport (Virtio 1.2, sections 2 and 4.2), the split
 * virtqueue (section 2.7) and the ops table every device model implements.
 *
 * How the machine (the KVM engine) wires a device, e.g. virtio-blk at slot i:
 *
 *     struct virtio_dev *dev;
 *     blk_new(&dev, &mem, irq, disk, "serial", &err);        // the model's constructor
 *     virtio_dev_use_eventfds(dev, loop);                       // one eventfd per queue
 *     for (q = 0; q < dev->ops->num_queues; q++)                // optional fast path:
 *         KVM_IOEVENTFD{ base + VIRTIO_MMIO_QUEUE_NOTIFY, 4 bytes, datamatch q,
 *                        fd dev->queue_eventfds[q] }
 *     mmio bus: [base, base + VIRTIO_MMIO_SIZE) -> virtio_mmio_bus_ops, opaque dev
 *     ... virtio_dev_free(dev) at the end (after the vCPUs and the loop have stopped).
 *
 * Threads and locking: register accesses come from vCPU threads (virtio_mmio_bus_ops);
 * queue work runs on the VMM's event loop (the queue's eventfd is readable), or, when a
 * queue has no eventfd, directly in the vCPU thread that wrote QueueNotify (and in tests).
 * dev->lock (recursive) guards the transport state and the model's state: every ops
 * callback below is called with it held, and a model's own event-loop handlers (sockets,
 * timers) take it themselves. InterruptStatus/InterruptACK are atomic and never wait for
 * the lock, so a vCPU's interrupt handler is not held up by a device doing slow I/O.
 *
 * Nothing read from the guest is trusted: a malformed ring or request marks the device
 * broken (VIRTIO_CONFIG_S_NEEDS_RESET, a config interrupt), logs once to stderr, and
 * stops that device only, until the driver resets it. */
#ifndef VMM_VIRTIO_H
#define VMM_VIRTIO_H

#include "common/error.h"
#include "vmm/core/device.h"
#include "vmm/core/evloop.h"
#include "vmm/core/mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VIRTQ_MAX_SIZE 1024  /* largest queue size we offer */
#define VIRTQ_MAX_CHAIN 1024 /* most descriptors in one chain (direct or indirect) */

/* Feature bits (Virtio 1.2 section 6) the transport offers for every device. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Device status (section 2.1). */
#define VIRTIO_CONFIG_S_ACKNOWLEDGE 1
#define VIRTIO_CONFIG_S_DRIVER 2
#define VIRTIO_CONFIG_S_DRIVER_OK 4
#define VIRTIO_CONFIG_S_FEATURES_OK 8
#define VIRTIO_CONFIG_S_NEEDS_RESET 0x40
#define VIRTIO_CONFIG_S_FAILED 0x80

/* Split ring layout (section 2.7). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

/* One element popped from an available ring: the chain's buffers, split into those the
 * device reads (out, driver -> device) and those it writes (in, device -> driver), each as
 * host iovecs already checked against guest memory. About 32 KiB: allocate, don't put it
 * on a small stack. */
struct virtq_elem {
    uint16_t head; /* descriptor index to return in the used ring */
    uint32_t out_num, in_num;
    struct iovec out[VIRTQ_MAX_CHAIN];
    struct iovec in[VIRTQ_MAX_CHAIN];
    uint64_t out_len, in_len; /* byte totals */
};

struct virtq {
    /* set by the driver through the transport */
    uint16_t size;
    bool ready;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    /* device side */
    uint16_t last_avail; /* next available-ring entry to consume */
    uint16_t used_idx;   /* next used-ring entry to fill */
    bool event_idx;      /* VIRTIO_F_EVENT_IDX negotiated */
    const struct guest_mem *mem;
    /* set by virtq_pop/virtq_push on a malformed ring; every later call fails until the
     * queue is reset (virtq_reset). error is a static string saying why. */
    bool broken;
    const char *error;
    /* set by virtio_dev_init, kept across resets */
    struct virtio_dev *dev;
    uint16_t index;
};

/* Forgets the driver's configuration and the device-side state (indices, broken); keeps
 * mem, dev and index. */
void virtq_reset(struct virtq *q);
/* Pops the next available chain into elem. Returns 1 if an element was popped, 0 if the
 * ring is empty, -1 if the ring is malformed (loop, index out of range, chain too long,
 * buffer outside guest memory, write-only before read-only, bad indirect table): the queue
 * is then broken (q->error says why) and the caller should virtio_dev_fail() its device
 * (virtio_dev_notify() does it for the caller after ops->notify returns). Each descriptor
 * is read once, so a guest rewriting the ring concurrently cannot pass a check and then
 * change what was checked. With EVENT_IDX, an empty pop also publishes avail_event so the
 * driver kicks for the next buffer. */
int virtq_pop(struct virtq *q, struct virtq_elem *elem);
/* Returns a chain to the driver with len bytes written into its in-buffers (clamped to
 * elem->in_len). Returns 0, or -1 if the used ring is outside guest memory (broken). */
int virtq_push(struct virtq *q, const struct virtq_elem *elem, uint32_t len);
/* Whether the driver wants an interrupt now, old_used_idx being q->used_idx before the
 * pushes being signalled (false if nothing was pushed since; honours VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with
 * EVENT_IDX). */
bool virtq_should_notify(struct virtq *q, uint16_t old_used_idx);
/* Copies between iovecs and flat buffers, starting skip bytes in; return bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf,
                    size_t len);
/* Fills dst (at most dst_max entries) with the byte range [skip, skip+len) of iov; returns
 * the number of entries used. For readv/writev/preadv straight into guest buffers. */
unsigned iov_slice(struct iovec *dst, unsigned dst_max, const struct iovec *iov, unsigned n,
                   size_t skip, size_t len);

struct virtio_dev;
struct vmsnap_buf;

/* What a device model provides. All callbacks run with dev->lock held. */
struct virtio_dev_ops {
    const char *name;
    uint32_t device_id; /* Virtio 1.2 section 5: net 1, blk 2, console 3, rng 4, 9p 9 */
    uint16_t num_queues;
    uint16_t queue_max_size;
    /* Device-specific feature bits; the transport adds VERSION_1, INDIRECT_DESC and
     * EVENT_IDX itself. */
    uint64_t (*features)(struct virtio_dev *dev);
    /* Config space (offset from 0x100 of the MMIO window); len 1, 2, 4 or 8. Optional:
     * reads of a device without config read zeros. */
    void (*config_read)(struct virtio_dev *dev, uint64_t off, uint8_t *data, uint32_t len);
    void (*config_write)(struct virtio_dev *dev, uint64_t off, const uint8_t *data,
                         uint32_t len);
    /* DRIVER_OK was set: features are final (dev->driver_features), queues are configured.
     * Non-zero return marks the device broken. The transport then calls notify() once for
     * every ready queue, so buffers the driver added before DRIVER_OK are seen. Optional. */
    int (*activate)(struct virtio_dev *dev);
    /* The driver kicked queue qidx (event loop thread, or the vCPU thread without an
     * eventfd). Only called while DRIVER_OK is set, the queue is ready and the device is
     * not broken. */
    void (*notify)(struct virtio_dev *dev, uint16_t qidx);
    /* Reset by the driver (status 0): drop in-flight work, forget queue state (the
     * transport resets dev->queues itself). Optional. */
    void (*reset)(struct virtio_dev *dev);
    /* Frees the model's state (dev->priv); called by virtio_dev_free(). Optional. */
    void (*free)(struct virtio_dev *dev);
    /* ---- snapshots (virtio_dev_save/restore below); all optional ----
     * How many chains the model popped from qidx and still holds: always the latest pops,
     * so the saved queue is rewound by that many and the restored model pops them again. */
    uint16_t (*held)(struct virtio_dev *dev, uint16_t qidx);
    /* The model's own state as records (vmsnap_rec), and back from an untrusted payload
     * into a model created with the same configuration (0, or -BOXLITE_ERR_* with err). */
    /* The vCPUs and the event loop have stopped, nothing is saved yet: finish work still
     * in flight on threads of the model's own and return its buffers to the guest. */
    void (*quiesce)(struct virtio_dev *dev);
    void (*save)(struct virtio_dev *dev, struct vmsnap_buf *p);
    int (*restore)(struct virtio_dev *dev, const uint8_t *p, size_t len, struct bl_error *err);
};

struct virtio_dev {
    const struct virtio_dev_ops *ops;
    void *priv; /* the model's state */
    const struct guest_mem *mem;
    struct irq_line irq;
    pthread_mutex_t lock; /* recursive; transport state below and the model's state */
    uint32_t status;
    uint64_t driver_features; /* negotiated */
    uint32_t device_features_sel, driver_features_sel, queue_sel;
    uint32_t interrupt_status; /* atomic: VIRTIO_MMIO_INT_* */
    uint32_t config_generation;
    bool broken;          /* set once on guest misbehaviour */
    char fail_reason[160]; /* why, as logged */
    struct virtq *queues; /* ops->num_queues of them */
    int *queue_eventfds;  /* one per queue, or -1 (see virtio_dev_use_eventfds) */
    struct evloop *loop;  /* set by virtio_dev_use_eventfds */
};

/* Common device lifecycle. virtio_dev_init allocates the queues (all eventfds -1) and
 * takes ownership of priv (ops->free releases it, also when init fails later). Returns 0
 * or -1 (out of memory). */
int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops, void *priv,
                    const struct guest_mem *mem, struct irq_line irq);
/* Unregisters and closes the eventfds, frees the queues, then calls ops->free last: a model
 * that allocated dev (all of ours do: blk_new, rng_new, console_new) frees it there, so
 * after this call dev is gone. NULL is a no-op. */
void virtio_dev_free(struct virtio_dev *dev);
/* Creates one eventfd per queue and registers each on loop, where it runs
 * virtio_dev_notify(). The machine may hand them to KVM_IOEVENTFD; a QueueNotify write that
 * still reaches the transport signals the eventfd. Returns 0 or -errno. */
int virtio_dev_use_eventfds(struct virtio_dev *dev, struct evloop *loop);
/* Marks the device broken (NEEDS_RESET), logs why once, raises a config interrupt.
 * Call with dev->lock held (any ops callback has it). */
void virtio_dev_fail(struct virtio_dev *dev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Raises the used-buffer interrupt for qidx if the driver wants one (see
 * virtq_should_notify). */
void virtio_dev_interrupt(struct virtio_dev *dev, uint16_t qidx, uint16_t old_used_idx);
/* Config space changed: bumps ConfigGeneration and raises the config interrupt. */
void virtio_dev_config_changed(struct virtio_dev *dev);
/* Queue notification entry (event loop or tests): takes dev->lock, runs ops->notify if
 * the device is live, then fails the device if a queue was found broken. */
void virtio_dev_notify(struct virtio_dev *dev, uint16_t qidx);
static inline bool virtio_dev_has_feature(const struct virtio_dev *dev, unsigned bit)
{
    return bit < 64 && (dev->driver_features >> bit) & 1;
}

/* Snapshots (mmio.c): the transport's state (status, features, selectors, interrupt and
 * config generation, every queue's addresses, size, readiness and indices) and the model's
 * own (ops->save) as records, taken while no vCPU runs and the event loop is stopped.
 * virtio_dev_restore puts a payload from an untrusted file back into a device created as
 * the saved one was: the device type and queue count must match, features must be a subset
 * of what this device offers, a ready queue's size must be valid and its rings inside guest
 * memory. virtio_dev_resume then lets a live device work again (ops->activate, then a
 * notify of every ready queue, as at DRIVER_OK). */
void virtio_dev_quiesce(struct virtio_dev *dev); /* ops->quiesce; before any state is saved */
void virtio_dev_save(struct virtio_dev *dev, struct vmsnap_buf *p);
int virtio_dev_restore(struct virtio_dev *dev, const uint8_t *p, size_t len,
                       struct bl_error *err);
void virtio_dev_resume(struct virtio_dev *dev);

/* The MMIO transport's register file (section 4.2.2), as bus ops with opaque = dev.
 * Version 2 (modern) only. */
extern const struct bus_ops virtio_mmio_bus_ops;
#define VIRTIO_MMIO_SIZE 0x1000
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100
#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x4c584f42 /* "BOXL" */
#define VIRTIO_MMIO_INT_VRING 1
#define VIRTIO_MMIO_INT_CONFIG 2

#endif
