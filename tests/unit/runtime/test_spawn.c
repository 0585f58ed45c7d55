// SPDX-License-Identifier: Apache-2.0
/* Spawning the per-box process, driven by a small bash stand-in for boxlite-vmm whose
 * behaviour the config file selects. Ready is what it is for the real one: the library's
 * HELLO, on the connection made at spawn (--client-fd), answered with a HELLO (version 1,
 * CONTROL 1: the bytes below, docs/protocol.md). */
#include "harness/harness.h"
#include "runtime/runtime.h"
#include "runtime/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *script =
    "#!/bin/bash\n"
    "cfg=$2; fd=; cfd=$4\n"
    "[ \"$3\" = --lifeline-fd ] && { fd=$4; cfd=$6; }\n"
    "hello() { printf '\\x18\\0\\0\\0\\x01\\0\\0\\0\\0\\0\\0\\0"
    "\\x01\\0\\x08\\0\\x01\\0\\0\\0\\0\\0\\0\\0\\x07\\0\\x08\\0\\x01\\0\\0\\0\\0\\0\\0\\0' >&$cfd; }\n"
    "case \"$(cat $cfg)\" in\n"
    "ready) echo booted >> $cfg.console; hello ;;\n"
    "fail) printf 'line1\\nKernel panic: no init\\n' >> $cfg.console; exit 1 ;;\n"
    "lifeline) [ -n \"$fd\" ] || exit 3; while read -r -u $fd x; do :; done; touch $cfg.gone; exit 0 ;;\n"
    "detached) [ -z \"$fd\" ] || exit 4; hello ;;\n"
    /* what the per-box process inherits: environment, descriptors (bash keeps its script
     * at 255; ls runs as a simple command, for the shell holds a pipeline's pipes for a
     * moment while its children run), working directory */
    "inspect) env > $cfg.env; ls /proc/$$/fd > $cfg.fds.raw; grep -v -x 255 $cfg.fds.raw | sort -n | tr '\\n' ' ' > $cfg.fds;"
    " pwd > $cfg.cwd; hello ;;\n"
    "esac\n"
    "sleep 30\n";

static char vmm[512], cfg[512], path[600];

static void setup(const char *mode)
{
    snprintf(vmm, sizeof vmm, "%s/fake-vmm", harness_tmpdir());
    snprintf(cfg, sizeof cfg, "%s/vmm.json", harness_tmpdir());
    FILE *f = fopen(vmm, "w");
    fputs(script, f);
    fclose(f);
    chmod(vmm, 0755);
    f = fopen(cfg, "w");
    fputs(mode, f);
    fclose(f);
}

static const char *p(const char *suffix)
{
    snprintf(path, sizeof path, "%s%s", cfg, suffix);
    return path;
}

static struct proto_client *conn;
static struct proto_exit end;

TEST(hello_means_ready)
{
    setup("ready");
    struct rt_child c;
    struct bl_error err = {0};
    char log[600];
    snprintf(log, sizeof log, "%s.log", cfg);
    REQUIRE(rt_spawn_vmm(vmm, cfg, log, false, &c, &err) == 0);
    CHECK(c.pid > 0 && c.lifeline_fd >= 0 && c.conn_fd >= 0 && c.pidfd >= 0);
    CHECK(rt_process_alive(c.pid, c.pid_start));
    char console[600];
    snprintf(console, sizeof console, "%s.console", cfg);
    CHECK_EQ(rt_wait_ready(&c, console, NULL, 10000, &conn, &end, &err), 0);
    CHECK(conn && proto_client_control(conn));
    CHECK(c.conn_fd == -1 && c.pidfd == -1); /* the connection took them */
    proto_client_close(conn);
    kill(c.pid, SIGKILL);
    close(c.lifeline_fd);
}

TEST(early_exit_reports_console_tail)
{
    setup("fail");
    struct rt_child c;
    struct bl_error err = {0};
    REQUIRE(rt_spawn_vmm(vmm, cfg, p(".log"), false, &c, &err) == 0);
    char console[600];
    snprintf(console, sizeof console, "%s.console", cfg);
    CHECK_EQ(rt_wait_ready(&c, console, NULL, 10000, &conn, &end, &err), -BOXLITE_ERR_ENGINE);
    CHECK(strstr(err.msg, "Kernel panic: no init") != NULL);
    CHECK(strstr(err.msg, "exited before the guest was ready") != NULL);
    close(c.lifeline_fd);
}

TEST(timeout_reports_console_tail)
{
    setup("sleep");
    struct rt_child c;
    struct bl_error err = {0};
    REQUIRE(rt_spawn_vmm(vmm, cfg, p(".log"), false, &c, &err) == 0);
    CHECK_EQ(rt_wait_ready(&c, "/nonexistent/console", NULL, 300, &conn, &end, &err),
             -BOXLITE_ERR_TIMEOUT);
    CHECK(strstr(err.msg, "within 300 ms") != NULL);
    kill(c.pid, SIGKILL);
    close(c.lifeline_fd);
}

