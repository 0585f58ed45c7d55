// SPDX-License-Identifier: Apache-2.0
/* aarch64 state for the KVM engine's snapshots (src/vmm/snapshot.h; the payloads' shape and
 * checks are snaprec.c's), after Linux Documentation/virt/kvm/api.rst and
 * devices/arm-vgic-v3.rst:
 *   a vCPU: every register KVM_GET_REG_LIST names (core, FP/SIMD, system registers, the
 *     virtual timer's CTL/CNT/CVAL, the firmware pseudo-registers, the cache size demux)
 *     read with KVM_GET_ONE_REG, the pending SError (KVM_GET_VCPU_EVENTS) and the MP state
 *     (a secondary vCPU the guest never started, or stopped, is STOPPED);
 *   the VM: the GICv3 through its device attributes (distributor, each redistributor and CPU
 *     interface, the input line levels), read while no vCPU runs.
 * A restore goes into a machine built as the saved one (machine_restore): its vCPUs through
 * KVM_ARM_VCPU_INIT, none run yet. The GIC is initialised (KVM_DEV_ARM_VGIC_CTRL_INIT, which
 * arm-vgic-v3.rst wants before its registers are set) and filled first; then each vCPU, whose
 * register list must be the host's, id for id, and whose ID registers must read what this
 * CPU reads, both checked before the first KVM_SET_ONE_REG so a refused snapshot sets
 * nothing. The timer's CNT sets the VM's virtual counter offset: the guest's clock goes on
 * from where it stopped (the agent steps its wall clock when the host greets it). The
 * firmware registers are taken only before a vCPU's first run, which is the case here. */
#include "vmm/arch/arch.h"
#include "aarch64.h"
#include "common/sha256.h"
#include "vmm/snapshot.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* ---- vCPUs ------------------------------------------------------------------------------ */

/* This vCPU's register list (KVM_GET_REG_LIST); malloc'd, n into *n. */
static uint64_t *reg_list(int vcpu_fd, size_t *n, struct bl_error *err)
{
    struct kvm_reg_list probe = { .n = 0 };
    if (ioctl(vcpu_fd, KVM_GET_REG_LIST, &probe) == 0 || errno != E2BIG)
        return bl_errno(err, errno ? errno : EINVAL, "KVM_GET_REG_LIST"), NULL;
    if (probe.n == 0 || probe.n > A64_REGS_MAX)
        return bl_err(err, BOXLITE_ERR_ENGINE, "KVM lists %llu vCPU registers (at most %d)",
                      (unsigned long long)probe.n, A64_REGS_MAX), NULL;
    struct kvm_reg_list *l = calloc(1, sizeof *l + probe.n * sizeof(uint64_t));
    if (!l)
        return bl_errno(err, ENOMEM, "register list"), NULL;
    l->n = probe.n;
    if (ioctl(vcpu_fd, KVM_GET_REG_LIST, l) < 0) {
        bl_errno(err, errno, "KVM_GET_REG_LIST");
        free(l);
        return NULL;
    }
    *n = (size_t)l->n;
    memmove(l, l->reg, *n * sizeof(uint64_t)); /* the ids alone */
    return (uint64_t *)l;
}

static int one_reg(int vcpu_fd, unsigned long ioc, uint64_t id, void *v, struct bl_error *err)
{
    struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)v };
    if (ioctl(vcpu_fd, ioc, &r) == 0)
        return 0;
    char name[48];
    a64_reg_name(id, name, sizeof name);
    return bl_errno(err, errno, "%s %s", ioc == KVM_GET_ONE_REG ? "KVM_GET_ONE_REG" :
                    "KVM_SET_ONE_REG", name);
}

