// SPDX-License-Identifier: Apache-2.0
/* config.json's hooks (src/oci/spec.c parses them, src/oci/hooks.c runs them on the host):
 * the state reaches stdin, args and env as given, a failure says how it ended with the
 * hook's output, the timeout kills, a hook that ignores its stdin or leaves a child holding
 * its output cannot block the runtime, and a stage stops at its first failure; and the
 * network namespace of linux.namespaces, which the relay enters for the hooks' sake. Where each
 * stage runs (create, start, the guest, delete) is proven by tests/e2e/oci_hooks.sh. */
#include "harness/harness.h"
#include "oci/hooks.h"
#include "oci/spec.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const STATE = "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"status\":\"creating\","
                                 "\"pid\":42,\"bundle\":\"/b\"}";

/* A shell script in the test's folder; returns its path. */
static const char *script(const char *name, const char *body)
{
    static char paths[8][512];
    static int k;
    char *p = paths[k++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", harness_tmpdir(), name);
    FILE *f = fopen(p, "w");
    if (!f)
        return "/nonexistent/script";
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(p, 0755);
    return p;
}

static char *slurp(const char *path)
{
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = 0;
    return buf;
}

static char *out_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", harness_tmpdir(), name);
    return p;
}

TEST(state_on_stdin_args_and_env_as_given)
{
    char body[1024];
    snprintf(body, sizeof body, "cat > %s/got.state; echo \"$0 $1 $2 [$HOOKVAR] [$HOME]\" > %s/got.argv",
             harness_tmpdir(), harness_tmpdir());
    const char *p = script("h1", body);
    char *args[] = { "my-hook", "one", "two", NULL };
    char *env[] = { "HOOKVAR=v1", NULL };
    struct oci_hook h = { .path = (char *)p, .args = args, .env = env };
    struct bl_error err = { 0 };
    CHECK_EQ(oci_hook_run(&h, STATE, strlen(STATE), &err), 0);
    CHECK_STR(slurp(out_path("got.state")), STATE);
    /* $0 is the script (sh names it by path), $1 $2 the args after args[0]; the env is
     * exactly the hook's: no HOME from ours */
    char want[700];
    snprintf(want, sizeof want, "%s one two [v1] []\n", p);
    CHECK_STR(slurp(out_path("got.argv")), want);
}

TEST(no_env_inherits_the_runtimes_and_no_args_runs_the_path)
{
    char body[512];
    snprintf(body, sizeof body, "echo \"$# [$HOOK_TEST_INHERITED]\" > %s/got.env", harness_tmpdir());
    struct oci_hook h = { .path = (char *)script("h2", body) };
    setenv("HOOK_TEST_INHERITED", "yes", 1);
    struct bl_error err = { 0 };
    CHECK_EQ(oci_hook_run(&h, STATE, strlen(STATE), &err), 0);
    CHECK_STR(slurp(out_path("got.env")), "0 [yes]\n");
}

TEST(a_failure_says_how_it_ended_with_the_output)
{
    struct oci_hook h = { .path = (char *)script("h3", "echo to-stdout; echo to-stderr >&2; exit 3") };
    struct bl_error err = { 0 };
    CHECK(oci_hook_run(&h, STATE, strlen(STATE), &err) < 0);
    CHECK(strstr(err.msg, "exit status 3"));
    CHECK(strstr(err.msg, "to-stdout"));
    CHECK(strstr(err.msg, "to-stderr"));

    struct oci_hook k = { .path = (char *)script("h4", "kill -9 $$") };
    CHECK(oci_hook_run(&k, STATE, strlen(STATE), &err) < 0);
    CHECK(strstr(err.msg, "killed by signal 9"));

    struct oci_hook missing = { .path = "/nonexistent/hook" };
    CHECK(oci_hook_run(&missing, STATE, strlen(STATE), &err) < 0);
    CHECK(strstr(err.msg, "exit status 127"));
    CHECK(strstr(err.msg, "No such file"));
}

