// SPDX-License-Identifier: Apache-2.0
/* x86_64 CPU templates: the CPUID a guest sees, built from a named, documented template
 * intersected with what the host's KVM supports (KVM_GET_SUPPORTED_CPUID), so a box sees the
 * same normalised CPU on any host that satisfies the template. Feature bits follow the Intel
 * SDM vol. 2A, "CPUID", and AMD APM vol. 3, appendix E; the levels follow the x86-64 psABI
 * (1.0, "Micro-architecture levels"): baseline = x86-64-v2, v3 = x86-64-v3.
 *
 * A template lists features as REQUIRED (the host must offer them, else the template is an
 * error naming what is missing) or WHEN PRESENT (passed on if the host has them: platform
 * and security features the kernel uses, and common ISA extras such as AES). Every other
 * bit of the feature leaves is cleared, leaves describing hidden features are dropped, and
 * the XSAVE leaf (0xD) is rebuilt for the state components the template exposes. Vendor,
 * family/model/stepping, brand string, caches and KVM's own leaves (0x4000_00xx) are the
 * host's. Features that need a permission first (AMX: arch_prctl ARCH_REQ_XCOMP_GUEST_PERM,
 * and XFD) are never exposed, not even by "host". */
#include "x86.h"

#include "vmm/arch/arch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EAX, EBX, ECX, EDX };
enum { REQUIRED = 1, WHEN_PRESENT = 2 };

struct feature {
    uint32_t leaf;
    uint8_t sub, reg, bit;
    const char *name;
};

#define F(l, s, r, b, n) { l, s, r, b, n }

/* x86-64 itself as our guest kernel needs it (Linux's required-features.h for 64-bit, plus
 * the local APIC and TSC our machine relies on) and the psABI baseline (x86-64-v1). */
static const struct feature level_v1[] = {
    F(1, 0, EDX, 0, "fpu"),     F(1, 0, EDX, 3, "pse"),   F(1, 0, EDX, 4, "tsc"),
    F(1, 0, EDX, 5, "msr"),     F(1, 0, EDX, 6, "pae"),   F(1, 0, EDX, 8, "cx8"),
    F(1, 0, EDX, 9, "apic"),    F(1, 0, EDX, 13, "pge"),  F(1, 0, EDX, 15, "cmov"),
    F(1, 0, EDX, 23, "mmx"),    F(1, 0, EDX, 24, "fxsr"), F(1, 0, EDX, 25, "sse"),
    F(1, 0, EDX, 26, "sse2"),   F(0x80000001, 0, EDX, 11, "syscall"),
    F(0x80000001, 0, EDX, 29, "lm"),
};
/* x86-64-v2 */
static const struct feature level_v2[] = {
    F(1, 0, ECX, 0, "sse3"),    F(1, 0, ECX, 9, "ssse3"),   F(1, 0, ECX, 13, "cx16"),
    F(1, 0, ECX, 19, "sse4_1"), F(1, 0, ECX, 20, "sse4_2"), F(1, 0, ECX, 23, "popcnt"),
    F(0x80000001, 0, ECX, 0, "lahf_lm"),
};
/* x86-64-v3 (OSXSAVE is the guest kernel's to set: KVM derives it from CR4) */
static const struct feature level_v3[] = {
    F(1, 0, ECX, 12, "fma"),    F(1, 0, ECX, 22, "movbe"), F(1, 0, ECX, 26, "xsave"),
    F(1, 0, ECX, 28, "avx"),    F(1, 0, ECX, 29, "f16c"),  F(7, 0, EBX, 3, "bmi1"),
    F(7, 0, EBX, 5, "avx2"),    F(7, 0, EBX, 8, "bmi2"),   F(0x80000001, 0, ECX, 5, "lzcnt"),
};
/* Platform and security features: what the kernel uses to run well and to choose its
 * mitigations; user programs do not execute them. */
