// SPDX-License-Identifier: Apache-2.0
/* The 9P2000.L server against a temporary directory, through flat message buffers: the
 * operations a Linux client uses, symlink and ".." escapes, read-only shares, and
 * malformed messages. */
#include "vmm/fs/p9.h"

#include "common/cleanup.h"
#include "harness/harness.h"
#include "p9_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *read_file(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return slurp(path);
}

/* A little-endian attribute of the host file, or -1. */
static long long xattr_le(const char *dir, const char *name, const char *attr)
{
    char path[4200];
    unsigned char b[8];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ssize_t n = lgetxattr(path, attr, b, sizeof b);
    if (n <= 0)
        return -1;
    long long v = 0;
    for (ssize_t i = 0; i < n; i++)
        v |= (long long)b[i] << (8 * i);
    return v;
}

/* A share in <tmp>/share and a secret next to it in <tmp>/secret. */
static const char *make_share(void)
{
    static char share[4096];
    snprintf(share, sizeof share, "%s/share", harness_tmpdir());
    mkdir(share, 0755);
    write_file(harness_tmpdir(), "secret", "host secret\n");
    write_file(share, "hello.txt", "hello world\n");
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/sub", share);
    mkdir(sub, 0755);
    return share;
}

/* ---- tests --------------------------------------------------------------------------- */

TEST(version_negotiates_msize)
{
    struct p9_server *s = NULL;
    REQUIRE(p9_server_new(&s, make_share(), false, 65536, NULL) == 0);
    struct msg m;
    begin(&m, P9_TVERSION, P9_NOTAG);
    put(&m, 1 << 24, 4);
    put_s(&m, "9P2000.L");
    CHECK_EQ(rpc(s, &m), P9_RVERSION);
    CHECK_EQ(get(reply + 7, 4), 65536);
    CHECK_EQ(p9_server_msize(s), 65536);
    begin(&m, P9_TVERSION, P9_NOTAG);
    put(&m, 8192, 4);
    put_s(&m, "9P2000.u");
    CHECK_EQ(rpc(s, &m), P9_RVERSION);
    CHECK_EQ(get(reply + 7, 4), 8192);
    CHECK_EQ(get(reply + 11, 2), 7);
    CHECK_MEM(reply + 13, "unknown", 7);
    p9_server_free(s);
}

TEST(attach_walk_read)
{
    struct p9_server *s = server(make_share(), false);
    REQUIRE(s);
    CHECK_EQ(walk(s, 0, 1, "hello.txt", NULL), P9_RWALK);
    CHECK_EQ(nwqid(), 1);
    CHECK_EQ(reply[9], P9_QTFILE);
    CHECK_EQ(lopen(s, 1, 0), P9_RLOPEN);
    CHECK_EQ(do_read(s, 1, 0, 100), P9_RREAD);
    CHECK_EQ(get(reply + 7, 4), 12);
    CHECK_MEM(reply + 11, "hello world\n", 12);
    CHECK_EQ(do_read(s, 1, 6, 3), P9_RREAD);
    CHECK_EQ(get(reply + 7, 4), 3);
    CHECK_MEM(reply + 11, "wor", 3);
    /* a huge count is cut to what fits in msize */
    CHECK_EQ(do_read(s, 1, 0, 0xffffffffu), P9_RREAD);
    CHECK_EQ(get(reply + 7, 4), 12);
    CHECK_EQ(clunk(s, 1), P9_RCLUNK);
    CHECK_EQ(clunk(s, 1), P9_RLERROR);
    CHECK_EQ(lerror(), EBADF);
    /* walking a missing name fails; the second element failing gives a partial walk */
    CHECK_EQ(walk(s, 0, 2, "nope", NULL), P9_RLERROR);
    CHECK_EQ(lerror(), ENOENT);
    CHECK_EQ(walk(s, 0, 2, "sub", "nope", NULL), P9_RWALK);
    CHECK_EQ(nwqid(), 1);
    CHECK_EQ(walk(s, 0, 2, "sub", NULL), P9_RWALK);
    CHECK_EQ(reply[9], P9_QTDIR);
    CHECK_EQ(p9_server_nfids(s), 2);
    p9_server_free(s);
}

TEST(getattr_reports_size_and_mode)
{
    struct p9_server *s = server(make_share(), false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "hello.txt", NULL) == P9_RWALK);
    struct msg m;
    begin(&m, P9_TGETATTR, 9);
    put(&m, 1, 4);
    put(&m, P9_GETATTR_BASIC, 8);
    CHECK_EQ(rpc(s, &m), P9_RGETATTR);
    const uint8_t *p = reply + 7 + 8 + 13;
    CHECK(S_ISREG(get(p, 4)));
    CHECK_EQ(get(p + 4 + 4 + 4 + 8 + 8, 8), 12); /* size */
    p9_server_free(s);
}

