// SPDX-License-Identifier: Apache-2.0
/* virtio-console, Virtio 1.2 section 5.3, multiport only. Queues: port 0 rx/tx (0, 1),
 * control rx/tx (2, 3), then port N rx/tx at 2N+2, 2N+3. The device tells the driver about
 * ports with control messages kept as per-port pending bits (so a guest cannot make us
 * queue messages without bound), and bridges each port to a host fd on the event loop
 * holding at most one guest buffer per direction. */
#include "vmm/virtio/console.h"

#include "vmm/snapshot.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CTRL_RX 2
#define CTRL_TX 3

/* Control messages still owed to the driver for a port. */
#define PEND_ADD 1u
#define PEND_CONSOLE 2u
#define PEND_NAME 4u
#define PEND_OPEN 8u

struct port {
    uint32_t id;
    bool used;
    bool is_console;
    char *name;
    int fd;
    uint32_t pending;  /* PEND_* */
    bool guest_ready;  /* PORT_READY 1 received */
    bool guest_open;   /* PORT_OPEN from the guest */
    bool host_open;    /* fd still good */
    bool rx_no_buf;    /* paused: the guest has no receive buffer */
    uint32_t ev;       /* epoll events registered for fd, 0 = not registered */
    struct virtq_elem *rx, *tx; /* held buffers */
    bool rx_held, tx_held;
    uint64_t tx_off;
    uint64_t tx_skip;  /* bytes of the next chain already sent before a snapshot */
    struct console *c;
};

struct console {
    struct virtio_dev dev;
    struct virtio_dev_ops ops; /* num_queues depends on max_ports */
    struct evloop *loop;
    uint32_t max_ports;
    struct port ports[CONSOLE_MAX_PORTS];
    uint32_t nports;
    bool driver_ready;
    struct virtq_elem el;
    struct iovec iov[VIRTQ_MAX_CHAIN];
};

static uint16_t rx_queue(uint32_t port) { return port == 0 ? 0 : (uint16_t)(2 * port + 2); }
static uint16_t tx_queue(uint32_t port) { return (uint16_t)(rx_queue(port) + 1); }

static bool live(struct console *c)
{
    return !c->dev.broken && (c->dev.status & VIRTIO_CONFIG_S_DRIVER_OK);
}

/* A pop that fails the device on a malformed ring. */
static int pop(struct console *c, uint16_t qidx, struct virtq_elem *el)
{
    struct virtq *q = &c->dev.queues[qidx];
    int r = virtq_pop(q, el);
    if (r < 0)
        virtio_dev_fail(&c->dev, "queue %u: %s", qidx, q->error);
    return r;
}

/* ---- control messages, device to driver ---- */

static bool send_ctrl(struct console *c, struct port *p, uint16_t event, uint16_t value)
{
    struct virtq *q = &c->dev.queues[CTRL_RX];
    if (pop(c, CTRL_RX, &c->el) != 1)
        return false;
    if (c->el.in_len < sizeof(struct virtio_console_control)) {
        virtio_dev_fail(&c->dev, "control receive buffer of %llu bytes",
                        (unsigned long long)c->el.in_len);
        return false;
    }
    struct virtio_console_control m = { htole32(p->id), htole16(event), htole16(value) };
    size_t n = iov_from_buf(c->el.in, c->el.in_num, 0, &m, sizeof(m));
    if (event == VIRTIO_CONSOLE_PORT_NAME)
        n += iov_from_buf(c->el.in, c->el.in_num, n, p->name, strlen(p->name));
    uint16_t old = q->used_idx;
    virtq_push(q, &c->el, (uint32_t)n);
    virtio_dev_interrupt(&c->dev, CTRL_RX, old);
    return true;
}

