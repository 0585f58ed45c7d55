// SPDX-License-Identifier: Apache-2.0
/* A 9P session saved from one server and restored into a new one on the same share (what a
 * paused VM's resume and a fork do, src/vmm/fs/p9_session.c): the restored fids answer as
 * the old ones did; files that went away or were replaced while paused come back stale,
 * never followed outside the root; a damaged saved session is refused cleanly. */
#include "vmm/fs/p9.h"

#include "harness/harness.h"
#include "p9_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define DOTL_RDWR 2
#define DOTL_DIRECTORY 0200000

/* <tmp>/share with hello.txt, sub/{a,b,c}.txt; <tmp>/outside/inner holds a secret. */
static const char *share_path(const char *rel)
{
    static char p[8][4200];
    static int i;
    char *s = p[i++ % 8];
    snprintf(s, 4200, "%s/share%s%s", harness_tmpdir(), rel[0] ? "/" : "", rel);
    return s;
}

static const char *make_share(void)
{
    mkdir(share_path(""), 0755);
    mkdir(share_path("sub"), 0755);
    put_file(share_path("hello.txt"), "hello world\n", 0644);
    put_file(share_path("sub/a.txt"), "A", 0644);
    put_file(share_path("sub/b.txt"), "B", 0644);
    put_file(share_path("sub/c.txt"), "C", 0644);
    char out[4200];
    snprintf(out, sizeof out, "%s/outside", harness_tmpdir());
    mkdir(out, 0755);
    snprintf(out, sizeof out, "%s/outside/inner", harness_tmpdir());
    put_file(out, "host secret", 0644);
    static char root[4200];
    snprintf(root, sizeof root, "%s", share_path(""));
    return root;
}

/* A server on root after Tversion(msize) and Tattach of fid 0. */
static struct p9_server *server_msize(const char *root, uint32_t msize)
{
    struct p9_server *s = NULL;
    if (p9_server_new(&s, root, false, 65536, NULL) < 0)
        return NULL;
    struct msg m;
    begin(&m, P9_TVERSION, P9_NOTAG);
    put(&m, msize, 4);
    put_s(&m, "9P2000.L");
    if (rpc(s, &m) != P9_RVERSION || attach_as(s, 0, 1000) != P9_RATTACH) {
        p9_server_free(s);
        return NULL;
    }
    return s;
}

/* Saves s's session, frees s (its descriptors are gone, as in a new process) and restores
 * the session into a new server on root. */
static struct p9_server *carry(struct p9_server *s, const char *root, uint8_t **blob,
                               size_t *len)
{
    struct bl_error err = { 0 };
    if (p9_session_save(s, blob, len, &err) < 0) {
        printf("#   save: %s\n", err.msg);
        return NULL;
    }
    p9_server_free(s);
    struct p9_server *n = NULL;
    if (p9_server_new(&n, root, false, 65536, NULL) < 0)
        return NULL;
    if (p9_session_restore(n, *blob, *len, &err) < 0) {
        printf("#   restore: %s\n", err.msg);
        p9_server_free(n);
        return NULL;
    }
    return n;
}

/* The reply of Tgetattr on fid (qid, mode, ..., times) copied out, for comparison. */
static size_t getattr(struct p9_server *s, uint32_t fid, uint8_t *out)
{
    struct msg m;
    begin(&m, P9_TGETATTR, 9);
    put(&m, fid, 4);
    put(&m, P9_GETATTR_BASIC, 8);
    if (rpc(s, &m) != P9_RGETATTR)
        return 0;
    memcpy(out, reply, reply_len);
    return reply_len;
}

/* Names from one Treaddir of fid at off (count bytes), joined by ","; *next gets the
 * offset after the last. */
static void readdir_names(struct p9_server *s, uint32_t fid, uint64_t off, uint32_t count,
                          char *out, size_t cap, uint64_t *next)
{
    struct msg m;
    begin(&m, P9_TREADDIR, 10);
    put(&m, fid, 4);
    put(&m, off, 8);
    put(&m, count, 4);
    out[0] = '\0';
    if (rpc(s, &m) != P9_RREADDIR)
        return;
    uint32_t n = (uint32_t)get(reply + 7, 4);
    for (size_t p = 11; p < 11 + n;) {
        *next = get(reply + p + 13, 8);
        uint16_t len = (uint16_t)get(reply + p + 22, 2);
        snprintf(out + strlen(out), cap - strlen(out), "%.*s,", len, (const char *)reply + p + 24);
        p += 24 + len;
    }
}

