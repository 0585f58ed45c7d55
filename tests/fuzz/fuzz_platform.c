// component: runtime
// SPDX-License-Identifier: Apache-2.0
/* A box's platform ("linux/arm64"): from the CLI, the API and options JSON that boxlite
 * serve takes from remote clients. The canonical text must parse to the same platform. */
#include "runtime/platform.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct rt_platform p, q;
    struct bl_error e = {0};
    char text[64], again[64];
    if (rt_platform_parse(s, &p, text, sizeof text, &e) == 0) {
        if (rt_platform_parse(text, &q, again, sizeof again, &e) != 0 || strcmp(text, again) ||
            memcmp(&p, &q, sizeof p))
            abort();
        (void)rt_platform_foreign(&p);
    }
    free(s);
    return 0;
}
