// SPDX-License-Identifier: Apache-2.0
/* The per-box multiplexer (mux.h): clients' channels remapped onto the agent stream. */
#include "proto/mux.h"

#include "common/clock.h"
#include "proto/client.h"
#include "proto/control.h"
#include "proto/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MUX_CHANNEL 0xffffffffu          /* the mux's own requests (SHUTDOWN) */
#define MUX_REMOUNT_CHANNEL 0xfffffffeu  /* VOLUMES mount, for a holder that died (HOLD) */
/* A PING answered promises a request soon (rt_box_conn sends it next): for this long it
 * counts as one on its way, which no hold may overtake (docs/protocol.md "Pause"). */
#define PING_PROMISE_MS 2000
#define AGENT_HIGH_WATER (1u << 20)      /* stop reading clients while this waits for the agent */
#define CLIENT_LIMIT (256u << 20)        /* a client queue beyond this broke flow control */

struct mclient {
    struct mclient *next;
    int fd;
    struct proto_reader *rd;
    struct proto_buf out;
    bool hello_pending, dead;
    bool control; /* its HELLO had CONTROL: it may ask STATUS and is sent EXIT */
    bool pauser;  /* the pause's own client (proto_mux_dial_pauser): not held back */
    unsigned promised;  /* PINGs answered that no request followed yet */
    uint64_t ping_ms;   /* mono_ms of the last of them */
};

struct route {
    struct route *next;
    uint32_t agent_ch, client_ch;
    struct mclient *cl;
    uint16_t type; /* of the request that opened it */
};

struct proto_mux {
    pthread_mutex_t lock;
    int listen_fd, agent_fd, wake_r, wake_w;
    struct proto_mux_events ev;
    struct proto_reader *rd;
    struct proto_buf out;
    uint8_t hello[1024 + 24]; /* the agent's HELLO body, then our CONTROL and HOLD fields */
    size_t hello_len;
    bool ready, agent_gone, shutdown_acked, shutdown_requested;
    char gone_reason[256]; /* the agent said the container ended (EVENT): requests get it */
    uint32_t next_ch;
    struct mclient *clients;
    struct route *routes;
    pthread_t thread;
    bool running, stopping;
    bool held;              /* pausing: new requests are refused */
    struct mclient *holder; /* the client that holds (HOLD), or NULL: the owner (auto-pause) */
    bool holder_volumes;    /* the holder sent VOLUMES: mount them again if it dies */
    bool remounting;        /* held until the agent answers that mount (holder_gone) */
    bool requested;         /* a request was seen since the agent's HELLO */
    uint64_t last_activity; /* mono_ms of the last request opened or ended */
};

static void queue(struct proto_buf *b, uint16_t type, uint32_t ch, uint8_t stream,
                  const void *p, size_t len)
{
    proto_buf_frame(b, type, ch, stream, p, len); /* out of memory: the frame is lost */
}

static void queue_error(struct proto_buf *b, uint32_t ch, int code, const char *msg)
{
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w)
        return;
    proto_error_encode(w, code, msg);
    queue(b, PROTO_ERROR, ch, 0, w->buf, w->len);
    free(w);
}

static void wake(struct proto_mux *m)
{
    if (write(m->wake_w, "", 1) < 0) {
    }
}

