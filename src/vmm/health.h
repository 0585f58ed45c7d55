// SPDX-License-Identifier: Apache-2.0
/* The box's health check, run by the per-box process (it is there for the box's whole life,
 * whoever created the box): Docker's HEALTHCHECK semantics (the Dockerfile reference,
 * "HEALTHCHECK"): the command runs in the box every interval once the guest is ready, is
 * killed after the timeout; exit 0 is a pass, anything else (or a timeout) a failure; the
 * box is "starting" until the first pass, "healthy" after a pass, "unhealthy" after
 * `retries` failures in a row; failures in the start period do not count. The last report
 * is kept in memory and goes to the library in STATUS (src/proto/control.h). */
#ifndef VMM_HEALTH_H
#define VMM_HEALTH_H

#include "common/error.h"
#include "vmm/config.h"

#include <stdbool.h>
#include <stdint.h>

enum health_status { HEALTH_STARTING, HEALTH_HEALTHY, HEALTH_UNHEALTHY };
const char *health_status_name(enum health_status s);

/* The state machine, apart for the tests. */
struct health_state {
    enum health_status status;
    uint32_t streak;           /* failures in a row that counted */
    uint64_t checks, failures; /* all of them */
};
/* Records one check that passed or not, since_ready_ms after the guest was ready. */
void health_record(struct health_state *s, const struct vmm_health_cfg *cfg, bool passed,
                   uint64_t since_ready_ms);

struct health;
struct proto_mux;
/* Starts the checker's thread; it waits for health_ready(). Checks run as executions
 * through the box's mux, on a connection of their own, like any client's. mux must outlive
 * health_stop(). */
int health_start(struct health **out, const struct vmm_health_cfg *cfg, struct proto_mux *mux,
                 struct bl_error *err);
/* The last report as JSON (malloc'd; NULL before the guest is ready or when h is NULL):
 * {"status", "failing_streak", "checks", "failures", "last": {...}}. */
char *health_report(struct health *h);
/* The guest is ready: the start period and the first interval count from now. */
void health_ready(struct health *h);
void health_stop(struct health *h); /* NULL-safe; waits for a running check to be abandoned */

#endif
