// SPDX-License-Identifier: Apache-2.0
/* Booting an arm64 kernel `Image` (Linux Documentation/arch/arm64/booting.rst): the 64-byte
 * header (code0/1, text_offset, image_size, flags, reserved, magic "ARM\x64" at 0x38), the
 * Image text_offset bytes above a 2 MiB aligned base in RAM, the device tree and initrd
 * after it within the protocol's limits, the device tree written last. Every size and
 * offset read from the file is checked against the file and guest RAM before use: the
 * Image is input, a hostile or truncated one is an error, never a write outside RAM. */
#include "aarch64.h"

#include "common/cleanup.h"
#include "vmm/core/load.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define PAGE 4096ull
/* booting.rst: the initrd lies in a 1 GB aligned window of at most 32 GB that also covers
 * the kernel Image. */
#define INITRD_WINDOW_ALIGN GIB
#define INITRD_WINDOW_MAX (32 * GIB)
/* flags (booting.rst, "Header notes") */
#define FLAG_BE (1ull << 0)
#define FLAG_PAGE_SHIFT 1 /* bits 1-2: 0 unspecified, 1 4K, 2 16K, 3 64K */
#define FLAG_ANYWHERE (1ull << 3)
/* A sanity bound, not the protocol's: no arm64 kernel's image_size comes near it, and it
 * keeps every sum below far from wrapping. */
#define IMAGE_SIZE_MAX (1ull << 32)

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

int a64_image_parse(const uint8_t *hdr, size_t len, uint64_t file_size, struct a64_image *out,
                    struct bl_error *err)
{
    if (len < A64_IMAGE_HDR_SIZE || file_size < A64_IMAGE_HDR_SIZE)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "not an arm64 Image: %llu bytes, shorter than its 64-byte header",
                      (unsigned long long)(file_size < len ? file_size : len));
    if ((uint32_t)le64(hdr + 0x38) != A64_IMAGE_MAGIC)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "not an arm64 Image (no \"ARM\\x64\" magic at 0x38; a compressed "
                      "vmlinuz or an ELF vmlinux is not loaded, give the uncompressed Image)");
    struct a64_image im = {
        .text_offset = le64(hdr + 0x08),
        .image_size = le64(hdr + 0x10),
        .flags = le64(hdr + 0x18),
        .file_size = file_size,
    };
    if (im.flags & FLAG_BE)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "arm64 Image is big-endian (flags bit 0); only little-endian guests run");
    if (im.image_size == 0)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "arm64 Image has image_size 0 (a kernel older than Linux 3.17): its "
                      "memory footprint is unknown, not loaded");
    if (im.image_size > IMAGE_SIZE_MAX || im.text_offset > IMAGE_SIZE_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "arm64 Image header is implausible: text_offset %#llx, image_size %#llx",
                      (unsigned long long)im.text_offset, (unsigned long long)im.image_size);
    if (im.text_offset % PAGE)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "arm64 Image text_offset %#llx is not page aligned",
                      (unsigned long long)im.text_offset);
    /* image_size covers the file's text and data plus bss: a file larger than it would be
     * loaded over memory the kernel believes free. */
    if (file_size > im.image_size)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "arm64 Image is %llu bytes but its header says the kernel occupies "
                      "%llu (image_size): the file is not the kernel its header describes",
                      (unsigned long long)file_size, (unsigned long long)im.image_size);
    static const unsigned page_kib[4] = { 0, 4, 16, 64 };
    im.page_kib = page_kib[(im.flags >> FLAG_PAGE_SHIFT) & 3];
    im.anywhere = (im.flags & FLAG_ANYWHERE) != 0;
    *out = im;
    return 0;
}

