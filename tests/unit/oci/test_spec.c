// SPDX-License-Identifier: Apache-2.0
/* boxlite-runtime's parsers (src/oci/spec.c, state.c): config.json as runc's `spec` writes
 * it and as Podman writes it, each malformed field refused with its name, annotations,
 * memory sizes, signals, the state record and runtime-spec's state document. The runtime
 * itself (relay, podman) is proven by tests/e2e/oci_runtime.sh. */
#include "harness/harness.h"
#include "oci/spec.h"
#include "oci/state.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* runc spec's output, shortened, with a bind mount and annotations added */
static const char *const CONFIG =
    "{\"ociVersion\": \"1.0.2-dev\","
    " \"process\": {\"terminal\": true, \"user\": {\"uid\": 1000, \"gid\": 100},"
    "   \"args\": [\"sh\", \"-c\", \"echo hi\"],"
    "   \"env\": [\"PATH=/usr/bin:/bin\", \"TERM=xterm\"], \"cwd\": \"/work\","
    "   \"consoleSize\": {\"height\": 40, \"width\": 120},"
    "   \"capabilities\": {\"bounding\": [\"CAP_KILL\"]},"
    "   \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],"
    "   \"noNewPrivileges\": true},"
    " \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
    " \"hostname\": \"web\","
    " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
    "   {\"destination\": \"/data\", \"type\": \"none\", \"source\": \"/srv/data\","
    "    \"options\": [\"rbind\", \"ro\"]},"
    "   {\"destination\": \"/out\", \"type\": \"bind\", \"source\": \"/srv/out\"}],"
    " \"annotations\": {\"io.boxlite.cpus\": \"2\", \"io.boxlite.memory\": \"1G\","
    "   \"io.boxlite.engine\": \"qemu\", \"org.example\": \"x\"},"
    " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\","
    "   \"path\": \"/run/netns/x\"}]}}";

TEST(parses_what_a_box_honours)
{
    struct oci_spec s;
    struct bl_error err = { 0 };
    REQUIRE(oci_spec_parse(CONFIG, strlen(CONFIG), &s, &err) == 0);
    CHECK_STR(s.oci_version, "1.0.2-dev");
    CHECK_STR(s.root_path, "rootfs");
    CHECK(s.root_readonly);
    CHECK_STR(s.process.args[0], "sh");
    CHECK_STR(s.process.args[2], "echo hi");
    CHECK(s.process.args[3] == NULL);
    CHECK_STR(s.process.env[1], "TERM=xterm");
    CHECK_STR(s.process.cwd, "/work");
    CHECK_EQ(s.process.uid, 1000);
    CHECK_EQ(s.process.gid, 100);
    CHECK(s.process.terminal);
    CHECK_EQ(s.process.rows, 40);
    CHECK_EQ(s.process.cols, 120);
    CHECK_STR(s.hostname, "web");
    REQUIRE(s.nmounts == 3);
    CHECK(!s.mounts[0].bind);
    CHECK(s.mounts[1].bind && s.mounts[1].readonly);
    CHECK_STR(s.mounts[1].source, "/srv/data");
    CHECK(s.mounts[2].bind && !s.mounts[2].readonly);
    CHECK_EQ(s.cpus, 2);
    CHECK_EQ(s.memory_mib, 1024);
    CHECK_STR(s.engine, "qemu");
    CHECK_STR(oci_spec_annotation(&s, "org.example"), "x");
    CHECK(oci_spec_annotation(&s, "org.none") == NULL);
    CHECK_STR(oci_env_get(s.process.env, "PATH"), "/usr/bin:/bin");
    CHECK(oci_env_get(s.process.env, "PAT") == NULL);
    CHECK(s.netns);
    CHECK_STR(s.netns_path, "/run/netns/x");
    oci_spec_free(&s);
    oci_spec_free(&s); /* freed twice: the second finds it empty */
}

