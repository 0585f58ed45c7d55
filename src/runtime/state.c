// SPDX-License-Identifier: Apache-2.0
/* SQLite state: see state.h. */
#include "runtime/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS boxes ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  state TEXT NOT NULL,"
    "  image TEXT,"
    "  options TEXT NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  pid INTEGER NOT NULL DEFAULT 0,"
    "  pid_start INTEGER NOT NULL DEFAULT 0,"
    "  engine TEXT,"
    "  runtime_info TEXT,"
    "  seq INTEGER"
    ");"
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);";

/* Columns added after the first release: added to an older database when it is opened
 * (ALTER TABLE ADD COLUMN is cheap and keeps every row). */
static const struct { const char *name, *decl; } added_columns[] = {
    { "owner_pid", "INTEGER NOT NULL DEFAULT 0" },
    { "owner_start", "INTEGER NOT NULL DEFAULT 0" },
    { "stop_reason", "TEXT" },
    { "stop_abnormal", "INTEGER NOT NULL DEFAULT 0" },
    { "exit_code", "INTEGER" },
    { "oom_killed", "INTEGER NOT NULL DEFAULT 0" },
};

static int migrate(sqlite3 *db, char **msg)
{
    for (size_t i = 0; i < sizeof added_columns / sizeof added_columns[0]; i++) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('boxes') WHERE name = ?",
                                    -1, &st, NULL);
        if (rc != SQLITE_OK)
            return rc;
        sqlite3_bind_text(st, 1, added_columns[i].name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW)
            continue;
        if (rc != SQLITE_DONE)
            return rc;
        char sql[256];
        snprintf(sql, sizeof sql, "ALTER TABLE boxes ADD COLUMN %s %s", added_columns[i].name,
                 added_columns[i].decl);
        rc = sqlite3_exec(db, sql, NULL, NULL, msg);
        /* another process may have added it between our look and our change */
        if (rc != SQLITE_OK && !(*msg && strstr(*msg, "duplicate column")))
            return rc;
        sqlite3_free(*msg);
        *msg = NULL;
    }
    return SQLITE_OK;
}

static int db_err(struct bl_error *err, sqlite3 *db, const char *what)
{
    int code = BOXLITE_ERR_IO;
    int ext = sqlite3_extended_errcode(db);
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        code = BOXLITE_ERR_EXISTS;
    else if ((ext & 0xff) == SQLITE_BUSY)
        code = BOXLITE_ERR_TIMEOUT;
    return bl_err(err, code, "state database: %s: %s", what, sqlite3_errmsg(db));
}

int state_open(sqlite3 **out, const char *path, struct bl_error *err)
{
    sqlite3 *db = NULL;
    *out = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        int r = bl_err(err, BOXLITE_ERR_IO, "state database %s: %s", path,
                       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return r;
    }
    /* It holds the boxes' options (their environment, perhaps secrets): ours alone. The
     * WAL and shared-memory files SQLite makes take the database's mode. */
    if (chmod(path, 0600) != 0) {
        int r = bl_errno(err, errno, "state database %s", path);
        sqlite3_close(db);
        return r;
    }
    /* Other processes may hold the write lock briefly; wait rather than fail. */
    sqlite3_busy_timeout(db, 10000);
    char *msg = NULL;
    /* Switching a new database to WAL takes an exclusive lock for which SQLite does not
     * always call the busy handler: when several processes open a new home at once, retry
     * for as long as the busy timeout would have waited. */
    for (int tries = 0;; tries++) {
        sqlite3_free(msg);
        msg = NULL;
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                          &msg);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, schema, NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            rc = migrate(db, &msg);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            break;
        if (tries == 1000)
            break;
        usleep(10000);
    }
    if (rc != SQLITE_OK) {
        int r = bl_err(err, BOXLITE_ERR_IO, "state database %s: %s", path,
                       msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(db);
        return r;
    }
    *out = db;
    return 0;
}

void state_close(sqlite3 *db) { sqlite3_close(db); }

int state_check(sqlite3 *db, struct bl_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return db_err(err, db, "integrity check");
    int ret = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (!t || strcmp(t, "ok") != 0)
            ret = bl_err(err, BOXLITE_ERR_IO, "state database: integrity check: %s",
                         t ? t : "(no answer)");
    } else {
        ret = db_err(err, db, "integrity check");
    }
    sqlite3_finalize(st);
    return ret;
}