TEST(create_write_rename_unlink)
{
    const char *share = make_share();
    struct p9_server *s = server(share, false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "sub", NULL) == P9_RWALK);
    CHECK_EQ(lcreate(s, 1, "new.txt", 2 /* RDWR */), P9_RLCREATE);
    CHECK_EQ(do_write(s, 1, 0, "written by guest"), P9_RWRITE);
    CHECK_EQ(get(reply + 7, 4), 16);
    char *text = read_file(share, "sub/new.txt");
    CHECK_STR(text, "written by guest");
    CHECK_EQ(lcreate(s, 0, "../escape", 2), P9_RLERROR);
    CHECK_EQ(lerror(), EINVAL);

    /* rename the file (fid 1 follows it), then renameat back */
    REQUIRE(walk(s, 0, 2, "sub", NULL) == P9_RWALK);
    struct msg m;
    begin(&m, P9_TRENAME, 6);
    put(&m, 1, 4);
    put(&m, 0, 4);
    put_s(&m, "moved.txt");
    CHECK_EQ(rpc(s, &m), P9_RRENAME);
    CHECK_STR(read_file(share, "moved.txt"), "written by guest");
    begin(&m, P9_TRENAMEAT, 6);
    put(&m, 0, 4);
    put_s(&m, "moved.txt");
    put(&m, 2, 4);
    put_s(&m, "back.txt");
    CHECK_EQ(rpc(s, &m), P9_RRENAMEAT);
    CHECK_STR(read_file(share, "sub/back.txt"), "written by guest");

    CHECK_EQ(mkdir9(s, 2, "d"), P9_RMKDIR);
    CHECK_EQ(reply[7], P9_QTDIR);
    begin(&m, P9_TUNLINKAT, 7);
    put(&m, 2, 4);
    put_s(&m, "back.txt");
    put(&m, 0, 4);
    CHECK_EQ(rpc(s, &m), P9_RUNLINKAT);
    CHECK(read_file(share, "sub/back.txt") == NULL);
    begin(&m, P9_TUNLINKAT, 7);
    put(&m, 2, 4);
    put_s(&m, "d");
    put(&m, 0x200, 4);
    CHECK_EQ(rpc(s, &m), P9_RUNLINKAT);
    struct stat st;
    char path[4200];
    snprintf(path, sizeof path, "%s/sub/d", share);
    CHECK(stat(path, &st) < 0);
    p9_server_free(s);
}

TEST(setattr_truncates_and_chmods)
{
    const char *share = make_share();
    struct p9_server *s = server(share, false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "hello.txt", NULL) == P9_RWALK);
    struct msg m;
    begin(&m, P9_TSETATTR, 8);
    put(&m, 1, 4);
    put(&m, P9_SETATTR_SIZE | P9_SETATTR_MODE, 4);
    put(&m, 0600, 4);
    put(&m, 0, 4);
    put(&m, 0, 4);
    put(&m, 5, 8);
    for (int i = 0; i < 4; i++)
        put(&m, 0, 8);
    CHECK_EQ(rpc(s, &m), P9_RSETATTR);
    CHECK_STR(read_file(share, "hello.txt"), "hello");
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/hello.txt", share);
    REQUIRE(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 07777, 0644); /* the host file keeps its mode... */
    CHECK_EQ(getattr_mode(s, 1), S_IFREG | 0600); /* ...the guest sees its chmod */
    p9_server_free(s);
}

TEST(readdir_lists_entries)
{
    struct p9_server *s = server(make_share(), false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, NULL) == P9_RWALK);
    CHECK_EQ(lopen(s, 1, 0), P9_RLOPEN);
    bool hello = false, sub = false;
    int total = 0;
    uint64_t off = 0;
    for (int round = 0; round < 10; round++) {
        struct msg m;
        begin(&m, P9_TREADDIR, 10);
        put(&m, 1, 4);
        put(&m, off, 8);
        put(&m, 40, 4); /* small count: one entry at a time, resumed by offset */
        REQUIRE(rpc(s, &m) == P9_RREADDIR);
        uint32_t n = (uint32_t)get(reply + 7, 4);
        if (n == 0)
            break;
        for (size_t p = 11; p < 11 + n;) {
            uint8_t qtype = reply[p];
            off = get(reply + p + 13, 8);
            uint16_t len = (uint16_t)get(reply + p + 22, 2);
            const char *name = (const char *)reply + p + 24;
            if (len == 9 && memcmp(name, "hello.txt", 9) == 0)
                hello = qtype == P9_QTFILE;
            if (len == 3 && memcmp(name, "sub", 3) == 0)
                sub = qtype == P9_QTDIR;
            total++;
            p += 24 + len;
        }
    }
    CHECK(hello);
    CHECK(sub);
    CHECK_EQ(total, 4); /* ".", "..", hello.txt, sub */
    p9_server_free(s);
}

