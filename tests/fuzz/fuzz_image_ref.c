// component: image
// SPDX-License-Identifier: Apache-2.0
/* Image references and WWW-Authenticate challenges: both come from users or the network. */
#include "image/ref.h"
#include "image/registry.h"

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
    struct image_ref r;
    struct bl_error e = {0};
    if (image_ref_parse(&r, s, &e) == 0) {
        char *full = image_ref_string(&r);
        /* The normalised form must parse to the same thing. */
        struct image_ref r2;
        if (!full || image_ref_parse(&r2, full, &e) != 0)
            abort();
        char *again = image_ref_string(&r2);
        if (!again || strcmp(full, again) != 0)
            abort();
        free(again);
        image_ref_free(&r2);
        free(full);
        image_ref_free(&r);
    }
    struct auth_challenge c;
    if (auth_challenge_parse(&c, s, &e) == 0)
        auth_challenge_free(&c);
    free(s);
    return 0;
}
