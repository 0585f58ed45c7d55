// SPDX-License-Identifier: Apache-2.0
/* boxlite serve: BoxLite's REST API (docs/api.yaml, the shape of BoxLite's
 * openapi/rest-sandbox-open-api.yaml) over libmicrohttpd and the public library.
 * Pure decoding (routes, forms, request bodies, page tokens) lives apart from the code that
 * calls the library, so unit tests and fuzz targets reach it without a server. */
#ifndef BL_SERVE_H
#define BL_SERVE_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- routes (route.c) ------------------------------------------------------------- */
enum serve_route_id {
    R_NONE = 0,
    R_CONFIG,          /* /v1/config */
    R_TOKENS,          /* /v1/oauth/tokens */
    R_BOXES,           /* /v1/{prefix}/boxes */
    R_BOXES_IMPORT,    /* /v1/{prefix}/boxes/import */
    R_BOX,             /* /v1/{prefix}/boxes/{box} */
    R_BOX_START,
    R_BOX_STOP,
    R_BOX_EXEC,        /* .../exec */
    R_BOX_TTY,         /* .../exec/tty */
    R_BOX_FILES,
    R_BOX_METRICS,
    R_BOX_SNAPSHOTS,   /* .../snapshots */
    R_SNAPSHOT,        /* .../snapshots/{name} */
    R_SNAPSHOT_RESTORE,
    R_BOX_CLONE,
    R_BOX_EXPORT,
    R_EXECUTION,       /* .../executions/{exec} */
    R_EXEC_OUTPUT,
    R_EXEC_INPUT,
    R_EXEC_SIGNAL,
    R_EXEC_RESIZE,
    R_METRICS,         /* /v1/{prefix}/metrics */
    R_IMAGES,
    R_IMAGES_PULL,
    R_IMAGE,           /* /v1/{prefix}/images/{image} */
    /* beyond BoxLite's document (docs/api.yaml marks them x-boxlite-extension) */
    R_HOST,            /* /v1/{prefix}/host: the server's host check (remote doctor) */
    R_BOX_KILL,        /* .../kill, wait, rename, pause, resume, fork, reclaim, balloon */
    R_BOX_WAIT,
    R_BOX_RENAME,
    R_BOX_PAUSE,
    R_BOX_RESUME,
    R_BOX_FORK,
    R_BOX_RECLAIM,
    R_BOX_BALLOON,
    R_BOXES_PRUNE,     /* /v1/{prefix}/boxes/prune */
    R_IMAGES_PRUNE,    /* /v1/{prefix}/images/prune */
    R_BOX_LOGS,        /* .../logs (beyond BoxLite's document: logs.c) */
    R_BOX_STDIN,       /* .../stdin (the main process's, for attach) */
};

#define SERVE_SEG_MAX 128 /* the document's maxLength for prefix, box_id and names */

struct serve_route {
    enum serve_route_id id;
    char prefix[SERVE_SEG_MAX + 1];
    char box[SERVE_SEG_MAX + 1];
    char sub[SERVE_SEG_MAX + 1]; /* execution id, snapshot name or image id */
};

/* Splits an (already percent-decoded) request path. 0 with *r filled, or -1 when the path
 * is none of the API's (404). Segments are checked against the document's patterns. */
int serve_route_parse(const char *path, struct serve_route *r);
/* "GET", "POST", ... allowed on a route, as an Allow header lists them. */
const char *serve_route_methods(enum serve_route_id id);
/* The scope a request needs ("boxes:read"), or NULL when it needs no token. */
const char *serve_route_scope(enum serve_route_id id, const char *method);
/* The document's prefix pattern, ^[a-zA-Z0-9][a-zA-Z0-9._-]*$, 1-128 characters. */
bool serve_valid_prefix(const char *s);

/* ---- application/x-www-form-urlencoded (form.c) ----------------------------------- */
/* Decodes body (len bytes, not NUL-terminated) into a JSON object of strings. A key given
 * twice, a bad %XX, a NUL byte or more than 32 fields is an error. */