int proto_mux_new(int listen_fd, const struct proto_mux_events *ev, struct proto_mux **out,
                  struct bl_error *err)
{
    struct proto_mux *m = calloc(1, sizeof *m);
    if (!m || !(m->rd = calloc(1, sizeof *m->rd))) {
        free(m);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
        free(m->rd);
        free(m);
        return bl_errno(err, errno, "pipe");
    }
    m->wake_r = p[0];
    m->wake_w = p[1];
    m->listen_fd = listen_fd;
    m->agent_fd = -1;
    m->next_ch = 1;
    m->last_activity = mono_ms();
    if (ev)
        m->ev = *ev;
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

void proto_mux_set_agent_fd(struct proto_mux *m, int fd)
{
    pthread_mutex_lock(&m->lock);
    m->agent_fd = fd;
    m->agent_gone = false;
    m->out.len = m->out.off = 0;
    memset(m->rd, 0, sizeof *m->rd);
    if (fd >= 0) {
        struct tlv_writer w;
        tlv_init(&w);
        tlv_u64(&w, T_VERSION, PROTO_VERSION);
        tlv_u64(&w, T_VERSION_MIN, PROTO_VERSION);
        /* the guest may have no clock of its own */
        tlv_u64(&w, T_TIME_NS, wall_ns());
        queue(&m->out, PROTO_HELLO, 0, 0, w.buf, w.len);
    }
    pthread_mutex_unlock(&m->lock);
    wake(m);
}

static struct route *route_by_agent(struct proto_mux *m, uint32_t ch)
{
    for (struct route *r = m->routes; r; r = r->next)
        if (r->agent_ch == ch)
            return r;
    return NULL;
}

static struct route *route_by_client(struct proto_mux *m, struct mclient *cl, uint32_t ch)
{
    for (struct route *r = m->routes; r; r = r->next)
        if (r->cl == cl && r->client_ch == ch)
            return r;
    return NULL;
}

static void route_del(struct proto_mux *m, struct route *r)
{
    m->last_activity = mono_ms();
    for (struct route **pp = &m->routes; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            free(r);
            return;
        }
}

static uint32_t new_agent_channel(struct proto_mux *m)
{
    for (;;) {
        uint32_t ch = m->next_ch++;
        if (ch == 0 || ch == MUX_CHANNEL || ch == MUX_REMOUNT_CHANNEL)
            continue;
        if (!route_by_agent(m, ch))
            return ch;
    }
}

/* A holder gone (it died, or its connection did) never leaves the box refusing everything:
 * the hold ends, once the volumes it may have had unmounted are mounted again (held until
 * the agent answers, so no request runs without them). */
static void holder_gone(struct proto_mux *m)
{
    m->holder = NULL;
    if (m->holder_volumes && m->agent_fd >= 0 && !m->agent_gone) {
        struct tlv_writer w;
        tlv_init(&w);
        tlv_u64(&w, T_MOUNT, 1);
        queue(&m->out, PROTO_VOLUMES, MUX_REMOUNT_CHANNEL, 0, w.buf, w.len);
        m->holder_volumes = false;
        m->remounting = true; /* held until the answer (from_agent) */
        return;
    }
    m->holder_volumes = false;
    m->held = false;
}

static void client_drop(struct proto_mux *m, struct mclient *cl)
{
    if (m->holder == cl)
        holder_gone(m);
    for (struct route *r = m->routes, *next; r; r = next) {
        next = r->next;
        if (r->cl != cl)
            continue;
        if (m->agent_fd >= 0)
            queue(&m->out, PROTO_CLOSE, r->agent_ch, 0, NULL, 0);
        route_del(m, r);
    }
    for (struct mclient **pp = &m->clients; *pp; pp = &(*pp)->next)
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    close(cl->fd);
    proto_buf_free(&cl->out);
    free(cl->rd);
    free(cl);
}

/* A client's HELLO is answered with the agent's, plus CONTROL: this process speaks the
 * control frames (an agent reached directly does not, and says nothing of it). */
static void greet(struct proto_mux *m, struct mclient *cl)
{
    queue(&cl->out, PROTO_HELLO, 0, 0, m->hello, m->hello_len);
    cl->hello_pending = false;
}

/* STATUS: the owner (the per-box process) fills what it knows; m->lock held, released
 * around the callback (it reads the engine). The client stays: only this thread drops one. */
static void answer_status(struct proto_mux *m, struct mclient *cl)
{
    if (!m->ev.status) {
        queue_error(&cl->out, 0, BOXLITE_ERR_UNSUPPORTED, "no STATUS here");
        return;
    }
    struct proto_status *st = calloc(1, sizeof *st);
    struct tlv_writer *w = malloc(sizeof *w);
    if (st && w) {
        bool ready = m->ready;
        pthread_mutex_unlock(&m->lock);
        m->ev.status(m->ev.opaque, st);
        pthread_mutex_lock(&m->lock);
        if (!st->state[0])
            snprintf(st->state, sizeof st->state, "%s", ready ? "running" : "starting");
        /* what auto-pause and an idle reclaim go by (proto_mux_last_activity) */
        uint64_t now = mono_ms();
        if (!m->routes && m->requested && now > m->last_activity)
            st->idle_ms = now - m->last_activity;
        proto_status_encode(st, w);
        if (w->overflow)
            queue_error(&cl->out, 0, BOXLITE_ERR_NOMEM, "STATUS does not fit a frame");
        else
            queue(&cl->out, PROTO_STATUS, 0, 0, w->buf, w->len);
        proto_status_free(st);
    } else {
        queue_error(&cl->out, 0, BOXLITE_ERR_NOMEM, "out of memory");
    }
    free(st);
    free(w);
}

static unsigned open_routes(struct proto_mux *m)
{
    unsigned n = 0;
    for (struct route *r = m->routes; r; r = r->next)
        n++;
    return n;
}

/* Requests open, and those promised by a PING answered moments ago: a hold taken between a
 * client's PONG and its request would refuse a request that was first. */
static unsigned open_or_promised(struct proto_mux *m)
{
    unsigned n = open_routes(m);
    uint64_t now = mono_ms();
    for (struct mclient *cl = m->clients; cl; cl = cl->next)
        if (cl->promised && now - cl->ping_ms < PING_PROMISE_MS)
            n++;
    return n;
}

/* Whether cl's requests pass a hold: the pause's own (auto-pause's connection, or the
 * client that holds). */
static bool passes(struct proto_mux *m, struct mclient *cl)
{
    return cl->pauser || cl == m->holder;
}

/* Whether a pause (PAUSE, HOLD) may begin with `open` requests open: else cl is told why. */
static bool pause_may_begin(struct proto_mux *m, struct mclient *cl, const char *what,
                            unsigned open)
{
    char msg[200];
    if (!m->ready || m->agent_gone || (m->held && m->holder != cl))
        snprintf(msg, sizeof msg, "%s: the box is %s", what,
                 m->held ? "pausing" : "not running");
    else if (open)
        snprintf(msg, sizeof msg, "%s: %u request%s (executions, copies) still open: pause "
                 "when they end", what, open, open == 1 ? " is" : "s are");
    else
        return true;
    queue_error(&cl->out, 0, BOXLITE_ERR_STATE, msg);
    return false;
}

/* PAUSE: only with nothing in flight (bytes of a request half-sent to the agent would be
 * lost with the VM's host side); the mux's thread waits for the owner's answer, so nothing
 * reaches the agent meanwhile. Answered PAUSE when saved (EXIT follows), else ERROR. */
static void answer_pause(struct proto_mux *m, struct mclient *cl)
{
    bool holder = m->holder == cl;
    if (!m->ev.pause || !cl->control) {
        queue_error(&cl->out, 0, BOXLITE_ERR_UNSUPPORTED, "PAUSE: not here");
        return;
    }
    if (!pause_may_begin(m, cl, "PAUSE", open_routes(m)))
        return;
    m->held = true;
    char why[512] = "";
    pthread_mutex_unlock(&m->lock);
    int code = m->ev.pause(m->ev.opaque, why, sizeof why);
    pthread_mutex_lock(&m->lock);
    if (code) {
        /* a holder keeps its hold: it mounts its volumes again first, then releases it */
        if (!holder)
            m->held = false;
        queue_error(&cl->out, 0, code, why[0] ? why : "PAUSE failed");
        return;
    }
    queue(&cl->out, PROTO_PAUSE, 0, 0, NULL, 0);
}

/* HOLD (docs/protocol.md "Pause"): an explicit pause's first step, as the auto-pause's is
 * proto_mux_hold; the holder's own requests (VOLUMES, PAUSE) pass. */
static void answer_hold(struct proto_mux *m, struct mclient *cl, const uint8_t *p, size_t len)
{
    struct bl_error e = {0};
    bool take = false;
    if (!cl->control) {
        queue_error(&cl->out, 0, BOXLITE_ERR_UNSUPPORTED, "HOLD: not here");
        return;
    }
    if (proto_hold_decode(p, len, &take, &e) < 0) {
        queue_error(&cl->out, 0, BOXLITE_ERR_INVALID, e.msg);
        return;
    }
    if (take && m->holder != cl) {
        if (!pause_may_begin(m, cl, "HOLD", open_or_promised(m)))
            return;
        m->held = true;
        m->holder = cl;
        m->holder_volumes = false;
    } else if (!take && m->holder == cl) {
        m->holder = NULL;
        m->holder_volumes = false;
        m->held = false;
    }
    struct tlv_writer w;
    proto_hold_encode(take, &w);
    queue(&cl->out, PROTO_HOLD, 0, 0, w.buf, w.len);
}

/* BALLOON (docs/protocol.md "Balloon"): the owner checks the range and asks the engine; the
 * mux's thread waits for it (a QMP command: milliseconds). */
static void answer_balloon(struct proto_mux *m, struct mclient *cl, const uint8_t *p, size_t len)
{
    if (!m->ev.balloon || !cl->control) {
        queue_error(&cl->out, 0, BOXLITE_ERR_UNSUPPORTED, "BALLOON: not here");
        return;
    }
    struct bl_error e = {0};
    uint64_t target = 0;
    if (proto_balloon_decode(p, len, &target, NULL, &e) < 0) {
        queue_error(&cl->out, 0, BOXLITE_ERR_INVALID, e.msg);
        return;
    }
    if (!m->ready || m->agent_gone || m->held) {
        queue_error(&cl->out, 0, BOXLITE_ERR_STATE,
                    m->held ? "BALLOON: the box is pausing" : "BALLOON: the box is not running");
        return;
    }
    char why[512] = "";
    uint64_t actual = 0;
    pthread_mutex_unlock(&m->lock);
    int code = m->ev.balloon(m->ev.opaque, target, &actual, why, sizeof why);
    pthread_mutex_lock(&m->lock);
    if (code) {
        queue_error(&cl->out, 0, code, why[0] ? why : "BALLOON failed");
        return;
    }
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w) {
        queue_error(&cl->out, 0, BOXLITE_ERR_NOMEM, "out of memory");
        return;
    }
    proto_balloon_encode(target, actual, true, w);
    queue(&cl->out, PROTO_BALLOON, 0, 0, w->buf, w->len);
    free(w);
}

