// SPDX-License-Identifier: Apache-2.0
/* A pump from a pipe into a rotating log (logrot.h), on a thread of its own: the guest's
 * serial console (both engines write it into a pipe the per-box process owns) and the
 * per-box process's own stderr. It also watches the text for the kernel's panic line, so
 * the box's stop reason can say why the guest died. */
#ifndef VMM_CONLOG_H
#define VMM_CONLOG_H

#include "common/error.h"
#include "vmm/logrot.h"

#include <stdbool.h>
#include <stddef.h>

/* The line scanner, apart for the tests: feed it text in any chunks. */
struct panic_scan {
    char line[512];
    size_t len;
    bool overlong;    /* the current line passed sizeof line: not scanned */
    char panic[256];  /* what follows "Kernel panic - not syncing: ", or "" */
};
void panic_scan_feed(struct panic_scan *s, const char *p, size_t n);

struct conlog;
/* Takes ownership of fd (the pipe's read end); lr stays the caller's and must outlive the
 * pump. Runs until the pipe's last writer closes it, or conlog_stop. */
int conlog_start(struct conlog **out, int fd, struct logrot *lr, struct bl_error *err);
/* Waits up to wait_ms for end-of-file (what is in the pipe is written), then stops and
 * frees. panic (may be NULL) receives the guest's panic message, or "". NULL-safe. */
void conlog_stop(struct conlog *c, int wait_ms, char *panic, size_t panic_len);

#endif
