// SPDX-License-Identifier: Apache-2.0
/* linux.resources and linux.cgroupsPath as boxlite-runtime reads them (src/oci/resources.c):
 * the values Podman and runc write, each malformed field refused with its name, update's
 * merge, and the cgroup layout of the cgroupfs and systemd forms. The cgroup itself (files,
 * freezer, the box in it) is proven by tests/e2e/oci_process.sh. */
#include "harness/harness.h"
#include "oci/resources.h"
#include "oci/spec.h"

#include <stdio.h>
#include <string.h>

/* Podman 4.3's resources for `run --memory 300m --cpus 1.5 --cpuset-cpus 0-1` (captured) */
static const char *const PODMAN =
    "{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}],"
    " \"memory\": {\"limit\": 314572800, \"swap\": 629145600},"
    " \"cpu\": {\"quota\": 150000, \"period\": 100000, \"cpus\": \"0-1\"},"
    " \"pids\": {\"limit\": 2048}}";

TEST(podman_resources)
{
    struct oci_resources r;
    struct bl_error err = { 0 };
    REQUIRE(oci_resources_parse(PODMAN, strlen(PODMAN), &r, &err) == 0);
    CHECK(r.has_mem_limit);
    CHECK_EQ(r.mem_limit, 314572800);
    CHECK(r.has_mem_swap);
    CHECK_EQ(r.mem_swap, 629145600);
    CHECK(!r.has_mem_reservation);
    CHECK(r.has_cpu_quota);
    CHECK_EQ(r.cpu_quota, 150000);
    CHECK(r.has_cpu_period);
    CHECK_EQ(r.cpu_period, 100000);
    CHECK(!r.has_cpu_shares);
    CHECK_STR(r.cpuset_cpus, "0-1");
    CHECK_STR(r.cpuset_mems, "");
    CHECK(r.has_pids_limit);
    CHECK_EQ(r.pids_limit, 2048);
}

TEST(in_config_json_and_absent)
{
    const char *cfg = "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"r\"},"
                      " \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"},"
                      " \"linux\": {\"cgroupsPath\": \"/libpod_parent/libpod-x\","
                      "  \"resources\": {\"memory\": {\"limit\": -1}, \"cpu\": {\"shares\": 0,"
                      "  \"quota\": 0}}}}";
    struct oci_spec s;
    struct bl_error err = { 0 };
    REQUIRE(oci_spec_parse(cfg, strlen(cfg), &s, &err) == 0);
    CHECK_STR(s.cgroups_path, "/libpod_parent/libpod-x");
    CHECK(s.res.has_mem_limit);
    CHECK_EQ(s.res.mem_limit, -1);
    CHECK(oci_resources_given(&s.res));
    /* Go's zero values are "not given" */
    CHECK(!s.res.has_cpu_shares);
    CHECK(!s.res.has_cpu_quota);
    oci_spec_free(&s);
    const char *none = "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"r\"},"
                       " \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"}}";
    REQUIRE(oci_spec_parse(none, strlen(none), &s, &err) == 0);
    CHECK(s.cgroups_path == NULL);
    CHECK(!oci_resources_given(&s.res));
    oci_spec_free(&s);
}