TEST(restored_fids_answer_as_before)
{
    const char *root = make_share();
    struct p9_server *s = server_msize(root, 16384);
    REQUIRE(s);
    /* fid 1: read-only open file; 2: a file created read-write; 3: a directory opened and
     * read part way; 4: walked through ".." (no name kept); 5: walked, not opened; 6: renamed
     * by the guest before the save */
    REQUIRE(walk(s, 0, 1, "hello.txt", NULL) == P9_RWALK);
    REQUIRE(lopen(s, 1, 0) == P9_RLOPEN);
    REQUIRE(walk(s, 0, 2, "sub", NULL) == P9_RWALK);
    REQUIRE(lcreate(s, 2, "w.txt", DOTL_RDWR) == P9_RLCREATE);
    REQUIRE(do_write(s, 2, 0, "abc") == P9_RWRITE);
    REQUIRE(walk(s, 0, 3, "sub", NULL) == P9_RWALK);
    REQUIRE(lopen(s, 3, DOTL_DIRECTORY) == P9_RLOPEN);
    char first[512], rest_before[1024], rest_after[1024];
    uint64_t off = 0, end = 0;
    readdir_names(s, 3, 0, 64, first, sizeof first, &off);
    CHECK(first[0]);
    readdir_names(s, 3, off, 4096, rest_before, sizeof rest_before, &end);
    REQUIRE(walk(s, 0, 4, "sub", "..", "sub", "a.txt", NULL) == P9_RWALK);
    REQUIRE(nwqid() == 4);
    REQUIRE(walk(s, 0, 5, "sub", "b.txt", NULL) == P9_RWALK);
    REQUIRE(walk(s, 0, 6, "sub", "c.txt", NULL) == P9_RWALK);
    struct msg m;
    begin(&m, P9_TRENAMEAT, 6);
    put(&m, 0, 4);
    put_s(&m, "sub");
    put(&m, 0, 4);
    put_s(&m, "moved");
    REQUIRE(rpc(s, &m) == P9_RRENAMEAT); /* fids 2..6 now live under "moved" */
    uint8_t ga[7][256];
    size_t gl[7];
    for (uint32_t f = 0; f < 7; f++)
        gl[f] = getattr(s, f, ga[f]);
    size_t nfids = p9_server_nfids(s);

    uint8_t *blob = NULL;
    size_t len = 0;
    struct p9_server *n = carry(s, root, &blob, &len);
    REQUIRE(n);
    CHECK_EQ(p9_server_msize(n), 16384);
    CHECK_EQ(p9_server_nfids(n), nfids);
    for (uint32_t f = 0; f < 7; f++) {
        uint8_t now[256];
        size_t l = getattr(n, f, now);
        CHECK(l && l == gl[f]);
        if (l && l == gl[f])
            CHECK_MEM(now + 7, ga[f] + 7, l - 7); /* same qid, mode, size, times */
    }
    CHECK_EQ(do_read(n, 1, 0, 100), P9_RREAD);
    CHECK_EQ(get(reply + 7, 4), 12);
    CHECK_MEM(reply + 11, "hello world\n", 12);
    CHECK_EQ(do_write(n, 1, 0, "x"), P9_RLERROR); /* still read-only */
    CHECK_EQ(lerror(), EBADF);
    CHECK_EQ(do_write(n, 2, 3, "def"), P9_RWRITE);
    CHECK_STR(slurp(share_path("moved/w.txt")), "abcdef");
    CHECK_EQ(do_read(n, 2, 0, 100), P9_RREAD); /* opened read-write again */
    CHECK_EQ(get(reply + 7, 4), 6);
    readdir_names(n, 3, off, 4096, rest_after, sizeof rest_after, &end);
    CHECK_STR(rest_after, rest_before);
    CHECK_EQ(lopen(n, 5, 0), P9_RLOPEN); /* walked, not open: opens now */
    CHECK_EQ(do_read(n, 5, 0, 10), P9_RREAD);
    CHECK_MEM(reply + 11, "B", 1);
    CHECK_EQ(lopen(n, 1, 0), P9_RLERROR); /* open fids came back open */
    CHECK_EQ(lerror(), EBADF);
    /* Trename needs the fid's name: the restored one knows it */
    begin(&m, P9_TRENAME, 6);
    put(&m, 6, 4);
    put(&m, 0, 4);
    put_s(&m, "c2.txt");
    CHECK_EQ(rpc(n, &m), P9_RRENAME);
    CHECK_STR(slurp(share_path("c2.txt")), "C");
    CHECK_EQ(walk(n, 3, 7, "..", "hello.txt", NULL), P9_RWALK); /* ".." from a restored directory */
    CHECK_EQ(walk(n, 0, 8, "moved", "a.txt", NULL), P9_RWALK);
    for (uint32_t f = 0; f < 9; f++)
        CHECK_EQ(clunk(n, f), P9_RCLUNK);
    CHECK_EQ(p9_server_nfids(n), 0);
    p9_server_free(n);
    free(blob);
}

