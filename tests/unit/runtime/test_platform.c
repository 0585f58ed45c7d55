// SPDX-License-Identifier: Apache-2.0
/* The box's platform (src/runtime/platform.c): parsing "os/arch[/variant]", whether it is
 * the host's, the option (setter, JSON in and out), and a missing guest for another
 * architecture named in the error. */
#include "boxlite.h"
#include "common/hostarch.h"
#include "harness/harness.h"
#include "runtime/options.h"
#include "runtime/platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST(parse_platforms)
{
    struct rt_platform p;
    char text[64];
    struct bl_error err = {0};
    REQUIRE(rt_platform_parse("linux/arm64", &p, text, sizeof text, &err) == 0);
    CHECK_STR(p.os, "linux");
    CHECK_STR(p.arch, "arm64");
    CHECK_STR(p.variant, "");
    CHECK_STR(text, "linux/arm64");
    REQUIRE(rt_platform_parse("linux/aarch64/v8", &p, text, sizeof text, &err) == 0);
    CHECK_STR(p.arch, "arm64"); /* uname's name, as OCI's */
    CHECK_STR(p.variant, "v8");
    CHECK_STR(text, "linux/arm64/v8");
    REQUIRE(rt_platform_parse("linux/x86_64", &p, text, sizeof text, &err) == 0);
    CHECK_STR(text, "linux/amd64");

    const char *bad[] = { "", "linux", "arm64", "/arm64", "linux/", "linux//v8", "linux/arm64/",
                          "linux/arm64/v8/x", "Linux/arm64", "linux/arm 64",
                          "linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(rt_platform_parse(bad[i], &p, text, sizeof text, &err) < 0);
        CHECK_EQ(err.code, BOXLITE_ERR_INVALID);
    }
    CHECK(rt_platform_parse(NULL, &p, NULL, 0, &err) < 0);
    /* well formed, but no box runs it */
    CHECK(rt_platform_parse("windows/amd64", &p, NULL, 0, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_UNSUPPORTED);
    CHECK(rt_platform_parse("linux/riscv64", &p, NULL, 0, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "linux/riscv64") != NULL);
}

TEST(foreign_is_another_arch_than_the_hosts)
{
    struct rt_platform p;
    char host[64];
    snprintf(host, sizeof host, "linux/%s", host_oci_arch());
    REQUIRE(rt_platform_parse(host, &p, NULL, 0, NULL) == 0);
    CHECK(!rt_platform_foreign(&p));
    REQUIRE(rt_platform_parse(strcmp(host_oci_arch(), "arm64") ? "linux/arm64" : "linux/amd64",
                              &p, NULL, 0, NULL) == 0);
    CHECK(rt_platform_foreign(&p));
    CHECK(!rt_platform_foreign(NULL));
}

TEST(option_setter_and_json)
{
    boxlite_options *o = NULL;
    REQUIRE(boxlite_options_new(&o) == BOXLITE_OK);
    CHECK(o->platform == NULL);
    CHECK_EQ(boxlite_options_set_platform(o, "linux/aarch64"), BOXLITE_OK);
    CHECK_STR(o->platform, "linux/arm64");
    CHECK_EQ(boxlite_options_set_platform(o, "arm64"), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "platform") != NULL);
    CHECK_STR(o->platform, "linux/arm64"); /* a refused value changes nothing */
    char *json = NULL;
    REQUIRE(boxlite_options_to_json(o, &json) == BOXLITE_OK);
    CHECK(strstr(json, "\"platform\": \"linux/arm64\"") != NULL ||
          strstr(json, "\"platform\":\"linux/arm64\"") != NULL);
    boxlite_options *back = NULL;
    REQUIRE(boxlite_options_from_json(json, &back) == BOXLITE_OK);
    CHECK_STR(back->platform, "linux/arm64");
    boxlite_free(json);
    boxlite_options_free(back);
    CHECK_EQ(boxlite_options_set_platform(o, NULL), BOXLITE_OK);
    CHECK(o->platform == NULL);
    boxlite_options_free(o);
    CHECK_EQ(boxlite_options_from_json("{\"platform\": \"linux/sparc\"}", &o), BOXLITE_ERR_UNSUPPORTED);
    CHECK_EQ(boxlite_options_from_json("{\"platform\": 5}", &o), BOXLITE_ERR_INVALID);
}

TEST(missing_foreign_guest_is_named)
{
    const char *dir = harness_tmpdir();
    struct rt_settings s;
    memset(&s, 0, sizeof s);
    char cache[512];
    snprintf(cache, sizeof cache, "%s/nocache", dir);
    s.v[RT_SET_CACHE] = cache;
    struct rt_platform p;
    REQUIRE(rt_platform_parse("linux/arm64", &p, NULL, 0, NULL) == 0);
    struct rt_assets a;
    memset(&a, 0, sizeof a);
    struct bl_error err = {0};
    /* the test binary's folder has no ../guest-arm64, the cache no kernel */
    CHECK(rt_find_platform_assets(&s, &p, &a, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_ENGINE);
    CHECK(strstr(err.msg, "arm64") != NULL);
}
