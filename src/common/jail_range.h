// SPDX-License-Identifier: Apache-2.0
/* The host ids of a "wide" jail (src/vmm/jail/jail_int.h): a box sharing a container's root
 * file system runs in a user namespace of its own mapping 0..JAIL_RANGE-1 onto host ids
 * R..R+JAIL_RANGE-1, R >= JAIL_RANGE_BASE, and its binds are idmapped the same way. Shared
 * with boxlite-runtime, whose pod binds (oci/pod.c) must be idmapped as the jail's are. */
#ifndef BOXLITE_COMMON_JAIL_RANGE_H
#define BOXLITE_COMMON_JAIL_RANGE_H

#define JAIL_RANGE 65536u
#define JAIL_RANGE_BASE 0x80000000u /* above what distributions give out (systemd: unsafe) */
#define JAIL_RANGE_SLOTS 32767u     /* one range per jail uid modulo this, up to 2^32-65536 */

#endif
