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

/* The machine's fixed addresses (docs/architecture.md, "Guest addresses"). */
struct arch_layout {
    uint64_t ram_low_max;   /* RAM below the MMIO hole ends here at most */
    uint64_t ram_high_base; /* the rest of RAM starts here */
    uint64_t ctl_gpa;       /* BoxLite control page */
    uint64_t virtio_gpa;    /* first virtio-mmio window; device i at + i * 0x1000 */
    uint32_t virtio_gsi;    /* GSI of the first virtio device; device i has + i */
    uint32_t virtio_max;    /* how many virtio windows/GSIs exist */
    bool serial_pio;        /* the console UART is on the port I/O bus */
    uint64_t serial_addr;   /* its port or MMIO address */
    uint32_t serial_gsi;
    uint64_t reset_port;    /* i8042 command port whose 0xfe write resets, or 0 for none */
    const char *base_cmdline; /* what every guest gets first (console, reboot policy) */
};
extern const struct arch_layout arch_layout;

/* Up to two RAM ranges for ram_bytes of memory, around the MMIO hole. Returns the count. */
int arch_ram_ranges(uint64_t ram_bytes, uint64_t gpa[2], uint64_t size[2]);

/* VM-wide set-up after KVM_CREATE_VM and before vCPUs: interrupt controller, timer, and
 * whatever private pages the architecture's virtualisation needs. */
int arch_vm_init(int vm_fd, struct bl_error *err);

/* Where and how the boot vCPU starts; filled by arch_load_kernel (or by a test). */
struct arch_boot {
    uint64_t entry;      /* guest physical entry point */
    uint64_t boot_info;  /* guest physical address of the boot information block */
    bool long_mode;      /* enter in 64-bit mode with identity paging (x86_64) */
    unsigned ncpus;
};

struct arch_kernel {
    const char *kernel;   /* path of an uncompressed ELF kernel (vmlinux) */
    const char *initrd;   /* or NULL */
    const char *cmdline;  /* complete command line */
    unsigned ncpus;
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

#endif
