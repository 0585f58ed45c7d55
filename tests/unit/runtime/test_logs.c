// SPDX-License-Identifier: Apache-2.0
/* Reading a box's rotated logs (src/runtime/logs.c) across rotations, with the files
 * renamed by hand the way src/vmm/logrot.c renames them. */
#include "boxlite.h"
#include "harness/harness.h"
#include "runtime/runtime.h"

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
