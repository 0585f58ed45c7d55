// SPDX-License-Identifier: Apache-2.0
/* Whole reads and writes on descriptors, mkdir -p and rm -r: written once for every
 * component. */
#ifndef BL_IO_H
#define BL_IO_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes all n bytes: retries on EINTR and short writes, waits for POLLOUT on a
 * non-blocking descriptor, never raises SIGPIPE on a socket. 0, or -errno. */
int io_write_all(int fd, const void *p, size_t n);
/* The same, giving up at deadline_ms (mono_ms(); -1 = never) with -ETIMEDOUT. */
int io_write_all_until(int fd, const void *p, size_t n, int64_t deadline_ms);
/* Reads n bytes, fewer only at end of file: the count read, or -errno. */
ssize_t io_read_full(int fd, void *p, size_t n);

/* Creates path and its missing parents with mode (existing ones are left as they are). */
int mkdir_p(const char *path, mode_t mode, struct bl_error *err);
/* Removes a file or a tree, never following a symlink (nftw, FTW_PHYS); 0, or -1 with errno.
 * A path that does not exist is not an error. */
int io_remove_tree(const char *path);

#endif
