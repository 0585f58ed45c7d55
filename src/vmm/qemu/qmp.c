// SPDX-License-Identifier: Apache-2.0
/* The QMP client: message classification, an incremental line reader, and synchronous
 * commands with a deadline (QEMU docs/interop/qmp-spec.txt, sections 2 and 4). */
#include "vmm/qemu/qmp.h"

#include "common/clock.h"
#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void qmp_msg_free(struct qmp_msg *m)
{
    if (!m)
        return;
    json_decref(m->json);
    memset(m, 0, sizeof *m);
}

int qmp_msg_parse(const char *line, size_t len, struct qmp_msg *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *j = json_loadb(line, len, 0, &jerr);
    if (!j)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "QMP: bad JSON at column %d: %s", jerr.column,
                      jerr.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "QMP: message is not a JSON object");
    }
    out->json = j;
    json_t *v;
    if ((v = json_object_get(j, "return"))) {
        out->kind = QMP_RETURN;
        out->value = v;
    } else if ((v = json_object_get(j, "error"))) {
        out->kind = QMP_ERROR;
        out->error_class = json_string_value(json_object_get(v, "class"));
        out->error_desc = json_string_value(json_object_get(v, "desc"));
        if (!json_is_object(v) || !out->error_desc)
            goto bad;
        if (!out->error_class)
            out->error_class = "GenericError";
    } else if ((v = json_object_get(j, "event"))) {
        out->kind = QMP_EVENT;
        out->event = json_string_value(v);
        out->value = json_object_get(j, "data");
        if (!out->event || (out->value && !json_is_object(out->value)))
            goto bad;
    } else if ((v = json_object_get(j, "QMP"))) {
        out->kind = QMP_GREETING;
        out->value = v;
        if (!json_is_object(v))
            goto bad;
    } else {
        goto bad;
    }
    return 0;
bad:
    qmp_msg_free(out);
    return bl_err(err, BOXLITE_ERR_PROTOCOL, "QMP: message of unknown shape");
}

int qmp_reader_feed(struct qmp_reader *r, const void *data, size_t len, struct bl_error *err)
{
    /* qmp_reader_next() drops an over-long message, so the buffer stays bounded as long as
     * the caller alternates feed and next. */
    if (len > SIZE_MAX / 4 - r->len)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "QMP: input too large");
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + len)
            cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b)
            return bl_errno(err, ENOMEM, "QMP: reader buffer");
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return 0;
}

int qmp_reader_next(struct qmp_reader *r, struct qmp_msg *out, struct bl_error *err)
{
    for (;;) {
        char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
        if (!nl) {
            if (r->len > QMP_MAX_MESSAGE) {
                r->len = 0;
                return bl_err(err, BOXLITE_ERR_PROTOCOL, "QMP: message longer than %u bytes",
                              QMP_MAX_MESSAGE);
            }
            return 0;
        }
        size_t n = (size_t)(nl - r->buf), used = n + 1;
        while (n > 0 && (r->buf[n - 1] == '\r' || r->buf[n - 1] == ' '))
            n--;
        int rc = 1;
        if (n == 0)
            rc = -1; /* blank line: skip it */
        else if (n > QMP_MAX_MESSAGE)
            rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "QMP: message longer than %u bytes",
                        QMP_MAX_MESSAGE);
        else
            rc = qmp_msg_parse(r->buf, n, out, err) < 0 ? -2 : 1;
        memmove(r->buf, r->buf + used, r->len - used);
        r->len -= used;
        if (rc == -1)
            continue;
        return rc == 1 ? 1 : -BOXLITE_ERR_PROTOCOL;
    }
}