unsigned proto_mux_hold(struct proto_mux *m)
{
    pthread_mutex_lock(&m->lock);
    unsigned n = m->held ? 1 : open_or_promised(m); /* held: a client is pausing the box */
    if (!n)
        m->held = true;
    pthread_mutex_unlock(&m->lock);
    return n;
}

void proto_mux_release(struct proto_mux *m)
{
    pthread_mutex_lock(&m->lock);
    if (!m->holder && !m->remounting) /* the owner's hold, not a client's */
        m->held = false;
    pthread_mutex_unlock(&m->lock);
}

uint64_t proto_mux_last_activity(struct proto_mux *m, bool *busy)
{
    pthread_mutex_lock(&m->lock);
    uint64_t t = m->last_activity;
    /* Idle counts from the first request on: a box being set up (SETUP comes after the
     * agent's HELLO) or resumed for a request on its way is not idle yet. */
    *busy = m->routes != NULL || !m->requested;
    pthread_mutex_unlock(&m->lock);
    return t;
}

static void from_client(struct proto_mux *m, struct mclient *cl, const struct proto_hdr *h,
                        const uint8_t *p)
{
    struct bl_error e = {0};
    if (proto_hdr_check(h, &e) < 0) {
        queue_error(&cl->out, h->channel, BOXLITE_ERR_PROTOCOL, e.msg);
        return;
    }
    switch (h->type) {
    case PROTO_HELLO: {
        uint64_t v = 0, control = 0;
        struct tlv_iter it;
        struct tlv_field f;
        tlv_iter_init(&it, p, h->len);
        while (tlv_next(&it, &f, NULL) > 0) {
            if (f.tag == T_VERSION)
                tlv_get_u64(&f, &v, NULL);
            if (f.tag == T_CONTROL)
                tlv_get_u64(&f, &control, NULL);
        }
        /* a client speaking a newer control version gets ours in our HELLO and keeps to it */
        cl->control = control >= 1;
        if (v != PROTO_VERSION) {
            queue_error(&cl->out, 0, BOXLITE_ERR_PROTOCOL, "protocol version not supported");
            return;
        }
        if (m->ready)
            greet(m, cl);
        else if (m->agent_gone)
            queue_error(&cl->out, 0, BOXLITE_ERR_STATE, "the box is not running");
        else
            cl->hello_pending = true;
        return;
    }
    case PROTO_PING:
        /* a client about to make a request (rt_box_conn): refused while a pause is under
         * way, else the idle timer restarts, so no auto-pause can begin before the request
         * (docs/protocol.md, "Auto-pause") */
        if (m->held && !passes(m, cl)) {
            queue_error(&cl->out, 0, BOXLITE_ERR_STATE, "the box is pausing");
            return;
        }
        m->last_activity = mono_ms();
        if (!passes(m, cl)) {
            cl->promised++;
            cl->ping_ms = m->last_activity;
        }
        queue(&cl->out, PROTO_PONG, 0, 0, p, h->len);
        return;
    case PROTO_STATUS: answer_status(m, cl); return;
    case PROTO_PAUSE: answer_pause(m, cl); return;
    case PROTO_BALLOON: answer_balloon(m, cl, p, h->len); return;
    case PROTO_HOLD: answer_hold(m, cl, p, h->len); return;
    case PROTO_EXIT:
        queue_error(&cl->out, 0, BOXLITE_ERR_PROTOCOL, "EXIT is sent by the per-box process only");
        return;
    case PROTO_PONG:
    case PROTO_ERROR:
        if (h->channel == 0)
            return;
        break;
    case PROTO_RESULT: queue_error(&cl->out, h->channel, BOXLITE_ERR_PROTOCOL, "RESULT is the agent's"); return;
    default: break;
    }
    struct route *r = route_by_client(m, cl, h->channel);
    bool request = h->type == PROTO_EXEC || h->type == PROTO_COPY_IN || h->type == PROTO_COPY_OUT ||
                   h->type == PROTO_SETUP || h->type == PROTO_SHUTDOWN ||
                   h->type == PROTO_FSFREEZE || h->type == PROTO_IDENTITY ||
                   h->type == PROTO_KILL || h->type == PROTO_RECLAIM ||
                   h->type == PROTO_VOLUMES || h->type == PROTO_GROUP_LIMITS;
    if (request && m->gone_reason[0]) {
        char msg[300];
        snprintf(msg, sizeof msg, "the box has stopped: %s", m->gone_reason);
        queue_error(&cl->out, h->channel, BOXLITE_ERR_STATE, msg);
        return;
    }
    if (request && cl->promised)
        cl->promised--; /* the request a PING promised came (refused or not) */
    if (request && m->held && !passes(m, cl)) {
        queue_error(&cl->out, h->channel, BOXLITE_ERR_STATE, "the box is pausing");
        return;
    }
    if (m->agent_fd < 0 || m->agent_gone) {
        if (request)
            queue_error(&cl->out, h->channel, BOXLITE_ERR_STATE, "the box is not running");
        return;
    }
    if (request) {
        if (r) {
            queue_error(&cl->out, h->channel, BOXLITE_ERR_PROTOCOL, "request on a busy channel");
            return;
        }
        r = calloc(1, sizeof *r);
        if (!r) {
            queue_error(&cl->out, h->channel, BOXLITE_ERR_NOMEM, "out of memory");
            return;
        }
        r->agent_ch = new_agent_channel(m);
        r->client_ch = h->channel;
        r->cl = cl;
        r->type = h->type;
        r->next = m->routes;
        m->routes = r;
        m->last_activity = mono_ms();
        m->requested = true;
    }
    if (!r)
        return; /* a channel that just ended: the same race the agent tolerates */
    if (h->type == PROTO_SHUTDOWN)
        m->shutdown_requested = true;
    if (h->type == PROTO_VOLUMES && cl == m->holder)
        m->holder_volumes = true;
    queue(&m->out, h->type, r->agent_ch, h->stream, p, h->len);
    if (h->type == PROTO_CLOSE)
        route_del(m, r);
}

