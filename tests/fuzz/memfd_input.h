// SPDX-License-Identifier: Apache-2.0
/* For the fuzz targets whose parser reads a file: the input as an anonymous file. */
#ifndef BOXLITE_FUZZ_MEMFD_INPUT_H
#define BOXLITE_FUZZ_MEMFD_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* A memfd holding the size bytes of data, its offset at 0; -1 when one cannot be made. */
static inline int memfd_input(const char *name, const uint8_t *data, size_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return -1;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

#endif
