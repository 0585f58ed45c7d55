// SPDX-License-Identifier: Apache-2.0
/* Safe engine choice: when "auto" ran the box on the KVM engine and the guest never came up
 * (a triple fault, a KVM error, no ready guest within the KVM engine's share of the ready
 * timeout, an engine that could not start), the box is started again on QEMU (with KVM
 * acceleration where usable, else TCG) and the failure is recorded: in the box's vmm.log,
 * in its info ("runtime"."fallback"), and as the one-line notice the CLI prints. An
 * explicit engine never falls back. */
#ifndef RT_FALLBACK_H
#define RT_FALLBACK_H

#include "proto/control.h"
#include "runtime/options.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct rt_fallback {
    char reason[512];      /* why the KVM engine's VM ended (its exit.json) */
    char cpu_template[32]; /* the template it ran (or tried) */
    char *console;         /* its last console lines, or NULL */
};

/* How the start's per-box process said its box ended: its EXIT (end, when
 * end->stop_reason is set), else its post-mortem record (exit.json in box_dir; the process
 * is gone). False when it said nothing (killed before it could). */
bool rt_box_end_known(const char *box_dir, const struct proto_exit *end, struct proto_exit *out);
/* After a failed start: whether the box should be started again on QEMU (its engine is
 * "auto", the per-box process ran KVM and said why it ended (end: rt_box_end_known), and the
 * failure is not one QEMU would share or the user asked for). Fills fb when true. */
bool rt_fallback_wanted(const char *box_dir, const struct boxlite_options *o,
                        const struct proto_exit *end, struct rt_fallback *fb);
/* Records it: keeps console.log and exit.json as console-kvm.log and exit-kvm.json, adds
 * the record to vmm.log, writes the user's one-line notice, and returns the JSON kept in the
 * box's info. start_error is the message the failed start gave. */
json_t *rt_fallback_record(const char *box_dir, const char *box_name, const struct rt_fallback *fb,
                           const char *start_error, char *notice, size_t notice_len);
void rt_fallback_clear(struct rt_fallback *fb);
/* "the ENGINE engine's VM ended: REASON" from its EXIT or exit.json (rt_box_end_known),
 * or "" (for the error of a start that failed). */
void rt_exit_reason(const char *box_dir, const struct proto_exit *end, char *out, size_t len);

#endif
