// SPDX-License-Identifier: Apache-2.0
/* The virtio-mmio transport, version 2 only (Virtio 1.2 section 4.2.2), and the device
 * lifecycle shared by every model: status and feature negotiation, queue set-up, reset,
 * notifications and interrupts. */
#include "vmm/virtio/virtio.h"

#include "vmm/snapshot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define TRANSPORT_FEATURES                                                                 \
    ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC) |                     \
     (1ull << VIRTIO_F_EVENT_IDX))

int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops, void *priv,
                    const struct guest_mem *mem, struct irq_line irq)
{
    memset(dev, 0, sizeof(*dev));
    dev->ops = ops;
    dev->priv = priv;
    dev->mem = mem;
    dev->irq = irq;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&dev->lock, &a);
    pthread_mutexattr_destroy(&a);
    uint16_t n = ops->num_queues;
    dev->queues = calloc(n ? n : 1, sizeof(*dev->queues));
    dev->queue_eventfds = malloc((n ? n : 1) * sizeof(int));
    if (!dev->queues || !dev->queue_eventfds) {
        free(dev->queues);
        free(dev->queue_eventfds);
        dev->queues = NULL;
        dev->queue_eventfds = NULL;
        return -1;
    }
    for (uint16_t i = 0; i < n; i++) {
        dev->queues[i].mem = mem;
        dev->queues[i].dev = dev;
        dev->queues[i].index = i;
        dev->queue_eventfds[i] = -1;
    }
    return 0;
}

void virtio_dev_free(struct virtio_dev *dev)
{
    if (!dev)
        return;
    for (uint16_t i = 0; dev->queue_eventfds && i < dev->ops->num_queues; i++) {
        int fd = dev->queue_eventfds[i];
        if (fd < 0)
            continue;
        if (dev->loop)
            evloop_del(dev->loop, fd);
        close(fd);
    }
    free(dev->queue_eventfds);
    free(dev->queues);
    dev->queue_eventfds = NULL;
    dev->queues = NULL;
    pthread_mutex_destroy(&dev->lock);
    if (dev->ops->free)
        dev->ops->free(dev);
}

static void on_queue_eventfd(void *opaque, int fd, uint32_t events)
{
    struct virtq *q = opaque;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) != sizeof(v))
        return; /* spurious wake-up */
    virtio_dev_notify(q->dev, q->index);
}

int virtio_dev_use_eventfds(struct virtio_dev *dev, struct evloop *loop)
{
    dev->loop = loop;
    for (uint16_t i = 0; i < dev->ops->num_queues; i++) {
        if (dev->queue_eventfds[i] >= 0)
            continue;
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            return -errno;
        int rc = evloop_add(loop, fd, EPOLLIN, on_queue_eventfd, &dev->queues[i]);
        if (rc < 0) {
            close(fd);
            return rc;
        }
        dev->queue_eventfds[i] = fd;
    }
    return 0;
}

void virtio_dev_fail(struct virtio_dev *dev, const char *fmt, ...)
{
    pthread_mutex_lock(&dev->lock);
    if (dev->broken) {
        pthread_mutex_unlock(&dev->lock);
        return;
    }
    dev->broken = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dev->fail_reason, sizeof(dev->fail_reason), fmt, ap);
    va_end(ap);
#ifndef BOXLITE_FUZZ
    fprintf(stderr, "virtio-%s: %s; device needs reset\n", dev->ops->name, dev->fail_reason);
#endif
    uint32_t was_live = dev->status & VIRTIO_CONFIG_S_DRIVER_OK;
    dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
    pthread_mutex_unlock(&dev->lock);
    if (was_live) {
        __atomic_fetch_or(&dev->interrupt_status, VIRTIO_MMIO_INT_CONFIG, __ATOMIC_SEQ_CST);
        irq_trigger(&dev->irq);
    }
}

void virtio_dev_interrupt(struct virtio_dev *dev, uint16_t qidx, uint16_t old_used_idx)
{
    if (qidx >= dev->ops->num_queues)
        return;
    if (!virtq_should_notify(&dev->queues[qidx], old_used_idx))
        return;
    __atomic_fetch_or(&dev->interrupt_status, VIRTIO_MMIO_INT_VRING, __ATOMIC_SEQ_CST);
    irq_trigger(&dev->irq);
}

void virtio_dev_config_changed(struct virtio_dev *dev)
{
    pthread_mutex_lock(&dev->lock);
    dev->config_generation++;
    bool live = dev->status & VIRTIO_CONFIG_S_DRIVER_OK;
    pthread_mutex_unlock(&dev->lock);
    if (live) {
        __atomic_fetch_or(&dev->interrupt_status, VIRTIO_MMIO_INT_CONFIG, __ATOMIC_SEQ_CST);
        irq_trigger(&dev->irq);
    }
}

