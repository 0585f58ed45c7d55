// SPDX-License-Identifier: Apache-2.0
/* control_json.h. Host only: the agent (BOXLITE_GUEST) has no JSON library. */
#ifndef BOXLITE_GUEST
#include "proto/control_json.h"

#include <stdio.h>
#include <string.h>

static json_t *figures_json(const struct proto_figures *f)
{
    return json_pack("{s:s, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
                     "engine", f->engine, "start_to_first_run_ms", f->first_run_us / 1000.0,
                     "start_to_ready_ms", f->ready_us / 1000.0,
                     "vm_exits", (json_int_t)f->vm_exits,
                     "cpu_user_us", (json_int_t)f->cpu_user_us,
                     "cpu_sys_us", (json_int_t)f->cpu_sys_us,
                     "rss_bytes", (json_int_t)f->rss_bytes,
                     "net_rx_bytes", (json_int_t)f->net_rx,
                     "net_tx_bytes", (json_int_t)f->net_tx,
                     "net_connections", (json_int_t)f->net_conns,
                     "net_allowed", (json_int_t)f->net_allowed,
                     "net_denied", (json_int_t)f->net_denied,
                     "cpu_template", f->cpu_template);
}

/* ... and guest memory (docs/protocol.md "Balloon"). */
json_t *proto_figures_json(const struct proto_figures *f)
{
    json_t *j = figures_json(f);
    if (j && (json_object_set_new(j, "host_rss_bytes", json_integer((json_int_t)f->host_rss)) ||
              json_object_set_new(j, "guest_resident_bytes",
                                  json_integer((json_int_t)f->guest_resident)) ||
              json_object_set_new(j, "mem_returned_bytes",
                                  json_integer((json_int_t)f->mem_returned)) ||
              json_object_set_new(j, "balloon_target_mib",
                                  json_integer((json_int_t)f->balloon_target_mib)) ||
              json_object_set_new(j, "balloon_actual_mib",
                                  json_integer((json_int_t)f->balloon_actual_mib)))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static const char *const shares_names[] = {
    [PROTO_SHARES_REFUSED] = "refused",
    [PROTO_SHARES_UNMOUNTED] = "unmounted",
    [PROTO_SHARES_KEPT] = "kept",
};

const char *proto_pause_shares_name(enum proto_pause_shares v)
{
    return (unsigned)v < sizeof shares_names / sizeof shares_names[0] ? shares_names[v] : NULL;
}

enum proto_pause_shares proto_pause_shares_parse(const char *name)
{
    for (unsigned v = 0; name && v < sizeof shares_names / sizeof shares_names[0]; v++)
        if (shares_names[v] && !strcmp(name, shares_names[v]))
            return (enum proto_pause_shares)v;
    return PROTO_SHARES_UNSAID;
}

/* "pause_shares", when said */
static void pause_shares_json(json_t *j, enum proto_pause_shares v)
{
    const char *name = proto_pause_shares_name(v);
    if (j && name)
        json_object_set_new(j, "pause_shares", json_string(name));
}

json_t *proto_status_json(const struct proto_status *s)
{
    json_t *j = proto_figures_json(&s->fig);
    json_t *ports = json_array();
    if (!j || !ports) {
        json_decref(j);
        json_decref(ports);
        return NULL;
    }
    for (unsigned i = 0; i < s->nports && i < PROTO_MAX_PORTS; i++)
        json_array_append_new(ports, json_integer(s->host_ports[i]));
    json_object_set_new(j, "state", json_string(s->state));
    json_object_set_new(j, "host_ports", ports);
    json_object_set_new(j, "notice", json_string(s->notice));
    json_object_set_new(j, "agent_boot_ms", json_integer((json_int_t)s->agent_boot_ms));
    json_object_set_new(j, "restart_count", json_integer((json_int_t)(s->restarts & INT64_MAX)));
    json_object_set_new(j, "idle_ms", json_integer((json_int_t)(s->idle_ms & INT64_MAX)));
    pause_shares_json(j, s->pause_shares);
    json_t *h = s->health ? json_loads(s->health, 0, NULL) : NULL;
    if (json_is_object(h))
        json_object_set_new(j, "health", h);
    else
        json_decref(h);
    return j;
}

json_t *proto_exit_json(const struct proto_exit *x)
{
    json_t *j = json_pack("{s:b, s:b, s:b, s:I, s:s, s:s, s:b, s:i, s:o}",
                          "powered_off", x->powered_off, "killed", x->killed,
                          "engine_failed", x->engine_failed,
                          "guest_status", (json_int_t)x->guest_status, "reason", x->reason,
                          "stop_reason", x->stop_reason, "requested", x->requested,
                          "start_error", (int)x->start_error,
                          "stats", proto_figures_json(&x->fig));
    if (j && x->paused)
        json_object_set_new(j, "paused", json_true());
    pause_shares_json(j, x->pause_shares);
    if (j && x->has_exit_code) {
        json_object_set_new(j, "exit_code", json_integer((json_int_t)x->exit_code));
        json_object_set_new(j, "signal", json_integer((json_int_t)x->signo));
        json_object_set_new(j, "oom_killed", json_boolean(x->oom_killed));
    }
    if (j)
        json_object_set_new(j, "restart_count", json_integer((json_int_t)(x->restarts & INT64_MAX)));
    return j;
}

static void str_of(json_t *j, const char *key, char *out, size_t len)
{
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(out, len, "%s", v ? v : "");
}

int proto_exit_from_json(struct proto_exit *x, json_t *j)
{
    memset(x, 0, sizeof *x);
    x->guest_status = -1;
    if (!json_is_object(j))
        return -1;
    str_of(j, "reason", x->reason, sizeof x->reason);
    str_of(j, "stop_reason", x->stop_reason, sizeof x->stop_reason);
    if (!x->stop_reason[0]) /* the jail's supervisor, or a process older than stop reasons */
        snprintf(x->stop_reason, sizeof x->stop_reason, "%s",
                 x->reason[0] ? x->reason : "the VM ended");
    x->requested = json_is_true(json_object_get(j, "requested"));
    x->powered_off = json_is_true(json_object_get(j, "powered_off"));
    x->killed = json_is_true(json_object_get(j, "killed"));
    x->engine_failed = json_is_true(json_object_get(j, "engine_failed"));
    x->paused = json_is_true(json_object_get(j, "paused"));
    x->pause_shares =
        proto_pause_shares_parse(json_string_value(json_object_get(j, "pause_shares")));
    json_t *v = json_object_get(j, "guest_status");
    if (json_is_integer(v))
        x->guest_status = json_integer_value(v);
    v = json_object_get(j, "exit_code");
    if (json_is_integer(v)) {
        x->has_exit_code = true;
        x->exit_code = json_integer_value(v);
        x->signo = json_integer_value(json_object_get(j, "signal"));
        x->oom_killed = json_is_true(json_object_get(j, "oom_killed"));
    }
    json_int_t rc = json_integer_value(json_object_get(j, "restart_count"));
    x->restarts = rc > 0 ? (uint64_t)rc : 0;
    json_int_t se = json_integer_value(json_object_get(j, "start_error"));
    x->start_error = se >= 0 && se < 1000 ? (int32_t)se : 0;
    json_t *st = json_object_get(j, "stats");
    str_of(st, "engine", x->fig.engine, sizeof x->fig.engine);
    str_of(st, "cpu_template", x->fig.cpu_template, sizeof x->fig.cpu_template);
    return 0;
}
#endif
