// SPDX-License-Identifier: Apache-2.0
/* libslirp back end: the Slirp instance, its poll thread and timers, port forwarding, and
 * the bounded queue of frames for the guest. See slirp.h for the threading model. */
#include "vmm/net/slirp.h"

#include "vmm/net/relay.h"
#include "vmm/net/udp_relay.h"

#include "common/cleanup.h"
#include "common/clock.h"
#include "vmm/jail/jail.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_HLEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_SYN 0x02
#define TCP_ACK 0x10

struct frame {
    struct frame *next;
    size_t len;
    uint8_t data[];
};

struct slirp_timer {
    struct slirp_timer *next;
    SlirpTimerId id;
    void *cb_opaque;
    int64_t expire_ms; /* -1 = not armed */
};

struct slirp_net {
    pthread_mutex_t lock; /* the Slirp instance, timers, pollfds */
    Slirp *slirp;
    struct slirp_timer *timers;
    struct pollfd *pfds;
    size_t npfds, pfds_cap;
    int wake_fd; /* eventfd: wakes the poll thread (new input, stop) */
    bool stop;
    pthread_t thread;
    bool thread_started;
    struct tcp_relay *relay; /* forwards from IPv6 host addresses (relay.h), once one is */
    struct udp_relay *udp_relay; /* the same for UDP (udp_relay.h) */

    pthread_mutex_t qlock; /* the rx queue and the counters */
    struct frame *head, *tail;
    size_t qlen, qmax;
    int rx_fd; /* eventfd: readable while the queue is non-empty */
    struct net_stats stats;

    /* under lock */
    struct net_policy *policy;
    void (*log)(void *opaque, const char *line);
    void *log_opaque;
    struct host_addrs {
        int64_t read_ms; /* when getifaddrs was last read; 0 = never */
        unsigned n;
        struct { int family; uint8_t a[16]; } addr[64];
    } host;
};

static void wake(int fd)
{
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    (void)n; /* a full counter already means "wake up" */
}

int net_frame_classify(const uint8_t *f, size_t len)
{
    if (!f || len < ETH_HLEN)
        return 0;
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    const uint8_t *p = f + ETH_HLEN;
    size_t n = len - ETH_HLEN;
    uint8_t proto;
    if (type == ETHERTYPE_IPV4) {
        if (n < 20 || (p[0] >> 4) != 4)
            return 0;
        size_t ihl = (size_t)(p[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > n)
            return 0;
        if ((p[6] & 0x1f) || p[7]) /* a later fragment carries no transport header */
            return 0;
        proto = p[9];
        p += ihl;
        n -= ihl;
    } else if (type == ETHERTYPE_IPV6) {
        if (n < 40 || (p[0] >> 4) != 6)
            return 0;
        proto = p[6]; /* extension headers are not followed: those frames are not counted */
        p += 40;
        n -= 40;
    } else {
        return 0;
    }
    if (proto == IPPROTO_TCP_) {
        if (n < 20)
            return 0;
        uint8_t flags = p[13];
        return (flags & TCP_SYN) && !(flags & TCP_ACK) ? 1 : 0;
    }
    if (proto == IPPROTO_UDP_)
        return n >= 8 ? 2 : 0;
    return 0;
}

/* ---- slirp callbacks (called with sn->lock held) ------------------------------------ */

/* Queues a frame for the guest. */
static void queue_frame(struct slirp_net *sn, const void *buf, size_t len, bool syn)
{
    struct frame *fr = NULL;
    pthread_mutex_lock(&sn->qlock);
    if (syn)
        sn->stats.tcp_in++;
    if (sn->qlen >= sn->qmax || !(fr = malloc(sizeof *fr + len))) {
        sn->stats.rx_dropped++;
        pthread_mutex_unlock(&sn->qlock);
        return; /* dropped like a full NIC ring: TCP recovers */
    }
    fr->next = NULL;
    fr->len = len;
    memcpy(fr->data, buf, len);
    if (sn->tail)
        sn->tail->next = fr;
    else
        sn->head = fr;
    sn->tail = fr;
    bool was_empty = sn->qlen++ == 0;
    pthread_mutex_unlock(&sn->qlock);
    if (was_empty)
        wake(sn->rx_fd);
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    struct slirp_net *sn = opaque;
    if (len == 0 || len > SLIRP_NET_FRAME_MAX)
        return (ssize_t)len;
    /* DNS answers for host-name rules; flows that came in, so the guest may answer them */
    net_policy_observe(sn->policy, buf, len, mono_ms());
    queue_frame(sn, buf, len, net_frame_classify(buf, len) == 1);
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    (void)msg; /* library code does not print; slirp drops the offending packet itself */
}

static int64_t cb_clock_get_ns(void *opaque) { return (int64_t)mono_ns(); }

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct slirp_net *sn = opaque;
    struct slirp_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->id = id;
    t->cb_opaque = cb_opaque;
    t->expire_ms = -1;
    t->next = sn->timers;
    sn->timers = t;
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    struct slirp_net *sn = opaque;
    for (struct slirp_timer **pp = &sn->timers; *pp; pp = &(*pp)->next) {
        if (*pp == timer) {
            *pp = (*pp)->next;
            free(timer);
            return;
        }
    }
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    struct slirp_timer *t = timer;
    if (t)
        t->expire_ms = expire_ms;
    wake(((struct slirp_net *)opaque)->wake_fd);
}

