// SPDX-License-Identifier: Apache-2.0
/* virtio-blk request handling through the MMIO transport, over a memory-backed disk
 * (and a raw file through disk_open() when the disk component provides it). */
#include "harness/harness.h"
#include "vmm/virtio/blk.h"
#include "vq_driver.h"

#include <endian.h>
#include <stdlib.h>

struct memdisk {
    struct disk d;
    uint8_t *data;
    int flushes, discards, fail;
};

static int md_read(struct disk *d, void *buf, uint64_t off, size_t len, struct bl_error *e)
{
    struct memdisk *m = (struct memdisk *)d;
    if (m->fail || off + len > d->size)
        return bl_err(e, BOXLITE_ERR_IO, "read");
    memcpy(buf, m->data + off, len);
    return 0;
}
static int md_write(struct disk *d, const void *buf, uint64_t off, size_t len,
                    struct bl_error *e)
{
    struct memdisk *m = (struct memdisk *)d;
    if (m->fail || off + len > d->size || d->readonly)
        return bl_err(e, BOXLITE_ERR_IO, "write");
    memcpy(m->data + off, buf, len);
    return 0;
}
static int md_flush(struct disk *d, struct bl_error *e)
{
    ((struct memdisk *)d)->flushes++;
    return 0;
}
static int md_discard(struct disk *d, uint64_t off, uint64_t len, struct bl_error *e)
{
    struct memdisk *m = (struct memdisk *)d;
    m->discards++;
    memset(m->data + off, 0, len);
    return 0;
}
static int closed;
static void md_close(struct disk *d)
{
    closed++;
    /* the test keeps the memdisk to inspect it */
}
static const struct disk_ops md_ops = { "mem", md_read, md_write, md_flush, md_discard, md_close };
static const struct disk_ops md_ops_nodiscard = { "mem", md_read, md_write, md_flush, NULL, md_close };

#define DISK_SIZE (1u << 20)

struct dz {
    uint64_t s;
    uint32_t n, f;
};

static struct vqd_ram ram;
static struct vqd q;
static struct memdisk md;
static struct virtio_dev *dev;

static void start(bool readonly, bool discard)
{
    REQUIRE(vqd_ram_init(&ram) == 0);
    md.d.ops = discard ? &md_ops : &md_ops_nodiscard;
    md.d.size = DISK_SIZE;
    md.d.readonly = readonly;
    md.data = calloc(1, DISK_SIZE);
    struct bl_error err;
    REQUIRE(blk_new(&dev, &ram.mem, (struct irq_line){ 0 }, &md.d, "boxlite-serial-0123456789", &err) == 0);
    vqd_init(&q, &ram, 0, 128);
    struct vqd *qs[] = { &q };
    REQUIRE(vqd_handshake(dev, ~0ull, qs, 1) & VIRTIO_CONFIG_S_DRIVER_OK);
}

/* One request: header, `out` bytes (device-readable), `in_len` bytes (device-writable)
 * split into two descriptors when possible, then the status byte. Returns the status and
 * sets *used_len; in data lands at *in_gpa. */
static int submit(uint32_t type, uint64_t sector, const void *out, uint32_t out_len,
                  uint32_t in_len, uint64_t *in_gpa, uint32_t *used_len)
{
    uint64_t a[5];
    uint32_t l[5];
    unsigned nout = 0, nin = 0;
    struct { uint32_t type, reserved; uint64_t sector; } h = { htole32(type), 0, htole64(sector) };
    a[0] = vqd_alloc(&q, 16);
    l[0] = 16;
    memcpy(vqd_host(&ram, a[0]), &h, 16);
    nout = 1;
    if (out_len) {
        a[nout] = vqd_alloc(&q, out_len);
        l[nout] = out_len;
        memcpy(vqd_host(&ram, a[nout]), out, out_len);
        nout++;
    }
    uint64_t data = in_len ? vqd_alloc(&q, in_len) : 0;
    if (in_gpa)
        *in_gpa = data;
    if (in_len > 512) { /* split: first 512 bytes, then the rest */
        a[nout + nin] = data; l[nout + nin] = 512; nin++;
        a[nout + nin] = data + 512; l[nout + nin] = in_len - 512; nin++;
    } else if (in_len) {
        a[nout + nin] = data; l[nout + nin] = in_len; nin++;
    }
    uint64_t st = vqd_alloc(&q, 1);
    *(uint8_t *)vqd_host(&ram, st) = 0xee;
    a[nout + nin] = st; l[nout + nin] = 1; nin++;
    vqd_add(&q, a, l, nout, nin);
    vqd_kick(dev, 0);
    uint32_t id, len;
    if (!vqd_get_used(&q, &id, &len))
        return -1;
    if (used_len)
        *used_len = len;
    return *(uint8_t *)vqd_host(&ram, st);
}

