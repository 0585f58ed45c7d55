// SPDX-License-Identifier: Apache-2.0
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
    if (harness_sh("python3 tests/fixtures/fakeregistry.py %s %s %d %s >/dev/null 2>&1 &", f->fx, portfile, (int)getpid(),
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
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | grep -v '^pullnote-' | grep -vc '^partial-'", f.home);
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
    /* No partial is left; only the first reference's note of what it needed (a reference
     * not pulled again: gc removes it with the partials, after a day). */
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | grep -vc '^pullnote-'", f.home);
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

TEST_TIMEOUT(retry_after_as_an_http_date_is_honoured, 90)
{
    /* "Retry-After: <HTTP date>" two seconds ahead (RFC 9110 section 10.2.3): the next
     * request waits until then, not our own 10 ms backoff. Dates have whole seconds, so
     * the wait is at least one second whatever the clocks' fractions. */
    struct fake f;
    REQUIRE(fake_start(&f, "--throttle 1 --retry-after-date 2") == 0);
    struct bl_error err = {0};
    int r = pull(&f, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull: %s", err.msg);
    char cmd[900], out[64];
    snprintf(cmd, sizeof cmd, "awk 'NR==1 && $3==429 {t=$1} NR==2 {printf \"%%d\", ($1-t)*1000}' %s/fake0.port.requests",
             harness_tmpdir());
    int waited = atoi(sh_out(out, sizeof out, cmd));
    if (waited < 950)
        harness_fail(__FILE__, __LINE__, "waited %d ms after a Retry-After date 2 s ahead", waited);
    /* A date a day ahead is a wait past what a pull sits through: fails at once, named. */
    struct fake g;
    REQUIRE(fake_start(&g, "--throttle 100 --retry-after-date 86400") == 0);
    CHECK(pull(&g, &err) < 0);
    if (!strstr(err.msg, "is throttling requests (HTTP 429)") || !strstr(err.msg, "retry after 86"))
        harness_fail(__FILE__, __LINE__, "message: %s", err.msg);
}

/* The digest of the config of the fixture layout fx/name. */
static void config_digest_of(const char *fx, const char *name, char *out, size_t n)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import json;L='%s/%s';m=json.load(open(L+'/index.json'))['manifests'][0]['digest'][7:];"
             "print(json.load(open(L+'/blobs/sha256/'+m))['config']['digest'])\"", fx, name);
    sh_out(out, n, cmd);
}

/* The config blob alone corrupted (its layers are fine): refused as not matching its
 * digest, and nothing of the image is kept: no blob, no partial config, no base, no
 * record. */
TEST_TIMEOUT(corrupt_config_blob_alone_is_refused_and_nothing_cached, 90)
{
    struct fake f;
    char digest[100], extra[200];
    config_digest_of(fixtures("busybox"), "busybox", digest, sizeof digest);
    REQUIRE(strlen(digest) == 71);
    snprintf(extra, sizeof extra, "--corrupt %s", digest);
    REQUIRE(fake_start(&f, extra) == 0);
    struct bl_error err = {0};
    CHECK(pull(&f, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_IMAGE);
    if (!strstr(err.msg, digest) || !strstr(err.msg, "does not match its digest"))
        harness_fail(__FILE__, __LINE__, "message: %s", err.msg);
    char blobs[800], cmd[1000], out[64];
    snprintf(blobs, sizeof blobs, "%s/images/blobs/sha256", f.home);
    CHECK_EQ(count_files(blobs), 0);
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | grep -c '^partial-%s-'", f.home, digest + 7);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 0);
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | grep -vc '^partial-'", f.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 0);
    snprintf(cmd, sizeof cmd, "ls %s/images/rootfs | grep -c ext4", f.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 0);
    char ref[200];
    snprintf(ref, sizeof ref, "127.0.0.1:%d/test/busybox", f.port);
    struct image_config c;
    CHECK(image_get_config(&f.st, ref, &c, &err) < 0);
}

/* A helper script docker-credential-NAME in <tmp>/bin, first in PATH. */
static void helper_script(const char *name, const char *body)
{
    char bin[700], p[800], path[2000];
    snprintf(bin, sizeof bin, "%s/bin", harness_tmpdir());
    mkdir(bin, 0755);
    snprintf(p, sizeof p, "%s/docker-credential-%s", bin, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fprintf(f, "#!/bin/sh\n%s\n", body);
        fclose(f);
        chmod(p, 0755);
    }
    if (!strstr(getenv("PATH") ? getenv("PATH") : "", bin)) {
        snprintf(path, sizeof path, "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
        setenv("PATH", path, 1);
    }
}

/* A credential helper that fails, or hangs, while a pull needs it: the pull fails with the
 * helper named (its stderr, never its stdout), and stores nothing. The same helper
 * answering lets the pull through. */
TEST_TIMEOUT(credential_helper_failing_during_a_pull, 90)
{
    struct fake f;
    REQUIRE(fake_start(&f, "--user bob --password hunter2") == 0);
    char cfg[800];
    snprintf(cfg, sizeof cfg, "%s/docker.json", harness_tmpdir());
    FILE *fp = fopen(cfg, "w");
    REQUIRE(fp);
    fprintf(fp, "{\"credsStore\":\"vault\"}");
    fclose(fp);
    f.o.registry.docker_config = cfg;
    f.o.registry.helper_timeout_ms = 500;
    static const char *bodies[] = {
        "echo '{\"Username\":\"bob\",\"Secret\":\"leaked\"}'; echo 'vault sealed' >&2; exit 4",
        "exec sleep 1000",
        "read s; echo '{\"Username\":\"bob\",\"Secret\":\"hunter2\"}'",
    };
    static const char *says[] = {"docker-credential-vault for 127.0.0.1:", "did not answer within 500 ms", NULL};
    for (int i = 0; i < 3; i++) {
        helper_script("vault", bodies[i]);
        struct bl_error err = {0};
        int r = pull(&f, &err);
        if (!says[i]) {
            if (r < 0)
                harness_fail(__FILE__, __LINE__, "a helper that answers: %s", err.msg);
            continue;
        }
        CHECK(r < 0);
        CHECK_EQ(err.code, BOXLITE_ERR_AUTH);
        if (!strstr(err.msg, says[i]) || strstr(err.msg, "leaked"))
            harness_fail(__FILE__, __LINE__, "helper %d: %s", i, err.msg);
        if (i == 0 && !strstr(err.msg, "(exit 4): vault sealed"))
            harness_fail(__FILE__, __LINE__, "helper %d: %s", i, err.msg);
        char dir[800];
        snprintf(dir, sizeof dir, "%s/images/blobs/sha256", f.home);
        CHECK_EQ(count_files(dir), 0);
        snprintf(dir, sizeof dir, "%s/images/tmp", f.home);
        CHECK_EQ(count_files(dir), 0);
    }
}

/* A pull cut short leaves partial downloads to resume; when the tag has moved by the next
 * pull (another image, other blobs), those partials are dropped by that pull at once, not
 * left for gc a day later. */
TEST_TIMEOUT(partials_of_a_moved_tag_are_dropped_at_once, 90)
{
    struct fake f;
    REQUIRE(fake_start(&f, "--cut-once") == 0);
    REQUIRE(fixtures("layers") != NULL);
    f.o.registry.max_retries = -1; /* the cut is final: partials stay */
    struct bl_error err = {0};
    CHECK(pull(&f, &err) < 0);
    char cmd[1200], out[64];
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | grep -c '^partial-[0-9a-f]*-[0-9]*$'", f.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 2); /* config and layer, half each */
    /* The tag now names the "layers" image. */
    REQUIRE(harness_sh("cp %s/layers/blobs/sha256/* %s/busybox/blobs/sha256/ && cp %s/layers/index.json %s/busybox/index.json",
               f.fx, f.fx, f.fx, f.fx) == 0);
    f.o.registry.max_retries = 2; /* its own blobs are cut once too, and resumed */
    int r = pull(&f, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull after the tag moved: %s", err.msg);
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | wc -l", f.home);
    if (atoi(sh_out(out, sizeof out, cmd)) != 0) {
        harness_fail(__FILE__, __LINE__, "left in tmp:");
        harness_sh("ls -lA %s/images/tmp >&2", f.home);
    }
}
