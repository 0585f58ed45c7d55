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

/* A process's /proc/<pid>/smaps (proc(5)), for the memory figures of a box: the resident
 * bytes of all its mappings and of one mapping chosen by its file path, or (path NULL) of
 * the anonymous mappings of a given size (guest RAM QEMU allocated itself: the size is
 * exact, QEMU unmaps the alignment slack). A mapped file's name may hold any byte but NUL
 * and '/'-less text is never taken for a path: a compromised engine naming a file after the
 * memory file only moves figures, never memory. */
struct proc_smaps {
    const char *path;      /* in: the mapping to single out, or NULL */
    uint64_t anon_size;    /* in: with path NULL, the size of the anonymous mapping to take */
    uint64_t rss, match_rss; /* out: all mappings, the chosen ones */
    int in_match;          /* state between lines: the current mapping is a chosen one */
};
/* Feeds one line (without or with its '\n'). */
void proc_smaps_line(struct proc_smaps *s, const char *line);
/* Reads /proc/<pid>/smaps into s (its in-fields set). 0 or -errno. */
int proc_smaps_read(int64_t pid, struct proc_smaps *s);

#endif
