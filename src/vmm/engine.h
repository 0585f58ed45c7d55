// SPDX-License-Identifier: Apache-2.0
/* An engine runs one box's VM for the per-box process (src/vmm/main.c): the KVM engine
 * (ours, src/vmm/kvm/) or the QEMU engine (src/vmm/qemu/). Both boot the same kernel,
 * initramfs and disks and hand the per-box process the same thing: a byte stream to the
 * agent's virtio-console port "boxlite.agent". */
#ifndef VMM_ENGINE_H
#define VMM_ENGINE_H

#include "common/error.h"
#include "vmm/config.h"

#include <stdbool.h>
#include <stdint.h>

struct engine;

struct engine_exit {
    bool powered_off;   /* the guest shut down (agent power-off, reboot, panic) */
    bool killed;        /* stopped by engine_ops.stop(force) */
    bool paused;        /* ended by engine_ops.pause: its state is saved */
    int guest_status;   /* exit status the agent reported through the control page, or -1 */
    char reason[256];   /* human-readable, e.g. "guest powered off", "KVM_EXIT_INTERNAL_ERROR" */
};

struct engine_stats {
    uint64_t net_rx_bytes, net_tx_bytes; /* guest's view: rx = into the guest */
    uint64_t net_connections;            /* host port-forward + outbound connections */
    uint64_t net_allowed, net_denied;    /* connection attempts the network policy let
                                          * through / refused (src/vmm/net/policy.h) */
    uint64_t vm_exits;                   /* KVM engine only; 0 otherwise */
    double start_to_first_run_ms;        /* process start to first KVM_RUN / QEMU launched */
    double start_to_ready_ms;            /* process start to the guest's ready mark, or 0 */
    uint64_t cpu_user_us, cpu_sys_us;    /* the engine's own CPU (VMM or QEMU process) */
    uint64_t rss_bytes;                  /* the engine's resident memory */
    /* The CPU the guest sees: the KVM engine's template (arch.h), or QEMU's model as
     * "qemu:host" / "qemu:max"; static, NULL until known. */
    const char *cpu_template;
    /* Guest memory (docs/protocol.md "Balloon"; 0 where the engine cannot know it): the
     * balloon's target and what it leaves the guest now (MiB), bytes of guest RAM given back
     * to the host since the start, guest RAM resident on the host now, and the resident
     * memory of this process plus the engine's own processes (QEMU), guest RAM included. */
    uint32_t balloon_target_mib, balloon_actual_mib;
    uint64_t mem_returned_bytes, guest_resident_bytes, host_rss_bytes;
};

enum engine_pause_shares {
    PAUSE_SHARES_REFUSED,   /* a box with volumes cannot be paused */
    PAUSE_SHARES_UNMOUNTED, /* once the guest has unmounted them (the host asks the agent:
                             * VOLUMES) and mounts them after the resume */
    PAUSE_SHARES_KEPT,      /* mounted: the engine saves the 9P sessions with the VM */
};

struct engine_ops {
    const char *name; /* "kvm", "qemu" */
    /* Whether this engine can run here; if not, why (for the "no engine" error). */
    bool (*available)(char *why, size_t why_len);
    /* Boots the VM and returns once it runs. */
    int (*start)(struct engine **out, const struct vmm_config *cfg, struct bl_error *err);
    /* Non-blocking fd carrying the agent's byte stream; owned by the engine. -1 until the
     * channel exists (then it becomes readable/writable). */
    int (*agent_fd)(struct engine *e);
    /* force=false: ask the guest to power off (the per-box process normally asks the agent
     * first); force=true: end the VM now. */
    int (*stop)(struct engine *e, bool force, struct bl_error *err);
    /* Blocks until the VM has ended. */
    int (*wait)(struct engine *e, struct engine_exit *out);
    int (*stats)(struct engine *e, struct engine_stats *out);
    /* The host port bound for the config's port forward i (0 when none). */
    int (*host_port)(struct engine *e, unsigned i);
    void (*destroy)(struct engine *e); /* NULL-safe */
    /* Saves the guest's memory and device state to state_path and ends the VM (its exit
     * then says "paused"); on failure the VM runs on. NULL: the engine cannot. */
    int (*pause)(struct engine *e, const char *state_path, struct bl_error *err);
    /* What pause does with a box's 9p volumes (a shared rootfs is always refused). */
    enum engine_pause_shares pause_shares;
    /* Sets the balloon's target: the guest memory the guest may keep, MiB (0 = none: the
     * balloon deflates); the guest follows on its own time. The range is checked by the
     * caller (VMM_BALLOON_MIN_MIB..memory_mib). NULL: the engine has no balloon. */
    int (*balloon)(struct engine *e, uint32_t target_mib, struct bl_error *err);
    /* A diagnostic for the log: the hypervisor's own counters (exits, page faults,
     * mappings) since the last mark, or since the VM started or was restored, with `what`
     * (e.g. "the agent's HELLO") naming the moment. On the mux's thread. NULL, or nothing
     * logged, where the engine or the host keeps none. */
    void (*mark)(struct engine *e, const char *what);
};

/* "Process start" for the figures (CLOCK_MONOTONIC ns): BOXLITE_SPAWN_NS, the moment the
 * parent (the library, a benchmark) spawned us, when it says so; else the moment before
 * main() ran, which misses only the exec and the dynamic loader's work. The jail's set-up
 * (src/vmm/jail/) counts: its VMM process is a child of the one that was spawned. */
uint64_t engine_start_ns(void);
double engine_ms_since_start(void);

extern const struct engine_ops engine_kvm_ops;
extern const struct engine_ops engine_qemu_ops;

/* "kvm" when /dev/kvm works and the CPU has vmx or svm; else "qemu" (TCG, with a one-line
 * notice in `notice`); an explicit name wins. NULL with err set when nothing can run. */
const struct engine_ops *engine_select(const char *requested, char *notice, size_t notice_len,
                                       struct bl_error *err);

#endif