static void ctrl_flush(struct console *c)
{
    if (!live(c) || !c->driver_ready)
        return;
    for (uint32_t i = 0; i < c->nports; i++) {
        struct port *p = &c->ports[i];
        static const struct { uint32_t bit; uint16_t event; } order[] = {
            { PEND_ADD, VIRTIO_CONSOLE_DEVICE_ADD },
            { PEND_CONSOLE, VIRTIO_CONSOLE_CONSOLE_PORT },
            { PEND_NAME, VIRTIO_CONSOLE_PORT_NAME },
            { PEND_OPEN, VIRTIO_CONSOLE_PORT_OPEN },
        };
        for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
            if (!(p->pending & order[k].bit))
                continue;
            uint16_t value = order[k].bit == PEND_OPEN ? p->host_open : 1;
            if (!send_ctrl(c, p, order[k].event, value))
                return; /* no buffer: resumes when the driver adds one */
            p->pending &= ~order[k].bit;
        }
    }
}

/* ---- host fd <-> guest ---- */

static void on_port_fd(void *opaque, int fd, uint32_t events);

static void update_ev(struct console *c, struct port *p)
{
    uint32_t want = 0;
    if (p->host_open && live(c)) {
        if (p->guest_open && !p->rx_no_buf)
            want |= EPOLLIN;
        if (p->tx_held)
            want |= EPOLLOUT;
    }
    if (want == p->ev)
        return;
    /* Unregister instead of waiting for nothing: a hung-up fd would report EPOLLHUP
     * forever while we cannot act on it. */
    int rc;
    if (p->ev == 0)
        rc = evloop_add(c->loop, p->fd, want, on_port_fd, p);
    else if (want == 0)
        rc = evloop_del(c->loop, p->fd);
    else
        rc = evloop_mod(c->loop, p->fd, want);
    if (rc == 0)
        p->ev = want;
}

static void host_closed(struct console *c, struct port *p)
{
    if (!p->host_open)
        return;
    p->host_open = false;
    if (p->guest_ready)
        p->pending |= PEND_OPEN;
    ctrl_flush(c);
}

#define RX_BURST 64 /* buffers per wake-up, so one busy port cannot starve the loop */

static void port_rx(struct console *c, struct port *p)
{
    uint16_t qidx = rx_queue(p->id);
    struct virtq *q = &c->dev.queues[qidx];
    uint16_t old = q->used_idx;
    for (int i = 0; i < RX_BURST && live(c) && p->guest_open && p->host_open; i++) {
        if (!p->rx_held) {
            int r = pop(c, qidx, p->rx);
            if (r <= 0) {
                p->rx_no_buf = r == 0;
                break;
            }
            p->rx_held = true;
        }
        unsigned n = p->rx->in_num < IOV_MAX ? p->rx->in_num : IOV_MAX;
        ssize_t got = readv(p->fd, p->rx->in, (int)n);
        if (got > 0) {
            virtq_push(q, p->rx, (uint32_t)got);
            p->rx_held = false;
            continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            break; /* keep the buffer for the next readable event */
        host_closed(c, p); /* end of file or error; the buffer stays with us */
        break;
    }
    virtio_dev_interrupt(&c->dev, qidx, old);
    update_ev(c, p);
}

static ssize_t send_iov(int fd, struct iovec *iov, unsigned n)
{
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
    ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0 && errno == ENOTSOCK)
        r = writev(fd, iov, (int)n);
    return r;
}

