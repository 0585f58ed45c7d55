// SPDX-License-Identifier: Apache-2.0
#include "harness/harness.h"
#include "image/ref.h"

#include <stdlib.h>

static void check_ref(const char *in, const char *reg, const char *repo, const char *tag,
                      const char *digest, const char *full)
{
    struct image_ref r;
    struct bl_error e = {0};
    int rc = image_ref_parse(&r, in, &e);
    if (rc < 0) {
        harness_fail(__FILE__, __LINE__, "parse %s: %s", in, e.msg);
        return;
    }
    CHECK_STR(r.registry, reg);
    CHECK_STR(r.repository, repo);
    if (tag)
        CHECK_STR(r.tag, tag);
    else
        CHECK(r.tag == NULL);
    if (digest)
        CHECK_STR(r.digest, digest);
    else
        CHECK(r.digest == NULL);
    char *s = image_ref_string(&r);
    CHECK_STR(s, full);
    free(s);
    image_ref_free(&r);
}

#define D "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

TEST(ref_normalises_like_docker)
{
    check_ref("alpine", "docker.io", "library/alpine", "latest", NULL, "docker.io/library/alpine:latest");
    check_ref("alpine:3.19", "docker.io", "library/alpine", "3.19", NULL, "docker.io/library/alpine:3.19");
    check_ref("python:3.12-slim", "docker.io", "library/python", "3.12-slim", NULL,
              "docker.io/library/python:3.12-slim");
    check_ref("user/app", "docker.io", "user/app", "latest", NULL, "docker.io/user/app:latest");
    check_ref("docker.io/alpine", "docker.io", "library/alpine", "latest", NULL, "docker.io/library/alpine:latest");
    check_ref("index.docker.io/library/alpine", "docker.io", "library/alpine", "latest", NULL,
              "docker.io/library/alpine:latest");
    check_ref("ghcr.io/org/img@" D, "ghcr.io", "org/img", NULL, D, "ghcr.io/org/img@" D);
    check_ref("ghcr.io/org/img:v1@" D, "ghcr.io", "org/img", "v1", D, "ghcr.io/org/img:v1@" D);
    check_ref("localhost/foo", "localhost", "foo", "latest", NULL, "localhost/foo:latest");
    check_ref("localhost:5000/foo/bar:x", "localhost:5000", "foo/bar", "x", NULL, "localhost:5000/foo/bar:x");
    check_ref("127.0.0.1:5000/busybox", "127.0.0.1:5000", "busybox", "latest", NULL,
              "127.0.0.1:5000/busybox:latest");
    check_ref("ab-c__d/e.f-g--h", "docker.io", "ab-c__d/e.f-g--h", "latest", NULL, "docker.io/ab-c__d/e.f-g--h:latest");
    check_ref("[::1]:5000/x", "[::1]:5000", "x", "latest", NULL, "[::1]:5000/x:latest");
}

TEST(ref_api_host_and_reference)
{
    struct image_ref r;
    REQUIRE(image_ref_parse(&r, "busybox", NULL) == 0);
    CHECK_STR(image_ref_api_host(&r), "registry-1.docker.io");
    CHECK_STR(image_ref_reference(&r), "latest");
    image_ref_free(&r);
    REQUIRE(image_ref_parse(&r, "quay.io/x/y@" D, NULL) == 0);
    CHECK_STR(image_ref_api_host(&r), "quay.io");
    CHECK_STR(image_ref_reference(&r), D);
    image_ref_free(&r);
}

TEST(ref_rejects_malformed)
{
    static const char *bad[] = {
        "", "Alpine", "alpine:", ":tag", "alpine:bad tag", "alpine@sha256:abc", "alpine@md5:0123",
        "a//b", "/alpine", "alpine/", "-a/b", "a_/b", "a..b", "alpine:-x", "x@" D "@" D,
        "host:99999/x", "ghcr.io/", "alpine\n", "alpin\xc3\xa9", "a:b:c", "ghcr.io/Org/x",
        "alpine@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct image_ref r;
        struct bl_error e = {0};
        int rc = image_ref_parse(&r, bad[i], &e);
        if (rc >= 0) {
            harness_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
            image_ref_free(&r);
            continue;
        }
        CHECK_EQ(e.code, BOXLITE_ERR_INVALID);
        CHECK(strstr(e.msg, "invalid image reference") != NULL);
    }
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    struct image_ref r;
    CHECK(image_ref_parse(&r, longname, NULL) < 0);
    char longtag[200] = "alpine:";
    memset(longtag + 7, 't', 130);
    longtag[137] = 0;
    CHECK(image_ref_parse(&r, longtag, NULL) < 0);
}

TEST(ref_lowercase_message)
{
    struct image_ref r;
    struct bl_error e = {0};
    CHECK(image_ref_parse(&r, "docker.io/Library/Alpine", &e) < 0);
    CHECK(strstr(e.msg, "lowercase") != NULL);
}
