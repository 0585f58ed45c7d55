// SPDX-License-Identifier: Apache-2.0
/* STATUS and EXIT bodies (control.h, docs/protocol.md). Decoding follows the TLV rules of
 * every body: unknown tags skipped (a newer peer may add fields), integers exactly 8 bytes,
 * strings without NUL and cut to their field. */
#include "proto/control.h"

#include <stdlib.h>
#include <string.h>

static void figures_encode(const struct proto_figures *f, struct tlv_writer *w)
{
    if (f->engine[0])
        tlv_str(w, T_ENGINE, f->engine);
    if (f->cpu_template[0])
        tlv_str(w, T_CPU_TEMPLATE, f->cpu_template);
    tlv_u64(w, T_FIRST_RUN_US, f->first_run_us);
    tlv_u64(w, T_READY_US, f->ready_us);
    tlv_u64(w, T_VM_EXITS, f->vm_exits);
    tlv_u64(w, T_CPU_USER_US, f->cpu_user_us);
    tlv_u64(w, T_CPU_SYS_US, f->cpu_sys_us);
    tlv_u64(w, T_RSS_BYTES, f->rss_bytes);
    tlv_u64(w, T_NET_RX, f->net_rx);
    tlv_u64(w, T_NET_TX, f->net_tx);
    tlv_u64(w, T_NET_CONNS, f->net_conns);
    tlv_u64(w, T_NET_ALLOWED, f->net_allowed);
    tlv_u64(w, T_NET_DENIED, f->net_denied);
    tlv_u64(w, T_BALLOON_TARGET_MIB, f->balloon_target_mib);
    tlv_u64(w, T_BALLOON_ACTUAL_MIB, f->balloon_actual_mib);
    tlv_u64(w, T_MEM_RETURNED_BYTES, f->mem_returned);
    tlv_u64(w, T_GUEST_RESIDENT_BYTES, f->guest_resident);
    tlv_u64(w, T_HOST_RSS_BYTES, f->host_rss);
}

/* 1 when the field was one of the figures (decoded into f), 0 when not, negative on error. */
static int figures_field(struct proto_figures *fig, const struct tlv_field *f,
                         struct bl_error *err)
{
    uint64_t *slot;
    switch (f->tag) {
    case T_ENGINE: return tlv_get_str_buf(f, fig->engine, sizeof fig->engine, err) < 0 ? -1 : 1;
    case T_CPU_TEMPLATE:
        return tlv_get_str_buf(f, fig->cpu_template, sizeof fig->cpu_template, err) < 0 ? -1 : 1;
    case T_FIRST_RUN_US: slot = &fig->first_run_us; break;
    case T_READY_US: slot = &fig->ready_us; break;
    case T_VM_EXITS: slot = &fig->vm_exits; break;
    case T_CPU_USER_US: slot = &fig->cpu_user_us; break;
    case T_CPU_SYS_US: slot = &fig->cpu_sys_us; break;
    case T_RSS_BYTES: slot = &fig->rss_bytes; break;
    case T_NET_RX: slot = &fig->net_rx; break;
    case T_NET_TX: slot = &fig->net_tx; break;
    case T_NET_CONNS: slot = &fig->net_conns; break;
    case T_NET_ALLOWED: slot = &fig->net_allowed; break;
    case T_NET_DENIED: slot = &fig->net_denied; break;
    case T_BALLOON_TARGET_MIB: slot = &fig->balloon_target_mib; break;
    case T_BALLOON_ACTUAL_MIB: slot = &fig->balloon_actual_mib; break;
    case T_MEM_RETURNED_BYTES: slot = &fig->mem_returned; break;
    case T_GUEST_RESIDENT_BYTES: slot = &fig->guest_resident; break;
    case T_HOST_RSS_BYTES: slot = &fig->host_rss; break;
    default: return 0;
    }
    return tlv_get_u64(f, slot, err) < 0 ? -1 : 1;
}

static void pause_shares_encode(enum proto_pause_shares v, struct tlv_writer *w)
{
    if (v != PROTO_SHARES_UNSAID)
        tlv_u64(w, T_PAUSE_SHARES, (uint64_t)v);
}

/* A value this side does not know (a newer peer's) reads as UNSAID: the library then has
 * the volumes unmounted, which every engine accepts. */
static int pause_shares_decode(const struct tlv_field *f, enum proto_pause_shares *out,
                               struct bl_error *err)
{
    uint64_t v = 0;
    int rc = tlv_get_u64(f, &v, err);
    if (rc < 0)
        return rc;
    *out = v >= PROTO_SHARES_REFUSED && v <= PROTO_SHARES_KEPT ? (enum proto_pause_shares)v
                                                                  : PROTO_SHARES_UNSAID;
    return 0;
}

