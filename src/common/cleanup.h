// SPDX-License-Identifier: Apache-2.0
/* Scope-bound cleanup (GCC/Clang cleanup attribute) so error paths stay straight.
 * Hand ownership over explicitly: `x->fd = fd; fd = -1;`, `p = steal_ptr(&buf)`. */
#ifndef BL_CLEANUP_H
#define BL_CLEANUP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p) { free(*(void **)p); }
static inline void cleanup_closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void cleanup_fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void cleanup_closedirp(DIR **d) { if (*d) closedir(*d); }

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclosep)))
#define cleanup_closedir __attribute__((cleanup(cleanup_closedirp)))

static inline void *steal_ptr(void *pp)
{
    void **p = (void **)pp, *v = *p;
    *p = NULL;
    return v;
}
static inline int steal_fd(int *fd)
{
    int v = *fd;
    *fd = -1;
    return v;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
