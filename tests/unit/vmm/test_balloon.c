// SPDX-License-Identifier: Apache-2.0
/* virtio-balloon through the MMIO transport, driven as Linux's virtio_balloon driver does
 * and as a hostile guest would: guest RAM is real private anonymous memory (as the KVM
 * engine maps it), so a discard is seen with mincore() and by reading zeros back; every
 * range the device discards is also checked to lie inside one RAM region. Its state goes
 * through a snapshot (save, restore into a new device, resume) and hostile saved states
 * are refused. */
#include "harness/harness.h"
#include "pagemap.h"
#include "vmm/core/load.h"
#include "vmm/snapshot.h"
#include "vmm/virtio/balloon.h"
#include "vq_driver.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* RAM: the vq_driver region [1 MiB, 5 MiB) plus a second one at [16 MiB, 17 MiB); the gap
 * and everything below 1 MiB are holes. Rings and buffers live below 0x380000 (slots 0-3);
 * [0x380000, 0x500000) holds the "guest pages" the tests give away. */
#define HI_GPA 0x1000000ull
#define HI_SIZE (1u << 20)
#define PAGES_GPA 0x380000ull
#define PFN(gpa) ((uint32_t)((gpa) / BALLOON_PAGE_SIZE))

struct world {
    struct vqd_ram ram;
    uint8_t *hi;
    struct virtio_dev *dev;
    struct irq_count irqs;
    struct vqd q[4];
    /* what the device discarded */
    unsigned ndiscards;
    uint64_t discarded;
    bool outside; /* a discard outside RAM or unaligned: must never happen */
};

static int check_discard(void *opaque, void *host, size_t len)
{
    struct world *w = opaque;
    uint8_t *p = host;
    bool in_lo = p >= w->ram.ram && len <= VQD_RAM_SIZE &&
                 (size_t)(p - w->ram.ram) <= VQD_RAM_SIZE - len;
    bool in_hi = p >= w->hi && len <= HI_SIZE && (size_t)(p - w->hi) <= HI_SIZE - len;
    if ((!in_lo && !in_hi) || ((uintptr_t)p | len) % BALLOON_PAGE_SIZE) {
        w->outside = true;
        return -EINVAL;
    }
    w->ndiscards++;
    w->discarded += len;
    return madvise(host, len, MADV_DONTNEED) == 0 ? 0 : -errno;
}

static void *map_ram(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* A device with the given features accepted; queues 0..nq-1 set up. */
static void world_init(struct world *w, bool reporting, uint64_t want, unsigned nq)
{
    memset(w, 0, sizeof *w);
    w->ram.ram = map_ram(VQD_RAM_SIZE);
    w->hi = map_ram(HI_SIZE);
    REQUIRE(w->ram.ram && w->hi);
    REQUIRE(gm_add_region(&w->ram.mem, VQD_RAM_GPA, VQD_RAM_SIZE, w->ram.ram) == 0);
    REQUIRE(gm_add_region(&w->ram.mem, HI_GPA, HI_SIZE, w->hi) == 0);
    struct balloon_cfg cfg = { .ram_bytes = 512ull << 20, .target_mib = 0,
                               .free_page_reporting = reporting };
    struct bl_error err;
    REQUIRE(balloon_new(&w->dev, &w->ram.mem, irq_count_line(&w->irqs), &cfg, &err) == 0);
    balloon_set_discard(w->dev, check_discard, w);
    struct vqd *qs[4];
    for (unsigned i = 0; i < nq; i++) {
        vqd_init(&w->q[i], &w->ram, i, 64);
        qs[i] = &w->q[i];
    }
    REQUIRE(vqd_handshake(w->dev, want, qs, nq) & VIRTIO_CONFIG_S_DRIVER_OK);
}

static void world_free(struct world *w)
{
    CHECK(!w->outside);
    virtio_dev_free(w->dev);
    munmap(w->ram.ram, VQD_RAM_SIZE);
    munmap(w->hi, HI_SIZE);
}

static uint8_t *host_of(struct world *w, uint64_t gpa)
{
    return gpa >= HI_GPA ? w->hi + (gpa - HI_GPA) : vqd_host(&w->ram, gpa);
}

static void touch(struct world *w, uint64_t gpa, size_t len)
{
    memset(host_of(w, gpa), 0xa5, len);
}

/* Pages of [gpa, gpa+len) resident in this process. */
static unsigned resident(struct world *w, uint64_t gpa, size_t len)
{
    unsigned char vec[512];
    size_t n = len / BALLOON_PAGE_SIZE;
    if (n > sizeof vec || mincore(host_of(w, gpa), len, vec) != 0)
        return ~0u;
    unsigned r = 0;
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    return r;
}

/* Sends one buffer of frame numbers on queue qi and kicks. */
static void send_pfns(struct world *w, unsigned qi, const uint32_t *pfns, unsigned n)
{
    struct vqd *q = &w->q[qi];
    uint64_t a = vqd_alloc(q, n * 4);
    memcpy(vqd_host(&w->ram, a), pfns, n * 4);
    uint32_t l = n * 4;
    vqd_add(q, &a, &l, 1, 0);
    vqd_kick(w->dev, qi);
}

/* One free page report of n ranges (device-writable, as Linux adds them) on queue qi. */
static void send_report(struct world *w, unsigned qi, const uint64_t *gpa, const uint32_t *len,
                        unsigned n)
{
    vqd_add(&w->q[qi], gpa, len, 0, n);
    vqd_kick(w->dev, qi);
}

static uint64_t features(struct virtio_dev *dev)
{
    uint64_t f = 0;
    for (uint32_t sel = 0; sel < 2; sel++) {
        mmio_w32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
        f |= (uint64_t)mmio_r32(dev, VIRTIO_MMIO_DEVICE_FEATURES) << (32 * sel);
    }
    return f;
}

#define F(bit) (1ull << (bit))
#define ALL (F(VIRTIO_BALLOON_F_STATS_VQ) | F(VIRTIO_BALLOON_F_PAGE_REPORTING))

TEST(balloon_identity_and_features)
{
    struct world w;
    world_init(&w, true, ALL, 4);
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_DEVICE_ID), 5);
    uint64_t f = features(w.dev);
    CHECK(f & F(VIRTIO_BALLOON_F_STATS_VQ));
    CHECK(f & F(VIRTIO_BALLOON_F_PAGE_REPORTING));
    /* not offered: the target must hold under guest memory pressure */
    CHECK(!(f & F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)));
    CHECK(!(f & F(VIRTIO_BALLOON_F_MUST_TELL_HOST)));
    world_free(&w);

    world_init(&w, false, ALL, 3);
    CHECK(!(features(w.dev) & F(VIRTIO_BALLOON_F_PAGE_REPORTING)));
    world_free(&w);
}

