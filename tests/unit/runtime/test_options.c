// SPDX-License-Identifier: Apache-2.0
#include "boxlite.h"
#include "harness/harness.h"
#include "runtime/options.h"

#include <stdlib.h>
#include <string.h>

static boxlite_options *from_json(const char *json)
{
    boxlite_options *o = NULL;
    int r = boxlite_options_from_json(json, &o);
    if (r != BOXLITE_OK)
        return NULL;
    return o;
}

TEST(defaults)
{
    boxlite_options *o = NULL;
    REQUIRE(boxlite_options_new(&o) == BOXLITE_OK);
    CHECK_EQ(o->cpus, 1);
    CHECK_EQ(o->memory_mib, 512);
    CHECK(o->auto_remove);
    CHECK(!o->detach);
    CHECK(o->network);
    boxlite_options_free(o);
    boxlite_options_free(NULL);
}

TEST(json_round_trip)
{
    const char *json =
        "{\"image\":\"alpine:latest\",\"cpus\":2,\"memory_mib\":1024,\"disk_size_gb\":4,"
        "\"env\":{\"A\":\"1\",\"B\":\"two\"},\"working_dir\":\"/w\",\"user\":\"1000:1000\","
        "\"volumes\":[{\"host_path\":\"/tmp\",\"guest_path\":\"/data\",\"read_only\":true}],"
        "\"ports\":[{\"host_port\":8080,\"guest_port\":80},{\"guest_port\":53,"
        "\"protocol\":\"udp\",\"host_addr\":\"0.0.0.0\"}],\"network\":false,\"name\":\"web-1\","
        "\"auto_remove\":false,\"detach\":true,\"ready_timeout_ms\":5000,\"engine\":\"qemu\","
        "\"cmd\":[\"sleep\",\"inf\"]}";
    boxlite_options *o = from_json(json);
    REQUIRE(o);
    CHECK_STR(o->image, "alpine:latest");
    CHECK_EQ(o->cpus, 2);
    CHECK_EQ(o->nenv, 2);
    CHECK_EQ(o->nvolumes, 1);
    CHECK(o->volumes[0].read_only);
    CHECK_EQ(o->nports, 2);
    CHECK(o->ports[1].udp);
    CHECK_STR(o->ports[0].host_addr, "127.0.0.1");
    CHECK_EQ(o->ncmd, 2);
    char *out = NULL;
    REQUIRE(boxlite_options_to_json(o, &out) == BOXLITE_OK);
    boxlite_options *o2 = from_json(out);
    REQUIRE(o2);
    char *out2 = NULL;
    REQUIRE(boxlite_options_to_json(o2, &out2) == BOXLITE_OK);
    CHECK_STR(out, out2);
    boxlite_free(out);
    boxlite_free(out2);
    boxlite_options_free(o);
    boxlite_options_free(o2);
}

