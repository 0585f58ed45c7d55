// SPDX-License-Identifier: Apache-2.0
/* The control frames' bodies as JSON (jansson), for the host only: the per-box process's
 * post-mortem exit.json and `boxlite-vmm --status`, the library's metrics and info. One
 * spelling of every key, here. */
#ifndef PROTO_CONTROL_JSON_H
#define PROTO_CONTROL_JSON_H

#include "proto/control.h"

#include <jansson.h>

/* {"engine", "start_to_first_run_ms", "start_to_ready_ms", "vm_exits", "cpu_user_us",
 *  "cpu_sys_us", "rss_bytes", "net_rx_bytes", "net_tx_bytes", "net_connections",
 *  "net_allowed", "net_denied", "cpu_template"} */
json_t *proto_figures_json(const struct proto_figures *f);
/* The figures plus "state", "host_ports" [..], "notice", "agent_boot_ms", "pause_shares"
 * (when said) and "health" (the health report's object, when there is one). */
json_t *proto_status_json(const struct proto_status *s);
/* exit.json's shape: "powered_off", "killed", "engine_failed", "guest_status", "reason",
 * "stop_reason", "requested", ("exit_code", "signal", "oom_killed"), "start_error",
 * ("paused", "pause_shares"), "stats" (the figures). */
json_t *proto_exit_json(const struct proto_exit *x);
/* Back from exit.json (a post-mortem record: the per-box process, or its jail's supervisor
 * for a process that was killed, wrote it). 0, or -1 when j is not such a record. */
int proto_exit_from_json(struct proto_exit *x, json_t *j);
/* PAUSE_SHARES as JSON spells it: "refused", "unmounted", "kept"; NULL for UNSAID. Read
 * back, anything else (NULL, a newer word) is UNSAID. */
const char *proto_pause_shares_name(enum proto_pause_shares v);
enum proto_pause_shares proto_pause_shares_parse(const char *name);

#endif
