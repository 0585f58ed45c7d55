// SPDX-License-Identifier: Apache-2.0
/* The aarch64 KVM set-up behind arch.h (compiled only when ARCH=aarch64), after the KVM API
 * (Linux Documentation/virt/kvm/api.rst; devices/arm-vgic-v3.rst, arm-vgic.rst):
 *   arch_vm_init: the in-kernel GIC with KVM_CREATE_DEVICE, GICv3 (distributor and
 *     redistributors) or, where the host has none, GICv2 (distributor and CPU interface),
 *     at aarch64.h's addresses, with 32 + A64_SPI_COUNT interrupts;
 *   arch_vcpu_init: KVM_ARM_VCPU_INIT with the VM's preferred target and PSCI 0.2 (KVM then
 *     answers PSCI itself: vCPUs other than 0 start powered off until the guest's CPU_ON,
 *     SYSTEM_OFF/RESET end KVM_RUN with KVM_EXIT_SYSTEM_EVENT); the boot vCPU gets
 *     PC = the Image, X0 = the device tree (booting.rst; KVM's reset state is already EL1h
 *     with DAIF masked and the MMU off);
 *   arch_vm_finish: KVM_DEV_ARM_VGIC_CTRL_INIT once every vCPU exists;
 *   arch_load_kernel: image.c and fdt.c, the virtio devices in the device tree;
 *   the snapshot hooks (arch_vcpu_save and the rest): state.c.
 * The architected timer needs no set-up: KVM gives every vCPU its virtual timer on PPI 27,
 * which the device tree announces. */
#include "vmm/arch/arch.h"
#include "aarch64.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* What arch_vm_init found out about this host for the VMs it creates next (a host fact:
 * the GIC version KVM can emulate and the preferred CPU target do not change), and the GIC
 * device of the VM and how many vCPUs it has (kept for the VM's life: a snapshot reads and
 * writes the GIC through it, state.c). The VMM builds one VM per process; a second
 * arch_vm_init (tests) takes the slot over. */
static struct {
    pthread_mutex_t lock;
    enum a64_gic gic;
    struct kvm_vcpu_init target;
    bool have_target;
    int vm_fd, gic_fd;
    unsigned ncpus;
} host = { PTHREAD_MUTEX_INITIALIZER, A64_GIC_V3, { 0 }, false, -1, -1, 0 };

int a64_vm_gic(int vm_fd, enum a64_gic *v, unsigned *ncpus)
{
    pthread_mutex_lock(&host.lock);
    int fd = host.vm_fd == vm_fd ? host.gic_fd : -1;
    *v = host.gic;
    *ncpus = host.ncpus;
    pthread_mutex_unlock(&host.lock);
    return fd;
}

int a64_vm_target(uint32_t *target)
{
    pthread_mutex_lock(&host.lock);
    bool have = host.have_target;
    *target = host.target.target;
    pthread_mutex_unlock(&host.lock);
    return have ? 0 : -1;
}

static int gic_attr(int fd, uint32_t group, uint64_t attr, void *addr, const char *what,
                    struct bl_error *err)
{
    struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)addr };
    if (ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0)
        return bl_errno(err, errno, "GIC: %s", what);
    return 0;
}

/* KVM_CREATE_DEVICE for the GIC of version v and its addresses; the device fd, or -1. */
static int create_gic(int vm_fd, enum a64_gic v, struct bl_error *err)
{
    struct kvm_create_device cd = {
        .type = v == A64_GIC_V3 ? KVM_DEV_TYPE_ARM_VGIC_V3 : KVM_DEV_TYPE_ARM_VGIC_V2,
    };
    if (ioctl(vm_fd, KVM_CREATE_DEVICE, &cd) < 0) {
        bl_errno(err, errno, "KVM_CREATE_DEVICE (GICv%d)", (int)v);
        return -1;
    }
    int fd = (int)cd.fd;
    uint64_t dist = A64_GICD_BASE, cpu = v == A64_GIC_V3 ? A64_GICR_BASE : A64_GICC_BASE;
    uint32_t nr_irqs = 32 + A64_SPI_COUNT;
    if (gic_attr(fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
                 v == A64_GIC_V3 ? KVM_VGIC_V3_ADDR_TYPE_DIST : KVM_VGIC_V2_ADDR_TYPE_DIST, &dist,
                 "distributor address", err) < 0 ||
        gic_attr(fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
                 v == A64_GIC_V3 ? KVM_VGIC_V3_ADDR_TYPE_REDIST : KVM_VGIC_V2_ADDR_TYPE_CPU, &cpu,
                 v == A64_GIC_V3 ? "redistributor address" : "CPU interface address", err) < 0 ||
        gic_attr(fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs, "number of interrupts", err) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int arch_vm_init(int vm_fd, struct bl_error *err)
{
    struct kvm_vcpu_init target;
    memset(&target, 0, sizeof target);
    if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &target) < 0)
        return bl_errno(err, errno, "KVM_ARM_PREFERRED_TARGET");
    /* GICv3 first: what arm64 servers have, and what lets more than 8 vCPUs in; a GICv2
     * host (or a GICv3 without the v2 compatibility KVM needs for v2) gets the other. */
    enum a64_gic v = A64_GIC_V3;
    int fd = create_gic(vm_fd, v, err);
    if (fd < 0) {
        v = A64_GIC_V2;
        fd = create_gic(vm_fd, v, err);
    }
    if (fd < 0)
        return bl_err_prefix(err, "no in-kernel GIC (v3, then v2)");
    pthread_mutex_lock(&host.lock);
    if (host.gic_fd >= 0)
        close(host.gic_fd);
    host.gic = v;
    host.target = target;
    host.have_target = true;
    host.vm_fd = vm_fd;
    host.gic_fd = fd;
    host.ncpus = 0;
    pthread_mutex_unlock(&host.lock);
    return 0;
}

