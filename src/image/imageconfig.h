// SPDX-License-Identifier: Apache-2.0
/* The image configuration (OCI image-spec config.md; Docker's is the same shape): the
 * defaults a box starts with. Arrays are NULL-terminated; absent fields are NULL. */
#ifndef IMAGE_IMAGECONFIG_H
#define IMAGE_IMAGECONFIG_H

#include "common/error.h"

#include <stddef.h>

struct image_config {
    char *os, *arch, *variant;
    char **entrypoint;
    char **cmd;
    char **env;           /* "KEY=value" */
    char *working_dir;
    char *user;           /* "uid[:gid]" or a name, as the image says */
    char **exposed_ports; /* "80/tcp" */
    char **diff_ids;      /* rootfs.diff_ids, uncompressed layer digests */
    size_t n_diff_ids;
    /* Healthcheck (Docker's image config; not in the OCI spec): test is ["CMD", args...],
     * ["CMD-SHELL", command] or ["NONE"]; durations in nanoseconds, 0 = the default. */
    char **health_test;
    long long health_interval_ns, health_timeout_ns, health_start_period_ns;
    long long health_retries;
};

int image_config_parse(struct image_config *out, const char *json, size_t len,
                       struct bl_error *err);
void image_config_free(struct image_config *c);

#endif