void proto_status_encode(const struct proto_status *s, struct tlv_writer *w)
{
    tlv_init(w);
    tlv_str(w, T_STATE, s->state);
    figures_encode(&s->fig, w);
    tlv_u64(w, T_AGENT_BOOT_MS, s->agent_boot_ms);
    if (s->notice[0])
        tlv_str(w, T_NOTICE, s->notice);
    for (unsigned i = 0; i < s->nports && i < PROTO_MAX_PORTS; i++)
        tlv_u64(w, T_HOST_PORT, s->host_ports[i]);
    /* a health record too long for the frame is left out rather than sent cut */
    if (s->health && strlen(s->health) < PROTO_MAX_PAYLOAD / 2)
        tlv_str(w, T_HEALTH, s->health);
    if (s->restarts)
        tlv_u64(w, T_RESTART_COUNT, s->restarts);
    if (s->idle_ms)
        tlv_u64(w, T_IDLE_MS, s->idle_ms);
    pause_shares_encode(s->pause_shares, w);
}

void proto_status_free(struct proto_status *s)
{
    if (!s)
        return;
    free(s->health);
    s->health = NULL;
}

int proto_status_decode(struct proto_status *s, const void *p, size_t len, struct bl_error *err)
{
    memset(s, 0, sizeof *s);
    struct tlv_iter it;
    struct tlv_field f;
    int rc;
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, err)) > 0) {
        uint64_t v = 0;
        rc = figures_field(&s->fig, &f, err);
        if (rc != 0)
            goto next;
        switch (f.tag) {
        case T_STATE: rc = tlv_get_str_buf(&f, s->state, sizeof s->state, err); break;
        case T_NOTICE: rc = tlv_get_str_buf(&f, s->notice, sizeof s->notice, err); break;
        case T_AGENT_BOOT_MS: rc = tlv_get_u64(&f, &s->agent_boot_ms, err); break;
        case T_RESTART_COUNT: rc = tlv_get_u64(&f, &s->restarts, err); break;
        case T_IDLE_MS: rc = tlv_get_u64(&f, &s->idle_ms, err); break;
        case T_PAUSE_SHARES: rc = pause_shares_decode(&f, &s->pause_shares, err); break;
        case T_HOST_PORT:
            if ((rc = tlv_get_u64(&f, &v, err)) < 0)
                break;
            if (s->nports >= PROTO_MAX_PORTS || v > 65535)
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "STATUS: bad HOST_PORT (%llu, entry %u)",
                            (unsigned long long)v, s->nports);
            else
                s->host_ports[s->nports++] = (uint32_t)v;
            break;
        case T_HEALTH:
            free(s->health);
            s->health = NULL;
            rc = tlv_get_str(&f, &s->health, err);
            break;
        default: break;
        }
    next:
        if (rc < 0) {
            proto_status_free(s);
            return rc;
        }
    }
    if (rc < 0) {
        proto_status_free(s);
        return rc;
    }
    if (!s->state[0]) {
        proto_status_free(s);
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "STATUS without a state");
    }
    return 0;
}

void proto_exit_encode(const struct proto_exit *x, struct tlv_writer *w)
{
    tlv_init(w);
    tlv_str(w, T_REASON, x->reason);
    tlv_str(w, T_STOP_REASON, x->stop_reason);
    tlv_u64(w, T_REQUESTED, x->requested);
    tlv_u64(w, T_POWERED_OFF, x->powered_off);
    tlv_u64(w, T_KILLED, x->killed);
    tlv_u64(w, T_ENGINE_FAILED, x->engine_failed);
    tlv_u64(w, T_GUEST_STATUS, (uint64_t)x->guest_status);
    if (x->has_exit_code) {
        tlv_u64(w, T_EXIT_CODE, (uint64_t)x->exit_code);
        tlv_u64(w, T_SIGNO, (uint64_t)x->signo);
        tlv_u64(w, T_OOM, x->oom_killed);
    }
    tlv_u64(w, T_START_ERROR, (uint64_t)(int64_t)x->start_error);
    if (x->restarts)
        tlv_u64(w, T_RESTART_COUNT, x->restarts);
    if (x->paused)
        tlv_u64(w, T_PAUSED, 1);
    pause_shares_encode(x->pause_shares, w);
    figures_encode(&x->fig, w);
}

