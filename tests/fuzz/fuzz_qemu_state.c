// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The QEMU engine's state file header (src/vmm/qemu/migrate.c), read at a resume: the
 * file is written by the per-box process, but QEMU, which a hostile guest may have taken
 * over, holds its descriptor while it writes its stream and could write over the header.
 * Whatever the bytes, the reader says header, bare QEMU stream or error, and leaves the
 * offset where QEMU must start reading. */
#include "memfd_input.h"
#include "vmm/qemu/qemu.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_input("state", data, size);
    if (fd < 0)
        return 0;
    struct bl_error err = {0};
    struct qemu_saved s;
    int rc = qemu_state_header_read(fd, &s, &err);
    off_t at = lseek(fd, 0, SEEK_CUR);
    if ((rc == 1 && at != 16) || (rc == 0 && (at != 0 || s.balloon_target_mib)) ||
        (rc < 0 && !err.msg[0]) || rc > 1)
        abort();
    close(fd);
    return 0;
}
