// SPDX-License-Identifier: Apache-2.0
/* The ext4 builder (src/image/ext4build.c): layers made in memory, applied to a real image,
 * which is then read back with e2fsprogs' own tools (e2fsck -fn, debugfs). */
#include "common/cleanup.h"
#include "harness/harness.h"
#include "image/ext4build.h"
#include "tarbuild.h"

#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* debugfs's answer to one request, stderr left out. */
static const char *dbg(char *buf, size_t n, const char *img, const char *req)
{
    return harness_output(buf, n, "debugfs -R '%s' %s 2>/dev/null", req, img);
}

static int fsck_clean(const char *img)
{
    int r = harness_sh("e2fsck -fn %s >%s.fsck 2>&1", img, img);
    if (r != 0)
        harness_sh("cat %s.fsck >&2", img);
    return r == 0;
}

static void img_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s.ext4", harness_tmpdir(), name);
}

/* Applies the layers in order and finishes; 0 or the failing step's error. */
static int build(const char *img, struct tarb *layers, int n, uint64_t headroom, struct ext4b_stats *st,
                 struct bl_error *e)
{
    struct ext4b *b;
    int r = ext4b_create(&b, img, 0, e);
    if (r < 0)
        return r;
    for (int i = 0; r == 0 && i < n; i++)
        r = ext4b_apply_mem(b, layers[i].buf, layers[i].used, e);
    if (r == 0)
        r = ext4b_finish(b, headroom, st, e);
    ext4b_free(b);
    return r;
}

static void free_layers(struct tarb *t, int n)
{
    for (int i = 0; i < n; i++)
        free(t[i].buf);
}

/* "Mode:  0755" and friends from debugfs stat. */
static unsigned field(const char *out, const char *key, int base)
{
    const char *p = strstr(out, key);
    return p ? (unsigned)strtoul(p + strlen(key), NULL, base) : 0xdeadbeef;
}

