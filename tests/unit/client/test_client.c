// SPDX-License-Identifier: Apache-2.0
/* The pure parts of the client of boxlite serve (src/client/client.h): strict base64, the
 * error model, Server-Sent Events (split anywhere, CRLF, comments, bounds), an execution's
 * events, and the server's WebSocket frames read from the client's side. The client against
 * a real server runs in tests/e2e/serve_cli.sh. */
#include "harness/harness.h"
#include "client/client.h"
#include "serve/serve.h"

#include <stdlib.h>
#include <string.h>

TEST(base64_strict)
{
    uint8_t out[64];
    CHECK(client_base64_decode("aGVsbG8=", 8, out) == 5 && !memcmp(out, "hello", 5));
    CHECK(client_base64_decode("aGk=", 4, out) == 2 && !memcmp(out, "hi", 2));
    CHECK(client_base64_decode("YQ==", 4, out) == 1 && out[0] == 'a');
    CHECK(client_base64_decode("", 0, out) == 0);
    CHECK(client_base64_decode("aGVsbG8", 7, out) == -1);   /* unpadded */
    CHECK(client_base64_decode("aG Vs", 5, out) == -1);
    CHECK(client_base64_decode("aGk=aGk=", 8, out) == -1);  /* padding inside */
    CHECK(client_base64_decode("YR==", 4, out) == -1);      /* stray bits */
    CHECK(client_base64_decode("Y===", 4, out) == -1);
    CHECK(client_base64_decode("a=b=", 4, out) == -1);
    /* what the server's encoder writes, decoded back */
    uint8_t raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)(i * 7);
    for (size_t n = 0; n < 40; n++) {
        char *b = serve_base64(raw, n);
        REQUIRE(b);
        CHECK(client_base64_decode(b, strlen(b), out) == (long)n && !memcmp(out, raw, n));
        free(b);
    }
}

TEST(error_model)
{
    struct bl_error e = {0};
    const char *body = "{\"error\":{\"message\":\"box web not found\",\"type\":\"NotFoundError\",\"code\":404}}";
    CHECK(client_error_from(404, body, strlen(body), &e) == -BOXLITE_ERR_NOT_FOUND);
    CHECK(strstr(e.msg, "box web not found") && strstr(e.msg, "404"));
    body = "{\"error\":{\"message\":\"a\\u001b[2Jb\",\"type\":\"AlreadyExistsError\",\"code\":409}}";
    CHECK(client_error_from(409, body, strlen(body), &e) == -BOXLITE_ERR_EXISTS);
    CHECK(!strchr(e.msg, 0x1b)); /* the server's text cannot drive our terminal */
    CHECK(client_error_from(401, "<html>", 6, &e) == -BOXLITE_ERR_AUTH && strstr(e.msg, "401"));
    CHECK(client_error_from(501, NULL, 0, &e) == -BOXLITE_ERR_UNSUPPORTED);
    CHECK(client_json_object("[1]", 3, &e) == NULL);
    CHECK(client_json_object("{\"a\":1,\"a\":2}", 13, &e) == NULL);
    json_t *o = client_json_object("{\"a\":1}", 7, &e);
    CHECK(o != NULL);
    json_decref(o);
}

struct got {
    char ids[16][24], types[16][16], data[16][64];
    int n;
};

static int collect(void *ud, const struct client_sse_event *ev)
{
    struct got *g = ud;
    if (g->n < 16) {
        snprintf(g->ids[g->n], 24, "%s", ev->id);
        snprintf(g->types[g->n], 16, "%s", ev->event);
        snprintf(g->data[g->n], 64, "%.*s", (int)ev->dlen, ev->data);
    }
    g->n++;
    return 0;
}

TEST(sse_split_anywhere)
{
    const char *stream = ": keepalive\n\nid: 1\nevent: stdout\ndata: {\"data\":\"aGk=\"}\n\n"
                         "id: 2\r\nevent: exit\r\ndata: {\"exit_code\":3}\r\n\r\n"
                         "data: a\ndata: b\n\nretry: 10\nfoo\nid: 3\n\n";
    size_t n = strlen(stream);
    /* the same events whatever the reads' boundaries */
    for (size_t cut = 1; cut <= n; cut++) {
        struct client_sse s = {0};
        struct got g = {0};
        struct bl_error e = {0};
        for (size_t off = 0; off < n; off += cut)
            REQUIRE(client_sse_feed(&s, stream + off, off + cut > n ? n - off : cut, collect, &g,
                                    &e) == 0);
        CHECK(g.n == 4);
        CHECK(!strcmp(g.ids[0], "1") && !strcmp(g.types[0], "stdout") &&
              !strcmp(g.data[0], "{\"data\":\"aGk=\"}"));
        CHECK(!strcmp(g.ids[1], "2") && !strcmp(g.types[1], "exit"));
        CHECK(!strcmp(g.types[2], "message") && !strcmp(g.data[2], "a\nb"));
        CHECK(!strcmp(g.ids[3], "3") && g.data[3][0] == 0);
        client_sse_free(&s);
    }
}

