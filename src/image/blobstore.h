// SPDX-License-Identifier: Apache-2.0
/* The image store under <home>/images:
 *   blobs/sha256/<hex>   content-addressed blobs (manifests, configs, layers), each kept
 *                        only after its sha256 and size matched (temp file + rename)
 *   tmp/                 downloads in progress (removed on failure; kept to resume)
 *   rootfs/<id>.ext4     the ext4 base image built once per image id (rootfs.h)
 *   index.json           references -> image records, rewritten atomically under lock
 * index.json: {"version":1,"images":{"<normalised ref>":{"manifest":"sha256:..",
 *   "config":"sha256:..","id":"<config hex>","blobs":["sha256:..",...]}},
 *   "aliases":{"<short name>":"<normalised ref>"}}.
 * Every blob an image needs is listed in its record, so garbage collection keeps the union
 * of all records' blobs and removes the rest. */
#ifndef IMAGE_BLOBSTORE_H
#define IMAGE_BLOBSTORE_H

#include "common/error.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN 71 /* "sha256:" + 64 hex */

struct blobstore {
    char root[PATH_MAX - 128]; /* <home>/images */
};

int blobstore_open(struct blobstore *bs, const char *home, struct bl_error *err);
/* <root>/blobs/sha256/<hex> for a valid digest. */
void blobstore_path(const struct blobstore *bs, const char *digest, char *buf, size_t n);
/* 1 if the blob is present with this size (size < 0: any size). */
int blobstore_has(const struct blobstore *bs, const char *digest, int64_t size);

/* Streams one blob in: the bytes are hashed as they are written; commit checks the size
 * and the digest and only then renames it into place.
 * The bytes go to <root>/tmp/partial-<hex>-<size>, locked while a writer has it open: a
 * download that a killed process left is resumed by the next writer of the same blob (its
 * bytes are hashed again and `written` starts after them; `resumed_from` says how many),
 * and a writer that finds another process writing the blob now gets BLOB_WRITER_BUSY:
 * that one's result will be in the store (blobstore_has) or its lock released. A blob whose
 * digest does not match is discarded whoever wrote its first bytes; a short one stays for
 * a resume, and so does one whose writer aborts. Opening a writer drops at once the
 * partial files of the same digest under another size (nobody will resume them). */
#define BLOB_WRITER_BUSY 1
struct blob_writer {
    const struct blobstore *bs;
    char digest[DIGEST_LEN + 1];
    int64_t expected; /* -1 if unknown */
    int64_t written;
    int64_t resumed_from; /* bytes found from an earlier download */
    int fd;
    void *md; /* EVP_MD_CTX */
    char tmp[PATH_MAX];
};
/* 0, BLOB_WRITER_BUSY, or a negative error. */
int blob_writer_open(struct blob_writer *w, const struct blobstore *bs, const char *digest,
                     int64_t expected_size, struct bl_error *err);
int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct bl_error *err);
/* Starts over (a retry after a failed or refused transfer). */
int blob_writer_restart(struct blob_writer *w, struct bl_error *err);
int blob_writer_commit(struct blob_writer *w, struct bl_error *err);
/* Ends without storing; the partial file stays for a resume. */
void blob_writer_abort(struct blob_writer *w);
/* Ends and removes the partial file: its bytes are known to be wrong. */
void blob_writer_discard(struct blob_writer *w);

/* A pull notes the blobs it needs (digests[i] of sizes[i]) under
 * <root>/tmp/pullnote-<sha256 of ref> while it runs. The next pull of the same
 * reference drops at once the partial downloads of the noted blobs it no longer needs (the
 * tag moved to another image, the registry gave a blob another size) instead of leaving
 * them for gc; a writer holding one keeps it. A pull that ends, stored or refused, forgets
 * its note. Best effort: a note that cannot be written only loses that clean-up. */
void blobstore_pull_note(const struct blobstore *bs, const char *ref, const char *const *digests,
                         const int64_t *sizes, size_t n);
void blobstore_pull_forget(const struct blobstore *bs, const char *ref);

/* Stores bytes; digest_out (may be NULL) receives their digest. expect may be NULL. */
int blobstore_put(const struct blobstore *bs, const char *expect, const void *data, size_t len,
                  char digest_out[DIGEST_LEN + 1], struct bl_error *err);
/* Reads a small blob (at most max bytes) and checks its digest again. */
int blobstore_read(const struct blobstore *bs, const char *digest, size_t max, char **data,
                   size_t *len, struct bl_error *err);
/* Copies a file into the store, verifying it against digest. */
int blobstore_import_file(const struct blobstore *bs, const char *digest, int64_t size,
                          const char *path, struct bl_error *err);
/* sha256 of a buffer as "sha256:<hex>". */
void blob_digest(const void *data, size_t len, char out[DIGEST_LEN + 1]);

struct image_record {
    char *ref;      /* normalised reference (or "oci:<path>", "dir:<path>") */
    char *manifest; /* digest of what the reference resolved to */
    char *config;   /* config digest */
    char *id;       /* image id: config digest hex */
    char **blobs;   /* every blob the image needs */
    size_t n_blobs;
};
void image_record_free(struct image_record *r);
/* Adds or replaces the record for r->ref. */
int image_index_put(const struct blobstore *bs, const struct image_record *r, struct bl_error *err);
/* Looks a reference, an image id, or a unique id prefix (>= 12 hex digits) up. */
int image_index_get(const struct blobstore *bs, const char *key, struct image_record *out,
                    struct bl_error *err);
int image_index_remove(const struct blobstore *bs, const char *ref, struct bl_error *err);
/* Records that short name `name` (resolved through the registries search list) means the
 * full reference `ref`: image_index_get(name) finds ref's record; removing ref drops it. */
int image_index_alias(const struct blobstore *bs, const char *name, const char *ref, struct bl_error *err);
/* Removes those of the blobs that no record names (an image refused after its blobs were
 * stored keeps nothing). Returns how many were removed, or a negative error. */
int blobstore_drop_unreferenced(const struct blobstore *bs, const char *const *digests, size_t n);

struct gc_stats {
    unsigned blobs_removed, rootfs_removed;
    uint64_t bytes_freed;
};
/* Pulls and builds hold the store "in use" (shared lock on <root>/gc.lock) so that garbage
 * collection, which takes it exclusively, never removes the blobs of an image whose record
 * is not written yet. Returns an fd to close when done. */
int blobstore_hold(const struct blobstore *bs, struct bl_error *err);
/* Removes blobs and ext4 bases no record needs, and stale temp files; waits for running
 * pulls and builds to finish. keep_bases (NULL-terminated, may be NULL) names ext4 bases
 * still backing box overlays, by file name without ".ext4" (an image id or "dir-<hex>"):
 * they stay even when their image is gone. */
int blobstore_gc(const struct blobstore *bs, const char *const *keep_bases, struct gc_stats *st,
                 struct bl_error *err);

/* Creates <root>/tmp/<prefix>XXXXXX (a directory if dir, else a file, fd in *fd). */
int blobstore_mktemp(const struct blobstore *bs, const char *prefix, int dir, char *out,
                     size_t n, int *fd, struct bl_error *err);
/* rm -rf without following symlinks. */
int remove_tree(const char *path);

#endif
