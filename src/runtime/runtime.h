// SPDX-License-Identifier: Apache-2.0
/* The runtime and box handles behind include/boxlite.h. */
#ifndef RT_RUNTIME_H
#define RT_RUNTIME_H

#include "boxlite.h"
#include "image/image.h"
#include "proto/client.h"
#include "runtime/options.h"
#include "runtime/settings.h"
#include "runtime/state.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/types.h>

struct boxlite_runtime {
    char *home;           /* absolute */
    sqlite3 *db;
    pthread_mutex_t lock; /* guards the fields below */
    bool images_open;
    struct image_store images;
    char *registries_json;  /* boxlite_runtime_set_registries; NULL: <home>/registries.json */
    /* Write ends of the lifelines of non-detached boxes this runtime started: they close
     * when the runtime is closed or the process ends, and those boxes stop. */
    int *lifelines;
    size_t nlifelines;
    char *notices; /* lines for the user, handed out by boxlite_runtime_notices */
    struct rt_settings settings; /* boxlite_runtime_open_with's options (settings.h) */
};

struct boxlite_box {
    boxlite_runtime *rt;
    char id[BOX_ID_LEN + 1];
    char *name;
    char *dir;                  /* <home>/boxes/<id> */
    struct boxlite_options opts;
    pthread_mutex_t lock;
    pid_t child;                /* per-box process we started, or 0 */
    struct proto_client *conn;  /* to the box socket, opened on first use */
    bool resuming;              /* this start resumes a paused box (pause.c) */
    uint64_t resume_restarts;   /* its main process's restarts before the pause (exit.json) */
    enum proto_pause_shares resume_shares; /* what that pause did with the volumes (exit.json) */
};

/* Path of the box's socket (see lifecycle.c). */
void rt_box_socket(const boxlite_box *b, char *out, size_t len);
/* The same for a box known by its folder and id (lifecycle.c). */
void rt_box_socket_path(const char *box_dir, const char *id, char *out, size_t len);
/* STATUS from a running box's per-box process, on a connection of its own (src/proto/
 * control.h); st->health is the caller's to free (proto_status_free). */
int rt_box_status(const char *box_dir, const char *id, struct proto_status *st,
                  struct bl_error *err);
/* The image store of the runtime's home, opened on first use. */
int rt_images(boxlite_runtime *rt, struct image_store **out, struct bl_error *err);
/* Starts the box if it is not running (idempotent); used by start and by the first exec.
 * Unless explicit (boxlite_box_start), a box that stopped by itself is not started again:
 * BOXLITE_ERR_STATE with the reason. */
int rt_box_ensure_running(boxlite_box *b, bool explicit_start, struct bl_error *err);
/* Makes the box's disk (overlay) over its image's base if it has none yet (lifecycle.c). */
int rt_box_prepare_disk(boxlite_box *b, const char *overlay, struct bl_error *err);
/* The box's restart policy applied to a VM that died (lifecycle.c): a detached box with a
 * policy, stopped by itself without its main process's status (the VM ended under it), is
 * started again unless on-failure's count is spent or the back-off since the last such
 * restart has not passed. 1 when it was restarted (why: the reason it had stopped), 0 when
 * not, <0 when the start failed. */
int rt_box_restart_if_died(boxlite_box *b, char *why, size_t why_len, struct bl_error *err);
/* Such restarts since the box was last started or stopped on request. */
int64_t rt_vm_restarts(const boxlite_runtime *rt, const char *id);
void rt_vm_restarts_reset(boxlite_runtime *rt, const char *id);
/* The connection to the running box's agent (through its per-box process). */
int rt_box_conn(boxlite_box *b, struct proto_client **out, struct bl_error *err);
/* A new connection to the socket of a box that is running (never started for it): what the
 * caller asks of it (`what`) is named in the error when it is not; rec filled, the caller
 * clears it. */
int rt_box_conn_running(boxlite_box *b, const char *what, struct proto_client **c,
                        struct box_record *rec, struct bl_error *err);

/* A request for a process in the box on the box's defaults: env (a PATH, the image's, the
 * box's, then extra_env), working directory and user (given, else the box's, else the
 * image's). argv, tty and timeout are the caller's to fill. rt_request_free releases what
 * this allocated (not argv). */
int rt_box_request(boxlite_box *b, const struct image_config *ic, const char *const *extra_env,
                   bool tty, const char *cwd, const char *user, struct proto_exec_req *req,
                   struct bl_error *err);
void rt_request_free(struct proto_exec_req *req);
/* The box's image configuration (zeroed when it has none or it cannot be read). */
void rt_box_image_config(boxlite_box *b, struct image_config *ic);

/* <home>/boxes/<id> */
int rt_box_dir(const boxlite_runtime *rt, const char *id, char **out, struct bl_error *err);
/* Reads a record and corrects it: a box whose per-box process is gone is "stopped". */
int rt_box_lookup(boxlite_runtime *rt, const char *key, struct box_record *rec,
                  struct bl_error *err);
/* Whether pid is still the process that started at pid_start. */
bool rt_process_alive(int64_t pid, int64_t pid_start);
int64_t rt_process_start_time(int64_t pid);
/* Stops the box's per-box process (SIGTERM, then SIGKILL after timeout_ms; 0 = at once) and
 * marks it stopped (why: NULL = on request); removes it if its options say auto_remove
 * and allow_auto_remove. */
int rt_box_stop_record(boxlite_runtime *rt, struct box_record *rec, int timeout_ms,
                       bool allow_auto_remove, const struct box_stop *why, struct bl_error *err);
/* Removes the box's cgroups (made by its per-box process's jail) once it is gone. */
void rt_box_cgroups_remove(const char *id);
/* Adds a line for boxlite_runtime_notices. */
void rt_notice(boxlite_runtime *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* json_dumps (compact) into *out and json_decref(j); -BOXLITE_ERR_NOMEM (boxes.c). */
int rt_dump_json(json_t *j, char **out);
/* Memory snapshots (pause.c): whether the folder holds a paused box's saved state; forget
 * every memory file (a cold start); vmm.json's "memory" object; after a resume, a fork's
 * identity sent to its agent. */
bool rt_memory_saved(const char *dir);
void rt_memory_forget(const char *dir);
json_t *rt_memory_config(const boxlite_box *b, bool resume);
/* The main process's restarts a paused box's end record counted (0 when none). */
uint64_t rt_memory_saved_restarts(const char *dir);
/* b->resume_restarts and b->resume_shares from the end record of the pause a resuming box
 * goes on from (0 and UNSAID when it is not resuming or the record says nothing). */
void rt_memory_read_pause(boxlite_box *b);
/* After a resume: a fork's identity, and the volumes mounted again unless the pause kept
 * them (b->resume_shares). */
int rt_memory_after_resume(boxlite_box *b, struct proto_client *c, int timeout_ms,
                           struct bl_error *err);
/* A fork's new MAC (its identity) into vmm.json's "network" object, when it resumes. */
void rt_memory_fork_network(const boxlite_box *b, json_t *network);
/* Deletes the record and the box's folder. */
int rt_box_destroy(boxlite_runtime *rt, const char *id, struct bl_error *err);

/* The log reader on a path (logs.c; the fuzz target reads hostile files through it):
 * <path>, <path>.1 ... <path>.<files-1>, options as boxlite_box_log_open_with's. */
int rt_log_open_path(const char *path, int files, const char *options_json, boxlite_log **out);
/* Docker's --since/--until forms (boxlite_box_log_open_with) as ns since the epoch. */
int rt_log_time_parse(const char *s, int64_t now_ns, int64_t *out, struct bl_error *err);

#endif
