// SPDX-License-Identifier: Apache-2.0
/* qcow2 against the real thing: images we create and write are checked with qemu-img
 * (check, info, compare against a raw copy written the same way), and images qemu-img
 * made (plain, converted, compressed, overlays on raw and qcow2 bases) are read back. */
#include "util.h"

#include <string.h>

#define MiB (1ull << 20)

TEST(create_is_clean_v3)
{
    need_qemu_img();
    struct bl_error err = {0};
    REQUIRE(qcow2_create(tpath("a.qcow2"), 64 * MiB, NULL, NULL, &err) == 0);
    CHECK_EQ(qcheck(tpath("a.qcow2")), 0);
    char out[4096];
    CHECK_EQ(sh_out(out, sizeof out, "qemu-img info '%s'", tpath("a.qcow2")), 0);
    CHECK(strstr(out, "virtual size: 64 MiB") != NULL);
    CHECK(strstr(out, "compat: 1.1") != NULL);
    /* Never overwrites. */
    CHECK_EQ(qcow2_create(tpath("a.qcow2"), 64 * MiB, NULL, NULL, &err), -BOXLITE_ERR_EXISTS);
    /* Odd and huge sizes. */
    CHECK_EQ(qcow2_create(tpath("odd.qcow2"), 12345, NULL, NULL, &err), 0);
    CHECK_EQ(qcheck(tpath("odd.qcow2")), 0);
    CHECK_EQ(qcow2_create(tpath("big.qcow2"), 4ull << 40, NULL, NULL, &err), 0);
    CHECK_EQ(qcheck(tpath("big.qcow2")), 0);
    struct disk *d;
    REQUIRE(disk_open(&d, tpath("big.qcow2"), 0, &err) == 0);
    CHECK_EQ(d->size, 4ull << 40);
    CHECK_STR(d->ops->name, "qcow2");
    disk_close(d);
}

TEST(overlay_info_shows_backing)
{
    need_qemu_img();
    struct bl_error err = {0};
    REQUIRE(sh("qemu-img create -q -f raw '%s' 32M", tpath("base.raw")) == 0);
    /* Relative name, resolved against the overlay's folder; size 0 = the base's size. */
    REQUIRE(qcow2_create(tpath("ov.qcow2"), 0, "base.raw", "raw", &err) == 0);
    char out[4096];
    CHECK_EQ(sh_out(out, sizeof out, "qemu-img info '%s'", tpath("ov.qcow2")), 0);
    CHECK(strstr(out, "backing file: base.raw") != NULL);
    CHECK(strstr(out, "backing file format: raw") != NULL);
    CHECK(strstr(out, "virtual size: 32 MiB") != NULL);
    CHECK_EQ(qcheck(tpath("ov.qcow2")), 0);
    /* A bigger overlay than its base (a box with a larger disk_size): past the base it
     * reads zeros and takes writes. */
    REQUIRE(qcow2_create(tpath("big.qcow2"), 100 * MiB, "base.raw", "raw", &err) == 0);
    struct disk *d;
    REQUIRE(disk_open(&d, tpath("big.qcow2"), 0, &err) == 0);
    CHECK_EQ(d->size, 100 * MiB);
    uint8_t b[4096];
    memset(b, 1, sizeof b);
    CHECK_EQ(disk_read(d, b, 32 * MiB - 2048, sizeof b, &err), 0);
    for (size_t i = 0; i < sizeof b; i++)
        if (b[i]) {
            CHECK(0);
            break;
        }
    memset(b, 7, sizeof b);
    CHECK_EQ(disk_write(d, b, 99 * MiB, sizeof b, &err), 0);
    disk_close(d);
    CHECK_EQ(qcheck(tpath("big.qcow2")), 0);
    char qio[4096];
    CHECK_EQ(sh_out(qio, sizeof qio, "qemu-io -f qcow2 -c 'read -P 7 99M 4k' "
                    "-c 'read -P 0 32M 4k' '%s'", tpath("big.qcow2")), 0);
    CHECK(strstr(qio, "verification failed") == NULL && strstr(qio, "read 4096/4096") != NULL);
    /* A missing backing file is an error at creation, and no file is left. */
    CHECK(qcow2_create(tpath("bad.qcow2"), 0, "nope.raw", "raw", &err) < 0);
    CHECK(strstr(err.msg, "nope.raw") != NULL);
    CHECK(access(tpath("bad.qcow2"), F_OK) != 0);
    /* The format is probed and recorded when not given. */
    REQUIRE(qcow2_create(tpath("ov2.qcow2"), 0, tpath("ov.qcow2"), NULL, &err) == 0);
    CHECK_EQ(sh_out(out, sizeof out, "qemu-img info '%s'", tpath("ov2.qcow2")), 0);
    CHECK(strstr(out, "backing file format: qcow2") != NULL);
}

