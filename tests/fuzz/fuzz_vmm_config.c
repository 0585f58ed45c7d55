// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The per-box process's config parser on arbitrary bytes: it must refuse or accept
 * without crashing or leaking. */
#include "vmm/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct vmm_config c;
    struct bl_error e = { 0 };
    if (vmm_config_parse(&c, s, &e) == 0)
        vmm_config_free(&c);
    free(s);
    return 0;
}
