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

void proc_smaps_line(struct proc_smaps *s, const char *line)
{
    /* A mapping's first line: "lo-hi perms offset dev inode [path]"; the others "Key: N kB". */
    unsigned long long lo, hi, off, ino, kb;
    char perms[8], dev[16];
    int n = 0;
    if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %n", &lo, &hi, perms, &off, dev, &ino, &n) ==
            6 && n > 0) {
        const char *name = line + n;
        size_t len = strcspn(name, "\n");
        if (s->path)
            s->in_match = len == strlen(s->path) && !strncmp(name, s->path, len);
        else
            s->in_match = len == 0 && hi > lo && hi - lo == s->anon_size;
        return;
    }
    if (sscanf(line, "Rss: %llu kB", &kb) == 1 && kb < (1ull << 40)) {
        s->rss += kb * 1024;
        if (s->in_match)
            s->match_rss += kb * 1024;
    }
}

int proc_smaps_read(int64_t pid, struct proc_smaps *s)
{
    char path[64], line[4096 + 256];
    snprintf(path, sizeof path, "/proc/%lld/smaps", (long long)pid);
    s->rss = s->match_rss = 0;
    s->in_match = 0;
    cleanup_fclose FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        proc_smaps_line(s, line);
        /* the rest of an overlong line (a long path) is not a line of its own */
        while (len && line[len - 1] != '\n' && fgets(line, sizeof line, f))
            len = strlen(line);
    }
    return 0;
}