TEST_TIMEOUT(every_entry_type_lands_in_the_image, 120)
{
    char img[600], out[8192];
    img_path(img, sizeof img, "types");
    struct tarb t;
    tarb_begin(&t, 1);
    tarb_add(&t, "./bin/", AE_IFDIR, 0755, 0, 0, NULL);
    tarb_add(&t, "./bin/busybox", AE_IFREG, 04755, 0, 0, "#!busybox\n");
    tarb_add(&t, "bin/sh", AE_IFLNK, 0777, 0, 0, "/bin/busybox");
    tarb_link(&t, "bin/ls", "bin/busybox");
    tarb_add(&t, "dev/null", AE_IFCHR, 0666, 0, 0, NULL);
    tarb_add(&t, "dev/sda", AE_IFBLK, 0660, 0, 6, NULL);
    tarb_add(&t, "run/fifo", AE_IFIFO, 0600, 0, 0, NULL);
    tarb_add(&t, "home/user/", AE_IFDIR, 0700, 1000, 1000, NULL);
    tarb_add(&t, "home/user/secret", AE_IFREG, 0000, 1000, 1000, "x");
    tarb_add(&t, "/abs/file", AE_IFREG, 0644, 0, 0, "leading slash dropped");
    tarb_add(&t, "etc", AE_IFLNK, 0777, 0, 0, "/etc");
    tarb_add(&t, "big/ids", AE_IFREG, 0640, 100000, 200000, "32-bit owners");
    tarb_add(&t, "tmp/", AE_IFDIR, 01777, 0, 0, NULL);
    static char longtarget[300];
    memset(longtarget, 'l', sizeof longtarget - 1);
    longtarget[0] = '/';
    tarb_add(&t, "long", AE_IFLNK, 0777, 55, 66, longtarget);
    tarb_end(&t);
    struct bl_error e = {0};
    struct ext4b_stats st;
    umask(077); /* as a private home's creator may have it */
    int r = build(img, &t, 1, 64 << 20, &st, &e);
    free(t.buf);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "build: %s", e.msg);
    /* readable by the jailed per-box process's uid where no idmapped mount maps it */
    struct stat ist;
    CHECK(stat(img, &ist) == 0 && (ist.st_mode & 0777) == 0644);
    REQUIRE(r == 0);
    CHECK(fsck_clean(img));
    dbg(out, sizeof out, img, "stat /bin/busybox");
    CHECK(strstr(out, "Type: regular") != NULL);
    CHECK_EQ(field(out, "Mode:", 8), 04755);
    CHECK_EQ(field(out, "Links:", 10), 2);
    CHECK_EQ(field(out, "Size:", 10), 10);
    CHECK(strstr(dbg(out, sizeof out, img, "cat /bin/ls"), "#!busybox") != NULL);
    dbg(out, sizeof out, img, "stat /bin/sh");
    CHECK(strstr(out, "Fast link dest: \"/bin/busybox\"") != NULL);
    dbg(out, sizeof out, img, "stat /dev/null");
    CHECK(strstr(out, "Type: character special") != NULL);
    CHECK(strstr(out, "Device major/minor number: 01:03") != NULL);
    CHECK_EQ(field(out, "Mode:", 8), 0666);
    dbg(out, sizeof out, img, "stat /dev/sda");
    CHECK(strstr(out, "Type: block special") != NULL);
    CHECK_EQ(field(out, "Group:", 10), 6);
    CHECK(strstr(dbg(out, sizeof out, img, "stat /run/fifo"), "Type: FIFO") != NULL);
    dbg(out, sizeof out, img, "stat /home/user");
    CHECK_EQ(field(out, "User:", 10), 1000);
    CHECK_EQ(field(out, "Mode:", 8), 0700);
    dbg(out, sizeof out, img, "stat /home/user/secret");
    CHECK_EQ(field(out, "Mode:", 8), 0);
    CHECK_EQ(field(out, "Group:", 10), 1000);
    dbg(out, sizeof out, img, "stat /run"); /* implied: 0755 root:root */
    CHECK_EQ(field(out, "Mode:", 8), 0755);
    CHECK_EQ(field(out, "User:", 10), 0);
    CHECK(strstr(dbg(out, sizeof out, img, "cat /abs/file"), "leading slash dropped") != NULL);
    dbg(out, sizeof out, img, "stat /big/ids");
    CHECK_EQ(field(out, "User:", 10), 100000);
    CHECK_EQ(field(out, "Group:", 10), 200000);
    CHECK_EQ(field(out, "Mode:", 8), 0640);
    CHECK_EQ(field(dbg(out, sizeof out, img, "stat /tmp"), "Mode:", 8), 01777);
    dbg(out, sizeof out, img, "stat /long");
    CHECK(strstr(out, "Type: symlink") != NULL);
    CHECK_EQ(field(out, "Size:", 10), strlen(longtarget));
    CHECK_EQ(field(out, "User:", 10), 55);
    CHECK(strstr(dbg(out, sizeof out, img, "cat /long"), longtarget) != NULL);
    dbg(out, sizeof out, img, "stat /");
    CHECK_EQ(field(out, "Mode:", 8), 0755);
    CHECK_EQ(field(out, "User:", 10), 0);
    CHECK(strstr(dbg(out, sizeof out, img, "ls /"), "lost+found") != NULL);
    /* mtime from the tar (2023-11-14 22:13:20 UTC) */
    CHECK(strstr(dbg(out, sizeof out, img, "stat /bin/busybox"), "mtime: 0x6553f100") != NULL);
    /* Headroom asked: 64 MiB free at least, and not far more. */
    dbg(out, sizeof out, img, "stats");
    unsigned long long freeb = field(out, "Free blocks:", 10), count = field(out, "Block count:", 10);
    CHECK(freeb * 4096 >= (64ull << 20));
    CHECK(freeb * 4096 <= (64ull << 20) + (64ull << 20) + (16ull << 20));
    CHECK_EQ(count * 4096, st.image_size);
    struct stat sb;
    REQUIRE(stat(img, &sb) == 0);
    CHECK_EQ((unsigned long long)sb.st_size, st.image_size);
}

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

/* Data bigger than one chunk, files that follow each other, a sparse file from GNU tar:
 * every byte read back equal, holes unallocated. */
