// SPDX-License-Identifier: Apache-2.0
/* The virtio-mmio register file and device lifecycle: the full driver handshake against a
 * dummy device, feature negotiation, notifications (direct and through eventfds), the
 * interrupt status, reset, and failure on a malformed ring. */
#include "harness/harness.h"
#include "vq_driver.h"

#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct dummy {
    struct virtio_dev dev;
    int notified[2], activated, resets, freed_flag;
    uint8_t config[8];
    struct virtq_elem el;
};

static uint64_t d_features(struct virtio_dev *dev) { return (1ull << 0) | (1ull << 35); }
static void d_config_read(struct virtio_dev *dev, uint64_t off, uint8_t *data, uint32_t len)
{
    struct dummy *d = dev->priv;
    if (off + len <= sizeof(d->config))
        memcpy(data, d->config + off, len);
}
static void d_config_write(struct virtio_dev *dev, uint64_t off, const uint8_t *data,
                           uint32_t len)
{
    struct dummy *d = dev->priv;
    if (off + len <= sizeof(d->config))
        memcpy(d->config + off, data, len);
}
static int d_activate(struct virtio_dev *dev)
{
    ((struct dummy *)dev->priv)->activated++;
    return 0;
}
/* Echo device: every chain on queue q is returned with its out bytes copied to in. */
static void d_notify(struct virtio_dev *dev, uint16_t q)
{
    struct dummy *d = dev->priv;
    d->notified[q]++;
    struct virtq *vq = &dev->queues[q];
    uint16_t old = vq->used_idx;
    while (virtq_pop(vq, &d->el) == 1) {
        uint8_t buf[256];
        size_t n = iov_to_buf(d->el.out, d->el.out_num, 0, buf, sizeof(buf));
        n = iov_from_buf(d->el.in, d->el.in_num, 0, buf, n);
        virtq_push(vq, &d->el, (uint32_t)n);
    }
    virtio_dev_interrupt(dev, q, old);
}
static void d_reset(struct virtio_dev *dev) { ((struct dummy *)dev->priv)->resets++; }
static int freed;
static void d_free(struct virtio_dev *dev)
{
    freed++;
    free(dev->priv);
}

static const struct virtio_dev_ops dummy_ops = {
    .name = "dummy", .device_id = 42, .num_queues = 2, .queue_max_size = 64,
    .features = d_features, .config_read = d_config_read, .config_write = d_config_write,
    .activate = d_activate, .notify = d_notify, .reset = d_reset, .free = d_free,
};

static struct vqd_ram ram;
static struct vqd q0, q1;
static struct irq_count irqs;

static struct dummy *make(void)
{
    struct dummy *d = calloc(1, sizeof(*d));
    if (vqd_ram_init(&ram) != 0 || virtio_dev_init(&d->dev, &dummy_ops, d, &ram.mem,
                                                   irq_count_line(&irqs)) != 0)
        return NULL;
    vqd_init(&q0, &ram, 0, 16);
    vqd_init(&q1, &ram, 1, 64);
    return d;
}

static void echo(struct virtio_dev *dev, struct vqd *q, unsigned qi, const char *msg)
{
    uint64_t a[] = { vqd_alloc(q, 64), vqd_alloc(q, 64) };
    uint32_t l[] = { (uint32_t)strlen(msg), 64 };
    memcpy(vqd_host(&ram, a[0]), msg, l[0]);
    vqd_add(q, a, l, 1, 1);
    vqd_kick(dev, qi);
}

TEST(identity_registers)
{
    struct dummy *d = make();
    REQUIRE(d);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_VERSION), 2);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_DEVICE_ID), 42);
    mmio_w32(&d->dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_DEVICE_FEATURES),
             1u | (1u << VIRTIO_F_INDIRECT_DESC) | (1u << VIRTIO_F_EVENT_IDX));
    mmio_w32(&d->dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_DEVICE_FEATURES), 1u | (1u << 3));
    mmio_w32(&d->dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_DEVICE_FEATURES), 0);
    mmio_w32(&d->dev, VIRTIO_MMIO_QUEUE_SEL, 1);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
    mmio_w32(&d->dev, VIRTIO_MMIO_QUEUE_SEL, 2);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* no such queue */
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
    /* narrow or misaligned access to a register reads zeros and writes nothing */
    uint16_t v16 = 0xffff;
    virtio_mmio_bus_ops.read(&d->dev, VIRTIO_MMIO_MAGIC_VALUE, (uint8_t *)&v16, 2);
    CHECK_EQ(v16, 0);
    uint8_t st = 1;
    virtio_mmio_bus_ops.write(&d->dev, VIRTIO_MMIO_STATUS, &st, 1);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_STATUS), 0);
    CHECK_EQ(mmio_r32(&d->dev, 0x2), 0);
    virtio_dev_free(&d->dev);
    CHECK_EQ(freed, 1);
}

