// SPDX-License-Identifier: Apache-2.0
/* The KVM engine's snapshot file (src/vmm/snapshot.c) and memory file (mem.c): a round
 * trip, and every way a hostile or stale file must be refused with a clear error: each
 * truncation, each single altered byte, another format version, another build, another
 * CPU, another RAM size, sections out of order, of unknown type, longer than the file, or
 * followed by stray bytes. */
#include "harness/harness.h"
#include "pagemap.h"
#include "vmm/core/mem.h"
#include "vmm/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static struct vmsnap_ident ident(void)
{
    struct vmsnap_ident id = { .build_id_len = 20, .mem_bytes = 64ull << 20 };
    for (int i = 0; i < 20; i++)
        id.build_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 32; i++)
        id.cpu[i] = (uint8_t)i;
    return id;
}

/* A file with a machine section, two vCPUs and one virtio device. */
static void build(struct vmsnap_buf *b)
{
    struct vmsnap_ident id = ident();
    vmsnap_begin(b, &id);
    vmsnap_add(b, SNAP_SEC_MACHINE, 0, "machine", 7);
    vmsnap_add(b, SNAP_SEC_VCPU, 0, "vcpu zero state", 15);
    vmsnap_add(b, SNAP_SEC_VCPU, 1, "vcpu one", 8);
    vmsnap_add(b, SNAP_SEC_VIRTIO, 3, "", 0);
    struct bl_error err = { 0 };
    REQUIRE(vmsnap_finish(b, &err) == 0);
}

/* After editing a copy, make its checksum right again: what a forger (or another build)
 * would produce, so that the check behind the checksum is the one tested. */
static void reseal(uint8_t *p, size_t len)
{
    unsigned n = 32;
    EVP_Digest(p, len - 32, p + len - 32, &n, EVP_sha256(), NULL);
}

static void set32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void set64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Parses p against ident(); returns the error code (0 = accepted), message into msg. */
static int parse(const uint8_t *p, size_t len, char *msg, size_t msglen)
{
    struct vmsnap_ident id = ident();
    struct vmsnap_view v;
    struct bl_error err = { 0 };
    int r = vmsnap_parse(p, len, &id, &v, &err);
    snprintf(msg, msglen, "%s", err.msg);
    if (r == 0)
        vmsnap_view_free(&v);
    else
        CHECK(msg[0] != 0); /* every refusal says why */
    return -r;
}

TEST(round_trip)
{
    struct vmsnap_buf b;
    build(&b);
    CHECK_EQ(b.len % 8, 0);
    struct vmsnap_ident id = ident();
    struct vmsnap_view v;
    struct bl_error err = { 0 };
    REQUIRE(vmsnap_parse(b.p, b.len, &id, &v, &err) == 0);
    CHECK_EQ(v.n, 4);
    CHECK_EQ(v.id.mem_bytes, 64ull << 20);
    const struct vmsnap_section *s = vmsnap_find(&v, SNAP_SEC_VCPU, 0);
    REQUIRE(s);
    CHECK_EQ(s->len, 15);
    CHECK_MEM(s->data, "vcpu zero state", 15);
    s = vmsnap_find(&v, SNAP_SEC_VCPU, 1);
    REQUIRE(s);
    CHECK_MEM(s->data, "vcpu one", 8);
    s = vmsnap_find(&v, SNAP_SEC_VIRTIO, 3);
    REQUIRE(s);
    CHECK_EQ(s->len, 0);
    CHECK(vmsnap_find(&v, SNAP_SEC_VCPU, 2) == NULL);
    /* every section lies inside the buffer */
    for (uint32_t i = 0; i < v.n; i++)
        CHECK(v.sec[i].data >= b.p && v.sec[i].data + v.sec[i].len <= b.p + b.len);
    vmsnap_view_free(&v);
    /* no expectation: any build, CPU, size */
    REQUIRE(vmsnap_parse(b.p, b.len, NULL, &v, &err) == 0);
    vmsnap_view_free(&v);
    vmsnap_buf_free(&b);
}