static int remove_fid(struct p9_server *s, uint32_t fid)
{
    struct msg m;
    begin(&m, P9_TREMOVE, 3);
    put(&m, fid, 4);
    return rpc(s, &m);
}

TEST(files_gone_or_replaced_come_back_stale)
{
    const char *root = make_share();
    char path[4200];
    for (const char *f = "gone\0renamed\0swapped\0typed\0keep\0unlinked\0"; *f; f += strlen(f) + 1)
        put_file(share_path(f), f, 0644);
    mkdir(share_path("sub/dir"), 0755);
    put_file(share_path("sub/dir/inner"), "inside", 0644);
    struct p9_server *s = server_msize(root, 65536);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "gone", NULL) == P9_RWALK);
    REQUIRE(walk(s, 0, 2, "renamed", NULL) == P9_RWALK);
    REQUIRE(walk(s, 0, 3, "swapped", NULL) == P9_RWALK);
    REQUIRE(lopen(s, 3, 0) == P9_RLOPEN);
    REQUIRE(walk(s, 0, 4, "typed", NULL) == P9_RWALK);
    REQUIRE(walk(s, 0, 5, "sub", "dir", "inner", NULL) == P9_RWALK);
    REQUIRE(walk(s, 0, 6, "keep", NULL) == P9_RWALK);
    REQUIRE(walk(s, 0, 7, "unlinked", NULL) == P9_RWALK);
    REQUIRE(lopen(s, 7, DOTL_RDWR) == P9_RLOPEN);
    REQUIRE(walk(s, 0, 8, "sub", "dir", NULL) == P9_RWALK);
    /* open, then unlinked by the guest: no name can reach it again */
    struct msg m;
    begin(&m, P9_TUNLINKAT, 7);
    put(&m, 0, 4);
    put_s(&m, "unlinked");
    put(&m, 0, 4);
    REQUIRE(rpc(s, &m) == P9_RUNLINKAT);
    CHECK_EQ(do_write(s, 7, 0, "still writable"), P9_RWRITE);
    struct bl_error err = { 0 };
    uint8_t *blob = NULL;
    size_t len = 0;
    REQUIRE(p9_session_save(s, &blob, &len, &err) == 0);
    p9_server_free(s);

    /* while paused, on the host: */
    unlink(share_path("gone"));
    rename(share_path("renamed"), share_path("elsewhere"));
    unlink(share_path("swapped"));
    put_file(share_path("swapped"), "a new file by the old name", 0644);
    unlink(share_path("typed"));
    mkdir(share_path("typed"), 0755);
    /* sub/dir becomes a symlink to a directory outside the share holding "inner" */
    snprintf(path, sizeof path, "%s/outside", harness_tmpdir());
    rename(share_path("sub/dir"), share_path("sub/old"));
    REQUIRE(symlink(path, share_path("sub/dir")) == 0);

    struct p9_server *n = NULL;
    REQUIRE(p9_server_new(&n, root, false, 65536, NULL) == 0);
    REQUIRE(p9_session_restore(n, blob, len, &err) == 0);
    CHECK_EQ(p9_server_nfids(n), 9);
    static const uint32_t stale[] = { 1, 2, 3, 4, 5, 7, 8 };
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
        uint32_t f = stale[i];
        uint8_t ga[256];
        CHECK_EQ(getattr(n, f, ga), 0);
        CHECK_EQ(lerror(), ESTALE);
        CHECK_EQ(do_read(n, f, 0, 10), P9_RLERROR);
        CHECK_EQ(lerror(), ESTALE);
        CHECK_EQ(do_write(n, f, 0, "pwned"), P9_RLERROR);
        CHECK_EQ(lerror(), ESTALE);
        CHECK_EQ(lopen(n, f, 0), P9_RLERROR);
        CHECK_EQ(walk(n, f, 20, "inner", NULL), P9_RLERROR);
        CHECK_EQ(lerror(), ESTALE);
        CHECK_EQ(lcreate(n, f, "x", DOTL_RDWR), P9_RLERROR);
        CHECK_EQ(lerror(), ESTALE);
    }
    snprintf(path, sizeof path, "%s/outside/inner", harness_tmpdir());
    CHECK_STR(slurp(path), "host secret");
    CHECK_STR(slurp(share_path("swapped")), "a new file by the old name");
    CHECK_STR(slurp(share_path("elsewhere")), "renamed");
    CHECK_EQ(remove_fid(n, 2), P9_RLERROR); /* Tremove answers ESTALE and frees the fid */
    CHECK_EQ(lerror(), ESTALE);
    CHECK_STR(slurp(share_path("elsewhere")), "renamed");
    CHECK_EQ(clunk(n, 2), P9_RLERROR);
    CHECK_EQ(lerror(), EBADF);
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++)
        if (stale[i] != 2)
            CHECK_EQ(clunk(n, stale[i]), P9_RCLUNK);
    CHECK_EQ(lopen(n, 6, 0), P9_RLOPEN); /* untouched: works */
    CHECK_EQ(do_read(n, 6, 0, 10), P9_RREAD);
    CHECK_MEM(reply + 11, "keep", 4);
    CHECK_EQ(p9_server_nfids(n), 2);
    p9_server_free(n);
    free(blob);
}