TEST(defaults_when_fields_are_absent)
{
    const char *j = "{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"/r\"},"
                    " \"process\": {\"args\": [\"true\"]}}";
    struct oci_spec s;
    struct bl_error err = { 0 };
    REQUIRE(oci_spec_parse(j, strlen(j), &s, &err) == 0);
    CHECK_STR(s.process.cwd, "/");
    CHECK(s.process.env && s.process.env[0] == NULL);
    CHECK(!s.process.terminal && s.process.uid == 0 && s.hostname == NULL);
    CHECK(s.nmounts == 0 && s.cpus == 0 && s.memory_mib == 0 && s.engine == NULL);
    oci_spec_free(&s);
}

/* Each bad document is refused, the message names what is wrong, nothing leaks (ASan). */
TEST(malformed_configs_name_the_field)
{
    static const struct { const char *json, *want; } bad[] = {
        { "", "not JSON" },
        { "[]", "not a JSON object" },
        { "{\"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"]}}", "ociVersion" },
        { "{\"ociVersion\": \"1\", \"process\": {\"args\": [\"x\"]}}", "root is missing" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"\"}, \"process\": {\"args\": [\"x\"]}}",
          "root.path is empty" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}}", "process is missing" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": []}}",
          "must name a program" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [1]}}",
          "process.args[0] must be a string" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"],"
          " \"env\": [\"NOEQUALS\"]}}", "process.env[0] is not KEY=VALUE" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"],"
          " \"cwd\": \"rel\"}}", "not absolute" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"a\\u0000b\"]}}",
          "NUL" },
        { "{\"ociVersion\": \"1\", \"ociVersion\": \"2\", \"root\": {\"path\": \"r\"},"
          " \"process\": {\"args\": [\"x\"]}}", "duplicate" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"],"
          " \"user\": {\"uid\": -1}}}", "process.user.uid" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"],"
          " \"consoleSize\": {\"height\": 70000, \"width\": 1}}}", "65535" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"],"
          " \"terminal\": \"yes\"}}", "process.terminal must be true or false" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"]},"
          " \"mounts\": [{\"destination\": \"rel\"}]}", "mounts[0].destination" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"]},"
          " \"mounts\": [{\"destination\": \"/a\", \"options\": [7]}]}", "mounts[0].options[0]" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"]},"
          " \"annotations\": {\"io.boxlite.cpus\": \"0\"}}", "io.boxlite.cpus" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"]},"
          " \"annotations\": {\"io.boxlite.memory\": \"lots\"}}", "io.boxlite.memory" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"]},"
          " \"annotations\": {\"io.boxlite.engine\": \"xen\"}}", "io.boxlite.engine" },
        { "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"]},"
          " \"annotations\": {\"a\": 1}}", "annotations[\"a\"]" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct oci_spec s;
        struct bl_error err = { 0 };
        int r = oci_spec_parse(bad[i].json, strlen(bad[i].json), &s, &err);
        CHECK(r < 0);
        if (!strstr(err.msg, bad[i].want))
            harness_fail(__FILE__, __LINE__, "case %zu: [%s] not in [%s]", i, bad[i].want,
                         err.msg);
        CHECK(s.process.args == NULL && s.root_path == NULL);
    }
}

TEST(too_big_or_too_many_is_refused)
{
    struct oci_spec s;
    struct bl_error err = { 0 };
    CHECK(oci_spec_parse("{}", OCI_SPEC_MAX_BYTES + 1, &s, &err) < 0);
    CHECK(strstr(err.msg, "bytes") != NULL);
    /* 4097 arguments */
    size_t cap = 64 + 6 * (OCI_MAX_ARGS + 1) + 64;
    char *j = malloc(cap);
    REQUIRE(j);
    size_t n = (size_t)snprintf(j, cap, "{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},"
                                        "\"process\":{\"args\":[");
    for (int i = 0; i <= OCI_MAX_ARGS; i++)
        n += (size_t)snprintf(j + n, cap - n, "%s\"a\"", i ? "," : "");
    n += (size_t)snprintf(j + n, cap - n, "]}}");
    CHECK(oci_spec_parse(j, n, &s, &err) < 0);
    CHECK(strstr(err.msg, "at most 4096") != NULL);
    free(j);
}