TEST(symlinks_never_escape)
{
    const char *share = make_share();
    char path[4200], target[4200];
    /* symlinks planted on the host side pointing outside the share */
    snprintf(path, sizeof path, "%s/abs", share);
    snprintf(target, sizeof target, "%s/secret", harness_tmpdir());
    REQUIRE(symlink(target, path) == 0);
    snprintf(path, sizeof path, "%s/rel", share);
    REQUIRE(symlink("../secret", path) == 0);
    snprintf(path, sizeof path, "%s/updir", share);
    REQUIRE(symlink("..", path) == 0);
    struct p9_server *s = server(share, false);
    REQUIRE(s);

    /* walking onto a symlink gives the link itself; opening it is refused */
    CHECK_EQ(walk(s, 0, 1, "abs", NULL), P9_RWALK);
    CHECK_EQ(reply[9], P9_QTSYMLINK);
    CHECK_EQ(lopen(s, 1, 0), P9_RLERROR);
    CHECK_EQ(lerror(), ELOOP);
    struct msg m;
    begin(&m, P9_TREADLINK, 4);
    put(&m, 1, 4);
    CHECK_EQ(rpc(s, &m), P9_RREADLINK); /* the text is the guest's to resolve */
    CHECK_EQ(walk(s, 0, 2, "rel", NULL), P9_RWALK);
    CHECK_EQ(lopen(s, 2, 0), P9_RLERROR);
    /* walking through a symlink as a directory is refused */
    CHECK_EQ(walk(s, 0, 3, "updir", "secret", NULL), P9_RWALK);
    CHECK_EQ(nwqid(), 1);
    CHECK_EQ(walk(s, 0, 3, "updir", "share", NULL), P9_RWALK);
    CHECK_EQ(nwqid(), 1);
    /* ".." above the root stays at the root */
    CHECK_EQ(walk(s, 0, 4, "..", "secret", NULL), P9_RWALK);
    CHECK_EQ(nwqid(), 1);
    CHECK_EQ(walk(s, 0, 4, "..", "..", "secret", NULL), P9_RWALK);
    CHECK_EQ(nwqid(), 2);
    CHECK_EQ(walk(s, 0, 4, "..", "hello.txt", NULL), P9_RWALK);
    CHECK_EQ(nwqid(), 2);
    CHECK_EQ(walk(s, 0, 5, "sub", "..", "..", "..", "secret", NULL), P9_RWALK);
    CHECK_EQ(nwqid(), 4);
    /* names with slashes are refused */
    CHECK_EQ(walk(s, 0, 6, "../secret", NULL), P9_RLERROR);
    CHECK_EQ(walk(s, 0, 6, "sub/../../secret", NULL), P9_RLERROR);
    /* creating through a symlinked directory fails too */
    REQUIRE(walk(s, 0, 7, "updir", NULL) == P9_RWALK);
    CHECK_EQ(lcreate(s, 7, "planted", 2), P9_RLERROR);
    snprintf(path, sizeof path, "%s/planted", harness_tmpdir());
    CHECK(access(path, F_OK) < 0);
    /* a guest-made symlink stores its text and nothing on the host follows it */
    begin(&m, P9_TSYMLINK, 4);
    put(&m, 0, 4);
    put_s(&m, "guestlink");
    put_s(&m, "/etc/passwd");
    put(&m, 0, 4);
    CHECK_EQ(rpc(s, &m), P9_RSYMLINK);
    CHECK_EQ(reply[7], P9_QTSYMLINK);
    REQUIRE(walk(s, 0, 8, "guestlink", NULL) == P9_RWALK);
    CHECK_EQ(lopen(s, 8, 0), P9_RLERROR);
    p9_server_free(s);
}

