// SPDX-License-Identifier: Apache-2.0
/* POST .../images/pull with Accept: text/event-stream (ours, docs/api.yaml
 * x-boxlite-extension; the plain answer stays BoxLite's ImageInfo): the pull runs on a
 * thread of its own and the layers' progress goes out as Server-Sent Events, as `boxlite
 * pull` shows it locally:
 *   progress  {"layer", "n_layers", "digest", "done", "total"} (the library's callback; a
 *             layer's latest figures, so a slow reader gets fewer events, never a backlog)
 *   pulled    ImageInfo, last
 *   error     the error model ({"error": {"message", "type", "code"}}), last
 * A reader that goes away cancels the pull (the library keeps what it downloaded, and a
 * later pull resumes it); so does the server stopping. A pull cannot be taken up again
 * with Last-Event-ID: pulling again is how, and costs only the layers still missing. */
#include "serve/server.h"


#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LAYERS 4096        /* more than any registry's image has (the cue: a hostile one) */

struct layer {
    char digest[80];
    int n_layers;
    unsigned long long done, total;
    bool dirty;
};

struct pull_events {
    struct server *s;
    char prefix[SERVE_SEG_MAX + 1];
    char *ref;
    pthread_t th;
    bool started;
    pthread_mutex_t lock;
    struct layer *layers;      /* under lock, with what follows */
    int n;
    bool finished, cancel;
    int status;
    json_t *info;
    struct pull_failure f;
    struct sse_out out;
    bool ended;
};

static int on_progress(void *ud, int layer, int n_layers, const char *digest,
                       unsigned long long done, unsigned long long total)
{
    struct pull_events *p = ud;
    pthread_mutex_lock(&p->lock);
    if (layer >= 0 && layer < MAX_LAYERS) {
        if (layer >= p->n) {
            struct layer *l = realloc(p->layers, (size_t)(layer + 1) * sizeof *l);
            if (l) {
                memset(l + p->n, 0, (size_t)(layer + 1 - p->n) * sizeof *l);
                p->layers = l;
                p->n = layer + 1;
            }
        }
        if (layer < p->n) {
            struct layer *l = &p->layers[layer];
            snprintf(l->digest, sizeof l->digest, "%s", digest ? digest : "");
            l->n_layers = n_layers;
            l->done = done;
            l->total = total;
            l->dirty = true;
        }
    }
    bool stop = p->cancel || atomic_load(&p->s->stopping);
    pthread_mutex_unlock(&p->lock);
    return stop ? BOXLITE_PULL_STOP : BOXLITE_PULL_CONTINUE;
}

static void *run(void *arg)
{
    struct pull_events *p = arg;
    json_t *info = NULL;
    struct pull_failure f = { 0 };
    int status = serve_tenant_pull(p->s, p->prefix, p->ref, on_progress, p, &info, &f);
    pthread_mutex_lock(&p->lock);
    p->status = status;
    p->info = info;
    p->f = f;
    p->finished = true;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The next event: a layer whose figures changed, else the end once the pull has finished;
 * 0 when there is nothing yet. Called under lock. */
static int next_event(struct pull_events *p)
{
    for (int i = 0; i < p->n; i++) {
        struct layer *l = &p->layers[i];
        if (!l->dirty)
            continue;
        l->dirty = false;
        json_t *d = json_pack("{s:i,s:i,s:s,s:I,s:I}", "layer", i, "n_layers", l->n_layers,
                              "digest", l->digest, "done", (json_int_t)l->done, "total",
                              (json_int_t)l->total);
        return sse_out_event(&p->out, NULL, "progress", d) < 0 ? -1 : 1;
    }
    if (!p->finished)
        return 0;
    p->ended = true;
    if (!p->status) {
        json_t *info = p->info;
        p->info = NULL;
        return sse_out_event(&p->out, NULL, "pulled", info) < 0 ? -1 : 1;
    }
    json_t *e = serve_error_model((unsigned)p->status, p->f.type ? p->f.type : "InternalError",
                                  p->f.msg);
    return sse_out_event(&p->out, NULL, "error", e) < 0 ? -1 : 1;
}

static ssize_t read_events(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct pull_events *p = cls;
    for (;;) {
        size_t sent = sse_out_copy(&p->out, out, max);
        if (sent)
            return (ssize_t)sent;
        if (p->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&p->lock);
        int r = next_event(p);
        pthread_mutex_unlock(&p->lock);
        if (r < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (r > 0)
            continue;
        if ((sent = sse_out_keepalive(&p->out, out, max)))
            return (ssize_t)sent;
        usleep(100000); /* the library calls back on its own thread: no descriptor to wait on */
    }
}

static void free_events(void *cls)
{
    struct pull_events *p = cls;
    if (p->started) {
        pthread_mutex_lock(&p->lock);
        p->cancel = true; /* the reader went: the pull stops at its next callback */
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->th, NULL);
    }
    pthread_mutex_destroy(&p->lock);
    json_decref(p->info);
    free(p->layers);
    sse_out_free(&p->out);
    free(p->ref);
    free(p);
}

enum MHD_Result serve_pull_events(struct MHD_Connection *c, struct req *q, char *ref)
{
    struct pull_events *p = calloc(1, sizeof *p);
    if (!p) {
        free(ref);
        return reply_error(c, q, 500, "InternalError", "out of memory");
    }
    p->s = q->s;
    p->ref = ref;
    sse_out_init(&p->out);
    snprintf(p->prefix, sizeof p->prefix, "%s", q->tok.prefix);
    pthread_mutex_init(&p->lock, NULL);
    if (pthread_create(&p->th, NULL, run, p) != 0) {
        free_events(p);
        return reply_error(c, q, 503, "UnavailableError", "pull: no thread for it now");
    }
    p->started = true;
    return reply_events(c, q, read_events, p, free_events);
}
