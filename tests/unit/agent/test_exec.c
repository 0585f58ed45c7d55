// SPDX-License-Identifier: Apache-2.0
/* The execution service over a socketpair, through the real host client. */
#include "agent_fixture.h"

#include <fcntl.h>
#include <time.h>

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

TEST(hello_world)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct run_out o;
    run(c, ARGV("echo", "hello", "world"), NULL, &o);
    CHECK_EQ(o.rc, 0);
    CHECK_STR(o.out, "hello world\n");
    CHECK_STR(o.err, "");
    CHECK_EQ(o.res.exit_code, 0);
    CHECK_EQ(o.res.signo, 0);
    CHECK(!o.res.timed_out);
    CHECK(o.res.duration_us > 0);
    run_free(&o);
    CHECK_EQ(stop_agent(c), 0);
}

TEST(exit_code_and_stderr)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct run_out o;
    run(c, ARGV("sh", "-c", "echo out; echo err >&2; exit 7"), NULL, &o);
    CHECK_EQ(o.rc, 0);
    CHECK_EQ(o.res.exit_code, 7);
    CHECK_STR(o.out, "out\n");
    CHECK_STR(o.err, "err\n");
    run_free(&o);
    stop_agent(c);
}

TEST(killed_by_signal)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct run_out o;
    run(c, ARGV("sh", "-c", "kill -TERM $$"), NULL, &o);
    CHECK_EQ(o.rc, 0);
    CHECK_EQ(o.res.signo, SIGTERM);
    run_free(&o);
    /* and a signal sent by the host */
    struct proto_exec_req req = {.argv = (char **)ARGV("sleep", "100")};
    struct proto_exec *ex;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c, &req, &ex, &e) == 0);
    CHECK_EQ(proto_exec_wait(ex, 200, NULL, &e), -BOXLITE_ERR_TIMEOUT);
    CHECK_EQ(proto_exec_signal(ex, SIGKILL, &e), 0);
    struct proto_result r;
    CHECK_EQ(proto_exec_wait(ex, -1, &r, &e), 0);
    CHECK_EQ(r.signo, SIGKILL);
    proto_exec_free(ex);
    stop_agent(c);
}

TEST(stdin_echo)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct run_out o;
    run(c, ARGV("cat"), "line one\nline two\n", &o);
    CHECK_EQ(o.rc, 0);
    CHECK_STR(o.out, "line one\nline two\n");
    run_free(&o);
    /* more stdin than one window: credit must come back */
    size_t big = 3 * PROTO_WINDOW + 123;
    char *in = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        in[i] = (char)('a' + i % 26);
    in[big] = 0;
    run(c, ARGV("sh", "-c", "wc -c"), in, &o);
    CHECK_EQ(atol(o.out), (long)big);
    run_free(&o);
    free(in);
    stop_agent(c);
}

TEST(ten_mib_output)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct run_out o;
    run(c, ARGV("head", "-c", "10485760", "/dev/urandom"), NULL, &o);
    CHECK_EQ(o.rc, 0);
    CHECK_EQ(o.out_len, 10485760);
    CHECK_EQ(o.res.exit_code, 0);
    run_free(&o);
    /* output written just before exit is not lost, on both streams */
    run(c, ARGV("sh", "-c", "head -c 700000 /dev/zero; head -c 300001 /dev/zero >&2; exit 3"), NULL, &o);
    CHECK_EQ(o.out_len, 700000);
    CHECK_EQ(o.err_len, 300001);
    CHECK_EQ(o.res.exit_code, 3);
    run_free(&o);
    stop_agent(c);
}

TEST(slow_reader_does_not_stall_others)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    /* an execution whose output nobody reads fills its window and stops ... */
    struct proto_exec_req req = {.argv = (char **)ARGV("head", "-c", "50000000", "/dev/zero")};
    struct proto_exec *hog;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c, &req, &hog, &e) == 0);
    usleep(200000);
    /* ... while another runs to completion */
    struct run_out o;
    run(c, ARGV("echo", "still here"), NULL, &o);
    CHECK_STR(o.out, "still here\n");
    run_free(&o);
    CHECK_EQ(proto_exec_wait(hog, 0, NULL, &e), -BOXLITE_ERR_TIMEOUT);
    proto_exec_free(hog); /* abandons it: the agent kills it */
    run(c, ARGV("true"), NULL, &o);
    CHECK_EQ(o.rc, 0);
    run_free(&o);
    stop_agent(c);
}