static void from_agent(struct proto_mux *m, const struct proto_hdr *h, const uint8_t *p)
{
    if (proto_hdr_check(h, NULL) < 0)
        return;
    if (h->type == PROTO_HELLO) {
        bool first = !m->ready;
        /* a HELLO too long to keep (the agent's is about 60 bytes) is kept without its
         * tail rather than cut in the middle of a field */
        size_t n = h->len <= 1024 ? h->len : 0;
        memcpy(m->hello, p, n);
        uint8_t *c = m->hello + n; /* CONTROL(7), 8 bytes */
        put_le16(c, T_CONTROL);
        put_le16(c + 2, 8);
        put_le64(c + 4, PROTO_CONTROL_VERSION);
        /* HOLD(180): we understand HOLD (an older per-box process does not) */
        put_le16(c + 12, T_HOLD);
        put_le16(c + 14, 8);
        put_le64(c + 16, 1);
        m->hello_len = n + 24;
        m->ready = true;
        uint64_t boot = 0, cready = 0;
        struct tlv_iter it;
        struct tlv_field f;
        tlv_iter_init(&it, p, h->len);
        while (tlv_next(&it, &f, NULL) > 0) {
            if (f.tag == T_BOOT_MS)
                tlv_get_u64(&f, &boot, NULL);
            if (f.tag == T_READY)
                tlv_get_u64(&f, &cready, NULL);
        }
        for (struct mclient *cl = m->clients; cl; cl = cl->next)
            if (cl->hello_pending)
                greet(m, cl);
        if (first && m->ev.ready) {
            pthread_mutex_unlock(&m->lock);
            m->ev.ready(m->ev.opaque, boot, cready != 0);
            pthread_mutex_lock(&m->lock);
        }
        return;
    }
    if (h->type == PROTO_STATUS || h->type == PROTO_EXIT || h->type == PROTO_BALLOON)
        return; /* not the agent's to send */
    if (h->type == PROTO_EVENT) {
        struct proto_event ev;
        if (proto_event_decode(&ev, p, h->len, NULL) < 0)
            return;
        if (!strcmp(ev.kind, PROTO_EVENT_CONTAINER_EXIT))
            snprintf(m->gone_reason, sizeof m->gone_reason, "%s",
                     ev.message[0] ? ev.message : "the container ended");
        if (m->ev.event) {
            pthread_mutex_unlock(&m->lock);
            m->ev.event(m->ev.opaque, &ev);
            pthread_mutex_lock(&m->lock);
        }
        return;
    }
    if (h->channel == MUX_REMOUNT_CHANNEL) {
        if ((h->type == PROTO_RESULT || h->type == PROTO_ERROR) && m->remounting)
            m->remounting = m->held = false; /* a dead holder's volumes are back */
        return;
    }
    if (h->channel == MUX_CHANNEL) {
        if (h->type == PROTO_RESULT || h->type == PROTO_ERROR)
            m->shutdown_acked = true;
        return;
    }
    if (h->channel == 0)
        return; /* PONG, or the agent's complaint about the stream: nothing to route */
    struct route *r = route_by_agent(m, h->channel);
    if (!r)
        return;
    if (proto_buf_pending(&r->cl->out) > CLIENT_LIMIT) {
        r->cl->dead = true;
        return;
    }
    queue(&r->cl->out, h->type, r->client_ch, h->stream, p, h->len);
    if (h->type != PROTO_RESULT && h->type != PROTO_ERROR)
        return;
    bool exec = r->type == PROTO_EXEC;
    route_del(m, r);
    if (exec && m->ev.exec_done) {
        pthread_mutex_unlock(&m->lock);
        m->ev.exec_done(m->ev.opaque);
        pthread_mutex_lock(&m->lock);
    }
}