TEST_TIMEOUT(file_data_is_written_exactly, 120)
{
    char img[600], out[8192], dir[700], tarfile[800];
    img_path(img, sizeof img, "data");
    size_t big = (3u << 20) + 1234;
    unsigned char *p = pattern(big, 1), *q = pattern(5000, 2);
    struct tarb t[2];
    tarb_begin(&t[0], 0);
    tarb_add_data(&t[0], "data/big", 0644, p, big);
    tarb_add_data(&t[0], "data/small", 0644, q, 5000);
    tarb_add_data(&t[0], "data/block", 0644, p, 4096);
    tarb_add_data(&t[0], "data/empty", 0644, "", 0);
    tarb_end(&t[0]);
    /* A sparse file: 8 MiB with data at 0, in the middle and at the end. */
    snprintf(dir, sizeof dir, "%s/sparse", harness_tmpdir());
    snprintf(tarfile, sizeof tarfile, "%s/sparse.tar", harness_tmpdir());
    mkdir(dir, 0755);
    REQUIRE(harness_sh("cd %s && truncate -s 8M s && printf head | dd of=s conv=notrunc status=none && "
               "printf middle | dd of=s bs=1 seek=4000000 conv=notrunc status=none && "
               "printf tail | dd of=s bs=1 seek=8388604 conv=notrunc status=none && "
               "tar --format=pax -S -cf %s s",
               dir, tarfile) == 0);
    FILE *f = fopen(tarfile, "rb");
    REQUIRE(f);
    t[1].buf = malloc(1 << 20);
    t[1].used = fread(t[1].buf, 1, 1 << 20, f);
    fclose(f);
    struct bl_error e = {0};
    int r = build(img, t, 2, 0, NULL, &e);
    free_layers(t, 2);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "build: %s", e.msg);
    REQUIRE(r == 0);
    CHECK(fsck_clean(img));
    char dump[900], cmd[2000];
    snprintf(dump, sizeof dump, "%s/big.out", harness_tmpdir());
    snprintf(cmd, sizeof cmd, "dump /data/big %s", dump);
    dbg(out, sizeof out, img, cmd);
    f = fopen(dump, "rb");
    REQUIRE(f);
    unsigned char *back = malloc(big + 1);
    CHECK_EQ(fread(back, 1, big + 1, f), big);
    fclose(f);
    CHECK_MEM(back, p, big);
    snprintf(cmd, sizeof cmd, "dump /data/small %s", dump);
    dbg(out, sizeof out, img, cmd);
    f = fopen(dump, "rb");
    REQUIRE(f);
    CHECK_EQ(fread(back, 1, 5001, f), 5000);
    fclose(f);
    CHECK_MEM(back, q, 5000);
    free(back);
    free(p);
    free(q);
    CHECK_EQ(field(dbg(out, sizeof out, img, "stat /data/empty"), "Size:", 10), 0);
    CHECK_EQ(field(dbg(out, sizeof out, img, "stat /data/block"), "Blockcount:", 10), 8);
    /* The sparse file: same bytes, and only three blocks allocated. */
    dbg(out, sizeof out, img, "stat /s");
    CHECK_EQ(field(out, "Size:", 10), 8 << 20);
    CHECK_EQ(field(out, "Blockcount:", 10), 3 * 8);
    snprintf(cmd, sizeof cmd, "dump /s %s", dump);
    dbg(out, sizeof out, img, cmd);
    CHECK_EQ(harness_sh("cmp %s %s/s", dump, dir), 0);
}

