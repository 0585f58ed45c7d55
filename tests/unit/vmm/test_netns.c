// SPDX-License-Identifier: Apache-2.0
/* The tap in a network namespace (src/vmm/net/netns.h), against the real kernel: a namespace
 * made with ip(8) like a CNI's (eth0 192.0.2.2/24 with MTU 1400 and a default route, its
 * veth peer 192.0.2.1 in a second namespace standing for the host: nothing of this touches
 * the host's own network), attached; what the guest would take is what ip(8) says; tc(8)
 * shows both redirects; and an ARP request written to the tap (as the guest sends it)
 * leaves by eth0 and the peer's kernel's reply comes back on the tap. */
#include "harness/harness.h"
#include "vmm/net/netns.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

static char ns[32], peer[32];

/* A set-up step that must work. */
#define SH(...)                                                                    \
    do {                                                                           \
        if (harness_sh(__VA_ARGS__) != 0)                                          \
            harness_fail(__FILE__, __LINE__, "set-up failed: %s", #__VA_ARGS__);   \
    } while (0)

static void make_ns(bool with_veth)
{
    if (geteuid() != 0)
        harness_skip("needs root for network namespaces; proven by tests/e2e/oci_ports.sh");
    if (harness_sh("ip -V >/dev/null 2>&1 && tc -V >/dev/null 2>&1") != 0)
        harness_need("ip and tc (apt-get install iproute2)");
    snprintf(ns, sizeof ns, "blnst%d", (int)getpid());
    snprintf(peer, sizeof peer, "blnsp%d", (int)getpid());
    SH("ip netns add %s && ip netns add %s", ns, peer);
    SH("ip -n %s link set lo up", ns);
    if (!with_veth)
        return;
    SH("ip -n %s link add eth0 type veth peer name eth0 netns %s", peer, ns);
    SH("ip -n %s addr add 192.0.2.1/24 dev eth0 && ip -n %s link set eth0 up", peer, peer);
    SH("ip -n %s link set eth0 mtu 1400 up && ip -n %s addr add 192.0.2.2/24 dev eth0 && "
       "ip -n %s route add default via 192.0.2.1", ns, ns, ns);
}

static void drop_ns(void)
{
    harness_sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", ns, peer);
}

/* An ARP request "who has 192.0.2.1, tell spa (at sha)", sent from eth_src. */
static size_t arp_request_as(uint8_t *f, const uint8_t eth_src[6], const uint8_t sha[6],
                             const char *spa)
{
    memset(f, 0, 60);
    memset(f, 0xff, 6);
    memcpy(f + 6, eth_src, 6);
    f[12] = 0x08, f[13] = 0x06;                   /* ARP */
    f[14] = 0, f[15] = 1, f[16] = 8, f[17] = 0;   /* Ethernet, IPv4 */
    f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;   /* sizes, request */
    memcpy(f + 22, sha, 6);
    inet_pton(AF_INET, spa, f + 28);
    inet_pton(AF_INET, "192.0.2.1", f + 38);
    return 60;
}

/* The guest's own: "who has 192.0.2.1, tell 192.0.2.2" from mac. */
static size_t arp_request(uint8_t *f, const uint8_t mac[6])
{
    return arp_request_as(f, mac, mac, "192.0.2.2");
}

/* Waits for the host's ARP reply for 192.0.2.1 on the tap. */
static bool arp_reply_on(int tap)
{
    uint8_t f[2048], want[4];
    inet_pton(AF_INET, "192.0.2.1", want);
    for (int i = 0; i < 50; i++) {
        struct pollfd p = { tap, POLLIN, 0 };
        if (poll(&p, 1, 5000) <= 0)
            return false;
        ssize_t n = read(tap, f, sizeof f);
        if (n >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && !memcmp(f + 28, want, 4))
            return true;
    }
    return false;
}

TEST(netns_attach_mirrors_the_interface)
{
    make_ns(true);
    char path[64], text[4096];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    struct netns_nic nic;
    struct bl_error err = {0};
    int rc = netns_nic_attach(path, &nic, &err);
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "attach: %s\n", err.msg);
        drop_ns();
        return;
    }
    CHECK(nic.tap_fd >= 0);
    CHECK_STR(nic.ifname, "eth0");
    CHECK_STR(nic.addr, "192.0.2.2/24");
    CHECK_STR(nic.gw, "192.0.2.1");
    CHECK_EQ(nic.mtu, 1400);
    char mac[32];
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", nic.mac[0], nic.mac[1],
             nic.mac[2], nic.mac[3], nic.mac[4], nic.mac[5]);
    harness_output(text, sizeof text, "ip -n %s -o link show eth0", ns);
    CHECK(strstr(text, mac) != NULL);
    /* tc(8) as the oracle of what was sent */
    harness_output(text, sizeof text, "tc -n %s filter show dev eth0 ingress", ns);
    CHECK(strstr(text, "Egress Redirect to device " NETNS_TAP_NAME) != NULL);
    harness_output(text, sizeof text, "tc -n %s filter show dev " NETNS_TAP_NAME " ingress", ns);
    CHECK(strstr(text, "Egress Redirect to device eth0") != NULL);
    harness_output(text, sizeof text, "ip -n %s -o link show " NETNS_TAP_NAME, ns);
    CHECK(strstr(text, "mtu 1400") != NULL);
    /* a frame both ways, the host's kernel answering */
    uint8_t f[60];
    CHECK(write(nic.tap_fd, f, arp_request(f, nic.mac)) == 60);
    CHECK(arp_reply_on(nic.tap_fd));
    close(nic.tap_fd); /* as a killed VMM leaves it */
    close(nic.nl_fd);

    /* the same namespace again (a restarted container): the old redirect is replaced */
    rc = netns_nic_attach(path, &nic, &err);
    CHECK(rc == 0);
    if (!rc) {
        CHECK(write(nic.tap_fd, f, arp_request(f, nic.mac)) == 60);
        CHECK(arp_reply_on(nic.tap_fd));
        /* detached: eth0 is the namespace's own again */
        netns_nic_detach(&nic);
        CHECK_EQ(nic.tap_fd, -1);
        harness_output(text, sizeof text, "tc -n %s filter show dev eth0 ingress", ns);
        CHECK_STR(text, "");
        CHECK(harness_sh("ip netns exec %s busybox ping -c1 -W5 192.0.2.1 >/dev/null", ns) == 0);
    }
    drop_ns();
}

