// SPDX-License-Identifier: Apache-2.0
#include "harness/harness.h"
#include "image/registry.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(challenge_bearer_and_basic)
{
    struct auth_challenge c;
    REQUIRE(auth_challenge_parse(&c, "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                                     "scope=\"repository:library/alpine:pull\"", NULL) == 0);
    CHECK_STR(c.scheme, "bearer");
    CHECK_STR(c.realm, "https://auth.docker.io/token");
    CHECK_STR(c.service, "registry.docker.io");
    CHECK_STR(c.scope, "repository:library/alpine:pull");
    auth_challenge_free(&c);
    REQUIRE(auth_challenge_parse(&c, "Basic realm=\"Registry Realm\"", NULL) == 0);
    CHECK_STR(c.scheme, "basic");
    CHECK_STR(c.realm, "Registry Realm");
    auth_challenge_free(&c);
    /* Unquoted values, odd spacing and case, escapes, unknown parameters. */
    REQUIRE(auth_challenge_parse(&c, "  BEARER  Realm = https://x/t , foo=\"a\\\"b\", service=svc", NULL) == 0);
    CHECK_STR(c.scheme, "bearer");
    CHECK_STR(c.realm, "https://x/t");
    CHECK_STR(c.service, "svc");
    CHECK(c.scope == NULL);
    auth_challenge_free(&c);
    struct bl_error e = {0};
    CHECK(auth_challenge_parse(&c, "Bearer service=\"x\"", &e) < 0);
    CHECK(strstr(e.msg, "realm") != NULL);
    CHECK(auth_challenge_parse(&c, "Bearer realm=\"unterminated", &e) < 0);
    CHECK(auth_challenge_parse(&c, "", &e) < 0);
    CHECK(auth_challenge_parse(&c, NULL, &e) < 0);
}

static const char *write_cfg(const char *body)
{
    static char p[600];
    snprintf(p, sizeof p, "%s/config.json", harness_tmpdir());
    FILE *f = fopen(p, "w");
    if (!f)
        return NULL;
    fputs(body, f);
    fclose(f);
    return p;
}

TEST(docker_config_credentials)
{
    const char *p = write_cfg("{\"auths\":{"
                              "\"https://index.docker.io/v1/\":{\"auth\":\"dXNlcjpwYTpzcw==\"},"
                              "\"ghcr.io\":{\"identitytoken\":\"tok\"},"
                              "\"https://quay.io\":{\"username\":\"q\",\"password\":\"w\"},"
                              "\"bad.example\":{\"auth\":\"!!!\"},"
                              "\"nocolon.example\":{\"auth\":\"bm9jb2xvbg==\"}}}");
    REQUIRE(p);
    struct registry_creds c;
    struct bl_error e = {0};
    CHECK_EQ(registry_creds_lookup(&c, p, "docker.io", 0, &e), 1);
    CHECK_STR(c.username, "user");
    CHECK_STR(c.password, "pa:ss"); /* only the first colon splits */
    registry_creds_free(&c);
    CHECK_EQ(registry_creds_lookup(&c, p, "ghcr.io", 0, &e), 1);
    CHECK_STR(c.identitytoken, "tok");
    CHECK(c.username == NULL);
    registry_creds_free(&c);
    CHECK_EQ(registry_creds_lookup(&c, p, "quay.io", 0, &e), 1);
    CHECK_STR(c.password, "w");
    registry_creds_free(&c);
    CHECK_EQ(registry_creds_lookup(&c, p, "example.org", 0, &e), 0);
    CHECK(registry_creds_lookup(&c, p, "bad.example", 0, &e) < 0);
    CHECK_EQ(e.code, BOXLITE_ERR_AUTH);
    CHECK(registry_creds_lookup(&c, p, "nocolon.example", 0, &e) < 0);
    CHECK_EQ(registry_creds_lookup(&c, "/nonexistent/config.json", "docker.io", 0, &e), 0);
    p = write_cfg("{not json");
    CHECK(registry_creds_lookup(&c, p, "docker.io", 0, &e) < 0);
    CHECK(strstr(e.msg, "invalid JSON") != NULL);
}

/* A helper script named docker-credential-NAME in a private PATH folder. */
static void helper(const char *dir, const char *name, const char *body)
{
    char p[700];
    snprintf(p, sizeof p, "%s/docker-credential-%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fprintf(f, "#!/bin/sh\n%s\n", body);
        fclose(f);
        chmod(p, 0755);
    }
}

