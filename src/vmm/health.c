// SPDX-License-Identifier: Apache-2.0
/* The health checker: see health.h. One thread per box, asleep between checks (a poll on
 * an eventfd), one connection to the box socket kept open between checks. */
#include "vmm/health.h"

#include "common/clock.h"
#include "proto/client.h"
#include "proto/mux.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_MAX 4096 /* of a check's output kept for the report (Docker keeps 4 KiB) */

const char *health_status_name(enum health_status s)
{
    switch (s) {
    case HEALTH_HEALTHY: return "healthy";
    case HEALTH_UNHEALTHY: return "unhealthy";
    default: return "starting";
    }
}

void health_record(struct health_state *s, const struct vmm_health_cfg *cfg, bool passed,
                   uint64_t since_ready_ms)
{
    s->checks++;
    if (passed) {
        s->status = HEALTH_HEALTHY;
        s->streak = 0;
        return;
    }
    s->failures++;
    if (since_ready_ms < cfg->start_period_ms)
        return; /* the box is still starting: this one does not count */
    if (++s->streak >= cfg->retries)
        s->status = HEALTH_UNHEALTHY;
}

struct health {
    const struct vmm_health_cfg *cfg;
    struct proto_mux *mux;
    char *report; /* the last report as JSON (h->lock), for STATUS */
    int wake;
    pthread_t thread;
    pthread_mutex_t lock;
    bool ready, stop;
    uint64_t ready_ms;
    struct proto_client *conn;
    struct health_state st;
};

/* Sleeps ms (ms < 0: until the guest is ready). false when asked to stop. */
static bool nap(struct health *h, int64_t ms)
{
    uint64_t end = ms < 0 ? UINT64_MAX : mono_ms() + (uint64_t)ms;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        bool stop = h->stop, ready = h->ready;
        pthread_mutex_unlock(&h->lock);
        if (stop)
            return false;
        uint64_t now = mono_ms();
        if ((ms < 0 && ready) || (ms >= 0 && now >= end))
            return true;
        uint64_t left = end - now;
        struct pollfd p = {.fd = h->wake, .events = POLLIN};
        if (poll(&p, 1, ms < 0 ? -1 : (int)(left > 3600000 ? 3600000 : left)) > 0) {
            uint64_t v;
            if (read(h->wake, &v, sizeof v) < 0) {
                /* another wake-up already drained it */
            }
        }
    }
}

struct check_result {
    bool passed, timed_out;
    int64_t exit_code; /* -1 when it did not run */
    uint64_t start_ms, end_ms;
    char output[OUTPUT_MAX + 1];
    size_t out_len;
};

static void keep_output(struct check_result *r, const char *p, size_t n)
{
    size_t room = OUTPUT_MAX - r->out_len;
    if (n > room)
        n = room;
    memcpy(r->output + r->out_len, p, n);
    r->out_len += n;
    r->output[r->out_len] = 0;
}

/* One check: an execution through the box socket, outputs drained (flow control would
 * otherwise stall a chatty check), bounded by the timeout plus a margin for the channel. */
static void run_check(struct health *h, struct check_result *r)
{
    memset(r, 0, sizeof *r);
    r->exit_code = -1;
    r->start_ms = wall_ms();
    struct bl_error e = {0};
    if (!h->conn && proto_mux_dial(h->mux, 5000, &h->conn, &e) < 0) {
        keep_output(r, e.msg, strlen(e.msg));
        h->conn = NULL;
        r->end_ms = wall_ms();
        return;
    }
    struct proto_exec_req req = {.argv = h->cfg->argv, .env = h->cfg->env, .cwd = h->cfg->cwd,
                                 .user = h->cfg->user, .timeout_ms = h->cfg->timeout_ms};
    struct proto_exec *ex = NULL;
    if (proto_exec_start(h->conn, &req, &ex, &e) < 0) {
        keep_output(r, e.msg, strlen(e.msg));
        proto_client_close(h->conn); /* reconnect next time */
        h->conn = NULL;
        r->end_ms = wall_ms();
        return;
    }
    uint64_t deadline = mono_ms() + h->cfg->timeout_ms + 5000;
    int fds[2] = {proto_exec_stdout_fd(ex), proto_exec_stderr_fd(ex)};
    char buf[16384];
    while ((fds[0] >= 0 || fds[1] >= 0) && mono_ms() < deadline) {
        struct pollfd p[3] = {{.fd = fds[0], .events = POLLIN},
                              {.fd = fds[1], .events = POLLIN},
                              {.fd = h->wake, .events = POLLIN}};
        int n = poll(p, 3, (int)(deadline - mono_ms()));
        if (n < 0 && errno != EINTR)
            break;
        if (p[2].revents) {
            pthread_mutex_lock(&h->lock);
            bool stop = h->stop;
            pthread_mutex_unlock(&h->lock);
            if (stop)
                break;
            uint64_t v;
            if (read(h->wake, &v, sizeof v) < 0) {
            }
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t k = read(fds[i], buf, sizeof buf);
            if (k > 0)
                keep_output(r, buf, (size_t)k);
            else if (k == 0 || (errno != EAGAIN && errno != EINTR))
                fds[i] = -1;
        }
    }
    struct proto_result res = {0};
    int64_t left = (int64_t)deadline - (int64_t)mono_ms();
    int rc = proto_exec_wait(ex, left > 0 ? (int)left : 0, &res, &e);
    if (rc == 0) {
        r->timed_out = res.timed_out;
        r->exit_code = res.signo ? 128 + res.signo : res.exit_code;
        r->passed = !res.timed_out && res.signo == 0 && res.exit_code == 0;
    } else {
        if (rc == -BOXLITE_ERR_TIMEOUT)
            r->timed_out = true;
        keep_output(r, e.msg, strlen(e.msg));
    }
    proto_exec_free(ex); /* a check still running is killed by the agent */
    r->end_ms = wall_ms();
}

