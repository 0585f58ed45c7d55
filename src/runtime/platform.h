// SPDX-License-Identifier: Apache-2.0
/* A box's platform ("linux/arm64"): which variant of a multi-platform image it runs and on
 * which guest architecture (image-spec image-index.md "platform"; Docker's --platform). */
#ifndef RT_PLATFORM_H
#define RT_PLATFORM_H

#include "common/error.h"
#include "runtime/assets.h"
#include "runtime/settings.h"

#include <stdbool.h>
#include <stddef.h>

struct rt_platform {
    char os[16];      /* "linux" */
    char arch[16];    /* OCI's name: "amd64", "arm64" */
    char variant[16]; /* "v8", or "" */
};

/* "os/arch[/variant]" with the architectures a box can run ("amd64", "arm64"; uname's
 * "x86_64", "aarch64" accepted). The canonical text goes to text (may be NULL). */
int rt_platform_parse(const char *s, struct rt_platform *p, char *text, size_t n,
                      struct bl_error *err);
/* Whether the platform's architecture is not the host's: the box then runs on the QEMU
 * engine under TCG with that architecture's guest kernel and initramfs. */
bool rt_platform_foreign(const struct rt_platform *p);
/* The guest kernel and initramfs for a foreign platform's architecture (a->kernel and
 * a->initrd replaced), looked up like the host's (assets.h) under the architecture's
 * names: <lib>/../share/boxlite/<arch>/{Image,initramfs.cpio.gz}, the build tree's
 * <O>/guest-<arch>/initramfs.cpio.gz, and the kernel cache's kernel/<arch>-current/Image
 * (scripts/build-kernel.sh --arch <arch>). */
int rt_find_platform_assets(const struct rt_settings *s, const struct rt_platform *p,
                            struct rt_assets *a, struct bl_error *err);

#endif
