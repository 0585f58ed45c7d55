// SPDX-License-Identifier: Apache-2.0
/* Direct boot of an uncompressed Linux kernel (vmlinux ELF) with the 64-bit boot protocol
 * (Linux Documentation/x86/boot.rst, "64-bit Boot Protocol"): segments at their physical
 * addresses, a zero page (struct boot_params) with the e820 map, command line and initrd,
 * and the MP table for the other CPUs. */
#include "vmm/arch/arch.h"
#include "x86.h"

#include "common/cleanup.h"
#include "vmm/core/load.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096ull

/* struct boot_params offsets (arch/x86/include/uapi/asm/bootparam.h) */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR_BOOT_FLAG 0x1fe
#define BP_HDR_HEADER 0x202
#define BP_HDR_VERSION 0x206
#define BP_HDR_TYPE_OF_LOADER 0x210
#define BP_HDR_LOADFLAGS 0x211
#define BP_HDR_RAMDISK_IMAGE 0x218
#define BP_HDR_RAMDISK_SIZE 0x21c
#define BP_HDR_CMD_LINE_PTR 0x228
#define BP_HDR_KERNEL_ALIGNMENT 0x230
#define BP_HDR_CMDLINE_SIZE 0x238
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128
#define E820_RAM 1

static void put8(uint8_t *bp, unsigned off, uint8_t v) { bp[off] = v; }
static void put16(uint8_t *bp, unsigned off, uint16_t v) { memcpy(bp + off, &v, 2); }
static void put32(uint8_t *bp, unsigned off, uint32_t v) { memcpy(bp + off, &v, 4); }
static void put64(uint8_t *bp, unsigned off, uint64_t v) { memcpy(bp + off, &v, 8); }

static int load_elf(struct guest_mem *gm, const char *path, uint64_t *entry, uint64_t *end,
                    struct bl_error *err)
{
    int fd cleanup_close = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "kernel %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "kernel %s", path);
    uint64_t fsize = (uint64_t)st.st_size;
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
        return bl_err(err, BOXLITE_ERR_INVALID, "kernel %s: too short for an ELF header", path);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "kernel %s: not an x86_64 ELF (an uncompressed vmlinux is needed)", path);
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64 ||
        eh.e_phoff > fsize || fsize - eh.e_phoff < (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr))
        return bl_err(err, BOXLITE_ERR_INVALID, "kernel %s: bad program header table", path);
    Elf64_Phdr ph[64];
    size_t phlen = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
    if (pread(fd, ph, phlen, (off_t)eh.e_phoff) != (ssize_t)phlen)
        return bl_errno(err, errno ? errno : EIO, "kernel %s: read program headers", path);

    bool entry_ok = false;
    unsigned loads = 0;
    *end = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        const Elf64_Phdr *p = &ph[i];
        if (p->p_type != PT_LOAD || p->p_memsz == 0)
            continue;
        if (p->p_filesz > p->p_memsz)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "kernel %s: segment %u has more file bytes than memory", path, i);
        if (p->p_offset > fsize || fsize - p->p_offset < p->p_filesz)
            return bl_err(err, BOXLITE_ERR_INVALID, "kernel %s: segment %u lies outside the file",
                          path, i);
        if (p->p_paddr < X86_HIMEM_START || !gm_ptr(gm, p->p_paddr, p->p_memsz))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "kernel %s: segment %u (%#llx bytes at %#llx) is outside guest RAM "
                          "above 1 MiB",
                          path, i, (unsigned long long)p->p_memsz,
                          (unsigned long long)p->p_paddr);
        /* Segments are mapped from the file over guest RAM (gm_place_file): one laid over
         * another would replace its bytes, and the bss below relies on untouched RAM. */
        for (unsigned j = 0; j < i; j++)
            if (ph[j].p_type == PT_LOAD && ph[j].p_memsz &&
                p->p_paddr < ph[j].p_paddr + ph[j].p_memsz &&
                ph[j].p_paddr < p->p_paddr + p->p_memsz)
                return bl_err(err, BOXLITE_ERR_INVALID, "kernel %s: segments %u and %u overlap",
                              path, j, i);
        /* Guest RAM is freshly mapped and zero, so the bss needs no clearing. */
        if (p->p_filesz && gm_place_file(gm, fd, p->p_offset, p->p_filesz, p->p_paddr, path, err) < 0)
            return -err->code;
        if (eh.e_entry >= p->p_paddr && eh.e_entry - p->p_paddr < p->p_filesz)
            entry_ok = true;
        if (p->p_paddr + p->p_memsz > *end)
            *end = p->p_paddr + p->p_memsz;
        loads++;
    }
    if (!loads || !entry_ok)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "kernel %s: entry point %#llx is not in a loaded segment", path,
                      (unsigned long long)eh.e_entry);
    *entry = eh.e_entry;
    return 0;
}

