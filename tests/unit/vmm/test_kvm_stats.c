// SPDX-License-Identifier: Apache-2.0
/* KVM's binary statistics (src/vmm/kvm/kvm_stats.c): a stats file laid out as Linux lays
 * it out (header, id, descriptors with 48-byte names, values) is parsed and its values
 * read; a damaged one is refused without a read out of bounds; a mark logs what moved
 * since the last one, the vCPUs' counters summed. */
#include "harness/harness.h"
#include "vmm/kvm/kvm_stats.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAME_SIZE 48
#define ID_OFF 24
#define DESC_OFF (ID_OFF + NAME_SIZE)

struct desc { const char *name; uint32_t flags; uint16_t size; };

/* A stats file as Linux writes one: desc[i]'s value(s) at data + 8 * (sum of the sizes
 * before it), each value vals[i]. Returns the length. */
static size_t build(uint8_t *buf, size_t cap, const struct desc *d, unsigned n,
                    const uint64_t *vals)
{
    uint32_t data_off = DESC_OFF + n * (16 + NAME_SIZE);
    uint32_t hdr[6] = { 0, NAME_SIZE, n, ID_OFF, DESC_OFF, data_off };
    memset(buf, 0, cap);
    memcpy(buf, hdr, sizeof hdr);
    memcpy(buf + ID_OFF, "kvm-1234/vcpu-0", 15);
    uint32_t off = 0;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = buf + DESC_OFF + i * (16 + NAME_SIZE);
        memcpy(p, &d[i].flags, 4);
        memcpy(p + 6, &d[i].size, 2);
        memcpy(p + 8, &off, 4);
        strncpy((char *)p + 16, d[i].name, NAME_SIZE - 1);
        for (unsigned k = 0; k < d[i].size; k++)
            memcpy(buf + data_off + off + 8 * k, &vals[i], 8);
        off += 8u * d[i].size;
    }
    return data_off + off;
}

/* cumulative 0, instant 1, peak 2, log histogram 4 (api.rst, KVM_STATS_TYPE_*) */
static const struct desc vcpu_desc[] = {
    { "halt_wait_hist", 4, 32 }, { "exits", 0, 1 }, { "pf_fixed", 0, 1 },
    { "io_exits", 0, 1 }, { "guest_mode", 1, 1 }, { "halt_wait_ns", 0x20, 1 },
};
static const struct desc vm_desc[] = {
    { "pages_4k", 1, 1 }, { "pages_2m", 1, 1 }, { "mmu_recycled", 0, 1 },
};

TEST(a_linux_layout_is_parsed_histograms_left_out)
{
    uint8_t buf[4096];
    uint64_t vals[] = { 7, 100, 30, 5, 0, 999 };
    size_t len = build(buf, sizeof buf, vcpu_desc, 6, vals);
    size_t head = kvm_stats_head_len(buf, len);
    CHECK_EQ(head, DESC_OFF + 6 * (16 + NAME_SIZE));
    struct kvm_stats_layout l;
    struct bl_error err = { 0 };
    REQUIRE(kvm_stats_parse(buf, head, &l, &err) == 0);
    CHECK_EQ(l.n, 5); /* the histogram is not kept */
    CHECK_STR(l.s[0].name, "exits");
    CHECK_EQ(l.s[0].offset, 256); /* after the histogram's 32 values */
    CHECK_STR(l.s[4].name, "halt_wait_ns");
    CHECK_EQ(l.s[3].type, 1);
    CHECK_EQ(l.data_offset, head);
    CHECK_EQ(l.data_len, 256 + 5 * 8);
}

TEST(damaged_files_are_refused)
{
    uint8_t buf[4096];
    uint64_t vals[] = { 7, 100, 30, 5, 0, 999 };
    size_t len = build(buf, sizeof buf, vcpu_desc, 6, vals);
    size_t head = DESC_OFF + 6 * (16 + NAME_SIZE);
    struct kvm_stats_layout l;
    struct bl_error err = { 0 };
    /* every prefix short of the descriptors' end */
    for (size_t n = 0; n < head; n++)
        CHECK(kvm_stats_parse(buf, n, &l, &err) < 0);
    uint8_t bad[4096];
    uint32_t v;
#define SET32(off, val) (memcpy(bad, buf, len), v = (val), memcpy(bad + (off), &v, 4))
    SET32(4, 0); /* no name size */
    CHECK(kvm_stats_parse(bad, head, &l, &err) < 0);
    SET32(8, 0xffffffffu); /* a count whose descriptors do not fit */
    CHECK(kvm_stats_parse(bad, head, &l, &err) < 0);
    CHECK_EQ(kvm_stats_head_len(bad, head), 0);
    SET32(16, 0xfffffff0u); /* descriptors far beyond the bytes (no 32-bit wrap) */
    CHECK(kvm_stats_parse(bad, head, &l, &err) < 0);
    CHECK_EQ(kvm_stats_head_len(bad, head), 0);
    SET32(16, 8); /* descriptors inside the header */
    CHECK(kvm_stats_parse(bad, head, &l, &err) < 0);
    SET32(20, 4); /* data inside the header */
    CHECK(kvm_stats_parse(bad, head, &l, &err) < 0);
    SET32(DESC_OFF + (16 + NAME_SIZE) + 8, 1u << 20); /* "exits" far beyond the data */
    CHECK(kvm_stats_parse(bad, head, &l, &err) < 0);
    CHECK(strstr(err.msg, "exits") != NULL);
    memcpy(bad, buf, len); /* a name filling its field, unterminated */
    memset(bad + DESC_OFF + 16, 'x', NAME_SIZE);
    CHECK(kvm_stats_parse(bad, head, &l, &err) < 0);
    /* only histograms: nothing to read */
    uint64_t one = 1;
    len = build(buf, sizeof buf, vcpu_desc, 1, &one);
    CHECK(kvm_stats_parse(buf, len, &l, &err) < 0);
}