/* Each bad document is refused with INVALID and a message naming the field. */
TEST(bad_json_names_the_field)
{
    static const struct { const char *json, *needle; } cases[] = {
        { "{\"cpus\":0}", "cpus" },
        { "{\"cpus\":\"2\"}", "cpus" },
        { "{\"cpus\":1000}", "cpus" },
        { "{\"memory_mib\":1}", "memory_mib" },
        { "{\"bogus\":1}", "bogus" },
        { "{\"volumes\":[{\"host_path\":\"/x\",\"guest_path\":\"/y\",\"rw\":1}]}", "volumes[].rw" },
        { "{\"volumes\":[{\"host_path\":\"rel\",\"guest_path\":\"/y\"}]}", "volumes" },
        { "{\"ports\":[{\"guest_port\":0}]}", "ports" },
        { "{\"ports\":[{\"guest_port\":80,\"protocol\":\"sctp\"}]}", "sctp" },
        { "{\"ports\":[{\"guest_port\":80,\"host_addr\":\"nothost\"}]}", "host address" },
        { "{\"ports\":[{\"guest_port\":80,\"host_port\":70000}]}", "host port" },
        { "{\"name\":\"-bad\"}", "name" },
        { "{\"name\":\"a b\"}", "name" },
        { "{\"engine\":\"xen\"}", "engine" },
        { "{\"env\":{\"A\":1}}", "env.A" },
        { "{\"env\":[\"A=1\"]}", "env" },
        { "{\"cmd\":[1]}", "cmd" },
        { "{\"detach\":\"yes\"}", "detach" },
        { "[1,2]", "object" },
        { "{\"cpus\":1,", "malformed" },
        { "{\"cpus\":1,\"cpus\":2}", "malformed" },
        { "", "malformed" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        boxlite_options *o = (boxlite_options *)1;
        int r = boxlite_options_from_json(cases[i].json, &o);
        if (r != BOXLITE_ERR_INVALID || o != NULL || !strstr(boxlite_errmsg(), cases[i].needle))
            harness_fail(__FILE__, __LINE__, "%s -> %d \"%s\"", cases[i].json, r,
                         boxlite_errmsg());
    }
}

TEST(setters_validate_and_keep_old_value)
{
    boxlite_options *o = NULL;
    REQUIRE(boxlite_options_new(&o) == BOXLITE_OK);
    CHECK_EQ(boxlite_options_set_cpus(o, 4), BOXLITE_OK);
    CHECK_EQ(boxlite_options_set_cpus(o, -1), BOXLITE_ERR_INVALID);
    CHECK_EQ(o->cpus, 4);
    CHECK_EQ(boxlite_options_set_env(o, "A=B", "x"), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_env(o, "K", "1"), BOXLITE_OK);
    CHECK_EQ(boxlite_options_set_env(o, "K", "2"), BOXLITE_OK);
    CHECK_EQ(o->nenv, 1);
    CHECK_STR(o->env[0].value, "2");
    CHECK_EQ(boxlite_options_add_port(o, 8080, 80, "tcp", NULL), BOXLITE_OK);
    CHECK_EQ(boxlite_options_add_port(o, 8080, 81, "tcp", NULL), BOXLITE_ERR_INVALID);
    CHECK_EQ(o->nports, 1);
    CHECK_EQ(boxlite_options_set_engine(o, NULL), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_name(o, NULL), BOXLITE_OK);
    boxlite_options_free(o);
}

TEST(null_handles_are_errors_not_crashes)
{
    CHECK_EQ(boxlite_options_new(NULL), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_cpus(NULL, 1), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_image(NULL, "x"), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_to_json(NULL, NULL), BOXLITE_ERR_INVALID);
    boxlite_options *o = NULL;
    CHECK_EQ(boxlite_options_from_json(NULL, &o), BOXLITE_ERR_INVALID);
    CHECK(o == NULL);
    CHECK(strlen(boxlite_errmsg()) > 0);
}

TEST(validate_for_create)
{
    struct boxlite_options o;
    struct bl_error err = {0};
    opts_init(&o);
    CHECK_EQ(opts_validate_for_create(&o, &err), -BOXLITE_ERR_INVALID);
    opts_set_str(&o.image, "image", "alpine", &err);
    CHECK_EQ(opts_validate_for_create(&o, &err), 0);
    o.detach = true;
    CHECK_EQ(opts_validate_for_create(&o, &err), -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "detach") != NULL);
    o.auto_remove = false;
    CHECK_EQ(opts_validate_for_create(&o, &err), 0);
    opts_add_volume(&o, "/nonexistent/boxlite-test", "/data", false, &err);
    CHECK_EQ(opts_validate_for_create(&o, &err), -BOXLITE_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "/nonexistent/boxlite-test") != NULL);
    opts_clear(&o);
}

