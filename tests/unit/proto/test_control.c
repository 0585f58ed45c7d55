// SPDX-License-Identifier: Apache-2.0
/* The box socket's control frames (src/proto/control.h): STATUS and EXIT bodies round-trip
 * field by field, malformed ones are refused with a reason, unknown fields are skipped, and
 * the frames themselves are connection frames (channel 0 only). */
#include "harness/harness.h"
#include "proto/control.h"
#include "proto/control_json.h"

#include <stdlib.h>

static struct tlv_writer w;

TEST(status_roundtrip)
{
    struct proto_status s = { 0 }, d;
    snprintf(s.state, sizeof s.state, "running");
    snprintf(s.fig.engine, sizeof s.fig.engine, "kvm");
    snprintf(s.fig.cpu_template, sizeof s.fig.cpu_template, "v3");
    s.fig.first_run_us = 1234;
    s.fig.ready_us = 567890;
    s.fig.vm_exits = 42;
    s.fig.rss_bytes = 5u << 20;
    s.fig.net_denied = 7;
    s.agent_boot_ms = 321;
    snprintf(s.notice, sizeof s.notice, "KVM is not usable: running under QEMU");
    s.host_ports[0] = 8080;
    s.host_ports[1] = 0; /* a forward that bound nothing keeps its place */
    s.host_ports[2] = 65535;
    s.nports = 3;
    s.health = strdup("{\"status\":\"healthy\"}");
    s.idle_ms = 45000;
    s.pause_shares = PROTO_SHARES_KEPT;
    proto_status_encode(&s, &w);
    CHECK(!w.overflow);
    struct bl_error e = { 0 };
    REQUIRE(proto_status_decode(&d, w.buf, w.len, &e) == 0);
    CHECK_STR(d.state, "running");
    CHECK_STR(d.fig.engine, "kvm");
    CHECK_STR(d.fig.cpu_template, "v3");
    CHECK_EQ(d.fig.first_run_us, 1234);
    CHECK_EQ(d.fig.ready_us, 567890);
    CHECK_EQ(d.fig.vm_exits, 42);
    CHECK_EQ(d.fig.rss_bytes, 5u << 20);
    CHECK_EQ(d.fig.net_denied, 7);
    CHECK_EQ(d.agent_boot_ms, 321);
    CHECK_STR(d.notice, s.notice);
    CHECK_EQ(d.nports, 3);
    CHECK_EQ(d.host_ports[0], 8080);
    CHECK_EQ(d.host_ports[1], 0);
    CHECK_EQ(d.host_ports[2], 65535);
    CHECK_STR(d.health, "{\"status\":\"healthy\"}");
    CHECK_EQ(d.idle_ms, 45000);
    CHECK_EQ(d.pause_shares, PROTO_SHARES_KEPT);
    /* and as JSON, with the keys the library shows */
    json_t *j = proto_status_json(&d);
    CHECK_EQ(json_integer_value(json_object_get(j, "idle_ms")), 45000);
    CHECK_STR(json_string_value(json_object_get(j, "pause_shares")), "kept");
    CHECK_EQ(json_integer_value(json_array_get(json_object_get(j, "host_ports"), 0)), 8080);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "health"), "status")), "healthy");
    CHECK(json_real_value(json_object_get(j, "start_to_ready_ms")) > 567.8);
    json_decref(j);
    proto_status_free(&d);
    proto_status_free(&s);
}