void qmp_reader_free(struct qmp_reader *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* ---- the connection ------------------------------------------------------------------ */

static int remaining(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - (int64_t)mono_ms();
    return left < 0 ? 0 : (int)(left > INT32_MAX ? INT32_MAX : left);
}

static void note_event(struct qmp *q, const struct qmp_msg *m)
{
    q->events_seen++;
    if (strcmp(m->event, "MIGRATION") == 0) {
        const char *st = json_string_value(json_object_get(m->value, "status"));
        snprintf(q->migration_status, sizeof q->migration_status, "%s", st ? st : "unknown");
        return;
    }
    if (strcmp(m->event, "SHUTDOWN") != 0)
        return;
    const char *reason = json_string_value(json_object_get(m->value, "reason"));
    q->shutdown_seen = true;
    q->shutdown_guest = json_is_true(json_object_get(m->value, "guest"));
    snprintf(q->shutdown_reason, sizeof q->shutdown_reason, "%s", reason ? reason : "unknown");
}

/* Waits until QEMU sends more (or the deadline) and feeds it to the reader. 0 when a
 * message may be there now or the end of the stream was noted; on a timeout the error
 * says what was awaited. */
static int receive(struct qmp *q, int64_t deadline, const char *awaited, struct bl_error *err)
{
    if (q->eof)
        return bl_err(err, BOXLITE_ERR_ENGINE, "QMP: QEMU closed the connection");
    struct pollfd p = {.fd = q->fd, .events = POLLIN};
    int pr = poll(&p, 1, remaining(deadline));
    if (pr < 0 && errno == EINTR)
        return 0;
    if (pr < 0)
        return bl_errno(err, errno, "QMP: poll");
    if (pr == 0)
        return bl_err(err, BOXLITE_ERR_TIMEOUT, "QMP: %s", awaited);
    char buf[8192];
    ssize_t n = read(q->fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n < 0 && errno != ECONNRESET)
        return bl_errno(err, errno, "QMP: read");
    if (n <= 0) {
        q->eof = true;
        return 0;
    }
    return qmp_reader_feed(&q->rd, buf, (size_t)n, err) < 0 ? -BOXLITE_ERR_PROTOCOL : 0;
}

/* Reads one message that is not an event (events are noted on the way). */
static int read_reply(struct qmp *q, struct qmp_msg *out, int64_t deadline, struct bl_error *err)
{
    for (;;) {
        int rc = qmp_reader_next(&q->rd, out, err);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            if (out->kind != QMP_EVENT)
                return 0;
            note_event(q, out);
            qmp_msg_free(out);
            continue;
        }
        rc = receive(q, deadline, "no answer from QEMU in time", err);
        if (rc < 0)
            return rc;
    }
}

int qmp_open(struct qmp *q, int fd, int timeout_ms, struct bl_error *err)
{
    memset(q, 0, sizeof *q);
    q->fd = fd;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return bl_errno(err, errno, "QMP: set non-blocking");
    int64_t deadline = timeout_ms < 0 ? -1 : (int64_t)mono_ms() + timeout_ms;
    struct qmp_msg m;
    int rc = read_reply(q, &m, deadline, err);
    if (rc < 0)
        return bl_err_prefix(err, "QMP greeting");
    bool greeting = m.kind == QMP_GREETING;
    qmp_msg_free(&m);
    if (!greeting)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "QMP: the first message is not a greeting");
    return qmp_execute(q, "qmp_capabilities", NULL, NULL, remaining(deadline), err);
}

/* The first byte goes with the descriptor (SCM_RIGHTS, QMP's "getfd"), the rest as usual. */
static int send_with_fd(int sock, const char *text, size_t len, int fd, int64_t deadline)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = { .iov_base = (void *)text, .iov_len = 1 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof u.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    for (;;) {
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n == 1)
            break;
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return -errno;
        struct pollfd p = { .fd = sock, .events = POLLOUT };
        if (n < 0 && errno == EAGAIN && poll(&p, 1, remaining(deadline)) == 0)
            return -ETIMEDOUT;
    }
    return io_write_all_until(sock, text + 1, len - 1, deadline);
}

static int execute(struct qmp *q, const char *command, json_t *args, json_t **ret,
                   int timeout_ms, int fd, struct bl_error *err);

int qmp_execute(struct qmp *q, const char *command, json_t *args, json_t **ret, int timeout_ms,
                struct bl_error *err)
{
    return execute(q, command, args, ret, timeout_ms, -1, err);
}

