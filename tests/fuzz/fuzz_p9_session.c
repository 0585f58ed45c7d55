// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* A saved 9P session (src/vmm/fs/p9_session.c) read back from hostile bytes, as a resume
 * reads it from a snapshot file its user can alter. The first byte chooses the form: even,
 * the rest is the saved session itself; odd, the rest is a list of {offset[2], xor[1]}
 * edits of a real session saved at start-up (its fids name this share's real inodes, so
 * edits reach the walks, the open flags and the qid checks behind the parser). Whatever is
 * restored is then used: every fid is asked its attributes, opened, read and walked on
 * ("..", a symlink "up" -> ".."), and must never show the file outside the share; a
 * restored session must save and restore again. */
#include "p9_msg.h"
#include "vmm/fs/p9.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "canary-outside-the-share"

static struct p9_server *srv;
static char topdir[64], share[4096];
static uint8_t *base;
static size_t base_len;
static uint8_t resp[1 << 16];

static size_t rpc(uint8_t type, const uint8_t *body, size_t n)
{
    uint8_t b[256];
    size_t r = p9_handle(srv, b, msg(b, type, body, n), resp, sizeof resp);
    if (r > sizeof resp || (r && r < 7))
        abort();
    if (r && resp[4] == P9_RREAD && memmem(resp, r, SECRET, strlen(SECRET)))
        abort(); /* a restored fid reached the file outside the share */
    return r;
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A walk of fid to newfid by one name. */
static void walk1(uint32_t fid, uint32_t newfid, const char *name)
{
    uint8_t b[64];
    size_t n = strlen(name);
    le32(b, fid);
    le32(b + 4, newfid);
    b[8] = 1, b[9] = 0;
    b[10] = (uint8_t)n, b[11] = 0;
    memcpy(b + 12, name, n);
    rpc(P9_TWALK, b, 12 + n);
}

static void use_fids(void)
{
    for (uint32_t fid = 0; fid < 8; fid++) {
        uint8_t b[32] = { 0 };
        le32(b, fid);
        b[4] = 0xff; /* getattr mask */
        rpc(P9_TGETATTR, b, 12);
        rpc(P9_TLOPEN, b, 8); /* read-only */
        memset(b + 4, 0, 12);
        b[16] = 64; /* read 64 bytes at 0 */
        rpc(P9_TREAD, b, 16);
        rpc(P9_TREADDIR, b, 16);
        walk1(fid, 100, "..");
        walk1(100, 101, "up");
        walk1(101, 102, "canary");
        le32(b, 102);
        rpc(P9_TLOPEN, b, 8);
        le32(b + 4, 0);
        rpc(P9_TREAD, b, 16);
        for (uint32_t f = 100; f <= 102; f++) {
            le32(b, f);
            rpc(P9_TCLUNK, b, 4);
        }
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static void cleanup(void)
{
    p9_server_free(srv);
    free(base);
    nftw(topdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

/* The share: f, d/g, up -> ".."; a live session with fids 0 (root), 1 (f, open), 2 (d,
 * open), 3 (d/g), 4 (up) saved as the base of the edits. */
static void setup(void)
{
    if (!mkdtemp(strcpy(topdir, "/tmp/fuzz_p9s.XXXXXX")))
        abort();
    atexit(cleanup);
    snprintf(share, sizeof share, "%s/share", topdir);
    mkdir(share, 0755);
    put_file(topdir, "canary", SECRET);
    put_file(share, "f", "data");
    char d[4200];
    snprintf(d, sizeof d, "%s/d", share);
    mkdir(d, 0755);
    put_file(d, "g", "more");
    snprintf(d, sizeof d, "%s/up", share);
    if (symlink("..", d) < 0 || p9_server_new(&srv, share, false, 65536, NULL) < 0)
        abort();
    static const uint8_t version[] = { 0x00, 0x00, 0x01, 0x00, 8,   0,   '9',
                                       'P',  '2',  '0',  '0',  '0', '.', 'L' };
    static const uint8_t attach[] = { 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 };
    rpc(P9_TVERSION, version, sizeof version);
    rpc(P9_TATTACH, attach, sizeof attach);
    walk1(0, 1, "f");
    walk1(0, 2, "d");
    walk1(2, 3, "g");
    walk1(0, 4, "up");
    uint8_t b[8] = { 0 };
    for (uint32_t fid = 1; fid <= 2; fid++) {
        le32(b, fid);
        rpc(P9_TLOPEN, b, 8);
    }
    if (p9_server_nfids(srv) != 5 || p9_session_save(srv, &base, &base_len, NULL) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        setup();
    if (size == 0)
        return 0;
    uint8_t *blob = NULL;
    size_t len;
    if (data[0] & 1) {
        blob = malloc(base_len);
        if (!blob)
            return 0;
        memcpy(blob, base, base_len);
        len = base_len;
        for (size_t i = 1; i + 3 <= size; i += 3) {
            size_t off = (size_t)(data[i] | data[i + 1] << 8);
            if (off < len)
                blob[off] ^= data[i + 2];
            else if (off == 0xffff && len)
                len--; /* cut the last byte */
        }
    } else {
        len = size - 1;
        blob = malloc(len ? len : 1);
        if (!blob)
            return 0;
        memcpy(blob, data + 1, len);
    }
    struct bl_error err = { 0 };
    int r = p9_session_restore(srv, blob, len, &err);
    free(blob);
    if (r < 0) {
        if (p9_server_nfids(srv) != 0 || !err.msg[0])
            abort(); /* a refusal leaves no fid and says why */
        return 0;
    }
    use_fids();
    uint8_t *again = NULL;
    size_t again_len = 0;
    if (p9_session_save(srv, &again, &again_len, NULL) < 0 ||
        p9_session_restore(srv, again, again_len, &err) < 0)
        abort(); /* what was restored saves and restores */
    free(again);
    return 0;
}
