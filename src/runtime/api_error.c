// SPDX-License-Identifier: Apache-2.0
#include "runtime/api_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local int last_code;
static _Thread_local char last_msg[BL_ERRMSG_MAX];
static _Thread_local char last_notice[2048];

int api_return(int r, const struct bl_error *err)
{
    if (r >= 0) {
        last_code = 0;
        last_msg[0] = 0;
        return BOXLITE_OK;
    }
    int code = err && err->code > 0 ? err->code : -r;
    last_code = code;
    if (err && err->msg[0])
        snprintf(last_msg, sizeof last_msg, "%s", err->msg);
    else
        snprintf(last_msg, sizeof last_msg, "%s", boxlite_code_str(code));
    return code;
}

int api_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    last_code = code;
    return code;
}

BOXLITE_API const char *boxlite_errmsg(void) { return last_msg; }
BOXLITE_API int boxlite_errcode(void) { return last_code; }
BOXLITE_API void boxlite_free(void *p) { free(p); }

void api_notice(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_notice, sizeof last_notice, fmt, ap);
    va_end(ap);
}

BOXLITE_API const char *boxlite_last_notice(void) { return last_notice; }
