// SPDX-License-Identifier: Apache-2.0
/* The seccomp rules of the jail (seccomp_rules.c), for the build-time generator. */
#ifndef VMM_JAIL_SECCOMP_RULES_H
#define VMM_JAIL_SECCOMP_RULES_H

#include "vmm/jail/jail.h"

#include <seccomp.h>
#include <stdint.h>

/* Filters beyond the thread kinds (enum jail_thread_kind), in the same numbering. */
enum { JAIL_FILTER_QEMU = JAIL_KINDS, JAIL_FILTER_SUPERVISOR, JAIL_FILTERS };

/* The default action of filter `which` and its rules. */
uint32_t jail_seccomp_default(int which);
int jail_seccomp_rules(scmp_filter_ctx ctx, int which);

#endif
