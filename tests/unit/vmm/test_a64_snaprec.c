// SPDX-License-Identifier: Apache-2.0
/* The aarch64 snapshot payloads (src/vmm/arch/aarch64/snaprec.c): register ids decoded as
 * api.rst lays them out, a vCPU payload read back and refused when hostile (a size KVM does
 * not use, values too short or long, another architecture's id, too many), the register
 * list compared with a host's, and the GICv3 lists and payload against a machine's shape. */
#include "harness/harness.h"
#include "vmm/arch/aarch64/aarch64.h"
#include "vmm/snapshot.h"

#include <stdlib.h>

#define U32 (2ull << A64_REG_SIZE_SHIFT)
#define U64 (3ull << A64_REG_SIZE_SHIFT)
#define U128 (4ull << A64_REG_SIZE_SHIFT)
#define CORE(off, sz) (A64_REG_ARM64 | (sz) | 0x0010ull << 16 | (off))
#define SYSREG(op0, op1, crn, crm, op2)                                                       \
    (A64_REG_ARM64 | U64 | A64_REG_SYSREG << 16 | (op0) << 14 | (op1) << 11 | (crn) << 7 | \
     (crm) << 3 | (op2))

static const uint64_t ids[] = {
    CORE(0, U64),               /* x0 */
    CORE(0x48, U128),           /* a vreg */
    CORE(0xd4, U32),            /* fpsr */
    SYSREG(3, 0, 0, 0, 0),      /* MIDR_EL1 */
    SYSREG(3, 0, 1, 0, 0),      /* SCTLR_EL1 */
    SYSREG(3, 3, 0, 0, 1),      /* CTR_EL0 */
};
#define NIDS (sizeof ids / sizeof ids[0])

/* a payload with the ids above (or n of them), vals_len bytes of values, an MP state */
static void vcpu_payload(struct vmsnap_buf *p, const uint64_t *l, size_t n, size_t vals_len,
                         bool mp)
{
    memset(p, 0, sizeof *p);
    uint8_t *vals = calloc(1, vals_len + 1);
    for (size_t i = 0; i < vals_len; i++)
        vals[i] = (uint8_t)i;
    vmsnap_rec(p, A64_R_IDS, l, n * 8);
    vmsnap_rec(p, A64_R_VALS, vals, vals_len);
    uint32_t st = 0;
    if (mp)
        vmsnap_rec(p, A64_R_MP_STATE, &st, sizeof st);
    free(vals);
}

TEST(register_ids_decoded)
{
    CHECK_EQ(a64_reg_size(CORE(0, U64)), 8);
    CHECK_EQ(a64_reg_size(CORE(0x48, U128)), 16);
    CHECK_EQ(a64_reg_size(CORE(0xd4, U32)), 4);
    CHECK_EQ(a64_reg_size(A64_REG_ARM64 | 8ull << A64_REG_SIZE_SHIFT), 0); /* SVE's 2048 */
    CHECK_EQ(a64_reg_size(0x2000000000000000ull | U64), 0);                 /* x86 */
    CHECK(a64_reg_is_id(SYSREG(3, 0, 0, 0, 0)));
    CHECK(a64_reg_is_id(SYSREG(3, 0, 0, 4, 0)));  /* ID_AA64PFR0_EL1 */
    CHECK(a64_reg_is_id(SYSREG(3, 3, 0, 0, 1)));  /* CTR_EL0 */
    CHECK(!a64_reg_is_id(SYSREG(3, 2, 0, 0, 0))); /* CSSELR_EL1: the guest's choice */
    CHECK(!a64_reg_is_id(SYSREG(3, 0, 1, 0, 0)));
    CHECK(!a64_reg_is_id(CORE(0, U64)));
    CHECK(a64_reg_is_id(A64_REG_ARM64 | U32 | A64_REG_DEMUX << 16));
    char name[48];
    a64_reg_name(SYSREG(3, 0, 1, 0, 0), name, sizeof name);
    CHECK_STR(name, "S3_0_C1_C0_0");
}

