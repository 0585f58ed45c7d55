// SPDX-License-Identifier: Apache-2.0
/* The QEMU engine with a real QEMU (TCG here) and the real guest kernel: the agent booting
 * to its HELLO and powering off on request, and busybox guests that exercise each device
 * the engine sets up (agent port, network both ways with a port QEMU chose, 9p shares
 * read-only and read-write, a qcow2 overlay over a raw base that keeps its data across
 * boots), forced stop, QEMU's death, and the counters. Skipped when QEMU or the cached
 * kernel is missing. */
#include "harness/harness.h"
#include "proto/client.h"
#include "proto/proto.h"
#include "vmm/qemu/qemu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char kernel[1024];

static void need_qemu(void)
{
    char why[512];
    if (!engine_qemu_ops.available(why, sizeof why))
        harness_need("%s", why);
    FILE *p = popen("scripts/build-kernel.sh --cached-only 2>/dev/null", "r");
    if (!p || !fgets(kernel, sizeof kernel, p)) {
        if (p)
            pclose(p);
        harness_need("no cached guest kernel (scripts/build-kernel.sh)");
    }
    pclose(p);
    kernel[strcspn(kernel, "\n")] = 0;
}

static char *path_in(const char *name)
{
    static char buf[8][1024];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", harness_tmpdir(), name);
    return b;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strdup(buf);
}

/* An initramfs whose /init is a busybox script: the prelude, then `body`, then reboot
 * (reboot=t: the VM ends). */
static const char *busybox_initrd(const char *body)
{
    char script[8192];
    snprintf(script, sizeof script,
             "#!/bin/busybox sh\n"
             "/bin/busybox --install -s /bin\n"
             "export PATH=/bin\n"
             "mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev\n"
             "for p in /sys/class/virtio-ports/*; do\n"
             "  [ \"$(cat $p/name 2>/dev/null)\" = boxlite.agent ] && PORT=/dev/${p##*/}\n"
             "done\n"
             "echo \"guest: up, agent port $PORT\"\n"
             "%s\n"
             "sync; echo 'guest: done'; reboot -f\n",
             body);
    const char *init = path_in("init.sh"), *out = path_in("initrd.cpio.gz");
    write_file(init, script, 0755);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "python3 scripts/mkinitramfs.py %s /init=%s /bin/busybox=%s", out,
             init, "/bin/busybox");
    if (system(cmd) != 0)
        harness_need("cannot build a busybox initramfs (busybox-static?)");
    return out;
}

static struct vmm_config base_config(const char *initrd)
{
    struct vmm_config cfg = {
        .engine = "qemu", .kernel = kernel, .initrd = (char *)initrd, .cpus = 1,
        .memory_mib = 256, .console_log = path_in("console.log"),
    };
    return cfg;
}

/* Polls the console log until it holds `text` (the guest runs at its own pace). */
static bool console_shows(const char *text, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        char *log = read_file(path_in("console.log"));
        bool found = strstr(log, text) != NULL;
        free(log);
        if (found)
            return true;
        usleep(100000);
    }
    return false;
}

static struct engine *start(const struct vmm_config *cfg)
{
    struct engine *e = NULL;
    struct bl_error err = {0};
    int rc = engine_qemu_ops.start(&e, cfg, &err);
    if (rc < 0)
        harness_fail(__FILE__, __LINE__, "start: %s", err.msg);
    return e;
}