TEST(malformed_resources_name_the_field)
{
    static const struct {
        const char *json, *want;
    } bad[] = {
        { "[]", "resources must be an object" },
        { "{\"memory\": 5}", "resources.memory must be an object" },
        { "{\"memory\": {\"limit\": \"1G\"}}", "resources.memory.limit must be an integer" },
        { "{\"memory\": {\"limit\": -2}}", "resources.memory.limit must be an integer of at least -1" },
        { "{\"cpu\": {\"period\": 10}}", "resources.cpu.period 10 is not from 1000" },
        { "{\"cpu\": {\"shares\": -5}}", "resources.cpu.shares must be an integer" },
        { "{\"cpu\": {\"cpus\": \"0;reboot\"}}", "resources.cpu.cpus must be a list" },
        { "{\"cpu\": {\"mems\": 1}}", "resources.cpu.mems must be a list" },
        { "{\"cpu\": {\"cpus\": \"0\\u0000,1\"}}", "resources: line 1" },
        { "{\"pids\": []}", "resources.pids must be an object" },
        { "{\"memory\": {\"limit\": 1, \"limit\": 2}}", "resources:" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct oci_resources r;
        struct bl_error err = { 0 };
        CHECK(oci_resources_parse(bad[i].json, strlen(bad[i].json), &r, &err) != 0);
        if (!strstr(err.msg, bad[i].want))
            harness_fail(__FILE__, __LINE__, "%s: [%s] not in [%s]", bad[i].json, bad[i].want,
                         err.msg);
    }
}

TEST(update_merges_what_is_given)
{
    struct oci_resources dst, src;
    struct bl_error err = { 0 };
    const char *a = "{\"memory\": {\"limit\": 100}, \"cpu\": {\"shares\": 512, \"cpus\": \"0\"}}";
    const char *b = "{\"memory\": {\"limit\": 200}, \"cpu\": {\"quota\": 5000}}";
    REQUIRE(oci_resources_parse(a, strlen(a), &dst, &err) == 0);
    REQUIRE(oci_resources_parse(b, strlen(b), &src, &err) == 0);
    oci_resources_merge(&dst, &src);
    CHECK_EQ(dst.mem_limit, 200);
    CHECK_EQ(dst.cpu_shares, 512);
    CHECK(dst.has_cpu_quota);
    CHECK_EQ(dst.cpu_quota, 5000);
    CHECK_STR(dst.cpuset_cpus, "0");
}

static void path_is(const char *spec, bool systemd, const char *want)
{
    char out[512];
    struct bl_error err = { 0 };
    int r = oci_cgroup_path(spec, systemd, "ctr1", out, sizeof out, &err);
    if (r || strcmp(out, want))
        harness_fail(__FILE__, __LINE__, "%s%s: wanted [%s] got [%s] (%s)",
                     systemd ? "systemd " : "", spec ? spec : "(none)", want, out, err.msg);
}

TEST(cgroup_layout)
{
    path_is("/libpod_parent/libpod-x", false, "/libpod_parent/libpod-x");
    path_is("rel/x", false, "rel/x");
    path_is(NULL, false, "ctr1"); /* runc: the id under the caller's cgroup */
    path_is("", false, "ctr1");
    path_is("system.slice:docker:abc", true, "/system.slice/docker-abc.scope");
    path_is("machine-a-b.slice:libpod:abc", true,
            "/machine.slice/machine-a.slice/machine-a-b.slice/libpod-abc.scope");
    path_is("-.slice:p:n", true, "/p-n.scope");
    path_is(":p:n", true, "/system.slice/p-n.scope");
    path_is("user.slice::n", true, "/user.slice/n.scope");
    path_is("user.slice:p:sub.slice", true, "/user.slice/sub.slice");
    path_is(NULL, true, "/system.slice/runc-ctr1.scope");
    static const struct {
        const char *spec;
        bool systemd;
        const char *want;
    } bad[] = {
        { "../../etc", false, "leaves the cgroup hierarchy" },
        { "/a/../../b", false, "leaves the cgroup hierarchy" },
        { "system.slice:docker", true, "is not slice:prefix:name" },
        { "a:b:c:d", true, "is not slice:prefix:name" },
        { "notaslice:p:n", true, "is not a slice name" },
        { "a--b.slice:p:n", true, "is not a slice name" },
        { "-a.slice:p:n", true, "is not a slice name" },
        { "x/y.slice:p:n", true, "is not a slice name" },
        { "system.slice:p:../n", true, "a name with a slash" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[512];
        struct bl_error err = { 0 };
        CHECK(oci_cgroup_path(bad[i].spec, bad[i].systemd, "c", out, sizeof out, &err) != 0);
        if (!strstr(err.msg, bad[i].want))
            harness_fail(__FILE__, __LINE__, "%s: [%s] not in [%s]", bad[i].spec, bad[i].want,
                         err.msg);
    }
    /* a path that does not fit is refused, never cut short */
    char small[16];
    struct bl_error err = { 0 };
    CHECK(oci_cgroup_path("/a/very/long/cgroup/path", false, "c", small, sizeof small, &err) != 0);
    CHECK(oci_cgroup_path("a-b-c-d.slice:prefix:name", true, "c", small, sizeof small, &err) != 0);
}