TEST(full_handshake_and_echo)
{
    struct dummy *d = make();
    REQUIRE(d);
    struct vqd *qs[] = { &q0, &q1 };
    uint32_t st = vqd_handshake(&d->dev, 1ull << 0, qs, 2);
    CHECK_EQ(st, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                     VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
    CHECK_EQ(d->activated, 1);
    CHECK(d->dev.driver_features == ((1ull << 0) | (1ull << VIRTIO_F_VERSION_1)));
    CHECK_EQ(d->notified[0], 1); /* one pass over each ready queue at DRIVER_OK */
    mmio_w32(&d->dev, VIRTIO_MMIO_QUEUE_SEL, 1);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_QUEUE_READY), 1);
    /* the driver may not move a live queue */
    mmio_w32(&d->dev, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1234);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_QUEUE_DESC_LOW), (uint32_t)q1.desc);

    echo(&d->dev, &q1, 1, "ping");
    uint32_t id, len;
    REQUIRE(vqd_get_used(&q1, &id, &len));
    CHECK_EQ(len, 4);
    CHECK_EQ(irqs.n, 1);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
    mmio_w32(&d->dev, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    /* features are final after FEATURES_OK */
    mmio_w32(&d->dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    mmio_w32(&d->dev, VIRTIO_MMIO_DRIVER_FEATURES, 0);
    CHECK(d->dev.driver_features & 1);
    virtio_dev_free(&d->dev);
}

TEST(config_space_and_generation)
{
    struct dummy *d = make();
    REQUIRE(d);
    memcpy(d->config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    uint8_t b = 0;
    virtio_mmio_bus_ops.read(&d->dev, VIRTIO_MMIO_CONFIG + 2, &b, 1);
    CHECK_EQ(b, 0x33);
    uint64_t q = 0;
    virtio_mmio_bus_ops.read(&d->dev, VIRTIO_MMIO_CONFIG, (uint8_t *)&q, 8);
    CHECK(q == 0x8877665544332211ull);
    uint16_t w = 0xabcd;
    virtio_mmio_bus_ops.write(&d->dev, VIRTIO_MMIO_CONFIG + 4, (uint8_t *)&w, 2);
    CHECK_EQ(d->config[4], 0xcd);
    uint32_t g = mmio_r32(&d->dev, VIRTIO_MMIO_CONFIG_GENERATION);
    virtio_dev_config_changed(&d->dev);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_CONFIG_GENERATION), g + 1);
    CHECK_EQ(irqs.n, 0); /* not live yet: no interrupt */
    virtio_dev_free(&d->dev);
}