/* The tap's guard: forged ARP requests (another sender address, another Ethernet source,
 * another sender MAC) and a VLAN-tagged and an IPv6 frame written to the tap never reach
 * the peer; the guest's own request after them does, and its reply comes back. The
 * peer's kernel answers every request for its address, so a forged one that got through
 * would show as a reply to that sender before the genuine one's (one wire, in order). */
TEST(netns_the_tap_passes_only_the_interfaces_own_frames)
{
    make_ns(true);
    char path[64], text[4096];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    struct netns_nic nic;
    struct bl_error err = {0};
    if (netns_nic_attach(path, &nic, &err) != 0) {
        harness_fail(__FILE__, __LINE__, "attach: %s", err.msg);
        drop_ns();
        return;
    }
    harness_output(text, sizeof text, "tc -n %s filter show dev " NETNS_TAP_NAME " ingress", ns);
    CHECK(strstr(text, "pref 1 bpf") != NULL && strstr(text, "direct-action") != NULL);
    CHECK(strstr(text, "pref 2 u32") != NULL); /* the redirect after it */
    static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x66 };
    uint8_t f[60];
    int forged = 0;
    CHECK(write(nic.tap_fd, f, arp_request_as(f, nic.mac, nic.mac, "192.0.2.77")) == 60);
    forged++;
    CHECK(write(nic.tap_fd, f, arp_request_as(f, other, other, "192.0.2.2")) == 60);
    forged++;
    CHECK(write(nic.tap_fd, f, arp_request_as(f, nic.mac, other, "192.0.2.2")) == 60);
    forged++;
    /* the guest's own request inside an 802.1Q tag (VLAN 5) */
    uint8_t v[64];
    arp_request(f, nic.mac);
    memcpy(v, f, 12);
    v[12] = 0x81, v[13] = 0x00, v[14] = 0, v[15] = 5;
    memcpy(v + 16, f + 12, 48);
    CHECK(write(nic.tap_fd, v, sizeof v) == (ssize_t)sizeof v);
    forged++;
    /* an IPv6 neighbour solicitation's frame from the guest's MAC (its payload does not
     * matter: the guard looks no further than the type) */
    arp_request(f, nic.mac);
    f[12] = 0x86, f[13] = 0xdd;
    CHECK(write(nic.tap_fd, f, 60) == 60);
    forged++;
    CHECK(write(nic.tap_fd, f, arp_request(f, nic.mac)) == 60);
    uint8_t r[2048], to77[4];
    inet_pton(AF_INET, "192.0.2.77", to77);
    bool genuine = false, leaked = false;
    for (int i = 0; i < 50 && !genuine; i++) {
        struct pollfd p = { nic.tap_fd, POLLIN, 0 };
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t n = read(nic.tap_fd, r, sizeof r);
        if (n < 42 || r[12] != 0x08 || r[13] != 0x06 || r[21] != 2)
            continue;
        if (!memcmp(r + 38, to77, 4) || !memcmp(r, other, 6) || !memcmp(r + 32, other, 6))
            leaked = true;
        else if (!memcmp(r + 32, nic.mac, 6))
            genuine = true;
    }
    CHECK(genuine);
    CHECK(!leaked);
    /* counted: the ingress qdisc's drops */
    harness_output(text, sizeof text, "tc -s -n %s qdisc show dev " NETNS_TAP_NAME " ingress", ns);
    const char *d = strstr(text, "dropped ");
    CHECK(d != NULL);
    if (d)
        CHECK_EQ(atoi(d + 8), forged);
    netns_nic_detach(&nic);
    drop_ns();
}

