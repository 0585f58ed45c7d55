// SPDX-License-Identifier: Apache-2.0
#include "boxlite.h"
#include "harness/harness.h"
#include "runtime/runtime.h"

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static boxlite_runtime *open_rt(void)
{
    boxlite_runtime *rt = NULL;
    if (boxlite_runtime_open(harness_tmpdir(), &rt) != BOXLITE_OK)
        harness_fail(__FILE__, __LINE__, "open: %s", boxlite_errmsg());
    return rt;
}

static boxlite_box *create(boxlite_runtime *rt, const char *name)
{
    boxlite_options *o = NULL;
    boxlite_box *b = NULL;
    boxlite_options_new(&o);
    boxlite_options_set_image(o, "alpine:latest");
    /* records that outlive their creating process: not auto_remove leftovers */
    boxlite_options_set_auto_remove(o, 0);
    if (name)
        boxlite_options_set_name(o, name);
    boxlite_box_create(rt, o, &b);
    boxlite_options_free(o);
    return b;
}

static size_t list_count(boxlite_runtime *rt, const char *state)
{
    char *s = NULL;
    if (boxlite_box_list(rt, state, &s) != BOXLITE_OK)
        return (size_t)-1;
    json_t *a = json_loads(s, 0, NULL);
    size_t n = json_array_size(a);
    json_decref(a);
    boxlite_free(s);
    return n;
}

TEST(open_creates_home_and_database)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/boxlite.db", harness_tmpdir());
    CHECK(stat(path, &st) == 0);
    boxlite_runtime_close(rt);
    boxlite_runtime_close(NULL);
}

TEST(home_from_environment)
{
    char home[512];
    snprintf(home, sizeof home, "%s/envhome", harness_tmpdir());
    setenv("BOXLITE_HOME", home, 1);
    boxlite_runtime *rt = NULL;
    REQUIRE(boxlite_runtime_open(NULL, &rt) == BOXLITE_OK);
    struct stat st;
    CHECK(stat(home, &st) == 0 && S_ISDIR(st.st_mode));
    boxlite_runtime_close(rt);
}

TEST(open_on_a_file_fails_cleanly)
{
    char path[512];
    snprintf(path, sizeof path, "%s/afile", harness_tmpdir());
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fclose(f);
    boxlite_runtime *rt = (boxlite_runtime *)1;
    CHECK(boxlite_runtime_open(path, &rt) != BOXLITE_OK);
    CHECK(rt == NULL);
    CHECK(strstr(boxlite_errmsg(), "afile") != NULL);
}

TEST(create_get_list_remove)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    boxlite_box *b = create(rt, "web");
    REQUIRE(b);
    CHECK_EQ(strlen(boxlite_box_id(b)), BOX_ID_LEN);
    CHECK_STR(boxlite_box_name(b), "web");
    boxlite_box *byname = NULL, *byprefix = NULL;
    char prefix[8];
    snprintf(prefix, sizeof prefix, "%.6s", boxlite_box_id(b));
    CHECK_EQ(boxlite_box_get(rt, "web", &byname), BOXLITE_OK);
    CHECK_EQ(boxlite_box_get(rt, prefix, &byprefix), BOXLITE_OK);
    CHECK(byname && byprefix && !strcmp(boxlite_box_id(byname), boxlite_box_id(byprefix)));
    char *info = NULL;
    REQUIRE(boxlite_box_info(b, &info) == BOXLITE_OK);
    json_t *j = json_loads(info, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(j, "state")), "configured");
    CHECK_STR(json_string_value(json_object_get(j, "image")), "alpine:latest");
    CHECK_EQ(json_integer_value(json_object_get(j, "cpus")), 1);
    json_decref(j);
    boxlite_free(info);
    CHECK_EQ(list_count(rt, NULL), 1);
    CHECK_EQ(list_count(rt, "running"), 0);
    CHECK_EQ(boxlite_box_remove(rt, "web", 0), BOXLITE_OK);
    CHECK_EQ(list_count(rt, NULL), 0);
    boxlite_box_free(byname);
    byname = NULL;
    CHECK_EQ(boxlite_box_get(rt, "web", &byname), BOXLITE_ERR_NOT_FOUND);
    CHECK(byname == NULL);
    boxlite_box_free(b);
    boxlite_box_free(byprefix);
    boxlite_box_free(NULL);
    boxlite_runtime_close(rt);
}

