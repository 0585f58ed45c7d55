// SPDX-License-Identifier: Apache-2.0
/* libcurl's table (lazy_curl.h). */
#include "common/lazy_curl.h"

#include <dlfcn.h>

static struct lazy_curl table;

static bool fill(void *h)
{
    struct lazy_curl *t = &table;
    LAZY_CURL_FNS(LAZY_FILL)
    return true;
}

struct lazylib lazy_curl_lib = {.soname = "libcurl.so.4", .fill = fill};

const struct lazy_curl *lazy_curl(void)
{
    return lazylib_ready(&lazy_curl_lib) ? &table : NULL;
}