int arch_vm_finish(int vm_fd, struct bl_error *err)
{
    enum a64_gic v;
    unsigned ncpus;
    int fd = a64_vm_gic(vm_fd, &v, &ncpus);
    if (fd < 0)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "GIC: no device for this VM");
    /* a second call (a restore initialises the GIC before it fills it) changes nothing */
    return gic_attr(fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, "init", err);
}

/* KVM_IRQ_LINE on arm64 (api.rst): type in bits 24-27 (SPI), the INTID in bits 0-15; GSI n
 * is SPI n, INTID 32 + n, as KVM's default irqfd routing has it. */
uint32_t arch_irq_line(uint32_t gsi)
{
    return (uint32_t)KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT | (gsi + 32);
}

/* ---- the guest CPU: one template, the host's, as KVM exposes its ID registers --------- */
const char *const arch_cpu_templates[] = { "host", NULL };

struct arch_cpu {
    const char *name;
};

static int cpu_new(const char *template_name, struct arch_cpu **out, struct bl_error *err)
{
    if (template_name && *template_name && strcmp(template_name, "auto") &&
        strcmp(template_name, "host"))
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "CPU template %s: aarch64 has one template, host", template_name);
    struct arch_cpu *c = calloc(1, sizeof *c);
    if (!c)
        return bl_errno(err, ENOMEM, "guest CPU");
    c->name = "host";
    *out = c;
    return 0;
}

int arch_cpu_new(int kvm_fd, const char *template_name, struct arch_cpu **out,
                 struct bl_error *err)
{
    (void)kvm_fd;
    return cpu_new(template_name, out, err);
}

int arch_cpu_from_dump(const char *dump, size_t len, const char *template_name,
                       struct arch_cpu **out, struct bl_error *err)
{
    (void)dump;
    (void)len;
    return cpu_new(template_name, out, err);
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
    bl_err(err, BOXLITE_ERR_UNSUPPORTED, "aarch64: no host CPU description yet (issue 18)");
    return NULL;
}

/* ---- the kernel ------------------------------------------------------------------------ */
int arch_load_kernel(struct guest_mem *gm, const struct arch_kernel *k, struct arch_boot *out,
                     struct bl_error *err)
{
    struct a64_fdt_device dev[A64_VIRTIO_MAX];
    if (k->nvirtio > A64_VIRTIO_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "%u virtio devices: at most %u", k->nvirtio,
                      A64_VIRTIO_MAX);
    for (unsigned i = 0; i < k->nvirtio; i++)
        dev[i] = (struct a64_fdt_device){ .addr = k->virtio[i].base, .spi = k->virtio[i].gsi };
    struct a64_fdt_input in = {
        .ncpus = k->ncpus ? k->ncpus : 1,
        .cmdline = k->cmdline,
        .virtio = dev,
        .nvirtio = k->nvirtio,
        .ctl_page = true,
    };
    pthread_mutex_lock(&host.lock);
    in.gic = host.gic;
    pthread_mutex_unlock(&host.lock);
    if (gm->nregions < 1 || gm->nregions > 2)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "%d RAM regions", gm->nregions);
    for (int i = 0; i < gm->nregions; i++) {
        in.ram_gpa[i] = gm->regions[i].gpa;
        in.ram_size[i] = gm->regions[i].size;
    }
    in.nram = gm->nregions;
    struct a64_boot_plan plan;
    if (a64_load_kernel(gm, k->kernel, k->initrd, &in, &plan, err) < 0)
        return -err->code;
    *out = (struct arch_boot){ .entry = plan.kernel_gpa, .boot_info = plan.fdt_gpa,
                               .ncpus = in.ncpus };
    return 0;
}

int arch_write_cpu_tables(struct guest_mem *gm, struct bl_error *err)
{
    (void)gm;
    (void)err;
    return 0; /* arm64 enters the kernel with the MMU off: no tables */
}

/* ---- vCPUs ----------------------------------------------------------------------------- */
#define CORE_REG(x) \
    (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
     (offsetof(struct kvm_regs, x) / sizeof(uint32_t)))

static int set_reg(int vcpu_fd, uint64_t id, uint64_t v, const char *name, struct bl_error *err)
{
    struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&v };
    if (ioctl(vcpu_fd, KVM_SET_ONE_REG, &r) < 0)
        return bl_errno(err, errno, "KVM_SET_ONE_REG %s", name);
    return 0;
}

int arch_vcpu_init(int kvm_fd, int vcpu_fd, unsigned id, const struct arch_boot *boot,
                   struct bl_error *err)
{
    (void)kvm_fd;
    pthread_mutex_lock(&host.lock);
    struct kvm_vcpu_init init = host.target;
    if (id + 1 > host.ncpus)
        host.ncpus = id + 1; /* the GIC's redistributors to save (state.c) */
    pthread_mutex_unlock(&host.lock);
    memset(init.features, 0, sizeof init.features);
    init.features[0] = 1u << KVM_ARM_VCPU_PSCI_0_2;
    if (id != 0)
        init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF; /* until the guest's CPU_ON */
    if (ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0)
        return bl_errno(err, errno, "KVM_ARM_VCPU_INIT (target %u, PSCI 0.2)", init.target);
    if (id != 0)
        return 0;
    /* booting.rst: x0 = the device tree's physical address, x1-x3 = 0, enter the Image */
    if (set_reg(vcpu_fd, CORE_REG(regs.regs[0]), boot->boot_info, "x0", err) < 0 ||
        set_reg(vcpu_fd, CORE_REG(regs.pc), boot->entry, "pc", err) < 0)
        return -err->code;
    return 0;
}