TEST(network_policy_options)
{
    boxlite_options *o = NULL;
    REQUIRE(boxlite_options_new(&o) == BOXLITE_OK);
    CHECK_EQ(boxlite_options_add_allow_net(o, "API.example.com:443"), BOXLITE_OK);
    CHECK_EQ(boxlite_options_add_allow_net(o, "api.example.com:443"), BOXLITE_OK); /* again */
    CHECK_EQ(boxlite_options_add_allow_net(o, "2001:DB8::/32"), BOXLITE_OK);
    CHECK_EQ(boxlite_options_add_deny_net(o, "198.51.100.9:25"), BOXLITE_OK);
    CHECK_EQ(boxlite_options_add_allow_host(o, 5432, NULL), BOXLITE_OK);
    CHECK_EQ(boxlite_options_add_allow_host(o, 53, "udp"), BOXLITE_OK);
    REQUIRE(o->nallow_net == 2 && o->ndeny_net == 1 && o->nallow_host == 2);
    CHECK_STR(o->allow_net[0], "api.example.com:443"); /* canonical */
    CHECK_STR(o->allow_net[1], "2001:db8::/32");
    /* refusals name the rule; the options keep what they had */
    CHECK_EQ(boxlite_options_add_allow_net(o, "a..b"), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "allow_net: \"a..b\": empty label") != NULL);
    CHECK_EQ(boxlite_options_add_deny_net(o, "127.0.0.1:5432"), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "deny_net: \"127.0.0.1:5432\"") != NULL);
    CHECK(strstr(boxlite_errmsg(), "allow_host") != NULL);
    CHECK_EQ(boxlite_options_add_allow_net(o, NULL), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_add_allow_host(o, 0, "tcp"), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_add_allow_host(o, 80, "sctp"), BOXLITE_ERR_INVALID);
    CHECK(o->nallow_net == 2 && o->nallow_host == 2);
    CHECK_EQ(boxlite_options_set_network_mode(o, "bridge"), BOXLITE_ERR_INVALID);
    CHECK(o->network);
    /* netns:PATH: a NIC in that namespace, which takes none of the policy */
    CHECK_EQ(boxlite_options_set_network_mode(o, "netns:run/netns/x"), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "absolute path") != NULL);
    {
        boxlite_options *n = from_json("{\"image\": \"alpine\", \"network\": \"netns:/run/netns/x\"}");
        REQUIRE(n);
        CHECK_STR(n->netns, "/run/netns/x");
        CHECK(n->network);
        char *nj = NULL;
        REQUIRE(boxlite_options_to_json(n, &nj) == BOXLITE_OK);
        CHECK(strstr(nj, "\"network\":\"netns:/run/netns/x\"") != NULL);
        boxlite_free(nj);
        struct bl_error e2 = {0};
        CHECK_EQ(opts_validate_for_create(n, &e2), 0);
        CHECK_EQ(boxlite_options_add_port(n, 8080, 80, "tcp", NULL), BOXLITE_OK);
        CHECK_EQ(opts_validate_for_create(n, &e2), -BOXLITE_ERR_INVALID);
        CHECK(strstr(e2.msg, "not with network netns:PATH") != NULL);
        CHECK_EQ(boxlite_options_set_network_mode(n, "default"), BOXLITE_OK);
        CHECK(n->netns == NULL);
        boxlite_options_free(n);
    }
    /* JSON round trip */
    char *json = NULL;
    REQUIRE(boxlite_options_to_json(o, &json) == BOXLITE_OK);
    CHECK(strstr(json, "\"allow_net\":[\"api.example.com:443\",\"2001:db8::/32\"]") != NULL);
    CHECK(strstr(json, "\"allow_host\":[{\"port\":5432,\"protocol\":\"tcp\"},"
                       "{\"port\":53,\"protocol\":\"udp\"}]") != NULL);
    boxlite_options *back = from_json(json);
    REQUIRE(back);
    CHECK(back->nallow_net == 2 && back->ndeny_net == 1 && back->nallow_host == 2);
    CHECK(back->allow_host[1].udp);
    boxlite_options_free(back);
    boxlite_free(json);
    boxlite_options_free(o);

    CHECK(from_json("{\"allow_net\": [\"a b\"]}") == NULL);
    CHECK(strstr(boxlite_errmsg(), "\"a b\"") != NULL);
    CHECK(from_json("{\"allow_net\": \"198.51.100.7\"}") == NULL);
    CHECK(from_json("{\"allow_net\": [7]}") == NULL);
    CHECK(from_json("{\"allow_host\": [{\"port\": 5432, \"proto\": \"tcp\"}]}") == NULL);
    CHECK(strstr(boxlite_errmsg(), "allow_host[].proto") != NULL);
    boxlite_options *none = from_json("{\"network\": \"none\"}");
    REQUIRE(none);
    CHECK(!none->network);
    boxlite_options_free(none);

    /* rules without a network: refused at create */
    struct boxlite_options v;
    struct bl_error err = {0};
    opts_init(&v);
    opts_set_str(&v.image, "image", "alpine", &err);
    v.network = false;
    CHECK_EQ(opts_validate_for_create(&v, &err), 0);
    opts_add_allow_host(&v, 5432, "tcp", &err);
    CHECK_EQ(opts_validate_for_create(&v, &err), -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "allow_host needs a network") != NULL);
    v.network = true;
    CHECK_EQ(opts_validate_for_create(&v, &err), 0);
    opts_clear(&v);
}

