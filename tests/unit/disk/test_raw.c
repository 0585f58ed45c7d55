// SPDX-License-Identifier: Apache-2.0
/* Raw disks: byte-for-byte I/O, range checks, discard (hole punching reads back zeros),
 * format probing and the read-only mode. */
#include "util.h"

#include <string.h>
#include <sys/stat.h>

TEST(raw_read_write_discard)
{
    struct bl_error err = {0};
    const char *p = tpath("r.img");
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0 && ftruncate(fd, 4 << 20) == 0);
    close(fd);
    struct disk *d;
    REQUIRE(disk_open(&d, p, 0, &err) == 0);
    CHECK_STR(d->ops->name, "raw");
    CHECK_EQ(d->size, 4 << 20);
    uint8_t *w = malloc(1 << 20), *r = malloc(1 << 20);
    pattern(w, 1 << 20, 12345, 1);
    CHECK_EQ(disk_write(d, w, 12345, 1 << 20, &err), 0);
    CHECK_EQ(disk_read(d, r, 12345, 1 << 20, &err), 0);
    CHECK_MEM(r, w, 1 << 20);
    CHECK_EQ(disk_flush(d, &err), 0);
    /* Past the end: an error, nothing written. */
    CHECK_EQ(disk_write(d, w, (4 << 20) - 10, 11, &err), -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "past the end") != NULL);
    CHECK_EQ(disk_read(d, r, UINT64_MAX - 5, 10, &err), -BOXLITE_ERR_INVALID);
    CHECK_EQ(disk_write(d, w, 4 << 20, 0, &err), 0);
    /* Discard: zeros afterwards, and the space is given back. */
    CHECK_EQ(disk_discard(d, 65536, 512 << 10, &err), 0);
    CHECK_EQ(disk_read(d, r, 65536, 512 << 10, &err), 0);
    for (size_t i = 0; i < (512 << 10); i++)
        if (r[i]) {
            CHECK(0);
            break;
        }
    CHECK_EQ(disk_read(d, r, 12345, 65536 - 12345, &err), 0);
    CHECK_MEM(r, w, 65536 - 12345);
    disk_close(d);
    struct stat st;
    REQUIRE(stat(p, &st) == 0);
    CHECK((uint64_t)st.st_blocks * 512 < (1 << 20));
    /* Read-only. */
    REQUIRE(disk_open(&d, p, 1, &err) == 0);
    CHECK_EQ(disk_write(d, w, 0, 1, &err), -BOXLITE_ERR_STATE);
    CHECK_EQ(disk_discard(d, 0, 1, &err), -BOXLITE_ERR_STATE);
    CHECK_EQ(disk_flush(d, &err), 0);
    disk_close(d);
    disk_close(NULL);
    free(w);
    free(r);
}

TEST(open_errors_and_format_choice)
{
    struct bl_error err = {0};
    struct disk *d;
    CHECK_EQ(disk_open(&d, tpath("missing"), 1, &err), -BOXLITE_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "missing") != NULL);
    CHECK_EQ(disk_open(&d, harness_tmpdir(), 1, &err), -BOXLITE_ERR_INVALID);
    CHECK_EQ(disk_open_fmt(&d, tpath("x"), "vmdk", 1, &err), -BOXLITE_ERR_UNSUPPORTED);
    /* A raw disk whose contents look like qcow2 stays raw when the format is given. */
    REQUIRE(qcow2_create(tpath("q"), 1 << 20, NULL, NULL, &err) == 0);
    REQUIRE(disk_open_fmt(&d, tpath("q"), "raw", 1, &err) == 0);
    CHECK_STR(d->ops->name, "raw");
    disk_close(d);
    REQUIRE(disk_open(&d, tpath("q"), 1, &err) == 0);
    CHECK_STR(d->ops->name, "qcow2");
    disk_close(d);
    /* Empty file: a raw disk of size 0. */
    int fd = open(tpath("empty"), O_RDWR | O_CREAT, 0644);
    close(fd);
    REQUIRE(disk_open(&d, tpath("empty"), 0, &err) == 0);
    CHECK_EQ(d->size, 0);
    disk_close(d);
}
