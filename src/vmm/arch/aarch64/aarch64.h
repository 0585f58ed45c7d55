// SPDX-License-Identifier: Apache-2.0
/* The aarch64 machine's building blocks that need no KVM and compile on any host (the
 * Makefile builds fdt.c, image.c and psci.c everywhere, so their tests run on x86_64 too):
 * the guest address map, the flattened device tree (fdt.c), the arm64 Image boot protocol
 * (image.c) and PSCI call decoding (psci.c). Nothing here includes <linux/kvm.h> or an
 * <asm/> header. */
#ifndef VMM_ARCH_AARCH64_H
#define VMM_ARCH_AARCH64_H

#include "common/error.h"
#include "common/guest_abi.h"
#include "vmm/core/mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the address map (docs/architecture.md, "Guest addresses", aarch64) ----------------
 * Low 1 GiB: the interrupt controller and the UART, where QEMU's virt machine has them (so
 * a guest kernel that boots there finds the same map). RAM from 1 GiB up to 3 GiB, the rest
 * above 4 GiB. Between 3 and 4 GiB the BoxLite MMIO hole, as on x86_64: the control page at
 * GUEST_CTL_PAGE (the agent maps that fixed address on every architecture) and the
 * virtio-mmio windows after it. */
#define A64_GICD_BASE 0x08000000ull /* GICv3/v2 distributor, 64 KiB */
#define A64_GICD_SIZE 0x10000ull
#define A64_GICC_BASE 0x08010000ull /* GICv2 CPU interface (v2 only), 8 KiB */
#define A64_GICC_SIZE 0x2000ull
#define A64_GICR_BASE 0x080a0000ull /* GICv3 redistributors, 128 KiB per CPU (GICv3 spec
                                       12.10: RD_base and SGI_base frames, 64 KiB each) */
#define A64_GICR_PER_CPU 0x20000ull
#define A64_UART_BASE 0x09000000ull /* PL011 */
#define A64_UART_SIZE 0x1000ull
#define A64_UART_SPI 1
#define A64_RAM_BASE 0x40000000ull
#define A64_RAM_LOW_END 0xc0000000ull  /* the MMIO hole starts here */
#define A64_RAM_HIGH_BASE 0x100000000ull
#define A64_RAM_MAX_END (1ull << 40)   /* 40-bit IPA, KVM's default VM size */
#define A64_MMIO_HOLE_BASE A64_RAM_LOW_END
#define A64_MMIO_HOLE_END A64_RAM_HIGH_BASE
#define A64_CTL_GPA GUEST_CTL_PAGE     /* 0xd0000000 */
#define A64_VIRTIO_BASE (GUEST_CTL_PAGE + GUEST_CTL_SIZE)
#define A64_VIRTIO_SIZE 0x1000ull
#define A64_VIRTIO_SPI 16              /* device i: SPI 16 + i */
#define A64_VIRTIO_MAX 32
#define A64_SPI_COUNT 64               /* SPIs the in-kernel GIC is given (INTIDs 32..95) */
/* GICv3 redistributors fit before the UART; GICv2 addresses at most 8 CPUs (its
 * GICD_ITARGETSR has 8 bits per interrupt). */
#define A64_MAX_CPUS_V3 ((A64_UART_BASE - A64_GICR_BASE) / A64_GICR_PER_CPU) /* 123 */
#define A64_MAX_CPUS_V2 8
#define A64_CMDLINE_MAX 2048 /* COMMAND_LINE_SIZE, arch/arm64/include/uapi/asm/setup.h */
#define A64_FDT_MAX (2u << 20) /* booting.rst: the dtb must not exceed 2 megabytes */

/* The MPIDR_EL1 KVM gives vCPU id (arch/arm64/kvm/sys_regs.c reset_mpidr: Aff0 = id bits
 * 0-3, Aff1 = bits 4-11, Aff2 = bits 12-19): the cpu node's reg, what PSCI CPU_ON names. */
uint64_t a64_mpidr(unsigned vcpu_id);

/* ---- the device tree (fdt.c; Devicetree Specification v0.4, Linux's bindings) ---------- */
enum a64_gic { A64_GIC_V3 = 3, A64_GIC_V2 = 2 };

struct a64_fdt_device {
    uint64_t addr; /* its virtio-mmio window, A64_VIRTIO_SIZE bytes */
    uint32_t spi;  /* its interrupt, an SPI number (INTID - 32) */
};