static void agent_lost(struct proto_mux *m)
{
    m->agent_gone = true;
    if (m->remounting) /* no answer will come */
        m->remounting = m->held = false;
    m->agent_fd = -1;
    char msg[300];
    snprintf(msg, sizeof msg, "the box stopped%s%s", m->gone_reason[0] ? ": " : "",
             m->gone_reason);
    for (struct route *r = m->routes, *next; r; r = next) {
        next = r->next;
        queue_error(&r->cl->out, r->client_ch, BOXLITE_ERR_ENGINE, msg);
        route_del(m, r);
    }
    for (struct mclient *cl = m->clients; cl; cl = cl->next)
        if (cl->hello_pending)
            queue_error(&cl->out, 0, BOXLITE_ERR_STATE, "the box stopped before it was ready");
    if (m->ev.agent_lost) {
        pthread_mutex_unlock(&m->lock);
        m->ev.agent_lost(m->ev.opaque);
        pthread_mutex_lock(&m->lock);
    }
}

int proto_mux_pollfds(struct proto_mux *m, struct pollfd *pfds, int max)
{
    pthread_mutex_lock(&m->lock);
    int n = 0;
    if (n < max)
        pfds[n++] = (struct pollfd){.fd = m->wake_r, .events = POLLIN};
    if (n < max)
        pfds[n++] = (struct pollfd){.fd = m->listen_fd, .events = POLLIN};
    if (n < max && m->agent_fd >= 0)
        pfds[n++] = (struct pollfd){.fd = m->agent_fd,
                                    .events = (short)(POLLIN | (proto_buf_pending(&m->out) ? POLLOUT : 0))};
    bool backlog = proto_buf_pending(&m->out) >= AGENT_HIGH_WATER;
    for (struct mclient *cl = m->clients; cl && n < max; cl = cl->next) {
        short ev = (short)((backlog ? 0 : POLLIN) | (proto_buf_pending(&cl->out) ? POLLOUT : 0));
        pfds[n++] = (struct pollfd){.fd = cl->fd, .events = ev};
    }
    pthread_mutex_unlock(&m->lock);
    return n;
}