TEST(main_process_health_and_logs_round_trip)
{
    boxlite_options *o = from_json(
        "{\"image\":\"alpine\",\"cmd\":[\"sleep\",\"60\"],\"entrypoint\":[],"
        "\"healthcheck\":{\"test\":[\"CMD-SHELL\",\"test -e /ok\"],\"interval_ms\":1000,"
        "\"retries\":2},\"log_max_size\":65536,\"log_max_files\":3}");
    REQUIRE(o);
    CHECK(opts_has_main(o));
    CHECK(o->entrypoint_set && o->nentrypoint == 0);
    CHECK_EQ(o->health.interval_ms, 1000);
    CHECK_EQ(o->health.retries, 2);
    CHECK_EQ(o->log_max_bytes, 65536);
    CHECK_EQ(o->log_max_files, 3);
    char *json = NULL;
    REQUIRE(boxlite_options_to_json(o, &json) == BOXLITE_OK);
    boxlite_options *back = from_json(json);
    REQUIRE(back);
    CHECK_STR(back->cmd[1], "60");
    CHECK(back->entrypoint_set && back->nentrypoint == 0);
    CHECK_STR(back->health.test[1], "test -e /ok");
    CHECK_EQ(back->log_max_files, 3);
    boxlite_free(json);
    boxlite_options_free(back);
    boxlite_options_free(o);
    /* without any of them there is no main process; main_process alone asks for the image's */
    o = from_json("{\"image\":\"alpine\",\"entrypoint\":null}");
    REQUIRE(o);
    CHECK(!opts_has_main(o));
    CHECK_EQ(boxlite_options_set_main_process(o, 1), BOXLITE_OK);
    CHECK(opts_has_main(o));
    const char *argv[] = { "nginx", "-g", "daemon off;", NULL };
    CHECK_EQ(boxlite_options_set_cmd(o, argv), BOXLITE_OK);
    CHECK_EQ(o->ncmd, 3);
    CHECK_EQ(boxlite_options_set_cmd(o, NULL), BOXLITE_OK);
    CHECK_EQ(o->ncmd, 0);
    boxlite_options_free(o);
}

