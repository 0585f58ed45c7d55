// SPDX-License-Identifier: Apache-2.0
/* boxlite serve's pure parts: routes and scopes, forms, request bodies, Box encoding, page
 * tokens, the credentials file and tokens (src/serve/serve.h). The server itself runs in
 * tests/e2e/serve.sh. */
#include "harness/harness.h"
#include "serve/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST(route_paths)
{
    struct serve_route r;
    CHECK(serve_route_parse("/v1/config", &r) == 0 && r.id == R_CONFIG);
    CHECK(serve_route_parse("/v1/oauth/tokens", &r) == 0 && r.id == R_TOKENS);
    REQUIRE(serve_route_parse("/v1/acme/boxes", &r) == 0);
    CHECK(r.id == R_BOXES);
    CHECK_STR(r.prefix, "acme");
    CHECK(serve_route_parse("/v1/acme/boxes/", &r) == 0 && r.id == R_BOXES);
    CHECK(serve_route_parse("/v1/acme/boxes/import", &r) == 0 && r.id == R_BOXES_IMPORT);
    REQUIRE(serve_route_parse("/v1/acme/boxes/web/executions/exec-1/output", &r) == 0);
    CHECK(r.id == R_EXEC_OUTPUT);
    CHECK_STR(r.box, "web");
    CHECK_STR(r.sub, "exec-1");
    CHECK(serve_route_parse("/v1/acme/boxes/web/exec/tty", &r) == 0 && r.id == R_BOX_TTY);
    CHECK(serve_route_parse("/v1/acme/boxes/web/logs", &r) == 0 && r.id == R_BOX_LOGS);
    CHECK(serve_route_parse("/v1/acme/boxes/web/stdin", &r) == 0 && r.id == R_BOX_STDIN);
    CHECK(serve_route_parse("/v1/acme/boxes/web/snapshots/s1/restore", &r) == 0 &&
          r.id == R_SNAPSHOT_RESTORE && !strcmp(r.sub, "s1"));
    CHECK(serve_route_parse("/v1/acme/images/sha256:ab", &r) == 0 && r.id == R_IMAGE);
    /* the extensions (docs/api.yaml x-boxlite-extension) */
    CHECK(serve_route_parse("/v1/acme/boxes/web/kill", &r) == 0 && r.id == R_BOX_KILL);
    CHECK(serve_route_parse("/v1/acme/boxes/web/wait", &r) == 0 && r.id == R_BOX_WAIT);
    CHECK(serve_route_parse("/v1/acme/boxes/web/fork", &r) == 0 && r.id == R_BOX_FORK);
    CHECK(serve_route_parse("/v1/acme/boxes/web/balloon", &r) == 0 && r.id == R_BOX_BALLOON);
    CHECK(serve_route_parse("/v1/acme/boxes/prune", &r) == 0 && r.id == R_BOXES_PRUNE);
    CHECK(serve_route_parse("/v1/acme/boxes/prune/start", &r) == 0 && r.id == R_BOX_START &&
          !strcmp(r.box, "prune"));
    CHECK(serve_route_parse("/v1/acme/images/prune", &r) == 0 && r.id == R_IMAGES_PRUNE);
    CHECK(serve_route_parse("/v1/acme/boxes/web/kill/9", &r) == -1);
    /* not the API's */
    CHECK(serve_route_parse("/v2/config", &r) == -1);
    CHECK(serve_route_parse("/v1/acme", &r) == -1);
    CHECK(serve_route_parse("/v1/acme//boxes", &r) == -1);
    CHECK(serve_route_parse("/v1/-acme/boxes", &r) == -1);
    CHECK(serve_route_parse("/v1/acme/boxes/web/nope", &r) == -1);
    CHECK(serve_route_parse("/v1/acme/boxes/a b", &r) == -1);
    CHECK(serve_route_parse("/v1/acme/boxes/web/executions/x/output/more", &r) == -1);
    char longp[400];
    memset(longp, 'a', sizeof longp);
    memcpy(longp, "/v1/", 4);
    longp[sizeof longp - 1] = 0;
    CHECK(serve_route_parse(longp, &r) == -1); /* a prefix over 128 characters */
}