TEST_TIMEOUT(whiteouts_and_opaque_directories, 120)
{
    char img[600], out[8192];
    img_path(img, sizeof img, "wh");
    struct tarb t[3];
    tarb_begin(&t[0], 0);
    tarb_add(&t[0], "a/x", AE_IFREG, 0644, 0, 0, "x");
    tarb_add(&t[0], "a/y", AE_IFREG, 0644, 0, 0, "y");
    tarb_add(&t[0], "a/sub/deep", AE_IFREG, 0644, 0, 0, "d");
    tarb_add(&t[0], "a/sub/deeper/file", AE_IFREG, 0644, 0, 0, "d");
    tarb_add(&t[0], "b/z", AE_IFREG, 0644, 0, 0, "z");
    tarb_add(&t[0], "b/keepdir/old", AE_IFREG, 0644, 0, 0, "o");
    tarb_add(&t[0], "h/orig", AE_IFREG, 0644, 0, 0, "shared");
    tarb_link(&t[0], "h/link", "h/orig");
    tarb_end(&t[0]);
    tarb_begin(&t[1], 2); /* zstd */
    tarb_add(&t[1], "a/.wh.x", AE_IFREG, 0644, 0, 0, NULL);
    tarb_add(&t[1], "a/.wh.sub", AE_IFREG, 0644, 0, 0, NULL);
    tarb_add(&t[1], "b/new", AE_IFREG, 0644, 0, 0, "n");
    tarb_add(&t[1], "b/keepdir/fresh", AE_IFREG, 0644, 0, 0, "f");
    tarb_add(&t[1], "b/.wh..wh..opq", AE_IFREG, 0644, 0, 0, NULL);
    tarb_add(&t[1], "c/made", AE_IFREG, 0644, 0, 0, "m");
    tarb_add(&t[1], "c/.wh.made", AE_IFREG, 0644, 0, 0, NULL); /* same layer: no effect */
    tarb_add(&t[1], "h/.wh.orig", AE_IFREG, 0644, 0, 0, NULL); /* the link keeps the inode */
    tarb_add(&t[1], "nothing/.wh.there", AE_IFREG, 0644, 0, 0, NULL);
    tarb_end(&t[1]);
    tarb_begin(&t[2], 1); /* the opaque marker first this time */
    tarb_add(&t[2], "b/.wh..wh..opq", AE_IFREG, 0644, 0, 0, NULL);
    tarb_add(&t[2], "b/third", AE_IFREG, 0644, 0, 0, "3");
    tarb_end(&t[2]);
    struct bl_error e = {0};
    int r = build(img, t, 3, 0, NULL, &e);
    free_layers(t, 3);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "build: %s", e.msg);
    REQUIRE(r == 0);
    CHECK(fsck_clean(img));
    dbg(out, sizeof out, img, "ls /a");
    CHECK(!strstr(out, " x ") && !strstr(out, "sub") && strstr(out, " y "));
    dbg(out, sizeof out, img, "ls /b");
    CHECK(strstr(out, "third") && !strstr(out, "new") && !strstr(out, " z ") && !strstr(out, "keepdir"));
    dbg(out, sizeof out, img, "ls /c");
    CHECK(strstr(out, "made") != NULL);
    dbg(out, sizeof out, img, "ls /h");
    CHECK(strstr(out, "link") && !strstr(out, "orig"));
    CHECK_EQ(field(dbg(out, sizeof out, img, "stat /h/link"), "Links:", 10), 1);
    CHECK(strstr(dbg(out, sizeof out, img, "ls /"), "nothing") != NULL);
    CHECK(!strstr(dbg(out, sizeof out, img, "ls /nothing"), ".wh."));
}

TEST_TIMEOUT(opaque_keeps_what_the_layer_adds, 120)
{
    char img[600], out[8192];
    img_path(img, sizeof img, "opq");
    struct tarb t[2];
    tarb_begin(&t[0], 0);
    tarb_add(&t[0], "b/z", AE_IFREG, 0644, 0, 0, "z");
    tarb_add(&t[0], "b/keep/old", AE_IFREG, 0644, 0, 0, "o");
    tarb_end(&t[0]);
    tarb_begin(&t[1], 0);
    tarb_add(&t[1], "b/new", AE_IFREG, 0644, 0, 0, "n");
    tarb_add(&t[1], "b/keep/fresh", AE_IFREG, 0644, 0, 0, "f");
    tarb_add(&t[1], "b/.wh..wh..opq", AE_IFREG, 0644, 0, 0, NULL);
    tarb_end(&t[1]);
    struct bl_error e = {0};
    int r = build(img, t, 2, 0, NULL, &e);
    free_layers(t, 2);
    REQUIRE(r == 0);
    CHECK(fsck_clean(img));
    dbg(out, sizeof out, img, "ls /b");
    CHECK(strstr(out, "new") && strstr(out, "keep") && !strstr(out, " z "));
    dbg(out, sizeof out, img, "ls /b/keep");
    CHECK(strstr(out, "fresh") && !strstr(out, "old"));
}

