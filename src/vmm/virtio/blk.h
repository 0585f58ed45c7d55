// SPDX-License-Identifier: Apache-2.0
/* virtio-blk (Virtio 1.2 section 5.2) over a struct disk (src/disk/disk.h). */
#ifndef VMM_VIRTIO_BLK_H
#define VMM_VIRTIO_BLK_H

#include "common/error.h"
#include "disk/disk.h"
#include "vmm/virtio/virtio.h"

/* Request types and status (section 5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
/* Feature bits (section 5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX 254              /* data segments per request (config seg_max) */
#define BLK_MAX_DZ_SECTORS (1u << 16) /* per discard/write-zeroes segment (32 MiB) */
#define BLK_MAX_DZ_SEG 32             /* segments per discard/write-zeroes request */
/* Larger read/write requests fail with IOERR, so one request cannot keep the event loop
 * busy for long (Linux sends at most max_sectors_kb, 1280 KiB by default). */
#define BLK_MAX_REQUEST (64u << 20)

/* Creates a virtio-blk device over disk, which it takes over (closed by virtio_dev_free,
 * also when this fails). serial (may be NULL) answers GET_ID, at most 20 bytes. A
 * read-only disk (disk->readonly) is offered with VIRTIO_BLK_F_RO and refuses writes with
 * VIRTIO_BLK_S_IOERR; DISCARD is offered when the disk has a discard op; WRITE_ZEROES is
 * offered for every writable disk (zeros are written). I/O is synchronous, on the thread
 * that handles the queue (the event loop). */
int blk_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
            struct disk *disk, const char *serial, struct bl_error *err);

#endif