TEST(features_ok_refused)
{
    struct dummy *d = make();
    REQUIRE(d);
    /* a feature we never offered */
    mmio_w32(&d->dev, VIRTIO_MMIO_STATUS, 3);
    mmio_w32(&d->dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    mmio_w32(&d->dev, VIRTIO_MMIO_DRIVER_FEATURES, 1 | (1u << 10));
    mmio_w32(&d->dev, VIRTIO_MMIO_STATUS, 3 | VIRTIO_CONFIG_S_FEATURES_OK);
    CHECK(!(mmio_r32(&d->dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
    /* a legacy driver (no VERSION_1) */
    mmio_w32(&d->dev, VIRTIO_MMIO_STATUS, 0);
    mmio_w32(&d->dev, VIRTIO_MMIO_STATUS, 3);
    mmio_w32(&d->dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    mmio_w32(&d->dev, VIRTIO_MMIO_DRIVER_FEATURES, 1);
    mmio_w32(&d->dev, VIRTIO_MMIO_STATUS, 3 | VIRTIO_CONFIG_S_FEATURES_OK);
    CHECK(!(mmio_r32(&d->dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
    /* DRIVER_OK without FEATURES_OK: the device refuses to go live */
    mmio_w32(&d->dev, VIRTIO_MMIO_STATUS, 3 | VIRTIO_CONFIG_S_DRIVER_OK);
    CHECK(!(mmio_r32(&d->dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK));
    CHECK(mmio_r32(&d->dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
    CHECK_EQ(d->activated, 0);
    virtio_dev_free(&d->dev);
}

TEST(bad_queue_size_fails_device)
{
    struct dummy *d = make();
    REQUIRE(d);
    q1.size = 128; /* above QueueNumMax */
    struct vqd *qs[] = { &q0, &q1 };
    mmio_w32(&d->dev, VIRTIO_MMIO_QUEUE_SEL, 1);
    vqd_handshake(&d->dev, 0, qs, 2);
    /* the helper stops at the size check; force it the way a hostile driver would */
    mmio_w32(&d->dev, VIRTIO_MMIO_QUEUE_SEL, 1);
    mmio_w32(&d->dev, VIRTIO_MMIO_QUEUE_NUM, 128);
    mmio_w32(&d->dev, VIRTIO_MMIO_QUEUE_READY, 1);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_QUEUE_READY), 0);
    CHECK(d->dev.broken);
    CHECK(mmio_r32(&d->dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
    virtio_dev_free(&d->dev);
}

TEST(malformed_ring_fails_device_once_then_reset_recovers)
{
    struct dummy *d = make();
    REQUIRE(d);
    struct vqd *qs[] = { &q0, &q1 };
    REQUIRE(vqd_handshake(&d->dev, 0, qs, 2) & VIRTIO_CONFIG_S_DRIVER_OK);
    int irq_before = irqs.n;
    vqd_publish(&q0, 1000); /* head out of range */
    vqd_kick(&d->dev, 0);
    CHECK(d->dev.broken);
    CHECK(strstr(d->dev.fail_reason, "queue 0") != NULL);
    CHECK(mmio_r32(&d->dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
    CHECK(mmio_r32(&d->dev, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
    CHECK_EQ(irqs.n, irq_before + 1);
    /* further kicks do not reach the model, and no second report */
    int n = d->notified[0];
    vqd_kick(&d->dev, 0);
    vqd_kick(&d->dev, 1);
    CHECK_EQ(d->notified[0], n);
    CHECK_EQ(irqs.n, irq_before + 1);
    /* reset brings it back */
    mmio_w32(&d->dev, VIRTIO_MMIO_STATUS, 0);
    CHECK_EQ(d->resets, 2); /* one in the first handshake, one now */
    CHECK(!d->dev.broken);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    mmio_w32(&d->dev, VIRTIO_MMIO_QUEUE_SEL, 0);
    CHECK_EQ(mmio_r32(&d->dev, VIRTIO_MMIO_QUEUE_READY), 0);
    memset(ram.ram, 0, VQD_RAM_SIZE);
    vqd_init(&q0, &ram, 0, 16);
    vqd_init(&q1, &ram, 1, 64);
    REQUIRE(vqd_handshake(&d->dev, 0, qs, 2) & VIRTIO_CONFIG_S_DRIVER_OK);
    echo(&d->dev, &q0, 0, "again");
    uint32_t id, len = 0; /* set by vqd_get_used; aarch64 gcc cannot see it */
    CHECK(vqd_get_used(&q0, &id, &len));
    CHECK_EQ(len, 5);
    virtio_dev_free(&d->dev);
}

TEST(notify_before_driver_ok_ignored)
{
    struct dummy *d = make();
    REQUIRE(d);
    vqd_kick(&d->dev, 0);
    vqd_kick(&d->dev, 7); /* no such queue */
    CHECK_EQ(d->notified[0], 0);
    virtio_dev_free(&d->dev);
}

TEST(notify_through_eventfds_on_the_loop)
{
    struct dummy *d = make();
    REQUIRE(d);
    struct evloop *loop = evloop_new();
    REQUIRE(loop);
    REQUIRE(virtio_dev_use_eventfds(&d->dev, loop) == 0);
    CHECK(d->dev.queue_eventfds[0] >= 0 && d->dev.queue_eventfds[1] >= 0);
    struct vqd *qs[] = { &q0, &q1 };
    REQUIRE(vqd_handshake(&d->dev, 1ull << VIRTIO_F_EVENT_IDX, qs, 2) & VIRTIO_CONFIG_S_DRIVER_OK);
    CHECK(d->dev.queues[1].event_idx);
    int n = d->notified[1];
    echo(&d->dev, &q1, 1, "via loop"); /* QueueNotify only signals the eventfd */
    CHECK_EQ(d->notified[1], n);
    uint32_t id, len = 0;
    CHECK(!vqd_get_used(&q1, &id, &len));
    CHECK(evloop_run_once(loop, 1000) >= 1);
    CHECK_EQ(d->notified[1], n + 1);
    CHECK(vqd_get_used(&q1, &id, &len));
    CHECK_EQ(len, 8);
    virtio_dev_free(&d->dev);
    evloop_free(loop);
}

/* ---- the event loop the transport's eventfds run on ---- */

#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>

struct evrec {
    struct evloop *l;
    int calls;
    int victim_fd; /* deleted by this handler, if >= 0 */
};

static void ev_count(void *o, int fd, uint32_t events)
{
    struct evrec *r = o;
    r->calls++;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0) {
    }
    if (r->victim_fd >= 0) {
        evloop_del(r->l, r->victim_fd);
        r->victim_fd = -1;
    }
}

TEST(evloop_add_mod_del)
{
    struct evloop *l = evloop_new();
    REQUIRE(l);
    int fd = eventfd(0, EFD_NONBLOCK);
    struct evrec r = { l, 0, -1 };
    CHECK_EQ(evloop_add(l, fd, EPOLLIN, ev_count, &r), 0);
    CHECK_EQ(evloop_add(l, fd, EPOLLIN, ev_count, &r), -EEXIST);
    CHECK_EQ(evloop_run_once(l, 0), 0);
    uint64_t one = 1;
    CHECK_EQ(write(fd, &one, 8), 8);
    CHECK_EQ(evloop_run_once(l, 1000), 1);
    CHECK_EQ(r.calls, 1);
    CHECK_EQ(evloop_mod(l, fd, 0), 0); /* quiet */
    CHECK_EQ(write(fd, &one, 8), 8);
    CHECK_EQ(evloop_run_once(l, 0), 0);
    CHECK_EQ(evloop_mod(l, fd, EPOLLIN), 0);
    CHECK_EQ(evloop_run_once(l, 0), 1);
    CHECK_EQ(evloop_del(l, fd), 0);
    CHECK_EQ(evloop_del(l, fd), -ENOENT);
    CHECK_EQ(evloop_mod(l, fd, EPOLLIN), -ENOENT);
    CHECK_EQ(write(fd, &one, 8), 8);
    CHECK_EQ(evloop_run_once(l, 0), 0);
    CHECK_EQ(r.calls, 2);
    close(fd);
    evloop_free(l);
    evloop_free(NULL);
}

TEST(evloop_delete_from_a_handler_drops_the_pending_event)
{
    /* Both fds are ready in the same batch; whichever runs first deletes the other, which
     * must then not run (its registration is dead, its memory still valid). */
    struct evloop *l = evloop_new();
    int a = eventfd(1, EFD_NONBLOCK), b = eventfd(1, EFD_NONBLOCK);
    struct evrec ra = { l, 0, b }, rb = { l, 0, a };
    REQUIRE(evloop_add(l, a, EPOLLIN, ev_count, &ra) == 0);
    REQUIRE(evloop_add(l, b, EPOLLIN, ev_count, &rb) == 0);
    CHECK_EQ(evloop_run_once(l, 1000), 1);
    CHECK_EQ(ra.calls + rb.calls, 1);
    /* the fd number can be registered again at once */
    int gone = ra.calls ? b : a;
    struct evrec rc = { l, 0, -1 };
    CHECK_EQ(evloop_add(l, gone, EPOLLIN, ev_count, &rc), 0);
    uint64_t one = 1;
    CHECK_EQ(write(gone, &one, 8), 8);
    CHECK(evloop_run_once(l, 1000) >= 1);
    CHECK_EQ(rc.calls, 1);
    close(a);
    close(b);
    evloop_free(l);
}

static void *stopper(void *arg)
{
    evloop_stop(arg);
    return NULL;
}

TEST(evloop_stop_from_another_thread)
{
    struct evloop *l = evloop_new();
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, stopper, l) == 0);
    CHECK_EQ(evloop_run(l), 0); /* returns once stopped */
    pthread_join(t, NULL);
    evloop_free(l);
}