struct a64_fdt_input {
    uint64_t ram_gpa[2], ram_size[2]; /* RAM ranges; nram of them (1 or 2) */
    int nram;
    unsigned ncpus;
    enum a64_gic gic;
    bool psci_1_0;          /* KVM offers PSCI 1.0 (it says "arm,psci-1.0" too) */
    const char *cmdline;    /* bootargs, < A64_CMDLINE_MAX bytes */
    uint64_t initrd_start;  /* guest physical; initrd_size 0 = none */
    uint64_t initrd_size;
    const struct a64_fdt_device *virtio;
    unsigned nvirtio;
    bool ctl_page;          /* the BoxLite control page exists (node boxlite-ctl@d0000000) */
};

/* Builds the device tree blob for in: *blob (malloc'd, free()) of *len bytes, at most
 * A64_FDT_MAX. A bad input (no or too many CPUs, RAM outside its windows or overlapping the
 * MMIO hole, a device outside the virtio windows or on another's window or SPI, an initrd
 * outside RAM, a command line too long) is BOXLITE_ERR_INVALID saying which. */
int a64_fdt_build(const struct a64_fdt_input *in, void **blob, size_t *len,
                  struct bl_error *err);

/* ---- the arm64 Image (image.c; Linux Documentation/arch/arm64/booting.rst) -------------- */
#define A64_IMAGE_HDR_SIZE 64
#define A64_IMAGE_MAGIC 0x644d5241u /* "ARM\x64" at offset 0x38, little endian */
#define A64_IMAGE_ALIGN (2ull << 20) /* the Image's base is 2 MiB aligned */

struct a64_image {
    uint64_t text_offset; /* from the 2 MiB aligned base to the Image's first byte */
    uint64_t image_size;  /* bytes the kernel uses from its first byte (text, data, bss) */
    uint64_t flags;
    uint64_t file_size;
    unsigned page_kib;    /* the kernel's page size: 4, 16, 64, or 0 = unspecified */
    bool anywhere;        /* flags bit 3: any 2 MiB base (within 48 bits), not only low */
};

/* Reads the 64-byte header (hdr, len bytes of a file of file_size bytes). Not an Image, a
 * big-endian kernel, one older than the image_size field (Linux 3.17), or sizes that do not
 * add up is BOXLITE_ERR_INVALID saying which. */
int a64_image_parse(const uint8_t *hdr, size_t len, uint64_t file_size, struct a64_image *out,
                    struct bl_error *err);

/* Where the kernel, the device tree and the initrd go in the RAM range [ram_gpa, +ram_size):
 * the Image at the first 2 MiB boundary + text_offset (booting.rst: as close as possible to
 * the start of RAM), the device tree in the 2 MiB block after the kernel's image_size (8-byte
 * aligned, in a block of its own), the initrd after that, page aligned, inside a 1 GiB
 * aligned window of at most 32 GiB that also covers the kernel. Everything checked against
 * the range; too little RAM is BOXLITE_ERR_INVALID naming how much is needed. */
struct a64_boot_plan {
    uint64_t kernel_gpa; /* the Image's first byte: the entry point */
    uint64_t kernel_end; /* kernel_gpa + image_size */
    uint64_t fdt_gpa;    /* A64_FDT_MAX bytes reserved */
    uint64_t initrd_gpa; /* 0 when initrd_size is 0 */
    uint64_t initrd_size;
};
int a64_boot_place(const struct a64_image *img, uint64_t ram_gpa, uint64_t ram_size,
                   uint64_t initrd_size, struct a64_boot_plan *out, struct bl_error *err);

/* The whole load: the Image at kernel_path and the initrd (or NULL) into gm (the RAM ranges
 * of fdt->ram_*, freshly mapped, zero), then the device tree for fdt (its initrd fields are
 * filled here) written at plan->fdt_gpa. The boot vCPU then starts at plan->kernel_gpa with
 * x0 = plan->fdt_gpa (booting.rst, "Call the kernel image"). */
int a64_load_kernel(struct guest_mem *gm, const char *kernel_path, const char *initrd_path,
                    const struct a64_fdt_input *fdt, struct a64_boot_plan *plan,
                    struct bl_error *err);

/* ---- PSCI calls (psci.c; Arm DEN0022 "Power State Coordination Interface" 1.1, and DEN0028
 * SMC Calling Convention for the function-id layout) ------------------------------------
 * KVM with KVM_ARM_VCPU_PSCI_0_2 answers PSCI inside the kernel and exits only for
 * SYSTEM_OFF/SYSTEM_RESET (KVM_EXIT_SYSTEM_EVENT); this decoder serves an engine that
 * handles the guest's HVC itself (KVM's SMCCC filter forwarding calls to user space, or
 * another hypervisor interface), and pins down what each call means. */