static void cb_register_poll_fd(int fd, void *opaque) {}
static void cb_unregister_poll_fd(int fd, void *opaque) {}
static void cb_notify(void *opaque) { wake(((struct slirp_net *)opaque)->wake_fd); }

static const SlirpCb callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* ---- the poll thread ----------------------------------------------------------------- */

static int to_poll_events(int ev)
{
    int r = 0;
    if (ev & SLIRP_POLL_IN)
        r |= POLLIN;
    if (ev & SLIRP_POLL_OUT)
        r |= POLLOUT;
    if (ev & SLIRP_POLL_PRI)
        r |= POLLPRI;
    return r;
}

static int cb_add_poll(int fd, int events, void *opaque)
{
    struct slirp_net *sn = opaque;
    if (sn->npfds == sn->pfds_cap) {
        size_t cap = sn->pfds_cap ? sn->pfds_cap * 2 : 64;
        struct pollfd *p = realloc(sn->pfds, cap * sizeof *p);
        if (!p)
            return -1; /* that socket waits for the next round */
        sn->pfds = p;
        sn->pfds_cap = cap;
    }
    sn->pfds[sn->npfds] = (struct pollfd){ .fd = fd, .events = (short)to_poll_events(events) };
    return (int)sn->npfds++;
}

static int cb_get_revents(int idx, void *opaque)
{
    struct slirp_net *sn = opaque;
    if (idx < 0 || (size_t)idx >= sn->npfds)
        return 0;
    short re = sn->pfds[idx].revents;
    int r = 0;
    if (re & POLLIN)
        r |= SLIRP_POLL_IN;
    if (re & POLLOUT)
        r |= SLIRP_POLL_OUT;
    if (re & POLLPRI)
        r |= SLIRP_POLL_PRI;
    if (re & POLLERR)
        r |= SLIRP_POLL_ERR;
    if (re & POLLHUP)
        r |= SLIRP_POLL_HUP;
    return r;
}