TEST(the_timeout_kills_a_hook_that_runs_past_it)
{
    /* exec: the shell becomes sleep, so the kill reaches the sleeping process itself */
    struct oci_hook h = { .path = (char *)script("h5", "trap '' TERM; exec sleep 600"),
                          .timeout = 1 };
    struct bl_error err = { 0 };
    CHECK(oci_hook_run(&h, STATE, strlen(STATE), &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_TIMEOUT);
    CHECK(strstr(err.msg, "ran past its timeout of 1 s"));
}

TEST(a_hook_that_ignores_stdin_or_leaves_a_child_cannot_block)
{
    /* a state bigger than a pipe holds, to a hook that never reads it: no SIGPIPE kills us
     * and no write blocks */
    size_t big = 1 << 20;
    char *state = malloc(big + 1);
    REQUIRE(state);
    memset(state, 'x', big);
    state[big] = 0;
    struct oci_hook h = { .path = (char *)script("h6", "exit 0") };
    struct bl_error err = { 0 };
    CHECK_EQ(oci_hook_run(&h, state, big, &err), 0);
    free(state);
    /* exits at once, leaving a child that holds its output open for 10 minutes: the end of
     * the hook ends the wait, not the end of its output (the test's timeout catches a hang) */
    struct oci_hook c = { .path = (char *)script("h7", "sleep 600 & echo started") };
    CHECK_EQ(oci_hook_run(&c, STATE, strlen(STATE), &err), 0);
}

TEST(a_stage_runs_in_order_and_stops_at_the_first_failure)
{
    char a[512], c[512];
    snprintf(a, sizeof a, "echo a >> %s/order", harness_tmpdir());
    snprintf(c, sizeof c, "echo c >> %s/order", harness_tmpdir());
    struct oci_hook hooks[3] = { { .path = (char *)script("s1", a) },
                                 { .path = (char *)script("s2", "echo bad; exit 1") },
                                 { .path = (char *)script("s3", c) } };
    struct oci_spec s = { 0 };
    s.hooks[OCI_HOOK_CREATE_RUNTIME] = hooks;
    s.nhooks[OCI_HOOK_CREATE_RUNTIME] = 3;
    struct bl_error err = { 0 };
    CHECK(oci_hooks_run(&s, OCI_HOOK_CREATE_RUNTIME, STATE, &err) < 0);
    CHECK(strstr(err.msg, "createRuntime hook #1 ("));
    CHECK(strstr(err.msg, "exit status 1, output: bad"));
    CHECK_STR(slurp(out_path("order")), "a\n");
    /* an empty stage is a success */
    CHECK_EQ(oci_hooks_run(&s, OCI_HOOK_POSTSTOP, STATE, &err), 0);
}

static int parse(const char *hooks_json, struct oci_spec *s, struct bl_error *err)
{
    char js[4096];
    snprintf(js, sizeof js,
             "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
             "\"process\":{\"args\":[\"sh\"]},\"hooks\":%s}",
             hooks_json);
    return oci_spec_parse(js, strlen(js), s, err);
}

TEST(config_hooks_are_parsed_per_stage)
{
    struct oci_spec s;
    struct bl_error err = { 0 };
    REQUIRE(parse("{\"prestart\":[{\"path\":\"/bin/a\"}],"
                  "\"createRuntime\":[{\"path\":\"/bin/b\",\"args\":[\"b\",\"x\"],"
                  "\"env\":[\"K=V\"],\"timeout\":5},{\"path\":\"/bin/c\"}],"
                  "\"startContainer\":[{\"path\":\"/in/guest\"}],"
                  "\"poststop\":[{\"path\":\"/bin/d\"}]}",
                  &s, &err) == 0);
    CHECK_EQ(s.nhooks[OCI_HOOK_PRESTART], 1);
    CHECK_EQ(s.nhooks[OCI_HOOK_CREATE_RUNTIME], 2);
    CHECK_EQ(s.nhooks[OCI_HOOK_CREATE_CONTAINER], 0);
    CHECK_EQ(s.nhooks[OCI_HOOK_START_CONTAINER], 1);
    CHECK_EQ(s.nhooks[OCI_HOOK_POSTSTART], 0);
    CHECK_EQ(s.nhooks[OCI_HOOK_POSTSTOP], 1);
    const struct oci_hook *b = &s.hooks[OCI_HOOK_CREATE_RUNTIME][0];
    CHECK_STR(b->path, "/bin/b");
    CHECK_STR(b->args[1], "x");
    CHECK_STR(b->env[0], "K=V");
    CHECK_EQ(b->timeout, 5);
    CHECK(!s.hooks[OCI_HOOK_CREATE_RUNTIME][1].args);
    CHECK(!s.hooks[OCI_HOOK_CREATE_RUNTIME][1].env);
    CHECK_EQ(s.hooks[OCI_HOOK_CREATE_RUNTIME][1].timeout, 0);
    oci_spec_free(&s);
    CHECK_EQ(parse("null", &s, &err), 0);
    oci_spec_free(&s);
}

TEST(malformed_hooks_name_the_field)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        { "[]", "hooks must be an object" },
        { "{\"poststart\":{}}", "hooks.poststart must be an array" },
        { "{\"prestart\":[{\"args\":[\"x\"]}]}", "hooks.prestart[0].path is missing" },
        { "{\"prestart\":[{\"path\":\"rel/hook\"}]}", "hooks.prestart[0].path \"rel/hook\" is not absolute" },
        { "{\"poststop\":[{\"path\":\"/h\",\"timeout\":0}]}", "hooks.poststop[0].timeout must be" },
        { "{\"poststop\":[{\"path\":\"/h\",\"timeout\":\"5\"}]}", "hooks.poststop[0].timeout must be" },
        { "{\"createRuntime\":[{\"path\":\"/h\"},{\"path\":\"/h\",\"env\":[\"NOEQ\"]}]}",
          "hooks.createRuntime[1].env[0] is not KEY=VALUE" },
        { "{\"createContainer\":[{\"path\":\"/h\",\"args\":[1]}]}",
          "hooks.createContainer[0].args[0] must be a string" },
        { "{\"startContainer\":[7]}", "hooks.startContainer[0] must be an object" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct oci_spec s;
        struct bl_error err = { 0 };
        CHECK(parse(bad[i].json, &s, &err) < 0);
        if (!strstr(err.msg, bad[i].msg))
            harness_fail(__FILE__, __LINE__, "%s: got \"%s\", want \"%s\"", bad[i].json,
                         err.msg, bad[i].msg);
    }
    /* more hooks in a stage than OCI_MAX_HOOKS */
    char many[8192] = "{\"poststop\":[";
    for (int i = 0; i <= OCI_MAX_HOOKS; i++)
        strcat(many, i ? ",{\"path\":\"/h\"}" : "{\"path\":\"/h\"}");
    strcat(many, "]}");
    char js[9000];
    snprintf(js, sizeof js,
             "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"]},"
             "\"hooks\":%s}",
             many);
    struct oci_spec s;
    struct bl_error err = { 0 };
    CHECK(oci_spec_parse(js, strlen(js), &s, &err) < 0);
    CHECK(strstr(err.msg, "at most 64"));
}