/* ---- hostile saved sessions ------------------------------------------------------------ */

struct blob {
    uint8_t b[8192];
    size_t n;
};

static void b_put(struct blob *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        b->b[b->n++] = (uint8_t)(v >> (8 * i));
}

static void b_head(struct blob *b, uint32_t msize, uint32_t nfids)
{
    b->n = 0;
    memcpy(b->b, "P9S1", 4);
    b->n = 4;
    b_put(b, msize, 4);
    b_put(b, nfids, 4);
}

static void b_fid(struct blob *b, uint32_t id, uint8_t qtype, uint8_t state, uint32_t oflags,
                  const char *path)
{
    b_put(b, id, 4);
    b_put(b, 0, 4);
    b_put(b, 0, 8);
    b_put(b, qtype, 1);
    b_put(b, state, 1);
    b_put(b, oflags, 4);
    b_put(b, strlen(path), 2);
    memcpy(b->b + b->n, path, strlen(path));
    b->n += strlen(path);
}

/* Restores b into s: the error code (0 on success); a failure leaves no fid behind. */
static int try_restore(struct p9_server *s, const uint8_t *p, size_t n)
{
    struct bl_error err = { 0 };
    int r = p9_session_restore(s, p, n, &err);
    if (r < 0 && p9_server_nfids(s) != 0)
        return -9999;
    if (r < 0 && !err.msg[0])
        return -9998; /* refused without saying why */
    return r < 0 ? err.code : 0;
}

