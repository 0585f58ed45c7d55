// SPDX-License-Identifier: Apache-2.0
/* The aarch64 snapshot payloads' shape and checks (aarch64.h, "snapshot records"), apart from
 * KVM so that their unit tests and fuzz target run on any host. A register id's layout is
 * api.rst's (KVM_SET_ONE_REG, arm64): architecture in bits 56-63, size in 52-55, the group
 * in 16-31 (0x0010 core, 0x0011 demux, 0x0012 VFP, 0x0013 system register, 0x0014 firmware,
 * 0x0015 SVE) and, for a system register, op0 op1 CRn CRm op2 in bits 0-15. The GICv3
 * offsets are the GICv3 architecture specification's (Arm IHI 0069, 12.8 and 12.10). */
#include "aarch64.h"

#include <stdio.h>
#include <string.h>

#include "vmm/snapshot.h"

size_t a64_reg_size(uint64_t id)
{
    if ((id & A64_REG_ARCH_MASK) != A64_REG_ARM64)
        return 0;
    unsigned s = (unsigned)((id & A64_REG_SIZE_MASK) >> A64_REG_SIZE_SHIFT);
    return s >= 2 && s <= 4 ? (size_t)1 << s : 0; /* U32, U64, U128 */
}

static unsigned group(uint64_t id) { return (unsigned)(id >> 16 & 0xffff); }

bool a64_reg_is_id(uint64_t id)
{
    if (group(id) == A64_REG_DEMUX)
        return true;
    if (group(id) != A64_REG_SYSREG)
        return false;
    unsigned op0 = (unsigned)(id >> 14 & 3), op1 = (unsigned)(id >> 11 & 7);
    unsigned crn = (unsigned)(id >> 7 & 15);
    return op0 == 3 && crn == 0 && (op1 == 0 || op1 == 1 || op1 == 3);
}

void a64_reg_name(uint64_t id, char *buf, size_t n)
{
    if (group(id) == A64_REG_SYSREG)
        snprintf(buf, n, "S%u_%u_C%u_C%u_%u", (unsigned)(id >> 14 & 3), (unsigned)(id >> 11 & 7),
                 (unsigned)(id >> 7 & 15), (unsigned)(id >> 3 & 15), (unsigned)(id & 7));
    else
        snprintf(buf, n, "%#llx (group %#x)", (unsigned long long)id, group(id));
}

uint64_t a64_vcpu_id(const struct a64_vcpu_view *v, size_t i)
{
    uint64_t id;
    memcpy(&id, v->ids + 8 * i, 8);
    return id;
}

int a64_vcpu_parse(const uint8_t *p, size_t len, const char *what, struct a64_vcpu_view *out,
                   struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (vmsnap_rec_check(p, len, A64_R_END, what, err) < 0)
        return -err->code;
    size_t n = 0, nv = 0;
    const uint8_t *ids = vmsnap_rec_get(p, len, A64_R_IDS, &n);
    const uint8_t *vals = vmsnap_rec_get(p, len, A64_R_VALS, &nv);
    if (!ids || !vals || n == 0 || n % 8 || n / 8 > A64_REGS_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "snapshot: %s: register list missing or of %zu bytes", what, n);
    out->ids = ids;
    out->n = n / 8;
    size_t want = 0;
    for (size_t i = 0; i < out->n; i++) {
        uint64_t id = a64_vcpu_id(out, i);
        size_t s = a64_reg_size(id);
        if (!s)
            return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: %s: register id %#llx is not "
                          "an arm64 register of 32, 64 or 128 bits", what, (unsigned long long)id);
        want += s;
    }
    if (nv != want)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: %s: %zu bytes of register values "
                      "for %zu registers of %zu bytes", what, nv, out->n, want);
    out->vals = vals;
    out->vals_len = nv;
    return vmsnap_rec_copy(p, len, A64_R_MP_STATE, &out->mp_state, sizeof out->mp_state, what,
                           err);
}

int a64_vcpu_match(const struct a64_vcpu_view *v, const uint64_t *host, size_t nhost,
                   const char *what, struct bl_error *err)
{
    char name[48];
    for (size_t i = 0; i < v->n && i < nhost; i++) {
        uint64_t id = a64_vcpu_id(v, i);
        if (id != host[i]) {
            a64_reg_name(id, name, sizeof name);
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "snapshot: %s: register %zu is %s; this host's KVM lists another "
                          "(a snapshot resumes only under the kernel and CPU that made it)",
                          what, i, name);
        }
    }
    if (v->n != nhost)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "snapshot: %s: %zu registers saved, this host's KVM has %zu (a snapshot "
                      "resumes only under the kernel and CPU that made it)", what, v->n, nhost);
    return 0;
}

/* ---- GICv3 ------------------------------------------------------------------------------ */

/* distributor (IHI 0069 12.9) */
#define GICD_CTLR 0x0000u
#define GICD_IIDR 0x0008u
#define GICD_IGROUPR 0x0080u
#define GICD_ISENABLER 0x0100u
#define GICD_ISPENDR 0x0200u
#define GICD_ISACTIVER 0x0300u
#define GICD_IPRIORITYR 0x0400u
#define GICD_ICFGR 0x0c00u
#define GICD_IROUTER 0x6000u