TEST_TIMEOUT(agent_boots_to_ready_and_its_power_off_ends_the_vm, 180)
{
    need_qemu();
    const char *initrd = "build/guest/initramfs.cpio.gz";
    if (access(initrd, R_OK) != 0)
        harness_need("no %s (run make)", initrd);
    struct vmm_config cfg = base_config(initrd);
    struct engine *e = start(&cfg);
    REQUIRE(e);
    int fd = dup(engine_qemu_ops.agent_fd(e));
    REQUIRE(fd >= 0);
    /* the real host client waits for the agent's HELLO... */
    struct proto_client *c = NULL;
    struct bl_error err = {0};
    if (proto_client_open_fd(fd, 120000, &c, &err) < 0)
        harness_fail(__FILE__, __LINE__, "no HELLO from the agent: %s", err.msg);
    /* ...which the engine took as the ready mark */
    struct engine_stats st;
    REQUIRE(engine_qemu_ops.stats(e, &st) == 0);
    CHECK(st.start_to_ready_ms > 0);
    CHECK(st.start_to_ready_ms > st.start_to_first_run_ms);
    CHECK(console_shows("boxlite-agent", 30));
    /* the agent powers off on request (the guest reboots: reboot=t, -no-reboot) */
    if (c) {
        CHECK(proto_shutdown(c, 60000, &err) == 0);
        proto_client_close(c);
    }
    struct engine_exit x;
    REQUIRE(engine_qemu_ops.wait(e, &x) == 0);
    CHECK(x.powered_off);
    CHECK(!x.killed);
    CHECK_EQ(x.guest_status, -1);
    CHECK(strstr(x.reason, "rebooted") != NULL || strstr(x.reason, "powered off") != NULL);
    /* wait again: same answer */
    struct engine_exit y;
    CHECK(engine_qemu_ops.wait(e, &y) == 0);
    CHECK_STR(y.reason, x.reason);
    engine_qemu_ops.destroy(e);
}

static bool read_until(int fd, const char *want, char *buf, size_t cap, int seconds)
{
    size_t have = 0;
    buf[0] = 0;
    for (int i = 0; i < seconds * 10 && !strstr(buf, want); i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + have, cap - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
    }
    return strstr(buf, want) != NULL;
}

TEST_TIMEOUT(agent_channel_carries_bytes_both_ways, 180)
{
    need_qemu();
    struct vmm_config cfg = base_config(busybox_initrd(
        "exec 3<>$PORT\n"
        "echo hello-from-guest >&3\n"
        "read line <&3\n"
        "echo \"guest got: $line\"\n"));
    struct engine *e = start(&cfg);
    REQUIRE(e);
    int fd = engine_qemu_ops.agent_fd(e);
    char buf[4096];
    CHECK(read_until(fd, "hello-from-guest\n", buf, sizeof buf, 120));
    CHECK(write(fd, "ping\n", 5) == 5);
    struct engine_stats st;
    CHECK(engine_qemu_ops.stats(e, &st) == 0);
    CHECK(st.start_to_ready_ms == 0); /* bytes that are not a HELLO frame are no ready mark */
    struct engine_exit x;
    REQUIRE(engine_qemu_ops.wait(e, &x) == 0);
    CHECK(x.powered_off);
    char *log = read_file(cfg.console_log);
    CHECK(strstr(log, "agent port /dev/vport") != NULL);
    CHECK(strstr(log, "guest got: ping") != NULL);
    free(log);
    engine_qemu_ops.destroy(e);
}

TEST_TIMEOUT(forced_stop_status_and_stats, 180)
{
    need_qemu();
    struct vmm_config cfg = base_config(busybox_initrd("echo 'guest: waiting'; sleep 1000"));
    struct engine *e = start(&cfg);
    REQUIRE(e);
    char status[64];
    struct bl_error err = {0};
    CHECK(engine_qemu_status(e, status, sizeof status, &err) == 0);
    CHECK_STR(status, "running");
    CHECK(console_shows("guest: waiting", 120));
    struct engine_stats s;
    REQUIRE(engine_qemu_ops.stats(e, &s) == 0);
    CHECK(s.cpu_user_us + s.cpu_sys_us > 0);
    CHECK(s.rss_bytes > 1024 * 1024);
    CHECK(s.start_to_first_run_ms > 0);
    CHECK_EQ(s.vm_exits, 0);
    /* no power button without ACPI: a graceful stop is refused, not faked */
    CHECK_EQ(engine_qemu_ops.stop(e, false, &err), -BOXLITE_ERR_UNSUPPORTED);
    CHECK(engine_qemu_ops.stop(e, true, &err) == 0);
    struct engine_exit x;
    REQUIRE(engine_qemu_ops.wait(e, &x) == 0);
    CHECK(x.killed);
    CHECK(!x.powered_off);
    CHECK_STR(x.reason, "stopped by force");
    struct engine_stats after;
    REQUIRE(engine_qemu_ops.stats(e, &after) == 0);
    CHECK(after.cpu_user_us + after.cpu_sys_us >= s.cpu_user_us + s.cpu_sys_us);
    CHECK(after.rss_bytes >= s.rss_bytes); /* the peak, once QEMU is gone */
    CHECK(engine_qemu_status(e, status, sizeof status, &err) < 0);
    CHECK(engine_qemu_ops.stop(e, true, &err) == 0); /* already gone: nothing to do */
    engine_qemu_ops.destroy(e);
}