TEST(bad_inputs_change_nothing)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    boxlite_box *b = create(rt, "taken");
    REQUIRE(b);
    boxlite_box *out = (boxlite_box *)1;
    boxlite_options *o = NULL;
    boxlite_options_new(&o);
    /* neither image nor rootfs */
    CHECK_EQ(boxlite_box_create(rt, o, &out), BOXLITE_ERR_INVALID);
    CHECK(out == NULL);
    /* name taken */
    boxlite_options_set_image(o, "alpine");
    boxlite_options_set_name(o, "taken");
    CHECK_EQ(boxlite_box_create(rt, o, &out), BOXLITE_ERR_EXISTS);
    CHECK(strstr(boxlite_errmsg(), "taken") != NULL);
    /* missing volume path */
    boxlite_options_set_name(o, "other");
    boxlite_options_add_volume(o, "/nonexistent/vol", "/data", 1);
    CHECK_EQ(boxlite_box_create(rt, o, &out), BOXLITE_ERR_NOT_FOUND);
    CHECK(strstr(boxlite_errmsg(), "/nonexistent/vol") != NULL);
    boxlite_options_free(o);
    /* NULLs and unknown boxes */
    CHECK_EQ(boxlite_box_create(NULL, NULL, &out), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_box_create(rt, NULL, NULL), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_box_get(rt, NULL, &out), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_box_get(rt, "nosuchbox", &out), BOXLITE_ERR_NOT_FOUND);
    CHECK_EQ(boxlite_box_get(rt, "", &out), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_box_remove(rt, "nosuchbox", 1), BOXLITE_ERR_NOT_FOUND);
    CHECK_EQ(boxlite_box_stop(NULL, 0), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_box_info(NULL, NULL), BOXLITE_ERR_INVALID);
    char *s = NULL;
    CHECK_EQ(boxlite_box_list(rt, "flying", &s), BOXLITE_ERR_INVALID);
    /* stopping a box that never ran */
    CHECK_EQ(boxlite_box_stop(b, 1000), BOXLITE_ERR_STATE);
    CHECK_EQ(list_count(rt, NULL), 1);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
}

/* A record that says "running" with a live per-box process: remove is refused without
 * force; a dead process makes the box read as stopped. */
