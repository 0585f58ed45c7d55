// SPDX-License-Identifier: Apache-2.0
/* What the host's x86 CPU says about itself (/proc/cpuinfo's "flags" line), behind arch.h's
 * arch_host_* contract: hardware virtualization (Intel VMX, AMD SVM) and whether the host is
 * itself a virtual machine (the "hypervisor" flag: CPUID.1:ECX bit 31). */
#include "vmm/arch/arch.h"

#include <stdio.h>
#include <string.h>

/* Whether the first CPU's "flags" line holds flag as a whole word. */
static bool cpu_has_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    size_t n = strlen(flag);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        const char *p = strchr(line, ':');
        for (p = p ? p + 1 : line; p && *p;) {
            p += strspn(p, " \t");
            size_t w = strcspn(p, " \t\n");
            if (w == 0)
                break; /* end of the line */
            if (w == n && strncmp(p, flag, n) == 0) {
                found = true;
                break;
            }
            p += w;
        }
        break; /* the first CPU speaks for all */
    }
    fclose(f);
    return found;
}

const char arch_host_virt_wanted[] = "vmx or svm";

bool arch_host_virt(struct arch_host_virt *out)
{
    static const struct arch_host_virt kinds[] = { { "vmx", "Intel VT-x" }, { "svm", "AMD-V" } };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (cpu_has_flag(kinds[i].flag)) {
            if (out)
                *out = kinds[i];
            return true;
        }
    if (out)
        *out = (struct arch_host_virt){ NULL, NULL };
    return false;
}

bool arch_host_is_vm(void) { return cpu_has_flag("hypervisor"); }
