// SPDX-License-Identifier: Apache-2.0
/* The per-box process's log writer, its console pump and health bookkeeping: rotation at
 * the cap keeps every byte in order across the retained files; a failing disk drops, never
 * blocks; the kernel's panic line is found in any chunking; Docker's health rules. */
#include "harness/harness.h"
#include "vmm/conlog.h"
#include "vmm/health.h"
#include "vmm/logrot.h"
#include "common/clock.h"
#include "common/logindex.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static long fsize(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "r");
    if (!f)
        return NULL;
    char *b = malloc(1 << 20);
    *n = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

TEST(rotates_at_the_cap_and_keeps_order)
{
    char path[512], p1[600], p2[600];
    snprintf(path, sizeof path, "%s/console.log", harness_tmpdir());
    snprintf(p1, sizeof p1, "%s.1", path);
    snprintf(p2, sizeof p2, "%s.2", path);
    struct logrot *l = NULL;
    struct bl_error e = {0};
    REQUIRE(logrot_open(&l, path, 4096, 2, &e) == 0);
    char line[64];
    for (int i = 0; i < 1000; i++) { /* about 12 KiB: three rotations */
        int n = snprintf(line, sizeof line, "line %04d\n", i);
        logrot_write(l, line, (size_t)n);
    }
    CHECK(fsize(path) <= 4096 && fsize(p1) == 4096);
    CHECK_EQ(fsize(p2), -1); /* two files kept, no more */
    /* .1 then the current file: a contiguous tail of what was written */
    size_t n1 = 0, n0 = 0; /* set by slurp; aarch64 gcc cannot see it */
    char *a = slurp(p1, &n1), *b = slurp(path, &n0);
    REQUIRE(a && b);
    char *all = malloc(n1 + n0 + 1);
    memcpy(all, a, n1);
    memcpy(all + n1, b, n0);
    all[n1 + n0] = 0;
    CHECK(strstr(all, "line 0999\n") != NULL);
    char *first = strstr(all, "line ");
    int k = first ? atoi(first + 5) : -1;
    for (char *p = first; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL, k++) {
        if (!*p)
            break;
        if (atoi(p + 5) != k) {
            harness_fail(__FILE__, __LINE__, "gap at %d", k);
            break;
        }
    }
    free(a);
    free(b);
    free(all);
    CHECK_EQ(logrot_dropped(l), 0);
    logrot_close(l);
    /* one file: truncated in place; a write larger than the cap is split */
    REQUIRE(logrot_open(&l, path, 4096, 1, &e) == 0);
    char big[10000];
    memset(big, 'x', sizeof big);
    logrot_write(l, big, sizeof big);
    CHECK(fsize(path) <= 4096);
    logrot_close(l);
    CHECK(logrot_open(&l, path, 100, 2, &e) < 0);
    CHECK(logrot_open(&l, path, 4096, 0, &e) < 0);
}

TEST(a_full_disk_drops_and_counts)
{
    if (access("/dev/full", W_OK) != 0)
        harness_need("no /dev/full");
    struct logrot *l = NULL;
    struct bl_error e = {0};
    /* /dev/full: every write fails with ENOSPC; its size never grows, so no rotation */
    REQUIRE(logrot_open(&l, "/dev/full", 4096, 1, &e) == 0);
    logrot_write(l, "hello", 5);
    CHECK_EQ(logrot_dropped(l), 5);
    logrot_close(l);
}

TEST(panic_line_found_in_any_chunking)
{
    const char *text = "[    1.0] boot\r\n[   30.2] Kernel panic - not syncing: Attempted to kill "
                       "init! exitcode=0x00000100\r\n[   30.3] ---[ end ]---\r\n";
    for (size_t chunk = 1; chunk < 40; chunk += 7) {
        struct panic_scan s = {0};
        for (size_t off = 0; off < strlen(text); off += chunk) {
            size_t n = strlen(text) - off < chunk ? strlen(text) - off : chunk;
            panic_scan_feed(&s, text + off, n);
        }
        CHECK_STR(s.panic, "Attempted to kill init! exitcode=0x00000100");
    }
    /* a line too long to keep is not scanned; control bytes are dropped */
    struct panic_scan s = {0};
    char longline[2000];
    memset(longline, 'a', sizeof longline);
    panic_scan_feed(&s, longline, sizeof longline);
    panic_scan_feed(&s, "Kernel panic - not syncing: x\n", 30);
    CHECK_STR(s.panic, "");
    panic_scan_feed(&s, "Kernel panic - not syncing: a\033[2Jb\n", 36);
    CHECK_STR(s.panic, "a[2Jb");
}