#define A64_PSCI_VERSION 0x84000000u
#define A64_PSCI_CPU_SUSPEND 0x84000001u /* + 0x40000000: the SMC64 form */
#define A64_PSCI_CPU_OFF 0x84000002u
#define A64_PSCI_CPU_ON 0x84000003u
#define A64_PSCI_AFFINITY_INFO 0x84000004u
#define A64_PSCI_MIGRATE 0x84000005u
#define A64_PSCI_MIGRATE_INFO_TYPE 0x84000006u
#define A64_PSCI_MIGRATE_INFO_UP_CPU 0x84000007u
#define A64_PSCI_SYSTEM_OFF 0x84000008u
#define A64_PSCI_SYSTEM_RESET 0x84000009u
#define A64_PSCI_FEATURES 0x8400000au
#define A64_PSCI_SMC64 0x40000000u
#define A64_SMCCC_VERSION 0x80000000u
#define A64_SMCCC_ARCH_FEATURES 0x80000001u
/* return codes (DEN0022 5.2.2) */
#define A64_PSCI_SUCCESS 0
#define A64_PSCI_NOT_SUPPORTED (-1)
#define A64_PSCI_INVALID_PARAMETERS (-2)
#define A64_PSCI_DENIED (-3)
#define A64_PSCI_ALREADY_ON (-4)
#define A64_PSCI_INVALID_ADDRESS (-9)
/* what we implement: PSCI 1.0 over SMCCC 1.1 */
#define A64_PSCI_IMPL_VERSION 0x00010000u
#define A64_SMCCC_IMPL_VERSION 0x00010001u

enum a64_psci_action {
    A64_PSCI_ACT_RETURN,     /* only put ret in x0 and resume the vCPU */
    A64_PSCI_ACT_CPU_ON,     /* start vcpu `target` at `entry` with x0 = `context`; x0 = ret */
    A64_PSCI_ACT_CPU_OFF,    /* stop this vCPU until a CPU_ON names it */
    A64_PSCI_ACT_SUSPEND,    /* a standby: wait for an interrupt (like WFI); x0 = ret */
    A64_PSCI_ACT_SYSTEM_OFF, /* the guest powered off */
    A64_PSCI_ACT_SYSTEM_RESET, /* the guest rebooted: a box ends as on power-off */
};

struct a64_psci_call {
    enum a64_psci_action action;
    int64_t ret;     /* x0 on return (sign-extended PSCI code or value) */
    unsigned target; /* CPU_ON: the vCPU id */
    uint64_t entry, context;
};

/* The VM's vCPUs as PSCI sees them: ncpus of them, bit i of on[] set while vCPU i runs. */
struct a64_psci_state {
    unsigned ncpus;
    uint64_t on[2];
};
#define A64_PSCI_MAX_CPUS 128

/* The vCPU id whose MPIDR affinity is mpidr (a64_mpidr's inverse), or -1 for none. */
int a64_mpidr_to_vcpu(uint64_t mpidr, unsigned ncpus);

/* Decodes the call in x0..x3 made by vCPU `caller`. Never fails: an unknown function, a bad
 * argument or a refused request is a return code for the guest, as the spec says. */
void a64_psci_decode(const struct a64_psci_state *st, unsigned caller, uint64_t x0, uint64_t x1,
                     uint64_t x2, uint64_t x3, struct a64_psci_call *out);

/* ---- the VM being built (kvm.c, aarch64 hosts only) ------------------------------------
 * The in-kernel GIC's device fd for vm_fd (or -1), its version and how many vCPUs went
 * through arch_vcpu_init; KVM's preferred vCPU target (0, or -1 before any arch_vm_init). */
int a64_vm_gic(int vm_fd, enum a64_gic *v, unsigned *ncpus);
int a64_vm_target(uint32_t *target);

/* ---- snapshot records (snaprec.c; Linux Documentation/virt/kvm/api.rst, "KVM_SET_ONE_REG"
 * arm64, and devices/arm-vgic-v3.rst) ------------------------------------------------------
 * What a paused aarch64 machine's state file holds, and the checks a hostile copy of it
 * meets before anything reaches KVM. A vCPU's payload: the register ids KVM_GET_REG_LIST
 * gave (u64 each), their values in that order (each as wide as its id says), the MP state.
 * The VM's payload: the GICv3's distributor, redistributor, CPU interface and line levels,
 * each a fixed list of registers (a64_gicv3_*) so the file names no register offsets. */