static const char *const state_names[] = {
    [BOX_STATE_UNKNOWN] = "unknown",   [BOX_STATE_CONFIGURED] = "configured",
    [BOX_STATE_STARTING] = "starting", [BOX_STATE_RUNNING] = "running",
    [BOX_STATE_STOPPING] = "stopping", [BOX_STATE_STOPPED] = "stopped",
    [BOX_STATE_PAUSED] = "paused",
};

const char *box_state_name(enum box_state s)
{
    return s >= 0 && (size_t)s < sizeof state_names / sizeof state_names[0] ? state_names[s]
                                                                            : "unknown";
}

bool box_state_parse(const char *name, enum box_state *out)
{
    *out = BOX_STATE_UNKNOWN;
    for (size_t i = 0; name && i < sizeof state_names / sizeof state_names[0]; i++)
        if (!strcmp(name, state_names[i])) {
            *out = (enum box_state)i;
            return true;
        }
    return false;
}

bool box_state_active(enum box_state s)
{
    return s == BOX_STATE_STARTING || s == BOX_STATE_RUNNING || s == BOX_STATE_STOPPING;
}

/* The name to bind for an `expect` argument: NULL (SQL NULL: any) for BOX_STATE_ANY. */
static const char *expect_name(enum box_state s)
{
    return s == BOX_STATE_ANY ? NULL : box_state_name(s);
}

void box_record_clear(struct box_record *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->image);
    free(r->options);
    free(r->engine);
    free(r->runtime_info);
    free(r->stop_reason);
    memset(r, 0, sizeof *r);
}

int state_box_insert(sqlite3 *db, const struct box_record *r, bool *id_clash,
                     struct bl_error *err)
{
    *id_clash = false;
    char *msg = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
        sqlite3_free(msg);
        return db_err(err, db, "insert box");
    }
    sqlite3_stmt *st = NULL;
    int ret = 0;
    /* Lookups take an exact id or name, or an id prefix of 4 characters or more: a name
     * that is (a prefix of) another box's id, or a new id that starts with another box's
     * name, would let a lookup find the wrong box. */
    int rc = sqlite3_prepare_v2(db,
        "SELECT (SELECT count(*) FROM boxes WHERE id = ?2 OR "
        "          (length(?2) >= 4 AND substr(id, 1, length(?2)) = ?2)),"
        "       (SELECT count(*) FROM boxes WHERE name = ?1 OR "
        "          (length(name) >= 4 AND substr(?1, 1, length(name)) = name))",
        -1, &st, NULL);
    if (rc != SQLITE_OK) {
        ret = db_err(err, db, "insert box");
        goto done;
    }
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        ret = db_err(err, db, "insert box");
        goto done;
    }
    if (sqlite3_column_int(st, 0) > 0) {
        ret = bl_err(err, BOXLITE_ERR_EXISTS,
                     "the name \"%s\" is (the start of) another box's id", r->name);
        goto done;
    }
    if (sqlite3_column_int(st, 1) > 0) {
        *id_clash = true;
        ret = bl_err(err, BOXLITE_ERR_EXISTS, "box id %.12s clashes with a name", r->id);
        goto done;
    }
    sqlite3_finalize(st);
    st = NULL;
    rc = sqlite3_prepare_v2(db,
        "INSERT INTO boxes (id, name, state, image, options, created, seq, owner_pid, owner_start) "
        "VALUES (?, ?, ?, ?, ?, ?, (SELECT IFNULL(MAX(seq), 0) + 1 FROM boxes), ?, ?)", -1, &st,
        NULL);
    if (rc != SQLITE_OK) {
        ret = db_err(err, db, "insert box");
        goto done;
    }
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, box_state_name(r->state), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->image, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->options, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->created);
    sqlite3_bind_int64(st, 7, r->owner_pid);
    sqlite3_bind_int64(st, 8, r->owner_start);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE)
            ret = bl_err(err, BOXLITE_ERR_EXISTS, "a box named \"%s\" already exists", r->name);
        else
            ret = db_err(err, db, "insert box");
    }