static void read_agent(struct proto_mux *m)
{
    uint8_t buf[65536];
    ssize_t n = read(m->agent_fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        agent_lost(m);
        return;
    }
    size_t off = 0;
    while (off < (size_t)n) {
        if (m->rd->failed) {
            /* the agent's stream is broken: nothing to resynchronise on from this side */
            agent_lost(m);
            return;
        }
        struct proto_hdr h;
        const uint8_t *p;
        size_t used;
        int rc = proto_reader_feed(m->rd, buf + off, (size_t)n - off, &used, &h, &p, NULL);
        off += used;
        if (rc > 0)
            from_agent(m, &h, p);
    }
}

static void read_client(struct proto_mux *m, struct mclient *cl)
{
    uint8_t buf[65536];
    ssize_t n = read(cl->fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        cl->dead = true;
        return;
    }
    size_t off = 0;
    while (off < (size_t)n && !cl->dead) {
        struct proto_hdr h;
        const uint8_t *p;
        size_t used;
        struct bl_error e = {0};
        int rc = proto_reader_feed(cl->rd, buf + off, (size_t)n - off, &used, &h, &p, &e);
        off += used;
        if (rc < 0) {
            /* a client that breaks framing cannot be followed: tell it, then drop it */
            queue_error(&cl->out, 0, BOXLITE_ERR_PROTOCOL, e.msg);
            proto_buf_flush(&cl->out, cl->fd);
            cl->dead = true;
        } else if (rc > 0) {
            from_client(m, cl, &h, p);
        }
    }
}