static int file_of(const uint8_t *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/stats-XXXXXX", harness_tmpdir());
    int fd = mkstemp(path);
    if (fd >= 0 && pwrite(fd, buf, len, 0) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    return fd;
}

static void set_value(int fd, const struct desc *d, unsigned n, const char *name, uint64_t val)
{
    uint32_t off = DESC_OFF + n * (16 + NAME_SIZE);
    for (unsigned i = 0; i < n; i++) {
        if (!strcmp(d[i].name, name) && pwrite(fd, &val, 8, off) != 8)
            harness_fail(__FILE__, __LINE__, "pwrite");
        off += 8u * d[i].size;
    }
}

static char *mark(struct kvm_counters *c, const char *phase, double ms)
{
    static char line[8192];
    line[0] = '\0'; /* fmemopen leaves the buffer as it was when nothing is written */
    FILE *f = fmemopen(line, sizeof line, "w");
    kvm_counters_mark(c, f, phase, ms);
    fclose(f);
    return line;
}

TEST(a_mark_logs_what_moved_the_vcpus_summed)
{
    uint8_t buf[4096];
    uint64_t cpu_vals[] = { 7, 100, 30, 5, 1, 999 }, vm_vals[] = { 10, 0, 3 };
    size_t len = build(buf, sizeof buf, vm_desc, 3, vm_vals);
    int vm = file_of(buf, len);
    len = build(buf, sizeof buf, vcpu_desc, 6, cpu_vals);
    int cpus[2] = { file_of(buf, len), file_of(buf, len) };
    REQUIRE(vm >= 0 && cpus[0] >= 0 && cpus[1] >= 0);
    struct kvm_counters *c = kvm_counters_from_fds(vm, cpus, 2);
    REQUIRE(c);
    /* the guest runs: vCPU 0 exits 500 more times, vCPU 1 300, with 200 faults fixed */
    set_value(cpus[0], vcpu_desc, 6, "exits", 600);
    set_value(cpus[1], vcpu_desc, 6, "exits", 400);
    set_value(cpus[0], vcpu_desc, 6, "pf_fixed", 230);
    set_value(vm, vm_desc, 3, "pages_4k", 4096);
    set_value(vm, vm_desc, 3, "pages_2m", 2);
    CHECK_STR(mark(c, "restored -> HELLO", 40.0),
              "boxlite-vmm: KVM counters, restored -> HELLO, 40.0 ms: 800 exits (50.0 us each); "
              "vCPUs pf_fixed 200, guest_mode 2; VM pages_4k 4096, pages_2m 2\n");
    /* the next mark counts from this one; instant values are told as they are */
    set_value(cpus[1], vcpu_desc, 6, "io_exits", 9);
    set_value(cpus[1], vcpu_desc, 6, "exits", 410);
    CHECK_STR(mark(c, "HELLO -> exec", 1.0),
              "boxlite-vmm: KVM counters, HELLO -> exec, 1.0 ms: 10 exits (100.0 us each); "
              "vCPUs io_exits 4, guest_mode 2; VM pages_4k 4096, pages_2m 2\n");
    /* a file that can no longer be read: nothing is logged */
    CHECK_EQ(ftruncate(cpus[1], 10), 0);
    CHECK_STR(mark(c, "gone", 1.0), "");
    kvm_counters_free(c);
    kvm_counters_mark(NULL, stderr, "none", 1.0); /* NULL-safe */
    kvm_counters_free(NULL);
}

TEST(an_unreadable_file_gives_no_counters)
{
    uint8_t buf[4096];
    uint64_t vm_vals[] = { 10, 0, 3 };
    size_t len = build(buf, sizeof buf, vm_desc, 3, vm_vals);
    int vm = file_of(buf, 20); /* cut inside the header */
    int cpu = file_of(buf, len);
    REQUIRE(vm >= 0 && cpu >= 0);
    CHECK(kvm_counters_from_fds(vm, &cpu, 1) == NULL);
    int none = -1;
    CHECK(kvm_counters_from_fds(-1, &none, 1) == NULL); /* KVM_GET_STATS_FD failed */
    CHECK(kvm_counters_open(-1, &none, 1) == NULL);
}