TEST(vcpu_payload_read_back_and_matched)
{
    struct vmsnap_buf p;
    vcpu_payload(&p, ids, NIDS, 8 + 16 + 4 + 8 + 8 + 8, true);
    struct a64_vcpu_view v;
    struct bl_error err = { 0 };
    REQUIRE(a64_vcpu_parse(p.p, p.len, "vCPU 0", &v, &err) == 0);
    CHECK_EQ(v.n, NIDS);
    CHECK_EQ(v.vals_len, 52);
    CHECK_EQ(a64_vcpu_id(&v, 3), SYSREG(3, 0, 0, 0, 0));
    CHECK_EQ(v.vals[51], 51);
    CHECK(a64_vcpu_match(&v, ids, NIDS, "vCPU 0", &err) == 0);
    /* the host lists another register in place 4, or one fewer, or one more */
    uint64_t other[NIDS + 1];
    memcpy(other, ids, sizeof ids);
    other[4] = SYSREG(3, 0, 1, 0, 1);
    CHECK(a64_vcpu_match(&v, other, NIDS, "vCPU 0", &err) == -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "register 4 is S3_0_C1_C0_0") != NULL);
    CHECK(a64_vcpu_match(&v, ids, NIDS - 1, "vCPU 0", &err) == -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "6 registers saved, this host's KVM has 5") != NULL);
    memcpy(other, ids, sizeof ids);
    other[NIDS] = SYSREG(3, 0, 1, 0, 1);
    CHECK(a64_vcpu_match(&v, other, NIDS + 1, "vCPU 0", &err) == -BOXLITE_ERR_INVALID);
    vmsnap_buf_free(&p);
}

TEST(hostile_vcpu_payloads_refused)
{
    struct vmsnap_buf p;
    struct a64_vcpu_view v;
    struct bl_error err = { 0 };
    /* values one byte short, one byte long */
    vcpu_payload(&p, ids, NIDS, 51, true);
    CHECK(a64_vcpu_parse(p.p, p.len, "vCPU 1", &v, &err) == -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "vCPU 1: 51 bytes of register values for 6 registers of 52") != NULL);
    vmsnap_buf_free(&p);
    vcpu_payload(&p, ids, NIDS, 53, true);
    CHECK(a64_vcpu_parse(p.p, p.len, "vCPU 1", &v, &err) == -BOXLITE_ERR_INVALID);
    vmsnap_buf_free(&p);
    /* no MP state */
    vcpu_payload(&p, ids, NIDS, 52, false);
    CHECK(a64_vcpu_parse(p.p, p.len, "vCPU 1", &v, &err) == -BOXLITE_ERR_INVALID);
    vmsnap_buf_free(&p);
    /* an x86 id, an SVE-sized one */
    uint64_t bad[2] = { CORE(0, U64), 0x2030000000000010ull };
    vcpu_payload(&p, bad, 2, 16, true);
    CHECK(a64_vcpu_parse(p.p, p.len, "vCPU 1", &v, &err) == -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "not an arm64 register") != NULL);
    vmsnap_buf_free(&p);
    bad[1] = A64_REG_ARM64 | 8ull << A64_REG_SIZE_SHIFT;
    vcpu_payload(&p, bad, 2, 8 + 256, true);
    CHECK(a64_vcpu_parse(p.p, p.len, "vCPU 1", &v, &err) == -BOXLITE_ERR_INVALID);
    vmsnap_buf_free(&p);
    /* more ids than any KVM lists, an empty list, a list not of whole ids */
    uint64_t *many = calloc(A64_REGS_MAX + 1, 8);
    for (size_t i = 0; i <= A64_REGS_MAX; i++)
        many[i] = CORE(i, U32);
    vcpu_payload(&p, many, A64_REGS_MAX + 1, 4 * (A64_REGS_MAX + 1), true);
    CHECK(a64_vcpu_parse(p.p, p.len, "vCPU 1", &v, &err) == -BOXLITE_ERR_INVALID);
    vmsnap_buf_free(&p);
    free(many);
    vcpu_payload(&p, ids, 0, 0, true);
    CHECK(a64_vcpu_parse(p.p, p.len, "vCPU 1", &v, &err) == -BOXLITE_ERR_INVALID);
    vmsnap_buf_free(&p);
    memset(&p, 0, sizeof p);
    vmsnap_rec(&p, A64_R_IDS, ids, 12);
    vmsnap_rec(&p, A64_R_VALS, ids, 8);
    CHECK(a64_vcpu_parse(p.p, p.len, "vCPU 1", &v, &err) == -BOXLITE_ERR_INVALID);
    vmsnap_buf_free(&p);
    /* a record the format does not have */
    vcpu_payload(&p, ids, NIDS, 52, true);
    vmsnap_rec(&p, A64_R_END, ids, 8);
    CHECK(a64_vcpu_parse(p.p, p.len, "vCPU 1", &v, &err) == -BOXLITE_ERR_INVALID);
    vmsnap_buf_free(&p);
}

