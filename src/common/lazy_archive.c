// SPDX-License-Identifier: Apache-2.0
/* libarchive's table (lazy_archive.h). */
#include "common/lazy_archive.h"

#include <dlfcn.h>

LAZYLIB_DEFINE(archive, LAZY_ARCHIVE_FNS, "libarchive.so.13")