/* Closing our end of the lifeline (what happens when this process dies) reaches the box. */
TEST(lifeline_closes_when_creator_goes)
{
    setup("lifeline");
    struct rt_child c;
    struct bl_error err = {0};
    REQUIRE(rt_spawn_vmm(vmm, cfg, p(".log"), false, &c, &err) == 0);
    CHECK(rt_process_alive(c.pid, c.pid_start));
    close(c.lifeline_fd);
    CHECK(rt_process_wait_gone(c.pid, c.pid_start, 5000));
    CHECK(!rt_process_alive(c.pid, c.pid_start));
    rt_child_close(&c);
    CHECK(access(p(".gone"), F_OK) == 0);
}

TEST(detached_has_no_lifeline)
{
    setup("detached");
    struct rt_child c;
    struct bl_error err = {0};
    REQUIRE(rt_spawn_vmm(vmm, cfg, p(".log"), true, &c, &err) == 0);
    CHECK_EQ(c.lifeline_fd, -1);
    CHECK_EQ(rt_wait_ready(&c, "/nonexistent", NULL, 10000, &conn, &end, &err), 0);
    proto_client_close(conn);
    kill(c.pid, SIGKILL);
}

TEST(missing_binary_is_an_engine_error)
{
    setup("ready");
    struct rt_child c;
    struct bl_error err = {0};
    REQUIRE(rt_spawn_vmm("/nonexistent/boxlite-vmm", cfg, p(".log"), false, &c, &err) == 0);
    /* exec fails in the child: it dies at once and says why in its log */
    CHECK_EQ(rt_wait_ready(&c, "/nonexistent", p(".log"), 5000, &conn, &end, &err),
             -BOXLITE_ERR_ENGINE);
    /* the error says what the process said, not just "(console is empty)" */
    CHECK(strstr(err.msg, "it said: boxlite: exec /nonexistent/boxlite-vmm: No such file") != NULL);
    char *log = rt_tail_file(p(".log"), 5);
    CHECK(log && strstr(log, "No such file"));
    free(log);
    close(c.lifeline_fd);
}

TEST(tail_keeps_last_lines)
{
    char f[512];
    snprintf(f, sizeof f, "%s/t.txt", harness_tmpdir());
    FILE *fp = fopen(f, "w");
    for (int i = 1; i <= 100; i++)
        fprintf(fp, "line %d\n", i);
    fclose(fp);
    char *t = rt_tail_file(f, 3);
    CHECK_STR(t, "line 98\nline 99\nline 100");
    free(t);
    CHECK(rt_tail_file("/nonexistent", 3) == NULL);
}

TEST(assets_env_override_and_error)
{
    struct rt_assets a;
    struct bl_error err = {0};
    setenv("BOXLITE_VMM", "/nonexistent/vmm", 1);
    CHECK_EQ(rt_find_assets(NULL, &a, &err), -BOXLITE_ERR_ENGINE);
    CHECK(strstr(err.msg, "/nonexistent/vmm") && strstr(err.msg, "BOXLITE_VMM"));
    setenv("BOXLITE_VMM", "/bin/true", 1);
    setenv("BOXLITE_INITRD", "/bin/true", 1);
    setenv("BOXLITE_KERNEL", "/bin/true", 1);
    CHECK_EQ(rt_find_assets(NULL, &a, &err), 0);
    CHECK_STR(a.kernel, "/bin/true");
}

static char *slurp(const char *file)
{
    static char buf[65536];
    FILE *f = fopen(file, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Issue 13: the per-box process gets nothing of its caller's but what it needs. */
TEST(nothing_of_the_caller_is_inherited)
{
    setup("inspect");
    char secret[600];
    snprintf(secret, sizeof secret, "%s/secret", harness_tmpdir());
    FILE *sf = fopen(secret, "w");
    fputs("s3cr3t\n", sf);
    fclose(sf);
    int leak = open(secret, O_RDONLY); /* no O_CLOEXEC: would be inherited by exec */
    REQUIRE(leak >= 0);
    setenv("AWS_SECRET_ACCESS_KEY", "do-not-pass", 1);
    setenv("BOXLITE_QEMU", "/usr/bin/qemu-system-x86_64", 1);
    chdir("/");
    struct rt_child c;
    struct bl_error err = {0};
    REQUIRE(rt_spawn_vmm(vmm, cfg, p(".log"), false, &c, &err) == 0);
    REQUIRE(rt_wait_ready(&c, "/nonexistent", NULL, 10000, &conn, &end, &err) == 0);
    proto_client_close(conn);
    char *env = slurp(p(".env"));
    REQUIRE(env);
    CHECK(!strstr(env, "AWS_SECRET_ACCESS_KEY"));
    CHECK(strstr(env, "BOXLITE_QEMU=/usr/bin/qemu-system-x86_64"));
    CHECK(strstr(env, "BOXLITE_SPAWN_NS="));
    CHECK(strstr(env, "PATH="));
    CHECK_STR(slurp(p(".fds")), "0 1 2 3 4 "); /* stdio, the lifeline, the connection */
    char *cwd = slurp(p(".cwd"));
    REQUIRE(cwd);
    cwd[strcspn(cwd, "\n")] = 0;
    CHECK_STR(cwd, harness_tmpdir());
    kill(c.pid, SIGKILL);
    close(c.lifeline_fd);
    close(leak);
    unsetenv("AWS_SECRET_ACCESS_KEY");
}