/* Adds a connected, non-blocking socket as a client; m->lock held. Closes fd on failure. */
static int add_client(struct proto_mux *m, int fd, bool pauser)
{
    struct mclient *cl = calloc(1, sizeof *cl);
    if (!cl || !(cl->rd = calloc(1, sizeof *cl->rd))) {
        free(cl);
        close(fd);
        return -ENOMEM;
    }
    cl->fd = fd;
    cl->pauser = pauser;
    cl->next = m->clients;
    m->clients = cl;
    return 0;
}

static void accept_clients(struct proto_mux *m)
{
    for (;;) {
        int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 || add_client(m, fd, false) < 0)
            return;
    }
}

static int adopt(struct proto_mux *m, int fd, bool pauser)
{
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    pthread_mutex_lock(&m->lock);
    int r = add_client(m, fd, pauser);
    pthread_mutex_unlock(&m->lock);
    wake(m);
    return r;
}

int proto_mux_adopt(struct proto_mux *m, int fd)
{
    return adopt(m, fd, false);
}

static int dial(struct proto_mux *m, bool pauser, int timeout_ms, struct proto_client **out,
                struct bl_error *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return bl_errno(err, errno, "socketpair");
    int r = adopt(m, sv[0], pauser);
    if (r < 0) {
        close(sv[1]);
        return bl_errno(err, -r, "box socket");
    }
    return proto_client_open_fd(sv[1], timeout_ms, out, err);
}

int proto_mux_dial(struct proto_mux *m, int timeout_ms, struct proto_client **out,
                   struct bl_error *err)
{
    return dial(m, false, timeout_ms, out, err);
}

int proto_mux_dial_pauser(struct proto_mux *m, int timeout_ms, struct proto_client **out,
                          struct bl_error *err)
{
    return dial(m, true, timeout_ms, out, err);
}

void proto_mux_handle(struct proto_mux *m, const struct pollfd *pfds, int n)
{
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < n; i++) {
        if (!pfds[i].revents)
            continue;
        int fd = pfds[i].fd;
        if (fd == m->wake_r) {
            char b[64];
            while (read(m->wake_r, b, sizeof b) > 0) {
            }
        } else if (fd == m->listen_fd) {
            accept_clients(m);
        } else if (fd == m->agent_fd) {
            if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))
                read_agent(m);
        } else {
            for (struct mclient *cl = m->clients; cl; cl = cl->next)
                if (cl->fd == fd && !cl->dead && (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                    read_client(m, cl);
        }
    }
    /* Write what is queued; drop clients that went away. */
    if (m->agent_fd >= 0 && proto_buf_pending(&m->out) && proto_buf_flush(&m->out, m->agent_fd) < 0)
        agent_lost(m);
    for (struct mclient *cl = m->clients, *next; cl; cl = next) {
        next = cl->next;
        if (!cl->dead && proto_buf_pending(&cl->out) && proto_buf_flush(&cl->out, cl->fd) < 0)
            cl->dead = true;
        if (cl->dead)
            client_drop(m, cl);
    }
    if (m->agent_fd >= 0 && proto_buf_pending(&m->out) && proto_buf_flush(&m->out, m->agent_fd) < 0)
        agent_lost(m);
    pthread_mutex_unlock(&m->lock);
}

int proto_mux_step(struct proto_mux *m, int timeout_ms)
{
    struct pollfd pf[256];
    int n = proto_mux_pollfds(m, pf, 256);
    int r = poll(pf, (nfds_t)n, timeout_ms);
    if (r < 0 && errno != EINTR)
        return -errno;
    if (r > 0)
        proto_mux_handle(m, pf, n);
    return 0;
}