TEST(route_scopes)
{
    CHECK(serve_route_scope(R_CONFIG, "GET") == NULL);
    CHECK(serve_route_scope(R_TOKENS, "POST") == NULL);
    CHECK_STR(serve_route_scope(R_BOXES, "GET"), "boxes:read");
    CHECK_STR(serve_route_scope(R_BOXES, "POST"), "boxes:write");
    CHECK_STR(serve_route_scope(R_BOX, "HEAD"), "boxes:read");
    CHECK_STR(serve_route_scope(R_BOX, "DELETE"), "boxes:write");
    CHECK_STR(serve_route_scope(R_EXEC_INPUT, "POST"), "boxes:exec");
    CHECK_STR(serve_route_scope(R_METRICS, "GET"), "runtime:admin");
    CHECK_STR(serve_route_methods(R_BOX), "GET, HEAD, DELETE");
    CHECK_STR(serve_route_scope(R_BOX_WAIT, "POST"), "boxes:read");
    CHECK_STR(serve_route_scope(R_BOX_FORK, "POST"), "boxes:write");
    CHECK_STR(serve_route_scope(R_IMAGE, "DELETE"), "images:write");
    CHECK_STR(serve_route_scope(R_IMAGES_PRUNE, "POST"), "images:write");
    /* logs and a main process's stdin: what executions need */
    CHECK_STR(serve_route_scope(R_BOX_LOGS, "GET"), "boxes:exec");
    CHECK_STR(serve_route_scope(R_BOX_STDIN, "POST"), "boxes:exec");
    CHECK_STR(serve_route_methods(R_BOX_STDIN), "POST");
}

TEST(form)
{
    json_t *o = NULL;
    struct bl_error e = {0};
    const char *f = "grant_type=client_credentials&client_id=a%2Bb&client_secret=x+y%3d&&scope=";
    REQUIRE(serve_form_parse(f, strlen(f), &o, &e) == 0);
    CHECK_STR(json_string_value(json_object_get(o, "client_id")), "a+b");
    CHECK_STR(json_string_value(json_object_get(o, "client_secret")), "x y=");
    CHECK_STR(json_string_value(json_object_get(o, "scope")), "");
    json_decref(o);
    static const char *const bad[] = { "a=%", "a=%4", "a=%zz", "a=1&a=2", "=x", "a=%00",
                                       "a=%ff" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = NULL;
        CHECK(serve_form_parse(bad[i], strlen(bad[i]), &o, &e) < 0);
        CHECK(o == NULL);
    }
    char many[400] = "";
    for (int i = 0; i < 33; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "k%d=v&", i);
    CHECK(serve_form_parse(many, strlen(many), &o, &e) < 0);
}

static json_t *create(const char *body, const struct serve_limits *lim, struct bl_error *e)
{
    json_t *o = NULL;
    if (serve_create_options(body, strlen(body), "acme", lim, &o, e) != 0)
        return NULL;
    return o;
}

TEST(create_options)
{
    struct bl_error e = {0};
    struct serve_limits lim = { 4, 2048, 10, "/srv/roots" };
    json_t *o = create("{\"name\":\"web\",\"image\":\"python:3.12\",\"cpus\":2,\"env\":{\"A\":\"1\"},"
                       "\"cmd\":[\"sleep\",\"inf\"],\"network\":\"disabled\",\"ports\":"
                       "[{\"guest_port\":80,\"host_port\":8080}],\"labels\":{\"t\":\"x\"}}",
                       &lim, &e);
    REQUIRE(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "name")), "acme.web");
    CHECK_STR(json_string_value(json_object_get(o, "image")), "python:3.12");
    CHECK_EQ(json_integer_value(json_object_get(o, "cpus")), 2);
    CHECK(json_is_false(json_object_get(o, "network")));
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(json_object_get(o, "ports"), 0),
                                                "guest_port")), 80);
    json_t *labels = json_object_get(o, "labels");
    CHECK_STR(json_string_value(json_object_get(labels, SERVE_LABEL_PREFIX)), "acme");
    CHECK_STR(json_string_value(json_object_get(labels, "t")), "x");
    json_decref(o);
    /* the default image */
    o = create("{}", &lim, &e);
    REQUIRE(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "image")), "alpine:latest");
    json_decref(o);
    o = create("{\"rootfs_path\":\"bb\"}", &lim, &e);
    REQUIRE(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "rootfs_path")), "/srv/roots/bb");
    CHECK(json_object_get(o, "image") == NULL);
    json_decref(o);
    static const char *const bad[] = {
        "", "[]", "{", "{\"colour\":1}", "{\"cpus\":5}", "{\"cpus\":\"2\"}",
        "{\"memory_mib\":64}", "{\"image\":\"/etc\"}", "{\"image\":\"oci:/x\"}",
        "{\"image\":\"../x\"}", "{\"rootfs_path\":\"../x\"}", "{\"rootfs_path\":\"a/b\"}",
        "{\"image\":\"a\",\"rootfs_path\":\"bb\"}",
        "{\"volumes\":[{\"host_path\":\"/\",\"guest_path\":\"/h\"}]}",
        "{\"name\":\"-x\"}", "{\"name\":\"a23456789012345678901234567890123456789012345678901234567890\"}",
        "{\"network\":\"on\"}", "{\"ports\":[{\"host_port\":1}]}",
        "{\"ports\":[{\"guest_port\":70000}]}", "{\"ports\":[{\"guest_port\":1,\"protocol\":\"sctp\"}]}",
        "{\"labels\":{\"boxlite.serve.prefix\":\"other\"}}", "{\"env\":{\"A\":1}}",
        "{\"security\":\"none\"}", "{\"cmd\":[1]}", "{\"name\":\"a\",\"name\":\"b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e = (struct bl_error){0};
        json_t *x = create(bad[i], &lim, &e);
        if (x)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(x == NULL);
        CHECK(e.msg[0] != 0);
        json_decref(x);
    }
    /* no --rootfs-dir: rootfs_path refused */
    struct serve_limits none = { 4, 2048, 10, NULL };
    CHECK(create("{\"rootfs_path\":\"bb\"}", &none, &e) == NULL);
}

