// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The 9P2000.L server's message parser and handlers, on a scratch share. Each input is a
 * sequence of messages, each preceded by a 2-byte length (so the fuzzer also controls the
 * size field's agreement with the real length). Every input starts a fresh session
 * (Tversion clunks every fid) with fid 0 attached at the root and fid 1 walked to a file,
 * so deeper requests have fids to act on. A file outside the share ("canary") must never
 * change or disappear: the fuzzer checks the escape guarantees too. */
#include "p9_msg.h"
#include "vmm/fs/p9.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct p9_server *srv;
static char topdir[64], canary[4096];
static uint8_t resp[1 << 16];

static void session(void)
{
    uint8_t b[128];
    static const uint8_t version[] = { 0x00, 0x00, 0x01, 0x00, 8, 0, '9', 'P', '2', '0', '0', '0', '.', 'L' };
    static const uint8_t attach[] = { 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t walk[] = { 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 'f' };
    p9_handle(srv, b, msg(b, P9_TVERSION, version, sizeof version), resp, sizeof resp);
    p9_handle(srv, b, msg(b, P9_TATTACH, attach, sizeof attach), resp, sizeof resp);
    p9_handle(srv, b, msg(b, P9_TWALK, walk, sizeof walk), resp, sizeof resp);
}

static int open_up(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag == FTW_D || flag == FTW_DNR)
        chmod(path, 0700);
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static void cleanup(void)
{
    p9_server_free(srv);
    /* the fuzzer may have chmod-ed directories: make them removable on the way down */
    nftw(topdir, open_up, 16, FTW_PHYS);
    nftw(topdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    char *dir = strcpy(topdir, "/tmp/fuzz_p9.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    char share[4096], path[4200];
    snprintf(share, sizeof share, "%s/share", dir);
    snprintf(canary, sizeof canary, "%s/canary", dir);
    mkdir(share, 0755);
    snprintf(path, sizeof path, "%s/f", share);
    FILE *f = fopen(path, "w");
    FILE *c = fopen(canary, "w");
    if (!f || !c)
        abort();
    fputs("data", f);
    fputs("canary", c);
    fclose(f);
    fclose(c);
    snprintf(path, sizeof path, "%s/up", share);
    if (symlink("..", path) < 0)
        abort();
    if (p9_server_new(&srv, share, false, 65536, NULL) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        setup();
    session();
    while (size >= 2) {
        size_t n = (size_t)(data[0] | data[1] << 8);
        data += 2;
        size -= 2;
        if (n > size)
            n = size;
        size_t cap = 11 + (n * 131) % sizeof resp; /* vary the reply room too */
        size_t r = p9_handle(srv, data, n, resp, cap);
        if (r > cap || (r && r < 7))
            abort();
        data += n;
        size -= n;
    }
    struct stat st;
    if (stat(canary, &st) < 0 || st.st_size != 6)
        abort(); /* something reached outside the share */
    return 0;
}