TEST_TIMEOUT(qemu_death_is_the_exit_reason, 180)
{
    need_qemu();
    struct vmm_config cfg = base_config(busybox_initrd("sleep 1000"));
    struct engine *e = start(&cfg);
    REQUIRE(e);
    REQUIRE(kill(engine_qemu_pid(e), SIGKILL) == 0);
    struct engine_exit x;
    REQUIRE(engine_qemu_ops.wait(e, &x) == 0);
    CHECK(!x.killed);
    CHECK(!x.powered_off);
    CHECK(strstr(x.reason, "signal 9") != NULL);
    /* the agent channel ends with QEMU */
    struct pollfd p = {.fd = engine_qemu_ops.agent_fd(e), .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 10000), 1);
    char b;
    CHECK_EQ(read(p.fd, &b, 1), 0);
    engine_qemu_ops.destroy(e);
}

TEST_TIMEOUT(destroy_of_a_running_vm_ends_qemu, 180)
{
    need_qemu();
    struct vmm_config cfg = base_config(busybox_initrd("sleep 1000"));
    struct engine *e = start(&cfg);
    REQUIRE(e);
    pid_t pid = engine_qemu_pid(e);
    engine_qemu_ops.destroy(e);
    CHECK(kill(pid, 0) < 0 && errno == ESRCH);
    engine_qemu_ops.destroy(NULL);
}

static int listen_loopback(uint16_t *port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return s;
}

TEST_TIMEOUT(network_out_through_the_gateway_and_in_through_a_chosen_port, 240)
{
    need_qemu();
    uint16_t hport;
    int ls = listen_loopback(&hport);
    REQUIRE(ls >= 0);
    char body[2048];
    uint16_t denied_port;
    int denied = listen_loopback(&denied_port);
    REQUIRE(denied >= 0);
    snprintf(body, sizeof body,
             "ip link set lo up; ip link set eth0 up\n"
             "ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2\n"
             "echo from-guest | nc 10.0.2.2 %u\n"
             "echo x | nc 10.0.2.2 %u || echo 'guest: refused'\n"
             "echo 'guest: serving'\n"
             "echo hi-from-guest-server | nc -l -p 80\n",
             hport, denied_port);
    struct vmm_port_cfg ports[] = {{.host_addr = "127.0.0.1", .host_port = 0, .guest_port = 80},
                                   {.udp = true, .host_addr = "127.0.0.1", .guest_port = 53}};
    struct net_host_port allowed = {.port = hport};
    struct vmm_config cfg = base_config(busybox_initrd(body));
    cfg.network = true;
    cfg.ports = ports;
    cfg.nports = 2;
    cfg.allow_host = &allowed; /* that one port of the host's loopback, no other */
    cfg.nallow_host = 1;
    struct engine *e = start(&cfg);
    REQUIRE(e);
    int chosen = engine_qemu_ops.host_port(e, 0);
    CHECK(chosen > 0);
    int chosen_udp = engine_qemu_ops.host_port(e, 1);
    CHECK(chosen_udp > 0);
    CHECK_EQ(engine_qemu_ops.host_port(e, 2), 0);

    /* out: the guest reaches 10.0.2.2:hport = the host's loopback (allow_host) */
    struct pollfd p = {.fd = ls, .events = POLLIN};
    CHECK(poll(&p, 1, 120000) == 1);
    int c = accept(ls, NULL, NULL);
    REQUIRE(c >= 0);
    char buf[256];
    CHECK(read_until(c, "from-guest\n", buf, sizeof buf, 30));
    close(c);
    close(ls);

    /* another port there is refused, and nothing reaches its server */
    CHECK(console_shows("guest: refused", 120));
    struct pollfd pd = {.fd = denied, .events = POLLIN};
    CHECK_EQ(poll(&pd, 1, 0), 0);
    close(denied);

    /* in: the host reaches the guest's port 80 through the port chosen for port 0 */
    CHECK(console_shows("guest: serving", 120));
    bool got = false;
    for (int i = 0; i < 100 && !got && chosen > 0; i++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)chosen),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
            got = read_until(s, "hi-from-guest-server\n", buf, sizeof buf, 10);
        close(s);
        if (!got)
            usleep(300000); /* nc not listening yet: slirp closes the connection */
    }
    CHECK(got);
    CHECK(console_shows("guest: done", 60));
    struct engine_stats s;
    REQUIRE(engine_qemu_ops.stats(e, &s) == 0);
    CHECK(s.net_tx_bytes > 0);
    CHECK(s.net_rx_bytes > 0);
    CHECK(s.net_connections >= 2);
    CHECK(s.net_allowed >= 1);
    CHECK(s.net_denied >= 1);
    struct engine_exit x;
    REQUIRE(engine_qemu_ops.wait(e, &x) == 0);
    CHECK(x.powered_off);
    engine_qemu_ops.destroy(e);
}