/* The pump: a pipe's bytes reach the log; its end is noticed. */
TEST(conlog_pumps_a_pipe_into_the_log)
{
    char path[512];
    snprintf(path, sizeof path, "%s/pumped.log", harness_tmpdir());
    struct logrot *l = NULL;
    struct conlog *c = NULL;
    struct bl_error e = {0};
    int p[2];
    REQUIRE(pipe(p) == 0);
    REQUIRE(logrot_open(&l, path, 65536, 2, &e) == 0);
    REQUIRE(conlog_start(&c, p[0], l, &e) == 0);
    const char *msg = "hello\nKernel panic - not syncing: test\n";
    CHECK_EQ(write(p[1], msg, strlen(msg)), (long)strlen(msg));
    close(p[1]);
    char panic[64];
    conlog_stop(c, 5000, panic, sizeof panic);
    CHECK_STR(panic, "test");
    CHECK_EQ(fsize(path), (long)strlen(msg));
    logrot_close(l);
}

TEST(health_rules_are_dockers)
{
    struct vmm_health_cfg cfg = {.retries = 3, .start_period_ms = 10000};
    struct health_state s = {0};
    CHECK_STR(health_status_name(s.status), "starting");
    /* failures in the start period do not count */
    for (int i = 0; i < 5; i++)
        health_record(&s, &cfg, false, 1000);
    CHECK_EQ(s.status, HEALTH_STARTING);
    CHECK_EQ(s.streak, 0);
    CHECK_EQ(s.failures, 5);
    /* a pass in the start period makes it healthy */
    health_record(&s, &cfg, true, 2000);
    CHECK_EQ(s.status, HEALTH_HEALTHY);
    /* after it, `retries` failures in a row make it unhealthy, a pass resets */
    health_record(&s, &cfg, false, 20000);
    health_record(&s, &cfg, false, 21000);
    CHECK_EQ(s.status, HEALTH_HEALTHY);
    health_record(&s, &cfg, true, 22000);
    CHECK_EQ(s.streak, 0);
    for (int i = 0; i < 3; i++)
        health_record(&s, &cfg, false, 23000 + i);
    CHECK_EQ(s.status, HEALTH_UNHEALTHY);
    CHECK_STR(health_status_name(s.status), "unhealthy");
    health_record(&s, &cfg, true, 30000);
    CHECK_EQ(s.status, HEALTH_HEALTHY);
    CHECK_EQ(s.checks, 13);
}

/* The time index (common/logindex.h): records of the offsets where lines start, dated
 * before their bytes, the log itself unchanged. */
struct idx_view {
    uint64_t ino;
    bool header_ok;
    int n;
    uint64_t off[64];
    int64_t ns[64];
};

static void read_index(const char *log, const char *idx, struct idx_view *v)
{
    memset(v, 0, sizeof *v);
    struct stat st;
    REQUIRE(stat(log, &st) == 0);
    size_t n = 0;
    uint8_t *b = (uint8_t *)slurp(idx, &n);
    REQUIRE(b);
    v->header_ok = logidx_header_ok(b, n, (uint64_t)st.st_ino);
    CHECK_EQ((n - LOGIDX_HDR_SIZE) % LOGIDX_REC_SIZE, 0);
    for (size_t o = LOGIDX_HDR_SIZE; o + LOGIDX_REC_SIZE <= n && v->n < 64; o += LOGIDX_REC_SIZE) {
        logidx_record_get(b + o, &v->off[v->n], &v->ns[v->n]);
        v->n++;
    }
    free(b);
}

