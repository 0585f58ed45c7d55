// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The x86_64 kernel loader (arch_load_kernel) on arbitrary files: ELF headers, program
 * headers and segments that lie about their sizes and addresses must be refused or loaded
 * inside guest RAM, never crash or write outside it. */
#include "memfd_input.h"
#include "vmm/arch/arch.h"

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
    int fd = memfd_input("vmlinux", data, size);
    if (fd < 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct guest_mem gm = { 0 };
    gm_add_region(&gm, 0, RAM, ram);
    struct arch_kernel k = { .kernel = path, .cmdline = "console=ttyS0", .ncpus = 2 };
    struct arch_boot b;
    struct bl_error err = { 0 };
    arch_load_kernel(&gm, &k, &b, &err);
    close(fd);
    /* drop whatever the loader mapped from the file: fresh zero RAM for the next input */
    mmap(ram, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    return 0;
}
