#include "harness/harness.h"
#include "image/registry.h"

#include <stdio.h>
#include <stdlib.h>

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
    CHECK_EQ(registry_creds_lookup(&c, p, "docker.io", &e), 1);
    CHECK_STR(c.username, "user");
    CHECK_STR(c.password, "pa:ss"); /* only the first colon splits */
    registry_creds_free(&c);
    CHECK_EQ(registry_creds_lookup(&c, p, "ghcr.io", &e), 1);
    CHECK_STR(c.identitytoken, "tok");
    CHECK(c.username == NULL);
    registry_creds_free(&c);
    CHECK_EQ(registry_creds_lookup(&c, p, "quay.io", &e), 1);
    CHECK_STR(c.password, "w");
    registry_creds_free(&c);
    CHECK_EQ(registry_creds_lookup(&c, p, "example.org", &e), 0);
    CHECK(registry_creds_lookup(&c, p, "bad.example", &e) < 0);
    CHECK_EQ(e.code, BOXLITE_ERR_AUTH);
    CHECK(registry_creds_lookup(&c, p, "nocolon.example", &e) < 0);
    CHECK_EQ(registry_creds_lookup(&c, "/nonexistent/config.json", "docker.io", &e), 0);
    p = write_cfg("{not json");
    CHECK(registry_creds_lookup(&c, p, "docker.io", &e) < 0);
    CHECK(strstr(e.msg, "invalid JSON") != NULL);
}
