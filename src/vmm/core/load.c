// SPDX-License-Identifier: Apache-2.0
/* File bytes into guest memory (load.h), shared by the architectures' kernel loaders. */
#include "vmm/core/load.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096ull

int gm_place_file(struct guest_mem *gm, int fd, uint64_t off, uint64_t len, uint64_t gpa,
                  const char *path, struct bl_error *err)
{
    uint8_t *dst = gm_ptr(gm, gpa, len);
    if (!dst)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "%s: %#llx bytes at %#llx do not fit in guest RAM", path,
                      (unsigned long long)len, (unsigned long long)gpa);
    uint64_t mapped = 0;
    if (off % PAGE == 0 && gpa % PAGE == 0 && len >= PAGE) {
        mapped = len & ~(PAGE - 1);
        void *p = mmap(dst, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
                       (off_t)off);
        if (p == MAP_FAILED)
            return bl_errno(err, errno, "%s: map into guest memory", path);
    }
    while (mapped < len) {
        ssize_t n = pread(fd, dst + mapped, len - mapped, (off_t)(off + mapped));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bl_errno(err, errno, "%s: read", path);
        if (n == 0)
            return bl_err(err, BOXLITE_ERR_INVALID, "%s: truncated", path);
        mapped += (uint64_t)n;
    }
    return 0;
}