/* The initrd goes as high as it can in RAM below the hole, page aligned, above the kernel. */
static int load_initrd(struct guest_mem *gm, const char *path, uint64_t kernel_end,
                       uint64_t low_end, uint64_t *gpa, uint64_t *size, struct bl_error *err)
{
    int fd cleanup_close = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "initrd %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "initrd %s", path);
    uint64_t len = (uint64_t)st.st_size;
    if (len == 0 || len > UINT32_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "initrd %s: size %llu is unusable", path,
                      (unsigned long long)len);
    uint64_t kend = (kernel_end + PAGE - 1) & ~(PAGE - 1);
    if (len > low_end || ((low_end - len) & ~(PAGE - 1)) < kend)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "initrd %s: %llu bytes do not fit between the kernel and the end of low "
                      "memory; give the box more memory",
                      path, (unsigned long long)len);
    *gpa = (low_end - len) & ~(PAGE - 1);
    *size = len;
    return gm_place_file(gm, fd, 0, len, *gpa, path, err);
}

static void e820_add(uint8_t *bp, unsigned *n, uint64_t addr, uint64_t size)
{
    if (*n >= BP_E820_MAX || size == 0)
        return;
    unsigned off = BP_E820_TABLE + 20 * *n;
    put64(bp, off, addr);
    put64(bp, off + 8, size);
    put32(bp, off + 16, E820_RAM);
    (*n)++;
}

int arch_load_kernel(struct guest_mem *gm, const struct arch_kernel *k, struct arch_boot *out,
                     struct bl_error *err)
{
    uint64_t low_end = 0;
    for (int i = 0; i < gm->nregions; i++)
        if (gm->regions[i].gpa == 0)
            low_end = gm->regions[i].size;
    if (low_end < 16 * 1024 * 1024)
        return bl_err(err, BOXLITE_ERR_INVALID, "guest RAM below the hole is too small");

    uint64_t entry, kernel_end;
    if (load_elf(gm, k->kernel, &entry, &kernel_end, err) < 0)
        return -err->code;

    uint8_t *bp = gm_ptr(gm, X86_ZERO_PAGE, PAGE);
    if (!bp)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "zero page outside guest RAM");
    memset(bp, 0, PAGE);
    put16(bp, BP_HDR_BOOT_FLAG, 0xaa55);
    put32(bp, BP_HDR_HEADER, 0x53726448); /* "HdrS" */
    put16(bp, BP_HDR_VERSION, 0x020f);
    put8(bp, BP_HDR_TYPE_OF_LOADER, 0xff); /* undefined boot loader */
    put8(bp, BP_HDR_LOADFLAGS, 0x01);      /* LOADED_HIGH */
    put32(bp, BP_HDR_KERNEL_ALIGNMENT, 0x1000000);

    size_t clen = strlen(k->cmdline);
    if (clen >= X86_CMDLINE_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "kernel command line longer than %d bytes",
                      X86_CMDLINE_MAX - 1);
    char *cl = gm_ptr(gm, X86_CMDLINE_ADDR, X86_CMDLINE_MAX);
    if (!cl)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "command line outside guest RAM");
    memcpy(cl, k->cmdline, clen + 1);
    put32(bp, BP_HDR_CMD_LINE_PTR, X86_CMDLINE_ADDR);
    put32(bp, BP_EXT_CMD_LINE_PTR, 0);
    put32(bp, BP_HDR_CMDLINE_SIZE, X86_CMDLINE_MAX - 1);

    if (k->initrd) {
        uint64_t gpa = 0, size = 0;
        if (load_initrd(gm, k->initrd, kernel_end, low_end, &gpa, &size, err) < 0)
            return -err->code;
        put32(bp, BP_HDR_RAMDISK_IMAGE, (uint32_t)gpa);
        put32(bp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(gpa >> 32));
        put32(bp, BP_HDR_RAMDISK_SIZE, (uint32_t)size);
        put32(bp, BP_EXT_RAMDISK_SIZE, 0);
    }

    /* RAM: base memory up to the EBDA (which holds the MP table), then everything from
     * 1 MiB, around the MMIO hole. */
    unsigned n = 0;
    e820_add(bp, &n, 0, X86_EBDA_START);
    for (int i = 0; i < gm->nregions; i++) {
        const struct gm_region *r = &gm->regions[i];
        if (r->gpa == 0)
            e820_add(bp, &n, X86_HIMEM_START, r->size - X86_HIMEM_START);
        else
            e820_add(bp, &n, r->gpa, r->size);
    }
    put8(bp, BP_E820_ENTRIES, (uint8_t)n);

    if (x86_write_mptable(gm, k->ncpus, err) < 0 || arch_write_cpu_tables(gm, err) < 0)
        return -err->code;
    *out = (struct arch_boot){ .entry = entry, .boot_info = X86_ZERO_PAGE, .long_mode = true,
                               .ncpus = k->ncpus };
    return 0;
}