int a64_boot_place(const struct a64_image *img, uint64_t ram_gpa, uint64_t ram_size,
                   uint64_t initrd_size, struct a64_boot_plan *out, struct bl_error *err)
{
    uint64_t ram_end = ram_gpa + ram_size;
    if (ram_size == 0 || ram_end < ram_gpa || ram_end > A64_RAM_MAX_END)
        return bl_err(err, BOXLITE_ERR_INVALID, "RAM range [%#llx, +%#llx) is unusable",
                      (unsigned long long)ram_gpa, (unsigned long long)ram_size);
    if (img->image_size == 0 || img->image_size > IMAGE_SIZE_MAX ||
        img->text_offset > IMAGE_SIZE_MAX || img->file_size > img->image_size ||
        initrd_size > IMAGE_SIZE_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "arm64 Image or initrd sizes are implausible");
    /* "as close as possible to the base of DRAM" suits both values of flags bit 3; with
     * bit 3 clear nothing below the base is usable, which is then nothing. Every term below
     * is < 2^41, so the sums cannot wrap. */
    uint64_t base = align_up(ram_gpa, A64_IMAGE_ALIGN);
    struct a64_boot_plan p = { .kernel_gpa = base + img->text_offset };
    p.kernel_end = p.kernel_gpa + img->image_size;
    p.fdt_gpa = align_up(p.kernel_end, A64_IMAGE_ALIGN); /* a 2 MiB block of its own */
    uint64_t end = p.fdt_gpa + A64_FDT_MAX;
    if (initrd_size) {
        p.initrd_gpa = end;
        p.initrd_size = initrd_size;
        end = align_up(p.initrd_gpa + initrd_size, PAGE);
    }
    if (end > ram_end)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "the kernel (%llu KiB), its device tree and the initrd (%llu KiB) need "
                      "%llu MiB of RAM from %#llx, the box has %llu MiB: give it more memory",
                      (unsigned long long)(img->image_size >> 10),
                      (unsigned long long)(initrd_size >> 10),
                      (unsigned long long)((end - ram_gpa + MIB - 1) / MIB),
                      (unsigned long long)ram_gpa, (unsigned long long)(ram_size / MIB));
    if (img->anywhere && end > (1ull << 48))
        return bl_err(err, BOXLITE_ERR_INVALID, "the kernel would end above 48 bits");
    /* With IMAGE_SIZE_MAX at 4 GiB this cannot trigger (kernel + initrd < 9 GiB); it keeps
     * the protocol's rule should that bound ever grow. */
    if (initrd_size && end - (base & ~(INITRD_WINDOW_ALIGN - 1)) > INITRD_WINDOW_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "the initrd (%llu MiB) does not fit in the 32 GiB window the arm64 boot "
                      "protocol allows around the kernel",
                      (unsigned long long)(initrd_size / MIB));
    *out = p;
    return 0;
}

static int file_size_of(int fd, const char *path, uint64_t *size, struct bl_error *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "%s", path);
    if (!S_ISREG(st.st_mode))
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: not a regular file", path);
    *size = (uint64_t)st.st_size;
    return 0;
}

int a64_load_kernel(struct guest_mem *gm, const char *kernel_path, const char *initrd_path,
                    const struct a64_fdt_input *fdt, struct a64_boot_plan *plan,
                    struct bl_error *err)
{
    if (fdt->nram < 1)
        return bl_err(err, BOXLITE_ERR_INVALID, "no guest RAM");
    int kfd cleanup_close = open(kernel_path, O_RDONLY | O_CLOEXEC);
    if (kfd < 0)
        return bl_errno(err, errno, "kernel %s", kernel_path);
    uint64_t ksize = 0, isize = 0;
    if (file_size_of(kfd, kernel_path, &ksize, err) < 0)
        return bl_err_prefix(err, "kernel");
    uint8_t hdr[A64_IMAGE_HDR_SIZE] = { 0 };
    ssize_t n = pread(kfd, hdr, sizeof hdr, 0);
    if (n < 0)
        return bl_errno(err, errno, "kernel %s: read", kernel_path);
    struct a64_image img;
    if (a64_image_parse(hdr, (size_t)n, ksize, &img, err) < 0)
        return bl_err_prefix(err, "kernel %s", kernel_path);

    int ifd cleanup_close = -1;
    if (initrd_path) {
        ifd = open(initrd_path, O_RDONLY | O_CLOEXEC);
        if (ifd < 0)
            return bl_errno(err, errno, "initrd %s", initrd_path);
        if (file_size_of(ifd, initrd_path, &isize, err) < 0)
            return bl_err_prefix(err, "initrd");
        if (isize == 0)
            return bl_err(err, BOXLITE_ERR_INVALID, "initrd %s is empty", initrd_path);
    }
    /* Everything goes into the first RAM range, where the kernel's linear map starts. */
    struct a64_boot_plan p;
    if (a64_boot_place(&img, fdt->ram_gpa[0], fdt->ram_size[0], isize, &p, err) < 0)
        return bl_err_prefix(err, "kernel %s", kernel_path);
    if (!gm_ptr(gm, fdt->ram_gpa[0], fdt->ram_size[0]))
        return bl_err(err, BOXLITE_ERR_INTERNAL, "RAM range 0 is not guest memory");

    /* Guest RAM is fresh and zero, so the kernel's bss needs no clearing. */
    if (gm_place_file(gm, kfd, 0, ksize, p.kernel_gpa, kernel_path, err) < 0)
        return -err->code;
    if (initrd_path && gm_place_file(gm, ifd, 0, isize, p.initrd_gpa, initrd_path, err) < 0)
        return -err->code;

    struct a64_fdt_input in = *fdt;
    in.initrd_start = p.initrd_gpa;
    in.initrd_size = p.initrd_size;
    void *blob cleanup_free = NULL;
    size_t blen = 0;
    if (a64_fdt_build(&in, &blob, &blen, err) < 0)
        return -err->code;
    uint8_t *dst = gm_ptr(gm, p.fdt_gpa, blen);
    if (!dst || blen > A64_FDT_MAX)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "device tree outside guest RAM");
    memcpy(dst, blob, blen);
    *plan = p;
    return 0;
}
