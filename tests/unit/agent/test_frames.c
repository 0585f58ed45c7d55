// SPDX-License-Identifier: Apache-2.0
/* The agent facing malformed and abusive frames on its stream: every one gets an ERROR with
 * a reason, and the agent keeps serving. */
#include "agent_fixture.h"

#include <time.h>

struct raw {
    int fd;
    struct proto_reader rd;
};

static void send_raw(struct raw *r, uint16_t type, uint32_t ch, uint8_t stream, uint8_t flags,
                     const void *p, uint32_t len)
{
    uint8_t hdr[PROTO_HDR_SIZE];
    struct proto_hdr h = {.len = len, .type = type, .stream = stream, .flags = flags, .channel = ch};
    proto_hdr_encode(hdr, &h);
    CHECK_EQ(write(r->fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
    if (len)
        CHECK_EQ(write(r->fd, p, len), (ssize_t)len);
}

static void send_hello(struct raw *r, uint64_t version)
{
    struct tlv_writer w;
    tlv_init(&w);
    tlv_u64(&w, T_VERSION, version);
    send_raw(r, PROTO_HELLO, 0, 0, 0, w.buf, (uint32_t)w.len);
}

/* Next frame within 5 s; type 0 on timeout or end of stream. */
static struct proto_hdr next_frame(struct raw *r, char *msg, size_t msg_len)
{
    struct proto_hdr h = {0};
    static uint8_t pending[65536];
    static size_t plen, poff;
    for (;;) {
        while (poff < plen) {
            size_t used;
            const uint8_t *p;
            struct bl_error e = {0};
            int rc = proto_reader_feed(&r->rd, pending + poff, plen - poff, &used, &h, &p, &e);
            poff += used;
            if (rc < 0)
                return (struct proto_hdr){0};
            if (rc > 0) {
                if (msg) {
                    msg[0] = 0;
                    if (h.type == PROTO_ERROR) {
                        int code;
                        proto_error_decode(p, h.len, &code, msg, msg_len);
                    }
                }
                return h;
            }
        }
        struct pollfd pf = {.fd = r->fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0)
            return (struct proto_hdr){0};
        ssize_t n = read(r->fd, pending, sizeof pending);
        if (n <= 0)
            return (struct proto_hdr){0};
        plen = (size_t)n;
        poff = 0;
    }
}

static struct proto_hdr expect(struct raw *r, uint16_t type, char *msg)
{
    struct proto_hdr h;
    /* skip CREDIT and DATA noise */
    do
        h = next_frame(r, msg, 512);
    while (h.type != type && (h.type == PROTO_CREDIT || h.type == PROTO_DATA || h.type == PROTO_EOF));
    if (h.type != type)
        harness_fail(__FILE__, __LINE__, "expected %s, got 0x%x (%s)", proto_type_name(type),
                     h.type, msg);
    return h;
}

static struct raw *connect_raw(void)
{
    struct raw *r = calloc(1, sizeof *r);
    r->fd = start_agent_fd(NULL);
    char msg[512];
    expect(r, PROTO_HELLO, msg); /* the agent speaks first */
    return r;
}

static void finish_raw(struct raw *r)
{
    close(r->fd);
    int status;
    waitpid(fixture_agent_pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(r);
}

/* The agent still runs programs. */
static void check_alive(struct raw *r, uint32_t ch)
{
    struct tlv_writer w;
    tlv_init(&w);
    tlv_str(&w, T_ARG, "true");
    send_raw(r, PROTO_EXEC, ch, 0, 0, w.buf, (uint32_t)w.len);
    char msg[512];
    struct proto_hdr h = expect(r, PROTO_RESULT, msg);
    CHECK_EQ(h.channel, ch);
}

TEST(unknown_type_is_rejected_and_skipped)
{
    struct raw *r = connect_raw();
    send_raw(r, 0x7e, 3, 0, 0, "xyz", 3);
    char msg[512];
    struct proto_hdr h = expect(r, PROTO_ERROR, msg);
    CHECK_EQ(h.channel, 3);
    CHECK(strstr(msg, "unknown frame type") != NULL);
    check_alive(r, 4);
    finish_raw(r);
}

TEST(bad_flags_stream_and_sizes)
{
    struct raw *r = connect_raw();
    char msg[512];
    send_raw(r, PROTO_SIGNAL, 1, 0, 0x80, "\x09\0\0\0", 4);
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "flags") != NULL);
    send_raw(r, PROTO_DATA, 1, 9, 0, "a", 1);
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "stream") != NULL);
    send_raw(r, PROTO_CREDIT, 1, 1, 0, "ab", 2);
    expect(r, PROTO_ERROR, msg);
    send_raw(r, PROTO_RESIZE, 1, 0, 0, "ab", 2);
    expect(r, PROTO_ERROR, msg);
    send_raw(r, PROTO_EXEC, 0, 0, 0, NULL, 0);
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "channel 0") != NULL);
    check_alive(r, 1);
    finish_raw(r);
}

