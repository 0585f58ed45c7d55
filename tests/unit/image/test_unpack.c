#include "common/cleanup.h"
#include "harness/harness.h"
#include "image/blobstore.h"
#include "image/rootfs.h"
#include "image/unpack.h"
#include "tarbuild.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <grp.h>
#include <unistd.h>

static int open_root(char *path, size_t n)
{
    snprintf(path, n, "%s/root", harness_tmpdir());
    mkdir(path, 0755);
    return open(path, O_RDONLY | O_DIRECTORY);
}

static int apply(int rootfd, struct tarb *t, struct fsmeta *m, struct bl_error *e)
{
    return layer_apply_mem(rootfd, t->buf, t->used, m, e);
}

static int exists_at(int rootfd, const char *p)
{
    struct stat st;
    return fstatat(rootfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static const struct fsmeta_entry *meta_of(int rootfd, const struct fsmeta *m, const char *p)
{
    struct stat st;
    if (fstatat(rootfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return NULL;
    return fsmeta_get(m, st.st_ino);
}

TEST(unpack_all_entry_types)
{
    char root[512];
    cleanup_close int rfd = open_root(root, sizeof root);
    struct fsmeta m;
    fsmeta_init(&m);
    struct bl_error e = {0};
    REQUIRE(unpack_init_root(rfd, &m, &e) == 0);
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
    tarb_end(&t);
    REQUIRE(apply(rfd, &t, &m, &e) == 0);
    free(t.buf);

    struct stat a, b;
    REQUIRE(fstatat(rfd, "bin/busybox", &a, 0) == 0);
    REQUIRE(fstatat(rfd, "bin/ls", &b, 0) == 0);
    CHECK_EQ(a.st_ino, b.st_ino);
    CHECK_EQ(a.st_size, 10);
    char target[64] = {0};
    CHECK(readlinkat(rfd, "bin/sh", target, sizeof target - 1) > 0);
    CHECK_STR(target, "/bin/busybox");
    const struct fsmeta_entry *me = meta_of(rfd, &m, "bin/busybox");
    REQUIRE(me);
    CHECK_EQ(me->mode, S_IFREG | 04755);
    me = meta_of(rfd, &m, "dev/null");
    REQUIRE(me);
    CHECK(S_ISCHR(me->mode));
    CHECK_EQ(major(me->rdev), 1);
    CHECK_EQ(minor(me->rdev), 3);
    me = meta_of(rfd, &m, "dev/sda");
    REQUIRE(me);
    CHECK(S_ISBLK(me->mode));
    CHECK_EQ(me->gid, 6);
    me = meta_of(rfd, &m, "home/user/secret");
    REQUIRE(me);
    CHECK_EQ(me->uid, 1000);
    CHECK_EQ(me->mode, S_IFREG);
    me = meta_of(rfd, &m, "run"); /* implied directory */
    REQUIRE(me);
    CHECK_EQ(me->mode, S_IFDIR | 0755);
    CHECK(exists_at(rfd, "abs/file"));
    struct stat fifo;
    CHECK(fstatat(rfd, "run/fifo", &fifo, AT_SYMLINK_NOFOLLOW) == 0 && S_ISFIFO(fifo.st_mode));
    fsmeta_free(&m);
}

TEST(unpack_whiteouts_and_opaque_dirs)
{
    char root[512];
    cleanup_close int rfd = open_root(root, sizeof root);
    struct fsmeta m;
    fsmeta_init(&m);
    struct bl_error e = {0};
    struct tarb t;
    tarb_begin(&t, 0);
    tarb_add(&t, "a/x", AE_IFREG, 0644, 0, 0, "x");
    tarb_add(&t, "a/y", AE_IFREG, 0644, 0, 0, "y");
    tarb_add(&t, "a/sub/deep", AE_IFREG, 0644, 0, 0, "d");
    tarb_add(&t, "b/z", AE_IFREG, 0644, 0, 0, "z");
    tarb_add(&t, "b/keepdir/old", AE_IFREG, 0644, 0, 0, "o");
    tarb_end(&t);
    REQUIRE(apply(rfd, &t, &m, &e) == 0);
    free(t.buf);

    tarb_begin(&t, 2); /* zstd */
    tarb_add(&t, "a/.wh.x", AE_IFREG, 0644, 0, 0, NULL);
    tarb_add(&t, "a/.wh.sub", AE_IFREG, 0644, 0, 0, NULL);
    tarb_add(&t, "b/new", AE_IFREG, 0644, 0, 0, "n");
    tarb_add(&t, "b/keepdir/fresh", AE_IFREG, 0644, 0, 0, "f");
    tarb_add(&t, "b/.wh..wh..opq", AE_IFREG, 0644, 0, 0, NULL);
    tarb_add(&t, "c/made", AE_IFREG, 0644, 0, 0, "m");
    tarb_add(&t, "c/.wh.made", AE_IFREG, 0644, 0, 0, NULL); /* same layer: no effect */
    tarb_end(&t);
    REQUIRE(apply(rfd, &t, &m, &e) == 0);
    free(t.buf);
    CHECK(!exists_at(rfd, "a/x"));
    CHECK(exists_at(rfd, "a/y"));
    CHECK(!exists_at(rfd, "a/sub"));
    CHECK(!exists_at(rfd, "b/z"));
    CHECK(exists_at(rfd, "b/new"));
    CHECK(exists_at(rfd, "b/keepdir/fresh"));
    CHECK(!exists_at(rfd, "b/keepdir/old"));
    CHECK(exists_at(rfd, "c/made"));
    CHECK(!exists_at(rfd, "a/.wh.x"));
    CHECK(!exists_at(rfd, "b/.wh..wh..opq"));
    fsmeta_free(&m);
}

TEST(unpack_replaces_and_overwrites)
{
    char root[512];
    cleanup_close int rfd = open_root(root, sizeof root);
    struct fsmeta m;
    fsmeta_init(&m);
    struct bl_error e = {0};
    struct tarb t;
    tarb_begin(&t, 0);
    tarb_add(&t, "f", AE_IFREG, 0644, 0, 0, "old");
    tarb_add(&t, "d/inner", AE_IFREG, 0644, 0, 0, "i");
    tarb_add(&t, "l", AE_IFLNK, 0777, 0, 0, "/nowhere");
    tarb_end(&t);
    REQUIRE(apply(rfd, &t, &m, &e) == 0);
    free(t.buf);
    tarb_begin(&t, 0);
    tarb_add(&t, "f", AE_IFREG, 0600, 5, 5, "new!");
    tarb_add(&t, "d", AE_IFREG, 0644, 0, 0, "file now");
    tarb_add(&t, "l", AE_IFREG, 0644, 0, 0, "not a link");
    tarb_end(&t);
    REQUIRE(apply(rfd, &t, &m, &e) == 0);
    free(t.buf);
    struct stat st;
    CHECK(fstatat(rfd, "f", &st, 0) == 0 && st.st_size == 4);
    CHECK(fstatat(rfd, "d", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode));
    CHECK(fstatat(rfd, "l", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode));
    CHECK_EQ(meta_of(rfd, &m, "f")->uid, 5);
    fsmeta_free(&m);
}

static void expect_reject(const char *what, void (*build)(struct tarb *), const char *msg_part)
{
    char root[512];
    snprintf(root, sizeof root, "%s/r-%s", harness_tmpdir(), what);
    mkdir(root, 0755);
    cleanup_close int rfd = open(root, O_RDONLY | O_DIRECTORY);
    struct fsmeta m;
    fsmeta_init(&m);
    struct bl_error e = {0};
    struct tarb t;
    tarb_begin(&t, 1);
    build(&t);
    tarb_end(&t);
    int r = apply(rfd, &t, &m, &e);
    free(t.buf);
    fsmeta_free(&m);
    if (r >= 0) {
        harness_fail(__FILE__, __LINE__, "%s: accepted", what);
        return;
    }
    CHECK_EQ(e.code, BOXLITE_ERR_IMAGE);
    if (!strstr(e.msg, msg_part))
        harness_fail(__FILE__, __LINE__, "%s: message \"%s\" lacks \"%s\"", what, e.msg, msg_part);
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
static void b_garbage(struct tarb *t) { (void)t; }

TEST(unpack_rejects_escapes)
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
    char pw[600];
    snprintf(pw, sizeof pw, "%s/pwned", outside);
    CHECK(access(pw, F_OK) != 0);
    CHECK(access("/tmp/pwned", F_OK) != 0);
    (void)b_garbage;
}

TEST(unpack_rejects_garbage)
{
    char root[512];
    cleanup_close int rfd = open_root(root, sizeof root);
    struct fsmeta m;
    fsmeta_init(&m);
    struct bl_error e = {0};
    static const char junk[] = "this is not a tar file at all, not even close..........";
    CHECK(layer_apply_mem(rfd, junk, sizeof junk, &m, &e) < 0);
    CHECK(e.msg[0] != 0);
    /* A gzip stream cut short. */
    struct tarb t;
    tarb_begin(&t, 1);
    char big[20000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)('a' + (i * 7919) % 26);
    big[sizeof big - 1] = 0;
    tarb_add(&t, "big", AE_IFREG, 0644, 0, 0, big);
    tarb_end(&t);
    CHECK(layer_apply_mem(rfd, t.buf, t.used / 2, &m, &e) < 0);
    free(t.buf);
    fsmeta_free(&m);
}

TEST(clean_path_cases)
{
    char out[64];
    CHECK(unpack_clean_path("./a//b/./c/", out, sizeof out, NULL) == 0);
    CHECK_STR(out, "a/b/c");
    CHECK(unpack_clean_path("/", out, sizeof out, NULL) == 0);
    CHECK_STR(out, "");
    CHECK(unpack_clean_path("a/..", out, sizeof out, NULL) < 0);
    CHECK(unpack_clean_path("..a/b..", out, sizeof out, NULL) == 0);
    CHECK_STR(out, "..a/b..");
    char longp[200];
    memset(longp, 'x', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    CHECK(unpack_clean_path(longp, out, sizeof out, NULL) < 0);
}

static const char *sh_read(char *buf, size_t n, const char *cmd)
{
    buf[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p)
        return buf;
    size_t got = fread(buf, 1, n - 1, p);
    buf[got] = 0;
    pclose(p);
    return buf;
}

/* debugfs "stat" of one path in an ext4 image: the fields we check. */
static int ext4_stat(const char *img, const char *path, unsigned *mode, unsigned *uid, unsigned *gid, char *type, size_t tn)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "debugfs -R 'stat \"%s\"' %s 2>/dev/null", path, img);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, p)) {
        char t[32];
        char *mp = strstr(line, "Mode:");
        if (sscanf(line, "Inode: %*u Type: %31s", t) == 1 && mp && sscanf(mp, "Mode: %o", mode) == 1) {
            snprintf(type, tn, "%s", t);
            found |= 1;
        }
        if (sscanf(line, "User: %u Group: %u", uid, gid) == 2)
            found |= 2;
    }
    pclose(p);
    return found == 3 ? 0 : -1;
}

TEST_TIMEOUT(ext4_carries_guest_ownership, 120)
{
    char root[512];
    cleanup_close int rfd = open_root(root, sizeof root);
    struct fsmeta m;
    fsmeta_init(&m);
    struct bl_error e = {0};
    REQUIRE(unpack_init_root(rfd, &m, &e) == 0);
    struct tarb t;
    tarb_begin(&t, 1);
    tarb_add(&t, "bin/su", AE_IFREG, 04755, 0, 0, "su");
    tarb_add(&t, "home/u/file with space", AE_IFREG, 0640, 1234, 4321, "data");
    tarb_add(&t, "home/u/q\"uote", AE_IFREG, 0600, 7, 8, "q");
    tarb_add(&t, "dev/null", AE_IFCHR, 0666, 0, 0, NULL);
    tarb_add(&t, "tmp/", AE_IFDIR, 01777, 0, 0, NULL);
    tarb_add(&t, "link", AE_IFLNK, 0777, 55, 66, "/bin/su");
    tarb_add(&t, "locked", AE_IFREG, 0000, 0, 0, "nobody reads me");
    /* cap_net_raw+ep as a VFS_CAP_REVISION_2 blob (linux/capability.h) */
    static const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00};
    tarb_add_xattr(&t, "bin/ping", "ping", "security.capability", cap, sizeof cap);
    tarb_add_xattr(&t, "bin/tagged", "t", "user.boxlite", "hello", 5);
    tarb_end(&t);
    REQUIRE(apply(rfd, &t, &m, &e) == 0);
    free(t.buf);
    char img[600];
    snprintf(img, sizeof img, "%s/base.ext4", harness_tmpdir());
    struct rootfs_stats st;
    int r = rootfs_build_ext4(root, &m, img, 0, &st, &e);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "build: %s", e.msg);
    REQUIRE(r == 0);
    CHECK(st.fixups > 0);
    unsigned mode = 0, uid = 0, gid = 0;
    char type[32];
    REQUIRE(ext4_stat(img, "/bin/su", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_EQ(mode, 04755);
    CHECK_EQ(uid, 0);
    REQUIRE(ext4_stat(img, "/home/u/file with space", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_EQ(uid, 1234);
    CHECK_EQ(gid, 4321);
    CHECK_EQ(mode, 0640);
    REQUIRE(ext4_stat(img, "/dev/null", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_STR(type, "character");
    CHECK_EQ(mode, 0666);
    REQUIRE(ext4_stat(img, "/tmp", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_EQ(mode, 01777);
    REQUIRE(ext4_stat(img, "/link", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_STR(type, "symlink");
    CHECK_EQ(uid, 55);
    REQUIRE(ext4_stat(img, "/locked", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_EQ(mode, 0);
    char cmd0[900], out[512];
    snprintf(cmd0, sizeof cmd0, "debugfs -R 'ea_get /bin/tagged user.boxlite' %s 2>/dev/null", img);
    CHECK(strstr(sh_read(out, sizeof out, cmd0), "hello") != NULL);
    snprintf(cmd0, sizeof cmd0, "debugfs -R 'ea_list /bin/ping' %s 2>/dev/null", img);
    CHECK(strstr(sh_read(out, sizeof out, cmd0), "security.capability") != NULL);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "e2fsck -fn %s >/dev/null 2>&1", img);
    CHECK_EQ(system(cmd), 0);
    fsmeta_free(&m);
}

TEST(ext4_build_failure_leaves_nothing)
{
    char img[600];
    snprintf(img, sizeof img, "%s/no/such/dir/base.ext4", harness_tmpdir());
    struct bl_error e = {0};
    CHECK(rootfs_build_ext4("/nonexistent-dir", NULL, img, 0, NULL, &e) < 0);
    CHECK(e.msg[0] != 0);
    snprintf(img, sizeof img, "%s/base.ext4", harness_tmpdir());
    CHECK(rootfs_build_ext4("/nonexistent-dir", NULL, img, 0, NULL, &e) < 0);
    CHECK(access(img, F_OK) != 0);
}

#include <sys/wait.h>

/* The library must not need root: an unprivileged user unpacks a layer with root-owned
 * files, a device node and a setuid binary, and the ext4 image still says root, char
 * device and 04755. */
TEST_TIMEOUT(unprivileged_user_builds_root_owned_image, 120)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/nobody", harness_tmpdir());
    mkdir(dir, 0755);
    if (geteuid() == 0) {
        if (chown(dir, 65534, 65534) < 0 || chmod(harness_tmpdir(), 0755) < 0)
            harness_need("cannot hand a directory to nobody");
    }
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
            _exit(10);
        char root[700], img[700];
        snprintf(root, sizeof root, "%s/root", dir);
        snprintf(img, sizeof img, "%s/base.ext4", dir);
        mkdir(root, 0755);
        int rfd = open(root, O_RDONLY | O_DIRECTORY);
        struct fsmeta m;
        fsmeta_init(&m);
        struct bl_error e = {0};
        if (rfd < 0 || unpack_init_root(rfd, &m, &e) < 0)
            _exit(11);
        struct tarb t;
        tarb_begin(&t, 1);
        tarb_add(&t, "bin/su", AE_IFREG, 04755, 0, 0, "su");
        tarb_add(&t, "dev/null", AE_IFCHR, 0666, 0, 0, NULL);
        tarb_add(&t, "root/", AE_IFDIR, 0700, 0, 0, NULL);
        tarb_add(&t, "root/.profile", AE_IFREG, 0000, 0, 0, "secret");
        tarb_add(&t, "etc/ro/", AE_IFDIR, 0555, 0, 0, NULL);
        tarb_add(&t, "etc/ro/file", AE_IFREG, 0444, 0, 0, "ro");
        tarb_end(&t);
        if (apply(rfd, &t, &m, &e) < 0) {
            fprintf(stderr, "apply: %s\n", e.msg);
            _exit(12);
        }
        if (rootfs_build_ext4(root, &m, img, 0, NULL, &e) < 0) {
            fprintf(stderr, "build: %s\n", e.msg);
            _exit(13);
        }
        /* A plain directory of our own files: root's in the image. */
        char plain[700], img2[700], f[800];
        snprintf(plain, sizeof plain, "%s/plain", dir);
        snprintf(img2, sizeof img2, "%s/plain.ext4", dir);
        snprintf(f, sizeof f, "%s/file", plain);
        mkdir(plain, 0755);
        close(open(f, O_CREAT | O_WRONLY, 0644));
        if (rootfs_build_ext4(plain, NULL, img2, 0, NULL, &e) < 0) {
            fprintf(stderr, "build plain: %s\n", e.msg);
            _exit(14);
        }
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    REQUIRE(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    char img[700];
    snprintf(img, sizeof img, "%s/base.ext4", dir);
    unsigned mode = 0, uid = 1, gid = 1;
    char type[32];
    REQUIRE(ext4_stat(img, "/bin/su", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_EQ(mode, 04755);
    CHECK_EQ(uid, 0);
    CHECK_EQ(gid, 0);
    REQUIRE(ext4_stat(img, "/dev/null", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_STR(type, "character");
    CHECK_EQ(uid, 0);
    REQUIRE(ext4_stat(img, "/root/.profile", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_EQ(mode, 0);
    CHECK_EQ(uid, 0);
    REQUIRE(ext4_stat(img, "/etc/ro", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_EQ(mode, 0555);
    REQUIRE(ext4_stat(img, "/", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_EQ(uid, 0);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "e2fsck -fn %s >/dev/null 2>&1", img);
    CHECK_EQ(system(cmd), 0);
    snprintf(img, sizeof img, "%s/plain.ext4", dir);
    REQUIRE(ext4_stat(img, "/file", &mode, &uid, &gid, type, sizeof type) == 0);
    CHECK_EQ(uid, 0);
    CHECK_EQ(gid, 0);
    CHECK_EQ(mode, 0644);
}
