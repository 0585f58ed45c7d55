// SPDX-License-Identifier: Apache-2.0
/* The end of a container, natively: the box's main process (SETUP's MAIN) exiting, or the
 * container's init killed, makes the agent send an EVENT with the reason (seen here
 * through the real per-box mux), refuse new work with that reason, and shut down. The
 * kernel's OOM report and counter are parsed from files shaped like /dev/kmsg and
 * /proc/vmstat. The guest's OOM killer itself is proven by tests/e2e/faults.sh. */
#include "agent_fixture.h"
#include "proto/mux.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/un.h>

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

static char rootfs[512];

struct box {
    int listen_fd, agent_fd;
    char path[256];
    struct proto_mux *mux;
    pthread_mutex_t lock;
    int events;
    struct proto_event ev;
    struct proto_event all[8]; /* the first events, in order */
};

static void on_event(void *opaque, const struct proto_event *ev)
{
    struct box *b = opaque;
    pthread_mutex_lock(&b->lock);
    if (b->events < 8)
        b->all[b->events] = *ev;
    b->events++;
    b->ev = *ev;
    pthread_mutex_unlock(&b->lock);
}

static bool make_rootfs(void)
{
    if (geteuid() != 0)
        harness_need("needs root for namespaces");
    if (access("/bin/busybox", X_OK) < 0)
        harness_need("no /bin/busybox (busybox-static)");
    snprintf(rootfs, sizeof rootfs, "%s/rootfs", harness_tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "set -e; mkdir -p %s/bin %s/etc; cp /bin/busybox %s/bin/; "
             "for a in sh cat echo sleep true wc rm; do ln -sf busybox %s/bin/$a; done; "
             "echo 'root:x:0:0:root:/root:/bin/sh' > %s/etc/passwd; "
             "echo 'root:x:0:' > %s/etc/group",
             rootfs, rootfs, rootfs, rootfs, rootfs, rootfs);
    return system(cmd) == 0;
}

static bool box_start(struct box *b, const struct proto_setup *s)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    snprintf(b->path, sizeof b->path, "%s/box.sock", harness_tmpdir());
    unlink(b->path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", b->path);
    b->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(b->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(b->listen_fd, 16) < 0)
        return false;
    b->agent_fd = start_agent_fd(s);
    fcntl(b->agent_fd, F_SETFL, O_NONBLOCK);
    struct proto_mux_events ev = {.opaque = b, .event = on_event};
    struct bl_error e = {0};
    if (proto_mux_new(b->listen_fd, &ev, &b->mux, &e) < 0)
        return false;
    proto_mux_set_agent_fd(b->mux, b->agent_fd);
    return proto_mux_start(b->mux, &e) == 0;
}

static void box_free(struct box *b)
{
    proto_mux_free(b->mux);
    close(b->agent_fd);
    close(b->listen_fd);
    if (fixture_agent_pid > 0)
        waitpid(fixture_agent_pid, NULL, 0);
    fixture_agent_pid = -1;
}

/* Waits for the agent process to end by itself (it shut down); its exit status. */
static int agent_ends(void)
{
    int status = -1;
    for (int i = 0; i < 1000; i++) {
        if (waitpid(fixture_agent_pid, &status, WNOHANG) == fixture_agent_pid) {
            fixture_agent_pid = -1;
            return status;
        }
        usleep(10000);
    }
    return -1;
}

static int wait_event(struct box *b)
{
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&b->lock);
        int n = b->events;
        pthread_mutex_unlock(&b->lock);
        if (n)
            return n;
        usleep(10000);
    }
    return 0;
}