TEST_TIMEOUT(replaced_entries_free_their_inodes, 120)
{
    char img[600], out[8192];
    img_path(img, sizeof img, "replace");
    size_t big = 2u << 20;
    unsigned char *p = pattern(big, 3);
    struct tarb t[2];
    tarb_begin(&t[0], 0);
    tarb_add(&t[0], "f", AE_IFREG, 0644, 0, 0, "old");
    tarb_add(&t[0], "d/inner", AE_IFREG, 0644, 0, 0, "i");
    tarb_add(&t[0], "l", AE_IFLNK, 0777, 0, 0, "/nowhere");
    tarb_add_data(&t[0], "huge", 0644, p, big);
    tarb_add(&t[0], "keep/", AE_IFDIR, 0700, 3, 3, NULL);
    tarb_end(&t[0]);
    tarb_begin(&t[1], 0);
    tarb_add(&t[1], "f", AE_IFREG, 0600, 5, 5, "new!");
    tarb_add(&t[1], "d", AE_IFREG, 0644, 0, 0, "file now");
    tarb_add(&t[1], "l", AE_IFREG, 0644, 0, 0, "not a link");
    tarb_add(&t[1], "huge", AE_IFLNK, 0777, 0, 0, "small now");
    tarb_add(&t[1], "keep/", AE_IFDIR, 0755, 4, 4, NULL); /* a directory stays, changed */
    tarb_end(&t[1]);
    free(p);
    struct bl_error e = {0};
    struct ext4b_stats st;
    int r = build(img, t, 2, 0, &st, &e);
    free_layers(t, 2);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "build: %s", e.msg);
    REQUIRE(r == 0);
    CHECK(fsck_clean(img)); /* bitmaps and counts agree with what is linked */
    dbg(out, sizeof out, img, "stat /f");
    CHECK_EQ(field(out, "Size:", 10), 4);
    CHECK_EQ(field(out, "User:", 10), 5);
    CHECK(strstr(dbg(out, sizeof out, img, "stat /d"), "Type: regular") != NULL);
    CHECK(strstr(dbg(out, sizeof out, img, "stat /l"), "Type: regular") != NULL);
    CHECK(strstr(dbg(out, sizeof out, img, "stat /huge"), "Fast link dest: \"small now\"") != NULL);
    dbg(out, sizeof out, img, "stat /keep");
    CHECK_EQ(field(out, "Mode:", 8), 0755);
    CHECK_EQ(field(out, "User:", 10), 4);
    /* The 2 MiB are free again: the image holds little besides its journal. */
    dbg(out, sizeof out, img, "stats");
    unsigned long long freeb = field(out, "Free blocks:", 10), count = field(out, "Block count:", 10);
    unsigned long long inodes_free = field(out, "Free inodes:", 10), inodes = field(out, "Inode count:", 10);
    /* 10 reserved, lost+found, then f, d, l, huge, keep: what was replaced is free */
    CHECK_EQ(inodes - inodes_free, 16);
    CHECK(count - freeb < 8192); /* well under 32 MiB: the 2 MiB went back */
}

static void expect_reject(const char *what, void (*make)(struct tarb *), const char *msg_part)
{
    char img[600];
    img_path(img, sizeof img, what);
    struct tarb t;
    tarb_begin(&t, 1);
    make(&t);
    tarb_end(&t);
    struct bl_error e = {0};
    int r = build(img, &t, 1, 0, NULL, &e);
    free(t.buf);
    if (r >= 0) {
        harness_fail(__FILE__, __LINE__, "%s: accepted", what);
        return;
    }
    if (e.code != BOXLITE_ERR_IMAGE || !strstr(e.msg, msg_part))
        harness_fail(__FILE__, __LINE__, "%s: code %d, message \"%s\" lacks \"%s\"", what, e.code, e.msg, msg_part);
    if (access(img, F_OK) == 0)
        harness_fail(__FILE__, __LINE__, "%s: an image was left", what);
}

static char outside[512];
static void b_dotdot(struct tarb *t) { tarb_add(t, "../escape", AE_IFREG, 0644, 0, 0, "x"); }
static void b_dotdot_mid(struct tarb *t) { tarb_add(t, "a/../../escape", AE_IFREG, 0644, 0, 0, "x"); }
static void b_through_abs(struct tarb *t)
{
    tarb_add(t, "out", AE_IFLNK, 0777, 0, 0, outside);
    tarb_add(t, "out/pwned", AE_IFREG, 0644, 0, 0, "x");
}
static void b_through_rel(struct tarb *t)
{
    tarb_add(t, "up", AE_IFLNK, 0777, 0, 0, "../../../../../../..");
    tarb_add(t, "up/tmp/pwned", AE_IFREG, 0644, 0, 0, "x");
}
static void b_link_through(struct tarb *t)
{
    tarb_add(t, "out", AE_IFLNK, 0777, 0, 0, outside);
    tarb_link(t, "stolen", "out/secret");
}
static void b_link_dotdot(struct tarb *t) { tarb_link(t, "stolen", "../secret"); }
static void b_link_dir(struct tarb *t)
{
    tarb_add(t, "d/", AE_IFDIR, 0755, 0, 0, NULL);
    tarb_link(t, "loop", "d");
}
static void b_link_root(struct tarb *t) { tarb_link(t, "r", "./"); }
static void b_link_missing(struct tarb *t) { tarb_link(t, "r", "no/such"); }
static void b_under_file(struct tarb *t)
{
    tarb_add(t, "f", AE_IFREG, 0644, 0, 0, "x");
    tarb_add(t, "f/g", AE_IFREG, 0644, 0, 0, "x");
}
static void b_root_file(struct tarb *t) { tarb_add(t, ".", AE_IFREG, 0644, 0, 0, "x"); }
static void b_whiteout_through(struct tarb *t)
{
    tarb_add(t, "s", AE_IFLNK, 0777, 0, 0, "/etc");
    tarb_add(t, "s/.wh.passwd", AE_IFREG, 0644, 0, 0, NULL);
}
static void b_bad_whiteout(struct tarb *t) { tarb_add(t, "a/.wh.", AE_IFREG, 0644, 0, 0, NULL); }
static void b_link_replaces_its_dir(struct tarb *t)
{
    tarb_add(t, "d/f", AE_IFREG, 0644, 0, 0, "x");
    tarb_link(t, "d", "d/f");
}

