// SPDX-License-Identifier: Apache-2.0
/* virtio-9p transport: gathers each request chain into a flat buffer, has the 9P server
 * (fs/p9.c) answer it, and scatters the reply into the chain's writable buffers.
 *
 * File system calls can block (a large read, fsync, a slow disk), so once the device has
 * an event loop (virtio_dev_use_eventfds) requests are answered on a worker thread of its
 * own and the loop that also carries the agent channel and the other devices never waits
 * for the host file system: the loop pops a chain and hands its buffers over, the worker
 * reads the request from them and runs the server, and a completion eventfd brings the
 * reply back to the loop, which writes it into the chain and pushes it. One request is
 * answered at a time, so one request and one reply buffer serve them all. The worker never
 * touches the queue or dev->lock.
 * A driver reset while requests are in flight bumps a generation number: their replies are
 * dropped. Without a loop (unit tests, a vCPU-thread notify) requests are answered inline. */
#include "vmm/virtio/9p.h"

#include "vmm/fs/p9.h"
#include "vmm/jail/jail.h"
#include "vmm/snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct job {
    struct job *next;
    uint32_t gen;
    uint16_t head;
    uint32_t out_num, in_num;
    uint64_t out_len, in_len;
    struct iovec *iov; /* out_num device-readable then in_num device-writable buffers
                        * (host pointers into guest RAM, mapped for the VM's lifetime) */
};

struct jobq {
    struct job *head, *tail;
};

static void jobq_put(struct jobq *q, struct job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

static struct job *jobq_take_all(struct jobq *q)
{
    struct job *j = q->head;
    q->head = q->tail = NULL;
    return j;
}

static void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->iov);
    free(j);
}

struct v9p {
    struct virtio_dev dev;
    struct p9_server *srv;
    uint8_t config[2 + VIRTIO_9P_TAG_MAX];
    size_t config_len;
    uint8_t *req, *resp; /* p9_server_max_msize() bytes each: the worker's, or the inline
                          * path's when there is no worker */
    size_t bufsize;
    struct virtq_elem el;

    /* the worker (see the top of this file) */
    bool async;           /* decided at the first notify: the device has a loop */
    uint32_t gen;         /* bumped by a driver reset; guarded by dev->lock */
    int done_fd;          /* eventfd on dev->loop: replies are ready */
    bool worker_started;
    pthread_t worker;
    pthread_mutex_t wlock; /* pending, done, resp_len, stop */
    pthread_cond_t wcond;
    struct jobq pending;
    struct job *done;      /* answered, its reply in resp: the worker waits until the loop
                            * has copied it out, so one reply buffer is enough */
    size_t resp_len;
    bool stop;
    unsigned inflight; /* chains handed to the worker and not yet returned (wlock) */
};

static uint64_t v9p_features(struct virtio_dev *dev)
{
    return 1ull << VIRTIO_9P_MOUNT_TAG;
}

static void v9p_config_read(struct virtio_dev *dev, uint64_t off, uint8_t *data, uint32_t len)
{
    struct v9p *v = dev->priv;
    memset(data, 0, len);
    if (off < v->config_len && len <= v->config_len - off)
        memcpy(data, v->config + off, len);
    else if (off < v->config_len)
        memcpy(data, v->config + off, v->config_len - off); /* a read across the end */
}

/* A request larger than our buffer is cut short; its size field then disagrees with the
 * length and the server answers Rlerror with the request's tag. */
static size_t req_len_of(const struct v9p *v, const struct virtq_elem *e)
{
    return e->out_len < v->bufsize ? (size_t)e->out_len : v->bufsize;
}

static size_t resp_cap_of(const struct v9p *v, const struct virtq_elem *e)
{
    return e->in_len < v->bufsize ? (size_t)e->in_len : v->bufsize;
}

