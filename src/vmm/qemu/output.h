// SPDX-License-Identifier: Apache-2.0
/* QEMU's stdout and stderr, kept for error reports (a refused start, a killed QEMU): a pipe
 * drained by a thread of ours into a ring of the last QEMU_OUTPUT_KEEP bytes. QEMU writes
 * as long as it runs (one line per free-page report it cannot honour, a guest's device
 * errors...): a file of it would grow without bound; the ring never does. */
#ifndef VMM_QEMU_OUTPUT_H
#define VMM_QEMU_OUTPUT_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

#define QEMU_OUTPUT_KEEP 4096

struct qemu_output;

/* The pipe and its reader; *write_fd (close-on-exec) is for the child's stdout and stderr,
 * and the caller closes it once the child has it. 0, or -BOXLITE_ERR_* with err set. */
int qemu_output_open(struct qemu_output **out, int *write_fd, struct bl_error *err);
/* The last bytes read, at most out_len - 1 of them, trailing line ends dropped and the
 * others made spaces (one line for a message). "" when nothing came. Any thread. */
void qemu_output_tail(struct qemu_output *o, char *out, size_t out_len);
/* What the ring holds now, and all bytes read so far (tests, figures). */
void qemu_output_counts(struct qemu_output *o, size_t *kept, uint64_t *total);
/* Stops the reader (whether or not the writers are gone) and frees. NULL-safe. */
void qemu_output_free(struct qemu_output *o);

#endif
