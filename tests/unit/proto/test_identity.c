// SPDX-License-Identifier: Apache-2.0
/* IDENTITY (docs/protocol.md): a fork's new hostname, MAC, RNG seed and clock. What the host
 * sends decodes to the same fields; what a hostile peer sends (bad host names, multicast or
 * malformed MACs, a seed of the wrong size, no seed) is refused with the reason; the EXIT
 * body's PAUSED flag round-trips. */
#include "harness/harness.h"
#include "proto/control.h"
#include "proto/control_json.h"
#include "proto/proto.h"

#include <string.h>

static struct tlv_writer w;

TEST(identity_roundtrip)
{
    tlv_init(&w);
    tlv_str(&w, T_HOSTNAME, "fork-1.example");
    tlv_str(&w, T_MAC, "02:ab:cd:ef:01:23");
    uint8_t seed[PROTO_SEED_BYTES];
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)(i * 7);
    tlv_bytes(&w, T_SEED, seed, sizeof seed);
    tlv_u64(&w, T_TIME_NS, 1234567890123ull);
    tlv_u64(&w, 999, 1); /* unknown: skipped */
    struct proto_identity id;
    struct bl_error err = {0};
    REQUIRE(proto_identity_decode(&id, w.buf, w.len, &err) == 0);
    CHECK_STR(id.hostname, "fork-1.example");
    CHECK_STR(id.mac, "02:ab:cd:ef:01:23");
    CHECK(memcmp(id.seed, seed, sizeof seed) == 0);
    CHECK_EQ(id.time_ns, 1234567890123ull);
    /* the seed alone is enough */
    tlv_init(&w);
    tlv_bytes(&w, T_SEED, seed, sizeof seed);
    REQUIRE(proto_identity_decode(&id, w.buf, w.len, &err) == 0);
    CHECK_STR(id.hostname, "");
    CHECK_STR(id.mac, "");
}

TEST(identity_refuses_bad_fields)
{
    uint8_t seed[PROTO_SEED_BYTES] = {1};
    struct {
        uint16_t tag;
        const char *value;
        const char *says;
    } bad[] = {
        {T_HOSTNAME, "has space", "hostname"},
        {T_HOSTNAME, "-leading", "hostname"},
        {T_HOSTNAME, "a/b", "hostname"},
        {T_HOSTNAME, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "hostname"},
        {T_MAC, "03:00:00:00:00:01", "MAC"}, /* multicast */
        {T_MAC, "02:00:00:00:00", "MAC"},
        {T_MAC, "02-00-00-00-00-01", "MAC"},
        {T_MAC, "02:00:00:00:00:0g", "MAC"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tlv_init(&w);
        tlv_str(&w, bad[i].tag, bad[i].value);
        tlv_bytes(&w, T_SEED, seed, sizeof seed);
        struct proto_identity id;
        struct bl_error err = {0};
        CHECK(proto_identity_decode(&id, w.buf, w.len, &err) < 0);
        CHECK_EQ(err.code, BOXLITE_ERR_PROTOCOL);
        if (!strstr(err.msg, bad[i].says))
            CHECK_STR(err.msg, bad[i].says);
    }
    struct proto_identity id;
    struct bl_error err = {0};
    tlv_init(&w);
    tlv_bytes(&w, T_SEED, seed, 31);
    CHECK(proto_identity_decode(&id, w.buf, w.len, &err) < 0);
    CHECK(strstr(err.msg, "seed") != NULL);
    tlv_init(&w);
    tlv_str(&w, T_HOSTNAME, "fine");
    CHECK(proto_identity_decode(&id, w.buf, w.len, &err) < 0);
    CHECK(strstr(err.msg, "without a seed") != NULL);
    CHECK(proto_identity_decode(&id, "\x36\x00\xff", 3, &err) < 0); /* truncated */
}

TEST(mac_parse)
{
    uint8_t m[6];
    CHECK(proto_mac_parse("52:54:00:12:34:56", m) == 0);
    CHECK(m[0] == 0x52 && m[5] == 0x56);
    CHECK(proto_mac_parse("FF:FF:FF:FF:FF:FF", m) < 0);
    CHECK(proto_mac_parse("52:54:00:12:34:5", m) < 0);
    CHECK(proto_mac_parse("52:54:00:12:34:567", m) < 0);
}

TEST(exit_paused_roundtrips)
{
    struct proto_exit x = {.paused = true, .guest_status = -1};
    snprintf(x.stop_reason, sizeof x.stop_reason, "paused");
    tlv_init(&w);
    proto_exit_encode(&x, &w);
    struct proto_exit y;
    struct bl_error err = {0};
    REQUIRE(proto_exit_decode(&y, w.buf, w.len, &err) == 0);
    CHECK(y.paused);
    json_t *j = proto_exit_json(&x);
    CHECK(json_is_true(json_object_get(j, "paused")));
    struct proto_exit z;
    REQUIRE(proto_exit_from_json(&z, j) == 0);
    CHECK(z.paused);
    json_decref(j);
    x.paused = false;
    tlv_init(&w);
    proto_exit_encode(&x, &w);
    REQUIRE(proto_exit_decode(&y, w.buf, w.len, &err) == 0);
    CHECK(!y.paused);
}

TEST(pause_is_a_connection_frame)
{
    struct proto_hdr h = {.type = PROTO_PAUSE, .channel = 0};
    struct bl_error err = {0};
    CHECK(proto_hdr_check(&h, &err) == 0);
    h.channel = 3;
    CHECK(proto_hdr_check(&h, &err) < 0);
    struct proto_hdr r = {.type = PROTO_IDENTITY, .channel = 3};
    CHECK(proto_hdr_check(&r, &err) == 0);
    r.channel = 0;
    CHECK(proto_hdr_check(&r, &err) < 0);
}
