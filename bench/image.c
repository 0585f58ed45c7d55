/* Driver for bench/image.sh (the script builds it against the release archives):
 *   image pull HOME REF            cold pull + ext4 base; prints seconds
 *   image boxdisk HOME REF N DIR   N box overlays over the cached base; prints ms each
 *   image oci HOME LAYOUT OVERLAY SIZE_MIB   import an OCI layout and make one box disk */
#include "image/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s pull HOME REF | boxdisk HOME REF N DIR\n", argv[0]);
        return 2;
    }
    struct image_store st;
    struct bl_error err = {0};
    if (image_store_open(&st, argv[2], &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct image_pull_opts o = {0};
    char path[4096];
    if (!strcmp(argv[1], "pull")) {
        struct image_record rec;
        double t0 = now();
        if (image_pull_prepare(&st, argv[3], &o, &rec, path, sizeof path, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        printf("%.3f\n", now() - t0);
        image_record_free(&rec);
        return 0;
    }
    if (!strcmp(argv[1], "oci") && argc == 6) {
        /* oci HOME LAYOUT OVERLAY SIZE_MIB: import, prepare, make a box disk. */
        struct image_record rec;
        if (image_import_oci_layout(&st, argv[3], NULL, &o, &rec, &err) < 0 ||
            image_box_disk(&st, rec.id, argv[4], strtoull(argv[5], NULL, 10) << 20, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        printf("%s\n", rec.id);
        image_record_free(&rec);
        return 0;
    }
    if (!strcmp(argv[1], "boxdisk") && argc == 6) {
        int n = atoi(argv[4]);
        if (n < 1 || n > 10000)
            return 2;
        double *ms = calloc((size_t)n, sizeof *ms);
        for (int i = 0; i < n; i++) {
            char ov[4200];
            snprintf(ov, sizeof ov, "%s/box%d.qcow2", argv[5], i);
            double t0 = now();
            if (image_box_disk(&st, argv[3], ov, 2ULL << 30, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            ms[i] = (now() - t0) * 1e3;
        }
        qsort(ms, (size_t)n, sizeof *ms, cmp);
        printf("%.3f %.3f\n", ms[n / 2], ms[n - 1]);
        free(ms);
        return 0;
    }
    return 2;
}
