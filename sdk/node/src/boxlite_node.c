// SPDX-License-Identifier: Apache-2.0
/* The Node.js binding of libboxlite (include/boxlite.h): an N-API addon in C, no second
 * implementation of anything. The JavaScript in lib/ gives it its shapes.
 *
 * - The library is opened with dlopen at init (lib/native.js finds it the way the Python SDK
 *   does), so installing the package needs only the header, not the library.
 * - Calls that can block (runtime open, box create/start/stop, exec start, stdin writes,
 *   copies, pulls, metrics) run as napi_async_work on libuv's thread pool and settle a
 *   Promise; the thread-local error message is read on the thread that failed.
 * - An execution's stdout, stderr and done descriptors (pollable, non-blocking, fed by the
 *   library's I/O thread) are watched with uv_poll on the event loop: nothing ever waits on
 *   the loop thread.
 * - Handles are freed in the order the C API requires (executions, then their box, then the
 *   runtime) by reference counts kept on the loop thread: a child holds its parent, a job in
 *   flight or an open poll holds its object. close() marks an object closed and drops the
 *   "open" reference; the C handle is freed when the last reference goes, never under a
 *   call still using it. */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include "boxlite.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the library, opened once per process -------------------------------------------- */

#define BOXLITE_FUNCS(X)                                                                       \
    X(boxlite_errmsg) X(boxlite_free) X(boxlite_version) X(boxlite_code_str)                   \
    X(boxlite_runtime_open) X(boxlite_runtime_close) X(boxlite_runtime_metrics)                \
    X(boxlite_options_from_json) X(boxlite_options_free) X(boxlite_box_create)                 \
    X(boxlite_box_get) X(boxlite_box_start) X(boxlite_box_stop) X(boxlite_box_remove)          \
    X(boxlite_box_free) X(boxlite_box_id) X(boxlite_box_name) X(boxlite_box_info)              \
    X(boxlite_box_list) X(boxlite_box_metrics) X(boxlite_box_console) X(boxlite_box_copy_in)   \
    X(boxlite_box_copy_out) X(boxlite_exec_start) X(boxlite_exec_stdout_fd)                    \
    X(boxlite_exec_stderr_fd) X(boxlite_exec_done_fd) X(boxlite_exec_write_stdin)              \
    X(boxlite_exec_close_stdin) X(boxlite_exec_signal) X(boxlite_exec_resize)                  \
    X(boxlite_exec_wait) X(boxlite_exec_free) X(boxlite_image_pull) X(boxlite_image_list)      \
    X(boxlite_image_remove)

/* Each pointer has the type of the header's declaration: a mismatch does not compile. */
static struct {
#define X(f) __typeof__(&f) f;
    BOXLITE_FUNCS(X)
#undef X
} L;
static void *lib_handle;
static uv_mutex_t lib_lock;
static uv_once_t lib_once = UV_ONCE_INIT;
static void lib_lock_init(void) { uv_mutex_init(&lib_lock); }

/* ---- per-environment data ------------------------------------------------------------- */

struct inst {
    napi_ref make_error; /* (code, message) => Error of the right class (lib/errors.js) */
};