int proto_exit_decode(struct proto_exit *x, const void *p, size_t len, struct bl_error *err)
{
    memset(x, 0, sizeof *x);
    x->guest_status = -1;
    bool have_reason = false;
    struct tlv_iter it;
    struct tlv_field f;
    int rc;
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, err)) > 0) {
        uint64_t v = 0;
        rc = figures_field(&x->fig, &f, err);
        if (rc != 0) {
            if (rc < 0)
                return rc;
            continue;
        }
        switch (f.tag) {
        case T_REASON: rc = tlv_get_str_buf(&f, x->reason, sizeof x->reason, err); break;
        case T_STOP_REASON:
            rc = tlv_get_str_buf(&f, x->stop_reason, sizeof x->stop_reason, err);
            have_reason = true;
            break;
        case T_REQUESTED: rc = tlv_get_u64(&f, &v, err); x->requested = v != 0; break;
        case T_POWERED_OFF: rc = tlv_get_u64(&f, &v, err); x->powered_off = v != 0; break;
        case T_KILLED: rc = tlv_get_u64(&f, &v, err); x->killed = v != 0; break;
        case T_PAUSED: rc = tlv_get_u64(&f, &v, err); x->paused = v != 0; break;
        case T_ENGINE_FAILED: rc = tlv_get_u64(&f, &v, err); x->engine_failed = v != 0; break;
        case T_GUEST_STATUS: rc = tlv_get_u64(&f, &v, err); x->guest_status = (int64_t)v; break;
        case T_EXIT_CODE:
            rc = tlv_get_u64(&f, &v, err);
            x->exit_code = (int64_t)v;
            x->has_exit_code = true;
            break;
        case T_SIGNO: rc = tlv_get_u64(&f, &v, err); x->signo = (int64_t)v; break;
        case T_OOM: rc = tlv_get_u64(&f, &v, err); x->oom_killed = v != 0; break;
        case T_RESTART_COUNT: rc = tlv_get_u64(&f, &x->restarts, err); break;
        case T_PAUSE_SHARES: rc = pause_shares_decode(&f, &x->pause_shares, err); break;
        case T_START_ERROR:
            rc = tlv_get_u64(&f, &v, err);
            /* a boxlite_code: small and positive; anything else is not one */
            if (rc == 0 && (int64_t)v >= 0 && (int64_t)v < 1000)
                x->start_error = (int32_t)v;
            else if (rc == 0)
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "EXIT: START_ERROR %lld is no code",
                            (long long)(int64_t)v);
            break;
        default: break;
        }
        if (rc < 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    if (!have_reason || !x->stop_reason[0])
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "EXIT without a stop reason");
    return 0;
}

void proto_balloon_encode(uint64_t target_mib, uint64_t actual_mib, bool reply,
                          struct tlv_writer *w)
{
    tlv_init(w);
    tlv_u64(w, T_BALLOON_TARGET_MIB, target_mib);
    if (reply)
        tlv_u64(w, T_BALLOON_ACTUAL_MIB, actual_mib);
}

int proto_balloon_decode(const void *p, size_t len, uint64_t *target_mib, uint64_t *actual_mib,
                         struct bl_error *err)
{
    struct tlv_iter it;
    struct tlv_field f;
    bool have = false;
    int rc;
    *target_mib = 0;
    if (actual_mib)
        *actual_mib = 0;
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, err)) > 0) {
        if (f.tag == T_BALLOON_TARGET_MIB) {
            if (tlv_get_u64(&f, target_mib, err) < 0)
                return -err->code;
            have = true;
        } else if (f.tag == T_BALLOON_ACTUAL_MIB && actual_mib &&
                   tlv_get_u64(&f, actual_mib, err) < 0) {
            return -err->code;
        }
    }
    if (rc < 0)
        return rc;
    if (!have)
        return bl_err(err, BOXLITE_ERR_INVALID, "BALLOON without a target (BALLOON_TARGET_MIB)");
    return 0;
}

void proto_hold_encode(bool hold, struct tlv_writer *w)
{
    tlv_init(w);
    tlv_u64(w, T_HOLD, hold);
}

int proto_hold_decode(const void *p, size_t len, bool *hold, struct bl_error *err)
{
    struct tlv_iter it;
    struct tlv_field f;
    uint64_t v = 2;
    int rc;
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, err)) > 0)
        if (f.tag == T_HOLD && tlv_get_u64(&f, &v, err) < 0)
            return -err->code;
    if (rc < 0)
        return rc;
    if (v > 1)
        return bl_err(err, BOXLITE_ERR_INVALID, "HOLD without HOLD(180) = 0 or 1");
    *hold = v == 1;
    return 0;
}
