// SPDX-License-Identifier: Apache-2.0
/* Reading a box's rotated logs (src/runtime/logs.c) across rotations, with the files
 * renamed by hand the way src/vmm/logrot.c renames them. */
#include "boxlite.h"
#include "harness/harness.h"
#include "runtime/runtime.h"
#include "common/logindex.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void put(const char *dir, const char *name, const char *text)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "a");
    REQUIRE(f);
    fputs(text, f);
    fclose(f);
}

static void mv(const char *dir, const char *from, const char *to)
{
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/%s", dir, from);
    snprintf(b, sizeof b, "%s/%s", dir, to);
    REQUIRE(rename(a, b) == 0);
}

/* Everything the reader gives now, appended to out. */
static void drain(boxlite_log *l, char *out, size_t cap)
{
    char buf[256];
    long long n;
    while ((n = boxlite_log_read(l, buf, sizeof buf)) > 0) {
        size_t have = strlen(out);
        REQUIRE(have + (size_t)n < cap);
        memcpy(out + have, buf, (size_t)n);
        out[have + (size_t)n] = 0;
    }
    CHECK_EQ(n, 0);
}

/* A rotation is two steps (rename the newest to .1, then create a new newest): a reader
 * that reaches the end between them must wait for the new file, not start over from the
 * oldest one (which is the file it has just read: every line of it twice). */
TEST(a_read_between_the_two_steps_of_a_rotation_loses_and_repeats_nothing)
{
    boxlite_runtime *rt = NULL;
    REQUIRE(boxlite_runtime_open(harness_tmpdir(), &rt) == BOXLITE_OK);
    boxlite_options *o = NULL;
    boxlite_box *b = NULL;
    boxlite_options_new(&o);
    boxlite_options_set_image(o, "alpine:latest");
    boxlite_options_set_auto_remove(o, 0);
    REQUIRE(boxlite_box_create(rt, o, &b) == BOXLITE_OK);
    boxlite_options_free(o);
    const char *dir = b->dir;
    put(dir, "console.log", "a1\na2\n");
    boxlite_log *l = NULL;
    REQUIRE(boxlite_box_log_open(b, "console", &l) == BOXLITE_OK);
    static char got[4096];
    drain(l, got, sizeof got);
    CHECK_STR(got, "a1\na2\n");
    mv(dir, "console.log", "console.log.1"); /* first step only */
    drain(l, got, sizeof got);
    CHECK_STR(got, "a1\na2\n");
    put(dir, "console.log", "b1\n"); /* second step, then more lines */
    drain(l, got, sizeof got);
    CHECK_STR(got, "a1\na2\nb1\n");
    /* and a full rotation while the reader is in the middle of the newest file */
    put(dir, "console.log", "b2\n");
    mv(dir, "console.log", "console.log.1");
    put(dir, "console.log", "c1\n");
    drain(l, got, sizeof got);
    CHECK_STR(got, "a1\na2\nb1\nb2\nc1\n");
    boxlite_log_close(l);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
}

/* ---- times: the index the per-box process writes beside each log (common/logindex.h) -- */

#define SEC 1000000000LL

/* <dir>/<name>.idx for the file <dir>/<name> as it is now, with records (offset, seconds). */
static void index_for(const char *dir, const char *log, const char *idxname, int n,
                      const uint64_t *off, const int64_t *sec)
{
    char p[600], q[600];
    snprintf(p, sizeof p, "%s/%s", dir, log);
    snprintf(q, sizeof q, "%s/%s", dir, idxname);
    struct stat st;
    REQUIRE(stat(p, &st) == 0);
    FILE *f = fopen(q, "w");
    REQUIRE(f);
    uint8_t h[LOGIDX_HDR_SIZE], r[LOGIDX_REC_SIZE];
    logidx_header(h, (uint64_t)st.st_ino);
    fwrite(h, 1, sizeof h, f);
    for (int i = 0; i < n; i++) {
        logidx_record(r, off[i], sec[i] * SEC);
        fwrite(r, 1, sizeof r, f);
    }
    fclose(f);
}

/* Everything a reader with these options gives, as one string. */
static void read_with(const char *dir, const char *opts, char *out, size_t cap)
{
    char path[600];
    snprintf(path, sizeof path, "%s/console.log", dir);
    boxlite_log *l = NULL;
    REQUIRE(rt_log_open_path(path, 3, opts, &l) == BOXLITE_OK);
    out[0] = 0;
    drain(l, out, cap);
    boxlite_log_close(l);
}

static const char *fresh_dir(const char *name)
{
    static char d[600];
    snprintf(d, sizeof d, "%s/%s", harness_tmpdir(), name);
    return mkdir(d, 0700) == 0 ? d : NULL;
}