int serve_form_parse(const char *body, size_t len, json_t **out, struct bl_error *err);

/* ---- request bodies and responses (boxreq.c) ---------------------------------------- */
/* The library label that records a box's tenant; the box's library name is
 * "<prefix>.<name>" (a served prefix has no dot, so the split is unambiguous). */
#define SERVE_LABEL_PREFIX "boxlite.serve.prefix"

struct serve_limits {
    int max_cpus;
    int max_memory_mib;
    int max_disk_size_gb;
    const char *rootfs_dir; /* rootfs_path is a name beneath it; NULL = refused */
};

/* A CreateBoxRequest (JSON text) as the library's options JSON for tenant prefix. Unknown
 * fields, wrong types, values out of range and host paths (volumes, an image naming a
 * host path) are BOXLITE_ERR_INVALID naming the field. *out is the caller's. */
int serve_create_options(const char *body, size_t len, const char *prefix,
                         const struct serve_limits *lim, json_t **out, struct bl_error *err);

/* An ExecRequest decoded. argv and env are NULL-terminated; free with serve_exec_req_free. */
struct serve_exec_req {
    char **argv;
    char **env;         /* "K=V" */
    char *working_dir;
    char *user;         /* "uid[:gid]" or a name; NULL = the box's */
    bool tty;
    long long timeout_ms; /* 0 = none */
    unsigned rows, cols;
};
int serve_exec_parse(const char *body, size_t len, struct serve_exec_req *out,
                     struct bl_error *err);
void serve_exec_req_free(struct serve_exec_req *r);
/* SignalRequest: 1-64. ResizeRequest: 1-65535 each. StopBoxRequest: may be empty;
 * timeout_seconds 0-3600, default 30. */
int serve_signal_parse(const char *body, size_t len, int *sig, struct bl_error *err);
int serve_resize_parse(const char *body, size_t len, unsigned *cols, unsigned *rows,
                       struct bl_error *err);
int serve_stop_parse(const char *body, size_t len, int *timeout_ms, struct bl_error *err);
/* PauseBoxRequest: may be empty; timeout_seconds 0-3600, absent or 0 the library's own. */
int serve_pause_parse(const char *body, size_t len, int *timeout_ms, struct bl_error *err);
/* A body holding {"name": "..."} (CreateSnapshotRequest, CloneBoxRequest); name required or
 * not; *name NULL when absent, else the caller's. */
int serve_name_parse(const char *body, size_t len, bool required, char **name,
                     struct bl_error *err);

/* BalloonRequest {"target_mib": 0 | 32..}: *mib. */
int serve_balloon_parse(const char *body, size_t len, int *mib, struct bl_error *err);
/* ForkBoxRequest {"names": [...]} (an empty body: one fork, its name generated): *names a
 * JSON array of 1..SERVE_FORK_MAX valid names, or [null] for the generated one; the
 * caller's. */
#define SERVE_FORK_MAX 16
int serve_fork_parse(const char *body, size_t len, json_t **names, struct bl_error *err);

/* The document's BoxStatus for a library state ("starting" reads "running": the VM is being
 * initialised), and the library state a status filter means (NULL: not a BoxStatus). */
const char *serve_box_status(const char *state);
const char *serve_status_filter(const char *status);
/* A library box info (boxlite_box_info / one of boxlite_box_list) as the document's Box,
 * with the tenant's prefix taken off the name; NULL when the box is not prefix's. */
json_t *serve_box_json(json_t *info, const char *prefix);
/* Seconds since the epoch as RFC 3339 UTC ("2026-12-04T21:57:19Z"). */
void serve_rfc3339(long long secs, char out[32]);

/* Opaque page tokens: base64url of "<created>:<id>", the last box of a page. */
char *serve_page_token(long long created, const char *id);
int serve_page_token_parse(const char *tok, long long *created, char id[65]);