TEST(running_box_rules_and_dead_vmm_is_stopped)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    boxlite_options *o = NULL;
    boxlite_options_new(&o);
    boxlite_options_set_image(o, "alpine");
    boxlite_options_set_auto_remove(o, 0);
    boxlite_box *b = NULL;
    REQUIRE(boxlite_box_create(rt, o, &b) == BOXLITE_OK);
    boxlite_options_free(o);
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    usleep(20000);
    REQUIRE(state_box_set_state(rt->db, boxlite_box_id(b), BOX_STATE_ANY, BOX_STATE_RUNNING, child,
                                rt_process_start_time(child), NULL) == 0);
    CHECK_EQ(list_count(rt, "running"), 1);
    CHECK_EQ(boxlite_box_remove(rt, boxlite_box_id(b), 0), BOXLITE_ERR_STATE);
    CHECK(strstr(boxlite_errmsg(), "running") != NULL);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK_EQ(list_count(rt, "running"), 0);
    CHECK_EQ(list_count(rt, "stopped"), 1);
    /* it says why, and an exec does not quietly start it again */
    char *info = NULL;
    REQUIRE(boxlite_box_info(b, &info) == BOXLITE_OK);
    CHECK(strstr(info, "died without a word") != NULL);
    CHECK(strstr(info, "\"stopped_by_itself\":true") != NULL);
    boxlite_free(info);
    const char *argv[] = { "true", NULL };
    boxlite_exec_spec spec = { .size = sizeof spec, .argv = argv };
    boxlite_exec *ex = NULL;
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_STATE);
    CHECK(strstr(boxlite_errmsg(), "has stopped: the box's VM process") != NULL);
    /* the process's limits and privileges are checked before the box is looked at */
    boxlite_rlimit rl[] = { { 7, 2, 1 } };
    boxlite_process_security ps = { .size = sizeof ps, .rlimits = rl, .n_rlimits = 1 };
    spec.security = &ps;
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "rlimit 7: soft limit above hard") != NULL);
    rl[0] = (boxlite_rlimit){ 16, 1, 1 };
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "resource 16 unknown") != NULL);
    ps = (boxlite_process_security){ .size = sizeof ps, .set = BOXLITE_PROC_UMASK, .umask = 01000 };
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    ps = (boxlite_process_security){ .size = sizeof ps, .set = BOXLITE_PROC_OOM_SCORE_ADJ,
                                     .oom_score_adj = -1001 };
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    ps = (boxlite_process_security){ .size = sizeof ps, .set = 64 };
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    ps = (boxlite_process_security){ .size = 4 };
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    /* a seccomp filter of whole instructions only; the view's paths absolute, no ".." */
    static const unsigned char prog[16];
    ps = (boxlite_process_security){ .size = sizeof ps, .seccomp_filter = prog, .seccomp_len = 12 };
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "seccomp filter is 1 to 4096") != NULL);
    ps.seccomp_len = 16;
    ps.seccomp_flags = 8;
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    static const char *const rel[] = { "/proc/kcore", "proc/x", NULL };
    ps = (boxlite_process_security){ .size = sizeof ps, .masked_paths = rel };
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    CHECK(strstr(boxlite_errmsg(), "masked_paths[1] \"proc/x\"") != NULL);
    static const char *const up[] = { "../../etc/x=1", NULL };
    ps = (boxlite_process_security){ .size = sizeof ps, .sysctl = up };
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    boxlite_device dev = { .path = "/dev/x", .type = 'q' };
    ps = (boxlite_process_security){ .size = sizeof ps, .devices = &dev, .n_devices = 1 };
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_INVALID);
    /* well-formed ones get as far as the box (stopped) */
    dev.type = 'c';
    ps = (boxlite_process_security){ .size = sizeof ps, .seccomp_filter = prog, .seccomp_len = 16,
                                     .masked_paths = rel, .devices = &dev, .n_devices = 1 };
    static const char *const ok_paths[] = { "/proc/kcore", NULL };
    ps.masked_paths = ok_paths;
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_STATE);
    /* a caller built before the seccomp and view fields: its size ends where they begin,
     * and what lies beyond is not read */
    ps.size = offsetof(boxlite_process_security, seccomp_filter);
    ps.seccomp_len = 12;
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_STATE);
    /* well-formed, it gets as far as the box (stopped) */
    ps = (boxlite_process_security){ .size = sizeof ps, .set = BOXLITE_PROC_CAPS };
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_STATE);
    /* a caller built before the field existed: its size ends where security begins */
    spec.size = offsetof(boxlite_exec_spec, security);
    CHECK_EQ(boxlite_exec_start(b, &spec, &ex), BOXLITE_ERR_STATE);
    CHECK_EQ(boxlite_box_stop(b, 100), BOXLITE_ERR_STATE); /* stop twice */
    CHECK_EQ(boxlite_box_remove(rt, boxlite_box_id(b), 0), BOXLITE_OK);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
}

TEST(force_remove_stops_the_process)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    boxlite_box *b = create(rt, "victim");
    REQUIRE(b);
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    usleep(20000);
    REQUIRE(state_box_set_state(rt->db, boxlite_box_id(b), BOX_STATE_ANY, BOX_STATE_RUNNING, child,
                                rt_process_start_time(child), NULL) == 0);
    CHECK_EQ(boxlite_box_remove(rt, "victim", 1), BOXLITE_OK);
    int st = 0;
    CHECK_EQ(waitpid(child, &st, 0), child);
    CHECK(WIFSIGNALED(st));
    CHECK_EQ(list_count(rt, NULL), 0);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
}

