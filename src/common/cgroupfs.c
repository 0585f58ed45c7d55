// SPDX-License-Identifier: Apache-2.0
#include "common/cgroupfs.h"

#include <string.h>

bool cgroup_line_split(char *line, char **id, char **ctrls, char **path)
{
    line[strcspn(line, "\n")] = 0;
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return false;
    *c1 = *c2 = 0;
    *id = line;
    *ctrls = c1 + 1;
    *path = c2 + 1;
    return true;
}

bool csv_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = list; s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
        if (!strncmp(s, name, n) && (s[n] == ',' || !s[n]))
            return true;
    return false;
}
