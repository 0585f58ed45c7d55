// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* Network rule parsing (src/vmm/net/rule.c): --allow-net/--deny-net RULE and --allow-host
 * PORT[/udp] as the library and the per-box config read them. A rule that parses must
 * format to text that parses back to the same rule. */
#include "vmm/net/rule.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct net_rule r, again;
    struct bl_error err = { 0 };
    if (net_rule_parse(text, &r, &err) == 0) {
        char out[NET_RULE_TEXT_MAX + 16];
        net_rule_format(&r, out, sizeof out);
        if (net_rule_parse(out, &again, &err) != 0 || memcmp(&r, &again, sizeof r) != 0)
            abort();
        uint8_t a[16] = { 0 };
        memcpy(a, r.addr, sizeof a);
        if (r.kind == NET_RULE_ADDR && !net_rule_covers(&r, r.family, a))
            abort();
        if (r.kind == NET_RULE_NAME && strlen(r.name) > NET_NAME_MAX)
            abort();
    } else if (!err.msg[0]) {
        abort(); /* a refusal always says why */
    }
    struct net_host_port h;
    if (net_host_port_parse(text, &h, &err) == 0 && h.port == 0)
        abort();
    free(text);
    return 0;
}
