// SPDX-License-Identifier: Apache-2.0
/* Our libslirp back end against a real Linux network stack: the project's guest kernel
 * boots under QEMU TCG with a virtio-net NIC whose frames QEMU sends to this test over
 * UDP (-netdev socket,udp=...), and the test feeds them to slirp_net and slirp's frames
 * back. In the guest, busybox gets its address by DHCP, connects out through the NAT to
 * a server on the host's 127.0.0.1 (at 10.0.2.2, opened by allow_host), and serves a
 * forwarded port the host connects to. Skips when QEMU, the cached kernel or busybox is missing. */
#include "vmm/net/slirp.h"

#include "harness/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct bridge {
    struct slirp_net *sn;
    int udp;                  /* ours; QEMU sends frames here */
    struct sockaddr_in qemu;  /* QEMU's localaddr */
    volatile bool stop;
};

/* Frames: QEMU -> slirp_net_input; slirp's queue -> QEMU. */
static void *bridge_run(void *arg)
{
    struct bridge *b = arg;
    static uint8_t buf[SLIRP_NET_FRAME_MAX];
    while (!b->stop) {
        struct pollfd p[2] = { { .fd = b->udp, .events = POLLIN },
                               { .fd = slirp_net_rx_fd(b->sn), .events = POLLIN } };
        if (poll(p, 2, 200) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            ssize_t n = recv(b->udp, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0)
                slirp_net_input(b->sn, buf, (size_t)n);
        }
        if (p[1].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(p[1].fd, &v, sizeof v);
            (void)r;
        }
        size_t n;
        while ((n = slirp_net_recv(b->sn, buf, sizeof buf)) > 0)
            sendto(b->udp, buf, n, 0, (struct sockaddr *)&b->qemu, sizeof b->qemu);
    }
    return NULL;
}