done:
    sqlite3_finalize(st);
    if (sqlite3_exec(db, ret ? "ROLLBACK" : "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        sqlite3_free(msg);
        if (!ret)
            ret = db_err(err, db, "insert box");
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return ret;
}

static char *col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

static void read_row(sqlite3_stmt *st, struct box_record *r)
{
    memset(r, 0, sizeof *r);
    const unsigned char *id = sqlite3_column_text(st, 0);
    snprintf(r->id, sizeof r->id, "%s", id ? (const char *)id : "");
    r->name = col_str(st, 1);
    box_state_parse((const char *)sqlite3_column_text(st, 2), &r->state);
    r->image = col_str(st, 3);
    r->options = col_str(st, 4);
    r->created = sqlite3_column_int64(st, 5);
    r->pid = sqlite3_column_int64(st, 6);
    r->pid_start = sqlite3_column_int64(st, 7);
    r->engine = col_str(st, 8);
    r->runtime_info = col_str(st, 9);
    r->owner_pid = sqlite3_column_int64(st, 10);
    r->owner_start = sqlite3_column_int64(st, 11);
    r->stop_reason = col_str(st, 12);
    r->stop_abnormal = sqlite3_column_int(st, 13) != 0;
    r->has_exit_code = sqlite3_column_type(st, 14) != SQLITE_NULL;
    r->exit_code = sqlite3_column_int64(st, 14);
    r->oom_killed = sqlite3_column_int(st, 15) != 0;
}

#define BOX_COLUMNS "id, name, state, image, options, created, pid, pid_start, engine, " \
                    "runtime_info, owner_pid, owner_start, stop_reason, stop_abnormal, " \
                    "exit_code, oom_killed"
#define BOX_NCOLUMNS 16

int state_box_find(sqlite3 *db, const char *key, struct box_record *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!key || !*key)
        return bl_err(err, BOXLITE_ERR_INVALID, "no box id or name given");
    sqlite3_stmt *st = NULL;
    /* Exact id or name first, then id prefix; a prefix matching two boxes is ambiguous. */
    int rc = sqlite3_prepare_v2(db,
        "SELECT " BOX_COLUMNS ", 0 AS rank FROM boxes WHERE id = ?1 OR name = ?1 "
        "UNION ALL SELECT " BOX_COLUMNS ", 1 FROM boxes "
        "WHERE length(?1) >= 4 AND substr(id, 1, length(?1)) = ?1 AND id != ?1 "
        "ORDER BY rank LIMIT 2", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_err(err, db, "find box");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int found = 0, rank0 = -1, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int rank = sqlite3_column_int(st, BOX_NCOLUMNS);
        if (found == 0) {
            read_row(st, out);
            rank0 = rank;
        } else if (rank0 == 1) {
            box_record_clear(out);
            ret = bl_err(err, BOXLITE_ERR_INVALID, "box id prefix \"%s\" is ambiguous", key);
            break;
        }
        found++;
    }
    if (!ret && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = db_err(err, db, "find box");
    else if (!ret && !found)
        ret = bl_err(err, BOXLITE_ERR_NOT_FOUND, "no box \"%s\"", key);
    sqlite3_finalize(st);
    return ret;
}

int state_box_each(sqlite3 *db, enum box_state state,
                   int (*fn)(void *ctx, const struct box_record *r), void *ctx,
                   struct bl_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
        "SELECT " BOX_COLUMNS " FROM boxes WHERE ?1 IS NULL OR state = ?1 ORDER BY seq", -1,
        &st, NULL);
    if (rc != SQLITE_OK)
        return db_err(err, db, "list boxes");
    sqlite3_bind_text(st, 1, expect_name(state), -1, SQLITE_STATIC);
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct box_record r;
        read_row(st, &r);
        ret = fn(ctx, &r);
        box_record_clear(&r);
        if (ret)
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_err(err, db, "list boxes");
    sqlite3_finalize(st);
    return ret;
}

int state_box_set_state(sqlite3 *db, const char *id, enum box_state expect, enum box_state state,
                        int64_t pid, int64_t pid_start, struct bl_error *err)
{
    sqlite3_stmt *st = NULL;
    /* Starting again (?6) forgets why it stopped last time. */
    int rc = sqlite3_prepare_v2(db,
        "UPDATE boxes SET state = ?2, pid = ?3, pid_start = ?4, "
        "  stop_reason = CASE WHEN ?6 THEN NULL ELSE stop_reason END, "
        "  stop_abnormal = CASE WHEN ?6 THEN 0 ELSE stop_abnormal END, "
        "  exit_code = CASE WHEN ?6 THEN NULL ELSE exit_code END, "
        "  oom_killed = CASE WHEN ?6 THEN 0 ELSE oom_killed END "
        "WHERE id = ?1 AND (?5 IS NULL OR state = ?5)", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_err(err, db, "update box");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, box_state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, pid);
    sqlite3_bind_int64(st, 4, pid_start);
    sqlite3_bind_text(st, 5, expect_name(expect), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, state == BOX_STATE_STARTING);
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc != SQLITE_DONE)
        ret = db_err(err, db, "update box");
    else if (sqlite3_changes(db) == 0)
        ret = expect != BOX_STATE_ANY
                  ? bl_err(err, BOXLITE_ERR_STATE, "box %.12s is no longer %s", id,
                           box_state_name(expect))
                  : bl_err(err, BOXLITE_ERR_NOT_FOUND, "no box %.12s", id);
    sqlite3_finalize(st);
    return ret;
}