TEST(balloon_config_target_and_actual)
{
    struct world w;
    world_init(&w, true, ALL, 4);
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 0), 0); /* no target: an empty balloon */
    int irqs = w.irqs.n;
    uint32_t gen = mmio_r32(w.dev, VIRTIO_MMIO_CONFIG_GENERATION);
    balloon_set_target(w.dev, 384); /* keep 384 of 512 MiB: 128 MiB in the balloon */
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 0), 128u * 256);
    CHECK(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG_GENERATION) != gen);
    CHECK_EQ(w.irqs.n, irqs + 1);
    CHECK(mmio_r32(w.dev, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
    /* byte-wise reads see the same little-endian value */
    uint8_t b[2];
    virtio_mmio_bus_ops.read(w.dev, VIRTIO_MMIO_CONFIG + 1, b, 2);
    CHECK_EQ(b[0] | b[1] << 8, (128u * 256) >> 8);
    /* the driver cannot move the target; it writes actual */
    mmio_w32(w.dev, VIRTIO_MMIO_CONFIG + 0, 7);
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 0), 128u * 256);
    mmio_w32(w.dev, VIRTIO_MMIO_CONFIG + 4, 1000);
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 4), 1000);
    uint8_t one = 3;
    virtio_mmio_bus_ops.write(w.dev, VIRTIO_MMIO_CONFIG + 5, &one, 1);
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 4), 1000 % 256 + 3 * 256);
    /* past the four fields: zeros, writes ignored */
    mmio_w32(w.dev, VIRTIO_MMIO_CONFIG + 0x40, 0xffffffff);
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 0x40), 0);
    struct balloon_stats s;
    balloon_get_stats(w.dev, &s);
    CHECK_EQ(s.num_pages, 128u * 256);
    CHECK_EQ(s.actual_pages, 1000 % 256 + 3 * 256);
    /* a target at or above the RAM size, or 0, empties the balloon */
    balloon_set_target(w.dev, 512);
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 0), 0);
    balloon_set_target(w.dev, 1);
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 0), 511u * 256);
    balloon_set_target(w.dev, 0);
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 0), 0);
    world_free(&w);
}

