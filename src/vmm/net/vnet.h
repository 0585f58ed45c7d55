// SPDX-License-Identifier: Apache-2.0
/* The box's virtual network as libslirp presents it (QEMU's user-network defaults), in one
 * place for the stack (slirp.c), the policy (policy.c) and the rule checks (rule.c).
 *
 * libslirp 4.7 (socket.c, sotranslate_out) turns a guest connection to the host address or
 * to 255.255.255.255 into one to the host's 127.0.0.1, and anything in the IPv6 prefix (or
 * ff02::1) into one to ::1; the DNS address reaches the host's resolver on port 53 only.
 * Every other address in the IPv4 network is passed on as it is. */
#ifndef VMM_NET_VNET_H
#define VMM_NET_VNET_H

#define VNET_NETWORK "10.0.2.0"
#define VNET_NETMASK "255.255.255.0"
#define VNET_PREFIX_BITS 24
#define VNET_HOST "10.0.2.2"  /* the gateway; the host's loopback behind it */
#define VNET_DNS "10.0.2.3"   /* the host's resolver, port 53 */
#define VNET_GUEST "10.0.2.15" /* DHCP's first address; the agent's static one */
#define VNET_PREFIX6 "fec0::"
#define VNET_PREFIX6_BITS 64
#define VNET_HOST6 "fec0::2"
#define VNET_DNS6 "fec0::3"
#define VNET_DNS_PORT 53

#endif
