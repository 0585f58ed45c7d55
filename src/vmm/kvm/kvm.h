// SPDX-License-Identifier: Apache-2.0
/* The KVM engine's additions to engine_ops (kvm_engine.c), for the per-box process. */
#ifndef VMM_KVM_H
#define VMM_KVM_H

#include <stddef.h>

struct engine;

/* The KVM capabilities the engine needs that kvm_fd (/dev/kvm) lacks: their names, comma
 * separated, into missing; returns how many. */
int engine_kvm_missing_caps(int kvm_fd, char *missing, size_t len);

#endif
