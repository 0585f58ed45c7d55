// SPDX-License-Identifier: Apache-2.0
/* Internals of the QEMU engine (engine_qemu_ops in qemu.c), apart so the tests can reach
 * them: the command line and the agent channel relay. The network is not QEMU's: its frames
 * come to this process over a socket (src/vmm/net/link.h) and meet the same stack, policy
 * and counters as the KVM engine's (src/vmm/net/boxnet.h). */
#ifndef VMM_QEMU_QEMU_H
#define VMM_QEMU_QEMU_H

#include "common/error.h"
#include "common/guest_abi.h"
#include "vmm/config.h"
#include "vmm/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The binary: the one qemu_use_binary() named (vmm.json's qemu_binary, --qemu), else
 * $BOXLITE_QEMU if set, else qemu-system-x86_64 on $PATH. Fills path (or why it cannot be
 * found) and returns whether it exists and is executable. */
bool qemu_find_binary(char *path, size_t path_len, char *why, size_t why_len);
/* Names the binary for this process (NULL or "": back to the environment and $PATH). */
void qemu_use_binary(const char *path);
/* Whether QEMU may use KVM acceleration here: /dev/kvm opens and the CPU reports vmx or svm
 * (this project's machines have a /dev/kvm that cannot run Linux user space). */
bool qemu_hw_virt_usable(void);

/* What the engine hands QEMU besides the config. */
struct qemu_launch {
    const char *binary;
    bool kvm;            /* -accel kvm -cpu host, else -accel tcg -cpu max */
    int qmp_fd;          /* fd numbers as QEMU sees them: connected stream sockets */
    int agent_fd;
    int net_fd;          /* a SOCK_DGRAM socket for -netdev dgram, or -1 (no network) */
    int console_fd;      /* the serial console's pipe (>= 3), or 0/-1: the config's console_log */
    const struct qemu_machine *machine; /* NULL: the config's arch (qemu_machine_for) */
};

/* The guest command line the engine always passes ahead of the config's own (console=
 * comes first: the machine's, "console=ttyS0 " on x86_64, then the machine's own words,
 * "no_timer_check " there: machine.c); the density words (guest_abi.h:
 * free page reporting's order, there with the balloon or without it (then it sets nothing),
 * and no legacy ptys). */
#define QEMU_GUEST_CMDLINE_REST                                                               \
    "reboot=t panic=-1 quiet boxlite.engine=qemu " GUEST_DENSITY_ARGS
#define QEMU_GUEST_CMDLINE "console=ttyS0 no_timer_check " QEMU_GUEST_CMDLINE_REST

/* A NULL-terminated argv, every string malloc'd; free with qemu_argv_free(). */
int qemu_build_argv(const struct vmm_config *cfg, const struct qemu_launch *l, char ***argv,
                    struct bl_error *err);
void qemu_argv_free(char **argv);
/* microvm's virtio-mmio transports (QEMU hw/i386/microvm.c VIRTIO_NUM_TRANSPORTS), and how
 * many the box's devices take before the balloon. */
#define QEMU_MICROVM_TRANSPORTS 8
unsigned qemu_virtio_devices(const struct vmm_config *cfg, const struct qemu_launch *l);
/* "qcow2" when the file starts with the qcow2 magic, else "raw" (QEMU is never left to
 * probe: a raw image could pretend to be anything). */
int qemu_disk_format(const char *path, const char **format, struct bl_error *err);

/* The agent channel relay (relay.c): copies between QEMU's socket (qemu_fd, taken over)
 * and a new non-blocking socket returned in *client_fd (the engine's agent_fd), calling
 * on_hello from its thread when the guest's first frame is a protocol HELLO. */
struct relay;
int relay_start(struct relay **out, int qemu_fd, int *client_fd, void (*on_hello)(void *),
                void *arg, struct bl_error *err);
bool relay_hello_seen(struct relay *r);
void relay_stop(struct relay *r); /* NULL-safe; closes qemu_fd, not client_fd */

/* Memory snapshots (migrate.c): the VM stopped and its device state (and RAM not in a
 * shared file) written to state_fd; on failure the VM runs on. And the other way, on a QEMU
 * started with -incoming defer (stays stopped: the caller says "cont"). */
struct qmp;
/* What the state file keeps beside QEMU's stream (its header: migrate.c). */
struct qemu_saved {
    uint32_t balloon_target_mib; /* the target when the box paused (0 = none) */
};
int qemu_migrate_out(struct qmp *q, int state_fd, const struct qemu_saved *s,
                     struct bl_error *err);
/* *known: false for a state saved before the header (*s is then zero). */
int qemu_migrate_in(struct qmp *q, int state_fd, struct qemu_saved *s, bool *known,
                    struct bl_error *err);
/* The header alone, at fd's offset (for the unit tests and the fuzz target): read gives 1
 * with *s filled and the offset past it, 0 for a bare QEMU stream (the offset back at 0),
 * or <0 with err set for anything else. */
int qemu_state_header_write(int fd, const struct qemu_saved *s, struct bl_error *err);
int qemu_state_header_read(int fd, struct qemu_saved *s, struct bl_error *err);
/* Creates the RAM file (0600) with its room reserved (blocks allocated; on tmpfs, checked);
 * on failure removes it and says why. */
int qemu_memory_reserve(const char *path, uint64_t bytes, struct bl_error *err);

/* QEMU's process id (tests, diagnostics). */
int engine_qemu_pid(struct engine *e);
/* QMP query-status: "running", "paused", ... into buf. */
int engine_qemu_status(struct engine *e, char *buf, size_t len, struct bl_error *err);

/* The machine for a box's architecture (machine.c): "x86_64" or "aarch64" (the OCI names
 * "amd64", "arm64" too); NULL or "": the host's. NULL for an architecture QEMU cannot
 * give a box here. */
struct qemu_machine {
    const char *arch;      /* uname's machine name, as vmm.json's "arch" */
    const char *binary;    /* qemu-system-<arch> */
    const char *package;   /* Debian's package with the binary, for messages */
    const char *machine;   /* -M, before the engine's own properties */
    const char *console;   /* the guest's serial console device */
    const char *words;     /* the machine's own guest command-line words ("" for none) */
    unsigned transports;   /* virtio-mmio transports the machine has */
    bool disks_reversed;   /* disks go last-first on the command line (machine.c) */
    bool resume_without_kernel; /* a resume's QEMU is given no kernel (cmdline.c) */
};
const struct qemu_machine *qemu_machine_for(const char *arch);
/* Whether the machine is the host's own architecture (KVM acceleration possible). */
bool qemu_machine_is_host(const struct qemu_machine *m);
/* The box's architecture for this process (vmm.json's "arch"; NULL: the host's), like
 * qemu_use_binary: set before any engine is chosen. qemu_find_binary then looks for that
 * architecture's qemu-system binary (next to a configured one, else on $PATH). */
void qemu_use_arch(const char *arch);
/* The machine qemu_use_arch chose (never NULL: an unknown arch is refused by config.c). */
const struct qemu_machine *qemu_machine(void);

#endif