TEST(exec_and_small_bodies)
{
    struct serve_exec_req r;
    struct bl_error e = {0};
    const char *b = "{\"command\":\"sh\",\"args\":[\"-c\",\"echo\"],\"env\":{\"K\":\"V\"},"
                    "\"timeout_seconds\":1.5,\"working_dir\":\"/tmp\",\"tty\":true}";
    REQUIRE(serve_exec_parse(b, strlen(b), &r, &e) == 0);
    CHECK_STR(r.argv[0], "sh");
    CHECK_STR(r.argv[2], "echo");
    CHECK(r.argv[3] == NULL);
    CHECK_STR(r.env[0], "K=V");
    CHECK_EQ(r.timeout_ms, 1500);
    CHECK(r.tty);
    CHECK_STR(r.working_dir, "/tmp");
    serve_exec_req_free(&r);
    static const char *const bad[] = { "{}", "{\"command\":\"\"}", "{\"command\":1}",
                                       "{\"command\":\"x\",\"timeout_seconds\":0}",
                                       "{\"command\":\"x\",\"x\":1}",
                                       "{\"command\":\"x\",\"args\":\"y\"}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(serve_exec_parse(bad[i], strlen(bad[i]), &r, &e) < 0);
    int sig = 0, ms = 0;
    CHECK(serve_signal_parse("{\"signal\":15}", 13, &sig, &e) == 0 && sig == 15);
    CHECK(serve_signal_parse("{\"signal\":0}", 12, &sig, &e) < 0);
    CHECK(serve_signal_parse("{\"signal\":65}", 13, &sig, &e) < 0);
    unsigned c = 0, w = 0;
    CHECK(serve_resize_parse("{\"cols\":120,\"rows\":40}", 22, &c, &w, &e) == 0 && c == 120 &&
          w == 40);
    CHECK(serve_resize_parse("{\"cols\":0,\"rows\":40}", 20, &c, &w, &e) < 0);
    CHECK(serve_stop_parse("", 0, &ms, &e) == 0 && ms == 30000);
    CHECK(serve_stop_parse("{\"timeout_seconds\":2}", 21, &ms, &e) == 0 && ms == 2000);
    CHECK(serve_stop_parse("{\"timeout_seconds\":-1}", 22, &ms, &e) < 0);
    char *name = NULL;
    CHECK(serve_name_parse("{\"name\":\"s1\"}", 13, true, &name, &e) == 0 && !strcmp(name, "s1"));
    free(name);
    CHECK(serve_name_parse("", 0, false, &name, &e) == 0 && name == NULL);
    CHECK(serve_name_parse("", 0, true, &name, &e) < 0);
    int mib = -1;
    CHECK(serve_balloon_parse("{\"target_mib\":128}", 18, &mib, &e) == 0 && mib == 128);
    CHECK(serve_balloon_parse("{\"target_mib\":0}", 16, &mib, &e) == 0 && mib == 0);
    CHECK(serve_balloon_parse("{\"target_mib\":16}", 17, &mib, &e) < 0);
    CHECK(serve_balloon_parse("{}", 2, &mib, &e) < 0);
    json_t *names = NULL;
    CHECK(serve_fork_parse("", 0, &names, &e) == 0 && json_array_size(names) == 1 &&
          json_is_null(json_array_get(names, 0)));
    json_decref(names);
    CHECK(serve_fork_parse("{\"names\":[\"a\",\"b\"]}", 19, &names, &e) == 0 &&
          json_array_size(names) == 2);
    json_decref(names);
    CHECK(serve_fork_parse("{\"names\":[]}", 12, &names, &e) < 0);
    CHECK(serve_fork_parse("{\"names\":[\"../x\"]}", 18, &names, &e) < 0);
    CHECK(serve_fork_parse("{\"names\":[\"a\"],\"x\":1}", 21, &names, &e) < 0);
}

TEST(box_json)
{
    json_t *info = json_loads("{\"id\":\"0123456789abcdef0123456789abcdef\",\"name\":\"acme.web\","
                              "\"state\":\"starting\",\"created\":1733300000,\"pid\":0,"
                              "\"image\":\"alpine\",\"cpus\":2,\"memory_mib\":256,\"labels\":"
                              "{\"boxlite.serve.prefix\":\"acme\",\"t\":\"x\"}}", 0, NULL);
    REQUIRE(info != NULL);
    json_t *b = serve_box_json(info, "acme");
    REQUIRE(b != NULL);
    CHECK_STR(json_string_value(json_object_get(b, "name")), "web");
    CHECK_STR(json_string_value(json_object_get(b, "status")), "running");
    CHECK_STR(json_string_value(json_object_get(b, "created_at")), "2024-12-04T08:13:20Z");
    CHECK(json_is_null(json_object_get(b, "pid")));
    CHECK(json_object_get(json_object_get(b, "labels"), SERVE_LABEL_PREFIX) == NULL);
    json_decref(b);
    CHECK(serve_box_json(info, "other") == NULL); /* another tenant's */
    json_decref(info);
    CHECK_STR(serve_box_status("stopped"), "stopped");
    CHECK_STR(serve_box_status("weird"), "unknown");
    CHECK(serve_status_filter("running") != NULL);
    CHECK(serve_status_filter("starting") == NULL);
}

TEST(page_tokens)
{
    char *t = serve_page_token(1733300000, "0123456789abcdef0123456789abcdef");
    REQUIRE(t != NULL);
    CHECK(strpbrk(t, "+/=") == NULL);
    long long c = 0;
    char id[65];
    REQUIRE(serve_page_token_parse(t, &c, id) == 0);
    CHECK_EQ(c, 1733300000);
    CHECK_STR(id, "0123456789abcdef0123456789abcdef");
    free(t);
    static const char *const bad[] = { "", "!", "a", "Zm9v", "MTp4" /* 1:x */, "LTE6YWJj" /* -1:abc */ };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(serve_page_token_parse(bad[i], &c, id) == -1);
}

TEST(credentials_and_tokens)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/creds", harness_tmpdir());
    char *s1 = NULL, *s2 = NULL;
    struct bl_error e = {0};
    REQUIRE(serve_creds_add(path, "ci", "acme", "boxes:read,boxes:exec", &s1, &e) == 0);
    REQUIRE(serve_creds_add(path, "ci2", "beta", "", &s2, &e) == 0);
    char *none = NULL;
    CHECK(serve_creds_add(path, "ci", "acme", "", &none, &e) < 0 && e.code == BOXLITE_ERR_EXISTS);
    CHECK(serve_creds_add(path, "x", "a.b", "", &none, &e) < 0);
    CHECK(serve_creds_add(path, "x", "acme", "boxes:fly", &none, &e) < 0);
    CHECK(none == NULL);
    struct serve_creds c;
    REQUIRE(serve_creds_load(path, &c, &e) == 0);
    CHECK_EQ(c.n, 2);
    const struct serve_client *cl = serve_creds_check(&c, "ci", s1);
    REQUIRE(cl != NULL);
    CHECK_STR(cl->prefix, "acme");
    CHECK_STR(cl->scopes, "boxes:read boxes:exec");
    CHECK(serve_creds_check(&c, "ci", s2) == NULL);  /* another's secret */
    CHECK(serve_creds_check(&c, "ci2", s1) == NULL);
    CHECK(serve_creds_check(&c, "nobody", s1) == NULL);
    CHECK(serve_creds_check(&c, "ci2", s2) != NULL);
    struct serve_tokens *t = serve_tokens_new(0);
    char *tok = serve_token_issue(t, cl, "boxes:read", 3600);
    REQUIRE(tok != NULL);
    struct serve_token_info info;
    CHECK(serve_token_check(t, tok, &info) == 0);
    CHECK_STR(info.prefix, "acme");
    CHECK_STR(info.client, "ci");
    CHECK(serve_scopes_have(info.scopes, "boxes:read"));
    CHECK(!serve_scopes_have(info.scopes, "boxes:exec"));
    CHECK(serve_token_check(t, "blt_nope", &info) == -1);
    char *old = serve_token_issue(t, cl, "", 0);
    CHECK(serve_token_check(t, old, &info) == -2); /* expired at once */
    free(tok);
    free(old);
    serve_tokens_free(t);
    /* a rate of 2: two requests at once, the third is held back */
    t = serve_tokens_new(2);
    tok = serve_token_issue(t, cl, "", 60);
    REQUIRE(tok != NULL);
    CHECK(serve_token_check(t, tok, &info) == 0);
    CHECK(serve_token_check(t, tok, &info) == 0);
    CHECK(serve_token_check(t, tok, &info) == -3);
    free(tok);
    serve_tokens_free(t);
    serve_creds_free(&c);
    REQUIRE(serve_creds_remove(path, "ci", &e) == 0);
    CHECK(serve_creds_remove(path, "ci", &e) < 0);
    REQUIRE(serve_creds_load(path, &c, &e) == 0);
    CHECK_EQ(c.n, 1);
    serve_creds_free(&c);
    /* the file holds no secret, and a damaged line is an error naming it */
    FILE *f = fopen(path, "r");
    char buf[4096] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    CHECK(strstr(buf, s2) == NULL);
    f = fopen(path, "a");
    fputs("broken line\n", f);
    fclose(f);
    CHECK(serve_creds_load(path, &c, &e) < 0);
    CHECK(strstr(e.msg, ":3:") != NULL);
    free(s1);
    free(s2);
}

