// SPDX-License-Identifier: Apache-2.0
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int code_of_errno(int errnum)
{
    switch (errnum) {
    case ENOMEM: return BOXLITE_ERR_NOMEM;
    case ENOENT: return BOXLITE_ERR_NOT_FOUND;
    case EEXIST: return BOXLITE_ERR_EXISTS;
    case EINVAL: return BOXLITE_ERR_INVALID;
    /* a path that cannot be what the caller asked (too long, a loop of links) */
    case ENAMETOOLONG:
    case ELOOP: return BOXLITE_ERR_INVALID;
    /* a path that is not what the operation needs now: a folder copied onto a file, a
     * file where a folder is wanted, a folder not empty, a read-only file system. The
     * caller's to resolve (a box's copy reports its guest errno this way: a server answers
     * 409, not 500), unlike a failing system call (IO). */
    case ENOTDIR:
    case EISDIR:
    case ENOTEMPTY:
    case EROFS: return BOXLITE_ERR_STATE;
    case ETIMEDOUT: return BOXLITE_ERR_TIMEOUT;
    default: return BOXLITE_ERR_IO;
    }
}

static int vset(struct bl_error *e, int code, int errnum, const char *fmt, va_list ap)
{
    if (code <= 0)
        code = BOXLITE_ERR_INTERNAL;
    if (!e)
        return -code;
    e->code = code;
    e->errnum = errnum;
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    if (n < 0)
        n = 0;
    if (errnum && (size_t)n < sizeof e->msg)
        snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", strerror(errnum));
    return -code;
}

int bl_err(struct bl_error *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vset(e, code, 0, fmt, ap);
    va_end(ap);
    return r;
}

int bl_errno(struct bl_error *e, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vset(e, code_of_errno(errnum), errnum, fmt, ap);
    va_end(ap);
    return r;
}

int bl_err_prefix(struct bl_error *e, const char *fmt, ...)
{
    if (!e)
        return -BOXLITE_ERR_INTERNAL;
    char prefix[BL_ERRMSG_MAX], old[BL_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
    if (e->code <= 0)
        e->code = BOXLITE_ERR_INTERNAL;
    return -e->code;
}

void bl_err_clear(struct bl_error *e)
{
    if (!e)
        return;
    e->code = 0;
    e->errnum = 0;
    e->msg[0] = 0;
}
