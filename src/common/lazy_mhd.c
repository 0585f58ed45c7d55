// SPDX-License-Identifier: Apache-2.0
/* libmhd's table (lazy_mhd.h). */
#include "common/lazy_mhd.h"

#include <dlfcn.h>

static struct lazy_mhd table;

static bool fill(void *h)
{
    struct lazy_mhd *t = &table;
    LAZY_MHD_FNS(LAZY_FILL)
    return true;
}

struct lazylib lazy_mhd_lib = {.soname = "libmicrohttpd.so.12", .fill = fill};

const struct lazy_mhd *lazy_mhd(void)
{
    return lazylib_ready(&lazy_mhd_lib) ? &table : NULL;
}
