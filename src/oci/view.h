// SPDX-License-Identifier: Apache-2.0
/* The container's view as config.json asks for it (runtime-spec config-linux.md "Masked
 * Paths", "Readonly Paths", "Sysctl", "Devices"): decoded and checked here, made by the
 * guest agent in the container before its first process (boxlite_process_security). */
#ifndef BOXLITE_OCI_VIEW_H
#define BOXLITE_OCI_VIEW_H

#include "boxlite.h"
#include "common/error.h"

#include <stddef.h>

struct json_t;

#define OCI_MAX_VIEW 256 /* entries of each list (the protocol's bound) */

struct oci_view {
    char **masked;   /* NULL-terminated, absolute, no ".." */
    char **readonly; /* NULL-terminated */
    char **sysctl;   /* NULL-terminated "name=value" */
    boxlite_device *devices;
    size_t ndevices;
};

/* Reads the four fields of a linux object (absent ones stay empty). */
int oci_view_from(struct json_t *linux, struct oci_view *v, struct bl_error *err);
void oci_view_free(struct oci_view *v);

#endif
