// SPDX-License-Identifier: Apache-2.0
/* What the library reads of a box's per-box process from files: only what outlives the
 * process. While it runs, the library asks it on the box socket (STATUS, and EXIT when the
 * box ends: src/proto/control.h); exit.json is the post-mortem record it (or its jail's
 * supervisor, for a process that was killed) writes once at the end, read here once the
 * process is gone, by a library that was not connected then (or that made a fork: its
 * source's pause record); vmm.log is its own account. */
#ifndef RT_BOXFILES_H
#define RT_BOXFILES_H

#include "common/error.h"
#include "proto/control.h"

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
    enum proto_pause_shares pause_shares; /* a pause's: what it did with the volumes */
};
void boxfiles_end(const char *dir, struct box_end_info *out);
/* A fork's folder (pause.c) gets the part of its source's pause record that goes with the
 * saved state linked into it: paused, and what the pause did with the volumes (the resume
 * mounts them unless kept). Not the restarts: a fork's count starts at 0. Nothing is
 * written when the source's record says nothing of the volumes (which reads the same). */
int boxfiles_fork_end(const char *src_dir, const char *dir, struct bl_error *err);
/* The last non-empty line of the per-box process's log (vmm.log), or "" (for errors). */
void boxfiles_vmm_last_line(const char *dir, char *out, size_t len);

#endif
