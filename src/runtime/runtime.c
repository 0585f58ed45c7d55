/* Runtime: the home directory, its state database, and box records (create, get, list,
 * info, remove). Starting and stopping boxes is in lifecycle.c. */
#include "runtime/runtime.h"

#include "common/cleanup.h"
#include "runtime/api_error.h"
#include "runtime/boxfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
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

static int mkdir_p(const char *path, struct bl_error *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return bl_err(err, BOXLITE_ERR_INVALID, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return bl_errno(err, errno, "mkdir %s", buf);
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return bl_errno(err, errno, "mkdir %s", buf);
    return 0;
}

static int resolve_home(const char *home_dir, char **out, struct bl_error *err)
{
    char buf[4096];
    if (home_dir && *home_dir)
        snprintf(buf, sizeof buf, "%s", home_dir);
    else if (getenv("BOXLITE_HOME") && *getenv("BOXLITE_HOME"))
        snprintf(buf, sizeof buf, "%s", getenv("BOXLITE_HOME"));
    else if (getenv("HOME") && *getenv("HOME"))
        snprintf(buf, sizeof buf, "%s/.boxlite", getenv("HOME"));
    else
        return bl_err(err, BOXLITE_ERR_INVALID, "no home directory: set BOXLITE_HOME");
    int r = mkdir_p(buf, err);
    if (r)
        return r;
    char *abs = realpath(buf, NULL);
    if (!abs)
        return bl_errno(err, errno, "home directory %s", buf);
    *out = abs;
    return 0;
}

void rt_notice(boxlite_runtime *rt, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&rt->lock);
    size_t have = rt->notices ? strlen(rt->notices) : 0;
    char *n = realloc(rt->notices, have + strlen(line) + 2);
    if (n) {
        snprintf(n + have, strlen(line) + 2, "%s\n", line);
        rt->notices = n;
    }
    pthread_mutex_unlock(&rt->lock);
}

BOXLITE_API int boxlite_runtime_notices(boxlite_runtime *rt, char **text_out)
{
    API_CHECK_ARG(text_out, "text_out is NULL");
    *text_out = NULL;
    API_CHECK_ARG(rt, "runtime is NULL");
    pthread_mutex_lock(&rt->lock);
    *text_out = rt->notices ? rt->notices : strdup("");
    rt->notices = NULL;
    pthread_mutex_unlock(&rt->lock);
    return *text_out ? api_return(0, NULL) : api_fail(BOXLITE_ERR_NOMEM, "out of memory");
}

/* The home holds the boxes' options (their environment) and disks: the user's alone.
 * A path made wider than `want` (by hand, an old version, a umask) is narrowed; *was gets
 * the old mode, or -1 when it was fine. */
static int narrow(const char *path, mode_t want, int *was, struct bl_error *err)
{
    struct stat st;
    *was = -1;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : bl_errno(err, errno, "stat %s", path);
    if (S_ISLNK(st.st_mode) || !(st.st_mode & 077 & ~want))
        return 0;
    if (chmod(path, want) != 0)
        return bl_errno(err, errno, "chmod %s", path);
    *was = (int)(st.st_mode & 07777);
    return 0;
}

static int secure_home(boxlite_runtime *rt, struct bl_error *err)
{
    int was, r;
    char p[4200];
    if ((r = narrow(rt->home, 0700, &was, err)))
        return r;
    if (was >= 0)
        rt_notice(rt, "home %s was open to other users (%04o): now 0700", rt->home, was);
    static const char *const files[] = { "boxlite.db", "boxlite.db-wal", "boxlite.db-shm" };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        snprintf(p, sizeof p, "%s/%s", rt->home, files[i]);
        if ((r = narrow(p, 0600, &was, err)))
            return r;
        if (was >= 0 && i == 0)
            rt_notice(rt, "the state database %s was readable by others (%04o): now 0600", p, was);
    }
    snprintf(p, sizeof p, "%s/boxes", rt->home);
    if ((r = narrow(p, 0700, &was, err)))
        return r;
    int widened = was >= 0;
    DIR *d = opendir(p);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char bp[4400];
        snprintf(bp, sizeof bp, "%s/%s", p, de->d_name);
        if (narrow(bp, 0700, &was, NULL) == 0 && was >= 0)
            widened++;
    }
    if (d)
        closedir(d);
    if (widened)
        rt_notice(rt, "%d box folder%s in %s were open to other users: now 0700", widened,
                  widened == 1 ? "" : "s", p);
    return 0;
}

