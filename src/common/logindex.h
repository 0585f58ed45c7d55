// SPDX-License-Identifier: Apache-2.0
/* The time index of a log file: the console log holds the guest's bytes unchanged (the
 * panic watcher, `boxlite logs`, greps read it raw), so when each line arrived is kept
 * beside it, in <log>.idx (<log>.N.idx for the rotated <log>.N), written by the per-box
 * process (src/vmm/logrot.c) and read by the library (src/runtime/logs.c, `logs
 * --timestamps --since --until`). Both include this header: the format lives here once.
 *
 *   header  16 bytes: "BLLOGIX1", then the log file's inode number (le64): an index
 *           belongs to the file with that inode, whatever names a rotation gives them
 *   record  16 bytes: the log file offset (le64) of the first byte of a line that arrived
 *           at a wall-clock time, then that time in ns since the epoch (le64, signed)
 *
 * A record is written before the bytes it dates, so a reader that sees a byte finds its
 * record. Offsets grow strictly; a line's time is that of the last record at or before its
 * first byte. A file's first bytes always have a record (offset 0, or where an earlier run
 * stopped). The reader treats the file as hostile: the box's folder is the jailed
 * process's, which a guest that escaped into it controls. */
#ifndef BL_LOGINDEX_H
#define BL_LOGINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LOGIDX_MAGIC "BLLOGIX1"
#define LOGIDX_HDR_SIZE 16
#define LOGIDX_REC_SIZE 16
#define LOGIDX_SUFFIX ".idx"

static inline void logidx_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t logidx_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline void logidx_header(uint8_t out[LOGIDX_HDR_SIZE], uint64_t ino)
{
    memcpy(out, LOGIDX_MAGIC, 8);
    logidx_put64(out + 8, ino);
}

/* Whether p (n bytes) is the header of the index of the file with inode ino. */
static inline bool logidx_header_ok(const uint8_t *p, size_t n, uint64_t ino)
{
    return n >= LOGIDX_HDR_SIZE && !memcmp(p, LOGIDX_MAGIC, 8) && logidx_get64(p + 8) == ino;
}

static inline void logidx_record(uint8_t out[LOGIDX_REC_SIZE], uint64_t off, int64_t ns)
{
    logidx_put64(out, off);
    logidx_put64(out + 8, (uint64_t)ns);
}

static inline void logidx_record_get(const uint8_t *p, uint64_t *off, int64_t *ns)
{
    *off = logidx_get64(p);
    *ns = (int64_t)logidx_get64(p + 8);
}

#endif
