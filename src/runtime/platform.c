// SPDX-License-Identifier: Apache-2.0
/* platform.h */
#include "runtime/platform.h"

#include "boxlite.h"
#include "common/hostarch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool word(const char *s, size_t n)
{
    if (n == 0 || n >= 16)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

int rt_platform_parse(const char *s, struct rt_platform *p, char *text, size_t n,
                      struct bl_error *err)
{
    memset(p, 0, sizeof *p);
    const char *slash1 = s ? strchr(s, '/') : NULL;
    const char *arch = slash1 ? slash1 + 1 : NULL;
    const char *slash2 = arch ? strchr(arch, '/') : NULL;
    size_t los = slash1 ? (size_t)(slash1 - s) : 0;
    size_t larch = arch ? (slash2 ? (size_t)(slash2 - arch) : strlen(arch)) : 0;
    const char *variant = slash2 ? slash2 + 1 : "";
    if (!slash1 || !word(s, los) || !word(arch, larch) ||
        (slash2 && (!word(variant, strlen(variant)) || strchr(variant, '/'))))
        return bl_err(err, BOXLITE_ERR_INVALID, "platform: \"%s\" is not os/arch[/variant] "
                      "(linux/amd64, linux/arm64)", s ? s : "(null)");
    snprintf(p->os, sizeof p->os, "%.*s", (int)los, s);
    char a[16];
    snprintf(a, sizeof a, "%.*s", (int)larch, arch);
    snprintf(p->arch, sizeof p->arch, "%s", oci_arch_of(a));
    snprintf(p->variant, sizeof p->variant, "%s", variant);
    if (strcmp(p->os, "linux"))
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "platform %s: boxes run linux images only", s);
    if (strcmp(p->arch, "amd64") && strcmp(p->arch, "arm64"))
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "platform %s: boxes run amd64 or arm64 "
                      "images", s);
    if (text)
        snprintf(text, n, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
    return 0;
}

bool rt_platform_foreign(const struct rt_platform *p)
{
    return p && p->arch[0] && strcmp(p->arch, host_oci_arch()) != 0;
}

/* The first candidate that is a file, else an error naming them all. */
static int pick(char *dst, size_t len, const char *const *cand, const char *what,
                const char *hint, struct bl_error *err)
{
    char tried[4096];
    if (rt_first_file(dst, len, cand, tried, sizeof tried) == 0)
        return 0;
    return bl_err(err, BOXLITE_ERR_ENGINE, "%s not found (looked at %s; %s)", what, tried, hint);
}

int rt_find_platform_assets(const struct rt_settings *s, const struct rt_platform *p,
                            struct rt_assets *a, struct bl_error *err)
{
    char dir[4096], c[3][4400], what[64];
    rt_lib_dir(dir, sizeof dir);
    if (!dir[0])
        snprintf(dir, sizeof dir, "/nonexistent");
    snprintf(c[0], sizeof c[0], "%s/../share/boxlite/%s/initramfs.cpio.gz", dir, p->arch);
    snprintf(c[1], sizeof c[1], "%s/../guest-%s/initramfs.cpio.gz", dir, p->arch);
    const char *initrd[] = { c[0], c[1], NULL };
    snprintf(what, sizeof what, "the %s guest initramfs", p->arch);
    int r = pick(a->initrd, sizeof a->initrd, initrd, what, "make builds it when "
                 "aarch64-linux-gnu-gcc is installed", err);
    if (r)
        return r;
    snprintf(c[0], sizeof c[0], "%s/../share/boxlite/%s/Image", dir, p->arch);
    const char *cache = rt_settings_get(s, RT_SET_CACHE);
    const char *home = getenv("HOME") && *getenv("HOME") ? getenv("HOME") : "/root";
    if (cache)
        snprintf(c[1], sizeof c[1], "%s/kernel/%s-current/Image", cache, p->arch);
    else
        snprintf(c[1], sizeof c[1], "%s/.cache/boxlite/kernel/%s-current/Image", home, p->arch);
    const char *kernel[] = { c[0], c[1], NULL };
    char hint[128];
    snprintf(hint, sizeof hint, "scripts/build-kernel.sh --arch %s builds it", p->arch);
    snprintf(what, sizeof what, "the %s guest kernel", p->arch);
    return pick(a->kernel, sizeof a->kernel, kernel, what, hint, err);
}
