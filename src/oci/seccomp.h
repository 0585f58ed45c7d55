// SPDX-License-Identifier: Apache-2.0
/* linux.seccomp (runtime-spec config-linux.md "Seccomp") compiled on the host, as runc
 * compiles it, with libseccomp into a classic BPF program for the guest's architecture
 * (the host's: a box runs the host's architecture). The agent installs that program in
 * the container's process (EXEC SECCOMP, docs/protocol.md); no libseccomp in the guest. */
#ifndef BOXLITE_OCI_SECCOMP_H
#define BOXLITE_OCI_SECCOMP_H

#include "common/error.h"

#include <stddef.h>

struct json_t;

#define OCI_SECCOMP_MAX_RULES 4096 /* syscalls[] entries, and names in one entry */

struct oci_seccomp {
    unsigned char *bpf; /* struct sock_filter[], 8 bytes each, at most
                         * BOXLITE_SECCOMP_MAX_INSNS (BPF_MAXINSNS); NULL = no filter */
    size_t len;         /* bytes */
    unsigned flags;     /* BOXLITE_SECCOMP_* */
    size_t skipped;     /* syscall names libseccomp does not know (skipped, as runc does) */
    char first_skipped[64];
};

/* Compiles a linux.seccomp object. NULL or JSON null = no filter (len 0). An unknown
 * action, operator, architecture or flag, or a notify action (no seccomp agent here), is
 * refused naming its field. */
int oci_seccomp_compile(struct json_t *v, struct oci_seccomp *out, struct bl_error *err);
/* The same from text (tests, fuzzing). */
int oci_seccomp_parse(const char *json, size_t len, struct oci_seccomp *out,
                      struct bl_error *err);
void oci_seccomp_free(struct oci_seccomp *s);
/* features.md's linux.seccomp object for this runtime (one line of JSON, static). */
const char *oci_seccomp_features(void);

#endif
