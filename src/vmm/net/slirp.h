// SPDX-License-Identifier: Apache-2.0
/* The user-mode network behind virtio-net: libslirp (4.7) on the QEMU default network
 * (vnet.h), for both engines: the KVM engine's virtio-net calls it directly, the QEMU engine
 * hands its frames over a socket (link.c).
 *
 *   network 10.0.2.0/24, gateway/host 10.0.2.2, DNS 10.0.2.3, guest 10.0.2.15 by DHCP;
 *   IPv6 fec0::/64 (host fec0::2, DNS fec0::3); outbound NAT through host sockets;
 *   host port forwarding (TCP, UDP) to the guest.
 *
 * Every frame from the guest passes the box's network policy (policy.h) before libslirp
 * sees it: a refused TCP connection gets a reset at once, a refused datagram is dropped,
 * each refused destination is logged once (cfg.log), and connection attempts are counted
 * (allowed, denied). Frames slirp sends to the guest are read for DNS answers (host-name
 * rules) and for UDP port-forward flows.
 *
 * Threads: libslirp is not thread-safe, so one mutex guards the Slirp instance, and a
 * thread of its own runs slirp's poll loop (sockets and timers). We chose a thread rather
 * than the VMM's epoll loop because slirp rebuilds its descriptor set and timeout on every
 * iteration (slirp_pollfds_fill), which maps onto poll() directly but onto a level-
 * triggered epoll only with add/del churn each round; a thread also keeps a slow host
 * connect or DNS round-trip off the loop that serves the other devices. Frames from the
 * guest (slirp_net_input, any thread) go straight into slirp_input under the mutex. Frames
 * slirp sends to the guest wait in a bounded queue (dropped and counted when full, as a
 * real NIC drops when its ring is full; TCP retransmits); rx_fd becomes readable while the
 * queue is non-empty, for the device's event-loop handler. */
#ifndef VMM_NET_SLIRP_H
#define VMM_NET_SLIRP_H

#include "common/error.h"
#include "vmm/net/policy.h"
#include "vmm/net/vnet.h"
#include "vmm/virtio/net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLIRP_NET_GUEST_IP VNET_GUEST
#define SLIRP_NET_HOST_IP VNET_HOST
#define SLIRP_NET_DNS_IP VNET_DNS
#define SLIRP_NET_RXQ_DEFAULT 512  /* frames queued for the guest */
#define SLIRP_NET_FRAME_MAX 65550 /* ethernet header + 64 KiB */

struct slirp_net_cfg {
    /* What the box may reach (rules, allow_host). The host-address check is filled in by
     * slirp_net_new (the host's interfaces, read again at most once a second). */
    struct net_policy_cfg policy;
    /* Whether libslirp may turn the gateway address into the host's loopback at all: needed
     * for allow_host and for UDP port forwards (the guest's replies go to the gateway);
     * false sets libslirp's disable_host_loopback, a second wall behind the policy. */
    bool host_loopback;
    size_t rx_queue_max; /* 0 = SLIRP_NET_RXQ_DEFAULT */
    /* Called with one line for each destination refused for the first time ("denied tcp
     * 10.0.2.2 port 8080: ..."; no newline), and once "further denied destinations are not
     * logged"; from the thread that sent the frame. May be NULL. */
    void (*log)(void *opaque, const char *line);
    void *log_opaque;
};

struct net_stats {
    uint64_t tx_frames, tx_bytes;     /* guest -> network, as given to slirp */
    uint64_t rx_frames, rx_bytes;     /* network -> guest, as taken by the device */
    uint64_t rx_dropped;              /* frames dropped because the queue was full */
    uint64_t tx_dropped;              /* frames from the guest refused (size) */
    uint64_t tcp_out, tcp_in;         /* TCP connection attempts (SYN without ACK) from the
                                       * guest / toward it (port forwards), retries included */
    uint64_t udp_out;                 /* UDP datagrams from the guest */
    uint64_t conn_allowed;            /* connection attempts (TCP SYN, new UDP/ICMP flow) the */
    uint64_t conn_denied;             /* policy let through / refused */
    uint64_t tx_filtered;             /* frames dropped as malformed or unsupported */
};

struct slirp_net;

/* Creates the stack and starts its thread. */
int slirp_net_new(struct slirp_net **out, const struct slirp_net_cfg *cfg,
                  struct bl_error *err);
/* Stops the thread and frees everything. NULL is a no-op. */
void slirp_net_free(struct slirp_net *sn);

/* Forwards host_addr:host_port (proto TCP or UDP) to the guest's guest_port. host_addr
 * NULL means 127.0.0.1. host_port 0 picks a free port; the port used is stored in
 * *bound_port (may be NULL). */
int slirp_net_add_fwd(struct slirp_net *sn, bool udp, const char *host_addr,
                      uint16_t host_port, uint16_t guest_port, uint16_t *bound_port,
                      struct bl_error *err);

/* A frame from the guest (ethernet, no virtio header). Any thread. */
void slirp_net_input(struct slirp_net *sn, const uint8_t *frame, size_t len);
/* The length of the next frame queued for the guest, 0 if none. */
size_t slirp_net_peek(struct slirp_net *sn);
/* Takes the next frame for the guest into buf. Returns its length, 0 if none; a frame
 * longer than cap is dropped (counted in rx_dropped) and 0 returned. */
size_t slirp_net_recv(struct slirp_net *sn, uint8_t *buf, size_t cap);
/* An eventfd that is readable while frames are queued (the reader drains it with read()
 * before emptying the queue). */
int slirp_net_rx_fd(const struct slirp_net *sn);
void slirp_net_stats(struct slirp_net *sn, struct net_stats *out);
/* The stack as a virtio-net back end (send = slirp_net_input, peek, recv, rx_fd). */
struct net_backend slirp_net_backend(struct slirp_net *sn);

/* What kind of connection start a frame is, for the counters: 1 = TCP SYN (without ACK),
 * 2 = UDP, 0 = neither. Every header length is checked; exposed for tests and fuzzing. */
int net_frame_classify(const uint8_t *frame, size_t len);

#endif