TEST(balloon_inflate_discards_and_deflate_counts)
{
    struct world w;
    world_init(&w, true, ALL, 4);
    touch(&w, PAGES_GPA, 32 * BALLOON_PAGE_SIZE);
    touch(&w, HI_GPA, 4 * BALLOON_PAGE_SIZE);
    CHECK_EQ(resident(&w, PAGES_GPA, 32 * BALLOON_PAGE_SIZE), 32);
    uint32_t pfns[20];
    for (unsigned i = 0; i < 16; i++)
        pfns[i] = PFN(PAGES_GPA) + i; /* one contiguous run */
    pfns[16] = PFN(PAGES_GPA) + 20;   /* a lone page */
    for (unsigned i = 0; i < 3; i++)
        pfns[17 + i] = PFN(HI_GPA) + i; /* the other region */
    send_pfns(&w, 0, pfns, 20);
    uint32_t id, len;
    REQUIRE(vqd_get_used(&w.q[0], &id, &len));
    CHECK_EQ(len, 0);
    CHECK(!w.dev->broken);
    CHECK_EQ(w.ndiscards, 3); /* runs coalesced into one madvise each */
    CHECK_EQ(w.discarded, 20ull * BALLOON_PAGE_SIZE);
    CHECK_EQ(resident(&w, PAGES_GPA, 32 * BALLOON_PAGE_SIZE), 32 - 17);
    CHECK_EQ(resident(&w, HI_GPA, 4 * BALLOON_PAGE_SIZE), 1);
    CHECK_EQ(host_of(&w, PAGES_GPA)[100], 0);                              /* zeroed */
    CHECK_EQ(host_of(&w, PAGES_GPA + 16 * BALLOON_PAGE_SIZE)[0], 0xa5); /* kept */
    struct balloon_stats s;
    balloon_get_stats(w.dev, &s);
    CHECK_EQ(s.inflated_pages, 20);
    CHECK_EQ(s.returned_bytes, 20ull * BALLOON_PAGE_SIZE);
    CHECK_EQ(s.refused, 0);

    /* inflating a page twice is ignored (and not counted twice) */
    send_pfns(&w, 0, pfns, 1);
    REQUIRE(vqd_get_used(&w.q[0], &id, &len));
    balloon_get_stats(w.dev, &s);
    CHECK_EQ(s.inflated_pages, 20);
    CHECK_EQ(s.refused, 1);
    CHECK_EQ(w.ndiscards, 3);

    /* deflate: ten back, one never inflated ignored */
    uint32_t back[11];
    for (unsigned i = 0; i < 10; i++)
        back[i] = pfns[i];
    back[10] = PFN(PAGES_GPA) + 30;
    send_pfns(&w, 1, back, 11);
    REQUIRE(vqd_get_used(&w.q[1], &id, &len));
    CHECK(!w.dev->broken);
    balloon_get_stats(w.dev, &s);
    CHECK_EQ(s.inflated_pages, 10);
    CHECK_EQ(s.refused, 2);
    /* the guest can use a deflated page again */
    touch(&w, PAGES_GPA, BALLOON_PAGE_SIZE);
    CHECK_EQ(host_of(&w, PAGES_GPA)[0], 0xa5);

    /* a reset gives the guest all its memory back */
    mmio_w32(w.dev, VIRTIO_MMIO_STATUS, 0);
    balloon_get_stats(w.dev, &s);
    CHECK_EQ(s.inflated_pages, 0);
    CHECK_EQ(s.actual_pages, 0);
    world_free(&w);
}

/* Each of these frame numbers is refused: the device is failed, nothing outside RAM is
 * discarded, and the pages before it in the same buffer were inside RAM. */