static const struct feature platform[] = {
    F(1, 0, EDX, 1, "vme"),          F(1, 0, EDX, 2, "de"),           F(1, 0, EDX, 7, "mce"),
    F(1, 0, EDX, 11, "sep"),         F(1, 0, EDX, 12, "mtrr"),        F(1, 0, EDX, 14, "mca"),
    F(1, 0, EDX, 16, "pat"),         F(1, 0, EDX, 17, "pse36"),       F(1, 0, EDX, 19, "clflush"),
    F(1, 0, ECX, 17, "pcid"),        F(1, 0, ECX, 21, "x2apic"),      F(1, 0, ECX, 24, "tsc_deadline_timer"),
    F(7, 0, EBX, 0, "fsgsbase"),     F(7, 0, EBX, 1, "tsc_adjust"),   F(7, 0, EBX, 7, "smep"),
    F(7, 0, EBX, 9, "erms"),         F(7, 0, EBX, 10, "invpcid"),     F(7, 0, EBX, 20, "smap"),
    F(7, 0, ECX, 2, "umip"),         F(7, 0, EDX, 4, "fsrm"),         F(7, 0, EDX, 10, "md_clear"),
    F(7, 0, EDX, 26, "spec_ctrl"),   F(7, 0, EDX, 27, "intel_stibp"), F(7, 0, EDX, 28, "flush_l1d"),
    F(7, 0, EDX, 29, "arch_capabilities"), F(7, 0, EDX, 31, "spec_ctrl_ssbd"),
    F(0x80000001, 0, EDX, 20, "nx"), F(0x80000001, 0, EDX, 26, "pdpe1gb"),
    F(0x80000001, 0, EDX, 27, "rdtscp"), F(0x80000001, 0, ECX, 4, "cr8_legacy"),
    F(0x80000008, 0, EBX, 12, "ibpb"), F(0x80000008, 0, EBX, 14, "ibrs"),
    F(0x80000008, 0, EBX, 15, "amd_stibp"), F(0x80000008, 0, EBX, 24, "amd_ssbd"),
    F(0x80000008, 0, EBX, 25, "virt_ssbd"), F(0x80000008, 0, EBX, 26, "amd_ssb_no"),
    F(0x80000021, 0, EAX, 0, "no_nested_data_bp"), F(0x80000021, 0, EAX, 2, "lfence_rdtsc"),
    F(0x80000021, 0, EAX, 6, "null_sel_clr_base"),
};
/* Common ISA extensions outside the levels, passed on where the host has them. */
static const struct feature isa_extras[] = {
    F(1, 0, ECX, 1, "pclmulqdq"),    F(1, 0, ECX, 25, "aes"),         F(1, 0, ECX, 30, "rdrand"),
    F(7, 0, EBX, 18, "rdseed"),      F(7, 0, EBX, 19, "adx"),         F(7, 0, EBX, 23, "clflushopt"),
    F(7, 0, EBX, 24, "clwb"),        F(7, 0, EBX, 29, "sha_ni"),      F(7, 0, ECX, 22, "rdpid"),
    F(0x80000001, 0, ECX, 8, "3dnowprefetch"),
};
/* XSAVE instruction variants (leaf 0xD.1 EAX), with XSAVE. XSAVES and XFD are left out:
 * XSAVES brings supervisor state (IA32_XSS), XFD exists for AMX. */
static const struct feature xsave_variants[] = {
    F(0xd, 1, EAX, 0, "xsaveopt"), F(0xd, 1, EAX, 1, "xsavec"), F(0xd, 1, EAX, 2, "xgetbv1"),
};

struct group {
    const struct feature *f;
    size_t n;
    int kind;
};
#define G(a, k) { a, sizeof a / sizeof a[0], k }

struct template_def {
    const char *name;
    const char *summary;
    struct group groups[6];
    uint64_t xcr0; /* XSAVE state components the template may expose (XCR0 bits) */
    bool host;     /* pass-through */
};

/* XCR0 bits: Intel SDM vol. 1, 13.1 "XSAVE-supported features and state-component bitmaps" */
#define XCR0_X87 (1ull << 0)
#define XCR0_SSE (1ull << 1)
#define XCR0_AVX (1ull << 2)
#define XCR0_AMX (3ull << 17) /* XTILECFG, XTILEDATA: permission-gated */
#define XSAVE_LEGACY_SIZE 576 /* legacy region 512 + header 64 */

static const struct template_def templates[] = {
    { "v3", "x86-64-v3: baseline plus AVX, AVX2, BMI1, BMI2, FMA, F16C, LZCNT, MOVBE, XSAVE",
      { G(level_v1, REQUIRED), G(level_v2, REQUIRED), G(level_v3, REQUIRED),
        G(platform, WHEN_PRESENT), G(isa_extras, WHEN_PRESENT), G(xsave_variants, WHEN_PRESENT) },
      XCR0_X87 | XCR0_SSE | XCR0_AVX, false },
    { "baseline", "x86-64-v2: SSE up to SSE4.2, SSSE3, POPCNT, CMPXCHG16B, LAHF/SAHF; no XSAVE",
      { G(level_v1, REQUIRED), G(level_v2, REQUIRED), G(platform, WHEN_PRESENT),
        G(isa_extras, WHEN_PRESENT) },
      0, false },
    { "host", "everything the host's KVM supports, except permission-gated state (AMX, XFD)",
      { { 0 } }, ~XCR0_AMX, true },
};
#define NTEMPLATES (sizeof templates / sizeof templates[0])

