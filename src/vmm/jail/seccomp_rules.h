// SPDX-License-Identifier: Apache-2.0
/* The seccomp rules of the jail (seccomp_rules.c), for the build-time generator. */
#ifndef VMM_JAIL_SECCOMP_RULES_H
#define VMM_JAIL_SECCOMP_RULES_H

#include "vmm/jail/jail.h"

#include <seccomp.h>
#include <stdint.h>

/* Filters beyond the thread kinds (enum jail_thread_kind), in the same numbering. */
enum { JAIL_FILTER_QEMU = JAIL_KINDS, JAIL_FILTER_SUPERVISOR, JAIL_FILTER_PRIVATE_RAM,
       JAIL_FILTERS };

/* The default action of filter `which` and its rules. */
uint32_t jail_seccomp_default(int which);
int jail_seccomp_rules(scmp_filter_ctx ctx, int which);
/* The architecture the filters are for (an SCMP_ARCH_* value, 0 = the native one): a name
 * that architecture lacks is left out (aarch64 has no open, rename, poll, epoll_wait...). */
void jail_seccomp_target(uint32_t arch);

#endif
