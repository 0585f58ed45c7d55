// SPDX-License-Identifier: Apache-2.0
/* Container setup natively: a busybox rootfs in a directory, the agent in a private mount
 * namespace of the test's making, executions inside the container's namespaces. */
#include "agent_fixture.h"

#include "common/cleanup.h"

#include <sys/stat.h>

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

static char rootfs[512];

static void write_text(const char *rel, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", rootfs, rel);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static struct proto_client *container(void)
{
    if (geteuid() != 0)
        harness_need("needs root for namespaces");
    if (access("/bin/busybox", X_OK) < 0)
        harness_need("no /bin/busybox (busybox-static)");
    snprintf(rootfs, sizeof rootfs, "%s/rootfs", harness_tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "set -e; mkdir -p %s/bin %s/etc %s/home/alice %s/data; cp /bin/busybox %s/bin/; "
             "for a in sh cat id hostname ls echo stty tty ps sleep touch mount; do "
             "ln -s busybox %s/bin/$a; done",
             rootfs, rootfs, rootfs, rootfs, rootfs, rootfs);
    if (system(cmd) != 0)
        return NULL;
    write_text("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    write_text("etc/group", "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\n");
    write_text("etc/hostfile-marker", "image\n");
    struct proto_setup s = {.root_dir = rootfs, .hostname = "testbox", .net_dns = "192.0.2.53"};
    return start_agent(&s);
}

TEST(runs_inside_the_rootfs)
{
    struct proto_client *c = container();
    REQUIRE(c);
    CHECK(proto_client_container_ready(c));
    /* a repeated setup of the same rootfs is fine, another rootfs is refused */
    struct bl_error e = {0};
    struct proto_setup again = {.root_dir = rootfs};
    CHECK_EQ(proto_setup(c, &again, 5000, &e), 0);
    struct proto_setup other = {.root_dir = "/"};
    CHECK(proto_setup(c, &other, 5000, &e) < 0);
    CHECK(strstr(e.msg, "already set up") != NULL);
    struct run_out o;
    run(c, ARGV("cat", "/etc/hostfile-marker"), NULL, &o);
    CHECK_STR(o.out, "image\n");
    run_free(&o);
    run(c, ARGV("hostname"), NULL, &o);
    CHECK_STR(o.out, "testbox\n");
    run_free(&o);
    run(c, ARGV("cat", "/etc/resolv.conf"), NULL, &o);
    CHECK(strstr(o.out, "nameserver 192.0.2.53") != NULL);
    run_free(&o);
    run(c, ARGV("cat", "/etc/hosts"), NULL, &o);
    CHECK(strstr(o.out, "testbox") != NULL);
    run_free(&o);
    /* the host's files are not visible */
    run(c, ARGV("ls", "/usr"), NULL, &o);
    CHECK(o.res.exit_code != 0);
    run_free(&o);
    stop_agent(c);
}

TEST(namespaces_and_dev)
{
    struct proto_client *c = container();
    REQUIRE(c);
    struct run_out o;
    /* a fresh PID namespace: its PID 1 is the container's init, we are small numbers */
    run(c, ARGV("sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' ' >/dev/null; ps | wc -l"), NULL, &o);
    CHECK(atoi(o.out) > 1 && atoi(o.out) < 50);
    run_free(&o);
    run(c, ARGV("ls", "/dev"), NULL, &o);
    const char *want[] = {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"};
    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        CHECK(strstr(o.out, want[i]) != NULL);
    run_free(&o);
    /* the nodes work: writes to null succeed, zero reads zeros, full refuses writes */
    run(c, ARGV("sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c; "
                            "echo x > /dev/full || echo full-refused"), NULL, &o);
    CHECK_EQ(o.res.exit_code, 0);
    CHECK_STR(o.out, "4\nfull-refused\n");
    run_free(&o);
    struct proto_exec_req req = {.argv = (char **)ARGV("tty"), .tty = true, .rows = 10, .cols = 20};
    struct proto_exec *ex;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c, &req, &ex, &e) == 0);
    struct run_out t = {.out = calloc(1, 1), .err = calloc(1, 1)};
    collect(ex, &t);
    CHECK(strstr(t.out, "/dev/pts/") != NULL);
    run_free(&t);
    proto_exec_free(ex);
    stop_agent(c);
}

TEST(users_from_the_image)
{
    struct proto_client *c = container();
    REQUIRE(c);
    struct proto_exec_req req = {.argv = (char **)ARGV("sh", "-c", "id -u; id -g; id -G; echo $HOME; pwd"),
                                 .user = "alice"};
    struct proto_exec *ex;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c, &req, &ex, &e) == 0);
    struct run_out o = {.out = calloc(1, 1), .err = calloc(1, 1)};
    collect(ex, &o);
    CHECK_EQ(o.rc, 0);
    CHECK_STR(o.out, "1000\n1000\n1000 50\n/home/alice\n/\n");
    run_free(&o);
    proto_exec_free(ex);
    struct proto_exec_req req2 = {.argv = (char **)ARGV("sh", "-c", "id -u; id -g"), .user = "1234:staff",
                                  .cwd = "/home"};
    REQUIRE(proto_exec_start(c, &req2, &ex, &e) == 0);
    struct run_out o2 = {.out = calloc(1, 1), .err = calloc(1, 1)};
    collect(ex, &o2);
    CHECK_STR(o2.out, "1234\n50\n");
    run_free(&o2);
    proto_exec_free(ex);
    stop_agent(c);
}

