/* What the library learns from a box's per-box process lives in one place: today files it
 * writes in the box's folder (ready, stats.json, health.json, exit.json, vmm.log), read
 * here and nowhere else, so that a socket protocol can replace them behind these calls. */
#ifndef RT_BOXFILES_H
#define RT_BOXFILES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Forgets a previous run's files (before a start). */
void boxfiles_clear(const char *dir);
/* A file as JSON ("ready", "stats.json", "health.json"), or NULL. */
json_t *boxfiles_json(const char *dir, const char *name);

/* How the per-box process said its box ended (exit.json). */
struct box_end_info {
    bool known;          /* false: it left no word (killed, crashed) */
    char reason[512];
    bool requested;      /* a stop the host asked for */
    bool has_exit_code, oom_killed;
    int64_t exit_code;
};
void boxfiles_end(const char *dir, struct box_end_info *out);
/* The last non-empty line of the per-box process's log (vmm.log), or "" (for errors). */
void boxfiles_vmm_last_line(const char *dir, char *out, size_t len);

#endif