/* arch.h: the same names, most capable first */
const char *const arch_cpu_templates[] = { "v3", "baseline", "host", NULL };

static const struct template_def *find_template(const char *name)
{
    for (size_t i = 0; i < NTEMPLATES; i++)
        if (strcmp(templates[i].name, name) == 0)
            return &templates[i];
    return NULL;
}

/* KVM_CPUID_FLAG_SIGNIFCANT_INDEX: without it the entry answers every sub-leaf. */
static bool indexed(const struct kvm_cpuid_entry2 *e)
{
    return e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t leaf,
                                     uint32_t sub)
{
    for (unsigned i = 0; i < n; i++)
        if (e[i].function == leaf && (!indexed(&e[i]) || e[i].index == sub))
            return &e[i];
    return NULL;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, unsigned reg)
{
    switch (reg) {
    case EAX: return &e->eax;
    case EBX: return &e->ebx;
    case ECX: return &e->ecx;
    default: return &e->edx;
    }
}

static bool host_has(const struct kvm_cpuid_entry2 *host, unsigned n, const struct feature *f)
{
    struct kvm_cpuid_entry2 *e = find((struct kvm_cpuid_entry2 *)host, n, f->leaf, f->sub);
    return e && (*reg_of(e, f->reg) >> f->bit & 1);
}

/* The registers a template filters bit by bit; everything in them not listed is cleared. */
static const struct { uint32_t leaf, sub; uint8_t reg; } masked_regs[] = {
    { 1, 0, ECX },          { 1, 0, EDX },          { 7, 0, EBX },          { 7, 0, ECX },
    { 7, 0, EDX },          { 0xd, 1, EAX },        { 0x80000001, 0, ECX }, { 0x80000001, 0, EDX },
    { 0x80000008, 0, EBX }, { 0x80000021, 0, EAX },
};

/* Leaves a (non-host) template passes on as the host has them: identification, caches,
 * topology (rewritten per vCPU), power management, KVM's leaves, and the leaves filtered
 * above. Every other leaf describes a feature the templates hide (PMU 0xA, SGX 0x12, PT
 * 0x14, AMX 0x1D/0x1E, SVM 0x8000000A, SEV 0x8000001F, ...) and is dropped. */
static bool leaf_kept(uint32_t leaf)
{
    static const uint32_t keep[] = { 0, 1, 2, 4, 5, 6, 7, 0xb, 0xd, 0x15, 0x16, 0x1f,
                                     0x80000000, 0x80000001, 0x80000002, 0x80000003,
                                     0x80000004, 0x80000005, 0x80000006, 0x80000007,
                                     0x80000008, 0x8000001d, 0x8000001e, 0x80000021 };
    if (leaf >= 0x40000000 && leaf <= 0x400000ff)
        return true;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (keep[i] == leaf)
            return true;
    return false;
}

/* AMD mirrors most of leaf 1 EDX in 0x80000001 EDX (APM vol. 3, E.4.2); a mirrored bit is
 * kept where its leaf 1 twin is. */
#define AMD_MIRROR_EDX 0x0183f3ffu

static void remove_at(struct kvm_cpuid_entry2 *e, unsigned *n, unsigned i)
{
    memmove(&e[i], &e[i + 1], (*n - i - 1) * sizeof *e);
    (*n)--;
}

/* Never exposed: AMX (leaf 7.0 EDX 22, 24, 25; 7.1 EAX 21 AMX-FP16; its leaves 0x1D and
 * 0x1E) and XFD (0xD.1 EAX 4), which need a permission the VMM does not ask for. */