static void *mux_thread(void *arg)
{
    struct proto_mux *m = arg;
    pthread_setname_np(pthread_self(), "mux");
    size_t cap = 64;
    struct pollfd *pf = malloc(cap * sizeof *pf);
    if (m->ev.thread_start)
        m->ev.thread_start(m->ev.opaque);
    for (;;) {
        pthread_mutex_lock(&m->lock);
        bool stop = m->stopping;
        size_t need = 3;
        for (struct mclient *cl = m->clients; cl; cl = cl->next)
            need++;
        pthread_mutex_unlock(&m->lock);
        if (stop || !pf)
            break;
        if (need > cap) {
            cap = need * 2;
            struct pollfd *np = realloc(pf, cap * sizeof *pf);
            if (!np)
                break;
            pf = np;
        }
        int n = proto_mux_pollfds(m, pf, (int)cap);
        if (poll(pf, (nfds_t)n, -1) > 0)
            proto_mux_handle(m, pf, n);
    }
    free(pf);
    return NULL;
}

int proto_mux_start(struct proto_mux *m, struct bl_error *err)
{
    int rc = pthread_create(&m->thread, NULL, mux_thread, m);
    if (rc)
        return bl_errno(err, rc, "start the mux thread");
    m->running = true;
    return 0;
}

void proto_mux_stop(struct proto_mux *m)
{
    if (!m || !m->running)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_mutex_unlock(&m->lock);
    wake(m);
    pthread_join(m->thread, NULL);
    m->running = false;
    m->stopping = false;
}

bool proto_mux_ready(struct proto_mux *m)
{
    pthread_mutex_lock(&m->lock);
    bool r = m->ready;
    pthread_mutex_unlock(&m->lock);
    return r;
}

unsigned proto_mux_clients(struct proto_mux *m)
{
    pthread_mutex_lock(&m->lock);
    unsigned n = 0;
    for (struct mclient *cl = m->clients; cl; cl = cl->next)
        n++;
    pthread_mutex_unlock(&m->lock);
    return n;
}

int proto_mux_shutdown_agent(struct proto_mux *m, struct bl_error *err)
{
    pthread_mutex_lock(&m->lock);
    int rc = 0;
    if (m->agent_fd < 0 || m->agent_gone)
        rc = bl_err(err, BOXLITE_ERR_STATE, "no agent connection");
    else {
        queue(&m->out, PROTO_SHUTDOWN, MUX_CHANNEL, 0, NULL, 0);
        m->shutdown_requested = true;
    }
    pthread_mutex_unlock(&m->lock);
    wake(m);
    return rc;
}

bool proto_mux_shutdown_acked(struct proto_mux *m)
{
    pthread_mutex_lock(&m->lock);
    bool r = m->shutdown_acked;
    pthread_mutex_unlock(&m->lock);
    return r;
}

void proto_mux_free(struct proto_mux *m)
{
    if (!m)
        return;
    proto_mux_stop(m);
    while (m->clients)
        client_drop(m, m->clients);
    while (m->routes)
        route_del(m, m->routes);
    proto_buf_free(&m->out);
    free(m->rd);
    close(m->wake_r);
    close(m->wake_w);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

bool proto_mux_shutdown_requested(struct proto_mux *m)
{
    pthread_mutex_lock(&m->lock);
    bool r = m->shutdown_requested;
    pthread_mutex_unlock(&m->lock);
    return r;
}

void proto_mux_push_exit(struct proto_mux *m, const struct proto_exit *x)
{
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w)
        return;
    proto_exit_encode(x, w);
    pthread_mutex_lock(&m->lock);
    for (struct mclient *cl = m->clients; cl; cl = cl->next)
        if (cl->control && !cl->dead)
            queue(&cl->out, PROTO_EXIT, 0, 0, w->buf, w->len);
    free(w);
    if (m->running) { /* the thread writes it */
        pthread_mutex_unlock(&m->lock);
        wake(m);
        return;
    }
    /* No thread: written here, waiting at most 500 ms in all for clients that are slow to
     * take it (a client that reads nothing must not hold the box's end up). */
    uint64_t t0 = mono_ms();
    for (struct mclient *cl = m->clients; cl; cl = cl->next) {
        while (!cl->dead && proto_buf_pending(&cl->out)) {
            if (proto_buf_flush(&cl->out, cl->fd) < 0) {
                cl->dead = true;
                break;
            }
            if (!proto_buf_pending(&cl->out))
                break;
            long left = 500 - (long)(mono_ms() - t0);
            struct pollfd pf = { .fd = cl->fd, .events = POLLOUT };
            if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
                break;
        }
    }
    pthread_mutex_unlock(&m->lock);
}