/* Leftovers of processes that crashed: a box marked auto_remove whose owner (the process
 * that created or started it) is gone will never be removed by it. Its per-box process, if
 * still alive, is stopped first. */
struct sweep_ctx { boxlite_runtime *rt; char (*ids)[BOX_ID_LEN + 1]; char **names; size_t n; };

static int sweep_one(void *p, const struct box_record *r)
{
    struct sweep_ctx *c = p;
    if (r->owner_pid <= 0 || rt_process_alive(r->owner_pid, r->owner_start))
        return 0;
    struct boxlite_options o;
    opts_init(&o);
    bool leftover = opts_from_json(&o, r->options, NULL) == 0 && o.auto_remove;
    opts_clear(&o);
    if (!leftover)
        return 0;
    char (*ids)[BOX_ID_LEN + 1] = realloc(c->ids, (c->n + 1) * sizeof *ids);
    char **names = realloc(c->names, (c->n + 1) * sizeof *names);
    if (ids)
        c->ids = ids;
    if (names)
        c->names = names;
    if (!ids || !names)
        return 0;
    memcpy(c->ids[c->n], r->id, sizeof c->ids[c->n]);
    c->names[c->n] = strdup(r->name ? r->name : "");
    c->n++;
    return 0;
}

static void sweep_leftovers(boxlite_runtime *rt)
{
    struct sweep_ctx c = { rt, NULL, NULL, 0 };
    if (state_box_each(rt->db, NULL, sweep_one, &c, NULL) != 0)
        c.n = 0;
    for (size_t i = 0; i < c.n; i++) {
        struct box_record rec;
        struct bl_error e = { 0 };
        /* look again: another runtime may be sweeping the same box */
        if (state_box_find(rt->db, c.ids[i], &rec, NULL) == 0) {
            if (rt_process_alive(rec.pid, rec.pid_start))
                kill((pid_t)rec.pid, SIGKILL);
            if (rt_box_destroy(rt, rec.id, &e) == 0)
                rt_notice(rt, "removed box %s: it was to be removed when it stopped, and the "
                          "process that ran it is gone", c.names[i] ? c.names[i] : rec.id);
            box_record_clear(&rec);
        }
        free(c.names[i]);
    }
    free(c.ids);
    free(c.names);
}

BOXLITE_API int boxlite_runtime_open(const char *home_dir, boxlite_runtime **out)
{
    return boxlite_runtime_open_with(home_dir, NULL, out);
}

BOXLITE_API int boxlite_runtime_open_with(const char *home_dir, const char *options_json,
                                          boxlite_runtime **out)
{
    API_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    struct bl_error err = {0};
    /* Options first: a mistake there creates no home. */
    struct rt_settings settings;
    int r = rt_settings_parse(&settings, options_json, &err);
    if (r)
        return api_return(r, &err);
    boxlite_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        rt_settings_free(&settings);
        return api_fail(BOXLITE_ERR_NOMEM, "runtime: out of memory");
    }
    rt->settings = settings;
    pthread_mutex_init(&rt->lock, NULL);
    r = resolve_home(home_dir, &rt->home, &err);
    char path[4200];
    if (!r) {
        snprintf(path, sizeof path, "%s/boxes", rt->home);
        r = mkdir_p(path, &err);
    }
    if (!r)
        r = secure_home(rt, &err);
    if (!r) {
        snprintf(path, sizeof path, "%s/boxlite.db", rt->home);
        r = state_open(&rt->db, path, &err);
    }
    if (r) {
        bl_err_prefix(&err, "open runtime");
        boxlite_runtime_close(rt);
        return api_return(r, &err);
    }
    sweep_leftovers(rt);
    *out = rt;
    return api_return(0, NULL);
}

