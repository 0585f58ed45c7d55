// SPDX-License-Identifier: Apache-2.0
/* The image section of the public API on bad input (NULLs, malformed and unknown
 * references, an unreachable registry), and its helpers: the insecure-registry list and
 * the qcow2 backing-file reader (against overlays made by qemu-img and by our own code). */
#include "boxlite.h"
#include "harness/harness.h"
#include "image/rootfs.h"
#include "runtime/images.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static boxlite_runtime *open_rt(void)
{
    boxlite_runtime *rt = NULL;
    if (boxlite_runtime_open(harness_tmpdir(), &rt) != BOXLITE_OK)
        harness_fail(__FILE__, __LINE__, "open: %s", boxlite_errmsg());
    return rt;
}

static int progress(void *ud, int layer, int n, const char *d, unsigned long long done,
                    unsigned long long total)
{
    (void)layer; (void)n; (void)d; (void)done; (void)total;
    ++*(int *)ud;
    return BOXLITE_PULL_CONTINUE;
}

TEST(null_arguments_are_invalid)
{
    boxlite_runtime *rt = open_rt();
    char *json = NULL;
    CHECK_EQ(boxlite_image_pull(NULL, "busybox", NULL, NULL), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "runtime is NULL") != NULL);
    CHECK_EQ(boxlite_image_pull(rt, NULL, NULL, NULL), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_image_pull(rt, "", NULL, NULL), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_image_list(NULL, &json), BOXLITE_ERR_INVALID);
    CHECK(json == NULL);
    CHECK_EQ(boxlite_image_list(rt, NULL), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_image_remove(NULL, "busybox", 0), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_image_remove(rt, NULL, 1), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_image_remove(rt, "", 0), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_errcode(), BOXLITE_ERR_INVALID);
    boxlite_runtime_close(rt);
}

TEST(empty_store_lists_nothing)
{
    boxlite_runtime *rt = open_rt();
    char *json = NULL;
    REQUIRE(boxlite_image_list(rt, &json) == BOXLITE_OK);
    CHECK_STR(json, "[]");
    boxlite_free(json);
    boxlite_runtime_close(rt);
}

TEST(malformed_references_are_refused_with_a_message)
{
    boxlite_runtime *rt = open_rt();
    static const char *bad[] = { "Busybox", "a b", "busybox:", "busybox@sha256:zz",
                                 "busybox::x", "/leading", "x@md5:0123" };
    int calls = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(boxlite_image_pull(rt, bad[i], progress, &calls), BOXLITE_ERR_INVALID);
        CHECK(strstr(boxlite_errmsg(), bad[i]) != NULL || strstr(boxlite_errmsg(), "reference"));
        CHECK_EQ(boxlite_image_remove(rt, bad[i], 0), BOXLITE_ERR_INVALID);
        CHECK(strlen(boxlite_errmsg()) > 0);
    }
    CHECK_EQ(calls, 0);
    char *json = NULL;
    REQUIRE(boxlite_image_list(rt, &json) == BOXLITE_OK);
    CHECK_STR(json, "[]");
    boxlite_free(json);
    boxlite_runtime_close(rt);
}

TEST(unknown_image_is_not_found)
{
    boxlite_runtime *rt = open_rt();
    CHECK_EQ(boxlite_image_remove(rt, "busybox:latest", 0), BOXLITE_ERR_NOT_FOUND);
    CHECK(strstr(boxlite_errmsg(), "busybox") != NULL);
    CHECK_EQ(boxlite_image_remove(rt, "0123456789abcdef", 1), BOXLITE_ERR_NOT_FOUND);
    boxlite_runtime_close(rt);
}

TEST_TIMEOUT(unreachable_registry_is_a_clear_error, 120)
{
    boxlite_runtime *rt = open_rt();
    /* Port 1 on loopback: connection refused, after the registry client's retries. */
    int calls = 0;
    int rc = boxlite_image_pull(rt, "127.0.0.1:1/busybox:latest", progress, &calls);
    CHECK(rc == BOXLITE_ERR_NETWORK || rc == BOXLITE_ERR_IMAGE);
    CHECK(strstr(boxlite_errmsg(), "127.0.0.1:1") != NULL);
    CHECK_EQ(calls, 0);
    rc = boxlite_image_pull(rt, "127.0.0.1:1/busybox:latest", NULL, NULL);
    CHECK(rc == BOXLITE_ERR_NETWORK || rc == BOXLITE_ERR_IMAGE);
    char *json = NULL;
    REQUIRE(boxlite_image_list(rt, &json) == BOXLITE_OK);
    CHECK_STR(json, "[]");
    boxlite_free(json);
    boxlite_runtime_close(rt);
}

