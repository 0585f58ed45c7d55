// SPDX-License-Identifier: Apache-2.0
/* Runtime: the home directory, its state database, notices, leftovers swept at open, the
 * image store, and whether a process is still the one recorded. Box records are in
 * boxes.c, starting and stopping in lifecycle.c, executions in exec.c, files in copy.c,
 * logs in logs.c, figures in metrics.c. */
#include "runtime/runtime.h"

#include "common/boxpath.h"
#include "common/cleanup.h"
#include "common/io.h"
#include "common/procstat.h"
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
    int r = mkdir_p(buf, 0700, err);
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
    if (state_box_each(rt->db, BOX_STATE_ANY, sweep_one, &c, NULL) != 0)
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

/* Boxes whose VM died under a restart policy start again (lifecycle.c says which and when):
 * with no daemon, a runtime open is where the policy can act after a crash or a reboot. */
struct died_ctx { char (*ids)[BOX_ID_LEN + 1]; size_t n; };

static int died_one(void *p, const struct box_record *r)
{
    struct died_ctx *c = p;
    if (r->state != BOX_STATE_RUNNING && !(r->state == BOX_STATE_STOPPED && r->stop_abnormal &&
                                           !r->has_exit_code))
        return 0;
    struct boxlite_options o;
    opts_init(&o);
    bool policy = opts_from_json(&o, r->options, NULL) == 0 && o.detach && o.restart &&
                  strcmp(o.restart, "no");
    opts_clear(&o);
    char (*ids)[BOX_ID_LEN + 1] = policy ? realloc(c->ids, (c->n + 1) * sizeof *ids) : NULL;
    if (ids) {
        c->ids = ids;
        memcpy(c->ids[c->n++], r->id, sizeof *ids);
    }
    return 0;
}

static void restart_died(boxlite_runtime *rt)
{
    struct died_ctx c = { NULL, 0 };
    if (state_box_each(rt->db, BOX_STATE_ANY, died_one, &c, NULL) != 0)
        c.n = 0;
    for (size_t i = 0; i < c.n; i++) {
        boxlite_box *b = NULL;
        char why[600] = "";
        struct bl_error e = { 0 };
        if (boxlite_box_get(rt, c.ids[i], &b) != BOXLITE_OK)
            continue;
        int r = rt_box_restart_if_died(b, why, sizeof why, &e);
        if (r > 0)
            rt_notice(rt, "restarted box %s (restart policy %s): it had stopped: %s", b->name,
                      b->opts.restart, why);
        else if (r < 0)
            rt_notice(rt, "box %s could not be restarted (restart policy %s): %s", b->name,
                      b->opts.restart, e.msg);
        boxlite_box_free(b);
    }
    free(c.ids);
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
        r = mkdir_p(path, 0700, &err);
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
    restart_died(rt);
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


int64_t rt_process_start_time(int64_t pid)
{
    struct proc_stat ps;
    if (proc_stat_read(pid, &ps) < 0)
        return -1;
    /* A zombie (Z) or dead (X) process is gone, however long its reaper takes: the
     * per-box process is double-forked, so its parent is init or a subreaper. */
    if (ps.state == 'Z' || ps.state == 'X' || ps.starttime > INT64_MAX)
        return -1;
    return (int64_t)ps.starttime;
}

bool rt_process_alive(int64_t pid, int64_t pid_start)
{
    if (pid <= 0)
        return false;
    int64_t st = rt_process_start_time(pid);
    return st >= 0 && st == pid_start;
}
