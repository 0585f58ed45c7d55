// SPDX-License-Identifier: Apache-2.0
/* virtio-9p (device id 9 in Virtio 1.2 section 5; the transport as Linux
 * net/9p/trans_virtio.c drives it): one request queue; each chain carries one 9P request
 * in its device-readable buffers and room for the reply in its device-writable ones. The
 * config space holds the mount tag (VIRTIO_9P_MOUNT_TAG). The 9P2000.L server itself is
 * src/vmm/fs/p9.h; the guest mounts with
 *     mount -t 9p -o trans=virtio,version=9p2000.L <tag> /path */
#ifndef VMM_VIRTIO_9P_H
#define VMM_VIRTIO_9P_H

#include "common/error.h"
#include "vmm/virtio/virtio.h"

#include <stdbool.h>

#define VIRTIO_9P_MOUNT_TAG 0 /* feature bit: config space has tag_len[2] tag[tag_len] */
#define VIRTIO_9P_TAG_MAX 255
#define VIRTIO_9P_QUEUE_SIZE 128

/* Creates a virtio-9p device sharing the host directory root under tag (1..255 bytes, no
 * NUL), read-only if readonly (every modifying request gets EROFS). Once
 * virtio_dev_use_eventfds() gave the device an event loop, requests are answered on a
 * worker thread of the device's own (file system calls never block the loop); without one,
 * inline on the thread that handles the queue. msize is bounded by P9_MSIZE_DEFAULT
 * (512 KiB). virtio_dev_free(*out) stops the worker, frees the device, closes every fid.
 *
 * Machine wiring (KVM engine), per entry of vmm_config.shares:
 *     virtio_9p_new(&dev, &mem, irq, share->tag, share->path, share->readonly, &err);
 *     virtio_dev_use_eventfds(dev, loop);  map on the MMIO bus as any virtio device. */
int virtio_9p_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
                  const char *tag, const char *root, bool readonly, struct bl_error *err);

#endif