TEST(readonly_share_refuses_changes)
{
    const char *share = make_share();
    struct p9_server *s = server(share, true);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "hello.txt", NULL) == P9_RWALK);
    CHECK_EQ(lopen(s, 1, 2), P9_RLERROR);
    CHECK_EQ(lerror(), EROFS);
    CHECK_EQ(lopen(s, 1, 0x200 /* TRUNC */), P9_RLERROR);
    CHECK_EQ(lerror(), EROFS);
    CHECK_EQ(lopen(s, 1, 0), P9_RLOPEN);
    CHECK_EQ(do_write(s, 1, 0, "x"), P9_RLERROR);
    CHECK_EQ(lerror(), EROFS);
    CHECK_EQ(lcreate(s, 0, "new", 2), P9_RLERROR);
    CHECK_EQ(lerror(), EROFS);
    CHECK_EQ(mkdir9(s, 0, "d"), P9_RLERROR);
    CHECK_EQ(lerror(), EROFS);
    struct msg m;
    begin(&m, P9_TUNLINKAT, 7);
    put(&m, 0, 4);
    put_s(&m, "hello.txt");
    put(&m, 0, 4);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    CHECK_EQ(lerror(), EROFS);
    begin(&m, P9_TRENAMEAT, 6);
    put(&m, 0, 4);
    put_s(&m, "hello.txt");
    put(&m, 0, 4);
    put_s(&m, "x");
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    CHECK_EQ(lerror(), EROFS);
    begin(&m, P9_TSETATTR, 8);
    put(&m, 1, 4);
    put(&m, P9_SETATTR_SIZE, 4);
    for (int i = 0; i < 3; i++)
        put(&m, 0, 4);
    for (int i = 0; i < 5; i++)
        put(&m, 0, 8);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    CHECK_EQ(lerror(), EROFS);
    CHECK_STR(read_file(share, "hello.txt"), "hello world\n");
    p9_server_free(s);
}

TEST(mknod_refuses_devices)
{
    struct p9_server *s = server(make_share(), false);
    REQUIRE(s);
    struct msg m;
    begin(&m, P9_TMKNOD, 4);
    put(&m, 0, 4);
    put_s(&m, "null");
    put(&m, S_IFCHR | 0666, 4);
    put(&m, 1, 4);
    put(&m, 3, 4);
    put(&m, 0, 4);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    CHECK_EQ(lerror(), EPERM);
    begin(&m, P9_TMKNOD, 4);
    put(&m, 0, 4);
    put_s(&m, "fifo");
    put(&m, S_IFIFO | 0644, 4);
    put(&m, 0, 4);
    put(&m, 0, 4);
    put(&m, 0, 4);
    CHECK_EQ(rpc(s, &m), P9_RLERROR); /* a FIFO on the host meets host processes */
    CHECK_EQ(lerror(), EPERM);
    p9_server_free(s);
}

TEST(malformed_messages_get_rlerror)
{
    struct p9_server *s = server(make_share(), false);
    REQUIRE(s);
    uint8_t shortmsg[3] = { 3, 0, 0 };
    reply_len = p9_handle(s, shortmsg, sizeof shortmsg, reply, sizeof reply);
    CHECK_EQ(reply_len, 11);
    CHECK_EQ(reply[4], P9_RLERROR);
    CHECK_EQ(get(reply + 5, 2), P9_NOTAG);

    struct msg m;
    /* size field disagreeing with the buffer */
    begin(&m, P9_TCLUNK, 9);
    put(&m, 0, 4);
    finish(&m);
    m.b[0] += 1;
    reply_len = p9_handle(s, m.b, m.n, reply, sizeof reply);
    CHECK_EQ(reply[4], P9_RLERROR);
    CHECK_EQ(get(reply + 5, 2), 9);
    /* a truncated body */
    begin(&m, P9_TWALK, 9);
    put(&m, 0, 4);
    put(&m, 1, 2);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    CHECK_EQ(lerror(), EINVAL);
    /* a string running past the end */
    begin(&m, P9_TWALK, 9);
    put(&m, 0, 4);
    put(&m, 1, 4);
    put(&m, 1, 2);
    put(&m, 200, 2);
    put(&m, 'a', 1);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    /* a string with a NUL inside */
    begin(&m, P9_TWALK, 9);
    put(&m, 0, 4);
    put(&m, 1, 4);
    put(&m, 1, 2);
    put(&m, 3, 2);
    put(&m, 'a', 1);
    put(&m, 0, 1);
    put(&m, 'b', 1);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    /* too many walk elements */
    begin(&m, P9_TWALK, 9);
    put(&m, 0, 4);
    put(&m, 1, 4);
    put(&m, 17, 2);
    for (int i = 0; i < 17; i++)
        put_s(&m, "sub");
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    /* a write whose count exceeds its data */
    REQUIRE(walk(s, 0, 1, "hello.txt", NULL) == P9_RWALK);
    REQUIRE(lopen(s, 1, 2) == P9_RLOPEN);
    begin(&m, P9_TWRITE, 9);
    put(&m, 1, 4);
    put(&m, 0, 8);
    put(&m, 0xffffffffu, 4);
    put(&m, 'x', 1);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    CHECK_EQ(lerror(), EINVAL);
    /* trailing bytes */
    begin(&m, P9_TCLUNK, 9);
    put(&m, 1, 4);
    put(&m, 0, 1);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    /* unknown and reply types */
    begin(&m, 250, 9);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    begin(&m, P9_RREAD, 9);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    /* a message larger than msize */
    static uint8_t big[70000];
    memset(big, 0, sizeof big);
    big[0] = (uint8_t)sizeof big;
    big[1] = (uint8_t)(sizeof big >> 8);
    big[2] = (uint8_t)(sizeof big >> 16);
    big[4] = P9_TWRITE;
    reply_len = p9_handle(s, big, sizeof big, reply, sizeof reply);
    CHECK_EQ(reply[4], P9_RLERROR);
    CHECK_EQ(get(reply + 7, 4), EMSGSIZE);
    /* a reply buffer too small for anything */
    CHECK_EQ(p9_handle(s, m.b, m.n, reply, 10), 0);
    /* the file is untouched and the session still works */
    CHECK_EQ(do_read(s, 1, 0, 5), P9_RREAD);
    CHECK_MEM(reply + 11, "hello", 5);
    p9_server_free(s);
}