TEST(exit_roundtrip_and_json)
{
    struct proto_exit x = { 0 }, d;
    snprintf(x.reason, sizeof x.reason, "guest powered off");
    snprintf(x.stop_reason, sizeof x.stop_reason, "main process exited with status 3");
    x.powered_off = true;
    x.guest_status = -1;
    x.has_exit_code = true;
    x.exit_code = 137;
    x.signo = 9;
    x.oom_killed = true;
    x.start_error = BOXLITE_ERR_UNSUPPORTED;
    x.paused = true;
    x.pause_shares = PROTO_SHARES_UNMOUNTED;
    snprintf(x.fig.engine, sizeof x.fig.engine, "kvm");
    x.fig.cpu_user_us = 99;
    proto_exit_encode(&x, &w);
    struct bl_error e = { 0 };
    REQUIRE(proto_exit_decode(&d, w.buf, w.len, &e) == 0);
    CHECK_STR(d.reason, x.reason);
    CHECK_STR(d.stop_reason, x.stop_reason);
    CHECK(d.powered_off && !d.killed && !d.engine_failed && !d.requested);
    CHECK_EQ(d.guest_status, -1);
    CHECK(d.has_exit_code && d.exit_code == 137 && d.signo == 9 && d.oom_killed);
    CHECK_EQ(d.start_error, BOXLITE_ERR_UNSUPPORTED);
    CHECK_STR(d.fig.engine, "kvm");
    CHECK_EQ(d.fig.cpu_user_us, 99);
    CHECK(d.paused);
    CHECK_EQ(d.pause_shares, PROTO_SHARES_UNMOUNTED);
    /* exit.json carries the same, and reads back (the post-mortem path of the fallback) */
    json_t *j = proto_exit_json(&d);
    REQUIRE(j);
    struct proto_exit back;
    REQUIRE(proto_exit_from_json(&back, j) == 0);
    CHECK_STR(back.stop_reason, x.stop_reason);
    CHECK_EQ(back.start_error, BOXLITE_ERR_UNSUPPORTED);
    CHECK(back.has_exit_code && back.exit_code == 137 && back.oom_killed);
    CHECK_STR(back.fig.engine, "kvm");
    CHECK_EQ(back.pause_shares, PROTO_SHARES_UNMOUNTED);
    CHECK_STR(json_string_value(json_object_get(j, "pause_shares")), "unmounted");
    json_decref(j);
    /* without a container exit: no exit code; not paused: no word on the volumes, in
     * the body or in exit.json */
    x.has_exit_code = false;
    x.paused = false;
    x.pause_shares = PROTO_SHARES_UNSAID;
    proto_exit_encode(&x, &w);
    REQUIRE(proto_exit_decode(&d, w.buf, w.len, &e) == 0);
    CHECK(!d.has_exit_code);
    CHECK_EQ(d.pause_shares, PROTO_SHARES_UNSAID);
    j = proto_exit_json(&d);
    CHECK(json_object_get(j, "pause_shares") == NULL);
    json_decref(j);
}

/* PAUSE_SHARES(181): a STATUS without it is an older per-box process's (UNSAID: the library
 * then has the volumes unmounted); a value this side does not know (a newer one's) reads
 * the same, not as an error; a malformed one is refused. The JSON names read back. */
TEST(pause_shares_unsaid_unknown_and_malformed)
{
    struct proto_status s;
    struct bl_error e = { 0 };
    tlv_init(&w);
    tlv_bytes(&w, T_STATE, "running", 7);
    REQUIRE(proto_status_decode(&s, w.buf, w.len, &e) == 0);
    CHECK_EQ(s.pause_shares, PROTO_SHARES_UNSAID);
    tlv_u64(&w, T_PAUSE_SHARES, 4);
    REQUIRE(proto_status_decode(&s, w.buf, w.len, &e) == 0);
    CHECK_EQ(s.pause_shares, PROTO_SHARES_UNSAID);
    tlv_init(&w);
    tlv_bytes(&w, T_STATE, "running", 7);
    tlv_u64(&w, T_PAUSE_SHARES, PROTO_SHARES_REFUSED);
    REQUIRE(proto_status_decode(&s, w.buf, w.len, &e) == 0);
    CHECK_EQ(s.pause_shares, PROTO_SHARES_REFUSED);
    tlv_bytes(&w, T_PAUSE_SHARES, "\3\0\0\0", 4);
    CHECK(proto_status_decode(&s, w.buf, w.len, &e) < 0);
    struct proto_exit x;
    tlv_init(&w);
    tlv_bytes(&w, T_STOP_REASON, "paused", 6);
    tlv_bytes(&w, T_PAUSE_SHARES, "\3", 1);
    CHECK(proto_exit_decode(&x, w.buf, w.len, &e) < 0);
    for (int v = PROTO_SHARES_REFUSED; v <= PROTO_SHARES_KEPT; v++)
        CHECK_EQ(proto_pause_shares_parse(proto_pause_shares_name(v)), v);
    CHECK(proto_pause_shares_name(PROTO_SHARES_UNSAID) == NULL);
    CHECK_EQ(proto_pause_shares_parse("folded"), PROTO_SHARES_UNSAID);
    CHECK_EQ(proto_pause_shares_parse(NULL), PROTO_SHARES_UNSAID);
}