TEST_TIMEOUT(shares_read_only_and_read_write, 180)
{
    need_qemu();
    const char *ro = path_in("ro"), *rw = path_in("rw");
    mkdir(ro, 0755);
    mkdir(rw, 0755);
    char hostfile[1100];
    snprintf(hostfile, sizeof hostfile, "%s/hostfile", ro);
    write_file(hostfile, "from-the-host\n", 0644);
    struct vmm_share_cfg shares[] = {{.tag = "vol0", .path = (char *)ro, .readonly = true},
                                     {.tag = "vol1", .path = (char *)rw}};
    struct vmm_config cfg = base_config(busybox_initrd(
        "mkdir -p /mnt/ro /mnt/rw\n"
        "mount -t 9p -o trans=virtio,version=9p2000.L vol0 /mnt/ro\n"
        "mount -t 9p -o trans=virtio,version=9p2000.L vol1 /mnt/rw\n"
        "echo \"ro reads: $(cat /mnt/ro/hostfile)\"\n"
        "if echo x > /mnt/ro/new 2>/dev/null; then echo 'ro: writable'; else echo 'ro: refused'; fi\n"
        "echo from-the-guest > /mnt/rw/guestfile\n"
        "umount /mnt/rw\n"));
    cfg.shares = shares;
    cfg.nshares = 2;
    struct engine *e = start(&cfg);
    REQUIRE(e);
    struct engine_exit x;
    REQUIRE(engine_qemu_ops.wait(e, &x) == 0);
    char *log = read_file(cfg.console_log);
    CHECK(strstr(log, "ro reads: from-the-host") != NULL);
    CHECK(strstr(log, "ro: refused") != NULL);
    free(log);
    char guestfile[1100];
    snprintf(guestfile, sizeof guestfile, "%s/guestfile", rw);
    char *g = read_file(guestfile);
    CHECK_STR(g, "from-the-guest\n");
    free(g);
    snprintf(guestfile, sizeof guestfile, "%s/new", ro);
    CHECK(access(guestfile, F_OK) != 0);
    engine_qemu_ops.destroy(e);
}

