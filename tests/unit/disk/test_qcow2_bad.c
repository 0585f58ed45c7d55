// SPDX-License-Identifier: Apache-2.0
/* Malformed qcow2 images: every header field out of range, truncated files, tables pointing
 * outside the file or overlapping, unsupported features. Each must give a clear error
 * (checked by substring) and never crash; ASan and UBSan watch the parser. */
#include "util.h"
#include "disk/qcow2.h"

#include <string.h>

#define CS 65536ull

/* Our own empty image (layout: header, refcount table, refcount block, L1). */
static const char *fresh(const char *name)
{
    struct bl_error err = {0};
    const char *p = tpath(name);
    unlink(p);
    if (qcow2_create(p, 1ull << 30, NULL, NULL, &err) < 0) {
        printf("#   create: %s\n", err.msg);
        return NULL;
    }
    return p;
}

static void poke(const char *path, uint64_t off, int width, uint64_t v)
{
    uint8_t b[8];
    if (width == 8)
        qcow2_put_be64(b, v);
    else if (width == 4)
        qcow2_put_be32(b, (uint32_t)v);
    else
        b[0] = (uint8_t)v;
    int fd = open(path, O_RDWR);
    if (fd < 0 || pwrite(fd, b, (size_t)width, (off_t)off) != width)
        printf("#   poke %s failed\n", path);
    close(fd);
}

/* Opening must fail (read-only and read-write) with a message containing want. */
static int open_fails(const char *path, const char *want)
{
    for (int ro = 0; ro <= 1; ro++) {
        struct bl_error err = {0};
        struct disk *d = NULL;
        int rc = disk_open_fmt(&d, path, "qcow2", ro, &err);
        if (rc >= 0) {
            printf("#   %s opened (ro=%d) but should fail with '%s'\n", path, ro, want);
            disk_close(d);
            return 0;
        }
        if (!strstr(err.msg, want) || !strstr(err.msg, path)) {
            printf("#   error '%s' lacks '%s' or the path\n", err.msg, want);
            return 0;
        }
    }
    return 1;
}

TEST(header_fields_out_of_range)
{
    static const struct {
        uint64_t off;
        int width;
        uint64_t value;
        const char *want;
    } cases[] = {
        {0, 4, 0x51464900, "bad magic"},
        {4, 4, 1, "unsupported version 1"},
        {4, 4, 4, "unsupported version 4"},
        {20, 4, 8, "cluster_bits 8 not in 9..21"},
        {20, 4, 22, "cluster_bits 22"},
        {20, 4, 0xffffffff, "cluster_bits"},
        {100, 4, 100, "header_length 100 is below 104"},
        {100, 4, 2 * CS, "exceeds the cluster size"},
        {8, 8, CS - 4, "backing file name"},
        {8, 8, 4096, "backing file name length 0"},
        {16, 4, 7, "backing_file_size 7 without"},
        {24, 8, 1ull << 62, "too large"},
        {24, 8, 1ull << 45, "too small"},
        {32, 4, 1, "encrypted"},
        {32, 4, 2, "encrypted"},
        {36, 4, 0x10000000, "L1 table of 268435456 entries is too large"},
        {36, 4, 0, "too small"},
        {40, 8, 3 * CS + 8, "bad L1 table offset"},
        {40, 8, 0, "bad L1 table offset"},
        {40, 8, 1ull << 40, "past the end of the file"},
        {40, 8, CS, "L1 table overlaps the refcount table"},
        {48, 8, 0, "refcount table offset 0"},
        {48, 8, CS + 512, "bad refcount table offset"},
        {48, 8, 1ull << 40, "refcount table at 1099511627776"},
        {56, 4, 0, "refcount table of 0 clusters"},
        {56, 4, 1000, "refcount table of 1000 clusters"},
        {56, 4, 4, "past the end of the file"},
        {60, 4, 70000, "70000 snapshots is too many"},
        {60, 4, 1, "bad snapshot table offset"},
        {72, 8, 1ull << 5, "unsupported incompatible feature(s): bit 5"},
        {72, 8, 1ull << 2, "external data file"},
        {72, 8, 1ull << 4, "extended L2 entries"},
        {96, 4, 7, "refcount_order 7"},
        {96, 4, 2, "4-bit refcounts are not supported"},
        {116, 4, 0xffff, "runs past the header"},
        {104, 1, 1, "without the compression type feature bit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = fresh("bad.qcow2");
        REQUIRE(p);
        poke(p, cases[i].off, cases[i].width, cases[i].value);
        if (!open_fails(p, cases[i].want)) {
            printf("#   case %zu: offset %llu = %llu\n", i, (unsigned long long)cases[i].off,
                   (unsigned long long)cases[i].value);
            CHECK(0);
        }
    }
    /* The compression type bit with a type we do not know. */
    const char *c = fresh("ct.qcow2");
    REQUIRE(c);
    poke(c, 72, 8, 1ull << 3);
    poke(c, 104, 1, 9);
    CHECK(open_fails(c, "unknown compression type 9"));
    /* A named unknown feature is reported by its name from the feature table. */
    const char *p = fresh("named.qcow2");
    REQUIRE(p);
    poke(p, 72, 8, 1ull << 9);
    poke(p, 112 + 8 + 48 * 4 + 1, 1, 9); /* entry 4 ("extended L2 entries") -> bit 9 */
    CHECK(open_fails(p, "feature(s): extended L2 entries"));
}

TEST(truncated_files)
{
    static const uint64_t lengths[] = {0, 3, 50, 100, 200, CS, 2 * CS, 3 * CS + 4};
    static const char *const want[] = {"truncated", "truncated", "truncated",
                                       "truncated", "runs past the header", "past the end",
                                       "past the end", "past the end"};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        const char *p = fresh("t.qcow2");
        REQUIRE(p);
        REQUIRE(truncate(p, (off_t)lengths[i]) == 0);
        if (lengths[i] < 4) { /* too short for the magic: probing calls it raw */
            struct bl_error err = {0};
            struct disk *d;
            CHECK(disk_open_fmt(&d, p, "qcow2", 1, &err) < 0);
            continue;
        }
        if (!open_fails(p, want[i])) {
            printf("#   length %llu\n", (unsigned long long)lengths[i]);
            CHECK(0);
        }
    }
}