TEST(guest_paths)
{
    char out[SERVE_PATH_MAX + 2];
    struct bl_error e = {0};
    REQUIRE(serve_guest_path("/srv//up/./a/", out, sizeof out, &e) == 0);
    CHECK_STR(out, "/srv/up/a");
    REQUIRE(serve_guest_path("/", out, sizeof out, &e) == 0);
    CHECK_STR(out, "/");
    REQUIRE(serve_guest_path("//.//", out, sizeof out, &e) == 0);
    CHECK_STR(out, "/");
    REQUIRE(serve_guest_path("/a/..b/c..", out, sizeof out, &e) == 0); /* names, not ".." */
    CHECK_STR(out, "/a/..b/c..");
    CHECK(serve_guest_path("/srv/../etc", out, sizeof out, &e) != 0);
    CHECK(strstr(e.msg, "outside the box") != NULL);
    CHECK(serve_guest_path("/..", out, sizeof out, &e) != 0);
    CHECK(serve_guest_path("/a/..", out, sizeof out, &e) != 0);
    CHECK(serve_guest_path("etc/passwd", out, sizeof out, &e) != 0);
    CHECK(strstr(e.msg, "not absolute") != NULL);
    CHECK(serve_guest_path("", out, sizeof out, &e) != 0);
    CHECK(serve_guest_path(NULL, out, sizeof out, &e) != 0);
    CHECK(serve_guest_path("/a\nb", out, sizeof out, &e) != 0);
    char *lng = malloc(SERVE_PATH_MAX + 2);
    REQUIRE(lng);
    memset(lng, 'a', SERVE_PATH_MAX + 1);
    lng[0] = '/';
    lng[SERVE_PATH_MAX + 1] = 0;
    CHECK(serve_guest_path(lng, out, sizeof out, &e) != 0);
    free(lng);
    char small[4];
    CHECK(serve_guest_path("/abcdef", small, sizeof small, &e) != 0); /* never overflows */
    bool b = false;
    CHECK(serve_bool_arg(NULL, true, &b) == 0 && b);
    CHECK(serve_bool_arg("false", true, &b) == 0 && !b);
    CHECK(serve_bool_arg("1", false, &b) == 0 && b);
    CHECK(serve_bool_arg("yes", false, &b) == -1);
}

