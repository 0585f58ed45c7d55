// SPDX-License-Identifier: Apache-2.0
/* The client of `boxlite serve` (BoxLite's REST API, docs/api.yaml) that `boxlite --url`
 * uses: one place for the HTTP calls (libcurl), the token (POST /v1/oauth/tokens, client
 * credentials), the decoding of what the server answers (JSON bodies, the error model,
 * Server-Sent Events of an execution's output) and the TTY WebSocket (RFC 6455, the frame
 * code of src/serve/ws.c from the client's side).
 * The server is untrusted input: every answer is bounded in size and parsed strictly; a
 * malformed one is an error naming what was wrong, never a crash or an unbounded buffer.
 * Pure decoding (decode.c) is apart from the code that talks (http.c, tty.c), so the fuzz
 * target reaches it without a server. */
#ifndef BL_CLIENT_H
#define BL_CLIENT_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on what the server may send (the server's own limits, with room). */
#define CLIENT_JSON_MAX (8u << 20)   /* a JSON answer: a page of 1000 boxes fits */
#define CLIENT_SSE_LINE_MAX (1u << 20) /* one SSE line: the server's events carry 32 KiB */
#define CLIENT_WS_FRAME_MAX (1u << 20)

/* ---- decoding (decode.c, pure) ------------------------------------------------------- */

/* base64 (RFC 4648 section 4), strict: padded, no whitespace, no stray bits. The decoded
 * bytes in out (at most 3 * n / 4); their number, or -1 when s is not base64. */
long client_base64_decode(const char *s, size_t n, uint8_t *out);

/* A JSON object from a body (n bytes, not NUL-terminated): NULL with err set when it is not
 * one, too large, or has a key twice. */
json_t *client_json_object(const char *body, size_t n, struct bl_error *err);

/* The document's ErrorResponse ({"error":{"message","type","code"}}) as err, with the HTTP
 * status mapped to a boxlite code (404 NOT_FOUND, 409 STATE (EXISTS for AlreadyExistsError), 400/413/422 INVALID, 401/403
 * AUTH, 501 UNSUPPORTED, else IO). A body that is not one still gives an error naming the status. */
int client_error_from(unsigned status, const char *body, size_t n, struct bl_error *err);

/* Server-Sent Events (WHATWG HTML, "server-sent events"): bytes in, events out. Only the
 * fields the server sends are kept (id, event, data); comments are skipped; a line over
 * CLIENT_SSE_LINE_MAX or an id over CLIENT_SSE_ID_MAX bytes is an error (a logs stream's ids
 * are the library's log positions, BOXLITE_LOG_POSITION_MAX with their NUL). */
#define CLIENT_SSE_ID_MAX 96
struct client_sse {
    char *line;
    size_t len, cap;
    char id[CLIENT_SSE_ID_MAX];
    char event[16];
    char *data;
    size_t dlen;
    bool have_data, bad;
    bool cr; /* the last byte was a CR: an LF next ends nothing more */
};
struct client_sse_event {
    const char *id;    /* "" when the event had none */
    const char *event; /* "message" when it had none */
    const char *data;
    size_t dlen;
};
/* Feeds n bytes; calls fn for each whole event (fn returning non-zero stops: its value is
 * returned). -1 with err on malformed input (and every later call), else 0. */
int client_sse_feed(struct client_sse *s, const char *p, size_t n,
                    int (*fn)(void *ud, const struct client_sse_event *ev), void *ud,
                    struct bl_error *err);
void client_sse_free(struct client_sse *s);

/* An execution's event as the server sends it (docs/api.yaml, ExecOutput): stdout/stderr
 * with base64 "data", or exit with "exit_code" (and "signal"). */
enum client_exec_kind { CX_STDOUT = 1, CX_STDERR, CX_EXIT };
struct client_exec_event {
    enum client_exec_kind kind;
    uint8_t *bytes;    /* stdout/stderr, decoded (the caller frees) */
    size_t len;
    int exit_code;     /* exit: 0-255 or 128+signal; -1 when the server could not wait */
    int signal;
    char error[256];   /* exit with -1: why ("exec x: No such file or directory"), printable */
};
int client_exec_event(const struct client_sse_event *ev, struct client_exec_event *out,
                      struct bl_error *err);

