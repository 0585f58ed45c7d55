// component: proto
// SPDX-License-Identifier: Apache-2.0
/* IDENTITY bodies (docs/protocol.md) as the agent decodes them: whatever a hostile host-side
 * peer sends must decode to a valid host name and unicast MAC or be refused; nothing may
 * crash or read out of bounds. */
#include "proto/proto.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_identity id;
    struct bl_error e;
    if (proto_identity_decode(&id, data, size, &e) == 0) {
        if (strlen(id.hostname) > 64 || (id.mac[0] && proto_mac_parse(id.mac, NULL) < 0))
            __builtin_trap();
    }
    return 0;
}