static void port_tx(struct console *c, struct port *p)
{
    uint16_t qidx = tx_queue(p->id);
    struct virtq *q = &c->dev.queues[qidx];
    uint16_t old = q->used_idx;
    while (live(c)) {
        if (!p->tx_held) {
            if (pop(c, qidx, p->tx) != 1)
                break;
            p->tx_held = true;
            p->tx_off = p->tx_skip; /* bounded by the loop below: at most out_len */
            p->tx_skip = 0;
        }
        while (p->host_open && p->tx_off < p->tx->out_len) {
            uint64_t left = p->tx->out_len - p->tx_off;
            unsigned n = iov_slice(c->iov, IOV_MAX, p->tx->out, p->tx->out_num, p->tx_off, left);
            ssize_t r = send_iov(p->fd, c->iov, n);
            if (r >= 0) {
                p->tx_off += (uint64_t)r;
                continue;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                host_closed(c, p); /* the rest is discarded */
            break;
        }
        if (p->host_open && p->tx_off < p->tx->out_len)
            break; /* fd full: wait for EPOLLOUT, the guest's queue waits with us */
        virtq_push(q, p->tx, 0);
        p->tx_held = false;
    }
    virtio_dev_interrupt(&c->dev, qidx, old);
    update_ev(c, p);
}

static void on_port_fd(void *opaque, int fd, uint32_t events)
{
    struct port *p = opaque;
    struct console *c = p->c;
    pthread_mutex_lock(&c->dev.lock);
    if (p->tx_held && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        port_tx(c, p);
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        port_rx(c, p);
    update_ev(c, p);
    pthread_mutex_unlock(&c->dev.lock);
}

/* ---- control messages, driver to device ---- */

static struct port *find_port(struct console *c, uint32_t id)
{
    return id < c->nports ? &c->ports[id] : NULL;
}

static void handle_ctrl(struct console *c, const struct virtio_console_control *m)
{
    uint32_t id = le32toh(m->id);
    uint16_t event = le16toh(m->event), value = le16toh(m->value);
    struct port *p;
    switch (event) {
    case VIRTIO_CONSOLE_DEVICE_READY:
        if (value != 1)
            break; /* the driver failed to set up; nothing to announce */
        c->driver_ready = true;
        for (uint32_t i = 0; i < c->nports; i++)
            c->ports[i].pending |= PEND_ADD;
        break;
    case VIRTIO_CONSOLE_PORT_READY:
        if (!(p = find_port(c, id)) || value != 1)
            break;
        p->guest_ready = true;
        p->pending |= (p->is_console ? PEND_CONSOLE : 0) | (p->name ? PEND_NAME : 0) | PEND_OPEN;
        break;
    case VIRTIO_CONSOLE_PORT_OPEN:
        if (!(p = find_port(c, id)))
            break;
        p->guest_open = value != 0;
        if (p->guest_open) {
            p->rx_no_buf = false;
            port_rx(c, p);
        }
        update_ev(c, p);
        break;
    default:
        break; /* resize and the like: nothing for us */
    }
}

static void ctrl_tx(struct console *c)
{
    struct virtq *q = &c->dev.queues[CTRL_TX];
    uint16_t old = q->used_idx;
    while (pop(c, CTRL_TX, &c->el) == 1) {
        struct virtio_console_control m;
        if (c->el.out_len < sizeof(m)) {
            virtio_dev_fail(&c->dev, "control message of %llu bytes",
                            (unsigned long long)c->el.out_len);
            return;
        }
        iov_to_buf(c->el.out, c->el.out_num, 0, &m, sizeof(m));
        virtq_push(q, &c->el, 0);
        handle_ctrl(c, &m);
        if (!live(c))
            return;
    }
    virtio_dev_interrupt(&c->dev, CTRL_TX, old);
    ctrl_flush(c);
}

static void console_notify(struct virtio_dev *dev, uint16_t qidx)
{
    struct console *c = dev->priv;
    if (qidx == CTRL_TX) {
        ctrl_tx(c);
    } else if (qidx == CTRL_RX) {
        ctrl_flush(c);
    } else {
        uint32_t id = qidx < 2 ? 0 : qidx / 2 - 1;
        struct port *p = find_port(c, id);
        if (!p)
            return; /* buffers on a queue without a port wait there */
        if (qidx & 1) {
            port_tx(c, p);
        } else {
            p->rx_no_buf = false;
            port_rx(c, p);
        }
    }
}

static uint64_t console_features(struct virtio_dev *dev)
{
    return 1ull << VIRTIO_CONSOLE_F_MULTIPORT;
}

/* struct virtio_console_config: cols, rows (u16), max_nr_ports, emerg_wr (u32). */
static void console_config_read(struct virtio_dev *dev, uint64_t off, uint8_t *data,
                                uint32_t len)
{
    struct console *c = dev->priv;
    uint8_t cfg[12] = { 0 };
    uint32_t n = htole32(c->max_ports);
    memcpy(cfg + 4, &n, 4);
    if (off < sizeof(cfg) && len <= sizeof(cfg) - off)
        memcpy(data, cfg + off, len);
}

static void console_reset(struct virtio_dev *dev)
{
    struct console *c = dev->priv;
    c->driver_ready = false;
    for (uint32_t i = 0; i < c->nports; i++) {
        struct port *p = &c->ports[i];
        p->pending = 0;
        p->guest_ready = p->guest_open = p->rx_no_buf = false;
        p->rx_held = p->tx_held = false; /* the driver forgot them too */
        p->tx_off = p->tx_skip = 0;
    }
    dev->status = 0; /* so update_ev sees the device down */
    for (uint32_t i = 0; i < c->nports; i++)
        update_ev(c, &c->ports[i]);
}

/* ---- snapshots (virtio.h): what the driver told us about each port ---- */

static uint16_t console_held(struct virtio_dev *dev, uint16_t qidx)
{
    struct console *c = dev->priv;
    for (uint32_t i = 0; i < c->nports; i++) {
        if (qidx == rx_queue(c->ports[i].id))
            return c->ports[i].rx_held;
        if (qidx == tx_queue(c->ports[i].id))
            return c->ports[i].tx_held;
    }
    return 0;
}

enum { C_DRIVER = 1, C_PORTS, C_END };
struct saved_port {
    uint64_t tx_skip;
    uint32_t pending;
    uint8_t guest_ready, guest_open, rx_no_buf, pad[5];
};

static void console_save(struct virtio_dev *dev, struct vmsnap_buf *b)
{
    struct console *c = dev->priv;
    uint32_t d[2] = { c->driver_ready, c->nports };
    vmsnap_rec(b, C_DRIVER, d, sizeof d);
    struct saved_port sp[CONSOLE_MAX_PORTS] = { 0 };
    for (uint32_t i = 0; i < c->nports; i++) {
        const struct port *p = &c->ports[i];
        /* a chain half sent stays sent: its rest goes to the next host connection */
        sp[i] = (struct saved_port){ .tx_skip = p->tx_held ? p->tx_off : 0,
                                     .pending = p->pending, .guest_ready = p->guest_ready,
                                     .guest_open = p->guest_open, .rx_no_buf = p->rx_no_buf };
    }
    vmsnap_rec(b, C_PORTS, sp, c->nports * sizeof sp[0]);
}

static int console_restore(struct virtio_dev *dev, const uint8_t *b, size_t len,
                           struct bl_error *err)
{
    struct console *c = dev->priv;
    uint32_t d[2];
    if (vmsnap_rec_check(b, len, C_END, "virtio-console", err) < 0 ||
        vmsnap_rec_copy(b, len, C_DRIVER, d, sizeof d, "virtio-console", err) < 0)
        return -err->code;
    if (d[1] != c->nports)
        return bl_err(err, BOXLITE_ERR_INVALID, "the snapshot has %u console ports, the box %u",
                      d[1], c->nports);
    struct saved_port sp[CONSOLE_MAX_PORTS];
    if (vmsnap_rec_copy(b, len, C_PORTS, sp, c->nports * sizeof sp[0], "virtio-console", err) < 0)
        return -err->code;
    c->driver_ready = d[0] != 0;
    for (uint32_t i = 0; i < c->nports; i++) {
        struct port *p = &c->ports[i];
        p->tx_skip = sp[i].tx_skip;
        p->pending = sp[i].pending & (PEND_ADD | PEND_CONSOLE | PEND_NAME | PEND_OPEN);
        p->guest_ready = sp[i].guest_ready != 0;
        p->guest_open = sp[i].guest_open != 0;
        p->rx_no_buf = sp[i].rx_no_buf != 0;
        /* The host side is a new connection: tell the guest it is open (again). */
        if (p->guest_ready)
            p->pending |= PEND_OPEN;
    }
    return 0;
}

static void console_free(struct virtio_dev *dev)
{
    struct console *c = dev->priv;
    for (uint32_t i = 0; i < c->nports; i++) {
        struct port *p = &c->ports[i];
        if (p->ev)
            evloop_del(c->loop, p->fd);
        close(p->fd);
        free(p->name);
        free(p->rx);
        free(p->tx);
    }
    free(c);
}

int console_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
                struct evloop *loop, uint32_t max_ports, struct bl_error *err)
{
    if (max_ports < 1 || max_ports > CONSOLE_MAX_PORTS)
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-console: %u ports (1..%d)", max_ports,
                      CONSOLE_MAX_PORTS);
    struct console *c = calloc(1, sizeof(*c));
    if (!c)
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-console: out of memory");
    c->ops = (struct virtio_dev_ops){
        .name = "console",
        .device_id = 3,
        .num_queues = (uint16_t)(2 * (max_ports + 1)),
        .queue_max_size = CONSOLE_QUEUE_SIZE,
        .features = console_features,
        .config_read = console_config_read,
        .notify = console_notify,
        .reset = console_reset,
        .free = console_free,
        .held = console_held,
        .save = console_save,
        .restore = console_restore,
    };
    c->loop = loop;
    c->max_ports = max_ports;
    if (virtio_dev_init(&c->dev, &c->ops, c, mem, irq) < 0) {
        free(c);
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-console: out of memory");
    }
    *out = &c->dev;
    return 0;
}

