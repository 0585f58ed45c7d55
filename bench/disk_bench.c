// SPDX-License-Identifier: Apache-2.0
/* Disk backend figures: qcow2 overlay creation time, 4 KiB random writes and sequential
 * reads through our qcow2 code against raw. Prints "figure: value unit" lines.
 *   disk_bench DIR   (a scratch directory on the file system to measure) */
#include "disk/disk.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MiB (1ull << 20)
#define DISK_SIZE (1024 * MiB)
#define RANDOM_WRITES 20000
#define SEQ_BYTES (256 * MiB)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, const struct bl_error *err)
{
    fprintf(stderr, "disk_bench: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* 4 KiB random writes (then one flush) and a sequential read of what was written. */
static void io_figures(const char *label, const char *path)
{
    struct bl_error err = {0};
    struct disk *d;
    if (disk_open(&d, path, 0, &err) < 0)
        die(path, &err);
    uint8_t *buf = malloc(MiB);
    memset(buf, 0x5a, MiB);
    uint64_t seed = 42;
    double t0 = now();
    for (int i = 0; i < RANDOM_WRITES; i++) {
        uint64_t off = (rnd(&seed) % (DISK_SIZE / 4096)) * 4096;
        if (disk_write(d, buf, off, 4096, &err) < 0)
            die("write", &err);
    }
    if (disk_flush(d, &err) < 0)
        die("flush", &err);
    double t = now() - t0;
    printf("%s 4k random write: %.0f IOPS (%.1f MiB/s, %d writes + flush)\n", label,
           RANDOM_WRITES / t, RANDOM_WRITES * 4096.0 / MiB / t, RANDOM_WRITES);

    for (uint64_t off = 0; off < SEQ_BYTES; off += MiB)
        if (disk_write(d, buf, off, MiB, &err) < 0)
            die("write", &err);
    if (disk_flush(d, &err) < 0)
        die("flush", &err);
    disk_close(d);
    if (disk_open(&d, path, 1, &err) < 0)
        die(path, &err);
    t0 = now();
    for (uint64_t off = 0; off < SEQ_BYTES; off += MiB)
        if (disk_read(d, buf, off, MiB, &err) < 0)
            die("read", &err);
    t = now() - t0;
    printf("%s sequential read (1 MiB requests, page cache warm): %.0f MiB/s\n", label,
           SEQ_BYTES / (double)MiB / t);
    disk_close(d);
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: disk_bench DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char base[512], path[600];
    snprintf(base, sizeof base, "%s/base.raw", dir);
    int fd = open(base, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, DISK_SIZE) < 0)
        die("create base", NULL);
    close(fd);

    /* Overlay creation over a raw base: the warm box-disk step of issue 5. */
    enum { N = 50 };
    double ms[N];
    struct bl_error err = {0};
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "%s/ov%d.qcow2", dir, i);
        unlink(path);
        double t0 = now();
        if (qcow2_create(path, 0, "base.raw", "raw", &err) < 0)
            die("qcow2_create", &err);
        ms[i] = (now() - t0) * 1e3;
        unlink(path);
    }
    qsort(ms, N, sizeof ms[0], cmp_double);
    printf("qcow2 overlay creation (1 GiB raw base, incl. fdatasync): median %.2f ms, "
           "max %.2f ms (%d runs)\n", ms[N / 2], ms[N - 1], N);

    snprintf(path, sizeof path, "%s/ov.qcow2", dir);
    unlink(path);
    if (qcow2_create(path, 0, "base.raw", "raw", &err) < 0)
        die("qcow2_create", &err);
    /* Opening the overlay (and its base) read-write, as the VMM does at start. */
    for (int i = 0; i < N; i++) {
        struct disk *d;
        double t0 = now();
        if (disk_open(&d, path, 0, &err) < 0)
            die(path, &err);
        ms[i] = (now() - t0) * 1e3;
        disk_close(d);
    }
    qsort(ms, N, sizeof ms[0], cmp_double);
    printf("qcow2 overlay open (read-write, with its base): median %.3f ms (%d runs)\n",
           ms[N / 2], N);
    io_figures("qcow2 overlay", path);
    io_figures("raw", base);
    unlink(path);
    unlink(base);
    return 0;
}
