// SPDX-License-Identifier: Apache-2.0
/* A box's folder and the files in it, named in one place: <home>/boxes/<id>/<file>. The
 * library writes and reads them; the per-box process is handed their paths in vmm.json. */
#ifndef BL_BOXPATH_H
#define BL_BOXPATH_H

#include <stddef.h>

enum box_file {
    BOX_DISK,        /* disk.qcow2: the box's overlay over its image's base */
    BOX_VMM_JSON,    /* vmm.json: the per-box process's config */
    BOX_VMM_LOG,     /* vmm.log: the per-box process's stderr (rotated: vmm.log.1 ...) */
    BOX_CONSOLE_LOG, /* console.log: the guest's serial console (rotated likewise) */
    BOX_EXIT_JSON,   /* exit.json: the post-mortem record */
    BOX_SOCKET,      /* box.sock: the box socket (rt_box_socket_path may move it to /tmp) */
    BOX_READY,       /* ready: names the folder in vmm.json's ready_file; never written */
    BOX_CONSOLE_KVM, /* console-kvm.log: a KVM attempt's console, kept by the fallback */
    BOX_EXIT_KVM,    /* exit-kvm.json: a KVM attempt's record, likewise */
    BOX_MEMORY,       /* memory: the guest's RAM, mapped shared by QEMU (src/runtime/pause.c) */
    BOX_MEMORY_STATE, /* memory.state: a paused box's device state (and RAM not in a file) */
    BOX_MEMORY_BASE,  /* memory.base: frozen RAM of a fork, mapped privately, hard-linked */
    BOX_IDENTITY,     /* identity.json: a fork's new identity, sent to the agent at resume */
};

/* The file's name alone ("vmm.log"). */
const char *box_file_name(enum box_file f);
/* <box_dir>/<name>, or <box_dir>/<name>.<rotation> when rotation > 0 (a rotated log's
 * older files). Returns 0, or -1 when it does not fit in len (out is then truncated). */
int box_file_path(char *out, size_t len, const char *box_dir, enum box_file f, int rotation);
/* <home>/boxes/<id>, or -1 when it does not fit. */
int box_dir_path(char *out, size_t len, const char *home, const char *id);

#endif
