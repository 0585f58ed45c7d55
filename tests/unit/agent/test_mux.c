// SPDX-License-Identifier: Apache-2.0
/* The per-box mux between several host clients and one agent stream. */
#include "agent_fixture.h"
#include "proto/mux.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/un.h>

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

struct box {
    int listen_fd, agent_fd;
    char path[256];
    struct proto_mux *mux;
    int ready_calls;
    int pause_code, pause_calls; /* what the owner's pause answers (0: saved) */
    atomic_int exec_done_calls;
};

static void on_ready(void *opaque, uint64_t boot_ms, bool cready)
{
    ((struct box *)opaque)->ready_calls++;
}

static void on_exec_done(void *opaque)
{
    ((struct box *)opaque)->exec_done_calls++;
}

static int on_pause(void *opaque, char *why, size_t why_len)
{
    struct box *b = opaque;
    b->pause_calls++;
    snprintf(why, why_len, "pause: the test says no");
    return b->pause_code;
}

static bool box_start(struct box *b)
{
    memset(b, 0, sizeof *b);
    snprintf(b->path, sizeof b->path, "%s/box.sock", harness_tmpdir());
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", b->path);
    b->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(b->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(b->listen_fd, 16) < 0)
        return false;
    b->agent_fd = start_agent_fd(NULL);
    fcntl(b->agent_fd, F_SETFL, O_NONBLOCK);
    struct proto_mux_events ev = {.opaque = b, .ready = on_ready, .pause = on_pause,
                                  .exec_done = on_exec_done};
    struct bl_error e = {0};
    if (proto_mux_new(b->listen_fd, &ev, &b->mux, &e) < 0)
        return false;
    proto_mux_set_agent_fd(b->mux, b->agent_fd);
    return proto_mux_start(b->mux, &e) == 0;
}

static void box_stop(struct box *b)
{
    proto_mux_free(b->mux);
    close(b->agent_fd);
    close(b->listen_fd);
    waitpid(fixture_agent_pid, NULL, 0);
}

static struct proto_client *client(struct box *b)
{
    struct proto_client *c = NULL;
    struct bl_error e = {0};
    if (proto_client_connect(b->path, 10000, &c, &e) < 0)
        harness_fail(__FILE__, __LINE__, "connect: %s", e.msg);
    return c;
}

struct worker {
    struct box *b;
    int idx, ok;
};

static void *worker(void *arg)
{
    struct worker *w = arg;
    struct proto_client *c = client(w->b);
    if (!c)
        return NULL;
    for (int i = 0; i < 5; i++) {
        char script[64];
        snprintf(script, sizeof script, "head -c 300000 /dev/zero; exit %d", w->idx);
        struct run_out o;
        run(c, ARGV("sh", "-c", script), NULL, &o);
        if (o.rc == 0 && o.res.exit_code == w->idx && o.out_len == 300000)
            w->ok++;
        run_free(&o);
    }
    proto_client_close(c);
    return NULL;
}

TEST(many_clients_share_one_agent)
{
    struct box b;
    REQUIRE(box_start(&b));
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.b = &b, .idx = i + 1};
        pthread_create(&t[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(w[i].ok, 5);
    }
    CHECK(proto_mux_ready(b.mux));
    CHECK_EQ(b.ready_calls, 1);
    /* each command's end told once (the event follows the RESULT its client may have
     * read already) */
    for (int i = 0; i < 500 && b.exec_done_calls < 20; i++)
        usleep(10000);
    CHECK_EQ(b.exec_done_calls, 20);
    box_stop(&b);
}

TEST(abandoned_client_channels_are_closed)
{
    struct box b;
    REQUIRE(box_start(&b));
    char marker[512], script[1024];
    snprintf(marker, sizeof marker, "%s/survived", harness_tmpdir());
    snprintf(script, sizeof script, "sleep 1; touch %s", marker);
    struct proto_client *c1 = client(&b);
    REQUIRE(c1);
    struct proto_exec_req req = {.argv = (char **)ARGV("sh", "-c", script)};
    struct proto_exec *ex;
    struct bl_error e = {0};
    REQUIRE(proto_exec_start(c1, &req, &ex, &e) == 0);
    usleep(100000);
    proto_client_close(c1); /* goes away without waiting */
    sleep(2);
    CHECK(access(marker, F_OK) < 0);
    proto_exec_free(ex); /* the handle outlives its connection and is still the caller's */
    /* the others are unaffected */
    struct proto_client *c2 = client(&b);
    REQUIRE(c2);
    struct run_out o;
    run(c2, ARGV("echo", "fine"), NULL, &o);
    CHECK_STR(o.out, "fine\n");
    run_free(&o);
    proto_client_close(c2);
    box_stop(&b);
}

/* Auto-pause (src/vmm/main.c): a hold refuses PING and requests of every client but the
 * pause's own, which unmounts the volumes under it; a PING answered restarts the idle timer
 * (a library pings before each request: rt_box_conn). */
