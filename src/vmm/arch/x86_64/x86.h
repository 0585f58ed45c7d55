// SPDX-License-Identifier: Apache-2.0
/* x86_64 internals shared by the files of this folder: the low-memory map of the boot
 * structures the kernel and vCPUs start from. */
#ifndef VMM_ARCH_X86_64_H
#define VMM_ARCH_X86_64_H

#include "common/error.h"
#include "vmm/core/mem.h"

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

/* Low memory at boot, below the first MiB (the same places Firecracker and kvmtool use,
 * clear of what Linux reserves early): */
#define X86_GDT_ADDR 0x500
#define X86_IDT_ADDR 0x520
#define X86_ZERO_PAGE 0x7000     /* struct boot_params (Linux Documentation/x86/zero-page) */
#define X86_PML4_ADDR 0x9000     /* identity page tables: PML4, PDPT, then 4 PDs */
#define X86_PDPT_ADDR 0xa000
#define X86_PD_ADDR 0xb000       /* 4 pages of 2 MiB entries: the first 4 GiB */
#define X86_BOOT_STACK 0x8ff0
#define X86_CMDLINE_ADDR 0x20000
#define X86_CMDLINE_MAX 2048     /* COMMAND_LINE_SIZE on x86 */
#define X86_EBDA_START 0x9fc00   /* end of base RAM; the MP table lives here */
#define X86_HIMEM_START 0x100000

#define X86_IOAPIC_ADDR 0xfec00000u
#define X86_LAPIC_ADDR 0xfee00000u
#define X86_IOAPIC_PINS 24

/* Writes the MP floating pointer and configuration table (Intel MultiProcessor
 * Specification 1.4, chapter 4) for ncpus CPUs at X86_EBDA_START. */
int x86_write_mptable(struct guest_mem *gm, unsigned ncpus, struct bl_error *err);

/* ---- CPU templates (cpu_template.c) and CPUID tables as text (cpuid_text.c) ---- */

/* KVM_MAX_CPUID_ENTRIES in Linux's arch/x86/kvm/cpuid.h */
#define X86_CPUID_MAX 256

/* out = template `name` over the host's supported CPUID (host, nhost entries); out has room
 * for nhost entries. BOXLITE_ERR_UNSUPPORTED names the required features the host lacks;
 * BOXLITE_ERR_INVALID for an unknown name or a malformed table. */
int x86_template_apply(const char *name, const struct kvm_cpuid_entry2 *host, unsigned nhost,
                       struct kvm_cpuid_entry2 *out, unsigned *nout, struct bl_error *err);
/* The most capable template (never "host") the host fully supports; *chosen is its name. */
int x86_template_auto(const struct kvm_cpuid_entry2 *host, unsigned nhost,
                      struct kvm_cpuid_entry2 *out, unsigned *nout, const char **chosen,
                      struct bl_error *err);
/* The rules every template result keeps (x86_template_apply checks its own result with
 * it): BOXLITE_ERR_INTERNAL naming the first one broken. */
int x86_template_verify(const char *name, const struct kvm_cpuid_entry2 *host, unsigned nhost,
                        const struct kvm_cpuid_entry2 *out, unsigned n, struct bl_error *err);
/* What a template exposes, as text (malloc'd), or NULL for an unknown name. */
char *x86_template_describe(const char *name);

int x86_cpuid_parse(const char *text, size_t len, struct kvm_cpuid_entry2 *out, unsigned max,
                    unsigned *n, struct bl_error *err);
/* The table as text (malloc'd); comment lines (may hold newlines) go first. */
char *x86_cpuid_format(const struct kvm_cpuid_entry2 *e, unsigned n, const char *comment);

#endif
