// SPDX-License-Identifier: Apache-2.0
/* End to end through the QEMU engine: the real agent (build/guest/initramfs.cpio.gz, or
 * $BOXLITE_TEST_INITRD) in a TCG micro-VM, a busybox rootfs on a qcow2 overlay, driven by
 * the real host client (src/proto/client.c) over the engine's agent channel. The agent
 * issue's list (hello world, exit code 7, a signal, stdin echo, 10 MiB of output, a PTY with
 * resize, a timeout, 20 concurrent executions, a file round trip) and this engine's (network
 * out through the gateway and in through a chosen port, a read-only and a read-write volume,
 * a disk that keeps its data across a shutdown and a new boot). */
#include "harness/harness.h"
#include "proto/client.h"
#include "vmm/qemu/qemu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char kernel[1024];

static const char *initrd_path(void)
{
    const char *p = getenv("BOXLITE_TEST_INITRD");
    return p && *p ? p : "build/guest/initramfs.cpio.gz";
}

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
    if (access(initrd_path(), R_OK) != 0)
        harness_need("no %s (run make)", initrd_path());
}

static char *path_in(const char *name)
{
    static char buf[16][1024];
    static int i;
    char *b = buf[i++ % 16];
    snprintf(b, sizeof buf[0], "%s/%s", harness_tmpdir(), name);
    return b;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* A busybox rootfs as ext4 (mke2fs -d), under a qcow2 overlay like a box's disk. */
static const char *make_rootfs(void)
{
    const char *dir = path_in("rootfs"), *base = path_in("base.ext4");
    const char *over = path_in("overlay.qcow2");
    if (sh("set -e; mkdir -p %s/bin %s/etc %s/root %s/ro %s/rw; cp /bin/busybox %s/bin/; "
           "for a in sh echo cat sleep head stty nc sync wc ls; do ln -s busybox %s/bin/$a; done; "
           "echo 'root:x:0:0:root:/root:/bin/sh' > %s/etc/passwd; echo 'root:x:0:' > %s/etc/group; "
           "mke2fs -q -F -t ext4 -d %s %s 64M; qemu-img create -q -f qcow2 -b %s -F raw %s",
           dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, base, base, over) != 0)
        harness_need("cannot build a busybox rootfs (busybox-static, e2fsprogs, qemu-utils)");
    return over;
}

struct box {
    struct engine *e;
    struct proto_client *c;
    struct vmm_config cfg;
    struct vmm_disk_cfg disk;
    struct vmm_share_cfg shares[2];
    struct vmm_port_cfg port;
    struct net_host_port host;
};

/* Boots and connects; skips when the initramfs's agent does not speak the protocol. */
static bool boot(struct box *b, const char *disk, uint16_t allow_host)
{
    memset(b, 0, sizeof *b);
    b->disk = (struct vmm_disk_cfg){.path = (char *)disk};
    b->shares[0] = (struct vmm_share_cfg){.tag = "vol0", .path = path_in("hostro"), .readonly = true};
    b->shares[1] = (struct vmm_share_cfg){.tag = "vol1", .path = path_in("hostrw")};
    mkdir(b->shares[0].path, 0755);
    mkdir(b->shares[1].path, 0755);
    b->port = (struct vmm_port_cfg){.host_addr = "127.0.0.1", .host_port = 0, .guest_port = 80};
    b->cfg = (struct vmm_config){
        .engine = "qemu", .kernel = kernel, .initrd = (char *)initrd_path(), .cpus = 1,
        .memory_mib = 512, .disks = &b->disk, .ndisks = 1, .shares = b->shares, .nshares = 2,
        .network = true, .ports = &b->port, .nports = 1, .console_log = path_in("console.log"),
    };
    if (allow_host) {
        b->host = (struct net_host_port){.port = allow_host};
        b->cfg.allow_host = &b->host;
        b->cfg.nallow_host = 1;
    }
    struct bl_error err = {0};
    if (engine_qemu_ops.start(&b->e, &b->cfg, &err) < 0) {
        harness_fail(__FILE__, __LINE__, "start: %s", err.msg);
        return false;
    }
    int fd = dup(engine_qemu_ops.agent_fd(b->e));
    if (proto_client_open_fd(fd, 180000, &b->c, &err) < 0) {
        struct engine_exit x;
        engine_qemu_ops.stop(b->e, true, NULL);
        engine_qemu_ops.wait(b->e, &x);
        engine_qemu_ops.destroy(b->e);
        FILE *f = fopen(b->cfg.console_log, "r");
        char log[8192] = "";
        if (f) {
            log[fread(log, 1, sizeof log - 1, f)] = 0;
            fclose(f);
        }
        harness_fail(__FILE__, __LINE__, "no HELLO from the agent: %s; console:\n%s", err.msg, log);
        return false;
    }
    struct proto_volume vols[] = {{.tag = "vol0", .path = "/ro", .readonly = true},
                                  {.tag = "vol1", .path = "/rw"}};
    struct proto_setup s = {
        .root_dev = "/dev/vda", .root_fstype = "ext4", .vols = vols, .nvols = 2,
        .hostname = "box", .net = true, .net_addr = "10.0.2.15/24", .net_gw = "10.0.2.2",
        .net_dns = "10.0.2.3",
    };
    if (proto_setup(b->c, &s, 60000, &err) < 0) {
        harness_fail(__FILE__, __LINE__, "setup: %s", err.msg);
        return false;
    }
    return true;
}

static void shutdown_box(struct box *b)
{
    struct bl_error err = {0};
    CHECK(proto_shutdown(b->c, 60000, &err) == 0);
    proto_client_close(b->c);
    struct engine_exit x;
    CHECK(engine_qemu_ops.wait(b->e, &x) == 0);
    CHECK(x.powered_off);
    engine_qemu_ops.destroy(b->e);
}

struct run {
    struct proto_result res;
    char *out; /* stdout (with a tty: everything) */
    size_t out_len;
    size_t err_len;
    int rc;
};

/* Runs to the end, collecting stdout (up to keep bytes; the rest is only counted). */
static struct run run_full(struct proto_client *c, const struct proto_exec_req *req,
                           const char *input, size_t keep)
{
    struct run r = {0};
    struct bl_error err = {0};
    struct proto_exec *x = NULL;
    r.out = calloc(1, keep + 1);
    if (proto_exec_start(c, req, &x, &err) < 0) {
        r.rc = -1;
        harness_fail(__FILE__, __LINE__, "exec %s: %s", req->argv[0], err.msg);
        return r;
    }
    if (input) {
        proto_exec_write_stdin(x, input, strlen(input), &err);
        proto_exec_close_stdin(x, &err);
    }
    struct pollfd p[2] = {{.fd = proto_exec_stdout_fd(x), .events = POLLIN},
                          {.fd = proto_exec_stderr_fd(x), .events = POLLIN}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
        if (poll(p, 2, 120000) <= 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (!p[i].revents)
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EAGAIN)
                continue;
            if (n <= 0) {
                p[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 1) {
                r.err_len += (size_t)n;
                continue;
            }
            size_t take = r.out_len < keep ? keep - r.out_len : 0;
            memcpy(r.out + r.out_len, buf, (size_t)n < take ? (size_t)n : take);
            r.out_len += (size_t)n;
        }
    }
    r.rc = proto_exec_wait(x, 60000, &r.res, &err);
    if (r.rc < 0)
        harness_fail(__FILE__, __LINE__, "wait %s: %s", req->argv[0], err.msg);
    proto_exec_free(x);
    return r;
}

/* Progress on stderr: which step a hang or failure is in. */
static void step(const char *what) { fprintf(stderr, "step: %s\n", what); }

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})

