// SPDX-License-Identifier: Apache-2.0
/* The x86_64 boot path without running anything: a synthetic vmlinux ELF and initrd are
 * loaded into plain guest memory, and the zero page, e820 map, command line, initrd
 * placement, MP table and page tables are checked as Linux will read them; a kernel's
 * page-aligned segments must be the file's own pages (shared between boxes), the rest read,
 * bss zero. Bad kernels (not ELF, wrong machine, segments outside RAM or the file or
 * overlapping, entry outside the image) are refused with a message. */
#include "harness/harness.h"
#include "vmm/arch/arch.h"
#include "pagemap.h"

#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM (64ull << 20)
#define KBASE 0x1000000ull

struct vm {
    struct guest_mem gm;
    uint8_t *ram;
};

static void vm_init(struct vm *v)
{
    memset(v, 0, sizeof *v);
    v->ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v->ram == MAP_FAILED)
        v->ram = NULL;
    else
        gm_add_region(&v->gm, 0, RAM, v->ram);
}

static void vm_free(struct vm *v)
{
    if (v->ram)
        munmap(v->ram, RAM);
}

/* Writes an ELF with one PT_LOAD of `len` bytes of pattern at paddr (file offset 0x1000,
 * memsz = len + bss), entry at paddr + entry_off. */
static char *write_elf(const char *name, uint16_t machine, uint64_t paddr, size_t len, size_t bss,
                       uint64_t entry_off, uint64_t file_off, size_t file_len)
{
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", harness_tmpdir(), name);
    size_t total = file_off + file_len;
    uint8_t *buf = calloc(1, total < 0x1000 ? 0x1000 : total);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = machine;
    eh->e_entry = paddr + entry_off;
    eh->e_phoff = sizeof *eh;
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 1;
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof *eh);
    ph->p_type = PT_LOAD;
    ph->p_offset = file_off;
    ph->p_paddr = paddr;
    ph->p_vaddr = 0xffffffff80000000ull + paddr;
    ph->p_filesz = len;
    ph->p_memsz = len + bss;
    for (size_t i = 0; i < file_len && file_off + i < total; i++)
        buf[file_off + i] = (uint8_t)(i * 7 + 1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, buf, total) != (ssize_t)total)
        harness_fail(__FILE__, __LINE__, "write %s", path);
    close(fd);
    free(buf);
    return path;
}

static char *write_file(const char *name, size_t len)
{
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", harness_tmpdir(), name);
    uint8_t *buf = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i ^ 0x5a);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
        harness_fail(__FILE__, __LINE__, "write %s", path);
    close(fd);
    free(buf);
    return path;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

