// SPDX-License-Identifier: Apache-2.0
/* The x86_64 machine's address map (docs/architecture.md) and VM-wide set-up: in-kernel
 * PIC/IOAPIC/LAPIC and PIT, and the two private pages VMX needs for real-mode emulation. */
#include "vmm/arch/arch.h"

#include "common/guest_abi.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#define GIB (1ull << 30)

const struct arch_layout arch_layout = {
    .ram_low_max = 3 * GIB,
    .ram_high_base = 4 * GIB,
    .ctl_gpa = GUEST_CTL_PAGE,
    .virtio_gpa = 0xd0001000,
    .virtio_gsi = 5,
    .virtio_max = 19, /* GSIs 5..23: the IOAPIC has 24 pins */
    .uart = ARCH_UART_8250,
    .serial_pio = true,
    .serial_addr = 0x3f8,
    .serial_gsi = 4,
    .reset_port = 0x64,
    /* reboot=t: a reboot triple-faults (KVM_EXIT_SHUTDOWN) instead of probing BIOS paths;
     * panic=-1: a panic reboots at once, so both end the VM.
     * noreplace-smp (issue 21f): a kernel that boots on one CPU rewrites every LOCK prefix
     * of its text to a no-op (arch/x86/kernel/alternative.c, "SMP alternatives"), about
     * 3500 sites on 630 of our guest's 1537 text pages. The kernel's segments are mapped
     * from the vmlinux file (gm_place_file), so each rewritten page becomes the box's own
     * copy instead of a page-cache page every box shares: 2.5 MiB per one-CPU box. A lock
     * prefix on one CPU costs a few cycles, and only where it runs. */
    .base_cmdline = "console=ttyS0 reboot=t panic=-1 noreplace-smp",
    .virtio_cmdline = true,
};

int arch_ram_ranges(uint64_t ram_bytes, uint64_t gpa[2], uint64_t size[2])
{
    uint64_t low = ram_bytes < arch_layout.ram_low_max ? ram_bytes : arch_layout.ram_low_max;
    gpa[0] = 0;
    size[0] = low;
    if (ram_bytes == low)
        return 1;
    gpa[1] = arch_layout.ram_high_base;
    size[1] = ram_bytes - low;
    return 2;
}

/* What arch_vm_init and the vCPU set-up (cpu.c) call. */
const struct arch_kvm_cap arch_kvm_caps[] = {
    { KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
    { KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
    { KVM_CAP_PIT2, "KVM_CAP_PIT2" },
    { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
    { KVM_CAP_XCRS, "KVM_CAP_XCRS" },
    { 0, NULL },
};

int arch_vm_init(int vm_fd, struct bl_error *err)
{
    /* Three pages for the TSS and one for the identity map, just below the BIOS area at the
     * top of the 4 GiB hole, where no device of ours lives. */
    if (ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
        return bl_errno(err, errno, "KVM_SET_TSS_ADDR");
    uint64_t idmap = 0xfffbc000;
    if (ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
        return bl_errno(err, errno, "KVM_SET_IDENTITY_MAP_ADDR");
    if (ioctl(vm_fd, KVM_CREATE_IRQCHIP) < 0)
        return bl_errno(err, errno, "KVM_CREATE_IRQCHIP");
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0)
        return bl_errno(err, errno, "KVM_CREATE_PIT2");
    return 0;
}

int arch_vm_finish(int vm_fd, struct bl_error *err)
{
    (void)vm_fd;
    (void)err;
    return 0; /* the IOAPIC, PIC and PIT are ready from KVM_CREATE_IRQCHIP/PIT2 on */
}

uint32_t arch_irq_line(uint32_t gsi) { return gsi; /* an IOAPIC/PIC pin */ }
