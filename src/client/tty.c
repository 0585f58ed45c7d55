// SPDX-License-Identifier: Apache-2.0
/* The client's side of the TTY WebSocket (GET .../exec/tty, docs/api.yaml): the opening
 * handshake (RFC 6455 section 4.1: a random key, the server's Sec-WebSocket-Accept checked,
 * section 4.2.2), then frames read with src/serve/ws.c's header reader from the client's
 * side (a server's frames are never masked, section 5.1) and written masked (section 5.3).
 * libcurl opens the connection (CURLOPT_CONNECT_ONLY), so https works as the other calls
 * do; the bytes then go through curl_easy_send/recv. Binary messages are the terminal's
 * bytes, the text message {"type":"exit","exit_code":N} its end, then a close. */
#include "client/client.h"
#include "serve/serve.h"

#include "common/lazy_curl.h"
#include <errno.h>
#include "common/lazy_crypto.h"
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define TTY_HEAD_MAX 16384

struct client_tty {
    CURL *easy;
    curl_socket_t fd;
    uint8_t *in;
    size_t in_len;
    int exit_code;
    bool have_exit, closed;
};

long client_ws_frame(const uint8_t *buf, size_t n, unsigned *op, const uint8_t **p,
                     size_t *len, struct bl_error *err)
{
    struct ws_frame f;
    int r = ws_frame_head(buf, n, false, CLIENT_WS_FRAME_MAX, &f);
    if (r < 0)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "websocket: %s", f.why), -1;
    if (r == 0 || n - f.head < f.len)
        return 0;
    /* the server never fragments (src/serve/ws.c ws_header): a message is one frame */
    if (!f.fin || f.op == 0)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "websocket: a fragmented message"), -1;
    if (f.op != 1 && f.op != 2 && f.op != 8 && f.op != 9 && f.op != 10)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "websocket: unknown opcode %u", f.op), -1;
    *op = f.op;
    *p = buf + f.head;
    *len = (size_t)f.len;
    return (long)(f.head + f.len);
}

int client_tty_exit_message(const char *text, size_t n, int *code)
{
    if (!ws_utf8_valid((const uint8_t *)text, n))
        return -1;
    json_t *o = client_json_object(text, n, NULL);
    const char *type = json_string_value(json_object_get(o, "type"));
    json_t *c = json_object_get(o, "exit_code");
    int r = -1;
    if (type && !strcmp(type, "exit") && json_is_integer(c) && json_integer_value(c) >= -1 &&
        json_integer_value(c) <= 255) {
        *code = (int)json_integer_value(c);
        r = 0;
    }
    json_decref(o);
    return r;
}

static int wait_fd(struct client_tty *t, short ev)
{
    struct pollfd p = { t->fd, ev, 0 };
    int r;
    do
        r = poll(&p, 1, 30000);
    while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : -1;
}

static int send_all(struct client_tty *t, const void *p, size_t n, struct bl_error *err)
{
    const char *b = p;
    while (n) {
        size_t sent = 0;
        CURLcode rc = curl_easy_send(t->easy, b, n, &sent);
        if (rc == CURLE_AGAIN) {
            if (wait_fd(t, POLLOUT) < 0)
                return bl_err(err, BOXLITE_ERR_NETWORK, "websocket: the server does not read");
            continue;
        }
        if (rc != CURLE_OK)
            return bl_err(err, BOXLITE_ERR_NETWORK, "websocket: send: %s",
                          curl_easy_strerror(rc));
        b += sent;
        n -= sent;
    }
    return 0;
}

static int send_frame(struct client_tty *t, unsigned op, const void *p, size_t n,
                      struct bl_error *err)
{
    uint8_t mask[4], h[14];
    if (RAND_bytes(mask, 4) != 1)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "websocket: no random bytes for a mask");
    size_t hl = ws_header_masked(h, op, n, mask);
    uint8_t *f = malloc(hl + n + 1);
    if (!f)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    memcpy(f, h, hl);
    for (size_t i = 0; i < n; i++)
        f[hl + i] = ((const uint8_t *)p)[i] ^ mask[i & 3];
    int r = send_all(t, f, hl + n, err);
    free(f);
    return r;
}

/* Reads what is there into t->in (at most cap bytes held): >0 bytes, 0 none now, -1 the
 * connection ended or failed. */
static long recv_some(struct client_tty *t, size_t cap, struct bl_error *err)
{
    if (t->in_len >= cap)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "websocket: more than %zu bytes unanswered",
                      cap), -1;
    size_t got = 0;
    CURLcode rc = curl_easy_recv(t->easy, t->in + t->in_len, cap - t->in_len, &got);
    if (rc == CURLE_AGAIN)
        return 0;
    if (rc != CURLE_OK)
        return bl_err(err, BOXLITE_ERR_NETWORK, "websocket: recv: %s",
                      curl_easy_strerror(rc)), -1;
    if (got == 0)
        return -1;
    t->in_len += got;
    return (long)got;
}

