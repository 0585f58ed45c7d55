// SPDX-License-Identifier: Apache-2.0
/* The arm64 Image boot protocol (src/vmm/arch/aarch64/image.c) on any host: the project's
 * own cached arm64 kernel read back and loaded into plain guest memory with an initrd and
 * the device tree, and crafted headers (truncated, wrong magic, big-endian, pre-3.17,
 * misaligned, lying about their size, too big for RAM) refused with a clear message. */
#include "harness/harness.h"
#include "vmm/arch/aarch64/aarch64.h"

#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1ull << 20)

/* A header as booting.rst lays it out. */
static void make_hdr(uint8_t h[64], uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
    memset(h, 0, 64);
    memcpy(h + 0x08, &text_offset, 8);
    memcpy(h + 0x10, &image_size, 8);
    memcpy(h + 0x18, &flags, 8);
    memcpy(h + 0x38, "ARM\x64", 4);
}

static char *write_file(const char *name, const void *data, size_t len)
{
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", harness_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (f) {
        if (len)
            fwrite(data, 1, len, f);
        fclose(f);
    }
    return path;
}

/* The cached arm64 kernel's path (malloc'd), or NULL. */
static char *cached_kernel(void)
{
    FILE *p = popen("scripts/build-kernel.sh --arch arm64 --cached-only 2>/dev/null", "r");
    if (!p)
        return NULL;
    char buf[1024] = "";
    char *ok = fgets(buf, sizeof buf, p);
    pclose(p);
    buf[strcspn(buf, "\n")] = 0;
    return ok && buf[0] && access(buf, R_OK) == 0 ? strdup(buf) : NULL;
}

struct vm {
    struct guest_mem gm;
    uint8_t *ram;
    uint64_t size;
};

static bool vm_init_at(struct vm *v, uint64_t gpa, uint64_t size)
{
    memset(v, 0, sizeof *v);
    v->ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v->ram == MAP_FAILED)
        return false;
    v->size = size;
    return gm_add_region(&v->gm, gpa, size, v->ram) == 0;
}

static bool vm_init(struct vm *v, uint64_t size)
{
    return vm_init_at(v, A64_RAM_BASE, size);
}

static struct a64_fdt_input fdt_for(uint64_t ram)
{
    return (struct a64_fdt_input){ .ram_gpa = { A64_RAM_BASE }, .ram_size = { ram }, .nram = 1,
                                   .ncpus = 1, .gic = A64_GIC_V3,
                                   .cmdline = "console=ttyAMA0 panic=-1" };
}

static void msg_has(const struct bl_error *e, const char *words)
{
    if (!strstr(e->msg, words))
        harness_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", e->msg, words);
}

TEST(image_real_kernel_header_reads_back)
{
    char *k = cached_kernel();
    if (!k)
        harness_need("the arm64 guest kernel (scripts/build-kernel.sh --arch arm64)");
    FILE *f = fopen(k, "rb");
    REQUIRE(f);
    uint8_t h[64];
    REQUIRE(fread(h, 1, 64, f) == 64);
    fseek(f, 0, SEEK_END);
    uint64_t size = (uint64_t)ftell(f);
    fclose(f);
    struct a64_image im;
    struct bl_error err = { 0 };
    REQUIRE(a64_image_parse(h, 64, size, &im, &err) == 0);
    /* Linux 6.1 (arch/arm64/kernel/head.S, image.h): text_offset 0, 4K pages, little
     * endian, placeable anywhere; image_size covers the file and the bss beyond it */
    CHECK_EQ(im.text_offset, 0);
    CHECK_EQ(im.page_kib, 4);
    CHECK(im.anywhere);
    CHECK_EQ(im.flags & 1, 0);
    CHECK(im.image_size > size);
    CHECK(im.image_size < size + 64 * MIB);
    CHECK_EQ(im.file_size, size);
    free(k);
}