TEST_TIMEOUT(hostile_entries_are_refused, 120)
{
    snprintf(outside, sizeof outside, "%s/outside", harness_tmpdir());
    mkdir(outside, 0755);
    char secret[600];
    snprintf(secret, sizeof secret, "%s/secret", outside);
    FILE *f = fopen(secret, "w");
    REQUIRE(f);
    fputs("s", f);
    fclose(f);
    expect_reject("dotdot", b_dotdot, "..");
    expect_reject("dotdot_mid", b_dotdot_mid, "..");
    expect_reject("through_abs", b_through_abs, "symlink");
    expect_reject("through_rel", b_through_rel, "symlink");
    expect_reject("link_through", b_link_through, "symlink");
    expect_reject("link_dotdot", b_link_dotdot, "..");
    expect_reject("link_dir", b_link_dir, "is a directory");
    expect_reject("link_root", b_link_root, "root directory");
    expect_reject("under_file", b_under_file, "not a directory");
    expect_reject("root_file", b_root_file, "replaces the root");
    expect_reject("whiteout_through", b_whiteout_through, "symlink");
    expect_reject("bad_whiteout", b_bad_whiteout, "bad whiteout");
    char pw[600];
    snprintf(pw, sizeof pw, "%s/pwned", outside);
    CHECK(access(pw, F_OK) != 0);
    CHECK(access("/tmp/pwned", F_OK) != 0);
    /* A missing hard-link target is an I/O-style "not found", not a crash. */
    char img[600];
    img_path(img, sizeof img, "missing");
    struct tarb t;
    tarb_begin(&t, 0);
    b_link_missing(&t);
    tarb_end(&t);
    struct bl_error e = {0};
    CHECK(build(img, &t, 1, 0, NULL, &e) < 0);
    CHECK(strstr(e.msg, "no/such") != NULL);
    free(t.buf);
    tarb_begin(&t, 0);
    b_link_replaces_its_dir(&t);
    tarb_end(&t);
    CHECK(build(img, &t, 1, 0, NULL, &e) < 0);
    free(t.buf);
    CHECK(access(img, F_OK) != 0);
}

TEST(garbage_is_an_error)
{
    char img[600];
    img_path(img, sizeof img, "garbage");
    struct ext4b *b;
    struct bl_error e = {0};
    REQUIRE(ext4b_create(&b, img, 0, &e) == 0);
    static const char junk[] = "this is not a tar file at all, not even close..........";
    CHECK(ext4b_apply_mem(b, junk, sizeof junk, &e) < 0);
    CHECK(e.msg[0] != 0);
    /* Spent: finishing is refused, freeing removes the temporary file. */
    CHECK(ext4b_finish(b, 0, NULL, &e) < 0);
    ext4b_free(b);
    CHECK(access(img, F_OK) != 0);
    CHECK(harness_sh("ls -A %s | grep -q '[.]tmp[.]'", harness_tmpdir()) != 0);
    /* A gzip stream cut short. */
    struct tarb t;
    tarb_begin(&t, 1);
    unsigned char *p = pattern(200000, 4);
    tarb_add_data(&t, "big", 0644, p, 200000);
    free(p);
    tarb_end(&t);
    t.used /= 2;
    CHECK(build(img, &t, 1, 0, NULL, &e) < 0);
    CHECK(e.msg[0] != 0);
    free(t.buf);
    CHECK(access(img, F_OK) != 0);
}