TEST(config_and_features)
{
    start(false, true);
    uint64_t cap = 0;
    virtio_mmio_bus_ops.read(dev, VIRTIO_MMIO_CONFIG, (uint8_t *)&cap, 8);
    CHECK_EQ(cap, DISK_SIZE / 512);
    uint32_t segmax = 0;
    virtio_mmio_bus_ops.read(dev, VIRTIO_MMIO_CONFIG + 12, (uint8_t *)&segmax, 4);
    CHECK_EQ(segmax, BLK_SEG_MAX);
    CHECK(virtio_dev_has_feature(dev, VIRTIO_BLK_F_FLUSH));
    CHECK(virtio_dev_has_feature(dev, VIRTIO_BLK_F_DISCARD));
    CHECK(virtio_dev_has_feature(dev, VIRTIO_BLK_F_WRITE_ZEROES));
    CHECK(!virtio_dev_has_feature(dev, VIRTIO_BLK_F_RO));
    virtio_dev_free(dev);
    CHECK_EQ(closed, 1);
}

TEST(write_then_read_back)
{
    start(false, true);
    static uint8_t buf[4096];
    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    uint32_t used;
    CHECK_EQ(submit(VIRTIO_BLK_T_OUT, 8, buf, sizeof(buf), 0, NULL, &used), VIRTIO_BLK_S_OK);
    CHECK_EQ(used, 1);
    CHECK_MEM(md.data + 8 * 512, buf, sizeof(buf));
    uint64_t in;
    CHECK_EQ(submit(VIRTIO_BLK_T_IN, 8, NULL, 0, 4096, &in, &used), VIRTIO_BLK_S_OK);
    CHECK_EQ(used, 4097);
    CHECK_MEM(vqd_host(&ram, in), buf, sizeof(buf));
    /* the last sector of the disk */
    CHECK_EQ(submit(VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, NULL, 0, 512, &in, &used), VIRTIO_BLK_S_OK);
    virtio_dev_free(dev);
}

TEST(header_and_data_in_one_descriptor)
{
    start(false, true);
    uint64_t a[2];
    uint32_t l[2];
    a[0] = vqd_alloc(&q, 16 + 512);
    l[0] = 16 + 512;
    uint8_t *p = vqd_host(&ram, a[0]);
    struct { uint32_t type, reserved; uint64_t sector; } h = { VIRTIO_BLK_T_OUT, 0, 3 };
    memcpy(p, &h, 16);
    memset(p + 16, 0x5a, 512);
    a[1] = vqd_alloc(&q, 1);
    l[1] = 1;
    vqd_add(&q, a, l, 1, 1);
    vqd_kick(dev, 0);
    uint32_t id, len;
    REQUIRE(vqd_get_used(&q, &id, &len));
    CHECK_EQ(*(uint8_t *)vqd_host(&ram, a[1]), VIRTIO_BLK_S_OK);
    CHECK_EQ(md.data[3 * 512], 0x5a);
    CHECK_EQ(md.data[4 * 512 - 1], 0x5a);
    CHECK_EQ(md.data[4 * 512], 0);
    virtio_dev_free(dev);
}

