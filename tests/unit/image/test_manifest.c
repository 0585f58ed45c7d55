// SPDX-License-Identifier: Apache-2.0
#include "harness/harness.h"
#include "image/imageconfig.h"
#include "image/manifest.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DG(c) "sha256:" c H64 + 1

static const char *manifest_json =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" H64 "\",\"size\":123},"
    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:" H64 "\",\"size\":5},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"sha256:" H64 "\",\"size\":6}]}";

TEST(manifest_parses_oci)
{
    struct oci_manifest m;
    struct bl_error e = {0};
    REQUIRE(oci_manifest_parse(&m, manifest_json, strlen(manifest_json), &e) == 0);
    CHECK_EQ(m.n_layers, 2);
    CHECK_EQ(m.config.size, 123);
    CHECK_EQ(m.layers[1].size, 6);
    CHECK_STR(m.layers[0].digest, "sha256:" H64);
    enum layer_compression c;
    CHECK(oci_layer_compression(m.layers[1].media_type, &c, NULL) == 0 && c == LAYER_ZSTD);
    CHECK_EQ(oci_detect_kind(manifest_json, strlen(manifest_json), NULL, NULL), OCI_KIND_MANIFEST);
    oci_manifest_free(&m);
}

TEST(manifest_rejects_bad_documents)
{
    static const char *bad[] = {
        "", "[]", "{", "{\"schemaVersion\":1}",
        "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:../../etc\",\"size\":1},\"layers\":[]}",
        "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" H64 "\",\"size\":-1},\"layers\":[]}",
        "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" H64 "\",\"size\":1}}",
        "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" H64 "\",\"size\":1},\"layers\":[{\"mediaType\":\"text/html\",\"digest\":\"sha256:" H64 "\",\"size\":1}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct oci_manifest m;
        struct bl_error e = {0};
        CHECK(oci_manifest_parse(&m, bad[i], strlen(bad[i]), &e) < 0);
        CHECK(e.msg[0] != 0);
    }
}

static const char *index_json =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
    "{\"digest\":\"sha256:" H64 "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
    "{\"digest\":\"sha256:" H64 "\",\"size\":2,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
    "{\"digest\":\"sha256:" H64 "\",\"size\":3,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
    "{\"digest\":\"sha256:" H64 "\",\"size\":4,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"digest\":\"sha256:" H64 "\",\"size\":5,\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}}]}";

TEST(index_selects_platform)
{
    struct oci_index ix;
    struct bl_error e = {0};
    REQUIRE(oci_index_parse(&ix, index_json, strlen(index_json), &e) == 0);
    CHECK_EQ(oci_detect_kind(index_json, strlen(index_json), NULL, NULL), OCI_KIND_INDEX);
    CHECK_EQ(ix.n_manifests, 5);
    CHECK_EQ(oci_index_select(&ix, "linux", "amd64", NULL, NULL), 3);
    CHECK_EQ(oci_index_select(&ix, "linux", "arm64", NULL, NULL), 0);
    CHECK_EQ(oci_index_select(&ix, "linux", "arm64", "v8", NULL), 0);
    CHECK_EQ(oci_index_select(&ix, "linux", "arm", "v6", NULL), 1);
    CHECK_EQ(oci_index_select(&ix, "linux", "arm", NULL, NULL), 2);
    CHECK_EQ(oci_index_select(&ix, "windows", "amd64", NULL, NULL), 4);
    CHECK(oci_index_select(&ix, "linux", "riscv64", NULL, &e) < 0);
    CHECK(strstr(e.msg, "linux/riscv64") != NULL);
    oci_index_free(&ix);
}

TEST(config_parses_defaults)
{
    const char *j = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/bin/sh\",\"-c\"],"
                    "\"Cmd\":null,\"Env\":[\"PATH=/usr/bin\",\"A=b\"],\"WorkingDir\":\"/srv\",\"User\":\"1000:1000\","
                    "\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" H64 "\"]}}";
    struct image_config c;
    struct bl_error e = {0};
    REQUIRE(image_config_parse(&c, j, strlen(j), &e) == 0);
    CHECK_STR(c.entrypoint[0], "/bin/sh");
    CHECK_STR(c.entrypoint[1], "-c");
    CHECK(c.entrypoint[2] == NULL);
    CHECK(c.cmd == NULL);
    CHECK_STR(c.env[1], "A=b");
    CHECK_STR(c.working_dir, "/srv");
    CHECK_STR(c.user, "1000:1000");
    CHECK_STR(c.exposed_ports[0], "80/tcp");
    CHECK_STR(c.exposed_ports[1], "53/udp");
    CHECK_EQ(c.n_diff_ids, 1);
    CHECK_STR(c.arch, "amd64");
    image_config_free(&c);
    const char *bad = "{\"config\":{\"Env\":[1]}}";
    CHECK(image_config_parse(&c, bad, strlen(bad), &e) < 0);
    CHECK(strstr(e.msg, "Env") != NULL);
}

TEST(config_healthcheck)
{
    const char *j = "{\"config\":{\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"curl -f localhost\"],"
                    "\"Interval\":5000000000,\"Timeout\":2000000000,\"StartPeriod\":0,"
                    "\"Retries\":4}}}";
    struct image_config c;
    struct bl_error e = {0};
    REQUIRE(image_config_parse(&c, j, strlen(j), &e) == 0);
    CHECK_STR(c.health_test[0], "CMD-SHELL");
    CHECK_STR(c.health_test[1], "curl -f localhost");
    CHECK_EQ(c.health_interval_ns, 5000000000LL);
    CHECK_EQ(c.health_timeout_ns, 2000000000LL);
    CHECK_EQ(c.health_retries, 4);
    image_config_free(&c);
    const char *none = "{\"config\":{}}";
    REQUIRE(image_config_parse(&c, none, strlen(none), &e) == 0);
    CHECK(c.health_test == NULL);
    image_config_free(&c);
    const char *bad[] = { "{\"config\":{\"Healthcheck\":[]}}",
                          "{\"config\":{\"Healthcheck\":{\"Test\":\"CMD\"}}}",
                          "{\"config\":{\"Healthcheck\":{\"Interval\":-1}}}",
                          "{\"config\":{\"Healthcheck\":{\"Retries\":\"3\"}}}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(image_config_parse(&c, bad[i], strlen(bad[i]), &e) < 0);
        CHECK(strstr(e.msg, "Healthcheck") != NULL);
    }
}