TEST(damaged_sessions_are_refused)
{
    const char *root = make_share();
    struct p9_server *s = server_msize(root, 65536);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "sub", "a.txt", NULL) == P9_RWALK);
    REQUIRE(lopen(s, 1, DOTL_RDWR) == P9_RLOPEN);
    REQUIRE(walk(s, 0, 2, "hello.txt", NULL) == P9_RWALK);
    struct bl_error err = { 0 };
    uint8_t *good = NULL;
    size_t glen = 0;
    REQUIRE(p9_session_save(s, &good, &glen, &err) == 0);
    p9_server_free(s);
    struct p9_server *n = NULL;
    REQUIRE(p9_server_new(&n, root, false, 65536, NULL) == 0);
    CHECK_EQ(try_restore(n, good, glen), 0);
    /* every shorter prefix, and one byte more, is refused */
    for (size_t cut = 0; cut < glen; cut++)
        CHECK_EQ(try_restore(n, good, cut), BOXLITE_ERR_INVALID);
    uint8_t *longer = malloc(glen + 1);
    REQUIRE(longer);
    memcpy(longer, good, glen);
    longer[glen] = 0;
    CHECK_EQ(try_restore(n, longer, glen + 1), BOXLITE_ERR_INVALID);
    /* every byte flipped: refused or restored, never a crash; the secret stays put */
    for (size_t i = 0; i < glen; i++) {
        memcpy(longer, good, glen);
        longer[i] ^= 0xa5;
        int r = try_restore(n, longer, glen);
        CHECK(r == 0 || r == BOXLITE_ERR_INVALID);
    }
    free(longer);

    struct blob b;
    b_head(&b, 65536, 1);
    b_fid(&b, 1, P9_QTFILE, 0, 0, "../outside/inner");
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    static const char *bad_paths[] = { "/etc/passwd", "sub/../hello.txt", "./hello.txt",
                                       "sub//a.txt", "sub/", "..", "." };
    for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
        b_head(&b, 65536, 1);
        b_fid(&b, 1, P9_QTFILE, 0, 0, bad_paths[i]);
        CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    }
    char longname[300];
    memset(longname, 'n', 299);
    longname[299] = '\0';
    b_head(&b, 65536, 1);
    b_fid(&b, 1, P9_QTFILE, 0, 0, longname);
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    b_head(&b, 65536, 2); /* the same fid twice */
    b_fid(&b, 1, P9_QTDIR, 0, 0, "");
    b_fid(&b, 1, P9_QTDIR, 0, 0, "");
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    b_head(&b, 65536, 1);
    b_fid(&b, P9_NOFID, P9_QTDIR, 0, 0, "");
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    b_head(&b, 65536, 1); /* unknown qid type, state bits, open flags */
    b_fid(&b, 1, 0x40, 0, 0, "");
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    b_head(&b, 65536, 1);
    b_fid(&b, 1, P9_QTDIR, 0x80, 0, "");
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    b_head(&b, 65536, 1);
    b_fid(&b, 1, P9_QTFILE, 1, 0100 /* CREATE */, "hello.txt");
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    b_head(&b, 65536, 1); /* flags without being open */
    b_fid(&b, 1, P9_QTFILE, 0, 2, "hello.txt");
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    b_head(&b, 1 << 20, 0); /* an msize this server never offered */
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    b_head(&b, 100, 0);
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    b_head(&b, 65536, 0xffffffffu); /* more fids than bytes */
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    b_head(&b, 65536, 0);
    b.b[0] = 'X';
    CHECK_EQ(try_restore(n, b.b, b.n), BOXLITE_ERR_INVALID);
    CHECK_EQ(try_restore(n, NULL, 0), BOXLITE_ERR_INVALID);
    /* well formed but naming a file that is not there, or is not what it says: stale */
    b_head(&b, 65536, 2);
    b_fid(&b, 1, P9_QTFILE, 0, 0, "no/such/file");
    b_fid(&b, 2, P9_QTFILE, 0, 0, "hello.txt"); /* qid path 0: not hello.txt's inode */
    CHECK_EQ(try_restore(n, b.b, b.n), 0);
    uint8_t ga[256];
    CHECK_EQ(getattr(n, 1, ga), 0);
    CHECK_EQ(lerror(), ESTALE);
    CHECK_EQ(getattr(n, 2, ga), 0);
    CHECK_EQ(lerror(), ESTALE);
    char secret[4200];
    snprintf(secret, sizeof secret, "%s/outside/inner", harness_tmpdir());
    CHECK_STR(slurp(secret), "host secret");
    p9_server_free(n);
    free(good);
}
