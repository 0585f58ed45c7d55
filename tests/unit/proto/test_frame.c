// SPDX-License-Identifier: Apache-2.0
/* Frame decoding and TLV bodies: every malformed input is refused with a reason. */
#include "harness/harness.h"
#include "common/cleanup.h"
#include "proto/proto.h"

#include <stdlib.h>

static size_t mkframe(uint8_t *out, uint16_t type, uint32_t ch, uint8_t stream, const void *p, uint32_t len)
{
    struct proto_hdr h = {.len = len, .type = type, .stream = stream, .channel = ch};
    proto_hdr_encode(out, &h);
    if (len)
        memcpy(out + PROTO_HDR_SIZE, p, len);
    return PROTO_HDR_SIZE + len;
}

static struct proto_reader *reader(void)
{
    return calloc(1, sizeof(struct proto_reader));
}

TEST(roundtrip_byte_by_byte)
{
    uint8_t buf[64];
    size_t n = mkframe(buf, PROTO_DATA, 7, PROTO_STDOUT, "hello", 5);
    n += mkframe(buf + n, PROTO_EOF, 7, PROTO_STDOUT, NULL, 0);
    struct proto_reader *r = reader();
    struct proto_hdr h;
    const uint8_t *p;
    int frames = 0;
    for (size_t i = 0; i < n; i++) {
        size_t used;
        struct bl_error e = {0};
        int rc = proto_reader_feed(r, buf + i, 1, &used, &h, &p, &e);
        CHECK_EQ(used, 1);
        REQUIRE(rc >= 0);
        if (rc == 1) {
            CHECK_EQ(proto_hdr_check(&h, &e), 0);
            if (frames == 0) {
                CHECK_EQ(h.type, PROTO_DATA);
                CHECK_EQ(h.channel, 7);
                CHECK_EQ(h.len, 5);
                CHECK_MEM(p, "hello", 5);
            } else {
                CHECK_EQ(h.type, PROTO_EOF);
            }
            frames++;
        }
    }
    CHECK_EQ(frames, 2);
    free(r);
}

TEST(oversize_length_fails_and_resyncs_on_hello)
{
    uint8_t buf[128];
    struct proto_hdr h = {.len = PROTO_MAX_PAYLOAD + 1, .type = PROTO_DATA, .channel = 1};
    proto_hdr_encode(buf, &h);
    struct proto_reader *r = reader();
    struct bl_error e = {0};
    size_t used;
    const uint8_t *p;
    struct proto_hdr out;
    CHECK(proto_reader_feed(r, buf, PROTO_HDR_SIZE, &used, &out, &p, &e) < 0);
    CHECK(strstr(e.msg, "exceeds the maximum") != NULL);
    CHECK(r->failed);
    /* garbage, then a HELLO: the reader finds it */
    uint8_t tail[128];
    memset(tail, 0xab, 20);
    size_t n = 20 + mkframe(tail + 20, PROTO_HELLO, 0, 0, NULL, 0);
    size_t off = proto_reader_resync(r, tail, n);
    CHECK(!r->failed);
    int rc = proto_reader_feed(r, tail + off, n - off, &used, &out, &p, &e);
    CHECK_EQ(rc, 1);
    CHECK_EQ(out.type, PROTO_HELLO);
    free(r);
}

static int check_hdr(uint16_t type, uint32_t ch, uint8_t stream, uint8_t flags, uint32_t len, char *msg)
{
    struct proto_hdr h = {.len = len, .type = type, .stream = stream, .flags = flags, .channel = ch};
    struct bl_error e = {0};
    int rc = proto_hdr_check(&h, &e);
    snprintf(msg, 256, "%s", e.msg);
    return rc;
}

