// SPDX-License-Identifier: Apache-2.0
/* Size-rotated log files: see logrot.h. */
#include "vmm/logrot.h"

#include "common/clock.h"
#include "common/logindex.h"

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
    /* The time index (common/logindex.h), once logrot_index asked for it. */
    bool indexed;
    int ifd;         /* <path>.idx, or -1 (retried at the next record) */
    uint64_t isize;  /* its size, bounded by max_bytes like the log's */
    bool date_next;  /* the next byte written gets a record (a line start, a new file) */
    bool have_rec;
    uint64_t last_rec; /* offset of the last record, which must grow strictly */
};

static void name_n(const struct logrot *l, unsigned i, bool idx, char *out, size_t n)
{
    if (i == 0)
        snprintf(out, n, "%s%s", l->path, idx ? LOGIDX_SUFFIX : "");
    else
        snprintf(out, n, "%s.%u%s", l->path, i, idx ? LOGIDX_SUFFIX : "");
}

/* Opens <path>.idx for the log file now open: kept and appended to when its header names
 * this file (an earlier run of the same box) and !fresh, else started over. A log
 * truncated in place (files = 1) keeps its inode: its index is started over by the
 * rotation (fresh). */
static void open_index(struct logrot *l, bool fresh)
{
    l->ifd = -1;
    l->have_rec = false;
    l->date_next = true;
    struct stat st;
    if (l->fd < 0 || fstat(l->fd, &st) != 0)
        return;
    size_t n = strlen(l->path) + sizeof LOGIDX_SUFFIX;
    char p[n];
    name_n(l, 0, true, p, n);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    uint8_t h[LOGIDX_HDR_SIZE];
    struct stat ist;
    ssize_t got = read(fd, h, sizeof h);
    if (!fresh && got == (ssize_t)sizeof h && logidx_header_ok(h, sizeof h, (uint64_t)st.st_ino) &&
        fstat(fd, &ist) == 0) {
        /* a torn last record (the disk filled) is cut off */
        uint64_t whole = LOGIDX_HDR_SIZE + ((uint64_t)ist.st_size - LOGIDX_HDR_SIZE) /
                                               LOGIDX_REC_SIZE * LOGIDX_REC_SIZE;
        if ((whole == (uint64_t)ist.st_size || ftruncate(fd, (off_t)whole) == 0) &&
            lseek(fd, (off_t)whole, SEEK_SET) == (off_t)whole) {
            l->ifd = fd;
            l->isize = whole;
            l->have_rec = whole > LOGIDX_HDR_SIZE;
            l->last_rec = 0;
            if (l->have_rec) {
                uint8_t r[LOGIDX_REC_SIZE];
                int64_t ns;
                if (lseek(fd, (off_t)(whole - LOGIDX_REC_SIZE), SEEK_SET) < 0 ||
                    read(fd, r, sizeof r) != (ssize_t)sizeof r) {
                    close(fd);
                    l->ifd = -1;
                    return;
                }
                logidx_record_get(r, &l->last_rec, &ns);
            }
            return;
        }
    }
    logidx_header(h, (uint64_t)st.st_ino);
    if (ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 &&
        write(fd, h, sizeof h) == (ssize_t)sizeof h) {
        l->ifd = fd;
        l->isize = LOGIDX_HDR_SIZE;
        return;
    }
    close(fd);
}

/* The record for the byte about to be written at offset off (before the byte: see
 * logindex.h). A failing disk loses the record, never the log's bytes. */
static void date(struct logrot *l, uint64_t off, int64_t ns)
{
    l->date_next = false;
    if (l->have_rec && off <= l->last_rec)
        return;
    if (l->ifd < 0)
        return;
    uint8_t r[LOGIDX_REC_SIZE];
    logidx_record(r, off, ns);
    if (write(l->ifd, r, sizeof r) == (ssize_t)sizeof r) {
        l->isize += LOGIDX_REC_SIZE;
        l->have_rec = true;
        l->last_rec = off;
    }
}

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
    l->ifd = -1;
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
    if (l->ifd >= 0)
        close(l->ifd);
    l->ifd = -1;
    if (l->files > 1) {
        size_t n = strlen(l->path) + 16;
        char from[n], to[n];
        for (unsigned i = l->files - 1; i >= 1; i--) {
            name_n(l, i, false, to, n);
            name_n(l, i - 1, false, from, n);
            if (rename(from, to) < 0 && errno != ENOENT) {
                /* cannot move it aside: start the current file over rather than grow */
                break;
            }
            /* the index follows its log (the reader matches them by inode anyway) */
            if (l->indexed) {
                name_n(l, i, true, to, n);
                name_n(l, i - 1, true, from, n);
                rename(from, to);
            }
        }
    }
    if (open_log(l, true) < 0)
        l->fd = -1; /* retried at the next write */
    else if (l->indexed)
        open_index(l, true);
}

void logrot_write(struct logrot *l, const void *p, size_t n)
{
    if (!l)
        return;
    const char *b = p;
    pthread_mutex_lock(&l->lock);
    /* one time for the whole chunk: it arrived at once */
    int64_t now = l->indexed ? (int64_t)wall_ns() : 0;
    while (n > 0) {
        if (l->fd < 0) {
            if (open_log(l, false) < 0) {
                l->dropped += n;
                break;
            }
            if (l->indexed)
                open_index(l, false);
        }
        /* The index is bounded like its log: a guest printing empty lines (a record per
         * byte at worst) rotates sooner instead of growing the disk 16 times the cap. */
        if (l->size >= l->max_bytes ||
            (l->indexed && l->isize + LOGIDX_REC_SIZE > l->max_bytes && l->size > 0)) {
            rotate(l);
            continue;
        }
        size_t room = (size_t)(l->max_bytes - l->size);
        size_t k = n < room ? n : room;
        if (l->indexed) {
            /* the first line start in this piece, if any, is dated before it is written */
            const char *nl;
            if (l->date_next)
                date(l, l->size, now);
            else if ((nl = memchr(b, '\n', k)) && nl + 1 < b + k)
                date(l, l->size + (uint64_t)(nl + 1 - b), now);
        }
        ssize_t w = write(l->fd, b, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            l->dropped += n; /* disk full or gone: the rest of this write is lost */
            break;
        }
        l->size += (uint64_t)w;
        if (b[w - 1] == '\n')
            l->date_next = true;
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

int logrot_index(struct logrot *l)
{
    pthread_mutex_lock(&l->lock);
    l->indexed = true;
    if (l->fd >= 0)
        open_index(l, false);
    int ok = l->ifd >= 0 ? 0 : -1;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

void logrot_close(struct logrot *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    if (l->ifd >= 0)
        close(l->ifd);
    pthread_mutex_destroy(&l->lock);
    free(l->path);
    free(l);
}