TEST(images_and_metrics)
{
    struct bl_error e = {0};
    char *ref = NULL;
    REQUIRE(serve_pull_parse("{\"reference\":\"alpine:3\"}", 24, &ref, &e) == 0);
    CHECK_STR(ref, "alpine:3");
    free(ref);
    const char *bad[] = { "{\"reference\":\"oci:/etc\"}", "{\"reference\":\"/etc\"}",
                          "{\"reference\":\"\"}", "{\"reference\":\"a b\"}",
                          "{\"reference\":\"x\",\"more\":1}", "{}", "[1]", "{\"reference\":1}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ref = NULL;
        CHECK(serve_pull_parse(bad[i], strlen(bad[i]), &ref, &e) != 0);
        CHECK(ref == NULL);
    }
    json_t *lib = json_pack("{s:s,s:s,s:i,s:i,s:n}", "ref", "127.0.0.1:5000/tools/bb:1", "id",
                            "abcd", "size", 42, "layers", 1, "created");
    json_t *img = serve_image_json(lib);
    REQUIRE(img);
    CHECK_STR(json_string_value(json_object_get(img, "repository")), "127.0.0.1:5000/tools/bb");
    CHECK_STR(json_string_value(json_object_get(img, "tag")), "1");
    CHECK_STR(json_string_value(json_object_get(img, "id")), "sha256:abcd");
    CHECK(json_integer_value(json_object_get(img, "size_bytes")) == 42);
    json_decref(img);
    json_decref(lib);
    lib = json_pack("{s:s,s:s}", "ref", "127.0.0.1:5000/x@sha256:ff", "id", "ff");
    img = serve_image_json(lib);
    CHECK_STR(json_string_value(json_object_get(img, "repository")), "127.0.0.1:5000/x");
    CHECK_STR(json_string_value(json_object_get(img, "tag")), "");
    json_decref(img);
    json_decref(lib);
    lib = json_loads("{\"state\":\"running\",\"vmm\":{\"rss_bytes\":1000,\"net_rx_bytes\":7,"
                     "\"net_tx_bytes\":9},\"start\":{\"total\":812.5,\"disk\":3.2},"
                     "\"executions\":4,\"execution_errors\":1}", 0, NULL);
    json_t *m = serve_box_metrics(lib);
    REQUIRE(m);
    CHECK(json_integer_value(json_object_get(m, "commands_executed_total")) == 4);
    CHECK(json_integer_value(json_object_get(m, "exec_errors_total")) == 1);
    CHECK(json_integer_value(json_object_get(m, "memory_bytes")) == 1000);
    CHECK(json_integer_value(json_object_get(m, "network_bytes_sent")) == 7);
    CHECK(json_is_null(json_object_get(m, "cpu_percent")));
    CHECK(json_integer_value(json_object_get(json_object_get(m, "boot_timing"),
                                             "total_create_ms")) == 812);
    json_decref(m);
    json_decref(lib);
    lib = json_loads("{\"state\":\"stopped\",\"vmm\":null,\"start\":null}", 0, NULL);
    m = serve_box_metrics(lib);
    CHECK(json_is_null(json_object_get(m, "memory_bytes")));
    json_decref(m);
    json_decref(lib);
}

