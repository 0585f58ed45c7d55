// SPDX-License-Identifier: Apache-2.0
/* The running server: its configuration, the request context every handler gets, the
 * response helpers (http.c) and the handlers (config.c, boxes.c, exec.c). Linked into the
 * boxlite CLI (cli/cmd_serve.c), never into the library. */
#ifndef BL_SERVE_SERVER_H
#define BL_SERVE_SERVER_H

#include "serve/serve.h"

#include "boxlite.h"

#include "common/lazy_mhd.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

struct serve_config {
    const char *listen;      /* "ADDR:PORT", "[v6]:PORT"; port 0 = any free one */
    const char *home;        /* the runtime's home; NULL = the library's default */
    const char *runtime_options; /* JSON for boxlite_runtime_open_with, or NULL */
    const char *credentials; /* the credentials file */
    const char *tls_cert, *tls_key;
    bool insecure;           /* a non-loopback address without TLS */
    bool registry_credentials; /* tenants' pulls may use this host's registry credentials
                                  (Docker's config, registries.json); else anonymous */
    unsigned token_ttl_s;    /* default 3600; 0 = tokens expire at once (tests) */
    size_t max_body;         /* JSON bodies, default 1 MiB */
    size_t max_input;        /* one stdin write, default 8 MiB */
    size_t max_output;       /* output an execution keeps for readers, default 16 MiB */
    int max_boxes;           /* per prefix, default 50 */
    int max_execs;           /* running executions per box, default 10 */
    unsigned rate;           /* requests per second per token, 0 = no limit (default 50) */
    unsigned long long max_file; /* a files upload or download, bytes (default 256 MiB) */
    unsigned idem_ttl_s;     /* how long an Idempotency-Key is kept (default 86400) */
    struct serve_limits lim;
    FILE *log;               /* request log (stderr) */
};

struct serve_execs;
struct serve_pulls;
struct serve_ttys;
struct server {
    struct serve_config cfg;
    boxlite_runtime *rt;
    struct serve_creds creds;
    struct serve_tokens *tokens;
    struct serve_execs *execs;
    struct serve_pulls *pulls; /* images.c: which images each tenant pulled */
    struct serve_idem *idem;   /* idempotency keys (idem.c) */
    struct serve_ttys *ttys;   /* TTY WebSocket sessions (tty.c) */
    struct MHD_Daemon *d;
    atomic_bool stopping;
    pthread_mutex_t log_lock;
    pthread_mutex_t create_lock; /* counting a tenant's boxes and creating one is one step */
    unsigned port;
};

/* One request. */
struct req {
    struct server *s;
    const char *method;
    char path[512];
    struct serve_route route;
    uint64_t start_us;
    int status;
    struct serve_token_info tok; /* the caller, once authenticated */
    bool authed;
    char *body;
    size_t len, limit;
    bool too_big;
    int upload_fd;     /* > 0: the body goes to this file (files PUT), not to body */
    char scratch[256]; /* files.c's private directory, removed when the request ends */
    /* an Idempotency-Key reserved for this request: its answer is kept when it is sent */
    char idem_key[SERVE_IDEM_KEY_MAX + 1];
    char *idem_body;   /* the JSON body being sent, kept for the key */
    void *tty;         /* tty.c's session, until the request completes */
};

/* ---- http.c ---------------------------------------------------------------------- */
int serve_start(struct server *s, struct bl_error *err);
void serve_stop(struct server *s);

/* Before a box of tenant q->tok.prefix is made from image ref: the tenant's own pull of it
 * (done now if this server has not done it for the tenant). *granted false: the error
 * reply was sent (422 ImageError as the pull endpoint gives). */
enum MHD_Result serve_image_grant(struct MHD_Connection *c, struct req *q, const char *ref,
                                  bool *granted);
enum MHD_Result reply_json(struct MHD_Connection *c, struct req *q, unsigned status,
                           json_t *body /* stolen */);
enum MHD_Result reply_empty(struct MHD_Connection *c, struct req *q, unsigned status);
/* Why a tenant's pull failed, in the error model's terms. */
struct pull_failure {
    const char *type;
    char msg[1024];
};
/* Pulls ref for tenant prefix (progress as boxlite_image_pull's, may be NULL) and records it
 * as the tenant's: 0 with *info (ImageInfo), else the HTTP status with f filled. */
int serve_tenant_pull(struct server *s, const char *prefix, const char *ref,
                      boxlite_pull_progress_fn progress, void *ud, json_t **info,
                      struct pull_failure *f);
/* POST .../images/pull answered as events (pull_events.c); takes ref (malloc'd). */
enum MHD_Result serve_pull_events(struct MHD_Connection *c, struct req *q, char *ref);
/* 200 with a text/event-stream that read produces (cls freed by done, also on failure). */
enum MHD_Result reply_events(struct MHD_Connection *c, struct req *q,
                             MHD_ContentReaderCallback read, void *cls,
                             MHD_ContentReaderFreeCallback done);
/* The request's Last-Event-ID (a stream's reconnect, SSE): 1 with *id set, 0 when there is
 * none, -1 when it is no event id (not decimal, or too large for a next one). */
int serve_last_event_id(struct MHD_Connection *c, uint64_t *id);
/* A quiet event stream sends a comment this often (sse.c): a client that went away is
 * noticed (the write fails), and proxies keep the connection. */