static struct run run_cmd(struct proto_client *c, char **argv, const char *input)
{
    struct proto_exec_req req = {.argv = argv};
    return run_full(c, &req, input, 65536);
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

static void read_some(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t have = 0;
    buf[0] = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (have < cap - 1 && poll(&p, 1, timeout_ms) == 1) {
        ssize_t n = read(fd, buf + have, cap - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
    }
}

TEST_TIMEOUT(agent_list_through_the_qemu_engine, 900)
{
    need_qemu();
    const char *disk = make_rootfs();
    /* a server on the host's loopback that the box may reach (allow_host), one it may not */
    uint16_t hport, denied_port;
    int ls = listen_loopback(&hport), denied = listen_loopback(&denied_port);
    REQUIRE(ls >= 0 && denied >= 0);
    struct box b;
    if (!boot(&b, disk, hport))
        return;
    struct proto_client *c = b.c;

    /* hello world */
    step("hello world");
    struct run r = run_cmd(c, ARGV("echo", "hello", "world"), NULL);
    CHECK_EQ(r.res.exit_code, 0);
    CHECK_STR(r.out, "hello world\n");
    free(r.out);

    /* exit code 7 */
    step("exit code 7");
    r = run_cmd(c, ARGV("sh", "-c", "exit 7"), NULL);
    CHECK_EQ(r.res.exit_code, 7);
    CHECK_EQ(r.res.signo, 0);
    free(r.out);

    /* a signal */
    step("a signal");
    {
        struct proto_exec_req req = {.argv = ARGV("sleep", "100")};
        struct proto_exec *x = NULL;
        struct bl_error err = {0};
        REQUIRE(proto_exec_start(c, &req, &x, &err) == 0);
        CHECK_EQ(proto_exec_wait(x, 500, &r.res, &err), -BOXLITE_ERR_TIMEOUT);
        CHECK(proto_exec_signal(x, SIGTERM, &err) == 0);
        REQUIRE(proto_exec_wait(x, 60000, &r.res, &err) == 0);
        CHECK_EQ(r.res.signo, SIGTERM);
        proto_exec_free(x);
    }

    /* stdin echo */
    step("stdin echo");
    r = run_cmd(c, ARGV("cat"), "stdin comes back\n");
    CHECK_STR(r.out, "stdin comes back\n");
    CHECK_EQ(r.res.exit_code, 0);
    free(r.out);

    /* 10 MiB of output */
    step("10 MiB of output");
    {
        struct proto_exec_req req = {.argv = ARGV("head", "-c", "10485760", "/dev/zero")};
        r = run_full(c, &req, NULL, 0);
        CHECK_EQ(r.out_len, 10485760);
        CHECK_EQ(r.res.exit_code, 0);
        free(r.out);
    }

    /* a PTY with resize */
    step("a PTY with resize");
    {
        struct proto_exec_req req = {.argv = ARGV("sh", "-c", "stty size; read x; stty size"),
                                     .tty = true, .rows = 24, .cols = 80};
        struct proto_exec *x = NULL;
        struct bl_error err = {0};
        REQUIRE(proto_exec_start(c, &req, &x, &err) == 0);
        char out[4096];
        read_some(proto_exec_stdout_fd(x), out, sizeof out, 20000);
        if (!strstr(out, "24 80"))
            harness_fail(__FILE__, __LINE__, "tty output: \"%s\"", out);
        CHECK(proto_exec_resize(x, 40, 100, &err) == 0);
        if (proto_exec_write_stdin(x, "go\n", 3, &err) < 0)
            harness_fail(__FILE__, __LINE__, "stdin: %s", err.msg);
        char out2[4096];
        size_t have = 0;
        out2[0] = 0;
        for (int i = 0; i < 100 && !strstr(out2, "40 100"); i++) {
            char part[1024];
            read_some(proto_exec_stdout_fd(x), part, sizeof part, 300);
            size_t n = strlen(part);
            if (have + n < sizeof out2) {
                memcpy(out2 + have, part, n + 1);
                have += n;
            }
        }
        if (!strstr(out2, "40 100"))
            harness_fail(__FILE__, __LINE__, "tty output after resize: \"%s\"", out2);
        if (proto_exec_wait(x, 60000, &r.res, &err) < 0)
            harness_fail(__FILE__, __LINE__, "tty wait: %s", err.msg);
        CHECK_EQ(r.res.exit_code, 0);
        proto_exec_free(x);
    }

    /* a timeout */
    step("a timeout");
    {
        struct proto_exec_req req = {.argv = ARGV("sleep", "100"), .timeout_ms = 1000};
        r = run_full(c, &req, NULL, 16);
        CHECK(r.res.timed_out);
        CHECK(r.res.signo != 0 || r.res.exit_code != 0);
        free(r.out);
    }

    /* 20 concurrent executions */
    step("20 concurrent executions");
    {
        struct proto_exec *xs[20] = {0};
        struct bl_error err = {0};
        char args[20][64];
        for (int i = 0; i < 20; i++) {
            snprintf(args[i], sizeof args[i], "sleep 1; echo run-%d; exit %d", i, i);
            struct proto_exec_req req = {.argv = ARGV("sh", "-c", args[i])};
            CHECK(proto_exec_start(c, &req, &xs[i], &err) == 0);
        }
        for (int i = 0; i < 20; i++) {
            if (!xs[i])
                continue;
            char out[256], want[64];
            read_some(proto_exec_stdout_fd(xs[i]), out, sizeof out, 60000);
            snprintf(want, sizeof want, "run-%d\n", i);
            CHECK_STR(out, want);
            struct proto_result res;
            CHECK(proto_exec_wait(xs[i], 60000, &res, &err) == 0);
            CHECK_EQ(res.exit_code, i);
            proto_exec_free(xs[i]);
        }
    }

    /* a file round trip */
    step("a file round trip");
    {
        const char *src = path_in("payload"), *back = path_in("payload.back");
        REQUIRE(sh("head -c 300000 /dev/urandom > %s", src) == 0);
        struct bl_error err = {0};
        CHECK(proto_copy_in(c, src, "/tmp/payload", &err) == 0);
        CHECK(proto_copy_out(c, "/tmp/payload", back, &err) == 0);
        CHECK(sh("cmp -s %s %s", src, back) == 0);
    }

    /* network out: the host's loopback through the gateway 10.0.2.2, on the allowed port */
    step("network out");
    {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "echo from-the-box | nc 10.0.2.2 %u", hport);
        struct proto_exec_req req = {.argv = ARGV("sh", "-c", cmd)};
        struct proto_exec *x = NULL;
        struct bl_error err = {0};
        REQUIRE(proto_exec_start(c, &req, &x, &err) == 0);
        struct pollfd p = {.fd = ls, .events = POLLIN};
        CHECK(poll(&p, 1, 60000) == 1);
        int a = accept(ls, NULL, NULL);
        char buf[64] = "";
        if (a >= 0) {
            read_some(a, buf, sizeof buf, 10000);
            close(a);
        }
        CHECK_STR(buf, "from-the-box\n");
        proto_exec_wait(x, 60000, &r.res, &err);
        proto_exec_free(x);
        close(ls);
    }

    /* any other port of the host's loopback: refused at once (a reset, not a time-out) */
    step("network out, denied");
    {
        char cmd[160];
        snprintf(cmd, sizeof cmd, "echo x | nc 10.0.2.2 %u 2>&1; echo rc=$?", denied_port);
        r = run_cmd(c, ARGV("sh", "-c", cmd), NULL);
        CHECK(strstr(r.out, "Connection refused") != NULL);
        CHECK(strstr(r.out, "rc=1") != NULL);
        free(r.out);
        struct pollfd p = {.fd = denied, .events = POLLIN};
        CHECK_EQ(poll(&p, 1, 0), 0); /* nothing reached the server */
        close(denied);
        struct engine_stats st;
        CHECK(engine_qemu_ops.stats(b.e, &st) == 0);
        CHECK(st.net_allowed >= 1);
        CHECK(st.net_denied >= 1);
    }

    /* network in: the port QEMU chose reaches the guest's port 80 */
    step("network in");
    {
        int chosen = engine_qemu_ops.host_port(b.e, 0);
        CHECK(chosen > 0);
        struct proto_exec_req req = {.argv = ARGV("sh", "-c", "echo served-by-the-box | nc -l -p 80")};
        struct proto_exec *x = NULL;
        struct bl_error err = {0};
        REQUIRE(proto_exec_start(c, &req, &x, &err) == 0);
        char buf[64] = "";
        for (int i = 0; i < 60 && !strstr(buf, "served") && chosen > 0; i++) {
            int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)chosen),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
                read_some(s, buf, sizeof buf, 1000);
            close(s);
            if (!strstr(buf, "served"))
                usleep(300000); /* nc not listening yet */
        }
        CHECK_STR(buf, "served-by-the-box\n");
        proto_exec_wait(x, 60000, &r.res, &err);
        proto_exec_free(x);
        struct engine_stats st;
        CHECK(engine_qemu_ops.stats(b.e, &st) == 0);
        CHECK(st.net_connections >= 2);
        CHECK(st.start_to_ready_ms > 0);
    }

    /* volumes: read-only refuses writes, read-write writes reach the host */
    step("volumes");
    {
        char hostfile[1100];
        snprintf(hostfile, sizeof hostfile, "%s/hostfile", b.shares[0].path);
        REQUIRE(sh("echo from-the-host > %s", hostfile) == 0);
        r = run_cmd(c, ARGV("cat", "/ro/hostfile"), NULL);
        CHECK_STR(r.out, "from-the-host\n");
        free(r.out);
        r = run_cmd(c, ARGV("sh", "-c", "echo x > /ro/new"), NULL);
        CHECK(r.res.exit_code != 0);
        free(r.out);
        r = run_cmd(c, ARGV("sh", "-c", "echo from-the-box > /rw/boxfile"), NULL);
        CHECK_EQ(r.res.exit_code, 0);
        free(r.out);
        CHECK(sh("grep -qx from-the-box %s/boxfile", b.shares[1].path) == 0);
        CHECK(sh("test ! -e %s/new", b.shares[0].path) == 0);
    }

    /* the disk keeps its data across a shutdown and a new boot */
    step("the disk keeps its data across a shutdown and a new boot");
    r = run_cmd(c, ARGV("sh", "-c", "echo kept-across-boots > /root/persist && sync"), NULL);
    CHECK_EQ(r.res.exit_code, 0);
    free(r.out);
    shutdown_box(&b);
    if (!boot(&b, disk, 0))
        return;
    r = run_cmd(b.c, ARGV("cat", "/root/persist"), NULL);
    CHECK_STR(r.out, "kept-across-boots\n");
    free(r.out);
    shutdown_box(&b);
}