TEST(pty_with_resize)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct proto_exec_req req = {.argv = (char **)ARGV("sh", "-c", "stty size; read x; stty size; tty"),
                                 .tty = true, .rows = 24, .cols = 80};
    struct proto_exec *ex;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c, &req, &ex, &e) == 0);
    /* wait for the first size before resizing */
    char buf[4096] = "";
    size_t len = 0;
    int fd = proto_exec_stdout_fd(ex);
    while (!strstr(buf, "24 80") && len < sizeof buf - 1) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        poll(&pf, 1, 5000);
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        if (r <= 0 && errno != EAGAIN)
            break;
        if (r > 0)
            len += (size_t)r;
        buf[len] = 0;
    }
    CHECK(strstr(buf, "24 80") != NULL);
    CHECK_EQ(proto_exec_resize(ex, 40, 100, &e), 0);
    usleep(50000);
    CHECK_EQ(proto_exec_write_stdin(ex, "go\n", 3, &e), 0);
    struct run_out o = {.out = calloc(1, 1), .err = calloc(1, 1)};
    collect(ex, &o);
    CHECK_EQ(o.rc, 0);
    CHECK(strstr(o.out, "40 100") != NULL);
    CHECK(strstr(o.out, "/dev/pts/") != NULL);
    CHECK_EQ(o.err_len, 0);
    CHECK_EQ(o.res.exit_code, 0);
    run_free(&o);
    proto_exec_free(ex);
    stop_agent(c);
}

TEST(timeout_kills_process_group)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    char marker[512];
    snprintf(marker, sizeof marker, "%s/child-alive", harness_tmpdir());
    char script[1024];
    /* a grandchild in the same group must die too */
    snprintf(script, sizeof script, "(sleep 1; touch %s) & sleep 100", marker);
    struct proto_exec_req req = {.argv = (char **)ARGV("sh", "-c", script), .timeout_ms = 300};
    struct proto_exec *ex;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c, &req, &ex, &e) == 0);
    struct run_out o = {.out = calloc(1, 1), .err = calloc(1, 1)};
    collect(ex, &o);
    CHECK_EQ(o.rc, 0);
    CHECK(o.res.timed_out);
    CHECK_EQ(o.res.signo, SIGKILL);
    run_free(&o);
    proto_exec_free(ex);
    sleep(2);
    CHECK(access(marker, F_OK) < 0);
    stop_agent(c);
}

TEST(twenty_concurrent)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct proto_exec *ex[20];
    struct bl_error e = {0};
    for (int i = 0; i < 20; i++) {
        char script[128];
        snprintf(script, sizeof script, "head -c %d /dev/zero | tr '\\0' x; echo; exit %d",
                 100000 + i, i);
        struct proto_exec_req req = {.argv = (char **)ARGV("sh", "-c", script)};
        REQUIRE(proto_exec_start(c, &req, &ex[i], &e) == 0);
    }
    for (int i = 0; i < 20; i++) {
        struct run_out o = {.out = calloc(1, 1), .err = calloc(1, 1)};
        collect(ex[i], &o);
        CHECK_EQ(o.rc, 0);
        CHECK_EQ(o.res.exit_code, i);
        CHECK_EQ(o.out_len, (size_t)(100000 + i + 1));
        run_free(&o);
        proto_exec_free(ex[i]);
    }
    stop_agent(c);
}

TEST(bad_requests_get_errors_and_the_agent_goes_on)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct run_out o;
    run(c, ARGV("/no/such/program"), NULL, &o);
    CHECK(o.rc < 0);
    CHECK(strstr(o.msg, "No such file") != NULL);
    run_free(&o);
    struct proto_exec_req req = {.argv = (char **)ARGV("true"), .cwd = "/no/such/dir"};
    struct proto_exec *ex;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c, &req, &ex, &e) == 0);
    CHECK(proto_exec_wait(ex, -1, NULL, &e) < 0);
    CHECK(strstr(e.msg, "working directory") != NULL);
    proto_exec_free(ex);
    struct proto_exec_req req2 = {.argv = (char **)ARGV("true"), .user = "nosuchuser"};
    REQUIRE(proto_exec_start(c, &req2, &ex, &e) == 0);
    CHECK(proto_exec_wait(ex, -1, NULL, &e) < 0);
    CHECK(strstr(e.msg, "nosuchuser") != NULL);
    proto_exec_free(ex);
    run(c, ARGV("echo", "ok"), NULL, &o);
    CHECK_STR(o.out, "ok\n");
    run_free(&o);
    stop_agent(c);
}

