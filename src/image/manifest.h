// SPDX-License-Identifier: Apache-2.0
/* OCI image manifests and indexes (OCI image-spec v1.1 manifest.md, image-index.md) and
 * their Docker schema 2 equivalents (manifest v2 schema 2, manifest list). Parsing checks
 * every digest (they become file names) and every size. */
#ifndef IMAGE_MANIFEST_H
#define IMAGE_MANIFEST_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

struct oci_descriptor {
    char *media_type;
    char *digest;
    int64_t size;
    char *os, *arch, *variant; /* platform, only in index entries */
};

struct oci_manifest {
    char *media_type;
    struct oci_descriptor config;
    struct oci_descriptor *layers;
    size_t n_layers;
};

struct oci_index {
    char *media_type;
    struct oci_descriptor *manifests;
    size_t n_manifests;
};

enum oci_kind { OCI_KIND_MANIFEST = 1, OCI_KIND_INDEX = 2 };
enum layer_compression { LAYER_PLAIN, LAYER_GZIP, LAYER_ZSTD };

/* Which of the two a document is, from its mediaType field or its shape; content_type
 * (the HTTP header, may be NULL) is used when the document has neither. */
int oci_detect_kind(const char *json, size_t len, const char *content_type,
                    struct bl_error *err);
int oci_manifest_parse(struct oci_manifest *out, const char *json, size_t len,
                       struct bl_error *err);
void oci_manifest_free(struct oci_manifest *m);
int oci_index_parse(struct oci_index *out, const char *json, size_t len, struct bl_error *err);
void oci_index_free(struct oci_index *ix);
/* Picks the entry for os/arch[/variant] (variant NULL matches any, preferring none or the
 * arch's default: arm64 -> v8). Returns its index or a negative error. */
int oci_index_select(const struct oci_index *ix, const char *os, const char *arch,
                     const char *variant, struct bl_error *err);
/* The compression of a layer from its media type; unknown types are an error. */
int oci_layer_compression(const char *media_type, enum layer_compression *out,
                          struct bl_error *err);
void oci_descriptor_free(struct oci_descriptor *d);

#endif
