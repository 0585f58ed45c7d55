// SPDX-License-Identifier: Apache-2.0
/* Power loss, simulated: every pwrite, ftruncate and fdatasync our qcow2 code makes on the
 * image is recorded (this test binary interposes those three calls). A power cut keeps
 * everything before some fdatasync and any subset of the writes after it, in any order;
 * each such state, rebuilt from the log, must pass `qemu-img check` (leaks allowed). This
 * is what the fdatasync barriers between refcounts, L2 and L1 tables are for: a kill -9
 * alone (test_qcow2_crash) cannot tell whether they are there. */
#include "util.h"

#include <dirent.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>

struct rec {
    char kind; /* 'W' write, 'T' truncate, 'S' sync */
    uint64_t off;
    size_t len;
    uint8_t *data;
};

static int rec_fd = -1;
static struct rec *recs;
static size_t nrecs, caprecs;

static void add(char kind, uint64_t off, size_t len, const void *data)
{
    if (nrecs == caprecs) {
        caprecs = caprecs ? 2 * caprecs : 1024;
        recs = realloc(recs, caprecs * sizeof *recs);
    }
    struct rec *r = &recs[nrecs++];
    r->kind = kind, r->off = off, r->len = len, r->data = NULL;
    if (data) {
        r->data = malloc(len);
        memcpy(r->data, data, len);
    }
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t r = syscall(SYS_pwrite64, fd, buf, n, off);
    if (fd == rec_fd && r > 0)
        add('W', (uint64_t)off, (size_t)r, buf);
    return r;
}

int ftruncate(int fd, off_t len)
{
    int r = (int)syscall(SYS_ftruncate, fd, len);
    if (fd == rec_fd && r == 0)
        add('T', (uint64_t)len, 0, NULL);
    return r;
}

int fdatasync(int fd)
{
    if (fd == rec_fd)
        add('S', 0, 0, NULL);
    return (int)syscall(SYS_fdatasync, fd);
}

/* The descriptor our code opened for path. */
static int fd_of(const char *path)
{
    char want[PATH_MAX], link[PATH_MAX], name[64];
    if (!realpath(path, want))
        return -1;
    for (int fd = 3; fd < 1024; fd++) {
        snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(name, link, sizeof link - 1);
        if (n > 0) {
            link[n] = 0;
            if (strcmp(link, want) == 0)
                return fd;
        }
    }
    return -1;
}

struct image {
    uint8_t *b;
    size_t len, cap;
};

static void apply(struct image *im, const struct rec *r)
{
    size_t end = r->kind == 'T' ? r->off : r->off + r->len;
    if (end > im->cap) {
        im->cap = end * 2;
        im->b = realloc(im->b, im->cap);
    }
    if (r->kind == 'T') {
        if (r->off > im->len)
            memset(im->b + im->len, 0, r->off - im->len);
        im->len = r->off;
    } else if (r->kind == 'W') {
        if (r->off > im->len)
            memset(im->b + im->len, 0, r->off - im->len);
        memcpy(im->b + r->off, r->data, r->len);
        if (end > im->len)
            im->len = end;
    }
}

static int check_state(const struct image *im, const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || (size_t)syscall(SYS_pwrite64, fd, im->b, im->len, 0) != im->len)
        return -1;
    close(fd);
    return qcheck_no_corruption(path) ? 0 : -1;
}

/* Runs a workload on image (already created), recording it, then checks crash states. */
static void powerloss(const char *image, uint64_t size, int nwrites, uint32_t seed0)
{
    struct image start = {0};
    int fd = open(image, O_RDONLY);
    REQUIRE(fd >= 0);
    start.cap = start.len = (size_t)lseek(fd, 0, SEEK_END);
    start.b = malloc(start.len + 1);
    REQUIRE(pread(fd, start.b, start.len, 0) == (ssize_t)start.len);
    close(fd);

    struct bl_error err = {0};
    struct disk *d;
    REQUIRE(disk_open(&d, image, 0, &err) == 0);
    rec_fd = fd_of(image);
    REQUIRE(rec_fd >= 0);
    uint64_t s = seed0;
    uint8_t *buf = malloc(200000);
    for (int i = 0; i < nwrites; i++) {
        size_t len = 1 + (size_t)(rnd(&s) % (i % 9 == 0 ? 200000 : 6000));
        uint64_t off = rnd(&s) % (size - len);
        pattern(buf, len, off, (uint32_t)i);
        REQUIRE(disk_write(d, buf, off, len, &err) == 0);
        if (i % 6 == 5)
            REQUIRE(disk_flush(d, &err) == 0);
    }
    disk_close(d);
    rec_fd = -1;
    free(buf);

    size_t nsync = 0;
    for (size_t i = 0; i < nrecs; i++)
        nsync += recs[i].kind == 'S';
    printf("#   %zu records, %zu barriers\n", nrecs, nsync);
    CHECK(nsync > 10);

    /* base = start + everything before the current barrier; then subsets of the epoch. */
    struct image base = start, trial = {0};
    size_t i = 0, states = 0, bad = 0;
    uint64_t pick = seed0 * 7 + 1;
    while (i <= nrecs) {
        size_t j = i;
        while (j < nrecs && recs[j].kind != 'S')
            j++;
        for (int t = 0; t < 2 && !bad; t++) {
            trial.len = base.len;
            if (trial.cap < base.cap) {
                trial.cap = base.cap;
                trial.b = realloc(trial.b, trial.cap);
            }
            memcpy(trial.b, base.b, base.len);
            for (size_t k = i; k < j; k++)
                if (recs[k].kind == 'T' || rnd(&pick) % 2)
                    apply(&trial, &recs[k]);
            states++;
            if (check_state(&trial, tpath("crash.qcow2")) < 0) {
                printf("#   corrupt after a power cut in epoch at record %zu..%zu\n", i, j);
                bad++;
            }
        }
        for (size_t k = i; k < j; k++)
            apply(&base, &recs[k]);
        if (bad)
            break;
        i = j + 1;
    }
    printf("#   %zu crash states checked\n", states);
    CHECK_EQ(bad, 0);
    /* The final state is the clean image. */
    CHECK_EQ(qcheck(image), 0);
    for (size_t k = 0; k < nrecs; k++)
        free(recs[k].data);
    nrecs = 0;
    free(base.b);
    free(trial.b);
}

TEST_TIMEOUT(power_cut_overlay_on_raw, 300)
{
    need_qemu_img();
    struct bl_error err = {0};
    int b = open(tpath("base.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(b >= 0 && ftruncate(b, 8 << 20) == 0);
    close(b);
    REQUIRE(qcow2_create(tpath("ov.qcow2"), 0, "base.raw", "raw", &err) == 0);
    powerloss(tpath("ov.qcow2"), 8 << 20, 120, 5);
}

TEST_TIMEOUT(power_cut_small_clusters, 300)
{
    need_qemu_img();
    /* 512-byte clusters: new refcount blocks and refcount table growth inside the run. */
    REQUIRE(sh("qemu-img create -q -f qcow2 -o cluster_size=512 '%s' 8M", tpath("s.qcow2")) ==
            0);
    powerloss(tpath("s.qcow2"), 8 << 20, 120, 9);
}
