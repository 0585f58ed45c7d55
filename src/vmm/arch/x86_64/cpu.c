// SPDX-License-Identifier: Apache-2.0
/* x86_64 vCPU state at boot: identity page tables, a flat GDT, long-mode segment and control
 * registers, CPUID (the CPU template over what KVM supports, cpu_template.c, with this vCPU's
 * APIC id and topology), the MSRs Linux expects firmware to have set, and the local APIC's
 * LINT pins wired like a PC's. */
#include "vmm/arch/arch.h"

#include "common/sha256.h"
#include "x86.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* GDT entries (selector = index * 8). The 64-bit boot protocol wants __BOOT_CS = 0x10 and
 * __BOOT_DS = 0x18, flat 4 GiB. */
#define GDT_CODE 2
#define GDT_DATA 3
#define GDT_TSS 4
#define GDT_ENTRIES 5

/* Access byte and flags nibble, as in the descriptor's bits 40..55. */
#define SEG_CODE64 0xa09b /* G, L, present, code, execute/read, accessed */
#define SEG_DATA 0xc093   /* G, D/B, present, data, read/write, accessed */
#define SEG_TSS 0x808b    /* G, present, 64-bit busy TSS */

#define CR0_PE 0x1ull
#define CR0_ET 0x10ull
#define CR0_PG 0x80000000ull
#define CR4_PAE 0x20ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MISC_ENABLE_FAST_STRING 0x1ull
/* MTRRs enabled (bit 11), default type write-back (6): without it all memory is uncached
 * and a nested guest crawls. */
#define MTRR_DEF_TYPE_WB 0x806ull

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
    return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
           (uint64_t)(limit & 0xffffu) | ((uint64_t)(limit & 0xf0000u) << 32) |
           ((uint64_t)flags << 40);
}

static struct kvm_segment segment(unsigned index, uint16_t flags)
{
    bool g = flags & 0x8000;
    return (struct kvm_segment){
        .base = 0,
        .limit = g ? 0xffffffffu : 0xfffffu,
        .selector = (uint16_t)(index * 8),
        .type = flags & 0xf,
        .present = (flags >> 7) & 1,
        .dpl = (flags >> 5) & 3,
        .db = (flags >> 14) & 1,
        .s = (flags >> 4) & 1,
        .l = (flags >> 13) & 1,
        .g = g,
        .avl = (flags >> 12) & 1,
    };
}

int arch_write_cpu_tables(struct guest_mem *gm, struct bl_error *err)
{
    uint64_t *gdt = gm_ptr(gm, X86_GDT_ADDR, GDT_ENTRIES * 8);
    uint64_t *idt = gm_ptr(gm, X86_IDT_ADDR, 8);
    uint64_t *pml4 = gm_ptr(gm, X86_PML4_ADDR, 4096);
    uint64_t *pdpt = gm_ptr(gm, X86_PDPT_ADDR, 4096);
    uint64_t *pd = gm_ptr(gm, X86_PD_ADDR, 4 * 4096);
    if (!gdt || !idt || !pml4 || !pdpt || !pd)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "boot tables outside guest RAM");
    memset(gdt, 0, GDT_ENTRIES * 8);
    gdt[GDT_CODE] = gdt_entry(SEG_CODE64, 0, 0xfffff);
    gdt[GDT_DATA] = gdt_entry(SEG_DATA, 0, 0xfffff);
    gdt[GDT_TSS] = gdt_entry(SEG_TSS, 0, 0xfffff);
    *idt = 0;

    /* The first 4 GiB identity-mapped with 2 MiB pages: the kernel, its boot data, and the
     * MMIO hole (the kernel builds its own tables before it needs more). */
    memset(pml4, 0, 4096);
    memset(pdpt, 0, 4096);
    pml4[0] = X86_PDPT_ADDR | PTE_P | PTE_RW;
    for (uint64_t i = 0; i < 4; i++) {
        pdpt[i] = (X86_PD_ADDR + i * 4096) | PTE_P | PTE_RW;
        for (uint64_t j = 0; j < 512; j++)
            pd[i * 512 + j] = ((i * 512 + j) << 21) | PTE_P | PTE_RW | PTE_PS;
    }
    return 0;
}