TEST(image_real_kernel_loads_with_initrd_and_device_tree)
{
    char *k = cached_kernel();
    if (!k)
        harness_need("the arm64 guest kernel (scripts/build-kernel.sh --arch arm64)");
    struct vm v;
    REQUIRE(vm_init(&v, 128 * MIB));
    uint8_t initrd[10000];
    for (size_t i = 0; i < sizeof initrd; i++)
        initrd[i] = (uint8_t)(i * 7 + 1);
    char *ipath = write_file("initrd", initrd, sizeof initrd);
    struct a64_fdt_input in = fdt_for(v.size);
    struct a64_boot_plan p;
    struct bl_error err = { 0 };
    REQUIRE(a64_load_kernel(&v.gm, k, ipath, &in, &p, &err) == 0);

    /* the Image at the first 2 MiB boundary of RAM (+ text_offset 0), byte for byte */
    CHECK_EQ(p.kernel_gpa, A64_RAM_BASE);
    FILE *f = fopen(k, "rb");
    REQUIRE(f);
    static uint8_t file[8 << 20];
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    REQUIRE(n > 64);
    CHECK_MEM(v.ram, file, n);
    CHECK_MEM(v.ram + 0x38, "ARM\x64", 4);
    uint64_t image_size;
    memcpy(&image_size, file + 0x10, 8);
    CHECK_EQ(p.kernel_end, A64_RAM_BASE + image_size);
    /* the bss beyond the file is zero */
    CHECK(v.ram[n] == 0 && v.ram[image_size - 1] == 0);

    /* the device tree in its own 2 MiB block after the kernel, 8-byte aligned */
    CHECK_EQ(p.fdt_gpa % (2 * MIB), 0);
    CHECK(p.fdt_gpa >= p.kernel_end);
    const void *fdt = v.ram + (p.fdt_gpa - A64_RAM_BASE);
    REQUIRE(fdt_check_header(fdt) == 0);
    CHECK(fdt_totalsize(fdt) <= A64_FDT_MAX);
    int chosen = fdt_path_offset(fdt, "/chosen");
    REQUIRE(chosen >= 0);
    int len = 0;
    /* properties are only 4-byte aligned in the blob: copy the u64s out */
    const void *s = fdt_getprop(fdt, chosen, "linux,initrd-start", &len);
    const void *e = fdt_getprop(fdt, chosen, "linux,initrd-end", &len);
    REQUIRE(s && e);
    fdt64_t sv, ev;
    memcpy(&sv, s, 8);
    memcpy(&ev, e, 8);
    CHECK_EQ(fdt64_to_cpu(sv), p.initrd_gpa);
    CHECK_EQ(fdt64_to_cpu(ev), p.initrd_gpa + sizeof initrd);
    const char *args = fdt_getprop(fdt, chosen, "bootargs", &len);
    CHECK_STR(args, "console=ttyAMA0 panic=-1");

    /* the initrd after the device tree's block, page aligned, byte for byte */
    CHECK_EQ(p.initrd_gpa, p.fdt_gpa + A64_FDT_MAX);
    CHECK_EQ(p.initrd_gpa % 4096, 0);
    CHECK_MEM(v.ram + (p.initrd_gpa - A64_RAM_BASE), initrd, sizeof initrd);
    free(ipath);
    free(k);
}