static void strip_gated(struct kvm_cpuid_entry2 *e, unsigned *np)
{
    for (unsigned i = 0; i < *np;)
        if (e[i].function == 0x1d || e[i].function == 0x1e)
            remove_at(e, np, i);
        else
            i++;
    unsigned n = *np;
    struct kvm_cpuid_entry2 *x;
    if ((x = find(e, n, 7, 0)))
        x->edx &= ~((1u << 22) | (1u << 24) | (1u << 25));
    if ((x = find(e, n, 7, 1)))
        x->eax &= ~(1u << 21);
    if ((x = find(e, n, 0xd, 1)))
        x->eax &= ~(1u << 4);
}

static void append_name(char *buf, size_t len, const char *name)
{
    size_t used = strlen(buf);
    if (used < len)
        snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
}

/* XSAVE state components whose presence follows a feature flag: a component is only
 * exposed with its feature (SDM vol. 1, 13.2: MPX 3-4, AVX-512 5-7, PKRU 9). */
static uint64_t xcr0_for_features(struct kvm_cpuid_entry2 *e, unsigned n)
{
    struct kvm_cpuid_entry2 *l1 = find(e, n, 1, 0), *l7 = find(e, n, 7, 0);
    uint64_t m = ~0ull;
    if (!l1 || !(l1->ecx >> 26 & 1))
        return 0; /* no XSAVE at all */
    if (!(l1->ecx >> 28 & 1))
        m &= ~XCR0_AVX;
    if (!l7 || !(l7->ebx >> 14 & 1))
        m &= ~(3ull << 3); /* MPX */
    if (!l7 || !(l7->ebx >> 16 & 1))
        m &= ~(7ull << 5); /* AVX-512 opmask, ZMM_Hi256, Hi16_ZMM */
    if (!l7 || !(l7->ecx >> 3 & 1))
        m &= ~(1ull << 9); /* PKRU */
    return m & ~XCR0_AMX;
}

/* Rebuilds leaf 0xD for the components in xcr0 (& what the host offers). Returns the XCR0
 * mask exposed. Sub-leaf 0: EDX:EAX = the mask, ECX = the largest XSAVE area it can need,
 * EBX = the area for the XCR0 in use: the same largest size, since the vCPU starts with
 * every offered component enabled (cpu.c, set_xcr0; KVM recomputes EBX from XCR0 anyway).
 * Sub-leaves >= 2 survive only for exposed components. */
static uint64_t rebuild_xsave(struct kvm_cpuid_entry2 *e, unsigned *n, uint64_t xcr0,
                              bool keep_xss)
{
    struct kvm_cpuid_entry2 *d0 = find(e, *n, 0xd, 0);
    if (!d0 || !xcr0) {
        for (unsigned i = 0; i < *n;)
            if (e[i].function == 0xd)
                remove_at(e, n, i);
            else
                i++;
        return 0;
    }
    uint64_t host = (uint64_t)d0->edx << 32 | d0->eax;
    /* x87 and SSE state are architecturally there whenever XSAVE is. */
    uint64_t mask = (host & xcr0) | XCR0_X87 | XCR0_SSE;
    uint32_t max = XSAVE_LEGACY_SIZE;
    for (unsigned c = 2; c < 64; c++) {
        if (!(mask >> c & 1))
            continue;
        struct kvm_cpuid_entry2 *s = find(e, *n, 0xd, c);
        /* A component without a layout, or one laid out beyond any sane area, is dropped. */
        if (!s || !indexed(s) || s->eax == 0 || (uint64_t)s->ebx + s->eax > 0x100000) {
            mask &= ~(1ull << c);
            continue;
        }
        if (s->ebx + s->eax > max)
            max = s->ebx + s->eax;
    }
    uint64_t xss = 0;
    struct kvm_cpuid_entry2 *d1 = find(e, *n, 0xd, 1);
    if (d1 && keep_xss)
        xss = (uint64_t)d1->edx << 32 | d1->ecx;
    for (unsigned i = 0; i < *n;) {
        const struct kvm_cpuid_entry2 *s = &e[i];
        bool component = s->function == 0xd && indexed(s) && s->index >= 2;
        if (component && !(s->index < 64 && ((mask | xss) >> s->index & 1)))
            remove_at(e, n, i);
        else
            i++;
    }
    d0 = find(e, *n, 0xd, 0);
    d0->eax = (uint32_t)mask;
    d0->edx = (uint32_t)(mask >> 32);
    d0->ecx = max;
    d0->ebx = max;
    if ((d1 = find(e, *n, 0xd, 1)) && !keep_xss)
        d1->ecx = d1->edx = 0;
    return mask;
}