TEST(small_reply_buffer_shortens_read)
{
    struct p9_server *s = server(make_share(), false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "hello.txt", NULL) == P9_RWALK);
    REQUIRE(lopen(s, 1, 0) == P9_RLOPEN);
    struct msg m;
    begin(&m, P9_TREAD, 4);
    put(&m, 1, 4);
    put(&m, 0, 8);
    put(&m, 100, 4);
    finish(&m);
    size_t n = p9_handle(s, m.b, m.n, reply, 16);
    CHECK_EQ(n, 16);
    CHECK_EQ(get(reply + 7, 4), 5);
    p9_server_free(s);
}

TEST(statfs_fsync_lock)
{
    struct p9_server *s = server(make_share(), false);
    REQUIRE(s);
    struct msg m;
    begin(&m, P9_TSTATFS, 4);
    put(&m, 0, 4);
    CHECK_EQ(rpc(s, &m), P9_RSTATFS);
    CHECK_EQ(reply_len, 7 + 4 + 4 + 8 * 6 + 4);
    REQUIRE(walk(s, 0, 1, "hello.txt", NULL) == P9_RWALK);
    begin(&m, P9_TFSYNC, 4);
    put(&m, 1, 4);
    put(&m, 0, 4);
    CHECK_EQ(rpc(s, &m), P9_RLERROR); /* not open */
    REQUIRE(lopen(s, 1, 2) == P9_RLOPEN);
    begin(&m, P9_TFSYNC, 4);
    put(&m, 1, 4);
    put(&m, 1, 4);
    CHECK_EQ(rpc(s, &m), P9_RFSYNC);
    begin(&m, P9_TLOCK, 4);
    put(&m, 1, 4);
    put(&m, 1, 1);
    put(&m, 0, 4);
    put(&m, 0, 8);
    put(&m, 0, 8);
    put(&m, 42, 4);
    put_s(&m, "guest");
    CHECK_EQ(rpc(s, &m), P9_RLOCK);
    CHECK_EQ(reply[7], P9_LOCK_SUCCESS);
    begin(&m, P9_TGETLOCK, 4);
    put(&m, 1, 4);
    put(&m, 1, 1);
    put(&m, 0, 8);
    put(&m, 10, 8);
    put(&m, 42, 4);
    put_s(&m, "guest");
    CHECK_EQ(rpc(s, &m), P9_RGETLOCK);
    CHECK_EQ(reply[7], P9_LOCK_TYPE_UNLCK);
    begin(&m, P9_TXATTRWALK, 4);
    put(&m, 1, 4);
    put(&m, 2, 4);
    put_s(&m, "user.x");
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    CHECK_EQ(lerror(), EOPNOTSUPP);
    p9_server_free(s);
}

TEST(link_and_remove)
{
    const char *share = make_share();
    struct p9_server *s = server(share, false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "hello.txt", NULL) == P9_RWALK);
    REQUIRE(walk(s, 0, 2, "sub", NULL) == P9_RWALK);
    struct msg m;
    begin(&m, P9_TLINK, 4);
    put(&m, 2, 4);
    put(&m, 1, 4);
    put_s(&m, "hard");
    CHECK_EQ(rpc(s, &m), P9_RLINK);
    CHECK_STR(read_file(share, "sub/hard"), "hello world\n");
    begin(&m, P9_TREMOVE, 4);
    put(&m, 1, 4);
    CHECK_EQ(rpc(s, &m), P9_RREMOVE);
    CHECK(read_file(share, "hello.txt") == NULL);
    CHECK_EQ(clunk(s, 1), P9_RLERROR); /* remove clunked it */
    begin(&m, P9_TREMOVE, 4);
    put(&m, 0, 4);
    CHECK_EQ(rpc(s, &m), P9_RLERROR); /* never the root */
    p9_server_free(s);
}

