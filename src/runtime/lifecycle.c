/* Box lifecycle: start (spawn the per-box process) and stop (graceful, then forced). */
#include "runtime/runtime.h"

#include "runtime/api_error.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* SIGTERM asks the per-box process for a graceful stop (it asks the agent to stop
 * processes, sync and power off); after timeout_ms, SIGKILL. */
int rt_box_stop_record(boxlite_runtime *rt, struct box_record *rec, int timeout_ms,
                       bool allow_auto_remove, struct bl_error *err)
{
    int r = state_box_set_state(rt->db, rec->id, rec->state, "stopping", rec->pid,
                                rec->pid_start, err);
    if (r)
        return r;
    if (rt_process_alive(rec->pid, rec->pid_start)) {
        kill((pid_t)rec->pid, timeout_ms > 0 ? SIGTERM : SIGKILL);
        double deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 5000);
        while (rt_process_alive(rec->pid, rec->pid_start) && now_ms() < deadline)
            usleep(10000);
        if (rt_process_alive(rec->pid, rec->pid_start)) {
            kill((pid_t)rec->pid, SIGKILL);
            deadline = now_ms() + 5000;
            while (rt_process_alive(rec->pid, rec->pid_start) && now_ms() < deadline)
                usleep(10000);
        }
    }
    r = state_box_set_state(rt->db, rec->id, NULL, "stopped", 0, 0, err);
    if (r)
        return r;
    struct boxlite_options o;
    opts_init(&o);
    if (allow_auto_remove && opts_from_json(&o, rec->options, NULL) == 0 && o.auto_remove)
        r = rt_box_destroy(rt, rec->id, err);
    opts_clear(&o);
    return r;
}

BOXLITE_API int boxlite_box_stop(boxlite_box *b, int timeout_ms)
{
    API_CHECK_ARG(b, "box is NULL");
    struct bl_error err = {0};
    struct box_record rec;
    int r = rt_box_lookup(b->rt, b->id, &rec, &err);
    if (r)
        return api_return(r, &err);
    if (!strcmp(rec.state, "configured") || !strcmp(rec.state, "stopped"))
        r = bl_err(&err, BOXLITE_ERR_STATE, "stop box %s: it is not running (%s)", rec.name,
                   rec.state);
    else
        r = rt_box_stop_record(b->rt, &rec, timeout_ms, true, &err);
    box_record_clear(&rec);
    return api_return(r, &err);
}

BOXLITE_API int boxlite_box_start(boxlite_box *b)
{
    API_CHECK_ARG(b, "box is NULL");
    /* Needs the per-box process (engines) and the image pipeline: not wired in yet. */
    return api_fail(BOXLITE_ERR_UNSUPPORTED,
                    "start box %s: starting boxes is not implemented yet", b->name);
}