TEST(clean_path_cases)
{
    char out[64];
    CHECK(ext4b_clean_path("./a//b/./c/", out, sizeof out, NULL) == 0);
    CHECK_STR(out, "a/b/c");
    CHECK(ext4b_clean_path("/", out, sizeof out, NULL) == 0);
    CHECK_STR(out, "");
    CHECK(ext4b_clean_path("a/..", out, sizeof out, NULL) < 0);
    CHECK(ext4b_clean_path("..a/b..", out, sizeof out, NULL) == 0);
    CHECK_STR(out, "..a/b..");
    char longp[200];
    memset(longp, 'x', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    CHECK(ext4b_clean_path(longp, out, sizeof out, NULL) < 0);
    char comp[300];
    memset(comp, 'y', sizeof comp - 1);
    comp[sizeof comp - 1] = 0;
    char big[4096];
    CHECK(ext4b_clean_path(comp, big, sizeof big, NULL) < 0);
}

TEST_TIMEOUT(extended_attributes, 120)
{
    char img[600], out[8192];
    img_path(img, sizeof img, "xattr");
    /* cap_net_raw+ep as a VFS_CAP_REVISION_2 blob (linux/capability.h) */
    static const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00};
    static char bigval[3000];
    memset(bigval, 'v', sizeof bigval);
    struct tarb t[2];
    tarb_begin(&t[0], 1);
    tarb_add_xattr(&t[0], "bin/ping", "ping", "security.capability", cap, sizeof cap);
    tarb_add_xattr(&t[0], "bin/tagged", "t", "user.boxlite", "hello", 5);
    tarb_add_xattr(&t[0], "bin/blocky", "b", "user.big", bigval, sizeof bigval); /* an xattr block */
    tarb_add_xattr(&t[0], "bin/system", "s", "system.nope", "x", 1);             /* left out */
    tarb_dir_xattr(&t[0], "etc/", "user.dir", "one", 3);
    tarb_dir_xattr(&t[0], "var/", "user.dir", "gone", 4);
    tarb_add_xattr(&t[0], "gone", "g", "user.big", bigval, sizeof bigval);
    tarb_end(&t[0]);
    tarb_begin(&t[1], 0);
    tarb_dir_xattr(&t[1], "etc/", "user.dir", "two", 3); /* replaced */
    tarb_dir_xattr(&t[1], "var/", NULL, NULL, 0);         /* removed */
    tarb_add(&t[1], ".wh.gone", AE_IFREG, 0644, 0, 0, NULL);
    tarb_end(&t[1]);
    struct bl_error e = {0};
    int r = build(img, t, 2, 0, NULL, &e);
    free_layers(t, 2);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "build: %s", e.msg);
    REQUIRE(r == 0);
    CHECK(fsck_clean(img));
    CHECK(strstr(dbg(out, sizeof out, img, "ea_list /bin/ping"), "security.capability") != NULL);
    CHECK(strstr(dbg(out, sizeof out, img, "ea_get /bin/tagged user.boxlite"), "hello") != NULL);
    CHECK(strstr(dbg(out, sizeof out, img, "ea_get /bin/blocky user.big"), "vvvvvvvv") != NULL);
    CHECK(field(dbg(out, sizeof out, img, "stat /bin/blocky"), "File ACL:", 10) != 0);
    CHECK(!strstr(dbg(out, sizeof out, img, "ea_list /bin/system"), "system"));
    CHECK(strstr(dbg(out, sizeof out, img, "ea_get /etc user.dir"), "two") != NULL);
    CHECK(!strstr(dbg(out, sizeof out, img, "ea_list /var"), "user.dir"));
    /* An attribute too big for an inode and its block is a clear error. */
    static char huge[6000];
    memset(huge, 'h', sizeof huge);
    tarb_begin(&t[0], 0);
    tarb_add_xattr(&t[0], "f", "f", "user.huge", huge, sizeof huge);
    tarb_end(&t[0]);
    r = build(img, t, 1, 0, NULL, &e);
    free(t[0].buf);
    CHECK(r < 0);
    CHECK(strstr(e.msg, "does not fit") != NULL);
}

/* More files than the first guess has inodes, more data than it has blocks: the image
 * grows (resize2fs) while it is built, and everything is still there. */
