// SPDX-License-Identifier: Apache-2.0
/* x86_64 state for the KVM engine's snapshots (src/vmm/snapshot.h): each vCPU's registers,
 * FPU/XSAVE, XCRs, MSRs, local APIC, pending events, MP state and debug registers, and the
 * VM-wide in-kernel irqchip (two 8259 PICs and the IOAPIC, as KVM_CREATE_IRQCHIP makes
 * them), the PIT (KVM_CREATE_PIT2) and the KVM clock. The order of the KVM_SET_* calls is
 * the one Linux's Documentation/virt/kvm/api.rst asks for: special registers (APIC base,
 * control registers) before the local APIC and MP state, MSRs after the local APIC (the
 * TSC deadline MSR only sticks in TSC-deadline mode), KVM_SET_CLOCK once per VM.
 * A payload comes from a file the box's user can write: each record must have exactly
 * the size of this build's structure, MSRs are restored only if this host's KVM lists
 * them, and KVM itself refuses register values the CPU would not accept. */
#include "vmm/arch/arch.h"
#include "vmm/arch/x86_64/x86.h"
#include "vmm/snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

enum { /* vCPU records */
    R_REGS = 1,
    R_SREGS,
    R_XSAVE,
    R_FPU,
    R_XCRS,
    R_LAPIC,
    R_MSRS,
    R_MP_STATE,
    R_EVENTS,
    R_DEBUGREGS,
    R_VCPU_END
};
enum { /* VM records */
    V_PIC_MASTER = 1,
    V_PIC_SLAVE,
    V_IOAPIC,
    V_PIT2,
    V_CLOCK,
    V_END
};

#define MSRS_MAX 1024

/* The MSR indices this host's KVM saves and restores (KVM_GET_MSR_INDEX_LIST); malloc'd. */
static struct kvm_msr_list *msr_index_list(int kvm_fd, struct bl_error *err)
{
    struct kvm_msr_list probe = { .nmsrs = 0 };
    if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
        return bl_errno(err, errno, "KVM_GET_MSR_INDEX_LIST"), NULL;
    if (probe.nmsrs > MSRS_MAX)
        return bl_err(err, BOXLITE_ERR_ENGINE, "KVM lists %u MSRs, more than %u", probe.nmsrs,
                      MSRS_MAX), NULL;
    struct kvm_msr_list *l = calloc(1, sizeof *l + probe.nmsrs * sizeof(uint32_t));
    if (!l)
        return bl_errno(err, ENOMEM, "MSR list"), NULL;
    l->nmsrs = probe.nmsrs;
    if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
        bl_errno(err, errno, "KVM_GET_MSR_INDEX_LIST");
        free(l);
        return NULL;
    }
    return l;
}

static int xsave_size(int kvm_fd)
{
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) <= 0)
        return 0;
    int n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
    return n > (int)sizeof(struct kvm_xsave) ? n : (int)sizeof(struct kvm_xsave);
}

/* The MSRs KVM lists that this vCPU can read: a KVM_GET_MSRS stops at the first it cannot
 * (a PMU counter without a PMU, a feature the guest's CPUID lacks); that one is left out
 * and the rest read on. */
static int save_msrs(int kvm_fd, int vcpu_fd, struct vmsnap_buf *p, struct bl_error *err)
{
    struct kvm_msr_list *l = msr_index_list(kvm_fd, err);
    if (!l)
        return -err->code;
    struct kvm_msrs *m = calloc(1, sizeof *m + l->nmsrs * sizeof(struct kvm_msr_entry));
    struct kvm_msr_entry *out = calloc(l->nmsrs ? l->nmsrs : 1, sizeof *out);
    unsigned nout = 0;
    int r = 0;
    if (!m || !out)
        r = bl_errno(err, ENOMEM, "MSRs");
    for (unsigned from = 0; r == 0 && from < l->nmsrs;) {
        m->nmsrs = l->nmsrs - from;
        for (unsigned i = 0; i < m->nmsrs; i++)
            m->entries[i] = (struct kvm_msr_entry){ .index = l->indices[from + i] };
        int got = ioctl(vcpu_fd, KVM_GET_MSRS, m);
        if (got < 0) {
            r = bl_errno(err, errno, "KVM_GET_MSRS");
            break;
        }
        memcpy(out + nout, m->entries, (size_t)got * sizeof *out);
        nout += (unsigned)got;
        from += (unsigned)got + 1; /* skip the one it could not read */
    }
    if (r == 0)
        vmsnap_rec(p, R_MSRS, out, nout * sizeof *out);
    free(out);
    free(m);
    free(l);
    return r;
}