TEST(header_checks)
{
    char m[256];
    CHECK(check_hdr(0x7777, 1, 0, 0, 0, m) < 0 && strstr(m, "unknown frame type"));
    CHECK(check_hdr(PROTO_DATA, 1, 0, 1, 0, m) < 0 && strstr(m, "flags"));
    CHECK(check_hdr(PROTO_DATA, 1, 3, 0, 0, m) < 0 && strstr(m, "stream"));
    CHECK(check_hdr(PROTO_EXEC, 1, 1, 0, 0, m) < 0 && strstr(m, "stream"));
    CHECK(check_hdr(PROTO_EXEC, 0, 0, 0, 0, m) < 0 && strstr(m, "channel 0"));
    CHECK(check_hdr(PROTO_HELLO, 5, 0, 0, 0, m) < 0 && strstr(m, "must be 0"));
    CHECK(check_hdr(PROTO_CREDIT, 1, 1, 0, 3, m) < 0);
    CHECK(check_hdr(PROTO_EOF, 1, 0, 0, 1, m) < 0);
    CHECK(check_hdr(PROTO_SIGNAL, 1, 0, 0, 8, m) < 0);
    CHECK(check_hdr(PROTO_RESIZE, 1, 0, 0, 4, m) < 0);
    CHECK_EQ(check_hdr(PROTO_ERROR, 0, 0, 0, 10, m), 0);
    CHECK_EQ(check_hdr(PROTO_CREDIT, 3, 2, 0, 4, m), 0);
}

TEST(tlv_truncated_and_bad_fields)
{
    struct tlv_writer *w = malloc(sizeof *w);
    const char *argv[] = {"echo", "hi", NULL};
    const char *env[] = {"A=1", NULL};
    struct proto_exec_req req = {.argv = (char **)argv, .env = (char **)env, .cwd = "/tmp",
                                 .tty = true, .rows = 30, .cols = 90, .timeout_ms = 5,
                                 .detach = true};
    struct bl_error e = {0};
    REQUIRE(proto_exec_req_encode(&req, w, &e) == 0);
    struct proto_exec_req d;
    REQUIRE(proto_exec_req_decode(&d, w->buf, w->len, &e) == 0);
    CHECK(d.detach);
    CHECK_STR(d.argv[1], "hi");
    CHECK(d.argv[2] == NULL);
    CHECK_STR(d.env[0], "A=1");
    CHECK_STR(d.cwd, "/tmp");
    CHECK(d.tty);
    CHECK_EQ(d.rows, 30);
    CHECK_EQ(d.timeout_ms, 5);
    proto_exec_req_free(&d);
    /* every truncation is an error, never a crash */
    for (size_t cut = 1; cut < w->len; cut++) {
        int rc = proto_exec_req_decode(&d, w->buf, cut, &e);
        if (rc == 0)
            proto_exec_req_free(&d); /* a cut on a field boundary is a shorter valid body */
    }
    /* an integer of the wrong size */
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    tlv_bytes(w, T_TIMEOUT_MS, "abc", 3);
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    CHECK(strstr(e.msg, "must be 8") != NULL);
    /* NUL inside a string */
    tlv_init(w);
    tlv_bytes(w, T_ARG, "a\0b", 3);
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    /* no argv */
    tlv_init(w);
    tlv_str(w, T_CWD, "/");
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    /* env without '=' */
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    tlv_str(w, T_ENV, "NOEQUALS");
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    /* field length beyond the frame */
    uint8_t bad[6] = {T_ARG, 0, 200, 0, 'a', 'b'};
    CHECK(proto_exec_req_decode(&d, bad, sizeof bad, &e) < 0);
    CHECK(strstr(e.msg, "overruns") != NULL);
    free(w);
}