TEST(gicv3_register_lists)
{
    uint32_t off[A64_GIC_DIST_MAX];
    size_t n = a64_gicv3_dist_regs(off, A64_GIC_DIST_MAX);
    /* IIDR, CTLR, then for SPIs 32-95: 2 IGROUPR, 16 IPRIORITYR, 2 x 64 IROUTER halves,
     * 4 ICFGR, 2 each of ISPENDR, ISACTIVER, ISENABLER */
    CHECK_EQ(n, 2 + 2 + 16 + 128 + 4 + 6);
    CHECK_EQ(a64_gicv3_dist_regs(NULL, 0), n);
    CHECK_EQ(off[0], 0x0008); /* GICD_IIDR first (arm-vgic-v3.rst) */
    CHECK_EQ(off[1], 0x0000);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(off[i] % 4, 0);
        CHECK(off[i] < 0x10000); /* the distributor's 64 KiB */
        for (size_t j = 0; j < i; j++)
            CHECK(off[i] != off[j]);
    }
    CHECK_EQ(off[n - 1], 0x0100 + 64 / 8); /* the enables last */
    for (size_t i = 0; i < A64_GIC_REDIST_N; i++)
        CHECK(a64_gicv3_redist_regs[i] >= A64_GICR_SGI && a64_gicv3_redist_regs[i] < 0x20000);
    CHECK_EQ(a64_gicv3_icc_regs[0], 0xc665); /* ICC_SRE_EL1: 3, 0, 12, 12, 5 */
    CHECK_EQ(a64_gicv3_icc_regs[A64_GIC_ICC_N - 1], 0xc667); /* ICC_IGRPEN1_EL1 */
}

static void gic_payload(struct vmsnap_buf *p, uint32_t version, uint32_t ncpus, size_t cut)
{
    memset(p, 0, sizeof *p);
    size_t nd = a64_gicv3_dist_regs(NULL, 0);
    uint8_t *z = calloc(1, 8 * 64 * 64);
    uint32_t hdr[3] = { version, A64_GIC_NR_IRQS, ncpus };
    vmsnap_rec(p, A64_V_GIC, hdr, sizeof hdr);
    vmsnap_rec(p, A64_V_DIST, z, nd * 4);
    vmsnap_rec(p, A64_V_REDIST, z, ncpus * A64_GIC_REDIST_N * 4);
    vmsnap_rec(p, A64_V_ICC, z, ncpus * A64_GIC_ICC_N * 8 - cut);
    vmsnap_rec(p, A64_V_LEVEL, z, ncpus * A64_GIC_LEVEL_WORDS * 4);
    free(z);
}

TEST(gicv3_payload_checked_against_the_machine)
{
    struct vmsnap_buf p;
    struct a64_gic_view g;
    struct bl_error err = { 0 };
    gic_payload(&p, 3, 2, 0);
    CHECK(a64_gic_parse(p.p, p.len, 2, &g, &err) == 0);
    CHECK_EQ(g.ncpus, 2);
    CHECK(g.dist && g.redist && g.icc && g.level);
    /* a box of another vCPU count */
    CHECK(a64_gic_parse(p.p, p.len, 1, &g, &err) == -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "2 vCPUs") != NULL);
    vmsnap_buf_free(&p);
    gic_payload(&p, 2, 1, 0); /* a GICv2's */
    CHECK(a64_gic_parse(p.p, p.len, 1, &g, &err) == -BOXLITE_ERR_INVALID);
    vmsnap_buf_free(&p);
    gic_payload(&p, 3, 1, 8); /* one CPU interface register short */
    CHECK(a64_gic_parse(p.p, p.len, 1, &g, &err) == -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "GIC record 4") != NULL);
    vmsnap_buf_free(&p);
    /* truncated anywhere: never accepted */
    gic_payload(&p, 3, 1, 0);
    for (size_t len = 0; len < p.len; len += 3)
        CHECK(a64_gic_parse(p.p, len, 1, &g, &err) < 0);
    vmsnap_buf_free(&p);
}