/* A box's log event (docs/api.yaml, GET .../logs): "log" with base64 "data", or "end" with
 * the box's state and how its main process ended. */
enum client_log_kind { CL_LOG = 1, CL_END };
struct client_log_event {
    enum client_log_kind kind;
    uint8_t *bytes;        /* log: decoded (the caller frees) */
    size_t len;
    char state[32];        /* end: the box's state, printable */
    int exit_code;         /* end: the main process's status, -1 when none */
    bool oom_killed, stopped_by_itself;
    char error[256];       /* end: why the log could not be read further, or "" */
};
int client_log_event(const struct client_sse_event *ev, struct client_log_event *out,
                     struct bl_error *err);

/* A pull's event (docs/api.yaml, POST .../images/pull as events): "progress" of one layer,
 * "pulled" (the ImageInfo: the pull is done) or "error" (the error model: err filled, -1
 * returned with out->kind CP_ERROR). */
enum client_pull_kind { CP_PROGRESS = 1, CP_PULLED, CP_ERROR };
struct client_pull_event {
    enum client_pull_kind kind;
    int layer, n_layers;   /* progress: 0-based, 0..4095; n_layers 0 when not known */
    char digest[80];       /* progress: printable */
    unsigned long long done, total;
};
int client_pull_event(const struct client_sse_event *ev, struct client_pull_event *out,
                      struct bl_error *err);

/* ---- talking (http.c) ----------------------------------------------------------------- */
struct bl_client;
struct client_opts {
    const char *url;       /* http[s]://host:port (a trailing "/" or "/v1" is taken off) */
    const char *client_id; /* NULL: no token (only GET /v1/config then works) */
    const char *secret;
    const char *prefix;    /* the tenant: the credentials' prefix */
    const char *ca_file;   /* a CA bundle for https (NULL: the system's) */
};
int client_new(const struct client_opts *o, struct bl_client **out, struct bl_error *err);
void client_free(struct bl_client *c);
const char *client_prefix(const struct bl_client *c);
/* For tty.c: the server's base URL, the CA file, and the token (a new one when fresh). */
const char *client_base(const struct bl_client *c);
const char *client_ca(const struct bl_client *c);
const char *client_token(struct bl_client *c, bool fresh, struct bl_error *err);
/* The scopes the last token was granted (space-separated), or NULL before one came or
 * when the server named none. */
const char *client_scopes(const struct bl_client *c);
/* GET /v1/config, which needs no token: 0 with *out the server's SandboxConfig, or a
 * negative code with err. */
int client_config(struct bl_client *c, json_t **out, struct bl_error *err);

/* POST .../images/pull of ref answered as events: fn gets each layer's progress (non-zero
 * stops); 0 once the image is pulled, or a negative code with err (the server's error
 * model when the pull failed). */
int client_pull(struct bl_client *c, const char *ref,
                int (*fn)(void *, const struct client_pull_event *), void *ud,
                struct bl_error *err);
/* METHOD /v1/{prefix}PATH with body (JSON, or NULL; taken, as jansson's _new functions
 * take theirs: released whatever the outcome), query already in path (escaped by
 * client_escape). The HTTP status (2xx) with *out the answer's JSON object (NULL when it
 * had no body), or a negative code with err from the error model. A 401 fetches a new token
 * once and tries again. */
int client_call(struct bl_client *c, const char *method, const char *path, json_t *body,
                json_t **out, struct bl_error *err);
/* Every page of a list: GET PATH (its query holds pageSize) then with each
 * next_page_token; the items of the answers' array KEY together, or NULL with err. */
json_t *client_list_all(struct bl_client *c, const char *path, const char *key,
                        struct bl_error *err);
/* A path segment or query value percent-encoded, malloc'd. */
char *client_escape(struct bl_client *c, const char *s);

