// SPDX-License-Identifier: Apache-2.0
/* The ext4 base of an image, built straight from its layers with libext2fs (e2fsprogs'
 * library, the one `mke2fs -d` is made of): each tar entry becomes an inode of the image as
 * it is read from the layer stream, so no host tree is made, nothing is read twice and the
 * guest's owners, modes, device nodes and extended attributes are written as they are.
 *
 * Layers merge the way an overlay stack would (OCI image-spec layer.md): a whiteout
 * ".wh.<name>" removes that name of the lower layers (a directory with all it holds, its
 * inodes and blocks freed), an opaque marker ".wh..wh..opq" empties its directory of what
 * lower layers put there but keeps what this layer adds, in whatever order the entries
 * come. Paths resolve inside the image only, never following a symlink: an entry below a
 * symlink or a non-directory, a ".." component and a hard link to a directory are errors.
 *
 * Directories live in memory until the end (so adding a name costs no directory scan) and
 * are written then; file data goes straight to its blocks. The image starts from an empty
 * filesystem made by mke2fs, sized from a guess, and grows with resize2fs when the
 * contents need more; at the end it is resized to the contents plus the headroom asked for.
 * One builder is used by one thread. */
#ifndef IMAGE_EXT4BUILD_H
#define IMAGE_EXT4BUILD_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

struct ext4b;
struct layer_stream;

struct ext4b_stats {
    uint64_t inodes;     /* made by the layers (including those later removed) */
    uint64_t bytes;      /* file data written */
    uint64_t image_size; /* the final image, bytes */
    unsigned resizes;    /* resize2fs runs (growth while building, the final size) */
};

/* Starts the image that ext4b_finish will put at out_path; it is built in a temporary
 * file beside it. expect guesses its final size in bytes (the contents and the headroom
 * ext4b_finish will be given): a good guess saves resize2fs runs. */
int ext4b_create(struct ext4b **out, const char *out_path, uint64_t expect, struct bl_error *err);

/* The same from a copy of empty_image, an image made by ext4b_create and ext4b_finish
 * without layers: no mke2fs run (the fuzzer builds many). */
int ext4b_create_from(struct ext4b **out, const char *out_path, const char *empty_image,
                      struct bl_error *err);

/* Applies one layer read from s (a tar; the stream decompresses), then checks the digest of
 * the blob and the DiffID of the tar it held (either may be NULL: not checked). After an
 * error the image is unusable: free it. */
int ext4b_apply_stream(struct ext4b *b, struct layer_stream *s, const char *blob_digest,
                       const char *diff_id, struct bl_error *err);
/* The same from memory (tests and fuzzing). */
int ext4b_apply_mem(struct ext4b *b, const void *data, size_t len, struct bl_error *err);

/* Writes the directories, resizes the filesystem to its contents plus headroom bytes of
 * free space (EXT4B_KEEP_SIZE: as it is), syncs it and renames it to out_path. st may be
 * NULL. The builder is spent either way: free it. */
#define EXT4B_KEEP_SIZE UINT64_MAX
int ext4b_finish(struct ext4b *b, uint64_t headroom, struct ext4b_stats *st, struct bl_error *err);

/* Frees the builder; an image not finished is removed. NULL is a no-op. */
void ext4b_free(struct ext4b *b);

/* Turns a tar entry name into a clean relative path ("./a//b/" -> "a/b"; a leading "/" is
 * dropped). "" means the root itself. A ".." component, a component longer than 255 bytes
 * or a path longer than n is an error. */
int ext4b_clean_path(const char *name, char *out, size_t n, struct bl_error *err);

#endif
