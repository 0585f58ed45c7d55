// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the aarch64 snapshot payload readers (src/vmm/arch/aarch64/snaprec.c): a vCPU's
 * register list and values, and the GICv3's records, as a state file the box's user can
 * write delivers them (the file's checksum is no defence: a forger recomputes it). The
 * first byte picks the reader and, for the GIC, the machine's vCPU count. Whatever is
 * accepted must be self-consistent: every id of a known size, the values exactly their
 * sum and inside the input, the register list compared against a host's without reading
 * past either; every GIC record inside the input and exactly the length its shape says. */
#include "vmm/arch/aarch64/aarch64.h"
#include "vmm/snapshot.h"

#include <string.h>

static const uint64_t host[] = {
    A64_REG_ARM64 | 3ull << A64_REG_SIZE_SHIFT | 0x0010ull << 16,
    A64_REG_ARM64 | 3ull << A64_REG_SIZE_SHIFT | A64_REG_SYSREG << 16 | 0xc000,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    struct bl_error err = { 0 };
    if (sel & 0x80) {
        struct a64_vcpu_view v;
        if (a64_vcpu_parse(p, n, "fuzz", &v, &err) != 0) {
            if (!err.msg[0])
                __builtin_trap();
            return 0;
        }
        size_t sum = 0;
        for (size_t i = 0; i < v.n; i++) {
            size_t s = a64_reg_size(a64_vcpu_id(&v, i));
            if (!s)
                __builtin_trap();
            sum += s;
            char name[48];
            a64_reg_name(a64_vcpu_id(&v, i), name, sizeof name);
            (void)a64_reg_is_id(a64_vcpu_id(&v, i));
        }
        if (v.n == 0 || v.n > A64_REGS_MAX || sum != v.vals_len || v.ids < p ||
            v.ids + 8 * v.n > p + n || v.vals < p || v.vals + v.vals_len > p + n)
            __builtin_trap();
        volatile uint8_t last = v.vals[v.vals_len - 1];
        (void)last;
        int m = a64_vcpu_match(&v, host, sizeof host / sizeof host[0], "fuzz", &err);
        if (m == 0 && v.n != sizeof host / sizeof host[0])
            __builtin_trap();
        return 0;
    }
    uint32_t ncpus = 1 + (sel & 7);
    struct a64_gic_view g;
    if (a64_gic_parse(p, n, ncpus, &g, &err) != 0) {
        if (!err.msg[0])
            __builtin_trap();
        return 0;
    }
    size_t nd = a64_gicv3_dist_regs(NULL, 0);
    struct { uint32_t tag; const uint8_t *d; size_t len; } r[] = {
        { A64_V_DIST, g.dist, nd * 4 },
        { A64_V_REDIST, g.redist, (size_t)ncpus * A64_GIC_REDIST_N * 4 },
        { A64_V_ICC, g.icc, (size_t)ncpus * A64_GIC_ICC_N * 8 },
        { A64_V_LEVEL, g.level, (size_t)ncpus * A64_GIC_LEVEL_WORDS * 4 },
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        size_t got = 0;
        if (g.ncpus != ncpus || !r[i].d || r[i].d < p || r[i].d + r[i].len > p + n ||
            vmsnap_rec_get(p, n, r[i].tag, &got) != r[i].d || got != r[i].len)
            __builtin_trap(); /* each record exactly its shape's length */
    }
    return 0;
}
