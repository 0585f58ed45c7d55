// SPDX-License-Identifier: Apache-2.0
/* The split virtqueue against rings laid out in plain memory, well-formed and malicious. */
#include "harness/harness.h"
#include "vq_driver.h"

#include "common/cleanup.h"

#include <stdlib.h>

static struct vqd_ram ram;
static struct vqd d;
static struct virtq vq;
static struct virtq_elem *el;

static void teardown(void)
{
    free(el);
    el = NULL;
    vqd_ram_free(&ram);
    memset(&ram, 0, sizeof ram);
}

/* A fresh ring; a test may call it again to start over (the previous one is freed). */
static void setup(uint16_t size)
{
    if (el)
        teardown();
    REQUIRE(vqd_ram_init(&ram) == 0);
    vqd_init(&d, &ram, 0, size);
    vqd_attach(&d, &vq);
    el = calloc(1, sizeof(*el));
}

TEST(gm_ptr_checks_whole_range)
{
    struct guest_mem m = { 0 };
    static uint8_t a[4096], b[4096];
    CHECK(gm_add_region(&m, 0x1000, sizeof(a), a) == 0);
    CHECK(gm_add_region(&m, 0x2000, sizeof(b), b) == 0); /* adjacent */
    CHECK(gm_ptr(&m, 0x1000, 4096) == a);
    CHECK(gm_ptr(&m, 0x1ff0, 16) == a + 0xff0);
    CHECK(gm_ptr(&m, 0x1ff0, 17) == NULL); /* straddles two regions */
    CHECK(gm_ptr(&m, 0x2000, 1) == b);
    CHECK(gm_ptr(&m, 0x3000, 0) == b + 4096); /* end of a region, empty */
    CHECK(gm_ptr(&m, 0x3000, 1) == NULL);
    CHECK(gm_ptr(&m, 0xfff, 1) == NULL);
    CHECK(gm_ptr(&m, 0x1010, UINT64_MAX) == NULL);
    CHECK(gm_ptr(&m, UINT64_MAX - 8, 16) == NULL); /* addr + len wraps */
    CHECK(gm_ptr(NULL, 0x1000, 1) == NULL);
    /* overlap, wrap, empty */
    CHECK(gm_add_region(&m, 0x1800, 0x1000, a) == -1);
    CHECK(gm_add_region(&m, 0x0, 0x1001, a) == -1);
    CHECK(gm_add_region(&m, UINT64_MAX - 0xfff, 0x2000, a) == -1);
    CHECK(gm_add_region(&m, 0x10000, 0, a) == -1);
    CHECK(gm_add_region(&m, UINT64_MAX - 0xfff, 0x1000, a) == 0); /* ends at 2^64 */
    CHECK(gm_ptr(&m, UINT64_MAX - 0xfff, 0x1000) == a);
    CHECK(gm_ptr(&m, UINT64_MAX, 1) == a + 0xfff);
}

TEST(pop_and_push_simple_chain)
{
    setup(16);
    CHECK_EQ(virtq_pop(&vq, el), 0);
    uint64_t b0 = vqd_alloc(&d, 16), b1 = vqd_alloc(&d, 100), b2 = vqd_alloc(&d, 1);
    memcpy(vqd_host(&ram, b0), "0123456789abcdef", 16);
    uint64_t addrs[] = { b0, b1, b2 };
    uint32_t lens[] = { 16, 100, 1 };
    uint16_t head = vqd_add(&d, addrs, lens, 1, 2);
    REQUIRE(virtq_pop(&vq, el) == 1);
    CHECK_EQ(el->head, head);
    CHECK_EQ(el->out_num, 1);
    CHECK_EQ(el->in_num, 2);
    CHECK_EQ(el->out_len, 16);
    CHECK_EQ(el->in_len, 101);
    CHECK(el->out[0].iov_base == vqd_host(&ram, b0));
    CHECK(el->in[1].iov_base == vqd_host(&ram, b2));
    CHECK_EQ(virtq_pop(&vq, el), 0);
    CHECK(iov_from_buf(el->in, el->in_num, 0, "hello", 5) == 5);
    CHECK(virtq_push(&vq, el, 5) == 0);
    uint32_t id, len;
    REQUIRE(vqd_get_used(&d, &id, &len));
    CHECK_EQ(id, head);
    CHECK_EQ(len, 5);
    CHECK_MEM(vqd_host(&ram, b1), "hello", 5);
    /* len is clamped to what the chain can hold */
    vqd_add(&d, addrs, lens, 1, 2);
    REQUIRE(virtq_pop(&vq, el) == 1);
    CHECK(virtq_push(&vq, el, 100000) == 0);
    REQUIRE(vqd_get_used(&d, &id, &len));
    CHECK_EQ(len, 101);
    CHECK(!vq.broken);
}

