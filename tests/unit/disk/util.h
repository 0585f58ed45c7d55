// SPDX-License-Identifier: Apache-2.0
/* Helpers shared by the disk unit tests: running qemu-img (the oracle), patterns, paths. */
#ifndef TEST_DISK_UTIL_H
#define TEST_DISK_UTIL_H

#include "harness/harness.h"
#include "disk/disk.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit status sh_out does not report (set around calls where it is expected). */
static int sh_quiet_rc = -1;

/* Runs a shell command; returns its exit status and keeps its output in out (if given). */
static inline int sh_out(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int sh_out(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    char sink[4096];
    if (!out)
        out = sink, outlen = sizeof sink;
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = 0;
    while (fread(sink, 1, sizeof sink, p) > 0)
        ;
    int st = pclose(p);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (rc != 0 && rc != sh_quiet_rc)
        printf("#   $ %s\n#   -> exit %d: %.300s\n", cmd, rc, out);
    return rc;
}
#define sh(...) sh_out(NULL, 0, __VA_ARGS__)

static inline void need_qemu_img(void)
{
    if (access("/usr/bin/qemu-img", X_OK) != 0)
        harness_need("qemu-img (qemu-utils) is not installed");
}

/* qemu-img check: 0 = clean, 3 = leaked clusters only (not an error), else corruption. */
static inline int qcheck(const char *path)
{
    char out[4096];
    int rc = sh_out(out, sizeof out, "qemu-img check -f qcow2 '%s'", path);
    return rc;
}

/* After a crash: no corruption, leaks allowed (and not printed). */
static inline int qcheck_no_corruption(const char *path)
{
    sh_quiet_rc = 3;
    int rc = qcheck(path);
    sh_quiet_rc = -1;
    return rc == 0 || rc == 3;
}

static inline char *tpath(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 512, "%s/%s", harness_tmpdir(), name);
    return b;
}

/* A deterministic pattern: every byte depends on seed and absolute position. */
static inline void pattern(void *buf, size_t len, uint64_t off, uint32_t seed)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        uint64_t x = (off + i) * 0x9e3779b97f4a7c15ull + seed;
        p[i] = (uint8_t)(x >> 56) ^ (uint8_t)((off + i) >> 9);
    }
}

static inline uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* Writes buf to both the disk under test and a raw mirror file. */
static inline int write_both(struct disk *d, int mirror, const void *buf, uint64_t off,
                             size_t len)
{
    struct bl_error err = {0};
    if (disk_write(d, buf, off, len, &err) < 0) {
        printf("#   disk_write %llu+%zu: %s\n", (unsigned long long)off, len, err.msg);
        return -1;
    }
    return pwrite(mirror, buf, len, (off_t)off) == (ssize_t)len ? 0 : -1;
}

/* Compares the whole disk with the mirror file through our read path. */
static inline int same_as_mirror(struct disk *d, int mirror)
{
    size_t chunk = 1 << 20;
    uint8_t *a = malloc(chunk), *b = malloc(chunk);
    int rc = 0;
    for (uint64_t off = 0; off < d->size && rc == 0; off += chunk) {
        size_t n = d->size - off < chunk ? (size_t)(d->size - off) : chunk;
        struct bl_error err = {0};
        if (disk_read(d, a, off, n, &err) < 0) {
            printf("#   disk_read %llu: %s\n", (unsigned long long)off, err.msg);
            rc = -1;
            break;
        }
        ssize_t r = pread(mirror, b, n, (off_t)off);
        if (r < 0)
            r = 0;
        memset(b + r, 0, n - (size_t)r);
        for (size_t i = 0; i < n; i++) {
            if (a[i] != b[i]) {
                printf("#   first difference at %llu: %02x != %02x\n",
                       (unsigned long long)(off + i), a[i], b[i]);
                rc = -1;
                break;
            }
        }
    }
    free(a);
    free(b);
    return rc;
}

#endif
