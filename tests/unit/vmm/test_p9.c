/* The 9P2000.L server against a temporary directory, through flat message buffers: the
 * operations a Linux client uses, symlink and ".." escapes, read-only shares, and
 * malformed messages. */
#include "vmm/fs/p9.h"

#include "common/cleanup.h"
#include "harness/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a tiny client ------------------------------------------------------------------- */

struct msg {
    uint8_t b[70000];
    size_t n;
};

static void put(struct msg *m, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        m->b[m->n++] = (uint8_t)(v >> (8 * i));
}
static void put_s(struct msg *m, const char *s)
{
    size_t n = strlen(s);
    put(m, n, 2);
    memcpy(m->b + m->n, s, n);
    m->n += n;
}
static void begin(struct msg *m, uint8_t type, uint16_t tag)
{
    m->n = 0;
    put(m, 0, 4);
    put(m, type, 1);
    put(m, tag, 2);
}
static void finish(struct msg *m)
{
    for (int i = 0; i < 4; i++)
        m->b[i] = (uint8_t)(m->n >> (8 * i));
}
static uint64_t get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint8_t reply[1 << 20];
static size_t reply_len;

/* Sends m; returns the reply type (reply[] holds it). */
static int rpc(struct p9_server *s, struct msg *m)
{
    finish(m);
    reply_len = p9_handle(s, m->b, m->n, reply, sizeof reply);
    if (reply_len < 7 || get(reply, 4) != reply_len)
        return -1;
    return reply[4];
}
/* The Rlerror code of the last reply, or 0 if it was not an Rlerror. */
static int lerror(void) { return reply[4] == P9_RLERROR ? (int)get(reply + 7, 4) : 0; }

static struct p9_server *server(const char *root, bool ro)
{
    struct p9_server *s = NULL;
    struct bl_error err = {0};
    if (p9_server_new(&s, root, ro, 65536, &err) < 0)
        return NULL;
    struct msg m;
    begin(&m, P9_TVERSION, P9_NOTAG);
    put(&m, 65536, 4);
    put_s(&m, "9P2000.L");
    if (rpc(s, &m) != P9_RVERSION)
        return NULL;
    begin(&m, P9_TATTACH, 1);
    put(&m, 0, 4);          /* fid 0 = root */
    put(&m, P9_NOFID, 4);   /* afid */
    put_s(&m, "root");
    put_s(&m, "");
    put(&m, 0, 4);
    if (rpc(s, &m) != P9_RATTACH)
        return NULL;
    return s;
}

/* Walks fid -> newfid along names (NULL-terminated); returns the reply type. */
static int walk(struct p9_server *s, uint32_t fid, uint32_t newfid, ...)
{
    struct msg m;
    const char *names[20];
    int n = 0;
    va_list ap;
    va_start(ap, newfid);
    for (const char *p; (p = va_arg(ap, const char *));)
        names[n++] = p;
    va_end(ap);
    begin(&m, P9_TWALK, 2);
    put(&m, fid, 4);
    put(&m, newfid, 4);
    put(&m, (uint64_t)n, 2);
    for (int i = 0; i < n; i++)
        put_s(&m, names[i]);
    return rpc(s, &m);
}
static int nwqid(void) { return (int)get(reply + 7, 2); }

static int lopen(struct p9_server *s, uint32_t fid, uint32_t flags)
{
    struct msg m;
    begin(&m, P9_TLOPEN, 3);
    put(&m, fid, 4);
    put(&m, flags, 4);
    return rpc(s, &m);
}

static int clunk(struct p9_server *s, uint32_t fid)
{
    struct msg m;
    begin(&m, P9_TCLUNK, 3);
    put(&m, fid, 4);
    return rpc(s, &m);
}

static int do_read(struct p9_server *s, uint32_t fid, uint64_t off, uint32_t count)
{
    struct msg m;
    begin(&m, P9_TREAD, 4);
    put(&m, fid, 4);
    put(&m, off, 8);
    put(&m, count, 4);
    return rpc(s, &m);
}

static int do_write(struct p9_server *s, uint32_t fid, uint64_t off, const char *data)
{
    struct msg m;
    begin(&m, P9_TWRITE, 4);
    put(&m, fid, 4);
    put(&m, off, 8);
    put(&m, strlen(data), 4);
    memcpy(m.b + m.n, data, strlen(data));
    m.n += strlen(data);
    return rpc(s, &m);
}

static int lcreate(struct p9_server *s, uint32_t dfid, const char *name, uint32_t flags)
{
    struct msg m;
    begin(&m, P9_TLCREATE, 5);
    put(&m, dfid, 4);
    put_s(&m, name);
    put(&m, flags, 4);
    put(&m, 0644, 4);
    put(&m, 0, 4);
    return rpc(s, &m);
}

static int mkdir9(struct p9_server *s, uint32_t dfid, const char *name)
{
    struct msg m;
    begin(&m, P9_TMKDIR, 5);
    put(&m, dfid, 4);
    put_s(&m, name);
    put(&m, 0755, 4);
    put(&m, 0, 4);
    return rpc(s, &m);
}

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
    static char buf[4096];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
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
    CHECK_EQ(st.st_mode & 0777, 0600);
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
    CHECK_EQ(rpc(s, &m), P9_RMKNOD);
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
    CHECK_EQ(rpc(s, &m), P9_RSETATTR); /* applied as root, ignored otherwise */
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/hello.txt", share);
    REQUIRE(stat(path, &st) == 0);
    if (geteuid() == 0) {
        CHECK_EQ(st.st_uid, 1234);
        CHECK_EQ(st.st_gid, 4321);
    }
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
