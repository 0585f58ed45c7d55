// component: agent
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the agent's reading of free page reporting's order from the kernel command line
 * (guest/agent/reporting.c): whatever /proc/cmdline holds, the answer is -1 or an order
 * Linux keeps free lists for (0..10). */
#include "../../guest/agent/agent.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    int order = agent_reporting_order_parse(text);
    if (order < -1 || order > 10)
        abort();
    free(text);
    return 0;
}