int qmp_execute_fd(struct qmp *q, const char *command, json_t *args, int fd, int timeout_ms,
                   struct bl_error *err)
{
    return execute(q, command, args, NULL, timeout_ms, fd, err);
}

int qmp_wait_migration(struct qmp *q, int timeout_ms, struct bl_error *err)
{
    int64_t deadline = timeout_ms < 0 ? -1 : (int64_t)mono_ms() + timeout_ms;
    for (;;) {
        const char *st = q->migration_status;
        if (!strcmp(st, "completed"))
            return 0;
        if (!strcmp(st, "failed") || !strcmp(st, "cancelled"))
            return bl_err(err, BOXLITE_ERR_ENGINE, "QEMU's migration %s", st);
        struct qmp_msg m;
        int rc = qmp_reader_next(&q->rd, &m, err);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            if (m.kind == QMP_EVENT)
                note_event(q, &m);
            qmp_msg_free(&m); /* a stray answer: nothing waits for it */
            continue;
        }
        rc = receive(q, deadline, "QEMU's migration did not end in time", err);
        if (rc < 0)
            return rc;
    }
}

static int execute(struct qmp *q, const char *command, json_t *args, json_t **ret,
                   int timeout_ms, int fd, struct bl_error *err)
{
    if (ret)
        *ret = NULL;
    json_t *req = json_pack("{s:s}", "execute", command);
    if (!req || (args && json_object_set_new(req, "arguments", args) < 0)) {
        json_decref(req);
        return bl_errno(err, ENOMEM, "QMP: build %s", command);
    }
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text)
        return bl_errno(err, ENOMEM, "QMP: encode %s", command);
    int64_t deadline = timeout_ms < 0 ? -1 : (int64_t)mono_ms() + timeout_ms;
    size_t tl = strlen(text);
    text[tl] = '\n'; /* the newline ends the message; the NUL is not sent */
    int rc = fd >= 0 ? send_with_fd(q->fd, text, tl + 1, fd, deadline)
                     : io_write_all_until(q->fd, text, tl + 1, deadline);
    free(text);
    if (rc == -ETIMEDOUT)
        return bl_err(err, BOXLITE_ERR_TIMEOUT, "%s: QMP: QEMU does not read its socket", command);
    if (rc < 0)
        return bl_errno(err, -rc, "%s: QMP: write", command);
    struct qmp_msg m;
    if (read_reply(q, &m, deadline, err) < 0)
        return bl_err_prefix(err, "%s", command);
    if (m.kind == QMP_ERROR) {
        rc = bl_err(err, BOXLITE_ERR_ENGINE, "%s: QEMU says %s: %s", command, m.error_class,
                    m.error_desc);
    } else if (m.kind != QMP_RETURN) {
        rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "%s: unexpected QMP greeting", command);
    } else if (ret) {
        *ret = json_incref(m.value);
    }
    qmp_msg_free(&m);
    return rc;
}

int qmp_hmp(struct qmp *q, const char *command_line, char **out, int timeout_ms,
            struct bl_error *err)
{
    *out = NULL;
    json_t *ret = NULL;
    int rc = qmp_execute(q, "human-monitor-command",
                         json_pack("{s:s}", "command-line", command_line), &ret, timeout_ms, err);
    if (rc < 0)
        return rc;
    const char *s = json_string_value(ret);
    if (!s) {
        json_decref(ret);
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "%s: the answer is not a string", command_line);
    }
    *out = strdup(s);
    json_decref(ret);
    return *out ? 0 : bl_errno(err, ENOMEM, "%s", command_line);
}

void qmp_drain(struct qmp *q, int timeout_ms)
{
    if (q->fd < 0)
        return;
    int64_t deadline = (int64_t)mono_ms() + timeout_ms;
    struct qmp_msg m;
    struct bl_error e = {0};
    /* Messages only: an answer here would be a stray one; stop at end of stream. */
    while (read_reply(q, &m, deadline, &e) == 0)
        qmp_msg_free(&m);
}

void qmp_close(struct qmp *q)
{
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
    qmp_reader_free(&q->rd);
}