TEST(bad_health_and_log_options_are_refused)
{
    static const char *const bad[] = {
        "{\"healthcheck\":{\"test\":[\"CMD\"]}}",                  /* no program */
        "{\"healthcheck\":{\"test\":[\"SHELL\",\"x\"]}}",          /* unknown kind */
        "{\"healthcheck\":{\"test\":[\"CMD-SHELL\",\"a\",\"b\"]}}",
        "{\"healthcheck\":{\"interval_ms\":50}}",                  /* below 100 ms */
        "{\"healthcheck\":{\"retries\":-1}}",
        "{\"healthcheck\":{\"timeout_ms\":9223372036854775807}}",
        "{\"healthcheck\":{\"every\":1}}",                         /* unknown key */
        "{\"log_max_size\":100}",
        "{\"log_max_files\":0}",
        "{\"log_max_files\":4294967297}",
        "{\"cmd\":\"sleep 1\"}",
        "{\"cmd\":[1]}",
        "{\"entrypoint\":{}}",
        "{\"cpus\":4294967297}",
        "{\"memory_mib\":18014398509481985}",
        "{\"cpus\":1e3}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        boxlite_options *o = NULL;
        int r = boxlite_options_from_json(bad[i], &o);
        CHECK_EQ(r, BOXLITE_ERR_INVALID);
        if (r == BOXLITE_OK)
            fprintf(stderr, "# accepted: %s\n", bad[i]);
        boxlite_options_free(o);
    }
    boxlite_options *o = NULL;
    REQUIRE(boxlite_options_new(&o) == BOXLITE_OK);
    const char *none[] = { "NONE", NULL };
    CHECK_EQ(boxlite_options_set_healthcheck(o, none, 0, 0, 0, 0), BOXLITE_OK);
    CHECK_EQ(boxlite_options_set_healthcheck(o, NULL, 99, 0, 0, 0), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_log_rotation(o, 1LL << 41, 2), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_log_rotation(o, 4096, 1), BOXLITE_OK);
    boxlite_options_free(o);
}

TEST(env_and_volumes_checked_at_create)
{
    boxlite_options *o = NULL;
    REQUIRE(boxlite_options_new(&o) == BOXLITE_OK);
    boxlite_options_set_image(o, "alpine");
    boxlite_options_set_auto_remove(o, 0);
    struct bl_error e = {0};
    CHECK_EQ(opts_validate_for_create(o, &e), 0);
    /* 10,000 variables: refused at create with the limit, not at every later exec */
    char k[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof k, "VAR_%d", i);
        REQUIRE(boxlite_options_set_env(o, k, "some value") == BOXLITE_OK);
    }
    CHECK(opts_validate_for_create(o, &e) < 0);
    CHECK(strstr(e.msg, "at most 32768 fit") != NULL);
    boxlite_options_free(o);
    REQUIRE(boxlite_options_new(&o) == BOXLITE_OK);
    boxlite_options_set_image(o, "alpine");
    /* a file is not a folder: the reason now, not "(console is empty)" at start */
    char file[512];
    snprintf(file, sizeof file, "%s/afile", harness_tmpdir());
    FILE *f = fopen(file, "w");
    REQUIRE(f);
    fclose(f);
    REQUIRE(boxlite_options_add_volume(o, file, "/data", 0) == BOXLITE_OK);
    memset(&e, 0, sizeof e);
    CHECK(opts_validate_for_create(o, &e) < 0);
    CHECK(strstr(e.msg, "is not a directory") != NULL);
    boxlite_options_free(o);
}

/* Docker-like settings (issue 19): labels, hostname, read_only, restart. */
TEST(labels_hostname_restart_round_trip)
{
    boxlite_options *o = NULL;
    REQUIRE(boxlite_options_new(&o) == BOXLITE_OK);
    CHECK_EQ(boxlite_options_set_label(o, "tier", "web"), BOXLITE_OK);
    CHECK_EQ(boxlite_options_set_label(o, "tier", "db"), BOXLITE_OK); /* replaces */
    CHECK_EQ(boxlite_options_set_label(o, "empty", ""), BOXLITE_OK);
    CHECK_EQ(boxlite_options_set_label(o, "a=b", "x"), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_hostname(o, "my-host.example"), BOXLITE_OK);
    CHECK_EQ(boxlite_options_set_hostname(o, "-bad"), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_hostname(o, "bad..name"), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_hostname(o, "under_score"), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_restart(o, "always", 2), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_restart(o, "sometimes", 0), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_restart(o, "on-failure", 2), BOXLITE_OK);
    char *json = NULL;
    REQUIRE(boxlite_options_to_json(o, &json) == BOXLITE_OK);
    boxlite_options *back = from_json(json);
    REQUIRE(back);
    CHECK_EQ(back->nlabels, 2);
    CHECK_STR(back->labels[0].value, "db");
    CHECK_STR(back->hostname, "my-host.example");
    CHECK_STR(back->restart, "on-failure");
    CHECK_EQ(back->restart_max, 2);
    /* restart_max before restart in the JSON reads the same */
    boxlite_options *rev = from_json("{\"restart_max\": 3, \"restart\": \"on-failure\"}");
    REQUIRE(rev);
    CHECK_EQ(rev->restart_max, 3);
    CHECK(!from_json("{\"labels\": {\"k\": 1}}"));
    boxlite_options_free(rev);
    boxlite_options_free(back);
    boxlite_options_free(o);
    boxlite_free(json);
}

