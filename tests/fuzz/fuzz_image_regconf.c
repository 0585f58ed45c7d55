// component: image
// SPDX-License-Identifier: Apache-2.0
/* The registries settings (regconf.h) and a registry's Retry-After header on arbitrary
 * bytes: refused or accepted, never a crash or a leak. The first byte picks the parser. */
#include "image/regconf.h"
#include "image/registry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] & 1) {
        registry_retry_after_ms(s, 1700000000);
    } else {
        struct regconf c;
        struct bl_error e = {0};
        if (regconf_parse(&c, s, size - 1, &e) == 0) {
            for (size_t i = 0; i < c.n_search; i++)
                regconf_find(&c, c.search[i]);
            regconf_free(&c);
        }
    }
    free(s);
    return 0;
}
