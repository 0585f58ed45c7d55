// SPDX-License-Identifier: Apache-2.0
/* Internal to the disk backends: the per-format open functions and I/O helpers. */
#ifndef BL_DISK_BACKEND_H
#define BL_DISK_BACKEND_H

#include "disk/disk.h"

#include <stddef.h>
#include <stdint.h>

/* A qcow2 chain longer than this is refused (it is almost certainly a loop). */
#define DISK_MAX_BACKING_DEPTH 16

/* pread until len bytes or end of file; returns the bytes read, or -errno. */
int64_t disk_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* pwrite all of buf; returns 0 or -errno. */
int disk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* Each takes ownership of fd (closed on failure too); path is for messages and for
 * resolving a relative backing file. depth counts the images above this one. */
int raw_open_fd(struct disk **out, int fd, const char *path, int readonly,
                struct bl_error *err);
int qcow2_open_fd(struct disk **out, int fd, const char *path, int readonly, int depth,
                  struct bl_error *err);

/* disk_open_fmt with a depth for backing chains. */
int disk_open_chain(struct disk **out, const char *path, const char *format, int readonly,
                    int depth, struct bl_error *err);

#endif