static void *worker_run(void *arg)
{
    struct v9p *v = arg;
    pthread_setname_np(pthread_self(), "9p"); /* the event loop's filter, inherited */
    pthread_mutex_lock(&v->wlock);
    for (;;) {
        while (!v->stop && (!v->pending.head || v->done))
            pthread_cond_wait(&v->wcond, &v->wlock);
        if (v->stop)
            break;
        struct job *j = v->pending.head;
        v->pending.head = j->next;
        if (!v->pending.head)
            v->pending.tail = NULL;
        pthread_mutex_unlock(&v->wlock);

        size_t n = iov_to_buf(j->iov, j->out_num, 0, v->req,
                              j->out_len < v->bufsize ? (size_t)j->out_len : v->bufsize);
        size_t rlen = p9_handle(v->srv, v->req, n, v->resp,
                                j->in_len < v->bufsize ? (size_t)j->in_len : v->bufsize);

        pthread_mutex_lock(&v->wlock);
        v->done = j;
        v->resp_len = rlen;
        pthread_cond_broadcast(&v->wcond); /* a pause's quiesce may be waiting for it */
        uint64_t one = 1;
        ssize_t w = write(v->done_fd, &one, sizeof one);
        (void)w; /* a saturated counter is still readable */
    }
    pthread_mutex_unlock(&v->wlock);
    return NULL;
}

/* A request was answered: write the reply into its chain and return it (loop thread). */
static void on_done(void *opaque, int fd, uint32_t events)
{
    struct v9p *v = opaque;
    uint64_t cnt;
    ssize_t n = read(fd, &cnt, sizeof cnt);
    (void)n;
    pthread_mutex_lock(&v->wlock);
    struct job *j = v->done;
    size_t rlen = v->resp_len;
    pthread_mutex_unlock(&v->wlock);
    if (!j)
        return;

    /* The worker waits while v->done is set: v->resp is ours until we clear it. */
    struct virtio_dev *dev = &v->dev;
    pthread_mutex_lock(&dev->lock);
    struct virtq *q = &dev->queues[0];
    uint16_t old = q->used_idx;
    if (j->gen == v->gen && !dev->broken && q->ready) {
        uint32_t written =
            (uint32_t)iov_from_buf(j->iov + j->out_num, j->in_num, 0, v->resp, rlen);
        v->el.head = j->head;
        v->el.in_len = j->in_len;
        if (virtq_push(q, &v->el, written) == 0)
            virtio_dev_interrupt(dev, 0, old);
    }
    pthread_mutex_unlock(&dev->lock);

    pthread_mutex_lock(&v->wlock);
    v->done = NULL;
    v->inflight--;
    pthread_cond_broadcast(&v->wcond); /* the worker, and a quiesce waiting for the next */
    pthread_mutex_unlock(&v->wlock);
    job_free(j);
}

static bool start_worker(struct v9p *v)
{
    v->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (v->done_fd < 0)
        return false;
    if (pthread_create(&v->worker, NULL, worker_run, v) != 0) {
        close(v->done_fd);
        v->done_fd = -1;
        return false;
    }
    v->worker_started = true;
    if (evloop_add(v->dev.loop, v->done_fd, EPOLLIN, on_done, v) < 0) {
        pthread_mutex_lock(&v->wlock);
        v->stop = true;
        pthread_cond_signal(&v->wcond);
        pthread_mutex_unlock(&v->wlock);
        pthread_join(v->worker, NULL);
        v->worker_started = false;
        close(v->done_fd);
        v->done_fd = -1;
        return false;
    }
    return true;
}

static struct job *job_of(struct v9p *v, const struct virtq_elem *e)
{
    struct job *j = calloc(1, sizeof *j);
    uint32_t n = e->out_num + e->in_num;
    if (!j || !(j->iov = malloc((n ? n : 1) * sizeof *j->iov))) {
        free(j);
        return NULL;
    }
    j->gen = v->gen;
    j->head = e->head;
    j->out_num = e->out_num;
    j->in_num = e->in_num;
    j->out_len = e->out_len;
    j->in_len = e->in_len;
    memcpy(j->iov, e->out, e->out_num * sizeof *j->iov);
    memcpy(j->iov + e->out_num, e->in, e->in_num * sizeof *j->iov);
    return j;
}

/* Answers one chain on this thread. */
static int serve_inline(struct v9p *v, struct virtq *q, const struct virtq_elem *e)
{
    size_t n = iov_to_buf(e->out, e->out_num, 0, v->req, req_len_of(v, e));
    size_t rlen = p9_handle(v->srv, v->req, n, v->resp, resp_cap_of(v, e));
    uint32_t written = (uint32_t)iov_from_buf(e->in, e->in_num, 0, v->resp, rlen);
    return virtq_push(q, e, written);
}

