// SPDX-License-Identifier: Apache-2.0
/* A log file that rotates at a size: <path> is the newest, <path>.1 the one before, up to
 * <path>.<files-1>; the oldest is dropped. The per-box process writes the guest's console
 * and its own log through one (docs/architecture.md, "Logs"), so a guest that floods its
 * console costs at most max_bytes * files of disk. Readers follow by name: a rotation is a
 * rename, so a reader holding the old file reads it to its end, then opens <path> again. */
#ifndef VMM_LOGROT_H
#define VMM_LOGROT_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

#define LOGROT_DEFAULT_MAX_BYTES (1u << 20)
#define LOGROT_DEFAULT_FILES 2
#define LOGROT_MIN_MAX_BYTES 4096
#define LOGROT_MAX_FILES 100

struct logrot;

/* Opens (appends to) path, created 0600. max_bytes >= LOGROT_MIN_MAX_BYTES; 1 <= files <=
 * LOGROT_MAX_FILES (1 = truncate in place). */
int logrot_open(struct logrot **out, const char *path, uint64_t max_bytes, unsigned files,
                struct bl_error *err);
/* Appends n bytes (any thread), rotating first when they would not fit. Never blocks on
 * a failing disk: what cannot be written is dropped and counted. */
void logrot_write(struct logrot *l, const void *p, size_t n);
/* Bytes dropped because a write or a rotation failed (disk full, folder gone). */
uint64_t logrot_dropped(struct logrot *l);
/* Keeps a time index beside the log from now on (<path>.idx, rotated with it; the format
 * is common/logindex.h): when each line arrived, for `logs --timestamps --since --until`.
 * The log's bytes stay exactly what was written. 0, or -1 when the index cannot be opened
 * (tried again at the next rotation; the log goes on). */
int logrot_index(struct logrot *l);
void logrot_close(struct logrot *l); /* NULL-safe */

#endif
