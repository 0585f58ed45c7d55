// SPDX-License-Identifier: Apache-2.0
/* tmpfs mounts: the options parser (src/proto/tmpfs.c) and the EXEC field TMPFS(165). */
#include "harness/harness.h"
#include "proto/proto.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

TEST(tmpfs_options_split_into_flags_and_data)
{
    struct bl_error e = {0};
    char data[PROTO_TMPFS_DATA_MAX];
    uint32_t fl = 0;
    /* Podman's --tmpfs words plus size and mode: propagation and tmpcopyup change nothing */
    REQUIRE(proto_tmpfs_options("rw,rprivate,noexec,nosuid,nodev,tmpcopyup,size=1m,mode=1770",
                                &fl, data, sizeof data, &e) == 0);
    CHECK_EQ(fl, MS_NOEXEC | MS_NOSUID | MS_NODEV);
    CHECK_STR(data, "size=1m,mode=1770");
    /* a later word undoes an earlier one, as mount(8) reads them */
    REQUIRE(proto_tmpfs_options("ro,noexec,exec,nr_inodes=10k,uid=1000,gid=1000,inode64", &fl,
                                data, sizeof data, &e) == 0);
    CHECK_EQ(fl, MS_RDONLY);
    CHECK_STR(data, "nr_inodes=10k,uid=1000,gid=1000,inode64");
    REQUIRE(proto_tmpfs_options(NULL, &fl, data, sizeof data, &e) == 0);
    CHECK(fl == 0 && !data[0]);
    REQUIRE(proto_tmpfs_options("", &fl, data, sizeof data, &e) == 0);
    REQUIRE(proto_tmpfs_options("defaults,,strictatime,mpol=bind:0-1", &fl, data, sizeof data,
                                &e) == 0);
    CHECK_EQ(fl, MS_STRICTATIME);
    CHECK_STR(data, "mpol=bind:0-1");

    struct { const char *opts; const char *why; } bad[] = {
        {"size=1m,bogus", "\"bogus\" unknown"},
        {"sizes=1", "\"sizes=1\" unknown"},
        {"size=", "a bad value"},
        {"mode=1777;x", "a bad value"},
        {"size=1m x", "a bad value"},
        {"uid=0\n", "a bad value"},
        {"bind", "unknown"}, /* a bind is not a tmpfs */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(proto_tmpfs_options(bad[i].opts, &fl, data, sizeof data, &e) < 0);
        if (!strstr(e.msg, bad[i].why))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, e.msg,
                         bad[i].why);
    }
    /* the data string is bounded */
    char big[600] = "size=1";
    for (size_t n = strlen(big); n < sizeof big - 8; n = strlen(big))
        strcat(big, ",size=1");
    CHECK(proto_tmpfs_options(big, &fl, data, sizeof data, &e) < 0);
    CHECK(strstr(e.msg, "more than") != NULL);
}

TEST(tmpfs_exec_field_roundtrip_and_malformed)
{
    struct tlv_writer *w = malloc(sizeof *w);
    char *argv[] = {"sh", NULL};
    struct proto_tmpfs t[2] = {
        {.path = "/tmp", .flags = MS_NOSUID | MS_NODEV, .data = "size=64m,mode=1777"},
        {.path = "/run/x", .flags = 0, .data = ""},
    };
    struct proto_exec_req req = {.argv = argv, .tmpfs = t, .ntmpfs = 2};
    struct bl_error e = {0};
    REQUIRE(proto_exec_req_encode(&req, w, &e) == 0);
    struct proto_exec_req d;
    REQUIRE(proto_exec_req_decode(&d, w->buf, w->len, &e) == 0);
    REQUIRE(d.ntmpfs == 2);
    CHECK_STR(d.tmpfs[0].path, "/tmp");
    CHECK_EQ(d.tmpfs[0].flags, MS_NOSUID | MS_NODEV);
    CHECK_STR(d.tmpfs[0].data, "size=64m,mode=1777");
    CHECK_STR(d.tmpfs[1].path, "/run/x");
    CHECK_STR(d.tmpfs[1].data, "");
    proto_exec_req_free(&d);
    /* the host refuses to send what the agent would refuse */
    t[1].path = "/a/../b";
    CHECK(proto_exec_req_encode(&req, w, &e) < 0);
    t[1].path = "/b";
    t[1].flags = MS_BIND;
    CHECK(proto_exec_req_encode(&req, w, &e) < 0);

    struct { const char *val; size_t len; const char *why; } bad[] = {
        {"\x02\0\0\0/tmp", 8, "flags, a path, a NUL"},          /* no NUL */
        {"\x02\0\0", 3, "flags, a path, a NUL"},                /* short */
        {"\x00\x10\0\0/tmp\0", 9, "within"},                    /* MS_BIND */
        {"\0\0\0\0\0size=1", 11, "a path of 0 bytes"},          /* no path */
        {"\0\0\0\0tmp\0", 8, "not absolute"},                   /* relative */
        {"\0\0\0\0/a/../b\0", 12, "not absolute"},              /* ".." */
        {"\0\0\0\0/t\0size=1,ro", 16, "not tmpfs(5)'s options"}, /* a flag in the data */
        {"\0\0\0\0/t\0bogus", 12, "not tmpfs(5)'s options"},
        {"\0\0\0\0/t\0size=1\0x", 15, "no NUL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tlv_init(w);
        tlv_str(w, T_ARG, "x");
        tlv_bytes(w, T_TMPFS, bad[i].val, bad[i].len);
        CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
        if (!strstr(e.msg, bad[i].why))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, e.msg,
                         bad[i].why);
    }
    /* at most PROTO_MAX_CONFINE of them */
    tlv_init(w);
    tlv_str(w, T_ARG, "x");
    for (unsigned i = 0; i <= PROTO_MAX_CONFINE; i++)
        tlv_bytes(w, T_TMPFS, "\0\0\0\0/t\0", 7);
    REQUIRE(!w->overflow);
    CHECK(proto_exec_req_decode(&d, w->buf, w->len, &e) < 0);
    CHECK(strstr(e.msg, "at most 256 mounts") != NULL);
    free(w);
}