TEST(a_name_given_twice_keeps_its_last_value)
{
    /* Podman's exec: the container's env, then the -e ones */
    const char *j = "{\"args\": [\"hello\"], \"env\": [\"PATH=/bin\", \"X=1\", \"PATH=/opt\","
                    " \"PATHX=2\", \"X=3\", \"PATH=/last\"]}";
    struct oci_process p;
    struct bl_error err = { 0 };
    REQUIRE(oci_process_parse(j, strlen(j), &p, &err) == 0);
    CHECK_STR(p.env[0], "PATH=/last");
    CHECK_STR(p.env[1], "X=3");
    CHECK_STR(p.env[2], "PATHX=2");
    CHECK(p.env[3] == NULL);
    oci_process_free(&p);
}

TEST(exec_process_file)
{
    const char *j = "{\"args\": [\"ls\", \"-l\"], \"cwd\": \"/tmp\", \"terminal\": false,"
                    " \"env\": [\"A=b=c\"]}";
    struct oci_process p;
    struct bl_error err = { 0 };
    REQUIRE(oci_process_parse(j, strlen(j), &p, &err) == 0);
    CHECK_STR(p.args[1], "-l");
    CHECK_STR(p.cwd, "/tmp");
    CHECK_STR(oci_env_get(p.env, "A"), "b=c");
    oci_process_free(&p);
    const char *notarray = "{\"args\": \"ls\"}";
    CHECK(oci_process_parse(notarray, strlen(notarray), &p, &err) < 0);
    CHECK(strstr(err.msg, "process.args must be an array") != NULL);
}

