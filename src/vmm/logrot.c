// SPDX-License-Identifier: Apache-2.0
/* Size-rotated log files: see logrot.h. */
#include "vmm/logrot.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct logrot {
    pthread_mutex_t lock;
    char *path;
    int fd;
    uint64_t size, max_bytes, dropped;
    unsigned files;
};

static int open_log(struct logrot *l, bool truncate)
{
    int fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0),
                  0600);
    if (fd < 0)
        return -errno;
    struct stat st;
    l->size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    l->fd = fd;
    return 0;
}

int logrot_open(struct logrot **out, const char *path, uint64_t max_bytes, unsigned files,
                struct bl_error *err)
{
    *out = NULL;
    if (max_bytes < LOGROT_MIN_MAX_BYTES || files < 1 || files > LOGROT_MAX_FILES)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "log %s: max size %llu (at least %u) or %u files (1-%u) out of range",
                      path, (unsigned long long)max_bytes, LOGROT_MIN_MAX_BYTES, files,
                      LOGROT_MAX_FILES);
    struct logrot *l = calloc(1, sizeof *l);
    if (!l || !(l->path = strdup(path))) {
        free(l);
        return bl_err(err, BOXLITE_ERR_NOMEM, "log %s: out of memory", path);
    }
    l->max_bytes = max_bytes;
    l->files = files;
    int rc = open_log(l, false);
    if (rc < 0) {
        free(l->path);
        free(l);
        return bl_errno(err, -rc, "open log %s", path);
    }
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return 0;
}

/* <path> -> <path>.1 -> ... -> <path>.<files-1>; the last one is replaced. */
static void rotate(struct logrot *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (l->files > 1) {
        size_t n = strlen(l->path) + 16;
        char from[n], to[n];
        for (unsigned i = l->files - 1; i >= 1; i--) {
            snprintf(to, n, "%s.%u", l->path, i);
            if (i == 1)
                snprintf(from, n, "%s", l->path);
            else
                snprintf(from, n, "%s.%u", l->path, i - 1);
            if (rename(from, to) < 0 && errno != ENOENT) {
                /* cannot move it aside: start the current file over rather than grow */
                break;
            }
        }
    }
    if (open_log(l, true) < 0)
        l->fd = -1; /* retried at the next write */
}

void logrot_write(struct logrot *l, const void *p, size_t n)
{
    if (!l)
        return;
    const char *b = p;
    pthread_mutex_lock(&l->lock);
    while (n > 0) {
        if (l->fd < 0 && open_log(l, false) < 0) {
            l->dropped += n;
            break;
        }
        if (l->size >= l->max_bytes) {
            rotate(l);
            continue;
        }
        size_t room = (size_t)(l->max_bytes - l->size);
        size_t k = n < room ? n : room;
        ssize_t w = write(l->fd, b, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            l->dropped += n; /* disk full or gone: the rest of this write is lost */
            break;
        }
        l->size += (uint64_t)w;
        b += w;
        n -= (size_t)w;
    }
    pthread_mutex_unlock(&l->lock);
}

uint64_t logrot_dropped(struct logrot *l)
{
    pthread_mutex_lock(&l->lock);
    uint64_t d = l->dropped;
    pthread_mutex_unlock(&l->lock);
    return d;
}

void logrot_close(struct logrot *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    pthread_mutex_destroy(&l->lock);
    free(l->path);
    free(l);
}