TEST_TIMEOUT(qcow2_overlay_keeps_its_data_across_boots, 240)
{
    need_qemu();
    const char *base = path_in("base.raw"), *over = path_in("overlay.qcow2");
    const char *extra = path_in("extra.raw");
    FILE *f = fopen(base, "w");
    REQUIRE(f);
    fputs("base-data", f);
    REQUIRE(ftruncate(fileno(f), 1 << 20) == 0);
    fclose(f);
    f = fopen(extra, "w");
    REQUIRE(f);
    fputs("extra-disk", f);
    REQUIRE(ftruncate(fileno(f), 1 << 20) == 0);
    fclose(f);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "qemu-img create -q -f qcow2 -b %s -F raw %s", base, over);
    if (system(cmd) != 0)
        harness_need("qemu-img is missing");
    struct vmm_disk_cfg disks[] = {{.path = (char *)over}, {.path = (char *)extra, .readonly = true}};

    /* boot 1: read the base through the overlay, write past it */
    struct vmm_config cfg = base_config(busybox_initrd(
        "echo \"vda: $(head -c 9 /dev/vda)\"\n"
        "echo \"vdb: $(head -c 10 /dev/vdb)\"\n"
        "if echo x | dd of=/dev/vdb conv=fsync 2>/dev/null; then echo 'vdb: writable'; "
        "else echo 'vdb: refused'; fi\n"
        "echo kept-data | dd of=/dev/vda bs=4096 seek=1 conv=fsync 2>/dev/null\n"));
    cfg.disks = disks;
    cfg.ndisks = 2;
    struct engine *e = start(&cfg);
    REQUIRE(e);
    struct engine_exit x;
    REQUIRE(engine_qemu_ops.wait(e, &x) == 0);
    engine_qemu_ops.destroy(e);
    char *log = read_file(cfg.console_log);
    CHECK(strstr(log, "vda: base-data") != NULL);
    CHECK(strstr(log, "vdb: extra-disk") != NULL);
    CHECK(strstr(log, "vdb: refused") != NULL);
    free(log);

    /* boot 2: the write is still there, in the overlay (the base is untouched) */
    unlink(cfg.console_log);
    cfg.initrd = (char *)busybox_initrd(
        "echo \"kept: $(dd if=/dev/vda bs=4096 skip=1 count=1 2>/dev/null | head -c 9)\"\n");
    e = start(&cfg);
    REQUIRE(e);
    REQUIRE(engine_qemu_ops.wait(e, &x) == 0);
    engine_qemu_ops.destroy(e);
    log = read_file(cfg.console_log);
    CHECK(strstr(log, "kept: kept-data") != NULL);
    free(log);
    char basebuf[4096 + 16] = {0};
    f = fopen(base, "r");
    REQUIRE(f);
    CHECK(fread(basebuf, 1, sizeof basebuf, f) == sizeof basebuf);
    fclose(f);
    CHECK(memcmp(basebuf + 4096, "kept-data", 9) != 0);
}

TEST_TIMEOUT(the_agents_hello_is_the_ready_mark, 180)
{
    need_qemu();
    /* a HELLO frame header as the agent's first bytes, written by the guest's shell */
    uint8_t hdr[PROTO_HDR_SIZE];
    proto_hdr_encode(hdr, &(struct proto_hdr){.len = 0, .type = PROTO_HELLO});
    char body[512], *o = body;
    o += sprintf(o, "printf '");
    for (size_t i = 0; i < sizeof hdr; i++)
        o += sprintf(o, "\\%03o", hdr[i]);
    sprintf(o, "' > $PORT\necho 'guest: hello sent'\nsleep 1000");
    struct vmm_config cfg = base_config(busybox_initrd(body));
    struct engine *e = start(&cfg);
    REQUIRE(e);
    struct engine_stats st = {0};
    for (int i = 0; i < 1200 && st.start_to_ready_ms == 0; i++) {
        usleep(100000);
        REQUIRE(engine_qemu_ops.stats(e, &st) == 0);
    }
    CHECK(st.start_to_ready_ms > 0);
    CHECK(st.start_to_ready_ms >= st.start_to_first_run_ms);
    /* the relay passes the frame on untouched */
    uint8_t got[PROTO_HDR_SIZE];
    size_t have = 0;
    int fd = engine_qemu_ops.agent_fd(e);
    for (int i = 0; i < 100 && have < sizeof got; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) == 1) {
            ssize_t n = read(fd, got + have, sizeof got - have);
            if (n <= 0)
                break;
            have += (size_t)n;
        }
    }
    CHECK_EQ(have, sizeof got);
    CHECK_MEM(got, hdr, sizeof hdr);
    engine_qemu_ops.destroy(e);
}

TEST_TIMEOUT(qemus_own_error_reaches_the_caller, 120)
{
    need_qemu();
    struct vmm_share_cfg shares[] = {{.tag = "vol0", .path = "/nonexistent/share/dir"}};
    struct vmm_config cfg = base_config(kernel); /* any file: QEMU stops before booting */
    cfg.shares = shares;
    cfg.nshares = 1;
    struct engine *e = NULL;
    struct bl_error err = {0};
    CHECK(engine_qemu_ops.start(&e, &cfg, &err) < 0);
    CHECK(e == NULL);
    CHECK_EQ(err.code, BOXLITE_ERR_ENGINE);
    /* QEMU's own words, after ours */
    if (!strstr(err.msg, "QEMU said:") || !strstr(err.msg, "/nonexistent/share/dir"))
        harness_fail(__FILE__, __LINE__, "error: %s", err.msg);
}