TEST(credential_helpers_as_docker_runs_them)
{
    char bin[600], log[700], path[1400];
    snprintf(bin, sizeof bin, "%s/bin", harness_tmpdir());
    REQUIRE(mkdir(bin, 0755) == 0);
    snprintf(log, sizeof log, "%s/asked", harness_tmpdir());
    snprintf(path, sizeof path, "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    char body[1200];
    /* "get" with the server on stdin; the answer depends on the server */
    snprintf(body, sizeof body,
             "[ \"$1\" = get ] || exit 9\nread s; echo \"$s\" >> %s\n"
             "case \"$s\" in\n"
             "  reg.example:5000) echo '{\"ServerURL\":\"reg.example:5000\",\"Username\":\"alice\",\"Secret\":\"s3:cret\"}';;\n"
             "  https://index.docker.io/v1/) echo '{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"idtok\"}';;\n"
             "  *) echo 'credentials not found in native keychain'; exit 1;;\n"
             "esac", log);
    helper(bin, "test", body);
    helper(bin, "broken", "echo 'some secret output'; echo 'the keychain is locked' >&2; exit 3");
    helper(bin, "garbage", "echo 'not json'");
    const char *p = write_cfg("{\"credsStore\":\"test\",\"credHelpers\":{\"helped.example\":\"broken\","
                              "\"junk.example\":\"garbage\",\"missing.example\":\"nosuch\","
                              "\"evil.example\":\"../../bin/sh\"},"
                              "\"auths\":{\"fallback.example\":{\"auth\":\"dXNlcjpwYXNz\"}}}");
    REQUIRE(p);
    struct registry_creds c;
    struct bl_error e = {0};
    CHECK_EQ(registry_creds_lookup(&c, p, "reg.example:5000", 0, &e), 1);
    CHECK_STR(c.username, "alice");
    CHECK_STR(c.password, "s3:cret");
    registry_creds_free(&c);
    /* Docker Hub is asked for under its v1 index address; "<token>" is an identity token */
    CHECK_EQ(registry_creds_lookup(&c, p, "docker.io", 0, &e), 1);
    CHECK_STR(c.identitytoken, "idtok");
    CHECK(c.username == NULL);
    registry_creds_free(&c);
    char asked[512] = "";
    FILE *f = fopen(log, "r");
    if (f) {
        asked[fread(asked, 1, sizeof asked - 1, f)] = 0;
        fclose(f);
    }
    CHECK_STR(asked, "reg.example:5000\nhttps://index.docker.io/v1/\n");
    /* the store has nothing: "auths" answers */
    CHECK_EQ(registry_creds_lookup(&c, p, "fallback.example", 0, &e), 1);
    CHECK_STR(c.username, "user");
    registry_creds_free(&c);
    CHECK_EQ(registry_creds_lookup(&c, p, "nobody.example", 0, &e), 0);
    /* a failing helper: its exit status and stderr, never its stdout */
    CHECK(registry_creds_lookup(&c, p, "helped.example", 0, &e) < 0);
    CHECK_EQ(e.code, BOXLITE_ERR_AUTH);
    CHECK(strstr(e.msg, "docker-credential-broken") && strstr(e.msg, "exit 3") &&
          strstr(e.msg, "the keychain is locked"));
    CHECK(strstr(e.msg, "secret") == NULL);
    CHECK(registry_creds_lookup(&c, p, "junk.example", 0, &e) < 0);
    CHECK(strstr(e.msg, "not the expected JSON") != NULL);
    CHECK(registry_creds_lookup(&c, p, "missing.example", 0, &e) < 0);
    CHECK(strstr(e.msg, "docker-credential-nosuch is not installed") != NULL);
    /* a name with a path in it never runs anything */
    CHECK(registry_creds_lookup(&c, p, "evil.example", 0, &e) < 0);
    CHECK(strstr(e.msg, "not a plain name") != NULL);
}

static long pid_in(const char *file)
{
    long pid = 0;
    FILE *f = fopen(file, "r");
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

/* A helper that never answers is killed at the time limit and named; so is one that closes
 * its output and then hangs (it must not be waited for without a limit). The limit is set
 * low for the test (registry_opts.helper_timeout_ms; 30 s by default). */
TEST(hanging_credential_helper_is_killed_at_its_time_limit)
{
    char bin[600], path[1400], pids[2][700], body[1000];
    snprintf(bin, sizeof bin, "%s/bin", harness_tmpdir());
    REQUIRE(mkdir(bin, 0755) == 0);
    snprintf(path, sizeof path, "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    for (int i = 0; i < 2; i++)
        snprintf(pids[i], sizeof pids[i], "%s/pid%d", harness_tmpdir(), i);
    /* The pid file is written before the sleep is exec'd, so the pid is the sleeper's. */
    snprintf(body, sizeof body, "echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 1000", pids[0], pids[0], pids[0]);
    helper(bin, "hang", body);
    snprintf(body, sizeof body, "exec >&- 2>&-; echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 1000", pids[1], pids[1],
             pids[1]);
    helper(bin, "mute", body);
    const char *p = write_cfg("{\"credHelpers\":{\"hang.example\":\"hang\",\"mute.example\":\"mute\"}}");
    REQUIRE(p);
    static const char *hosts[] = {"hang.example", "mute.example"};
    static const char *names[] = {"docker-credential-hang", "docker-credential-mute"};
    for (int i = 0; i < 2; i++) {
        struct registry_creds c;
        struct bl_error e = {0};
        CHECK(registry_creds_lookup(&c, p, hosts[i], 300, &e) < 0);
        CHECK_EQ(e.code, BOXLITE_ERR_AUTH);
        if (!strstr(e.msg, names[i]) || !strstr(e.msg, "did not answer within 300 ms"))
            harness_fail(__FILE__, __LINE__, "%s: %s", hosts[i], e.msg);
        long pid = pid_in(pids[i]);
        CHECK(pid > 0);
        /* killed and reaped: no such process any more */
        CHECK(pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH);
    }
}
