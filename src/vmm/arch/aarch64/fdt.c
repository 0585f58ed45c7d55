// SPDX-License-Identifier: Apache-2.0
/* The aarch64 guest's flattened device tree (Devicetree Specification v0.4; the bindings
 * under Linux's Documentation/devicetree/bindings: arm/cpus.yaml, arm/psci.yaml,
 * interrupt-controller/arm,gic-v3.yaml and arm,gic.yaml, timer/arm,arch_timer.yaml,
 * serial/pl011.yaml, virtio/mmio.yaml, chosen.yaml), written with libfdt's sequential-write
 * API. Pure: inputs in a struct, a blob out; the KVM engine writes it into guest RAM. */
#include "aarch64.h"

#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* include/dt-bindings/interrupt-controller/arm-gic.h and irq.h */
#define GIC_SPI 0
#define GIC_PPI 1
#define IRQ_TYPE_EDGE_RISING 1
#define IRQ_TYPE_LEVEL_HIGH 4
/* The architected timer's PPIs (Arm Base System Architecture, "PPI assignments"): secure
 * EL1 physical 13, non-secure EL1 physical 14, virtual 11, EL2 physical 10 (INTID - 16). */
static const uint32_t timer_ppis[4] = { 13, 14, 11, 10 };

#define PHANDLE_GIC 1
#define PHANDLE_CLK 2
#define UART_CLOCK_HZ 24000000 /* what a PL011 driver is told; baud does not matter here */

uint64_t a64_mpidr(unsigned id)
{
    return (uint64_t)(id & 0xf) | (uint64_t)((id >> 4) & 0xff) << 8 |
           (uint64_t)((id >> 12) & 0xff) << 16;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* The checks the builder's output depends on; each says what is wrong. */
static int check_input(const struct a64_fdt_input *in, struct bl_error *err)
{
    unsigned max_cpus = in->gic == A64_GIC_V2 ? A64_MAX_CPUS_V2 : A64_MAX_CPUS_V3;
    if (in->gic != A64_GIC_V3 && in->gic != A64_GIC_V2)
        return bl_err(err, BOXLITE_ERR_INVALID, "device tree: GIC version %d is not 2 or 3",
                      (int)in->gic);
    if (in->ncpus == 0 || in->ncpus > max_cpus)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "device tree: %u CPUs; the GICv%d machine has 1 to %u", in->ncpus,
                      (int)in->gic, max_cpus);
    if (in->nram < 1 || in->nram > 2)
        return bl_err(err, BOXLITE_ERR_INVALID, "device tree: %d RAM ranges (1 or 2)", in->nram);
    for (int i = 0; i < in->nram; i++) {
        uint64_t a = in->ram_gpa[i], n = in->ram_size[i];
        if (n == 0 || a % 4096 || n % 4096 || a + n < a)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "device tree: RAM range %d (%#llx bytes at %#llx) is empty, not page "
                          "aligned or wraps",
                          i, (unsigned long long)n, (unsigned long long)a);
        if (overlaps(a, n, A64_MMIO_HOLE_BASE, A64_MMIO_HOLE_END - A64_MMIO_HOLE_BASE) ||
            a < A64_RAM_BASE || a + n > A64_RAM_MAX_END)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "device tree: RAM range %d [%#llx, %#llx) overlaps the MMIO region "
                          "(below %#llx or in [%#llx, %#llx)) or ends above %#llx",
                          i, (unsigned long long)a, (unsigned long long)(a + n),
                          A64_RAM_BASE, A64_MMIO_HOLE_BASE, A64_MMIO_HOLE_END, A64_RAM_MAX_END);
        if (i == 1 && overlaps(a, n, in->ram_gpa[0], in->ram_size[0]))
            return bl_err(err, BOXLITE_ERR_INVALID, "device tree: the RAM ranges overlap");
    }
    if (in->nvirtio > A64_VIRTIO_MAX || (in->nvirtio && !in->virtio))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "device tree: %u virtio devices; the machine has room for %u",
                      in->nvirtio, A64_VIRTIO_MAX);
    for (unsigned i = 0; i < in->nvirtio; i++) {
        const struct a64_fdt_device *d = &in->virtio[i];
        if (d->addr < A64_VIRTIO_BASE || d->addr % A64_VIRTIO_SIZE ||
            (d->addr - A64_VIRTIO_BASE) / A64_VIRTIO_SIZE >= A64_VIRTIO_MAX)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "device tree: virtio device %u at %#llx is not one of the %u windows "
                          "from %#llx",
                          i, (unsigned long long)d->addr, A64_VIRTIO_MAX, A64_VIRTIO_BASE);
        if (d->spi >= A64_SPI_COUNT || d->spi == A64_UART_SPI)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "device tree: virtio device %u has SPI %u (0..%u, not the UART's %u)",
                          i, d->spi, A64_SPI_COUNT - 1, A64_UART_SPI);
        for (unsigned j = 0; j < i; j++)
            if (in->virtio[j].addr == d->addr || in->virtio[j].spi == d->spi)
                return bl_err(err, BOXLITE_ERR_INVALID,
                              "device tree: virtio devices %u and %u share a window or an SPI", j,
                              i);
    }
    const char *cl = in->cmdline ? in->cmdline : "";
    if (strlen(cl) >= A64_CMDLINE_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "device tree: command line longer than %d bytes",
                      A64_CMDLINE_MAX - 1);
    if (in->initrd_size) {
        uint64_t s = in->initrd_start, e = s + in->initrd_size;
        bool inside = false;
        for (int i = 0; e > s && i < in->nram; i++)
            inside |= s >= in->ram_gpa[i] && e <= in->ram_gpa[i] + in->ram_size[i];
        if (!inside)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "device tree: the initrd [%#llx, +%#llx) is not inside one RAM range",
                          (unsigned long long)s, (unsigned long long)in->initrd_size);
    }
    return 0;
}

