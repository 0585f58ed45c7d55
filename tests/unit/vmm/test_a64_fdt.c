// SPDX-License-Identifier: Apache-2.0
/* The aarch64 device tree (src/vmm/arch/aarch64/fdt.c), built on any host and read back by
 * the real device tree compiler (`dtc -I dtb -O dts`): the nodes Linux looks for, their reg
 * and interrupts cells, and clear refusals of bad inputs. */
#include "harness/harness.h"
#include "vmm/arch/aarch64/aarch64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct a64_fdt_device two_devs[2] = {
    { A64_VIRTIO_BASE, A64_VIRTIO_SPI },
    { A64_VIRTIO_BASE + A64_VIRTIO_SIZE, A64_VIRTIO_SPI + 1 },
};

/* 512 MiB, 2 CPUs, GICv3, two virtio devices, an initrd, the control page. */
static struct a64_fdt_input base_input(void)
{
    return (struct a64_fdt_input){
        .ram_gpa = { A64_RAM_BASE }, .ram_size = { 512ull << 20 }, .nram = 1,
        .ncpus = 2, .gic = A64_GIC_V3,
        .cmdline = "console=ttyAMA0 panic=-1 boxlite.ctl=1",
        .initrd_start = 0x48000000, .initrd_size = 0x123000,
        .virtio = two_devs, .nvirtio = 2, .ctl_page = true,
    };
}

static bool have_dtc(void)
{
    return system("command -v dtc >/dev/null 2>&1") == 0;
}

