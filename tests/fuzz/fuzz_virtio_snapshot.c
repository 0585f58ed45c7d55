// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the restore of a virtio device's saved state (virtio_dev_restore, mmio.c, and the
 * console's, net's and the balloon's model records) from a snapshot file the box's user
 * can write: the input is a device's payload, tried on a console, a net and a balloon device
 * (its transport record names the type: one of them gets past it). Whatever is accepted must leave queues a guest
 * could use safely: a ready queue's size a power of two within the maximum and its rings
 * inside guest RAM; then the device is resumed (activate, notify every queue) against that
 * RAM. */
#include "vmm/snapshot.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/virtio.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RAM (1u << 20)

static uint8_t ram[RAM] __attribute__((aligned(4096))); /* the balloon wants pages */

static void restore(struct virtio_dev *dev, struct guest_mem *gm, const uint8_t *data,
                    size_t size)
{
    struct bl_error err = { 0 };
    if (virtio_dev_restore(dev, data, size, &err) == 0) {
        for (uint16_t i = 0; i < dev->ops->num_queues; i++) {
            const struct virtq *q = &dev->queues[i];
            if (!q->ready)
                continue;
            if (!q->size || (q->size & (q->size - 1)) || q->size > dev->ops->queue_max_size ||
                !gm_ptr(gm, q->desc_gpa, 16ull * q->size) ||
                !gm_ptr(gm, q->used_gpa, 6 + 8ull * q->size))
                __builtin_trap();
        }
        virtio_dev_resume(dev);
    } else if (!err.msg[0]) {
        __builtin_trap();
    }
}

/* virtio-net's back end: nothing to receive, transmit frames dropped */
static void be_send(void *o, const uint8_t *f, size_t len) { (void)o, (void)f, (void)len; }
static size_t be_peek(void *o) { (void)o; return 0; }
static size_t be_recv(void *o, uint8_t *buf, size_t cap)
{
    (void)o, (void)buf, (void)cap;
    return 0;
}

/* Whatever a restored balloon discards lies inside RAM, page-aligned. */
static int discard_checked(void *opaque, void *host, size_t len)
{
    (void)opaque;
    uint8_t *p = host;
    if (p < ram || len > RAM || (size_t)(p - ram) > RAM - len ||
        ((uintptr_t)p | len) % BALLOON_PAGE_SIZE)
        __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct guest_mem gm = { 0 };
    gm_add_region(&gm, 0, RAM, ram);
    struct virtio_dev *dev = NULL;
    struct bl_error err = { 0 };
    struct net_backend nb = { .send = be_send, .peek = be_peek, .recv = be_recv, .rx_fd = -1 };
    if (virtio_net_new(&dev, &gm, (struct irq_line){ 0 }, NULL, NULL, nb, &err) == 0) {
        restore(dev, &gm, data, size);
        virtio_dev_free(dev);
        dev = NULL;
    }
    /* the balloon's page map covers this RAM: a restored one must too */
    struct balloon_cfg bc = { .ram_bytes = RAM, .free_page_reporting = true };
    if (balloon_new(&dev, &gm, (struct irq_line){ 0 }, &bc, &err) == 0) {
        balloon_set_discard(dev, discard_checked, &gm);
        restore(dev, &gm, data, size);
        struct balloon_stats s;
        balloon_get_stats(dev, &s);
        if (s.reported_bytes > s.returned_bytes || s.num_pages >= RAM / BALLOON_PAGE_SIZE ||
            s.inflated_pages > RAM / BALLOON_PAGE_SIZE)
            __builtin_trap();
        virtio_dev_free(dev);
        dev = NULL;
    }
    struct evloop *loop = evloop_new();
    int sv[2];
    if (!loop || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        evloop_free(loop);
        return 0;
    }
    if (console_new(&dev, &gm, (struct irq_line){ 0 }, loop, 2, &err) < 0 ||
        console_add_port(dev, "boxlite.agent", sv[0], &err) < 0) {
        if (dev)
            virtio_dev_free(dev); /* closes sv[0] once it was added */
        else
            close(sv[0]);
        evloop_free(loop);
        close(sv[1]);
        return 0;
    }
    restore(dev, &gm, data, size);
    virtio_dev_free(dev);
    evloop_free(loop);
    close(sv[1]);
    return 0;
}