TEST(netns_loopback_only_gets_no_nic)
{
    make_ns(false);
    char path[64];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    struct netns_nic nic;
    struct bl_error err = {0};
    CHECK(netns_nic_attach(path, &nic, &err) == 0);
    CHECK_EQ(nic.tap_fd, -1);
    CHECK_STR(nic.ifname, "");
    drop_ns();
}

TEST(netns_missing_path_is_an_error)
{
    struct netns_nic nic;
    struct bl_error err = {0};
    CHECK(netns_nic_attach("/run/netns/boxlite-no-such-ns", &nic, &err) < 0);
    CHECK(strstr(err.msg, "/run/netns/boxlite-no-such-ns") != NULL);
    CHECK_EQ(nic.tap_fd, -1);
}

/* In a process that is pid 1 of a new PID namespace, in a new network namespace (loopback
 * only) and with its own /proc: there "pid 1's namespace" is a throwaway one, so a broken
 * refusal attaches to nothing of the host's (the test then fails, harmlessly). */
static int attach_pid1s_namespace(void)
{
    if (unshare(CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS) < 0)
        return 10;
    pid_t p = fork();
    if (p == 0) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("proc", "/proc", "proc", 0, NULL) < 0)
            _exit(11);
        struct netns_nic nic;
        struct bl_error err = {0};
        int rc = netns_nic_attach("/proc/1/ns/net", &nic, &err);
        _exit(rc < 0 && err.code == BOXLITE_ERR_INVALID && strstr(err.msg, "the host's own") &&
                      nic.tap_fd == -1
                  ? 0
                  : 1);
    }
    int st;
    return p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) ? WEXITSTATUS(st) : 12;
}

TEST(netns_the_hosts_own_namespace_is_refused)
{
    if (geteuid() != 0)
        harness_skip("needs root for namespaces");
    pid_t p = fork();
    if (p == 0)
        _exit(attach_pid1s_namespace());
    int st = -1;
    CHECK(p > 0 && waitpid(p, &st, 0) == p);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
}

TEST(netns_messages_fit_or_say_so)
{
    uint8_t buf[512];
    size_t n = netns_msg_redirect(buf, sizeof buf, 2, 3, 7);
    CHECK(n > 0 && n < sizeof buf);
    CHECK_EQ(netns_msg_redirect(buf, n - 1, 2, 3, 7), 0);
    CHECK(netns_msg_ingress(buf, sizeof buf, 2, 1) > 0);
    CHECK_EQ(netns_msg_ingress(buf, 20, 2, 1), 0);
    struct netns_nic nic = { .addr = "192.0.2.2/24" };
    struct sock_filter prog[NETNS_GUARD_MAX];
    size_t len = netns_guard_prog(prog, NETNS_GUARD_MAX, &nic);
    CHECK(len > 0);
    CHECK_EQ(netns_guard_prog(prog, len - 1, &nic), 0);
    n = netns_msg_guard(buf, sizeof buf, 2, prog, len, 9);
    CHECK(n > 0 && n < sizeof buf);
    CHECK_EQ(netns_msg_guard(buf, n - 1, 2, prog, len, 9), 0);
    snprintf(nic.addr, sizeof nic.addr, "%s", "fe80::1/64"); /* not IPv4: no program */
    CHECK_EQ(netns_guard_prog(prog, NETNS_GUARD_MAX, &nic), 0);
}