/* The handshake's answer: 101 with the right accept key, else the error model's body. */
static int read_answer(struct client_tty *t, const char *key, struct bl_error *err, long *status)
{
    char *end = NULL;
    *status = 0;
    while (!(end = memmem(t->in, t->in_len, "\r\n\r\n", 4))) {
        long r = recv_some(t, TTY_HEAD_MAX, err);
        if (r < 0)
            return bl_err(err, BOXLITE_ERR_NETWORK, "websocket: no answer to the upgrade");
        if (r == 0 && wait_fd(t, POLLIN) < 0)
            return bl_err(err, BOXLITE_ERR_TIMEOUT, "websocket: no answer to the upgrade");
    }
    size_t hl = (size_t)(end - (char *)t->in) + 4;
    char *head = strndup((char *)t->in, hl);
    if (!head)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    memmove(t->in, t->in + hl, t->in_len - hl);
    t->in_len -= hl;
    int code = 0, r = 0;
    if (sscanf(head, "HTTP/1.1 %3d ", &code) != 1 || code < 100 || code > 599) {
        free(head);
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "websocket: not an HTTP/1.1 answer");
    }
    *status = code;
    /* header names are case-insensitive (RFC 9110 section 5.1) */
    char *accept = NULL;
    long clen = -1;
    for (char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        char *line = l + 2;
        if (!strncasecmp(line, "Sec-WebSocket-Accept:", 21))
            accept = line + 21;
        else if (!strncasecmp(line, "Content-Length:", 15))
            clen = strtol(line + 15, NULL, 10);
    }
    if (code != 101) {
        /* the error model's body, bounded */
        size_t want = clen > 0 && clen < TTY_HEAD_MAX ? (size_t)clen : 0;
        while (t->in_len < want) {
            long g = recv_some(t, TTY_HEAD_MAX, err);
            if (g < 0 || (g == 0 && wait_fd(t, POLLIN) < 0))
                break;
        }
        r = client_error_from((unsigned)code, (char *)t->in, t->in_len < want ? t->in_len : want,
                              err);
    } else {
        char want[29];
        while (accept && (*accept == ' ' || *accept == '\t'))
            accept++;
        if (ws_accept_key(key, want) < 0 || !accept || strncmp(accept, want, 28) ||
            (accept[28] != '\r' && accept[28] != ' '))
            r = bl_err(err, BOXLITE_ERR_PROTOCOL, "websocket: a wrong Sec-WebSocket-Accept");
    }
    free(head);
    return r;
}

static int tty_connect(struct bl_client *c, const char *target, bool fresh,
                       struct client_tty *t, long *status, struct bl_error *err)
{
    const char *tok = client_token(c, fresh, err);
    if (!tok)
        return -BOXLITE_ERR_AUTH;
    const char *base = client_base(c);
    const char *host = strstr(base, "//") + 2;
    char *url = NULL;
    if (asprintf(&url, "%s%s", base, target) < 0)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    t->easy = curl_easy_init();
    if (!t->easy) {
        free(url);
        return lazylib_null_err(&lazy_curl_lib, err);
    }
    curl_easy_setopt(t->easy, CURLOPT_URL, url);
    curl_easy_setopt(t->easy, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (client_ca(c))
        curl_easy_setopt(t->easy, CURLOPT_CAINFO, client_ca(c));
    CURLcode rc = curl_easy_perform(t->easy);
    free(url);
    if (rc != CURLE_OK)
        return bl_err(err, BOXLITE_ERR_NETWORK, "websocket: connect: %s",
                      curl_easy_strerror(rc));
    curl_easy_getinfo(t->easy, CURLINFO_ACTIVESOCKET, &t->fd);
    uint8_t raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "websocket: no random bytes for a key");
    char *key = serve_base64(raw, sizeof raw);
    char *req = NULL;
    int n = key ? asprintf(&req,
                           "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
                           target, host, key, tok) : -1;
    int r = n < 0 ? bl_err(err, BOXLITE_ERR_NOMEM, "out of memory")
                  : send_all(t, req, (size_t)n, err);
    if (req)
        explicit_bzero(req, (size_t)n);
    free(req);
    if (r >= 0)
        r = read_answer(t, key, err, status);
    free(key);
    return r;
}

/* "&key=value" (value escaped) appended to *target; -1 when out of memory. */
static int query_append(struct bl_client *c, char **target, const char *key, const char *value)
{
    char *v = client_escape(c, value);
    char *nt = v ? realloc(*target, strlen(*target) + strlen(key) + strlen(v) + 3) : NULL;
    if (nt) {
        *target = nt;
        strcat(strcat(strcat(strcat(nt, "&"), key), "="), v);
    }
    free(v);
    return nt ? 0 : -1;
}