TEST(since_until_and_timestamps_follow_the_index)
{
    const char *d = fresh_dir("timed");
    REQUIRE(d);
    /* l1 at 1000 s, l2 and l3 at 2000 s (one chunk), l4 at 3000 s, across a rotation:
     * console.log.1 holds l1 l2 and the start of l3, console.log the rest of l3 and l4 */
    put(d, "console.log.1", "l1\nl2\nl3-");
    put(d, "console.log", "end\nl4\n");
    index_for(d, "console.log.1", "console.log.1.idx", 2, (uint64_t[]){ 0, 3 },
              (int64_t[]){ 1000, 2000 });
    /* the newest file's index under the other name: the reader matches inodes, not names
     * (a rotation between its two renames) */
    index_for(d, "console.log", "console.log.2.idx", 2, (uint64_t[]){ 0, 4 },
              (int64_t[]){ 2000, 3000 });
    static char got[4096];
    read_with(d, NULL, got, sizeof got);
    CHECK_STR(got, "l1\nl2\nl3-end\nl4\n"); /* no options: the bytes as they are */
    read_with(d, "{\"since\": \"1500\"}", got, sizeof got);
    CHECK_STR(got, "l2\nl3-end\nl4\n");
    read_with(d, "{\"until\": 2000}", got, sizeof got);
    CHECK_STR(got, "l1\nl2\nl3-end\n");
    read_with(d, "{\"since\": \"1970-01-01T00:33:20Z\", \"until\": \"2999.999\"}", got,
              sizeof got);
    CHECK_STR(got, "l2\nl3-end\n");
    read_with(d, "{\"timestamps\": true, \"since\": 2500}", got, sizeof got);
    CHECK_STR(got, "1970-01-01T00:50:00.000000000Z l4\n");
    read_with(d, "{\"timestamps\": true}", got, sizeof got);
    CHECK_STR(got, "1970-01-01T00:16:40.000000000Z l1\n"
                   "1970-01-01T00:33:20.000000000Z l2\n"
                   "1970-01-01T00:33:20.000000000Z l3-end\n"
                   "1970-01-01T00:50:00.000000000Z l4\n");
    /* read in small pieces: a line's time is written once, whatever the buffer */
    char path[600];
    snprintf(path, sizeof path, "%s/console.log", d);
    boxlite_log *l = NULL;
    REQUIRE(rt_log_open_path(path, 3, "{\"timestamps\": true, \"since\": \"2000\"}", &l) == 0);
    char small[7];
    got[0] = 0;
    long long n;
    while ((n = boxlite_log_read(l, small, sizeof small)) > 0)
        strncat(got, small, (size_t)n);
    CHECK_EQ(n, 0);
    CHECK_STR(got, "1970-01-01T00:33:20.000000000Z l2\n"
                   "1970-01-01T00:33:20.000000000Z l3-end\n"
                   "1970-01-01T00:50:00.000000000Z l4\n");
    boxlite_log_close(l);
}

/* A position taken after every number of bytes, in every state (inside a time stamp,
 * inside a kept or a dropped line, across the rotation), resumes exactly: the bytes before
 * it and those a reader opened "from" it gives are one whole read. */
