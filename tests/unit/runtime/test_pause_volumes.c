// SPDX-License-Identifier: Apache-2.0
/* Whether the library has the agent unmount a box's volumes around a pause, and mount them
 * after the resume, goes by what the per-box process says of its engine (STATUS,
 * PAUSE_SHARES: docs/protocol.md "Pause") and by the pause's record after it, never by
 * the engine's name (src/runtime/pause.c).
 *
 * The library's real pause (boxlite_box_pause) runs against a stand-in per-box process: a
 * child serving the box socket with the real mux (src/proto/mux.c, as src/vmm/main.c does)
 * whose STATUS says what the test wants and whose PAUSE writes the state file and ends as
 * the real one does (EXIT, exit.json). Behind the mux, the agent's end of the stream
 * answers HELLO and VOLUMES and writes down every VOLUMES it gets: that list is the
 * check. No VM is needed: the engine's own pause is tested in tests/unit/vmm and the
 * e2e/lab pause scripts. */
#include "boxlite.h"
#include "common/boxpath.h"
#include "harness/harness.h"
#include "proto/control_json.h"
#include "proto/mux.h"
#include "runtime/boxfiles.h"
#include "runtime/runtime.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the stand-in per-box process (a child) -------------------------------------------- */

struct stand_in {
    enum proto_pause_shares says; /* STATUS's PAUSE_SHARES (UNSAID: left out, an old one) */
    char dir[4200];               /* the box's folder */
    char log[4300];               /* every VOLUMES the agent got: "U" unmount, "M" mount */
    int paused[2];                /* a byte once PAUSE saved */
    int ready;                    /* a byte once the box socket is served */
};

static bool read_full(int fd, void *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = read(fd, (char *)p + got, n - got);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

static void send_frame(int fd, uint16_t type, uint32_t channel, const struct tlv_writer *w)
{
    struct proto_hdr h = { .len = w ? (uint32_t)w->len : 0, .type = type, .channel = channel };
    uint8_t hdr[PROTO_HDR_SIZE];
    proto_hdr_encode(hdr, &h);
    if (write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr ||
        (w && w->len && write(fd, w->buf, w->len) != (ssize_t)w->len))
        _exit(20);
}

struct agent_args {
    struct stand_in *s;
    int fd;
};

/* The agent's end: HELLO for the mux's HELLO, RESULT for VOLUMES (logged), nothing else. */
static void *agent_loop(void *arg)
{
    struct agent_args *a = arg;
    static uint8_t payload[PROTO_MAX_PAYLOAD];
    for (;;) {
        uint8_t hdr[PROTO_HDR_SIZE];
        struct proto_hdr h;
        if (!read_full(a->fd, hdr, sizeof hdr) || proto_hdr_decode(hdr, &h, NULL) < 0 ||
            !read_full(a->fd, payload, h.len))
            return NULL;
        struct tlv_writer w;
        tlv_init(&w);
        if (h.type == PROTO_HELLO) {
            tlv_u64(&w, T_VERSION, PROTO_VERSION);
            tlv_u64(&w, T_VERSION_MIN, PROTO_VERSION);
            send_frame(a->fd, PROTO_HELLO, 0, &w);
        } else if (h.type == PROTO_VOLUMES) {
            struct tlv_iter it;
            struct tlv_field f;
            uint64_t mount_them = 2;
            tlv_iter_init(&it, payload, h.len);
            while (tlv_next(&it, &f, NULL) > 0)
                if (f.tag == T_MOUNT)
                    tlv_get_u64(&f, &mount_them, NULL);
            int log = open(a->s->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
            if (log < 0 || write(log, mount_them == 1 ? "M" : "U", 1) != 1)
                _exit(21);
            close(log);
            struct proto_result r = { 0 };
            proto_result_encode(&r, &w);
            send_frame(a->fd, PROTO_RESULT, h.channel, &w);
        }
    }
}

static void on_status(void *opaque, struct proto_status *out)
{
    out->pause_shares = ((struct stand_in *)opaque)->says;
}

/* The engine's pause: the state file, then the end (the child's main thread). */
static int on_pause(void *opaque, char *why, size_t why_len)
{
    struct stand_in *s = opaque;
    char p[4400];
    box_file_path(p, sizeof p, s->dir, BOX_MEMORY_STATE, 0);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, "state", 5) != 5) {
        snprintf(why, why_len, "pause: cannot write %s", p);
        return BOXLITE_ERR_IO;
    }
    close(fd);
    return write(s->paused[1], "p", 1) == 1 ? 0 : BOXLITE_ERR_IO;
}

/* Serves the box socket at sock until killed, or until PAUSE: then it ends as the real one
 * does, its record in exit.json (with PAUSE_SHARES as its STATUS said) and EXIT to every
 * client. */
