// SPDX-License-Identifier: Apache-2.0
/* What the library reads of a box's per-box process from files: only what outlives the
 * process. While it runs, the library asks it on the box socket (STATUS, and EXIT when the
 * box ends: src/proto/control.h); exit.json is the post-mortem record it (or its jail's
 * supervisor, for a process that was killed) writes once at the end, read here once the
 * process is gone, by a library that was not connected then; vmm.log is its own account. */
#ifndef RT_BOXFILES_H
#define RT_BOXFILES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Forgets a previous run's record (before a start). */
void boxfiles_clear(const char *dir);

/* How the per-box process said its box ended (exit.json, read once the process is gone). */
struct box_end_info {
    bool known;          /* false: it left no word (killed, crashed) */
    char reason[512];
    bool requested;      /* a stop the host asked for */
    bool has_exit_code, oom_killed;
    int64_t exit_code;
    uint64_t restarts;   /* the main process's restarts in that run (a pause's too) */
};
void boxfiles_end(const char *dir, struct box_end_info *out);
/* The last non-empty line of the per-box process's log (vmm.log), or "" (for errors). */
void boxfiles_vmm_last_line(const char *dir, char *out, size_t len);

#endif
