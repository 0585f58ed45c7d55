// component: agent
// SPDX-License-Identifier: Apache-2.0
/* A fork's /etc/hosts rewrite (guest/agent/identity.c) over any file the container left:
 * the first byte picks the old name's length, the rest is the file. Whatever comes out fits
 * the buffer, and replacing a name by itself changes nothing. */
#include "../../guest/agent/agent.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t k = data[0] % 16;
    if (k > size - 1)
        k = size - 1;
    char old[17];
    memcpy(old, data + 1, k);
    old[k] = 0;
    const char *in = (const char *)data + 1 + k;
    size_t n = size - 1 - k;
    static char out[4096], same[4096];
    long m = identity_hosts_rename(in, n, old, "a-new-host-name", out, sizeof out);
    if (m > (long)sizeof out)
        abort();
    long s = identity_hosts_rename(in, n, old, old, same, sizeof same);
    if (strlen(old) == k && n <= sizeof same && (s != (long)n || memcmp(same, in, n) != 0))
        abort();
    return 0;
}
