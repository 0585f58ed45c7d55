// SPDX-License-Identifier: Apache-2.0
/* Pulls from a real registry (Debian's docker-registry on 127.0.0.1) into a real store. */
#include "common/cleanup.h"
#include "image/image.h"
#include "image/ref.h"
#include "image/regconf.h"
#include "regfixture.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>

struct env {
    char reg[700];
    int port;
    const char *fx;
    char home[700];
    struct image_store st;
    struct image_pull_opts o;
};

static int setup(struct env *e, const char *images, const char *user, const char *pass)
{
    need_tools();
    memset(e, 0, sizeof *e);
    e->fx = fixtures(images);
    if (!e->fx)
        return -1;
    e->port = registry_start("r", user, pass, e->reg, sizeof e->reg);
    if (e->port < 0)
        return -1;
    snprintf(e->home, sizeof e->home, "%s/home", harness_tmpdir());
    struct bl_error err = {0};
    if (image_store_open(&e->st, e->home, &err) < 0)
        return -1;
    e->o.registry.max_retries = 2;
    e->o.registry.retry_base_ms = 10;
    e->o.registry.docker_config = "/nonexistent/config.json";
    return 0;
}

static void ref_of(const struct env *e, const char *name, char *out, size_t n)
{
    snprintf(out, n, "127.0.0.1:%d/%s", e->port, name);
}

static void debugfs(char *buf, size_t n, const char *img, const char *req)
{
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "debugfs -R '%s' %s 2>/dev/null", req, img);
    buf[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    size_t got = fread(buf, 1, n - 1, p);
    buf[got] = 0;
    pclose(p);
}

/* 1 if the store keeps a partial download of digest (for a resume). */
static int has_partial(const struct env *e, const char *digest)
{
    char cmd[1000], out[64];
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | grep -c '^partial-%s-'", e->home, digest + 7);
    return atoi(sh_out(out, sizeof out, cmd)) > 0;
}

/* No temp file is left, only partial downloads (kept for a resume) and the note of what
 * their pull needed (blobstore_pull_note). */
static int store_is_clean_but_partials(const struct env *e)
{
    char cmd[1000], out[64];
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | grep -v '^pullnote-' | grep -vc '^partial-'", e->home);
    return atoi(sh_out(out, sizeof out, cmd)) == 0;
}

static int store_is_clean(const struct env *e)
{
    char p[900];
    snprintf(p, sizeof p, "%s/images/tmp", e->home);
    int tmp = count_files(p);
    char cmd[1000], out[64];
    snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp | wc -l", e->home);
    sh_out(out, sizeof out, cmd);
    return tmp == 0 && atoi(out) == 0;
}

struct progress {
    uint64_t done[8], total[8];
    int calls;
};
static int on_progress(void *ud, size_t i, const char *digest, uint64_t done, uint64_t total)
{
    struct progress *p = ud;
    (void)digest;
    if (i < 8) {
        p->done[i] = done;
        p->total[i] = total;
    }
    p->calls++;
    return 0;
}