TEST(tables_pointing_outside)
{
    const char *p = fresh("l1.qcow2");
    REQUIRE(p);
    poke(p, 3 * CS, 8, (1ull << 40) | (1ull << 63)); /* L1[0] past the end of the file */
    CHECK(open_fails(p, "L1 entry 0 points to an L2 table at 1099511627776"));
    p = fresh("l1u.qcow2");
    poke(p, 3 * CS + 8, 8, 3 * CS + 512); /* unaligned */
    CHECK(open_fails(p, "L1 entry 1"));
    p = fresh("rt.qcow2");
    poke(p, CS + 8, 8, 1ull << 40);
    CHECK(open_fails(p, "refcount table entry 1 points to 1099511627776"));
    p = fresh("rt0.qcow2");
    poke(p, CS, 8, 512); /* refcount block inside the header cluster */
    CHECK(open_fails(p, "refcount table entry 0"));
}

TEST(bad_l2_entries_fail_reads_cleanly)
{
    struct bl_error err = {0};
    const char *p = fresh("l2.qcow2");
    REQUIRE(p);
    struct disk *d;
    REQUIRE(disk_open(&d, p, 0, &err) == 0);
    uint8_t buf[8192];
    memset(buf, 0x5a, sizeof buf);
    REQUIRE(disk_write(d, buf, 0, sizeof buf, &err) == 0);
    disk_close(d);
    /* Our layout puts the first L2 table at cluster 4, its data at cluster 5. */
    poke(p, 4 * CS, 8, (1ull << 63) | (5 * CS + 1024)); /* unaligned data cluster */
    REQUIRE(disk_open(&d, p, 0, &err) == 0);
    CHECK(disk_read(d, buf, 0, 512, &err) < 0);
    CHECK(strstr(err.msg, "unaligned data cluster offset") != NULL);
    CHECK(disk_write(d, buf, 0, 512, &err) < 0);
    disk_close(d);
    /* A data cluster on top of the header or the L1 table must not be written. */
    poke(p, 4 * CS, 8, (1ull << 63) | (3 * CS));
    REQUIRE(disk_open(&d, p, 0, &err) == 0);
    CHECK(disk_write(d, buf, 0, 512, &err) < 0);
    CHECK(strstr(err.msg, "overlaps metadata") != NULL);
    disk_close(d);
    /* Garbage compressed data: a read error, not a crash. */
    poke(p, 4 * CS, 8, (1ull << 62) | (5 * CS) | (3ull << 54));
    REQUIRE(disk_open(&d, p, 1, &err) == 0);
    CHECK(disk_read(d, buf, 0, 512, &err) < 0);
    CHECK(strstr(err.msg, "compressed cluster") != NULL);
    disk_close(d);
}

TEST(corrupt_and_snapshots_are_read_only)
{
    struct bl_error err = {0};
    const char *p = fresh("flag.qcow2");
    REQUIRE(p);
    poke(p, 72, 8, 2); /* the corrupt bit */
    struct disk *d;
    CHECK(disk_open(&d, p, 0, &err) < 0);
    CHECK(strstr(err.msg, "corrupt") != NULL);
    CHECK(strstr(err.msg, "qemu-img check -r all") != NULL);
    REQUIRE(disk_open(&d, p, 1, &err) == 0);
    uint8_t b[512];
    CHECK_EQ(disk_read(d, b, 0, sizeof b, &err), 0);
    disk_close(d);
    need_qemu_img();
    p = fresh("snap.qcow2");
    REQUIRE(sh("qemu-img snapshot -c s1 '%s'", p) == 0);
    CHECK(disk_open(&d, p, 0, &err) < 0);
    CHECK(strstr(err.msg, "internal snapshots") != NULL);
    REQUIRE(disk_open(&d, p, 1, &err) == 0);
    disk_close(d);
}