#define GET(ioc, what, rec)                                                                \
    do {                                                                                   \
        if (ioctl(vcpu_fd, ioc, &what) < 0)                                                \
            return bl_errno(err, errno, #ioc);                                             \
        vmsnap_rec(p, rec, &what, sizeof what);                                            \
    } while (0)

int arch_vcpu_save(int kvm_fd, int vcpu_fd, struct vmsnap_buf *p, struct bl_error *err)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    struct kvm_xcrs xcrs;
    struct kvm_lapic_state lapic;
    struct kvm_mp_state mp;
    struct kvm_vcpu_events ev;
    struct kvm_debugregs dr;
    GET(KVM_GET_REGS, regs, R_REGS);
    GET(KVM_GET_SREGS, sregs, R_SREGS);
    int xs = xsave_size(kvm_fd);
    if (xs > 0) {
        struct kvm_xsave *x = calloc(1, (size_t)xs);
        if (!x)
            return bl_errno(err, ENOMEM, "XSAVE area");
        unsigned long ioc = xs > (int)sizeof *x ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
        if (ioctl(vcpu_fd, ioc, x) < 0) {
            int e = errno;
            free(x);
            return bl_errno(err, e, "KVM_GET_XSAVE");
        }
        vmsnap_rec(p, R_XSAVE, x, (size_t)xs);
        free(x);
    } else {
        GET(KVM_GET_FPU, fpu, R_FPU);
    }
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0)
        GET(KVM_GET_XCRS, xcrs, R_XCRS);
    GET(KVM_GET_LAPIC, lapic, R_LAPIC);
    if (save_msrs(kvm_fd, vcpu_fd, p, err) < 0)
        return -err->code;
    GET(KVM_GET_MP_STATE, mp, R_MP_STATE);
    GET(KVM_GET_VCPU_EVENTS, ev, R_EVENTS);
    GET(KVM_GET_DEBUGREGS, dr, R_DEBUGREGS);
    return p->failed ? bl_err(err, BOXLITE_ERR_NOMEM, "vCPU state: %s", p->failed) : 0;
}

#define SET(tag, type, ioc)                                                                \
    do {                                                                                   \
        type v_;                                                                           \
        if (vmsnap_rec_copy(p, len, tag, &v_, sizeof v_, what, err) < 0)                   \
            return -err->code;                                                             \
        if (ioctl(vcpu_fd, ioc, &v_) < 0)                                                  \
            return bl_errno(err, errno, "%s: " #ioc, what);                                \
    } while (0)

/* Only MSRs this host's KVM lists, each once: the file may name any index. */
static int restore_msrs(int kvm_fd, int vcpu_fd, const uint8_t *p, size_t len,
                        const char *what, struct bl_error *err)
{
    size_t n = 0;
    const uint8_t *d = vmsnap_rec_get(p, len, R_MSRS, &n);
    if (!d || n % sizeof(struct kvm_msr_entry) || n / sizeof(struct kvm_msr_entry) > MSRS_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: %s: MSR record missing or malformed",
                      what);
    unsigned count = (unsigned)(n / sizeof(struct kvm_msr_entry));
    struct kvm_msr_list *l = msr_index_list(kvm_fd, err);
    if (!l)
        return -err->code;
    struct kvm_msrs *m = calloc(1, sizeof *m + (count ? count : 1) * sizeof(struct kvm_msr_entry));
    int r = 0;
    if (!m)
        r = bl_errno(err, ENOMEM, "MSRs");
    for (unsigned i = 0; r == 0 && i < count; i++) {
        memcpy(&m->entries[i], d + i * sizeof(struct kvm_msr_entry), sizeof m->entries[i]);
        uint32_t idx = m->entries[i].index;
        bool listed = false;
        for (unsigned j = 0; j < l->nmsrs && !listed; j++)
            listed = l->indices[j] == idx;
        for (unsigned j = 0; j < i && listed; j++)
            listed = m->entries[j].index != idx;
        if (!listed)
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "snapshot: %s: MSR %#x is not one this host's KVM saves (or repeated)",
                       what, idx);
        m->entries[i].reserved = 0;
    }
    if (m)
        m->nmsrs = count;
    if (r == 0 && count) {
        int set = ioctl(vcpu_fd, KVM_SET_MSRS, m);
        if (set < 0)
            r = bl_errno(err, errno, "%s: KVM_SET_MSRS", what);
        else if ((unsigned)set != count)
            r = bl_err(err, BOXLITE_ERR_INVALID, "%s: KVM refused MSR %#x = %#llx", what,
                       m->entries[set].index, (unsigned long long)m->entries[set].data);
    }
    free(m);
    free(l);
    return r;
}

