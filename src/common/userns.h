// SPDX-License-Identifier: Apache-2.0
/* User namespaces made by root for idmappings (user_namespaces(7), uid_map;
 * Documentation/filesystems/idmappings.rst): the jail's binds and its wide VMM
 * (src/vmm/jail), and boxlite-runtime's binds into a box (oci/boxns.c). */
#ifndef BOXLITE_COMMON_USERNS_H
#define BOXLITE_COMMON_USERNS_H

#include <stdint.h>
#include <sys/types.h>

/* Writes text to /proc/<pid>/<file> (pid 0: /proc/self) in one write. 0 or -errno. */
int proc_write(pid_t pid, const char *file, const char *text);

/* A user namespace, owned by the caller, in which inner..inner+count-1 are host
 * outer..outer+count-1 (uids; gids likewise from ginner/gouter). A child is cloned into it,
 * its maps written, and a descriptor of the namespace returned; the child is reaped before
 * the return. -1 with errno on failure. */
int userns_idmap_fd(uid_t inner, uid_t outer, gid_t ginner, gid_t gouter, uint32_t count);

#endif