/* The jail's supervisor writes exit.json for a VMM it saw killed: no stop_reason there. */
TEST(exit_from_supervisor_record)
{
    json_t *j = json_loads("{\"powered_off\":false,\"killed\":false,\"engine_failed\":true,"
                           "\"crashed\":true,\"guest_status\":-1,\"signal\":31,"
                           "\"reason\":\"boxlite-vmm was killed: forbidden system call\"}", 0, NULL);
    struct proto_exit x;
    REQUIRE(proto_exit_from_json(&x, j) == 0);
    CHECK_STR(x.stop_reason, "boxlite-vmm was killed: forbidden system call");
    CHECK(x.engine_failed && !x.has_exit_code);
    json_decref(j);
    CHECK(proto_exit_from_json(&x, NULL) < 0);
}

static void field(uint16_t tag, const void *v, uint16_t len)
{
    tlv_bytes(&w, tag, v, len);
}

static void u64f(uint16_t tag, uint64_t v)
{
    tlv_u64(&w, tag, v);
}

TEST(malformed_bodies_are_refused)
{
    struct proto_status s;
    struct proto_exit x;
    struct bl_error e = { 0 };
    /* no state */
    tlv_init(&w);
    u64f(T_VM_EXITS, 1);
    CHECK(proto_status_decode(&s, w.buf, w.len, &e) < 0);
    CHECK(strstr(e.msg, "without a state") != NULL);
    /* an integer of 4 bytes */
    tlv_init(&w);
    field(T_STATE, "running", 7);
    field(T_RSS_BYTES, "\1\2\3\4", 4);
    CHECK(proto_status_decode(&s, w.buf, w.len, &e) < 0);
    /* NUL in a string */
    tlv_init(&w);
    field(T_STATE, "run\0ing", 7);
    CHECK(proto_status_decode(&s, w.buf, w.len, &e) < 0);
    /* a port beyond 65535, too many ports */
    tlv_init(&w);
    field(T_STATE, "running", 7);
    u64f(T_HOST_PORT, 70000);
    CHECK(proto_status_decode(&s, w.buf, w.len, &e) < 0);
    tlv_init(&w);
    field(T_STATE, "running", 7);
    for (int i = 0; i <= PROTO_MAX_PORTS; i++)
        u64f(T_HOST_PORT, 1000 + i);
    CHECK(proto_status_decode(&s, w.buf, w.len, &e) < 0);
    CHECK(strstr(e.msg, "HOST_PORT") != NULL);
    /* a truncated field; health freed on the way out (ASan would say) */
    tlv_init(&w);
    field(T_STATE, "running", 7);
    field(T_HEALTH, "{}", 2);
    CHECK(proto_status_decode(&s, w.buf, w.len - 1, &e) < 0);
    /* EXIT without a stop reason; with a START_ERROR that is no code */
    tlv_init(&w);
    field(T_REASON, "x", 1);
    CHECK(proto_exit_decode(&x, w.buf, w.len, &e) < 0);
    tlv_init(&w);
    field(T_STOP_REASON, "stopped", 7);
    u64f(T_START_ERROR, (uint64_t)-5);
    CHECK(proto_exit_decode(&x, w.buf, w.len, &e) < 0);
    /* unknown tags are skipped, a string too long for its field is cut */
    tlv_init(&w);
    field(999, "future", 6);
    char long_state[100];
    memset(long_state, 'r', sizeof long_state);
    field(T_STATE, long_state, sizeof long_state);
    REQUIRE(proto_status_decode(&s, w.buf, w.len, &e) == 0);
    CHECK_EQ(strlen(s.state), sizeof s.state - 1);
    proto_status_free(&s);
}