TEST(every_truncation_and_every_altered_byte_is_refused)
{
    struct vmsnap_buf b;
    build(&b);
    char msg[BL_ERRMSG_MAX];
    uint8_t *c = malloc(b.len);
    for (size_t n = 0; n < b.len; n++) {
        memcpy(c, b.p, n);
        if (parse(c, n, msg, sizeof msg) == 0)
            harness_fail(__FILE__, __LINE__, "a file cut to %zu of %zu bytes was accepted", n,
                         b.len);
    }
    for (size_t i = 0; i < b.len; i++) {
        memcpy(c, b.p, b.len);
        c[i] ^= 0x01;
        if (parse(c, b.len, msg, sizeof msg) == 0)
            harness_fail(__FILE__, __LINE__, "byte %zu altered was accepted", i);
    }
    /* a byte in a payload: the checksum says so */
    memcpy(c, b.p, b.len);
    c[SNAP_HEADER_LEN + SNAP_SECTION_HDR] ^= 0x80;
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);
    CHECK(strstr(msg, "checksum") != NULL);
    /* a byte appended */
    uint8_t *longer = calloc(1, b.len + 1);
    memcpy(longer, b.p, b.len);
    CHECK_EQ(parse(longer, b.len + 1, msg, sizeof msg), BOXLITE_ERR_INVALID);
    CHECK(strstr(msg, "truncated or extended") != NULL);
    free(longer);
    free(c);
    vmsnap_buf_free(&b);
}

TEST(another_version_build_cpu_or_ram_size_is_refused_by_name)
{
    struct vmsnap_buf b;
    build(&b);
    char msg[BL_ERRMSG_MAX];
    uint8_t *c = malloc(b.len);

    memcpy(c, b.p, b.len);
    set32(c + 8, 2);
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_UNSUPPORTED);
    CHECK(strstr(msg, "format version 2") != NULL);

    memcpy(c, b.p, b.len);
    c[32 + 19] ^= 0xff; /* last byte of the build id */
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_UNSUPPORTED);
    CHECK(strstr(msg, "another boxlite-vmm build") != NULL);

    memcpy(c, b.p, b.len);
    set32(c + 28, 16); /* a shorter build id, padding left set */
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);

    memcpy(c, b.p, b.len);
    set32(c + 28, 33);
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);

    memcpy(c, b.p, b.len);
    c[64 + 5] ^= 0x10; /* the CPU fingerprint */
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_UNSUPPORTED);
    CHECK(strstr(msg, "CPU") != NULL);

    memcpy(c, b.p, b.len);
    set64(c + 96, 128ull << 20);
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);
    CHECK(strstr(msg, "guest RAM") != NULL);

    memcpy(c, b.p, b.len);
    c[120] = 1; /* reserved */
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);

    memcpy(c, b.p, b.len);
    memcpy(c, "BLVMSNAQ", 8);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);
    CHECK(strstr(msg, "magic") != NULL);
    free(c);
    vmsnap_buf_free(&b);
}

TEST(sections_out_of_order_unknown_long_or_miscounted_are_refused)
{
    struct vmsnap_buf b;
    build(&b);
    char msg[BL_ERRMSG_MAX];
    uint8_t *c = malloc(b.len);
    /* section offsets: machine at 128 (7 -> 8 bytes), vcpu 0 at 152 (15 -> 16), vcpu 1 at
     * 184, virtio at 208 */
    const size_t vcpu1 = SNAP_HEADER_LEN + 16 + 8 + 16 + 16;

    memcpy(c, b.p, b.len);
    set32(c + vcpu1 + 4, 0); /* vCPU 0 twice */
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);
    CHECK(strstr(msg, "out of order") != NULL);

    memcpy(c, b.p, b.len);
    set32(c + vcpu1, SNAP_SEC_MACHINE); /* a type going back */
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);
    CHECK(strstr(msg, "out of order") != NULL);

    memcpy(c, b.p, b.len);
    set32(c + vcpu1, 99);
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);
    CHECK(strstr(msg, "unknown type") != NULL);

    static const uint64_t lens[] = { 1ull << 40, ~0ull, ~0ull - 6, 64, SNAP_MAX_SECTION + 1ull };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memcpy(c, b.p, b.len);
        set64(c + vcpu1 + 8, lens[i]);
        reseal(c, b.len);
        CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);
    }

    memcpy(c, b.p, b.len);
    set64(c + vcpu1 + 8, 0); /* shorter: bytes the count does not explain */
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);

    memcpy(c, b.p, b.len);
    set32(c + 24, 3); /* one section fewer than there are */
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);
    CHECK(strstr(msg, "after its 3 sections") != NULL);

    memcpy(c, b.p, b.len);
    set32(c + 24, 5);
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);
    CHECK(strstr(msg, "cut off") != NULL);

    memcpy(c, b.p, b.len);
    set32(c + 24, 0xffffffff);
    reseal(c, b.len);
    CHECK_EQ(parse(c, b.len, msg, sizeof msg), BOXLITE_ERR_INVALID);
    free(c);
    vmsnap_buf_free(&b);
}

