// SPDX-License-Identifier: Apache-2.0
/* Images for the runtime: from a reference (registry), a local OCI image layout or a
 * prepared rootfs directory to the ext4 base and the box's qcow2 overlay.
 *
 *   image_pull()          reference -> blobs in the store, the ext4 base built while the
 *                         layers download (each layer checked against its digest and the
 *                         config's DiffID as it is applied), an index record
 *   image_pull_prepare()  the same, giving the base's path
 *   image_prepare()       record -> <home>/images/rootfs/<id>.ext4 (built once, cached)
 *   image_box_disk()      per-box thin overlay over the cached base
 * One struct image_store per runtime; calls on it may come from several threads and
 * processes at once (the index is locked, files appear by rename, one builder per base,
 * one downloader per blob). The progress callback (registry_opts) and the notice callback
 * run in the calling thread. Registries, mirrors and short names: pull.h, regconf.h.
 * The ext4 base holds the image's files plus `headroom` free space; a box's overlay may be
 * larger (disk_size) and the guest agent grows the filesystem (resize2fs) to fill it. */
#ifndef IMAGE_IMAGE_H
#define IMAGE_IMAGE_H

#include "common/error.h"
#include "image/blobstore.h"
#include "image/imageconfig.h"
#include "image/registry.h"

#include <limits.h>
#include <stdint.h>

struct image_store {
    struct blobstore bs;
};

struct regconf;
struct image_pull_opts {
    struct registry_opts registry;
    const struct regconf *conf;      /* registries.json: search list, mirrors, CAs; may be NULL */
    void (*notice)(void *ud, const char *msg); /* what the caller should know; may be NULL */
    void *notice_ud;
    void (*resolved)(void *ud, size_t n_layers); /* the manifest is known; may be NULL */
    void *resolved_ud;
    const char *os, *arch, *variant; /* NULL: linux/amd64 (the host's), any variant */
    uint64_t headroom;               /* free bytes in the ext4 base; 0 = 256 MiB */
};

int image_store_open(struct image_store *s, const char *home, struct bl_error *err);

/* Pulls ref ("alpine", "ghcr.io/x/y@sha256:...") and records it. "oci:<dir>[:tag]"
 * imports a local OCI image layout instead (image_import_oci_layout); such references are
 * accepted wherever a reference is. */
int image_pull(struct image_store *s, const char *ref, const struct image_pull_opts *o,
               struct image_record *out, struct bl_error *err);
/* Imports from an OCI image layout directory; tag NULL takes the only image in it.
 * Recorded as "oci:<realpath>[:tag]". */
int image_import_oci_layout(struct image_store *s, const char *dir, const char *tag,
                            const struct image_pull_opts *o, struct image_record *out,
                            struct bl_error *err);

/* The ext4 base for an image (reference, id or id prefix), built if missing. path gets
 * <home>/images/rootfs/<id>.ext4. With o, a record for another platform than o's (or the
 * host's) is BOXLITE_ERR_NOT_FOUND: the caller pulls that platform, which replaces it. */
int image_prepare(struct image_store *s, const char *key, const struct image_pull_opts *o,
                  char *path, size_t n, struct bl_error *err);
int image_pull_prepare(struct image_store *s, const char *ref, const struct image_pull_opts *o,
                       struct image_record *out, char *path, size_t n, struct bl_error *err);
/* A prepared rootfs directory used as is (host owners and modes; an unprivileged caller's
 * own files become root's): built into
 * rootfs/dir-<sha256 of its real path>.ext4 on every call (the directory may change). */
int image_prepare_dir(struct image_store *s, const char *dir, uint64_t headroom, char *path,
                      size_t n, struct bl_error *err);

/* The image's defaults (entrypoint, cmd, env, ...). */
int image_get_config(struct image_store *s, const char *key, struct image_config *out,
                     struct bl_error *err);

/* Thin qcow2 overlay for a box over the prepared base of key (see rootfs_box_disk). */
int image_box_disk(struct image_store *s, const char *key, const char *overlay,
                   uint64_t disk_size, struct bl_error *err);

int image_remove(struct image_store *s, const char *ref, struct bl_error *err);
/* See blobstore_gc: keep_bases are the bases the runtime's boxes still use. */
int image_gc(struct image_store *s, const char *const *keep_bases, struct gc_stats *st,
             struct bl_error *err);

#endif