int x86_template_apply(const char *name, const struct kvm_cpuid_entry2 *host, unsigned nhost,
                       struct kvm_cpuid_entry2 *out, unsigned *nout, struct bl_error *err)
{
    const struct template_def *t = find_template(name);
    if (!t)
        return bl_err(err, BOXLITE_ERR_INVALID, "unknown CPU template \"%s\" (%s)", name,
                      "v3, baseline, host or auto");
    if (nhost > X86_CPUID_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "CPUID table: %u entries (at most %u)", nhost,
                      X86_CPUID_MAX);
    for (unsigned i = 0; i < nhost; i++) {
        /* Sub-leaves of 7 and 0xD mean different things; KVM always marks them. */
        if ((host[i].function == 7 || host[i].function == 0xd) && !indexed(&host[i]))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "CPUID table: leaf %#x without the significant-index flag",
                          host[i].function);
        for (unsigned j = i + 1; j < nhost; j++)
            if (host[i].function == host[j].function &&
                (indexed(&host[i]) ? host[i].index : 0) == (indexed(&host[j]) ? host[j].index : 0))
                return bl_err(err, BOXLITE_ERR_INVALID, "CPUID table: leaf %#x.%u twice",
                              host[i].function, host[i].index);
    }
    char missing[512] = "";
    for (size_t g = 0; g < 6; g++)
        for (size_t i = 0; i < t->groups[g].n; i++)
            if (t->groups[g].kind == REQUIRED && !host_has(host, nhost, &t->groups[g].f[i]))
                append_name(missing, sizeof missing, t->groups[g].f[i].name);
    if (missing[0])
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "CPU template %s: the host's KVM lacks %s", t->name, missing);

    memcpy(out, host, nhost * sizeof *host);
    unsigned n = nhost;
    if (!t->host) {
        for (unsigned i = 0; i < n;)
            if (!leaf_kept(out[i].function) ||
                (out[i].function == 7 && indexed(&out[i]) && out[i].index != 0))
                remove_at(out, &n, i);
            else
                i++;
        struct kvm_cpuid_entry2 *l7 = find(out, n, 7, 0);
        if (l7)
            l7->eax = 0; /* no sub-leaf beyond 0 */
        /* Filter: clear each masked register, then set back the template's bits the host
         * has. */
        uint32_t keep[sizeof masked_regs / sizeof masked_regs[0]] = { 0 };
        for (size_t g = 0; g < 6; g++)
            for (size_t i = 0; i < t->groups[g].n; i++) {
                const struct feature *f = &t->groups[g].f[i];
                if (!host_has(host, nhost, f))
                    continue;
                for (size_t r = 0; r < sizeof masked_regs / sizeof masked_regs[0]; r++)
                    if (masked_regs[r].leaf == f->leaf && masked_regs[r].sub == f->sub &&
                        masked_regs[r].reg == f->reg)
                        keep[r] |= 1u << f->bit;
            }
        struct kvm_cpuid_entry2 *l1 = find(out, n, 1, 0);
        for (size_t r = 0; r < sizeof masked_regs / sizeof masked_regs[0]; r++) {
            struct kvm_cpuid_entry2 *e = find(out, n, masked_regs[r].leaf, masked_regs[r].sub);
            if (!e)
                continue;
            uint32_t *v = reg_of(e, masked_regs[r].reg);
            uint32_t bits = keep[r];
            if (masked_regs[r].leaf == 0x80000001 && masked_regs[r].reg == EDX && l1)
                bits |= l1->edx & AMD_MIRROR_EDX & keep[1];
            *v &= bits;
        }
        struct kvm_cpuid_entry2 *x8 = find(out, n, 0x80000008, 0);
        if (x8)
            x8->edx = 0; /* AMD: INVLPGB and RDPRU limits, for features not exposed */
        struct kvm_cpuid_entry2 *x21 = find(out, n, 0x80000021, 0);
        if (x21)
            x21->ebx = x21->ecx = x21->edx = 0;
    }
    strip_gated(out, &n);
    uint64_t xcr0 = xcr0_for_features(out, n) & t->xcr0;
    uint64_t exposed = rebuild_xsave(out, &n, xcr0, t->host);
    /* A template that requires AVX needs its state component too. */
    struct kvm_cpuid_entry2 *l1 = find(out, n, 1, 0);
    if (l1 && (l1->ecx >> 28 & 1) && !(exposed & XCR0_AVX))
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "CPU template %s: the host's KVM lacks the AVX state component (XCR0 bit 2)",
                      t->name);
    if (l1) {
        if (!exposed) /* no XSAVE state: nothing VEX-encoded either */
            l1->ecx &= ~((1u << 26) | (1u << 28) | (1u << 29) | (1u << 12));
        l1->ecx &= ~(1u << 27); /* OSXSAVE: KVM derives it from the guest's CR4 */
    }
    struct kvm_cpuid_entry2 *l7 = find(out, n, 7, 0);
    if (l7)
        l7->ecx &= ~(1u << 4); /* OSPKE likewise */
    *nout = n;
    return x86_template_verify(name, host, nhost, out, n, err);
}