/* The restart policy is the library's now (the agent applies it): accepted at create for a
 * box with a main process, refused without one (nothing to restart), Docker's names. */
TEST(restart_needs_a_main_process_and_takes_dockers_policies)
{
    struct bl_error err = {0};
    boxlite_options *o = from_json("{\"image\": \"alpine\", \"restart\": \"always\"}");
    REQUIRE(o);
    CHECK_EQ(opts_validate_for_create(o, &err), -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "needs a main process") != NULL);
    boxlite_options_free(o);
    o = from_json("{\"image\": \"alpine\", \"cmd\": [\"server\"], \"restart\": \"always\"}");
    REQUIRE(o);
    CHECK_EQ(opts_validate_for_create(o, &err), 0);
    boxlite_options_free(o);
    o = from_json("{\"image\": \"alpine\", \"main_process\": true, \"restart\": \"on-failure\", "
                  "\"restart_max\": 3}");
    REQUIRE(o);
    CHECK_EQ(opts_validate_for_create(o, &err), 0);
    CHECK_EQ(boxlite_options_set_restart(o, "unless-stopped", 0), BOXLITE_OK);
    CHECK_STR(o->restart, "unless-stopped");
    CHECK_EQ(boxlite_options_set_restart(o, "unless-stopped", 2), BOXLITE_ERR_INVALID);
    boxlite_options_free(o);
}

/* Docker's -i and -t with -d belong to the main process: refused without one, kept in the
 * options' JSON (the box's record) with one. */
TEST(stdin_open_and_tty_need_a_main_process)
{
    struct bl_error err = {0};
    boxlite_options *o = from_json("{\"image\": \"alpine\", \"tty\": true}");
    REQUIRE(o);
    CHECK_EQ(opts_validate_for_create(o, &err), -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "tty is the main process's terminal") != NULL);
    boxlite_options_free(o);
    o = from_json("{\"image\": \"alpine\", \"stdin_open\": true}");
    REQUIRE(o);
    CHECK_EQ(opts_validate_for_create(o, &err), -BOXLITE_ERR_INVALID);
    boxlite_options_free(o);
    o = from_json("{\"image\": \"alpine\", \"cmd\": [\"sh\"], \"stdin_open\": true}");
    REQUIRE(o);
    CHECK_EQ(boxlite_options_set_tty(o, 1), BOXLITE_OK);
    CHECK_EQ(opts_validate_for_create(o, &err), 0);
    char *json = NULL;
    CHECK_EQ(boxlite_options_to_json(o, &json), BOXLITE_OK);
    boxlite_options *back = json ? from_json(json) : NULL;
    REQUIRE(back);
    CHECK(back->tty && back->stdin_open);
    boxlite_options_free(back);
    boxlite_free(json);
    CHECK_EQ(boxlite_options_set_tty(NULL, 1), BOXLITE_ERR_INVALID);
    boxlite_options_free(o);
}

/* Density (issue 21): balloon_target_mib, free_page_reporting, ksm round-trip through JSON;
 * a target is 0 or 32..memory_mib, checked against the memory at create (either may come
 * first); the setters refuse what can never be right. */
