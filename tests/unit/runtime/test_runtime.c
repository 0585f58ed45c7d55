#include "boxlite.h"
#include "harness/harness.h"
#include "runtime/runtime.h"

#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
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
    REQUIRE(state_box_set_state(rt->db, boxlite_box_id(b), NULL, "running", child,
                                rt_process_start_time(child), NULL) == 0);
    CHECK_EQ(list_count(rt, "running"), 1);
    CHECK_EQ(boxlite_box_remove(rt, boxlite_box_id(b), 0), BOXLITE_ERR_STATE);
    CHECK(strstr(boxlite_errmsg(), "running") != NULL);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK_EQ(list_count(rt, "running"), 0);
    CHECK_EQ(list_count(rt, "stopped"), 1);
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
    REQUIRE(state_box_set_state(rt->db, boxlite_box_id(b), NULL, "running", child,
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