TEST(boot_loads_kernel_initrd_and_boot_params)
{
    struct vm v;
    vm_init(&v);
    REQUIRE(v.ram);
    /* 3 pages + a partial one: the page-aligned part is mapped, the tail read */
    size_t klen = 3 * 4096 + 100;
    char *kernel = write_elf("vmlinux", EM_X86_64, KBASE, klen, 8192, 0x40, 0x1000, klen);
    char *initrd = write_file("initrd", 10000);
    struct arch_kernel k = { .kernel = kernel, .initrd = initrd,
                             .cmdline = "console=ttyS0 quiet", .ncpus = 3 };
    struct arch_boot b;
    struct bl_error err = { 0 };
    int r = arch_load_kernel(&v.gm, &k, &b, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "arch_load_kernel: %s", err.msg);
    REQUIRE(r == 0);
    CHECK_EQ(b.entry, KBASE + 0x40);
    CHECK(b.long_mode);
    CHECK_EQ(b.ncpus, 3);

    for (size_t i = 0; i < klen; i++)
        if (v.ram[KBASE + i] != (uint8_t)(i * 7 + 1)) {
            harness_fail(__FILE__, __LINE__, "kernel byte %zu differs", i);
            break;
        }
    CHECK_EQ(v.ram[KBASE + klen + 5], 0); /* bss is zero */
    v.ram[KBASE] ^= 0xff;                 /* the mapping is private: the file is unchanged */
    int fd = open(kernel, O_RDONLY);
    uint8_t first;
    CHECK(pread(fd, &first, 1, 0x1000) == 1 && first == 1);
    close(fd);

    const uint8_t *bp = v.ram + b.boot_info;
    CHECK_EQ(*(const uint16_t *)(bp + 0x1fe), 0xaa55);
    CHECK_EQ(rd32(bp + 0x202), 0x53726448);
    CHECK_EQ(bp[0x210], 0xff);
    uint64_t cl = rd32(bp + 0x228);
    CHECK_STR((const char *)v.ram + cl, "console=ttyS0 quiet");
    uint64_t rd = rd32(bp + 0x218) | ((uint64_t)rd32(bp + 0x0c0) << 32);
    CHECK_EQ(rd32(bp + 0x218 + 4), 10000);
    CHECK_EQ(rd % 4096, 0);
    CHECK(rd + 10000 <= RAM && rd >= KBASE + klen + 8192);
    CHECK_EQ(v.ram[rd + 9999], (uint8_t)(9999 ^ 0x5a));

    /* e820: base memory below the EBDA, then 1 MiB to the end */
    REQUIRE(bp[0x1e8] == 2);
    CHECK_EQ(rd64(bp + 0x2d0), 0);
    CHECK_EQ(rd64(bp + 0x2d8), 0x9fc00);
    CHECK_EQ(rd32(bp + 0x2e0), 1);
    CHECK_EQ(rd64(bp + 0x2e4), 0x100000);
    CHECK_EQ(rd64(bp + 0x2ec), RAM - 0x100000);

    /* MP table: floating pointer and config table with valid checksums, 3 CPUs, BSP first */
    const uint8_t *fp = v.ram + 0x9fc00;
    CHECK_MEM(fp, "_MP_", 4);
    CHECK_EQ(sum(fp, 16), 0);
    const uint8_t *cfg = v.ram + rd32(fp + 4);
    CHECK_MEM(cfg, "PCMP", 4);
    uint16_t len = *(const uint16_t *)(cfg + 4);
    CHECK_EQ(sum(cfg, len), 0);
    const uint8_t *e = cfg + 44;
    int cpus = 0, bsp = 0;
    for (uint16_t i = 0; i < *(const uint16_t *)(cfg + 34); i++) {
        if (e[0] == 0) {
            CHECK_EQ(e[1], cpus);
            cpus++;
            bsp += (e[3] & 2) != 0;
            e += 20;
        } else {
            e += 8;
        }
    }
    CHECK_EQ(cpus, 3);
    CHECK_EQ(bsp, 1);
    CHECK(e == cfg + len);

    /* identity page tables: 2 MiB pages over the first 4 GiB, the MMIO hole included */
    uint64_t pml4 = rd64(v.ram + 0x9000), pdpt3 = rd64(v.ram + 0xa000 + 3 * 8);
    CHECK_EQ(pml4 & ~0xfffull, 0xa000);
    uint64_t pde = rd64(v.ram + (pdpt3 & ~0xfffull) + 0x80 * 8); /* 3 GiB + 256 MiB */
    CHECK_EQ(pde & ~0xfffull, 0xd0000000ull);
    CHECK(pde & 0x80);
    free(kernel);
    free(initrd);
    vm_free(&v);
}

static void expect_refused(struct vm *v, const char *kernel, const char *initrd,
                           const char *cmdline, const char *needle)
{
    struct arch_kernel k = { .kernel = kernel, .initrd = initrd, .cmdline = cmdline, .ncpus = 1 };
    struct arch_boot b;
    struct bl_error err = { 0 };
    int r = arch_load_kernel(&v->gm, &k, &b, &err);
    if (r >= 0)
        harness_fail(__FILE__, __LINE__, "accepted %s", kernel);
    else if (!strstr(err.msg, needle))
        harness_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", err.msg, needle);
}

