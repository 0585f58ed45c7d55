// SPDX-License-Identifier: Apache-2.0
/* QEMU's output, capped: see output.h. */
#include "vmm/qemu/output.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct qemu_output {
    pthread_t thread;
    pthread_mutex_t lock;
    int read_fd, stop_fd;
    char ring[QEMU_OUTPUT_KEEP];
    size_t head, kept; /* next byte's place; bytes held (<= QEMU_OUTPUT_KEEP) */
    uint64_t total;
    bool eof;
};

/* Under o->lock. */
static void keep(struct qemu_output *o, const char *p, size_t n)
{
    o->total += n;
    if (n > QEMU_OUTPUT_KEEP) { /* only the end of a long chunk can stay */
        p += n - QEMU_OUTPUT_KEEP;
        n = QEMU_OUTPUT_KEEP;
    }
    while (n) {
        size_t run = QEMU_OUTPUT_KEEP - o->head;
        if (run > n)
            run = n;
        memcpy(o->ring + o->head, p, run);
        o->head = (o->head + run) % QEMU_OUTPUT_KEEP;
        o->kept = o->kept + run > QEMU_OUTPUT_KEEP ? QEMU_OUTPUT_KEEP : o->kept + run;
        p += run;
        n -= run;
    }
}

/* Reads what the pipe holds into the ring, under o->lock: the reader and a report (which
 * must see what QEMU wrote before it was reaped, read or not) keep the bytes in order.
 * false once every writer is gone or the pipe failed. */
static bool drain(struct qemu_output *o)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(o->read_fd, buf, sizeof buf);
        if (n > 0) {
            keep(o, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return true;
        o->eof = true;
        return false;
    }
}

static void *reader(void *arg)
{
    struct qemu_output *o = arg;
    for (;;) {
        struct pollfd pf[2] = { { .fd = o->read_fd, .events = POLLIN },
                                { .fd = o->stop_fd, .events = POLLIN } };
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            break;
        if (pf[1].revents)
            break;
        if (!pf[0].revents)
            continue;
        pthread_mutex_lock(&o->lock);
        bool more = !o->eof && drain(o);
        pthread_mutex_unlock(&o->lock);
        if (!more)
            break;
    }
    return NULL;
}

int qemu_output_open(struct qemu_output **out, int *write_fd, struct bl_error *err)
{
    *out = NULL;
    *write_fd = -1;
    struct qemu_output *o = calloc(1, sizeof *o);
    if (!o)
        return bl_errno(err, ENOMEM, "QEMU's output");
    int p[2] = { -1, -1 };
    if (pipe2(p, O_CLOEXEC) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
        int e = errno;
        if (p[0] >= 0) {
            close(p[0]);
            close(p[1]);
        }
        free(o);
        return bl_errno(err, e, "QEMU's output: pipe");
    }
    o->read_fd = p[0];
    o->stop_fd = eventfd(0, EFD_CLOEXEC);
    pthread_mutex_init(&o->lock, NULL);
    int rc = o->stop_fd < 0 ? errno : pthread_create(&o->thread, NULL, reader, o);
    if (rc != 0) {
        if (o->stop_fd >= 0)
            close(o->stop_fd);
        close(p[0]);
        close(p[1]);
        pthread_mutex_destroy(&o->lock);
        free(o);
        return bl_errno(err, rc, "QEMU's output: reader");
    }
    *write_fd = p[1];
    *out = o;
    return 0;
}

/* The byte k (1..kept) places before the newest's end, under o->lock. */
static char back(const struct qemu_output *o, size_t k)
{
    return o->ring[(o->head + QEMU_OUTPUT_KEEP - k) % QEMU_OUTPUT_KEEP];
}

void qemu_output_tail(struct qemu_output *o, char *out, size_t out_len)
{
    if (!out_len)
        return;
    out[0] = 0;
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    if (!o->eof)
        drain(o);
    /* the last line ends are left out before the room is counted */
    size_t held = o->kept;
    while (held && (back(o, o->kept - held + 1) == '\n' || back(o, o->kept - held + 1) == '\r'))
        held--;
    size_t skip = o->kept - held, n = held < out_len - 1 ? held : out_len - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = back(o, skip + n - i);
    pthread_mutex_unlock(&o->lock);
    out[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i] == '\n' || out[i] == '\r' || out[i] == 0)
            out[i] = ' ';
}

void qemu_output_counts(struct qemu_output *o, size_t *kept, uint64_t *total)
{
    pthread_mutex_lock(&o->lock);
    *kept = o->kept;
    *total = o->total;
    pthread_mutex_unlock(&o->lock);
}

void qemu_output_free(struct qemu_output *o)
{
    if (!o)
        return;
    uint64_t one = 1;
    if (write(o->stop_fd, &one, sizeof one) < 0) {
        /* an eventfd write fails only on overflow; the reader is woken either way */
    }
    pthread_join(o->thread, NULL);
    close(o->stop_fd);
    close(o->read_fd);
    pthread_mutex_destroy(&o->lock);
    free(o);
}