int arch_vcpu_save(int kvm_fd, int vcpu_fd, struct vmsnap_buf *p, struct bl_error *err)
{
    size_t n = 0, total = 0;
    uint64_t *ids = reg_list(vcpu_fd, &n, err);
    if (!ids)
        return -err->code;
    for (size_t i = 0; i < n; i++) {
        size_t s = a64_reg_size(ids[i]);
        if (!s) {
            char name[48];
            a64_reg_name(ids[i], name, sizeof name);
            free(ids);
            return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "vCPU register %s: a size the "
                          "snapshot does not save", name);
        }
        total += s;
    }
    uint8_t *vals = malloc(total);
    int r = vals ? 0 : bl_errno(err, ENOMEM, "register values");
    for (size_t i = 0, off = 0; r == 0 && i < n; off += a64_reg_size(ids[i]), i++)
        r = one_reg(vcpu_fd, KVM_GET_ONE_REG, ids[i], vals + off, err);
    struct kvm_vcpu_events ev;
    memset(&ev, 0, sizeof ev);
    struct kvm_mp_state mp = { 0 };
    if (r == 0 && ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_VCPU_EVENTS) > 0 &&
        ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
        r = bl_errno(err, errno, "KVM_GET_VCPU_EVENTS");
    if (r == 0 && ioctl(vcpu_fd, KVM_GET_MP_STATE, &mp) < 0)
        r = bl_errno(err, errno, "KVM_GET_MP_STATE");
    if (r == 0) {
        vmsnap_rec(p, A64_R_IDS, ids, n * sizeof *ids);
        vmsnap_rec(p, A64_R_VALS, vals, total);
        vmsnap_rec(p, A64_R_MP_STATE, &mp.mp_state, sizeof mp.mp_state);
        vmsnap_rec(p, A64_R_EVENTS, &ev, sizeof ev);
    }
    free(vals);
    free(ids);
    if (r < 0)
        return r;
    return p->failed ? bl_err(err, BOXLITE_ERR_NOMEM, "vCPU state: %s", p->failed) : 0;
}

/* Each ID register of the snapshot reads the same on this vCPU (nothing set yet). */
static int same_cpu(int vcpu_fd, const struct a64_vcpu_view *v, const char *what,
                    struct bl_error *err)
{
    uint8_t here[16];
    for (size_t i = 0, off = 0; i < v->n; off += a64_reg_size(a64_vcpu_id(v, i)), i++) {
        uint64_t id = a64_vcpu_id(v, i);
        size_t s = a64_reg_size(id);
        if (!a64_reg_is_id(id))
            continue;
        if (one_reg(vcpu_fd, KVM_GET_ONE_REG, id, here, err) < 0)
            return -err->code;
        if (memcmp(here, v->vals + off, s)) {
            char name[48];
            a64_reg_name(id, name, sizeof name);
            uint64_t a = 0, b = 0;
            memcpy(&a, here, s < 8 ? s : 8);
            memcpy(&b, v->vals + off, s < 8 ? s : 8);
            return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: %s: CPU ID register %s is %#llx "
                          "in the snapshot, %#llx on this host: the snapshot was made on "
                          "another CPU", what, name, (unsigned long long)b,
                          (unsigned long long)a);
        }
    }
    return 0;
}

int arch_vcpu_restore(int kvm_fd, int vcpu_fd, unsigned id, const uint8_t *p, size_t len,
                      struct bl_error *err)
{
    char what[32];
    snprintf(what, sizeof what, "vCPU %u", id);
    struct a64_vcpu_view v;
    if (a64_vcpu_parse(p, len, what, &v, err) < 0)
        return -err->code;
    if (v.mp_state != KVM_MP_STATE_RUNNABLE && v.mp_state != KVM_MP_STATE_STOPPED)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: %s: MP state %u", what, v.mp_state);
    struct kvm_vcpu_events ev;
    bool events = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_VCPU_EVENTS) > 0;
    if (events && vmsnap_rec_copy(p, len, A64_R_EVENTS, &ev, sizeof ev, what, err) < 0)
        return -err->code;
    size_t n = 0;
    uint64_t *host = reg_list(vcpu_fd, &n, err);
    if (!host)
        return -err->code;
    int r = a64_vcpu_match(&v, host, n, what, err);
    free(host);
    if (r < 0 || same_cpu(vcpu_fd, &v, what, err) < 0)
        return -err->code;
    uint8_t val[16];
    for (size_t i = 0, off = 0; i < v.n; off += a64_reg_size(a64_vcpu_id(&v, i)), i++) {
        uint64_t rid = a64_vcpu_id(&v, i);
        if (a64_reg_is_id(rid))
            continue; /* equal already (same_cpu), and some refuse any write */
        memcpy(val, v.vals + off, a64_reg_size(rid));
        if (one_reg(vcpu_fd, KVM_SET_ONE_REG, rid, val, err) < 0)
            return bl_err_prefix(err, "%s", what);
    }
    if (events) {
        /* only what a guest can have pending: an SError, with or without its syndrome */
        memset(ev.reserved, 0, sizeof ev.reserved);
        if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
            return bl_errno(err, errno, "%s: KVM_SET_VCPU_EVENTS", what);
    }
    struct kvm_mp_state mp = { .mp_state = v.mp_state };
    if (ioctl(vcpu_fd, KVM_SET_MP_STATE, &mp) < 0)
        return bl_errno(err, errno, "%s: KVM_SET_MP_STATE", what);
    return 0;
}