TEST(setattr_chown_and_walk_of_open_fid)
{
    const char *share = make_share();
    struct p9_server *s = server(share, false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "hello.txt", NULL) == P9_RWALK);
    struct msg m;
    begin(&m, P9_TSETATTR, 8);
    put(&m, 1, 4);
    put(&m, P9_SETATTR_UID | P9_SETATTR_GID, 4);
    put(&m, 0, 4);
    put(&m, 1234, 4);
    put(&m, 4321, 4);
    for (int i = 0; i < 5; i++)
        put(&m, 0, 8);
    CHECK_EQ(rpc(s, &m), P9_RSETATTR); /* recorded for the guest, never applied */
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/hello.txt", share);
    REQUIRE(stat(path, &st) == 0);
    CHECK_EQ(st.st_uid, geteuid());
    CHECK_EQ(st.st_gid, getegid());
    CHECK_EQ(getattr_u32(s, 1, 4), 1234);
    CHECK_EQ(getattr_u32(s, 1, 8), 4321);
    /* walking an opened fid in place leaves it naming the new file, not opened */
    REQUIRE(walk(s, 0, 2, "sub", NULL) == P9_RWALK);
    REQUIRE(lopen(s, 2, 0) == P9_RLOPEN);
    REQUIRE(walk(s, 2, 2, "..", "hello.txt", NULL) == P9_RWALK);
    CHECK_EQ(nwqid(), 2);
    CHECK_EQ(do_read(s, 2, 0, 10), P9_RLERROR);
    CHECK_EQ(lerror(), EBADF);
    CHECK_EQ(lopen(s, 2, 0), P9_RLOPEN);
    CHECK_EQ(do_read(s, 2, 0, 5), P9_RREAD);
    CHECK_MEM(reply + 11, "hello", 5);
    p9_server_free(s);
}

TEST(stale_names_after_rename_are_not_trusted)
{
    const char *share = make_share();
    struct p9_server *s = server(share, false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "hello.txt", NULL) == P9_RWALK);
    /* rename through the directory fid: fid 1 still remembers "hello.txt" */
    struct msg m;
    begin(&m, P9_TRENAMEAT, 6);
    put(&m, 0, 4);
    put_s(&m, "hello.txt");
    put(&m, 0, 4);
    put_s(&m, "renamed.txt");
    REQUIRE(rpc(s, &m) == P9_RRENAMEAT);
    /* another file takes the old name */
    write_file(share, "hello.txt", "impostor");
    /* a link of fid 1 links the renamed file, not the impostor */
    begin(&m, P9_TLINK, 4);
    put(&m, 0, 4);
    put(&m, 1, 4);
    put_s(&m, "hard");
    CHECK_EQ(rpc(s, &m), P9_RLINK);
    CHECK_STR(read_file(share, "hard"), "hello world\n");
    /* Trename and Tremove refuse the stale name instead of touching the impostor */
    begin(&m, P9_TRENAME, 4);
    put(&m, 1, 4);
    put(&m, 0, 4);
    put_s(&m, "x");
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    CHECK_EQ(lerror(), ESTALE);
    begin(&m, P9_TREMOVE, 4);
    put(&m, 1, 4);
    CHECK_EQ(rpc(s, &m), P9_RLERROR);
    CHECK_STR(read_file(share, "hello.txt"), "impostor");
    CHECK_STR(read_file(share, "renamed.txt"), "hello world\n");
    p9_server_free(s);
}

/* Issue 13's reproduction at the server: a guest's setuid-root file and chown never reach
 * the host; the guest still sees them, from the same records QEMU's mapped-xattr writes, after
 * a restart too. */