/* Properties of big-endian cells. */
static int prop_cells(void *fdt, const char *name, const uint32_t *v, unsigned n)
{
    fdt32_t cells[16];
    for (unsigned i = 0; i < n && i < 16; i++)
        cells[i] = cpu_to_fdt32(v[i]);
    return fdt_property(fdt, name, cells, (int)(n * sizeof cells[0]));
}

/* reg = <addr size> with #address-cells = #size-cells = 2, for up to 2 ranges. */
static int prop_reg(void *fdt, const uint64_t *addr, const uint64_t *size, unsigned n)
{
    fdt64_t cells[4];
    for (unsigned i = 0; i < n && i < 2; i++) {
        cells[2 * i] = cpu_to_fdt64(addr[i]);
        cells[2 * i + 1] = cpu_to_fdt64(size[i]);
    }
    return fdt_property(fdt, "reg", cells, (int)(2 * n * sizeof cells[0]));
}

static int reg1(void *fdt, uint64_t addr, uint64_t size)
{
    return prop_reg(fdt, &addr, &size, 1);
}

/* A node name with its unit address, "name@hex". */
static int begin_at(void *fdt, const char *name, uint64_t addr)
{
    char s[64];
    snprintf(s, sizeof s, "%s@%llx", name, (unsigned long long)addr);
    return fdt_begin_node(fdt, s);
}

/* Each step returns libfdt's error (negative), which the caller turns into one message;
 * FDT_ERR_NOSPACE makes it retry with a bigger buffer. */
#define TRY(x)                                                                          \
    do {                                                                                \
        int _r = (x);                                                                   \
        if (_r < 0)                                                                     \
            return _r;                                                                  \
    } while (0)

static int write_cpus(void *fdt, const struct a64_fdt_input *in)
{
    TRY(fdt_begin_node(fdt, "cpus"));
    TRY(fdt_property_u32(fdt, "#address-cells", 1));
    TRY(fdt_property_u32(fdt, "#size-cells", 0));
    for (unsigned i = 0; i < in->ncpus; i++) {
        uint64_t mpidr = a64_mpidr(i);
        TRY(begin_at(fdt, "cpu", mpidr));
        TRY(fdt_property_string(fdt, "device_type", "cpu"));
        TRY(fdt_property_string(fdt, "compatible", "arm,arm-v8"));
        /* The other CPUs wait until the boot CPU calls PSCI CPU_ON (arm/cpus.yaml). */
        TRY(fdt_property_string(fdt, "enable-method", "psci"));
        TRY(fdt_property_u32(fdt, "reg", (uint32_t)mpidr));
        TRY(fdt_end_node(fdt));
    }
    return fdt_end_node(fdt);
}