/* Two processes create boxes at once on one home; a name both want goes to exactly one. */
TEST_TIMEOUT(two_processes_create_at_once, 120)
{
    const int per = 25;
    harness_tmpdir(); /* one home for every process below */
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            boxlite_runtime *rt = NULL;
            if (boxlite_runtime_open(harness_tmpdir(), &rt) != BOXLITE_OK) {
                printf("#   child open: %s\n", boxlite_errmsg());
                _exit(10);
            }
            int made = 0;
            for (int i = 0; i < per; i++) {
                boxlite_box *b = create(rt, NULL);
                if (!b)
                    printf("#   child create: %s\n", boxlite_errmsg());
                made += b != NULL;
                boxlite_box_free(b);
            }
            boxlite_box *shared = create(rt, "contested");
            int got = shared != NULL;
            boxlite_box_free(shared);
            boxlite_runtime_close(rt);
            _exit(made == per ? (got ? 1 : 0) : 11);
        }
    }
    int won = 0;
    for (int k = 0; k < 2; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
        won += WEXITSTATUS(st);
    }
    CHECK_EQ(won, 1);
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    CHECK_EQ(list_count(rt, NULL), 2 * per + 1);
    boxlite_runtime_close(rt);
}

/* A process killed while creating boxes leaves a usable database; every record has its
 * folder. */
TEST_TIMEOUT(killed_mid_create_leaves_consistent_state, 120)
{
    harness_tmpdir(); /* one home for every process below */
    int created[2];
    REQUIRE(pipe(created) == 0);
    pid_t kid = fork();
    if (kid == 0) {
        close(created[0]);
        boxlite_runtime *rt = NULL;
        if (boxlite_runtime_open(harness_tmpdir(), &rt) != BOXLITE_OK)
            _exit(10);
        for (;;) {
            boxlite_box_free(create(rt, NULL));
            if (write(created[1], "c", 1) != 1)
                _exit(11);
        }
    }
    close(created[1]);
    /* Killed once it has created a few: then it is inside the next create. */
    char c;
    int seen = 0;
    while (seen < 5 && read(created[0], &c, 1) == 1)
        seen++;
    kill(kid, SIGKILL);
    close(created[0]);
    int st;
    waitpid(kid, &st, 0);
    REQUIRE(seen == 5);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    char *s = NULL;
    REQUIRE(boxlite_box_list(rt, NULL, &s) == BOXLITE_OK);
    json_t *a = json_loads(s, 0, NULL);
    CHECK(json_array_size(a) >= 5);
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        char dir[512];
        struct stat st;
        snprintf(dir, sizeof dir, "%s/boxes/%s", harness_tmpdir(),
                 json_string_value(json_object_get(e, "id")));
        CHECK(stat(dir, &st) == 0);
    }
    json_decref(a);
    boxlite_free(s);
    boxlite_box *b = create(rt, "after");
    CHECK(b != NULL);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
}

TEST(metrics_count_boxes)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    boxlite_box_free(create(rt, "a"));
    boxlite_box_free(create(rt, "b"));
    char *m = NULL;
    REQUIRE(boxlite_runtime_metrics(rt, &m) == BOXLITE_OK);
    json_t *j = json_loads(m, 0, NULL);
    CHECK_EQ(json_integer_value(json_object_get(j, "boxes_created")), 2);
    CHECK_EQ(json_integer_value(json_object_get(j, "boxes_running")), 0);
    json_decref(j);
    boxlite_free(m);
    boxlite_runtime_close(rt);
}

/* A start that fails before the per-box process exists (here: an image layout that is not
 * there) must close none of the caller's descriptors: it once closed fd 0, found when
 * the Node SDK's process aborted in libuv after a box with a missing image. */
