// SPDX-License-Identifier: Apache-2.0
/* The words of the host's cgroup files that both the jail (the box's own groups) and
 * boxlite-runtime (the container's cgroupsPath) read: a line of /proc/self/cgroup and the
 * comma-separated controller lists of its lines and of cgroup mounts. Written once. */
#ifndef BL_CGROUPFS_H
#define BL_CGROUPFS_H

#include <stdbool.h>

/* One line of /proc/self/cgroup, "ID:CONTROLLERS:PATH" (cgroup v2's is "0::PATH"), split
 * in place (its newline dropped): false when it is not such a line. */
bool cgroup_line_split(char *line, char **id, char **ctrls, char **path);

/* Whether the comma-separated list holds name as a whole item ("cpu,cpuacct" holds cpu,
 * not cpuac). */
bool csv_has(const char *list, const char *name);

#endif
