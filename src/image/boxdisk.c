// SPDX-License-Identifier: Apache-2.0
/* The per-box overlay; kept apart from the ext4 builder so that only users of it link the
 * qcow2 writer. */
#include "image/rootfs.h"

#include "disk/disk.h"

#include <errno.h>
#include <sys/stat.h>

int rootfs_box_disk(const char *base, const char *overlay, uint64_t disk_size, struct bl_error *err)
{
    struct stat st;
    if (stat(base, &st) < 0)
        return bl_errno(err, errno, "box disk: base image %s", base);
    uint64_t vsize = disk_size > (uint64_t)st.st_size ? disk_size : 0;
    int r = qcow2_create(overlay, vsize, base, "raw", err);
    if (r < 0)
        return bl_err_prefix(err, "box disk %s", overlay);
    return 0;
}

#include "image/image.h"

#include <limits.h>

int image_box_disk(struct image_store *s, const char *key, const char *overlay, uint64_t disk_size,
                   struct bl_error *err)
{
    char base[PATH_MAX];
    int r = image_prepare(s, key, NULL, base, sizeof base, err);
    if (r < 0)
        return r;
    return rootfs_box_disk(base, overlay, disk_size, err);
}
