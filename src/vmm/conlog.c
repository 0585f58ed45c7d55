// SPDX-License-Identifier: Apache-2.0
/* Console pump: see conlog.h. The panic line is the one Linux prints from panic()
 * (kernel/panic.c: "Kernel panic - not syncing: %s"). */
#include "vmm/conlog.h"

#include "vmm/jail/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define PANIC_PREFIX "Kernel panic - not syncing: "

static void scan_line(struct panic_scan *s)
{
    s->line[s->len] = 0;
    while (s->len && (s->line[s->len - 1] == '\r' || s->line[s->len - 1] == ' '))
        s->line[--s->len] = 0;
    const char *p = strstr(s->line, PANIC_PREFIX);
    if (p && !s->panic[0]) {
        p += strlen(PANIC_PREFIX);
        size_t k = 0;
        /* printable ASCII only: it ends up in JSON and on terminals */
        for (; *p && k < sizeof s->panic - 1; p++)
            if (*p >= 0x20 && *p < 0x7f)
                s->panic[k++] = *p;
        s->panic[k] = 0;
        if (!k)
            snprintf(s->panic, sizeof s->panic, "(no message)");
    }
}

void panic_scan_feed(struct panic_scan *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            if (!s->overlong)
                scan_line(s);
            s->len = 0;
            s->overlong = false;
        } else if (s->len < sizeof s->line - 1) {
            s->line[s->len++] = p[i];
        } else {
            s->overlong = true;
        }
    }
}

struct conlog {
    int fd, wake;
    struct logrot *lr;
    pthread_t thread;
    pthread_mutex_t lock;
    struct panic_scan scan;
    bool draining; /* asked to stop: read what is there, then end */
};

static void *pump(void *arg)
{
    struct conlog *c = arg;
    pthread_setname_np(pthread_self(), "logpump");
    jail_thread_enter(JAIL_IO); /* started before the main thread's filter */
    char buf[65536];
    for (;;) {
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = c->wake, .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents) {
            /* stop asked: take what the pipe holds without waiting for more */
            fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
            uint64_t v;
            if (read(c->wake, &v, sizeof v) < 0) {
            }
            pthread_mutex_lock(&c->lock);
            c->draining = true;
            pthread_mutex_unlock(&c->lock);
        }
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            pthread_mutex_lock(&c->lock);
            bool d = c->draining;
            pthread_mutex_unlock(&c->lock);
            if (d && errno == EAGAIN)
                break;
            continue;
        }
        if (n <= 0)
            break;
        logrot_write(c->lr, buf, (size_t)n);
        pthread_mutex_lock(&c->lock);
        panic_scan_feed(&c->scan, buf, (size_t)n);
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}

int conlog_start(struct conlog **out, int fd, struct logrot *lr, struct bl_error *err)
{
    *out = NULL;
    struct conlog *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return bl_err(err, BOXLITE_ERR_NOMEM, "console log: out of memory");
    }
    c->fd = fd;
    c->lr = lr;
    c->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&c->lock, NULL);
    int rc = c->wake < 0 ? errno : pthread_create(&c->thread, NULL, pump, c);
    if (rc) {
        if (c->wake >= 0)
            close(c->wake);
        close(fd);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return bl_errno(err, rc, "console log thread");
    }
    *out = c;
    return 0;
}

void conlog_stop(struct conlog *c, int wait_ms, char *panic, size_t panic_len)
{
    if (panic && panic_len)
        panic[0] = 0;
    if (!c)
        return;
    /* The writers are gone by now in the normal case: end-of-file ends the pump by
     * itself. Otherwise, after wait_ms, drain and stop. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(c->thread, NULL, &deadline) != 0) {
        uint64_t one = 1;
        if (write(c->wake, &one, sizeof one) < 0) {
        }
        pthread_join(c->thread, NULL);
    }
    if (panic && panic_len)
        snprintf(panic, panic_len, "%s", c->scan.panic);
    close(c->fd);
    close(c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