/* GET /v1/{prefix}PATH as Server-Sent Events to fn until fn returns 1 (it had the
 * stream's last event) or <0 (an error, with err set); a connection lost midway is
 * reopened with Last-Event-ID (a few times), so nothing is lost or repeated. */
int client_sse_get(struct bl_client *c, const char *path,
                   int (*fn)(void *ud, const struct client_sse_event *ev), void *ud,
                   struct bl_error *err);

/* GET .../executions/ID/output as events to fn until the exit event (delivered to fn too)
 * or fn stops; a connection lost midway is reopened with Last-Event-ID (a few times), so
 * nothing is lost or repeated. */
int client_exec_output(struct bl_client *c, const char *box, const char *exec,
                       int (*fn)(void *ud, const struct client_exec_event *ev), void *ud,
                       struct bl_error *err);
/* POST /v1/{prefix}PATH with n raw bytes (application/octet-stream) and one more header
 * (or NULL): 0, or a negative code with err from the error model. */
int client_post_bytes(struct bl_client *c, const char *path, const void *p, size_t n,
                      const char *header, struct bl_error *err);
/* POST .../executions/ID/input: n bytes (may be 0), then stdin closed when close_. */
int client_exec_input(struct bl_client *c, const char *box, const char *exec, const void *p,
                      size_t n, bool close_, struct bl_error *err);

/* Files: PUT .../files?path= from a tar file's fd; GET .../files?path= into fd (at most
 * max bytes, 0: no bound). */
int client_files_put(struct bl_client *c, const char *box, const char *path, int fd,
                     struct bl_error *err);
int client_files_get(struct bl_client *c, const char *box, const char *path, int fd,
                     unsigned long long max, struct bl_error *err);

/* Box archives: POST .../export into fd; POST .../boxes/import?name= from an archive's fd,
 * *out the new Box. */
int client_box_export(struct bl_client *c, const char *box, int fd, struct bl_error *err);
int client_box_import(struct bl_client *c, int fd, const char *name, json_t **out,
                      struct bl_error *err);

/* ---- the TTY WebSocket (tty.c) -------------------------------------------------------- */
struct client_tty;
/* GET .../exec/tty?command=&args=&env=&working_dir=&cols=&rows= upgraded to a WebSocket
 * (the accept key checked). argv[0] is the command; env a JSON object of strings (or
 * NULL), cwd the working directory (or NULL). */
int client_tty_open(struct bl_client *c, const char *box, const char *const *argv,
                    json_t *env, const char *cwd, unsigned cols, unsigned rows,
                    struct client_tty **out, struct bl_error *err);
/* The socket to poll for reading (bytes may also wait in a TLS layer: call client_tty_read
 * until it says there are none). */
int client_tty_fd(struct client_tty *t);
/* Reads what has arrived: terminal bytes to out (fn), and the end: 1 when the session
 * ended (*exit_code set: the exit message's, or -1 when the server closed without one),
 * 0 when more may come, <0 on error. */
int client_tty_read(struct client_tty *t, void (*out)(void *ud, const uint8_t *p, size_t n),
                    void *ud, int *exit_code, struct bl_error *err);
int client_tty_send(struct client_tty *t, const void *p, size_t n, struct bl_error *err);
int client_tty_resize(struct client_tty *t, unsigned cols, unsigned rows,
                      struct bl_error *err);
/* Sends a close (1000) and frees. */
void client_tty_close(struct client_tty *t);

/* The pure part of reading the server's frames (tty.c): one frame at buf (n bytes): the
 * bytes used (0: not whole yet) with *op and the payload in *p, *len; -1 on a protocol
 * error (a masked frame, a bad length, over CLIENT_WS_FRAME_MAX) with err. */
long client_ws_frame(const uint8_t *buf, size_t n, unsigned *op, const uint8_t **p,
                     size_t *len, struct bl_error *err);
/* The exit message {"type":"exit","exit_code":N}: 0 with *code, -1 when text is not one. */
int client_tty_exit_message(const char *text, size_t n, int *code);

#endif
