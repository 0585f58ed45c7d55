// SPDX-License-Identifier: Apache-2.0
/* Whether a page of this process is the file's own page-cache page: a kernel file mapped
 * over guest RAM (src/vmm/core/load.c) is shared between boxes only while the guest has
 * not written the page. Header-only, as vq_driver.h, so each test binary stands alone. */
#ifndef TEST_PAGEMAP_H
#define TEST_PAGEMAP_H

#include <fcntl.h>
#include <stdint.h>
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

#endif