static int write_gic(void *fdt, const struct a64_fdt_input *in)
{
    TRY(begin_at(fdt, "intc", A64_GICD_BASE));
    TRY(fdt_property_u32(fdt, "#interrupt-cells", 3));
    TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(fdt_property_u32(fdt, "phandle", PHANDLE_GIC));
    if (in->gic == A64_GIC_V3) {
        uint64_t a[2] = { A64_GICD_BASE, A64_GICR_BASE };
        uint64_t s[2] = { A64_GICD_SIZE, A64_GICR_PER_CPU * in->ncpus };
        TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3"));
        TRY(fdt_property_u32(fdt, "#redistributor-regions", 1));
        TRY(prop_reg(fdt, a, s, 2));
    } else {
        /* GICv2: the distributor's 4 KiB and the CPU interface (arm,gic.yaml). */
        uint64_t a[2] = { A64_GICD_BASE, A64_GICC_BASE };
        uint64_t s[2] = { 0x1000, A64_GICC_SIZE };
        TRY(fdt_property_string(fdt, "compatible", "arm,cortex-a15-gic"));
        TRY(prop_reg(fdt, a, s, 2));
    }
    return fdt_end_node(fdt);
}

static int write_timer(void *fdt, const struct a64_fdt_input *in)
{
    /* A GICv2 PPI names the CPUs it goes to in bits 8-15 of its flags cell; GICv3 has no
     * such mask (arm,gic-v3.yaml). The timer's outputs are active-high levels. */
    uint32_t flags = IRQ_TYPE_LEVEL_HIGH;
    if (in->gic == A64_GIC_V2)
        flags |= ((1u << in->ncpus) - 1) << 8;
    uint32_t irq[12];
    for (unsigned i = 0; i < 4; i++) {
        irq[3 * i] = GIC_PPI;
        irq[3 * i + 1] = timer_ppis[i];
        irq[3 * i + 2] = flags;
    }
    TRY(fdt_begin_node(fdt, "timer"));
    TRY(fdt_property_string(fdt, "compatible", "arm,armv8-timer"));
    TRY(fdt_property(fdt, "always-on", NULL, 0));
    TRY(prop_cells(fdt, "interrupts", irq, 12));
    return fdt_end_node(fdt);
}

static int write_uart(void *fdt)
{
    /* The PL011 binding wants its clocks; a fixed clock serves both. */
    TRY(fdt_begin_node(fdt, "apb-pclk"));
    TRY(fdt_property_string(fdt, "compatible", "fixed-clock"));
    TRY(fdt_property_u32(fdt, "#clock-cells", 0));
    TRY(fdt_property_u32(fdt, "clock-frequency", UART_CLOCK_HZ));
    TRY(fdt_property_string(fdt, "clock-output-names", "clk24mhz"));
    TRY(fdt_property_u32(fdt, "phandle", PHANDLE_CLK));
    TRY(fdt_end_node(fdt));

    static const char compat[] = "arm,pl011\0arm,primecell";
    static const char names[] = "uartclk\0apb_pclk";
    uint32_t irq[3] = { GIC_SPI, A64_UART_SPI, IRQ_TYPE_LEVEL_HIGH };
    uint32_t clk[2] = { PHANDLE_CLK, PHANDLE_CLK };
    TRY(begin_at(fdt, "pl011", A64_UART_BASE));
    TRY(fdt_property(fdt, "compatible", compat, sizeof compat));
    TRY(reg1(fdt, A64_UART_BASE, A64_UART_SIZE));
    TRY(prop_cells(fdt, "interrupts", irq, 3));
    TRY(prop_cells(fdt, "clocks", clk, 2));
    TRY(fdt_property(fdt, "clock-names", names, sizeof names));
    return fdt_end_node(fdt);
}