/* A path in a box (files' ?path=) checked and normalised into out: absolute, at most
 * SERVE_PATH_MAX bytes, no control characters, no ".." component; "//" and "/./" folded,
 * a trailing slash dropped ("/" stays "/"). BOXLITE_ERR_INVALID naming what is wrong. */
#define SERVE_PATH_MAX 4096
int serve_guest_path(const char *in, char *out, size_t cap, struct bl_error *err);
/* A boolean query argument: "true"/"1", "false"/"0", absent = dflt; -1 for anything else. */
int serve_bool_arg(const char *v, bool dflt, bool *out);

/* The library's boxlite_box_metrics JSON as the document's BoxMetrics (what it has no figure
 * for is null), with the library's own under "boxlite". */
json_t *serve_box_metrics(json_t *lib);
/* One entry of boxlite_image_list as the document's ImageInfo; NULL when malformed. */
json_t *serve_image_json(json_t *lib);
/* A PullImageRequest: {"reference"}: 1-512 printable characters, a registry reference (a
 * host path or "oci:" layout is refused). *ref is the caller's. */
int serve_pull_parse(const char *body, size_t len, char **ref, struct bl_error *err);

/* base64 (RFC 4648 section 4, padded) of n bytes, malloc'd. */
char *serve_base64(const void *p, size_t n);

/* ---- credentials and tokens (auth.c) ---------------------------------------------- */
struct serve_client {
    char *id;
    char *prefix;
    char *scopes;      /* space-separated */
    uint8_t salt[16];
    uint8_t hash[32];  /* SHA-256(salt || secret) */
};
struct serve_creds {
    struct serve_client *v;
    size_t n;
};
/* The file: one client per line, "client_id prefix scopes(comma list) salt_hex hash_hex";
 * '#' comments. A malformed line is an error naming its number. */
int serve_creds_load(const char *path, struct serve_creds *c, struct bl_error *err);
void serve_creds_free(struct serve_creds *c);
/* Adds client id (refused when present) with a generated secret, rewriting the file
 * atomically (mode 0600); *secret is the caller's and is shown once. */
int serve_creds_add(const char *path, const char *id, const char *prefix, const char *scopes,
                    char **secret, struct bl_error *err);
int serve_creds_remove(const char *path, const char *id, struct bl_error *err);
/* The client whose id and secret match (compared in constant time), or NULL. */
const struct serve_client *serve_creds_check(const struct serve_creds *c, const char *id,
                                             const char *secret);
/* A scope list checked against the known ones, as "a b c"; NULL when one is unknown. */
char *serve_scopes_normalise(const char *list);
/* Whether a space-separated scope list holds scope. */
bool serve_scopes_have(const char *scopes, const char *scope);

struct serve_tokens;
struct serve_token_info {
    char client[129];
    char prefix[SERVE_SEG_MAX + 1];
    char scopes[256];
};
/* rate: requests per second each token may make (a bucket of as many), 0 = no limit. */
struct serve_tokens *serve_tokens_new(unsigned rate);
void serve_tokens_free(struct serve_tokens *t);
/* Issues a token for client with scopes; ttl_s 0 makes it expire at once (tests). */
char *serve_token_issue(struct serve_tokens *t, const struct serve_client *cl,
                        const char *scopes, unsigned ttl_s);
/* 0 with *out when tok is a live token; -1 for an unknown, -2 for an expired one, -3 for
 * one over its rate (the request is not counted). */
int serve_token_check(struct serve_tokens *t, const char *tok, struct serve_token_info *out);

