// SPDX-License-Identifier: Apache-2.0
/* hostarch.h */
#include "common/hostarch.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

static const char *const map[][2] = { {"x86_64", "amd64"}, {"aarch64", "arm64"} };

const char *oci_arch_of(const char *machine)
{
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

const char *machine_of_oci_arch(const char *oci_arch)
{
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(oci_arch, map[i][1]))
            return map[i][0];
    return oci_arch;
}

const char *host_machine(void)
{
    static __thread char machine[sizeof((struct utsname *)0)->machine];
    struct utsname u;
    snprintf(machine, sizeof machine, "%s", uname(&u) == 0 ? u.machine : "x86_64");
    return machine;
}