TEST_TIMEOUT(pull_busybox_builds_a_bootable_tree, 120)
{
    struct env e;
    REQUIRE(setup(&e, "busybox", NULL, NULL) == 0);
    char layout[800], ref[200];
    snprintf(layout, sizeof layout, "%s/busybox", e.fx);
    REQUIRE(registry_push(e.reg, layout, "library/busybox:1.36", NULL) == 0);
    ref_of(&e, "library/busybox:1.36", ref, sizeof ref);
    struct progress pr = {0};
    e.o.registry.progress = on_progress;
    e.o.registry.progress_ud = &pr;
    struct image_record rec;
    struct bl_error err = {0};
    int r = image_pull(&e.st, ref, &e.o, &rec, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull: %s", err.msg);
    REQUIRE(r == 0);
    CHECK_EQ(strlen(rec.id), 64);
    CHECK_EQ(rec.n_blobs, 3);
    CHECK(pr.calls > 0);
    CHECK(pr.total[1] > 0 && pr.done[1] == pr.total[1]);
    char path[1024];
    r = image_prepare(&e.st, ref, &e.o, path, sizeof path, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "prepare: %s", err.msg);
    REQUIRE(r == 0);
    CHECK_EQ(harness_sh("e2fsck -fn %s >/dev/null 2>&1", path), 0);
    char out[8192];
    debugfs(out, sizeof out, path, "stat /bin/busybox");
    CHECK(strstr(out, "Mode:  0755") != NULL);
    CHECK(strstr(out, "User:     0") != NULL);
    debugfs(out, sizeof out, path, "stat /dev/null");
    CHECK(strstr(out, "character special") != NULL);
    debugfs(out, sizeof out, path, "stat /tmp");
    CHECK(strstr(out, "Mode:  01777") != NULL);
    debugfs(out, sizeof out, path, "stat /bin/sh");
    CHECK(strstr(out, "symlink") != NULL);
    /* Looked up by id prefix and by the short name. */
    struct image_config cfg;
    char idp[20];
    snprintf(idp, sizeof idp, "%.16s", rec.id);
    REQUIRE(image_get_config(&e.st, idp, &cfg, &err) == 0);
    CHECK_STR(cfg.cmd[0], "/bin/sh");
    CHECK_STR(cfg.working_dir, "/root");
    image_config_free(&cfg);
    /* Cached: a second prepare is the same file. */
    struct stat a, b;
    REQUIRE(stat(path, &a) == 0);
    REQUIRE(image_prepare(&e.st, rec.id, &e.o, path, sizeof path, &err) == 0);
    REQUIRE(stat(path, &b) == 0);
    CHECK_EQ(a.st_ino, b.st_ino);
    CHECK(store_is_clean(&e));
    image_record_free(&rec);
    registry_stop(e.reg);
}

TEST_TIMEOUT(pull_prepare_applies_whiteouts_hardlinks_owners, 120)
{
    struct env e;
    REQUIRE(setup(&e, "layers", NULL, NULL) == 0);
    char layout[800], ref[200];
    snprintf(layout, sizeof layout, "%s/layers", e.fx);
    REQUIRE(registry_push(e.reg, layout, "test/layers:v1", NULL) == 0);
    ref_of(&e, "test/layers:v1", ref, sizeof ref);
    struct image_record rec;
    struct bl_error err = {0};
    char path[1024];
    int r = image_pull_prepare(&e.st, ref, &e.o, &rec, path, sizeof path, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull: %s", err.msg);
    REQUIRE(r == 0);
    CHECK_EQ(harness_sh("e2fsck -fn %s >/dev/null 2>&1", path), 0);
    char out[8192];
    debugfs(out, sizeof out, path, "ls /a");
    CHECK(strstr(out, " y ") || strstr(out, "y  "));
    CHECK(!strstr(out, " x ") && !strstr(out, "sub"));
    debugfs(out, sizeof out, path, "ls /b");
    CHECK(strstr(out, "new") && !strstr(out, " z ") && strstr(out, "keep"));
    debugfs(out, sizeof out, path, "ls /b/keep");
    CHECK(strstr(out, "fresh") && !strstr(out, "old"));
    debugfs(out, sizeof out, path, "stat /hard/orig");
    CHECK(strstr(out, "Links: 3") != NULL);
    debugfs(out, sizeof out, path, "stat /home/user/notes");
    CHECK(strstr(out, "User:  1000") != NULL);
    CHECK(strstr(out, "Mode:  0600") != NULL);
    debugfs(out, sizeof out, path, "stat /bin/su");
    CHECK(strstr(out, "Mode:  04755") != NULL);
    debugfs(out, sizeof out, path, "stat /a/y");
    CHECK(strstr(out, "Group:    42") != NULL);
    debugfs(out, sizeof out, path, "stat /dev/zero");
    CHECK(strstr(out, "character special") != NULL);
    debugfs(out, sizeof out, path, "stat /abs");
    CHECK(strstr(out, "Fast link dest: \"/etc/passwd\"") != NULL);
    struct image_config cfg;
    REQUIRE(image_get_config(&e.st, ref, &cfg, &err) == 0);
    CHECK_STR(cfg.entrypoint[0], "/bin/su");
    CHECK_STR(cfg.user, "1000");
    CHECK_STR(cfg.exposed_ports[0], "8080/tcp");
    image_config_free(&cfg);
    CHECK(store_is_clean(&e));
    image_record_free(&rec);
    registry_stop(e.reg);
}

TEST_TIMEOUT(multi_platform_index_selects, 120)
{
    struct env e;
    REQUIRE(setup(&e, "multi", NULL, NULL) == 0);
    char layout[800], ref[200];
    snprintf(layout, sizeof layout, "%s/multi", e.fx);
    REQUIRE(registry_push(e.reg, layout, "test/multi:latest", "--all") == 0);
    ref_of(&e, "test/multi", ref, sizeof ref);
    struct image_record rec;
    struct bl_error err = {0};
    char path[1024], out[8192];
    e.o.arch = "arm64";
    int r = image_pull_prepare(&e.st, ref, &e.o, &rec, path, sizeof path, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull arm64: %s", err.msg);
    REQUIRE(r == 0);
    debugfs(out, sizeof out, path, "cat /arch");
    CHECK(strstr(out, "arm64") != NULL);
    struct image_config cfg;
    REQUIRE(image_get_config(&e.st, rec.id, &cfg, &err) == 0);
    CHECK_STR(cfg.variant, "v8");
    image_config_free(&cfg);
    /* That manifest by digest on amd64: refused before anything is recorded. */
    char bydigest[300];
    snprintf(bydigest, sizeof bydigest, "%s@%s", ref, rec.manifest);
    image_record_free(&rec);
    e.o.arch = "amd64";
    CHECK(image_pull_prepare(&e.st, bydigest, &e.o, &rec, path, sizeof path, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "image is for linux/arm64/v8, not linux/amd64") != NULL);
    e.o.arch = "amd64";
    REQUIRE(image_pull_prepare(&e.st, ref, &e.o, &rec, path, sizeof path, &err) == 0);
    debugfs(out, sizeof out, path, "stat /bin/busybox");
    CHECK(strstr(out, "regular") != NULL);
    image_record_free(&rec);
    e.o.arch = "s390x";
    CHECK(image_pull(&e.st, ref, &e.o, &rec, &err) < 0);
    CHECK(strstr(err.msg, "linux/s390x") != NULL);
    registry_stop(e.reg);
}

/* Issue 15: the progress callback stops a pull midway through a layer. */
struct stopper {
    int stopped;
    char digest[DIGEST_LEN + 1];
    uint64_t first_done; /* the first report of the layer on the pull after */
};
static int stop_midway(void *ud, size_t i, const char *digest, uint64_t done, uint64_t total)
{
    struct stopper *s = ud;
    if (i == 0 || done == 0 || done >= total)
        return 0;
    snprintf(s->digest, sizeof s->digest, "%s", digest);
    s->stopped++;
    return 1;
}
static int note_first(void *ud, size_t i, const char *digest, uint64_t done, uint64_t total)
{
    struct stopper *s = ud;
    (void)total;
    if (i > 0 && !strcmp(digest, s->digest) && !s->first_done)
        s->first_done = done ? done : 1;
    return 0;
}

TEST_TIMEOUT(a_cancelled_pull_keeps_its_partial_layer_and_records_nothing, 120)
{
    struct env e;
    REQUIRE(setup(&e, "busybox", NULL, NULL) == 0);
    char layout[800], ref[200];
    snprintf(layout, sizeof layout, "%s/busybox", e.fx);
    REQUIRE(registry_push(e.reg, layout, "library/busybox:1.36", NULL) == 0);
    ref_of(&e, "library/busybox:1.36", ref, sizeof ref);
    struct stopper st = {0};
    e.o.registry.progress = stop_midway;
    e.o.registry.progress_ud = &st;
    struct image_record rec;
    struct bl_error err = {0};
    CHECK(image_pull(&e.st, ref, &e.o, &rec, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_CANCELLED);
    CHECK(strstr(err.msg, "cancelled") != NULL);
    CHECK_EQ(st.stopped, 1); /* asked once: never called again after the stop */
    REQUIRE(st.digest[0]);
    /* No half image: no record, no base disk; the layer's bytes so far are kept. */
    CHECK(image_get_config(&e.st, ref, &(struct image_config){0}, &err) < 0);
    char cmd[900], out[64];
    snprintf(cmd, sizeof cmd, "ls -A %s/images/rootfs | grep -vc '[.]lock$'", e.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 0);
    CHECK(has_partial(&e, st.digest));
    CHECK(store_is_clean_but_partials(&e));
    /* The next pull resumes the layer: its first report already counts the kept bytes. */
    e.o.registry.progress = note_first;
    bl_err_clear(&err);
    int r = image_pull(&e.st, ref, &e.o, &rec, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull after the cancel: %s", err.msg);
    REQUIRE(r == 0);
    CHECK(st.first_done > 1);
    CHECK(!has_partial(&e, st.digest));
    CHECK(store_is_clean(&e));
    image_record_free(&rec);
    registry_stop(e.reg);
}

TEST_TIMEOUT(unknown_image_is_not_found_and_leaves_nothing, 60)
{
    struct env e;
    REQUIRE(setup(&e, "busybox", NULL, NULL) == 0);
    char ref[200];
    ref_of(&e, "nobody/nothing:1", ref, sizeof ref);
    struct image_record rec;
    struct bl_error err = {0};
    CHECK(image_pull(&e.st, ref, &e.o, &rec, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "not found") != NULL);
    char p[900];
    snprintf(p, sizeof p, "%s/images/blobs/sha256", e.home);
    CHECK_EQ(count_files(p), 0);
    CHECK(image_get_config(&e.st, ref, &(struct image_config){0}, &err) < 0);
    CHECK(store_is_clean(&e));
    registry_stop(e.reg);
}

TEST_TIMEOUT(basic_auth_from_docker_config, 120)
{
    struct env e;
    REQUIRE(setup(&e, "busybox", "alice", "s3cret") == 0);
    char layout[800], ref[200];
    snprintf(layout, sizeof layout, "%s/busybox", e.fx);
    REQUIRE(registry_push(e.reg, layout, "private/bb:1", "alice:s3cret") == 0);
    ref_of(&e, "private/bb:1", ref, sizeof ref);
    struct image_record rec;
    struct bl_error err = {0};
    /* No credentials at all. */
    CHECK(image_pull(&e.st, ref, &e.o, &rec, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_AUTH);
    /* Wrong password from a config file. */
    char cfgp[800];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", harness_tmpdir());
    FILE *f = fopen(cfgp, "w");
    REQUIRE(f);
    /* base64("alice:wrong") and base64("alice:s3cret") */
    fprintf(f, "{\"auths\":{\"127.0.0.1:%d\":{\"auth\":\"YWxpY2U6d3Jvbmc=\"}}}", e.port);
    fclose(f);
    e.o.registry.docker_config = cfgp;
    CHECK(image_pull(&e.st, ref, &e.o, &rec, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_AUTH);
    CHECK(strstr(err.msg, "refused") != NULL);
    f = fopen(cfgp, "w");
    REQUIRE(f);
    fprintf(f, "{\"auths\":{\"http://127.0.0.1:%d\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}", e.port);
    fclose(f);
    int r = image_pull(&e.st, ref, &e.o, &rec, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "pull: %s", err.msg);
    CHECK(r == 0);
    image_record_free(&rec);
    registry_stop(e.reg);
}

/* A registry behind htpasswd, logged in through a credential helper (a script speaking
 * the helper protocol), named per registry (credHelpers) and as the default (credsStore). */
TEST_TIMEOUT(credential_helper_logs_in, 120)
{
    struct env e;
    REQUIRE(setup(&e, "busybox", "alice", "s3cret") == 0);
    char layout[800], ref[200];
    snprintf(layout, sizeof layout, "%s/busybox", e.fx);
    REQUIRE(registry_push(e.reg, layout, "private/bb:1", "alice:s3cret") == 0);
    ref_of(&e, "private/bb:1", ref, sizeof ref);
    char bin[700], cfgp[800], path[2000];
    snprintf(bin, sizeof bin, "%s/bin", harness_tmpdir());
    REQUIRE(mkdir(bin, 0755) == 0);
    char script[900];
    snprintf(script, sizeof script, "%s/docker-credential-fixture", bin);
    FILE *hf = fopen(script, "w");
    REQUIRE(hf);
    fprintf(hf, "#!/bin/sh\nread s\n[ \"$s\" = 127.0.0.1:%d ] || { echo credentials not found; exit 1; }\n"
                "echo '{\"Username\":\"alice\",\"Secret\":\"s3cret\"}'\n", e.port);
    fclose(hf);
    REQUIRE(chmod(script, 0755) == 0);
    snprintf(path, sizeof path, "%s:%s", bin, getenv("PATH"));
    setenv("PATH", path, 1);
    snprintf(cfgp, sizeof cfgp, "%s/config.json", harness_tmpdir());
    e.o.registry.docker_config = cfgp;
    char configs[2][200];
    snprintf(configs[0], sizeof configs[0], "{\"credHelpers\":{\"127.0.0.1:%d\":\"fixture\"}}", e.port);
    snprintf(configs[1], sizeof configs[1], "{\"credsStore\":\"fixture\"}");
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(cfgp, "w");
        REQUIRE(f);
        fputs(configs[i], f);
        fclose(f);
        struct image_record rec;
        struct bl_error err = {0};
        int r = image_pull(&e.st, ref, &e.o, &rec, &err);
        if (r < 0)
            harness_fail(__FILE__, __LINE__, "pull with %s: %s", configs[i], err.msg);
        else
            image_record_free(&rec);
    }
    /* a helper that is not installed: the pull fails and says which */
    FILE *f = fopen(cfgp, "w");
    REQUIRE(f);
    fprintf(f, "{\"credsStore\":\"absent\"}");
    fclose(f);
    struct image_record rec;
    struct bl_error err = {0};
    CHECK(image_pull(&e.st, ref, &e.o, &rec, &err) < 0);
    CHECK(strstr(err.msg, "docker-credential-absent is not installed") != NULL);
    registry_stop(e.reg);
}

/* A layer whose blob digest is right but whose contents differ from the config's DiffID:
 * refused at pull, and nothing of it is cached (no blob, no base, no record, no temp). */
TEST_TIMEOUT(wrong_diff_id_is_refused_and_nothing_cached, 120)
{
    struct env e;
    REQUIRE(setup(&e, "bad-diffid busybox", NULL, NULL) == 0);
    char layout[800], ref[200], path[1024];
    snprintf(layout, sizeof layout, "%s/bad-diffid", e.fx);
    REQUIRE(registry_push(e.reg, layout, "test/bad:1", NULL) == 0);
    ref_of(&e, "test/bad:1", ref, sizeof ref);
    struct image_record rec;
    struct bl_error err = {0};
    CHECK(image_pull(&e.st, ref, &e.o, &rec, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_IMAGE);
    if (!strstr(err.msg, "layer 1") || !strstr(err.msg, "DiffID"))
        harness_fail(__FILE__, __LINE__, "message: %s", err.msg);
    char blobs[900];
    snprintf(blobs, sizeof blobs, "%s/images/blobs/sha256", e.home);
    CHECK_EQ(count_files(blobs), 0);
    CHECK(store_is_clean(&e));
    char cmd[1000], out[64];
    snprintf(cmd, sizeof cmd, "ls %s/images/rootfs | grep -c ext4", e.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 0);
    CHECK(image_get_config(&e.st, ref, &(struct image_config){0}, &err) < 0);
    /* an image pulled before keeps its blobs: only the refused image's go */
    snprintf(layout, sizeof layout, "%s/busybox", e.fx);
    REQUIRE(registry_push(e.reg, layout, "test/bb:1", NULL) == 0);
    ref_of(&e, "test/bb:1", ref, sizeof ref);
    REQUIRE(image_pull_prepare(&e.st, ref, &e.o, &rec, path, sizeof path, &err) == 0);
    int kept = count_files(blobs);
    image_record_free(&rec);
    ref_of(&e, "test/bad:1", ref, sizeof ref);
    CHECK(image_pull(&e.st, ref, &e.o, &rec, &err) < 0);
    CHECK_EQ(count_files(blobs), kept);
    registry_stop(e.reg);
}

struct notices {
    char text[4096];
};
static void on_notice(void *ud, const char *msg)
{
    struct notices *n = ud;
    snprintf(n->text + strlen(n->text), sizeof n->text - strlen(n->text), "%s\n", msg);
}

/* tests/fixtures/fakeregistry.py serving the fixtures as test/<name>; returns its port.
 * Its request log is <portfile>.requests (portfile may be NULL). */
static int fake_registry_at(const char *fx, const char *extra, char portfile[800])
{
    static int seq;
    snprintf(portfile, 800, "%s/fakemirror%d.port", harness_tmpdir(), seq++);
    if (harness_sh("python3 tests/fixtures/fakeregistry.py %s %s %d %s >/dev/null 2>&1 &", fx, portfile, (int)getpid(),
           extra) != 0)
        return -1;
    for (int i = 0; i < 100; i++) {
        FILE *p = fopen(portfile, "r");
        int port = 0;
        if (p) {
            int ok = fscanf(p, "%d", &port) == 1;
            fclose(p);
            if (ok)
                return port;
        }
        usleep(100000);
    }
    return -1;
}

static int fake_registry(const char *fx, const char *extra)
{
    char portfile[800];
    return fake_registry_at(fx, extra, portfile);
}

/* Pulls ref into a fresh home with the given registries settings; the notices in n. */
static int pull_with(struct env *e, const char *conf_json, const char *ref, struct image_record *rec,
                     struct notices *n, struct bl_error *err)
{
    static int seq;
    char home[800];
    snprintf(home, sizeof home, "%s/home-conf%d", harness_tmpdir(), seq++);
    struct image_store st;
    if (image_store_open(&st, home, err) < 0)
        return -1;
    struct regconf conf;
    if (regconf_parse(&conf, conf_json, strlen(conf_json), err) < 0)
        return -1;
    struct image_pull_opts o = e->o;
    o.conf = &conf;
    o.notice = on_notice;
    o.notice_ud = n;
    n->text[0] = 0;
    char path[1024];
    int r = image_pull_prepare(&st, ref, &o, rec, path, sizeof path, err);
    if (r == 0) {
        struct image_config c;
        if (image_get_config(&st, ref, &c, err) == 0) /* found again by the name pulled */
            image_config_free(&c);
        else
            r = -1;
    }
    regconf_free(&conf);
    return r;
}

TEST_TIMEOUT(mirrors_search_list_and_ca_from_the_registries_settings, 240)
{
    struct env e;
    REQUIRE(setup(&e, "busybox layers", NULL, NULL) == 0);
    char layout[800], ref[200], conf[1200], want[DIGEST_LEN + 1];
    snprintf(layout, sizeof layout, "%s/busybox", e.fx);
    REQUIRE(registry_push(e.reg, layout, "test/busybox:latest", NULL) == 0);
    ref_of(&e, "test/busybox:latest", ref, sizeof ref);
    struct image_record rec;
    struct bl_error err = {0};
    struct notices n;
    /* the digest the registry itself gives the tag */
    REQUIRE(image_pull(&e.st, ref, &e.o, &rec, &err) == 0);
    snprintf(want, sizeof want, "%s", rec.manifest);
    image_record_free(&rec);

    /* 1. A mirror that is down: passed over, said so; the registry serves. */
    snprintf(conf, sizeof conf, "{\"registries\": {\"127.0.0.1:%d\": {\"mirrors\": [\"127.0.0.1:1\"]}}}", e.port);
    int r = pull_with(&e, conf, ref, &rec, &n, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "mirror down: %s", err.msg);
    else
        image_record_free(&rec);
    CHECK(strstr(n.text, "mirror 127.0.0.1:1") != NULL);

    /* 2. A mirror that serves other bytes for the digest: refused; same image as the registry's. */
    int liar = fake_registry(e.fx, "--lie layers");
    REQUIRE(liar > 0);
    snprintf(conf, sizeof conf, "{\"registries\": {\"127.0.0.1:%d\": {\"mirrors\": [\"127.0.0.1:%d\"]}}}", e.port, liar);
    r = pull_with(&e, conf, ref, &rec, &n, &err);
    if (r < 0) {
        harness_fail(__FILE__, __LINE__, "lying mirror: %s", err.msg);
    } else {
        CHECK_STR(rec.manifest, want);
        image_record_free(&rec);
    }
    char needle[100];
    snprintf(needle, sizeof needle, "mirror 127.0.0.1:%d refused", liar);
    if (!strstr(n.text, needle))
        harness_fail(__FILE__, __LINE__, "lying mirror, notices: %s", n.text);

    /* 3. An honest mirror while the registry is down: the mirror resolves the tag, says so. */
    int honest = fake_registry(e.fx, "");
    REQUIRE(honest > 0);
    registry_stop(e.reg);
    snprintf(conf, sizeof conf, "{\"registries\": {\"127.0.0.1:%d\": {\"mirrors\": [\"127.0.0.1:%d\"]}}}", e.port, honest);
    r = pull_with(&e, conf, ref, &rec, &n, &err);
    if (r < 0) {
        harness_fail(__FILE__, __LINE__, "registry down: %s", err.msg);
    } else {
        CHECK_STR(rec.manifest, want);
        image_record_free(&rec);
    }
    CHECK(strstr(n.text, "could not be reached") && strstr(n.text, "resolved by its mirror"));

    /* 4. A short name through the search list: the first registry that has it, said so,
     *    and the short name finds the record afterwards. */
    snprintf(conf, sizeof conf, "{\"search\": [\"127.0.0.1:1\", \"127.0.0.1:%d\"]}", honest);
    r = pull_with(&e, conf, "test/busybox", &rec, &n, &err);
    if (r < 0) {
        harness_fail(__FILE__, __LINE__, "search list: %s", err.msg);
    } else {
        char full[200];
        snprintf(full, sizeof full, "127.0.0.1:%d/test/busybox:latest", honest);
        CHECK_STR(rec.ref, full);
        image_record_free(&rec);
    }
    CHECK(strstr(n.text, "test/busybox resolved to 127.0.0.1:") && strstr(n.text, "search list"));
    /* nowhere to be found: every registry tried is named */
    r = pull_with(&e, "{\"search\": [\"127.0.0.1:1\"]}", "test/busybox", &rec, &n, &err);
    CHECK(r < 0);

    /* 5. A registry with its own CA: refused without it, pulled with it. */
    char treg[700], tca[800];
    setenv("TLS", "1", 1);
    int tport = registry_start("tls2", NULL, NULL, treg, sizeof treg);
    unsetenv("TLS");
    REQUIRE(tport > 0);
    REQUIRE(registry_push(treg, layout, "tls/bb:1", NULL) == 0);
    snprintf(tca, sizeof tca, "%s/cert.pem", treg);
    snprintf(ref, sizeof ref, "localhost:%d/tls/bb:1", tport);
    struct env te = e;
    te.o.registry.max_retries = -1;
    CHECK(pull_with(&te, "{}", ref, &rec, &n, &err) < 0);
    CHECK(strstr(err.msg, "certificate") != NULL);
    snprintf(conf, sizeof conf, "{\"registries\": {\"localhost:%d\": {\"ca_file\": \"%s\"}}}", tport, tca);
    r = pull_with(&te, conf, ref, &rec, &n, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "with the CA: %s", err.msg);
    else
        image_record_free(&rec);
    registry_stop(treg);
}

/* The registry's own copy of a layer (filesystem driver layout). */
static void registry_blob_path(const struct env *e, const char *digest, char *out, size_t n)
{
    snprintf(out, n, "%s/storage/docker/registry/v2/blobs/sha256/%.2s/%s/data", e->reg, digest + 7, digest + 7);
}

static void layer_digest_of(const char *layout, char *out, size_t n)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import json;L='%s';m=json.load(open(L+'/index.json'))['manifests'][0]['digest'][7:];"
             "print(json.load(open(L+'/blobs/sha256/'+m))['layers'][0]['digest'])\"", layout);
    sh_out(out, n, cmd);
}

TEST_TIMEOUT(corrupt_and_truncated_blobs_are_refused, 120)
{
    struct env e;
    REQUIRE(setup(&e, "busybox", NULL, NULL) == 0);
    char layout[800], ref[200], digest[100], data[1200];
    snprintf(layout, sizeof layout, "%s/busybox", e.fx);
    REQUIRE(registry_push(e.reg, layout, "test/bb:1", NULL) == 0);
    ref_of(&e, "test/bb:1", ref, sizeof ref);
    layer_digest_of(layout, digest, sizeof digest);
    REQUIRE(strlen(digest) == 71);
    registry_blob_path(&e, digest, data, sizeof data);
    REQUIRE(access(data, F_OK) == 0);
    /* Same length, one byte flipped in the middle. */
    REQUIRE(harness_sh("python3 -c \"p='%s';b=bytearray(open(p,'rb').read());b[len(b)//2]^=0xff;open(p,'wb').write(b)\"", data) == 0);
    struct image_record rec;
    struct bl_error err = {0};
    char path[1024];
    CHECK(image_pull_prepare(&e.st, ref, &e.o, &rec, path, sizeof path, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_IMAGE);
    CHECK(strstr(err.msg, "does not match its digest") != NULL);
    CHECK(!blobstore_has(&e.st.bs, digest, -1));
    CHECK(!has_partial(&e, digest)); /* wrong bytes are not kept to resume from */
    CHECK(store_is_clean_but_partials(&e));
    CHECK(image_get_config(&e.st, ref, &(struct image_config){0}, &err) < 0);
    /* Cut to half: the registry sends fewer bytes than the descriptor says. */
    REQUIRE(harness_sh("python3 -c \"import os;p='%s';os.truncate(p, os.path.getsize(p)//2)\"", data) == 0);
    CHECK(image_pull(&e.st, ref, &e.o, &rec, &err) < 0);
    CHECK(err.code == BOXLITE_ERR_IMAGE || err.code == BOXLITE_ERR_NETWORK);
    if (!strstr(err.msg, "truncated"))
        harness_fail(__FILE__, __LINE__, "message: %s", err.msg);
    CHECK(!blobstore_has(&e.st.bs, digest, -1));
    CHECK(has_partial(&e, digest)); /* a true prefix: the next pull resumes from it */
    CHECK(store_is_clean_but_partials(&e));
    char cmd[1000], out[64];
    snprintf(cmd, sizeof cmd, "ls %s/images/rootfs | grep -c ext4", e.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 0);
    registry_stop(e.reg);
}

TEST_TIMEOUT(hostile_layers_are_refused, 120)
{
    struct env e;
    REQUIRE(setup(&e, "evil-dotdot evil-symlink", NULL, NULL) == 0);
    static const char *names[] = {"evil-dotdot", "evil-symlink"};
    static const char *msgs[] = {"\"..\"", "symlink"};
    for (int i = 0; i < 2; i++) {
        char layout[800], name[100], ref[200], path[1024];
        snprintf(layout, sizeof layout, "%s/%s", e.fx, names[i]);
        snprintf(name, sizeof name, "test/%s:1", names[i]);
        REQUIRE(registry_push(e.reg, layout, name, NULL) == 0);
        ref_of(&e, name, ref, sizeof ref);
        struct image_record rec;
        struct bl_error err = {0};
        CHECK(image_pull_prepare(&e.st, ref, &e.o, &rec, path, sizeof path, &err) < 0);
        CHECK_EQ(err.code, BOXLITE_ERR_IMAGE);
        if (!strstr(err.msg, msgs[i]))
            harness_fail(__FILE__, __LINE__, "%s: \"%s\"", names[i], err.msg);
        CHECK(access(path, F_OK) != 0);
        CHECK(store_is_clean(&e));
    }
    CHECK(access("/etc/boxlite-evil", F_OK) != 0);
    char esc[900];
    snprintf(esc, sizeof esc, "%s/home/images/escaped", harness_tmpdir());
    CHECK(access(esc, F_OK) != 0);
    registry_stop(e.reg);
}

TEST_TIMEOUT(disk_full_is_a_clear_error, 120)
{
    struct env e;
    REQUIRE(setup(&e, "busybox", NULL, NULL) == 0);
    char layout[800], ref[200], path[1024];
    snprintf(layout, sizeof layout, "%s/busybox", e.fx);
    REQUIRE(registry_push(e.reg, layout, "test/bb:1", NULL) == 0);
    ref_of(&e, "test/bb:1", ref, sizeof ref);
    /* 1 MiB: the layer download fails; 3 MiB: the layer fits, the ext4 build does not. */
    static const char *sizes[] = {"size=1m", "size=3m"};
    static const char *stage[] = {"write blob", "build ext4"};
    for (int i = 0; i < 2; i++) {
        char small[800];
        snprintf(small, sizeof small, "%s/small%d", harness_tmpdir(), i);
        mkdir(small, 0755);
        if (mount("tmpfs", small, "tmpfs", 0, sizes[i]) < 0)
            harness_need("cannot mount a tmpfs here (%s)", strerror(errno));
        struct image_store st;
        struct bl_error err = {0};
        REQUIRE(image_store_open(&st, small, &err) == 0);
        struct image_record rec;
        int r = image_pull_prepare(&st, ref, &e.o, &rec, path, sizeof path, &err);
        CHECK(r < 0);
        if (!strstr(err.msg, "No space left") || !strstr(err.msg, stage[i]))
            harness_fail(__FILE__, __LINE__, "%s: %s", sizes[i], err.msg);
        char cmd[1000], out[64];
        snprintf(cmd, sizeof cmd, "ls -A %s/images/tmp %s/images/rootfs | grep -v -e '^$' -e ':$' -e '.lock$' -e '^pullnote-' | wc -l", small, small);
        if (atoi(sh_out(out, sizeof out, cmd)) != 0) {
            harness_fail(__FILE__, __LINE__, "%s: files left", sizes[i]);
            harness_sh("ls -lA %s/images/tmp %s/images/rootfs >&2", small, small);
        }
        CHECK(image_get_config(&st, ref, &(struct image_config){0}, &err) < 0);
        umount2(small, MNT_DETACH);
    }
    registry_stop(e.reg);
}

TEST_TIMEOUT(shared_layers_stored_once_and_gc, 120)
{
    struct env e;
    REQUIRE(setup(&e, "busybox multi", NULL, NULL) == 0);
    char l1[800], l2[800], r1[200], r2[200], path[1024];
    snprintf(l1, sizeof l1, "%s/busybox", e.fx);
    snprintf(l2, sizeof l2, "%s/multi", e.fx);
    REQUIRE(registry_push(e.reg, l1, "a/bb:1", NULL) == 0);
    REQUIRE(registry_push(e.reg, l2, "b/multi:1", "--all") == 0);
    ref_of(&e, "a/bb:1", r1, sizeof r1);
    ref_of(&e, "b/multi:1", r2, sizeof r2);
    struct image_record a, b;
    struct bl_error err = {0};
    REQUIRE(image_pull_prepare(&e.st, r1, &e.o, &a, path, sizeof path, &err) == 0);
    e.o.arch = "amd64"; /* multi's variant whose layer is busybox's, whatever this host is */
    REQUIRE(image_pull(&e.st, r2, &e.o, &b, &err) == 0);
    char blobs[900], rootfs[900];
    snprintf(blobs, sizeof blobs, "%s/images/blobs/sha256", e.home);
    snprintf(rootfs, sizeof rootfs, "%s/images/rootfs", e.home);
    /* busybox: manifest, config, layer; multi adds its index, manifest and config (the
     * layer is the same bytes, so the same blob). */
    CHECK_EQ(count_files(blobs), 6);
    struct gc_stats gs;
    REQUIRE(image_gc(&e.st, NULL, &gs, &err) == 0);
    CHECK_EQ(gs.blobs_removed, 0);
    REQUIRE(image_remove(&e.st, r2, &err) == 0);
    REQUIRE(image_gc(&e.st, NULL, &gs, &err) == 0);
    CHECK_EQ(gs.blobs_removed, 3);
    CHECK_EQ(count_files(blobs), 3);
    REQUIRE(image_remove(&e.st, a.id, &err) == 0);
    /* A box still uses the base: it stays, the blobs go. */
    const char *keep[] = {a.id, NULL};
    REQUIRE(image_gc(&e.st, keep, &gs, &err) == 0);
    CHECK_EQ(count_files(blobs), 0);
    CHECK_EQ(gs.rootfs_removed, 0);
    CHECK(access(path, F_OK) == 0);
    REQUIRE(image_gc(&e.st, NULL, &gs, &err) == 0);
    CHECK_EQ(gs.rootfs_removed, 1);
    CHECK(access(path, F_OK) != 0);
    image_record_free(&a);
    image_record_free(&b);
    registry_stop(e.reg);
}

TEST_TIMEOUT(oci_layout_and_rootfs_dir_sources, 120)
{
    need_tools();
    const char *fx = fixtures("layers multi");
    REQUIRE(fx);
    char home[800], layout[800], path[1024];
    snprintf(home, sizeof home, "%s/home", harness_tmpdir());
    struct image_store st;
    struct bl_error err = {0};
    REQUIRE(image_store_open(&st, home, &err) == 0);
    snprintf(layout, sizeof layout, "%s/layers", fx);
    struct image_record rec;
    int r = image_import_oci_layout(&st, layout, NULL, NULL, &rec, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "import: %s", err.msg);
    REQUIRE(r == 0);
    CHECK(!strncmp(rec.ref, "oci:/", 5));
    REQUIRE(image_prepare(&st, rec.ref, NULL, path, sizeof path, &err) == 0);
    CHECK_EQ(harness_sh("e2fsck -fn %s >/dev/null 2>&1", path), 0);
    image_record_free(&rec);
    /* The same through the reference entry points, with a relative path. */
    char rel[900];
    snprintf(rel, sizeof rel, "oci:%s", layout);
    REQUIRE(chdir(harness_tmpdir()) == 0);
    snprintf(rel, sizeof rel, "oci:fx/layers");
    REQUIRE(image_pull_prepare(&st, rel, NULL, &rec, path, sizeof path, &err) == 0);
    image_record_free(&rec);
    REQUIRE(image_prepare(&st, "oci:fx/layers", NULL, path, sizeof path, &err) == 0);
    struct image_config ic;
    REQUIRE(image_get_config(&st, "oci:./fx/layers", &ic, &err) == 0);
    CHECK_STR(ic.user, "1000");
    image_config_free(&ic);
    snprintf(layout, sizeof layout, "%s/multi", fx);
    REQUIRE(image_pull(&st, "oci:fx/multi:latest", NULL, &rec, &err) == 0);
    image_record_free(&rec);
    REQUIRE(image_import_oci_layout(&st, layout, "latest", NULL, &rec, &err) == 0);
    image_record_free(&rec);
    CHECK(image_import_oci_layout(&st, layout, "nope", NULL, &rec, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_NOT_FOUND);
    /* A prepared directory, owners as on the host. */
    char dir[800];
    snprintf(dir, sizeof dir, "%s/rootdir", harness_tmpdir());
    REQUIRE(harness_sh("mkdir -p %s/bin %s/etc && cp /bin/busybox %s/bin/ && echo hi > %s/etc/motd", dir, dir, dir, dir) == 0);
    REQUIRE(image_prepare_dir(&st, dir, 0, path, sizeof path, &err) == 0);
    char out[4096];
    debugfs(out, sizeof out, path, "cat /etc/motd");
    CHECK(strstr(out, "hi") != NULL);
}

#include <sys/wait.h>

/* Several processes pulling into one store at once, two of them the image "big", two the
 * image "big-twin" (the same four layers under another config): all succeed, every blob is
 * fetched from the registry once (counted in the registry's own request log: a layer that
 * one pull is fetching is waited for by the other image's pull, not fetched again; pulls of
 * one image wait for its base), and they end with one base per image. The layers (4 x
 * 6 MB) are big enough that the pulls overlap. */
TEST_TIMEOUT(concurrent_pulls_share_one_store, 180)
{
    setenv("BIG_MB", "24", 1);
    struct env e;
    REQUIRE(setup(&e, "big big-twin", NULL, NULL) == 0);
    char layout[800], refs[2][200];
    static const char *names[] = {"big", "big-twin"};
    for (int i = 0; i < 2; i++) {
        char name[100];
        snprintf(layout, sizeof layout, "%s/%s", e.fx, names[i]);
        snprintf(name, sizeof name, "test/%s:1", names[i]);
        REQUIRE(registry_push(e.reg, layout, name, NULL) == 0);
        ref_of(&e, name, refs[i], sizeof refs[i]);
    }
    char log[800], cmd[1500], out[256];
    snprintf(log, sizeof log, "%s/registry.log", e.reg);
    snprintf(cmd, sizeof cmd, "wc -l < %s", log);
    int mark = atoi(sh_out(out, sizeof out, cmd));
    enum { KIDS = 4 };
    int go[2];
    REQUIRE(pipe(go) == 0);
    pid_t kids[KIDS];
    for (int i = 0; i < KIDS; i++) {
        kids[i] = fork();
        REQUIRE(kids[i] >= 0);
        if (kids[i] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) < 0) /* all start together, at EOF */
                _exit(2);
            struct image_store st;
            struct image_record rec;
            struct bl_error err = {0};
            char path[1024];
            if (image_store_open(&st, e.home, &err) < 0 ||
                image_pull_prepare(&st, refs[i % 2], &e.o, &rec, path, sizeof path, &err) < 0) {
                fprintf(stderr, "child %d: %s\n", i, err.msg);
                _exit(1);
            }
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < KIDS; i++) {
        int st = 0;
        waitpid(kids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    /* Blob GETs the registry answered, per digest: six asked for (two configs, four
     * layers), none twice. */
    char count[800];
    snprintf(count, sizeof count,
             "tail -n +%d %s | grep 'http.request.method=GET' | grep -o 'blobs/sha256:[0-9a-f]*' | sort | uniq -c", mark + 1,
             log);
    snprintf(cmd, sizeof cmd, "%s | awk '{n++; if ($1 > 1) dup++} END {printf \"%%d %%d\", n, dup}'", count);
    sh_out(out, sizeof out, cmd);
    int blobs = -1, dup = -1;
    REQUIRE(sscanf(out, "%d %d", &blobs, &dup) == 2);
    CHECK_EQ(blobs, 6);
    if (dup != 0) {
        harness_fail(__FILE__, __LINE__, "%d blobs fetched more than once:", dup);
        harness_sh("%s >&2", count);
    }
    snprintf(cmd, sizeof cmd, "ls %s/images/rootfs | grep -c 'ext4$'", e.home);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 2);
    CHECK(store_is_clean(&e));
    for (int i = 0; i < 2; i++) {
        struct image_config cfg;
        struct bl_error err = {0};
        REQUIRE(image_get_config(&e.st, refs[i], &cfg, &err) == 0);
        image_config_free(&cfg);
    }
    registry_stop(e.reg);
}

/* HTTPS is verified: a registry with a self-signed certificate is refused unless its CA
 * is given or the registry is listed as insecure. */
TEST_TIMEOUT(tls_is_verified, 120)
{
    need_tools();
    const char *fx = fixtures("busybox");
    REQUIRE(fx);
    char reg[700], layout[800], ref[200], ca[800], home[800];
    setenv("TLS", "1", 1);
    int port = registry_start("tls", NULL, NULL, reg, sizeof reg);
    unsetenv("TLS");
    REQUIRE(port > 0);
    snprintf(layout, sizeof layout, "%s/busybox", fx);
    REQUIRE(registry_push(reg, layout, "tls/bb:1", NULL) == 0);
    snprintf(ca, sizeof ca, "%s/cert.pem", reg);
    snprintf(home, sizeof home, "%s/home", harness_tmpdir());
    struct image_store st;
    struct bl_error err = {0};
    REQUIRE(image_store_open(&st, home, &err) == 0);
    struct image_pull_opts o = {0};
    o.registry.max_retries = -1;
    o.registry.docker_config = "/nonexistent";
    struct image_record rec;
    for (int i = 0; i < 2; i++) {
        /* 127.0.0.1 and localhost are both local: HTTPS, then plain HTTP; both fail. */
        snprintf(ref, sizeof ref, "%s:%d/tls/bb:1", i ? "localhost" : "127.0.0.1", port);
        CHECK(image_pull(&st, ref, &o, &rec, &err) < 0);
        if (!strstr(err.msg, "certificate"))
            harness_fail(__FILE__, __LINE__, "%s: %s", ref, err.msg);
    }
    o.registry.ca_file = ca;
    int r = image_pull(&st, ref, &o, &rec, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "with CA: %s", err.msg);
    else
        image_record_free(&rec);
    o.registry.ca_file = NULL;
    char hostport[64];
    snprintf(hostport, sizeof hostport, "127.0.0.1:%d", port);
    const char *insecure[] = {hostport, NULL};
    o.registry.insecure = insecure;
    snprintf(ref, sizeof ref, "127.0.0.1:%d/tls/bb:1", port);
    r = image_pull(&st, ref, &o, &rec, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "insecure: %s", err.msg);
    else
        image_record_free(&rec);
    registry_stop(reg);
}

/* The registries settings' own credentials and insecure flag, against real registries:
 * username/password for an htpasswd registry (no docker config at all); insecure for a
 * self-signed HTTPS registry and for a plain-HTTP one on an address that is not treated as
 * local (127.0.0.2: HTTPS only unless the settings say insecure). */
TEST_TIMEOUT(registries_settings_credentials_and_insecure, 240)
{
    struct env e;
    REQUIRE(setup(&e, "busybox", "alice", "s3cret") == 0);
    char layout[800], ref[200], conf[1200];
    snprintf(layout, sizeof layout, "%s/busybox", e.fx);
    REQUIRE(registry_push(e.reg, layout, "private/bb:1", "alice:s3cret") == 0);
    ref_of(&e, "private/bb:1", ref, sizeof ref);
    struct image_record rec;
    struct bl_error err = {0};
    struct notices n;
    /* 1. Credentials: none → refused; wrong → refused naming the user; right → pulled. */
    CHECK(pull_with(&e, "{}", ref, &rec, &n, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_AUTH);
    snprintf(conf, sizeof conf, "{\"registries\": {\"127.0.0.1:%d\": {\"username\": \"alice\", \"password\": \"nope\"}}}",
             e.port);
    CHECK(pull_with(&e, conf, ref, &rec, &n, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_AUTH);
    if (!strstr(err.msg, "refused the credentials for user alice"))
        harness_fail(__FILE__, __LINE__, "wrong password: %s", err.msg);
    snprintf(conf, sizeof conf, "{\"registries\": {\"127.0.0.1:%d\": {\"username\": \"alice\", \"password\": \"s3cret\"}}}",
             e.port);
    int r = pull_with(&e, conf, ref, &rec, &n, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "with username/password: %s", err.msg);
    else
        image_record_free(&rec);
    /* A puller acting for others (boxlite serve) presents none of them, though the image
     * is now in the store: the registry decides again, and refuses. */
    e.o.registry.anonymous = true;
    CHECK(pull_with(&e, conf, ref, &rec, &n, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_AUTH);
    e.o.registry.anonymous = false;
    /* Another registry's entry does not lend its credentials. */
    snprintf(conf, sizeof conf, "{\"registries\": {\"127.0.0.1:1\": {\"username\": \"alice\", \"password\": \"s3cret\"}}}");
    CHECK(pull_with(&e, conf, ref, &rec, &n, &err) < 0);
    registry_stop(e.reg);

    /* 2. A self-signed HTTPS registry: refused, then pulled with "insecure": true. */
    char treg[700];
    setenv("TLS", "1", 1);
    int tport = registry_start("tls3", NULL, NULL, treg, sizeof treg);
    unsetenv("TLS");
    REQUIRE(tport > 0);
    REQUIRE(registry_push(treg, layout, "tls/bb:1", NULL) == 0);
    snprintf(ref, sizeof ref, "localhost:%d/tls/bb:1", tport);
    struct env te = e;
    te.o.registry.max_retries = -1;
    CHECK(pull_with(&te, "{}", ref, &rec, &n, &err) < 0);
    CHECK(strstr(err.msg, "certificate") != NULL);
    snprintf(conf, sizeof conf, "{\"registries\": {\"localhost:%d\": {\"insecure\": true}}}", tport);
    r = pull_with(&te, conf, ref, &rec, &n, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "self-signed, insecure: %s", err.msg);
    else
        image_record_free(&rec);
    snprintf(conf, sizeof conf, "{\"registries\": {\"localhost:%d\": {\"insecure\": false}}}", tport);
    CHECK(pull_with(&te, conf, ref, &rec, &n, &err) < 0);
    registry_stop(treg);

    /* 3. Plain HTTP on 127.0.0.2: HTTPS is all a registry that is not local gets... */
    char preg[700];
    setenv("ADDR", "127.0.0.2", 1);
    int pport = registry_start("plain", NULL, NULL, preg, sizeof preg);
    unsetenv("ADDR");
    REQUIRE(pport > 0);
    REQUIRE(registry_push(preg, layout, "plain/bb:1", NULL) == 0);
    snprintf(ref, sizeof ref, "127.0.0.2:%d/plain/bb:1", pport);
    CHECK(pull_with(&te, "{}", ref, &rec, &n, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_NETWORK);
    if (!strstr(err.msg, "https://127.0.0.2") || strstr(err.msg, "plain HTTP"))
        harness_fail(__FILE__, __LINE__, "plain HTTP, not insecure: %s", err.msg);
    /* ...unless the settings mark it insecure. */
    snprintf(conf, sizeof conf, "{\"registries\": {\"127.0.0.2:%d\": {\"insecure\": true}}}", pport);
    r = pull_with(&te, conf, ref, &rec, &n, &err);
    if (r < 0)
        harness_fail(__FILE__, __LINE__, "plain HTTP, insecure: %s", err.msg);
    else
        image_record_free(&rec);
    registry_stop(preg);
}

/* With a mirror that works, the registry itself is asked one thing per pull: a HEAD for the
 * tag's digest (Docker Hub does not count HEADs against its pull rate limit). The manifest
 * and the blobs come from the mirror, verified against that digest. */
TEST_TIMEOUT(mirror_serves_the_manifest_the_registry_answers_one_head, 120)
{
    need_tools();
    const char *fx = fixtures("busybox");
    REQUIRE(fx);
    struct env e;
    memset(&e, 0, sizeof e);
    e.o.registry.max_retries = 2;
    e.o.registry.retry_base_ms = 10;
    e.o.registry.docker_config = "/nonexistent/config.json";
    char olog[800], mlog[800], conf[600], ref[200], cmd[1200], out[2048];
    int origin = fake_registry_at(fx, "", olog), mirror = fake_registry_at(fx, "", mlog);
    REQUIRE(origin > 0 && mirror > 0);
    strcat(olog, ".requests");
    strcat(mlog, ".requests");
    snprintf(conf, sizeof conf, "{\"registries\": {\"127.0.0.1:%d\": {\"mirrors\": [\"127.0.0.1:%d\"]}}}", origin,
             mirror);
    snprintf(ref, sizeof ref, "127.0.0.1:%d/test/busybox:latest", origin);
    struct image_record rec;
    struct bl_error err = {0};
    struct notices n;
    int r = pull_with(&e, conf, ref, &rec, &n, &err);
    if (r < 0) {
        harness_fail(__FILE__, __LINE__, "pull: %s", err.msg);
        return;
    }
    char want[128];
    snprintf(cmd, sizeof cmd, "python3 -c \"import json;print(json.load(open('%s/busybox/index.json'))['manifests'][0]['digest'])\"",
             fx);
    sh_out(want, sizeof want, cmd);
    CHECK_STR(rec.manifest, want);
    image_record_free(&rec);
    /* The registry: one HEAD of the tag, nothing else. */
    snprintf(cmd, sizeof cmd, "awk '{print $2, $4, $5}' %s | tr '\\n' ';'", olog);
    sh_out(out, sizeof out, cmd);
    CHECK_STR(out, "manifests HEAD latest;");
    /* The mirror: the manifest by digest, then the config and the layer. */
    snprintf(cmd, sizeof cmd, "awk '$4 == \"GET\" {print $2}' %s | sort | uniq -c | awk '{printf \"%%s %%s;\", $2, $1}'",
             mlog);
    sh_out(out, sizeof out, cmd);
    CHECK_STR(out, "blobs 2;manifests 1;");
    snprintf(cmd, sizeof cmd, "grep -c 'manifests ok GET %s' %s", want, mlog);
    CHECK_EQ(atoi(sh_out(out, sizeof out, cmd)), 1);
}

/* Issue 18: a reference's record is the platform last pulled under it; image_prepare for
 * another platform answers NOT_FOUND (the caller pulls that one, which replaces it). */
TEST_TIMEOUT(prepare_of_another_platform_is_not_found, 120)
{
    struct env e;
    REQUIRE(setup(&e, "multi", NULL, NULL) == 0);
    char layout[800], ref[200];
    snprintf(layout, sizeof layout, "%s/multi", e.fx);
    REQUIRE(registry_push(e.reg, layout, "test/multi:latest", "--all") == 0);
    ref_of(&e, "test/multi", ref, sizeof ref);
    struct image_record rec;
    struct bl_error err = {0};
    char path[1024];
    e.o.arch = "amd64";
    REQUIRE(image_pull_prepare(&e.st, ref, &e.o, &rec, path, sizeof path, &err) == 0);
    image_record_free(&rec);
    REQUIRE(image_prepare(&e.st, ref, &e.o, path, sizeof path, &err) == 0);
    e.o.arch = "arm64";
    CHECK(image_prepare(&e.st, ref, &e.o, path, sizeof path, &err) == -BOXLITE_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "not linux/arm64") != NULL);
    REQUIRE(image_pull_prepare(&e.st, ref, &e.o, &rec, path, sizeof path, &err) == 0);
    image_record_free(&rec);
    REQUIRE(image_prepare(&e.st, ref, &e.o, path, sizeof path, &err) == 0);
    e.o.arch = "amd64";
    CHECK(image_prepare(&e.st, ref, &e.o, path, sizeof path, &err) == -BOXLITE_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "image is for linux/arm64/v8, not linux/amd64") != NULL);
    /* without options (callers that do not care), the record as it is */
    CHECK(image_prepare(&e.st, ref, NULL, path, sizeof path, &err) == 0);
    registry_stop(e.reg);
}
