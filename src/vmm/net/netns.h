// SPDX-License-Identifier: Apache-2.0
/* The box's NIC in a network namespace made for it by someone else (a container engine's
 * CNI, Docker's libnetwork), as Kata Containers does it: a tap device created in that
 * namespace, and the traffic of the namespace's own interface (its end of the veth pair)
 * redirected to the tap and the tap's back to it (tc ingress qdiscs with a u32 match-all
 * filter and a mirred egress redirect, both ways). The guest's eth0 takes the interface's
 * MAC, IPv4 address, default route and MTU, so the namespace's peers, its routes and
 * its firewall (the engine's, e.g. a published port's DNAT) see the guest as they would
 * see a runc container's process there. The interface keeps its address in the namespace,
 * but no frame reaches that namespace's stack any more: the guest answers for it.
 *
 * Why tc rather than a bridge: a bridge would need the interface's address moved off it
 * (or the namespace's stack would answer ARP for it too) and learns MACs; a redirect is a
 * wire, and deleting the qdiscs undoes it. u32 rather than matchall: matchall
 * (CONFIG_NET_CLS_MATCHALL) is missing from some kernels (this project's CI host's). */
#ifndef VMM_NET_NETNS_H
#define VMM_NET_NETNS_H

#include "common/error.h"

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETNS_TAP_NAME "bl-tap0"

struct netns_nic {
    int tap_fd;        /* -1 when the namespace has no interface to mirror */
    char ifname[16];   /* the namespace's interface (eth0) */
    uint8_t mac[6];
    char addr[24];     /* "10.88.0.5/16" */
    char gw[16];       /* "10.88.0.1", "" without a default route */
    unsigned mtu;
    int ifindex;       /* the interface's, for netns_nic_detach */
    int nl_fd;         /* an rtnetlink socket made in the namespace (-1: none) */
};

/* Joins the namespace at path (this thread only, and back), finds its first interface
 * that is up, not loopback and has an IPv4 address, creates the tap beside it, mirrors
 * the two and reads what the guest takes. A namespace with loopback only (Podman's
 * --network none) is not an error: out->tap_fd is -1 and the guest gets no NIC, as a runc
 * container there gets none. The host's own namespace (pid 1's) is refused. Needs
 * CAP_NET_ADMIN over that namespace. */
int netns_nic_attach(const char *path, struct netns_nic *out, struct bl_error *err);

/* Undoes the interface's redirect (its ingress qdisc) through nl_fd, which works from
 * any namespace, and closes the tap and nl_fd: what a later user of the namespace finds is
 * the interface as the engine made it. A process killed before this leaves the redirect
 * to a tap that is gone (frames dropped) until the next attach replaces it. */
void netns_nic_detach(struct netns_nic *nic);

/* The undo, however this process ends (a SIGKILL too): a helper process, forked now and
 * keeping its privileges (the jail drops this process's), waits for the pipe whose write
 * end *keep_fd is (CLOEXEC; the caller keeps it open, through the jail, for its life) to
 * close, then detaches. nic's nl_fd is the helper's from here. */
int netns_nic_undo_at_exit(struct netns_nic *nic, int *keep_fd, struct bl_error *err);

/* The netlink messages netns_nic_attach sends, built into buf (for the unit test and the
 * fuzz target's neighbours): an ingress qdisc on ifindex, and the u32 filter on it that
 * redirects every frame to to_ifindex. Return the message's length, 0 if cap is short. */
size_t netns_msg_ingress(uint8_t *buf, size_t cap, int ifindex, uint32_t seq);
size_t netns_msg_redirect(uint8_t *buf, size_t cap, int ifindex, int to_ifindex, uint32_t seq);

/* The tap's guard: the guest is not trusted (a container may have escaped to the guest's
 * root), and without it the redirect would carry any frame it forges onto the
 * namespace's link: another MAC, another IPv4 source, an ARP answer for the gateway. A
 * runc container without CAP_NET_RAW can do none of that. So only these pass the tap's
 * ingress, on to the redirect: IPv4 from the interface's MAC and address, and ARP whose
 * Ethernet source and sender are that MAC and address. Everything else is dropped and
 * counted (the ingress qdisc's "dropped": tc -s qdisc show dev bl-tap0): IPv6 too, as
 * the guest is given IPv4 only; a link-local IPv6 source would be checkable, but its
 * neighbour discovery answers for other addresses in its payload, which a filter of
 * fixed offsets cannot follow. The program (classic BPF, run by cls_bpf in direct-action
 * mode: this kernel has no gact to drop with) goes into out; returns its length, 0 if cap
 * is short or nic->addr is not IPv4. netns_guard.c. */
#define NETNS_GUARD_MAX 32
size_t netns_guard_prog(struct sock_filter *out, size_t cap, const struct netns_nic *nic);

/* The message that puts a guard program (netns_guard_prog) on ifindex's ingress, before
 * the redirect; 0 if cap is short. */
size_t netns_msg_guard(uint8_t *buf, size_t cap, int ifindex, const struct sock_filter *prog,
                       size_t n, uint32_t seq);

#endif