TEST(density_options)
{
    boxlite_options *o = from_json("{\"rootfs_path\":\"/\",\"balloon_target_mib\":128,"
                                   "\"free_page_reporting\":false,\"ksm\":true}");
    REQUIRE(o);
    CHECK_EQ(o->balloon_target_mib, 128);
    CHECK(o->no_page_reporting);
    CHECK(o->ksm);
    char *out = NULL;
    REQUIRE(boxlite_options_to_json(o, &out) == BOXLITE_OK);
    boxlite_options *o2 = from_json(out);
    REQUIRE(o2);
    CHECK_EQ(o2->balloon_target_mib, 128);
    CHECK(o2->no_page_reporting);
    CHECK(o2->ksm);
    boxlite_free(out);
    struct bl_error err = { 0 };
    CHECK_EQ(opts_validate_for_create(o2, &err), 0);
    o2->memory_mib = 100;
    CHECK_EQ(opts_validate_for_create(o2, &err), -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "32..100") != NULL);
    boxlite_options_free(o2);
    boxlite_options_free(o);

    REQUIRE(boxlite_options_new(&o) == BOXLITE_OK);
    CHECK(!o->no_page_reporting); /* reporting on, KSM off, no target by default */
    CHECK(!o->ksm);
    CHECK_EQ(o->balloon_target_mib, 0);
    CHECK_EQ(boxlite_options_set_balloon_target(o, 16), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_options_set_balloon_target(o, -1), BOXLITE_ERR_INVALID);
    CHECK_EQ(o->balloon_target_mib, 0);
    CHECK_EQ(boxlite_options_set_balloon_target(o, 64), BOXLITE_OK);
    CHECK_EQ(boxlite_options_set_free_page_reporting(o, 0), BOXLITE_OK);
    CHECK_EQ(boxlite_options_set_ksm(o, 1), BOXLITE_OK);
    CHECK_EQ(o->balloon_target_mib, 64);
    CHECK(o->no_page_reporting && o->ksm);
    boxlite_options_free(o);
    CHECK(from_json("{\"balloon_target_mib\":\"lots\"}") == NULL);
    CHECK(from_json("{\"ksm\":1}") == NULL);
}

/* rootfs_share (boxlite-runtime's bundles): the folder is the root itself; it needs the
 * folder, and the KVM engine, whose 9p server cannot serve it yet, is refused up front. */
TEST(rootfs_share_needs_a_rootfs_folder_and_the_qemu_engine)
{
    boxlite_options *o = from_json("{\"rootfs_path\": \"/tmp\", \"rootfs_share\": true}");
    REQUIRE(o);
    CHECK(o->rootfs_share);
    struct bl_error err = {0};
    CHECK_EQ(opts_validate_for_create(o, &err), 0);
    char *out = NULL;
    REQUIRE(boxlite_options_to_json(o, &out) == BOXLITE_OK);
    CHECK(strstr(out, "\"rootfs_share\":true") != NULL);
    boxlite_free(out);
    REQUIRE(boxlite_options_set_engine(o, "kvm") == BOXLITE_OK);
    CHECK_EQ(opts_validate_for_create(o, &err), -BOXLITE_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "QEMU engine") != NULL);
    boxlite_options_free(o);

    o = from_json("{\"image\": \"alpine\", \"rootfs_share\": true}");
    REQUIRE(o);
    CHECK_EQ(opts_validate_for_create(o, &err), -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "rootfs_share needs rootfs_path") != NULL);
    boxlite_options_free(o);
    boxlite_options *bad = NULL;
    CHECK(boxlite_options_from_json("{\"rootfs_share\": 1}", &bad) == BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "rootfs_share") != NULL);
    boxlite_options *n = NULL;
    REQUIRE(boxlite_options_new(&n) == BOXLITE_OK);
    CHECK(boxlite_options_set_rootfs_share(n, 1) == BOXLITE_OK && n->rootfs_share);
    CHECK(boxlite_options_set_rootfs_share(NULL, 1) != BOXLITE_OK);
    boxlite_options_free(n);
}
