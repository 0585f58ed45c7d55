/* Bearer-token auth, redirects to blob storage on another host, retries and cut bodies,
 * against tests/fixtures/fakeregistry.py (things docker-registry alone cannot show). */
#include "image/image.h"
#include "regfixture.h"

#include <time.h>

struct fake {
    int port;
    const char *fx;
    char home[700];
    struct image_store st;
    struct image_pull_opts o;
};

static int fake_start(struct fake *f, const char *extra)
{
    if (access("tests/fixtures/fakeregistry.py", R_OK) != 0)
        harness_need("not run from the repository root");
    memset(f, 0, sizeof *f);
    f->fx = fixtures("busybox");
    if (!f->fx)
        return -1;
    static int seq;
    char portfile[800];
    snprintf(portfile, sizeof portfile, "%s/fake%d.port", harness_tmpdir(), seq++);
    if (sh("python3 tests/fixtures/fakeregistry.py %s %s %d %s >/dev/null 2>&1 &", f->fx, portfile, (int)getpid(),
           extra ? extra : "") != 0)
        return -1;
    for (int i = 0; i < 100; i++) {
        FILE *p = fopen(portfile, "r");
        if (p) {
            int ok = fscanf(p, "%d", &f->port) == 1;
            fclose(p);
            if (ok)
                break;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (f->port <= 0)
        return -1;
    snprintf(f->home, sizeof f->home, "%s/home%d", harness_tmpdir(), seq);
    struct bl_error err = {0};
    if (image_store_open(&f->st, f->home, &err) < 0)
        return -1;
    f->o.registry.max_retries = 2;
    f->o.registry.retry_base_ms = 10;
    f->o.registry.docker_config = "/nonexistent/config.json";
    return 0;
}

static int pull(struct fake *f, struct bl_error *err)
{
    char ref[200], path[1024];
    snprintf(ref, sizeof ref, "127.0.0.1:%d/test/busybox", f->port);
    struct image_record rec;
    int r = image_pull_prepare(&f->st, ref, &f->o, &rec, path, sizeof path, err);
    if (r == 0)
        image_record_free(&rec);
    return r;
}

TEST_TIMEOUT(anonymous_bearer_redirect_and_retry, 90)
{
    struct fake f;
    REQUIRE(fake_start(&f, "--flaky 1") == 0);
    struct bl_error err = {0};
    int r = pull(&f, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull: %s", err.msg);
    CHECK(r == 0);
    /* Without retries the 503 is final. */
    struct fake g;
    REQUIRE(fake_start(&g, "--flaky 5") == 0);
    g.o.registry.max_retries = -1;
    CHECK(pull(&g, &err) < 0);
    CHECK(strstr(err.msg, "503") != NULL);
}

TEST_TIMEOUT(bearer_with_credentials, 90)
{
    struct fake f;
    REQUIRE(fake_start(&f, "--user bob --password hunter2") == 0);
    struct bl_error err = {0};
    CHECK(pull(&f, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_AUTH);
    CHECK(strstr(err.msg, "anonymous") != NULL);
    f.o.registry.username = "bob";
    f.o.registry.password = "wrong";
    CHECK(pull(&f, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_AUTH);
    CHECK(strstr(err.msg, "refused the credentials") != NULL);
    f.o.registry.password = "hunter2";
    int r = pull(&f, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull: %s", err.msg);
    /* An identity token from the docker config, exchanged as an OAuth2 refresh token. */
    struct fake g;
    REQUIRE(fake_start(&g, "--user bob --password hunter2") == 0);
    char cfg[800];
    snprintf(cfg, sizeof cfg, "%s/docker.json", harness_tmpdir());
    FILE *fp = fopen(cfg, "w");
    REQUIRE(fp);
    fprintf(fp, "{\"auths\":{\"127.0.0.1:%d\":{\"auth\":\"\",\"identitytoken\":\"refresh-bob\"}}}", g.port);
    fclose(fp);
    g.o.registry.docker_config = cfg;
    r = pull(&g, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull with identity token: %s", err.msg);
}

/* The store of another fake registry's client, sharing f's home (a later pull). */
static int same_home(struct fake *g, const struct fake *f)
{
    snprintf(g->home, sizeof g->home, "%s", f->home);
    struct bl_error err = {0};
    return image_store_open(&g->st, g->home, &err);
}

TEST_TIMEOUT(body_cut_short_fails_then_the_next_pull_resumes, 90)
{
    struct fake f;
    REQUIRE(fake_start(&f, "--cut") == 0);
    struct bl_error err = {0};
    CHECK(pull(&f, &err) < 0);
    CHECK(strstr(err.msg, "partial") != NULL || strstr(err.msg, "truncated") != NULL);
    char blobs[800], cmd[1000], out[64];
    snprintf(blobs, sizeof blobs, "%s/images/blobs/sha256", f.home);
    CHECK_EQ(count_files(blobs), 1); /* the manifest and nothing else */
    /* what arrived is kept to resume from (config and layer), and nothing else */
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | grep -c '^partial-'", f.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 2);
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | grep -vc '^partial-'", f.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 0);
    snprintf(cmd, sizeof cmd, "ls %s/images/rootfs | grep -c ext4", f.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 0);
    /* A later pull (another server with the same blobs) asks only for what is missing. */
    struct fake g;
    REQUIRE(fake_start(&g, "") == 0);
    REQUIRE(same_home(&g, &f) == 0);
    int r = pull(&g, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "second pull: %s", err.msg);
    snprintf(cmd, sizeof cmd, "awk '$2 > 0' %s/fake1.port.ranges | wc -l", harness_tmpdir());
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 2);
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | wc -l", f.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 0);
}

TEST_TIMEOUT(throttled_registry_is_waited_for_as_it_asks, 90)
{
    struct fake f;
    REQUIRE(fake_start(&f, "--throttle 1 --retry-after 1") == 0);
    struct bl_error err = {0};
    int r = pull(&f, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull: %s", err.msg);
    /* The 429 came first; the next request waited the second it asked for, not our own
     * 10 ms backoff. */
    char cmd[900], out[64];
    snprintf(cmd, sizeof cmd, "awk 'NR==1 && $3==429 {t=$1} NR==2 {printf \"%%d\", ($1-t)*1000}' %s/fake0.port.requests",
             harness_tmpdir());
    CHECK(atoi(sh_out(out, sizeof out, cmd)) >= 950);
    /* A wait beyond what a pull should sit through fails at once and says why. */
    struct fake g;
    REQUIRE(fake_start(&g, "--throttle 100 --retry-after 3600") == 0);
    CHECK(pull(&g, &err) < 0);
    CHECK(strstr(err.msg, "is throttling requests (HTTP 429)") && strstr(err.msg, "retry after 3600 s"));
    CHECK(strstr(err.msg, "127.0.0.1:") != NULL); /* names the registry */
}

TEST_TIMEOUT(interrupted_download_resumes_with_range, 90)
{
    struct fake f;
    REQUIRE(fake_start(&f, "--cut-once") == 0);
    struct bl_error err = {0};
    int r = pull(&f, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull: %s", err.msg);
    CHECK(r == 0);
    /* Every blob (config and layer) was cut once and fetched again from where it broke. */
    char cmd[900], out[64];
    snprintf(cmd, sizeof cmd, "awk '$2 > 0' %s/fake0.port.ranges | wc -l", harness_tmpdir());
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 2);
}