/* The blob as dtc prints it (malloc'd), or NULL. */
static char *decompile(const void *blob, size_t len)
{
    char dtb[512], dts[512], cmd[1200];
    snprintf(dtb, sizeof dtb, "%s/t.dtb", harness_tmpdir());
    snprintf(dts, sizeof dts, "%s/t.dts", harness_tmpdir());
    FILE *f = fopen(dtb, "wb");
    if (!f || fwrite(blob, 1, len, f) != len) {
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    /* -W no-unit_address_vs_reg etc. are not used: dtc's own checks must pass silently */
    snprintf(cmd, sizeof cmd, "dtc -q -I dtb -O dts -o %s %s", dts, dtb);
    if (system(cmd) != 0)
        return NULL;
    f = fopen(dts, "r");
    if (!f)
        return NULL;
    char *s = calloc(1, 1 << 20);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    fclose(f);
    s[n] = 0;
    return s;
}

/* The text of node `name` (from its "name {" to the matching "};"), malloc'd, or NULL. */
static char *node(const char *dts, const char *name)
{
    char head[128];
    snprintf(head, sizeof head, "\t%s {\n", name);
    const char *p = strstr(dts, head);
    if (!p)
        return NULL;
    int depth = 0;
    for (const char *q = p; *q; q++) {
        if (*q == '{')
            depth++;
        else if (*q == '}' && --depth == 0)
            return strndup(p, (size_t)(q - p + 1));
    }
    return NULL;
}

static bool has(const char *text, const char *what)
{
    bool ok = text && strstr(text, what);
    if (!ok)
        fprintf(stderr, "missing: %s\n", what);
    return ok;
}

TEST(fdt_gicv3_tree_reads_back_with_dtc)
{
    if (!have_dtc())
        harness_need("dtc (device-tree-compiler, scripts/setup.sh)");
    struct a64_fdt_input in = base_input();
    void *blob = NULL;
    size_t len = 0;
    struct bl_error err = { 0 };
    REQUIRE(a64_fdt_build(&in, &blob, &len, &err) == 0);
    CHECK(len > 0 && len <= A64_FDT_MAX);
    char *dts = decompile(blob, len);
    REQUIRE(dts);

    CHECK(has(dts, "#address-cells = <0x02>;"));
    CHECK(has(dts, "interrupt-parent = <0x01>;"));

    char *chosen = node(dts, "chosen");
    CHECK(has(chosen, "bootargs = \"console=ttyAMA0 panic=-1 boxlite.ctl=1\";"));
    CHECK(has(chosen, "stdout-path = \"/pl011@9000000\";"));
    /* u64 properties are two cells: start 0x48000000, end start + size */
    CHECK(has(chosen, "linux,initrd-start = <0x00 0x48000000>;"));
    CHECK(has(chosen, "linux,initrd-end = <0x00 0x48123000>;"));
    free(chosen);

    char *mem = node(dts, "memory@40000000");
    CHECK(has(mem, "device_type = \"memory\";"));
    CHECK(has(mem, "reg = <0x00 0x40000000 0x00 0x20000000>;"));
    free(mem);

    char *cpus = node(dts, "cpus");
    CHECK(has(cpus, "cpu@0 {"));
    CHECK(has(cpus, "cpu@1 {"));
    CHECK(has(cpus, "enable-method = \"psci\";"));
    CHECK(has(cpus, "reg = <0x01>;"));
    CHECK(!strstr(cpus ? cpus : "", "cpu@2"));
    free(cpus);

    char *psci = node(dts, "psci");
    CHECK(has(psci, "compatible = \"arm,psci-0.2\";"));
    CHECK(has(psci, "method = \"hvc\";"));
    free(psci);

    /* distributor 64 KiB, redistributors 2 x 128 KiB */
    char *gic = node(dts, "intc@8000000");
    CHECK(has(gic, "compatible = \"arm,gic-v3\";"));
    CHECK(has(gic, "interrupt-controller;"));
    CHECK(has(gic, "#interrupt-cells = <0x03>;"));
    CHECK(has(gic, "reg = <0x00 0x8000000 0x00 0x10000 0x00 0x80a0000 0x00 0x40000>;"));
    CHECK(has(gic, "phandle = <0x01>;"));
    free(gic);

    /* PPIs 13, 14, 11, 10, level-high, no CPU mask on GICv3 */
    char *timer = node(dts, "timer");
    CHECK(has(timer, "compatible = \"arm,armv8-timer\";"));
    CHECK(has(timer, "interrupts = <0x01 0x0d 0x04 0x01 0x0e 0x04 0x01 0x0b 0x04 0x01 0x0a 0x04>;"));
    free(timer);

    char *uart = node(dts, "pl011@9000000");
    CHECK(has(uart, "compatible = \"arm,pl011\\0arm,primecell\";"));
    CHECK(has(uart, "reg = <0x00 0x9000000 0x00 0x1000>;"));
    CHECK(has(uart, "interrupts = <0x00 0x01 0x04>;"));
    CHECK(has(uart, "clock-names = \"uartclk\\0apb_pclk\";"));
    free(uart);

    char *v0 = node(dts, "virtio_mmio@d0001000");
    CHECK(has(v0, "compatible = \"virtio,mmio\";"));
    CHECK(has(v0, "reg = <0x00 0xd0001000 0x00 0x1000>;"));
    CHECK(has(v0, "interrupts = <0x00 0x10 0x01>;")); /* SPI 16, edge */
    free(v0);
    char *v1 = node(dts, "virtio_mmio@d0002000");
    CHECK(has(v1, "interrupts = <0x00 0x11 0x01>;"));
    free(v1);
    CHECK(!strstr(dts, "virtio_mmio@d0003000"));

    char *ctl = node(dts, "boxlite-ctl@d0000000");
    CHECK(has(ctl, "compatible = \"boxlite,ctl\";"));
    CHECK(has(ctl, "reg = <0x00 0xd0000000 0x00 0x1000>;"));
    free(ctl);
    free(dts);
    free(blob);
}

TEST(fdt_gicv2_two_ram_ranges_psci_1_0_no_initrd)
{
    if (!have_dtc())
        harness_need("dtc (device-tree-compiler, scripts/setup.sh)");
    struct a64_fdt_input in = base_input();
    in.gic = A64_GIC_V2;
    in.ncpus = 4;
    in.psci_1_0 = true;
    in.initrd_size = 0;
    in.ctl_page = false;
    in.nvirtio = 0;
    in.nram = 2;
    in.ram_size[0] = A64_RAM_LOW_END - A64_RAM_BASE;
    in.ram_gpa[1] = A64_RAM_HIGH_BASE;
    in.ram_size[1] = 1ull << 30;
    void *blob = NULL;
    size_t len = 0;
    struct bl_error err = { 0 };
    REQUIRE(a64_fdt_build(&in, &blob, &len, &err) == 0);
    char *dts = decompile(blob, len);
    REQUIRE(dts);
    char *gic = node(dts, "intc@8000000");
    CHECK(has(gic, "compatible = \"arm,cortex-a15-gic\";"));
    CHECK(has(gic, "reg = <0x00 0x8000000 0x00 0x1000 0x00 0x8010000 0x00 0x2000>;"));
    free(gic);
    /* GICv2 PPIs carry the mask of the 4 CPUs: 0xf << 8 | level-high */
    CHECK(has(dts, "interrupts = <0x01 0x0d 0xf04 0x01 0x0e 0xf04 0x01 0x0b 0xf04 0x01 0x0a 0xf04>;"));
    CHECK(has(dts, "compatible = \"arm,psci-1.0\\0arm,psci-0.2\";"));
    CHECK(has(dts, "reg = <0x00 0x40000000 0x00 0x80000000>;"));
    CHECK(has(dts, "memory@100000000 {"));
    CHECK(has(dts, "reg = <0x01 0x00 0x00 0x40000000>;"));
    CHECK(has(dts, "cpu@3 {"));
    CHECK(!strstr(dts, "linux,initrd-start"));
    CHECK(!strstr(dts, "boxlite-ctl"));
    CHECK(!strstr(dts, "virtio_mmio"));
    free(dts);
    free(blob);
}

TEST(fdt_many_cpus_use_mpidr_affinity)
{
    if (!have_dtc())
        harness_need("dtc (device-tree-compiler, scripts/setup.sh)");
    CHECK_EQ(a64_mpidr(0), 0);
    CHECK_EQ(a64_mpidr(15), 0xf);
    CHECK_EQ(a64_mpidr(16), 0x100);
    CHECK_EQ(a64_mpidr(35), 0x203);
    struct a64_fdt_input in = base_input();
    in.ncpus = A64_MAX_CPUS_V3;
    void *blob = NULL;
    size_t len = 0;
    struct bl_error err = { 0 };
    REQUIRE(a64_fdt_build(&in, &blob, &len, &err) == 0);
    char *dts = decompile(blob, len);
    REQUIRE(dts);
    CHECK(has(dts, "cpu@203 {")); /* vCPU 35 */
    CHECK(has(dts, "reg = <0x203>;"));
    CHECK(has(dts, "cpu@70a {")); /* vCPU 122, the last */
    /* 123 redistributors end exactly at the UART */
    CHECK(has(dts, "0x00 0x80a0000 0x00 0xf60000>;"));
    free(dts);
    free(blob);
}

/* Each bad input is refused with a message naming the problem, and no blob. */
static void refused(struct a64_fdt_input in, const char *words)
{
    void *blob = (void *)1;
    size_t len = 0;
    struct bl_error err = { 0 };
    int r = a64_fdt_build(&in, &blob, &len, &err);
    CHECK_EQ(r, -BOXLITE_ERR_INVALID);
    CHECK(blob == (void *)1);
    if (!strstr(err.msg, words))
        harness_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", err.msg, words);
}

TEST(fdt_bad_inputs_are_clear_errors)
{
    struct a64_fdt_input in;
    struct a64_fdt_device many[A64_VIRTIO_MAX + 1];
    for (unsigned i = 0; i <= A64_VIRTIO_MAX; i++)
        many[i] = (struct a64_fdt_device){ A64_VIRTIO_BASE + i * A64_VIRTIO_SIZE,
                                           A64_VIRTIO_SPI + i };

    in = base_input();
    in.virtio = many;
    in.nvirtio = A64_VIRTIO_MAX + 1;
    refused(in, "33 virtio devices; the machine has room for 32");
    in.nvirtio = A64_VIRTIO_MAX; /* the last window is fine */
    void *blob = NULL;
    size_t len = 0;
    struct bl_error err = { 0 };
    CHECK(a64_fdt_build(&in, &blob, &len, &err) == 0);
    free(blob);

    in = base_input();
    in.ram_size[0] = 3ull << 30; /* 1 GiB .. 4 GiB crosses the hole */
    refused(in, "overlaps the MMIO region");
    in = base_input();
    in.ram_gpa[0] = 0; /* over the GIC and the UART */
    refused(in, "overlaps the MMIO region");
    in = base_input();
    in.nram = 2;
    in.ram_gpa[1] = 0xd0000000; /* on the control page */
    in.ram_size[1] = 0x1000;
    refused(in, "overlaps the MMIO region");
    in = base_input();
    in.nram = 2;
    in.ram_gpa[1] = A64_RAM_BASE + 0x1000;
    in.ram_size[1] = 0x1000;
    refused(in, "the RAM ranges overlap");
    in = base_input();
    in.ram_gpa[0] = UINT64_MAX - 0xfff;
    refused(in, "wraps");

    in = base_input();
    in.ncpus = 0;
    refused(in, "0 CPUs");
    in.ncpus = A64_MAX_CPUS_V3 + 1;
    refused(in, "124 CPUs; the GICv3 machine has 1 to 123");
    in.gic = A64_GIC_V2;
    in.ncpus = 9;
    refused(in, "9 CPUs; the GICv2 machine has 1 to 8");
    in.gic = 4;
    in.ncpus = 1;
    refused(in, "GIC version 4");

    struct a64_fdt_device bad[2] = { two_devs[0], two_devs[1] };
    in = base_input();
    in.virtio = bad;
    bad[1].spi = bad[0].spi;
    refused(in, "share a window or an SPI");
    bad[1] = two_devs[1];
    bad[1].addr = A64_CTL_GPA;
    refused(in, "not one of the 32 windows");
    bad[1].addr = A64_VIRTIO_BASE + 0x800;
    refused(in, "not one of the 32 windows");
    bad[1] = two_devs[1];
    bad[1].spi = A64_UART_SPI;
    refused(in, "not the UART's");
    bad[1].spi = A64_SPI_COUNT;
    refused(in, "has SPI 64");

    in = base_input();
    in.initrd_start = A64_RAM_BASE + (512ull << 20) - 0x1000; /* runs past the end of RAM */
    refused(in, "initrd");
    in.initrd_start = UINT64_MAX - 0x1000;
    refused(in, "initrd");

    char *longline = malloc(A64_CMDLINE_MAX + 1);
    memset(longline, 'x', A64_CMDLINE_MAX);
    longline[A64_CMDLINE_MAX] = 0;
    in = base_input();
    in.cmdline = longline;
    refused(in, "command line longer than 2047 bytes");
    free(longline);
}