TEST(a_position_resumes_exactly_wherever_it_was_taken)
{
    const char *d = fresh_dir("position");
    REQUIRE(d);
    put(d, "console.log.1", "l1\nl2\nl3-");
    put(d, "console.log", "end\nl4\n");
    index_for(d, "console.log.1", "console.log.1.idx", 2, (uint64_t[]){ 0, 3 },
              (int64_t[]){ 1000, 2000 });
    index_for(d, "console.log", "console.log.idx", 2, (uint64_t[]){ 0, 4 },
              (int64_t[]){ 2000, 3000 });
    char path[600];
    snprintf(path, sizeof path, "%s/console.log", d);
    static const char *const opts[] = { "{}", "{\"timestamps\": true}",
                                        "{\"since\": \"1500\"}",
                                        "{\"timestamps\": true, \"since\": 2500}" };
    for (size_t o = 0; o < sizeof opts / sizeof opts[0]; o++) {
        static char whole[4096];
        read_with(d, strcmp(opts[o], "{}") ? opts[o] : NULL, whole, sizeof whole);
        for (size_t k = 0; k <= strlen(whole); k++) {
            boxlite_log *l = NULL;
            REQUIRE(rt_log_open_path(path, 3, opts[o], &l) == 0);
            static char got[4096];
            size_t have = 0;
            while (have < k) {
                long long n = boxlite_log_read(l, got + have, k - have < 3 ? k - have : 3);
                REQUIRE(n > 0);
                have += (size_t)n;
            }
            char at[BOXLITE_LOG_POSITION_MAX], from[256];
            REQUIRE(boxlite_log_position(l, at, sizeof at) == BOXLITE_OK);
            boxlite_log_close(l);
            /* the query as a reconnect sends it: a relative time is read again now, the
             * position's own times hold */
            snprintf(from, sizeof from, "{\"timestamps\": %s, \"since\": \"1h\", "
                     "\"from\": \"%s\"}", strstr(opts[o], "timestamps") ? "true" : "false", at);
            REQUIRE(rt_log_open_path(path, 3, from, &l) == 0);
            got[have] = 0;
            drain(l, got, sizeof got);
            boxlite_log_close(l);
            if (strcmp(got, whole))
                printf("# options %s, position %s after %zu bytes\n", opts[o], at, k);
            CHECK_STR(got, whole);
        }
    }
    boxlite_log *l = NULL;
    CHECK(rt_log_open_path(path, 3, "{\"from\": \"1.2.3\"}", &l) == BOXLITE_ERR_INVALID);
    CHECK(rt_log_open_path(path, 3, "{\"from\": \"+1.0.0.0.0\"}", &l) == BOXLITE_ERR_INVALID);
    CHECK(rt_log_open_path(path, 3, "{\"from\": \"1.0.99.0.0\"}", &l) == BOXLITE_ERR_INVALID);
    /* a reader that stopped inside a line it drops (still being written, older than since)
     * drops the rest of it once it comes */
    const char *d2 = fresh_dir("position-dropped");
    REQUIRE(d2);
    put(d2, "console.log", "a1\na2-");
    index_for(d2, "console.log", "console.log.idx", 2, (uint64_t[]){ 0, 3 },
              (int64_t[]){ 1000, 1000 });
    char p2[600], at[BOXLITE_LOG_POSITION_MAX], from[256];
    snprintf(p2, sizeof p2, "%s/console.log", d2);
    REQUIRE(rt_log_open_path(p2, 3, "{\"since\": 1500}", &l) == 0);
    static char got2[256];
    got2[0] = 0;
    drain(l, got2, sizeof got2);
    CHECK_STR(got2, "");
    REQUIRE(boxlite_log_position(l, at, sizeof at) == BOXLITE_OK);
    boxlite_log_close(l);
    put(d2, "console.log", "tail\nb\n");
    index_for(d2, "console.log", "console.log.idx", 3, (uint64_t[]){ 0, 3, 11 },
              (int64_t[]){ 1000, 1000, 2000 });
    snprintf(from, sizeof from, "{\"from\": \"%s\"}", at);
    REQUIRE(rt_log_open_path(p2, 3, from, &l) == 0);
    drain(l, got2, sizeof got2);
    CHECK_STR(got2, "b\n");
    boxlite_log_close(l);
    /* a file no longer retained: the oldest retained byte */
    REQUIRE(rt_log_open_path(path, 3, "{\"from\": \"1.5.0.0.0\"}", &l) == 0);
    static char got[4096];
    got[0] = 0;
    drain(l, got, sizeof got);
    CHECK_STR(got, "l1\nl2\nl3-end\nl4\n");
    boxlite_log_close(l);
}

TEST(a_line_still_being_written_is_dated_once_and_followed)
{
    const char *d = fresh_dir("growing");
    REQUIRE(d);
    put(d, "console.log", "par");
    index_for(d, "console.log", "console.log.idx", 1, (uint64_t[]){ 0 }, (int64_t[]){ 100 });
    char path[600];
    snprintf(path, sizeof path, "%s/console.log", d);
    boxlite_log *l = NULL;
    REQUIRE(rt_log_open_path(path, 2, "{\"timestamps\": true}", &l) == 0);
    static char got[1024];
    drain(l, got, sizeof got);
    CHECK_STR(got, "1970-01-01T00:01:40.000000000Z par");
    put(d, "console.log", "tial\nnext\n"); /* the writer dates "next" before writing it */
    char idx[600];
    snprintf(idx, sizeof idx, "%s/console.log.idx", d);
    FILE *f = fopen(idx, "a");
    REQUIRE(f);
    uint8_t r[LOGIDX_REC_SIZE];
    logidx_record(r, 8, 200 * SEC);
    fwrite(r, 1, sizeof r, f);
    fclose(f);
    drain(l, got, sizeof got);
    CHECK_STR(got, "1970-01-01T00:01:40.000000000Z partial\n1970-01-01T00:03:20.000000000Z next\n");
    boxlite_log_close(l);
}