TEST(memory_sizes)
{
    static const struct { const char *in; int mib; } ok[] = {
        { "512", 512 }, { "512M", 512 }, { "512mi", 512 }, { "512MiB", 512 }, { "2G", 2048 },
        { "2gb", 2048 }, { "1048576k", 1024 }, { "1024", 1024 }, { "1048576", 1048576 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int m = 0;
        struct bl_error err = { 0 };
        CHECK(oci_parse_memory_mib(ok[i].in, &m, &err) == 0);
        if (m != ok[i].mib)
            harness_fail(__FILE__, __LINE__, "%s: %d MiB, wanted %d", ok[i].in, m, ok[i].mib);
    }
    static const char *const bad[] = { "", "-1", "0", "512k", "1T", "12X", "2GiBs", "1048577",
                                       "99999999999999999999", "1025g", " 1", "0x10" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int m = 0;
        struct bl_error err = { 0 };
        if (oci_parse_memory_mib(bad[i], &m, &err) == 0)
            harness_fail(__FILE__, __LINE__, "\"%s\" accepted as %d MiB", bad[i], m);
    }
}

TEST(signals_by_name_and_number)
{
    int s = 0;
    struct bl_error err = { 0 };
    CHECK(oci_parse_signal("KILL", &s, &err) == 0 && s == SIGKILL);
    CHECK(oci_parse_signal("SIGTERM", &s, &err) == 0 && s == SIGTERM);
    CHECK(oci_parse_signal("hup", &s, &err) == 0 && s == SIGHUP);
    CHECK(oci_parse_signal("sigwinch", &s, &err) == 0 && s == SIGWINCH);
    CHECK(oci_parse_signal("9", &s, &err) == 0 && s == 9);
    CHECK(oci_parse_signal("64", &s, &err) == 0 && s == 64);
    CHECK(oci_parse_signal("0", &s, &err) < 0);
    CHECK(oci_parse_signal("65", &s, &err) < 0);
    CHECK(oci_parse_signal("9x", &s, &err) < 0);
    CHECK(oci_parse_signal("SIG", &s, &err) < 0);
    CHECK(oci_parse_signal("NOPE", &s, &err) < 0);
    CHECK(strstr(err.msg, "invalid signal") != NULL);
}

TEST(container_ids)
{
    CHECK(oci_id_valid("909872bf9bf81fc4e0854ef47045c65b8ab9aa5f606e0b760e5108be9595c54e", NULL) == 0);
    CHECK(oci_id_valid("my_ctr-1.2+x", NULL) == 0);
    static const char *const bad[] = { "", ".", "..", "a/b", "../x", "a b", "a\nb", "ä" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(oci_id_valid(bad[i], NULL) < 0);
    char longid[OCI_ID_MAX + 2];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    CHECK(oci_id_valid(longid, NULL) < 0);
}

TEST(state_record_round_trip_and_report)
{
    struct oci_state st = { .id = "c1", .bundle = "/b", .rootfs = "/b/rootfs",
                            .created = "2026-01-01T00:00:00.000000000Z", .box = "abc",
                            .pid = 4242, .pid_start = 99 };
    char *text = oci_state_dump(&st);
    REQUIRE(text);
    struct oci_state back;
    struct bl_error err = { 0 };
    REQUIRE(oci_state_parse(text, strlen(text), &back, &err) == 0);
    CHECK_STR(back.id, "c1");
    CHECK_STR(back.box, "abc");
    CHECK_EQ(back.pid, 4242);
    CHECK_EQ(back.pid_start, 99);
    free(text);
    char *rep = oci_state_report(&back, OCI_RUNNING);
    REQUIRE(rep);
    json_t *j = json_loads(rep, 0, NULL);
    REQUIRE(j);
    CHECK_STR(json_string_value(json_object_get(j, "status")), "running");
    CHECK_EQ(json_integer_value(json_object_get(j, "pid")), 4242);
    CHECK_STR(json_string_value(json_object_get(j, "ociVersion")), OCI_SPEC_VERSION);
    CHECK_STR(json_string_value(json_object_get(j, "bundle")), "/b");
    json_decref(j);
    free(rep);
    rep = oci_state_report(&back, OCI_STOPPED);
    j = json_loads(rep, 0, NULL);
    CHECK_EQ(json_integer_value(json_object_get(j, "pid")), 0); /* as runc prints a stopped one */
    CHECK_STR(json_string_value(json_object_get(j, "status")), "stopped");
    json_decref(j);
    free(rep);
    oci_state_free(&back);
}

TEST(state_record_tampered_is_refused)
{
    static const char *const bad[] = {
        "", "{}", "{\"id\": \"../x\", \"bundle\": \"/b\", \"rootfs\": \"/r\", \"created\": \"t\","
        " \"box\": \"b\", \"pid\": 1, \"pid_start\": 1}",
        "{\"id\": \"c\", \"bundle\": \"/b\", \"rootfs\": \"/r\", \"created\": \"t\", \"box\": \"b\","
        " \"pid\": 0, \"pid_start\": 1}",
        "{\"id\": \"c\", \"bundle\": \"/b\", \"rootfs\": \"/r\", \"created\": \"t\", \"box\": \"b\","
        " \"pid\": 99999999, \"pid_start\": 1}",
        "{\"id\": \"c\", \"bundle\": 5, \"rootfs\": \"/r\", \"created\": \"t\", \"box\": \"b\","
        " \"pid\": 5, \"pid_start\": 1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct oci_state st;
        struct bl_error err = { 0 };
        CHECK(oci_state_parse(bad[i], strlen(bad[i]), &st, &err) < 0);
        CHECK(st.id == NULL);
    }
}

TEST(pid_file_is_atomic_without_newline)
{
    char p[600];
    snprintf(p, sizeof p, "%s/pid", harness_tmpdir());
    struct bl_error err = { 0 };
    REQUIRE(oci_write_atomic(p, "1234", 4, &err) == 0);
    char buf[16] = { 0 };
    int fd = open(p, O_RDONLY);
    REQUIRE(fd >= 0);
    CHECK_EQ(read(fd, buf, sizeof buf), 4);
    close(fd);
    CHECK_STR(buf, "1234");
    /* no temporary left beside it */
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", p, (int)getpid());
    CHECK(access(tmp, F_OK) != 0);
    CHECK(oci_write_atomic("/nonexistent-dir/pid", "1", 1, &err) < 0);
}

TEST(status_names)
{
    CHECK_STR(oci_status_name(OCI_CREATED), "created");
    CHECK_STR(oci_status_name(OCI_RUNNING), "running");
    CHECK_STR(oci_status_name(OCI_STOPPED), "stopped");
    char t[64];
    oci_now_rfc3339(t, sizeof t);
    CHECK(strlen(t) == 30 && t[10] == 'T' && t[29] == 'Z');
}

/* process.rlimits, capabilities, noNewPrivileges, user.umask/additionalGids, oomScoreAdj
 * as Podman 4.3 writes them for `run --cap-drop ALL --cap-add NET_BIND_SERVICE --ulimit
 * nofile=512:1024 --user 1000:1000 --security-opt no-new-privileges` (captured), plus an
 * unlimited NPROC as Go writes RLIM_INFINITY and a string holding that number. */
TEST(process_limits_and_privileges)
{
    const char *j =
        "{\"user\": {\"uid\": 1000, \"gid\": 1000, \"umask\": 18, \"additionalGids\": [1000, 7]},"
        " \"args\": [\"true\"], \"env\": [\"X=18446744073709551615\"], \"cwd\": \"/root\","
        " \"capabilities\": {\"bounding\": [\"CAP_NET_BIND_SERVICE\"],"
        "   \"effective\": [\"CAP_NET_BIND_SERVICE\"], \"inheritable\": [\"CAP_NET_BIND_SERVICE\"],"
        "   \"permitted\": [\"CAP_NET_BIND_SERVICE\", \"CAP_CHECKPOINT_RESTORE\", \"CAP_CHOWN\"],"
        "   \"ambient\": [\"CAP_NET_BIND_SERVICE\", \"CAP_FUTURE_THING\"]},"
        " \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 512},"
        "   {\"type\": \"RLIMIT_NPROC\", \"hard\": 18446744073709551615, \"soft\": 18446744073709551615}],"
        " \"noNewPrivileges\": true, \"oomScoreAdj\": -17}";
    struct oci_process p;
    struct bl_error err = { 0 };
    REQUIRE(oci_process_parse(j, strlen(j), &p, &err) == 0);
    REQUIRE(p.nrlimits == 2);
    CHECK_EQ(p.rlimits[0].resource, 7);
    CHECK_EQ(p.rlimits[0].soft, 512);
    CHECK_EQ(p.rlimits[0].hard, 1024);
    CHECK_EQ(p.rlimits[1].resource, 6);
    CHECK(p.rlimits[1].soft == UINT64_MAX && p.rlimits[1].hard == UINT64_MAX);
    CHECK_STR(p.env[0], "X=18446744073709551615"); /* strings are left alone */
    CHECK(p.has_caps);
    CHECK_EQ(p.cap_bounding, 1ull << 10);
    CHECK_EQ(p.cap_effective, 1ull << 10);
    CHECK_EQ(p.cap_inheritable, 1ull << 10);
    CHECK_EQ(p.cap_permitted, (1ull << 10) | (1ull << 40) | 1);
    CHECK_EQ(p.cap_ambient, 1ull << 10);
    CHECK_STR(p.cap_unknown, "CAP_FUTURE_THING"); /* warned about, not fatal (config.md) */
    CHECK(p.no_new_privs);
    CHECK(p.has_umask && p.umask == 022);
    REQUIRE(p.has_gids && p.ngids == 2);
    CHECK_EQ(p.gids[1], 7);
    CHECK(p.has_oom_score_adj && p.oom_score_adj == -17);
    oci_process_free(&p);
    /* absent: nothing set; present but empty capabilities: every set empty */
    const char *bare = "{\"args\": [\"true\"], \"capabilities\": {}}";
    REQUIRE(oci_process_parse(bare, strlen(bare), &p, &err) == 0);
    CHECK(p.has_caps && !p.cap_bounding && !p.cap_effective);
    CHECK(!p.nrlimits && !p.no_new_privs && !p.has_umask && !p.has_gids && !p.has_oom_score_adj);
    oci_process_free(&p);

    static const struct { const char *json, *want; } bad[] = {
        { "{\"args\": [\"x\"], \"rlimits\": [{\"type\": \"RLIMIT_NOFLIE\", \"soft\": 1, \"hard\": 1}]}",
          "process.rlimits[0].type \"RLIMIT_NOFLIE\" is not a resource limit" },
        { "{\"args\": [\"x\"], \"rlimits\": [{\"type\": \"NOFILE\", \"soft\": 1, \"hard\": 1}]}",
          "is not a resource limit" },
        { "{\"args\": [\"x\"], \"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"soft\": 2, \"hard\": 1}]}",
          "soft limit 2 above the hard limit 1" },
        { "{\"args\": [\"x\"], \"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"soft\": 1, \"hard\": 1},"
          " {\"type\": \"RLIMIT_CORE\", \"soft\": 1, \"hard\": 1}]}", "RLIMIT_CORE given twice" },
        { "{\"args\": [\"x\"], \"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"soft\": -2, \"hard\": 1}]}",
          "rlimits[0].soft must be an integer" },
        { "{\"args\": [\"x\"], \"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"hard\": 1}]}",
          "rlimits[0].soft must be an integer" },
        { "{\"args\": [\"x\"], \"rlimits\": {}}", "process.rlimits must be an array" },
        { "{\"args\": [\"x\"], \"capabilities\": {\"bounding\": \"CAP_KILL\"}}",
          "capabilities.bounding must be an array" },
        { "{\"args\": [\"x\"], \"capabilities\": {\"ambient\": [7]}}",
          "capabilities.ambient[0] must be a string" },
        { "{\"args\": [\"x\"], \"noNewPrivileges\": 1}", "noNewPrivileges must be true or false" },
        { "{\"args\": [\"x\"], \"oomScoreAdj\": 1001}", "oomScoreAdj must be an integer from -1000" },
        { "{\"args\": [\"x\"], \"user\": {\"uid\": 0, \"umask\": 512}}", "umask 1000 is not a mode" },
        { "{\"args\": [\"x\"], \"user\": {\"uid\": 0, \"additionalGids\": [-1]}}",
          "additionalGids[0] must be an integer from 0" },
        { "{\"args\": [\"x\"], \"user\": {\"uid\": 18446744073709551615}}",
          "process.user.uid must be an integer" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        CHECK(oci_process_parse(bad[i].json, strlen(bad[i].json), &p, &err) < 0);
        if (!strstr(err.msg, bad[i].want))
            CHECK_STR(err.msg, bad[i].want);
    }
    CHECK_EQ(oci_rlimit_number("RLIMIT_RTTIME"), 15);
    CHECK_STR(oci_rlimit_name(7), "NOFILE");
    CHECK(oci_rlimit_name(16) == NULL);
    CHECK_EQ(oci_cap_number("CAP_SYS_ADMIN"), 21);
    CHECK_EQ(oci_cap_number("SYS_ADMIN"), -1);
}

/* io.boxlite.ports: the container's TCP ports the relay carries into the box. */
TEST(published_ports_annotation)
{
    uint16_t p[OCI_MAX_PORTS];
    size_t n;
    struct bl_error err = { 0 };
    REQUIRE(oci_parse_ports("80,443/tcp,8080", p, &n, &err) == 0);
    REQUIRE(n == 3);
    CHECK_EQ(p[0], 80);
    CHECK_EQ(p[1], 443);
    CHECK_EQ(p[2], 8080);
    REQUIRE(oci_parse_ports("", p, &n, &err) == 0);
    CHECK_EQ(n, 0);
    static const struct { const char *s, *want; } bad[] = {
        { "0", "number from 1 to 65535" }, { "65536", "number from 1 to 65535" },
        { "http", "number from 1 to 65535" }, { "-1", "number from 1 to 65535" },
        { "53/udp", "UDP is not carried" }, { "80 443", "separated by commas" },
        { "80,80", "port 80 twice" },
        { "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "more than 16 ports" },
        { "99999999999999999999", "number from 1 to 65535" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        CHECK(oci_parse_ports(bad[i].s, p, &n, &err) < 0);
        if (!strstr(err.msg, bad[i].want))
            CHECK_STR(err.msg, bad[i].want);
    }
    const char *cfg = "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\":"
                      " [\"x\"]}, \"annotations\": {\"io.boxlite.ports\": \"8080\"}}";
    struct oci_spec s;
    REQUIRE(oci_spec_parse(cfg, strlen(cfg), &s, &err) == 0);
    CHECK(s.nports == 1 && s.ports[0] == 8080);
    oci_spec_free(&s);
    const char *bad_cfg = "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": "
                          "{\"args\": [\"x\"]}, \"annotations\": {\"io.boxlite.ports\": \"x\"}}";
    CHECK(oci_spec_parse(bad_cfg, strlen(bad_cfg), &s, &err) < 0);
    CHECK(strstr(err.msg, "annotation io.boxlite.ports") != NULL);
}

/* tmpfs mounts keep their options for the guest; a word neither mount(8) nor tmpfs(5)
 * knows fails the parse, naming the mount */
TEST(tmpfs_mount_options)
{
    struct oci_spec s;
    struct bl_error err = { 0 };
    const char *j = "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":"
                    "[\"true\"]},\"mounts\":[{\"destination\":\"/tmp\",\"type\":\"tmpfs\","
                    "\"source\":\"tmpfs\",\"options\":[\"rw\",\"rprivate\",\"nosuid\",\"nodev\","
                    "\"tmpcopyup\",\"size=1m\",\"mode=1770\"]},{\"destination\":\"/run\","
                    "\"type\":\"tmpfs\",\"source\":\"tmpfs\"},{\"destination\":\"/v\",\"type\":"
                    "\"tmpfs\",\"source\":\"/s\",\"options\":[\"rbind\"]},{\"destination\":"
                    "\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}]}";
    REQUIRE(oci_spec_parse(j, strlen(j), &s, &err) == 0);
    REQUIRE(s.nmounts == 4);
    CHECK_STR(s.mounts[0].tmpfs_options, "rw,rprivate,nosuid,nodev,tmpcopyup,size=1m,mode=1770");
    CHECK_STR(s.mounts[1].tmpfs_options, "");
    CHECK(s.mounts[2].tmpfs_options == NULL); /* a bind, whatever its type says */
    CHECK(s.mounts[3].tmpfs_options == NULL);
    oci_spec_free(&s);

    struct { const char *opt; const char *why; } bad[] = {
        { "\"size=1m\",\"bogus\"", "mounts[0] (tmpfs /x): tmpfs option \"bogus\" unknown" },
        { "\"size=1m,mode=1777\"", "a tmpfs option with a comma" },
        { "\"mode=17 77\"", "a bad value" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[512];
        snprintf(doc, sizeof doc, "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},"
                 "\"process\":{\"args\":[\"true\"]},\"mounts\":[{\"destination\":\"/x\","
                 "\"type\":\"tmpfs\",\"options\":[%s]}]}", bad[i].opt);
        CHECK(oci_spec_parse(doc, strlen(doc), &s, &err) < 0);
        if (!strstr(err.msg, bad[i].why))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, err.msg,
                         bad[i].why);
    }
    const char *dots = "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{"
                       "\"args\":[\"true\"]},\"mounts\":[{\"destination\":\"/a/../x\",\"type\":"
                       "\"tmpfs\"}]}";
    CHECK(oci_spec_parse(dots, strlen(dots), &s, &err) < 0);
    CHECK(strstr(err.msg, "\"..\"") != NULL);
}
