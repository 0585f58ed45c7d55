// SPDX-License-Identifier: Apache-2.0
/* Loading a library on its first use (lazylib.h). */
#include "common/lazylib.h"

#include "common/error.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lazylib_lock = PTHREAD_MUTEX_INITIALIZER;

bool lazylib_ready(struct lazylib *lib)
{
    int s = __atomic_load_n(&lib->state, __ATOMIC_ACQUIRE);
    if (s)
        return s > 0;
    pthread_mutex_lock(&lazylib_lock);
    s = lib->state;
    if (!s) {
        /* RTLD_LOCAL: the symbols are reached only through the table, never by name */
        void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = dlerror();
            snprintf(lib->why, sizeof lib->why, "%s", e ? e : lib->soname);
        } else if (!lib->fill(h)) {
            const char *e = dlerror();
            snprintf(lib->why, sizeof lib->why, "%s: %s", lib->soname, e ? e : "a symbol is missing");
        }
        /* the handle is kept for the process's life: the table points into it */
        s = lib->why[0] ? -1 : 1;
        __atomic_store_n(&lib->state, s, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&lazylib_lock);
    return s > 0;
}

const char *lazylib_why(const struct lazylib *lib)
{
    return lib->why;
}

int lazylib_null_err(struct lazylib *lib, struct bl_error *err)
{
    if (!lazylib_ready(lib))
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "%s cannot be loaded (install it): %s",
                      lib->soname, lib->why);
    return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
}