TEST(guest_owner_and_mode_are_recorded_not_applied)
{
    const char *share = make_share();
    struct p9_server *s = server(share, false);
    REQUIRE(s);
    REQUIRE(attach_as(s, 10, 1000) == P9_RATTACH);
    REQUIRE(walk(s, 10, 11, "sub", NULL) == P9_RWALK);
    struct msg m;
    begin(&m, P9_TLCREATE, 5);
    put(&m, 11, 4);
    put_s(&m, "s");
    put(&m, 2, 4);
    put(&m, 04755, 4);
    put(&m, 55, 4); /* gid */
    REQUIRE(rpc(s, &m) == P9_RLCREATE);
    char sub[4200], path[4300];
    snprintf(sub, sizeof sub, "%s/sub", share);
    snprintf(path, sizeof path, "%s/s", sub);
    struct stat st;
    REQUIRE(lstat(path, &st) == 0);
    CHECK_EQ(st.st_mode, S_IFREG | 0600);
    CHECK_EQ(st.st_uid, geteuid());
    CHECK_EQ(xattr_le(sub, "s", "user.virtfs.uid"), 1000);
    CHECK_EQ(xattr_le(sub, "s", "user.virtfs.gid"), 55);
    CHECK_EQ(xattr_le(sub, "s", "user.virtfs.mode"), S_IFREG | 04755);
    CHECK_EQ(getattr_mode(s, 11), S_IFREG | 04755);
    CHECK_EQ(getattr_u32(s, 11, 4), 1000);

    /* chown 0:0 then chmod 6755, as the reproduction does */
    REQUIRE(walk(s, 0, 12, "sub", "s", NULL) == P9_RWALK);
    CHECK_EQ(setattr_mode_owner(s, 12, P9_SETATTR_UID | P9_SETATTR_GID, 0, 0, 0), P9_RSETATTR);
    CHECK_EQ(setattr_mode_owner(s, 12, P9_SETATTR_MODE, S_IFREG | 06755, 0, 0), P9_RSETATTR);
    REQUIRE(lstat(path, &st) == 0);
    CHECK_EQ(st.st_mode, S_IFREG | 0600);
    CHECK_EQ(st.st_uid, geteuid());
    CHECK_EQ(st.st_gid, getegid());
    CHECK_EQ(getattr_mode(s, 12), S_IFREG | 06755);
    CHECK_EQ(getattr_u32(s, 12, 4), 0);
    CHECK_EQ(getattr_u32(s, 12, 8), 0);
    /* a type in the guest's mode cannot turn a regular file into something else */
    CHECK_EQ(setattr_mode_owner(s, 12, P9_SETATTR_MODE, S_IFLNK | 0777, 0, 0), P9_RSETATTR);
    CHECK_EQ(getattr_mode(s, 12), S_IFREG | 0777);

    /* directories: 0700 on the host, the guest's mode recorded */
    begin(&m, P9_TMKDIR, 5);
    put(&m, 10, 4);
    put_s(&m, "d");
    put(&m, 02775, 4);
    put(&m, 7, 4);
    REQUIRE(rpc(s, &m) == P9_RMKDIR);
    snprintf(path, sizeof path, "%s/d", share);
    REQUIRE(lstat(path, &st) == 0);
    CHECK_EQ(st.st_mode, S_IFDIR | 0700);
    REQUIRE(walk(s, 0, 13, "d", NULL) == P9_RWALK);
    CHECK_EQ(getattr_mode(s, 13), S_IFDIR | 02775);
    CHECK_EQ(getattr_u32(s, 13, 4), 1000);
    CHECK_EQ(getattr_u32(s, 13, 8), 7);
    p9_server_free(s);

    /* a new server on the same folder (the box restarted) sees the same */
    s = server(share, false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "sub", "s", NULL) == P9_RWALK);
    CHECK_EQ(getattr_mode(s, 1), S_IFREG | 0777);
    CHECK_EQ(getattr_u32(s, 1, 4), 0);
    p9_server_free(s);
}

/* A guest symlink is a host file holding its text (QEMU's layout): nothing on the host can
 * follow it, the guest reads it back as a link. */
