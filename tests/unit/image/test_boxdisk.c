// SPDX-License-Identifier: Apache-2.0
/* The per-box overlay over a cached ext4 base, checked with qemu-img. */
#include "image/image.h"
#include "regfixture.h"

#include <stdint.h>

TEST_TIMEOUT(box_disk_is_a_thin_overlay_qemu_accepts, 120)
{
    if (access("/usr/bin/qemu-img", X_OK) != 0)
        harness_need("qemu-img not installed");
    const char *fx = fixtures("busybox");
    REQUIRE(fx);
    char home[800], layout[800], base[1024], ov[900], ov2[900], cmd[2200], out[4096];
    snprintf(home, sizeof home, "%s/home", harness_tmpdir());
    snprintf(layout, sizeof layout, "%s/busybox", fx);
    struct image_store st;
    struct bl_error err = {0};
    REQUIRE(image_store_open(&st, home, &err) == 0);
    struct image_record rec;
    REQUIRE(image_import_oci_layout(&st, layout, NULL, NULL, &rec, &err) == 0);
    REQUIRE(image_prepare(&st, rec.id, NULL, base, sizeof base, &err) == 0);
    struct stat bst;
    REQUIRE(stat(base, &bst) == 0);

    snprintf(ov, sizeof ov, "%s/box1.qcow2", harness_tmpdir());
    uint64_t two_gib = 2ULL << 30;
    int r = image_box_disk(&st, rec.id, ov, two_gib, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "box disk: %s", err.msg);
    REQUIRE(r == 0);
    snprintf(cmd, sizeof cmd, "qemu-img check %s >/dev/null 2>&1", ov);
    CHECK_EQ(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "qemu-img info --output=json %s", ov);
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    pclose(p);
    CHECK(strstr(out, "\"virtual-size\": 2147483648") != NULL);
    CHECK(strstr(out, "\"backing-filename-format\": \"raw\"") != NULL);
    CHECK(strstr(out, base) != NULL);
    struct stat ost;
    REQUIRE(stat(ov, &ost) == 0);
    CHECK(ost.st_blocks * 512 < 1 << 20); /* thin: metadata only */

    /* Smaller than the base: the base's size. Existing file: refused. */
    snprintf(ov2, sizeof ov2, "%s/box2.qcow2", harness_tmpdir());
    REQUIRE(image_box_disk(&st, rec.id, ov2, 1 << 20, &err) == 0);
    snprintf(cmd, sizeof cmd, "qemu-img info --output=json %s | grep -q '\"virtual-size\": %lld,'", ov2,
             (long long)bst.st_size);
    CHECK_EQ(system(cmd), 0);
    CHECK(image_box_disk(&st, rec.id, ov2, 0, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_EXISTS);
    /* The guest view through the overlay is the base's filesystem. */
    snprintf(cmd, sizeof cmd, "qemu-img convert -O raw %s %s/flat.raw && e2fsck -fn %s/flat.raw >/dev/null 2>&1", ov2,
             harness_tmpdir(), harness_tmpdir());
    CHECK_EQ(system(cmd), 0);
    image_record_free(&rec);
}
