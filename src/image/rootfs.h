// SPDX-License-Identifier: Apache-2.0
/* The box disk: an ext4 base image per image (built once, cached as
 * <home>/images/rootfs/<id>.ext4) and, per box, a thin qcow2 overlay backed by it.
 *
 * An image's base is built from its layers by ext4build.h. A prepared rootfs directory on
 * the host is made into one here by e2fsprogs' `mke2fs -d <tree>` (which copies the host's
 * owners and modes); when the caller is not root, one `debugfs -w -f <script>` run then
 * gives the caller's own files to root (`sif`, set_inode_field), as a rootless container
 * maps its user to root. Nothing needs root on the host. */
#ifndef IMAGE_ROOTFS_H
#define IMAGE_ROOTFS_H

#include "common/error.h"

#include <stdint.h>

struct rootfs_stats {
    uint64_t files, bytes, fixups; /* entries, data bytes, debugfs corrections */
    uint64_t image_size;           /* ext4 image size in bytes */
};

/* Builds an ext4 image of the tree at dir into out_path, atomically (temp file + rename;
 * a failure leaves no file). The host's owners and modes are kept, except that for a
 * caller other than root its own files become root's. headroom is free space to leave on
 * top of the contents. */
int rootfs_build_ext4(const char *dir, const char *out_path, uint64_t headroom,
                      struct rootfs_stats *st, struct bl_error *err);

/* Creates the box's overlay: a qcow2 whose backing file is base (raw ext4). Its virtual
 * size is max(disk_size, size of base); the guest agent grows the filesystem to fill it
 * (resize2fs) when it is larger. */
int rootfs_box_disk(const char *base, const char *overlay, uint64_t disk_size,
                    struct bl_error *err);

/* Runs argv (argv[0] looked up in /usr/sbin, /sbin and PATH), stdin from /dev/null;
 * a non-zero exit is an error carrying the tail of its stderr. If stderr_is_error, any
 * stderr output other than the first line is an error too (debugfs exits 0 on errors). */
int run_tool(char *const argv[], int stderr_is_error, struct bl_error *err);

#endif
