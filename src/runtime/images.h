/* Image management behind the public image API (images.c), and helpers the rest of the
 * runtime may share: the insecure-registry list from the environment, the backing file of
 * a box's qcow2 overlay, and garbage collection that keeps the bases of existing boxes. */
#ifndef RT_IMAGES_H
#define RT_IMAGES_H

#include "boxlite.h"
#include "common/error.h"
#include "image/blobstore.h"

#include <stddef.h>

/* $BOXLITE_INSECURE_REGISTRIES ("host[:port],...") as a NULL-terminated list for
 * image_pull_opts.registry.insecure; *out is NULL when unset. Free with rt_insecure_free. */
int rt_insecure_from_env(char ***out, struct bl_error *err);
void rt_insecure_free(char **list);

/* The backing file name stored in a qcow2 header: 1 and the name in out, 0 if the image
 * has none, negative on error (not qcow2, truncated, name longer than n-1). */
int rt_qcow2_backing_file(const char *path, char *out, size_t n, struct bl_error *err);

/* Removes blobs and bases no image record and no box disk needs. */
int rt_images_gc(boxlite_runtime *rt, struct gc_stats *st, struct bl_error *err);
/* A pull failed on a full disk (err): removes what it stored that no image needs, and says
 * so in err. Nothing for other failures (their layers are reused by the next attempt). */
void rt_images_after_failed_pull(boxlite_runtime *rt, struct bl_error *err);

#endif