TEST(oversized_frame_then_resync_by_hello)
{
    struct raw *r = connect_raw();
    uint8_t hdr[PROTO_HDR_SIZE];
    struct proto_hdr h = {.len = 0x7fffffff, .type = PROTO_DATA, .channel = 1};
    proto_hdr_encode(hdr, &h);
    CHECK_EQ(write(r->fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
    char msg[512];
    struct proto_hdr e = expect(r, PROTO_ERROR, msg);
    CHECK_EQ(e.channel, 0);
    CHECK(strstr(msg, "exceeds the maximum") != NULL);
    /* garbage is ignored until the host's HELLO */
    char junk[1000];
    memset(junk, 0x55, sizeof junk);
    CHECK_EQ(write(r->fd, junk, sizeof junk), (ssize_t)sizeof junk);
    send_hello(r, PROTO_VERSION);
    expect(r, PROTO_HELLO, msg);
    check_alive(r, 2);
    finish_raw(r);
}

TEST(bad_version)
{
    struct raw *r = connect_raw();
    send_hello(r, 99);
    char msg[512];
    struct proto_hdr h = expect(r, PROTO_ERROR, msg);
    CHECK_EQ(h.channel, 0);
    CHECK(strstr(msg, "version 99") != NULL);
    send_hello(r, PROTO_VERSION);
    expect(r, PROTO_HELLO, msg);
    finish_raw(r);
}

TEST(malformed_bodies)
{
    struct raw *r = connect_raw();
    char msg[512];
    uint8_t trunc[6] = {T_ARG, 0, 50, 0, 'a', 'b'};
    send_raw(r, PROTO_EXEC, 1, 0, 0, trunc, sizeof trunc);
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "overruns") != NULL);
    send_raw(r, PROTO_EXEC, 1, 0, 0, NULL, 0);
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "no program") != NULL);
    send_raw(r, PROTO_COPY_IN, 1, 0, 0, NULL, 0);
    expect(r, PROTO_ERROR, msg);
    send_raw(r, PROTO_SETUP, 1, 0, 0, "\x35\0\3\0abc", 7);
    expect(r, PROTO_ERROR, msg);
    send_raw(r, PROTO_RESULT, 1, 0, 0, NULL, 0);
    expect(r, PROTO_ERROR, msg);
    check_alive(r, 1);
    finish_raw(r);
}

TEST(channel_misuse)
{
    struct raw *r = connect_raw();
    char msg[512];
    struct tlv_writer w;
    tlv_init(&w);
    tlv_str(&w, T_ARG, "cat");
    send_raw(r, PROTO_EXEC, 5, 0, 0, w.buf, (uint32_t)w.len);
    /* a second request on a busy channel */
    send_raw(r, PROTO_EXEC, 5, 0, 0, w.buf, (uint32_t)w.len);
    struct proto_hdr h = expect(r, PROTO_ERROR, msg);
    CHECK_EQ(h.channel, 5);
    CHECK(strstr(msg, "busy") != NULL);
    /* frames for a channel that does not exist are dropped (a normal race) */
    send_raw(r, PROTO_DATA, 77, PROTO_STDIN, 0, "x", 1);
    send_raw(r, PROTO_SIGNAL, 77, 0, 0, "\x09\0\0\0", 4);
    /* the host writing the process's stdout */
    send_raw(r, PROTO_DATA, 5, PROTO_STDOUT, 0, "x", 1);
    h = expect(r, PROTO_ERROR, msg);
    CHECK_EQ(h.channel, 5);
    CHECK(strstr(msg, "does not write") != NULL);
    check_alive(r, 6);
    finish_raw(r);
}

TEST(flow_control_violation)
{
    struct raw *r = connect_raw();
    char msg[512];
    struct tlv_writer w;
    tlv_init(&w);
    tlv_str(&w, T_ARG, "sleep");
    tlv_str(&w, T_ARG, "100"); /* never reads stdin: no credit comes back */
    send_raw(r, PROTO_EXEC, 1, 0, 0, w.buf, (uint32_t)w.len);
    static uint8_t chunk[65536];
    /* the window, plus what the pipe to sleep absorbs (and is credited back), plus more */
    for (unsigned sent = 0; sent <= PROTO_WINDOW + 256 * 1024; sent += sizeof chunk)
        send_raw(r, PROTO_DATA, 1, PROTO_STDIN, 0, chunk, sizeof chunk);
    struct proto_hdr h = expect(r, PROTO_ERROR, msg);
    CHECK_EQ(h.channel, 1);
    CHECK(strstr(msg, "flow control") != NULL);
    /* granting absurd credit is refused too */
    tlv_init(&w);
    tlv_str(&w, T_ARG, "true");
    send_raw(r, PROTO_EXEC, 2, 0, 0, w.buf, (uint32_t)w.len);
    send_raw(r, PROTO_CREDIT, 2, PROTO_STDOUT, 0, "\xff\xff\xff\xff", 4);
    do
        h = next_frame(r, msg, 512);
    while (h.type && h.type != PROTO_ERROR && h.type != PROTO_RESULT);
    CHECK_EQ(h.type, PROTO_ERROR);
    check_alive(r, 3);
    finish_raw(r);
}

