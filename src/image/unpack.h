/* Applies OCI layers (tar, optionally gzip/zstd) onto a host directory, the way an
 * overlay stack would merge them (OCI image-spec layer.md: whiteouts ".wh.<name>", opaque
 * directories ".wh..wh..opq").
 *
 * Safety: every path is resolved beneath the root with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), so an entry can never be written through a symlink (even one the
 * layer itself made) nor escape with "..": such an entry is an error. Symlinks themselves
 * may point anywhere; they are created, never followed.
 *
 * Ownership without root: nothing is chowned and no device node is made on the host.
 * Files are created owned by the caller with modes that keep them readable; the guest's
 * uid, gid, mode and device numbers are recorded per host inode in a struct fsmeta and
 * applied when the ext4 image is built (rootfs.h). Device nodes are empty placeholder
 * files on the host. Extended attributes in the security., user. and trusted. namespaces
 * (file capabilities, for one) are recorded the same way and set in the ext4 image. */
#ifndef IMAGE_UNPACK_H
#define IMAGE_UNPACK_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fsmeta_xattr {
    struct fsmeta_xattr *next;
    char *name; /* "security.capability", "user.x", "trusted.x" */
    void *value;
    size_t size;
};

struct fsmeta_entry {
    uint64_t ino; /* host inode; 0 = free slot */
    uint32_t uid, gid;
    uint32_t mode; /* guest st_mode, type bits included */
    uint64_t rdev; /* for device nodes */
    struct fsmeta_xattr *xattrs; /* owned by the table */
};

struct fsmeta {
    struct fsmeta_entry *slots;
    size_t cap, used;
};

void fsmeta_init(struct fsmeta *m);
void fsmeta_free(struct fsmeta *m);
/* Adds or replaces; takes ownership of e->xattrs. */
int fsmeta_set(struct fsmeta *m, const struct fsmeta_entry *e);
void fsmeta_xattrs_free(struct fsmeta_xattr *x);
const struct fsmeta_entry *fsmeta_get(const struct fsmeta *m, uint64_t ino);

/* Turns a tar entry name into a clean relative path ("./a//b/" -> "a/b"; a leading "/" is
 * dropped). "" means the root itself. A ".." component, an over-long path or a NUL-free
 * name that is otherwise unusable is an error. */
int unpack_clean_path(const char *name, char *out, size_t n, struct bl_error *err);

struct layer_stream;
/* Applies one layer (tar, gzip or zstd; layerstream.h) to the tree at rootfd, then checks
 * the blob digest of the bytes read and the DiffID of the tar they held (either may be
 * NULL: not checked). A mismatch is an error after the tree was changed: the caller
 * discards the tree. */
int layer_apply_stream(int rootfd, struct layer_stream *s, const char *blob_digest,
                       const char *diff_id, struct fsmeta *meta, struct bl_error *err);
/* The same from a complete file. */
int layer_apply_file(int rootfd, const char *path, const char *blob_digest, const char *diff_id,
                     struct fsmeta *meta, struct bl_error *err);
/* The same from memory (tests and fuzzing). */
int layer_apply_mem(int rootfd, const void *data, size_t len, struct fsmeta *meta,
                    struct bl_error *err);

/* Records metadata for the root directory itself (0755 root:root unless a layer says
 * otherwise). */
int unpack_init_root(int rootfd, struct fsmeta *meta, struct bl_error *err);

#endif
