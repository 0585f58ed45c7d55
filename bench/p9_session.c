// SPDX-License-Identifier: Apache-2.0
/* What keeping a guest's 9p volumes mounted across a pause costs instead of a remount
 * (src/vmm/fs/p9_session.c): a session of FIDS fids (files in a tree 4 directories deep,
 * every other one open, as a guest with a warm dentry cache holds them) saved, and
 * restored into a new server on the same folder. Prints "figure: value unit" lines.
 *   p9_session DIR [FIDS]   (a scratch directory on the file system to measure) */
#include "common/clock.h"
#include "vmm/fs/p9.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint8_t reply[1 << 16];

/* One request built from a format of little-endian fields: '4' u32, '8' u64, 's' string. */
static int rpc(struct p9_server *s, uint8_t type, const char *fmt, ...)
{
    uint8_t b[1024];
    size_t n = 7;
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        uint64_t v = 0;
        const char *str = NULL;
        unsigned w = 0;
        if (*f == 's') {
            str = va_arg(ap, const char *);
            v = strlen(str);
            w = 2;
        } else {
            w = *f == '8' ? 8 : *f == '2' ? 2 : 4;
            v = w == 8 ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
        }
        for (unsigned i = 0; i < w; i++)
            b[n++] = (uint8_t)(v >> (8 * i));
        if (str) {
            memcpy(b + n, str, strlen(str));
            n += strlen(str);
        }
    }
    va_end(ap);
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(n >> (8 * i));
    b[4] = type;
    b[5] = b[6] = 0;
    size_t r = p9_handle(s, b, n, reply, sizeof reply);
    return r >= 7 ? reply[4] : -1;
}

static void die(const char *what)
{
    fprintf(stderr, "p9_session: %s\n", what);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: p9_session DIR [FIDS]");
    unsigned nfids = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
    char path[4200];
    /* d0..d9/e0..e9/f0..f9/g0..g9/file<k>: 10000 leaf directories, one file each */
    for (unsigned i = 0; i < nfids; i++) {
        unsigned k = i % 10000;
        int n = snprintf(path, sizeof path, "%s/d%u", argv[1], k / 1000);
        mkdir(path, 0755);
        n += snprintf(path + n, sizeof path - (size_t)n, "/e%u", k / 100 % 10);
        mkdir(path, 0755);
        n += snprintf(path + n, sizeof path - (size_t)n, "/f%u", k / 10 % 10);
        mkdir(path, 0755);
        n += snprintf(path + n, sizeof path - (size_t)n, "/g%u", k % 10);
        mkdir(path, 0755);
        snprintf(path + n, sizeof path - (size_t)n, "/file%u", i);
        FILE *f = fopen(path, "w");
        if (!f)
            die("cannot write the tree");
        fputs("x", f);
        fclose(f);
    }
    struct p9_server *s = NULL;
    if (p9_server_new(&s, argv[1], false, 65536, NULL) < 0)
        die("p9_server_new");
    if (rpc(s, P9_TVERSION, "4s", 65536u, "9P2000.L") != P9_RVERSION ||
        rpc(s, P9_TATTACH, "44ss4", 0u, P9_NOFID, "root", "", 0u) != P9_RATTACH)
        die("session");
    for (unsigned i = 0; i < nfids; i++) {
        unsigned k = i % 10000;
        char d[4][8], file[24];
        snprintf(d[0], 8, "d%u", k / 1000);
        snprintf(d[1], 8, "e%u", k / 100 % 10);
        snprintf(d[2], 8, "f%u", k / 10 % 10);
        snprintf(d[3], 8, "g%u", k % 10);
        snprintf(file, sizeof file, "file%u", i);
        if (rpc(s, P9_TWALK, "442sssss", 0u, i + 1, 5u, d[0], d[1], d[2], d[3], file) != P9_RWALK)
            die("walk");
        if (i % 2 && rpc(s, P9_TLOPEN, "44", i + 1, 2u) != P9_RLOPEN)
            die("open");
    }
    uint8_t *blob = NULL;
    size_t len = 0;
    double t0 = mono_ms_f();
    if (p9_session_save(s, &blob, &len, NULL) < 0)
        die("save");
    double t1 = mono_ms_f();
    p9_server_free(s);
    if (p9_server_new(&s, argv[1], false, 65536, NULL) < 0)
        die("p9_server_new");
    double t2 = mono_ms_f();
    struct bl_error err = { 0 };
    if (p9_session_restore(s, blob, len, &err) < 0)
        die(err.msg);
    double t3 = mono_ms_f();
    if (rpc(s, P9_TREAD, "484", nfids, 0ull, 1u) != P9_RREAD)
        die("read on a restored fid");
    printf("p9 session fids: %zu\n", p9_server_nfids(s));
    printf("p9 session saved size: %.1f KiB\n", (double)len / 1024);
    printf("p9 session save: %.1f ms\n", t1 - t0);
    printf("p9 session restore: %.1f ms\n", t3 - t2);
    p9_server_free(s);
    free(blob);
    return 0;
}