TEST(guest_symlinks_are_recorded_files)
{
    const char *share = make_share();
    struct p9_server *s = server(share, false);
    REQUIRE(s);
    struct msg m;
    begin(&m, P9_TSYMLINK, 4);
    put(&m, 0, 4);
    put_s(&m, "shadow");
    put_s(&m, "/etc/shadow");
    put(&m, 0, 4);
    REQUIRE(rpc(s, &m) == P9_RSYMLINK);
    CHECK_EQ(reply[7], P9_QTSYMLINK);
    char path[4200];
    snprintf(path, sizeof path, "%s/shadow", share);
    struct stat st;
    REQUIRE(lstat(path, &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK_STR(read_file(share, "shadow"), "/etc/shadow");
    CHECK_EQ(xattr_le(share, "shadow", "user.virtfs.mode"), S_IFLNK | 0777);
    REQUIRE(walk(s, 0, 1, "shadow", NULL) == P9_RWALK);
    CHECK_EQ(reply[9], P9_QTSYMLINK);
    CHECK_EQ(getattr_mode(s, 1), S_IFLNK | 0777);
    begin(&m, P9_TREADLINK, 4);
    put(&m, 1, 4);
    REQUIRE(rpc(s, &m) == P9_RREADLINK);
    CHECK_EQ(get(reply + 7, 2), 11);
    CHECK_MEM(reply + 9, "/etc/shadow", 11);
    CHECK_EQ(lopen(s, 1, 0), P9_RLERROR); /* the guest resolves links itself */
    CHECK_EQ(lerror(), ELOOP);
    /* a socket name is a recorded file too; FIFOs are refused */
    begin(&m, P9_TMKNOD, 4);
    put(&m, 0, 4);
    put_s(&m, "sock");
    put(&m, S_IFSOCK | 0755, 4);
    put(&m, 0, 4);
    put(&m, 0, 4);
    put(&m, 0, 4);
    CHECK_EQ(rpc(s, &m), P9_RMKNOD);
    snprintf(path, sizeof path, "%s/sock", share);
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
    REQUIRE(walk(s, 0, 2, "sock", NULL) == P9_RWALK);
    CHECK_EQ(getattr_mode(s, 2), S_IFSOCK | 0755);
    p9_server_free(s);
}

/* Records written the way QEMU's mapped-xattr writes them (hw/9pfs/9p-local.c) read the
 * same here, and a record cannot make a directory anything else. */
TEST(qemu_records_are_understood)
{
    const char *share = make_share();
    char path[4200];
    unsigned char uid[4] = { 0x39, 0x30, 0, 0 }, mode[4];
    uint32_t m32 = S_IFLNK | 0777;
    for (int i = 0; i < 4; i++)
        mode[i] = (unsigned char)(m32 >> (8 * i));
    write_file(share, "qlink", "hello.txt");
    snprintf(path, sizeof path, "%s/qlink", share);
    REQUIRE(setxattr(path, "user.virtfs.mode", mode, 4, 0) == 0);
    REQUIRE(setxattr(path, "user.virtfs.uid", uid, 4, 0) == 0);
    m32 = S_IFCHR | 0600;
    for (int i = 0; i < 4; i++)
        mode[i] = (unsigned char)(m32 >> (8 * i));
    snprintf(path, sizeof path, "%s/sub", share);
    REQUIRE(setxattr(path, "user.virtfs.mode", mode, 4, 0) == 0);
    struct p9_server *s = server(share, false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 1, "qlink", NULL) == P9_RWALK);
    CHECK_EQ(reply[9], P9_QTSYMLINK);
    CHECK_EQ(getattr_mode(s, 1), S_IFLNK | 0777);
    CHECK_EQ(getattr_u32(s, 1, 4), 12345);
    struct msg m;
    begin(&m, P9_TREADLINK, 4);
    put(&m, 1, 4);
    REQUIRE(rpc(s, &m) == P9_RREADLINK);
    CHECK_MEM(reply + 9, "hello.txt", 9);
    REQUIRE(walk(s, 0, 2, "sub", NULL) == P9_RWALK);
    CHECK_EQ(getattr_mode(s, 2), S_IFDIR | 0600);
    p9_server_free(s);
}

/* Without user xattrs (ramfs here; tmpfs before Linux 6.6): nothing is recorded, chmod keeps
 * the rwx bits only, chown has no effect. */
TEST(share_without_xattrs_keeps_only_rwx)
{
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        harness_skip("no private mount namespace (needs root); the rule is the same code path "
                     "as guest_owner_and_mode_are_recorded_not_applied");
    char share[4200];
    snprintf(share, sizeof share, "%s/ramfs", harness_tmpdir());
    REQUIRE(mkdir(share, 0755) == 0);
    REQUIRE(mount("ramfs", share, "ramfs", 0, "mode=0755") == 0);
    write_file(share, "f", "x");
    char path[4300];
    snprintf(path, sizeof path, "%s/f", share);
    chmod(path, 0644);
    struct p9_server *s = server(share, false);
    REQUIRE(s);
    REQUIRE(walk(s, 0, 5, NULL) == P9_RWALK);
    CHECK_EQ(lcreate(s, 5, "new", 2), P9_RLCREATE); /* fid 5 becomes the new file */
    snprintf(path, sizeof path, "%s/new", share);
    struct stat st;
    CHECK(lstat(path, &st) == 0 && st.st_mode == (S_IFREG | 0644)); /* the guest's 0644 */
    snprintf(path, sizeof path, "%s/f", share);
    REQUIRE(walk(s, 0, 1, "f", NULL) == P9_RWALK);
    CHECK_EQ(setattr_mode_owner(s, 1, P9_SETATTR_MODE, 04755, 0, 0), P9_RSETATTR);
    CHECK_EQ(setattr_mode_owner(s, 1, P9_SETATTR_UID | P9_SETATTR_GID, 0, 1234, 4321),
             P9_RSETATTR);
    REQUIRE(lstat(path, &st) == 0);
    CHECK_EQ(st.st_mode, S_IFREG | 0755);
    CHECK_EQ(st.st_uid, geteuid());
    CHECK_EQ(getattr_mode(s, 1), S_IFREG | 0755);
    struct msg m;
    begin(&m, P9_TSYMLINK, 4);
    put(&m, 0, 4);
    put_s(&m, "l");
    put_s(&m, "/etc/shadow");
    put(&m, 0, 4);
    CHECK_EQ(rpc(s, &m), P9_RSYMLINK); /* a plain symlink: the server never follows it */
    p9_server_free(s);
    umount2(share, MNT_DETACH);
}