int arch_vcpu_restore(int kvm_fd, int vcpu_fd, unsigned id, const uint8_t *p, size_t len,
                      struct bl_error *err)
{
    char what[32];
    snprintf(what, sizeof what, "vCPU %u", id);
    if (vmsnap_rec_check(p, len, R_VCPU_END, what, err) < 0)
        return -err->code;
    SET(R_SREGS, struct kvm_sregs, KVM_SET_SREGS);
    SET(R_REGS, struct kvm_regs, KVM_SET_REGS);
    int xs = xsave_size(kvm_fd);
    size_t n = 0;
    if (xs > 0) {
        const uint8_t *d = vmsnap_rec_get(p, len, R_XSAVE, &n);
        if (!d || n != (size_t)xs)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "snapshot: %s: XSAVE record of %zu bytes, this host's is %d", what, n,
                          xs);
        struct kvm_xsave *x = calloc(1, (size_t)xs);
        if (!x)
            return bl_errno(err, ENOMEM, "XSAVE area");
        memcpy(x, d, (size_t)xs);
        int r = ioctl(vcpu_fd, KVM_SET_XSAVE, x);
        int e = errno;
        free(x);
        if (r < 0)
            return bl_errno(err, e, "%s: KVM_SET_XSAVE", what);
    } else {
        SET(R_FPU, struct kvm_fpu, KVM_SET_FPU);
    }
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0)
        SET(R_XCRS, struct kvm_xcrs, KVM_SET_XCRS);
    SET(R_LAPIC, struct kvm_lapic_state, KVM_SET_LAPIC);
    if (restore_msrs(kvm_fd, vcpu_fd, p, len, what, err) < 0)
        return -err->code;
    SET(R_MP_STATE, struct kvm_mp_state, KVM_SET_MP_STATE);
    struct kvm_vcpu_events ev;
    if (vmsnap_rec_copy(p, len, R_EVENTS, &ev, sizeof ev, what, err) < 0)
        return -err->code;
    /* What KVM_GET_VCPU_EVENTS filled but does not flag as valid for a set. */
    ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
    if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
        return bl_errno(err, errno, "%s: KVM_SET_VCPU_EVENTS", what);
    SET(R_DEBUGREGS, struct kvm_debugregs, KVM_SET_DEBUGREGS);
    return 0;
}

/* ---- the VM ----------------------------------------------------------------------------- */

int arch_vm_save(int vm_fd, struct vmsnap_buf *p, struct bl_error *err)
{
    for (uint32_t chip = 0; chip < 3; chip++) {
        struct kvm_irqchip c = { .chip_id = chip };
        if (ioctl(vm_fd, KVM_GET_IRQCHIP, &c) < 0)
            return bl_errno(err, errno, "KVM_GET_IRQCHIP %u", chip);
        vmsnap_rec(p, V_PIC_MASTER + chip, &c, sizeof c);
    }
    struct kvm_pit_state2 pit;
    if (ioctl(vm_fd, KVM_GET_PIT2, &pit) < 0)
        return bl_errno(err, errno, "KVM_GET_PIT2");
    vmsnap_rec(p, V_PIT2, &pit, sizeof pit);
    struct kvm_clock_data clk = { 0 };
    if (ioctl(vm_fd, KVM_GET_CLOCK, &clk) < 0)
        return bl_errno(err, errno, "KVM_GET_CLOCK");
    vmsnap_rec(p, V_CLOCK, &clk, sizeof clk);
    return p->failed ? bl_err(err, BOXLITE_ERR_NOMEM, "VM state: %s", p->failed) : 0;
}

int arch_vm_restore(int vm_fd, const uint8_t *p, size_t len, struct bl_error *err)
{
    const char *what = "VM";
    if (vmsnap_rec_check(p, len, V_END, what, err) < 0)
        return -err->code;
    for (uint32_t chip = 0; chip < 3; chip++) {
        struct kvm_irqchip c;
        if (vmsnap_rec_copy(p, len, V_PIC_MASTER + chip, &c, sizeof c, what, err) < 0)
            return -err->code;
        if (c.chip_id != chip)
            return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: irqchip record %u names chip %u",
                          chip, c.chip_id);
        if (ioctl(vm_fd, KVM_SET_IRQCHIP, &c) < 0)
            return bl_errno(err, errno, "KVM_SET_IRQCHIP %u", chip);
    }
    struct kvm_pit_state2 pit;
    if (vmsnap_rec_copy(p, len, V_PIT2, &pit, sizeof pit, what, err) < 0)
        return -err->code;
    if (ioctl(vm_fd, KVM_SET_PIT2, &pit) < 0)
        return bl_errno(err, errno, "KVM_SET_PIT2");
    struct kvm_clock_data clk;
    if (vmsnap_rec_copy(p, len, V_CLOCK, &clk, sizeof clk, what, err) < 0)
        return -err->code;
    /* The guest's clock goes on from where it stopped: only the count, no host time (the
     * agent steps the guest's wall clock when the host greets it after a resume). */
    struct kvm_clock_data set = { .clock = clk.clock };
    if (ioctl(vm_fd, KVM_SET_CLOCK, &set) < 0)
        return bl_errno(err, errno, "KVM_SET_CLOCK");
    return 0;
}