TEST(copy_into_the_container)
{
    struct proto_client *c = container();
    REQUIRE(c);
    char src[512];
    snprintf(src, sizeof src, "%s/payload", harness_tmpdir());
    FILE *f = fopen(src, "w");
    REQUIRE(f);
    fputs("inside\n", f);
    fclose(f);
    struct bl_error e = {0};
    CHECK_EQ(proto_copy_in(c, src, "/data/payload.txt", &e), 0);
    struct run_out o;
    run(c, ARGV("cat", "/data/payload.txt"), NULL, &o);
    CHECK_STR(o.out, "inside\n");
    run_free(&o);
    /* it landed in the rootfs, not in the host's /data */
    char p[1024];
    snprintf(p, sizeof p, "%s/data/payload.txt", rootfs);
    CHECK_EQ(access(p, F_OK), 0);
    char back[512];
    snprintf(back, sizeof back, "%s/back.txt", harness_tmpdir());
    /* copy out reads the container's file, not the host's: the rootfs's passwd has alice */
    CHECK_EQ(proto_copy_out(c, "/etc/passwd", back, &e), 0);
    f = fopen(back, "r");
    char text[512] = "";
    if (f) {
        text[fread(text, 1, sizeof text - 1, f)] = 0;
        fclose(f);
    }
    CHECK_STR(text, "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    /* and a file only the container has */
    snprintf(back, sizeof back, "%s/marker.txt", harness_tmpdir());
    CHECK_EQ(proto_copy_out(c, "/etc/hostfile-marker", back, &e), 0);
    f = fopen(back, "r");
    text[0] = 0;
    if (f) {
        text[fread(text, 1, sizeof text - 1, f)] = 0;
        fclose(f);
    }
    CHECK_STR(text, "image\n");
    stop_agent(c);
}

TEST(bad_rootfs_is_an_error)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct proto_setup s = {.root_dir = "/no/such/rootfs"};
    struct bl_error e = {0};
    CHECK(proto_setup(c, &s, 5000, &e) < 0);
    CHECK(strstr(e.msg, "/no/such/rootfs") != NULL);
    /* still serving, outside any container */
    struct run_out o;
    run(c, ARGV("echo", "ok"), NULL, &o);
    CHECK_STR(o.out, "ok\n");
    run_free(&o);
    stop_agent(c);
}
