// SPDX-License-Identifier: Apache-2.0
/* libmicrohttpd's table (lazy_mhd.h). */
#include "common/lazy_mhd.h"

#include <dlfcn.h>

LAZYLIB_DEFINE(mhd, LAZY_MHD_FNS, "libmicrohttpd.so.12")
