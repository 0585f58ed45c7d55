// SPDX-License-Identifier: Apache-2.0
/* qcow2_set_backing (src/disk/qcow2_rebase.c) against qemu-img: the new name is what
 * qemu-img reads, the data reads through the new backing file, the image stays clean; a
 * QEMU-made image (other extensions, other layout) is rebased as well; what does not fit is
 * refused without touching the file. */
#include "util.h"

#include "disk/qcow2.h"

static int info_has(const char *path, const char *needle)
{
    char out[8192];
    if (sh_out(out, sizeof out, "qemu-img info --output=json '%s'", path) != 0)
        return 0;
    return strstr(out, needle) != NULL;
}

TEST(rebase_an_overlay_onto_a_copy_of_its_backing_file)
{
    need_qemu_img();
    struct bl_error err = { 0 };
    REQUIRE(sh("qemu-img create -q -f raw '%s' 4M", tpath("a.raw")) == 0);
    REQUIRE(sh("printf 'from the base' | dd of='%s' bs=1 seek=4096 conv=notrunc status=none",
               tpath("a.raw")) == 0);
    REQUIRE(qcow2_create(tpath("top.qcow2"), 0, "a.raw", "raw", &err) == 0);
    REQUIRE(sh("cp '%s' '%s'", tpath("a.raw"), tpath("b.raw")) == 0);
    REQUIRE(qcow2_set_backing(tpath("top.qcow2"), "b.raw", "raw", &err) == 0);
    CHECK(info_has(tpath("top.qcow2"), "\"backing-filename\": \"b.raw\""));
    CHECK(info_has(tpath("top.qcow2"), "\"backing-filename-format\": \"raw\""));
    CHECK_EQ(qcheck(tpath("top.qcow2")), 0);
    REQUIRE(sh("rm '%s'", tpath("a.raw")) == 0);
    struct disk *d = NULL;
    REQUIRE(disk_open(&d, tpath("top.qcow2"), 1, &err) == 0);
    char buf[16] = { 0 };
    REQUIRE(disk_read(d, buf, 4096, 13, &err) == 0);
    CHECK_MEM(buf, "from the base", 13);
    disk_close(d);
    /* and off it: no backing file at all */
    REQUIRE(qcow2_set_backing(tpath("top.qcow2"), NULL, NULL, &err) == 0);
    CHECK(!info_has(tpath("top.qcow2"), "backing-filename"));
    CHECK_EQ(qcheck(tpath("top.qcow2")), 0);
}

TEST(rebase_an_image_qemu_made)
{
    need_qemu_img();
    struct bl_error err = { 0 };
    REQUIRE(sh("qemu-img create -q -f qcow2 '%s' 8M", tpath("low.qcow2")) == 0);
    REQUIRE(sh("qemu-io -c 'write -P 0x61 0 64k' '%s' >/dev/null", tpath("low.qcow2")) == 0);
    REQUIRE(sh("qemu-img create -q -f qcow2 -b /etc/hostname -F raw -o cluster_size=4096 '%s' 8M",
               tpath("q.qcow2")) == 0);
    REQUIRE(qcow2_set_backing(tpath("q.qcow2"), "low.qcow2", "qcow2", &err) == 0);
    CHECK(info_has(tpath("q.qcow2"), "\"backing-filename\": \"low.qcow2\""));
    CHECK_EQ(qcheck(tpath("q.qcow2")), 0);
    CHECK_EQ(sh("qemu-io -c 'read -P 0x61 0 64k' '%s' >/dev/null", tpath("q.qcow2")), 0);
}

TEST(a_name_that_does_not_fit_is_refused_and_the_file_kept)
{
    need_qemu_img();
    struct bl_error err = { 0 };
    /* 512-byte clusters: the header, its extensions and the name share 512 bytes */
    REQUIRE(sh("qemu-img create -q -f qcow2 -o cluster_size=512 '%s' 1M", tpath("s.qcow2")) == 0);
    REQUIRE(sh("cp '%s' '%s'", tpath("s.qcow2"), tpath("s.orig")) == 0);
    char name[1001];
    memset(name, 'n', 1000);
    name[1000] = 0;
    CHECK(qcow2_set_backing(tpath("s.qcow2"), name, "raw", &err) < 0);
    CHECK(strstr(err.msg, "does not fit") != NULL);
    CHECK_EQ(sh("cmp '%s' '%s'", tpath("s.qcow2"), tpath("s.orig")), 0);
    /* not a qcow2 at all */
    REQUIRE(sh("head -c 65536 /dev/zero > '%s'", tpath("z.img")) == 0);
    CHECK(qcow2_set_backing(tpath("z.img"), "x", "raw", &err) < 0);
}

/* An extension whose padding the old backing name cuts short (the name starts right after
 * its 3 data bytes, which the format allows): the extensions after it must still start
 * where a reader looks for them, 8-byte aligned. CI's fuzz_qcow2_rebase found this. */
TEST(an_extension_cut_short_by_the_name_keeps_its_padding)
{
    need_qemu_img();
    struct bl_error err = { 0 };
    REQUIRE(sh("qemu-img create -q -f qcow2 -o cluster_size=4096 '%s' 1M", tpath("c.qcow2")) == 0);
    FILE *f = fopen(tpath("c.qcow2"), "r+b");
    REQUIRE(f != NULL);
    uint8_t buf[4096];
    REQUIRE(fread(buf, 1, sizeof buf, f) == sizeof buf);
    uint32_t hlen = qcow2_be32(buf + 100);
    qcow2_put_be32(buf + hlen, 0x0badcafe); /* an unknown extension: 3 bytes, "xyz" */
    qcow2_put_be32(buf + hlen + 4, 3);
    memcpy(buf + hlen + 8, "xyz", 3);
    memcpy(buf + hlen + 11, "orig", 4); /* the name, where the padding would be */
    qcow2_put_be64(buf + 8, hlen + 11);
    qcow2_put_be32(buf + 16, 4);
    struct stat st;
    REQUIRE(fstat(fileno(f), &st) == 0);
    struct qcow2_header hdr, *h = &hdr;
    REQUIRE(qcow2_header_parse(h, buf, sizeof buf, (uint64_t)st.st_size, &err) == 0);
    CHECK_STR(h->backing_file, "orig");
    REQUIRE(qcow2_header_set_backing(buf, sizeof buf, (uint64_t)st.st_size, "new.qcow2",
                                     "qcow2", &err) == 0);
    REQUIRE(qcow2_header_parse(h, buf, sizeof buf, (uint64_t)st.st_size, &err) == 0);
    CHECK_STR(h->backing_file, "new.qcow2");
    CHECK_STR(h->backing_format, "qcow2");
    REQUIRE(fseek(f, 0, SEEK_SET) == 0);
    REQUIRE(fwrite(buf, 1, sizeof buf, f) == sizeof buf);
    fclose(f);
    CHECK(info_has(tpath("c.qcow2"), "\"backing-filename\": \"new.qcow2\""));
    CHECK(info_has(tpath("c.qcow2"), "\"backing-filename-format\": \"qcow2\""));
}