TEST(a_hold_refuses_ping_and_requests_but_not_the_pausers)
{
    struct box b;
    REQUIRE(box_start(&b));
    struct proto_client *c = client(&b);
    REQUIRE(c);
    struct bl_error e = {0};
    struct run_out o;
    CHECK_EQ(proto_client_ping(c, 10000, &e), 0);
    run(c, ARGV("true"), NULL, &o); /* each PING promises a request: no hold before it */
    run_free(&o);
    bool busy;
    uint64_t before = proto_mux_last_activity(b.mux, &busy);
    usleep(20000);
    CHECK_EQ(proto_client_ping(c, 10000, &e), 0);
    CHECK(proto_mux_last_activity(b.mux, &busy) >= before + 20);
    run(c, ARGV("true"), NULL, &o);
    run_free(&o);
    REQUIRE(proto_mux_hold(b.mux) == 0);
    CHECK_EQ(proto_client_ping(c, 10000, &e), -BOXLITE_ERR_STATE);
    CHECK(strstr(e.msg, "the box is pausing") != NULL);
    run(c, ARGV("echo", "held"), NULL, &o);
    CHECK(o.rc < 0 && strstr(o.msg, "the box is pausing"));
    CHECK_EQ(o.out_len, 0);
    run_free(&o);
    struct proto_client *p = NULL;
    REQUIRE(proto_mux_dial_pauser(b.mux, 10000, &p, &e) == 0);
    run(p, ARGV("echo", "pauser"), NULL, &o);
    CHECK_STR(o.out, "pauser\n");
    run_free(&o);
    proto_client_close(p);
    proto_mux_release(b.mux);
    memset(&e, 0, sizeof e);
    CHECK_EQ(proto_client_ping(c, 10000, &e), 0);
    run(c, ARGV("echo", "fine"), NULL, &o);
    CHECK_STR(o.out, "fine\n");
    run_free(&o);
    proto_client_close(c);
    box_stop(&b);
}

/* The library's explicit pause (src/runtime/pause.c): HOLD makes the mux hold every other
 * connection's requests back (as auto-pause's hold does) while the holder's own pass, its
 * VOLUMES and PAUSE; released by HOLD 0. */
static bool held_back(struct proto_client *c)
{
    struct bl_error e = {0};
    struct run_out o;
    bool ping = proto_client_ping(c, 10000, &e) == -BOXLITE_ERR_STATE &&
                strstr(e.msg, "the box is pausing");
    run(c, ARGV("echo", "held"), NULL, &o);
    bool req = o.rc < 0 && strstr(o.msg, "the box is pausing") && o.out_len == 0;
    run_free(&o);
    return ping && req;
}

static bool runs(struct proto_client *c, const char *word)
{
    struct bl_error e = {0};
    struct run_out o;
    if (proto_client_ping(c, 10000, &e) < 0)
        return false;
    run(c, ARGV("echo", word), NULL, &o);
    bool ok = o.rc == 0 && o.out_len == strlen(word) + 1 && !memcmp(o.out, word, o.out_len - 1);
    run_free(&o);
    return ok;
}

TEST(a_client_hold_passes_the_holders_requests_only)
{
    struct box b;
    REQUIRE(box_start(&b));
    struct proto_client *c = client(&b), *h = client(&b), *h2 = client(&b);
    REQUIRE(c && h && h2);
    CHECK(proto_client_holds(h));
    struct bl_error e = {0};
    CHECK_EQ(proto_client_hold(h, true, 10000, &e), 0);
    CHECK(held_back(c));
    CHECK(runs(h, "holder"));
    CHECK_EQ(proto_volumes(h, false, 10000, &e), 0); /* no volumes here: RESULT, nothing done */
    /* one hold at a time; the auto-pause's waits too */
    CHECK_EQ(proto_client_hold(h2, true, 10000, &e), -BOXLITE_ERR_STATE);
    CHECK(strstr(e.msg, "the box is pausing") != NULL);
    CHECK(proto_mux_hold(b.mux) != 0);
    proto_mux_release(b.mux); /* the owner's release does not lift a client's hold */
    CHECK(held_back(c));
    memset(&e, 0, sizeof e);
    CHECK_EQ(proto_client_hold(h, false, 10000, &e), 0);
    CHECK(runs(c, "fine"));
    proto_client_close(c);
    proto_client_close(h);
    proto_client_close(h2);
    box_stop(&b);
}