/* A queue found malformed during the model's work fails the whole device. */
static void check_queues(struct virtio_dev *dev)
{
    for (uint16_t i = 0; i < dev->ops->num_queues && !dev->broken; i++)
        if (dev->queues[i].broken)
            virtio_dev_fail(dev, "queue %u: %s", i, dev->queues[i].error);
}

static void notify_locked(struct virtio_dev *dev, uint16_t qidx)
{
    if (qidx >= dev->ops->num_queues || dev->broken ||
        !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK) || !dev->queues[qidx].ready)
        return;
    if (dev->ops->notify)
        dev->ops->notify(dev, qidx);
    check_queues(dev);
}

void virtio_dev_notify(struct virtio_dev *dev, uint16_t qidx)
{
    pthread_mutex_lock(&dev->lock);
    notify_locked(dev, qidx);
    pthread_mutex_unlock(&dev->lock);
}

static uint64_t device_features(struct virtio_dev *dev)
{
    uint64_t f = dev->ops->features ? dev->ops->features(dev) : 0;
    return f | TRANSPORT_FEATURES;
}

static void dev_reset(struct virtio_dev *dev)
{
    if (dev->ops->reset)
        dev->ops->reset(dev);
    for (uint16_t i = 0; i < dev->ops->num_queues; i++)
        virtq_reset(&dev->queues[i]);
    dev->status = 0;
    dev->driver_features = 0;
    dev->device_features_sel = dev->driver_features_sel = dev->queue_sel = 0;
    dev->broken = false;
    dev->fail_reason[0] = 0;
    __atomic_store_n(&dev->interrupt_status, 0, __ATOMIC_SEQ_CST);
}