TEST(the_writer_refuses_disorder)
{
    struct vmsnap_ident id = ident();
    struct vmsnap_buf b;
    struct bl_error err = { 0 };
    vmsnap_begin(&b, &id);
    vmsnap_add(&b, SNAP_SEC_VCPU, 1, "x", 1);
    vmsnap_add(&b, SNAP_SEC_VCPU, 0, "y", 1);
    CHECK(vmsnap_finish(&b, &err) < 0);
    CHECK(strstr(err.msg, "out of order") != NULL);
    vmsnap_buf_free(&b);
    vmsnap_begin(&b, &id);
    vmsnap_add(&b, SNAP_SEC_END, 0, "x", 1);
    CHECK(vmsnap_finish(&b, &err) < 0);
    vmsnap_buf_free(&b);
}

TEST(build_id_is_the_programs)
{
    struct vmsnap_ident a = { 0 }, b = { 0 };
    REQUIRE(vmsnap_build_id(&a) == 0);
    CHECK_EQ(a.build_id_len, 20); /* GNU ld's default: SHA-1 */
    REQUIRE(vmsnap_build_id(&b) == 0);
    CHECK_MEM(a.build_id, b.build_id, SNAP_ID_MAX);
}

TEST(files_are_whole_regular_and_bounded)
{
    struct vmsnap_buf b;
    build(&b);
    char path[512], link[512];
    snprintf(path, sizeof path, "%s/state", harness_tmpdir());
    snprintf(link, sizeof link, "%s/link", harness_tmpdir());
    struct bl_error err = { 0 };
    REQUIRE(vmsnap_write_file(&b, path, &err) == 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0);
    uint8_t *data;
    size_t len;
    REQUIRE(vmsnap_read_file(path, &data, &len, &err) == 0);
    CHECK_EQ(len, b.len);
    CHECK_MEM(data, b.p, len);
    free(data);
    REQUIRE(symlink(path, link) == 0);
    CHECK(vmsnap_read_file(link, &data, &len, &err) < 0);
    CHECK(vmsnap_read_file(harness_tmpdir(), &data, &len, &err) < 0); /* a folder */
    int fd = open(path, O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, (off_t)SNAP_MAX_FILE + 1) == 0);
    close(fd);
    CHECK_EQ(vmsnap_read_file(path, &data, &len, &err), -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "at most") != NULL);
    vmsnap_buf_free(&b);
}

