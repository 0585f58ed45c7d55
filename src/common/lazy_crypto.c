// SPDX-License-Identifier: Apache-2.0
/* libcrypto's table (lazy_crypto.h). */
#include "common/lazy_crypto.h"

#include <dlfcn.h>

LAZYLIB_DEFINE(crypto, LAZY_CRYPTO_FNS, "libcrypto.so.3")