size_t a64_gicv3_dist_regs(uint32_t *off, size_t cap)
{
    size_t n = 0;
#define PUT(x)            \
    do {                  \
        if (n < cap)      \
            off[n] = (x); \
        n++;              \
    } while (0)
    PUT(GICD_IIDR);
    PUT(GICD_CTLR);
    /* SPIs only: interrupts 0-31 are each redistributor's */
    for (uint32_t i = 32; i < A64_GIC_NR_IRQS; i += 32)
        PUT(GICD_IGROUPR + i / 8);
    for (uint32_t i = 32; i < A64_GIC_NR_IRQS; i += 4)
        PUT(GICD_IPRIORITYR + i);
    for (uint32_t i = 32; i < A64_GIC_NR_IRQS; i++) {
        PUT(GICD_IROUTER + 8 * i);
        PUT(GICD_IROUTER + 8 * i + 4);
    }
    for (uint32_t i = 32; i < A64_GIC_NR_IRQS; i += 16)
        PUT(GICD_ICFGR + i / 4);
    for (uint32_t i = 32; i < A64_GIC_NR_IRQS; i += 32)
        PUT(GICD_ISPENDR + i / 8);
    for (uint32_t i = 32; i < A64_GIC_NR_IRQS; i += 32)
        PUT(GICD_ISACTIVER + i / 8);
    for (uint32_t i = 32; i < A64_GIC_NR_IRQS; i += 32)
        PUT(GICD_ISENABLER + i / 8);
#undef PUT
    return n;
}

/* redistributor SGI_base frame (IHI 0069 12.10): the same order; its pending, active and
 * enable registers are the last three */
const uint32_t a64_gicv3_redist_regs[A64_GIC_REDIST_N] = {
    A64_GICR_SGI + 0x0080, /* GICR_IGROUPR0 */
    A64_GICR_SGI + 0x0400, A64_GICR_SGI + 0x0404, A64_GICR_SGI + 0x0408, /* IPRIORITYR0-7 */
    A64_GICR_SGI + 0x040c, A64_GICR_SGI + 0x0410, A64_GICR_SGI + 0x0414,
    A64_GICR_SGI + 0x0418, A64_GICR_SGI + 0x041c,
    A64_GICR_SGI + 0x0c04, /* GICR_ICFGR1 (PPIs; ICFGR0's SGIs are always edge) */
    A64_GICR_SGI + 0x0200, /* GICR_ISPENDR0 */
    A64_GICR_SGI + 0x0300, /* GICR_ISACTIVER0 */
    A64_GICR_SGI + 0x0100, /* GICR_ISENABLER0 */
};

#define ICC(op0, op1, crn, crm, op2) \
    (uint16_t)((op0) << 14 | (op1) << 11 | (crn) << 7 | (crm) << 3 | (op2))
const uint16_t a64_gicv3_icc_regs[A64_GIC_ICC_N] = {
    ICC(3, 0, 12, 12, 5), /* ICC_SRE_EL1 */
    ICC(3, 0, 12, 12, 4), /* ICC_CTLR_EL1: PRIbits says how many APRs exist */
    ICC(3, 0, 4, 6, 0),   /* ICC_PMR_EL1 */
    ICC(3, 0, 12, 8, 3),  /* ICC_BPR0_EL1 */
    ICC(3, 0, 12, 12, 3), /* ICC_BPR1_EL1 */
    ICC(3, 0, 12, 8, 4), ICC(3, 0, 12, 8, 5), ICC(3, 0, 12, 8, 6), ICC(3, 0, 12, 8, 7), /* AP0R */
    ICC(3, 0, 12, 9, 0), ICC(3, 0, 12, 9, 1), ICC(3, 0, 12, 9, 2), ICC(3, 0, 12, 9, 3), /* AP1R */
    ICC(3, 0, 12, 12, 6), /* ICC_IGRPEN0_EL1: the group enables last */
    ICC(3, 0, 12, 12, 7), /* ICC_IGRPEN1_EL1 */
};

int a64_gic_parse(const uint8_t *p, size_t len, uint32_t ncpus, struct a64_gic_view *out,
                  struct bl_error *err)
{
    const char *what = "GIC";
    memset(out, 0, sizeof *out);
    if (vmsnap_rec_check(p, len, A64_V_END, what, err) < 0)
        return -err->code;
    uint32_t hdr[3];
    if (vmsnap_rec_copy(p, len, A64_V_GIC, hdr, sizeof hdr, what, err) < 0)
        return -err->code;
    if (hdr[0] != A64_GIC_V3 || hdr[1] != A64_GIC_NR_IRQS || hdr[2] != ncpus)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: a GICv%u with %u interrupts and "
                      "%u vCPUs; this machine has a GICv3 with %u and %u", hdr[0], hdr[1],
                      hdr[2], A64_GIC_NR_IRQS, ncpus);
    size_t nd = a64_gicv3_dist_regs(NULL, 0);
    struct { uint32_t tag; size_t want; const uint8_t **to; } rec[] = {
        { A64_V_DIST, nd * 4, &out->dist },
        { A64_V_REDIST, (size_t)ncpus * A64_GIC_REDIST_N * 4, &out->redist },
        { A64_V_ICC, (size_t)ncpus * A64_GIC_ICC_N * 8, &out->icc },
        { A64_V_LEVEL, (size_t)ncpus * A64_GIC_LEVEL_WORDS * 4, &out->level },
    };
    for (size_t i = 0; i < sizeof rec / sizeof rec[0]; i++) {
        size_t n = 0;
        const uint8_t *d = vmsnap_rec_get(p, len, rec[i].tag, &n);
        if (!d || n != rec[i].want)
            return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: GIC record %u: %zu bytes, "
                          "%zu expected", rec[i].tag, d ? n : 0, rec[i].want);
        *rec[i].to = d;
    }
    out->ncpus = ncpus;
    return 0;
}
