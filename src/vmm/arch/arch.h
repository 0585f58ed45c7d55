// SPDX-License-Identifier: Apache-2.0
/* What the KVM machine (src/vmm/kvm/) asks of a CPU architecture: the guest address map,
 * VM-wide set-up (interrupt controller, timers), loading and entering a kernel, and per-vCPU
 * register state. One implementation per src/vmm/arch/<arch>/; the Makefile compiles only
 * the host's, so nothing outside that folder names an instruction set. */
#ifndef VMM_ARCH_H
#define VMM_ARCH_H

#include "common/error.h"
#include "vmm/core/mem.h"

#include <stdbool.h>
#include <stdint.h>

/* The console UART's model (src/vmm/hw/). */
enum arch_uart {
    ARCH_UART_8250,  /* serial.c: a 16550A, Linux's ttyS0 */
    ARCH_UART_PL011, /* pl011.c: Arm's PrimeCell UART, Linux's ttyAMA0 */
};

/* The machine's fixed addresses (docs/architecture.md, "Guest addresses"). */
struct arch_layout {
    uint64_t ram_low_max;   /* RAM below the MMIO hole ends here at most */
    uint64_t ram_high_base; /* the rest of RAM starts here */
    uint64_t ctl_gpa;       /* BoxLite control page */
    uint64_t virtio_gpa;    /* first virtio-mmio window; device i at + i * 0x1000 */
    uint32_t virtio_gsi;    /* GSI of the first virtio device; device i has + i */
    uint32_t virtio_max;    /* how many virtio windows/GSIs exist */
    enum arch_uart uart;    /* the console UART's model */
    bool serial_pio;        /* the console UART is on the port I/O bus */
    uint64_t serial_addr;   /* its port or MMIO address */
    uint32_t serial_gsi;
    uint64_t reset_port;    /* i8042 command port whose 0xfe write resets, or 0 for none */
    const char *base_cmdline; /* what every guest gets first (console, reboot policy) */
    /* virtio-mmio devices are announced on the kernel command line (virtio_mmio.device=,
     * x86_64); otherwise arch_load_kernel describes them (aarch64's device tree) */
    bool virtio_cmdline;
};
extern const struct arch_layout arch_layout;

/* ---- the host CPU --------------------------------------------------------------------
 * Its hardware virtualization as the CPU reports it (x86_64: the vmx or svm flag in
 * /proc/cpuinfo, which the jail does not show: ask before entering it). */
struct arch_host_virt {
    const char *flag; /* the CPU's own word for it ("vmx"); NULL: none */
    const char *name; /* what users know it as ("Intel VT-x") */
};
bool arch_host_virt(struct arch_host_virt *out); /* out may be NULL */
extern const char arch_host_virt_wanted[];       /* for messages: "vmx or svm" */
bool arch_host_is_vm(void); /* the CPU says a hypervisor runs this host */

/* KVM capabilities the architecture's set-up needs (KVM_CHECK_EXTENSION), ending with a
 * NULL name. */
struct arch_kvm_cap { int cap; const char *name; };
extern const struct arch_kvm_cap arch_kvm_caps[];

/* Up to two RAM ranges for ram_bytes of memory, around the MMIO hole. Returns the count. */
int arch_ram_ranges(uint64_t ram_bytes, uint64_t gpa[2], uint64_t size[2]);

/* VM-wide set-up after KVM_CREATE_VM and before vCPUs: interrupt controller, timer, and
 * whatever private pages the architecture's virtualisation needs. */
int arch_vm_init(int vm_fd, struct bl_error *err);
/* After every vCPU went through arch_vcpu_init, before the first KVM_RUN (aarch64: the
 * in-kernel GIC is initialised only once all its vCPUs exist). */
int arch_vm_finish(int vm_fd, struct bl_error *err);
/* What KVM_IRQ_LINE's irq field is for the interrupt controller's input gsi (the number
 * machine_irq and the layout's *_gsi use). */
uint32_t arch_irq_line(uint32_t gsi);

/* ---- CPU templates ----------------------------------------------------------------------
 * The CPU a guest sees: a named, documented template intersected with what the host's KVM
 * supports, so that a box sees the same CPU on every host that satisfies the template.
 * Names are the architecture's (x86_64: "v3", "baseline", "host"); "host" passes the host
 * through and is only used when asked for by name. NULL, "" or "auto" choose the most
 * capable template the host fully supports. A template the host cannot satisfy is
 * BOXLITE_ERR_UNSUPPORTED, its message naming the missing features. */
