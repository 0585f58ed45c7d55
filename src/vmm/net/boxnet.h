// SPDX-License-Identifier: Apache-2.0
/* The box's network as both engines build it from the per-box config: the libslirp stack
 * with the box's policy (network.allow_net, deny_net, allow_host), its port forwards, and a
 * log of refused destinations on the per-box process's stderr (the box's vmm.log). The KVM
 * engine puts the stack behind its virtio-net; the QEMU engine behind a socket (link.h). */
#ifndef VMM_NET_BOXNET_H
#define VMM_NET_BOXNET_H

#include "common/error.h"
#include "vmm/config.h"
#include "vmm/net/slirp.h"

/* host_ports: cfg->nports entries, filled with the host port each forward bound (the
 * configured one, or the one chosen for host port 0). */
int boxnet_new(struct slirp_net **out, const struct vmm_config *cfg, uint16_t *host_ports,
               struct bl_error *err);

#endif
