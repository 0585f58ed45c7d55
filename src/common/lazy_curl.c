// SPDX-License-Identifier: Apache-2.0
/* libcurl's table (lazy_curl.h). */
#include "common/lazy_curl.h"

#include <dlfcn.h>

LAZYLIB_DEFINE(curl, LAZY_CURL_FNS, "libcurl.so.4")
