// SPDX-License-Identifier: Apache-2.0
/* A process's /proc/<pid>/stat (proc(5)), parsed once for every component. */
#ifndef BL_PROCSTAT_H
#define BL_PROCSTAT_H

#include <stdint.h>

struct proc_stat {
    char state;            /* field 3: R, S, D, Z, X ... */
    uint64_t utime, stime; /* fields 14, 15: clock ticks (sysconf(_SC_CLK_TCK)) */
    uint64_t starttime;    /* field 22: clock ticks after boot; with the pid, names a process */
};

/* 0, or -errno (-ESRCH when the file does not parse: the process went away meanwhile). */
int proc_stat_read(int64_t pid, struct proc_stat *out);
/* The parser alone, on the file's text (tests, fuzzing). */
int proc_stat_parse(const char *text, struct proc_stat *out);

#endif