static void stand_in_main(struct stand_in *s, const char *sock)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    unlink(sock);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int sv[2];
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 8) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(s->paused, O_CLOEXEC))
        _exit(10);
    struct agent_args a = { s, sv[1] };
    pthread_t t;
    if (pthread_create(&t, NULL, agent_loop, &a) != 0)
        _exit(11);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    struct proto_mux_events ev = { .opaque = s, .status = on_status, .pause = on_pause };
    struct proto_mux *m = NULL;
    struct bl_error e = { 0 };
    if (proto_mux_new(lfd, &ev, &m, &e) < 0)
        _exit(12);
    proto_mux_set_agent_fd(m, sv[0]);
    if (proto_mux_start(m, &e) < 0 || write(s->ready, "r", 1) != 1)
        _exit(13);
    char c;
    if (read(s->paused[0], &c, 1) != 1)
        _exit(14);
    struct proto_exit x = { .guest_status = -1, .paused = true, .pause_shares = s->says };
    snprintf(x.reason, sizeof x.reason, "paused: memory saved");
    snprintf(x.stop_reason, sizeof x.stop_reason, "paused");
    proto_mux_stop(m);
    char p[4400];
    box_file_path(p, sizeof p, s->dir, BOX_EXIT_JSON, 0);
    json_t *j = proto_exit_json(&x);
    if (!j || json_dump_file(j, p, JSON_COMPACT) != 0)
        _exit(15);
    proto_mux_push_exit(m, &x);
    proto_mux_free(m);
    _exit(0);
}

/* ---- the test's side -------------------------------------------------------------------- */

struct running {
    pid_t pid;
    pthread_t reaper; /* waits for it: a pause waits until the process is gone */
    int status;
};

static void *reap(void *arg)
{
    struct running *r = arg;
    waitpid(r->pid, &r->status, 0);
    return NULL;
}

/* The stand-in started for box b, saying `says`, recorded as b's running per-box process. */
static bool stand_in_start(boxlite_runtime *rt, boxlite_box *b, enum proto_pause_shares says,
                           const char *log, struct running *out)
{
    struct stand_in s = { .says = says, .paused = { -1, -1 } };
    snprintf(s.dir, sizeof s.dir, "%s", b->dir);
    snprintf(s.log, sizeof s.log, "%s", log);
    char sock[4200];
    rt_box_socket(b, sock, sizeof sock);
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return false;
    s.ready = ready[1];
    out->pid = fork();
    if (out->pid == 0)
        stand_in_main(&s, sock);
    close(ready[1]);
    char c = 0;
    bool up = out->pid > 0 && read(ready[0], &c, 1) == 1; /* EOF: it died first */
    close(ready[0]);
    if (out->pid < 0 || pthread_create(&out->reaper, NULL, reap, out) != 0)
        return false;
    return up && state_box_set_state(rt->db, b->id, BOX_STATE_ANY, BOX_STATE_RUNNING, out->pid,
                               rt_process_start_time(out->pid), NULL) == 0;
}

static void stand_in_end(struct running *r)
{
    kill(r->pid, SIGKILL); /* gone already after a pause */
    pthread_join(r->reaper, NULL);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    static char buf[64];
    buf[0] = 0;
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
    }
    return buf;
}

static boxlite_box *box_with_volume(boxlite_runtime *rt, const char *name)
{
    char host[600];
    snprintf(host, sizeof host, "%s/vol-%s", harness_tmpdir(), name);
    mkdir(host, 0700);
    boxlite_options *o = NULL;
    boxlite_box *b = NULL;
    boxlite_options_new(&o);
    boxlite_options_set_image(o, "alpine");
    boxlite_options_set_name(o, name);
    boxlite_options_set_auto_remove(o, 0);
    boxlite_options_add_volume(o, host, "/data", 0);
    boxlite_box_create(rt, o, &b);
    boxlite_options_free(o);
    return b;
}

/* One pause of a box with a volume against a process that says `says`: the VOLUMES the
 * agent got ("U" or ""), and the pause's record after it. */
static const char *pause_once(boxlite_runtime *rt, const char *name, enum proto_pause_shares says,
                              enum proto_pause_shares *recorded)
{
    static char got[64];
    got[0] = 0;
    boxlite_box *b = box_with_volume(rt, name);
    if (!b)
        return "no box";
    char log[600];
    snprintf(log, sizeof log, "%s/volumes-%s", harness_tmpdir(), name);
    struct running p;
    if (!stand_in_start(rt, b, says, log, &p)) {
        boxlite_box_free(b);
        return "no stand-in";
    }
    int rc = boxlite_box_pause(b, 20000);
    stand_in_end(&p);
    if (rc != BOXLITE_OK) {
        snprintf(got, sizeof got, "pause failed: %.40s", boxlite_errmsg());
    } else {
        snprintf(got, sizeof got, "%s", slurp(log));
        struct box_end_info end;
        boxfiles_end(b->dir, &end);
        *recorded = end.pause_shares;
    }
    boxlite_box_free(b);
    return got;
}