static void set_status(struct virtio_dev *dev, uint32_t val)
{
    if (val == 0) {
        dev_reset(dev);
        return;
    }
    uint32_t old = dev->status;
    uint32_t next = (val & 0xff & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
    if ((next & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
        /* Section 3.1.1: accept only a subset of what we offered, and only modern. */
        uint64_t f = dev->driver_features;
        if ((f & ~device_features(dev)) || !(f & (1ull << VIRTIO_F_VERSION_1)))
            next &= ~VIRTIO_CONFIG_S_FEATURES_OK;
    }
    bool go_live = (next & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK);
    if (go_live && !(next & VIRTIO_CONFIG_S_FEATURES_OK)) {
        dev->status = next & ~VIRTIO_CONFIG_S_DRIVER_OK;
        virtio_dev_fail(dev, "DRIVER_OK without FEATURES_OK");
        return;
    }
    dev->status = next;
    if (!go_live)
        return;
    bool event_idx = virtio_dev_has_feature(dev, VIRTIO_F_EVENT_IDX);
    for (uint16_t i = 0; i < dev->ops->num_queues; i++)
        dev->queues[i].event_idx = event_idx;
    if (dev->ops->activate && dev->ops->activate(dev) != 0) {
        virtio_dev_fail(dev, "activation failed");
        return;
    }
    for (uint16_t i = 0; i < dev->ops->num_queues; i++)
        notify_locked(dev, i);
}

static void set_queue_ready(struct virtio_dev *dev, struct virtq *q, uint32_t val)
{
    if (!val) {
        q->ready = false;
        return;
    }
    if (q->ready)
        return;
    uint32_t n = q->size;
    if (n == 0 || n > dev->ops->queue_max_size || n > VIRTQ_MAX_SIZE || (n & (n - 1))) {
        virtio_dev_fail(dev, "queue %u: bad size %u", q->index, n);
        return;
    }
    q->mem = dev->mem;
    q->event_idx = virtio_dev_has_feature(dev, VIRTIO_F_EVENT_IDX);
    q->last_avail = q->used_idx = 0;
    q->broken = false;
    q->ready = true;
}

static uint32_t reg_read(struct virtio_dev *dev, uint64_t off)
{
    struct virtq *q = dev->queue_sel < dev->ops->num_queues ? &dev->queues[dev->queue_sel] : NULL;
    switch (off) {
    case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
    case VIRTIO_MMIO_VERSION: return 2;
    case VIRTIO_MMIO_DEVICE_ID: return dev->ops->device_id;
    case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
    case VIRTIO_MMIO_DEVICE_FEATURES: {
        uint64_t f = device_features(dev);
        return dev->device_features_sel == 0 ? (uint32_t)f
             : dev->device_features_sel == 1 ? (uint32_t)(f >> 32) : 0;
    }
    case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? dev->ops->queue_max_size : 0;
    case VIRTIO_MMIO_QUEUE_NUM: return q ? q->size : 0;
    case VIRTIO_MMIO_QUEUE_READY: return q ? q->ready : 0;
    case VIRTIO_MMIO_STATUS: return dev->status;
    case VIRTIO_MMIO_QUEUE_DESC_LOW: return q ? (uint32_t)q->desc_gpa : 0;
    case VIRTIO_MMIO_QUEUE_DESC_HIGH: return q ? (uint32_t)(q->desc_gpa >> 32) : 0;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW: return q ? (uint32_t)q->avail_gpa : 0;
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: return q ? (uint32_t)(q->avail_gpa >> 32) : 0;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW: return q ? (uint32_t)q->used_gpa : 0;
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: return q ? (uint32_t)(q->used_gpa >> 32) : 0;
    /* No shared memory regions: a length of all ones says so (section 4.2.2). */
    case VIRTIO_MMIO_SHM_LEN_LOW: case VIRTIO_MMIO_SHM_LEN_HIGH:
    case VIRTIO_MMIO_SHM_BASE_LOW: case VIRTIO_MMIO_SHM_BASE_HIGH: return 0xffffffff;
    case VIRTIO_MMIO_CONFIG_GENERATION: return dev->config_generation;
    default: return 0;
    }
}

static void set_addr(struct virtq *q, uint64_t *field, bool high, uint32_t v)
{
    if (!q || q->ready)
        return; /* the driver may not move a live queue */
    if (high)
        *field = (*field & 0xffffffffull) | ((uint64_t)v << 32);
    else
        *field = (*field & ~0xffffffffull) | v;
}

static void reg_write(struct virtio_dev *dev, uint64_t off, uint32_t v)
{
    struct virtq *q = dev->queue_sel < dev->ops->num_queues ? &dev->queues[dev->queue_sel] : NULL;
    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL: dev->device_features_sel = v; break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL: dev->driver_features_sel = v; break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        if (dev->status & VIRTIO_CONFIG_S_FEATURES_OK)
            break; /* features are final */
        if (dev->driver_features_sel == 0)
            dev->driver_features = (dev->driver_features & ~0xffffffffull) | v;
        else if (dev->driver_features_sel == 1)
            dev->driver_features = (dev->driver_features & 0xffffffffull) | ((uint64_t)v << 32);
        break;
    case VIRTIO_MMIO_QUEUE_SEL: dev->queue_sel = v; break;
    case VIRTIO_MMIO_QUEUE_NUM:
        if (q && !q->ready)
            q->size = v > 0xffff ? 0 : (uint16_t)v;
        break;
    case VIRTIO_MMIO_QUEUE_READY:
        if (q)
            set_queue_ready(dev, q, v);
        break;
    case VIRTIO_MMIO_STATUS: set_status(dev, v); break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW: set_addr(q, q ? &q->desc_gpa : NULL, false, v); break;
    case VIRTIO_MMIO_QUEUE_DESC_HIGH: set_addr(q, q ? &q->desc_gpa : NULL, true, v); break;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW: set_addr(q, q ? &q->avail_gpa : NULL, false, v); break;
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: set_addr(q, q ? &q->avail_gpa : NULL, true, v); break;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW: set_addr(q, q ? &q->used_gpa : NULL, false, v); break;
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: set_addr(q, q ? &q->used_gpa : NULL, true, v); break;
    default: break;
    }
}

static void mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    struct virtio_dev *dev = opaque;
    memset(data, 0, len);
    if (off >= VIRTIO_MMIO_CONFIG) {
        if (len != 1 && len != 2 && len != 4 && len != 8)
            return;
        pthread_mutex_lock(&dev->lock);
        if (dev->ops->config_read)
            dev->ops->config_read(dev, off - VIRTIO_MMIO_CONFIG, data, len);
        pthread_mutex_unlock(&dev->lock);
        return;
    }
    if (len != 4 || (off & 3))
        return; /* section 4.2.2: registers are 32 bits wide and aligned */
    uint32_t v;
    if (off == VIRTIO_MMIO_INTERRUPT_STATUS) {
        v = __atomic_load_n(&dev->interrupt_status, __ATOMIC_SEQ_CST);
    } else {
        pthread_mutex_lock(&dev->lock);
        v = reg_read(dev, off);
        pthread_mutex_unlock(&dev->lock);
    }
    memcpy(data, &v, 4);
}

