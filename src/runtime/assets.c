// SPDX-License-Identifier: Apache-2.0
/* Finding boxlite-vmm, the guest kernel and initramfs: see assets.h. */
#include "runtime/assets.h"

#include "boxlite.h"

#include <dlfcn.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

void rt_lib_dir(char *out, size_t len)
{
    Dl_info info;
    out[0] = 0;
    /* The address of a function of this library: dladdr names the object holding it, so
     * this is libboxlite.so's folder even when the program was started from elsewhere. */
    if (dladdr((void *)rt_lib_dir, &info) && info.dli_fname) {
        char *copy = realpath(info.dli_fname, NULL);
        if (copy) {
            snprintf(out, len, "%s", dirname(copy));
            free(copy);
        }
    }
}

int rt_first_file(char *dst, size_t len, const char *const *cand, char *tried, size_t tried_len)
{
    tried[0] = 0;
    for (const char *const *c = cand; *c; c++) {
        if (is_file(*c)) {
            char *real = realpath(*c, NULL);
            snprintf(dst, len, "%s", real ? real : *c);
            free(real);
            return 0;
        }
        size_t used = strlen(tried);
        snprintf(tried + used, tried_len - used, "%s%s", used ? ", " : "", *c);
    }
    return -1;
}

/* The first candidate that is a file; else an error naming the setting and every place
 * tried. cand ends with NULL. */
static int pick(char *dst, size_t len, const struct rt_settings *s, enum rt_setting_key k,
                const char *const *cand, const char *what, struct bl_error *err)
{
    const char *set = rt_settings_get(s, k);
    if (set) {
        if (!is_file(set))
            return bl_err(err, BOXLITE_ERR_ENGINE, "%s not found at %s (the runtime option "
                          "\"%s\" or %s)", what, set, rt_settings_key_name(k),
                          rt_settings_env_name(k));
        snprintf(dst, len, "%s", set);
        return 0;
    }
    char tried[2048];
    if (rt_first_file(dst, len, cand, tried, sizeof tried) == 0)
        return 0;
    return bl_err(err, BOXLITE_ERR_ENGINE, "%s not found (looked at %s; set the runtime option "
                  "\"%s\" or %s, or install BoxLite: make install%s)", what, tried,
                  rt_settings_key_name(k), rt_settings_env_name(k),
                  k == RT_SET_KERNEL ? "; scripts/build-kernel.sh builds the kernel" : "");
}

int rt_find_assets(const struct rt_settings *s, struct rt_assets *a, struct bl_error *err)
{
    char dir[4096], p[3][4200];
    rt_lib_dir(dir, sizeof dir);
    if (!dir[0])
        snprintf(dir, sizeof dir, "/nonexistent");
    snprintf(p[0], sizeof p[0], "%s/../libexec/boxlite/boxlite-vmm", dir);
    snprintf(p[1], sizeof p[1], "%s/../bin/boxlite-vmm", dir);
    const char *vmm[] = { p[0], p[1], NULL };
    int r = pick(a->vmm, sizeof a->vmm, s, RT_SET_VMM, vmm, "boxlite-vmm", err);
    if (r)
        return r;
    snprintf(p[0], sizeof p[0], "%s/../share/boxlite/initramfs.cpio.gz", dir);
    snprintf(p[1], sizeof p[1], "%s/../guest/initramfs.cpio.gz", dir);
    const char *initrd[] = { p[0], p[1], NULL };
    if ((r = pick(a->initrd, sizeof a->initrd, s, RT_SET_INITRD, initrd, "guest initramfs", err)))
        return r;
    snprintf(p[0], sizeof p[0], "%s/../share/boxlite/vmlinux", dir);
    const char *cache = rt_settings_get(s, RT_SET_CACHE);
    if (cache)
        snprintf(p[1], sizeof p[1], "%s/kernel/current/vmlinux", cache);
    else
        snprintf(p[1], sizeof p[1], "%s/.cache/boxlite/kernel/current/vmlinux",
                 getenv("HOME") && *getenv("HOME") ? getenv("HOME") : "/root");
    const char *kernel[] = { p[0], p[1], NULL };
    return pick(a->kernel, sizeof a->kernel, s, RT_SET_KERNEL, kernel, "guest kernel", err);
}