TEST_TIMEOUT(the_image_grows_as_needed, 240)
{
    char img[600], out[8192];
    img_path(img, sizeof img, "grow");
    struct tarb t[2];
    tarb_begin(&t[0], 1);
    char name[64];
    for (int i = 0; i < 14000; i++) {
        snprintf(name, sizeof name, "many/d%02d/f%05d", i / 1000, i);
        tarb_add(&t[0], name, AE_IFREG, 0644, 0, 0, i % 7 ? NULL : "some");
    }
    tarb_end(&t[0]);
    /* 100 MiB, mostly zeros (small once compressed), a mark in each MiB: every byte is
     * checked after the image grew under the file being written. */
    size_t big = 100u << 20;
    unsigned char *z = calloc(1, big);
    for (size_t off = 0; off < big; off += 1 << 20)
        snprintf((char *)z + off + 4000, 16, "MARK%04zu", off >> 20);
    tarb_begin(&t[1], 1);
    tarb_add_data(&t[1], "zeros", 0644, z, big);
    tarb_end(&t[1]);
    struct bl_error e = {0};
    struct ext4b_stats st;
    int r = build(img, t, 2, 8 << 20, &st, &e);
    free_layers(t, 2);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "build: %s", e.msg);
    REQUIRE(r == 0);
    CHECK(st.resizes >= 2);
    CHECK(fsck_clean(img));
    CHECK_EQ(field(dbg(out, sizeof out, img, "stat /zeros"), "Size:", 10), 100 << 20);
    char dump[900], cmd[1000];
    snprintf(dump, sizeof dump, "%s/zeros.out", harness_tmpdir());
    snprintf(cmd, sizeof cmd, "dump /zeros %s", dump);
    dbg(out, sizeof out, img, cmd);
    FILE *f = fopen(dump, "rb");
    REQUIRE(f);
    unsigned char *back = malloc(big + 1);
    CHECK_EQ(fread(back, 1, big + 1, f), big);
    fclose(f);
    CHECK(memcmp(back, z, big) == 0);
    free(back);
    free(z);
    unlink(dump);
    CHECK(strstr(dbg(out, sizeof out, img, "stat /many/d13/f13999"), "Type: regular") != NULL);
    CHECK(strstr(dbg(out, sizeof out, img, "cat /many/d00/f00007"), "some") != NULL);
    dbg(out, sizeof out, img, "stats");
    CHECK(field(out, "Inode count:", 10) - field(out, "Free inodes:", 10) >= 14000);
}

/* The library needs no privilege: a user who is not root builds an image whose files are
 * root's, with device nodes and setuid bits. */
TEST_TIMEOUT(unprivileged_user_builds_root_owned_image, 120)
{
    char dir[600], img[700], out[8192];
    snprintf(dir, sizeof dir, "%s/nobody", harness_tmpdir());
    mkdir(dir, 0755);
    snprintf(img, sizeof img, "%s/base.ext4", dir);
    if (geteuid() == 0 && (chown(dir, 65534, 65534) < 0 || chmod(harness_tmpdir(), 0755) < 0))
        harness_need("cannot hand a directory to nobody");
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
            _exit(10);
        struct tarb t;
        tarb_begin(&t, 1);
        tarb_add(&t, "bin/su", AE_IFREG, 04755, 0, 0, "su");
        tarb_add(&t, "dev/null", AE_IFCHR, 0666, 0, 0, NULL);
        tarb_add(&t, "root/", AE_IFDIR, 0700, 0, 0, NULL);
        tarb_add(&t, "root/.profile", AE_IFREG, 0000, 0, 0, "secret");
        tarb_end(&t);
        struct bl_error e = {0};
        if (build(img, &t, 1, 0, NULL, &e) < 0) {
            fprintf(stderr, "build: %s\n", e.msg);
            _exit(12);
        }
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    REQUIRE(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    dbg(out, sizeof out, img, "stat /bin/su");
    CHECK_EQ(field(out, "Mode:", 8), 04755);
    CHECK_EQ(field(out, "User:", 10), 0);
    CHECK(strstr(dbg(out, sizeof out, img, "stat /dev/null"), "character special") != NULL);
    CHECK_EQ(field(dbg(out, sizeof out, img, "stat /root/.profile"), "Mode:", 8), 0);
    CHECK_EQ(field(dbg(out, sizeof out, img, "stat /"), "User:", 10), 0);
    CHECK(fsck_clean(img));
}