TEST(truncated_frame_then_close)
{
    struct raw *r = connect_raw();
    uint8_t hdr[PROTO_HDR_SIZE];
    struct proto_hdr h = {.len = 100, .type = PROTO_EXEC, .channel = 1};
    proto_hdr_encode(hdr, &h);
    CHECK_EQ(write(r->fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
    CHECK_EQ(write(r->fd, "abc", 3), 3);
    finish_raw(r); /* the agent ends cleanly on end of stream, exit status 0 */
}

TEST(ping)
{
    struct raw *r = connect_raw();
    send_raw(r, PROTO_PING, 0, 0, 0, "12345678", 8);
    char msg[512];
    struct proto_hdr h = expect(r, PROTO_PONG, msg);
    CHECK_EQ(h.len, 8);
    finish_raw(r);
}

TEST(port_mode_host_gone_shuts_down)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        struct agent_options o = {.port = true, .host_gone_shutdown_ms = 300};
        struct bl_error e = {0};
        struct agent *a = agent_new(sv[1], &o, &e);
        int rc = a ? agent_run(a) : -1;
        agent_free(a);
        _exit(rc == 1 ? 42 : 1); /* 1 = shut down */
    }
    close(sv[1]);
    struct raw r = {.fd = sv[0]};
    char msg[512];
    expect(&r, PROTO_HELLO, msg);
    send_hello(&r, PROTO_VERSION); /* the host was connected ... */
    expect(&r, PROTO_HELLO, msg);
    close(sv[0]);                  /* ... and goes away */
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
}

/* FSFREEZE (docs/protocol.md): outside a guest the agent never freezes (it would freeze the
 * host's filesystem); a thaw of a root that is not frozen is an error (the host's copy may
 * be inconsistent); bad bodies are refused; the agent goes on. The freeze itself, its
 * auto-thaw and a host killed mid-copy: tests/e2e/snapshot.sh, in a guest. */
TEST(fsfreeze_outside_a_guest_and_bad_bodies)
{
    struct raw *r = connect_raw();
    char msg[512];
    struct tlv_writer w;
    tlv_init(&w);
    tlv_u64(&w, T_FREEZE, 1);
    tlv_u64(&w, T_TIMEOUT_MS, 1000);
    send_raw(r, PROTO_FSFREEZE, 5, 0, 0, w.buf, w.len);
    struct proto_hdr h = expect(r, PROTO_ERROR, msg);
    CHECK_EQ(h.channel, 5);
    CHECK(strstr(msg, "no container root to freeze") != NULL);
    tlv_init(&w);
    tlv_u64(&w, T_FREEZE, 0);
    send_raw(r, PROTO_FSFREEZE, 6, 0, 0, w.buf, w.len);
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "not frozen") != NULL);
    tlv_init(&w);
    tlv_u64(&w, T_FREEZE, 7);
    send_raw(r, PROTO_FSFREEZE, 7, 0, 0, w.buf, w.len);
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "FREEZE must be 0 or 1") != NULL);
    tlv_init(&w);
    tlv_u64(&w, T_FREEZE, 1);
    tlv_u64(&w, T_TIMEOUT_MS, 3600000);
    send_raw(r, PROTO_FSFREEZE, 8, 0, 0, w.buf, w.len);
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "TIMEOUT_MS 1..60000") != NULL);
    check_alive(r, 9);
    finish_raw(r);
}

/* VOLUMES (docs/protocol.md): without volumes both directions do nothing (RESULT); a bad
 * MOUNT or a broken body is refused; the agent goes on. The unmount, the busy refusal and the
 * mount after a resume: tests/e2e/pause.sh, in a guest. */
TEST(volumes_without_volumes_and_bad_bodies)
{
    struct raw *r = connect_raw();
    char msg[512];
    struct tlv_writer w;
    for (uint32_t m = 0; m < 2; m++) {
        tlv_init(&w);
        tlv_u64(&w, T_MOUNT, m);
        send_raw(r, PROTO_VOLUMES, 5 + m, 0, 0, w.buf, w.len);
        struct proto_hdr h = expect(r, PROTO_RESULT, msg);
        CHECK_EQ(h.channel, 5 + m);
    }
    tlv_init(&w);
    tlv_u64(&w, T_MOUNT, 2);
    send_raw(r, PROTO_VOLUMES, 7, 0, 0, w.buf, w.len);
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "MOUNT must be 0 or 1") != NULL);
    send_raw(r, PROTO_VOLUMES, 8, 0, 0, NULL, 0); /* no MOUNT at all */
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "MOUNT must be 0 or 1") != NULL);
    const uint8_t broken[] = { 121, 0 }; /* a tag cut short */
    send_raw(r, PROTO_VOLUMES, 9, 0, 0, broken, sizeof broken);
    expect(r, PROTO_ERROR, msg);
    CHECK(strstr(msg, "VOLUMES:") != NULL);
    check_alive(r, 10);
    finish_raw(r);
}