BOXLITE_API void boxlite_runtime_close(boxlite_runtime *rt)
{
    if (!rt)
        return;
    state_close(rt->db);
    for (size_t i = 0; i < rt->nlifelines; i++)
        close(rt->lifelines[i]);
    free(rt->lifelines);
    free(rt->notices);
    pthread_mutex_destroy(&rt->lock);
    free(rt->registries_json);
    rt_settings_free(&rt->settings);
    free(rt->home);
    free(rt);
}

int rt_images(boxlite_runtime *rt, struct image_store **out, struct bl_error *err)
{
    pthread_mutex_lock(&rt->lock);
    int r = 0;
    if (!rt->images_open && (r = image_store_open(&rt->images, rt->home, err)) == 0)
        rt->images_open = true;
    pthread_mutex_unlock(&rt->lock);
    *out = r ? NULL : &rt->images;
    return r;
}

int rt_box_dir(const boxlite_runtime *rt, const char *id, char **out, struct bl_error *err)
{
    if (asprintf(out, "%s/boxes/%s", rt->home, id) < 0)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    return 0;
}

int64_t rt_process_start_time(int64_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    /* Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* A zombie (Z) or dead (X) process is gone, however long its reaper takes: the
     * per-box process is double-forked, so its parent is init or a subreaper. */
    if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
        return -1;
    long long start = -1;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        if (++field == 22) {
            start = strtoll(tok, NULL, 10);
            break;
        }
    }
    return start;
}

bool rt_process_alive(int64_t pid, int64_t pid_start)
{
    if (pid <= 0)
        return false;
    int64_t st = rt_process_start_time(pid);
    return st >= 0 && st == pid_start;
}

/* The record says the box runs (or starts, or stops): is that still true? If not, why it
 * ended, as its per-box process told (boxfiles) or as far as we can tell. */