static void mmio_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    struct virtio_dev *dev = opaque;
    if (off >= VIRTIO_MMIO_CONFIG) {
        if (len != 1 && len != 2 && len != 4 && len != 8)
            return;
        pthread_mutex_lock(&dev->lock);
        if (dev->ops->config_write)
            dev->ops->config_write(dev, off - VIRTIO_MMIO_CONFIG, data, len);
        pthread_mutex_unlock(&dev->lock);
        return;
    }
    if (len != 4 || (off & 3))
        return;
    uint32_t v;
    memcpy(&v, data, 4);
    if (off == VIRTIO_MMIO_INTERRUPT_ACK) {
        __atomic_fetch_and(&dev->interrupt_status, ~v, __ATOMIC_SEQ_CST);
        return;
    }
    if (off == VIRTIO_MMIO_QUEUE_NOTIFY) {
        /* The value is the queue index (VIRTIO_F_NOTIFICATION_DATA is not offered). */
        if (v < dev->ops->num_queues && dev->queue_eventfds[v] >= 0) {
            uint64_t one = 1;
            if (write(dev->queue_eventfds[v], &one, sizeof(one)) < 0) {
                /* counter saturated: a wake-up is pending anyway */
            }
            return;
        }
        if (v <= 0xffff)
            virtio_dev_notify(dev, (uint16_t)v);
        return;
    }
    pthread_mutex_lock(&dev->lock);
    reg_write(dev, off, v);
    pthread_mutex_unlock(&dev->lock);
}

const struct bus_ops virtio_mmio_bus_ops = { .read = mmio_read, .write = mmio_write };

/* ---- snapshots (virtio.h) ----------------------------------------------------------------- */

enum { S_TRANSPORT = 1, S_QUEUES, S_MODEL, S_END };

/* Fixed-width images of the state, so a record's size says whether it is this build's. */
struct saved_transport {
    uint32_t device_id, num_queues;
    uint32_t status, device_features_sel, driver_features_sel, queue_sel;
    uint64_t driver_features;
    uint32_t interrupt_status, config_generation;
    uint32_t broken, pad;
};
struct saved_queue {
    uint64_t desc_gpa, avail_gpa, used_gpa;
    uint16_t size, last_avail, used_idx;
    uint8_t ready, event_idx;
};

void virtio_dev_quiesce(struct virtio_dev *dev)
{
    if (dev->ops->quiesce)
        dev->ops->quiesce(dev);
}

void virtio_dev_save(struct virtio_dev *dev, struct vmsnap_buf *p)
{
    pthread_mutex_lock(&dev->lock);
    struct saved_transport t = {
        .device_id = dev->ops->device_id,
        .num_queues = dev->ops->num_queues,
        .status = dev->status,
        .device_features_sel = dev->device_features_sel,
        .driver_features_sel = dev->driver_features_sel,
        .queue_sel = dev->queue_sel,
        .driver_features = dev->driver_features,
        .interrupt_status = __atomic_load_n(&dev->interrupt_status, __ATOMIC_SEQ_CST),
        .config_generation = dev->config_generation,
        .broken = dev->broken,
    };
    vmsnap_rec(p, S_TRANSPORT, &t, sizeof t);
    uint16_t n = dev->ops->num_queues;
    struct saved_queue *q = calloc(n ? n : 1, sizeof *q);
    if (!q) {
        p->failed = "out of memory";
    } else {
        for (uint16_t i = 0; i < n; i++) {
            const struct virtq *v = &dev->queues[i];
            uint16_t held = dev->ops->held ? dev->ops->held(dev, i) : 0;
            q[i] = (struct saved_queue){ .desc_gpa = v->desc_gpa, .avail_gpa = v->avail_gpa,
                                         .used_gpa = v->used_gpa, .size = v->size,
                                         .last_avail = (uint16_t)(v->last_avail - held),
                                         .used_idx = v->used_idx, .ready = v->ready,
                                         .event_idx = v->event_idx };
        }
        vmsnap_rec(p, S_QUEUES, q, n * sizeof *q);
        free(q);
    }
    if (dev->ops->save) {
        struct vmsnap_buf m = { 0 };
        dev->ops->save(dev, &m);
        vmsnap_fail_from(p, &m);
        vmsnap_rec(p, S_MODEL, m.p, m.len);
        vmsnap_buf_free(&m);
    }
    pthread_mutex_unlock(&dev->lock);
}