TEST(failed_start_closes_none_of_the_callers_fds)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    int p[2];
    REQUIRE(pipe(p) == 0);
    int saved = dup(0);
    REQUIRE(saved >= 0 && dup2(p[0], 0) == 0);
    struct stat before, after;
    fstat(0, &before);
    boxlite_options *o = NULL;
    boxlite_box *b = NULL;
    boxlite_options_new(&o);
    char missing[4200];
    snprintf(missing, sizeof missing, "oci:%s/no-such-layout", harness_tmpdir());
    boxlite_options_set_image(o, missing);
    REQUIRE(boxlite_box_create(rt, o, &b) == BOXLITE_OK);
    CHECK(boxlite_box_start(b) != BOXLITE_OK);
    int still_open = fstat(0, &after) == 0;
    dup2(saved, 0);
    close(saved);
    close(p[0]);
    close(p[1]);
    CHECK(still_open);
    CHECK(still_open && before.st_ino == after.st_ino && before.st_dev == after.st_dev);
    boxlite_box_free(b);
    boxlite_options_free(o);
    boxlite_runtime_close(rt);
}

/* What the per-box process wrote when its box ended (exit.json) becomes the stop reason. */
TEST(stop_reason_from_the_per_box_process)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    boxlite_box *b = create(rt, "worker");
    REQUIRE(b);
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    REQUIRE(state_box_set_state(rt->db, boxlite_box_id(b), BOX_STATE_ANY, BOX_STATE_RUNNING, child,
                                rt_process_start_time(child), NULL) == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/boxes/%s/exit.json", harness_tmpdir(), boxlite_box_id(b));
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("{\"stop_reason\":\"main process killed by OOM\",\"requested\":false,"
          "\"exit_code\":137,\"signal\":9,\"oom_killed\":true}\n", f);
    fclose(f);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    char *info = NULL;
    REQUIRE(boxlite_box_info(b, &info) == BOXLITE_OK);
    json_t *j = json_loads(info, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(j, "state")), "stopped");
    CHECK_STR(json_string_value(json_object_get(j, "stop_reason")), "main process killed by OOM");
    CHECK_STR(json_string_value(json_object_get(j, "status")), "stopped (main process killed by OOM)");
    CHECK_EQ(json_integer_value(json_object_get(j, "exit_code")), 137);
    CHECK(json_is_true(json_object_get(j, "oom_killed")));
    json_decref(j);
    boxlite_free(info);
    /* ps shows it too */
    char *list = NULL;
    REQUIRE(boxlite_box_list(rt, "stopped", &list) == BOXLITE_OK);
    CHECK(strstr(list, "killed by OOM") != NULL);
    boxlite_free(list);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
}

/* A start whose starter died: the box reads as stopped and the per-box process it had
 * spawned (recorded at once) is ended, not left running unknown to anyone. */
TEST(start_abandoned_by_a_dead_starter)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    boxlite_box *b = create(rt, "halfway");
    REQUIRE(b);
    pid_t vmm = fork();
    if (vmm == 0) {
        pause();
        _exit(0);
    }
    pid_t starter = fork();
    if (starter == 0)
        _exit(0);
    int64_t starter_start = rt_process_start_time(starter);
    waitpid(starter, NULL, 0);
    REQUIRE(state_box_set_state(rt->db, boxlite_box_id(b), BOX_STATE_ANY, BOX_STATE_STARTING, vmm,
                                rt_process_start_time(vmm), NULL) == 0);
    REQUIRE(state_box_set_owner(rt->db, boxlite_box_id(b), starter,
                                starter_start > 0 ? starter_start : 1, NULL) == 0);
    CHECK_EQ(list_count(rt, "stopped"), 1);
    int st = 0;
    CHECK_EQ(waitpid(vmm, &st, 0), vmm);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    char *info = NULL;
    REQUIRE(boxlite_box_info(b, &info) == BOXLITE_OK);
    CHECK(strstr(info, "the start was interrupted") != NULL);
    boxlite_free(info);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
}

/* auto_remove boxes whose owner died are removed by the next runtime that opens the home,
 * their per-box process stopped first; other boxes stay. */