static bool still_active(const struct box_record *rec, struct box_stop *why, char *buf,
                         size_t len)
{
    memset(why, 0, sizeof *why);
    why->reason = buf;
    why->abnormal = true;
    if (!strcmp(rec->state, "starting")) {
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
    bool active = !strcmp(rec->state, "starting") || !strcmp(rec->state, "running") ||
                  !strcmp(rec->state, "stopping");
    char buf[600];
    struct box_stop why;
    if (!active || still_active(rec, &why, buf, sizeof buf))
        return 0;
    rt_box_cgroups_remove(rec->id); /* made by its jail; the process is gone */
    /* Its per-box process died, said why or not, or its starter did: the box is stopped.
     * A per-box process left behind by a dead starter is ended (it was never recorded as
     * running, nobody else would). */
    if (!strcmp(rec->state, "starting") && rt_process_alive(rec->pid, rec->pid_start))
        kill((pid_t)rec->pid, SIGKILL);
    cleanup_free char *dir = NULL;
    struct box_end_info end = { 0 };
    if (strcmp(rec->state, "starting") != 0 && rt_box_dir(rt, rec->id, &dir, NULL) == 0) {
        boxfiles_end(dir, &end);
        if (end.known) {
            snprintf(buf, sizeof buf, "%s", end.reason);
            why.abnormal = !end.requested && strcmp(rec->state, "stopping") != 0;
            why.has_exit_code = end.has_exit_code;
            why.exit_code = end.exit_code;
            why.oom_killed = end.oom_killed;
        } else if (!strcmp(rec->state, "stopping")) {
            snprintf(buf, sizeof buf, "stopped");
            why.abnormal = false;
        } else {
            char last[300];
            boxfiles_vmm_last_line(dir, last, sizeof last);
            snprintf(buf, sizeof buf, "the box's VM process (pid %lld) died without a word%s%s",
                     (long long)rec->pid, last[0] ? "; its log ends: " : "", last);
        }
    }
    if (state_box_set_stopped(rt->db, rec->id, rec->state, &why, NULL) == 0) {
        free(rec->state);
        rec->state = strdup("stopped");
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
        rec.state = "configured";
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
    json_object_set_new(o, "state", json_string(r->state ? r->state : "unknown"));
    json_object_set_new(o, "image", r->image ? json_string(r->image) : json_null());
    json_object_set_new(o, "created", json_integer(r->created));
    json_object_set_new(o, "pid", json_integer(r->pid));
    json_object_set_new(o, "engine", r->engine ? json_string(r->engine) : json_null());
    if (r->stop_reason && !strcmp(r->state ? r->state : "", "stopped")) {
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
        json_object_set(o, "auto_remove", json_object_get(opts, "auto_remove"));
        json_object_set(o, "detach", json_object_get(opts, "detach"));
        json_decref(opts);
    }
    json_t *info = r->runtime_info ? json_loads(r->runtime_info, 0, NULL) : NULL;
    if (info)
        json_object_set_new(o, "runtime", info);
    /* How the last run ended, as the per-box process (or its jail's supervisor, when the
     * process was killed: a seccomp denial names the system call) wrote it. */
    char *edir = NULL;
    if (!strcmp(r->state ? r->state : "", "stopped") && rt_box_dir(rt, r->id, &edir, NULL) == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/exit.json", edir);
        json_t *x = json_load_file(path, 0, NULL);
        if (json_is_object(x))
            json_object_set_new(o, "exit", x);
        else
            json_decref(x);
        free(edir);
    }
    /* While it runs, ports asked as host port 0 show the port the engine bound (the per-box
     * process lists them in its ready file, in the order of the options). */
    char *dir = NULL;
    if (!strcmp(r->state ? r->state : "", "running") && rt_box_dir(rt, r->id, &dir, NULL) == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/ready", dir);
        json_t *ready = json_load_file(path, 0, NULL);
        json_t *bound = json_object_get(ready, "host_ports");
        json_t *ports = json_object_get(o, "ports");
        size_t i;
        json_t *p;
        json_array_foreach(ports, i, p) {
            json_int_t hp = json_integer_value(json_array_get(bound, i));
            if (hp > 0)
                json_object_set_new(p, "host_port", json_integer(hp));
        }
        json_decref(ready);
        json_t *health = boxfiles_json(dir, "health.json");
        if (json_is_object(health))
            json_object_set(o, "health", health);
        json_decref(health);
        free(dir);
    }
    /* The state in words with what explains it, for people (ps). */
    const char *state = r->state ? r->state : "unknown";
    const char *hs = json_string_value(json_object_get(json_object_get(o, "health"), "status"));
    char status[700];
    if (hs)
        snprintf(status, sizeof status, "%s (%s)", state, hs);
    else if (r->stop_reason && !strcmp(state, "stopped") && strcmp(r->stop_reason, "stopped"))
        snprintf(status, sizeof status, "%s (%s)", state, r->stop_reason);
    else
        snprintf(status, sizeof status, "%s", state);
    json_object_set_new(o, "status", json_string(status));
    return o;
}

static int dump_json(json_t *j, char **out)
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
    r = dump_json(record_json(b->rt, &rec), json_out);
    box_record_clear(&rec);
    return r ? api_fail(BOXLITE_ERR_NOMEM, "info: out of memory") : api_return(0, NULL);
}

struct list_ctx { boxlite_runtime *rt; const char *state; json_t *arr; };

static int list_one(void *p, const struct box_record *r)
{
    struct list_ctx *c = p;
    struct box_record fresh;
    /* Re-read through lookup so dead per-box processes show as stopped. */
    if (rt_box_lookup(c->rt, r->id, &fresh, NULL) != 0)
        return 0;
    if (!c->state || !strcmp(c->state, fresh.state))
        json_array_append_new(c->arr, record_json(c->rt, &fresh));
    box_record_clear(&fresh);
    return 0;
}

static bool valid_state(const char *s)
{
    static const char *const states[] = { "configured", "starting", "running", "stopping",
                                          "stopped", "unknown" };
    for (size_t i = 0; i < ARRAY_SIZE(states); i++)
        if (!strcmp(s, states[i]))
            return true;
    return false;
}

BOXLITE_API int boxlite_box_list(boxlite_runtime *rt, const char *state, char **json_out)
{
    API_CHECK_ARG(json_out, "json_out is NULL");
    *json_out = NULL;
    API_CHECK_ARG(rt, "runtime is NULL");
    if (state && !valid_state(state))
        return api_fail(BOXLITE_ERR_INVALID, "list boxes: unknown state \"%s\"", state);
    struct bl_error err = {0};
    struct list_ctx c = { rt, state, json_array() };
    /* Filter after correcting liveness, so a dead "running" box lists as stopped. */
    int r = state_box_each(rt->db, NULL, list_one, &c, &err);
    if (r) {
        json_decref(c.arr);
        return api_return(r, &err);
    }
    return dump_json(c.arr, json_out) ? api_fail(BOXLITE_ERR_NOMEM, "list: out of memory")
                                      : api_return(0, NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int rt_remove_tree(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT ? -1 : 0;
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
        snprintf(disk, sizeof disk, "%s/disk.qcow2", dir);
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
    if (!r && rt_remove_tree(dir) != 0)
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
    bool stopped = !strcmp(rec.state, "configured") || !strcmp(rec.state, "stopped");
    if (!stopped && !force)
        r = bl_err(&err, BOXLITE_ERR_STATE,
                   "remove box %s: it is %s (stop it first, or force)", rec.name, rec.state);
    if (!r && !stopped && rt_process_alive(rec.pid, rec.pid_start)) {
        /* Forced: the process goes at once, before any database write (which a full disk
         * could refuse: removing is how its user makes room). */
        kill((pid_t)rec.pid, SIGKILL);
        for (int i = 0; i < 500 && rt_process_alive(rec.pid, rec.pid_start); i++)
            usleep(10000);
    }
    if (!r)
        r = rt_box_destroy(rt, rec.id, &err);
    box_record_clear(&rec);
    return api_return(r, &err);
}

BOXLITE_API int boxlite_runtime_metrics(boxlite_runtime *rt, char **json_out)
{
    API_CHECK_ARG(json_out, "json_out is NULL");
    *json_out = NULL;
    API_CHECK_ARG(rt, "runtime is NULL");
    cleanup_free char *list = NULL;
    int r = boxlite_box_list(rt, "running", &list);
    if (r)
        return r;
    json_t *arr = json_loads(list, 0, NULL);
    json_t *o = json_pack("{s:I, s:I, s:I, s:I}",
                          "boxes_created", (json_int_t)state_counter_get(rt->db, "boxes_created"),
                          "boxes_failed", (json_int_t)state_counter_get(rt->db, "boxes_failed"),
                          "boxes_running", (json_int_t)json_array_size(arr),
                          "boxes_started", (json_int_t)state_counter_get(rt->db, "boxes_started"));
    json_decref(arr);
    /* boxes started again on QEMU after the KVM engine failed them (fallback.h) */
    json_object_set_new(o, "kvm_fallbacks", json_integer(state_counter_get(rt->db, "kvm_fallbacks")));
    return dump_json(o, json_out) ? api_fail(BOXLITE_ERR_NOMEM, "metrics: out of memory")
                                  : api_return(0, NULL);
}