static bool napi_check(napi_env env, napi_status st, const char *what)
{
    if (st == napi_ok)
        return true;
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) {
        const napi_extended_error_info *info = NULL;
        napi_get_last_error_info(env, &info);
        char msg[256];
        snprintf(msg, sizeof msg, "boxlite: %s: %s", what,
                 info && info->error_message ? info->error_message : "N-API call failed");
        napi_throw_error(env, NULL, msg);
    }
    return false;
}
#define NAPI(env, call)                                                                        \
    do {                                                                                       \
        if (!napi_check(env, (call), #call))                                                   \
            return NULL;                                                                       \
    } while (0)

/* A BoxLite error as a JavaScript value (lib/errors.js picks the class by code). */
static napi_value make_error(napi_env env, int code, const char *msg)
{
    struct inst *in = NULL;
    napi_value fn, args[2], res = NULL, undef;
    napi_get_instance_data(env, (void **)&in);
    napi_get_undefined(env, &undef);
    napi_create_int32(env, code, &args[0]);
    napi_create_string_utf8(env, msg ? msg : "", NAPI_AUTO_LENGTH, &args[1]);
    if (in && napi_get_reference_value(env, in->make_error, &fn) == napi_ok && fn &&
        napi_call_function(env, undef, fn, 2, args, &res) == napi_ok)
        return res;
    napi_value m;
    napi_create_string_utf8(env, msg ? msg : "boxlite error", NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, NULL, m, &res);
    return res;
}

static napi_value throw_code(napi_env env, int code, const char *msg)
{
    napi_throw(env, make_error(env, code, msg));
    return NULL;
}

/* ---- objects: runtime, box, execution -------------------------------------------------- */

enum kind { K_RT, K_BOX, K_EXEC };
static const char *const kind_name[] = { "runtime", "box", "execution" };
#define OBJ_MAGIC 0x626f786cu

enum { S_OUT, S_ERR, S_DONE, NSTREAMS };

struct obj;
struct stream {
    uv_poll_t poll;
    struct obj *o;
    int which;
    int fd;
    bool inited;  /* poll initialised (holds a reference until its close callback) */
    bool active;  /* polling */
    bool finished;/* end-of-file delivered (or the result, for S_DONE) */
    napi_ref cb;  /* strong while active, weak while paused */
};

struct obj {
    uint32_t magic;
    enum kind kind;
    int refs;        /* loop thread only: open + jobs + children + open polls */
    int jobs;        /* jobs in flight on this object */
    bool closed;
    bool js_alive;   /* a JS external points here: the struct outlives the C handle until
                      * its finalizer has run */
    void *h;
    napi_env env;
    struct obj *parent;
    struct obj *child, *next, *prev; /* live children, for close() to cascade */
    /* executions */
    struct stream s[NSTREAMS];
    napi_async_context actx;
};

static void obj_unref(struct obj *o);

static struct obj *obj_new(napi_env env, enum kind kind, void *h, struct obj *parent)
{
    struct obj *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->magic = OBJ_MAGIC;
    o->kind = kind;
    o->h = h;
    o->env = env;
    o->refs = 1; /* the "open" reference, dropped by close() or the JS object's finalizer */
    if (parent) {
        o->parent = parent;
        parent->refs++;
        o->next = parent->child;
        if (parent->child)
            parent->child->prev = o;
        parent->child = o;
    }
    for (int i = 0; i < NSTREAMS; i++) {
        o->s[i].o = o;
        o->s[i].which = i;
        o->s[i].fd = -1;
    }
    return o;
}

static void obj_free_handle(struct obj *o)
{
    switch (o->kind) {
    case K_EXEC: L.boxlite_exec_free(o->h); break;
    case K_BOX: L.boxlite_box_free(o->h); break;
    case K_RT: L.boxlite_runtime_close(o->h); break;
    }
    o->h = NULL;
}

/* The last live reference frees the C handle at once (not at garbage collection); the
 * struct itself goes when its JS external is gone too. */
static void obj_unref(struct obj *o)
{
    if (--o->refs > 0)
        return;
    obj_free_handle(o);
    if (o->actx) {
        napi_async_destroy(o->env, o->actx);
        o->actx = NULL;
    }
    struct obj *p = o->parent;
    if (p) {
        if (o->prev)
            o->prev->next = o->next;
        else
            p->child = o->next;
        if (o->next)
            o->next->prev = o->prev;
        o->parent = o->next = o->prev = NULL;
    }
    if (!o->js_alive) {
        o->magic = 0;
        free(o);
    }
    if (p)
        obj_unref(p);
}

static void stream_closed_cb(uv_handle_t *h)
{
    struct stream *s = h->data;
    obj_unref(s->o);
}

/* Stops watching a descriptor for good; the poll's reference goes in its close callback. */
static void stream_close(struct stream *s)
{
    if (s->cb) {
        napi_delete_reference(s->o->env, s->cb);
        s->cb = NULL;
    }
    if (s->inited) {
        s->inited = false;
        s->active = false;
        uv_close((uv_handle_t *)&s->poll, stream_closed_cb);
    }
}

/* Calls a JS callback from a loop callback: inside a callback scope, so promise jobs run
 * after it as they would after any I/O callback; an exception goes to 'uncaughtException'. */
static bool call_js(struct obj *o, napi_ref ref, size_t argc, napi_value *argv, napi_value *res)
{
    napi_env env = o->env;
    napi_value fn, recv, r = NULL;
    if (!ref || napi_get_reference_value(env, ref, &fn) != napi_ok || !fn)
        return false;
    napi_get_global(env, &recv); /* napi_make_callback needs an object as the receiver */
    napi_status st = napi_make_callback(env, o->actx, recv, fn, argc, argv, &r);
    if (st == napi_pending_exception) {
        napi_value exc;
        napi_get_and_clear_last_exception(env, &exc);
        napi_fatal_exception(env, exc);
        return false;
    }
    if (res)
        *res = r;
    return st == napi_ok;
}

static napi_value exec_result_value(napi_env env, const boxlite_exec_result *r)
{
    napi_value o, v;
    napi_create_object(env, &o);
    napi_create_int32(env, r->exit_code, &v);
    napi_set_named_property(env, o, "exitCode", v);
    napi_create_int32(env, r->signal, &v);
    napi_set_named_property(env, o, "signal", v);
    napi_get_boolean(env, r->timed_out != 0, &v);
    napi_set_named_property(env, o, "timedOut", v);
    napi_create_double(env, r->duration_ms, &v);
    napi_set_named_property(env, o, "durationMs", v);
    return o;
}

/* Output is read on the loop thread, up to 1 MiB per wake-up; the callback's return value is
 * Readable.push()'s: false pauses the poll until lib/execution.js asks for more (the library
 * then holds the process back: flow control end to end). */
static void on_output(struct stream *s)
{
    struct obj *o = s->o;
    char buf[65536];
    for (int i = 0; i < 16 && s->active; i++) {
        ssize_t n = read(s->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        napi_handle_scope scope;
        napi_open_handle_scope(o->env, &scope);
        napi_value arg, res = NULL;
        if (n <= 0) { /* end-of-file (an error on the pipe reads as its end) */
            s->finished = true;
            uv_poll_stop(&s->poll);
            s->active = false;
            napi_get_null(o->env, &arg);
            call_js(o, s->cb, 1, &arg, NULL);
            stream_close(s); /* the callback may have closed the execution: idempotent */
            napi_close_handle_scope(o->env, scope);
            return;
        }
        void *data;
        napi_create_buffer_copy(o->env, (size_t)n, buf, &data, &arg);
        bool more = false;
        if (call_js(o, s->cb, 1, &arg, &res) && res)
            napi_get_value_bool(o->env, res, &more);
        napi_close_handle_scope(o->env, scope);
        if (!more && s->active) {
            uv_poll_stop(&s->poll);
            s->active = false;
            uint32_t c;
            if (s->cb)
                napi_reference_unref(o->env, s->cb, &c); /* paused: do not keep it alive */
        }
    }
}

static void on_done(struct stream *s)
{
    struct obj *o = s->o;
    boxlite_exec_result r = { 0 };
    int code = L.boxlite_exec_wait(o->h, 0, &r);
    if (code == BOXLITE_ERR_TIMEOUT)
        return; /* not yet */
    napi_handle_scope scope;
    napi_open_handle_scope(o->env, &scope);
    napi_value args[2];
    if (code) {
        args[0] = make_error(o->env, code, L.boxlite_errmsg());
        napi_get_null(o->env, &args[1]);
    } else {
        napi_get_null(o->env, &args[0]);
        args[1] = exec_result_value(o->env, &r);
    }
    s->finished = true;
    napi_ref cb = s->cb;
    uv_poll_stop(&s->poll);
    s->active = false;
    call_js(o, cb, 2, args, NULL);
    stream_close(s);
    napi_close_handle_scope(o->env, scope);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct stream *s = p->data;
    (void)status; /* an error shows in the read (output) or the wait (done) */
    (void)events;
    if (!s->active)
        return;
    if (s->which == S_DONE)
        on_done(s);
    else
        on_output(s);
}

/* Closes an execution: its watchers deliver end-of-file (streams) or an error (wait), a
 * stdin write still in flight is ended by killing the process, and the handle is freed once
 * nothing uses it (boxlite_exec_free then also ends the process in the guest). */
static void exec_close(struct obj *o, bool call_back)
{
    for (int i = 0; i < NSTREAMS; i++) {
        struct stream *s = &o->s[i];
        if (s->cb && !s->finished && call_back) {
            napi_handle_scope scope;
            napi_open_handle_scope(o->env, &scope);
            napi_value args[2];
            size_t argc = 1;
            s->finished = true;
            if (i == S_DONE) {
                args[0] = make_error(o->env, BOXLITE_ERR_STATE, "the execution is closed");
                napi_get_null(o->env, &args[1]);
                argc = 2;
            } else
                napi_get_null(o->env, &args[0]);
            napi_ref cb = s->cb;
            napi_value fn, undef;
            napi_get_undefined(o->env, &undef);
            /* called from a JS call (close()), not from the loop: a plain call */
            if (napi_get_reference_value(o->env, cb, &fn) == napi_ok && fn)
                napi_call_function(o->env, undef, fn, argc, args, NULL);
            napi_close_handle_scope(o->env, scope);
        }
        stream_close(s);
    }
    if (o->jobs && o->h)
        L.boxlite_exec_signal(o->h, SIGKILL);
}

static void obj_close(struct obj *o, bool call_back)
{
    if (o->closed)
        return;
    o->closed = true;
    if (call_back) /* an explicit close() cascades; a finalizer leaves children their ref */
        for (struct obj *c = o->child, *n; c; c = n) {
            n = c->next;
            obj_close(c, true);
        }
    if (o->kind == K_EXEC)
        exec_close(o, call_back);
    obj_unref(o);
}

static void obj_finalize(napi_env env, void *data, void *hint)
{
    struct obj *o = data;
    (void)env;
    (void)hint;
    o->js_alive = false;
    if (!o->closed)
        obj_close(o, false); /* frees o if that was its last reference */
    else if (o->refs == 0) {
        o->magic = 0;
        free(o);
    }
}

static napi_value obj_external(napi_env env, struct obj *o)
{
    napi_value v;
    NAPI(env, napi_create_external(env, o, obj_finalize, NULL, &v));
    o->js_alive = true;
    return v;
}

/* The object behind an external; throws (and returns NULL) if it is not one of ours, is of
 * another kind, or is closed (when open is required). */
static struct obj *get_obj(napi_env env, napi_value v, enum kind kind, bool open)
{
    napi_valuetype t;
    struct obj *o = NULL;
    if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
        napi_get_value_external(env, v, (void **)&o) != napi_ok || !o || o->magic != OBJ_MAGIC ||
        o->kind != kind) {
        napi_throw_type_error(env, NULL, "boxlite: not a handle of the expected kind");
        return NULL;
    }
    if (open && o->closed) {
        char msg[64];
        snprintf(msg, sizeof msg, "the %s is closed", kind_name[kind]);
        throw_code(env, BOXLITE_ERR_STATE, msg);
        return NULL;
    }
    if (!L.boxlite_errmsg) {
        throw_code(env, BOXLITE_ERR_STATE, "libboxlite is not loaded");
        return NULL;
    }
    return o;
}

/* ---- argument helpers ------------------------------------------------------------------ */

/* A JS string (or null/undefined when nullable) as a malloc'd C string; *ok false on error. */
static char *get_str(napi_env env, napi_value v, bool nullable, bool *ok)
{
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (nullable && (t == napi_null || t == napi_undefined))
        return NULL;
    if (t != napi_string) {
        napi_throw_type_error(env, NULL, "boxlite: expected a string");
        *ok = false;
        return NULL;
    }
    size_t len;
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    char *s = malloc(len + 1);
    if (!s) {
        *ok = false;
        throw_code(env, BOXLITE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    napi_get_value_string_utf8(env, v, s, len + 1, &len);
    if (strlen(s) != len) { /* an embedded NUL would silently cut the string */
        free(s);
        *ok = false;
        throw_code(env, BOXLITE_ERR_INVALID, "a string contains a NUL character");
        return NULL;
    }
    return s;
}

static int64_t get_int(napi_env env, napi_value v, int64_t dflt)
{
    napi_valuetype t;
    int64_t r = dflt;
    if (napi_typeof(env, v, &t) == napi_ok && t == napi_number)
        napi_get_value_int64(env, v, &r);
    else if (t == napi_boolean) {
        bool b;
        napi_get_value_bool(env, v, &b);
        r = b;
    }
    return r;
}

/* A JS array of strings (or null) as a NULL-terminated malloc'd vector. */
static char **get_strv(napi_env env, napi_value v, bool *ok)
{
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t == napi_null || t == napi_undefined)
        return NULL;
    bool is_array = false;
    napi_is_array(env, v, &is_array);
    if (!is_array) {
        napi_throw_type_error(env, NULL, "boxlite: expected an array of strings");
        *ok = false;
        return NULL;
    }
    uint32_t n;
    napi_get_array_length(env, v, &n);
    char **vec = calloc((size_t)n + 1, sizeof *vec);
    if (!vec) {
        *ok = false;
        throw_code(env, BOXLITE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (uint32_t i = 0; i < n && *ok; i++) {
        napi_value e;
        napi_get_element(env, v, i, &e);
        vec[i] = get_str(env, e, false, ok);
    }
    return vec;
}

static void strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

/* ---- jobs: one blocking library call on the thread pool, settling a promise ------------ */

enum op {
    OP_RT_OPEN, OP_RT_METRICS, OP_CREATE, OP_GET, OP_LIST, OP_REMOVE, OP_PULL, OP_IMAGE_LIST,
    OP_IMAGE_REMOVE, OP_START, OP_STOP, OP_INFO, OP_BOX_METRICS, OP_CONSOLE, OP_COPY_IN,
    OP_COPY_OUT, OP_EXEC_START, OP_STDIN_WRITE, OP_STDIN_CLOSE, OP_SIGNAL, OP_RESIZE,
};

struct job {
    enum op op;
    napi_deferred deferred;
    napi_async_work work;
    struct obj *target; /* holds a reference while the job is in flight */
    char *s1, *s2;
    int64_t i1, i2, i3;
    char **argv, **envv;
    void *buf;
    size_t len;
    napi_threadsafe_function tsfn;
    /* A pull's stop flag: the first int32 of an ArrayBuffer that JS sets (an AbortSignal's
     * abort) and the worker reads at each progress report; the reference keeps it alive. */
    int32_t *cancel;
    napi_ref cancel_ref;
    /* results, filled on the worker thread */
    int code;
    char *errmsg;
    char *out_str; /* the library's, released with boxlite_free */
    void *out_h;
};

struct progress {
    int layer, n_layers;
    char digest[80];
    unsigned long long done, total;
};

static bool pull_stopped(const struct job *j)
{
    return j->cancel && __atomic_load_n(j->cancel, __ATOMIC_ACQUIRE) != 0;
}

/* JS runs later on the main thread (a thread-safe function), so its progress callback
 * cannot answer; what stops the pull is the job's stop flag (pull({signal})), read here.
 * The callback's queue holds one report: the worker waits while JS has not taken the
 * previous one, so a stop set by JS from a progress callback is seen at most two reports
 * later (and a pull never runs far ahead of what JS has been told). */
static int pull_progress(void *ud, int layer, int n_layers, const char *digest,
                         unsigned long long done, unsigned long long total)
{
    struct job *j = ud;
    if (pull_stopped(j))
        return BOXLITE_PULL_STOP;
    if (!j->tsfn)
        return BOXLITE_PULL_CONTINUE;
    struct progress *p = malloc(sizeof *p);
    if (!p)
        return BOXLITE_PULL_CONTINUE;
    p->layer = layer;
    p->n_layers = n_layers;
    snprintf(p->digest, sizeof p->digest, "%s", digest ? digest : "");
    p->done = done;
    p->total = total;
    if (napi_call_threadsafe_function(j->tsfn, p, napi_tsfn_blocking) != napi_ok)
        free(p);
    return pull_stopped(j) ? BOXLITE_PULL_STOP : BOXLITE_PULL_CONTINUE;
}

static void pull_progress_js(napi_env env, napi_value fn, void *context, void *data)
{
    struct progress *p = data;
    (void)context;
    if (env && fn) {
        napi_value args[5], undef;
        napi_create_int32(env, p->layer, &args[0]);
        napi_create_int32(env, p->n_layers, &args[1]);
        napi_create_string_utf8(env, p->digest, NAPI_AUTO_LENGTH, &args[2]);
        napi_create_double(env, (double)p->done, &args[3]);
        napi_create_double(env, (double)p->total, &args[4]);
        napi_get_undefined(env, &undef);
        if (napi_call_function(env, undef, fn, 5, args, NULL) == napi_pending_exception) {
            napi_value exc; /* a throwing progress callback must not fail the pull */
            napi_get_and_clear_last_exception(env, &exc);
        }
    }
    free(p);
}

#define RUN(expr)                                                                              \
    do {                                                                                       \
        j->code = (expr);                                                                      \
        if (j->code && !j->errmsg)                                                             \
            j->errmsg = strdup(L.boxlite_errmsg());                                            \
    } while (0)

static void job_execute(napi_env env, void *data)
{
    struct job *j = data;
    void *h = j->target ? j->target->h : NULL;
    (void)env;
    switch (j->op) {
    case OP_RT_OPEN: RUN(L.boxlite_runtime_open(j->s1, (boxlite_runtime **)&j->out_h)); break;
    case OP_RT_METRICS: RUN(L.boxlite_runtime_metrics(h, &j->out_str)); break;
    case OP_CREATE: {
        boxlite_options *o = NULL;
        RUN(L.boxlite_options_from_json(j->s1, &o));
        if (!j->code)
            RUN(L.boxlite_box_create(h, o, (boxlite_box **)&j->out_h));
        L.boxlite_options_free(o);
        break;
    }
    case OP_GET: RUN(L.boxlite_box_get(h, j->s1, (boxlite_box **)&j->out_h)); break;
    case OP_LIST: RUN(L.boxlite_box_list(h, j->s1, &j->out_str)); break;
    case OP_REMOVE: RUN(L.boxlite_box_remove(h, j->s1, (int)j->i1)); break;
    case OP_PULL:
        RUN(L.boxlite_image_pull(h, j->s1, j->tsfn || j->cancel ? pull_progress : NULL, j));
        break;
    case OP_IMAGE_LIST: RUN(L.boxlite_image_list(h, &j->out_str)); break;
    case OP_IMAGE_REMOVE: RUN(L.boxlite_image_remove(h, j->s1, (int)j->i1)); break;
    case OP_START: RUN(L.boxlite_box_start(h)); break;
    case OP_STOP: RUN(L.boxlite_box_stop(h, (int)j->i1)); break;
    case OP_INFO: RUN(L.boxlite_box_info(h, &j->out_str)); break;
    case OP_BOX_METRICS: RUN(L.boxlite_box_metrics(h, &j->out_str)); break;
    case OP_CONSOLE: RUN(L.boxlite_box_console(h, &j->out_str)); break;
    case OP_COPY_IN: RUN(L.boxlite_box_copy_in(h, j->s1, j->s2)); break;
    case OP_COPY_OUT: RUN(L.boxlite_box_copy_out(h, j->s1, j->s2)); break;
    case OP_EXEC_START: {
        boxlite_exec_spec spec = {
            .size = sizeof spec,
            .argv = (const char *const *)j->argv,
            .env = (const char *const *)j->envv,
            .working_dir = j->s1,
            .user = j->s2,
            .tty = j->i1 != 0,
            .rows = (unsigned)(j->i2 >> 16),
            .cols = (unsigned)(j->i2 & 0xffff),
            .timeout_ms = j->i3,
        };
        RUN(L.boxlite_exec_start(h, &spec, (boxlite_exec **)&j->out_h));
        break;
    }
    case OP_STDIN_WRITE: RUN(L.boxlite_exec_write_stdin(h, j->buf, j->len)); break;
    case OP_STDIN_CLOSE: RUN(L.boxlite_exec_close_stdin(h)); break;
    case OP_SIGNAL: RUN(L.boxlite_exec_signal(h, (int)j->i1)); break;
    case OP_RESIZE: RUN(L.boxlite_exec_resize(h, (unsigned)j->i1, (unsigned)j->i2)); break;
    }
}

static void job_free(struct job *j)
{
    free(j->s1);
    free(j->s2);
    strv_free(j->argv);
    strv_free(j->envv);
    free(j->buf);
    free(j->errmsg);
    if (j->out_str)
        L.boxlite_free(j->out_str);
    free(j);
}

/* [external, id, name] for a new box handle. */
static napi_value box_triple(napi_env env, struct obj *o)
{
    napi_value arr, v;
    NAPI(env, napi_create_array_with_length(env, 3, &arr));
    if (!(v = obj_external(env, o)))
        return NULL;
    napi_set_element(env, arr, 0, v);
    napi_create_string_utf8(env, L.boxlite_box_id(o->h), NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, arr, 1, v);
    napi_create_string_utf8(env, L.boxlite_box_name(o->h), NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, arr, 2, v);
    return arr;
}

static void job_complete(napi_env env, napi_status status, void *data)
{
    struct job *j = data;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value result = NULL;
    int code = j->code;
    const char *msg = j->errmsg;
    if (status != napi_ok && !code) {
        code = BOXLITE_ERR_INTERNAL;
        msg = "the job was cancelled";
    }
    if (!code) {
        switch (j->op) {
        case OP_RT_OPEN: {
            struct obj *o = obj_new(env, K_RT, j->out_h, NULL);
            if (!o) {
                L.boxlite_runtime_close(j->out_h);
                code = BOXLITE_ERR_NOMEM, msg = "out of memory";
            } else
                result = obj_external(env, o);
            break;
        }
        case OP_CREATE:
        case OP_GET:
        case OP_EXEC_START: {
            enum kind k = j->op == OP_EXEC_START ? K_EXEC : K_BOX;
            struct obj *o = NULL;
            if (j->target->closed) /* closed while the call ran: nobody will use it */
                code = BOXLITE_ERR_STATE, msg = j->op == OP_EXEC_START ? "the box is closed"
                                                                       : "the runtime is closed";
            else if (!(o = obj_new(env, k, j->out_h, j->target)))
                code = BOXLITE_ERR_NOMEM, msg = "out of memory";
            if (!o) {
                if (k == K_EXEC)
                    L.boxlite_exec_free(j->out_h);
                else
                    L.boxlite_box_free(j->out_h);
            } else
                result = k == K_EXEC ? obj_external(env, o) : box_triple(env, o);
            break;
        }
        default:
            if (j->out_str)
                napi_create_string_utf8(env, j->out_str, NAPI_AUTO_LENGTH, &result);
            else
                napi_get_undefined(env, &result);
        }
    }
    if (code)
        napi_reject_deferred(env, j->deferred, make_error(env, code, msg));
    else if (result)
        napi_resolve_deferred(env, j->deferred, result);
    else { /* making the result threw */
        napi_value exc;
        napi_get_and_clear_last_exception(env, &exc);
        napi_reject_deferred(env, j->deferred, exc);
    }
    napi_delete_async_work(env, j->work);
    if (j->tsfn)
        napi_release_threadsafe_function(j->tsfn, napi_tsfn_release);
    if (j->cancel_ref)
        napi_delete_reference(env, j->cancel_ref);
    if (j->target) {
        j->target->jobs--;
        obj_unref(j->target);
    }
    job_free(j);
    napi_close_handle_scope(env, scope);
}

/* Queues j on the thread pool; returns its promise. On failure frees j and throws. */
static napi_value job_queue(napi_env env, struct job *j, const char *name)
{
    napi_value promise, res_name;
    if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
        napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &res_name) != napi_ok ||
        napi_create_async_work(env, NULL, res_name, job_execute, job_complete, j, &j->work) !=
            napi_ok ||
        napi_queue_async_work(env, j->work) != napi_ok) {
        if (j->tsfn)
            napi_release_threadsafe_function(j->tsfn, napi_tsfn_release);
        if (j->cancel_ref)
            napi_delete_reference(env, j->cancel_ref);
        job_free(j);
        napi_throw_error(env, NULL, "boxlite: cannot queue the call");
        return NULL;
    }
    if (j->target) {
        j->target->refs++;
        j->target->jobs++;
    }
    return promise;
}

static struct job *job_new(napi_env env, enum op op, struct obj *target)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        throw_code(env, BOXLITE_ERR_NOMEM, "out of memory");
    else {
        j->op = op;
        j->target = target;
    }
    return j;
}

/* ---- exported functions ------------------------------------------------------------------ */

#define ARGS(n)                                                                                \
    size_t argc = n;                                                                           \
    napi_value argv[n > 0 ? n : 1];                                                            \
    NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                           \
    for (size_t i_ = argc; i_ < n; i_++)                                                       \
        napi_get_undefined(env, &argv[i_])

/* init(libraryPath, makeError) -> version: opens libboxlite once per process. */
static napi_value js_init(napi_env env, napi_callback_info info)
{
    ARGS(2);
    bool ok = true;
    char *path = get_str(env, argv[0], false, &ok);
    if (!ok)
        return NULL;
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t != napi_function) {
        free(path);
        napi_throw_type_error(env, NULL, "boxlite: init needs an error factory");
        return NULL;
    }
    uv_once(&lib_once, lib_lock_init);
    uv_mutex_lock(&lib_lock);
    char err[1024] = "";
    if (!lib_handle) {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            snprintf(err, sizeof err, "cannot load %s: %s", path, dlerror());
        else {
#define X(f)                                                                                   \
    if (!err[0] && !(*(void **)&L.f = dlsym(h, #f)))                                           \
        snprintf(err, sizeof err, "%s: %s is missing (an older libboxlite?)", path, #f);
            BOXLITE_FUNCS(X)
#undef X
            if (err[0]) {
                memset(&L, 0, sizeof L);
                dlclose(h);
            } else
                lib_handle = h;
        }
    }
    uv_mutex_unlock(&lib_lock);
    free(path);
    if (err[0]) {
        napi_throw_error(env, "ERR_BOXLITE_LOAD", err);
        return NULL;
    }
    struct inst *in = NULL;
    napi_get_instance_data(env, (void **)&in);
    if (!in) {
        in = calloc(1, sizeof *in);
        if (!in)
            return throw_code(env, BOXLITE_ERR_NOMEM, "out of memory");
        NAPI(env, napi_create_reference(env, argv[1], 1, &in->make_error));
        NAPI(env, napi_set_instance_data(env, in, NULL, NULL));
    }
    napi_value v;
    NAPI(env, napi_create_string_utf8(env, L.boxlite_version(), NAPI_AUTO_LENGTH, &v));
    return v;
}

static napi_value js_code_str(napi_env env, napi_callback_info info)
{
    ARGS(1);
    napi_value v;
    const char *s = L.boxlite_code_str ? L.boxlite_code_str((int)get_int(env, argv[0], 14)) : "";
    NAPI(env, napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v));
    return v;
}

static napi_value js_runtime_open(napi_env env, napi_callback_info info)
{
    ARGS(1);
    if (!L.boxlite_runtime_open)
        return throw_code(env, BOXLITE_ERR_STATE, "libboxlite is not loaded");
    bool ok = true;
    char *home = get_str(env, argv[0], true, &ok);
    if (!ok)
        return NULL;
    struct job *j = job_new(env, OP_RT_OPEN, NULL);
    if (!j) {
        free(home);
        return NULL;
    }
    j->s1 = home;
    return job_queue(env, j, "boxlite.runtimeOpen");
}

/* close(handle): runtime, box or execution; idempotent. */
static napi_value js_close(napi_env env, napi_callback_info info)
{
    ARGS(1);
    napi_valuetype t;
    struct obj *o = NULL;
    if (napi_typeof(env, argv[0], &t) == napi_ok && t == napi_external &&
        napi_get_value_external(env, argv[0], (void **)&o) == napi_ok && o &&
        o->magic == OBJ_MAGIC)
        obj_close(o, true);
    return NULL;
}

/* Calls that take a handle and up to two strings and two integers: one generic entry. */
struct simple_op {
    const char *name;
    enum op op;
    enum kind kind;
    int nstr;          /* string arguments after the handle */
    bool str_nullable;
    int nint;          /* integer arguments after the strings */
};

static const struct simple_op simple_ops[] = {
    { "runtimeMetrics", OP_RT_METRICS, K_RT, 0, false, 0 },
    { "boxCreate", OP_CREATE, K_RT, 1, false, 0 },
    { "boxGet", OP_GET, K_RT, 1, false, 0 },
    { "boxList", OP_LIST, K_RT, 1, true, 0 },
    { "boxRemove", OP_REMOVE, K_RT, 1, false, 1 },
    { "imageList", OP_IMAGE_LIST, K_RT, 0, false, 0 },
    { "imageRemove", OP_IMAGE_REMOVE, K_RT, 1, false, 1 },
    { "boxStart", OP_START, K_BOX, 0, false, 0 },
    { "boxStop", OP_STOP, K_BOX, 0, false, 1 },
    { "boxInfo", OP_INFO, K_BOX, 0, false, 0 },
    { "boxMetrics", OP_BOX_METRICS, K_BOX, 0, false, 0 },
    { "boxConsole", OP_CONSOLE, K_BOX, 0, false, 0 },
    { "boxCopyIn", OP_COPY_IN, K_BOX, 2, false, 0 },
    { "boxCopyOut", OP_COPY_OUT, K_BOX, 2, false, 0 },
    { "execStdinClose", OP_STDIN_CLOSE, K_EXEC, 0, false, 0 },
    { "execSignal", OP_SIGNAL, K_EXEC, 0, false, 1 },
    { "execResize", OP_RESIZE, K_EXEC, 0, false, 2 },
};

static napi_value js_simple(napi_env env, napi_callback_info info)
{
    size_t argc = 5;
    napi_value argv[5];
    void *data;
    NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, &data));
    for (size_t i = argc; i < 5; i++)
        napi_get_undefined(env, &argv[i]);
    const struct simple_op *op = data;
    struct obj *o = get_obj(env, argv[0], op->kind, true);
    if (!o)
        return NULL;
    struct job *j = job_new(env, op->op, o);
    if (!j)
        return NULL;
    bool ok = true;
    if (op->nstr > 0)
        j->s1 = get_str(env, argv[1], op->str_nullable, &ok);
    if (ok && op->nstr > 1)
        j->s2 = get_str(env, argv[2], op->str_nullable, &ok);
    if (!ok) {
        job_free(j);
        return NULL;
    }
    if (op->nint > 0)
        j->i1 = get_int(env, argv[1 + op->nstr], 0);
    if (op->nint > 1)
        j->i2 = get_int(env, argv[2 + op->nstr], 0);
    char name[64];
    snprintf(name, sizeof name, "boxlite.%s", op->name);
    return job_queue(env, j, name);
}

/* imagePull(rt, ref, progress|null, stop|null): stop, an ArrayBuffer of at least 4 bytes
 * whose first int32 JS sets to nonzero (Atomics.store) to stop the pull. */
static napi_value js_image_pull(napi_env env, napi_callback_info info)
{
    ARGS(4);
    struct obj *o = get_obj(env, argv[0], K_RT, true);
    if (!o)
        return NULL;
    bool ok = true;
    char *ref = get_str(env, argv[1], false, &ok);
    if (!ok)
        return NULL;
    struct job *j = job_new(env, OP_PULL, o);
    if (!j) {
        free(ref);
        return NULL;
    }
    j->s1 = ref;
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t == napi_function) {
        napi_value name;
        napi_create_string_utf8(env, "boxlite.pullProgress", NAPI_AUTO_LENGTH, &name);
        /* a queue of one report: see pull_progress */
        if (napi_create_threadsafe_function(env, argv[2], NULL, name, 1, 1, NULL, NULL, NULL,
                                            pull_progress_js, &j->tsfn) != napi_ok) {
            job_free(j);
            napi_throw_error(env, NULL, "boxlite: cannot create the progress callback");
            return NULL;
        }
    }
    bool is_ab = false;
    napi_is_arraybuffer(env, argv[3], &is_ab);
    if (is_ab) {
        void *data = NULL;
        size_t len = 0;
        napi_get_arraybuffer_info(env, argv[3], &data, &len);
        if (len < sizeof(int32_t) || (uintptr_t)data % sizeof(int32_t) ||
            napi_create_reference(env, argv[3], 1, &j->cancel_ref) != napi_ok) {
            if (j->tsfn)
                napi_release_threadsafe_function(j->tsfn, napi_tsfn_release);
            job_free(j);
            throw_code(env, BOXLITE_ERR_INVALID, "imagePull: the stop flag must be an "
                                                 "ArrayBuffer of at least 4 bytes");
            return NULL;
        }
        j->cancel = data;
    }
    return job_queue(env, j, "boxlite.imagePull");
}

/* execStart(box, argv, env|null, cwd|null, user|null, tty, rows, cols, timeoutMs) */
static napi_value js_exec_start(napi_env env, napi_callback_info info)
{
    ARGS(9);
    struct obj *o = get_obj(env, argv[0], K_BOX, true);
    if (!o)
        return NULL;
    struct job *j = job_new(env, OP_EXEC_START, o);
    if (!j)
        return NULL;
    bool ok = true;
    j->argv = get_strv(env, argv[1], &ok);
    if (ok)
        j->envv = get_strv(env, argv[2], &ok);
    if (ok)
        j->s1 = get_str(env, argv[3], true, &ok);
    if (ok)
        j->s2 = get_str(env, argv[4], true, &ok);
    if (ok && (!j->argv || !j->argv[0])) {
        ok = false;
        throw_code(env, BOXLITE_ERR_INVALID, "exec: no program given");
    }
    int64_t rows = get_int(env, argv[6], 24), cols = get_int(env, argv[7], 80);
    if (ok && (rows < 1 || rows > 10000 || cols < 1 || cols > 10000)) {
        ok = false;
        throw_code(env, BOXLITE_ERR_INVALID, "exec: bad terminal size");
    }
    if (!ok) {
        job_free(j);
        return NULL;
    }
    j->i1 = get_int(env, argv[5], 0);
    j->i2 = rows << 16 | cols;
    j->i3 = get_int(env, argv[8], 0);
    return job_queue(env, j, "boxlite.execStart");
}

/* execStdinWrite(ex, buffer): resolves once the library took all of it. */
static napi_value js_stdin_write(napi_env env, napi_callback_info info)
{
    ARGS(2);
    struct obj *o = get_obj(env, argv[0], K_EXEC, true);
    if (!o)
        return NULL;
    bool is_buf = false;
    napi_is_buffer(env, argv[1], &is_buf);
    if (!is_buf) {
        napi_throw_type_error(env, NULL, "boxlite: stdin data must be a Buffer");
        return NULL;
    }
    void *data;
    size_t len;
    NAPI(env, napi_get_buffer_info(env, argv[1], &data, &len));
    struct job *j = job_new(env, OP_STDIN_WRITE, o);
    if (!j)
        return NULL;
    /* a copy: the caller may reuse its buffer as soon as write() returns */
    if (len && !(j->buf = malloc(len))) {
        job_free(j);
        return throw_code(env, BOXLITE_ERR_NOMEM, "out of memory");
    }
    if (len)
        memcpy(j->buf, data, len);
    j->len = len;
    return job_queue(env, j, "boxlite.execStdinWrite");
}

/* execWatch(ex, which, callback): 0 stdout, 1 stderr (callback(buffer|null) -> more?),
 * 2 done (callback(error|null, result)). Watching again resumes a paused stream. */
static napi_value js_exec_watch(napi_env env, napi_callback_info info)
{
    ARGS(3);
    struct obj *o = get_obj(env, argv[0], K_EXEC, false);
    if (!o)
        return NULL;
    int which = (int)get_int(env, argv[1], -1);
    if (which < 0 || which >= NSTREAMS) {
        napi_throw_range_error(env, NULL, "boxlite: no such stream");
        return NULL;
    }
    struct stream *s = &o->s[which];
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (o->closed || s->finished) {
        /* closed: end-of-file, or the closed error for a wait, at once (asynchronously is
         * not needed: the caller handles a synchronous call back) */
        if (t == napi_function) {
            napi_value args[2], undef;
            napi_get_undefined(env, &undef);
            size_t n = 1;
            if (which == S_DONE) {
                args[0] = make_error(env, BOXLITE_ERR_STATE, "the execution is closed");
                napi_get_null(env, &args[1]);
                n = 2;
            } else
                napi_get_null(env, &args[0]);
            napi_call_function(env, undef, argv[2], n, args, NULL);
        }
        return NULL;
    }
    if (t == napi_function) {
        if (s->cb)
            napi_delete_reference(env, s->cb);
        NAPI(env, napi_create_reference(env, argv[2], 1, &s->cb));
    } else if (s->cb) {
        uint32_t c = 0;
        napi_reference_ref(env, s->cb, &c);
        if (c > 1)
            napi_reference_unref(env, s->cb, &c);
    }
    if (!s->cb) {
        napi_throw_type_error(env, NULL, "boxlite: watch needs a callback");
        return NULL;
    }
    if (which == S_DONE && !s->inited) {
        /* Most waits come after the output has ended, when the process has too: answer at
         * once, without setting up a watcher (7 system calls and a loop turn saved). */
        boxlite_exec_result r = { 0 };
        int code = L.boxlite_exec_wait(o->h, 0, &r);
        if (code != BOXLITE_ERR_TIMEOUT) {
            napi_value args[2], undef, fn;
            if (code) {
                args[0] = make_error(env, code, L.boxlite_errmsg());
                napi_get_null(env, &args[1]);
            } else {
                napi_get_null(env, &args[0]);
                args[1] = exec_result_value(env, &r);
            }
            s->finished = true;
            napi_ref cb = s->cb;
            s->cb = NULL;
            napi_get_undefined(env, &undef);
            napi_status st = napi_get_reference_value(env, cb, &fn);
            if (st == napi_ok && fn)
                st = napi_call_function(env, undef, fn, 2, args, NULL);
            napi_delete_reference(env, cb);
            return NULL; /* a throw from the callback stays pending for the caller */
        }
    }
    if (!o->actx) {
        napi_value res, name;
        napi_create_object(env, &res);
        napi_create_string_utf8(env, "boxlite.Execution", NAPI_AUTO_LENGTH, &name);
        NAPI(env, napi_async_init(env, res, name, &o->actx));
    }
    if (!s->inited) {
        s->fd = which == S_OUT   ? L.boxlite_exec_stdout_fd(o->h)
                : which == S_ERR ? L.boxlite_exec_stderr_fd(o->h)
                                 : L.boxlite_exec_done_fd(o->h);
        uv_loop_t *loop;
        NAPI(env, napi_get_uv_event_loop(env, &loop));
        if (s->fd < 0 || uv_poll_init(loop, &s->poll, s->fd) != 0)
            return throw_code(env, BOXLITE_ERR_IO, "cannot watch the execution's descriptor");
        s->poll.data = s;
        s->inited = true;
        o->refs++; /* dropped in the poll's close callback */
    }
    if (!s->active) {
        s->active = true;
        uv_poll_start(&s->poll, UV_READABLE | UV_DISCONNECT, on_poll);
    }
    return NULL;
}

/* libraryPath() -> the file libboxlite was loaded from (as the dynamic loader found it), or
 * null before init. */
static napi_value js_library_path(napi_env env, napi_callback_info info)
{
    napi_value v;
    struct link_map *lm = NULL;
    (void)info;
    if (!lib_handle || dlinfo(lib_handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_name) {
        NAPI(env, napi_get_null(env, &v));
        return v;
    }
    NAPI(env, napi_create_string_utf8(env, lm->l_name, NAPI_AUTO_LENGTH, &v));
    return v;
}

static napi_value js_version(napi_env env, napi_callback_info info)
{
    napi_value v;
    (void)info;
    NAPI(env, napi_create_string_utf8(env, L.boxlite_version ? L.boxlite_version() : "",
                                      NAPI_AUTO_LENGTH, &v));
    return v;
}

static napi_value module_init(napi_env env, napi_value exports)
{
    napi_property_descriptor props[] = {
        { "init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL },
        { "version", NULL, js_version, NULL, NULL, NULL, napi_default, NULL },
        { "libraryPath", NULL, js_library_path, NULL, NULL, NULL, napi_default, NULL },
        { "codeStr", NULL, js_code_str, NULL, NULL, NULL, napi_default, NULL },
        { "runtimeOpen", NULL, js_runtime_open, NULL, NULL, NULL, napi_default, NULL },
        { "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
        { "imagePull", NULL, js_image_pull, NULL, NULL, NULL, napi_default, NULL },
        { "execStart", NULL, js_exec_start, NULL, NULL, NULL, napi_default, NULL },
        { "execStdinWrite", NULL, js_stdin_write, NULL, NULL, NULL, napi_default, NULL },
        { "execWatch", NULL, js_exec_watch, NULL, NULL, NULL, napi_default, NULL },
    };
    if (!napi_check(env, napi_define_properties(env, exports, sizeof props / sizeof *props,
                                                props), "define"))
        return NULL;
    /* the header this addon was built against: lib/native.js asks the loader for the
     * library by the SONAME of its major version */
    napi_value hv;
    NAPI(env, napi_create_string_utf8(env, BOXLITE_VERSION, NAPI_AUTO_LENGTH, &hv));
    NAPI(env, napi_set_named_property(env, exports, "headerVersion", hv));
    for (size_t i = 0; i < sizeof simple_ops / sizeof *simple_ops; i++) {
        napi_value fn;
        NAPI(env, napi_create_function(env, simple_ops[i].name, NAPI_AUTO_LENGTH, js_simple,
                                       (void *)&simple_ops[i], &fn));
        NAPI(env, napi_set_named_property(env, exports, simple_ops[i].name, fn));
    }
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