/* Out of memory with the worker busy on the shared buffers: Rlerror ENOMEM, built here. */
static int reply_enomem(struct virtq *q, const struct virtq_elem *e)
{
    uint8_t hdr[7] = {0}, r[11] = { 11, 0, 0, 0, P9_RLERROR, 0, 0, ENOMEM, 0, 0, 0 };
    iov_to_buf(e->out, e->out_num, 0, hdr, sizeof hdr);
    r[5] = hdr[5]; /* the request's tag */
    r[6] = hdr[6];
    return virtq_push(q, e, (uint32_t)iov_from_buf(e->in, e->in_num, 0, r, sizeof r));
}

static void v9p_notify(struct virtio_dev *dev, uint16_t qidx)
{
    struct v9p *v = dev->priv;
    struct virtq *q = &dev->queues[0];
    if (!v->async && dev->loop && !v->worker_started) {
        /* The worker inherits its creator's seccomp filter (src/vmm/jail/): it must be the
         * event loop's, which allows file system calls; a vCPU thread (DRIVER_OK notifies
         * every queue) hands the queue over to the loop through its eventfd instead. */
        if (jail_thread_kind() == JAIL_VCPU && dev->queue_eventfds &&
            dev->queue_eventfds[0] >= 0) {
            uint64_t one = 1;
            if (write(dev->queue_eventfds[0], &one, sizeof one) == sizeof one)
                return;
        }
        v->async = start_worker(v);
    }
    uint16_t old = q->used_idx;
    while (virtq_pop(q, &v->el) == 1) {
        if (!v->async) {
            if (serve_inline(v, q, &v->el) < 0)
                break;
            continue;
        }
        struct job *j = job_of(v, &v->el);
        if (!j) {
            if (reply_enomem(q, &v->el) < 0)
                break;
            continue;
        }
        pthread_mutex_lock(&v->wlock);
        jobq_put(&v->pending, j);
        v->inflight++;
        pthread_cond_signal(&v->wcond);
        pthread_mutex_unlock(&v->wlock);
    }
    virtio_dev_interrupt(dev, 0, old);
}

static void v9p_reset(struct virtio_dev *dev)
{
    struct v9p *v = dev->priv;
    v->gen++; /* replies still in flight belong to the old rings */
}

static void v9p_destroy(struct v9p *v)
{
    if (v->worker_started) {
        pthread_mutex_lock(&v->wlock);
        v->stop = true;
        pthread_cond_signal(&v->wcond);
        pthread_mutex_unlock(&v->wlock);
        pthread_join(v->worker, NULL);
    }
    if (v->done_fd >= 0) {
        if (v->dev.loop)
            evloop_del(v->dev.loop, v->done_fd);
        close(v->done_fd);
    }
    for (struct job *j = jobq_take_all(&v->pending); j;) {
        struct job *next = j->next;
        job_free(j);
        j = next;
    }
    job_free(v->done);
    pthread_mutex_destroy(&v->wlock);
    pthread_cond_destroy(&v->wcond);
    p9_server_free(v->srv);
    free(v->req);
    free(v->resp);
    free(v);
}

static void v9p_free(struct virtio_dev *dev) { v9p_destroy(dev->priv); }

/* ---- snapshots ------------------------------------------------------------------------
 * The 9P session goes with the VM (fs/p9_session.c): the guest keeps its shares mounted
 * across a pause, and the resumed or forked VM's server finds every fid's file again by
 * its path in the same host folder (a fork shares its source's volumes, docs: fork). */

#define QUIESCE_WAIT_S 10 /* a request stuck in the host file system longer refuses the pause */

/* The vCPUs and the event loop are stopped: answer what the worker still holds and return
 * it to the guest before anything is saved, so no request is lost with this process or
 * answered twice by the next. The worker hands each reply over through v->done; with the
 * loop gone, on_done runs here. */
static void v9p_quiesce(struct virtio_dev *dev)
{
    struct v9p *v = dev->priv;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += QUIESCE_WAIT_S;
    pthread_mutex_lock(&v->wlock);
    while (v->inflight) {
        while (!v->done && v->inflight) {
            if (pthread_cond_timedwait(&v->wcond, &v->wlock, &until) == ETIMEDOUT)
                goto out; /* v9p_save refuses: inflight */
        }
        if (!v->done)
            break;
        pthread_mutex_unlock(&v->wlock);
        on_done(v, v->done_fd, EPOLLIN);
        pthread_mutex_lock(&v->wlock);
    }
out:
    pthread_mutex_unlock(&v->wlock);
}