#define A64_REG_ARM64 0x6000000000000000ull /* KVM_REG_ARM64 */
#define A64_REG_ARCH_MASK 0xff00000000000000ull
#define A64_REG_SIZE_SHIFT 52
#define A64_REG_SIZE_MASK 0x00f0000000000000ull
#define A64_REG_SYSREG 0x0013ull /* KVM_REG_ARM64_SYSREG, bits 16-31 */
#define A64_REG_DEMUX 0x0011ull  /* KVM_REG_ARM_DEMUX (the cache size registers) */
#define A64_REGS_MAX 4096        /* 6.1 lists about 450 without SVE */

enum a64_vcpu_rec { A64_R_IDS = 1, A64_R_VALS, A64_R_MP_STATE, A64_R_EVENTS, A64_R_END };

/* Bytes of register id's value: 4, 8 or 16 (U32, U64, U128); 0 for anything else (another
 * architecture's id, SVE's 2048-bit registers, which no vCPU of ours enables). */
size_t a64_reg_size(uint64_t id);
/* The register identifies the CPU (ID space: op0 3, CRn 0, op1 0, 1 or 3; the cache size
 * registers): a snapshot resumes only where each reads the same. */
bool a64_reg_is_id(uint64_t id);
/* A name for messages: "S3_0_C0_C4_0" for a system register, "core+0x100" and the like. */
void a64_reg_name(uint64_t id, char *buf, size_t n);

struct a64_vcpu_view {
    const uint8_t *ids;  /* n u64 of this build's byte order (a64_vcpu_id reads one) */
    size_t n;
    const uint8_t *vals; /* their values, back to back */
    size_t vals_len;
    uint32_t mp_state;
};
/* Checks a vCPU payload (records below A64_R_END, ids of known sizes, no more than
 * A64_REGS_MAX, values exactly as long as the ids say). what names it in messages. */
int a64_vcpu_parse(const uint8_t *p, size_t len, const char *what, struct a64_vcpu_view *out,
                   struct bl_error *err);
uint64_t a64_vcpu_id(const struct a64_vcpu_view *v, size_t i);
/* The saved list must be the host's, id for id in KVM's order (another kernel or CPU
 * features lists other registers): BOXLITE_ERR_INVALID naming the first difference. */
int a64_vcpu_match(const struct a64_vcpu_view *v, const uint64_t *host, size_t nhost,
                   const char *what, struct bl_error *err);

/* GICv3 (arm-vgic-v3.rst), in the order a restore writes them: GICD_IIDR first (the doc
 * asks for it), GICD_CTLR, then per block of interrupts group, priority, routing and
 * configuration before the pending, active and enable bits that depend on them; the line
 * levels (KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO) after all of them. */
#define A64_GIC_NR_IRQS (32 + A64_SPI_COUNT)
#define A64_GICR_SGI 0x10000u /* the SGI_base frame, after RD_base */
#define A64_GIC_DIST_MAX 512
#define A64_GIC_REDIST_N 13
#define A64_GIC_ICC_N 15
#define A64_GIC_LEVEL_WORDS (A64_GIC_NR_IRQS / 32) /* word 0: this vCPU's PPIs */
enum a64_gic_rec { A64_V_GIC = 1, A64_V_DIST, A64_V_REDIST, A64_V_ICC, A64_V_LEVEL, A64_V_END };
/* Distributor offsets (32-bit accesses; IROUTER as two halves) for A64_GIC_NR_IRQS. */
size_t a64_gicv3_dist_regs(uint32_t *off, size_t cap);
/* The redistributor's offsets from RD_base, for one vCPU. */
extern const uint32_t a64_gicv3_redist_regs[A64_GIC_REDIST_N];
/* The CPU interface's registers as KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS encodes them
 * (op0 op1 CRn CRm op2), ICC_SRE_EL1 and ICC_CTLR_EL1 first, the group enables last. */
extern const uint16_t a64_gicv3_icc_regs[A64_GIC_ICC_N];
#define A64_ICC_APR_FIRST 5 /* a64_gicv3_icc_regs[5..12]: AP0R0-3, AP1R0-3 */

struct a64_gic_view {
    uint32_t ncpus;
    const uint8_t *dist;   /* u32 per a64_gicv3_dist_regs entry */
    const uint8_t *redist; /* u32 per a64_gicv3_redist_regs entry, per vCPU */
    const uint8_t *icc;    /* u64 per a64_gicv3_icc_regs entry, per vCPU */
    const uint8_t *level;  /* u32 per A64_GIC_LEVEL_WORDS, per vCPU */
};
/* Checks a VM payload against a machine of ncpus vCPUs (GICv3, A64_GIC_NR_IRQS). */
int a64_gic_parse(const uint8_t *p, size_t len, uint32_t ncpus, struct a64_gic_view *out,
                  struct bl_error *err);

#endif
