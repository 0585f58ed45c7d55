/* /proc/cpuinfo's flags (hostcpu.h). */
#include "common/hostcpu.h"

#include <stdio.h>
#include <string.h>

bool host_cpu_has_flag(const char *flag)
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

const char *host_cpu_virt_flag(void)
{
    return host_cpu_has_flag("vmx") ? "vmx" : host_cpu_has_flag("svm") ? "svm" : NULL;
}