static int set_sregs(int vcpu_fd, struct bl_error *err)
{
    struct kvm_sregs s;
    if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
        return bl_errno(err, errno, "KVM_GET_SREGS");
    s.gdt.base = X86_GDT_ADDR;
    s.gdt.limit = GDT_ENTRIES * 8 - 1;
    s.idt.base = X86_IDT_ADDR;
    s.idt.limit = 7;
    s.cs = segment(GDT_CODE, SEG_CODE64);
    s.ds = s.es = s.fs = s.gs = s.ss = segment(GDT_DATA, SEG_DATA);
    s.tr = segment(GDT_TSS, SEG_TSS);
    s.cr3 = X86_PML4_ADDR;
    s.cr4 |= CR4_PAE;
    s.cr0 = CR0_PE | CR0_ET | CR0_PG;
    s.efer |= EFER_LME | EFER_LMA;
    if (ioctl(vcpu_fd, KVM_SET_SREGS, &s) < 0)
        return bl_errno(err, errno, "KVM_SET_SREGS");
    return 0;
}

static int set_regs(int vcpu_fd, const struct arch_boot *boot, struct bl_error *err)
{
    struct kvm_regs r = {
        .rflags = 0x2, /* bit 1 is always set */
        .rip = boot->entry,
        .rsp = X86_BOOT_STACK,
        .rbp = X86_BOOT_STACK,
        .rsi = boot->boot_info, /* the 64-bit boot protocol's struct boot_params */
    };
    if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
        return bl_errno(err, errno, "KVM_SET_REGS");
    struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
    if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
        return bl_errno(err, errno, "KVM_SET_FPU");
    return 0;
}

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd, struct bl_error *err)
{
    for (unsigned n = 64; n <= 1024; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof *c + n * sizeof(struct kvm_cpuid_entry2));
        if (!c) {
            bl_errno(err, ENOMEM, "CPUID");
            return NULL;
        }
        c->nent = n;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            return c;
        int e = errno;
        free(c);
        if (e != E2BIG) {
            bl_errno(err, e, "KVM_GET_SUPPORTED_CPUID");
            return NULL;
        }
    }
    bl_err(err, BOXLITE_ERR_ENGINE, "KVM_GET_SUPPORTED_CPUID: too many entries");
    return NULL;
}

/* ---- the guest CPU (arch.h, "CPU templates") ---------------------------------------------- */

struct arch_cpu {
    const char *template; /* static name */
    unsigned n;
    struct kvm_cpuid_entry2 e[X86_CPUID_MAX];
};

static int cpu_build(const struct kvm_cpuid_entry2 *host, unsigned nhost, const char *name,
                     struct arch_cpu **out, struct bl_error *err)
{
    struct arch_cpu *c = calloc(1, sizeof *c);
    if (!c)
        return bl_errno(err, ENOMEM, "CPU template");
    int r;
    if (!name || !*name || strcmp(name, "auto") == 0) {
        r = x86_template_auto(host, nhost, c->e, &c->n, &c->template, err);
    } else {
        r = x86_template_apply(name, host, nhost, c->e, &c->n, err);
        for (const char *const *t = arch_cpu_templates; !r && *t; t++)
            if (strcmp(*t, name) == 0)
                c->template = *t;
    }
    if (r < 0) {
        free(c);
        return r;
    }
    *out = c;
    return 0;
}

int arch_cpu_new(int kvm_fd, const char *template_name, struct arch_cpu **out,
                 struct bl_error *err)
{
    struct kvm_cpuid2 *host = supported_cpuid(kvm_fd, err);
    if (!host)
        return -err->code;
    int r = host->nent > X86_CPUID_MAX
                ? bl_err(err, BOXLITE_ERR_ENGINE, "KVM_GET_SUPPORTED_CPUID: %u entries", host->nent)
                : cpu_build(host->entries, host->nent, template_name, out, err);
    free(host);
    return r;
}

int arch_cpu_from_dump(const char *dump, size_t len, const char *template_name,
                       struct arch_cpu **out, struct bl_error *err)
{
    struct kvm_cpuid_entry2 *host = calloc(X86_CPUID_MAX, sizeof *host);
    unsigned n = 0;
    if (!host)
        return bl_errno(err, ENOMEM, "CPUID table");
    int r = x86_cpuid_parse(dump, len, host, X86_CPUID_MAX, &n, err);
    if (r == 0)
        r = cpu_build(host, n, template_name, out, err);
    free(host);
    return r;
}

const char *arch_cpu_template(const struct arch_cpu *c) { return c ? c->template : "host"; }