TEST(control_frames_live_on_channel_zero)
{
    struct proto_hdr h = { .type = PROTO_STATUS, .channel = 0 };
    CHECK_EQ(proto_hdr_check(&h, NULL), 0);
    h.channel = 3;
    CHECK(proto_hdr_check(&h, NULL) < 0);
    h = (struct proto_hdr){ .type = PROTO_EXIT, .channel = 0, .len = 10 };
    CHECK_EQ(proto_hdr_check(&h, NULL), 0);
    CHECK_STR(proto_type_name(PROTO_STATUS), "STATUS");
    CHECK_STR(proto_type_name(PROTO_EXIT), "EXIT");
}

/* BALLOON (docs/protocol.md "Balloon"): its body both ways, the target required; STATUS
 * carries the guest-memory figures; the frame lives on channel 0. */
TEST(balloon_body_and_memory_figures)
{
    uint64_t t = 9, a = 9;
    struct bl_error e = { 0 };
    proto_balloon_encode(128, 0, false, &w);
    REQUIRE(proto_balloon_decode(w.buf, w.len, &t, &a, &e) == 0);
    CHECK_EQ(t, 128);
    CHECK_EQ(a, 0);
    proto_balloon_encode(0, 300, true, &w);
    REQUIRE(proto_balloon_decode(w.buf, w.len, &t, &a, &e) == 0);
    CHECK_EQ(t, 0);
    CHECK_EQ(a, 300);
    tlv_init(&w);
    CHECK(proto_balloon_decode(w.buf, w.len, &t, NULL, &e) < 0);
    CHECK(strstr(e.msg, "without a target") != NULL);
    tlv_init(&w);
    tlv_str(&w, T_BALLOON_TARGET_MIB, "lots"); /* not 8 bytes */
    CHECK(proto_balloon_decode(w.buf, w.len, &t, NULL, &e) < 0);

    struct proto_status s = { 0 }, d;
    snprintf(s.state, sizeof s.state, "running");
    s.fig.balloon_target_mib = 128;
    s.fig.balloon_actual_mib = 130;
    s.fig.mem_returned = 300u << 20;
    s.fig.guest_resident = 40u << 20;
    s.fig.host_rss = 90u << 20;
    proto_status_encode(&s, &w);
    REQUIRE(proto_status_decode(&d, w.buf, w.len, &e) == 0);
    CHECK_EQ(d.fig.balloon_target_mib, 128);
    CHECK_EQ(d.fig.balloon_actual_mib, 130);
    CHECK_EQ(d.fig.mem_returned, 300u << 20);
    CHECK_EQ(d.fig.guest_resident, 40u << 20);
    CHECK_EQ(d.fig.host_rss, 90u << 20);
    json_t *j = proto_status_json(&d);
    CHECK_EQ(json_integer_value(json_object_get(j, "host_rss_bytes")), 90 << 20);
    CHECK_EQ(json_integer_value(json_object_get(j, "guest_resident_bytes")), 40 << 20);
    CHECK_EQ(json_integer_value(json_object_get(j, "mem_returned_bytes")), 300 << 20);
    CHECK_EQ(json_integer_value(json_object_get(j, "balloon_actual_mib")), 130);
    json_decref(j);
    proto_status_free(&d);

    struct proto_hdr h = { .type = PROTO_BALLOON, .channel = 0 };
    CHECK(proto_hdr_check(&h, &e) == 0);
    CHECK_STR(proto_type_name(PROTO_BALLOON), "BALLOON");
    h.channel = 3;
    CHECK(proto_hdr_check(&h, &e) < 0);
    /* RECLAIM is a request: a channel of its own */
    struct proto_hdr r = { .type = PROTO_RECLAIM, .channel = 0 };
    CHECK(proto_hdr_check(&r, &e) < 0);
    r.channel = 5;
    CHECK(proto_hdr_check(&r, &e) == 0);
    CHECK_STR(proto_type_name(PROTO_RECLAIM), "RECLAIM");
}