TEST(image_crafted_headers_are_refused)
{
    uint8_t h[64];
    struct a64_image im;
    struct bl_error err = { 0 };

    make_hdr(h, 0, 8 * MIB, 0xa);
    CHECK(a64_image_parse(h, 64, 4 * MIB, &im, &err) == 0);
    CHECK_EQ(im.page_kib, 4);
    make_hdr(h, 0, 8 * MIB, 0x6); /* 64K pages, low placement */
    CHECK(a64_image_parse(h, 64, 4 * MIB, &im, &err) == 0);
    CHECK_EQ(im.page_kib, 64);
    CHECK(!im.anywhere);

    CHECK_EQ(a64_image_parse(h, 63, 4 * MIB, &im, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "shorter than its 64-byte header");
    CHECK_EQ(a64_image_parse(h, 64, 40, &im, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "shorter than its 64-byte header");

    make_hdr(h, 0, 8 * MIB, 0xa);
    h[0x3b] = 0x65;
    CHECK_EQ(a64_image_parse(h, 64, 4 * MIB, &im, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "not an arm64 Image");
    uint8_t elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
    CHECK_EQ(a64_image_parse(elf, 64, 4 * MIB, &im, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "ELF vmlinux is not loaded");

    make_hdr(h, 0, 8 * MIB, 0xb);
    CHECK_EQ(a64_image_parse(h, 64, 4 * MIB, &im, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "big-endian");
    make_hdr(h, 0x80000, 0, 0);
    CHECK_EQ(a64_image_parse(h, 64, 4 * MIB, &im, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "older than Linux 3.17");
    make_hdr(h, 0x80001, 8 * MIB, 0xa);
    CHECK_EQ(a64_image_parse(h, 64, 4 * MIB, &im, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "not page aligned");
    make_hdr(h, 0, 8 * MIB, 0xa);
    CHECK_EQ(a64_image_parse(h, 64, 9 * MIB, &im, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "not the kernel its header describes");
    make_hdr(h, 0, UINT64_MAX, 0xa);
    CHECK_EQ(a64_image_parse(h, 64, 4 * MIB, &im, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "implausible");
    make_hdr(h, UINT64_MAX & ~4095ull, 8 * MIB, 0xa);
    CHECK_EQ(a64_image_parse(h, 64, 4 * MIB, &im, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "implausible");
}

TEST(image_placement_stays_inside_ram)
{
    struct a64_image im = { .text_offset = 0x80000, .image_size = 20 * MIB,
                            .file_size = 10 * MIB, .page_kib = 4 };
    struct a64_boot_plan p;
    struct bl_error err = { 0 };
    /* RAM not 2 MiB aligned: the base rounds up, then text_offset */
    REQUIRE(a64_boot_place(&im, A64_RAM_BASE + 4096, 64 * MIB, 1 * MIB, &p, &err) == 0);
    CHECK_EQ(p.kernel_gpa, A64_RAM_BASE + 2 * MIB + 0x80000);
    CHECK_EQ(p.kernel_end, p.kernel_gpa + 20 * MIB);
    CHECK_EQ(p.fdt_gpa, A64_RAM_BASE + 24 * MIB);
    CHECK_EQ(p.initrd_gpa, A64_RAM_BASE + 26 * MIB);
    CHECK_EQ(p.initrd_size, 1 * MIB);
    /* no initrd: nothing placed for it */
    REQUIRE(a64_boot_place(&im, A64_RAM_BASE, 64 * MIB, 0, &p, &err) == 0);
    CHECK_EQ(p.initrd_gpa, 0);

    /* exactly enough RAM (kernel to 20.5 MiB, device tree block 22-24), then a page short */
    REQUIRE(a64_boot_place(&im, A64_RAM_BASE, 24 * MIB, 0, &p, &err) == 0);
    CHECK_EQ(a64_boot_place(&im, A64_RAM_BASE, 24 * MIB - 4096, 0, &p, &err),
             -BOXLITE_ERR_INVALID);
    msg_has(&err, "need 24 MiB of RAM");
    msg_has(&err, "give it more memory");
    CHECK_EQ(a64_boot_place(&im, A64_RAM_BASE, 30 * MIB, 8 * MIB, &p, &err),
             -BOXLITE_ERR_INVALID);
    msg_has(&err, "initrd (8192 KiB)");
    CHECK_EQ(a64_boot_place(&im, UINT64_MAX - MIB, 2 * MIB, 0, &p, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "unusable");
    struct a64_image bad = im;
    bad.image_size = 1ull << 40;
    CHECK_EQ(a64_boot_place(&bad, A64_RAM_BASE, 64 * MIB, 0, &p, &err), -BOXLITE_ERR_INVALID);
    CHECK_EQ(a64_boot_place(&im, A64_RAM_BASE, 64 * MIB, 1ull << 40, &p, &err),
             -BOXLITE_ERR_INVALID);
}

TEST(image_hostile_files_do_not_load)
{
    struct vm v;
    REQUIRE(vm_init(&v, 32 * MIB));
    struct a64_fdt_input in = fdt_for(v.size);
    struct a64_boot_plan p;
    struct bl_error err = { 0 };
    uint8_t *img = calloc(1, 2 * MIB);
    REQUIRE(img);

    /* claims 64 MiB of memory in a 32 MiB box */
    make_hdr(img, 0, 64 * MIB, 0xa);
    char *k = write_file("big", img, 1 * MIB);
    CHECK_EQ(a64_load_kernel(&v.gm, k, NULL, &in, &p, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "give it more memory");
    free(k);
    /* text_offset pushes it past the end of RAM */
    make_hdr(img, 30 * MIB, 4 * MIB, 0xa);
    k = write_file("far", img, 1 * MIB);
    CHECK_EQ(a64_load_kernel(&v.gm, k, NULL, &in, &p, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "give it more memory");
    free(k);
    /* truncated to less than its header */
    make_hdr(img, 0, 4 * MIB, 0xa);
    k = write_file("short", img, 50);
    CHECK_EQ(a64_load_kernel(&v.gm, k, NULL, &in, &p, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "shorter than its 64-byte header");
    free(k);
    /* not there, a directory, an empty initrd */
    CHECK(a64_load_kernel(&v.gm, "/nonexistent/Image", NULL, &in, &p, &err) < 0);
    msg_has(&err, "/nonexistent/Image");
    CHECK_EQ(a64_load_kernel(&v.gm, harness_tmpdir(), NULL, &in, &p, &err),
             -BOXLITE_ERR_INVALID);
    msg_has(&err, "not a regular file");
    k = write_file("ok", img, 1 * MIB);
    char *empty = write_file("empty", "", 0);
    CHECK_EQ(a64_load_kernel(&v.gm, k, empty, &in, &p, &err), -BOXLITE_ERR_INVALID);
    msg_has(&err, "is empty");
    /* and a good one loads, the device tree included */
    REQUIRE(a64_load_kernel(&v.gm, k, NULL, &in, &p, &err) == 0);
    CHECK_MEM(v.ram, img, 64);
    CHECK(fdt_check_header(v.ram + (p.fdt_gpa - A64_RAM_BASE)) == 0);
    free(empty);
    free(k);
    free(img);
}

/* ---- the whole boot protocol, proven by Linux itself -------------------------------------
 * a64_load_kernel lays the cached arm64 kernel, an initramfs and the device tree out in
 * plain memory; that memory is handed to QEMU's virt machine (TCG) as one raw blob 2 MiB
 * above A64_RAM_BASE; its GIC, PL011 and PSCI sit where our device tree says (the map was chosen
 * to match), and the boot CPU starts at a 6-instruction trampoline that does what the KVM
 * engine's vCPU set-up will do: x0 = the device tree, jump to the Image. QEMU's own kernel
 * loader is not used, so the kernel finds everything where we put it or does not boot. The
 * init (a static aarch64 program compiled here) prints the CPUs it sees and
 * /proc/interrupts, then powers off through PSCI SYSTEM_OFF, which ends QEMU. */
static const char init_c[] =
    "#include <stdio.h>\n#include <unistd.h>\n#include <sys/mount.h>\n"
    "#include <sys/reboot.h>\n#include <sys/stat.h>\n"
    "int main(void) {\n"
    "    printf(\"a64-init: up, %ld cpus\\n\", sysconf(_SC_NPROCESSORS_ONLN));\n"
    "    mkdir(\"/proc\", 0555);\n"
    "    FILE *f = mount(\"proc\", \"/proc\", \"proc\", 0, NULL) == 0\n"
    "              ? fopen(\"/proc/interrupts\", \"r\") : NULL;\n"
    "    char line[256];\n"
    "    while (f && fgets(line, sizeof line, f))\n"
    "        fputs(line, stdout);\n"
    "    fflush(stdout);\n    reboot(RB_POWER_OFF);\n    return 1;\n}\n";

static bool file_has(const char *path, const char *what)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    bool ok = strstr(buf, what) != NULL;
    if (!ok)
        fprintf(stderr, "console lacks: %s\n", what);
    return ok;
}

static void boot_under_qemu(enum a64_gic gic)
{
    char *k = cached_kernel();
    if (!k)
        harness_need("the arm64 guest kernel (scripts/build-kernel.sh --arch arm64)");
    if (system("command -v qemu-system-aarch64 >/dev/null && "
               "command -v aarch64-linux-gnu-gcc >/dev/null") != 0)
        harness_need("qemu-system-aarch64 and aarch64-linux-gnu-gcc (scripts/setup.sh)");
    const char *dir = harness_tmpdir();
    char cmd[4096], initrd[512], ram[512], console[512];
    free(write_file("init.c", init_c, strlen(init_c)));
    snprintf(initrd, sizeof initrd, "%s/initrd.cpio.gz", dir);
    snprintf(cmd, sizeof cmd,
             "aarch64-linux-gnu-gcc -static -O1 -o %s/init %s/init.c && "
             "python3 scripts/mkinitramfs.py %s /init=%s/init >/dev/null",
             dir, dir, initrd, dir);
    REQUIRE(system(cmd) == 0);

    /* QEMU's virt machine puts a device tree of its own in the first MiB of its RAM (for
     * firmware): our guest's RAM starts 2 MiB above it, so nothing overlaps */
    const uint64_t gpa = A64_RAM_BASE + 2 * MIB;
    struct vm v;
    REQUIRE(vm_init_at(&v, gpa, 510 * MIB));
    struct a64_fdt_input in = fdt_for(v.size);
    in.ram_gpa[0] = gpa;
    in.ncpus = 2;
    in.gic = gic;
    struct a64_boot_plan p;
    struct bl_error err = { 0 };
    if (a64_load_kernel(&v.gm, k, initrd, &in, &p, &err) < 0)
        harness_fail(__FILE__, __LINE__, "load: %s", err.msg);
    REQUIRE(err.code == 0);

    /* the trampoline in the last page of the device tree's 2 MiB block (the blob is a few
     * KiB): ldr x0, =fdt; ldr x4, =entry; br x4 (Arm ARM C6.2: LDR (literal), BR) */
    uint64_t t = p.fdt_gpa + A64_FDT_MAX - 4096;
    uint32_t code[4] = { 0x58000080, 0x580000a4, 0xd61f0080, 0xd503201f };
    CHECK_EQ(p.kernel_gpa, gpa);
    uint8_t *tp = v.ram + (t - gpa);
    memcpy(tp, code, sizeof code);
    memcpy(tp + 16, &p.fdt_gpa, 8);
    memcpy(tp + 24, &p.kernel_gpa, 8);

    uint64_t end = p.initrd_gpa + p.initrd_size;
    snprintf(ram, sizeof ram, "%s/ram.bin", dir);
    free(write_file("ram.bin", v.ram, end - gpa));
    snprintf(console, sizeof console, "%s/console.log", dir);
    snprintf(cmd, sizeof cmd,
             /* timeout: a guest that never powers off must not outlive the test */
             "timeout -k 5 200 qemu-system-aarch64 -M virt,gic-version=%d,acpi=off -cpu max "
             "-accel tcg -smp 2 "
             "-m 512M -nodefaults -no-user-config -display none -serial file:%s -no-reboot "
             "-device loader,file=%s,addr=%#llx,force-raw=on "
             "-device loader,addr=%#llx,cpu-num=0 </dev/null >%s.out 2>&1",
             (int)gic, console, ram, (unsigned long long)gpa, (unsigned long long)t, console);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "cat %s.out %s >&2", console, console);
        if (system(cmd) != 0)
            fprintf(stderr, "(no QEMU output)\n");
    }
    CHECK(rc == 0); /* QEMU ends by the guest's PSCI SYSTEM_OFF */
    CHECK(file_has(console, "Machine model: BoxLite micro-VM")); /* our tree, not QEMU's */
    CHECK(file_has(console, "Kernel command line: console=ttyAMA0 panic=-1"));
    CHECK(file_has(console, "psci: PSCIv"));
    /* /proc/interrupts as the init printed it: the controller Linux drove, and the timer's
     * and the UART's lines through it (GICv3 names itself so; GICv2 is "GIC-0") */
    const char *chip = gic == A64_GIC_V3 ? "GICv3" : "GIC-0";
    snprintf(cmd, sizeof cmd, "%s  27 Level     arch_timer", chip);
    CHECK(file_has(console, cmd));
    snprintf(cmd, sizeof cmd, "%s  33 Level     uart-pl011", chip);
    CHECK(file_has(console, cmd));
    if (gic == A64_GIC_V3)
        CHECK(file_has(console, "GICv3: CPU1: found redistributor 1"));
    CHECK(file_has(console, "arch_timer: cp15 timer(s) running"));
    CHECK(file_has(console, "smp: Brought up 1 node, 2 CPUs"));
    CHECK(file_has(console, "ttyAMA0 at MMIO 0x9000000"));
    CHECK(file_has(console, "Freeing initrd memory"));
    CHECK(file_has(console, "a64-init: up, 2 cpus"));
    CHECK(file_has(console, "reboot: Power down"));
    free(k);
}

TEST_TIMEOUT(image_and_gicv3_tree_boot_linux_under_qemu, 240)
{
    boot_under_qemu(A64_GIC_V3);
}

TEST_TIMEOUT(image_and_gicv2_tree_boot_linux_under_qemu, 240)
{
    boot_under_qemu(A64_GIC_V2);
}