int client_tty_open(struct bl_client *c, const char *box, const char *const *argv,
                    json_t *env, const char *cwd, unsigned cols, unsigned rows,
                    struct client_tty **out, struct bl_error *err)
{
    *out = NULL;
    if (!argv || !argv[0])
        return bl_err(err, BOXLITE_ERR_INVALID, "tty: no command");
    /* the path and query: /v1/{prefix}/boxes/{box}/exec/tty?command=..&args=..&env=K=V..
     * &working_dir=..&cols=&rows= */
    char *b = client_escape(c, box), *cmd = client_escape(c, argv[0]);
    size_t cap = 256 + (b ? strlen(b) : 0) + (cmd ? strlen(cmd) : 0) +
                 strlen(client_prefix(c));
    char *target = b && cmd ? malloc(cap) : NULL;
    int r = 0;
    if (!target)
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    else
        snprintf(target, cap, "/v1/%s/boxes/%s/exec/tty?command=%s", client_prefix(c), b, cmd);
    for (size_t i = 1; r >= 0 && argv[i]; i++)
        if (query_append(c, &target, "args", argv[i]) < 0)
            r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v) {
        char *kv = NULL;
        if (r >= 0 && (asprintf(&kv, "%s=%s", k, json_string_value(v) ?: "") < 0 ||
                       query_append(c, &target, "env", kv) < 0))
            r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        free(kv);
    }
    if (r >= 0 && cwd && query_append(c, &target, "working_dir", cwd) < 0)
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    if (r >= 0) {
        char *nt = realloc(target, strlen(target) + 40);
        if (nt) {
            target = nt;
            sprintf(target + strlen(target), "&cols=%u&rows=%u", cols, rows);
        } else
            r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    free(b);
    free(cmd);
    struct client_tty *t = calloc(1, sizeof *t);
    if (r >= 0 && (!t || !(t->in = malloc(CLIENT_WS_FRAME_MAX + 16))))
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    long status = 0;
    if (r >= 0)
        r = tty_connect(c, target, false, t, &status, err);
    if (r < 0 && status == 401) { /* an expired token: a new one, once */
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
        t->in_len = 0;
        r = tty_connect(c, target, true, t, &status, err);
    }
    free(target);
    if (r < 0) {
        if (t) {
            if (t->easy)
                curl_easy_cleanup(t->easy);
            free(t->in);
            free(t);
        }
        return bl_err_prefix(err, "tty in %.64s", box);
    }
    *out = t;
    return 0;
}

int client_tty_fd(struct client_tty *t) { return (int)t->fd; }

int client_tty_read(struct client_tty *t, void (*out)(void *, const uint8_t *, size_t),
                    void *ud, int *exit_code, struct bl_error *err)
{
    for (;;) {
        /* the frames already here first (the handshake may have brought some) */
        size_t off = 0;
        for (;;) {
            unsigned op;
            const uint8_t *p;
            size_t len;
            long used = client_ws_frame(t->in + off, t->in_len - off, &op, &p, &len, err);
            if (used < 0)
                return -BOXLITE_ERR_PROTOCOL;
            if (used == 0)
                break;
            off += (size_t)used;
            if (op == 2 && len)
                out(ud, p, len);
            else if (op == 1) {
                int code;
                if (client_tty_exit_message((const char *)p, len, &code) < 0)
                    return bl_err(err, BOXLITE_ERR_PROTOCOL,
                                  "websocket: a text message that is not the exit message");
                t->exit_code = code;
                t->have_exit = true;
            } else if (op == 9) {
                uint8_t copy[125];
                memcpy(copy, p, len);
                if (send_frame(t, 10, copy, len, err) < 0)
                    return -BOXLITE_ERR_NETWORK;
            } else if (op == 8) {
                t->closed = true;
                *exit_code = t->have_exit ? t->exit_code : -1;
                return 1;
            }
        }
        memmove(t->in, t->in + off, t->in_len - off);
        t->in_len -= off;
        long g = recv_some(t, CLIENT_WS_FRAME_MAX + 16, err);
        if (g == 0)
            return 0;
        if (g < 0) {
            if (t->have_exit) { /* the exit came; the close did not: enough */
                *exit_code = t->exit_code;
                return 1;
            }
            return bl_err(err, BOXLITE_ERR_NETWORK, "websocket: the connection ended without "
                          "the exit message");
        }
    }
}

int client_tty_send(struct client_tty *t, const void *p, size_t n, struct bl_error *err)
{
    /* at most a frame the server takes (WS_FRAME_MAX) at a time */
    const uint8_t *b = p;
    while (n) {
        size_t k = n > 65536 ? 65536 : n;
        int r = send_frame(t, 2, b, k, err);
        if (r < 0)
            return r;
        b += k;
        n -= k;
    }
    return 0;
}

int client_tty_resize(struct client_tty *t, unsigned cols, unsigned rows, struct bl_error *err)
{
    char m[80];
    int n = snprintf(m, sizeof m, "{\"type\":\"resize\",\"cols\":%u,\"rows\":%u}", cols, rows);
    return send_frame(t, 1, m, (size_t)n, err);
}

void client_tty_close(struct client_tty *t)
{
    if (!t)
        return;
    if (!t->closed) {
        uint8_t code[2] = { 1000 >> 8, 1000 & 0xff };
        send_frame(t, 8, code, 2, NULL);
    }
    curl_easy_cleanup(t->easy);
    free(t->in);
    free(t);
}
