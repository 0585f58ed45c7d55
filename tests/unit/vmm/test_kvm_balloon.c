// SPDX-License-Identifier: Apache-2.0
/* The balloon on a real KVM machine's guest RAM (machine_create: the memslots' private
 * anonymous mapping, on this host's /dev/kvm): RAM is not touched until used, pages the
 * driver reports free or inflates leave the process (machine_guest_rss, from smaps), and
 * "ksm" marks the mapping mergeable. The driver side is the test, through the MMIO
 * registers, as Linux's virtio_balloon does it; a Linux guest doing the same is proven in
 * the lab (tests/lab/suite.sh). */
#include "harness/harness.h"
#include "pagemap.h"
#include "vmm/kvm/machine.h"
#include "vmm/virtio/balloon.h"
#include "vq_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM (512ull << 20)
#define MIB (1ull << 20)

static struct machine *new_machine(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        harness_skip("no usable /dev/kvm; proven by tests/e2e/lab_smoke.sh (the suite in the lab)");
    struct machine *m = NULL;
    struct bl_error err = { 0 };
    if (machine_create(&m, RAM, 1, &err) < 0) {
        machine_destroy(m);
        harness_fail(__FILE__, __LINE__, "machine_create: %s", err.msg);
        return NULL;
    }
    return m;
}

/* Bytes of [p, p + len) resident in this process (mincore): the pages a check is about,
 * whatever else of guest RAM happens to be resident (the rings, or a transparent huge page
 * that a touch elsewhere brought in whole: machine_guest_rss counts those too, and by how
 * much depends on what the host had free, which made a whole-RAM bound flaky). */
static uint64_t resident(const void *p, size_t len)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t n = (len + (size_t)pg - 1) / (size_t)pg;
    unsigned char *v = malloc(n);
    if (!v || mincore((void *)p, len, v) < 0) {
        free(v);
        return UINT64_MAX;
    }
    uint64_t in = 0;
    for (size_t i = 0; i < n; i++)
        in += v[i] & 1;
    free(v);
    return in * (uint64_t)pg;
}

/* A vq_driver view of the machine's RAM: its rings at VQD_RAM_GPA as usual. */
static void view(struct vqd_ram *r, struct machine *m)
{
    struct guest_mem *gm = machine_mem(m);
    r->mem = *gm;
    r->ram = gm_ptr(gm, VQD_RAM_GPA, VQD_RAM_SIZE);
}

TEST(kvm_guest_ram_is_lazy_and_given_back)
{
    struct machine *m = new_machine();
    REQUIRE(m);
    /* 512 MiB of guest RAM, none of it resident before the guest touches it */
    uint64_t rss0 = machine_guest_rss(m);
    CHECK(rss0 < MIB);
    struct vqd_ram r;
    view(&r, m);
    REQUIRE(r.ram);
    struct balloon_cfg cfg = { .ram_bytes = RAM, .free_page_reporting = true };
    struct virtio_dev *dev;
    struct bl_error err;
    REQUIRE(balloon_new(&dev, machine_mem(m), (struct irq_line){ 0 }, &cfg, &err) == 0);
    struct vqd q[4];
    struct vqd *qs[4];
    for (unsigned i = 0; i < 4; i++) {
        vqd_init(&q[i], &r, i, 64);
        qs[i] = &q[i];
    }
    REQUIRE(vqd_handshake(dev, (1ull << VIRTIO_BALLOON_F_STATS_VQ) |
                                   (1ull << VIRTIO_BALLOON_F_PAGE_REPORTING), qs, 4) &
            VIRTIO_CONFIG_S_DRIVER_OK);

    /* the guest uses 64 MiB at 64 MiB, then frees it: reported as 32 blocks of 2 MiB (as
     * Linux's page_reporting sends order-9 blocks, 32 to a report) */
    uint8_t *h = gm_ptr(machine_mem(m), 64 * MIB, 64 * MIB);
    REQUIRE(h);
    memset(h, 0x5a, 64 * MIB);
    uint64_t rss1 = machine_guest_rss(m);
    CHECK(rss1 >= rss0 + 64 * MIB);
    CHECK_EQ(resident(h, 64 * MIB), 64 * MIB);
    uint64_t g[32];
    uint32_t l[32];
    for (unsigned i = 0; i < 32; i++) {
        g[i] = 64 * MIB + i * 2 * MIB;
        l[i] = 2 * MIB;
    }
    vqd_add(&q[3], g, l, 0, 32);
    vqd_kick(dev, 3);
    uint32_t id, len;
    REQUIRE(vqd_get_used(&q[3], &id, &len));
    CHECK(!dev->broken);
    uint64_t rss2 = machine_guest_rss(m);
    CHECK_EQ(resident(h, 64 * MIB), 0); /* every reported page left the process */
    CHECK(rss2 < rss1);
    CHECK_EQ(h[12345], 0); /* a freed page reads back zeroed */

    /* the balloon inflates by 8 MiB of pages the guest had touched */
    uint8_t *h2 = gm_ptr(machine_mem(m), 200 * MIB, 8 * MIB);
    REQUIRE(h2);
    memset(h2, 0x77, 8 * MIB);
    uint64_t rss3 = machine_guest_rss(m);
    CHECK_EQ(resident(h2, 8 * MIB), 8 * MIB);
    for (unsigned b = 0; b < 8; b++) {
        uint32_t pfns[256];
        for (unsigned i = 0; i < 256; i++)
            pfns[i] = (uint32_t)((200 * MIB + b * MIB) / BALLOON_PAGE_SIZE) + i;
        uint64_t a = vqd_alloc(&q[0], sizeof pfns);
        memcpy(vqd_host(&r, a), pfns, sizeof pfns);
        uint32_t al = sizeof pfns;
        vqd_add(&q[0], &a, &al, 1, 0);
    }
    vqd_kick(dev, 0);
    unsigned used = 0;
    while (vqd_get_used(&q[0], &id, &len))
        used++;
    CHECK_EQ(used, 8);
    uint64_t rss4 = machine_guest_rss(m);
    CHECK_EQ(resident(h2, 8 * MIB), 0); /* every inflated page left the process */
    struct balloon_stats s;
    balloon_get_stats(dev, &s);
    CHECK_EQ(s.inflated_pages, 2048);
    CHECK_EQ(s.reported_bytes, 64 * MIB);
    CHECK_EQ(s.returned_bytes, 72 * MIB);
    printf("# guest RAM resident: %llu KiB at start, %llu after 64 MiB used, %llu after the "
           "report, %llu after 8 MiB more used, %llu after their inflate\n",
           (unsigned long long)rss0 >> 10, (unsigned long long)rss1 >> 10,
           (unsigned long long)rss2 >> 10, (unsigned long long)rss3 >> 10,
           (unsigned long long)rss4 >> 10);
    virtio_dev_free(dev);
    machine_destroy(m);
}

TEST(kvm_ksm_marks_guest_ram_mergeable)
{
    if (access("/sys/kernel/mm/ksm/run", R_OK) != 0)
        harness_skip("this host's kernel has no KSM (CONFIG_KSM); proven where it has");
    struct machine *m = new_machine();
    REQUIRE(m);
    void *p = gm_ptr(machine_mem(m), 0, 1);
    REQUIRE(p);
    CHECK_EQ(vm_flag(p, "mg"), 0); /* off by default */
    struct bl_error err;
    CHECK(machine_ksm(m, &err) == 0);
    CHECK_EQ(vm_flag(p, "mg"), 1);
    machine_destroy(m);
}
