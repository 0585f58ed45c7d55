// SPDX-License-Identifier: Apache-2.0
/* Putting a file's bytes into guest memory: what every architecture's kernel loader needs
 * (the x86_64 ELF loader, the aarch64 Image loader). */
#ifndef VMM_LOAD_H
#define VMM_LOAD_H

#include "common/error.h"
#include "vmm/core/mem.h"

#include <stdint.h>

/* Places file bytes [off, off+len) of fd at guest gpa, which must lie wholly inside one
 * region of gm. Page-aligned runs are mapped from the file (private, copy-on-write), so
 * nothing is read or copied before the guest touches it: start-up cost stays independent of
 * the kernel's size. The rest is read. A file shorter than off+len is an error naming path. */
int gm_place_file(struct guest_mem *gm, int fd, uint64_t off, uint64_t len, uint64_t gpa,
                  const char *path, struct bl_error *err);

#endif