/* The rules every result must keep, checked on each build (cheap, and what the fuzz target
 * leans on): nothing the host lacks, nothing a non-host template does not list, no
 * permission-gated state, an XSAVE leaf consistent with the features. */
int x86_template_verify(const char *name, const struct kvm_cpuid_entry2 *host, unsigned nhost,
                        const struct kvm_cpuid_entry2 *out, unsigned n, struct bl_error *err)
{
    const struct template_def *t = find_template(name);
    if (!t)
        return bl_err(err, BOXLITE_ERR_INVALID, "unknown CPU template \"%s\"", name);
    struct kvm_cpuid_entry2 *o = (struct kvm_cpuid_entry2 *)out;
    for (size_t r = 0; r < sizeof masked_regs / sizeof masked_regs[0]; r++) {
        struct kvm_cpuid_entry2 *e = find(o, n, masked_regs[r].leaf, masked_regs[r].sub);
        struct kvm_cpuid_entry2 *h =
            find((struct kvm_cpuid_entry2 *)host, nhost, masked_regs[r].leaf, masked_regs[r].sub);
        if (!e)
            continue;
        uint32_t v = *reg_of(e, masked_regs[r].reg);
        if (!h || (v & ~*reg_of(h, masked_regs[r].reg)))
            return bl_err(err, BOXLITE_ERR_INTERNAL,
                          "CPU template %s: leaf %#x.%u reg %u exposes bits %#x the host lacks",
                          name, masked_regs[r].leaf, masked_regs[r].sub, masked_regs[r].reg,
                          h ? v & ~*reg_of(h, masked_regs[r].reg) : v);
        if (t->host)
            continue;
        uint32_t allowed = 0;
        for (size_t g = 0; g < 6; g++)
            for (size_t i = 0; i < t->groups[g].n; i++) {
                const struct feature *f = &t->groups[g].f[i];
                if (f->leaf == masked_regs[r].leaf && f->sub == masked_regs[r].sub &&
                    f->reg == masked_regs[r].reg)
                    allowed |= 1u << f->bit;
            }
        if (masked_regs[r].leaf == 0x80000001 && masked_regs[r].reg == EDX)
            allowed |= AMD_MIRROR_EDX;
        if (v & ~allowed)
            return bl_err(err, BOXLITE_ERR_INTERNAL,
                          "CPU template %s: leaf %#x.%u reg %u exposes bits %#x it does not list",
                          name, masked_regs[r].leaf, masked_regs[r].sub, masked_regs[r].reg,
                          v & ~allowed);
    }
    for (unsigned i = 0; i < n; i++) {
        if (!t->host && !leaf_kept(o[i].function))
            return bl_err(err, BOXLITE_ERR_INTERNAL, "CPU template %s: leaf %#x kept", name,
                          o[i].function);
        if ((o[i].function == 7 && indexed(&o[i]) && o[i].index == 0 && (o[i].edx & 0x3400000u)) ||
            o[i].function == 0x1d || o[i].function == 0x1e)
            return bl_err(err, BOXLITE_ERR_INTERNAL, "CPU template %s: AMX exposed", name);
    }
    struct kvm_cpuid_entry2 *d0 = find(o, n, 0xd, 0), *d1 = find(o, n, 0xd, 1);
    struct kvm_cpuid_entry2 *l1 = find(o, n, 1, 0);
    uint64_t mask = d0 ? (uint64_t)d0->edx << 32 | d0->eax : 0;
    if (mask & XCR0_AMX || (d1 && d1->eax >> 4 & 1))
        return bl_err(err, BOXLITE_ERR_INTERNAL, "CPU template %s: AMX state or XFD exposed",
                      name);
    if (mask & ~t->xcr0 & ~(XCR0_X87 | XCR0_SSE))
        return bl_err(err, BOXLITE_ERR_INTERNAL, "CPU template %s: XCR0 %#llx beyond its own",
                      name, (unsigned long long)mask);
    bool xsave = l1 && (l1->ecx >> 26 & 1);
    if (xsave != (mask != 0) || (l1 && (l1->ecx >> 28 & 1) && !(mask & XCR0_AVX)))
        return bl_err(err, BOXLITE_ERR_INTERNAL,
                      "CPU template %s: XSAVE flags and leaf 0xD disagree", name);
    if (d0) {
        uint32_t need = XSAVE_LEGACY_SIZE;
        for (unsigned c = 2; c < 64; c++) {
            if (!(mask >> c & 1))
                continue;
            struct kvm_cpuid_entry2 *s = find(o, n, 0xd, c);
            if (!s)
                return bl_err(err, BOXLITE_ERR_INTERNAL,
                              "CPU template %s: XSAVE component %u has no layout", name, c);
            if (s->ebx + s->eax > need)
                need = s->ebx + s->eax;
        }
        if (d0->ecx != need)
            return bl_err(err, BOXLITE_ERR_INTERNAL,
                          "CPU template %s: XSAVE area %u bytes, components need %u", name,
                          d0->ecx, need);
    }
    return 0;
}