struct arch_cpu;
/* The names, most capable first, NULL-terminated. */
extern const char *const arch_cpu_templates[];
/* The guest CPU for VMs on kvm_fd (/dev/kvm). */
int arch_cpu_new(int kvm_fd, const char *template_name, struct arch_cpu **out,
                 struct bl_error *err);
/* The same from a host description in arch_cpu_host_dump()'s text form (a user's report, a
 * recorded test table) instead of a live /dev/kvm. */
int arch_cpu_from_dump(const char *dump, size_t len, const char *template_name,
                       struct arch_cpu **out, struct bl_error *err);
const char *arch_cpu_template(const struct arch_cpu *c); /* the template chosen */
void arch_cpu_free(struct arch_cpu *c);                   /* NULL-safe */
/* What a template exposes, as text (malloc'd); NULL for an unknown name. */
char *arch_cpu_describe(const char *template_name);
/* The host's KVM-supported CPU description as text (malloc'd): the input of
 * arch_cpu_from_dump, and what a bug report about a box that does not boot should carry. */
char *arch_cpu_host_dump(int kvm_fd, struct bl_error *err);

/* Where and how the boot vCPU starts; filled by arch_load_kernel (or by a test). */
struct arch_boot {
    uint64_t entry;      /* guest physical entry point */
    uint64_t boot_info;  /* guest physical address of the boot information block */
    bool long_mode;      /* enter in 64-bit mode with identity paging (x86_64) */
    unsigned ncpus;
    /* The guest CPU (arch_cpu_new); NULL = everything KVM supports, unfiltered (tests that
     * run their own code). */
    const struct arch_cpu *cpu;
};

/* A virtio-mmio device for the guest's hardware description. */
struct arch_mmio_dev {
    uint64_t base; /* its 4 KiB window */
    uint32_t gsi;  /* its interrupt line */
};

struct arch_kernel {
    const char *kernel;   /* x86_64: an uncompressed ELF vmlinux; aarch64: an Image */
    const char *initrd;   /* or NULL */
    const char *cmdline;  /* complete command line */
    unsigned ncpus;
    /* the virtio-mmio devices, for architectures that describe them in memory (layout
     * virtio_cmdline false); x86_64 ignores them */
    const struct arch_mmio_dev *virtio;
    unsigned nvirtio;
};

/* Loads the kernel and initrd into guest memory, writes the boot information (command line,
 * memory map, CPU table) and the early page tables. gm must hold the arch_ram_ranges()
 * regions, freshly mapped (zero). */
int arch_load_kernel(struct guest_mem *gm, const struct arch_kernel *k, struct arch_boot *out,
                     struct bl_error *err);

/* Writes the early CPU structures (page tables, descriptor tables) the boot vCPU's entry
 * state refers to; arch_load_kernel calls it, tests that run their own code call it. */
int arch_write_cpu_tables(struct guest_mem *gm, struct bl_error *err);

/* Sets one vCPU's identification, model-specific state and, for the boot vCPU (id 0), the
 * registers to enter boot->entry. kvm_fd is /dev/kvm. */
int arch_vcpu_init(int kvm_fd, int vcpu_fd, unsigned id, const struct arch_boot *boot,
                   struct bl_error *err);

/* ---- snapshots (src/vmm/snapshot.h) -----------------------------------------------------
 * The architecture's part of a saved machine, as record payloads (vmsnap_rec). Saving needs
 * every vCPU out of KVM_RUN with no I/O half done (machine.c parks them). Restoring goes
 * into a machine created as the saved one was (same RAM, irqchip, vCPUs), each vCPU already
 * through arch_vcpu_init; the payload is untrusted and checked. */
struct vmsnap_buf;
int arch_vcpu_save(int kvm_fd, int vcpu_fd, struct vmsnap_buf *p, struct bl_error *err);
int arch_vcpu_restore(int kvm_fd, int vcpu_fd, unsigned id, const uint8_t *p, size_t len,
                      struct bl_error *err);
/* VM-wide: interrupt controllers, timer, clock. */
int arch_vm_save(int vm_fd, struct vmsnap_buf *p, struct bl_error *err);
int arch_vm_restore(int vm_fd, const uint8_t *p, size_t len, struct bl_error *err);
/* SHA-256 of the CPU the guest sees (its CPUID table; NULL: the unfiltered host's), so a
 * snapshot is not resumed on a CPU whose features differ. */
int arch_cpu_fingerprint(int kvm_fd, const struct arch_cpu *c, uint8_t out[32],
                         struct bl_error *err);

#endif