/* Runs expired timers; returns ms until the next one (UINT32_MAX if none). */
static uint32_t run_timers(struct slirp_net *sn)
{
    int64_t now = (int64_t)mono_ms();
    uint32_t next = UINT32_MAX;
    bool again = true;
    while (again) {
        again = false;
        for (struct slirp_timer *t = sn->timers; t; t = t->next) {
            if (t->expire_ms < 0)
                continue;
            if (t->expire_ms <= now) {
                t->expire_ms = -1;
                slirp_handle_timer(sn->slirp, t->id, t->cb_opaque);
                again = true; /* the handler may have changed the list */
                break;
            }
        }
    }
    for (struct slirp_timer *t = sn->timers; t; t = t->next)
        if (t->expire_ms >= 0 && (uint64_t)(t->expire_ms - now) < next)
            next = (uint32_t)(t->expire_ms - now);
    return next;
}

static void *poll_thread(void *arg)
{
    struct slirp_net *sn = arg;
    pthread_setname_np(pthread_self(), "slirp");
    jail_thread_enter(JAIL_SLIRP);
    pthread_mutex_lock(&sn->lock);
    while (!sn->stop) {
        sn->npfds = 0;
        cb_add_poll(sn->wake_fd, SLIRP_POLL_IN, sn);
        uint32_t timeout = run_timers(sn);
        if (timeout > 1000)
            timeout = 1000;
        slirp_pollfds_fill(sn->slirp, &timeout, cb_add_poll, sn);
        size_t n = sn->npfds;
        pthread_mutex_unlock(&sn->lock);

        int rc = poll(sn->pfds, n, (int)timeout);
        int poll_errno = errno;

        pthread_mutex_lock(&sn->lock);
        if (rc > 0 && (sn->pfds[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(sn->wake_fd, &v, sizeof v);
            (void)r;
        }
        if (sn->stop)
            break;
        run_timers(sn);
        slirp_pollfds_poll(sn->slirp, rc < 0 && poll_errno != EINTR, cb_get_revents, sn);
    }
    pthread_mutex_unlock(&sn->lock);
    return NULL;
}

/* ---- public API ---------------------------------------------------------------------- */

/* The host's own addresses: a box reaching one of them reaches the host's services bound
 * to every address (and the host's firewall may let local traffic through). Called under
 * sn->lock; getifaddrs is read again when the last reading is over a second old. */
static bool is_host_addr(void *opaque, int family, const uint8_t *addr)
{
    struct slirp_net *sn = opaque;
    struct host_addrs *h = &sn->host;
    int64_t now = (int64_t)mono_ms();
    if (!h->read_ms || now - h->read_ms > 1000) {
        struct ifaddrs *ifa = NULL;
        if (getifaddrs(&ifa) == 0) {
            h->n = 0;
            for (struct ifaddrs *i = ifa; i && h->n < ARRAY_SIZE(h->addr); i = i->ifa_next) {
                if (!i->ifa_addr)
                    continue;
                int f = i->ifa_addr->sa_family;
                if (f == AF_INET)
                    memcpy(h->addr[h->n].a, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
                else if (f == AF_INET6)
                    memcpy(h->addr[h->n].a, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
                else
                    continue;
                h->addr[h->n++].family = f;
            }
            freeifaddrs(ifa);
            h->read_ms = now;
        }
        /* on failure the last reading stands (none at first: the loopback ranges still are
         * denied by the policy itself) */
    }
    for (unsigned i = 0; i < h->n; i++)
        if (h->addr[i].family == family &&
            memcmp(h->addr[i].a, addr, family == AF_INET ? 4 : 16) == 0)
            return true;
    return false;
}

int slirp_net_new(struct slirp_net **out, const struct slirp_net_cfg *cfg,
                  struct bl_error *err)
{
    *out = NULL;
    struct slirp_net *sn = calloc(1, sizeof *sn);
    if (!sn)
        return bl_errno(err, ENOMEM, "slirp");
    pthread_mutex_init(&sn->lock, NULL);
    pthread_mutex_init(&sn->qlock, NULL);
    sn->qmax = cfg && cfg->rx_queue_max ? cfg->rx_queue_max : SLIRP_NET_RXQ_DEFAULT;
    sn->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    sn->rx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sn->wake_fd < 0 || sn->rx_fd < 0) {
        int e = errno;
        slirp_net_free(sn);
        return bl_errno(err, e, "slirp: eventfd");
    }
    struct net_policy_cfg pc = cfg ? cfg->policy : (struct net_policy_cfg){ 0 };
    pc.is_host_addr = is_host_addr;
    pc.opaque = sn;
    if (net_policy_new(&sn->policy, &pc, err) < 0) {
        slirp_net_free(sn);
        return -err->code;
    }
    if (cfg) {
        sn->log = cfg->log;
        sn->log_opaque = cfg->log_opaque;
    }

    SlirpConfig sc = { .version = 4, .restricted = 0, .in_enabled = true };
    inet_pton(AF_INET, VNET_NETWORK, &sc.vnetwork);
    inet_pton(AF_INET, VNET_NETMASK, &sc.vnetmask);
    inet_pton(AF_INET, VNET_HOST, &sc.vhost);
    inet_pton(AF_INET, VNET_GUEST, &sc.vdhcp_start);
    inet_pton(AF_INET, VNET_DNS, &sc.vnameserver);
    sc.in6_enabled = true;
    inet_pton(AF_INET6, VNET_PREFIX6, &sc.vprefix_addr6);
    sc.vprefix_len = VNET_PREFIX6_BITS;
    inet_pton(AF_INET6, VNET_HOST6, &sc.vhost6);
    inet_pton(AF_INET6, VNET_DNS6, &sc.vnameserver6);
    sc.vhostname = "boxlite";
    sc.disable_host_loopback = !(cfg && cfg->host_loopback);
    sc.if_mtu = 1500;
    sc.if_mru = 1500;

    pthread_mutex_lock(&sn->lock);
    sn->slirp = slirp_new(&sc, &callbacks, sn);
    pthread_mutex_unlock(&sn->lock);
    if (!sn->slirp) {
        slirp_net_free(sn);
        return bl_err(err, BOXLITE_ERR_NETWORK, "slirp: slirp_new failed");
    }
    int rc = pthread_create(&sn->thread, NULL, poll_thread, sn);
    if (rc) {
        slirp_net_free(sn);
        return bl_errno(err, rc, "slirp: thread");
    }
    sn->thread_started = true;
    *out = sn;
    return 0;
}

void slirp_net_free(struct slirp_net *sn)
{
    if (!sn)
        return;
    if (sn->thread_started) {
        pthread_mutex_lock(&sn->lock);
        sn->stop = true;
        pthread_mutex_unlock(&sn->lock);
        wake(sn->wake_fd);
        pthread_join(sn->thread, NULL);
    }
    if (sn->slirp)
        slirp_cleanup(sn->slirp); /* frees its timers through cb_timer_free */
    while (sn->timers) {
        struct slirp_timer *t = sn->timers;
        sn->timers = t->next;
        free(t);
    }
    while (sn->head) {
        struct frame *f = sn->head;
        sn->head = f->next;
        free(f);
    }
    if (sn->wake_fd >= 0)
        close(sn->wake_fd);
    if (sn->rx_fd >= 0)
        close(sn->rx_fd);
    free(sn->pfds);
    net_policy_free(sn->policy);
    tcp_relay_free(sn->relay);
    udp_relay_free(sn->udp_relay);
    pthread_mutex_destroy(&sn->lock);
    pthread_mutex_destroy(&sn->qlock);
    free(sn);
}

/* A host address for a forward: IPv4, or IPv6 (Docker's -p [::1]:8080:80), port unset. */
static bool fwd_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        *len = sizeof *v4;
        return true;
    }
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        *len = sizeof *v6;
        return true;
    }
    return false;
}