TEST(dirty_image_is_repaired_on_write_open)
{
    need_qemu_img();
    struct bl_error err = {0};
    const char *p = tpath("lazy.qcow2");
    /* qemu with lazy refcounts, killed after writing: refcounts on disk are stale. */
    REQUIRE(sh("qemu-img create -q -f qcow2 -o lazy_refcounts=on '%s' 64M", p) == 0);
    sh("qemu-io -f qcow2 -c 'write -P 0x11 0 1M' -c 'write -P 0x12 40M 3M' -c flush "
       "-c 'sigraise 9' '%s'", p);
    int rc = qcheck(p);
    REQUIRE(rc == 2); /* errors: the refcounts really are stale */
    struct disk *d;
    /* Read-only: readable as is. */
    REQUIRE(disk_open(&d, p, 1, &err) == 0);
    uint8_t *b = malloc(3 << 20);
    CHECK_EQ(disk_read(d, b, 40 << 20, 3 << 20, &err), 0);
    CHECK(b[0] == 0x12 && b[(3 << 20) - 1] == 0x12);
    disk_close(d);
    /* Read-write: repaired first, then usable. */
    REQUIRE(disk_open(&d, p, 0, &err) == 0);
    memset(b, 0x13, 65536);
    CHECK_EQ(disk_write(d, b, 10 << 20, 65536, &err), 0);
    CHECK_EQ(disk_read(d, b, 0, 1 << 20, &err), 0);
    CHECK(b[0] == 0x11 && b[(1 << 20) - 1] == 0x11);
    disk_close(d);
    CHECK_EQ(qcheck(p), 0);
    char out[4096];
    CHECK_EQ(sh_out(out, sizeof out, "qemu-io -f qcow2 -c 'read -P 0x12 40M 3M' "
                    "-c 'read -P 0x13 10M 64k' -c 'read -P 0x11 0 1M' '%s'", p), 0);
    CHECK(strstr(out, "Pattern verification failed") == NULL);
    /* A dirty bit on a clean image: repair finds nothing wrong. */
    const char *c = fresh("dirty.qcow2");
    REQUIRE(c);
    poke(c, 72, 8, 1);
    REQUIRE(disk_open(&d, c, 0, &err) == 0);
    disk_close(d);
    CHECK_EQ(qcheck(c), 0);
    free(b);
}

TEST(unsupported_images_say_why)
{
    need_qemu_img();
    struct bl_error err = {0};
    struct disk *d;
    /* qemu-img times its LUKS key derivation with getrusage and on a loaded machine may
     * fail "Unable to get accurate CPU usage": a few tries. */
    int made = -1;
    for (int i = 0; i < 5 && made != 0; i++) {
        unlink(tpath("luks.qcow2"));
        made = sh("qemu-img create -q -f qcow2 --object secret,id=s0,data=pw "
                  "-o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=100 '%s' 16M",
                  tpath("luks.qcow2"));
    }
    REQUIRE(made == 0);
    CHECK(disk_open(&d, tpath("luks.qcow2"), 1, &err) < 0);
    CHECK(strstr(err.msg, "encrypted") != NULL);
    REQUIRE(sh("qemu-img create -q -f qcow2 -o extended_l2=on '%s' 16M", tpath("x.qcow2")) == 0);
    CHECK(disk_open(&d, tpath("x.qcow2"), 1, &err) < 0);
    CHECK(strstr(err.msg, "extended L2") != NULL);
    REQUIRE(sh("qemu-img create -q -f qcow2 -o data_file='%s' '%s' 16M", tpath("data.raw"),
               tpath("df.qcow2")) == 0);
    CHECK(disk_open(&d, tpath("df.qcow2"), 1, &err) < 0);
    CHECK(strstr(err.msg, "external data file") != NULL);
    /* A backing format we do not read. */
    REQUIRE(sh("qemu-img create -q -f vmdk '%s' 16M", tpath("b.vmdk")) == 0);
    REQUIRE(sh("qemu-img create -q -f qcow2 -b b.vmdk -F vmdk '%s'", tpath("ovl.qcow2")) == 0);
    CHECK(disk_open(&d, tpath("ovl.qcow2"), 1, &err) < 0);
    CHECK(strstr(err.msg, "'vmdk' is not supported") != NULL);
    /* A missing backing file names it. */
    REQUIRE(sh("qemu-img create -q -f qcow2 -u -b gone.raw -F raw '%s' 16M",
               tpath("orphan.qcow2")) == 0);
    CHECK(disk_open(&d, tpath("orphan.qcow2"), 1, &err) < 0);
    CHECK(strstr(err.msg, "gone.raw") != NULL);
}