/* The container's init: the agent's child whose innermost PID is 1. */
static pid_t find_init(pid_t agent)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    pid_t found = -1;
    while (d && (de = readdir(d)) && found < 0) {
        char p[300], line[256];
        snprintf(p, sizeof p, "/proc/%s/status", de->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        int ppid = -1;
        bool inner1 = false;
        while (fgets(line, sizeof line, f)) {
            sscanf(line, "PPid: %d", &ppid);
            if (!strncmp(line, "NSpid:", 6)) {
                char *last = strrchr(line, '\t');
                inner1 = last && atoi(last + 1) == 1 && last != strchr(line, '\t');
            }
        }
        fclose(f);
        if (ppid == agent && inner1)
            found = atoi(de->d_name);
    }
    if (d)
        closedir(d);
    return found;
}

TEST(main_process_exit_stops_the_box_with_its_status)
{
    REQUIRE(make_rootfs());
    struct proto_exec_req main = {.argv = (char **)ARGV("sh", "-c", "echo main-runs >&2; exit 3")};
    struct proto_setup s = {.root_dir = rootfs, .main = &main};
    struct box b;
    REQUIRE(box_start(&b, &s));
    CHECK_EQ(wait_event(&b), 1);
    CHECK_STR(b.ev.kind, PROTO_EVENT_CONTAINER_EXIT);
    CHECK_STR(b.ev.who, "main");
    CHECK_EQ(b.ev.exit_code, 3);
    CHECK_EQ(b.ev.signo, 0);
    CHECK(!b.ev.oom);
    CHECK_STR(b.ev.message, "main process exited with status 3");
    /* the agent shut down by itself (agent_run returned, the fixture exited 0) */
    int status = agent_ends();
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* a client arriving now is told why, not a failed fork */
    struct proto_client *c = NULL;
    struct bl_error e = {0};
    if (proto_client_connect(b.path, 2000, &c, &e) == 0) {
        struct proto_exec_req req = {.argv = (char **)ARGV("true")};
        struct proto_exec *ex = NULL;
        if (proto_exec_start(c, &req, &ex, &e) == 0) {
            CHECK(proto_exec_wait(ex, 5000, NULL, &e) < 0);
            proto_exec_free(ex);
        }
        CHECK(strstr(e.msg, "main process exited with status 3") != NULL);
        proto_client_close(c);
    }
    box_free(&b);
}

TEST(a_main_process_that_cannot_start_fails_the_setup)
{
    REQUIRE(make_rootfs());
    struct proto_setup s = {.root_dir = rootfs};
    struct box b;
    REQUIRE(box_start(&b, &s));
    struct proto_client *c = NULL;
    struct bl_error e = {0};
    REQUIRE(proto_client_connect(b.path, 5000, &c, &e) == 0);
    struct proto_exec_req main = {.argv = (char **)ARGV("/no/such/program")};
    struct proto_setup again = {.root_dir = rootfs, .main = &main};
    CHECK(proto_setup(c, &again, 5000, &e) < 0);
    CHECK(strstr(e.msg, "/no/such/program") != NULL);
    /* the box is still usable and no event was sent */
    struct run_out o;
    run(c, ARGV("echo", "alive"), NULL, &o);
    CHECK_STR(o.out, "alive\n");
    run_free(&o);
    CHECK_EQ(b.events, 0);
    /* a good main process starts once; a repeated SETUP leaves it alone */
    struct proto_exec_req sleeper = {.argv = (char **)ARGV("sleep", "30")};
    again.main = &sleeper;
    CHECK_EQ(proto_setup(c, &again, 5000, &e), 0);
    CHECK_EQ(proto_setup(c, &again, 5000, &e), 0);
    run(c, ARGV("echo", "still"), NULL, &o);
    CHECK_STR(o.out, "still\n");
    run_free(&o);
    CHECK_EQ(b.events, 0);
    proto_client_close(c);
    box_free(&b);
}