TEST(background_holder_does_not_block_result)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct run_out o;
    run(c, ARGV("sh", "-c", "sleep 30 & echo started"), NULL, &o);
    CHECK_EQ(o.rc, 0);
    CHECK_STR(o.out, "started\n");
    CHECK_EQ(o.res.exit_code, 0);
    run_free(&o);
    stop_agent(c);
}

TEST(copy_round_trip)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    char src[512], in[512], back[512], cmd[2048];
    snprintf(src, sizeof src, "%s/src", harness_tmpdir());
    snprintf(in, sizeof in, "%s/in-box", harness_tmpdir());
    snprintf(back, sizeof back, "%s/back", harness_tmpdir());
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/d/e && echo hi > %s/a && head -c 3000000 /dev/urandom > %s/d/big && "
             "ln -s a %s/l && chmod 600 %s/a", src, src, src, src, src);
    REQUIRE(system(cmd) == 0);
    struct bl_error e = {0};
    CHECK_EQ(proto_copy_in(c, src, in, &e), 0);
    CHECK_EQ(proto_copy_out(c, in, back, &e), 0);
    snprintf(cmd, sizeof cmd, "diff -r --no-dereference %s %s && diff -r --no-dereference %s %s",
             src, in, src, back);
    CHECK_EQ(system(cmd), 0);
    /* errors come back with the agent's reason */
    CHECK(proto_copy_out(c, "/no/such/path", back, &e) < 0);
    CHECK(strstr(e.msg, "/no/such/path") != NULL);
    stop_agent(c);
}

TEST(shutdown_request)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct proto_exec_req req = {.argv = (char **)ARGV("sleep", "100")};
    struct proto_exec *ex;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c, &req, &ex, &e) == 0);
    CHECK_EQ(proto_shutdown(c, 5000, &e), 0);
    proto_exec_free(ex);
    int status = stop_agent(c);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(agent_lost_ends_executions_with_an_error)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    struct proto_exec_req req = {.argv = (char **)ARGV("sleep", "100")};
    struct proto_exec *ex;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c, &req, &ex, &e) == 0);
    usleep(100000);
    kill(fixture_agent_pid, SIGKILL);
    CHECK(proto_exec_wait(ex, 10000, NULL, &e) < 0);
    CHECK(strstr(e.msg, "connection to the agent lost") != NULL);
    /* both outputs end */
    char b[16];
    CHECK_EQ(read(proto_exec_stdout_fd(ex), b, sizeof b), 0);
    CHECK_EQ(read(proto_exec_stderr_fd(ex), b, sizeof b), 0);
    /* and new requests fail at once */
    struct proto_exec *ex2 = NULL;
    CHECK(proto_exec_start(c, &req, &ex2, &e) < 0);
    proto_exec_free(ex);
    stop_agent(c);
}

TEST(pty_output_complete_and_stdin_close_is_eof)
{
    struct proto_client *c = start_agent(NULL);
    REQUIRE(c);
    /* everything a terminal process wrote before exiting arrives */
    struct proto_exec_req req = {.argv = (char **)ARGV("head", "-c", "300000", "/dev/zero"), .tty = true};
    struct proto_exec *ex;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c, &req, &ex, &e) == 0);
    struct run_out o = {.out = calloc(1, 1), .err = calloc(1, 1)};
    collect(ex, &o);
    CHECK_EQ(o.out_len, 300000);
    CHECK_EQ(o.res.exit_code, 0);
    run_free(&o);
    proto_exec_free(ex);
    /* closing stdin of a terminal ends the reader's input */
    struct proto_exec_req req2 = {.argv = (char **)ARGV("sh", "-c", "stty -echo; wc -c"), .tty = true};
    REQUIRE(proto_exec_start(c, &req2, &ex, &e) == 0);
    usleep(200000); /* let stty run before the input arrives */
    CHECK_EQ(proto_exec_write_stdin(ex, "12345\n", 6, &e), 0);
    CHECK_EQ(proto_exec_close_stdin(ex, &e), 0);
    struct run_out o2 = {.out = calloc(1, 1), .err = calloc(1, 1)};
    collect(ex, &o2);
    CHECK_EQ(o2.rc, 0);
    CHECK_EQ(o2.res.exit_code, 0);
    CHECK(strstr(o2.out, "6") != NULL);
    run_free(&o2);
    proto_exec_free(ex);
    stop_agent(c);
}
