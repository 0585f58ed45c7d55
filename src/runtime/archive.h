// SPDX-License-Identifier: Apache-2.0
/* A box's export archive (archive.c writes and reads it; docs/architecture.md, "Export
 * archive"): a zstd-compressed POSIX tar (pax) whose members come in this order:
 *
 *   manifest.json        what follows, with the size and SHA-256 of every member
 *   image-config.json    the image's OCI configuration blob (optional)
 *   disk/0.raw|qcow2     the bottom of the disk chain (the image's ext4 base)
 *   disk/N.qcow2 ...     each layer above it, backed by the member below ("N-1.raw"), up to
 *                        the box's current disk
 *   manifest.sha256      the SHA-256 of manifest.json in hex (catches a damaged manifest)
 *
 * The manifest (version 1):
 *   {"format": "boxlite-box", "version": 1, "boxlite": "0.1.0", "created": UNIX,
 *    "box": {"name": N, "image": REF, "image_digest": "sha256:..." or "", "options": {...}},
 *    "image_config": {"member", "size", "sha256"} (optional),
 *    "disk": [{"member", "format", "size", "sha256"}, ...] bottom first}
 * The parser below is the importer's first line of defence and is fuzzed
 * (tests/fuzz/fuzz_archive_manifest.c): unknown versions, unknown or missing keys, member
 * names other than the ones above, sizes past the limits are all refused. */
#ifndef RT_ARCHIVE_H
#define RT_ARCHIVE_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BX_FORMAT "boxlite-box"
#define BX_VERSION 1
#define BX_MANIFEST "manifest.json"
#define BX_MANIFEST_SUM "manifest.sha256"
#define BX_CONFIG "image-config.json"
#define BX_MAX_MANIFEST (1u << 20)
#define BX_MAX_CONFIG (8u << 20)
#define BX_MAX_DISKS 16
/* A disk member: a layer of a 4096 GiB disk (BL_MAX_DISK_GB) and its qcow2 metadata. */
#define BX_MAX_MEMBER ((4096ull + 64) << 30)

struct bx_member {
    char member[32];   /* its name in the archive */
    char format[8];    /* "raw", "qcow2"; "" for the image configuration */
    uint64_t size;
    char sha256[65];   /* lower-case hex */
};

struct bx_manifest {
    int version;
    int64_t created;
    char name[65];
    char image[1024];
    char image_digest[80];
    char *options;     /* the box's options as JSON (malloc'd) */
    bool has_config;
    struct bx_member config;
    struct bx_member disk[BX_MAX_DISKS];
    int ndisk;
};

/* Parses and checks a manifest (len bytes, not NUL-terminated). */
int bx_manifest_parse(struct bx_manifest *m, const char *text, size_t len, struct bl_error *err);
void bx_manifest_free(struct bx_manifest *m);
/* The name disk member i of that format has ("disk/0.raw"). */
void bx_disk_member_name(char *out, size_t n, int i, const char *format);

#endif
