// SPDX-License-Identifier: Apache-2.0
/* procstat.h */
#include "common/procstat.h"

#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int proc_stat_parse(const char *text, struct proc_stat *out)
{
    /* Field 2 (comm) may hold spaces and parentheses: fields are counted after the last ')'. */
    const char *p = strrchr(text, ')');
    if (!p || p[1] != ' ' || !p[2])
        return -ESRCH;
    out->state = p[2];
    p += 3;
    int field = 3;
    while (*p && field < 22) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        field++;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p && field != 22)
            v = 0; /* a field this does not keep */
        if (field == 14)
            out->utime = v;
        else if (field == 15)
            out->stime = v;
        else if (field == 22) {
            if (end == p)
                return -ESRCH;
            out->starttime = v;
            return 0;
        }
        p += strcspn(p, " ");
    }
    return -ESRCH;
}

int proc_stat_read(int64_t pid, struct proc_stat *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0)
        return -errno;
    buf[n] = 0;
    return proc_stat_parse(buf, out);
}