#define SSE_KEEPALIVE_MS 15000
/* That comment into out: its length, or 0 when max is too small for it. */
size_t sse_keepalive(char *out, size_t max);
/* The one event a polling SSE reader is sending (sse.c): its text, how much of it went, and
 * when the stream last carried anything. */
struct sse_out {
    char *ev;
    size_t len, off;
    uint64_t quiet_since;
};
void sse_out_init(struct sse_out *o);
/* The next event: "id: ID" (none when NULL), "event: NAME", data as compact JSON (stolen;
 * NULL fails). 0, or -1 out of memory with nothing pending. */
int sse_out_event(struct sse_out *o, const char *id, const char *name, json_t *data);
/* The pending event's next bytes into out: how many (0 once it is all sent). */
size_t sse_out_copy(struct sse_out *o, char *out, size_t max);
/* A keepalive comment into out when the stream was quiet long enough: its length, else 0. */
size_t sse_out_keepalive(struct sse_out *o, char *out, size_t max);
void sse_out_free(struct sse_out *o);
/* reply_json with a Location header (a created resource). */
enum MHD_Result reply_json_at(struct MHD_Connection *c, struct req *q, unsigned status,
                              json_t *body /* stolen */, const char *location);
enum MHD_Result reply_error(struct MHD_Connection *c, struct req *q, unsigned status,
                            const char *type, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The document's error model, {"error": {message, type, code}}, as reply_error answers and
 * an event stream's error event carries it; a message that is not UTF-8 is replaced. */
json_t *serve_error_model(unsigned status, const char *type, const char *msg);
/* The library's last error (boxlite_errcode/boxlite_errmsg) in the document's model. */
enum MHD_Result reply_lib_error(struct MHD_Connection *c, struct req *q, const char *what);
enum MHD_Result reply_response(struct MHD_Connection *c, struct req *q, unsigned status,
                               struct MHD_Response *r);
/* A query argument or NULL. */
const char *req_arg(struct MHD_Connection *c, const char *name);

/* ---- handlers ---------------------------------------------------------------------- */
enum MHD_Result h_config(struct MHD_Connection *c, struct req *q);
enum MHD_Result h_host(struct MHD_Connection *c, struct req *q);
enum MHD_Result h_token(struct MHD_Connection *c, struct req *q);
enum MHD_Result h_boxes(struct MHD_Connection *c, struct req *q);
enum MHD_Result h_box(struct MHD_Connection *c, struct req *q);
enum MHD_Result h_box_snapshots(struct MHD_Connection *c, struct req *q);
enum MHD_Result h_exec(struct MHD_Connection *c, struct req *q);
enum MHD_Result h_files(struct MHD_Connection *c, struct req *q);
enum MHD_Result h_images(struct MHD_Connection *c, struct req *q);
enum MHD_Result h_metrics(struct MHD_Connection *c, struct req *q);
enum MHD_Result h_tty(struct MHD_Connection *c, struct req *q);
/* logs.c: GET .../logs (the console as SSE) and POST .../stdin (the main process's). */
enum MHD_Result h_logs(struct MHD_Connection *c, struct req *q);
struct serve_ttys *serve_ttys_new(void);
/* Ends every TTY session (SIGTERM to its process, SIGKILL 10 s later) and waits for them. */
void serve_ttys_shutdown(struct serve_ttys *t);
void serve_ttys_free(struct serve_ttys *t);
/* The request's hold on its session (q->tty), at the request's end. */
void serve_tty_release(void *session);
struct serve_pulls *serve_pulls_new(void);
void serve_pulls_free(struct serve_pulls *p);
/* files.c: the file a files upload's body goes to (q->upload_fd), and the cleanup of what a
 * request left in its scratch directory (on_completed). */
int serve_files_upload_open(struct req *q);
void serve_files_cleanup(struct req *q);
/* The caller's box (id or name) opened, or NULL after replying 404 (another tenant's box
 * is not found either) or the library's error. */
boxlite_box *req_box(struct MHD_Connection *c, struct req *q, enum MHD_Result *res);
/* files.c: the request's private scratch folder (q->scratch), made once. */
int serve_scratch_make(struct req *q);
/* manage.c: the verbs beyond BoxLite's document (kill, wait, rename, pause, resume, fork,
 * reclaim, balloon, prune). */
enum MHD_Result h_manage(struct MHD_Connection *c, struct req *q);
/* boxes.c, shared with manage.c: the tenant's boxes (library infos, in state or all,
 * oldest first; NULL on error), how many it has, the 409 for one too many, and a box
 * answered as the document's Box (201 with its Location). */
json_t *tenant_boxes(struct server *s, const char *prefix, const char *state);
int tenant_box_count(struct server *s, const char *prefix, size_t *have);
enum MHD_Result reply_tenant_full(struct MHD_Connection *c, struct req *q, size_t have);
enum MHD_Result reply_box(struct MHD_Connection *c, struct req *q, unsigned status,
                          boxlite_box *b);
/* A generated box name, "KIND-xxxxxxxx" (KIND at most 5 characters). */
void serve_random_name(char out[16], const char *kind);
/* boxes.c: POST .../boxes/import (the archive is the body, kept in q->upload_fd's file). */
enum MHD_Result h_import(struct MHD_Connection *c, struct req *q);

struct serve_execs *serve_execs_new(void);
/* Ends every execution's streams (shutdown): readers get what is left, then the end. */
void serve_execs_shutdown(struct serve_execs *e, int sig);
void serve_execs_free(struct serve_execs *e);

#endif
