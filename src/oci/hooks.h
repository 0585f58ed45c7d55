// SPDX-License-Identifier: Apache-2.0
/* The host side of config.json's hooks (runtime-spec config.md "POSIX-platform Hooks",
 * runtime.md "Lifecycle"): a hook is a program run with the container's state JSON on its
 * stdin, which must exit 0 within its timeout. Which stage runs where, and what a failure
 * does, is the caller's (oci/): docs/oci-runtime.md "Hooks". */
#ifndef BOXLITE_OCI_HOOKS_H
#define BOXLITE_OCI_HOOKS_H

#include "common/error.h"
#include "oci/spec.h"

/* The most of a hook's output (stdout and stderr together) kept for its error message. */
#define OCI_HOOK_OUTPUT_MAX 1024

/* Runs one hook and waits for it: stdin = state (len bytes; a hook that does not read it
 * is fine), stdout and stderr captured; with a timeout, killed (SIGKILL) once it has run
 * that long. 0 when it exits 0; else an error saying how it ended ("exit status 3",
 * "killed by signal 9", "ran past its timeout of 2 s") with the start of its output. */
int oci_hook_run(const struct oci_hook *h, const char *state, size_t len, struct bl_error *err);

/* Runs the hooks of one stage in order, stopping at the first that fails (its error
 * prefixed with "STAGE hook #I (PATH)"). */
int oci_hooks_run(const struct oci_spec *s, enum oci_hook_stage stage, const char *state,
                  struct bl_error *err);

#endif