TEST(the_index_dates_each_line_start_and_leaves_the_log_as_written)
{
    char path[512], idx[600];
    snprintf(path, sizeof path, "%s/timed.log", harness_tmpdir());
    snprintf(idx, sizeof idx, "%s.idx", path);
    struct logrot *l = NULL;
    struct bl_error e = {0};
    REQUIRE(logrot_open(&l, path, 65536, 2, &e) == 0);
    REQUIRE(logrot_index(l) == 0);
    uint64_t t0 = wall_ns();
    logrot_write(l, "a\nb", 3);      /* lines at 0 and 2: one record (0), one time */
    logrot_write(l, "c\n", 2);       /* ends line b: no line starts here */
    logrot_write(l, "d\ne\n", 4);    /* line d at 5 */
    logrot_write(l, "\r\x1b[2J", 5); /* bytes as they are, even control ones */
    uint64_t t1 = wall_ns();
    size_t n;
    char *text = slurp(path, &n);
    REQUIRE(text);
    CHECK_EQ(n, 14);
    CHECK(!memcmp(text, "a\nbc\nd\ne\n\r\x1b[2J", 14));
    free(text);
    struct idx_view v;
    read_index(path, idx, &v);
    CHECK(v.header_ok);
    REQUIRE(v.n == 3);
    CHECK_EQ(v.off[0], 0);
    CHECK_EQ(v.off[1], 5);
    CHECK_EQ(v.off[2], 9);
    for (int i = 0; i < v.n; i++)
        CHECK((uint64_t)v.ns[i] >= t0 && (uint64_t)v.ns[i] <= t1);
    logrot_close(l);
    /* a second run appends to the same file: its index is kept and goes on */
    REQUIRE(logrot_open(&l, path, 65536, 2, &e) == 0);
    REQUIRE(logrot_index(l) == 0);
    logrot_write(l, "f\n", 2);
    logrot_close(l);
    read_index(path, idx, &v);
    CHECK(v.header_ok);
    REQUIRE(v.n == 4);
    CHECK_EQ(v.off[3], 14);
}

TEST(the_index_rotates_with_its_log_and_is_bounded_like_it)
{
    char path[512], idx[600], p1[600], idx1[600];
    snprintf(path, sizeof path, "%s/flood.log", harness_tmpdir());
    snprintf(idx, sizeof idx, "%s.idx", path);
    snprintf(p1, sizeof p1, "%s.1", path);
    snprintf(idx1, sizeof idx1, "%s.1.idx", path);
    struct logrot *l = NULL;
    struct bl_error e = {0};
    REQUIRE(logrot_open(&l, path, 4096, 2, &e) == 0);
    REQUIRE(logrot_index(l) == 0);
    /* a guest printing empty lines one at a time: a record per byte */
    for (int i = 0; i < 3000; i++)
        logrot_write(l, "\n", 1);
    CHECK(fsize(idx) <= 4096 && fsize(idx1) <= 4096);
    CHECK(fsize(path) <= 4096 && fsize(p1) <= 4096);
    /* each index names its own file; every retained byte is dated from offset 0 */
    struct idx_view v;
    read_index(path, idx, &v);
    CHECK(v.header_ok);
    CHECK(v.n > 0 && v.off[0] == 0);
    read_index(p1, idx1, &v);
    CHECK(v.header_ok);
    CHECK(v.n > 0 && v.off[0] == 0);
    logrot_close(l);
    /* one file, truncated in place (same inode): its index starts over with it */
    REQUIRE(logrot_open(&l, path, 4096, 1, &e) == 0);
    REQUIRE(logrot_index(l) == 0);
    char big[5000];
    memset(big, 'x', sizeof big);
    big[sizeof big - 1] = '\n';
    logrot_write(l, big, sizeof big);
    logrot_write(l, "y\n", 2);
    logrot_close(l);
    read_index(path, idx, &v);
    CHECK(v.header_ok);
    REQUIRE(v.n >= 1);
    CHECK_EQ(v.off[0], 0);
    CHECK_EQ(v.off[v.n - 1], (uint64_t)fsize(path) - 2);
}