TEST(setup_roundtrip_and_bad_volume)
{
    struct tlv_writer *w = malloc(sizeof *w);
    struct proto_volume v = {.tag = "vol0", .path = "/data", .readonly = true};
    struct proto_setup s = {.root_dev = "/dev/vda", .vols = &v, .nvols = 1, .hostname = "h",
                            .net = true, .net_addr = "10.0.2.15/24"};
    struct bl_error e = {0};
    REQUIRE(proto_setup_encode(&s, w, &e) == 0);
    struct proto_setup d;
    REQUIRE(proto_setup_decode(&d, w->buf, w->len, &e) == 0);
    CHECK_STR(d.root_dev, "/dev/vda");
    CHECK_EQ(d.nvols, 1);
    CHECK_STR(d.vols[0].path, "/data");
    CHECK(d.vols[0].readonly);
    CHECK(d.net);
    proto_setup_free(&d);
    tlv_init(w);
    tlv_bytes(w, T_VOLUME, "tag\0rel\0" "1", 9);
    CHECK(proto_setup_decode(&d, w->buf, w->len, &e) < 0);
    tlv_init(w);
    tlv_bytes(w, T_VOLUME, "tag", 3);
    CHECK(proto_setup_decode(&d, w->buf, w->len, &e) < 0);
    free(w);
}

TEST(setup_disks_roundtrip_and_malformed)
{
    struct tlv_writer *w = malloc(sizeof *w);
    struct proto_disk dk[2] = {{.dev = "/dev/vdb", .fstype = "xfs", .path = "/data", .readonly = true},
                               {.dev = "/dev/vdc", .path = "/scratch"}};
    struct proto_setup s = {.root_dev = "/dev/vda", .disks = dk, .ndisks = 2};
    struct bl_error e = {0};
    REQUIRE(proto_setup_encode(&s, w, &e) == 0);
    struct proto_setup d;
    REQUIRE(proto_setup_decode(&d, w->buf, w->len, &e) == 0);
    REQUIRE(d.ndisks == 2);
    CHECK_STR(d.disks[0].dev, "/dev/vdb");
    CHECK_STR(d.disks[0].fstype, "xfs");
    CHECK_STR(d.disks[0].path, "/data");
    CHECK(d.disks[0].readonly);
    CHECK_STR(d.disks[1].fstype, "");
    CHECK_STR(d.disks[1].path, "/scratch");
    CHECK(!d.disks[1].readonly);
    proto_setup_free(&d);
    /* the exact wire form the host sends */
    tlv_init(w);
    tlv_bytes(w, T_DISK, "/dev/vdb\0ext4\0/mnt/x\0" "0", 22);
    REQUIRE(proto_setup_decode(&d, w->buf, w->len, &e) == 0);
    CHECK_STR(d.disks[0].path, "/mnt/x");
    proto_setup_free(&d);
    tlv_init(w);
    tlv_bytes(w, T_DISK, "serial:data1\0\0/d\0" "1", 18);
    REQUIRE(proto_setup_decode(&d, w->buf, w->len, &e) == 0);
    CHECK_STR(d.disks[0].dev, "serial:data1");
    CHECK(d.disks[0].readonly);
    proto_setup_free(&d);
#define LIT(s) {s, sizeof s - 1}
    static const struct { const char *v; size_t n; } bad[] = {
        LIT("/dev/vdb"),                    /* no separators */
        LIT("/dev/vdb\0ext4\0/x\0"),         /* no read-only flag */
        LIT("/dev/vdb\0ext4\0/x\0" "2"),     /* flag not 0/1 */
        LIT("/dev/vdb\0ext4\0/x\0" "01"),    /* trailing byte */
        LIT("\0ext4\0/x\0" "0"),             /* no device */
        LIT("/dev/vdb\0ext4\0\0" "0"),        /* no path */
        LIT("vdb\0ext4\0/x\0" "0"),          /* relative device */
        LIT("serial:\0ext4\0/x\0" "0"),      /* no serial */
        LIT("/dev/vdb\0ext4\0x\0" "0"),      /* relative path */
    };
#undef LIT
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        tlv_init(w);
        tlv_bytes(w, T_DISK, bad[i].v, bad[i].n);
        e = (struct bl_error){0};
        CHECK(proto_setup_decode(&d, w->buf, w->len, &e) < 0);
        CHECK(strstr(e.msg, "disk") != NULL);
    }
    free(w);
}

