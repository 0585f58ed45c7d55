// SPDX-License-Identifier: Apache-2.0
#include "boxlite.h"

BOXLITE_API const char *boxlite_version(void) { return BOXLITE_VERSION; }

BOXLITE_API int boxlite_version_number(void) { return BOXLITE_VERSION_NUMBER; }

BOXLITE_API const char *boxlite_code_str(int code)
{
    switch (code) {
    case BOXLITE_OK: return "ok";
    case BOXLITE_ERR_INVALID: return "invalid argument";
    case BOXLITE_ERR_NOT_FOUND: return "not found";
    case BOXLITE_ERR_EXISTS: return "already exists";
    case BOXLITE_ERR_STATE: return "wrong state";
    case BOXLITE_ERR_IO: return "I/O error";
    case BOXLITE_ERR_NOMEM: return "out of memory";
    case BOXLITE_ERR_ENGINE: return "engine error";
    case BOXLITE_ERR_TIMEOUT: return "timed out";
    case BOXLITE_ERR_IMAGE: return "image error";
    case BOXLITE_ERR_AUTH: return "authentication failed";
    case BOXLITE_ERR_NETWORK: return "network error";
    case BOXLITE_ERR_PROTOCOL: return "protocol error";
    case BOXLITE_ERR_UNSUPPORTED: return "unsupported";
    case BOXLITE_ERR_INTERNAL: return "internal error";
    case BOXLITE_ERR_CANCELLED: return "cancelled";
    default: return "unknown error";
    }
}