static int add_port(struct virtio_dev *dev, const char *name, int fd, bool is_console,
                    struct bl_error *err)
{
    struct console *c = dev->priv;
    int rc;
    pthread_mutex_lock(&dev->lock);
    if (c->nports >= c->max_ports) {
        rc = bl_err(err, BOXLITE_ERR_INVALID, "virtio-console: all %u ports in use", c->max_ports);
        goto fail;
    }
    if (name && (!*name || strlen(name) > CONSOLE_NAME_MAX)) {
        rc = bl_err(err, BOXLITE_ERR_INVALID, "virtio-console: bad port name");
        goto fail;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        rc = bl_errno(err, errno, "virtio-console: port fd");
        goto fail;
    }
    struct port *p = &c->ports[c->nports];
    *p = (struct port){ .id = c->nports, .used = true, .is_console = is_console, .fd = fd,
                        .host_open = true, .c = c };
    p->name = name ? strdup(name) : NULL;
    p->rx = malloc(sizeof(*p->rx));
    p->tx = malloc(sizeof(*p->tx));
    if ((name && !p->name) || !p->rx || !p->tx) {
        free(p->name);
        free(p->rx);
        free(p->tx);
        rc = bl_err(err, BOXLITE_ERR_NOMEM, "virtio-console: out of memory");
        goto fail;
    }
    c->nports++;
    if (c->driver_ready) { /* hot-plug */
        p->pending |= PEND_ADD;
        ctrl_flush(c);
    }
    pthread_mutex_unlock(&dev->lock);
    return (int)p->id;
fail:
    pthread_mutex_unlock(&dev->lock);
    if (fd >= 0)
        close(fd);
    return rc;
}

int console_add_port(struct virtio_dev *dev, const char *name, int fd, struct bl_error *err)
{
    if (!name) {
        if (fd >= 0)
            close(fd);
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-console: a port needs a name");
    }
    return add_port(dev, name, fd, false, err);
}

int console_add_console_port(struct virtio_dev *dev, const char *name, int fd,
                             struct bl_error *err)
{
    return add_port(dev, name, fd, true, err);
}

bool console_port_guest_open(struct virtio_dev *dev, uint32_t id)
{
    struct console *c = dev->priv;
    pthread_mutex_lock(&dev->lock);
    struct port *p = find_port(c, id);
    bool open = p && p->guest_open;
    pthread_mutex_unlock(&dev->lock);
    return open;
}