/* ---- the GICv3 -------------------------------------------------------------------------- */

/* arm-vgic-v3.rst: a redistributor or CPU interface is named by its vCPU's affinity, Aff3 in
 * bits 56-63 down to Aff0 in bits 32-39 */
static uint64_t gic_mpidr(unsigned cpu)
{
    uint64_t m = a64_mpidr(cpu);
    return ((m & 0xffffff) | (m >> 32 & 0xff) << 24) << 32;
}

static int gic_reg(int fd, bool set, uint32_t group, uint64_t attr, void *v, struct bl_error *err)
{
    struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)v };
    if (ioctl(fd, set ? KVM_SET_DEVICE_ATTR : KVM_GET_DEVICE_ATTR, &a) == 0)
        return 0;
    return bl_errno(err, errno, "GIC: %s group %u attribute %#llx", set ? "set" : "get",
                    group, (unsigned long long)attr);
}

/* The GIC's registers in a64_gicv3_*'s lists for ncpus vCPUs, in one allocation. */
struct gic_regs {
    uint8_t *dist, *redist, *icc, *level;
    size_t ndist, nredist, nicc, nlevel; /* bytes */
};

static int gic_regs_alloc(unsigned ncpus, struct gic_regs *g, struct bl_error *err)
{
    g->ndist = a64_gicv3_dist_regs(NULL, 0) * 4;
    g->nredist = (size_t)ncpus * A64_GIC_REDIST_N * 4;
    g->nicc = (size_t)ncpus * A64_GIC_ICC_N * 8;
    g->nlevel = (size_t)ncpus * A64_GIC_LEVEL_WORDS * 4;
    g->dist = calloc(1, g->ndist + g->nredist + g->nicc + g->nlevel);
    if (!g->dist)
        return bl_errno(err, ENOMEM, "GIC state");
    g->redist = g->dist + g->ndist;
    g->icc = g->redist + g->nredist;
    g->level = g->icc + g->nicc;
    return 0;
}

/* This VM's GIC device, a GICv3, and its vCPU count. */
static int gic_v3(int vm_fd, unsigned *ncpus, struct bl_error *err)
{
    enum a64_gic v;
    int fd = a64_vm_gic(vm_fd, &v, ncpus);
    if (fd < 0)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "GIC: no device for this VM");
    if (v != A64_GIC_V3)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "this host's GICv2: snapshots are written for a GICv3 only");
    return fd;
}

/* Walks every register of the GIC of ncpus vCPUs, reading them into g (save) or writing
 * them from it (restore), in a64_gicv3_*'s order. An ICC_AP0R/AP1R beyond what
 * ICC_CTLR_EL1.PRIbits provides does not exist: it reads as 0 and is not written. */
