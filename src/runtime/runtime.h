/* The runtime and box handles behind include/boxlite.h. */
#ifndef RT_RUNTIME_H
#define RT_RUNTIME_H

#include "boxlite.h"
#include "runtime/options.h"
#include "runtime/state.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/types.h>

struct boxlite_runtime {
    char *home;           /* absolute */
    sqlite3 *db;
    pthread_mutex_t lock; /* guards the fields below */
};

struct boxlite_box {
    boxlite_runtime *rt;
    char id[BOX_ID_LEN + 1];
    char *name;
    char *dir;                  /* <home>/boxes/<id> */
    struct boxlite_options opts;
    pthread_mutex_t lock;
    pid_t child;                /* per-box process we started, or 0 */
    int lifeline_fd;            /* write end held while we own a non-detached box, or -1 */
};

/* <home>/boxes/<id> */
int rt_box_dir(const boxlite_runtime *rt, const char *id, char **out, struct bl_error *err);
/* Reads a record and corrects it: a box whose per-box process is gone is "stopped". */
int rt_box_lookup(boxlite_runtime *rt, const char *key, struct box_record *rec,
                  struct bl_error *err);
/* Whether pid is still the process that started at pid_start. */
bool rt_process_alive(int64_t pid, int64_t pid_start);
int64_t rt_process_start_time(int64_t pid);
/* Stops the box's per-box process (SIGTERM, then SIGKILL after timeout_ms; 0 = at once) and
 * marks it stopped; removes it if its options say auto_remove and allow_auto_remove. */
int rt_box_stop_record(boxlite_runtime *rt, struct box_record *rec, int timeout_ms,
                       bool allow_auto_remove, struct bl_error *err);
/* Deletes the record and the box's folder. */
int rt_box_destroy(boxlite_runtime *rt, const char *id, struct bl_error *err);

#endif
