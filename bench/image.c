// SPDX-License-Identifier: Apache-2.0
/* Driver for bench/image.sh (the script builds it against the release archives):
 *   image pull HOME REF            cold pull + ext4 base; prints seconds
 *   image boxdisk HOME REF N DIR   N box overlays over the cached base; prints ms each
 *   image oci HOME LAYOUT OVERLAY SIZE_MIB   import an OCI layout and make one box disk
 *   image fetch HOME REF           the download alone (blobs stored, no ext4 base); seconds
 *   image phases HOME REF OUT      the ext4 build of a pulled image, step by step, from the
 *                                  stored layers: prints "name seconds" lines */
#include "image/ext4build.h"
#include "image/image.h"
#include "image/layerstream.h"
#include "image/manifest.h"
#include "image/pull.h"

#include <fcntl.h>
#include <unistd.h>

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
    if (!strcmp(argv[1], "fetch")) {
        struct pull_plan *plan;
        struct pulled p = {0};
        double t0 = now();
        if (pull_plan_open(&plan, argv[3], &o, &err) < 0 || pull_plan_resolve(plan, &st, &p, &err) < 0 ||
            pull_plan_fetch(plan, &st, &p, NULL, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        printf("%.3f\n", now() - t0);
        pulled_free(&p);
        pull_plan_close(plan);
        return 0;
    }
    if (!strcmp(argv[1], "phases") && argc == 5) {
        /* The layers of the pulled image, from its manifest. */
        struct image_record rec;
        char *body = NULL;
        size_t len;
        struct oci_manifest m;
        if (image_pull(&st, argv[3], &o, &rec, &err) < 0 ||
            blobstore_read(&st.bs, rec.manifest, 4u << 20, &body, &len, &err) < 0 ||
            oci_manifest_parse(&m, body, len, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        /* Decompression and both digests alone (the layers read to nowhere). */
        double t0 = now();
        for (size_t i = 0; i < m.n_layers; i++) {
            char bp[4096];
            blobstore_path(&st.bs, m.layers[i].digest, bp, sizeof bp);
            int fd = open(bp, O_RDONLY);
            struct layer_stream *ls;
            const void *p;
            ssize_t n;
            if (fd < 0 || layer_stream_open_fd(&ls, fd, NULL, NULL, &err) < 0)
                return 1;
            while ((n = layer_stream_read(ls, &p, &err)) > 0)
                ;
            if (n < 0 || layer_stream_finish(ls, m.layers[i].digest, NULL, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            layer_stream_free(ls);
            close(fd);
        }
        printf("decompress+digests %.3f\n", now() - t0);
        t0 = now();
        struct ext4b *b;
        uint64_t compressed = 0;
        for (size_t i = 0; i < m.n_layers; i++)
            compressed += (uint64_t)m.layers[i].size;
        if (ext4b_create(&b, argv[4], compressed * 3 + (256ull << 20), &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        printf("mke2fs+open %.3f\n", now() - t0);
        for (size_t i = 0; i < m.n_layers; i++) {
            t0 = now();
            char bp[4096];
            blobstore_path(&st.bs, m.layers[i].digest, bp, sizeof bp);
            int fd = open(bp, O_RDONLY);
            struct layer_stream *ls;
            if (fd < 0 || layer_stream_open_fd(&ls, fd, NULL, NULL, &err) < 0 ||
                ext4b_apply_stream(b, ls, m.layers[i].digest, NULL, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            layer_stream_free(ls);
            close(fd);
            printf("layer%zu(decompress+apply) %.3f\n", i, now() - t0);
        }
        t0 = now();
        struct ext4b_stats bs;
        if (ext4b_finish(b, 256ull << 20, &bs, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        ext4b_free(b);
        printf("finish(dirs+size+sync) %.3f\n", now() - t0);
        printf("inodes %llu\nbytes %llu\nimage_MiB %llu\nresizes %u\n", (unsigned long long)bs.inodes,
               (unsigned long long)bs.bytes, (unsigned long long)(bs.image_size >> 20), bs.resizes);
        oci_manifest_free(&m);
        free(body);
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
