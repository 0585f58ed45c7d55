// SPDX-License-Identifier: Apache-2.0
/* The container's cgroup on the host (runtime-spec config-linux.md "Control groups"): the
 * relay and everything it starts (the per-box process, QEMU) live there, so that callers
 * find the container's usage where runc would put it (podman stats), the VMM is held to the
 * container's budget, and the freezer pauses the whole box. v1 (every mounted controller
 * hierarchy, and the unified one of a hybrid host, as runc joins them) or v2, detected.
 * What of linux.resources goes to the host and what sizes the box: docs/oci-runtime.md
 * "cgroups". */
#ifndef BOXLITE_OCI_CGROUP_H
#define BOXLITE_OCI_CGROUP_H

#include "common/error.h"
#include "oci/resources.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define CG_MAX_DIRS 16
/* What the VMM process takes beside the guest's RAM (QEMU, its TCG code cache, the per-box
 * process, the relay): the host limit is the guest's memory plus this, so a box using all
 * of its RAM is not killed by its own cgroup (docs/oci-runtime.md "cgroups"). The box's jail
 * allows QEMU the same (src/vmm/jail/cgroup.c, OVERHEAD_QEMU_MIB). */
#define CG_VMM_OVERHEAD_MIB 512
/* pids.limit holds in the guest (the container's process group there, guest/agent/
 * procgroup.c). On the host it counts the relay's, per-box process's and QEMU's threads
 * (QEMU aborts when it cannot start one, and its 9p pool grows to 64), so the host's
 * pids.max is never below this; above it, it is the limit, as runc's. */
#define CG_HOST_MIN_PIDS 256
/* The least RAM a box boots with; a smaller memory limit still gives the guest this. */
#define CG_BOX_MIN_MIB 128

struct cgroup {
    int version; /* 1 or 2 */
    size_t n;
    /* each hierarchy's folder of the container; ctrl: its v1 controllers ("memory",
     * "cpu,cpuacct"), "" for a unified (v2) hierarchy */
    char dir[CG_MAX_DIRS][PATH_MAX];
    char ctrl[CG_MAX_DIRS][64];
};

/* Resolves the container's cgroup (oci_cgroup_path under the caller's own cgroup), makes
 * its folders and applies r. Nothing made is left behind on failure. */
int cgroup_create(const char *spec_path, bool systemd, const char *id,
                  const struct oci_resources *r, struct cgroup *cg, struct bl_error *err);
/* Moves pid (0: the caller) into every folder of cg. */
int cgroup_join(const struct cgroup *cg, pid_t pid, struct bl_error *err);
/* Applies r's values (those given) to cg's files. */
int cgroup_apply(const struct cgroup *cg, const struct oci_resources *r, struct bl_error *err);
/* The record of cg in the container's state folder (<dir>/cgroup), and reading it back:
 * 1 found, 0 none (a container made without one), -1 unreadable. */
int cgroup_save(const struct cgroup *cg, const char *state_dir, struct bl_error *err);
int cgroup_load(const char *state_dir, struct cgroup *cg);
/* Freezes (or thaws) every process of the container and waits until the kernel says so. */
int cgroup_freeze(const struct cgroup *cg, bool frozen, struct bl_error *err);
bool cgroup_frozen(const struct cgroup *cg);
/* Thaws, kills what is left in it, removes the folders (delete). */
int cgroup_destroy(const struct cgroup *cg, struct bl_error *err);
/* What of r sizes the box: vCPUs from the CPU quota (or the cpuset's count), guest RAM from
 * the memory limit; 0 = not given (the library's default). */
void cgroup_box_size(const struct oci_resources *r, int *cpus, int *memory_mib);

#endif