TEST(balloon_hostile_frame_numbers)
{
    const uint32_t bad[] = {
        0,                                       /* below RAM (a hole) */
        PFN(VQD_RAM_GPA) - 1,                    /* the page before RAM */
        PFN(VQD_RAM_GPA + VQD_RAM_SIZE),         /* the page after the first region */
        PFN(0x800000),                           /* the gap between the regions */
        PFN(HI_GPA + HI_SIZE),                   /* after the last region */
        PFN(0xd0000000),                         /* where the MMIO windows are */
        0xffffffffu,                             /* the largest frame number */
        0x80000000u,                             /* gpa 8 TiB */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct world w;
        world_init(&w, true, ALL, 4);
        uint32_t pfns[] = { PFN(PAGES_GPA), bad[i], PFN(PAGES_GPA) + 1 };
        touch(&w, PAGES_GPA, 2 * BALLOON_PAGE_SIZE);
        send_pfns(&w, 0, pfns, 3);
        CHECK(w.dev->broken);
        CHECK(mmio_r32(w.dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
        CHECK(strstr(w.dev->fail_reason, "not guest RAM") != NULL);
        CHECK_EQ(w.discarded, BALLOON_PAGE_SIZE); /* only the page before it */
        CHECK_EQ(host_of(&w, PAGES_GPA + BALLOON_PAGE_SIZE)[0], 0xa5);
        /* a broken device ignores kicks until reset */
        send_pfns(&w, 0, pfns + 2, 1);
        CHECK_EQ(w.discarded, BALLOON_PAGE_SIZE);
        /* the same for a deflate */
        world_free(&w);
        world_init(&w, true, ALL, 4);
        send_pfns(&w, 1, &bad[i], 1);
        CHECK(w.dev->broken);
        CHECK_EQ(w.discarded, 0);
        world_free(&w);
    }
}

TEST(balloon_hostile_buffers)
{
    struct world w;
    uint32_t id, len;
    /* an inflate buffer the device would write */
    world_init(&w, true, ALL, 4);
    uint64_t a[2] = { vqd_alloc(&w.q[0], 8), vqd_alloc(&w.q[0], 8) };
    uint32_t l[2] = { 8, 8 };
    uint32_t *p = (uint32_t *)vqd_host(&w.ram, a[0]);
    p[0] = p[1] = PFN(PAGES_GPA);
    vqd_add(&w.q[0], a, l, 1, 1);
    vqd_kick(w.dev, 0);
    CHECK(w.dev->broken);
    CHECK(strstr(w.dev->fail_reason, "device-writable") != NULL);
    CHECK_EQ(w.discarded, 0);
    world_free(&w);

    /* a ragged length: 6 bytes is not whole frame numbers */
    world_init(&w, true, ALL, 4);
    a[0] = vqd_alloc(&w.q[0], 8);
    l[0] = 6;
    vqd_add(&w.q[0], a, l, 1, 0);
    vqd_kick(w.dev, 0);
    CHECK(w.dev->broken);
    CHECK_EQ(w.discarded, 0);
    world_free(&w);

    /* an oversized buffer: 64 KiB + 4 of valid frame numbers (Linux sends 1 KiB at most),
     * over two descriptors, refused whole; 64 KiB exactly is taken */
    world_init(&w, true, ALL, 4);
    uint32_t nbig = (64u << 10) / 4 + 1;
    a[0] = vqd_alloc(&w.q[0], 32u << 10);
    a[1] = vqd_alloc(&w.q[0], (32u << 10) + 4);
    l[0] = 32u << 10;
    l[1] = (32u << 10) + 4;
    for (uint32_t i = 0; i < nbig; i++) {
        uint32_t pfn = PFN(PAGES_GPA) + i % 256;
        memcpy(i < l[0] / 4 ? (uint8_t *)vqd_host(&w.ram, a[0]) + 4 * i
                            : (uint8_t *)vqd_host(&w.ram, a[1]) + 4 * (i - l[0] / 4), &pfn, 4);
    }
    vqd_add(&w.q[0], a, l, 2, 0);
    vqd_kick(w.dev, 0);
    CHECK(w.dev->broken);
    CHECK(strstr(w.dev->fail_reason, "over 65536") != NULL);
    CHECK_EQ(w.discarded, 0);
    world_free(&w);
    world_init(&w, true, ALL, 4);
    a[0] = vqd_alloc(&w.q[0], 64u << 10);
    l[0] = 64u << 10;
    for (uint32_t i = 0; i < l[0] / 4; i++) {
        uint32_t pfn = PFN(PAGES_GPA) + i % 256;
        memcpy((uint8_t *)vqd_host(&w.ram, a[0]) + 4 * i, &pfn, 4);
    }
    vqd_add(&w.q[0], a, l, 1, 0);
    vqd_kick(w.dev, 0);
    CHECK(!w.dev->broken);
    CHECK_EQ(w.discarded, 256ull * BALLOON_PAGE_SIZE); /* each page once, the rest repeats */
    world_free(&w);

    /* a descriptor loop: the chain points at itself */
    world_init(&w, true, ALL, 4);
    a[0] = vqd_alloc(&w.q[0], 4);
    vqd_set_desc(&w.q[0], w.q[0].desc, 0, a[0], 4, VIRTQ_DESC_F_NEXT, 0);
    vqd_publish(&w.q[0], 0);
    vqd_kick(w.dev, 0);
    CHECK(w.dev->broken);
    CHECK_EQ(w.discarded, 0);
    world_free(&w);

    /* a buffer of frame numbers that is itself outside RAM */
    world_init(&w, true, ALL, 4);
    a[0] = 0x800000;
    l[0] = 4;
    vqd_add(&w.q[0], a, l, 1, 0);
    vqd_kick(w.dev, 0);
    CHECK(w.dev->broken);
    CHECK_EQ(w.discarded, 0);
    CHECK(!vqd_get_used(&w.q[0], &id, &len));
    world_free(&w);

    /* an available index far ahead of the ring, and a head out of range */
    world_init(&w, true, ALL, 4);
    uint16_t *ring = vqd_host(&w.ram, w.q[0].avail + 4);
    ring[0] = 999;
    __atomic_store_n((uint16_t *)vqd_host(&w.ram, w.q[0].avail + 2), 1, __ATOMIC_RELEASE);
    vqd_kick(w.dev, 0);
    CHECK(w.dev->broken);
    /* after a reset and a fresh handshake the device works again */
    struct vqd *qs[4] = { &w.q[0], &w.q[1], &w.q[2], &w.q[3] };
    for (unsigned i = 0; i < 4; i++)
        vqd_init(&w.q[i], &w.ram, i, 64);
    memset(vqd_host(&w.ram, VQD_RAM_GPA), 0, 0x40000);
    REQUIRE(vqd_handshake(w.dev, ALL, qs, 4) & VIRTIO_CONFIG_S_DRIVER_OK);
    CHECK(!w.dev->broken);
    uint32_t ok = PFN(PAGES_GPA);
    send_pfns(&w, 0, &ok, 1);
    REQUIRE(vqd_get_used(&w.q[0], &id, &len));
    CHECK_EQ(w.discarded, BALLOON_PAGE_SIZE);
    world_free(&w);
}

TEST(balloon_free_page_reporting)
{
    struct world w;
    uint32_t id, len;
    /* with the stats queue the reporting queue is 3 (Linux numbers present queues only) */
    world_init(&w, true, ALL, 4);
    touch(&w, PAGES_GPA, 0x100000);
    touch(&w, HI_GPA, 0x10000);
    uint64_t g[2] = { PAGES_GPA, HI_GPA };
    uint32_t l[2] = { 0x80000, 0x10000 };
    send_report(&w, 3, g, l, 2);
    REQUIRE(vqd_get_used(&w.q[3], &id, &len));
    CHECK_EQ(len, 0);
    CHECK(!w.dev->broken);
    CHECK_EQ(w.discarded, 0x90000);
    CHECK_EQ(resident(&w, PAGES_GPA, 0x100000), 128);
    CHECK_EQ(resident(&w, HI_GPA, 0x10000), 0);
    struct balloon_stats s;
    balloon_get_stats(w.dev, &s);
    CHECK_EQ(s.reported_bytes, 0x90000);
    CHECK_EQ(s.returned_bytes, 0x90000);
    CHECK_EQ(s.reports, 1);
    CHECK_EQ(s.inflated_pages, 0);

    /* a report that straddles the end of a region is refused by the ring walk */
    uint64_t g2[1] = { HI_GPA + HI_SIZE - 0x1000 };
    uint32_t l2[1] = { 0x2000 };
    send_report(&w, 3, g2, l2, 1);
    CHECK(w.dev->broken);
    CHECK_EQ(w.discarded, 0x90000);
    world_free(&w);

    /* one misaligned range spoils the whole report: nothing of it is discarded */
    world_init(&w, true, ALL, 4);
    touch(&w, PAGES_GPA, 0x100000);
    uint64_t g3[2] = { PAGES_GPA, PAGES_GPA + 0x40100 };
    uint32_t l3[2] = { 0x40000, 0x1000 };
    send_report(&w, 3, g3, l3, 2);
    CHECK(w.dev->broken);
    CHECK(strstr(w.dev->fail_reason, "not page-aligned") != NULL);
    CHECK_EQ(w.discarded, 0);
    CHECK_EQ(resident(&w, PAGES_GPA, 0x100000), 256);
    world_free(&w);

    /* a report the device would only read is not what the spec's driver sends */
    world_init(&w, true, ALL, 4);
    uint64_t g4[1] = { PAGES_GPA };
    uint32_t l4[1] = { 0x1000 };
    vqd_add(&w.q[3], g4, l4, 1, 0);
    vqd_kick(w.dev, 3);
    CHECK(w.dev->broken);
    CHECK_EQ(w.discarded, 0);
    world_free(&w);

    /* a report into a hole */
    world_init(&w, true, ALL, 4);
    uint64_t g5[1] = { 0x800000 };
    send_report(&w, 3, g5, l4, 1);
    CHECK(w.dev->broken);
    CHECK_EQ(w.discarded, 0);
    world_free(&w);
}

/* The KVM engine maps the kernel file over guest RAM (MAP_PRIVATE, gm_place_file), and the
 * guest frees parts of that range (its init sections, the gap after its text) and reports
 * them. The engine's own discard (madvise MADV_DONTNEED, no test hook) must take such a
 * report whole, across the anonymous and file-mapped pages: the box's copies go, the file's
 * shared page-cache pages come back in their place, and the file itself is left as it was
 * (not punched). A refused discard (MADV_FREE and MADV_REMOVE are both refused on a private
 * file mapping) would leave each box its own copy of those pages. */
TEST(balloon_report_over_the_mapped_kernel)
{
    enum { KPAGES = 8 };
    const uint64_t kgpa = HI_GPA + 0x10000, lo = HI_GPA + 0x8000;
    const uint32_t span = 0x8000 + KPAGES * 4096 + 0x8000; /* anonymous, file, anonymous */
    char path[] = "/tmp/test_balloon_kernel.XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    uint8_t page[4096];
    for (unsigned i = 0; i < KPAGES; i++) {
        memset(page, 0x40 + i, sizeof page);
        REQUIRE(pwrite(fd, page, sizeof page, (off_t)i * 4096) == (ssize_t)sizeof page);
    }
    struct world w;
    uint32_t id, len;
    world_init(&w, true, ALL, 4);
    balloon_set_discard(w.dev, NULL, NULL); /* the engine's discard */
    struct bl_error err;
    REQUIRE(gm_place_file(&w.ram.mem, fd, 0, KPAGES * 4096, kgpa, "kernel", &err) == 0);
    CHECK_EQ(page_from_file(host_of(&w, kgpa)), 1);
    touch(&w, lo, span); /* the guest writes all of it: the kernel pages become copies */
    for (unsigned i = 0; i < KPAGES; i++)
        CHECK_EQ(page_from_file(host_of(&w, kgpa + i * 4096)), 0);

    uint64_t g[1] = { lo };
    uint32_t l[1] = { span };
    send_report(&w, 3, g, l, 1);
    REQUIRE(vqd_get_used(&w.q[3], &id, &len));
    CHECK(!w.dev->broken);
    struct balloon_stats st;
    balloon_get_stats(w.dev, &st);
    CHECK_EQ(st.reported_bytes, span);
    CHECK_EQ(st.returned_bytes, span);
    /* the anonymous pages are gone (zero on the next touch) */
    CHECK_EQ(resident(&w, lo, 0x8000), 0);
    CHECK_EQ(resident(&w, kgpa + KPAGES * 4096, 0x8000), 0);
    CHECK_EQ(host_of(&w, lo)[0], 0);
    /* the kernel pages are the file's shared pages again, with the file's bytes */
    for (unsigned i = 0; i < KPAGES; i++) {
        const uint8_t *h = host_of(&w, kgpa + i * 4096);
        CHECK_EQ(page_from_file(h), 1);
        CHECK_EQ(h[0], 0x40 + i);
        CHECK_EQ(h[4095], 0x40 + i);
    }
    /* the file is untouched: nothing written back, no hole punched */
    struct stat sb;
    REQUIRE(fstat(fd, &sb) == 0);
    CHECK_EQ(sb.st_size, KPAGES * 4096);
    for (unsigned i = 0; i < KPAGES; i++) {
        REQUIRE(pread(fd, page, sizeof page, (off_t)i * 4096) == (ssize_t)sizeof page);
        CHECK_EQ(page[0], 0x40 + i);
        CHECK_EQ(page[4095], 0x40 + i);
    }
    close(fd);
    world_free(&w);
}

TEST(balloon_queue_numbering_follows_features)
{
    struct world w;
    uint32_t id, len;
    /* without the stats queue, reporting is queue 2, and queue 3 is nothing */
    world_init(&w, true, F(VIRTIO_BALLOON_F_PAGE_REPORTING), 4);
    touch(&w, PAGES_GPA, 0x10000);
    uint64_t g[1] = { PAGES_GPA };
    uint32_t l[1] = { 0x10000 };
    send_report(&w, 2, g, l, 1);
    REQUIRE(vqd_get_used(&w.q[2], &id, &len));
    CHECK_EQ(w.discarded, 0x10000);
    CHECK(!w.dev->broken);
    send_report(&w, 3, g, l, 1);
    CHECK(w.dev->broken);
    CHECK(strstr(w.dev->fail_reason, "queue 3") != NULL);
    world_free(&w);

    /* reporting not negotiated: a report on "its" queue is refused, nothing discarded */
    world_init(&w, true, F(VIRTIO_BALLOON_F_STATS_VQ), 4);
    send_report(&w, 3, g, l, 1);
    CHECK(w.dev->broken);
    CHECK_EQ(w.discarded, 0);
    world_free(&w);

    /* reporting not offered at all: the driver cannot negotiate it */
    world_init(&w, false, ALL, 3);
    CHECK(!virtio_dev_has_feature(w.dev, VIRTIO_BALLOON_F_PAGE_REPORTING));
    world_free(&w);
}

static uint32_t put_stat(uint8_t *p, uint16_t tag, uint64_t v)
{
    p[0] = (uint8_t)tag;
    p[1] = (uint8_t)(tag >> 8);
    memcpy(p + 2, &v, 8);
    return 10;
}

TEST(balloon_stats_queue)
{
    struct world w;
    uint32_t id, len;
    world_init(&w, true, ALL, 4);
    uint64_t a = vqd_alloc(&w.q[2], 64);
    uint8_t *p = vqd_host(&w.ram, a);
    uint32_t n = 0;
    n += put_stat(p + n, VIRTIO_BALLOON_S_MEMFREE, 300ull << 20);
    n += put_stat(p + n, VIRTIO_BALLOON_S_MEMTOT, 490ull << 20);
    n += put_stat(p + n, 77, 1); /* unknown tags are skipped */
    vqd_add(&w.q[2], &a, &n, 1, 0);
    vqd_kick(w.dev, 2);
    CHECK(!w.dev->broken);
    CHECK(!vqd_get_used(&w.q[2], &id, &len)); /* held until we ask */
    struct balloon_stats s;
    balloon_get_stats(w.dev, &s);
    CHECK_EQ(s.guest[VIRTIO_BALLOON_S_MEMFREE], 300ull << 20);
    CHECK_EQ(s.guest[VIRTIO_BALLOON_S_MEMTOT], 490ull << 20);
    CHECK_EQ(s.guest_valid, (1u << VIRTIO_BALLOON_S_MEMFREE) | (1u << VIRTIO_BALLOON_S_MEMTOT));
    int irqs = w.irqs.n;
    balloon_request_stats(w.dev);
    REQUIRE(vqd_get_used(&w.q[2], &id, &len));
    CHECK_EQ(len, 0);
    CHECK_EQ(w.irqs.n, irqs + 1);
    balloon_request_stats(w.dev); /* nothing held: nothing returned */
    CHECK(!vqd_get_used(&w.q[2], &id, &len));

    /* a second buffer while one is held: the older comes back */
    vqd_add(&w.q[2], &a, &n, 1, 0);
    vqd_add(&w.q[2], &a, &n, 1, 0);
    vqd_kick(w.dev, 2);
    REQUIRE(vqd_get_used(&w.q[2], &id, &len));
    CHECK(!vqd_get_used(&w.q[2], &id, &len));

    /* an oversized buffer is read up to 64 entries, not beyond */
    uint64_t big = vqd_alloc(&w.q[2], 0x10000);
    uint32_t bl = 0x10000;
    memset(vqd_host(&w.ram, big), 0xff, bl);
    vqd_add(&w.q[2], &big, &bl, 1, 0);
    vqd_kick(w.dev, 2);
    CHECK(!w.dev->broken);
    world_free(&w);

    /* a statistics buffer the device would write */
    world_init(&w, true, ALL, 4);
    a = vqd_alloc(&w.q[2], 16);
    n = 10;
    vqd_add(&w.q[2], &a, &n, 0, 1);
    vqd_kick(w.dev, 2);
    CHECK(w.dev->broken);
    world_free(&w);
}

TEST(balloon_refuses_unaligned_ram)
{
    struct guest_mem gm = { 0 };
    uint8_t *ram = map_ram(2 * BALLOON_PAGE_SIZE);
    REQUIRE(ram);
    REQUIRE(gm_add_region(&gm, 0x100800, BALLOON_PAGE_SIZE, ram) == 0);
    struct balloon_cfg cfg = { .ram_bytes = 1 << 20 };
    struct virtio_dev *dev = NULL;
    struct bl_error err;
    CHECK(balloon_new(&dev, &gm, (struct irq_line){ 0 }, &cfg, &err) < 0);
    CHECK(strstr(err.msg, "page-aligned") != NULL);
    munmap(ram, 2 * BALLOON_PAGE_SIZE);
}

/* The device of a resumed box: a new balloon on the same RAM, given the saved state
 * (virtio_dev_restore) and resumed; the driver's rings are where they were. */
static void world_resume(struct world *w, const struct vmsnap_buf *p)
{
    struct balloon_cfg cfg = { .ram_bytes = 512ull << 20, .target_mib = 0, /* vmm.json's */
                               .free_page_reporting = true };
    struct virtio_dev *dev;
    struct bl_error err = { 0 };
    REQUIRE(balloon_new(&dev, &w->ram.mem, irq_count_line(&w->irqs), &cfg, &err) == 0);
    balloon_set_discard(dev, check_discard, w);
    if (virtio_dev_restore(dev, p->p, p->len, &err) < 0)
        harness_fail(__FILE__, __LINE__, "restore: %s", err.msg);
    virtio_dev_resume(dev);
    virtio_dev_free(w->dev);
    w->dev = dev;
}

TEST(balloon_state_survives_a_snapshot)
{
    struct world w;
    uint32_t id, len;
    world_init(&w, true, ALL, 4);
    balloon_set_target(w.dev, 384); /* BALLOON moved it from vmm.json's 0 */
    touch(&w, PAGES_GPA, 16 * BALLOON_PAGE_SIZE);
    uint32_t pfns[8];
    for (unsigned i = 0; i < 8; i++)
        pfns[i] = PFN(PAGES_GPA) + i;
    send_pfns(&w, 0, pfns, 8);
    REQUIRE(vqd_get_used(&w.q[0], &id, &len));
    mmio_w32(w.dev, VIRTIO_MMIO_CONFIG + 4, 8); /* the driver's count */
    uint64_t a = vqd_alloc(&w.q[2], 16);
    uint32_t n = put_stat(vqd_host(&w.ram, a), VIRTIO_BALLOON_S_MEMFREE, 200ull << 20);
    vqd_add(&w.q[2], &a, &n, 1, 0);
    vqd_kick(w.dev, 2); /* held by the device */
    struct balloon_stats before, after;
    balloon_get_stats(w.dev, &before);

    struct vmsnap_buf p = { 0 };
    virtio_dev_save(w.dev, &p);
    REQUIRE(!p.failed);
    world_resume(&w, &p);
    balloon_get_stats(w.dev, &after);
    CHECK_EQ(after.target_mib, 384);
    CHECK_EQ(after.num_pages, before.num_pages);
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 0), 128u * 256); /* the target holds */
    CHECK_EQ(mmio_r32(w.dev, VIRTIO_MMIO_CONFIG + 4), 8);
    CHECK_EQ(after.inflated_pages, 8);
    CHECK_EQ(after.returned_bytes, before.returned_bytes);
    CHECK_EQ(after.guest[VIRTIO_BALLOON_S_MEMFREE], 200ull << 20);
    CHECK_EQ(after.guest_valid, before.guest_valid);
    CHECK(!w.dev->broken);

    /* the statistics buffer is the resumed device's to give back */
    balloon_request_stats(w.dev);
    REQUIRE(vqd_get_used(&w.q[2], &id, &len));
    /* a deflate names pages the resumed device knows are in the balloon: none refused */
    send_pfns(&w, 1, pfns, 4);
    REQUIRE(vqd_get_used(&w.q[1], &id, &len));
    balloon_get_stats(w.dev, &after);
    CHECK_EQ(after.inflated_pages, 4);
    CHECK_EQ(after.refused, 0);
    /* and free page reporting still gives memory back */
    uint64_t d = w.discarded;
    touch(&w, PAGES_GPA + 0x40000, 0x10000);
    uint64_t g[1] = { PAGES_GPA + 0x40000 };
    uint32_t l[1] = { 0x10000 };
    send_report(&w, 3, g, l, 1);
    REQUIRE(vqd_get_used(&w.q[3], &id, &len));
    CHECK_EQ(w.discarded, d + 0x10000);
    CHECK_EQ(resident(&w, PAGES_GPA + 0x40000, 0x10000), 0);
    CHECK(!w.dev->broken);
    vmsnap_buf_free(&p);
    world_free(&w);
}