TEST(memory_file_is_sparse_and_maps_copy_on_write)
{
    const uint64_t lo = 2ull << 20, hi = 1ull << 20;
    uint8_t *a = mmap(NULL, lo, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *h = mmap(NULL, hi, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(a != MAP_FAILED && h != MAP_FAILED);
    struct guest_mem gm = { 0 };
    REQUIRE(gm_add_region(&gm, 0, lo, a) == 0);
    REQUIRE(gm_add_region(&gm, 1ull << 32, hi, h) == 0);
    CHECK_EQ(gm_total(&gm), lo + hi);
    memset(a + 4096 * 3, 0x5a, 4096 * 2);
    a[lo - 1] = 7;
    h[0] = 9;
    h[hi - 4096 + 17] = 0x33;
    char path[512];
    snprintf(path, sizeof path, "%s/memory", harness_tmpdir());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    memset(a + 4096 * 100, 1, 1); /* then undone: the file is rewritten, not patched */
    CHECK_EQ(gm_save(&gm, fd), 0);
    a[4096 * 100] = 0;
    CHECK_EQ(gm_save(&gm, fd), 0);
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0);
    CHECK_EQ(st.st_size, (off_t)(lo + hi));
    CHECK((uint64_t)st.st_blocks * 512 <= 16 * 4096); /* 5 pages of data, the rest holes */

    uint8_t *ra = gm_map_file(fd, 0, lo), *rh = gm_map_file(fd, lo, hi);
    REQUIRE(ra && rh);
    CHECK_MEM(ra, a, lo);
    CHECK_MEM(rh, h, hi);
    ra[0] = 1; /* private: the file keeps its byte */
    uint8_t byte = 0xee;
    CHECK_EQ(pread(fd, &byte, 1, 0), 1);
    CHECK_EQ(byte, 0);
    CHECK(gm_map_file(fd, 100, 4096) == NULL); /* not page-aligned */
    munmap(ra, lo);
    munmap(rh, hi);
    close(fd);
    munmap(a, lo);
    munmap(h, hi);
}

/* Fresh guest RAM (a cold boot's, gm_map_anon) is touched page by page, never in the host's
 * 2 MiB transparent huge pages: marked MADV_NOHUGEPAGE, and one touched byte makes one
 * resident page (a THP "always" host would otherwise fault in the whole 2 MiB, which an
 * idle guest never uses nor reports back). */
TEST(fresh_guest_ram_comes_in_small_pages)
{
    const uint64_t size = 8u << 20;
    uint8_t *ram = gm_map_anon(size);
    REQUIRE(ram);
    CHECK_EQ(vm_flag(ram, "nh"), 1);
    uint8_t *mid = (uint8_t *)(((uintptr_t)ram + (4u << 20)) & ~(uintptr_t)((2u << 20) - 1));
    unsigned char vec[512];
    REQUIRE(mincore(mid, 2u << 20, vec) == 0);
    unsigned before = 0;
    for (unsigned i = 0; i < 512; i++)
        before += vec[i] & 1;
    CHECK_EQ(before, 0);
    mid[5000] = 1;
    REQUIRE(mincore(mid, 2u << 20, vec) == 0);
    unsigned after = 0;
    for (unsigned i = 0; i < 512; i++)
        after += vec[i] & 1;
    CHECK_EQ(after, 1);
    CHECK_EQ(ram[0], 0);
    munmap(ram, size);
    errno = 0;
    CHECK(gm_map_anon(0) == NULL && errno == EINVAL);
    CHECK(gm_map_anon(4096 + 100) == NULL && errno == EINVAL);
}

TEST(records_are_found_by_tag_and_checked)
{
    struct vmsnap_buf p = { 0 };
    uint64_t a = 0x1122334455667788ull;
    vmsnap_rec(&p, 1, &a, sizeof a);
    vmsnap_rec(&p, 3, "abc", 3);
    REQUIRE(!p.failed);
    struct bl_error err = { 0 };
    CHECK_EQ(vmsnap_rec_check(p.p, p.len, 4, "t", &err), 0);
    uint64_t got = 0;
    CHECK_EQ(vmsnap_rec_copy(p.p, p.len, 1, &got, sizeof got, "t", &err), 0);
    CHECK_EQ(got, a);
    CHECK(vmsnap_rec_copy(p.p, p.len, 3, &got, sizeof got, "t", &err) < 0); /* 3 bytes, not 8 */
    CHECK(strstr(err.msg, "3 bytes") != NULL);
    CHECK(vmsnap_rec_copy(p.p, p.len, 2, &got, sizeof got, "t", &err) < 0);
    CHECK(strstr(err.msg, "missing") != NULL);
    CHECK(vmsnap_rec_check(p.p, p.len, 3, "t", &err) < 0); /* tag 3 unknown there */
    for (size_t n = 1; n < p.len; n++)
        if (n != 16) /* 16 bytes: the first record alone, well formed */
            CHECK(vmsnap_rec_check(p.p, n, 4, "t", &err) < 0);
    uint8_t *c = malloc(p.len);
    memcpy(c, p.p, p.len);
    set32(c + 16, 1); /* tag 1 twice */
    CHECK(vmsnap_rec_check(c, p.len, 4, "t", &err) < 0);
    memcpy(c, p.p, p.len);
    set32(c + 20, 0xfffffff9u); /* a length that would wrap when padded */
    CHECK(vmsnap_rec_check(c, p.len, 4, "t", &err) < 0);
    size_t n = 0;
    CHECK(vmsnap_rec_get(c, p.len, 3, &n) == NULL);
    free(c);
    vmsnap_buf_free(&p);
}
