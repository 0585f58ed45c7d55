// SPDX-License-Identifier: Apache-2.0
/* Internal errors, crun's idiom: functions return a negative boxlite_code on failure and
 * fill a struct bl_error with a message; callers add context on the way up
 * ("attach disk foo: open /x: No such file or directory"). Nothing here prints. */
#ifndef BL_ERROR_H
#define BL_ERROR_H

#include "boxlite.h"

#include <stddef.h>

#define BL_ERRMSG_MAX 1024

struct bl_error {
    int code;   /* boxlite_code, positive; 0 when no error */
    int errnum; /* errno behind it, or 0 */
    char msg[BL_ERRMSG_MAX];
};

/* Sets the error and returns -code, so `return bl_err(e, ...)` reads naturally.
 * e may be NULL (the error is then only returned). */
int bl_err(struct bl_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(errnum)"; code is BOXLITE_ERR_IO unless errnum says
 * otherwise (ENOMEM -> NOMEM, ENOENT -> NOT_FOUND, EEXIST -> EXISTS). */
int bl_errno(struct bl_error *e, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Puts "context: " in front of the current message; returns -e->code. */
int bl_err_prefix(struct bl_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bl_err_clear(struct bl_error *e);

#endif
