// SPDX-License-Identifier: Apache-2.0
/* boxlite-runtime's record of one container: <root>/<id>/state.json, written once by
 * `create` (atomically) and read by every other command; the container's status is not
 * stored but derived from its relay process (alive or not, by pid and start time) and from
 * whether `start` was acknowledged (runtime-spec runtime.md, "State"). */
#ifndef BOXLITE_OCI_STATE_H
#define BOXLITE_OCI_STATE_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* runc accepts ids of letters, digits and _+-. (not "." or ".."), so do we; the length
 * bound keeps <root>/<id>/... paths short. */
#define OCI_ID_MAX 128
/* The runtime-spec version this runtime implements (state and features). */
#define OCI_SPEC_VERSION "1.0.2"

/* OCI_PAUSED: runc's state of a frozen container (runtime-spec 1.0 has none) */
enum oci_status { OCI_CREATING, OCI_CREATED, OCI_RUNNING, OCI_STOPPED, OCI_PAUSED };

struct oci_state {
    char *id;
    char *bundle;          /* absolute */
    char *rootfs;          /* absolute */
    char *created;         /* RFC 3339, UTC */
    char *box;             /* the box's id (libboxlite) */
    int64_t pid;           /* the relay process: what the caller sees as the container's */
    uint64_t pid_start;    /* its start time (/proc/PID/stat field 22): guards pid reuse */
};

int oci_id_valid(const char *id, struct bl_error *err);
/* Reads and checks a state.json's text. */
int oci_state_parse(const char *json, size_t len, struct oci_state *st, struct bl_error *err);
/* The text of state.json; NULL when out of memory. */
char *oci_state_dump(const struct oci_state *st);
/* runtime-spec's state document for `state` (pid 0 once stopped, as runc prints it). */
char *oci_state_report(const struct oci_state *st, enum oci_status status);
const char *oci_status_name(enum oci_status s);
void oci_state_free(struct oci_state *st);
/* Writes path atomically (a temporary file beside it, fsync, rename), mode 0644 for pid
 * files that other tools read. */
int oci_write_atomic(const char *path, const char *data, size_t len, struct bl_error *err);
/* RFC 3339 UTC with nanoseconds, as runc writes "created". */
void oci_now_rfc3339(char *out, size_t len);

#endif
