// SPDX-License-Identifier: Apache-2.0
/* The guest's OOM killer as the agent sees it: who it may choose (oom_score_adj, Linux
 * Documentation/filesystems/proc.rst, "/proc/<pid>/oom_score_adj") and whether it chose a
 * given process (the kernel logs "Killed process <pid> (<comm>)" when it does, mm/oom_kill.c;
 * /proc/vmstat's oom_kill counts its kills). */
#include "agent.h"

#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void oom_adj_self(int adj)
{
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char b[16];
    int n = snprintf(b, sizeof b, "%d", adj);
    if (write(fd, b, (size_t)n) < 0) {
        /* lowering needs CAP_SYS_RESOURCE: without it the process stays a candidate */
    }
    close(fd);
}

int oom_killed_in_log(const char *kmsg_path, pid_t pid)
{
    cleanup_close int fd = open(kmsg_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char needle[48];
    int nlen = snprintf(needle, sizeof needle, "Killed process %d (", (int)pid);
    /* /dev/kmsg hands out one record per read (and EINVAL to a buffer too small for it);
     * a plain file comes in chunks, so the tail of each chunk is kept for the next. */
    char buf[8192 + 64];
    size_t carry = 0;
    for (int reads = 0; reads < 100000; reads++) {
        ssize_t n = read(fd, buf + carry, sizeof buf - 1 - carry);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EPIPE)
            continue; /* records were overwritten while we read: go on with the next */
        if (n <= 0)
            break;
        size_t len = carry + (size_t)n;
        buf[len] = 0;
        if (memmem(buf, len, needle, (size_t)nlen))
            return 1;
        carry = len < (size_t)nlen ? len : (size_t)nlen;
        memmove(buf, buf + len - carry, carry);
    }
    return 0;
}

long long oom_kill_count(const char *vmstat_path)
{
    cleanup_fclose FILE *f = fopen(vmstat_path, "re");
    char line[128];
    long long v;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "oom_kill %lld", &v) == 1)
            return v;
    return -1;
}
