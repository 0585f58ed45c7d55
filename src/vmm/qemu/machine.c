// SPDX-License-Identifier: Apache-2.0
/* The QEMU machine for a box's architecture: which qemu-system binary, which -M, which
 * console the guest writes to, how many virtio-mmio transports. Chosen by the box's
 * architecture (vmm.json "arch"), never by the host's: an arm64 box on an x86_64 host is
 * -M virt under TCG. Data only; the KVM engine's architecture code is src/vmm/arch/. */
#include "vmm/qemu/qemu.h"

#include "common/hostarch.h"

#include <string.h>

static const struct qemu_machine machines[] = {
    {
        .arch = "x86_64",
        .binary = "qemu-system-x86_64",
        .package = "qemu-system-x86",
        /* no PCI, no ACPI, no firmware tables; qboot loads the kernel itself */
        .machine = "microvm,acpi=off,x-option-roms=off",
        .console = "ttyS0",
        /* The kernel checks that the IO-APIC delivers the 8254's ticks by counting a few of
         * them in a short window; a TCG vCPU descheduled on a loaded host misses it and the
         * guest panics ("IO-APIC + timer doesn't work!"). microvm's timer is known good. */
        .words = "no_timer_check ",
        /* QEMU hw/i386/microvm.c VIRTIO_NUM_TRANSPORTS */
        .transports = QEMU_MICROVM_TRANSPORTS,
        .disks_reversed = false,
        /* qboot's fw_cfg kernel entries are not migrated state (tests/e2e/pause.sh) */
        .resume_without_kernel = true,
    },
    {
        .arch = "aarch64",
        .binary = "qemu-system-aarch64",
        .package = "qemu-system-arm",
        /* GICv3 (the guest kernel's only interrupt controller driver, and what KVM hosts
         * offer); no ACPI: the kernel finds everything in the device tree QEMU writes
         * (memory, PSCI over hvc, the PL011, the virtio-mmio transports). */
        .machine = "virt,gic-version=3,acpi=off",
        .console = "ttyAMA0",
        .words = "", /* an unknown word would be init's argument: only x86 knows that one */
        /* QEMU hw/arm/virt.c NUM_VIRTIO_TRANSPORTS */
        .transports = 32,
        /* hw/arm/virt.c create_virtio_devices(): -device options in command-line order
         * take transports of decreasing base address, and Linux probes them lowest
         * address first, so the first virtio-blk on the command line would be the last
         * /dev/vdX. Disks go in reverse so that disk 0 (the rootfs) is /dev/vda as on
         * microvm. */
        .disks_reversed = true,
    },
};

const struct qemu_machine *qemu_machine_for(const char *arch)
{
    if (!arch || !*arch)
        arch = host_machine();
    arch = machine_of_oci_arch(arch); /* "arm64" names the same machine */
    for (size_t i = 0; i < sizeof machines / sizeof machines[0]; i++)
        if (!strcmp(machines[i].arch, arch))
            return &machines[i];
    return NULL;
}

bool qemu_machine_is_host(const struct qemu_machine *m)
{
    return m && !strcmp(m->arch, host_machine());
}