static int gic_walk(int fd, bool set, unsigned ncpus, const struct gic_regs *g,
                    struct bl_error *err)
{
    uint32_t off[A64_GIC_DIST_MAX];
    size_t nd = a64_gicv3_dist_regs(off, A64_GIC_DIST_MAX);
    for (size_t i = 0; i < nd; i++)
        if (gic_reg(fd, set, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, off[i], g->dist + 4 * i, err) < 0)
            return -err->code;
    for (unsigned c = 0; c < ncpus; c++) {
        uint64_t mp = gic_mpidr(c);
        uint8_t *rd = g->redist + (size_t)c * A64_GIC_REDIST_N * 4;
        for (size_t i = 0; i < A64_GIC_REDIST_N; i++)
            if (gic_reg(fd, set, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
                        mp | a64_gicv3_redist_regs[i], rd + 4 * i, err) < 0)
                return -err->code;
        uint8_t *ic = g->icc + (size_t)c * A64_GIC_ICC_N * 8;
        unsigned naprs = 4;
        for (size_t i = 0; i < A64_GIC_ICC_N; i++) {
            bool apr = i >= A64_ICC_APR_FIRST && i < A64_ICC_APR_FIRST + 8;
            if (apr && (i - A64_ICC_APR_FIRST) % 4 >= naprs) {
                memset(ic + 8 * i, 0, 8);
                continue;
            }
            if (gic_reg(fd, set, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, mp | a64_gicv3_icc_regs[i],
                        ic + 8 * i, err) < 0)
                return -err->code;
            if (i == 1) { /* ICC_CTLR_EL1: PRIbits (bits 8-10) + 1 bits of priority: 5, 6
                           * or 7 give 1, 2 or 4 active priority registers (IHI 0069 12.2) */
                uint64_t ctlr;
                memcpy(&ctlr, ic + 8, 8);
                unsigned bits = (unsigned)(ctlr >> 8 & 7) + 1;
                naprs = bits >= 7 ? 4 : bits == 6 ? 2 : 1;
            }
        }
    }
    /* line levels last: the configuration that gives them meaning is in place */
    for (unsigned c = 0; c < ncpus; c++)
        for (unsigned w = 0; w < A64_GIC_LEVEL_WORDS; w++) {
            uint64_t attr = gic_mpidr(c) |
                            (uint64_t)VGIC_LEVEL_INFO_LINE_LEVEL
                                << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT |
                            32 * w;
            if (gic_reg(fd, set, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, attr,
                        g->level + ((size_t)c * A64_GIC_LEVEL_WORDS + w) * 4, err) < 0)
                return -err->code;
        }
    return 0;
}

int arch_vm_save(int vm_fd, struct vmsnap_buf *p, struct bl_error *err)
{
    unsigned ncpus;
    int fd = gic_v3(vm_fd, &ncpus, err);
    struct gic_regs g;
    if (fd < 0 || gic_regs_alloc(ncpus, &g, err) < 0)
        return -err->code;
    int r = gic_walk(fd, false, ncpus, &g, err);
    if (r == 0) {
        uint32_t hdr[3] = { A64_GIC_V3, A64_GIC_NR_IRQS, ncpus };
        vmsnap_rec(p, A64_V_GIC, hdr, sizeof hdr);
        vmsnap_rec(p, A64_V_DIST, g.dist, g.ndist);
        vmsnap_rec(p, A64_V_REDIST, g.redist, g.nredist);
        vmsnap_rec(p, A64_V_ICC, g.icc, g.nicc);
        vmsnap_rec(p, A64_V_LEVEL, g.level, g.nlevel);
    }
    free(g.dist);
    if (r < 0)
        return r;
    return p->failed ? bl_err(err, BOXLITE_ERR_NOMEM, "VM state: %s", p->failed) : 0;
}

int arch_vm_restore(int vm_fd, const uint8_t *p, size_t len, struct bl_error *err)
{
    unsigned ncpus;
    int fd = gic_v3(vm_fd, &ncpus, err);
    struct a64_gic_view saved;
    if (fd < 0 || a64_gic_parse(p, len, ncpus, &saved, err) < 0)
        return -err->code;
    /* the vCPUs exist (machine_restore ran arch_vcpu_init): the GIC can be initialised, and
     * must be before its registers are set */
    struct gic_regs g;
    if (arch_vm_finish(vm_fd, err) < 0 || gic_regs_alloc(ncpus, &g, err) < 0)
        return -err->code;
    /* a private copy: the walk goes through writable buffers, the payload stays read-only */
    memcpy(g.dist, saved.dist, g.ndist);
    memcpy(g.redist, saved.redist, g.nredist);
    memcpy(g.icc, saved.icc, g.nicc);
    memcpy(g.level, saved.level, g.nlevel);
    int r = gic_walk(fd, true, ncpus, &g, err);
    free(g.dist);
    return r < 0 ? bl_err_prefix(err, "restore the GIC") : 0;
}

/* The CPU a snapshot may resume on: the vCPU target KVM prefers on this host, which names
 * the core's implementation. The exact check is per register (same_cpu: every ID register
 * of the saved vCPU must read the same here), done once the vCPUs exist. */
int arch_cpu_fingerprint(int kvm_fd, const struct arch_cpu *c, uint8_t out[32],
                         struct bl_error *err)
{
    (void)kvm_fd;
    (void)c;
    uint32_t target;
    if (a64_vm_target(&target) < 0)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "no VM made yet: no vCPU target");
    char text[64];
    int n = snprintf(text, sizeof text, "aarch64 KVM vCPU target %u", target);
    sha256(text, (size_t)n, out);
    return 0;
}
