// SPDX-License-Identifier: Apache-2.0
/* Where the runtime finds what a box boots: boxlite-vmm, the guest kernel and initramfs. */
#ifndef RT_ASSETS_H
#define RT_ASSETS_H

#include "common/error.h"
#include "runtime/settings.h"

#include <stddef.h>

/* Each comes from the runtime's settings (the "vmm", "kernel", "initrd" options, else
 * BOXLITE_VMM, BOXLITE_KERNEL, BOXLITE_INITRD); otherwise it is looked up relative to the
 * folder of libboxlite.so itself (dladdr), so that an installed tree works wherever it is
 * copied:
 *   installed (make install, the .deb, the wheel): <lib>/../libexec/boxlite/boxlite-vmm,
 *     <lib>/../share/boxlite/{vmlinux,initramfs.cpio.gz}
 *   the build tree: <O>/bin/boxlite-vmm, <O>/guest/initramfs.cpio.gz
 * and the kernel last in the kernel cache (cache_dir / BOXLITE_CACHE, else
 * ~/.cache/boxlite: kernel/current/vmlinux). s may be NULL (the environment only). */
struct rt_assets {
    char vmm[4096], kernel[4096], initrd[4096];
};
int rt_find_assets(const struct rt_settings *s, struct rt_assets *a, struct bl_error *err);

/* The folder holding libboxlite.so (or the program it is linked into); "" if unknown. */
void rt_lib_dir(char *out, size_t len);

/* The first of cand (ending with NULL) that is a regular file, resolved (realpath), into
 * dst: 0. Else -1, with the candidates tried listed in tried ("a, b"), for the caller's
 * error. */
int rt_first_file(char *dst, size_t len, const char *const *cand, char *tried, size_t tried_len);

#endif