/* ---- idempotency keys (idem.c) ------------------------------------------------------ */
#define SERVE_IDEM_KEY_MAX 128          /* printable ASCII; a UUID is 36 */
#define SERVE_IDEM_BODY_MAX (16 * 1024) /* a kept answer; a larger one releases its key */
#define SERVE_IDEM_PER_TENANT 256     /* keys one tenant may hold */
struct serve_idem;
struct serve_idem_answer {
    unsigned status;
    char *body;     /* the caller's (serve_idem_answer_free) */
    char *location;
};
enum serve_idem_result {
    IDEM_NEW,      /* reserved: carry the request out, then finish (or abort) */
    IDEM_REPLAY,   /* the same request was answered: *out is that answer */
    IDEM_MISMATCH, /* the key was used for another request (422) */
    IDEM_BUSY,     /* the first request with the key is still being carried out (409) */
    IDEM_FULL,     /* the tenant's keys are all in flight (or no memory) (503) */
    IDEM_INVALID,  /* not a key (400) */
};
/* max keys in all, per_tenant for one prefix, kept ttl_s seconds after first use. */
struct serve_idem *serve_idem_new(size_t max, size_t per_tenant, unsigned ttl_s);
void serve_idem_free(struct serve_idem *m);
bool serve_idem_key_ok(const char *key);
/* fp: SHA-256 of the request (method, path, query, body); now: seconds. */
enum serve_idem_result serve_idem_begin(struct serve_idem *m, const char *prefix,
                                        const char *key, const uint8_t fp[32], long long now,
                                        struct serve_idem_answer *out);
/* The answer to keep for a reserved key (body, location may be NULL). */
void serve_idem_finish(struct serve_idem *m, const char *prefix, const char *key,
                       unsigned status, const char *body, const char *location);
/* Forgets a reserved key (the request failed on the server's side: a retry may run it). */
void serve_idem_abort(struct serve_idem *m, const char *prefix, const char *key);
void serve_idem_answer_free(struct serve_idem_answer *a);

/* ---- WebSocket, RFC 6455 (ws.c) ----------------------------------------------------- */
#define WS_FRAME_MAX (1u << 20) /* a client frame's payload */
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (base64 of 16 bytes); -1 for a bad key. */
int ws_accept_key(const char *key, char out[29]);
/* A server frame's header (FIN set, unmasked) for opcode and len: its length, 2-10. */
size_t ws_header(uint8_t out[10], unsigned opcode, uint64_t len);
/* A client frame's header (FIN set, masked with mask; section 5.3): its length, 6-14. The
 * caller masks the payload (byte i ^= mask[i % 4]). */
size_t ws_header_masked(uint8_t out[14], unsigned opcode, uint64_t len, const uint8_t mask[4]);
bool ws_utf8_valid(const uint8_t *s, size_t n);
/* One frame's header as read (section 5.2), by either side (src/client reads the server's). */
struct ws_frame {
    bool fin, masked;
    unsigned op;
    uint64_t len;    /* the payload's */
    size_t head;     /* bytes before the payload (mask included) */
    uint8_t mask[4];
    int code;        /* on error: 1002, or 1009 for a frame over max */
    const char *why;
};
int ws_frame_head(const uint8_t *buf, size_t n, bool from_client, uint64_t max,
                  struct ws_frame *f);
/* The client's side of a TTY session: the message in progress and a text message's bytes. */
struct ws_in {
    unsigned msg; /* 1 text, 2 binary while a fragmented message goes on; 0 between */
    char text[4096];
    size_t text_len;
};
enum ws_event_kind {
    WS_NEED_MORE, /* nothing to act on (more bytes needed, or a fragment was taken) */
    WS_STDIN,     /* data, len: binary message bytes, for the terminal */
    WS_RESIZE,    /* cols, rows */
    WS_PING,      /* data, len: answer with a pong carrying them */
    WS_PONG,
    WS_CLOSE,     /* code (1005: none given) */
    WS_ERROR,     /* code (1002, 1007, 1008, 1009) and why: close the connection with them */
};
struct ws_ev {
    enum ws_event_kind kind;
    const uint8_t *data;
    size_t len;
    unsigned cols, rows;
    int code;
    const char *why;
};
/* Reads at most one frame from buf (n bytes), unmasking it in place: the bytes it used
 * (0 when the frame is not whole yet, or on WS_ERROR), *ev what it means. */
size_t ws_in_step(struct ws_in *s, uint8_t *buf, size_t n, struct ws_ev *ev);

#endif