TEST(sse_bounds)
{
    struct client_sse s = {0};
    struct got g = {0};
    struct bl_error e = {0};
    /* a line without end, past the bound: an error, and every later call too */
    char *big = malloc(CLIENT_SSE_LINE_MAX + 10);
    REQUIRE(big);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'x', CLIENT_SSE_LINE_MAX + 4);
    CHECK(client_sse_feed(&s, big, CLIENT_SSE_LINE_MAX + 10, collect, &g, &e) < 0);
    CHECK(client_sse_feed(&s, "\n\n", 2, collect, &g, &e) < 0 && g.n == 0);
    client_sse_free(&s);
    /* many data lines adding up past the bound */
    struct client_sse s2 = {0};
    memset(big, 'y', 1000);
    int r = 0;
    for (int i = 0; i < 2000 && r == 0; i++) {
        r = client_sse_feed(&s2, "data: ", 6, collect, &g, &e);
        if (!r)
            r = client_sse_feed(&s2, big, 1000, collect, &g, &e);
        if (!r)
            r = client_sse_feed(&s2, "\n", 1, collect, &g, &e);
    }
    CHECK(r < 0 && g.n == 0);
    client_sse_free(&s2);
    free(big);
    /* an id of CLIENT_SSE_ID_MAX bytes or more (a log position is at most 95) */
    struct client_sse s3 = {0};
    char longid[CLIENT_SSE_ID_MAX + 8];
    memcpy(longid, "id: ", 4);
    memset(longid + 4, '7', CLIENT_SSE_ID_MAX);
    memcpy(longid + 4 + CLIENT_SSE_ID_MAX, "\n\n", 3);
    CHECK(client_sse_feed(&s3, longid, strlen(longid), collect, &g, &e) < 0);
    client_sse_free(&s3);
    struct client_sse s4 = {0};
    const char *posid = "id: 18446744073709551615.9223372036854775807.34.9223372036854775807."
                        "9223372036854775807\n\n";
    CHECK(client_sse_feed(&s4, posid, strlen(posid), collect, &g, &e) == 0);
    client_sse_free(&s4);
}

static int exec_ev(const char *type, const char *data, struct client_exec_event *out)
{
    struct client_sse_event ev = { "1", type, data, strlen(data) };
    struct bl_error e = {0};
    return client_exec_event(&ev, out, &e);
}

TEST(exec_events)
{
    struct client_exec_event x;
    REQUIRE(exec_ev("stdout", "{\"data\":\"aGVsbG8=\"}", &x) == 0);
    CHECK(x.kind == CX_STDOUT && x.len == 5 && !memcmp(x.bytes, "hello", 5));
    free(x.bytes);
    REQUIRE(exec_ev("stderr", "{\"data\":\"\"}", &x) == 0);
    CHECK(x.kind == CX_STDERR && x.len == 0);
    free(x.bytes);
    REQUIRE(exec_ev("exit", "{\"exit_code\":137,\"duration_ms\":5,\"signal\":9}", &x) == 0);
    CHECK(x.kind == CX_EXIT && x.exit_code == 137 && x.signal == 9 && !x.error[0]);
    REQUIRE(exec_ev("exit", "{\"exit_code\":-1,\"error\":\"exec x: No such file\\n\"}", &x) == 0);
    CHECK(x.exit_code == -1 && !strcmp(x.error, "exec x: No such file?"));
    CHECK(exec_ev("exit", "{\"exit_code\":256}", &x) < 0);
    CHECK(exec_ev("exit", "{\"exit_code\":\"0\"}", &x) < 0);
    CHECK(exec_ev("exit", "{\"exit_code\":0,\"signal\":65}", &x) < 0);
    CHECK(exec_ev("stdout", "{\"data\":\"not base64!\"}", &x) < 0);
    CHECK(exec_ev("stdout", "{\"data\":5}", &x) < 0);
    CHECK(exec_ev("stdout", "not json", &x) < 0);
    CHECK(exec_ev("other", "{}", &x) < 0);
}

static int log_ev(const char *type, const char *data, struct client_log_event *out)
{
    struct client_sse_event ev = { "1", type, data, strlen(data) };
    struct bl_error e = {0};
    return client_log_event(&ev, out, &e);
}