void arch_cpu_free(struct arch_cpu *c) { free(c); }

char *arch_cpu_describe(const char *template_name)
{
    return x86_template_describe(template_name);
}

char *arch_cpu_host_dump(int kvm_fd, struct bl_error *err)
{
    struct kvm_cpuid2 *host = supported_cpuid(kvm_fd, err);
    if (!host)
        return NULL;
    char *s = x86_cpuid_format(host->entries, host->nent, "KVM_GET_SUPPORTED_CPUID of this host");
    free(host);
    if (!s)
        bl_errno(err, ENOMEM, "CPUID table");
    return s;
}

static unsigned ceil_log2(unsigned n)
{
    unsigned s = 0;
    while ((1u << s) < n)
        s++;
    return s;
}

/* This vCPU's view: APIC id = vCPU index (what the MP table says), one thread per core,
 * ncpus cores in one package, and the hypervisor bit so Linux looks for KVM's leaves. */
static void fix_cpuid(struct kvm_cpuid2 *c, unsigned id, unsigned ncpus)
{
    for (unsigned i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        switch (e->function) {
        case 1:
            e->ebx = (e->ebx & 0x0000ffffu) | (id << 24) | ((ncpus & 0xff) << 16);
            e->ecx |= 1u << 31; /* hypervisor present */
            if (ncpus > 1)
                e->edx |= 1u << 28; /* HTT: the count in ebx[23:16] is valid */
            break;
        case 4: /* deterministic cache parameters: cores per package - 1 in eax[31:26] */
            e->eax = (e->eax & 0x03ffffffu) | ((ncpus - 1) << 26);
            break;
        case 0xb: /* extended topology: level 0 SMT (1 thread), level 1 core (ncpus) */
        case 0x1f: /* V2 extended topology, which Linux prefers: the same levels */
            e->edx = id;
            if (e->index == 0) {
                e->eax = 0;
                e->ebx = 1;
                e->ecx = (1u << 8) | 0;
            } else if (e->index == 1) {
                e->eax = ceil_log2(ncpus);
                e->ebx = ncpus;
                e->ecx = (2u << 8) | 1;
            } else {
                e->eax = e->ebx = 0;
                e->ecx = e->index;
            }
            break;
        case 0x80000008: /* AMD: number of cores - 1 in ecx[7:0], id size in ecx[15:12] */
            e->ecx = (e->ecx & ~0xf0ffu) | ((ncpus - 1) & 0xff) | (ceil_log2(ncpus) << 12);
            break;
        }
    }
}

static int set_msrs(int vcpu_fd, struct bl_error *err)
{
    static const struct { uint32_t index; uint64_t data; } boot_msrs[] = {
        { MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 }, { MSR_IA32_SYSENTER_EIP, 0 },
        { MSR_STAR, 0 },          { MSR_LSTAR, 0 },         { MSR_CSTAR, 0 },
        { MSR_SYSCALL_MASK, 0 },  { MSR_KERNEL_GS_BASE, 0 },
        { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
        { MSR_MTRR_DEF_TYPE, MTRR_DEF_TYPE_WB },
    };
    enum { N = sizeof boot_msrs / sizeof boot_msrs[0] };
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[N];
    } m;
    memset(&m, 0, sizeof m);
    m.hdr.nmsrs = N;
    for (unsigned i = 0; i < N; i++) {
        m.e[i].index = boot_msrs[i].index;
        m.e[i].data = boot_msrs[i].data;
    }
    int r = ioctl(vcpu_fd, KVM_SET_MSRS, &m);
    if (r < 0)
        return bl_errno(err, errno, "KVM_SET_MSRS");
    if (r != N) /* KVM stops at the first MSR it refuses */
        return bl_err(err, BOXLITE_ERR_ENGINE, "KVM_SET_MSRS: MSR %#x refused",
                      boot_msrs[r].index);
    return 0;
}

/* XCR0 = every XSAVE state component the CPU table offers, before the guest runs. The
 * guest enables them all anyway (Linux does); set here, KVM sizes CPUID 0xD.0 EBX ("area for
 * the components enabled in XCR0") for them at once. Left at its reset value (x87 only),
 * EBX says 576 until KVM sees the guest's XSETBV, and a hypervisor that lets XSETBV through
 * without a VM exit (QEMU's TCG emulating SVM, the lab's L1) never updates it: Linux then
 * finds "XSAVE consistency problem" and turns XSAVE and AVX off. */