int x86_template_auto(const struct kvm_cpuid_entry2 *host, unsigned nhost,
                      struct kvm_cpuid_entry2 *out, unsigned *nout, const char **chosen,
                      struct bl_error *err)
{
    char why[BL_ERRMSG_MAX] = "";
    for (size_t i = 0; i < NTEMPLATES; i++) {
        if (templates[i].host)
            continue; /* pass-through only when asked for */
        struct bl_error e = { 0 };
        if (x86_template_apply(templates[i].name, host, nhost, out, nout, &e) == 0) {
            *chosen = templates[i].name;
            return 0;
        }
        if (e.code != BOXLITE_ERR_UNSUPPORTED)
            return bl_err(err, e.code, "%s", e.msg);
        snprintf(why, sizeof why, "%s", e.msg); /* the least demanding one's reason */
    }
    return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                  "no CPU template fits this host (%s); the \"host\" template passes the CPU "
                  "through unchanged", why);
}

char *x86_template_describe(const char *name)
{
    static const char *const reg_names[] = { "eax", "ebx", "ecx", "edx" };
    const struct template_def *t = find_template(name);
    if (!t)
        return NULL;
    size_t cap = 8192, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    len += (size_t)snprintf(s + len, cap - len, "%s: %s\n", t->name, t->summary);
    if (t->host) {
        snprintf(s + len, cap - len,
                 "  every leaf as the host's KVM reports it (vCPU topology rewritten); AMX "
                 "(XTILECFG/XTILEDATA) and XFD removed\n");
        return s;
    }
    for (int kind = REQUIRED; kind <= WHEN_PRESENT; kind++) {
        len += (size_t)snprintf(s + len, cap - len, "  %s (feature, CPUID leaf.sub-leaf:register[bit]):\n   ",
                                kind == REQUIRED ? "required" : "when the host has them");
        size_t line = 3;
        for (size_t g = 0; g < 6; g++)
            for (size_t i = 0; i < t->groups[g].n && len < cap; i++)
                if (t->groups[g].kind == kind) {
                    const struct feature *f = &t->groups[g].f[i];
                    char item[96];
                    int n = snprintf(item, sizeof item, " %s(%#x.%u:%s[%u])", f->name, f->leaf,
                                     f->sub, reg_names[f->reg], f->bit);
                    if (line + (size_t)n > 96) { /* wrap */
                        len += (size_t)snprintf(s + len, cap - len, "\n   ");
                        line = 3;
                    }
                    if (len < cap)
                        len += (size_t)snprintf(s + len, cap - len, "%s", item);
                    line += (size_t)n;
                }
        if (len < cap)
            len += (size_t)snprintf(s + len, cap - len, "\n");
    }
    if (len < cap)
        snprintf(s + len, cap - len,
                 "  XSAVE state: %s; leaves dropped: PMU (0xA), SGX, PT, AMX, SVM, SEV and "
                 "every leaf not listed in cpu_template.c; vendor, model, caches and KVM's "
                 "leaves are the host's\n",
                 t->xcr0 & XCR0_AVX ? "x87, SSE, AVX (XCR0 0x7)" : "none (FXSAVE only)");
    return s;
}
