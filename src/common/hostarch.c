// SPDX-License-Identifier: Apache-2.0
/* hostarch.h */
#include "common/hostarch.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

const char *oci_arch_of(const char *machine)
{
    static const char *const map[][2] = { {"x86_64", "amd64"}, {"aarch64", "arm64"} };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(machine, map[i][0]))
            return map[i][1];
    return machine;
}

const char *host_oci_arch(void)
{
    static __thread char arch[sizeof((struct utsname *)0)->machine];
    struct utsname u;
    snprintf(arch, sizeof arch, "%s", oci_arch_of(uname(&u) == 0 ? u.machine : "x86_64"));
    return arch;
}
