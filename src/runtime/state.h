// SPDX-License-Identifier: Apache-2.0
/* The runtime's state in SQLite (<home>/boxlite.db, WAL mode): boxes and counters.
 * Several processes share one database; every write is one transaction, and a crash at any
 * point leaves it consistent (SQLite's guarantee). Boxes whose VMM died are corrected to
 * "stopped" by the reader (runtime.c), not here. */
#ifndef RT_STATE_H
#define RT_STATE_H

#include "common/error.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define BOX_ID_LEN 32 /* hex characters */

/* A box's life: configured -> starting -> running -> stopping -> stopped (-> starting ...).
 * The database and the API's JSON hold the names (box_state_name); the code, the enum. */
enum box_state {
    BOX_STATE_ANY = -1, /* state_box_set_*'s `expect`: whatever it is */
    BOX_STATE_UNKNOWN,  /* a name this version does not know */
    BOX_STATE_CONFIGURED,
    BOX_STATE_STARTING,
    BOX_STATE_RUNNING,
    BOX_STATE_STOPPING,
    BOX_STATE_STOPPED,
    BOX_STATE_PAUSED,   /* no process: its memory is saved in its folder (pause.c) */
};
const char *box_state_name(enum box_state s);
/* The state of a name; false (and *out BOX_STATE_UNKNOWN) for a name not listed above. */
bool box_state_parse(const char *name, enum box_state *out);
/* starting, running or stopping: a per-box process is (or should be) behind it. */
bool box_state_active(enum box_state s);

struct box_record {
    char id[BOX_ID_LEN + 1];
    char *name;
    enum box_state state;
    char *image;        /* reference or rootfs path, for display */
    char *options;      /* JSON (options.c) */
    int64_t created;    /* unix seconds */
    int64_t pid;        /* per-box process, 0 if none */
    int64_t pid_start;  /* its start time (/proc/<pid>/stat field 22), guards PID reuse */
    char *engine;       /* engine that ran it last */
    char *runtime_info; /* JSON written by the per-box process: ports chosen, timings */
    /* The process the box's life is bound to (its creator, then its starter): while
     * "starting", the box is alive as long as it is; an auto_remove box whose owner is gone
     * is a leftover (runtime.c removes it). 0 in databases older than the column. */
    int64_t owner_pid, owner_start;
    /* Why it stopped (NULL while it runs or never ran), and how: */
    char *stop_reason;
    bool stop_abnormal;   /* stopped by itself (workload, guest, VM process), not on request */
    bool has_exit_code;
    int64_t exit_code;    /* the main process's (or container init's) status, 128+signal */
    bool oom_killed;
};

/* How a box stopped, for state_box_set_stopped. */
struct box_stop {
    const char *reason;
    bool abnormal, has_exit_code, oom_killed;
    int64_t exit_code;
};

/* Opens (creates) the database, mode 0600, and brings an older schema up to date. */
int state_open(sqlite3 **out, const char *path, struct bl_error *err);
/* PRAGMA integrity_check: 0 when "ok", else the first problem in err. */
int state_check(sqlite3 *db, struct bl_error *err);
void state_close(sqlite3 *db);
void box_record_clear(struct box_record *r);

/* Inserts; BOXLITE_ERR_EXISTS if the name is taken, or is (a prefix of) another box's id,
 * which lookups would confuse. *id_clash (the new id starts with another box's name: pick
 * another id) is set with BOXLITE_ERR_EXISTS. One transaction: two creators cannot both
 * pass the checks. */
int state_box_insert(sqlite3 *db, const struct box_record *r, bool *id_clash,
                     struct bl_error *err);
/* By exact id, exact name, or unique id prefix (at least 4 characters). */
int state_box_find(sqlite3 *db, const char *key, struct box_record *out, struct bl_error *err);
/* Calls fn for each box (only those in `state` unless BOX_STATE_ANY), in creation order. */
int state_box_each(sqlite3 *db, enum box_state state,
                   int (*fn)(void *ctx, const struct box_record *r), void *ctx,
                   struct bl_error *err);
/* Sets state and process; only if the current state is `expect` unless BOX_STATE_ANY
 * (returns BOXLITE_ERR_STATE otherwise), so two processes cannot both start a box. */
int state_box_set_state(sqlite3 *db, const char *id, enum box_state expect, enum box_state state,
                        int64_t pid, int64_t pid_start, struct bl_error *err);
/* BOX_STATE_STOPPED, no process, and why; only if the current state is `expect` (unless
 * BOX_STATE_ANY). */
int state_box_set_stopped(sqlite3 *db, const char *id, enum box_state expect,
                          const struct box_stop *why, struct bl_error *err);
int state_box_set_owner(sqlite3 *db, const char *id, int64_t pid, int64_t pid_start,
                        struct bl_error *err);
int state_box_set_info(sqlite3 *db, const char *id, const char *engine,
                       const char *runtime_info, struct bl_error *err);
/* The name is UNIQUE: taken is BOXLITE_ERR_EXISTS. */
int state_box_rename(sqlite3 *db, const char *id, const char *name, struct bl_error *err);
int state_box_delete(sqlite3 *db, const char *id, struct bl_error *err);

int state_counter_add(sqlite3 *db, const char *name, int64_t delta, struct bl_error *err);
int64_t state_counter_get(sqlite3 *db, const char *name);

#endif