TEST(the_network_namespace_of_linux_namespaces)
{
    /* a new one (no path), one to join (a path), none, and the mistakes */
    static const char *const head = "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},"
                                    "\"process\":{\"args\":[\"sh\"]},\"linux\":";
    struct {
        const char *linux, *msg;
        bool netns;
        const char *path;
    } cases[] = {
        { "{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"}]}", NULL, true, NULL },
        { "{\"namespaces\":[{\"type\":\"network\",\"path\":\"/run/netns/n1\"}]}", NULL, true,
          "/run/netns/n1" },
        { "{\"namespaces\":[{\"type\":\"mount\"}]}", NULL, false, NULL },
        { "{}", NULL, false, NULL },
        { "{\"namespaces\":{}}", "linux.namespaces must be an array", false, NULL },
        { "{\"namespaces\":[{\"path\":\"/x\"}]}", "linux.namespaces[0].type must be a string",
          false, NULL },
        { "{\"namespaces\":[{\"type\":\"network\",\"path\":\"rel\"}]}",
          "linux.namespaces[0].path \"rel\" is not absolute", false, NULL },
        { "{\"namespaces\":[{\"type\":\"network\"},{\"type\":\"network\"}]}",
          "a second network namespace", false, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char js[1024];
        snprintf(js, sizeof js, "%s%s}", head, cases[i].linux);
        struct oci_spec s;
        struct bl_error err = { 0 };
        int r = oci_spec_parse(js, strlen(js), &s, &err);
        if (cases[i].msg) {
            CHECK(r < 0);
            if (!strstr(err.msg, cases[i].msg))
                harness_fail(__FILE__, __LINE__, "%s: got \"%s\"", cases[i].linux, err.msg);
            continue;
        }
        REQUIRE(r == 0);
        CHECK_EQ(s.netns, cases[i].netns);
        if (cases[i].path)
            CHECK_STR(s.netns_path, cases[i].path);
        else
            CHECK(s.netns_path == NULL);
        oci_spec_free(&s);
    }
}

TEST(a_runtime_started_with_stdin_closed_still_feeds_the_state)
{
    char body[512];
    snprintf(body, sizeof body, "cat > %s/closed.state", harness_tmpdir());
    struct oci_hook h = { .path = (char *)script("h8", body) };
    int saved = dup(0);
    REQUIRE(saved >= 0);
    close(0); /* the next pipe gets 0 */
    struct bl_error err = { 0 };
    int r = oci_hook_run(&h, STATE, strlen(STATE), &err);
    dup2(saved, 0);
    close(saved);
    CHECK_EQ(r, 0);
    CHECK_STR(slurp(out_path("closed.state")), STATE);
}
