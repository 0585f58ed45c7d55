/* x86_64 internals shared by the files of this folder: the low-memory map of the boot
 * structures the kernel and vCPUs start from. */
#ifndef VMM_ARCH_X86_64_H
#define VMM_ARCH_X86_64_H

#include "common/error.h"
#include "vmm/core/mem.h"

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

#endif
