// SPDX-License-Identifier: Apache-2.0
/* The control protocol on the box socket (docs/protocol.md, "The box socket's control
 * frames"): between the library and the per-box process, never the agent. A client that
 * puts CONTROL(7) in its HELLO may ask STATUS (what the box is doing: state, engine, timings,
 * host ports bound, figures, health) and is sent EXIT when the box ends (why, how, the final
 * figures). The per-box process's HELLO carries CONTROL too, so a client knows before asking
 * whether the process speaks it (one older than it does not: the client says so at once).
 * libc only, like proto.h. */
#ifndef PROTO_CONTROL_H
#define PROTO_CONTROL_H

#include "proto/proto.h"

#define PROTO_CONTROL_VERSION 1
#define PROTO_MAX_PORTS 64

/* The engine's figures, in both STATUS and EXIT. Times are microseconds since the per-box
 * process was spawned (0 = not yet). */
struct proto_figures {
    char engine[16];        /* ENGINE(81): "kvm", "qemu" */
    char cpu_template[32];  /* CPU_TEMPLATE(82): what the guest sees */
    uint64_t first_run_us;  /* FIRST_RUN_US(86): first KVM_RUN / QEMU launched */
    uint64_t ready_us;      /* READY_US(87): the agent's HELLO reached the mux */
    uint64_t vm_exits, cpu_user_us, cpu_sys_us, rss_bytes;
    uint64_t net_rx, net_tx, net_conns, net_allowed, net_denied;
    /* guest memory (docs/protocol.md "Balloon"; 0 = unknown): BALLOON_TARGET_MIB(110),
     * BALLOON_ACTUAL_MIB(111), MEM_RETURNED_BYTES(112), GUEST_RESIDENT_BYTES(113),
     * HOST_RSS_BYTES(114) */
    uint64_t balloon_target_mib, balloon_actual_mib, mem_returned, guest_resident, host_rss;
};

/* PAUSE_SHARES(181), in STATUS and in a pause's EXIT (docs/protocol.md "Pause"): what the
 * engine's pause does with the box's 9p volumes, so that the library knows whether to have
 * the agent unmount them before a PAUSE and mount them after the resume. UNSAID: the field
 * is absent (a per-box process older than it, which needs them unmounted) or holds a value
 * this side does not know; both read as UNMOUNTED, the way that works on every engine. */
enum proto_pause_shares {
    PROTO_SHARES_UNSAID = 0,
    PROTO_SHARES_REFUSED = 1,   /* a box with volumes cannot be paused */
    PROTO_SHARES_UNMOUNTED = 2, /* only once the agent unmounted them (VOLUMES) */
    PROTO_SHARES_KEPT = 3,      /* mounted: the engine saves the 9P sessions with the VM */
};

/* STATUS reply. */
struct proto_status {
    char state[16];         /* STATE(80): "starting", "running", "stopping" */
    struct proto_figures fig;
    uint64_t agent_boot_ms; /* AGENT_BOOT_MS(97): the agent's uptime at its HELLO */
    char notice[512];       /* NOTICE(83): the engine choice in words, for the user; may be "" */
    uint32_t host_ports[PROTO_MAX_PORTS]; /* HOST_PORT(84), repeated, in the config's order */
    unsigned nports;
    char *health;           /* HEALTH(85): the health check's state as JSON, or NULL */
    uint64_t restarts;      /* RESTART_COUNT(108): the main process's restarts so far */
    uint64_t idle_ms;       /* IDLE_MS(115): how long no request has been open on the box
                             * socket (since the last one ended); 0 while one is open or
                             * before the first (the mux fills it, docs/protocol.md) */
    enum proto_pause_shares pause_shares; /* PAUSE_SHARES(181) */
};
void proto_status_encode(const struct proto_status *s, struct tlv_writer *w);
int proto_status_decode(struct proto_status *s, const void *p, size_t len, struct bl_error *err);
void proto_status_free(struct proto_status *s); /* frees health; NULL-safe */

/* EXIT body: the same account exit.json keeps for whoever comes later. */
struct proto_exit {
    char reason[256];       /* REASON(100): what the engine saw ("guest powered off") */
    char stop_reason[512];  /* STOP_REASON(101): the most telling reason (docs) */
    bool requested;         /* REQUESTED(102): a stop the host asked for */
    bool powered_off, killed, engine_failed; /* 104, 105, 106 */
    int64_t guest_status;   /* GUEST_STATUS(103): the agent's status via the control page, -1 */
    bool has_exit_code;     /* EXIT_CODE(30) present: the container's main or init ended */
    int64_t exit_code, signo; /* EXIT_CODE(30) (128+N for a signal), SIGNO(31) */
    bool oom_killed;        /* OOM(72) */
    int32_t start_error;    /* START_ERROR(107): the engine failed to start (a boxlite_code) */
    uint64_t restarts;      /* RESTART_COUNT(108): the main process's restarts in this run */
    bool paused;            /* PAUSED(109): the box ended paused: its memory and device state
                             * are saved in its folder (docs/protocol.md, PAUSE) */
    enum proto_pause_shares pause_shares; /* PAUSE_SHARES(181): a pause's, as in STATUS */
    struct proto_figures fig;
};
void proto_exit_encode(const struct proto_exit *x, struct tlv_writer *w);
int proto_exit_decode(struct proto_exit *x, const void *p, size_t len, struct bl_error *err);

/* BALLOON (docs/protocol.md "Balloon"): the request's and the reply's body. The request's
 * target is required; the reply adds what the engine last saw. */
void proto_balloon_encode(uint64_t target_mib, uint64_t actual_mib, bool reply,
                          struct tlv_writer *w);
int proto_balloon_decode(const void *p, size_t len, uint64_t *target_mib, uint64_t *actual_mib,
                         struct bl_error *err);

/* HOLD (docs/protocol.md "Pause"): request and reply carry HOLD(180), required, 0 or 1. */
void proto_hold_encode(bool hold, struct tlv_writer *w);
int proto_hold_decode(const void *p, size_t len, bool *hold, struct bl_error *err);

#endif