TEST(what_every_pull_gets)
{
    boxlite_runtime *rt = NULL;
    REQUIRE(boxlite_runtime_open(harness_tmpdir(), &rt) == BOXLITE_OK);
    struct rt_pull p;
    struct bl_error err = { 0 };
    unsetenv("BOXLITE_INSECURE_REGISTRIES");
    REQUIRE(rt_pull_open(rt, &p, &err) == 0);
    CHECK(p.insecure == NULL);
    CHECK_EQ(p.conf.n_search, 0);
    rt_pull_close(&p);
    setenv("BOXLITE_INSECURE_REGISTRIES", " reg.local:5000, ,10.0.0.2,,other ", 1);
    REQUIRE(rt_pull_open(rt, &p, &err) == 0);
    REQUIRE(p.insecure != NULL);
    CHECK_STR(p.insecure[0], "reg.local:5000");
    CHECK_STR(p.insecure[1], "10.0.0.2");
    CHECK_STR(p.insecure[2], "other");
    CHECK(p.insecure[3] == NULL);
    rt_pull_close(&p);
    unsetenv("BOXLITE_INSECURE_REGISTRIES");
    /* <home>/registries.json is read at each pull; a bad one is an error naming it */
    char path[600];
    snprintf(path, sizeof path, "%s/registries.json", harness_tmpdir());
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("{\"search\": [\"reg.example\", \"docker.io\"], \"registries\": {\"docker.io\": {\"mirrors\": [\"m.example:5000\"]}}}", f);
    fclose(f);
    REQUIRE(rt_pull_open(rt, &p, &err) == 0);
    CHECK_EQ(p.conf.n_search, 2);
    CHECK_STR(p.conf.search[0], "reg.example");
    CHECK(regconf_find(&p.conf, "docker.io") && regconf_find(&p.conf, "docker.io")->n_mirrors == 1);
    rt_pull_close(&p);
    f = fopen(path, "w");
    REQUIRE(f);
    fputs("{\"registries\": {\"docker.io\": {\"mirors\": []}}}", f);
    fclose(f);
    CHECK(rt_pull_open(rt, &p, &err) < 0);
    CHECK(strstr(err.msg, "registries.json") && strstr(err.msg, "unknown key \"mirors\""));
    CHECK_EQ(boxlite_image_pull(rt, "busybox", NULL, NULL), BOXLITE_ERR_INVALID);
    /* settings given through the API win over the file; bad ones change nothing */
    CHECK_EQ(boxlite_runtime_set_registries(rt, "{\"search\": [\"a b\"]}"), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "\"a b\" is not a registry name") != NULL);
    CHECK(rt_pull_open(rt, &p, &err) < 0); /* still the file's */
    REQUIRE(boxlite_runtime_set_registries(rt, "{\"search\": [\"only.example\"]}") == BOXLITE_OK);
    REQUIRE(rt_pull_open(rt, &p, &err) == 0);
    CHECK_EQ(p.conf.n_search, 1);
    rt_pull_close(&p);
    REQUIRE(boxlite_runtime_set_registries(rt, NULL) == BOXLITE_OK);
    CHECK(rt_pull_open(rt, &p, &err) < 0); /* back to the file */
    boxlite_runtime_close(rt);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

TEST(qcow2_backing_file)
{
    char base[512], ov[512], ov2[512], bad[512], name[1024];
    struct bl_error err = { 0 };
    snprintf(base, sizeof base, "%s/abc.ext4", harness_tmpdir());
    snprintf(ov, sizeof ov, "%s/ours.qcow2", harness_tmpdir());
    snprintf(ov2, sizeof ov2, "%s/qemu.qcow2", harness_tmpdir());
    snprintf(bad, sizeof bad, "%s/bad.qcow2", harness_tmpdir());
    write_file(base, "", 0);
    REQUIRE(truncate(base, 1 << 20) == 0);

    /* Our own overlay writer (the one box disks are made with). */
    REQUIRE(rootfs_box_disk(base, ov, 0, &err) == 0);
    CHECK_EQ(rt_qcow2_backing_file(ov, name, sizeof name, &err), 1);
    CHECK_STR(name, base);
    CHECK_EQ(rt_qcow2_backing_file(ov, name, 8, &err), -BOXLITE_ERR_IO);

    /* qemu-img's. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "qemu-img create -q -f qcow2 -F raw -b %s %s 2>/dev/null", base, ov2);
    if (system(cmd) == 0) {
        CHECK_EQ(rt_qcow2_backing_file(ov2, name, sizeof name, &err), 1);
        CHECK_STR(name, base);
    }
    snprintf(cmd, sizeof cmd, "qemu-img create -q -f qcow2 %s 1M 2>/dev/null", ov2);
    if (system(cmd) == 0)
        CHECK_EQ(rt_qcow2_backing_file(ov2, name, sizeof name, &err), 0);

    /* Not qcow2, truncated, a name offset past the end. */
    CHECK_EQ(rt_qcow2_backing_file(base, name, sizeof name, &err), -BOXLITE_ERR_IO);
    write_file(bad, "QFI\xfb", 4);
    CHECK_EQ(rt_qcow2_backing_file(bad, name, sizeof name, &err), -BOXLITE_ERR_IO);
    /* magic, version 3, a 9-byte backing name at 1 MiB, past the end of this 20-byte file */
    unsigned char h[20] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3, 0, 0,
                            0,   0,   0,   0x10, 0, 0, 0, 0, 0, 9 };
    write_file(bad, h, sizeof h);
    CHECK_EQ(rt_qcow2_backing_file(bad, name, sizeof name, &err), -BOXLITE_ERR_IO);
    h[8] = 0xff; /* offset beyond any file */
    write_file(bad, h, sizeof h);
    CHECK_EQ(rt_qcow2_backing_file(bad, name, sizeof name, &err), -BOXLITE_ERR_IO);
    snprintf(name, sizeof name, "%s/missing.qcow2", harness_tmpdir());
    CHECK_EQ(rt_qcow2_backing_file(name, name, sizeof name, &err), -BOXLITE_ERR_NOT_FOUND);
}
