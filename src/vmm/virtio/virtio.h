/* Virtio devices over the MMIO transport (Virtio 1.2, sections 2 and 4.2), the split
 * virtqueue (section 2.7) and the ops table every device model implements.
 *
 * Threads: register accesses come from vCPU threads (virtio_mmio_bus_ops); queue work runs
 * on the VMM's event loop (a QueueNotify write signals the queue's eventfd, or, in tests,
 * calls virtio_dev_notify() directly). Each device has one mutex guarding its transport
 * state. Nothing read from the guest is trusted: a malformed ring or descriptor marks the
 * device broken (VIRTIO_CONFIG_S_NEEDS_RESET), logs once, and stops that device only. */
#ifndef VMM_VIRTIO_H
#define VMM_VIRTIO_H

#include "vmm/core/device.h"
#include "vmm/core/mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VIRTQ_MAX_SIZE 1024 /* largest queue size we offer */
#define VIRTQ_MAX_CHAIN 1024 /* longest descriptor chain we walk */

/* One element popped from an available ring: the chain's buffers, split into those the
 * device reads (out, driver -> device) and those it writes (in, device -> driver), each as
 * host iovecs already checked against guest memory. */
struct virtq_elem {
    uint16_t head;  /* descriptor index to return in the used ring */
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
};

/* Pops the next available chain into elem. Returns 1 if an element was popped, 0 if the
 * ring is empty, negative if the ring is malformed (loop, index out of range, chain too
 * long, buffer outside guest memory, write-only before read-only, bad indirect table). */
int virtq_pop(struct virtq *q, struct virtq_elem *elem);
/* Returns a chain to the driver with len bytes written into its in-buffers. */
int virtq_push(struct virtq *q, const struct virtq_elem *elem, uint32_t len);
/* Whether the driver wants an interrupt now (honours VIRTQ_AVAIL_F_NO_INTERRUPT or
 * used_event with EVENT_IDX). */
bool virtq_should_notify(struct virtq *q, uint16_t old_used_idx);
/* Copies between iovecs and flat buffers; return bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf,
                    size_t len);

struct virtio_dev;

/* What a device model provides. */
struct virtio_dev_ops {
    const char *name;
    uint32_t device_id; /* Virtio 1.2 section 5: net 1, blk 2, console 3, rng 4, 9p 9 */
    uint16_t num_queues;
    uint16_t queue_max_size;
    uint64_t (*features)(struct virtio_dev *dev);                /* device features */
    void (*config_read)(struct virtio_dev *dev, uint64_t off, uint8_t *data, uint32_t len);
    void (*config_write)(struct virtio_dev *dev, uint64_t off, const uint8_t *data,
                         uint32_t len);
    /* DRIVER_OK was set: features are final, queues are configured. */
    int (*activate)(struct virtio_dev *dev);
    /* The driver kicked queue qidx (runs on the event loop thread). */
    void (*notify)(struct virtio_dev *dev, uint16_t qidx);
    /* Reset by the driver (status 0): drop in-flight work, forget queue state. */
    void (*reset)(struct virtio_dev *dev);
    void (*free)(struct virtio_dev *dev);
};

struct virtio_dev {
    const struct virtio_dev_ops *ops;
    void *priv;                    /* the model's state */
    const struct guest_mem *mem;
    struct irq_line irq;
    pthread_mutex_t lock;          /* transport state below */
    uint32_t status;
    uint64_t driver_features;      /* negotiated */
    uint32_t device_features_sel, driver_features_sel, queue_sel;
    uint32_t interrupt_status;
    uint32_t config_generation;
    bool broken;                   /* set once on guest misbehaviour */
    struct virtq *queues;          /* ops->num_queues of them */
    int *queue_eventfds;           /* one per queue, or -1 (set by the machine) */
};

/* Common device lifecycle. */
int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops, void *priv,
                    const struct guest_mem *mem, struct irq_line irq);
void virtio_dev_free(struct virtio_dev *dev);
/* Marks the device broken (NEEDS_RESET), logs why once, raises a config interrupt. */
void virtio_dev_fail(struct virtio_dev *dev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Raises the used-buffer interrupt for qidx if the driver wants one. */
void virtio_dev_interrupt(struct virtio_dev *dev, uint16_t qidx, uint16_t old_used_idx);
/* Queue notification entry (event loop or tests). */
void virtio_dev_notify(struct virtio_dev *dev, uint16_t qidx);

/* The MMIO transport's register file (section 4.2.2), as bus ops with opaque = dev. */
extern const struct bus_ops virtio_mmio_bus_ops;
#define VIRTIO_MMIO_SIZE 0x1000

#endif
