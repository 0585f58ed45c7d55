// SPDX-License-Identifier: Apache-2.0
/* libcrypto's table (lazy_crypto.h). */
#include "common/lazy_crypto.h"

#include <dlfcn.h>

static struct lazy_crypto table;

static bool fill(void *h)
{
    struct lazy_crypto *t = &table;
    LAZY_CRYPTO_FNS(LAZY_FILL)
    return true;
}

struct lazylib lazy_crypto_lib = {.soname = "libcrypto.so.3", .fill = fill};

const struct lazy_crypto *lazy_crypto(void)
{
    return lazylib_ready(&lazy_crypto_lib) ? &table : NULL;
}