TEST(boot_refuses_bad_kernels)
{
    struct vm v;
    vm_init(&v);
    REQUIRE(v.ram);
    char path[512];
    snprintf(path, sizeof path, "%s/missing", harness_tmpdir());
    expect_refused(&v, path, NULL, "", "No such file");
    char *junk = write_file("junk", 5000);
    expect_refused(&v, junk, NULL, "", "not an x86_64 ELF");
    char *tiny = write_file("tiny", 10);
    expect_refused(&v, tiny, NULL, "", "too short");
    char *arm = write_elf("arm", EM_AARCH64, KBASE, 4096, 0, 0, 0x1000, 4096);
    expect_refused(&v, arm, NULL, "", "not an x86_64 ELF");
    char *high = write_elf("high", EM_X86_64, RAM - 4096, 8192, 0, 0, 0x1000, 8192);
    expect_refused(&v, high, NULL, "", "outside guest RAM");
    char *low = write_elf("low", EM_X86_64, 0x1000, 4096, 0, 0, 0x1000, 4096);
    expect_refused(&v, low, NULL, "", "outside guest RAM");
    char *cut = write_elf("cut", EM_X86_64, KBASE, 8192, 0, 0, 0x1000, 100);
    expect_refused(&v, cut, NULL, "", "outside the file");
    char *entry = write_elf("entry", EM_X86_64, KBASE, 4096, 4096, 4096 + 16, 0x1000, 4096);
    expect_refused(&v, entry, NULL, "", "entry point");
    char *ok = write_elf("ok", EM_X86_64, KBASE, 4096, 0, 0, 0x1000, 4096);
    char *big = write_file("big", RAM - KBASE);
    expect_refused(&v, ok, big, "", "do not fit");
    char longline[3000];
    memset(longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    expect_refused(&v, ok, NULL, longline, "command line");
    free(junk); free(tiny); free(arm); free(high); free(low); free(cut); free(entry); free(ok);
    free(big);
    vm_free(&v);
}

/* ---- kernels of several segments, mapped from the file ---------------------------------- */

struct seg {
    uint64_t off, paddr, filesz, memsz;
};

/* A file byte at offset i: never zero, so a zero in guest RAM is the loader's doing. */
static uint8_t pat(uint64_t i) { return (uint8_t)(i % 251 + 1); }

/* Writes an ELF whose PT_LOADs are segs, the rest of the file (past the headers, to
 * file_len) filled with pat(): bytes beyond a segment's p_filesz are not zero in the file. */
static char *write_elf_segs(const char *name, uint64_t entry, const struct seg *segs, unsigned n,
                            size_t file_len)
{
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", harness_tmpdir(), name);
    uint8_t *buf = malloc(file_len);
    for (size_t i = 0; i < file_len; i++)
        buf[i] = pat(i);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    memset(eh, 0, sizeof *eh + n * sizeof(Elf64_Phdr));
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_entry = entry;
    eh->e_phoff = sizeof *eh;
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = (uint16_t)n;
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof *eh);
    for (unsigned i = 0; i < n; i++)
        ph[i] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = segs[i].off,
                              .p_paddr = segs[i].paddr, .p_filesz = segs[i].filesz,
                              .p_memsz = segs[i].memsz };
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, buf, file_len) != (ssize_t)file_len)
        harness_fail(__FILE__, __LINE__, "write %s", path);
    close(fd);
    free(buf);
    return path;
}

/* Checks guest RAM against segment s: its file bytes, then zeros to p_memsz. */
static void check_seg(const struct vm *v, const struct seg *s, unsigned idx)
{
    for (uint64_t i = 0; i < s->memsz; i++) {
        uint8_t want = i < s->filesz ? pat(s->off + i) : 0;
        if (v->ram[s->paddr + i] != want) {
            harness_fail(__FILE__, __LINE__, "segment %u byte %#llx is %#x, not %#x", idx,
                         (unsigned long long)i, v->ram[s->paddr + i], want);
            return;
        }
    }
}

TEST(boot_maps_segments_from_the_file)
{
    struct vm v;
    vm_init(&v);
    REQUIRE(v.ram);
    const struct seg segs[] = {
        /* text: page-aligned in file and RAM, 2 pages + 300 bytes, bss to 4 pages (the
         * partial page's rest is file bytes in the file, zeros in the guest) */
        { 0x2000, KBASE, 2 * 4096 + 300, 4 * 4096 },
        /* same page offset in file and RAM but not page-aligned: read */
        { 0x5080, KBASE + 0x10080, 5000, 5000 },
        /* file offset and address on different page offsets: read */
        { 0x7010, KBASE + 0x20000, 3 * 4096, 5 * 4096 },
        /* bss only */
        { 0, KBASE + 0x30000, 0, 8192 },
    };
    unsigned n = sizeof segs / sizeof segs[0];
    char *kernel = write_elf_segs("segs", KBASE + 0x40, segs, n, 0xb000);
    struct arch_kernel k = { .kernel = kernel, .cmdline = "", .ncpus = 1 };
    struct arch_boot b;
    struct bl_error err = { 0 };
    int r = arch_load_kernel(&v.gm, &k, &b, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "arch_load_kernel: %s", err.msg);
    REQUIRE(r == 0);
    CHECK_EQ(b.entry, KBASE + 0x40);
    for (unsigned i = 0; i < n; i++)
        check_seg(&v, &segs[i], i);
    /* the whole pages of the aligned segment are the file's pages, not copies; the partial
     * page, the bss and the read segments are anonymous guest RAM */
    CHECK_EQ(page_from_file(v.ram + KBASE), 1);
    CHECK_EQ(page_from_file(v.ram + KBASE + 4096), 1);
    CHECK_EQ(page_from_file(v.ram + KBASE + 2 * 4096), 0);
    CHECK_EQ(page_from_file(v.ram + KBASE + 3 * 4096), 0);
    CHECK_EQ(page_from_file(v.ram + KBASE + 0x10080), 0);
    CHECK_EQ(page_from_file(v.ram + KBASE + 0x20000), 0);
    /* a guest write lands in its own copy: the file, and so every other box, keeps its byte */
    v.ram[KBASE + 5] ^= 0xff;
    CHECK_EQ(page_from_file(v.ram + KBASE), 0);
    int fd = open(kernel, O_RDONLY);
    uint8_t byte = 0;
    CHECK(fd >= 0 && pread(fd, &byte, 1, 0x2005) == 1 && byte == pat(0x2005));
    if (fd >= 0)
        close(fd);
    free(kernel);
    vm_free(&v);
}

