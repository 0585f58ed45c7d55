// SPDX-License-Identifier: Apache-2.0
/* The public error surface: a thread-local code and message (boxlite_errmsg()). Internal
 * code fills a struct bl_error; the API boundary publishes it with api_return(). */
#ifndef RT_API_ERROR_H
#define RT_API_ERROR_H

#include "common/error.h"

/* Publishes err (or success when r >= 0) for the calling thread; returns the public code. */
int api_return(int r, const struct bl_error *err);
/* Sets what boxlite_last_notice() returns on the calling thread ("" clears it). */
void api_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Shorthand for a failure found at the API boundary itself. */
int api_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define API_CHECK_ARG(cond, what)                                                  \
    do {                                                                           \
        if (!(cond))                                                               \
            return api_fail(BOXLITE_ERR_INVALID, "%s: %s", __func__, what);        \
    } while (0)

#endif
