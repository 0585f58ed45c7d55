// component: disk
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes qcow2 header and table parsing: the input becomes an image file (the first
 * bytes are the header and extensions; the rest follows at offsets chosen by the input),
 * which is then opened read-only and read all over, and opened read-write and written.
 * A relative backing file name resolves inside the fuzzer's private directory. */
#include "disk/disk.h"
#include "disk/qcow2.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void cleanup(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/img", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/base", dir);
    unlink(p);
    rmdir(dir);
}

static void touch(const char *image, const uint8_t *data, size_t size)
{
    int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        abort();
    /* Spread the input: first 4 KiB at 0, the rest repeated at cluster-ish offsets so
     * that tables the header points at (often 64 KiB multiples) see fuzz bytes too. */
    size_t head = size < 4096 ? size : 4096;
    if (write(fd, data, head) != (ssize_t)head)
        abort();
    if (size > head) {
        static const uint64_t at[] = {512, 4096, 65536, 131072, 196608, 262144};
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
            if (pwrite(fd, data + head, size - head, (off_t)at[i]) < 0)
                abort();
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        /* tmpfs when there is one: fdatasync is free there. */
        snprintf(dir, sizeof dir, "%s/fuzz_qcow2.XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        atexit(cleanup);
        char base[128];
        snprintf(base, sizeof base, "%s/base", dir);
        int fd = open(base, O_RDWR | O_CREAT, 0644);
        if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
            abort();
        close(fd);
    }
    char image[128];
    snprintf(image, sizeof image, "%s/img", dir);
    touch(image, data, size);

    struct bl_error err = {0};
    struct disk *d;
    uint8_t buf[8192];
    if (disk_open_fmt(&d, image, "qcow2", 1, &err) == 0) {
        uint64_t step = d->size / 7 + 1;
        for (uint64_t off = 0; off < d->size && off < (1ull << 40); off += step) {
            size_t n = d->size - off < sizeof buf ? (size_t)(d->size - off) : sizeof buf;
            disk_read(d, buf, off, n, &err);
        }
        disk_close(d);
    }
    touch(image, data, size);
    if (disk_open_fmt(&d, image, "qcow2", 0, &err) == 0) {
        memset(buf, 0xa5, sizeof buf);
        uint64_t step = d->size / 3 + 1;
        for (uint64_t off = 0; off < d->size && off < (1ull << 34); off += step) {
            size_t n = d->size - off < sizeof buf ? (size_t)(d->size - off) : sizeof buf;
            if (disk_write(d, buf, off, n, &err) < 0)
                break;
            disk_read(d, buf, off, n, &err);
        }
        if (d->size > 0)
            disk_discard(d, 0, d->size < 65536 ? d->size : 65536, &err);
        disk_flush(d, &err);
        disk_close(d);
    }
    return 0;
}
