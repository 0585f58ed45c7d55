/* The runtime's state in SQLite (<home>/boxlite.db, WAL mode): boxes and counters.
 * Several processes share one database; every write is one transaction, and a crash at any
 * point leaves it consistent (SQLite's guarantee). Boxes whose VMM died are corrected to
 * "stopped" by the reader (runtime.c), not here. */
#ifndef RT_STATE_H
#define RT_STATE_H

#include "common/error.h"

#include <sqlite3.h>
#include <stdint.h>

#define BOX_ID_LEN 32 /* hex characters */

struct box_record {
    char id[BOX_ID_LEN + 1];
    char *name;
    char *state;        /* configured starting running stopping stopped unknown */
    char *image;        /* reference or rootfs path, for display */
    char *options;      /* JSON (options.c) */
    int64_t created;    /* unix seconds */
    int64_t pid;        /* per-box process, 0 if none */
    int64_t pid_start;  /* its start time (/proc/<pid>/stat field 22), guards PID reuse */
    char *engine;       /* engine that ran it last */
    char *runtime_info; /* JSON written by the per-box process: ports chosen, timings */
};

int state_open(sqlite3 **out, const char *path, struct bl_error *err);
void state_close(sqlite3 *db);
void box_record_clear(struct box_record *r);

/* Inserts; BOXLITE_ERR_EXISTS if the name is taken. */
int state_box_insert(sqlite3 *db, const struct box_record *r, struct bl_error *err);
/* By exact id, exact name, or unique id prefix (at least 4 characters). */
int state_box_find(sqlite3 *db, const char *key, struct box_record *out, struct bl_error *err);
/* Calls fn for each box (optionally only in `state`), in creation order. */
int state_box_each(sqlite3 *db, const char *state,
                   int (*fn)(void *ctx, const struct box_record *r), void *ctx,
                   struct bl_error *err);
/* Sets state and process; only if the current state is `expect` when expect != NULL
 * (returns BOXLITE_ERR_STATE otherwise), so two processes cannot both start a box. */
int state_box_set_state(sqlite3 *db, const char *id, const char *expect, const char *state,
                        int64_t pid, int64_t pid_start, struct bl_error *err);
int state_box_set_info(sqlite3 *db, const char *id, const char *engine,
                       const char *runtime_info, struct bl_error *err);
int state_box_delete(sqlite3 *db, const char *id, struct bl_error *err);

int state_counter_add(sqlite3 *db, const char *name, int64_t delta, struct bl_error *err);
int64_t state_counter_get(sqlite3 *db, const char *name);

#endif