int state_box_set_stopped(sqlite3 *db, const char *id, enum box_state expect,
                          const struct box_stop *why, struct bl_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
        "UPDATE boxes SET state = ?7, pid = 0, pid_start = 0, stop_reason = ?2, "
        "  stop_abnormal = ?3, exit_code = ?4, oom_killed = ?5 "
        "WHERE id = ?1 AND (?6 IS NULL OR state = ?6)", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_err(err, db, "update box");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, why && why->reason ? why->reason : "stopped", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, why && why->abnormal);
    if (why && why->has_exit_code)
        sqlite3_bind_int64(st, 4, why->exit_code);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int(st, 5, why && why->oom_killed);
    sqlite3_bind_text(st, 6, expect_name(expect), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, box_state_name(BOX_STATE_STOPPED), -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc != SQLITE_DONE)
        ret = db_err(err, db, "update box");
    else if (sqlite3_changes(db) == 0)
        ret = expect != BOX_STATE_ANY
                  ? bl_err(err, BOXLITE_ERR_STATE, "box %.12s is no longer %s", id,
                           box_state_name(expect))
                  : bl_err(err, BOXLITE_ERR_NOT_FOUND, "no box %.12s", id);
    sqlite3_finalize(st);
    return ret;
}

int state_box_set_owner(sqlite3 *db, const char *id, int64_t pid, int64_t pid_start,
                        struct bl_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "UPDATE boxes SET owner_pid = ?2, owner_start = ?3 WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(err, db, "update box");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, pid);
    sqlite3_bind_int64(st, 3, pid_start);
    int ret = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(err, db, "update box");
    sqlite3_finalize(st);
    return ret;
}

int state_box_set_info(sqlite3 *db, const char *id, const char *engine,
                       const char *runtime_info, struct bl_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "UPDATE boxes SET engine = ?2, runtime_info = ?3 WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(err, db, "update box");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, engine, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, runtime_info, -1, SQLITE_STATIC);
    int ret = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(err, db, "update box");
    sqlite3_finalize(st);
    return ret;
}

int state_box_rename(sqlite3 *db, const char *id, const char *name, struct bl_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "UPDATE boxes SET name = ?2 WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return db_err(err, db, "rename box");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int ret = 0;
    if (sqlite3_step(st) != SQLITE_DONE) {
        if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE)
            ret = bl_err(err, BOXLITE_ERR_EXISTS, "a box named \"%s\" already exists", name);
        else
            ret = db_err(err, db, "rename box");
    } else if (sqlite3_changes(db) == 0) {
        ret = bl_err(err, BOXLITE_ERR_NOT_FOUND, "no box %.12s", id);
    }
    sqlite3_finalize(st);
    return ret;
}

int state_box_delete(sqlite3 *db, const char *id, struct bl_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "DELETE FROM boxes WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return db_err(err, db, "delete box");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int ret = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(err, db, "delete box");
    if (!ret && sqlite3_changes(db) == 0)
        ret = bl_err(err, BOXLITE_ERR_NOT_FOUND, "no box %.12s", id);
    sqlite3_finalize(st);
    return ret;
}

int state_counter_add(sqlite3 *db, const char *name, int64_t delta, struct bl_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
            "INSERT INTO counters (name, value) VALUES (?1, ?2) "
            "ON CONFLICT(name) DO UPDATE SET value = value + ?2", -1, &st, NULL) != SQLITE_OK)
        return db_err(err, db, "counter");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, delta);
    int ret = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(err, db, "counter");
    sqlite3_finalize(st);
    return ret;
}

int64_t state_counter_get(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM counters WHERE name = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}