/* Writes that cover the interesting shapes: inside one cluster, across clusters, whole
 * clusters, unaligned head and tail, across L2 tables, at the very end. */
static void write_shapes(struct disk *d, int mirror, uint32_t seed)
{
    static const struct { uint64_t off; size_t len; } w[] = {
        {0, 512},           {4096, 4096},        {65536 - 100, 200},   {131072, 65536},
        {200000, 300000},   {1000, 1},           {3 * MiB + 7, 70000}, {5 * MiB, 2 * MiB},
        {0, 512},           {65536 - 100, 7000}, {30 * MiB, 4 * MiB},
    };
    uint8_t *buf = malloc(4 * MiB);
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        uint64_t off = w[i].off;
        size_t len = w[i].len;
        if (off >= d->size)
            continue;
        if (off + len > d->size)
            len = (size_t)(d->size - off);
        pattern(buf, len, off, seed + (uint32_t)i);
        CHECK_EQ(write_both(d, mirror, buf, off, len), 0);
    }
    /* The last bytes of the disk. */
    pattern(buf, 1000, d->size - 1000, seed);
    CHECK_EQ(write_both(d, mirror, buf, d->size - 1000, 1000), 0);
    free(buf);
}

TEST(write_then_compare_with_raw)
{
    need_qemu_img();
    struct bl_error err = {0};
    uint64_t size = 64 * MiB + 4096;
    REQUIRE(qcow2_create(tpath("w.qcow2"), size, NULL, NULL, &err) == 0);
    int mirror = open(tpath("w.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(mirror >= 0 && ftruncate(mirror, (off_t)size) == 0);
    struct disk *d;
    REQUIRE(disk_open(&d, tpath("w.qcow2"), 0, &err) == 0);
    write_shapes(d, mirror, 1);
    CHECK_EQ(same_as_mirror(d, mirror), 0);
    CHECK_EQ(disk_flush(d, &err), 0);
    write_shapes(d, mirror, 2); /* overwrite in place */
    CHECK_EQ(same_as_mirror(d, mirror), 0);
    disk_close(d);
    CHECK_EQ(qcheck(tpath("w.qcow2")), 0);
    CHECK_EQ(sh("qemu-img compare -q -f qcow2 -F raw '%s' '%s'", tpath("w.qcow2"),
                tpath("w.raw")), 0);
    /* Reopened, it reads the same. */
    REQUIRE(disk_open(&d, tpath("w.qcow2"), 1, &err) == 0);
    CHECK_EQ(same_as_mirror(d, mirror), 0);
    CHECK_EQ(disk_write(d, "x", 0, 1, &err), -BOXLITE_ERR_STATE);
    disk_close(d);
    /* qemu can go on writing where we left off, and we read what it wrote. */
    REQUIRE(sh("qemu-io -f qcow2 -c 'write -P 0x3c 10M 200k' -c 'write -P 0x3d 100k 8k' '%s'",
               tpath("w.qcow2")) == 0);
    CHECK_EQ(qcheck(tpath("w.qcow2")), 0);
    uint8_t *b = malloc(200 << 10);
    memset(b, 0x3c, 200 << 10);
    CHECK_EQ(pwrite(mirror, b, 200 << 10, 10 * MiB), 200 << 10);
    memset(b, 0x3d, 8 << 10);
    CHECK_EQ(pwrite(mirror, b, 8 << 10, 100 << 10), 8 << 10);
    free(b);
    REQUIRE(disk_open(&d, tpath("w.qcow2"), 0, &err) == 0);
    CHECK_EQ(same_as_mirror(d, mirror), 0);
    disk_close(d);
    close(mirror);
}

TEST(read_and_write_images_qemu_made)
{
    need_qemu_img();
    struct bl_error err = {0};
    /* A raw source with data and holes, converted by qemu-img in several flavours. */
    int src = open(tpath("src.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(src >= 0 && ftruncate(src, (off_t)(24 * MiB)) == 0);
    uint8_t *buf = malloc(MiB);
    for (uint64_t off = 0; off < 24 * MiB; off += 3 * MiB) {
        pattern(buf, MiB, off, 7);
        REQUIRE(pwrite(src, buf, MiB, (off_t)off) == (ssize_t)MiB);
    }
    static const char *const flavours[] = {
        "-O qcow2",
        "-O qcow2 -o cluster_size=512",
        "-O qcow2 -o cluster_size=2M",
        "-O qcow2 -o refcount_bits=8",
        "-O qcow2 -o refcount_bits=64,cluster_size=4096",
        "-O qcow2 -o compat=0.10",
        "-O qcow2 -c",
        "-O qcow2 -c -o cluster_size=4096",
        "-O qcow2 -c -o compression_type=zstd",
        "-O qcow2 -o preallocation=metadata",
    };
    for (size_t i = 0; i < sizeof flavours / sizeof flavours[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "conv%zu.qcow2", i);
        REQUIRE(sh("qemu-img convert -f raw %s '%s' '%s'", flavours[i], tpath("src.raw"),
                   tpath(name)) == 0);
        struct disk *d;
        if (disk_open(&d, tpath(name), 0, &err) < 0) {
            printf("#   %s: %s\n", flavours[i], err.msg);
            CHECK(0);
            continue;
        }
        if (same_as_mirror(d, src) != 0) {
            printf("#   reading %s differs\n", flavours[i]);
            CHECK(0);
        }
        /* Write over it (compressed clusters are copied out), then compare again. */
        char mname[64];
        snprintf(mname, sizeof mname, "mirror%zu.raw", i);
        REQUIRE(sh("cp '%s' '%s'", tpath("src.raw"), tpath(mname)) == 0);
        int m = open(tpath(mname), O_RDWR);
        write_shapes(d, m, 100 + (uint32_t)i);
        if (same_as_mirror(d, m) != 0) {
            printf("#   after writes, %s differs\n", flavours[i]);
            CHECK(0);
        }
        disk_close(d);
        close(m);
        int rc = qcheck(tpath(name)); /* no leaks either: dropped references are freed */
        if (rc != 0) {
            printf("#   %s: qemu-img check exit %d\n", flavours[i], rc);
            CHECK(0);
        }
        CHECK_EQ(sh("qemu-img compare -q -f qcow2 -F raw '%s' '%s'", tpath(name),
                    tpath(mname)), 0);
    }
    free(buf);
    close(src);
}

/* An overlay we create over base (raw or qcow2); writes through it; checks it. */
static void overlay_case(const char *base, const char *fmt, const char *base_raw)
{
    struct bl_error err = {0};
    char ov[600];
    snprintf(ov, sizeof ov, "%s.ov.qcow2", base);
    REQUIRE(qcow2_create(ov, 0, base, fmt, &err) == 0);
    REQUIRE(sh("cp '%s' '%s.mirror'", base_raw, base_raw) == 0);
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s.mirror", base_raw);
    int m = open(mpath, O_RDWR);
    REQUIRE(m >= 0);
    struct disk *d;
    REQUIRE(disk_open(&d, ov, 0, &err) == 0);
    CHECK_EQ(same_as_mirror(d, m), 0); /* reads fall through to the base */
    write_shapes(d, m, 9);             /* partial clusters copy the base's bytes */
    CHECK_EQ(same_as_mirror(d, m), 0);
    disk_close(d);
    CHECK_EQ(qcheck(ov), 0);
    CHECK_EQ(sh("qemu-img compare -q -f qcow2 -F raw '%s' '%s'", ov, mpath), 0);
    /* The base is untouched. */
    CHECK_EQ(sh("qemu-img compare -q -f %s -F raw '%s' '%s'", fmt, base, base_raw), 0);
    close(m);
}

TEST(overlay_on_raw_base)
{
    need_qemu_img();
    int b = open(tpath("base.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(b >= 0 && ftruncate(b, (off_t)(40 * MiB)) == 0);
    uint8_t *buf = malloc(8 * MiB);
    pattern(buf, 8 * MiB, 0, 3);
    REQUIRE(pwrite(b, buf, 8 * MiB, 0) == (ssize_t)(8 * MiB));
    REQUIRE(pwrite(b, buf, 8 * MiB, 28 * MiB) == (ssize_t)(8 * MiB));
    close(b);
    free(buf);
    overlay_case(tpath("base.raw"), "raw", tpath("base.raw"));
}

TEST(overlay_on_qcow2_base)
{
    need_qemu_img();
    int b = open(tpath("base.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(b >= 0 && ftruncate(b, (off_t)(40 * MiB)) == 0);
    uint8_t *buf = malloc(8 * MiB);
    pattern(buf, 8 * MiB, 0, 4);
    REQUIRE(pwrite(b, buf, 8 * MiB, 2 * MiB) == (ssize_t)(8 * MiB));
    close(b);
    free(buf);
    REQUIRE(sh("qemu-img convert -f raw -O qcow2 '%s' '%s'", tpath("base.raw"),
               tpath("base.qcow2")) == 0);
    overlay_case(tpath("base.qcow2"), "qcow2", tpath("base.raw"));
}

TEST(reads_overlay_qemu_made_and_smaller_backing)
{
    need_qemu_img();
    struct bl_error err = {0};
    /* A 4 MiB base under a 16 MiB overlay made by qemu-img, with qemu-io writes on top. */
    int b = open(tpath("small.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    uint8_t *buf = malloc(4 * MiB);
    pattern(buf, 4 * MiB, 0, 5);
    REQUIRE(b >= 0 && pwrite(b, buf, 4 * MiB, 0) == (ssize_t)(4 * MiB));
    REQUIRE(sh("qemu-img create -q -f qcow2 -b small.raw -F raw '%s' 16M", tpath("q.qcow2")) ==
            0);
    REQUIRE(sh("qemu-io -f qcow2 -c 'write -P 0xab 1M 64k' -c 'write -z 2M 1M' "
               "-c 'write -P 0xcd 15M 4k' '%s'", tpath("q.qcow2")) == 0);
    REQUIRE(ftruncate(b, (off_t)(16 * MiB)) == 0); /* the mirror: base, then writes */
    memset(buf, 0xab, 65536);
    REQUIRE(pwrite(b, buf, 65536, MiB) == 65536);
    memset(buf, 0, MiB);
    REQUIRE(pwrite(b, buf, MiB, 2 * MiB) == (ssize_t)MiB);
    memset(buf, 0xcd, 4096);
    REQUIRE(pwrite(b, buf, 4096, 15 * MiB) == 4096);
    struct disk *d;
    REQUIRE(disk_open(&d, tpath("q.qcow2"), 1, &err) == 0);
    CHECK_EQ(d->size, 16 * MiB);
    CHECK_EQ(same_as_mirror(d, b), 0);
    disk_close(d);
    /* Restore the base itself (the overlay must not have changed it). */
    free(buf);
    close(b);
}

TEST_TIMEOUT(random_stress_against_raw_mirror, 240)
{
    need_qemu_img();
    struct bl_error err = {0};
    uint64_t size = 256 * MiB;
    /* Small clusters make many L2 tables, refcount blocks and refcount table growth. */
    REQUIRE(sh("qemu-img create -q -f qcow2 -o cluster_size=512 '%s' 256M",
               tpath("s.qcow2")) == 0);
    int m = open(tpath("s.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(m >= 0 && ftruncate(m, (off_t)size) == 0);
    struct disk *d;
    REQUIRE(disk_open(&d, tpath("s.qcow2"), 0, &err) == 0);
    uint64_t seed = 0x1234567;
    uint8_t *buf = malloc(256 * 1024), *rb = malloc(256 * 1024), *mb = malloc(256 * 1024);
    for (int i = 0; i < 3000; i++) {
        uint64_t r = rnd(&seed);
        size_t len = 1 + (size_t)(rnd(&seed) % (r % 4 == 0 ? 256 * 1024 : 9000));
        uint64_t off = rnd(&seed) % (size - len);
        if (r % 3 == 0)
            off &= ~4095ull, len = (len + 4095) & ~4095ul;
        if (off + len > size)
            len = (size_t)(size - off);
        if (r % 5 == 0) {
            CHECK_EQ(disk_read(d, rb, off, len, &err), 0);
            REQUIRE(pread(m, mb, len, (off_t)off) == (ssize_t)len);
            if (memcmp(rb, mb, len) != 0) {
                printf("#   read %llu+%zu differs at step %d\n", (unsigned long long)off, len, i);
                CHECK(0);
                break;
            }
        } else if (r % 97 == 0) {
            CHECK_EQ(disk_discard(d, off, len, &err), 0);
            memset(buf, 0, len);
            REQUIRE(pwrite(m, buf, len, (off_t)off) == (ssize_t)len);
        } else {
            pattern(buf, len, off, (uint32_t)i);
            REQUIRE(write_both(d, m, buf, off, len) == 0);
        }
        if (r % 211 == 0)
            CHECK_EQ(disk_flush(d, &err), 0);
    }
    CHECK_EQ(same_as_mirror(d, m), 0);
    disk_close(d);
    CHECK_EQ(qcheck(tpath("s.qcow2")), 0);
    CHECK_EQ(sh("qemu-img compare -q -f qcow2 -F raw '%s' '%s'", tpath("s.qcow2"),
                tpath("s.raw")), 0);
    free(buf);
    free(rb);
    free(mb);
    close(m);
}

TEST(discard_reads_zero)
{
    need_qemu_img();
    struct bl_error err = {0};
    int b = open(tpath("b.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    uint8_t *buf = malloc(4 * MiB);
    pattern(buf, 4 * MiB, 0, 11);
    REQUIRE(b >= 0 && pwrite(b, buf, 4 * MiB, 0) == (ssize_t)(4 * MiB));
    REQUIRE(qcow2_create(tpath("d.qcow2"), 0, "b.raw", "raw", &err) == 0);
    REQUIRE(sh("cp '%s' '%s'", tpath("b.raw"), tpath("m.raw")) == 0);
    int m = open(tpath("m.raw"), O_RDWR);
    struct disk *d;
    REQUIRE(disk_open(&d, tpath("d.qcow2"), 0, &err) == 0);
    pattern(buf, MiB, MiB, 12);
    CHECK_EQ(write_both(d, m, buf, MiB, MiB), 0);
    /* Whole clusters over the base and over our data, plus unaligned ends. */
    static const uint64_t ranges[][2] = {{0, 65536}, {MiB - 1000, 200000}, {3 * MiB + 5, 10}};
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ(disk_discard(d, ranges[i][0], ranges[i][1], &err), 0);
        memset(buf, 0, ranges[i][1]);
        REQUIRE(pwrite(m, buf, ranges[i][1], (off_t)ranges[i][0]) == (ssize_t)ranges[i][1]);
    }
    CHECK_EQ(same_as_mirror(d, m), 0);
    disk_close(d);
    CHECK_EQ(qcheck(tpath("d.qcow2")), 0);
    CHECK_EQ(sh("qemu-img compare -q -f qcow2 -F raw '%s' '%s'", tpath("d.qcow2"),
                tpath("m.raw")), 0);
    free(buf);
    close(m);
    close(b);
}

TEST(backing_chain_loop_is_refused)
{
    struct bl_error err = {0};
    need_qemu_img();
    REQUIRE(sh("qemu-img create -q -f raw '%s' 1M", tpath("x")) == 0);
    REQUIRE(qcow2_create(tpath("a.qcow2"), 0, "x", "raw", &err) == 0);
    REQUIRE(qcow2_create(tpath("b.qcow2"), 0, "a.qcow2", "qcow2", &err) == 0);
    /* Point a.qcow2 at b.qcow2 behind qemu's back: a -> b -> a -> ... */
    REQUIRE(sh("qemu-img rebase -u -f qcow2 -b b.qcow2 -F qcow2 '%s'", tpath("a.qcow2")) == 0);
    struct disk *d;
    CHECK(disk_open(&d, tpath("b.qcow2"), 1, &err) < 0);
    CHECK(strstr(err.msg, "deeper") != NULL);
}