static void write_report(struct health *h, const struct check_result *r)
{
    json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:b, s:s%}}",
                          "status", health_status_name(h->st.status),
                          "failing_streak", (json_int_t)h->st.streak,
                          "checks", (json_int_t)h->st.checks,
                          "failures", (json_int_t)h->st.failures,
                          "last", "start_unix_ms", (json_int_t)r->start_ms,
                          "end_unix_ms", (json_int_t)r->end_ms,
                          "exit_code", (json_int_t)r->exit_code,
                          "timed_out", r->timed_out,
                          "output", r->output, r->out_len);
    if (!j) /* output that is not UTF-8: say so rather than lose the report */
        j = json_pack("{s:s, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:b, s:s}}",
                      "status", health_status_name(h->st.status),
                      "failing_streak", (json_int_t)h->st.streak,
                      "checks", (json_int_t)h->st.checks,
                      "failures", (json_int_t)h->st.failures,
                      "last", "start_unix_ms", (json_int_t)r->start_ms,
                      "end_unix_ms", (json_int_t)r->end_ms,
                      "exit_code", (json_int_t)r->exit_code,
                      "timed_out", r->timed_out, "output", "(not UTF-8)");
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return; /* out of memory: the previous report stands */
    pthread_mutex_lock(&h->lock);
    free(h->report);
    h->report = text;
    pthread_mutex_unlock(&h->lock);
}

static void *checker(void *arg)
{
    struct health *h = arg;
    pthread_setname_np(pthread_self(), "health"); /* the main thread's filter, inherited */
    if (!nap(h, -1)) /* until the guest is ready */
        return NULL;
    struct check_result r = {.exit_code = -1};
    r.start_ms = r.end_ms = wall_ms();
    write_report(h, &r); /* "starting", before the first check */
    while (nap(h, (int64_t)h->cfg->interval_ms)) {
        run_check(h, &r);
        pthread_mutex_lock(&h->lock);
        bool stop = h->stop;
        pthread_mutex_unlock(&h->lock);
        if (stop)
            break;
        health_record(&h->st, h->cfg, r.passed, mono_ms() - h->ready_ms);
        write_report(h, &r);
    }
    return NULL;
}

int health_start(struct health **out, const struct vmm_health_cfg *cfg, struct proto_mux *mux,
                 struct bl_error *err)
{
    *out = NULL;
    struct health *h = calloc(1, sizeof *h);
    if (!h) {
        return bl_err(err, BOXLITE_ERR_NOMEM, "health check: out of memory");
    }
    h->cfg = cfg;
    h->mux = mux;
    h->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&h->lock, NULL);
    int rc = h->wake < 0 ? errno : pthread_create(&h->thread, NULL, checker, h);
    if (rc) {
        if (h->wake >= 0)
            close(h->wake);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return bl_errno(err, rc, "health check thread");
    }
    *out = h;
    return 0;
}

static void poke(struct health *h)
{
    uint64_t one = 1;
    if (write(h->wake, &one, sizeof one) < 0) {
    }
}

void health_ready(struct health *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    if (!h->ready) {
        h->ready = true;
        h->ready_ms = mono_ms();
    }
    pthread_mutex_unlock(&h->lock);
    poke(h);
}

void health_stop(struct health *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_mutex_unlock(&h->lock);
    poke(h);
    pthread_join(h->thread, NULL);
    proto_client_close(h->conn);
    close(h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h->report);
    free(h);
}

char *health_report(struct health *h)
{
    if (!h)
        return NULL;
    pthread_mutex_lock(&h->lock);
    char *r = h->report ? strdup(h->report) : NULL;
    pthread_mutex_unlock(&h->lock);
    return r;
}
