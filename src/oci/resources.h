// SPDX-License-Identifier: Apache-2.0
/* config.json's linux.resources and linux.cgroupsPath (runtime-spec config-linux.md
 * "Control groups"), and the same resources object as `update --resources FILE` reads it.
 * Parsing only: what a box makes of them is oci/cgroup.c's (docs/oci-runtime.md
 * "cgroups"). Both come from the caller, so every value is type-checked and bounded
 * before it reaches a cgroup file. */
#ifndef BOXLITE_OCI_RESOURCES_H
#define BOXLITE_OCI_RESOURCES_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCI_CPUSET_MAX 256 /* "0-3,8" lists; longer ones are refused */

/* The parts of LinuxResources this runtime applies; has_* says what was given. */
struct oci_resources {
    bool has_mem_limit, has_mem_reservation, has_mem_swap;
    int64_t mem_limit, mem_reservation, mem_swap; /* bytes, -1 = unlimited */
    bool has_cpu_shares, has_cpu_quota, has_cpu_period;
    uint64_t cpu_shares, cpu_period; /* period in µs */
    int64_t cpu_quota;               /* µs per period, -1 = unlimited */
    char cpuset_cpus[OCI_CPUSET_MAX], cpuset_mems[OCI_CPUSET_MAX]; /* "" = not given */
    bool has_pids_limit;
    int64_t pids_limit; /* <= 0: unlimited */
};

/* linux.resources (obj may be NULL or null: nothing given); field names the object in
 * errors ("linux.resources"). */
int oci_resources_from(json_t *obj, const char *field, struct oci_resources *r,
                       struct bl_error *err);
/* A resources document alone (update --resources FILE), len bytes. */
int oci_resources_parse(const char *json, size_t len, struct oci_resources *r,
                        struct bl_error *err);
/* Whether r gives anything at all. */
bool oci_resources_given(const struct oci_resources *r);
/* Copies what src gives over dst (update: the new values win, the rest stays). */
void oci_resources_merge(struct oci_resources *dst, const struct oci_resources *src);

/* The cgroup a container's processes go to, as a path inside a hierarchy: cgroupfs form
 * "/a/b" (absolute: from the hierarchy's root) or "a/b" (relative: under the caller's own
 * cgroup), or, systemd, "slice:prefix:name" laid out as systemd would lay it out
 * ("system.slice:docker:ID" -> "/system.slice/docker-ID.scope", "a-b.slice" nested as
 * "/a.slice/a-b.slice"). Empty: the container id under the caller's cgroup (runc's
 * default). ".." components are refused (they would leave the hierarchy). */
int oci_cgroup_path(const char *spec_path, bool systemd, const char *id, char *out,
                    size_t len, struct bl_error *err);

#endif
