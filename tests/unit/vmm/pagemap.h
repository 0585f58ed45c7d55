// SPDX-License-Identifier: Apache-2.0
/* What the host kernel says of this process's guest RAM: whether a page is the file's own
 * page-cache page (a kernel file mapped over guest RAM, src/vmm/core/load.c, is shared
 * between boxes only while the guest has not written the page), and a mapping's VmFlags
 * (madvise marks). Header-only, as vq_driver.h, so each test binary stands alone. */
#ifndef TEST_PAGEMAP_H
#define TEST_PAGEMAP_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* 1 if the page holding p is a file page (shared in the page cache, not this process's own
 * copy), 0 if it is anonymous, -1 if pagemap cannot be read: bit 61 of /proc/self/pagemap
 * ("file-page or shared-anon", shown without privilege). The page is read first so it is
 * present. */
static inline int page_from_file(const volatile uint8_t *p)
{
    (void)*p;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    uint64_t e = 0;
    ssize_t n = fd < 0 ? -1 : pread(fd, &e, 8, (off_t)((uintptr_t)p / 4096 * 8));
    if (fd >= 0)
        close(fd);
    if (n != 8)
        return -1;
    return (e >> 63) && (e >> 61 & 1);
}

/* 1 if the mapping holding p has VmFlags flag (two letters: "mg" MADV_MERGEABLE, "nh"
 * MADV_NOHUGEPAGE, "dc" MADV_DONTFORK) in /proc/self/smaps, 0 if not, -1 if unknown. */
static inline int vm_flag(const void *p, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f)
        return -1;
    char line[512], want[8];
    snprintf(want, sizeof want, " %s", flag);
    bool inside = false;
    int r = -1;
    uintptr_t a = (uintptr_t)p;
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            inside = a >= lo && a < hi;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0)
            r = strstr(line, want) != NULL;
    }
    fclose(f);
    return r;
}

#endif