static void fwd_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

/* A free port for proto on addr, found by binding port 0. Another process could take it
 * before slirp binds it; the caller retries. */
static int free_port(bool udp, const struct sockaddr_storage *addr, socklen_t alen,
                     uint16_t *port)
{
    int fd = socket(addr->ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_storage sa = *addr;
    fwd_set_port(&sa, 0);
    socklen_t sl = sizeof sa;
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&sa, alen) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0)
        *port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                               : ((struct sockaddr_in *)&sa)->sin_port);
    return rc;
}

int slirp_net_add_fwd(struct slirp_net *sn, bool udp, const char *host_addr,
                      uint16_t host_port, uint16_t guest_port, uint16_t *bound_port,
                      struct bl_error *err)
{
    const char *proto = udp ? "udp" : "tcp";
    struct sockaddr_storage haddr;
    socklen_t hlen;
    struct in_addr gaddr;
    if (!host_addr)
        host_addr = "127.0.0.1";
    if (!fwd_addr(host_addr, &haddr, &hlen))
        return bl_err(err, BOXLITE_ERR_INVALID, "port forward %s: bad host address '%s'",
                      proto, host_addr);
    if (guest_port == 0)
        return bl_err(err, BOXLITE_ERR_INVALID, "port forward %s: guest port 0", proto);
    inet_pton(AF_INET, SLIRP_NET_GUEST_IP, &gaddr);
    if (haddr.ss_family == AF_INET6) {
        /* libslirp 4.7 cannot forward from an IPv6 host address to the IPv4 guest (it
         * crashes: relay.c): our listener there, relayed to a forward on 127.0.0.1 (TCP:
         * relay.c; UDP, a flow per client address: udp_relay.c). */
        uint16_t inner = 0;
        int rc = slirp_net_add_fwd(sn, udp, "127.0.0.1", 0, guest_port, &inner, err);
        if (rc < 0)
            return rc;
        fwd_set_port(&haddr, host_port);
        pthread_mutex_lock(&sn->lock);
        if (udp) {
            if (!sn->udp_relay)
                rc = udp_relay_new(&sn->udp_relay, err);
            struct udp_relay *ur = sn->udp_relay;
            pthread_mutex_unlock(&sn->lock);
            if (rc == 0)
                rc = udp_relay_add(ur, (struct sockaddr *)&haddr, hlen, inner, bound_port, err);
        } else {
            if (!sn->relay)
                rc = tcp_relay_new(&sn->relay, err);
            struct tcp_relay *tr = sn->relay;
            pthread_mutex_unlock(&sn->lock);
            if (rc == 0)
                rc = tcp_relay_add(tr, (struct sockaddr *)&haddr, hlen, inner, bound_port, err);
        }
        return rc < 0 ? bl_err_prefix(err, "port forward %s [%s]:%u", proto, host_addr, host_port)
                      : 0;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        uint16_t port = host_port;
        if (port == 0) {
            int rc = free_port(udp, &haddr, hlen, &port);
            if (rc < 0)
                return bl_errno(err, -rc, "port forward %s %s:0", proto, host_addr);
        }
        fwd_set_port(&haddr, port);
        pthread_mutex_lock(&sn->lock);
        int rc = slirp_add_hostfwd(sn->slirp, udp, ((struct sockaddr_in *)&haddr)->sin_addr,
                                   port, gaddr, guest_port);
        pthread_mutex_unlock(&sn->lock);
        if (rc == 0) {
            wake(sn->wake_fd); /* poll the new listening socket */
            if (bound_port)
                *bound_port = port;
            return 0;
        }
        if (host_port != 0)
            break;
    }
    return bl_err(err, BOXLITE_ERR_NETWORK, "port forward %s %s:%u -> guest %u: cannot bind",
                  proto, host_addr, host_port, guest_port);
}