TEST(container_init_killed_stops_the_box_and_says_why)
{
    REQUIRE(make_rootfs());
    struct proto_setup s = {.root_dir = rootfs};
    struct box b;
    REQUIRE(box_start(&b, &s));
    struct proto_client *c = NULL;
    struct bl_error e = {0};
    REQUIRE(proto_client_connect(b.path, 5000, &c, &e) == 0);
    struct run_out o;
    run(c, ARGV("echo", "before"), NULL, &o);
    CHECK_STR(o.out, "before\n");
    run_free(&o);
    pid_t init = find_init(fixture_agent_pid);
    REQUIRE(init > 0);
    /* its score: the OOM killer's last choice (needs CAP_SYS_RESOURCE to lower it) */
    char p[64], adj[16] = "";
    snprintf(p, sizeof p, "/proc/%d/oom_score_adj", (int)init);
    FILE *f = fopen(p, "r");
    if (f) {
        if (!fgets(adj, sizeof adj, f))
            adj[0] = 0;
        fclose(f);
    }
    fprintf(stderr, "# container init oom_score_adj: %s", adj);
    kill(init, SIGKILL);
    CHECK_EQ(wait_event(&b), 1);
    CHECK_STR(b.ev.who, "init");
    CHECK_EQ(b.ev.signo, SIGKILL);
    CHECK_STR(b.ev.message, "container init killed by signal 9 (SIGKILL)");
    int status = agent_ends();
    CHECK(WIFEXITED(status));
    proto_client_close(c);
    box_free(&b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(oom_report_and_counter_are_read_from_the_kernel_files)
{
    char log[512], vm[512];
    snprintf(log, sizeof log, "%s/kmsg", harness_tmpdir());
    snprintf(vm, sizeof vm, "%s/vmstat", harness_tmpdir());
    write_file(log, "6,1,100,-;boxlite-agent: started\n"
                    "3,2,200,-;Out of memory: Killed process 123 (sh) total-vm:1000kB, "
                    "anon-rss:900kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:40kB "
                    "oom_score_adj:0\n");
    CHECK_EQ(oom_killed_in_log(log, 123), 1);
    CHECK_EQ(oom_killed_in_log(log, 12), 0);  /* a prefix of the pid is not the pid */
    CHECK_EQ(oom_killed_in_log(log, 1234), 0);
    CHECK_EQ(oom_killed_in_log("/nonexistent/kmsg", 1), -1);
    /* a report beyond the first read's chunk is still found */
    FILE *f = fopen(log, "w");
    REQUIRE(f);
    for (int i = 0; i < 2000; i++)
        fprintf(f, "6,%d,0,-;filler line %d\n", i, i);
    fputs("3,9,9,-;Memory cgroup out of memory: Killed process 4567 (python3) total-vm:1kB\n", f);
    fclose(f);
    CHECK_EQ(oom_killed_in_log(log, 4567), 1);
    write_file(vm, "nr_free_pages 1000\noom_kill 7\nnr_zone_active_anon 3\n");
    CHECK_EQ(oom_kill_count(vm), 7);
    write_file(vm, "nr_free_pages 1000\n");
    CHECK_EQ(oom_kill_count(vm), -1);
}

/* A process of the container that ignores SIGTERM is still running when the box stops:
 * killed then, it is a zombie child of the agent that the namespace's init waits for;
 * the agent must reap it while it waits for the init (before, both waited forever). */
TEST_TIMEOUT(stop_with_a_process_that_ignores_sigterm, 30)
{
    REQUIRE(make_rootfs());
    struct proto_setup s = {.root_dir = rootfs};
    struct box b;
    REQUIRE(box_start(&b, &s));
    struct proto_client *c = NULL;
    struct bl_error e = {0};
    REQUIRE(proto_client_connect(b.path, 5000, &c, &e) == 0);
    struct proto_exec_req req = {
        .argv = (char **)ARGV("sh", "-c", "trap '' TERM; echo armed; while :; do sleep 1; done")};
    struct proto_exec *ex = NULL;
    REQUIRE(proto_exec_start(c, &req, &ex, &e) == 0);
    char buf[16];
    struct pollfd p = {.fd = proto_exec_stdout_fd(ex), .events = POLLIN};
    REQUIRE(poll(&p, 1, 10000) == 1 && read(p.fd, buf, sizeof buf) > 0);
    CHECK_EQ(proto_mux_shutdown_agent(b.mux, &e), 0);
    int status = agent_ends();
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    proto_exec_free(ex);
    proto_client_close(c);
    box_free(&b);
}

/* The number of lines in a file of the rootfs (what the main process's runs wrote). */
static int lines_in(const char *name)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", rootfs, name);
    FILE *f = fopen(p, "r");
    int n = 0, ch;
    while (f && (ch = fgetc(f)) != EOF)
        n += ch == '\n';
    if (f)
        fclose(f);
    return n;
}

/* Docker's on-failure:N, applied by the agent: the main process runs again in the same
 * container (each restart said with an EVENT main-restart and its count), then the box
 * ends with the last run's status. */
TEST(on_failure_restarts_the_main_process_n_times_then_the_box_ends)
{
    REQUIRE(make_rootfs());
    char runs[700];
    snprintf(runs, sizeof runs, "%s/runs", rootfs);
    unlink(runs);
    struct proto_exec_req main = {.argv = (char **)ARGV("sh", "-c", "echo run >> /runs; exit 4")};
    struct proto_setup s = {.root_dir = rootfs, .main = &main,
                            .restart = PROTO_RESTART_ON_FAILURE, .restart_max = 2};
    struct box b;
    REQUIRE(box_start(&b, &s));
    int status = agent_ends(); /* 100 ms, then 200 ms of back-off */
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(lines_in("runs"), 3);
    REQUIRE(wait_event(&b) >= 1);
    for (int i = 0; i < 200 && b.events < 3; i++)
        usleep(10000); /* the mux hands the last event over on its own thread */
    pthread_mutex_lock(&b.lock);
    CHECK_EQ(b.events, 3);
    CHECK_STR(b.all[0].kind, PROTO_EVENT_MAIN_RESTART);
    CHECK_EQ(b.all[0].restarts, 1);
    CHECK_EQ(b.all[0].exit_code, 4);
    CHECK(strstr(b.all[0].message, "main process exited with status 4: restart 1 in 100 ms") != NULL);
    CHECK_STR(b.all[1].kind, PROTO_EVENT_MAIN_RESTART);
    CHECK_EQ(b.all[1].restarts, 2);
    CHECK(strstr(b.all[1].message, "restart 2 in 200 ms") != NULL);
    CHECK_STR(b.all[2].kind, PROTO_EVENT_CONTAINER_EXIT);
    CHECK_EQ(b.all[2].exit_code, 4);
    pthread_mutex_unlock(&b.lock);
    box_free(&b);
}

TEST(on_failure_leaves_a_successful_end_alone_and_always_does_not)
{
    REQUIRE(make_rootfs());
    char runs[700];
    snprintf(runs, sizeof runs, "%s/runs", rootfs);
    unlink(runs);
    struct proto_exec_req ok = {.argv = (char **)ARGV("sh", "-c", "echo run >> /runs; exit 0")};
    struct proto_setup s = {.root_dir = rootfs, .main = &ok, .restart = PROTO_RESTART_ON_FAILURE};
    struct box b;
    REQUIRE(box_start(&b, &s));
    agent_ends();
    CHECK_EQ(lines_in("runs"), 1);
    CHECK_EQ(wait_event(&b), 1);
    CHECK_STR(b.ev.kind, PROTO_EVENT_CONTAINER_EXIT);
    box_free(&b);
    /* always: a status of 0 runs it again too; the third run stops the game by failing
     * to start (its program is gone), which ends the box as a shell's 127 would */
    unlink(runs);
    struct proto_exec_req again = {.argv = (char **)ARGV(
        "sh", "-c", "echo run >> /runs; [ $(cat /runs | wc -l) -ge 2 ] && rm /bin/sh; exit 0")};
    s.main = &again;
    s.restart = PROTO_RESTART_ALWAYS;
    REQUIRE(box_start(&b, &s));
    agent_ends();
    CHECK_EQ(lines_in("runs"), 2);
    for (int i = 0; i < 200 && b.events < 3; i++)
        usleep(10000);
    pthread_mutex_lock(&b.lock);
    CHECK_EQ(b.events, 3);
    CHECK_STR(b.all[0].kind, PROTO_EVENT_MAIN_RESTART);
    CHECK_STR(b.all[1].kind, PROTO_EVENT_MAIN_RESTART);
    CHECK_STR(b.ev.kind, PROTO_EVENT_CONTAINER_EXIT);
    CHECK_EQ(b.ev.exit_code, 127);
    pthread_mutex_unlock(&b.lock);
    box_free(&b);
    REQUIRE(make_rootfs()); /* /bin/sh back for the next test */
}

/* Docker's -i and attach: with MAIN_STDIN the main process reads a pipe the agent keeps
 * open; an EXEC ATTACH channel's stdin is copied there, and its end leaves the pipe open
 * (a second attach reaches the same process). Without MAIN_STDIN attach is refused. */
TEST(attach_feeds_the_main_process_stdin_and_leaves_it_open)
{
    REQUIRE(make_rootfs());
    struct proto_exec_req main = {.argv = (char **)ARGV(
        "sh", "-c", "read a; read b; echo \"$a:$b\" > /got; exit 6")};
    struct proto_setup s = {.root_dir = rootfs, .main = &main, .main_stdin = true};
    struct box b;
    REQUIRE(box_start(&b, &s));
    struct proto_client *c = NULL;
    struct bl_error e = {0};
    REQUIRE(proto_client_connect(b.path, 5000, &c, &e) == 0);
    for (int round = 0; round < 2; round++) {
        struct proto_exec_req at = {.argv = (char **)ARGV("attach"), .attach = true};
        struct proto_exec *ex = NULL;
        REQUIRE(proto_exec_start(c, &at, &ex, &e) == 0);
        const char *line = round == 0 ? "first\n" : "second\n";
        CHECK_EQ(proto_exec_write_stdin(ex, line, strlen(line), &e), 0);
        CHECK_EQ(proto_exec_close_stdin(ex, &e), 0);
        struct run_out o;
        memset(&o, 0, sizeof o);
        o.out = calloc(1, 1);
        o.err = calloc(1, 1);
        collect(ex, &o);
        /* the copier ended at our end of file; after the second line the main process may
         * end the box first, and the channel ends with that reason instead */
        if (round == 0)
            CHECK_EQ(o.rc, 0);
        CHECK_STR(o.out, "");
        run_free(&o);
        proto_exec_free(ex);
    }
    /* the main process read both lines (two attaches, one stdin) and ended */
    REQUIRE(wait_event(&b) >= 1);
    CHECK_STR(b.ev.kind, PROTO_EVENT_CONTAINER_EXIT);
    CHECK_EQ(b.ev.exit_code, 6);
    char got[700];
    snprintf(got, sizeof got, "%s/got", rootfs);
    FILE *f = fopen(got, "r");
    char line[64] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        fclose(f);
    }
    CHECK_STR(line, "first:second\n");
    proto_client_close(c);
    agent_ends();
    box_free(&b);
    /* a box whose main process has no open stdin refuses attach with the reason */
    struct proto_exec_req sleeper = {.argv = (char **)ARGV("sleep", "30")};
    struct proto_setup s2 = {.root_dir = rootfs, .main = &sleeper};
    REQUIRE(box_start(&b, &s2));
    REQUIRE(proto_client_connect(b.path, 5000, &c, &e) == 0);
    struct proto_exec_req at = {.argv = (char **)ARGV("attach"), .attach = true};
    struct proto_exec *ex = NULL;
    if (proto_exec_start(c, &at, &ex, &e) == 0) {
        CHECK(proto_exec_wait(ex, 5000, NULL, &e) < 0);
        proto_exec_free(ex);
    }
    CHECK(strstr(e.msg, "no open stdin") != NULL);
    proto_client_close(c);
    box_free(&b);
}
