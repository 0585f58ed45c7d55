// SPDX-License-Identifier: Apache-2.0
/* A layer's bytes on their way to the ext4 builder (ext4build.h). They come from a file descriptor (a stored
 * blob, or a download still being written, whose growth a wait callback reports) or from
 * memory; they are decompressed here (gzip, zstd or none, told apart by their magic numbers:
 * RFC 1952, RFC 8878) and hashed on both sides: the compressed bytes against the blob's
 * digest, the uncompressed tar against the image config's DiffID (OCI image-spec config.md,
 * rootfs.diff_ids). Both are checked by layer_stream_finish, after the builder has read the
 * whole stream: a layer whose bytes or contents differ from what the verified config names is
 * refused, even when it was applied from a download in progress. */
#ifndef IMAGE_LAYERSTREAM_H
#define IMAGE_LAYERSTREAM_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Blocks until the source holds more than `have` bytes, or is complete, or failed.
 * Sets *avail to the bytes written so far and *complete when no more will come; returns a
 * negative error (err filled) if the download failed. */
typedef int (*layer_wait_fn)(void *ud, uint64_t have, uint64_t *avail, int *complete,
                             struct bl_error *err);

struct layer_stream;

/* fd is borrowed (the caller closes it). wait may be NULL: the file is complete. */
int layer_stream_open_fd(struct layer_stream **out, int fd, layer_wait_fn wait, void *wait_ud,
                         struct bl_error *err);
/* data is borrowed and must outlive the stream. */
int layer_stream_open_mem(struct layer_stream **out, const void *data, size_t len,
                          struct bl_error *err);
/* The next piece of the uncompressed stream in *out (valid until the next call); 0 at its
 * end, negative on an error (err filled). */
ssize_t layer_stream_read(struct layer_stream *s, const void **out, struct bl_error *err);
/* Reads what the unpacker left (a tar's end padding), then checks the digests; either may
 * be NULL (not checked). */
int layer_stream_finish(struct layer_stream *s, const char *blob_digest, const char *diff_id,
                        struct bl_error *err);
/* Compressed and uncompressed byte counts so far. */
void layer_stream_counts(const struct layer_stream *s, uint64_t *in, uint64_t *out);
void layer_stream_free(struct layer_stream *s);

#endif