TEST(indices_wrap_at_16_bits)
{
    setup(8);
    d.avail_idx = 65530;
    vq.last_avail = 65530;
    vq.used_idx = 65530;
    d.last_used = 65530;
    uint64_t b = vqd_alloc(&d, 8);
    for (int i = 0; i < 20; i++) {
        uint64_t a[] = { b };
        uint32_t l[] = { 8 };
        uint16_t head = vqd_add(&d, a, l, 0, 1);
        REQUIRE(virtq_pop(&vq, el) == 1);
        CHECK_EQ(el->head, head);
        CHECK(virtq_push(&vq, el, 8) == 0);
        uint32_t id, len;
        REQUIRE(vqd_get_used(&d, &id, &len));
        CHECK_EQ(id, head);
    }
    CHECK_EQ(vq.last_avail, (uint16_t)(65530 + 20));
}

TEST(indirect_table)
{
    setup(16);
    uint64_t tbl = vqd_alloc(&d, 16 * 3);
    uint64_t b0 = vqd_alloc(&d, 16), b1 = vqd_alloc(&d, 512), b2 = vqd_alloc(&d, 1);
    vqd_set_desc(&d, tbl, 0, b0, 16, VIRTQ_DESC_F_NEXT, 2);
    vqd_set_desc(&d, tbl, 2, b1, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    vqd_set_desc(&d, tbl, 1, b2, 1, VIRTQ_DESC_F_WRITE, 0);
    vqd_set_desc(&d, d.desc, 5, tbl, 48, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&d, 5);
    REQUIRE(virtq_pop(&vq, el) == 1);
    CHECK_EQ(el->head, 5);
    CHECK_EQ(el->out_num, 1);
    CHECK_EQ(el->in_num, 2);
    CHECK_EQ(el->in_len, 513);
    CHECK(el->in[0].iov_base == vqd_host(&ram, b1));
}

TEST(longest_chains_accepted)
{
    /* a direct chain using every descriptor, and a full-size indirect table */
    setup(256);
    uint64_t b = vqd_alloc(&d, 4);
    for (int i = 0; i < 256; i++)
        vqd_set_desc(&d, d.desc, (uint16_t)i, b, 4, i < 255 ? VIRTQ_DESC_F_NEXT : 0,
                     (uint16_t)(i + 1));
    vqd_publish(&d, 0);
    REQUIRE(virtq_pop(&vq, el) == 1);
    CHECK_EQ(el->out_num, 256);
    uint64_t tbl = vqd_alloc(&d, 16 * VIRTQ_MAX_CHAIN);
    for (int i = 0; i < VIRTQ_MAX_CHAIN; i++)
        vqd_set_desc(&d, tbl, (uint16_t)i, b, 4,
                     VIRTQ_DESC_F_WRITE | (i < VIRTQ_MAX_CHAIN - 1 ? VIRTQ_DESC_F_NEXT : 0),
                     (uint16_t)(i + 1));
    vqd_set_desc(&d, d.desc, 7, tbl, 16 * VIRTQ_MAX_CHAIN, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&d, 7);
    REQUIRE(virtq_pop(&vq, el) == 1);
    CHECK_EQ(el->in_num, VIRTQ_MAX_CHAIN);
    CHECK(!vq.broken);
}

/* Each malicious ring must fail the queue with a reason, never crash, and stay failed. */
static void expect_broken(const char *why_part)
{
    CHECK_EQ(virtq_pop(&vq, el), -1);
    CHECK(vq.broken);
    REQUIRE(vq.error != NULL);
    if (!strstr(vq.error, why_part))
        harness_fail(__FILE__, __LINE__, "error \"%s\" lacks \"%s\"", vq.error, why_part);
    CHECK_EQ(virtq_pop(&vq, el), -1);
}

TEST(malicious_loop)
{
    setup(16);
    uint64_t b = vqd_alloc(&d, 4);
    vqd_set_desc(&d, d.desc, 0, b, 4, VIRTQ_DESC_F_NEXT, 1);
    vqd_set_desc(&d, d.desc, 1, b, 4, VIRTQ_DESC_F_NEXT, 0);
    vqd_publish(&d, 0);
    expect_broken("loops");
}

TEST(malicious_self_loop_in_indirect)
{
    setup(16);
    uint64_t b = vqd_alloc(&d, 4), tbl = vqd_alloc(&d, 32);
    vqd_set_desc(&d, tbl, 0, b, 4, VIRTQ_DESC_F_NEXT, 1);
    vqd_set_desc(&d, tbl, 1, b, 4, VIRTQ_DESC_F_NEXT, 1);
    vqd_set_desc(&d, d.desc, 0, tbl, 32, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&d, 0);
    expect_broken("loops");
}

TEST(malicious_next_out_of_range)
{
    setup(16);
    uint64_t b = vqd_alloc(&d, 4);
    vqd_set_desc(&d, d.desc, 0, b, 4, VIRTQ_DESC_F_NEXT, 16);
    vqd_publish(&d, 0);
    expect_broken("out of range");
}

TEST(malicious_head_out_of_range)
{
    setup(16);
    vqd_publish(&d, 40000);
    expect_broken("out of range");
}

TEST(malicious_avail_index_jump)
{
    setup(16);
    __atomic_store_n((uint16_t *)vqd_host(&ram, d.avail + 2), 17, __ATOMIC_RELEASE);
    expect_broken("past the queue size");
}

TEST(malicious_buffer_outside_memory)
{
    setup(16);
    vqd_set_desc(&d, d.desc, 0, VQD_RAM_GPA + VQD_RAM_SIZE - 8, 9, 0, 0);
    vqd_publish(&d, 0);
    expect_broken("outside guest memory");
}

TEST(malicious_addr_len_wrap)
{
    setup(16);
    vqd_set_desc(&d, d.desc, 0, UINT64_MAX - 0x10, 0x100, 0, 0);
    vqd_publish(&d, 0);
    expect_broken("outside guest memory");
}

TEST(malicious_indirect_in_indirect)
{
    setup(16);
    uint64_t t1 = vqd_alloc(&d, 16), t2 = vqd_alloc(&d, 16), b = vqd_alloc(&d, 4);
    vqd_set_desc(&d, t2, 0, b, 4, 0, 0);
    vqd_set_desc(&d, t1, 0, t2, 16, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_set_desc(&d, d.desc, 0, t1, 16, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&d, 0);
    expect_broken("inside an indirect table");
}

TEST(malicious_indirect_shapes)
{
    const struct { uint32_t len; uint16_t flags; int chained; const char *why; } cases[] = {
        { 24, VIRTQ_DESC_F_INDIRECT, 0, "multiple of 16" },
        { 0, VIRTQ_DESC_F_INDIRECT, 0, "multiple of 16" },
        { 16 * (VIRTQ_MAX_CHAIN + 1), VIRTQ_DESC_F_INDIRECT, 0, "too long" },
        { 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 0, "NEXT" },
        { 16, VIRTQ_DESC_F_INDIRECT, 1, "not at the head" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        setup(16);
        uint64_t tbl = vqd_alloc(&d, 16 * (VIRTQ_MAX_CHAIN + 1)), b = vqd_alloc(&d, 4);
        vqd_set_desc(&d, tbl, 0, b, 4, 0, 0);
        if (cases[i].chained) {
            vqd_set_desc(&d, d.desc, 0, b, 4, VIRTQ_DESC_F_NEXT, 1);
            vqd_set_desc(&d, d.desc, 1, tbl, cases[i].len, cases[i].flags, 0);
        } else {
            vqd_set_desc(&d, d.desc, 0, tbl, cases[i].len, cases[i].flags, 1);
        }
        vqd_publish(&d, 0);
        expect_broken(cases[i].why);
        teardown();
    }
}

TEST(malicious_indirect_table_outside_memory)
{
    setup(16);
    vqd_set_desc(&d, d.desc, 0, VQD_RAM_GPA + VQD_RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&d, 0);
    expect_broken("indirect table outside");
}

TEST(malicious_oversize_indirect_chain_by_next)
{
    /* a table of 1024 entries, every one pointing to the next, the last back to 0 */
    setup(16);
    uint64_t tbl = vqd_alloc(&d, 16 * VIRTQ_MAX_CHAIN), b = vqd_alloc(&d, 4);
    for (int i = 0; i < VIRTQ_MAX_CHAIN; i++)
        vqd_set_desc(&d, tbl, (uint16_t)i, b, 4, VIRTQ_DESC_F_NEXT,
                     (uint16_t)((i + 1) % VIRTQ_MAX_CHAIN));
    vqd_set_desc(&d, d.desc, 0, tbl, 16 * VIRTQ_MAX_CHAIN, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&d, 0);
    expect_broken("loops");
}

TEST(malicious_write_only_before_read_only)
{
    setup(16);
    uint64_t b = vqd_alloc(&d, 4);
    vqd_set_desc(&d, d.desc, 0, b, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    vqd_set_desc(&d, d.desc, 1, b, 4, 0, 0);
    vqd_publish(&d, 0);
    expect_broken("read-only buffer after");
}

TEST(malicious_ring_placement)
{
    setup(16);
    vq.avail_gpa = VQD_RAM_GPA + VQD_RAM_SIZE - 4; /* ring runs past the end */
    expect_broken("ring outside");
    setup(16);
    vq.used_gpa += 2;
    expect_broken("misaligned");
    setup(16);
    vq.size = 12; /* not a power of 2 */
    expect_broken("power of 2");
}

TEST(push_checks_head)
{
    setup(16);
    el->head = 16;
    el->in_len = 0;
    CHECK_EQ(virtq_push(&vq, el, 0), -1);
    CHECK(vq.broken);
}

TEST(reset_clears_broken)
{
    setup(16);
    vqd_publish(&d, 99);
    CHECK_EQ(virtq_pop(&vq, el), -1);
    const struct guest_mem *m = vq.mem;
    virtq_reset(&vq);
    CHECK(!vq.broken);
    CHECK(!vq.ready);
    CHECK(vq.mem == m);
}

TEST(no_interrupt_flag)
{
    setup(16);
    uint64_t b = vqd_alloc(&d, 4);
    uint64_t a[] = { b };
    uint32_t l[] = { 4 };
    vqd_add(&d, a, l, 1, 0);
    REQUIRE(virtq_pop(&vq, el) == 1);
    uint16_t old = vq.used_idx;
    virtq_push(&vq, el, 0);
    CHECK(virtq_should_notify(&vq, old));
    *(uint16_t *)vqd_host(&ram, d.avail) = VIRTQ_AVAIL_F_NO_INTERRUPT;
    CHECK(!virtq_should_notify(&vq, old));
}

TEST(event_idx)
{
    setup(16);
    vq.event_idx = true;
    uint16_t *used_event = vqd_host(&ram, d.avail + 4 + 2 * 16);
    uint16_t *avail_event = vqd_host(&ram, d.used + 4 + 8 * 16);
    /* An empty pop publishes avail_event = next index we want a kick for. */
    *avail_event = 0xdead;
    CHECK_EQ(virtq_pop(&vq, el), 0);
    CHECK_EQ(*avail_event, 0);
    uint64_t b = vqd_alloc(&d, 4);
    uint64_t a[] = { b };
    uint32_t l[] = { 4 };
    for (int i = 0; i < 3; i++)
        vqd_add(&d, a, l, 1, 0);
    /* The driver wants an interrupt once used idx passes 1 (after the 2nd entry). */
    *used_event = 1;
    uint16_t old = vq.used_idx;
    REQUIRE(virtq_pop(&vq, el) == 1);
    virtq_push(&vq, el, 0); /* used idx 1: 1 - 1 - 1 not < 1 */
    CHECK(!virtq_should_notify(&vq, old));
    old = vq.used_idx;
    REQUIRE(virtq_pop(&vq, el) == 1);
    virtq_push(&vq, el, 0); /* used idx 2: passes event 1 */
    CHECK(virtq_should_notify(&vq, old));
    old = vq.used_idx;
    REQUIRE(virtq_pop(&vq, el) == 1);
    virtq_push(&vq, el, 0); /* used idx 3: event 1 already passed */
    CHECK(!virtq_should_notify(&vq, old));
    /* Batched: pushes 3 and 4 signalled together, event 3 lies between */
    *used_event = 3;
    vqd_add(&d, a, l, 1, 0);
    vqd_add(&d, a, l, 1, 0);
    old = vq.used_idx;
    REQUIRE(virtq_pop(&vq, el) == 1);
    virtq_push(&vq, el, 0);
    REQUIRE(virtq_pop(&vq, el) == 1);
    virtq_push(&vq, el, 0);
    CHECK(virtq_should_notify(&vq, old));
    CHECK_EQ(virtq_pop(&vq, el), 0);
    CHECK_EQ(*avail_event, 5);
    /* NO_INTERRUPT is ignored under EVENT_IDX (section 2.7.10) */
}

TEST(iov_helpers)
{
    char a[3], b[5], c[4];
    struct iovec iov[] = { { a, 3 }, { b, 5 }, { c, 4 } };
    CHECK_EQ(iov_from_buf(iov, 3, 2, "XYZWVUTSRQPO", 12), 10);
    CHECK_EQ(a[2], 'X');
    CHECK_MEM(b, "YZWVU", 5);
    CHECK_MEM(c, "TSRQ", 4);
    char out[16] = { 0 };
    CHECK_EQ(iov_to_buf(iov, 3, 4, out, 5), 5);
    CHECK_MEM(out, "ZWVUT", 5);
    CHECK_EQ(iov_to_buf(iov, 3, 100, out, 5), 0);
    CHECK_EQ(iov_to_buf(iov, 0, 0, out, 5), 0);
    struct iovec s[3];
    unsigned n = iov_slice(s, 3, iov, 3, 1, 9);
    CHECK_EQ(n, 3);
    CHECK(s[0].iov_base == a + 1 && s[0].iov_len == 2);
    CHECK(s[1].iov_base == b && s[1].iov_len == 5);
    CHECK(s[2].iov_base == c && s[2].iov_len == 2);
    CHECK_EQ(iov_slice(s, 1, iov, 3, 0, 12), 1);
}
