// SPDX-License-Identifier: Apache-2.0
/* Image management behind the public image API (images.c), and helpers the rest of the
 * runtime may share: the options every pull gets, the backing file of
 * a box's qcow2 overlay, and garbage collection that keeps the bases of existing boxes. */
#ifndef RT_IMAGES_H
#define RT_IMAGES_H

#include "boxlite.h"
#include "common/error.h"
#include "image/blobstore.h"
#include "image/image.h"
#include "image/regconf.h"

#include <stddef.h>

/* What every pull of this runtime is given: $BOXLITE_INSECURE_REGISTRIES ("host[:port],..."),
 * the registries settings (boxlite_runtime_set_registries, else <home>/registries.json, read
 * at each pull) and a notice collector, whose text goes to boxlite_last_notice(). */
struct rt_pull {
    struct image_pull_opts po;
    char **insecure;
    char docker_config[4200]; /* the runtime option's config.json, or "" */
    struct regconf conf;
    char notices[2048];
};
int rt_pull_open(boxlite_runtime *rt, struct rt_pull *p, struct bl_error *err);
/* Hands the collected notices to boxlite_last_notice() and frees. */
void rt_pull_close(struct rt_pull *p);

/* The backing file name stored in a qcow2 header: 1 and the name in out, 0 if the image
 * has none, negative on error (not qcow2, truncated, name longer than n-1). */
int rt_qcow2_backing_file(const char *path, char *out, size_t n, struct bl_error *err);

/* Removes blobs and bases no image record and no box disk needs. */
int rt_images_gc(boxlite_runtime *rt, struct gc_stats *st, struct bl_error *err);
/* A pull failed on a full disk (err): removes what it stored that no image needs, and says
 * so in err. Nothing for other failures (their layers are reused by the next attempt). */
void rt_images_after_failed_pull(boxlite_runtime *rt, struct bl_error *err);

#endif