/* A reply returned by v9p_quiesce raised its interrupt after the interrupt controller's
 * state may have been read (an irqfd injects asynchronously): at the resume, a queue
 * interrupt the guest has not acknowledged is raised again. A second one for the same
 * status is harmless (the driver reads the status and finds it clear). */
static int v9p_activate(struct virtio_dev *dev)
{
    if (__atomic_load_n(&dev->interrupt_status, __ATOMIC_SEQ_CST) & VIRTIO_MMIO_INT_VRING)
        irq_trigger(&dev->irq);
    return 0;
}

enum { V9P_SESSION = 1, V9P_END };

static void v9p_save(struct virtio_dev *dev, struct vmsnap_buf *p)
{
    struct v9p *v = dev->priv;
    pthread_mutex_lock(&v->wlock);
    bool busy = v->inflight;
    pthread_mutex_unlock(&v->wlock);
    if (busy) {
        vmsnap_fail(p, BOXLITE_ERR_STATE, "a 9p request took too long in the host file "
                    "system to be finished before the pause");
        return;
    }
    uint8_t *s = NULL;
    size_t n = 0;
    struct bl_error err = { 0 };
    if (p9_session_save(v->srv, &s, &n, &err) < 0) {
        vmsnap_fail(p, err.code == BOXLITE_ERR_STATE ? BOXLITE_ERR_STATE : 0,
                    err.code == BOXLITE_ERR_STATE ? "the 9p share has too many open files to "
                    "save" : "the 9p session could not be saved");
        return;
    }
    vmsnap_rec(p, V9P_SESSION, s, n);
    free(s);
}

static int v9p_restore(struct virtio_dev *dev, const uint8_t *p, size_t len,
                       struct bl_error *err)
{
    struct v9p *v = dev->priv;
    size_t n = 0;
    if (vmsnap_rec_check(p, len, V9P_END, "virtio-9p", err) < 0)
        return -BOXLITE_ERR_INVALID;
    const uint8_t *s = vmsnap_rec_get(p, len, V9P_SESSION, &n);
    if (!s)
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-9p: the 9p session is missing");
    return p9_session_restore(v->srv, s, n, err);
}

static const struct virtio_dev_ops v9p_ops = {
    .name = "9p",
    .device_id = 9,
    .num_queues = 1,
    .queue_max_size = VIRTIO_9P_QUEUE_SIZE,
    .features = v9p_features,
    .config_read = v9p_config_read,
    .notify = v9p_notify,
    .activate = v9p_activate,
    .reset = v9p_reset,
    .free = v9p_free,
    .quiesce = v9p_quiesce,
    .save = v9p_save,
    .restore = v9p_restore,
};

int virtio_9p_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
                  const char *tag, const char *root, bool readonly, struct bl_error *err)
{
    size_t tlen = tag ? strlen(tag) : 0;
    if (tlen == 0 || tlen > VIRTIO_9P_TAG_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-9p: mount tag must be 1..%d bytes",
                      VIRTIO_9P_TAG_MAX);
    struct v9p *v = calloc(1, sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-9p: out of memory");
    v->done_fd = -1;
    pthread_mutex_init(&v->wlock, NULL);
    pthread_cond_init(&v->wcond, NULL);
    int rc = p9_server_new(&v->srv, root, readonly, 0, err);
    if (rc < 0) {
        v9p_destroy(v);
        return bl_err_prefix(err, "virtio-9p %s", tag);
    }
    v->bufsize = p9_server_max_msize(v->srv);
    v->req = malloc(v->bufsize);
    v->resp = malloc(v->bufsize);
    v->config[0] = (uint8_t)tlen;
    v->config[1] = (uint8_t)(tlen >> 8);
    memcpy(v->config + 2, tag, tlen);
    v->config_len = 2 + tlen;
    if (!v->req || !v->resp || virtio_dev_init(&v->dev, &v9p_ops, v, mem, irq) < 0) {
        v9p_destroy(v);
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-9p: out of memory");
    }
    *out = &v->dev;
    return 0;
}