TEST(result_and_error_bodies)
{
    struct tlv_writer *w = malloc(sizeof *w);
    struct proto_result r = {.exit_code = 7, .signo = 0, .timed_out = true, .duration_us = 99};
    proto_result_encode(&r, w);
    struct proto_result d;
    CHECK_EQ(proto_result_decode(&d, w->buf, w->len, NULL), 0);
    CHECK_EQ(d.exit_code, 7);
    CHECK(d.timed_out);
    CHECK_EQ(d.duration_us, 99);
    proto_error_encode(w, BOXLITE_ERR_NOT_FOUND, "no such thing");
    int code;
    char msg[64];
    proto_error_decode(w->buf, w->len, &code, msg, sizeof msg);
    CHECK_EQ(code, BOXLITE_ERR_NOT_FOUND);
    CHECK_STR(msg, "no such thing");
    free(w);
}

TEST(setup_carries_a_main_process)
{
    struct tlv_writer *w = malloc(sizeof *w);
    struct bl_error e = {0};
    char *argv[] = {"/bin/sh", "-c", "exec server", NULL};
    char *env[] = {"A=1", NULL};
    struct proto_exec_req m = {.argv = argv, .env = env, .cwd = "/srv", .user = "1000"};
    struct proto_setup s = {.root_dev = "/dev/vda", .main = &m};
    REQUIRE(proto_setup_encode(&s, w, &e) == 0);
    struct proto_setup d;
    REQUIRE(proto_setup_decode(&d, w->buf, w->len, &e) == 0);
    REQUIRE(d.main);
    CHECK_STR(d.main->argv[2], "exec server");
    CHECK_STR(d.main->env[0], "A=1");
    CHECK_STR(d.main->cwd, "/srv");
    CHECK_STR(d.main->user, "1000");
    proto_setup_free(&d);
    /* a MAIN field that is not a valid EXEC body, or two of them, fail the setup */
    tlv_init(w);
    tlv_str(w, T_MAIN, "garbage");
    CHECK(proto_setup_decode(&d, w->buf, w->len, &e) < 0);
    REQUIRE(proto_setup_encode(&s, w, &e) == 0);
    size_t one = w->len;
    memcpy(w->buf + one, w->buf, one);
    w->len = 2 * one;
    CHECK(proto_setup_decode(&d, w->buf, w->len, &e) < 0);
    CHECK(strstr(e.msg, "more than one main") != NULL);
    /* a main request too big for one field is refused on the host, not sent cut */
    char big[40000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char *env2[] = {big, NULL};
    big[0] = 'K';
    big[1] = '=';
    char *args2[] = {"sh", big + 2, NULL};
    struct proto_exec_req huge = {.argv = args2, .env = env2};
    s.main = &huge;
    CHECK(proto_setup_encode(&s, w, &e) < 0);
    free(w);
}

TEST(event_roundtrip_and_malformed)
{
    struct tlv_writer *w = malloc(sizeof *w);
    struct bl_error e = {0};
    struct proto_event ev = {.kind = PROTO_EVENT_CONTAINER_EXIT, .who = "main", .signo = 9,
                             .oom = true, .message = "main process killed by OOM"};
    proto_event_encode(&ev, w);
    struct proto_event d;
    REQUIRE(proto_event_decode(&d, w->buf, w->len, &e) == 0);
    CHECK_STR(d.kind, PROTO_EVENT_CONTAINER_EXIT);
    CHECK_STR(d.who, "main");
    CHECK_EQ(d.signo, 9);
    CHECK(d.oom);
    CHECK_STR(d.message, "main process killed by OOM");
    /* an EVENT is a connection frame: channel 0 only */
    struct proto_hdr h = {.len = (uint32_t)w->len, .type = PROTO_EVENT, .channel = 0};
    CHECK_EQ(proto_hdr_check(&h, &e), 0);
    h.channel = 3;
    CHECK(proto_hdr_check(&h, &e) < 0);
    /* overlong strings are cut, NUL bytes and missing kinds refused */
    char longmsg[1000];
    memset(longmsg, 'm', sizeof longmsg);
    tlv_init(w);
    tlv_str(w, T_EVENT, "container-exit");
    tlv_bytes(w, T_MESSAGE, longmsg, sizeof longmsg);
    REQUIRE(proto_event_decode(&d, w->buf, w->len, &e) == 0);
    CHECK_EQ(strlen(d.message), sizeof d.message - 1);
    tlv_init(w);
    tlv_bytes(w, T_EVENT, "a\0b", 3);
    CHECK(proto_event_decode(&d, w->buf, w->len, &e) < 0);
    tlv_init(w);
    tlv_u64(w, T_SIGNO, 9);
    CHECK(proto_event_decode(&d, w->buf, w->len, &e) < 0);
    tlv_init(w);
    tlv_str(w, T_EVENT, "x");
    tlv_str(w, T_SIGNO, "not eight bytes");
    CHECK(proto_event_decode(&d, w->buf, w->len, &e) < 0);
    free(w);
}

/* The restart policy rides in SETUP; each restart comes back as an EVENT with its count. */
TEST(setup_restart_policy_and_restart_events)
{
    struct tlv_writer *w = malloc(sizeof *w);
    struct bl_error e = {0};
    char *argv[] = {"server", NULL};
    struct proto_exec_req m = {.argv = argv};
    struct proto_setup s = {.root_dev = "/dev/vda", .main = &m,
                            .restart = PROTO_RESTART_ON_FAILURE, .restart_max = 5};
    REQUIRE(proto_setup_encode(&s, w, &e) == 0);
    struct proto_setup d;
    REQUIRE(proto_setup_decode(&d, w->buf, w->len, &e) == 0);
    CHECK_EQ(d.restart, PROTO_RESTART_ON_FAILURE);
    CHECK_EQ(d.restart_max, 5);
    proto_setup_free(&d);
    /* a policy the agent does not know, or a count out of range: refused, not guessed */
    tlv_init(w);
    tlv_u64(w, T_RESTART, 7);
    CHECK(proto_setup_decode(&d, w->buf, w->len, &e) < 0);
    tlv_init(w);
    tlv_u64(w, T_RESTART_MAX, 1ULL << 40);
    CHECK(proto_setup_decode(&d, w->buf, w->len, &e) < 0);
    /* -i: the main process's stdin open (MAIN_STDIN), and an EXEC that attaches to it */
    s.main_stdin = true;
    REQUIRE(proto_setup_encode(&s, w, &e) == 0);
    REQUIRE(proto_setup_decode(&d, w->buf, w->len, &e) == 0);
    CHECK(d.main_stdin);
    proto_setup_free(&d);
    struct proto_exec_req at = {.argv = argv, .attach = true}, dat;
    REQUIRE(proto_exec_req_encode(&at, w, &e) == 0);
    REQUIRE(proto_exec_req_decode(&dat, w->buf, w->len, &e) == 0);
    CHECK(dat.attach && !dat.detach);
    proto_exec_req_free(&dat);
    struct proto_event ev = {.kind = PROTO_EVENT_MAIN_RESTART, .who = "main", .exit_code = 1,
                             .restarts = 3};
    proto_event_encode(&ev, w);
    struct proto_event de;
    REQUIRE(proto_event_decode(&de, w->buf, w->len, &e) == 0);
    CHECK_STR(de.kind, PROTO_EVENT_MAIN_RESTART);
    CHECK_EQ(de.restarts, 3);
    CHECK_EQ(de.exit_code, 1);
    free(w);
}

/* EXEC's limits and privileges (RLIMIT, CAPS, NO_NEW_PRIVS, GROUPS, UMASK, OOM_SCORE_ADJ):
 * they travel whole, and every value out of its range is the sender's error. */
TEST(exec_limits_and_privileges)
{
    struct tlv_writer *w = malloc(sizeof *w);
    char *argv[] = {"id", NULL};
    struct proto_rlimit rl[] = {{7, 512, 1024}, {6, 100, UINT64_MAX}};
    uint32_t groups[] = {1000, 2000};
    struct proto_exec_req req = {.argv = argv, .rlimits = rl, .nrlimits = 2, .has_caps = true,
                                 .caps = {0x400, 0x401, 0x402, 0x403, 0x404},
                                 .no_new_privs = true, .has_groups = true, .groups = groups,
                                 .ngroups = 2, .has_umask = true, .umask = 027,
                                 .has_oom_score_adj = true, .oom_score_adj = -500,
                                 .root = "/.boxlite-pod/c1", .group = "ctr+1.a_b-c",
                                 .pids_max = 20};
    struct bl_error e = {0};
    REQUIRE(proto_exec_req_encode(&req, w, &e) == 0);
    struct proto_exec_req d;
    REQUIRE(proto_exec_req_decode(&d, w->buf, w->len, &e) == 0);
    REQUIRE(d.nrlimits == 2);
    CHECK_EQ(d.rlimits[0].resource, 7);
    CHECK_EQ(d.rlimits[0].soft, 512);
    CHECK_EQ(d.rlimits[0].hard, 1024);
    CHECK(d.rlimits[1].hard == UINT64_MAX);
    CHECK(d.has_caps);
    for (int i = 0; i < PROTO_CAP_SETS; i++)
        CHECK_EQ(d.caps[i], 0x400u + (unsigned)i);
    CHECK(d.no_new_privs);
    REQUIRE(d.has_groups && d.ngroups == 2);
    CHECK_EQ(d.groups[1], 2000);
    CHECK(d.has_umask && d.umask == 027);
    CHECK(d.has_oom_score_adj && d.oom_score_adj == -500);
    CHECK(d.root && !strcmp(d.root, "/.boxlite-pod/c1"));
    CHECK(d.group && !strcmp(d.group, "ctr+1.a_b-c"));
    CHECK_EQ(d.pids_max, 20);
    proto_exec_req_free(&d);
    /* a group name the agent would put in a cgroup path: no '/', "..", or empty */
    const char *badg[] = {"a/b", "..", ".", "", "x y"};
    for (size_t i = 0; i < sizeof badg / sizeof badg[0]; i++) {
        struct proto_exec_req g = {.argv = argv, .group = (char *)badg[i]};
        REQUIRE(proto_exec_req_encode(&g, w, &e) == 0);
        memset(&e, 0, sizeof e);
        CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0 && strstr(e.msg, "bad group"));
    }
    char longname[PROTO_GROUP_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK(!proto_group_name_ok(longname));
    longname[PROTO_GROUP_NAME_MAX] = 0;
    CHECK(proto_group_name_ok(longname));
    /* none of them: nothing set (an older host's request) */
    struct proto_exec_req plain = {.argv = argv};
    REQUIRE(proto_exec_req_encode(&plain, w, &e) == 0);
    REQUIRE(proto_exec_req_decode(&d, w->buf, w->len, &e) == 0);
    CHECK(!d.nrlimits && !d.has_caps && !d.no_new_privs && !d.has_groups && !d.has_umask &&
          !d.has_oom_score_adj && !d.root && !d.group && !d.pids_max);
    proto_exec_req_free(&d);
    /* an empty GROUPS is "no supplementary groups", not "unset" */
    struct proto_exec_req nog = {.argv = argv, .has_groups = true};
    REQUIRE(proto_exec_req_encode(&nog, w, &e) == 0);
    REQUIRE(proto_exec_req_decode(&d, w->buf, w->len, &e) == 0);
    CHECK(d.has_groups && d.ngroups == 0);
    proto_exec_req_free(&d);

    uint8_t b[40] = {0};
    struct { uint16_t tag; size_t len; uint64_t a, s, h; const char *why; } bad[] = {
        {T_RLIMIT, 24, 16, 1, 1, "unknown"},       /* resource past RLIMIT_RTTIME */
        {T_RLIMIT, 24, 7, 2, 1, "soft limit above hard"},
        {T_RLIMIT, 16, 7, 1, 1, "24 expected"},
        {T_CAPS, 32, 0, 0, 0, "40 expected"},
        {T_GROUPS, 6, 0, 0, 0, "4 per group"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put_le64(b, bad[i].a);
        put_le64(b + 8, bad[i].s);
        put_le64(b + 16, bad[i].h);
        tlv_init(w);
        tlv_str(w, T_ARG, "x");
        tlv_bytes(w, bad[i].tag, b, bad[i].len);
        CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
        CHECK(strstr(e.msg, bad[i].why) != NULL);
    }
    /* one resource twice */
    put_le64(b, 7);
    put_le64(b + 8, 1);
    put_le64(b + 16, 1);
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    tlv_bytes(w, T_RLIMIT, b, 24);
    tlv_bytes(w, T_RLIMIT, b, 24);
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    CHECK(strstr(e.msg, "given twice") != NULL);
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    tlv_u64(w, T_UMASK, 01000);
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    tlv_u64(w, T_OOM_SCORE_ADJ, (uint64_t)(int64_t)-1001);
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    CHECK(strstr(e.msg, "-1000..1000") != NULL);
    /* too many groups for the field */
    uint32_t *many = calloc(PROTO_MAX_GROUPS + 1, sizeof *many);
    struct proto_exec_req big = {.argv = argv, .has_groups = true, .groups = many,
                                 .ngroups = PROTO_MAX_GROUPS + 1};
    CHECK(proto_exec_req_encode(&big, w, &e) < 0);
    free(many);
    free(w);
}

TEST(exec_confinement_fields)
{
    struct tlv_writer *w = malloc(sizeof *w);
    char *argv[] = {"sh", NULL};
    uint8_t prog[16] = {0x06, 0, 0, 0, 0, 0, 0xff, 0x7f, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f};
    char *masked[] = {"/proc/kcore", "/sys/firmware", NULL};
    char *ro[] = {"/proc/sys", NULL};
    char *sysctl[] = {"net.ipv4.ip_forward=1", NULL};
    struct proto_device dev = {.type = 'c', .major = 10, .minor = 229, .mode = 0640,
                               .uid = 1000, .gid = 2000, .path = "/dev/fuse"};
    struct proto_exec_req req = {.argv = argv, .seccomp = prog, .seccomp_len = 16,
                                 .seccomp_flags = 2, .masked = masked, .nmasked = 2,
                                 .ro_paths = ro, .nro_paths = 1, .sysctl = sysctl,
                                 .nsysctl = 1, .devices = &dev, .ndevices = 1};
    struct bl_error e = {0};
    REQUIRE(proto_exec_req_encode(&req, w, &e) == 0);
    struct proto_exec_req d;
    REQUIRE(proto_exec_req_decode(&d, w->buf, w->len, &e) == 0);
    REQUIRE(d.seccomp_len == 16);
    CHECK_MEM(d.seccomp, prog, 16);
    CHECK_EQ(d.seccomp_flags, 2);
    REQUIRE(d.nmasked == 2 && d.nro_paths == 1 && d.nsysctl == 1 && d.ndevices == 1);
    CHECK_STR(d.masked[1], "/sys/firmware");
    CHECK(d.masked[2] == NULL);
    CHECK_STR(d.ro_paths[0], "/proc/sys");
    CHECK_STR(d.sysctl[0], "net.ipv4.ip_forward=1");
    CHECK_EQ(d.devices[0].type, 'c');
    CHECK_EQ(d.devices[0].major, 10);
    CHECK_EQ(d.devices[0].minor, 229);
    CHECK_EQ(d.devices[0].mode, 0640);
    CHECK_EQ(d.devices[0].gid, 2000);
    CHECK_STR(d.devices[0].path, "/dev/fuse");
    proto_exec_req_free(&d);
    /* the host refuses to send what the agent would refuse */
    req.seccomp_len = 12;
    CHECK(proto_exec_req_encode(&req, w, &e) < 0);
    req.seccomp_len = 16;
    req.seccomp_flags = 8;
    CHECK(proto_exec_req_encode(&req, w, &e) < 0);

    struct { uint16_t tag; const char *val; size_t len; const char *why; } bad[] = {
        {T_SECCOMP, "12345678", 7, "8 per instruction"},
        {T_SECCOMP, "", 0, "8 per instruction"},
        {T_MASK, "proc/kcore", 10, "not an absolute path"},
        {T_MASK, "/proc/../etc", 12, "not an absolute path"},
        {T_RO_PATH, "/a/..", 5, "not an absolute path"},
        {T_SYSCTL, "/etc/passwd=x", 13, "not name=value"},
        {T_SYSCTL, "net/../../x=1", 13, "not name=value"},
        {T_SYSCTL, "kernel.domainname", 17, "not name=value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tlv_init(w);
        tlv_str(w, T_ARG, "x");
        tlv_bytes(w, bad[i].tag, bad[i].val, bad[i].len);
        CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
        if (!strstr(e.msg, bad[i].why))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, e.msg,
                         bad[i].why);
    }
    /* a filter past BPF_MAXINSNS, flags past the three known, a device of a bad type */
    uint8_t *big = calloc(PROTO_SECCOMP_MAX_INSNS + 1, 8);
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    tlv_bytes(w, T_SECCOMP, big, 8 * (PROTO_SECCOMP_MAX_INSNS + 1));
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    free(big);
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    tlv_u64(w, T_SECCOMP_FLAGS, 16);
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    uint8_t db[PROTO_DEVICE_FIXED + 4] = {'x'};
    memcpy(db + PROTO_DEVICE_FIXED, "/dev", 4);
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    tlv_bytes(w, T_DEVICE, db, sizeof db);
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    db[0] = 'c';
    put_le32(db + 12, 010000); /* a mode with type bits */
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    tlv_bytes(w, T_DEVICE, db, sizeof db);
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    put_le32(db + 12, 0600);
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    tlv_bytes(w, T_DEVICE, db, sizeof db);
    REQUIRE(proto_exec_req_decode(&d, w->buf, w->len, &e) == 0);
    CHECK_STR(d.devices[0].path, "/dev");
    proto_exec_req_free(&d);
    free(w);
}

/* GROUP_LIMITS: both fields required, the name one the agent may make a path of. */
TEST(group_limits_body)
{
    struct tlv_writer *w = malloc(sizeof *w);
    struct bl_error e = {0};
    struct proto_group_limits g = {.group = "ctr+1.a_b-c", .pids_max = 7}, d;
    proto_group_limits_encode(&g, w);
    REQUIRE(proto_group_limits_decode(&d, w->buf, w->len, &e) == 0);
    CHECK_STR(d.group, "ctr+1.a_b-c");
    CHECK_EQ(d.pids_max, 7);
    struct { const char *name; bool pids; const char *why; } bad[] = {
        {"../x", true, "bad group"}, {"a/b", true, "bad group"}, {"", true, "bad group"},
        {NULL, true, "required"},    {"ok", false, "required"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tlv_init(w);
        if (bad[i].name)
            tlv_str(w, T_GROUP, bad[i].name);
        if (bad[i].pids)
            tlv_u64(w, T_PIDS_MAX, 3);
        memset(&e, 0, sizeof e);
        CHECK(proto_group_limits_decode(&d, w->buf, w->len, &e) < 0);
        CHECK(strstr(e.msg, bad[i].why) != NULL);
    }
    char longname[PROTO_GROUP_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    tlv_init(w);
    tlv_str(w, T_GROUP, longname);
    tlv_u64(w, T_PIDS_MAX, 3);
    CHECK(proto_group_limits_decode(&d, w->buf, w->len, &e) < 0);
    free(w);
}
