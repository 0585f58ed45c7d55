// SPDX-License-Identifier: Apache-2.0
/* Crash consistency: a child process writes through our qcow2 code and is killed with
 * SIGKILL at an arbitrary point. Afterwards `qemu-img check` must find no corruption
 * (leaked clusters are allowed: exit 3), and every write completed before the child's last
 * flush must read back, through our code and through qemu-img. */
#include "util.h"

#include <signal.h>
#include <string.h>

#define MiB (1ull << 20)
#define DISK_SIZE (24 * MiB)
#define FLUSH_EVERY 7

struct op {
    uint64_t off;
    size_t len;
};

/* Op i of the deterministic sequence: mostly small writes, some large, some unaligned. */
static struct op op_at(uint32_t i)
{
    uint64_t s = 0x9e3779b97f4a7c15ull * (i + 1) | 1;
    rnd(&s);
    uint64_t r = rnd(&s);
    size_t len = 1 + (size_t)(rnd(&s) % (r % 8 == 0 ? 300000 : 5000));
    uint64_t off = rnd(&s) % (DISK_SIZE - len);
    if (r % 2)
        off &= ~4095ull, len = (len + 4095) & ~(size_t)4095;
    if (off + len > DISK_SIZE)
        len = (size_t)(DISK_SIZE - off);
    return (struct op){off, len};
}

struct msg {
    char kind; /* 'S' op started, 'F' ops before index are flushed */
    uint32_t index;
};

static void child(const char *image, int wfd)
{
    struct bl_error err = {0};
    struct disk *d;
    if (disk_open(&d, image, 0, &err) < 0)
        _exit(2);
    uint8_t *buf = malloc(300000 + 4096);
    for (uint32_t i = 0;; i++) {
        struct msg m = {'S', i};
        if (write(wfd, &m, sizeof m) != sizeof m)
            _exit(3);
        struct op o = op_at(i);
        pattern(buf, o.len, o.off, i);
        if (disk_write(d, buf, o.off, o.len, &err) < 0)
            _exit(4);
        if (i % FLUSH_EVERY == FLUSH_EVERY - 1) {
            if (disk_flush(d, &err) < 0)
                _exit(5);
            m = (struct msg){'F', i + 1};
            if (write(wfd, &m, sizeof m) != sizeof m)
                _exit(3);
        }
    }
}

static void crash_round(const char *image, const char *base_raw, uint32_t kill_after)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child(image, p[1]);
    }
    close(p[1]);
    uint32_t started = 0, flushed = 0, seen = 0;
    struct msg m;
    while (read(p[0], &m, sizeof m) == sizeof m) {
        if (m.kind == 'S')
            started = m.index + 1;
        else
            flushed = m.index;
        if (++seen == kill_after)
            kill(pid, SIGKILL);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    close(p[0]);
    REQUIRE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    printf("#   killed after %u ops started, %u flushed\n", started, flushed);

    CHECK(qcheck_no_corruption(image));

    /* Expected contents: the base, then the flushed ops; bytes an unflushed op may have
     * touched are not compared. */
    uint8_t *want = calloc(1, DISK_SIZE), *mask = calloc(1, DISK_SIZE),
            *got = malloc(DISK_SIZE);
    if (base_raw) {
        int b = open(base_raw, O_RDONLY);
        REQUIRE(b >= 0 && pread(b, want, DISK_SIZE, 0) >= 0);
        close(b);
    }
    for (uint32_t i = 0; i < flushed; i++) {
        struct op o = op_at(i);
        pattern(want + o.off, o.len, o.off, i);
    }
    for (uint32_t i = flushed; i < started; i++) {
        struct op o = op_at(i);
        memset(mask + o.off, 1, o.len);
    }
    struct bl_error err = {0};
    struct disk *d;
    REQUIRE(disk_open(&d, image, 1, &err) == 0);
    REQUIRE(disk_read(d, got, 0, DISK_SIZE, &err) == 0);
    disk_close(d);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < DISK_SIZE; i++)
        if (!mask[i] && got[i] != want[i] && !bad++)
            printf("#   first lost byte at %llu\n", (unsigned long long)i);
    CHECK_EQ(bad, 0);
    /* qemu sees the same bytes. */
    int out = open(tpath("qemu.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    close(out);
    unlink(tpath("qemu.raw"));
    REQUIRE(sh("qemu-img convert -f qcow2 -O raw '%s' '%s'", image, tpath("qemu.raw")) == 0);
    int q = open(tpath("qemu.raw"), O_RDONLY);
    REQUIRE(q >= 0 && pread(q, want, DISK_SIZE, 0) == (ssize_t)DISK_SIZE);
    close(q);
    CHECK(memcmp(want, got, DISK_SIZE) == 0);
    /* And the image stays writable by us: a clean close after more writes is leak-free
     * except for what the crash leaked. */
    REQUIRE(disk_open(&d, image, 0, &err) == 0);
    CHECK_EQ(disk_write(d, got, 0, 65536, &err), 0);
    disk_close(d);
    CHECK(qcheck_no_corruption(image));
    free(want);
    free(mask);
    free(got);
}

TEST_TIMEOUT(sigkill_mid_write_overlay_on_raw, 240)
{
    need_qemu_img();
    struct bl_error err = {0};
    int b = open(tpath("base.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    uint8_t *buf = malloc(DISK_SIZE);
    pattern(buf, DISK_SIZE, 0, 77);
    REQUIRE(b >= 0 && pwrite(b, buf, DISK_SIZE, 0) == (ssize_t)DISK_SIZE);
    close(b);
    free(buf);
    static const uint32_t kill_points[] = {3, 40, 157, 600};
    for (size_t i = 0; i < sizeof kill_points / sizeof kill_points[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "ov%zu.qcow2", i);
        REQUIRE(qcow2_create(tpath(name), 0, "base.raw", "raw", &err) == 0);
        crash_round(tpath(name), tpath("base.raw"), kill_points[i]);
    }
}

TEST_TIMEOUT(sigkill_mid_write_small_clusters, 240)
{
    need_qemu_img();
    /* 512-byte clusters: refcount blocks and refcount table growth all the time. */
    static const uint32_t kill_points[] = {25, 333, 1200};
    for (size_t i = 0; i < sizeof kill_points / sizeof kill_points[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "s%zu.qcow2", i);
        REQUIRE(sh("qemu-img create -q -f qcow2 -o cluster_size=512 '%s' 24M", tpath(name)) ==
                0);
        crash_round(tpath(name), NULL, kill_points[i]);
    }
}