static int set_xcr0(int vcpu_fd, const struct kvm_cpuid2 *c, struct bl_error *err)
{
    const struct kvm_cpuid_entry2 *l1 = NULL, *d0 = NULL;
    for (unsigned i = 0; i < c->nent; i++) {
        if (c->entries[i].function == 1)
            l1 = &c->entries[i];
        if (c->entries[i].function == 0xd && c->entries[i].index == 0)
            d0 = &c->entries[i];
    }
    if (!l1 || !(l1->ecx >> 26 & 1) || !d0)
        return 0; /* no XSAVE: XCR0 stays at its reset value */
    struct kvm_xcrs x = { .nr_xcrs = 1 };
    x.xcrs[0].xcr = 0; /* XCR0 (XCR_XFEATURE_ENABLED_MASK) */
    x.xcrs[0].value = ((uint64_t)d0->edx << 32 | d0->eax) | 1; /* x87 is always on */
    if (ioctl(vcpu_fd, KVM_SET_XCRS, &x) < 0)
        return bl_errno(err, errno, "KVM_SET_XCRS %#llx", (unsigned long long)x.xcrs[0].value);
    return 0;
}

static int set_lapic(int vcpu_fd, struct bl_error *err)
{
    struct kvm_lapic_state la;
    if (ioctl(vcpu_fd, KVM_GET_LAPIC, &la) < 0)
        return bl_errno(err, errno, "KVM_GET_LAPIC");
    uint32_t v;
    memcpy(&v, la.regs + APIC_LVT0, 4);
    v = (v & ~0x700u) | (APIC_MODE_EXTINT << 8);
    memcpy(la.regs + APIC_LVT0, &v, 4);
    memcpy(&v, la.regs + APIC_LVT1, 4);
    v = (v & ~0x700u) | (APIC_MODE_NMI << 8);
    memcpy(la.regs + APIC_LVT1, &v, 4);
    if (ioctl(vcpu_fd, KVM_SET_LAPIC, &la) < 0)
        return bl_errno(err, errno, "KVM_SET_LAPIC");
    return 0;
}

int arch_vcpu_init(int kvm_fd, int vcpu_fd, unsigned id, const struct arch_boot *boot,
                   struct bl_error *err)
{
    struct kvm_cpuid2 *c;
    if (boot->cpu) {
        c = calloc(1, sizeof *c + boot->cpu->n * sizeof(struct kvm_cpuid_entry2));
        if (!c)
            return bl_errno(err, ENOMEM, "CPUID");
        c->nent = boot->cpu->n;
        memcpy(c->entries, boot->cpu->e, boot->cpu->n * sizeof *c->entries);
    } else if (!(c = supported_cpuid(kvm_fd, err))) {
        return -err->code;
    }
    fix_cpuid(c, id, boot->ncpus ? boot->ncpus : 1);
    int r = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
    int e = errno;
    if (r < 0) {
        free(c);
        return bl_errno(err, e, "KVM_SET_CPUID2");
    }
    r = set_xcr0(vcpu_fd, c, err);
    free(c);
    if (r < 0)
        return r;
    if (set_msrs(vcpu_fd, err) < 0 || set_lapic(vcpu_fd, err) < 0)
        return -err->code;
    /* Other vCPUs wait for the boot CPU's INIT/SIPI, which sets their registers. */
    if (id == 0 && boot->long_mode && (set_sregs(vcpu_fd, err) < 0 || set_regs(vcpu_fd, boot, err) < 0))
        return -err->code;
    return 0;
}

/* ---- the fingerprint of the guest's CPU (arch.h, snapshots) ------------------------------- */

int arch_cpu_fingerprint(int kvm_fd, const struct arch_cpu *c, uint8_t out[32],
                         struct bl_error *err)
{
    struct kvm_cpuid2 *host = NULL;
    const struct kvm_cpuid_entry2 *e;
    unsigned n;
    if (c) {
        e = c->e;
        n = c->n;
    } else {
        if (!(host = supported_cpuid(kvm_fd, err)))
            return -err->code;
        e = host->entries;
        n = host->nent;
    }
    /* The table before the per-vCPU topology fix-up: the same for every vCPU count. */
    sha256(e, n * sizeof *e, out);
    free(host);
    return 0;
}