TEST(leftovers_of_a_dead_owner_are_removed)
{
    harness_tmpdir();
    int sync_pipe[2];
    REQUIRE(pipe(sync_pipe) == 0);
    pid_t kid = fork();
    if (kid == 0) {
        boxlite_runtime *rt = NULL;
        if (boxlite_runtime_open(harness_tmpdir(), &rt) != BOXLITE_OK)
            _exit(10);
        boxlite_box *keep = create(rt, "keep");
        boxlite_options *o = NULL;
        boxlite_options_new(&o);
        boxlite_options_set_image(o, "alpine");
        boxlite_options_set_name(o, "temp");
        boxlite_box *temp = NULL;
        if (!keep || boxlite_box_create(rt, o, &temp) != BOXLITE_OK)
            _exit(11);
        pid_t vmm = fork();
        if (vmm == 0) {
            setsid();
            pause();
            _exit(0);
        }
        state_box_set_state(rt->db, boxlite_box_id(temp), BOX_STATE_ANY, BOX_STATE_RUNNING, vmm,
                            rt_process_start_time(vmm), NULL);
        if (write(sync_pipe[1], &vmm, sizeof vmm) != sizeof vmm)
            _exit(12);
        raise(SIGKILL); /* a crash: nothing cleaned up */
    }
    close(sync_pipe[1]);
    pid_t vmm = 0;
    REQUIRE(read(sync_pipe[0], &vmm, sizeof vmm) == sizeof vmm);
    int st;
    waitpid(kid, &st, 0);
    int64_t vmm_start = rt_process_start_time(vmm);
    CHECK(rt_process_alive(vmm, vmm_start));
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    CHECK_EQ(list_count(rt, NULL), 1);
    boxlite_box *b = NULL;
    CHECK_EQ(boxlite_box_get(rt, "keep", &b), BOXLITE_OK);
    boxlite_box_free(b);
    CHECK_EQ(boxlite_box_get(rt, "temp", &b), BOXLITE_ERR_NOT_FOUND);
    /* the fake per-box process was killed (it is not our child: poll its liveness) */
    for (int i = 0; i < 200 && rt_process_alive(vmm, vmm_start); i++)
        usleep(10000);
    CHECK(!rt_process_alive(vmm, vmm_start));
    char *n = NULL;
    REQUIRE(boxlite_runtime_notices(rt, &n) == BOXLITE_OK);
    CHECK(strstr(n, "removed box temp") != NULL);
    boxlite_free(n);
    REQUIRE(boxlite_runtime_notices(rt, &n) == BOXLITE_OK);
    CHECK_STR(n, ""); /* said once */
    boxlite_free(n);
    boxlite_runtime_close(rt);
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

TEST(home_and_database_are_private)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    boxlite_box *b = create(rt, "p");
    REQUIRE(b);
    char db[600], boxdir[600];
    snprintf(db, sizeof db, "%s/boxlite.db", harness_tmpdir());
    snprintf(boxdir, sizeof boxdir, "%s/boxes/%s", harness_tmpdir(), boxlite_box_id(b));
    CHECK_EQ(mode_of(db), 0600);
    CHECK_EQ(mode_of(boxdir), 0700);
    char *n = NULL;
    REQUIRE(boxlite_runtime_notices(rt, &n) == BOXLITE_OK);
    CHECK_STR(n, "");
    boxlite_free(n);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
    /* widened by someone: the next open narrows them and says so, once */
    chmod(harness_tmpdir(), 0755);
    chmod(db, 0644);
    chmod(boxdir, 0755);
    rt = open_rt();
    REQUIRE(rt);
    CHECK_EQ(mode_of(harness_tmpdir()), 0700);
    CHECK_EQ(mode_of(db), 0600);
    CHECK_EQ(mode_of(boxdir), 0700);
    REQUIRE(boxlite_runtime_notices(rt, &n) == BOXLITE_OK);
    CHECK(strstr(n, "(0755): now 0700") != NULL);
    CHECK(strstr(n, "(0644): now 0600") != NULL);
    CHECK(strstr(n, "1 box folder") != NULL);
    boxlite_free(n);
    boxlite_runtime_close(rt);
    rt = open_rt();
    REQUIRE(boxlite_runtime_notices(rt, &n) == BOXLITE_OK);
    CHECK_STR(n, "");
    boxlite_free(n);
    boxlite_runtime_close(rt);
}

