// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The split-virtqueue walk over guest memory the fuzzer writes: ring placement, indices,
 * descriptors and indirect tables all come from the input. Guest RAM is two adjacent
 * regions in separate host allocations, so a buffer straddling them would be caught by
 * ASan. Every popped buffer is read and written in full. */
#include "vmm/virtio/virtio.h"

#include <stdlib.h>
#include <string.h>

#define GPA_A 0x1000ull
#define GPA_B 0x9000ull
#define REG_SIZE 0x8000u

static uint8_t *ra, *rb;
static struct virtq_elem el;

static void check_iov(const struct iovec *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *p = v[i].iov_base;
        bool in_a = p >= ra && p + v[i].iov_len <= ra + REG_SIZE;
        bool in_b = p >= rb && p + v[i].iov_len <= rb + REG_SIZE;
        if (!in_a && !in_b)
            abort();
    }
}

static uint64_t rd16(const uint8_t *d) { return (uint64_t)d[0] | (uint64_t)d[1] << 8; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 12)
        return 0;
    if (!ra) {
        ra = aligned_alloc(4096, REG_SIZE);
        rb = aligned_alloc(4096, REG_SIZE);
    }
    memset(ra, 0, REG_SIZE);
    memset(rb, 0, REG_SIZE);
    struct guest_mem m = { 0 };
    gm_add_region(&m, GPA_A, REG_SIZE, ra);
    gm_add_region(&m, GPA_B, REG_SIZE, rb);
    size_t body = size - 12;
    size_t na = body < REG_SIZE ? body : REG_SIZE;
    memcpy(ra, data + 12, na);
    if (body > na)
        memcpy(rb, data + 12 + na, body - na < REG_SIZE ? body - na : REG_SIZE);

    struct virtq q = { 0 };
    q.size = (uint16_t)(1u << (data[0] % 11)); /* 1..1024 */
    if (data[1] & 0x80)
        q.size = (uint16_t)rd16(data + 2); /* any size, also invalid ones */
    q.event_idx = data[1] & 1;
    q.desc_gpa = GPA_A + rd16(data + 4) * 4;
    q.avail_gpa = GPA_A + rd16(data + 6);
    q.used_gpa = GPA_A + rd16(data + 8);
    q.last_avail = q.used_idx = (uint16_t)(data[10] * 251u);
    q.ready = true;
    q.mem = &m;
    for (int i = 0; i < 64; i++) {
        uint16_t old = q.used_idx;
        int r = virtq_pop(&q, &el);
        if (r <= 0)
            break;
        if (el.out_num + el.in_num > VIRTQ_MAX_CHAIN || el.head >= q.size)
            abort();
        check_iov(el.out, el.out_num);
        check_iov(el.in, el.in_num);
        uint8_t sum = 0;
        for (uint32_t k = 0; k < el.out_num; k++)
            for (size_t j = 0; j < el.out[k].iov_len; j++)
                sum ^= ((uint8_t *)el.out[k].iov_base)[j];
        for (uint32_t k = 0; k < el.in_num; k++)
            memset(el.in[k].iov_base, sum, el.in[k].iov_len);
        virtq_push(&q, &el, (uint32_t)(el.in_len / 2 + data[11]));
        virtq_should_notify(&q, old);
    }
    return 0;
}
