// SPDX-License-Identifier: Apache-2.0
/* The aarch64 machine behind arch.h (compiled only when ARCH=aarch64): its address map
 * (aarch64.h, docs/architecture.md), RAM ranges and what it asks of KVM and the host; the
 * KVM set-up itself is kvm.c. */
#include "vmm/arch/arch.h"
#include "aarch64.h"

#include <linux/kvm.h>
#include <sys/stat.h>

#define GIB (1ull << 30)

const struct arch_layout arch_layout = {
    .ram_low_max = A64_RAM_LOW_END,
    .ram_high_base = A64_RAM_HIGH_BASE,
    .ctl_gpa = A64_CTL_GPA,
    .virtio_gpa = A64_VIRTIO_BASE,
    .virtio_gsi = A64_VIRTIO_SPI, /* KVM's irqfd GSI n is SPI n (INTID 32 + n) on the vGIC */
    .virtio_max = A64_VIRTIO_MAX,
    .uart = ARCH_UART_PL011,
    .serial_pio = false,
    .serial_addr = A64_UART_BASE,
    .serial_gsi = A64_UART_SPI,
    .reset_port = 0, /* a reboot is PSCI SYSTEM_RESET (KVM_EXIT_SYSTEM_EVENT) */
    .base_cmdline = "console=ttyAMA0 panic=-1",
    .virtio_cmdline = false, /* the device tree has them */
};

int arch_ram_ranges(uint64_t ram_bytes, uint64_t gpa[2], uint64_t size[2])
{
    uint64_t room = A64_RAM_LOW_END - A64_RAM_BASE; /* 2 GiB below the hole */
    uint64_t low = ram_bytes < room ? ram_bytes : room;
    gpa[0] = A64_RAM_BASE;
    size[0] = low;
    if (ram_bytes == low)
        return 1;
    gpa[1] = A64_RAM_HIGH_BASE;
    size[1] = ram_bytes - low;
    return 2;
}

/* What kvm.c's set-up will call. */
const struct arch_kvm_cap arch_kvm_caps[] = {
    { KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2" },
    { KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL" },
    { KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
    { 0, NULL },
};

/* arm64 has no CPU flag for it: KVM is usable when the kernel booted at EL2, and Linux
 * creates /dev/kvm only then (a kernel entered at EL1 says "HYP mode not available"). */
const char arch_host_virt_wanted[] = "a kernel booted at EL2 (KVM on arm64)";

bool arch_host_virt(struct arch_host_virt *out)
{
    struct stat st;
    bool el2 = stat("/dev/kvm", &st) == 0 && S_ISCHR(st.st_mode);
    if (out)
        *out = el2 ? (struct arch_host_virt){ "el2", "Arm virtualization (EL2)" }
                   : (struct arch_host_virt){ NULL, NULL };
    return el2;
}

bool arch_host_is_vm(void) { return false; }
