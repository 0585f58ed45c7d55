// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The arm64 Image loader (a64_load_kernel, src/vmm/arch/aarch64/image.c) on arbitrary
 * files: headers that lie about text_offset, image_size and flags, truncated files, must be
 * refused or loaded inside guest RAM with the device tree after them, never crash or write
 * outside it. The first 8 bytes also choose the RAM size and an initrd size, so placement
 * (a64_boot_place) is driven to its edges. */
#include "memfd_input.h"
#include "vmm/arch/aarch64/aarch64.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM (32u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram;
    if (!ram) {
        ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (ram == MAP_FAILED)
            return 0;
    }
    /* the pure parts on the raw input */
    struct a64_image im;
    struct a64_boot_plan plan;
    struct bl_error err = { 0 };
    if (size >= 8 && a64_image_parse(data, size, size, &im, &err) == 0) {
        uint32_t ram_mib, initrd_kib;
        memcpy(&ram_mib, data, 4);
        memcpy(&initrd_kib, data + 4, 4);
        uint64_t base = A64_RAM_BASE + (ram_mib & 0x3fffff) * 4096ull;
        uint64_t end = base + ((uint64_t)ram_mib << 20);
        if (a64_boot_place(&im, base, (uint64_t)ram_mib << 20, (uint64_t)initrd_kib << 10,
                           &plan, &err) == 0 &&
            (plan.kernel_gpa % 4096 || plan.kernel_gpa < base ||
             plan.fdt_gpa < plan.kernel_end || plan.fdt_gpa + A64_FDT_MAX > end ||
             (initrd_kib && (plan.initrd_gpa < plan.fdt_gpa + A64_FDT_MAX ||
                             plan.initrd_gpa + plan.initrd_size > end))))
            __builtin_trap();
    }

    int fd = memfd_input("Image", data, size);
    if (fd < 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct guest_mem gm = { 0 };
    gm_add_region(&gm, A64_RAM_BASE, RAM, ram);
    struct a64_fdt_input in = { .ram_gpa = { A64_RAM_BASE }, .ram_size = { RAM }, .nram = 1,
                                .ncpus = 1, .gic = A64_GIC_V3, .cmdline = "console=ttyAMA0" };
    /* the file is its own initrd too: a second placement after the device tree */
    if (a64_load_kernel(&gm, path, size & 1 ? path : NULL, &in, &plan, &err) == 0 &&
        (plan.kernel_gpa < A64_RAM_BASE || plan.fdt_gpa + A64_FDT_MAX > A64_RAM_BASE + RAM))
        __builtin_trap();
    close(fd);
    /* drop whatever the loader mapped from the file: fresh zero RAM for the next input */
    mmap(ram, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    return 0;
}