/* The model's records inside a saved device (mmio.c's S_MODEL = 3; balloon.c's tags). */
static uint8_t *model_rec(struct vmsnap_buf *p, uint32_t tag, size_t *n)
{
    size_t mlen = 0;
    const uint8_t *m = vmsnap_rec_get(p->p, p->len, 3, &mlen);
    return m ? (uint8_t *)vmsnap_rec_get(m, mlen, tag, n) : NULL;
}

/* A saved balloon from an untrusted file: a page map of the wrong size, a bit on a hole
 * or past the RAM, a count that disagrees with the map, a target that is not this RAM's
 * pages; each refused with a reason, the device left reset. */
TEST(balloon_hostile_saved_state)
{
    struct world w;
    uint32_t id, len;
    world_init(&w, true, ALL, 4);
    balloon_set_target(w.dev, 256);
    uint32_t pfns[2] = { PFN(PAGES_GPA), PFN(HI_GPA) };
    send_pfns(&w, 0, pfns, 2);
    REQUIRE(vqd_get_used(&w.q[0], &id, &len));
    struct vmsnap_buf good = { 0 };
    virtio_dev_save(w.dev, &good);
    REQUIRE(!good.failed);
    enum { T_TARGET = 1, T_COUNTS, T_GUEST, T_MAP };
    struct {
        const char *what;
        uint32_t tag;
        size_t off;   /* byte in the record to change */
        uint8_t xor;
        const char *says;
    } bad[] = {
        { "a bit on the hole below 1 MiB", T_MAP, 0, 0x01, "not guest RAM" },
        { "a bit on the hole at 8 MiB", T_MAP, 0x800000 / BALLOON_PAGE_SIZE / 8, 0x01,
          "not guest RAM" },
        { "one page more in the count", T_COUNTS, 0, 0x04, "the count says" },
        { "a page less in the map", T_MAP, PFN(HI_GPA) / 8, 0x01, "the count says" },
        { "a target not this RAM's", T_TARGET, 0, 0x01, "is not" },
        { "reported more than returned", T_COUNTS, 17, 0xff, "do not add up" },
        { "a statistic tag past the spec's", T_GUEST, 8 * BALLOON_NR_STATS + 1, 0x80,
          "do not add up" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct vmsnap_buf p = { 0 };
        virtio_dev_save(w.dev, &p);
        size_t n = 0;
        uint8_t *r = model_rec(&p, bad[i].tag, &n);
        REQUIRE(r && bad[i].off < n);
        r[bad[i].off] ^= bad[i].xor;
        struct virtio_dev *dev;
        struct balloon_cfg cfg = { .ram_bytes = 512ull << 20, .free_page_reporting = true };
        struct bl_error err = { 0 };
        REQUIRE(balloon_new(&dev, &w.ram.mem, (struct irq_line){ 0 }, &cfg, &err) == 0);
        int rc = virtio_dev_restore(dev, p.p, p.len, &err);
        if (rc == 0 || !strstr(err.msg, bad[i].says))
            harness_fail(__FILE__, __LINE__, "%s: rc %d, %s", bad[i].what, rc, err.msg);
        CHECK_EQ(dev->status, 0);
        virtio_dev_free(dev);
        vmsnap_buf_free(&p);
    }
    /* a map cut short: the record's length no longer matches this RAM */
    struct vmsnap_buf p = { 0 };
    virtio_dev_save(w.dev, &p);
    size_t n = 0;
    REQUIRE(model_rec(&p, T_MAP, &n));
    struct vmsnap_buf model = { 0 };
    size_t mlen = 0;
    const uint8_t *m = vmsnap_rec_get(p.p, p.len, 3, &mlen);
    for (uint32_t t = T_TARGET; t <= T_MAP; t++) {
        size_t k = 0;
        const uint8_t *rec = vmsnap_rec_get(m, mlen, t, &k);
        vmsnap_rec(&model, t, rec, t == T_MAP ? k - 1 : k);
    }
    struct virtio_dev *dev;
    struct balloon_cfg cfg = { .ram_bytes = 512ull << 20, .free_page_reporting = true };
    struct bl_error err = { 0 };
    REQUIRE(balloon_new(&dev, &w.ram.mem, (struct irq_line){ 0 }, &cfg, &err) == 0);
    CHECK(dev->ops->restore(dev, model.p, model.len, &err) < 0);
    CHECK(strstr(err.msg, "page map has") != NULL);
    /* and the untouched state is taken */
    CHECK_EQ(virtio_dev_restore(dev, good.p, good.len, &err), 0);
    virtio_dev_free(dev);
    vmsnap_buf_free(&model);
    vmsnap_buf_free(&p);
    vmsnap_buf_free(&good);
    world_free(&w);
}