TEST(boot_refuses_hostile_segments)
{
    struct vm v;
    vm_init(&v);
    REQUIRE(v.ram);
    static const struct {
        const char *name;
        struct seg segs[2];
        unsigned n;
        const char *needle;
    } cases[] = {
        { "overlap", { { 0x1000, KBASE, 8192, 8192 }, { 0x3000, KBASE + 4096, 4096, 4096 } }, 2,
          "segments 0 and 1 overlap" },
        { "bss_over_next",
          { { 0x1000, KBASE, 4096, 3 * 4096 }, { 0x3000, KBASE + 8192, 4096, 4096 } }, 2,
          "segments 0 and 1 overlap" },
        { "inside", { { 0x1000, KBASE, 4096, 4 * 4096 }, { 0x2000, KBASE + 4096, 100, 100 } }, 2,
          "segments 0 and 1 overlap" },
        { "same", { { 0x1000, KBASE, 4096, 4096 }, { 0x1000, KBASE, 4096, 4096 } }, 2,
          "segments 0 and 1 overlap" },
        { "oversized", { { 0x1000, KBASE, 4096, 1ull << 62 } }, 1, "outside guest RAM" },
        { "wraps", { { 0x1000, ~0ull - 4095, 4096, 8192 } }, 1, "outside guest RAM" },
        { "past_ram", { { 0x1000, KBASE, 4096, RAM } }, 1, "outside guest RAM" },
        { "offset_past_file", { { 0x100000, KBASE, 4096, 4096 } }, 1, "outside the file" },
        { "offset_wraps", { { ~0ull - 10, KBASE, 4096, 4096 } }, 1, "outside the file" },
        { "tail_past_file", { { 0x3000, KBASE, 0x2000, 0x2000 } }, 1, "outside the file" },
        { "filesz_over_memsz", { { 0x1000, KBASE, 8192, 4096 } }, 1, "more file bytes than memory" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *kernel = write_elf_segs(cases[c].name, KBASE, cases[c].segs, cases[c].n, 0x4000);
        expect_refused(&v, kernel, NULL, "", cases[c].needle);
        free(kernel);
    }
    vm_free(&v);
}

TEST(boot_ram_ranges_split_around_the_hole)
{
    uint64_t gpa[2], size[2];
    CHECK_EQ(arch_ram_ranges(512ull << 20, gpa, size), 1);
    CHECK_EQ(gpa[0], 0);
    CHECK_EQ(size[0], 512ull << 20);
    CHECK_EQ(arch_ram_ranges(3ull << 30, gpa, size), 1);
    CHECK_EQ(arch_ram_ranges(5ull << 30, gpa, size), 2);
    CHECK_EQ(size[0], 3ull << 30);
    CHECK_EQ(gpa[1], 4ull << 30);
    CHECK_EQ(size[1], 2ull << 30);
    /* the devices live in the hole */
    CHECK(arch_layout.ctl_gpa >= 3ull << 30 && arch_layout.ctl_gpa < 4ull << 30);
    CHECK(arch_layout.virtio_gpa + arch_layout.virtio_max * 0x1000ull < 0xfec00000ull);
}