TEST(idempotency_keys)
{
    struct serve_idem *m = serve_idem_new(8, 2, 100);
    REQUIRE(m);
    uint8_t a[32] = {1}, b[32] = {2};
    struct serve_idem_answer ans;
    CHECK(serve_idem_begin(m, "acme", "k1", a, 1000, &ans) == IDEM_NEW);
    /* while the first is carried out: busy; another body: mismatch */
    CHECK(serve_idem_begin(m, "acme", "k1", a, 1000, &ans) == IDEM_BUSY);
    CHECK(serve_idem_begin(m, "acme", "k1", b, 1000, &ans) == IDEM_MISMATCH);
    serve_idem_finish(m, "acme", "k1", 201, "{\"box_id\":\"x\"}", "/v1/acme/boxes/x");
    REQUIRE(serve_idem_begin(m, "acme", "k1", a, 1001, &ans) == IDEM_REPLAY);
    CHECK(ans.status == 201);
    CHECK_STR(ans.body, "{\"box_id\":\"x\"}");
    CHECK_STR(ans.location, "/v1/acme/boxes/x");
    serve_idem_answer_free(&ans);
    CHECK(serve_idem_begin(m, "acme", "k1", b, 1001, &ans) == IDEM_MISMATCH);
    /* per tenant: another tenant's same key is its own */
    CHECK(serve_idem_begin(m, "other", "k1", b, 1001, &ans) == IDEM_NEW);
    /* an aborted key is forgotten: the retry runs */
    serve_idem_abort(m, "other", "k1");
    CHECK(serve_idem_begin(m, "other", "k1", a, 1001, &ans) == IDEM_NEW);
    serve_idem_finish(m, "other", "k1", 204, NULL, NULL);
    REQUIRE(serve_idem_begin(m, "other", "k1", a, 1002, &ans) == IDEM_REPLAY);
    CHECK(ans.status == 204 && ans.body == NULL && ans.location == NULL);
    /* bounded per tenant: a third key pushes out the oldest finished one */
    CHECK(serve_idem_begin(m, "acme", "k2", a, 1003, &ans) == IDEM_NEW);
    serve_idem_finish(m, "acme", "k2", 200, "{}", NULL);
    CHECK(serve_idem_begin(m, "acme", "k3", a, 1004, &ans) == IDEM_NEW);
    CHECK(serve_idem_begin(m, "acme", "k1", a, 1004, &ans) == IDEM_NEW); /* k1 was dropped */
    /* ... but never one in flight: k3 and k1 are, so a fourth is refused */
    CHECK(serve_idem_begin(m, "acme", "k4", a, 1004, &ans) == IDEM_FULL);
    /* expiry: a finished key is forgotten after its lifetime */
    CHECK(serve_idem_begin(m, "other", "k1", a, 1002 + 100, &ans) == IDEM_NEW);
    /* a kept answer is bounded */
    char *big = malloc(SERVE_IDEM_BODY_MAX + 2);
    REQUIRE(big);
    memset(big, 'x', SERVE_IDEM_BODY_MAX + 1);
    big[SERVE_IDEM_BODY_MAX + 1] = 0;
    serve_idem_finish(m, "other", "k1", 200, big, NULL);
    free(big);
    CHECK(serve_idem_begin(m, "other", "k1", b, 1102, &ans) == IDEM_NEW); /* released */
    /* keys: printable, bounded */
    CHECK(serve_idem_begin(m, "acme", "", a, 1, &ans) == IDEM_INVALID);
    CHECK(serve_idem_begin(m, "acme", "a b", a, 1, &ans) == IDEM_INVALID);
    char lk[SERVE_IDEM_KEY_MAX + 2];
    memset(lk, 'k', sizeof lk - 1);
    lk[sizeof lk - 1] = 0;
    CHECK(!serve_idem_key_ok(lk));
    CHECK(serve_idem_key_ok("017f22e2-79b0-7cc3-98c4-dc0c0c07398f"));
    serve_idem_free(m);
}