/* A pause that fails leaves the hold with its holder (it mounts the volumes again first). */
TEST(a_failed_pause_keeps_the_hold_until_the_holder_releases_it)
{
    struct box b;
    REQUIRE(box_start(&b));
    b.pause_code = BOXLITE_ERR_ENGINE;
    struct proto_client *c = client(&b), *h = client(&b);
    REQUIRE(c && h);
    struct bl_error e = {0};
    CHECK_EQ(proto_client_hold(h, true, 10000, &e), 0);
    CHECK_EQ(proto_client_pause(h, 10000, &e), -BOXLITE_ERR_ENGINE);
    CHECK(strstr(e.msg, "the test says no") != NULL);
    CHECK_EQ(b.pause_calls, 1);
    CHECK(held_back(c));
    CHECK(runs(h, "remount"));
    CHECK_EQ(proto_client_hold(h, false, 10000, &e), 0);
    CHECK(runs(c, "fine"));
    /* a pause without HOLD (an older library) still holds only while it runs */
    CHECK_EQ(proto_client_pause(c, 10000, &e), -BOXLITE_ERR_ENGINE);
    CHECK(runs(c, "after"));
    proto_client_close(c);
    proto_client_close(h);
    box_stop(&b);
}

/* A holder that dies (a killed `boxlite pause`) never leaves a box that refuses everything:
 * the mux mounts the volumes again (the holder sent VOLUMES) and then lifts the hold. */
TEST(a_holder_that_dies_releases_the_hold)
{
    struct box b;
    REQUIRE(box_start(&b));
    struct proto_client *c = client(&b);
    REQUIRE(c);
    for (int vols = 0; vols < 2; vols++) {
        struct proto_client *h = client(&b);
        REQUIRE(h);
        struct bl_error e = {0};
        CHECK_EQ(proto_client_hold(h, true, 10000, &e), 0);
        if (vols)
            CHECK_EQ(proto_volumes(h, false, 10000, &e), 0);
        CHECK(held_back(c));
        proto_client_close(h);
        bool free = false;
        for (int i = 0; i < 250 && !free; i++)
            if (!(free = runs(c, "fine")))
                usleep(20000);
        CHECK(free);
    }
    proto_client_close(c);
    box_stop(&b);
}

/* A PING answered promises a request (rt_box_conn sends it next): a hold may not come
 * between them, else the request that was first is refused. */
TEST(a_hold_does_not_overtake_a_request_a_ping_promised)
{
    struct box b;
    REQUIRE(box_start(&b));
    struct proto_client *c = client(&b), *h = client(&b);
    REQUIRE(c && h);
    struct bl_error e = {0};
    CHECK_EQ(proto_client_ping(c, 10000, &e), 0);
    CHECK_EQ(proto_client_hold(h, true, 10000, &e), -BOXLITE_ERR_STATE);
    CHECK(strstr(e.msg, "still open") != NULL);
    CHECK(proto_mux_hold(b.mux) != 0);
    struct run_out o;
    run(c, ARGV("echo", "first"), NULL, &o);
    CHECK_STR(o.out, "first\n");
    run_free(&o);
    memset(&e, 0, sizeof e);
    CHECK_EQ(proto_client_hold(h, true, 10000, &e), 0);
    CHECK(held_back(c));
    CHECK_EQ(proto_client_hold(h, false, 10000, &e), 0);
    proto_client_close(c);
    proto_client_close(h);
    box_stop(&b);
}

TEST(garbage_client_is_dropped_alone)
{
    struct box b;
    REQUIRE(box_start(&b));
    struct proto_client *good = client(&b);
    REQUIRE(good);
    int bad = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", b.path);
    REQUIRE(connect(bad, (struct sockaddr *)&sa, sizeof sa) == 0);
    uint8_t junk[64];
    memset(junk, 0xff, sizeof junk);
    CHECK_EQ(write(bad, junk, sizeof junk), (ssize_t)sizeof junk);
    char buf[4096];
    ssize_t n, total = 0;
    while ((n = read(bad, buf, sizeof buf)) > 0)
        total += n; /* an ERROR frame, then end of file */
    CHECK(total >= PROTO_HDR_SIZE);
    CHECK_EQ(buf[4], PROTO_ERROR);
    close(bad);
    struct run_out o;
    run(good, ARGV("echo", "still"), NULL, &o);
    CHECK_STR(o.out, "still\n");
    run_free(&o);
    proto_client_close(good);
    box_stop(&b);
}

TEST(shutdown_through_the_mux)
{
    struct box b;
    REQUIRE(box_start(&b));
    struct proto_client *c = client(&b);
    REQUIRE(c);
    struct bl_error e = {0};
    CHECK_EQ(proto_mux_shutdown_agent(b.mux, &e), 0);
    for (int i = 0; i < 100 && !proto_mux_shutdown_acked(b.mux); i++)
        usleep(20000);
    CHECK(proto_mux_shutdown_acked(b.mux));
    int status;
    CHECK_EQ(waitpid(fixture_agent_pid, &status, 0), fixture_agent_pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the client learns the box went away */
    struct proto_exec_req req = {.argv = (char **)ARGV("true")};
    struct proto_exec *ex;
    int rc = proto_exec_start(c, &req, &ex, &e);
    if (rc == 0) {
        CHECK(proto_exec_wait(ex, 5000, NULL, &e) < 0);
        proto_exec_free(ex);
    }
    proto_client_close(c);
    proto_mux_free(b.mux);
    close(b.agent_fd);
    close(b.listen_fd);
}