/* A name that is, or starts, another box's id would make lookups ambiguous: refused. And
 * an id that starts with another box's name is drawn again. */
TEST(names_and_ids_never_clash)
{
    boxlite_runtime *rt = open_rt();
    REQUIRE(rt);
    boxlite_box *a = create(rt, NULL);
    REQUIRE(a);
    char id[40];
    snprintf(id, sizeof id, "%s", boxlite_box_id(a));
    CHECK(create(rt, id) == NULL);
    CHECK_EQ(boxlite_errcode(), BOXLITE_ERR_EXISTS);
    CHECK(strstr(boxlite_errmsg(), "another box's id") != NULL);
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", id);
    CHECK(create(rt, prefix) == NULL);
    snprintf(prefix, sizeof prefix, "%.3s", id); /* too short for a prefix lookup: fine */
    boxlite_box *c = create(rt, prefix);
    CHECK(c != NULL);
    boxlite_box_free(c);
    /* the other way: a record whose id starts with an existing name */
    struct box_record r = { .name = "x1", .state = BOX_STATE_CONFIGURED, .options = "{}" };
    bool clash = false;
    struct bl_error e = { 0 };
    snprintf(r.id, sizeof r.id, "%.4s%s", "cafe", "0000000000000000000000000000");
    struct box_record named = { .name = "cafe", .state = BOX_STATE_CONFIGURED, .options = "{}" };
    snprintf(named.id, sizeof named.id, "%s", "11111111111111111111111111111111");
    REQUIRE(state_box_insert(rt->db, &named, &clash, &e) == 0);
    CHECK(state_box_insert(rt->db, &r, &clash, &e) < 0);
    CHECK(clash);
    boxlite_box_free(a);
    boxlite_runtime_close(rt);
}

/* boxlite_box_rename (issue 19): the new name finds the box, the old one does not; a taken
 * or invalid name is refused and changes nothing. */
TEST(rename)
{
    boxlite_runtime *rt = open_rt();
    boxlite_box *a = create(rt, "first"), *b2 = create(rt, "second"), *got = NULL;
    REQUIRE(a && b2);
    CHECK_EQ(boxlite_box_rename(rt, "first", "renamed"), BOXLITE_OK);
    CHECK_EQ(boxlite_box_get(rt, "renamed", &got), BOXLITE_OK);
    CHECK_STR(got ? boxlite_box_id(got) : "", boxlite_box_id(a));
    boxlite_box_free(got);
    got = NULL;
    CHECK_EQ(boxlite_box_get(rt, "first", &got), BOXLITE_ERR_NOT_FOUND);
    CHECK_EQ(boxlite_box_rename(rt, "renamed", "second"), BOXLITE_ERR_EXISTS);
    CHECK_EQ(boxlite_box_rename(rt, "renamed", "bad name"), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_box_rename(rt, "nobody", "x"), BOXLITE_ERR_NOT_FOUND);
    CHECK_EQ(boxlite_box_get(rt, "renamed", &got), BOXLITE_OK);
    boxlite_box_free(got);
    boxlite_box_free(a);
    boxlite_box_free(b2);
    boxlite_runtime_close(rt);
}

TEST(box_state_names_round_trip)
{
    static const char *const names[] = { "configured", "starting", "running", "stopping",
                                         "stopped", "unknown" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        enum box_state s;
        CHECK(box_state_parse(names[i], &s));
        CHECK_STR(box_state_name(s), names[i]);
    }
    enum box_state s = BOX_STATE_RUNNING;
    CHECK(!box_state_parse("exited", &s));
    CHECK_EQ(s, BOX_STATE_UNKNOWN);
    CHECK(!box_state_parse(NULL, &s));
    CHECK_STR(box_state_name(BOX_STATE_ANY), "unknown");
    CHECK(box_state_active(BOX_STATE_STOPPING) && !box_state_active(BOX_STATE_STOPPED));
}