static int write_tree(void *fdt, const struct a64_fdt_input *in)
{
    TRY(fdt_finish_reservemap(fdt));
    TRY(fdt_begin_node(fdt, ""));
    TRY(fdt_property_string(fdt, "compatible", "boxlite,virt"));
    TRY(fdt_property_string(fdt, "model", "BoxLite micro-VM"));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(fdt_property_u32(fdt, "interrupt-parent", PHANDLE_GIC));

    char stdout_path[32];
    snprintf(stdout_path, sizeof stdout_path, "/pl011@%llx", A64_UART_BASE);
    TRY(fdt_begin_node(fdt, "chosen"));
    TRY(fdt_property_string(fdt, "bootargs", in->cmdline ? in->cmdline : ""));
    TRY(fdt_property_string(fdt, "stdout-path", stdout_path));
    if (in->initrd_size) {
        /* chosen.yaml: the initrd's start and end (exclusive), 64-bit here */
        TRY(fdt_property_u64(fdt, "linux,initrd-start", in->initrd_start));
        TRY(fdt_property_u64(fdt, "linux,initrd-end", in->initrd_start + in->initrd_size));
    }
    TRY(fdt_end_node(fdt));

    /* One memory node per range: each carries its own unit address. */
    for (int i = 0; i < in->nram; i++) {
        TRY(begin_at(fdt, "memory", in->ram_gpa[i]));
        TRY(fdt_property_string(fdt, "device_type", "memory"));
        TRY(reg1(fdt, in->ram_gpa[i], in->ram_size[i]));
        TRY(fdt_end_node(fdt));
    }

    TRY(write_cpus(fdt, in));

    /* KVM's PSCI (KVM_ARM_VCPU_PSCI_0_2) is reached with HVC from EL1 (arm/psci.yaml). */
    static const char psci02[] = "arm,psci-0.2";
    static const char psci10[] = "arm,psci-1.0\0arm,psci-0.2";
    TRY(fdt_begin_node(fdt, "psci"));
    if (in->psci_1_0)
        TRY(fdt_property(fdt, "compatible", psci10, sizeof psci10));
    else
        TRY(fdt_property(fdt, "compatible", psci02, sizeof psci02));
    TRY(fdt_property_string(fdt, "method", "hvc"));
    TRY(fdt_end_node(fdt));

    TRY(write_gic(fdt, in));
    TRY(write_timer(fdt, in));
    TRY(write_uart(fdt));

    for (unsigned i = 0; i < in->nvirtio; i++) {
        const struct a64_fdt_device *d = &in->virtio[i];
        uint32_t irq[3] = { GIC_SPI, d->spi, IRQ_TYPE_EDGE_RISING };
        TRY(begin_at(fdt, "virtio_mmio", d->addr));
        TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
        TRY(reg1(fdt, d->addr, A64_VIRTIO_SIZE));
        TRY(prop_cells(fdt, "interrupts", irq, 3));
        /* the device reads guest RAM through the VMM's own cacheable mapping */
        TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
        TRY(fdt_end_node(fdt));
    }

    /* The control page is MMIO in the hole, not RAM: no reservation is needed. The node
     * documents it to the guest; the agent maps GUEST_CTL_PAGE when the command line says
     * boxlite.ctl=1, as on x86_64. No Linux driver binds "boxlite,ctl". */
    if (in->ctl_page) {
        TRY(begin_at(fdt, "boxlite-ctl", A64_CTL_GPA));
        TRY(fdt_property_string(fdt, "compatible", "boxlite,ctl"));
        TRY(reg1(fdt, A64_CTL_GPA, GUEST_CTL_SIZE));
        TRY(fdt_end_node(fdt));
    }

    TRY(fdt_end_node(fdt));
    return fdt_finish(fdt);
}

int a64_fdt_build(const struct a64_fdt_input *in, void **blob, size_t *len,
                  struct bl_error *err)
{
    if (check_input(in, err) < 0)
        return -err->code;
    for (size_t cap = 16384; cap <= A64_FDT_MAX; cap *= 2) {
        void *buf = calloc(1, cap);
        if (!buf)
            return bl_err(err, BOXLITE_ERR_NOMEM, "device tree: out of memory");
        int r = fdt_create(buf, (int)cap);
        if (r == 0)
            r = write_tree(buf, in);
        if (r == 0) {
            *blob = buf;
            *len = fdt_totalsize(buf);
            return 0;
        }
        free(buf);
        if (r != -FDT_ERR_NOSPACE)
            return bl_err(err, BOXLITE_ERR_INTERNAL, "device tree: %s", fdt_strerror(r));
    }
    return bl_err(err, BOXLITE_ERR_INVALID, "device tree: larger than %u bytes", A64_FDT_MAX);
}
