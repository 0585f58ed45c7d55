// SPDX-License-Identifier: Apache-2.0
/* Box records: create, get, lookup (a record whose per-box process is gone is corrected
 * to stopped), info, list, remove. Starting and stopping are in lifecycle.c. */
#include "runtime/runtime.h"

#include "common/boxpath.h"
#include "common/cleanup.h"
#include "common/hostarch.h"
#include "common/io.h"
#include "common/procstat.h"
#include "runtime/api_error.h"
#include "runtime/boxfiles.h"
#include "runtime/spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int rt_box_dir(const boxlite_runtime *rt, const char *id, char **out, struct bl_error *err)
{
    char dir[PATH_MAX];
    if (box_dir_path(dir, sizeof dir, rt->home, id) < 0)
        return bl_err(err, BOXLITE_ERR_INVALID, "path too long: %.100s/boxes/%s", rt->home, id);
    if (!(*out = strdup(dir)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    return 0;
}

/* The record says the box runs (or starts, or stops): is that still true? If not, why it
 * ended, as its per-box process told (boxfiles) or as far as we can tell. */
static bool still_active(const struct box_record *rec, struct box_stop *why, char *buf,
                         size_t len)
{
    memset(why, 0, sizeof *why);
    why->reason = buf;
    why->abnormal = true;
    if (rec->state == BOX_STATE_STARTING) {
        /* The starter drives a start: while it lives, the box is starting. (Rows older than
         * the owner column named the starter as pid.) */
        int64_t pid = rec->owner_pid > 0 ? rec->owner_pid : rec->pid;
        int64_t start = rec->owner_pid > 0 ? rec->owner_start : rec->pid_start;
        if (rt_process_alive(pid, start))
            return true;
        snprintf(buf, len, "the start was interrupted: the process starting it exited");
        return false;
    }
    return rt_process_alive(rec->pid, rec->pid_start);
}

int rt_box_lookup(boxlite_runtime *rt, const char *key, struct box_record *rec,
                  struct bl_error *err)
{
    int r = state_box_find(rt->db, key, rec, err);
    if (r)
        return r;
    bool active = box_state_active(rec->state);
    char buf[600];
    struct box_stop why;
    if (!active || still_active(rec, &why, buf, sizeof buf))
        return 0;
    rt_box_cgroups_remove(rec->id); /* made by its jail; the process is gone */
    /* Its per-box process died, said why or not, or its starter did: the box is stopped.
     * A per-box process left behind by a dead starter is ended (it was never recorded as
     * running, nobody else would). */
    if (rec->state == BOX_STATE_STARTING && rt_process_alive(rec->pid, rec->pid_start))
        kill((pid_t)rec->pid, SIGKILL);
    cleanup_free char *dir = NULL;
    struct box_end_info end = { 0 };
    if (rec->state != BOX_STATE_STARTING && rt_box_dir(rt, rec->id, &dir, NULL) == 0) {
        boxfiles_end(dir, &end);
        if (end.known) {
            snprintf(buf, sizeof buf, "%s", end.reason);
            why.abnormal = !end.requested && rec->state != BOX_STATE_STOPPING;
            why.has_exit_code = end.has_exit_code;
            why.exit_code = end.exit_code;
            why.oom_killed = end.oom_killed;
        } else if (rec->state == BOX_STATE_STOPPING) {
            snprintf(buf, sizeof buf, "stopped");
            why.abnormal = false;
        } else {
            char last[300];
            boxfiles_vmm_last_line(dir, last, sizeof last);
            snprintf(buf, sizeof buf, "the box's VM process (pid %lld) died without a word%s%s",
                     (long long)rec->pid, last[0] ? "; its log ends: " : "", last);
        }
    }
    /* A folder holding a saved state is a paused box: its process ended after saving
     * (auto-pause, or a pause whose library died), or a resume was cut short before the
     * state was loaded (the per-box process deletes it before the guest runs again). */
    if (dir || rt_box_dir(rt, rec->id, &dir, NULL) == 0) {
        if (rt_memory_saved(dir) &&
            state_box_set_state(rt->db, rec->id, rec->state, BOX_STATE_PAUSED, 0, 0, NULL) == 0) {
            rec->state = BOX_STATE_PAUSED;
            rec->pid = 0;
            return 0;
        }
    }
    if (state_box_set_stopped(rt->db, rec->id, rec->state, &why, NULL) == 0) {
        rec->state = BOX_STATE_STOPPED;
        rec->pid = 0;
        free(rec->stop_reason);
        rec->stop_reason = strdup(why.reason);
        rec->stop_abnormal = why.abnormal;
        rec->has_exit_code = why.has_exit_code;
        rec->exit_code = why.exit_code;
        rec->oom_killed = why.oom_killed;
    }
    return 0;
}

static int new_box_id(char id[BOX_ID_LEN + 1], struct bl_error *err)
{
    unsigned char raw[BOX_ID_LEN / 2];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return bl_errno(err, errno, "getrandom");
    for (size_t i = 0; i < sizeof raw; i++)
        sprintf(id + 2 * i, "%02x", raw[i]);
    return 0;
}

static int box_from_record(boxlite_runtime *rt, const struct box_record *rec,
                           boxlite_box **out, struct bl_error *err)
{
    boxlite_box *b = calloc(1, sizeof *b);
    if (!b)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    b->rt = rt;
    pthread_mutex_init(&b->lock, NULL);
    memcpy(b->id, rec->id, sizeof b->id);
    opts_init(&b->opts);
    int r = 0;
    if (!(b->name = strdup(rec->name ? rec->name : "")))
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    if (!r)
        r = rt_box_dir(rt, rec->id, &b->dir, err);
    if (!r)
        r = opts_from_json(&b->opts, rec->options, err);
    if (r) {
        boxlite_box_free(b);
        return r;
    }
    *out = b;
    return 0;
}

BOXLITE_API int boxlite_box_create(boxlite_runtime *rt, const boxlite_options *o,
                                   boxlite_box **out)
{
    API_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    API_CHECK_ARG(rt, "runtime is NULL");
    API_CHECK_ARG(o, "options are NULL");
    struct bl_error err = {0};
    int r = opts_validate_for_create(o, &err);
    if (r)
        return api_return(bl_err_prefix(&err, "create box"), &err);

    struct box_record rec = {0};
    char autoname[32];
    cleanup_free char *json = opts_to_json(o);
    cleanup_free char *dir = NULL;
    if (!json)
        return api_fail(BOXLITE_ERR_NOMEM, "create box: out of memory");
    /* An id that starts with another box's name is drawn again (state_box_insert). */
    for (int attempt = 0;; attempt++) {
        if ((r = new_box_id(rec.id, &err)))
            return api_return(r, &err);
        snprintf(autoname, sizeof autoname, "box-%.12s", rec.id);
        rec.name = o->name ? o->name : autoname;
        rec.state = BOX_STATE_CONFIGURED;
        rec.image = o->image ? o->image : o->rootfs_path;
        rec.created = time(NULL);
        rec.options = json;
        /* Its life is bound to this process until another starts it. */
        rec.owner_pid = getpid();
        rec.owner_start = rt_process_start_time(getpid());
        free(dir);
        dir = NULL;
        if ((r = rt_box_dir(rt, rec.id, &dir, &err)))
            return api_return(r, &err);
        /* The directory first: a crash between the two leaves an orphan folder (removed by
         * the next gc), never a record without its folder. */
        if (mkdir(dir, 0700) != 0)
            return api_return(bl_errno(&err, errno, "create box: mkdir %s", dir), &err);
        bool clash = false;
        r = state_box_insert(rt->db, &rec, &clash, &err);
        if (!r)
            break;
        rmdir(dir);
        if (!clash || attempt == 8)
            return api_return(bl_err_prefix(&err, "create box"), &err);
        bl_err_clear(&err);
    }
    state_counter_add(rt->db, "boxes_created", 1, NULL);
    boxlite_box *b = NULL;
    if ((r = box_from_record(rt, &rec, &b, &err)))
        return api_return(r, &err);
    *out = b;
    return api_return(0, NULL);
}

BOXLITE_API int boxlite_box_get(boxlite_runtime *rt, const char *key, boxlite_box **out)
{
    API_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    API_CHECK_ARG(rt, "runtime is NULL");
    API_CHECK_ARG(key, "id or name is NULL");
    struct bl_error err = {0};
    struct box_record rec;
    int r = rt_box_lookup(rt, key, &rec, &err);
    if (!r)
        r = box_from_record(rt, &rec, out, &err);
    box_record_clear(&rec);
    return api_return(r, &err);
}

BOXLITE_API void boxlite_box_free(boxlite_box *b)
{
    if (!b)
        return;
    proto_client_close(b->conn);
    opts_clear(&b->opts);
    pthread_mutex_destroy(&b->lock);
    free(b->name);
    free(b->dir);
    free(b);
}

BOXLITE_API const char *boxlite_box_id(const boxlite_box *b) { return b ? b->id : NULL; }
BOXLITE_API const char *boxlite_box_name(const boxlite_box *b) { return b ? b->name : NULL; }

static json_t *record_json(const boxlite_runtime *rt, const struct box_record *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "name", json_string(r->name ? r->name : ""));
    json_object_set_new(o, "state", json_string(box_state_name(r->state)));
    json_object_set_new(o, "image", r->image ? json_string(r->image) : json_null());
    json_object_set_new(o, "created", json_integer(r->created));
    json_object_set_new(o, "pid", json_integer(r->pid));
    json_object_set_new(o, "engine", r->engine ? json_string(r->engine) : json_null());
    if (r->stop_reason && r->state == BOX_STATE_STOPPED) {
        json_object_set_new(o, "stop_reason", json_string(r->stop_reason));
        json_object_set_new(o, "stopped_by_itself", json_boolean(r->stop_abnormal));
        json_object_set_new(o, "exit_code", r->has_exit_code ? json_integer(r->exit_code)
                                                             : json_null());
        json_object_set_new(o, "oom_killed", json_boolean(r->oom_killed));
    }
    json_t *opts = r->options ? json_loads(r->options, 0, NULL) : NULL;
    if (opts) {
        json_object_set(o, "cpus", json_object_get(opts, "cpus"));
        json_object_set(o, "memory_mib", json_object_get(opts, "memory_mib"));
        json_object_set(o, "ports", json_object_get(opts, "ports"));
        json_object_set(o, "network", json_object_get(opts, "network"));
        json_object_set(o, "allow_net", json_object_get(opts, "allow_net"));
        json_object_set(o, "deny_net", json_object_get(opts, "deny_net"));
        json_object_set(o, "allow_host", json_object_get(opts, "allow_host"));
        /* the box's platform (issue 18): its own, else the host's */
        const char *plat = json_string_value(json_object_get(opts, "platform"));
        char host[64];
        snprintf(host, sizeof host, "linux/%s", host_oci_arch());
        json_object_set_new(o, "platform", json_string(plat ? plat : host));
        json_object_set(o, "auto_remove", json_object_get(opts, "auto_remove"));
        json_object_set(o, "detach", json_object_get(opts, "detach"));
        /* Docker-like settings (issue 19); older records lack them */
        json_t *labels = json_object_get(opts, "labels");
        json_object_set_new(o, "labels", labels ? json_incref(labels) : json_object());
        json_object_set(o, "hostname", json_object_get(opts, "hostname"));
        json_object_set(o, "read_only", json_object_get(opts, "read_only"));
        json_object_set(o, "restart", json_object_get(opts, "restart"));
        json_object_set(o, "restart_max", json_object_get(opts, "restart_max"));
        json_t *si = json_object_get(opts, "stdin_open");
        json_object_set_new(o, "stdin_open", json_boolean(json_is_true(si)));
        json_object_set_new(o, "tty", json_boolean(json_is_true(json_object_get(opts, "tty"))));
        json_object_set(o, "cmd", json_object_get(opts, "cmd"));
        json_decref(opts);
    }
    json_t *info = r->runtime_info ? json_loads(r->runtime_info, 0, NULL) : NULL;
    if (info)
        json_object_set_new(o, "runtime", info);
    /* How the last run ended, as the per-box process (or its jail's supervisor, when the
     * process was killed: a seccomp denial names the system call) wrote it. */
    char *edir = NULL;
    /* a paused box's restarts so far: its pause's exit.json counted them */
    if (r->state == BOX_STATE_PAUSED && rt_box_dir(rt, r->id, &edir, NULL) == 0)
        json_object_set_new(o, "restart_count",
                            json_integer((json_int_t)rt_memory_saved_restarts(edir)));
    free(edir);
    edir = NULL;
    if (r->state == BOX_STATE_STOPPED && rt_box_dir(rt, r->id, &edir, NULL) == 0) {
        char path[4200];
        box_file_path(path, sizeof path, edir, BOX_EXIT_JSON, 0);
        json_t *x = json_load_file(path, 0, NULL);
        if (json_is_object(x)) {
            /* the restarts of the run that ended (Docker's RestartCount) */
            json_t *rc = json_object_get(x, "restart_count");
            if (json_is_integer(rc) && json_integer_value(rc) >= 0)
                json_object_set(o, "restart_count", rc);
            json_object_set_new(o, "exit", x);
        } else {
            json_decref(x);
        }
        free(edir);
    }
    /* While it runs, ports asked as host port 0 show the port the engine bound, and the
     * health check its state: the per-box process's STATUS (host ports in the order of the
     * options). */
    char *dir = NULL;
    struct proto_status st;
    if (r->state == BOX_STATE_RUNNING && rt_box_dir(rt, r->id, &dir, NULL) == 0 &&
        rt_box_status(dir, r->id, &st, NULL) == 0) {
        json_t *ports = json_object_get(o, "ports");
        size_t i;
        json_t *p;
        json_array_foreach(ports, i, p) {
            if (i < st.nports && st.host_ports[i] > 0)
                json_object_set_new(p, "host_port", json_integer(st.host_ports[i]));
        }
        json_object_set_new(o, "restart_count", json_integer((json_int_t)(st.restarts & INT32_MAX)));
        json_t *health = st.health ? json_loads(st.health, 0, NULL) : NULL;
        if (json_is_object(health))
            json_object_set(o, "health", health);
        json_decref(health);
        proto_status_free(&st);
    }
    free(dir);
    if (!json_object_get(o, "restart_count"))
        json_object_set_new(o, "restart_count", json_integer(0));
    /* and the runs a runtime open started after the VM died (lifecycle.c) */
    int64_t vm = rt_vm_restarts(rt, r->id);
    if (vm > 0)
        json_object_set_new(o, "restart_count",
                            json_integer(json_integer_value(json_object_get(o, "restart_count")) + vm));
    /* The state in words with what explains it, for people (ps). */
    const char *state = box_state_name(r->state);
    const char *hs = json_string_value(json_object_get(json_object_get(o, "health"), "status"));
    char status[700];
    if (hs)
        snprintf(status, sizeof status, "%s (%s)", state, hs);
    else if (r->stop_reason && r->state == BOX_STATE_STOPPED && strcmp(r->stop_reason, "stopped"))
        snprintf(status, sizeof status, "%s (%s)", state, r->stop_reason);
    else
        snprintf(status, sizeof status, "%s", state);
    json_object_set_new(o, "status", json_string(status));
    return o;
}

int rt_dump_json(json_t *j, char **out)
{
    *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return *out ? 0 : -BOXLITE_ERR_NOMEM;
}

BOXLITE_API int boxlite_box_info(boxlite_box *b, char **json_out)
{
    API_CHECK_ARG(json_out, "json_out is NULL");
    *json_out = NULL;
    API_CHECK_ARG(b, "box is NULL");
    struct bl_error err = {0};
    struct box_record rec;
    int r = rt_box_lookup(b->rt, b->id, &rec, &err);
    if (r)
        return api_return(r, &err);
    r = rt_dump_json(record_json(b->rt, &rec), json_out);
    box_record_clear(&rec);
    return r ? api_fail(BOXLITE_ERR_NOMEM, "info: out of memory") : api_return(0, NULL);
}

struct list_ctx { boxlite_runtime *rt; enum box_state state; json_t *arr; };

static int list_one(void *p, const struct box_record *r)
{
    struct list_ctx *c = p;
    struct box_record fresh;
    /* Re-read through lookup so dead per-box processes show as stopped. */
    if (rt_box_lookup(c->rt, r->id, &fresh, NULL) != 0)
        return 0;
    if (c->state == BOX_STATE_ANY || c->state == fresh.state)
        json_array_append_new(c->arr, record_json(c->rt, &fresh));
    box_record_clear(&fresh);
    return 0;
}

BOXLITE_API int boxlite_box_list(boxlite_runtime *rt, const char *state, char **json_out)
{
    API_CHECK_ARG(json_out, "json_out is NULL");
    *json_out = NULL;
    API_CHECK_ARG(rt, "runtime is NULL");
    enum box_state want = BOX_STATE_ANY;
    if (state && !box_state_parse(state, &want))
        return api_fail(BOXLITE_ERR_INVALID, "list boxes: unknown state \"%s\"", state);
    struct bl_error err = {0};
    struct list_ctx c = { rt, want, json_array() };
    /* Filter after correcting liveness, so a dead "running" box lists as stopped. */
    int r = state_box_each(rt->db, BOX_STATE_ANY, list_one, &c, &err);
    if (r) {
        json_decref(c.arr);
        return api_return(r, &err);
    }
    return rt_dump_json(c.arr, json_out) ? api_fail(BOXLITE_ERR_NOMEM, "list: out of memory")
                                         : api_return(0, NULL);
}

/* Deletes the record and the box's folder (disk, logs, sockets). */
int rt_box_destroy(boxlite_runtime *rt, const char *id, struct bl_error *err)
{
    cleanup_free char *dir = NULL;
    int r = rt_box_dir(rt, id, &dir, err);
    /* The disk first: on a full disk it is what frees the room the database needs to
     * record the removal. A crash right after leaves a record whose next start makes a
     * fresh disk; it was being removed anyway. */
    char disk[4300];
    if (!r) {
        box_file_path(disk, sizeof disk, dir, BOX_DISK, 0);
        unlink(disk);
    }
    /* On a full disk the disk's room comes back only once its last holder is gone: QEMU
     * dies with its per-box process, but a moment later. */
    for (int tries = 0; !r; tries++) {
        r = state_box_delete(rt->db, id, err);
        if (!r || r == -BOXLITE_ERR_NOT_FOUND || tries == 100 || !strstr(err->msg, "full"))
            break;
        bl_err_clear(err);
        r = 0;
        usleep(20000);
    }
    if (!r && io_remove_tree(dir) != 0)
        r = bl_errno(err, errno, "remove %s", dir);
    rt_box_cgroups_remove(id);
    return r;
}


BOXLITE_API int boxlite_box_remove(boxlite_runtime *rt, const char *key, int force)
{
    API_CHECK_ARG(rt, "runtime is NULL");
    API_CHECK_ARG(key, "id or name is NULL");
    struct bl_error err = {0};
    struct box_record rec;
    int r = rt_box_lookup(rt, key, &rec, &err);
    if (r)
        return api_return(r, &err);
    bool stopped = rec.state == BOX_STATE_CONFIGURED || rec.state == BOX_STATE_STOPPED ||
                   rec.state == BOX_STATE_PAUSED; /* nothing of a paused box runs */
    if (!stopped && !force)
        r = bl_err(&err, BOXLITE_ERR_STATE,
                   "remove box %s: it is %s (stop it first, or force)", rec.name,
                   box_state_name(rec.state));
    if (!r && !stopped && rt_process_alive(rec.pid, rec.pid_start)) {
        /* Forced: the process goes at once, before any database write (which a full disk
         * could refuse: removing is how its user makes room). */
        kill((pid_t)rec.pid, SIGKILL);
        rt_process_wait_gone(rec.pid, rec.pid_start, 5000);
    }
    if (!r)
        r = rt_box_destroy(rt, rec.id, &err);
    box_record_clear(&rec);
    return api_return(r, &err);
}
