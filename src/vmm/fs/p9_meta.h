// SPDX-License-Identifier: Apache-2.0
/* The guest's view of a shared file's owner, group, mode and device number, kept beside the
 * host file instead of applied to it: the layout of QEMU's 9p "mapped-xattr" security model
 * (QEMU hw/9pfs/9p-local.c: local_set_xattrat(), local_lstat(); `-fsdev
 * local,security_model=mapped-xattr`), so a volume reads the same under either engine and
 * across restarts.
 *
 *   user.virtfs.uid   4 bytes, little-endian
 *   user.virtfs.gid   4 bytes, little-endian
 *   user.virtfs.mode  4 bytes, little-endian, the whole st_mode (file type included)
 *   user.virtfs.rdev  8 bytes, little-endian
 *
 * The host file itself is created with mode P9_META_FMODE (directories P9_META_DMODE) and
 * belongs to the server's own user: a guest's chmod 4755 or chown 0:0 changes only these
 * attributes, never the host's mode bits or owner. A guest symlink is a host regular file
 * holding the target text with mode S_IFLNK in user.virtfs.mode, as QEMU writes it, so no
 * symlink the guest made is ever followed by a host program. */
#ifndef VMM_FS_P9_META_H
#define VMM_FS_P9_META_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#define P9_META_FMODE 0600 /* QEMU's fmode default (SM_LOCAL_MODE_BITS) */
#define P9_META_DMODE 0700 /* QEMU's dmode default (SM_LOCAL_DIR_MODE_BITS) */

/* What to record; a field is written only when its flag is set. */
struct p9_meta {
    bool set_uid, set_gid, set_mode, set_rdev;
    uint32_t uid, gid, mode;
    uint64_t rdev;
};

/* Whether the filesystem holding fd (an O_PATH or open descriptor of a directory) stores
 * user.* extended attributes (ext4, xfs, btrfs; tmpfs only from Linux 6.6). */
bool p9_meta_supported(int fd);

/* Overlays the recorded values on st, which describes fd. Host symlinks carry none (Linux
 * refuses user.* attributes on them) and are left alone. For the file type, the record is
 * believed only where QEMU would have written it: a host regular file recorded as a symlink,
 * socket, FIFO or device; a directory stays a directory and a regular file a regular file. */
void p9_meta_apply(int fd, struct stat *st);

/* Writes the set fields on fd's file. 0 or an errno. */
int p9_meta_set(int fd, const struct p9_meta *m);

#endif
