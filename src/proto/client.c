// SPDX-License-Identifier: Apache-2.0
/* Host client of the agent protocol: an I/O thread per connection reads frames and moves
 * each channel's output into its pipes, granting credit back as the pipes accept bytes. */
#include "proto/client.h"

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/io.h"
#include "proto/control.h"
#include "proto/tar.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct proto_exec {
    struct proto_exec *next;
    struct proto_client *c;
    uint32_t id;
    int out_r[3], out_w[3];     /* pipes for streams 1, 2 */
    struct proto_buf pending[3]; /* bytes received, not yet in the pipe */
    bool eof[3];                /* agent sent EOF on the stream */
    uint32_t unacked[3];        /* bytes moved into the pipe, credit not yet granted */
    uint32_t stdin_credit;
    bool stdin_closed;
    bool done, freed;
    int done_r, done_w;
    struct proto_result res;
    int err_code;
    char err_msg[512];
};

struct proto_client {
    int fd;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;  /* state below */
    pthread_cond_t cond;
    pthread_mutex_t wlock; /* writes on fd */
    int wake_r, wake_w;
    bool hello, dead, closing, ready;
    char hello_err[256]; /* the peer refused our HELLO (ERROR on channel 0 before its own) */
    bool closed; /* proto_client_close ran: freed when its last execution is freed */
    char dead_msg[256];
    int watch_fd;  /* readable once the peer's process ended (a pidfd), or -1; ours */
    uint64_t control; /* the peer's CONTROL version in its HELLO (0: it has none) */
    bool hold_ok;     /* its HELLO had HOLD(180): it understands HOLD */
    pthread_mutex_t slock; /* one STATUS request at a time */
    bool status_wait, status_have;
    struct proto_status status;
    int status_code;
    char status_msg[256];
    uint64_t balloon_actual; /* the answer to our BALLOON */
    bool have_exit;
    struct proto_exit exit;
    uint32_t next_id;
    struct proto_exec *execs;
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int send_frame(struct proto_client *c, uint16_t type, uint32_t ch, uint8_t stream,
                      const void *payload, size_t len, struct bl_error *err)
{
    uint8_t hdr[PROTO_HDR_SIZE];
    struct proto_hdr h = {.len = (uint32_t)len, .type = type, .stream = stream, .channel = ch};
    proto_hdr_encode(hdr, &h);
    pthread_mutex_lock(&c->wlock);
    int rc = io_write_all(c->fd, hdr, sizeof hdr);
    if (rc == 0 && len)
        rc = io_write_all(c->fd, payload, len);
    pthread_mutex_unlock(&c->wlock);
    if (rc < 0)
        return bl_errno(err, -rc, "send %s to the agent", proto_type_name(type));
    return 0;
}

static void wake(struct proto_client *c)
{
    if (write(c->wake_w, "", 1) < 0) {
    }
}

/* With c->lock held. */
static void exec_finish(struct proto_exec *e)
{
    if (e->done)
        return;
    e->done = true;
    close_fd(&e->done_w);
    pthread_cond_broadcast(&e->c->cond);
}

static struct proto_exec *exec_find(struct proto_client *c, uint32_t id)
{
    for (struct proto_exec *e = c->execs; e; e = e->next)
        if (e->id == id)
            return e;
    return NULL;
}

static void exec_unlink(struct proto_client *c, struct proto_exec *e)
{
    for (struct proto_exec **pp = &c->execs; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            return;
        }
}

static void exec_destroy(struct proto_exec *e)
{
    for (int s = 1; s <= 2; s++) {
        close_fd(&e->out_r[s]);
        close_fd(&e->out_w[s]);
        proto_buf_free(&e->pending[s]);
    }
    close_fd(&e->done_r);
    close_fd(&e->done_w);
    free(e);
}

/* Moves pending output into the pipe; credits what went in. With c->lock held; returns
 * the credit to send (the caller sends it without the lock). */
static uint32_t flush_stream(struct proto_exec *e, int s)
{
    if (e->out_w[s] < 0) {
        e->pending[s].len = e->pending[s].off = 0;
        return 0;
    }
    size_t before = proto_buf_pending(&e->pending[s]);
    if (before && proto_buf_flush(&e->pending[s], e->out_w[s]) < 0) {
        /* the reader closed its end: nobody wants the rest */
        e->pending[s].len = e->pending[s].off = 0;
        close_fd(&e->out_w[s]);
    }
    e->unacked[s] += (uint32_t)(before - proto_buf_pending(&e->pending[s]));
    if (e->eof[s] && !proto_buf_pending(&e->pending[s]))
        close_fd(&e->out_w[s]);
    uint32_t grant = 0;
    if (!e->done && e->unacked[s] && (e->unacked[s] >= PROTO_WINDOW / 4 || !proto_buf_pending(&e->pending[s]))) {
        grant = e->unacked[s];
        e->unacked[s] = 0;
    }
    return grant;
}

static void grant(struct proto_client *c, uint32_t id, int s, uint32_t n)
{
    if (!n)
        return;
    uint8_t b[4];
    put_le32(b, n);
    send_frame(c, PROTO_CREDIT, id, (uint8_t)s, b, 4, NULL);
}

static void connection_dead(struct proto_client *c, const char *why)
{
    pthread_mutex_lock(&c->lock);
    if (!c->dead) {
        c->dead = true;
        snprintf(c->dead_msg, sizeof c->dead_msg, "%s", why);
    }
    for (struct proto_exec *e = c->execs; e; e = e->next) {
        if (!e->done) {
            e->err_code = BOXLITE_ERR_PROTOCOL;
            snprintf(e->err_msg, sizeof e->err_msg, "connection to the agent lost: %s", why);
        }
        for (int s = 1; s <= 2; s++) {
            e->eof[s] = true;
            flush_stream(e, s); /* closes the pipe once what arrived is in it */
        }
        exec_finish(e);
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void handle_frame(struct proto_client *c, const struct proto_hdr *h, const uint8_t *p)
{
    struct bl_error err = {0};
    if (proto_hdr_check(h, &err) < 0)
        return; /* a newer agent's frame we do not know: ignore */
    pthread_mutex_lock(&c->lock);
    if (h->type == PROTO_HELLO) {
        struct tlv_iter it;
        struct tlv_field f;
        uint64_t v = 0, ready = 0, control = 0, hold = 0;
        tlv_iter_init(&it, p, h->len);
        while (tlv_next(&it, &f, NULL) > 0) {
            if (f.tag == T_VERSION)
                tlv_get_u64(&f, &v, NULL);
            if (f.tag == T_CONTROL)
                tlv_get_u64(&f, &control, NULL);
            if (f.tag == T_HOLD)
                tlv_get_u64(&f, &hold, NULL);
            if (f.tag == T_READY)
                tlv_get_u64(&f, &ready, NULL);
        }
        if (v == PROTO_VERSION) {
            c->hello = true;
            c->ready = ready != 0;
            c->control = control;
            c->hold_ok = hold == 1;
        } else {
            c->dead = true;
            snprintf(c->dead_msg, sizeof c->dead_msg, "agent speaks protocol version %llu, not %d",
                     (unsigned long long)v, PROTO_VERSION);
        }
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (h->type == PROTO_STATUS && c->status_wait && !c->status_have) {
        struct bl_error e = {0};
        if (proto_status_decode(&c->status, p, h->len, &e) < 0) {
            c->status_code = BOXLITE_ERR_PROTOCOL;
            snprintf(c->status_msg, sizeof c->status_msg, "%s", e.msg);
        }
        c->status_have = true;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (h->type == PROTO_BALLOON && c->status_wait && !c->status_have) {
        uint64_t target = 0; /* the answer to our BALLOON: set */
        struct bl_error e = {0};
        if (proto_balloon_decode(p, h->len, &target, &c->balloon_actual, &e) < 0) {
            c->status_code = BOXLITE_ERR_PROTOCOL;
            snprintf(c->status_msg, sizeof c->status_msg, "%s", e.msg);
        }
        c->status_have = true;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (h->type == PROTO_PONG && h->channel == 0 && c->status_wait && !c->status_have) {
        c->status_have = true; /* the answer to our PING */
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if ((h->type == PROTO_PAUSE || h->type == PROTO_HOLD) && c->status_wait && !c->status_have) {
        c->status_have = true; /* the answer to our PAUSE (saved) or HOLD (taken, released) */
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (h->type == PROTO_EXIT) {
        if (!c->have_exit && proto_exit_decode(&c->exit, p, h->len, NULL) == 0)
            c->have_exit = true;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (h->channel == 0) {
        if (h->type == PROTO_ERROR && c->hello && c->status_wait && !c->status_have) {
            /* the answer to our STATUS: a peer that does not know it says so here */
            char msg[200];
            proto_error_decode(p, h->len, &c->status_code, msg, sizeof msg);
            if (!c->status_code)
                c->status_code = BOXLITE_ERR_PROTOCOL;
            snprintf(c->status_msg, sizeof c->status_msg, "%s", msg);
            c->status_have = true;
            pthread_cond_broadcast(&c->cond);
        }
        if (h->type == PROTO_ERROR && !c->hello) {
            /* the connection stays read: a per-box process that refused because its box
             * ended sends EXIT next */
            int code;
            char msg[256];
            proto_error_decode(p, h->len, &code, msg, sizeof msg);
            snprintf(c->hello_err, sizeof c->hello_err, "%s", msg[0] ? msg : "refused");
            pthread_cond_broadcast(&c->cond);
        }
        pthread_mutex_unlock(&c->lock);
        return;
    }
    struct proto_exec *e = exec_find(c, h->channel);
    if (!e || e->done) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    uint32_t credit = 0;
    int s = h->stream;
    switch (h->type) {
    case PROTO_DATA:
        if (s == PROTO_STDIN || e->eof[s])
            break;
        if (e->out_w[s] < 0) { /* nobody reads: keep the agent going */
            credit = h->len;
            break;
        }
        proto_buf_put(&e->pending[s], p, h->len);
        credit = flush_stream(e, s);
        break;
    case PROTO_EOF:
        if (s != PROTO_STDIN) {
            e->eof[s] = true;
            flush_stream(e, s);
        }
        break;
    case PROTO_CREDIT:
        if (s == PROTO_STDIN) {
            e->stdin_credit += get_le32(p);
            pthread_cond_broadcast(&c->cond);
        }
        break;
    case PROTO_RESULT:
        proto_result_decode(&e->res, p, h->len, NULL);
        e->eof[1] = e->eof[2] = true;
        flush_stream(e, 1);
        flush_stream(e, 2);
        exec_finish(e);
        break;
    case PROTO_ERROR:
        proto_error_decode(p, h->len, &e->err_code, e->err_msg, sizeof e->err_msg);
        e->eof[1] = e->eof[2] = true;
        flush_stream(e, 1);
        flush_stream(e, 2);
        exec_finish(e);
        break;
    default: break;
    }
    uint32_t id = e->id;
    pthread_mutex_unlock(&c->lock);
    grant(c, id, s, credit);
}

static void *io_thread(void *arg)
{
    struct proto_client *c = arg;
    struct proto_reader *rd = calloc(1, sizeof *rd);
    uint8_t *buf = malloc(65536);
    struct pollfd *pf = NULL;
    struct proto_exec **own = NULL;
    uint32_t *ids = NULL;
    int *stream = NULL;
    size_t cap = 0;
    if (!rd || !buf) {
        connection_dead(c, "out of memory");
        goto out;
    }
    for (;;) {
        pthread_mutex_lock(&c->lock);
        if (c->closing) {
            pthread_mutex_unlock(&c->lock);
            break;
        }
        size_t need = 3;
        for (struct proto_exec *e = c->execs; e; e = e->next)
            need += 2;
        if (need > cap) {
            cap = need * 2;
            pf = realloc(pf, cap * sizeof *pf);
            own = realloc(own, cap * sizeof *own);
            ids = realloc(ids, cap * sizeof *ids);
            stream = realloc(stream, cap * sizeof *stream);
            if (!pf || !own || !ids || !stream) {
                pthread_mutex_unlock(&c->lock);
                connection_dead(c, "out of memory");
                break;
            }
        }
        size_t n = 0;
        pf[n++] = (struct pollfd){.fd = c->wake_r, .events = POLLIN};
        /* a dead connection is left out: poll would report its HUP forever */
        pf[n++] = (struct pollfd){.fd = c->dead ? -1 : c->fd, .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = c->dead ? -1 : c->watch_fd, .events = POLLIN};
        for (struct proto_exec *e = c->execs; e; e = e->next)
            for (int s = 1; s <= 2; s++)
                if (e->out_w[s] >= 0 && proto_buf_pending(&e->pending[s])) {
                    own[n] = e;
                    ids[n] = e->id;
                    stream[n] = s;
                    pf[n++] = (struct pollfd){.fd = e->out_w[s], .events = POLLOUT};
                }
        pthread_mutex_unlock(&c->lock);
        if (poll(pf, n, -1) < 0 && errno != EINTR)
            break;
        if (pf[0].revents) {
            char b[64];
            while (read(c->wake_r, b, sizeof b) > 0) {
            }
        }
        /* The peer's process ended: what it wrote before (EXIT) is read first. */
        bool gone = pf[2].revents != 0;
        while (gone && !pf[1].revents) {
            struct pollfd q = {.fd = c->fd, .events = POLLIN};
            if (poll(&q, 1, 0) <= 0)
                break;
            pf[1].revents = q.revents;
        }
        if (pf[1].revents) {
            ssize_t r = read(c->fd, buf, 65536);
            if (r < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (r <= 0) {
                connection_dead(c, gone ? "the box's process exited"
                                        : r == 0 ? "end of stream" : strerror(errno));
                continue;
            }
            size_t off = 0;
            while (off < (size_t)r) {
                struct proto_hdr h;
                const uint8_t *payload;
                size_t used;
                struct bl_error err = {0};
                int rc = proto_reader_feed(rd, buf + off, (size_t)r - off, &used, &h, &payload, &err);
                off += used;
                if (rc < 0) {
                    connection_dead(c, err.msg);
                    break;
                }
                if (rc > 0)
                    handle_frame(c, &h, payload);
            }
            if (gone)
                continue; /* until the socket has nothing more */
        }
        if (gone) {
            connection_dead(c, "the box's process exited");
            continue;
        }
        for (size_t i = 3; i < n; i++) {
            if (!pf[i].revents)
                continue;
            pthread_mutex_lock(&c->lock);
            bool alive = false;
            /* the execution may have been freed meanwhile (and its memory reused) */
            for (struct proto_exec *e = c->execs; e; e = e->next)
                alive |= e == own[i] && e->id == ids[i];
            uint32_t credit = 0, id = 0;
            if (alive) {
                credit = flush_stream(own[i], stream[i]);
                id = own[i]->id;
            }
            pthread_mutex_unlock(&c->lock);
            grant(c, id, stream[i], credit);
        }
    }
out:
    free(rd);
    free(buf);
    free(pf);
    free(own);
    free(ids);
    free(stream);
    return NULL;
}

static int wait_cond(struct proto_client *c, const struct timespec *deadline)
{
    if (!deadline)
        return pthread_cond_wait(&c->cond, &c->lock);
    return pthread_cond_timedwait(&c->cond, &c->lock, deadline);
}

static struct timespec *deadline_of(int timeout_ms, struct timespec *ts)
{
    if (timeout_ms < 0)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
    return ts;
}

int proto_client_open_fd(int fd, int timeout_ms, struct proto_client **out, struct bl_error *err)
{
    return proto_client_open_watch(fd, -1, timeout_ms, out, NULL, err);
}

int proto_client_open_watch(int fd, int watch_fd, int timeout_ms, struct proto_client **out,
                            struct proto_exit *end, struct bl_error *err)
{
    if (end)
        end->stop_reason[0] = 0;
    struct proto_client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        if (watch_fd >= 0)
            close(watch_fd);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    c->fd = fd;
    c->watch_fd = watch_fd;
    c->next_id = 1;
    c->wake_r = c->wake_w = -1;
    pthread_mutex_init(&c->slock, NULL);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->wlock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    int wp[2];
    if (pipe2(wp, O_CLOEXEC | O_NONBLOCK) < 0) {
        int e = errno;
        proto_client_close(c);
        return bl_errno(err, e, "pipe");
    }
    c->wake_r = wp[0];
    c->wake_w = wp[1];
    /* The I/O thread must not take signals meant for the application. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&c->thread, NULL, io_thread, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        proto_client_close(c);
        return bl_errno(err, rc, "start the connection thread");
    }
    c->thread_started = true;
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w) {
        proto_client_close(c);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    tlv_init(w);
    tlv_u64(w, T_VERSION, PROTO_VERSION);
    tlv_u64(w, T_VERSION_MIN, PROTO_VERSION);
    tlv_u64(w, T_TIME_NS, wall_ns());
    tlv_u64(w, T_CONTROL, PROTO_CONTROL_VERSION); /* we take EXIT, may ask STATUS */
    rc = send_frame(c, PROTO_HELLO, 0, 0, w->buf, w->len, err);
    free(w);
    if (rc < 0) {
        proto_client_close(c);
        return rc;
    }
    struct timespec ts, *dl = deadline_of(timeout_ms, &ts);
    pthread_mutex_lock(&c->lock);
    rc = 0;
    while (!c->hello && !c->dead && !c->hello_err[0] && rc == 0)
        rc = wait_cond(c, dl);
    bool ok = c->hello && !c->dead;
    /* A watched peer that refused or went away is ending: its EXIT says how, within what
     * is left of the time. */
    while (!ok && watch_fd >= 0 && (c->dead || c->hello_err[0]) && !c->have_exit && !c->dead &&
           rc == 0)
        rc = wait_cond(c, dl);
    if (end && c->have_exit)
        *end = c->exit;
    char why[256];
    snprintf(why, sizeof why, "%s", c->hello_err[0] ? c->hello_err : c->dead ? c->dead_msg : "");
    pthread_mutex_unlock(&c->lock);
    if (!ok) {
        proto_client_close(c);
        if (why[0])
            return bl_err(err, BOXLITE_ERR_PROTOCOL, "agent handshake: %s", why);
        return bl_err(err, BOXLITE_ERR_TIMEOUT, "agent handshake: no HELLO within %d ms", timeout_ms);
    }
    *out = c;
    return 0;
}

int proto_client_connect(const char *path, int timeout_ms, struct proto_client **out,
                         struct bl_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return bl_err(err, BOXLITE_ERR_INVALID, "socket path too long: %s", path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return bl_errno(err, errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return bl_errno(err, e, "connect %s", path);
    }
    return proto_client_open_fd(fd, timeout_ms, out, err);
}

static void client_free(struct proto_client *c)
{
    close_fd(&c->watch_fd);
    proto_status_free(&c->status);
    pthread_mutex_destroy(&c->slock);
    close_fd(&c->wake_r);
    close_fd(&c->wake_w);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->wlock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

void proto_client_close(struct proto_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->closing = true;
    pthread_mutex_unlock(&c->lock);
    if (c->wake_w >= 0)
        wake(c);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    /* Executions the caller still holds stay valid: they end (their output streams reach
     * end-of-file, wait reports the lost connection) and are released by proto_exec_free;
     * the connection itself goes with the last of them. */
    connection_dead(c, "the connection to the box was closed");
    pthread_mutex_lock(&c->wlock); /* no send is halfway through a frame on it */
    close_fd(&c->fd);
    pthread_mutex_unlock(&c->wlock);
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    bool last = c->execs == NULL;
    pthread_mutex_unlock(&c->lock);
    if (last)
        client_free(c);
}

/* One control request of the box socket (STATUS, PAUSE, BALLOON: docs/protocol.md) and its
 * answer, which io_thread hands over through status_have/status_code/status_msg and, per
 * type, c->status or c->balloon_actual. One such request at a time (slock). On an answer
 * that is not an error, take(c, arg) runs under c->lock to collect what it carries. */
static int control_request(struct proto_client *c, uint16_t type, const struct tlv_writer *w,
                           const char *what, int timeout_ms,
                           void (*take)(struct proto_client *c, void *arg), void *arg,
                           struct bl_error *err)
{
    pthread_mutex_lock(&c->slock);
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    if (c->dead)
        rc = bl_err(err, BOXLITE_ERR_STATE, "%s: the connection to the box ended (%s)", what,
                    c->dead_msg);
    else if (c->control < 1)
        rc = bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                    "%s: the box's process (boxlite-vmm) predates the control protocol "
                    "(docs/protocol.md); stop the box and start it with this version", what);
    c->status_wait = true;
    c->status_have = false;
    c->status_code = 0;
    c->balloon_actual = 0;
    pthread_mutex_unlock(&c->lock);
    if (!rc)
        rc = send_frame(c, type, 0, 0, w ? w->buf : NULL, w ? w->len : 0, err);
    struct timespec ts, *dl = deadline_of(timeout_ms, &ts);
    pthread_mutex_lock(&c->lock);
    int wr = 0;
    while (!rc && !c->status_have && !c->dead && wr == 0)
        wr = wait_cond(c, dl);
    if (rc) {
    } else if (c->status_have && c->status_code) {
        rc = bl_err(err, c->status_code, "%s", c->status_msg); /* the answer names itself */
    } else if (c->status_have) {
        if (take)
            take(c, arg);
    } else if (type == PROTO_PAUSE && c->have_exit && c->exit.paused) {
        /* the answer raced the end of the connection: EXIT says the box was saved */
    } else if (c->dead) {
        rc = bl_err(err, BOXLITE_ERR_STATE, "%s: the connection to the box ended (%s)", what,
                    c->dead_msg);
    } else {
        rc = bl_err(err, BOXLITE_ERR_TIMEOUT, "%s: no answer within %d ms", what, timeout_ms);
    }
    proto_status_free(&c->status); /* what take did not move */
    c->status_wait = false;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->slock);
    return rc;
}

static void take_status(struct proto_client *c, void *arg)
{
    *(struct proto_status *)arg = c->status; /* health moves to the caller */
    memset(&c->status, 0, sizeof c->status);
}

int proto_client_status(struct proto_client *c, int timeout_ms, struct proto_status *out,
                        struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    return control_request(c, PROTO_STATUS, NULL, "STATUS", timeout_ms, take_status, out, err);
}

int proto_client_pause(struct proto_client *c, int timeout_ms, struct bl_error *err)
{
    return control_request(c, PROTO_PAUSE, NULL, "pause", timeout_ms, NULL, NULL, err);
}

int proto_client_hold(struct proto_client *c, bool hold, int timeout_ms, struct bl_error *err)
{
    struct tlv_writer w;
    proto_hold_encode(hold, &w);
    return control_request(c, PROTO_HOLD, &w, hold ? "hold" : "release the hold", timeout_ms,
                           NULL, NULL, err);
}

bool proto_client_holds(struct proto_client *c)
{
    pthread_mutex_lock(&c->lock);
    bool r = c->control >= 1 && c->hold_ok;
    pthread_mutex_unlock(&c->lock);
    return r;
}

int proto_client_ping(struct proto_client *c, int timeout_ms, struct bl_error *err)
{
    return control_request(c, PROTO_PING, NULL, "ping", timeout_ms, NULL, NULL, err);
}

int proto_client_wait_end(struct proto_client *c, int timeout_ms)
{
    struct timespec ts, *dl = deadline_of(timeout_ms, &ts);
    pthread_mutex_lock(&c->lock);
    int w = 0;
    while (!c->dead && w == 0)
        w = wait_cond(c, dl);
    bool dead = c->dead;
    pthread_mutex_unlock(&c->lock);
    return dead ? 0 : -BOXLITE_ERR_TIMEOUT;
}

bool proto_client_exit(struct proto_client *c, struct proto_exit *out)
{
    pthread_mutex_lock(&c->lock);
    bool have = c->have_exit;
    if (have && out)
        *out = c->exit;
    pthread_mutex_unlock(&c->lock);
    return have;
}

bool proto_client_dead(struct proto_client *c)
{
    pthread_mutex_lock(&c->lock);
    bool d = c->dead;
    pthread_mutex_unlock(&c->lock);
    return d;
}

bool proto_client_control(struct proto_client *c)
{
    pthread_mutex_lock(&c->lock);
    bool r = c->control >= 1;
    pthread_mutex_unlock(&c->lock);
    return r;
}

bool proto_client_container_ready(struct proto_client *c)
{
    pthread_mutex_lock(&c->lock);
    bool r = c->ready;
    pthread_mutex_unlock(&c->lock);
    return r;
}

/* Opens a channel with a request frame. */
static int chan_open(struct proto_client *c, uint16_t type, const struct tlv_writer *w,
                     struct proto_exec **out, struct bl_error *err)
{
    struct proto_exec *e = calloc(1, sizeof *e);
    if (!e)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    e->c = c;
    e->stdin_credit = PROTO_WINDOW;
    e->done_r = e->done_w = -1;
    for (int s = 0; s < 3; s++)
        e->out_r[s] = e->out_w[s] = -1;
    int p[2];
    for (int s = 1; s <= 2; s++) {
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
            int en = errno;
            exec_destroy(e);
            return bl_errno(err, en, "pipe");
        }
        e->out_r[s] = p[0];
        e->out_w[s] = p[1];
    }
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
        int en = errno;
        exec_destroy(e);
        return bl_errno(err, en, "pipe");
    }
    e->done_r = p[0];
    e->done_w = p[1];
    pthread_mutex_lock(&c->lock);
    if (c->dead) {
        pthread_mutex_unlock(&c->lock);
        exec_destroy(e);
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "connection to the agent lost: %s", c->dead_msg);
    }
    e->id = c->next_id++;
    if (c->next_id == 0)
        c->next_id = 1;
    e->next = c->execs;
    c->execs = e;
    pthread_mutex_unlock(&c->lock);
    wake(c);
    int rc = send_frame(c, type, e->id, 0, w->buf, w->len, err);
    if (rc < 0) {
        pthread_mutex_lock(&c->lock);
        exec_unlink(c, e);
        pthread_mutex_unlock(&c->lock);
        exec_destroy(e);
        return rc;
    }
    *out = e;
    return 0;
}

int proto_exec_start(struct proto_client *c, const struct proto_exec_req *req,
                     struct proto_exec **out, struct bl_error *err)
{
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int rc = proto_exec_req_encode(req, w, err);
    if (rc == 0)
        rc = chan_open(c, PROTO_EXEC, w, out, err);
    free(w);
    return rc;
}

int proto_exec_stdout_fd(struct proto_exec *e) { return e->out_r[1]; }
int proto_exec_stderr_fd(struct proto_exec *e) { return e->out_r[2]; }
int proto_exec_done_fd(struct proto_exec *e) { return e->done_r; }

int proto_exec_write_stdin(struct proto_exec *e, const void *data, size_t len, struct bl_error *err)
{
    struct proto_client *c = e->c;
    const uint8_t *p = data;
    while (len) {
        pthread_mutex_lock(&c->lock);
        while (!e->stdin_credit && !e->done && !c->dead)
            pthread_cond_wait(&c->cond, &c->lock);
        if (e->done || c->dead || e->stdin_closed) {
            bool closed = e->stdin_closed;
            pthread_mutex_unlock(&c->lock);
            return bl_err(err, BOXLITE_ERR_STATE, closed ? "stdin already closed" : "the process has ended");
        }
        size_t n = len < e->stdin_credit ? len : e->stdin_credit;
        if (n > 32768)
            n = 32768;
        e->stdin_credit -= (uint32_t)n;
        pthread_mutex_unlock(&c->lock);
        int rc = send_frame(c, PROTO_DATA, e->id, PROTO_STDIN, p, n, err);
        if (rc < 0)
            return rc;
        p += n;
        len -= n;
    }
    return 0;
}

int proto_exec_close_stdin(struct proto_exec *e, struct bl_error *err)
{
    pthread_mutex_lock(&e->c->lock);
    bool skip = e->stdin_closed || e->done;
    e->stdin_closed = true;
    pthread_mutex_unlock(&e->c->lock);
    if (skip)
        return 0;
    return send_frame(e->c, PROTO_EOF, e->id, PROTO_STDIN, NULL, 0, err);
}

int proto_exec_signal(struct proto_exec *e, int sig, struct bl_error *err)
{
    if (sig < 1 || sig > 64)
        return bl_err(err, BOXLITE_ERR_INVALID, "signal %d out of range", sig);
    uint8_t b[4];
    put_le32(b, (uint32_t)sig);
    return send_frame(e->c, PROTO_SIGNAL, e->id, 0, b, 4, err);
}

int proto_exec_resize(struct proto_exec *e, unsigned rows, unsigned cols, struct bl_error *err)
{
    if (rows > 0xffff || cols > 0xffff)
        return bl_err(err, BOXLITE_ERR_INVALID, "terminal size %ux%u too large", rows, cols);
    uint8_t b[8];
    put_le32(b, rows);
    put_le32(b + 4, cols);
    return send_frame(e->c, PROTO_RESIZE, e->id, 0, b, 8, err);
}

int proto_exec_wait(struct proto_exec *e, int timeout_ms, struct proto_result *res,
                    struct bl_error *err)
{
    struct proto_client *c = e->c;
    struct timespec ts, *dl = deadline_of(timeout_ms, &ts);
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    while (!e->done && rc == 0)
        rc = wait_cond(c, dl);
    if (!e->done) {
        pthread_mutex_unlock(&c->lock);
        return bl_err(err, BOXLITE_ERR_TIMEOUT, "still running after %d ms", timeout_ms);
    }
    if (e->err_code) {
        rc = bl_err(err, e->err_code, "%s", e->err_msg);
    } else {
        if (res)
            *res = e->res;
        rc = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void proto_exec_free(struct proto_exec *e)
{
    if (!e)
        return;
    struct proto_client *c = e->c;
    pthread_mutex_lock(&c->lock);
    bool running = !e->done && !c->dead;
    exec_unlink(c, e);
    pthread_mutex_unlock(&c->lock);
    if (running)
        send_frame(c, PROTO_CLOSE, e->id, 0, NULL, 0, NULL);
    wake(c);
    /* The I/O thread may be in poll() on our pipes: it rechecks membership under the lock
     * before touching an execution, and a closed fd in its poll set is harmless. */
    pthread_mutex_lock(&c->lock);
    exec_destroy(e);
    bool last = c->closed && c->execs == NULL;
    pthread_mutex_unlock(&c->lock);
    if (last)
        client_free(c);
}

/* ---- copy, setup, shutdown ---------------------------------------------------------- */

struct tar_job {
    int fd;
    const char *path;
    int rc;
    struct bl_error err;
};

static void *tar_writer_thread(void *arg)
{
    struct tar_job *j = arg;
    j->rc = tar_write(j->fd, j->path, NULL, &j->err);
    close(j->fd);
    return NULL;
}

int proto_copy_in(struct proto_client *c, const char *host_path, const char *guest_path,
                  struct bl_error *err)
{
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    tlv_init(w);
    tlv_str(w, T_PATH, guest_path);
    struct proto_exec *e;
    int rc = chan_open(c, PROTO_COPY_IN, w, &e, err);
    free(w);
    if (rc < 0)
        return rc;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        proto_exec_free(e);
        return bl_errno(err, errno, "pipe");
    }
    struct tar_job job = {.fd = p[1], .path = host_path};
    pthread_t t;
    sigset_t all, old;
    sigfillset(&all); /* its write may raise SIGPIPE if we stop reading early */
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&t, NULL, tar_writer_thread, &job);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(p[0]);
        close(p[1]);
        proto_exec_free(e);
        return bl_errno(err, rc, "thread");
    }
    char *buf = malloc(65536);
    ssize_t n;
    rc = 0;
    while (buf && (n = read(p[0], buf, 65536)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (rc = proto_exec_write_stdin(e, buf, (size_t)n, err)) < 0)
            break;
    }
    close(p[0]); /* unblocks the writer if we stopped early */
    pthread_join(t, NULL);
    free(buf);
    if (job.rc < 0 && rc == 0) {
        *err = job.err;
        rc = job.rc;
    }
    if (rc == 0) {
        proto_exec_close_stdin(e, NULL);
        rc = proto_exec_wait(e, -1, NULL, err);
    } else {
        /* the agent's view of the failure is more useful when it has one */
        struct bl_error agent_err = {0};
        if (proto_exec_wait(e, 0, NULL, &agent_err) < 0 && agent_err.code != BOXLITE_ERR_TIMEOUT)
            *err = agent_err;
    }
    proto_exec_free(e);
    if (rc < 0)
        bl_err_prefix(err, "copy %s into the box at %s", host_path, guest_path);
    return rc;
}

int proto_copy_out(struct proto_client *c, const char *guest_path, const char *host_path,
                   struct bl_error *err)
{
    return proto_copy_out_max(c, guest_path, host_path, 0, err);
}

int proto_copy_out_max(struct proto_client *c, const char *guest_path, const char *host_path,
                       uint64_t max_bytes, struct bl_error *err)
{
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    tlv_init(w);
    tlv_str(w, T_PATH, guest_path);
    struct proto_exec *e;
    int rc = chan_open(c, PROTO_COPY_OUT, w, &e, err);
    free(w);
    if (rc < 0)
        return rc;
    int fd = proto_exec_stdout_fd(e);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct bl_error xerr = {0};
    /* The archive is the guest's: tar_extract_untrusted's rules (no owners, no setuid,
     * regular files, directories and symlinks only, never merged, bounded). */
    struct tar_untrusted u = {.max_bytes = max_bytes};
    int xrc = tar_extract_untrusted(fd, host_path, &u, NULL, &xerr);
    if (xrc < 0) {
        /* Stop the transfer: the rest would only be discarded, and a guest could make it
         * endless (a 2 GiB sparse file under a 1 MiB limit). Freeing the running execution
         * sends CLOSE, on which the agent kills its writer. */
        pthread_mutex_lock(&c->lock);
        close_fd(&e->out_r[1]);
        pthread_mutex_unlock(&c->lock);
        proto_exec_free(e);
        *err = xerr;
        return bl_err_prefix(err, "copy %s out of the box to %s", guest_path, host_path);
    }
    rc = proto_exec_wait(e, -1, NULL, err);
    proto_exec_free(e);
    if (rc == 0 && xrc < 0) {
        *err = xerr;
        rc = xrc;
    }
    if (rc < 0)
        bl_err_prefix(err, "copy %s out of the box to %s", guest_path, host_path);
    return rc;
}

static int simple_request(struct proto_client *c, uint16_t type, const struct tlv_writer *w,
                          int timeout_ms, struct bl_error *err)
{
    struct proto_exec *e;
    int rc = chan_open(c, type, w, &e, err);
    if (rc < 0)
        return rc;
    rc = proto_exec_wait(e, timeout_ms, NULL, err);
    proto_exec_free(e);
    return rc;
}

int proto_setup(struct proto_client *c, const struct proto_setup *s, int timeout_ms,
                struct bl_error *err)
{
    struct tlv_writer *w = malloc(sizeof *w);
    if (!w)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int rc = proto_setup_encode(s, w, err);
    if (rc == 0)
        rc = simple_request(c, PROTO_SETUP, w, timeout_ms, err);
    free(w);
    return rc;
}

int proto_fsfreeze(struct proto_client *c, bool freeze, int auto_thaw_ms, int timeout_ms,
                   struct bl_error *err)
{
    struct tlv_writer w;
    tlv_init(&w);
    tlv_u64(&w, T_FREEZE, freeze ? 1 : 0);
    if (freeze)
        tlv_u64(&w, T_TIMEOUT_MS, (uint64_t)auto_thaw_ms);
    return simple_request(c, PROTO_FSFREEZE, &w, timeout_ms, err);
}

int proto_volumes(struct proto_client *c, bool mount_them, int timeout_ms, struct bl_error *err)
{
    struct tlv_writer w;
    tlv_init(&w);
    tlv_u64(&w, T_MOUNT, mount_them ? 1 : 0);
    return simple_request(c, PROTO_VOLUMES, &w, timeout_ms, err);
}

int proto_group_limits(struct proto_client *c, const char *group, uint64_t pids_max,
                       int timeout_ms, struct bl_error *err)
{
    struct proto_group_limits g = { .pids_max = pids_max };
    if (!proto_group_name_ok(group))
        return bl_err(err, BOXLITE_ERR_INVALID, "process group name \"%s\": 1 to %d of "
                      "[A-Za-z0-9_.+-]", group ? group : "", PROTO_GROUP_NAME_MAX);
    memcpy(g.group, group, strlen(group) + 1);
    struct tlv_writer w;
    proto_group_limits_encode(&g, &w);
    return simple_request(c, PROTO_GROUP_LIMITS, &w, timeout_ms, err);
}

int proto_kill(struct proto_client *c, int sig, int timeout_ms, struct bl_error *err)
{
    struct tlv_writer w;
    tlv_init(&w);
    tlv_u64(&w, T_SIGNO, (uint64_t)sig);
    return simple_request(c, PROTO_KILL, &w, timeout_ms, err);
}

int proto_reclaim(struct proto_client *c, int timeout_ms, uint64_t *freed, struct bl_error *err)
{
    struct tlv_writer w;
    tlv_init(&w);
    struct proto_exec *e;
    int rc = chan_open(c, PROTO_RECLAIM, &w, &e, err);
    if (rc < 0)
        return rc;
    struct proto_result res = { 0 };
    rc = proto_exec_wait(e, timeout_ms, &res, err);
    proto_exec_free(e);
    *freed = rc < 0 ? 0 : res.bytes;
    return rc;
}

static void take_balloon(struct proto_client *c, void *arg)
{
    if (arg)
        *(uint64_t *)arg = c->balloon_actual;
}

int proto_client_balloon(struct proto_client *c, uint64_t target_mib, int timeout_ms,
                         uint64_t *actual_mib, struct bl_error *err)
{
    struct tlv_writer w;
    proto_balloon_encode(target_mib, 0, false, &w);
    return control_request(c, PROTO_BALLOON, &w, "balloon", timeout_ms, take_balloon, actual_mib,
                           err);
}

int proto_shutdown(struct proto_client *c, int timeout_ms, struct bl_error *err)
{
    struct tlv_writer w;
    tlv_init(&w);
    return simple_request(c, PROTO_SHUTDOWN, &w, timeout_ms, err);
}

int proto_identity(struct proto_client *c, const struct proto_identity *id, int timeout_ms,
                   struct bl_error *err)
{
    struct tlv_writer w;
    tlv_init(&w);
    if (id->hostname[0])
        tlv_str(&w, T_HOSTNAME, id->hostname);
    if (id->mac[0])
        tlv_str(&w, T_MAC, id->mac);
    tlv_bytes(&w, T_SEED, id->seed, sizeof id->seed);
    tlv_u64(&w, T_TIME_NS, id->time_ns);
    return simple_request(c, PROTO_IDENTITY, &w, timeout_ms, err);
}
