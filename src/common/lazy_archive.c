// SPDX-License-Identifier: Apache-2.0
/* libarchive's table (lazy_archive.h). */
#include "common/lazy_archive.h"

#include <dlfcn.h>

static struct lazy_archive table;

static bool fill(void *h)
{
    struct lazy_archive *t = &table;
    LAZY_ARCHIVE_FNS(LAZY_FILL)
    return true;
}

struct lazylib lazy_archive_lib = {.soname = "libarchive.so.13", .fill = fill};

const struct lazy_archive *lazy_archive(void)
{
    return lazylib_ready(&lazy_archive_lib) ? &table : NULL;
}