static int udp_bind(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A host server the guest reaches through the NAT: says hello to each connection. */
struct hello {
    int lfd;
    int served;
};
static void *hello_run(void *arg)
{
    struct hello *h = arg;
    for (;;) {
        int fd = accept(h->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        ssize_t w = write(fd, "hello-from-host-server\n", 23);
        (void)w;
        h->served++;
        close(fd);
    }
}

/* The host side of the forwarded port: connects until the guest's listener answers. A
 * connection made before the guest listens can hang (slirp does not retry its SYN into the
 * guest), and one the guest took may answer late under TCG on a loaded host: so every open
 * connection stays open and is watched, and a new one is added every 300 ms until one of
 * them brings the answer. */
#define FWD_MAX_CONNS 512
struct fwd_client {
    uint16_t port;
    char got[128];
    volatile bool stop;
};
static void *fwd_run(void *arg)
{
    struct fwd_client *c = arg;
    struct pollfd p[FWD_MAX_CONNS];
    int n = 0;
    while (!c->stop && !c->got[0]) {
        if (n < FWD_MAX_CONNS) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(c->port),
                                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
            if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
                p[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
            else if (fd >= 0)
                close(fd);
        }
        if (poll(p, (nfds_t)n, 300) <= 0)
            continue;
        for (int i = 0; i < n && !c->got[0]; i++) {
            if (!p[i].revents)
                continue;
            ssize_t r = read(p[i].fd, c->got, sizeof c->got - 1);
            if (r > 0) {
                c->got[r] = '\0';
                break;
            }
            close(p[i].fd); /* ended without an answer: the guest was not listening */
            p[i--] = p[--n];
        }
    }
    for (int i = 0; i < n; i++)
        close(p[i].fd);
    return NULL;
}

static void put_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
        chmod(path, (mode_t)mode);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static const char dhcp_script[] =
    "#!/bin/busybox sh\n"
    "[ \"$1\" = bound ] || exit 0\n"
    "ip addr add $ip/$mask dev $interface\n"
    "ip route add default via $router\n"
    "echo \"R:DHCP_IP=$ip\"; echo \"R:ROUTER=$router\"; echo \"R:DNS=$dns\"\n";

static const char init_script[] =
    "#!/bin/busybox sh\n"
    "/bin/busybox --install -s /bin\n"
    "export PATH=/bin\n"
    "mount -t proc proc /proc; mount -t devtmpfs dev /dev\n"
    "ip link set lo up; ip link set eth0 up\n"
    "udhcpc -i eth0 -n -q -t 10 -T 1 -s /bin/dhcp.sh && echo R:DHCP_OK\n"
    "echo \"R:NAT=$(sleep 3 | nc 10.0.2.2 $HELLOPORT)\"\n"
    "echo guest-says-hi | timeout 60 nc -l -p 8080 && echo R:FWD_SERVED\n"
    "echo R:DONE\n"
    "reboot -f\n";

TEST_TIMEOUT(linux_guest_through_slirp, 240)
{
    if (system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0)
        harness_need("qemu-system-x86_64 not installed");
    if (access("/bin/busybox", X_OK) != 0)
        harness_need("no /bin/busybox");
    FILE *k = popen("scripts/build-kernel.sh --cached-only 2>/dev/null", "r");
    char vmlinux[4096] = "";
    if (k) {
        if (!fgets(vmlinux, sizeof vmlinux, k))
            vmlinux[0] = '\0';
        pclose(k);
    }
    vmlinux[strcspn(vmlinux, "\n")] = '\0';
    if (!vmlinux[0] || access(vmlinux, R_OK) != 0)
        harness_need("no cached guest kernel (scripts/build-kernel.sh)");

    struct bridge b = {0};
    uint16_t our_port, qemu_port;
    b.udp = udp_bind(&our_port);
    REQUIRE(b.udp >= 0);
    int probe = udp_bind(&qemu_port); /* a free port for QEMU's end */
    REQUIRE(probe >= 0);
    close(probe);
    b.qemu = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(qemu_port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

    struct hello h = {0};
    h.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    REQUIRE(bind(h.lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(h.lfd, 4) == 0);
    REQUIRE(getsockname(h.lfd, (struct sockaddr *)&sa, &sl) == 0);
    uint16_t hello_port = ntohs(sa.sin_port);

    /* the guest may reach that one port of the host's loopback, through the gateway */
    struct net_host_port hp = { hello_port, false };
    struct slirp_net_cfg cfg = { .policy = { .host = &hp, .nhost = 1 }, .host_loopback = true };
    struct bl_error err = {0};
    REQUIRE(slirp_net_new(&b.sn, &cfg, &err) == 0);
    uint16_t fwd_port = 0;
    REQUIRE(slirp_net_add_fwd(b.sn, false, "127.0.0.1", 0, 8080, &fwd_port, &err) == 0);

    struct fwd_client fc = { .port = fwd_port };
    pthread_t tb, th, tf;
    REQUIRE(pthread_create(&tb, NULL, bridge_run, &b) == 0);
    REQUIRE(pthread_create(&th, NULL, hello_run, &h) == 0);
    REQUIRE(pthread_create(&tf, NULL, fwd_run, &fc) == 0);

    const char *tmp = harness_tmpdir();
    char init[4200], dhcp[4200], initrd[4200], log[4200], cmd[16384];
    snprintf(init, sizeof init, "%s/init", tmp);
    snprintf(dhcp, sizeof dhcp, "%s/dhcp.sh", tmp);
    snprintf(initrd, sizeof initrd, "%s/initrd.gz", tmp);
    snprintf(log, sizeof log, "%s/console.log", tmp);
    put_file(init, init_script, 0755);
    put_file(dhcp, dhcp_script, 0755);
    snprintf(cmd, sizeof cmd,
             "python3 scripts/mkinitramfs.py %s /init=%s /bin/busybox=/bin/busybox "
             "/bin/dhcp.sh=%s",
             initrd, init, dhcp);
    REQUIRE(system(cmd) == 0);
    snprintf(cmd, sizeof cmd,
             "timeout 200 qemu-system-x86_64 -M microvm,acpi=off -accel tcg -cpu max -m 256 "
             "-smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot "
             "-netdev socket,id=n0,udp=127.0.0.1:%u,localaddr=127.0.0.1:%u "
             "-device virtio-net-device,netdev=n0,mac=52:54:00:12:34:56 "
             "-kernel %s -initrd %s -append 'console=ttyS0 reboot=t panic=-1 quiet "
             "HELLOPORT=%u' >%s 2>&1 </dev/null",
             our_port, qemu_port, vmlinux, initrd, hello_port, log);
    int rc = system(cmd);

    fc.stop = true;
    pthread_join(tf, NULL);
    b.stop = true;
    pthread_join(tb, NULL);
    shutdown(h.lfd, SHUT_RDWR);
    close(h.lfd);
    pthread_join(th, NULL);

    char *out = slurp(log);
    REQUIRE(out);
    if (!strstr(out, "R:FWD_SERVED") || getenv("SLIRP_LINUX_VERBOSE"))
        fprintf(stderr, "qemu exit %d, console:\n%s\n", rc, out);
    CHECK(strstr(out, "R:DHCP_OK"));
    CHECK(strstr(out, "R:DHCP_IP=10.0.2.15"));
    CHECK(strstr(out, "R:ROUTER=10.0.2.2"));
    CHECK(strstr(out, "R:DNS=10.0.2.3"));
    CHECK(strstr(out, "R:NAT=hello-from-host-server"));
    CHECK(strstr(out, "R:FWD_SERVED"));
    CHECK(strstr(out, "R:DONE"));
    CHECK_STR(fc.got, "guest-says-hi\n");
    CHECK(h.served >= 1);

    struct net_stats st;
    slirp_net_stats(b.sn, &st);
    fprintf(stderr, "slirp: tx %llu frames %llu bytes, rx %llu frames %llu bytes, "
                    "tcp out %llu in %llu, udp out %llu, rx dropped %llu\n",
            (unsigned long long)st.tx_frames, (unsigned long long)st.tx_bytes,
            (unsigned long long)st.rx_frames, (unsigned long long)st.rx_bytes,
            (unsigned long long)st.tcp_out, (unsigned long long)st.tcp_in,
            (unsigned long long)st.udp_out, (unsigned long long)st.rx_dropped);
    CHECK(st.tcp_out >= 1);
    CHECK(st.tcp_in >= 1);
    CHECK(st.udp_out >= 1); /* DHCP */
    CHECK(st.tx_bytes > 0 && st.rx_bytes > 0);
    close(b.udp);
    slirp_net_free(b.sn);
}