TEST(log_events)
{
    struct client_log_event l;
    REQUIRE(log_ev("log", "{\"data\":\"aGVsbG8=\"}", &l) == 0);
    CHECK(l.kind == CL_LOG && l.len == 5 && !memcmp(l.bytes, "hello", 5));
    free(l.bytes);
    REQUIRE(log_ev("log", "{\"data\":\"\"}", &l) == 0); /* the first, empty one */
    CHECK(l.kind == CL_LOG && l.len == 0);
    free(l.bytes);
    REQUIRE(log_ev("end", "{\"state\":\"stopped\",\"exit_code\":4,\"oom_killed\":false,"
                          "\"stopped_by_itself\":true}", &l) == 0);
    CHECK(l.kind == CL_END && l.exit_code == 4 && l.stopped_by_itself && !l.oom_killed);
    CHECK_STR(l.state, "stopped");
    REQUIRE(log_ev("end", "{\"state\":\"run\\u001bning\",\"exit_code\":null,"
                          "\"error\":\"gone\\n\"}", &l) == 0);
    CHECK(l.exit_code == -1);
    CHECK_STR(l.state, "run?ning"); /* the server's text made printable */
    CHECK_STR(l.error, "gone?");
    CHECK(log_ev("end", "{\"state\":\"stopped\",\"exit_code\":256}", &l) < 0);
    CHECK(log_ev("end", "{\"exit_code\":0}", &l) < 0);
    CHECK(log_ev("log", "{\"data\":\"a\"}", &l) < 0);
    CHECK(log_ev("stdout", "{\"data\":\"\"}", &l) < 0);
}

static int pull_ev(const char *type, const char *data, struct client_pull_event *out,
                   struct bl_error *e)
{
    struct client_sse_event ev = { "", type, data, strlen(data) };
    return client_pull_event(&ev, out, e);
}

TEST(pull_events)
{
    struct client_pull_event p;
    struct bl_error e = {0};
    REQUIRE(pull_ev("progress", "{\"layer\":2,\"n_layers\":3,\"digest\":\"sha256:ab\\u001b\","
                                "\"done\":5,\"total\":9}", &p, &e) == 0);
    CHECK(p.kind == CP_PROGRESS && p.layer == 2 && p.n_layers == 3 && p.done == 5 &&
          p.total == 9);
    CHECK(!strchr(p.digest, 0x1b)); /* the server's words are shown: printable only */
    REQUIRE(pull_ev("pulled", "{\"id\":\"sha256:x\"}", &p, &e) == 0);
    CHECK(p.kind == CP_PULLED);
    CHECK(pull_ev("error", "{\"error\":{\"message\":\"pull x: refused\",\"type\":"
                           "\"ImageError\",\"code\":422}}", &p, &e) < 0);
    CHECK(p.kind == CP_ERROR && e.code == BOXLITE_ERR_INVALID && strstr(e.msg, "refused"));
    CHECK(pull_ev("progress", "{\"layer\":4096,\"n_layers\":1,\"digest\":\"d\",\"done\":0,"
                              "\"total\":0}", &p, &e) < 0);
    CHECK(pull_ev("progress", "{\"layer\":0,\"n_layers\":1,\"digest\":\"d\",\"done\":-1,"
                              "\"total\":0}", &p, &e) < 0);
    CHECK(pull_ev("progress", "{\"layer\":0}", &p, &e) < 0);
    CHECK(pull_ev("other", "{}", &p, &e) < 0);
}

TEST(ws_server_frames)
{
    uint8_t f[80];
    unsigned op;
    const uint8_t *p;
    size_t len;
    struct bl_error e = {0};
    size_t h = ws_header(f, 2, 3);
    memcpy(f + h, "abc", 3);
    CHECK(client_ws_frame(f, h + 2, &op, &p, &len, &e) == 0); /* not whole yet */
    CHECK(client_ws_frame(f, h + 3, &op, &p, &len, &e) == (long)(h + 3) && op == 2 && len == 3 &&
          !memcmp(p, "abc", 3));
    /* a masked frame from a server: refused (RFC 6455 section 5.1) */
    uint8_t mask[4] = { 1, 2, 3, 4 };
    h = ws_header_masked(f, 2, 3, mask);
    CHECK(h == 6 && (f[1] & 0x80));
    CHECK(client_ws_frame(f, h + 3, &op, &p, &len, &e) == -1);
    /* a fragment, an unknown opcode, a huge length */
    h = ws_header(f, 1, 1);
    f[0] &= 0x7f;
    CHECK(client_ws_frame(f, h + 1, &op, &p, &len, &e) == -1);
    h = ws_header(f, 3, 0);
    CHECK(client_ws_frame(f, h, &op, &p, &len, &e) == -1);
    h = ws_header(f, 2, (uint64_t)CLIENT_WS_FRAME_MAX + 1);
    CHECK(client_ws_frame(f, h, &op, &p, &len, &e) == -1);
    /* the exit message */
    int code;
    const char *m = "{\"type\":\"exit\",\"exit_code\":7}";
    CHECK(client_tty_exit_message(m, strlen(m), &code) == 0 && code == 7);
    m = "{\"type\":\"resize\",\"cols\":1,\"rows\":1}";
    CHECK(client_tty_exit_message(m, strlen(m), &code) == -1);
    m = "{\"type\":\"exit\",\"exit_code\":300}";
    CHECK(client_tty_exit_message(m, strlen(m), &code) == -1);
}