void slirp_net_input(struct slirp_net *sn, const uint8_t *frame, size_t len)
{
    int kind = net_frame_classify(frame, len);
    pthread_mutex_lock(&sn->qlock);
    if (len < ETH_HLEN || len > SLIRP_NET_FRAME_MAX) {
        sn->stats.tx_dropped++;
        pthread_mutex_unlock(&sn->qlock);
        return;
    }
    sn->stats.tx_frames++;
    sn->stats.tx_bytes += len;
    if (kind == 1)
        sn->stats.tcp_out++;
    else if (kind == 2)
        sn->stats.udp_out++;
    pthread_mutex_unlock(&sn->qlock);

    struct net_decision d;
    char line[512];
    bool log = false, full = false;
    pthread_mutex_lock(&sn->lock);
    net_policy_check(sn->policy, frame, len, mono_ms(), &d);
    if (d.verdict == NET_PASS) {
        slirp_input(sn->slirp, frame, (int)len);
    } else if (d.verdict != NET_DROP) {
        if (d.verdict == NET_DENY_RST) {
            uint8_t rst[ETH_HLEN + 40 + 20];
            size_t n = net_tcp_reset(frame, len, rst, sizeof rst);
            if (n)
                queue_frame(sn, rst, n, false); /* refused at once, not left to time out */
        }
        if (sn->log && net_policy_denial_is_new(sn->policy, &d, &full)) {
            memcpy(line, "denied ", 7);
            net_policy_describe(sn->policy, &d, line + 7, sizeof line - 7);
            log = true;
        }
    }
    pthread_mutex_unlock(&sn->lock);
    if (d.verdict == NET_PASS)
        wake(sn->wake_fd); /* slirp may have opened a socket or armed a timer */

    pthread_mutex_lock(&sn->qlock);
    if (d.attempt && d.verdict == NET_PASS)
        sn->stats.conn_allowed++;
    else if (d.attempt)
        sn->stats.conn_denied++;
    else if (d.verdict == NET_DROP)
        sn->stats.tx_filtered++;
    pthread_mutex_unlock(&sn->qlock);
    if (log)
        sn->log(sn->log_opaque, line);
    else if (full)
        sn->log(sn->log_opaque, "further denied destinations are not logged");
}

