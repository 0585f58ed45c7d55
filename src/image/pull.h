// SPDX-License-Identifier: Apache-2.0
/* Where a pull's bytes come from (internal to src/image): the registry a reference names
 * and, when configured (regconf.h), its mirrors, tried in order with the registry itself
 * last; for a short name, the search list. A tag is pinned to a digest at the registry
 * itself when it answers, with a HEAD request (a mirror pins it only when the registry
 * cannot be reached, and the pull says so); every manifest and blob then comes verified
 * against that digest from the first source that serves it, so a mirror can be slow or
 * down but never change what is pulled, and with a working mirror the registry itself
 * answers one HEAD per pull (not counted by Docker Hub's pull rate limit), nothing else. */
#ifndef IMAGE_PULL_H
#define IMAGE_PULL_H

#include "image/image.h"
#include "image/manifest.h"

/* What a pull collects. */
struct pulled {
    char top[DIGEST_LEN + 1];      /* what the reference resolved to (maybe an index) */
    char manifest[DIGEST_LEN + 1]; /* the platform's manifest */
    struct oci_manifest m;
    struct oci_descriptor *blobs;  /* config, then layers (borrowed from m) */
    size_t n_blobs;
};
void pulled_free(struct pulled *p);
int pulled_from_manifest(struct pulled *p, const char *body, size_t len, struct bl_error *err);

/* The platform asked for, or the host's (linux/amd64, linux/arm64). */
void pull_platform(const struct image_pull_opts *o, const char **os, const char **arch,
                   const char **variant);

/* Tells the caller something it should know (o->notice), printf-style. */
void pull_notice(const struct image_pull_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The references to try for refstr, in order: refstr itself when it names its registry,
 * else one per search-list entry (docker.io alone by default). NULL-terminated. */
int pull_candidates(const char *refstr, const struct image_pull_opts *o, char ***out,
                    struct bl_error *err);
void pull_candidates_free(char **v);

struct pull_plan;
int pull_plan_open(struct pull_plan **out, const char *refstr, const struct image_pull_opts *o,
                   struct bl_error *err);
/* The normalised reference ("docker.io/library/alpine:latest"). */
const char *pull_plan_ref(const struct pull_plan *p);
/* Pins the reference and fetches its manifests (stored) from the first source that serves
 * them verified. */
int pull_plan_resolve(struct pull_plan *p, struct image_store *s, struct pulled *out,
                      struct bl_error *err);
/* Fetches the blobs from the source that resolved, then the next ones if it fails. */
int pull_plan_fetch(struct pull_plan *p, struct image_store *s, const struct pulled *pl,
                    const struct registry_fetch_events *ev, struct bl_error *err);
void pull_plan_close(struct pull_plan *p);

#endif