static int restore_queue(struct virtio_dev *dev, uint16_t i, const struct saved_queue *s,
                         struct bl_error *err)
{
    struct virtq *q = &dev->queues[i];
    if (s->ready) {
        uint32_t n = s->size;
        if (n == 0 || n > dev->ops->queue_max_size || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
            return bl_err(err, BOXLITE_ERR_INVALID, "queue %u: bad size %u", i, n);
        /* Virtio 1.2 section 2.7: descriptor table, available and used rings. */
        if (!gm_ptr(dev->mem, s->desc_gpa, 16ull * n) ||
            !gm_ptr(dev->mem, s->avail_gpa, 6 + 2ull * n) ||
            !gm_ptr(dev->mem, s->used_gpa, 6 + 8ull * n))
            return bl_err(err, BOXLITE_ERR_INVALID, "queue %u: a ring lies outside guest RAM", i);
    }
    virtq_reset(q);
    q->desc_gpa = s->desc_gpa;
    q->avail_gpa = s->avail_gpa;
    q->used_gpa = s->used_gpa;
    q->size = s->size;
    q->last_avail = s->last_avail;
    q->used_idx = s->used_idx;
    q->ready = s->ready != 0;
    q->event_idx = s->event_idx != 0;
    q->mem = dev->mem;
    return 0;
}

int virtio_dev_restore(struct virtio_dev *dev, const uint8_t *p, size_t len,
                       struct bl_error *err)
{
    int r = vmsnap_rec_check(p, len, S_END, dev->ops->name, err);
    struct saved_transport t;
    if (r == 0)
        r = vmsnap_rec_copy(p, len, S_TRANSPORT, &t, sizeof t, dev->ops->name, err);
    if (r < 0)
        return r;
    if (t.device_id != dev->ops->device_id || t.num_queues != dev->ops->num_queues)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "the snapshot's device is virtio type %u with %u queues, this box's "
                      "virtio-%s has type %u with %u", t.device_id, t.num_queues,
                      dev->ops->name, dev->ops->device_id, dev->ops->num_queues);
    uint32_t st = t.status;
    if (st & ~0xffu || (t.driver_features & ~device_features(dev)) ||
        ((st & VIRTIO_CONFIG_S_FEATURES_OK) && !(t.driver_features & (1ull << VIRTIO_F_VERSION_1))) ||
        ((st & VIRTIO_CONFIG_S_DRIVER_OK) && !(st & VIRTIO_CONFIG_S_FEATURES_OK)))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "virtio-%s: status %#x with features %#llx is not a state the driver "
                      "could have reached", dev->ops->name, st,
                      (unsigned long long)t.driver_features);
    size_t n = 0;
    const uint8_t *qs = vmsnap_rec_get(p, len, S_QUEUES, &n);
    if (!qs || n != (size_t)dev->ops->num_queues * sizeof(struct saved_queue))
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-%s: queue record malformed",
                      dev->ops->name);
    pthread_mutex_lock(&dev->lock);
    dev_reset(dev);
    for (uint16_t i = 0; i < dev->ops->num_queues && r == 0; i++) {
        struct saved_queue s;
        memcpy(&s, qs + i * sizeof s, sizeof s);
        r = restore_queue(dev, i, &s, err);
    }
    if (r == 0) {
        dev->status = st;
        dev->driver_features = t.driver_features;
        dev->device_features_sel = t.device_features_sel;
        dev->driver_features_sel = t.driver_features_sel;
        dev->queue_sel = t.queue_sel;
        dev->config_generation = t.config_generation;
        __atomic_store_n(&dev->interrupt_status,
                         t.interrupt_status & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG),
                         __ATOMIC_SEQ_CST);
        dev->broken = t.broken != 0 || (st & VIRTIO_CONFIG_S_NEEDS_RESET);
        if (dev->broken)
            snprintf(dev->fail_reason, sizeof dev->fail_reason, "broken before the snapshot");
        const uint8_t *m = vmsnap_rec_get(p, len, S_MODEL, &n);
        if (dev->ops->restore && m)
            r = dev->ops->restore(dev, m, n, err);
        else if (dev->ops->restore || m)
            r = bl_err(err, BOXLITE_ERR_INVALID, "virtio-%s: the model's state %s",
                       dev->ops->name, m ? "is not expected" : "is missing");
    }
    if (r < 0)
        dev_reset(dev);
    pthread_mutex_unlock(&dev->lock);
    return r < 0 ? bl_err_prefix(err, "virtio-%s", dev->ops->name) : 0;
}

void virtio_dev_resume(struct virtio_dev *dev)
{
    pthread_mutex_lock(&dev->lock);
    if ((dev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !dev->broken) {
        if (dev->ops->activate && dev->ops->activate(dev) != 0)
            virtio_dev_fail(dev, "activation after restore failed");
        for (uint16_t i = 0; i < dev->ops->num_queues; i++)
            notify_locked(dev, i);
    }
    pthread_mutex_unlock(&dev->lock);
}