TEST_TIMEOUT(pause_unmounts_unless_the_process_keeps_the_volumes, 120)
{
    boxlite_runtime *rt = NULL;
    REQUIRE(boxlite_runtime_open(harness_tmpdir(), &rt) == BOXLITE_OK);
    enum proto_pause_shares rec = PROTO_SHARES_REFUSED;
    /* the KVM engine's word: kept mounted, no VOLUMES at all */
    CHECK_STR(pause_once(rt, "kept", PROTO_SHARES_KEPT, &rec), "");
    CHECK_EQ(rec, PROTO_SHARES_KEPT);
    /* the QEMU engine's: unmounted first */
    rec = PROTO_SHARES_REFUSED;
    CHECK_STR(pause_once(rt, "unmounted", PROTO_SHARES_UNMOUNTED, &rec), "U");
    CHECK_EQ(rec, PROTO_SHARES_UNMOUNTED);
    /* a process that says nothing (older than PAUSE_SHARES): unmounted, as it needs */
    rec = PROTO_SHARES_REFUSED;
    CHECK_STR(pause_once(rt, "unsaid", PROTO_SHARES_UNSAID, &rec), "U");
    CHECK_EQ(rec, PROTO_SHARES_UNSAID);
    boxlite_runtime_close(rt);
}

/* The resume mounts the volumes unless the pause's record says they were kept: that of a
 * pause by this boxlite, by an older one (no word: mounted again), and a fork's (its
 * source's record). rt_memory_after_resume's VOLUMES go to a stand-in like the pause's. */
static const char *resume_once(boxlite_runtime *rt, boxlite_box *b)
{
    static char got[64];
    char log[600];
    snprintf(log, sizeof log, "%s/resume-%s", harness_tmpdir(), b->name);
    struct running p;
    if (!stand_in_start(rt, b, PROTO_SHARES_UNSAID, log, &p))
        return "no stand-in";
    char sock[4200];
    rt_box_socket(b, sock, sizeof sock);
    struct proto_client *c = NULL;
    struct bl_error e = { 0 };
    b->resuming = true;
    rt_memory_read_pause(b);
    int rc = proto_client_connect(sock, 10000, &c, &e);
    if (!rc)
        rc = rt_memory_after_resume(b, c, 10000, &e);
    proto_client_close(c);
    stand_in_end(&p);
    if (rc)
        snprintf(got, sizeof got, "failed: %.50s", e.msg);
    else
        snprintf(got, sizeof got, "%s", slurp(log));
    return got;
}

static void write_record(const boxlite_box *b, const char *json)
{
    char p[4400];
    box_file_path(p, sizeof p, b->dir, BOX_EXIT_JSON, 0);
    FILE *f = fopen(p, "w");
    fputs(json, f);
    fclose(f);
}

TEST_TIMEOUT(resume_mounts_unless_the_pause_kept_them, 120)
{
    boxlite_runtime *rt = NULL;
    REQUIRE(boxlite_runtime_open(harness_tmpdir(), &rt) == BOXLITE_OK);
    boxlite_box *kept = box_with_volume(rt, "kept");
    boxlite_box *old = box_with_volume(rt, "old");
    boxlite_box *fork = box_with_volume(rt, "fork");
    boxlite_box *fork_old = box_with_volume(rt, "fork-old");
    REQUIRE(kept && old && fork && fork_old);
    write_record(kept, "{\"stop_reason\":\"paused\",\"paused\":true,\"pause_shares\":\"kept\","
                       "\"restart_count\":2}");
    /* exit.json of a pause before PAUSE_SHARES */
    write_record(old, "{\"stop_reason\":\"paused\",\"paused\":true}");
    struct bl_error e = { 0 };
    REQUIRE(boxfiles_fork_end(kept->dir, fork->dir, &e) == 0);
    REQUIRE(boxfiles_fork_end(old->dir, fork_old->dir, &e) == 0);
    CHECK_STR(resume_once(rt, kept), "");
    CHECK_EQ(kept->resume_restarts, 2);
    CHECK_STR(resume_once(rt, old), "M");
    /* a fork has its source's word on the volumes, not its restarts */
    CHECK_STR(resume_once(rt, fork), "");
    CHECK_EQ(fork->resume_restarts, 0);
    CHECK_STR(resume_once(rt, fork_old), "M");
    boxlite_box_free(kept);
    boxlite_box_free(old);
    boxlite_box_free(fork);
    boxlite_box_free(fork_old);
    boxlite_runtime_close(rt);
}