TEST(a_hostile_index_loses_times_never_bytes)
{
    const char *d = fresh_dir("hostile");
    REQUIRE(d);
    put(d, "console.log", "a\nb\nc\n");
    static char got[1024];
    /* another file's index (the inode differs): not used */
    put(d, "other", "x");
    index_for(d, "other", "console.log.idx", 1, (uint64_t[]){ 0 }, (int64_t[]){ 100 });
    read_with(d, "{\"timestamps\": true}", got, sizeof got);
    CHECK_STR(got, "a\nb\nc\n");
    read_with(d, "{\"since\": \"1\"}", got, sizeof got);
    CHECK_STR(got, ""); /* no time known: left out */
    /* offsets going back: the records from there on are not believed */
    index_for(d, "console.log", "console.log.idx", 3, (uint64_t[]){ 0, 4, 2 },
              (int64_t[]){ 100, 300, 200 });
    read_with(d, "{\"timestamps\": true}", got, sizeof got);
    CHECK_STR(got, "1970-01-01T00:01:40.000000000Z a\n1970-01-01T00:01:40.000000000Z b\n"
                   "1970-01-01T00:05:00.000000000Z c\n");
    /* a torn record and a garbage tail: what is whole and in order is used */
    char idx[600];
    snprintf(idx, sizeof idx, "%s/console.log.idx", d);
    index_for(d, "console.log", "console.log.idx", 1, (uint64_t[]){ 0 }, (int64_t[]){ 100 });
    FILE *f = fopen(idx, "a");
    REQUIRE(f);
    fwrite("\xff\xff\xff", 1, 3, f);
    fclose(f);
    read_with(d, "{\"until\": \"100\"}", got, sizeof got);
    CHECK_STR(got, "a\nb\nc\n");
    /* a FIFO where the index should be: not opened for reading (it would block) */
    REQUIRE(unlink(idx) == 0);
    REQUIRE(mkfifo(idx, 0600) == 0);
    read_with(d, "{\"timestamps\": true}", got, sizeof got);
    CHECK_STR(got, "a\nb\nc\n");
    /* a negative or huge time is printed, not trusted for anything else */
    REQUIRE(unlink(idx) == 0);
    index_for(d, "console.log", "console.log.idx", 1, (uint64_t[]){ 0 },
              (int64_t[]){ -5 });
    read_with(d, "{\"timestamps\": true}", got, sizeof got);
    CHECK_STR(got, "1969-12-31T23:59:55.000000000Z a\n1969-12-31T23:59:55.000000000Z b\n"
                   "1969-12-31T23:59:55.000000000Z c\n");
}

TEST(times_in_dockers_forms)
{
    setenv("TZ", "UTC", 1);
    tzset();
    struct bl_error e = { 0 };
    int64_t now = 1800000000LL * SEC, t = 0;
    CHECK_EQ(rt_log_time_parse("10m", now, &t, &e), 0);
    CHECK_EQ(t, now - 600 * SEC);
    CHECK_EQ(rt_log_time_parse("1h30m", now, &t, &e), 0);
    CHECK_EQ(t, now - 5400 * SEC);
    CHECK_EQ(rt_log_time_parse("1.5h", now, &t, &e), 0);
    CHECK_EQ(t, now - 5400 * SEC);
    CHECK_EQ(rt_log_time_parse("250ms", now, &t, &e), 0);
    CHECK_EQ(t, now - 250000000LL);
    CHECK_EQ(rt_log_time_parse("2026-12-04T18:35:39Z", now, &t, &e), 0);
    CHECK_EQ(t, 1796409339LL * SEC);
    CHECK_EQ(rt_log_time_parse("2026-12-04T19:35:39.5+01:00", now, &t, &e), 0);
    CHECK_EQ(t, 1796409339LL * SEC + 500000000LL);
    CHECK_EQ(rt_log_time_parse("2026-12-04T18:35:39", now, &t, &e), 0); /* local = UTC here */
    CHECK_EQ(t, 1796409339LL * SEC);
    CHECK_EQ(rt_log_time_parse("2026-12-04", now, &t, &e), 0);
    CHECK_EQ(t, 1796342400LL * SEC);
    CHECK_EQ(rt_log_time_parse("1796409339.000000001", now, &t, &e), 0);
    CHECK_EQ(t, 1796409339LL * SEC + 1);
    const char *bad[] = { "", "banana", "10x", "10", "2026-13-01", "2026-12-04T25:00:00Z",
                          "2026-12-04T18:35:39+0100", "1.", "-10m", "10m5", NULL };
    for (int i = 0; bad[i]; i++) {
        if (!strcmp(bad[i], "10"))
            continue; /* Unix seconds, not a duration */
        CHECK(rt_log_time_parse(bad[i], now, &t, &e) < 0);
    }
    /* the options document names what it refuses */
    char path[600];
    snprintf(path, sizeof path, "%s/nolog", harness_tmpdir());
    boxlite_log *l = NULL;
    CHECK_EQ(rt_log_open_path(path, 1, "{\"sinse\": \"1m\"}", &l), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "sinse") != NULL);
    CHECK_EQ(rt_log_open_path(path, 1, "{\"since\": \"yesterday\"}", &l), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "since") != NULL);
    CHECK_EQ(rt_log_open_path(path, 1, "{\"timestamps\": 1}", &l), BOXLITE_ERR_INVALID);
    CHECK(l == NULL);
}