/* A masked client frame of payload p (n bytes) into out: its length. */
static size_t client_frame(uint8_t *out, unsigned first, const void *p, size_t n)
{
    static const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };
    size_t h = 2;
    out[0] = (uint8_t)first;
    if (n < 126) {
        out[1] = (uint8_t)(0x80 | n);
    } else {
        out[1] = 0x80 | 126;
        out[2] = (uint8_t)(n >> 8);
        out[3] = (uint8_t)n;
        h = 4;
    }
    memcpy(out + h, mask, 4);
    for (size_t i = 0; i < n; i++)
        out[h + 4 + i] = ((const uint8_t *)p)[i] ^ mask[i & 3];
    return h + 4 + n;
}

TEST(websocket)
{
    /* RFC 6455 section 1.3's example */
    char acc[29];
    REQUIRE(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc) == 0);
    CHECK_STR(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(ws_accept_key("short==", acc) == -1);
    CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ!!", acc) == -1);
    uint8_t h[10];
    CHECK(ws_header(h, 2, 5) == 2 && h[0] == 0x82 && h[1] == 5);
    CHECK(ws_header(h, 2, 300) == 4 && h[1] == 126 && h[2] == 1 && h[3] == 44);
    CHECK(ws_header(h, 2, 70000) == 10 && h[1] == 127 && h[9] == (70000 & 0xff));

    struct ws_in st = {0};
    struct ws_ev ev;
    uint8_t buf[512];
    size_t n = client_frame(buf, 0x82, "ls\n", 3);
    CHECK(ws_in_step(&st, buf, n - 1, &ev) == 0 && ev.kind == WS_NEED_MORE); /* partial */
    REQUIRE(ws_in_step(&st, buf, n, &ev) == n);
    CHECK(ev.kind == WS_STDIN && ev.len == 3 && !memcmp(ev.data, "ls\n", 3));
    const char *rs = "{\"type\":\"resize\",\"cols\":100,\"rows\":30}";
    n = client_frame(buf, 0x81, rs, strlen(rs));
    REQUIRE(ws_in_step(&st, buf, n, &ev) == n);
    CHECK(ev.kind == WS_RESIZE && ev.cols == 100 && ev.rows == 30);
    /* a fragmented text message: taken, then acted on at its end */
    n = client_frame(buf, 0x01, rs, 10);
    CHECK(ws_in_step(&st, buf, n, &ev) == n && ev.kind == WS_NEED_MORE);
    n = client_frame(buf, 0x80, rs + 10, strlen(rs) - 10);
    CHECK(ws_in_step(&st, buf, n, &ev) == n && ev.kind == WS_RESIZE);
    n = client_frame(buf, 0x89, "hi", 2);
    CHECK(ws_in_step(&st, buf, n, &ev) == n && ev.kind == WS_PING && ev.len == 2);
    uint8_t cl[2] = { 0x03, 0xe8 };
    n = client_frame(buf, 0x88, cl, 2);
    CHECK(ws_in_step(&st, buf, n, &ev) == n && ev.kind == WS_CLOSE && ev.code == 1000);
    /* what a server must refuse */
    struct { unsigned first; const char *p; size_t len; int code; } bad[] = {
        { 0x81, "{\"type\":\"boom\"}", 15, 1008 },
        { 0x81, "\xff\xfe", 2, 1007 },
        { 0x80, "x", 1, 1002 },  /* a continuation without a message */
        { 0x83, "x", 1, 1002 },  /* an unknown opcode */
        { 0xc2, "x", 1, 1002 },  /* RSV1 */
        { 0x09, "x", 1, 1002 },  /* a fragmented ping */
        { 0x88, "\x03", 1, 1002 }, /* a one-byte close */
        { 0x88, "\x03\xed", 2, 1002 }, /* close code 1005 may not be sent */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ws_in s2 = {0};
        n = client_frame(buf, bad[i].first, bad[i].p, bad[i].len);
        CHECK(ws_in_step(&s2, buf, n, &ev) == 0 && ev.kind == WS_ERROR);
        CHECK(ev.code == bad[i].code);
    }
    struct ws_in s3 = {0};
    uint8_t unmasked[] = { 0x82, 0x02, 'h', 'i' };
    CHECK(ws_in_step(&s3, unmasked, sizeof unmasked, &ev) == 0 && ev.kind == WS_ERROR &&
          ev.code == 1002);
    uint8_t huge[10] = { 0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x20, 0, 0 }; /* 2 MiB */
    CHECK(ws_in_step(&s3, huge, sizeof huge, &ev) == 0 && ev.code == 1009);
    uint8_t notshort[4] = { 0x82, 0x80 | 126, 0, 5 };
    CHECK(ws_in_step(&s3, notshort, sizeof notshort, &ev) == 0 && ev.code == 1002);
    /* a new message inside a fragmented one */
    struct ws_in s4 = {0};
    n = client_frame(buf, 0x02, "a", 1);
    CHECK(ws_in_step(&s4, buf, n, &ev) == n && ev.kind == WS_STDIN);
    n = client_frame(buf, 0x82, "b", 1);
    CHECK(ws_in_step(&s4, buf, n, &ev) == 0 && ev.code == 1002);
    CHECK(ws_utf8_valid((const uint8_t *)"h\xc3\xa9", 3));
    CHECK(!ws_utf8_valid((const uint8_t *)"\xc0\xaf", 2));     /* overlong */
    CHECK(!ws_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* a surrogate */
    CHECK(!ws_utf8_valid((const uint8_t *)"\xe2\x82", 2));     /* cut short */
}
