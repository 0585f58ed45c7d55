// SPDX-License-Identifier: Apache-2.0
/* SKELETON (issue 18): the aarch64 KVM set-up behind arch.h, compiled only when ARCH=aarch64.
 * Nothing here has run: the project's x86_64 hosts cannot run an aarch64 KVM guest, so each
 * step returns BOXLITE_ERR_UNSUPPORTED until it is written and proven on an arm64 host or in
 * the ARM64 lab. What each step is to do, from the KVM API (Documentation/virt/kvm/api.rst
 * and devices/arm-vgic-v3.rst):
 *   arch_vm_init: KVM_CREATE_DEVICE KVM_DEV_TYPE_ARM_VGIC_V3 (V2 as fallback), its
 *     KVM_DEV_ARM_VGIC_GRP_ADDR at A64_GICD_BASE / A64_GICR_BASE (v2: A64_GICC_BASE),
 *     GRP_NR_IRQS = 32 + A64_SPI_COUNT, then after the vCPUs exist GRP_CTRL
 *     KVM_DEV_ARM_VGIC_CTRL_INIT.
 *   arch_vcpu_init: KVM_ARM_PREFERRED_TARGET, KVM_ARM_VCPU_INIT with
 *     KVM_ARM_VCPU_PSCI_0_2 (vCPUs other than 0 also KVM_ARM_VCPU_POWER_OFF: they wait for
 *     PSCI CPU_ON); for vCPU 0 KVM_SET_ONE_REG PC = boot->entry, X0 = boot->boot_info (the
 *     device tree), PSTATE = EL1h with DAIF masked (booting.rst).
 *   arch_load_kernel: a64_load_kernel (image.c, fdt.c) once the contract carries the
 *     virtio devices (address, SPI) into the device tree: arch_kernel has no device list
 *     today, and the shared engine announces devices on the command line instead.
 *   CPU templates: arm64 has no CPUID; ID registers are what KVM exposes (writable ID
 *     registers from Linux 6.7): one template, "host". */
#include "vmm/arch/arch.h"
#include "aarch64.h"

#include <stdlib.h>
#include <string.h>

static int not_yet(struct bl_error *err, const char *what)
{
    return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                  "aarch64 KVM engine: %s is not written yet (issue 18); use the QEMU engine",
                  what);
}

int arch_vm_init(int vm_fd, struct bl_error *err)
{
    (void)vm_fd;
    return not_yet(err, "the in-kernel GIC");
}

const char *const arch_cpu_templates[] = { "host", NULL };

struct arch_cpu {
    const char *name;
};

int arch_cpu_new(int kvm_fd, const char *template_name, struct arch_cpu **out,
                 struct bl_error *err)
{
    (void)kvm_fd;
    (void)template_name;
    (void)out;
    return not_yet(err, "the guest CPU");
}

int arch_cpu_from_dump(const char *dump, size_t len, const char *template_name,
                       struct arch_cpu **out, struct bl_error *err)
{
    (void)dump;
    (void)len;
    (void)template_name;
    (void)out;
    return not_yet(err, "the guest CPU");
}

const char *arch_cpu_template(const struct arch_cpu *c) { return c ? c->name : NULL; }
void arch_cpu_free(struct arch_cpu *c) { free(c); }
char *arch_cpu_describe(const char *template_name)
{
    return template_name && !strcmp(template_name, "host")
               ? strdup("host: the host CPU's ID registers as KVM exposes them\n")
               : NULL;
}

char *arch_cpu_host_dump(int kvm_fd, struct bl_error *err)
{
    (void)kvm_fd;
    not_yet(err, "the host CPU description");
    return NULL;
}

int arch_load_kernel(struct guest_mem *gm, const struct arch_kernel *k, struct arch_boot *out,
                     struct bl_error *err)
{
    (void)gm;
    (void)k;
    (void)out;
    return not_yet(err, "kernel loading through arch.h (a64_load_kernel needs the devices)");
}

int arch_write_cpu_tables(struct guest_mem *gm, struct bl_error *err)
{
    (void)gm;
    (void)err;
    return 0; /* arm64 enters the kernel with the MMU off: no tables */
}

int arch_vcpu_init(int kvm_fd, int vcpu_fd, unsigned id, const struct arch_boot *boot,
                   struct bl_error *err)
{
    (void)kvm_fd;
    (void)vcpu_fd;
    (void)id;
    (void)boot;
    return not_yet(err, "vCPU set-up");
}
