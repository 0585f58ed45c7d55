// SPDX-License-Identifier: Apache-2.0
/* Libraries loaded on their first use instead of at every process start (dlopen).
 *
 * libcurl (registries, boxlite --url), libarchive (image layers, export and import) and
 * libmicrohttpd (boxlite serve) bring 40 of the CLI's 50 shared objects with them (GnuTLS,
 * Kerberos, LDAP, ICU, libxml2...). Linked as DT_NEEDED, every `boxlite exec` mapped and
 * relocated them all: about 15 of its 37 ms of CPU on a host, and in the lab's nested TCG,
 * where user code runs an order of magnitude slower, most of an exec's floor. An exec, a
 * start, a pause or a resume calls none of them.
 *
 * Each library has a header (lazy_curl.h, lazy_archive.h, lazy_mhd.h) that includes the
 * library's own header, then redefines each function the project calls as a macro that
 * calls through a table of pointers (typed by __typeof__ of the real declaration, so calls
 * are checked as before and variadic ones stay variadic). The first call loads the library;
 * if it cannot be loaded, each function returns what it returns on failure (NULL, an error
 * code), so the callers' existing error paths report it. */
#ifndef BOXLITE_COMMON_LAZYLIB_H
#define BOXLITE_COMMON_LAZYLIB_H

#include <stdbool.h>

struct bl_error;

struct lazylib {
    const char *soname;   /* e.g. libcurl.so.4: the name a DT_NEEDED entry would have */
    int state;            /* 0 not tried, 1 loaded, -1 failed (atomic) */
    char why[160];        /* dlerror()'s text when it failed */
    /* Fills the table from the handle (dlsym); false if a symbol is missing. */
    bool (*fill)(void *handle);
};

/* True once lib is loaded and its table filled; loads it on the first call (thread-safe,
 * tried once per process). */
bool lazylib_ready(struct lazylib *lib);

/* Why lib could not be loaded ("" if it was, or was not tried). */
const char *lazylib_why(const struct lazylib *lib);

/* The error for a library constructor (curl_easy_init, archive_read_new...) that gave NULL:
 * BOXLITE_ERR_UNSUPPORTED naming the library and why it could not be loaded, or, when it
 * was loaded, BOXLITE_ERR_NOMEM "out of memory". Returns -err->code. */
int lazylib_null_err(struct lazylib *lib, struct bl_error *err);

/* Calls fn from the table get() returns, or evaluates to fallback when the library cannot be
 * loaded. get() is cheap after the first call (one atomic load). */
#define LAZY_CALL(get, fn, fallback, ...) (get() ? get()->fn(__VA_ARGS__) : (fallback))

/* A library's table from its list FNS of X(function): struct lazy_NAME, lazy_NAME_lib and
 * lazy_NAME(), which gives the table or NULL when the library cannot be loaded
 * (lazylib_why(&lazy_NAME_lib) says why). DECLARE in its header, DEFINE in one .c file
 * (which includes <dlfcn.h>). */
#define LAZY_MEMBER(n) __typeof__(n) *n;
#define LAZY_FILL(n)                                    \
    if (!(t->n = (__typeof__(t->n))dlsym(h, #n)))       \
        return false;
#define LAZYLIB_DECLARE(name, FNS)                      \
    struct lazy_##name {                                \
        FNS(LAZY_MEMBER)                                \
    };                                                  \
    extern struct lazylib lazy_##name##_lib;            \
    const struct lazy_##name *lazy_##name(void);
#define LAZYLIB_DEFINE(name, FNS, so)                                                 \
    static struct lazy_##name lazy_##name##_table;                                    \
    static bool lazy_##name##_fill(void *h)                                           \
    {                                                                                 \
        struct lazy_##name *t = &lazy_##name##_table;                                 \
        FNS(LAZY_FILL)                                                                \
        return true;                                                                  \
    }                                                                                 \
    struct lazylib lazy_##name##_lib = {.soname = so, .fill = lazy_##name##_fill};    \
    const struct lazy_##name *lazy_##name(void)                                       \
    {                                                                                 \
        return lazylib_ready(&lazy_##name##_lib) ? &lazy_##name##_table : NULL;       \
    }

#endif