size_t slirp_net_peek(struct slirp_net *sn)
{
    pthread_mutex_lock(&sn->qlock);
    size_t n = sn->head ? sn->head->len : 0;
    pthread_mutex_unlock(&sn->qlock);
    return n;
}

size_t slirp_net_recv(struct slirp_net *sn, uint8_t *buf, size_t cap)
{
    pthread_mutex_lock(&sn->qlock);
    struct frame *f = sn->head;
    if (!f) {
        pthread_mutex_unlock(&sn->qlock);
        return 0;
    }
    sn->head = f->next;
    if (!sn->head)
        sn->tail = NULL;
    sn->qlen--;
    size_t n = 0;
    if (f->len <= cap) {
        memcpy(buf, f->data, f->len);
        n = f->len;
        sn->stats.rx_frames++;
        sn->stats.rx_bytes += n;
    } else {
        sn->stats.rx_dropped++;
    }
    pthread_mutex_unlock(&sn->qlock);
    free(f);
    return n;
}

int slirp_net_rx_fd(const struct slirp_net *sn) { return sn->rx_fd; }

void slirp_net_stats(struct slirp_net *sn, struct net_stats *out)
{
    pthread_mutex_lock(&sn->qlock);
    *out = sn->stats;
    pthread_mutex_unlock(&sn->qlock);
}

static void be_send(void *opaque, const uint8_t *frame, size_t len)
{
    slirp_net_input(opaque, frame, len);
}
static size_t be_peek(void *opaque) { return slirp_net_peek(opaque); }
static size_t be_recv(void *opaque, uint8_t *buf, size_t cap)
{
    return slirp_net_recv(opaque, buf, cap);
}

struct net_backend slirp_net_backend(struct slirp_net *sn)
{
    return (struct net_backend){ .opaque = sn, .send = be_send, .peek = be_peek,
                                 .recv = be_recv, .rx_fd = sn->rx_fd };
}
