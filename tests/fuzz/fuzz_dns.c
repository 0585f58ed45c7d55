// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The DNS reply reader behind host-name rules (src/vmm/net/dns.c): whatever a resolver (or
 * anyone who can spoof one) sends the box. The input is the DNS message. */
#include "vmm/net/dns.h"

#include <stdlib.h>
#include <string.h>

static struct dns_reply r;

static void seen(void *arg, int family, const uint8_t *addr, uint32_t ttl)
{
    (void)addr;
    if (ttl & 0x80000000u || (family != 2 && family != 10))
        abort();
    ++*(unsigned *)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg = malloc(size ? size : 1);
    if (!msg)
        return 0;
    memcpy(msg, data, size);
    if (dns_reply_parse(msg, size, &r) == 0) {
        if (r.nanswers > DNS_MAX_ANSWERS || strlen(r.qname) > DNS_NAME_MAX)
            abort();
        unsigned n = 0;
        if (dns_reply_addresses(&r, seen, &n) != n || n > r.nanswers)
            abort();
    }
    free(msg);
    return 0;
}