TEST(sector_bounds_checked)
{
    start(false, true);
    uint8_t buf[1024] = { 1 };
    CHECK_EQ(submit(VIRTIO_BLK_T_IN, DISK_SIZE / 512, NULL, 0, 512, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, NULL, 0, 1024, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(VIRTIO_BLK_T_OUT, DISK_SIZE / 512 - 1, buf, 1024, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    /* sector * 512 would wrap around 2^64 */
    CHECK_EQ(submit(VIRTIO_BLK_T_IN, 1ull << 55, NULL, 0, 512, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(VIRTIO_BLK_T_OUT, UINT64_MAX, buf, 512, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    /* larger than one request may be (the disk is big enough for it) */
    md.d.size = 1ull << 40;
    {
        /* 65 descriptors of 1 MiB, all over the same guest buffer */
        uint64_t a[67];
        uint32_t l[67];
        struct { uint32_t type, reserved; uint64_t sector; } h = { VIRTIO_BLK_T_IN, 0, 0 };
        a[0] = vqd_alloc(&q, 16);
        l[0] = 16;
        memcpy(vqd_host(&ram, a[0]), &h, 16);
        uint64_t big = vqd_alloc(&q, 1 << 20);
        for (int i = 1; i <= 65; i++) {
            a[i] = big;
            l[i] = 1 << 20;
        }
        a[66] = vqd_alloc(&q, 1);
        l[66] = 1;
        vqd_add(&q, a, l, 1, 66);
        vqd_kick(dev, 0);
        uint32_t id, len;
        REQUIRE(vqd_get_used(&q, &id, &len));
        CHECK_EQ(*(uint8_t *)vqd_host(&ram, a[66]), VIRTIO_BLK_S_IOERR);
    }
    md.d.size = DISK_SIZE;
    /* not a whole number of sectors */
    CHECK_EQ(submit(VIRTIO_BLK_T_OUT, 0, buf, 100, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK(!dev->broken);
    uint8_t zero[1024] = { 0 };
    CHECK_MEM(md.data + DISK_SIZE - 1024, zero, 1024);
    virtio_dev_free(dev);
}

TEST(read_only_disk)
{
    start(true, true);
    CHECK(virtio_dev_has_feature(dev, VIRTIO_BLK_F_RO));
    CHECK(!virtio_dev_has_feature(dev, VIRTIO_BLK_F_DISCARD));
    uint8_t buf[512] = { 9 };
    CHECK_EQ(submit(VIRTIO_BLK_T_OUT, 0, buf, 512, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(md.data[0], 0);
    struct dz seg = { 0, 1, 0 };
    CHECK_EQ(submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, 16, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(VIRTIO_BLK_T_DISCARD, 0, &seg, 16, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0, NULL, NULL), VIRTIO_BLK_S_OK);
    CHECK_EQ(submit(VIRTIO_BLK_T_IN, 0, NULL, 0, 512, NULL, NULL), VIRTIO_BLK_S_OK);
    virtio_dev_free(dev);
}

TEST(flush_get_id_unsupported)
{
    start(false, true);
    CHECK_EQ(submit(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0, NULL, NULL), VIRTIO_BLK_S_OK);
    CHECK_EQ(md.flushes, 1);
    uint64_t in;
    uint32_t used;
    CHECK_EQ(submit(VIRTIO_BLK_T_GET_ID, 0, NULL, 0, 20, &in, &used), VIRTIO_BLK_S_OK);
    CHECK_EQ(used, 21);
    CHECK_MEM(vqd_host(&ram, in), "boxlite-serial-01234", 20);
    CHECK_EQ(submit(99, 0, NULL, 0, 512, NULL, &used), VIRTIO_BLK_S_UNSUPP);
    CHECK_EQ(used, 1);
    CHECK_EQ(submit(10 /* GET_LIFETIME */, 0, NULL, 0, 16, NULL, NULL), VIRTIO_BLK_S_UNSUPP);
    virtio_dev_free(dev);
}

TEST(discard_and_write_zeroes)
{
    start(false, true);
    memset(md.data, 0xff, DISK_SIZE);
    struct dz segs[2] = { { 0, 2, 0 }, { 10, 1, 0 } };
    CHECK_EQ(submit(VIRTIO_BLK_T_DISCARD, 0, segs, 32, 0, NULL, NULL), VIRTIO_BLK_S_OK);
    CHECK_EQ(md.discards, 2);
    CHECK_EQ(md.data[0], 0);
    CHECK_EQ(md.data[1023], 0);
    CHECK_EQ(md.data[1024], 0xff);
    segs[0] = (struct dz){ 20, 3, 1 }; /* unmap allowed for write zeroes */
    CHECK_EQ(submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, segs, 16, 0, NULL, NULL), VIRTIO_BLK_S_OK);
    CHECK_EQ(md.data[20 * 512], 0);
    CHECK_EQ(md.data[23 * 512 - 1], 0);
    CHECK_EQ(md.data[23 * 512], 0xff);
    CHECK_EQ(md.discards, 2);
    /* unmap on discard and unknown flags are unsupported */
    segs[0].f = 1;
    CHECK_EQ(submit(VIRTIO_BLK_T_DISCARD, 0, segs, 16, 0, NULL, NULL), VIRTIO_BLK_S_UNSUPP);
    segs[0].f = 4;
    CHECK_EQ(submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, segs, 16, 0, NULL, NULL), VIRTIO_BLK_S_UNSUPP);
    /* out of range, partial segment, too many segments: nothing happens */
    segs[0] = (struct dz){ DISK_SIZE / 512 - 1, 2, 0 };
    memset(md.data, 0xff, DISK_SIZE);
    CHECK_EQ(submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, segs, 16, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(md.data[DISK_SIZE - 1], 0xff);
    CHECK_EQ(submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, segs, 15, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    static struct dz many[BLK_MAX_DZ_SEG + 1];
    CHECK_EQ(submit(VIRTIO_BLK_T_DISCARD, 0, many, sizeof(many), 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    segs[0] = (struct dz){ 0, BLK_MAX_DZ_SECTORS + 1, 0 };
    CHECK_EQ(submit(VIRTIO_BLK_T_DISCARD, 0, segs, 16, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(md.data[0], 0xff);
    virtio_dev_free(dev);
}

TEST(discard_unsupported_without_disk_op)
{
    start(false, false);
    CHECK(!virtio_dev_has_feature(dev, VIRTIO_BLK_F_DISCARD));
    struct dz seg = { 0, 1, 0 };
    CHECK_EQ(submit(VIRTIO_BLK_T_DISCARD, 0, &seg, 16, 0, NULL, NULL), VIRTIO_BLK_S_UNSUPP);
    virtio_dev_free(dev);
}

TEST(disk_error_is_ioerr)
{
    start(false, true);
    md.fail = 1;
    CHECK_EQ(submit(VIRTIO_BLK_T_IN, 0, NULL, 0, 512, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK(!dev->broken);
    virtio_dev_free(dev);
}

TEST(request_without_status_byte_breaks_device)
{
    start(false, true);
    uint64_t a[] = { vqd_alloc(&q, 16) };
    uint32_t l[] = { 16 };
    vqd_add(&q, a, l, 1, 0);
    vqd_kick(dev, 0);
    CHECK(dev->broken);
    CHECK(mmio_r32(dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
    uint32_t id, len;
    CHECK(!vqd_get_used(&q, &id, &len));
    virtio_dev_free(dev);
}

/* ---- over the real disk backends (src/disk) ---- */

#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Writes a pattern through the device at several offsets, reads it back through the
 * device, flushes. */
static void exercise(struct virtio_dev *d)
{
    dev = d;
    memset(ram.ram, 0, VQD_RAM_SIZE); /* a fresh ring */
    vqd_init(&q, &ram, 0, 128);
    struct vqd *qs[] = { &q };
    REQUIRE(vqd_handshake(dev, ~0ull, qs, 1) & VIRTIO_CONFIG_S_DRIVER_OK);
    static uint8_t buf[8192];
    const uint64_t sectors[] = { 0, 127, 2048, 4080 };
    for (size_t i = 0; i < (sizeof(sectors) / sizeof(sectors[0])); i++) {
        for (size_t k = 0; k < sizeof(buf); k++)
            buf[k] = (uint8_t)(k ^ (i * 37));
        CHECK_EQ(submit(VIRTIO_BLK_T_OUT, sectors[i], buf, sizeof(buf), 0, NULL, NULL), VIRTIO_BLK_S_OK);
    }
    CHECK_EQ(submit(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0, NULL, NULL), VIRTIO_BLK_S_OK);
    for (size_t i = 0; i < (sizeof(sectors) / sizeof(sectors[0])); i++) {
        for (size_t k = 0; k < sizeof(buf); k++)
            buf[k] = (uint8_t)(k ^ (i * 37));
        uint64_t in;
        CHECK_EQ(submit(VIRTIO_BLK_T_IN, sectors[i], NULL, 0, sizeof(buf), &in, NULL), VIRTIO_BLK_S_OK);
        CHECK_MEM(vqd_host(&ram, in), buf, sizeof(buf));
    }
    /* past the end of a 2 MiB disk */
    CHECK_EQ(submit(VIRTIO_BLK_T_IN, 4096, NULL, 0, 512, NULL, NULL), VIRTIO_BLK_S_IOERR);
}

TEST(raw_file_through_disk_open)
{
    REQUIRE(vqd_ram_init(&ram) == 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/disk.raw", harness_tmpdir());
    int fd = open(path, O_CREAT | O_RDWR, 0600);
    REQUIRE(fd >= 0 && ftruncate(fd, 2 << 20) == 0);
    struct disk *dk;
    struct bl_error err;
    REQUIRE(disk_open(&dk, path, 0, &err) == 0);
    struct virtio_dev *d;
    REQUIRE(blk_new(&d, &ram.mem, (struct irq_line){ 0 }, dk, "raw", &err) == 0);
    exercise(d);
    uint8_t b[16];
    CHECK_EQ(pread(fd, b, sizeof(b), 127 * 512 + 16), 16);
    for (int k = 0; k < 16; k++)
        CHECK_EQ(b[k], (uint8_t)((16 + k) ^ 37));
    /* the same file read-only: writes refused, reads fine */
    virtio_dev_free(d);
    REQUIRE(disk_open(&dk, path, 1, &err) == 0);
    REQUIRE(blk_new(&d, &ram.mem, (struct irq_line){ 0 }, dk, "raw", &err) == 0);
    dev = d;
    memset(ram.ram, 0, VQD_RAM_SIZE);
    vqd_init(&q, &ram, 0, 128);
    struct vqd *qs[] = { &q };
    REQUIRE(vqd_handshake(dev, ~0ull, qs, 1) & VIRTIO_CONFIG_S_DRIVER_OK);
    CHECK(virtio_dev_has_feature(dev, VIRTIO_BLK_F_RO));
    CHECK_EQ(submit(VIRTIO_BLK_T_OUT, 0, b, 0, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
    CHECK_EQ(submit(VIRTIO_BLK_T_IN, 127, NULL, 0, 512, NULL, NULL), VIRTIO_BLK_S_OK);
    virtio_dev_free(d);
    close(fd);
}

TEST(qcow2_through_disk_open_passes_qemu_img_check)
{
    if (sh("command -v qemu-img >/dev/null") != 0)
        harness_need("qemu-img not installed");
    REQUIRE(vqd_ram_init(&ram) == 0);
    char path[512], cmd[1200];
    snprintf(path, sizeof(path), "%s/disk.qcow2", harness_tmpdir());
    struct bl_error err;
    REQUIRE(qcow2_create(path, 2 << 20, NULL, NULL, &err) == 0);
    struct disk *dk;
    REQUIRE(disk_open(&dk, path, 0, &err) == 0);
    struct virtio_dev *d;
    REQUIRE(blk_new(&d, &ram.mem, (struct irq_line){ 0 }, dk, "qcow2", &err) == 0);
    exercise(d);
    struct dz seg = { 2048, 8, 0 };
    CHECK_EQ(submit(VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, 16, 0, NULL, NULL), VIRTIO_BLK_S_OK);
    virtio_dev_free(d);
    snprintf(cmd, sizeof(cmd), "qemu-img check -q '%s'", path);
    CHECK_EQ(sh(cmd), 0);
    /* what the guest wrote is what qemu-img reads */
    snprintf(cmd, sizeof(cmd),
             "qemu-img convert -O raw '%s' '%s.raw'", path, path);
    REQUIRE(sh(cmd) == 0);
    snprintf(cmd, sizeof(cmd), "%s.raw", path);
    int fd = open(cmd, O_RDONLY);
    uint8_t b[16];
    REQUIRE(fd >= 0);
    CHECK_EQ(pread(fd, b, 16, 127 * 512 + 16), 16);
    for (int k = 0; k < 16; k++)
        CHECK_EQ(b[k], (uint8_t)((16 + k) ^ 37));
    close(fd);
}
