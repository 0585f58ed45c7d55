// SPDX-License-Identifier: Apache-2.0
/* Image references as Docker reads them: [registry[:port]/]path[:tag][@digest].
 * "alpine" -> docker.io/library/alpine:latest; a first component with '.' or ':' or equal
 * to "localhost" names a registry. */
#ifndef IMAGE_REF_H
#define IMAGE_REF_H

#include "common/error.h"

#include <stddef.h>

struct image_ref {
    char *registry;   /* canonical: "docker.io", "ghcr.io", "127.0.0.1:5000" */
    char *repository; /* "library/alpine" */
    char *tag;        /* "latest" unless only a digest was given (then NULL) */
    char *digest;     /* "sha256:<64 hex>" or NULL */
};

int image_ref_parse(struct image_ref *out, const char *s, struct bl_error *err);
void image_ref_free(struct image_ref *r);
/* The normalised form, "docker.io/library/alpine:latest[@sha256:...]" (malloc'd). */
char *image_ref_string(const struct image_ref *r);
/* Host:port to talk to: docker.io is served by registry-1.docker.io. */
const char *image_ref_api_host(const struct image_ref *r);
/* What the registry API calls the reference: the digest if any, else the tag. */
const char *image_ref_reference(const struct image_ref *r);

/* 1 when the reference names its registry; 0 for a short name ("alpine", "user/app"),
 * which a configured search list resolves (regconf.h). */
int image_ref_has_registry(const char *s);
/* host[:port] as a registry name: DNS labels or a bracketed IPv6 literal. */
int image_host_valid(const char *s, size_t n);

/* "sha256:<64 lowercase hex>"; the only digest form we store (digests become paths). */
int image_digest_valid(const char *d);

#endif
