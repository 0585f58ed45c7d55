// SPDX-License-Identifier: Apache-2.0
/* Disk images behind one small ops table (raw, qcow2), used by virtio-blk in the VMM and
 * by the image builder in the library (to create a box's qcow2 overlay). All offsets and
 * lengths are in bytes; I/O is synchronous and thread-compatible (one user at a time). */
#ifndef BL_DISK_H
#define BL_DISK_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

struct disk;

struct disk_ops {
    const char *name; /* "raw", "qcow2" */
    int (*read)(struct disk *d, void *buf, uint64_t offset, size_t len, struct bl_error *err);
    int (*write)(struct disk *d, const void *buf, uint64_t offset, size_t len,
                 struct bl_error *err);
    /* Makes every completed write durable (fdatasync, metadata order for qcow2). */
    int (*flush)(struct disk *d, struct bl_error *err);
    /* Optional: marks a range unused (virtio-blk DISCARD/WRITE_ZEROES); may be NULL.
     * Both backends guarantee the range reads back as zeros afterwards. */
    int (*discard)(struct disk *d, uint64_t offset, uint64_t len, struct bl_error *err);
    void (*close)(struct disk *d);
};

struct disk {
    const struct disk_ops *ops;
    uint64_t size; /* virtual size in bytes */
    int readonly;
};

/* Opens path, detecting the format from its header (qcow2 magic, else raw). A qcow2 with
 * a backing file opens that too (read-only, relative paths resolved against the image's
 * folder). readonly opens everything read-only.
 * qcow2 writes are cached (L2 tables are written back on flush, like a disk's volatile
 * write cache): data written but not flushed may be lost on a crash, never the image's
 * consistency. disk_close flushes. */
int disk_open(struct disk **out, const char *path, int readonly, struct bl_error *err);
/* Same with the format given ("raw" or "qcow2"); NULL probes. Prefer this for disks a
 * guest can write to: a raw disk whose guest wrote a qcow2 header must stay raw. */
int disk_open_fmt(struct disk **out, const char *path, const char *format, int readonly,
                  struct bl_error *err);
/* Range-checked wrappers: an I/O past d->size is BOXLITE_ERR_INVALID, never a partial op. */
int disk_read(struct disk *d, void *buf, uint64_t offset, size_t len, struct bl_error *err);
int disk_write(struct disk *d, const void *buf, uint64_t offset, size_t len,
               struct bl_error *err);
int disk_flush(struct disk *d, struct bl_error *err);
/* Zeroes the range, freeing space where the format allows (BOXLITE_ERR_UNSUPPORTED if the
 * backend has no discard). */
int disk_discard(struct disk *d, uint64_t offset, uint64_t len, struct bl_error *err);
void disk_close(struct disk *d); /* NULL is a no-op */

/* Creates a qcow2 (version 3) image of virtual_size bytes. backing may be NULL; otherwise
 * the new image is a thin overlay over it (backing_fmt "raw" or "qcow2", NULL probes),
 * and virtual_size 0 means "the backing file's size". A relative backing path is
 * resolved against the new image's folder (and stored as given). Never overwrites an
 * existing file. */
int qcow2_create(const char *path, uint64_t virtual_size, const char *backing,
                 const char *backing_fmt, struct bl_error *err);

/* Sets the backing file name (and format) of a qcow2 image that nobody has open, as
 * `qemu-img rebase -u` does (the data is not read: the caller knows the new backing file
 * holds what the old one did); backing NULL removes it. The header is parsed and checked
 * first (qcow2_header_parse). qcow2_header_set_backing does the same on the first cluster
 * in memory (buf: len bytes read from offset 0 of a file of file_size bytes). */
int qcow2_set_backing(const char *path, const char *backing, const char *backing_fmt,
                      struct bl_error *err);
int qcow2_header_set_backing(uint8_t *buf, size_t len, uint64_t file_size, const char *backing,
                             const char *backing_fmt, struct bl_error *err);

#endif
