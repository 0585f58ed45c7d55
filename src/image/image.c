// SPDX-License-Identifier: Apache-2.0
#include "image/image.h"

#include "image/layerstream.h"
#include "image/pull.h"

#include "common/cleanup.h"
#include "image/manifest.h"
#include "image/ref.h"
#include "image/rootfs.h"
#include "image/ext4build.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX (8u << 20)
#define DEFAULT_HEADROOM (256ULL << 20)

int image_store_open(struct image_store *s, const char *home, struct bl_error *err)
{
    return blobstore_open(&s->bs, home, err);
}

/* "oci:<dir>[:tag]" -> dir and tag (NULL if none); the tag follows the last ':' after
 * the last '/'. Returns 0 if key is not of that form. */
static int split_oci(const char *key, char *dir, size_t n, const char **tag)
{
    if (strncmp(key, "oci:", 4) != 0 || !key[4])
        return 0;
    snprintf(dir, n, "%s", key + 4);
    char *slash = strrchr(dir, '/');
    char *colon = strrchr(slash ? slash : dir, ':');
    *tag = NULL;
    if (colon) {
        *colon = 0;
        *tag = key + 4 + (colon - dir) + 1;
    }
    return 1;
}

/* Finds a record by reference as given, normalised, or by image id. */
static int lookup(struct image_store *s, const char *key, struct image_record *rec, struct bl_error *err)
{
    struct bl_error e2 = {0};
    if (image_index_get(&s->bs, key, rec, &e2) == 0)
        return 0;
    char dir[PATH_MAX], real[PATH_MAX];
    const char *tag;
    if (split_oci(key, dir, sizeof dir, &tag) && realpath(dir, real)) {
        char norm[PATH_MAX + 300];
        snprintf(norm, sizeof norm, "oci:%s%s%s", real, tag ? ":" : "", tag ? tag : "");
        if (image_index_get(&s->bs, norm, rec, NULL) == 0)
            return 0;
    }
    struct image_ref ref;
    if (image_ref_parse(&ref, key, NULL) == 0) {
        cleanup_free char *norm = image_ref_string(&ref);
        image_ref_free(&ref);
        if (norm && image_index_get(&s->bs, norm, rec, NULL) == 0)
            return 0;
    }
    if (err)
        *err = e2;
    return -e2.code;
}

static int make_record(struct image_record *rec, const char *refstr, const struct pulled *p, struct bl_error *err)
{
    memset(rec, 0, sizeof *rec);
    rec->ref = strdup(refstr);
    rec->manifest = strdup(p->manifest);
    rec->config = strdup(p->m.config.digest);
    rec->id = strdup(p->m.config.digest + 7);
    rec->blobs = calloc(p->n_blobs + 3, sizeof(char *));
    if (!rec->ref || !rec->manifest || !rec->config || !rec->id || !rec->blobs) {
        image_record_free(rec);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    if (strcmp(p->top, p->manifest) != 0)
        rec->blobs[rec->n_blobs++] = strdup(p->top);
    rec->blobs[rec->n_blobs++] = strdup(p->manifest);
    for (size_t i = 0; i < p->n_blobs; i++)
        rec->blobs[rec->n_blobs++] = strdup(p->blobs[i].digest);
    for (size_t i = 0; i < rec->n_blobs; i++)
        if (!rec->blobs[i]) {
            image_record_free(rec);
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        }
    return 0;
}

/* The image's config must be for the platform asked for (a single-platform image for
 * another architecture would only fail inside the guest). Missing fields pass. */
static int check_config_platform(struct image_store *s, const char *config_digest,
                                 const struct image_pull_opts *o, struct bl_error *err)
{
    cleanup_free char *body = NULL;
    size_t len;
    int r = blobstore_read(&s->bs, config_digest, CONFIG_MAX, &body, &len, err);
    if (r < 0)
        return r;
    struct image_config c;
    if ((r = image_config_parse(&c, body, len, err)) < 0)
        return r;
    const char *os, *arch, *variant;
    pull_platform(o, &os, &arch, &variant);
    if ((c.os && strcmp(c.os, os) != 0) || (c.arch && strcmp(c.arch, arch) != 0) ||
        (variant && c.variant && strcmp(c.variant, variant) != 0))
        r = bl_err(err, BOXLITE_ERR_UNSUPPORTED, "image is for %s/%s%s%s, not %s/%s%s%s", c.os ? c.os : "?",
                   c.arch ? c.arch : "?", c.variant ? "/" : "", c.variant ? c.variant : "", os, arch,
                   variant ? "/" : "", variant ? variant : "");
    image_config_free(&c);
    return r;
}

static int check_platform(struct image_store *s, const struct pulled *p, const struct image_pull_opts *o,
                          struct bl_error *err)
{
    return check_config_platform(s, p->m.config.digest, o, err);
}

static int pull_any(struct image_store *s, const char *refstr, const struct image_pull_opts *o,
                    struct image_record *out, char *path, size_t n, struct bl_error *err);

int image_pull(struct image_store *s, const char *refstr, const struct image_pull_opts *o,
               struct image_record *out, struct bl_error *err)
{
    char path[PATH_MAX];
    return pull_any(s, refstr, o, out, path, sizeof path, err);
}

/* ---- the ext4 base ----------------------------------------------------------------- */

static void rootfs_path(struct image_store *s, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/rootfs/%s.ext4", s->bs.root, id);
}

/* Serialises builders of one image (other processes included). */
static int lock_rootfs(struct image_store *s, const char *id, struct bl_error *err)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/rootfs/%s.lock", s->bs.root, id);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", p);
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return bl_errno(err, e, "lock %s", p);
        }
    return fd;
}

/* What the downloads tell the builder, per blob: the partial file, opened again (owned here)
 * while it downloads and the bytes written so far, and whether it is stored. */
struct feed_blob {
    int fd;
    uint64_t written;
    int done;
};

struct layer_feed {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct feed_blob *b;
    size_t n;
    int finished, result; /* the downloads ended, and how */
    int replaced;         /* a blob's bytes started over (a retry, another source) */
};

static void feed_data(void *ud, size_t i, int fd, uint64_t written)
{
    struct layer_feed *f = ud;
    pthread_mutex_lock(&f->mu);
    if (f->b[i].fd < 0) {
        /* A file description of our own: a dup would share the writer's, and with it the
         * partial file's lock, which must go when the writer closes it. */
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        f->b[i].fd = open(p, O_RDONLY | O_CLOEXEC);
    }
    if (written < f->b[i].written)
        f->replaced = 1;
    f->b[i].written = written;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void feed_done(void *ud, size_t i)
{
    struct layer_feed *f = ud;
    pthread_mutex_lock(&f->mu);
    f->b[i].done = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

struct feed_reader {
    struct layer_feed *f;
    size_t i;
};

/* layer_wait_fn for a layer read while it downloads. */
static int feed_wait(void *ud, uint64_t have, uint64_t *avail, int *complete, struct bl_error *err)
{
    struct feed_reader *fr = ud;
    struct layer_feed *f = fr->f;
    struct feed_blob *b = &f->b[fr->i];
    pthread_mutex_lock(&f->mu);
    while (!b->done && !f->finished && b->written <= have)
        pthread_cond_wait(&f->cv, &f->mu);
    *avail = b->written;
    *complete = b->done;
    int failed = !b->done && f->finished && b->written <= have;
    pthread_mutex_unlock(&f->mu);
    return failed ? bl_err(err, BOXLITE_ERR_IMAGE, "the layer's download failed") : 0;
}

/* Waits until blob i is downloading or stored; returns its fd (owned by the feed) or -1 if
 * it is in the store, or -2 if the downloads ended without it. */
static int feed_source(struct layer_feed *f, size_t i)
{
    pthread_mutex_lock(&f->mu);
    while (f->b[i].fd < 0 && !f->b[i].done && !f->finished)
        pthread_cond_wait(&f->cv, &f->mu);
    int fd = f->b[i].fd >= 0 ? f->b[i].fd : f->b[i].done ? -1 : -2;
    pthread_mutex_unlock(&f->mu);
    return fd;
}

static int feed_init(struct layer_feed *f, size_t n)
{
    memset(f, 0, sizeof *f);
    if (!(f->b = calloc(n, sizeof *f->b)))
        return -1;
    f->n = n;
    for (size_t i = 0; i < n; i++)
        f->b[i].fd = -1;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    return 0;
}

static void feed_free(struct layer_feed *f)
{
    for (size_t i = 0; f->b && i < f->n; i++)
        if (f->b[i].fd >= 0)
            close(f->b[i].fd);
    free(f->b);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

/* The config's DiffIDs, one per layer (OCI image-spec config.md: rootfs.diff_ids). */
static int load_diff_ids(struct image_store *s, const struct pulled *p, struct image_config *c, struct bl_error *err)
{
    cleanup_free char *body = NULL;
    size_t len;
    int r = blobstore_read(&s->bs, p->m.config.digest, CONFIG_MAX, &body, &len, err);
    if (r == 0)
        r = image_config_parse(c, body, len, err);
    if (r < 0)
        return bl_err_prefix(err, "image config %s", p->m.config.digest);
    if (c->n_diff_ids != p->m.n_layers) {
        image_config_free(c);
        return bl_err(err, BOXLITE_ERR_IMAGE, "image config %s lists %zu layer DiffIDs for %zu layers",
                      p->m.config.digest, c->n_diff_ids, p->m.n_layers);
    }
    for (size_t i = 0; i < c->n_diff_ids; i++)
        if (!image_digest_valid(c->diff_ids[i])) {
            r = bl_err(err, BOXLITE_ERR_IMAGE, "image config %s: DiffID %zu is not a sha256 digest",
                       p->m.config.digest, i);
            image_config_free(c);
            return r;
        }
    return 0;
}

/* Builds the ext4 base at path from the layers (blob indexes 1..n of p), each applied to the
 * image straight from its stream (ext4build.h). With a feed, each layer is read while it
 * downloads, as soon as the layers below it are in; otherwise they are all in the store
 * already. Every layer's bytes are checked against its digest and its tar against the
 * config's DiffID as it is read. */
static int build_base(struct image_store *s, const struct pulled *p, struct layer_feed *feed, uint64_t headroom,
                      const char *path, struct bl_error *err)
{
    struct image_config cfg = {0};
    if (feed && feed_source(feed, 0) == -2)
        return -BOXLITE_ERR_IMAGE; /* the fetch failed; its error is reported */
    if (feed) {
        /* The config is small and read whole from the store. */
        pthread_mutex_lock(&feed->mu);
        while (!feed->b[0].done && !feed->finished)
            pthread_cond_wait(&feed->cv, &feed->mu);
        int ok = feed->b[0].done;
        pthread_mutex_unlock(&feed->mu);
        if (!ok)
            return -BOXLITE_ERR_IMAGE;
    }
    int r = load_diff_ids(s, p, &cfg, err);
    if (r < 0)
        return r;
    /* The image's first size: layers hold about three times their compressed bytes or
     * less (it grows if they hold more, shrinks at the end if less), plus the headroom. */
    uint64_t compressed = 0;
    headroom = headroom ? headroom : DEFAULT_HEADROOM;
    for (size_t i = 0; i < p->m.n_layers; i++)
        compressed += p->m.layers[i].size > 0 ? (uint64_t)p->m.layers[i].size : 0;
    struct ext4b *b = NULL;
    if ((r = ext4b_create(&b, path, compressed * 3 + headroom, err)) < 0) {
        image_config_free(&cfg);
        return r;
    }
    for (size_t i = 0; i < p->m.n_layers; i++) {
        const struct oci_descriptor *d = &p->m.layers[i];
        struct feed_reader fr = {.f = feed, .i = i + 1};
        int fd = feed ? feed_source(feed, i + 1) : -1;
        if (fd == -2) {
            r = -BOXLITE_ERR_IMAGE; /* the fetch failed; its error is reported */
            goto out;
        }
        struct layer_stream *ls = NULL;
        cleanup_close int stored = -1;
        if (fd < 0) {
            char bp[PATH_MAX];
            blobstore_path(&s->bs, d->digest, bp, sizeof bp);
            if ((stored = open(bp, O_RDONLY | O_CLOEXEC)) < 0) {
                r = bl_errno(err, errno, "open layer %s", bp);
                goto out;
            }
            posix_fadvise(stored, 0, 0, POSIX_FADV_SEQUENTIAL);
            r = layer_stream_open_fd(&ls, stored, NULL, NULL, err);
        } else {
            r = layer_stream_open_fd(&ls, fd, feed_wait, &fr, err);
        }
        if (r == 0)
            r = ext4b_apply_stream(b, ls, d->digest, cfg.diff_ids[i], err);
        layer_stream_free(ls);
        if (r < 0) {
            bl_err_prefix(err, "layer %zu (%s)", i, d->digest);
            goto out;
        }
    }
    r = ext4b_finish(b, headroom, NULL, err);
out:
    ext4b_free(b);
    image_config_free(&cfg);
    return r;
}

/* An image refused for what its blobs hold (a layer unlike its DiffID, a tar that is not
 * one, another platform) keeps nothing: its blobs that no other image needs go. */
static void drop_pulled(struct image_store *s, const struct pulled *p)
{
    const char *d[p->n_blobs + 2];
    size_t n = 0;
    d[n++] = p->top;
    if (strcmp(p->top, p->manifest) != 0)
        d[n++] = p->manifest;
    for (size_t i = 0; i < p->n_blobs; i++)
        d[n++] = p->blobs[i].digest;
    blobstore_drop_unreferenced(&s->bs, d, n);
}

static int load_pulled(struct image_store *s, const struct image_record *rec, struct pulled *p, struct bl_error *err)
{
    memset(p, 0, sizeof *p);
    cleanup_free char *body = NULL;
    size_t len;
    int r = blobstore_read(&s->bs, rec->manifest, 4u << 20, &body, &len, err);
    if (r < 0)
        return r;
    snprintf(p->manifest, sizeof p->manifest, "%s", rec->manifest);
    snprintf(p->top, sizeof p->top, "%s", rec->manifest);
    return pulled_from_manifest(p, body, len, err);
}

int image_prepare(struct image_store *s, const char *key, const struct image_pull_opts *o, char *path,
                  size_t n, struct bl_error *err)
{
    struct image_record rec;
    int r = lookup(s, key, &rec, err);
    if (r < 0)
        return r;
    /* The record a reference names is the platform last pulled under it (as docker pull
     * --platform retags): another platform is not there, and the caller pulls it. */
    if (o && rec.config && check_config_platform(s, rec.config, o, err) == -BOXLITE_ERR_UNSUPPORTED) {
        image_record_free(&rec);
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return bl_err(err, BOXLITE_ERR_NOT_FOUND, "%s: %s", key, why);
    }
    bl_err_clear(err);
    rootfs_path(s, rec.id, path, n);
    if (access(path, F_OK) == 0) {
        image_record_free(&rec);
        return 0;
    }
    cleanup_close int hold = blobstore_hold(&s->bs, err);
    if (hold < 0) {
        image_record_free(&rec);
        return hold;
    }
    int lk = lock_rootfs(s, rec.id, err);
    if (lk < 0) {
        image_record_free(&rec);
        return lk;
    }
    if (access(path, F_OK) != 0) {
        struct pulled p;
        r = load_pulled(s, &rec, &p, err);
        if (r == 0)
            r = build_base(s, &p, NULL, o ? o->headroom : 0, path, err);
        if (r == -BOXLITE_ERR_IMAGE && image_index_remove(&s->bs, rec.ref, NULL) == 0)
            drop_pulled(s, &p);
        pulled_free(&p);
        if (r < 0)
            bl_err_prefix(err, "prepare %s", key);
    }
    close(lk);
    image_record_free(&rec);
    return r;
}

/* The builder runs beside the downloads, which keep the calling thread: the progress
 * callback is called there, as the API promises. */
struct build_job {
    struct image_store *s;
    const struct pulled *p;
    struct layer_feed *feed;
    uint64_t headroom;
    const char *path;
    int result;
    struct bl_error err;
};

static void *build_thread(void *arg)
{
    struct build_job *j = arg;
    j->result = build_base(j->s, j->p, j->feed, j->headroom, j->path, &j->err);
    return NULL;
}

/* Downloads, and marks the feed finished so that a builder waiting for a layer that will
 * not come stops. */
static int fetch_feeding(struct pull_plan *plan, struct image_store *s, const struct pulled *p,
                         struct layer_feed *feed, struct bl_error *err)
{
    struct registry_fetch_events ev = {.on_data = feed_data, .on_done = feed_done, .ud = feed};
    int r = pull_plan_fetch(plan, s, p, &ev, err);
    pthread_mutex_lock(&feed->mu);
    feed->finished = 1;
    feed->result = r;
    pthread_cond_broadcast(&feed->cv);
    pthread_mutex_unlock(&feed->mu);
    return r;
}

/* What this pull of ref needs; partial downloads an earlier, unfinished pull of ref left
 * for blobs no longer needed go now (blobstore_pull_note). */
static void note_pull(struct image_store *s, const char *ref, const struct pulled *p)
{
    const char *d[p->n_blobs + 1];
    int64_t sz[p->n_blobs + 1];
    for (size_t i = 0; i < p->n_blobs; i++) {
        d[i] = p->blobs[i].digest;
        sz[i] = p->blobs[i].size;
    }
    blobstore_pull_note(&s->bs, ref, d, sz, p->n_blobs);
}

/* A pull of one full reference: resolved, fetched with the ext4 base built while the
 * layers download, checked, recorded. */
static int pull_one(struct image_store *s, const char *refstr, const struct image_pull_opts *o,
                    struct image_record *out, char *path, size_t n, struct bl_error *err)
{
    struct pull_plan *plan = NULL;
    struct pulled p = {0};
    int lk = -1;
    int r = pull_plan_open(&plan, refstr, o, err);
    if (r < 0 || (r = pull_plan_resolve(plan, s, &p, err)) < 0)
        goto out;
    if (o && o->resolved)
        o->resolved(o->resolved_ud, p.m.n_layers);
    note_pull(s, pull_plan_ref(plan), &p);
    const char *id = p.m.config.digest + 7;
    rootfs_path(s, id, path, n);
    if (access(path, F_OK) == 0) {
        r = pull_plan_fetch(plan, s, &p, NULL, err);
    } else {
        if ((lk = lock_rootfs(s, id, err)) < 0) {
            r = lk;
            goto out;
        }
        struct layer_feed feed;
        if (feed_init(&feed, p.n_blobs) < 0) {
            r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
            goto out;
        }
        struct build_job job = {.s = s, .p = &p, .feed = &feed, .headroom = o ? o->headroom : 0, .path = path};
        pthread_t th;
        if (pthread_create(&th, NULL, build_thread, &job) != 0) {
            /* No second thread: one step after the other. */
            if ((r = pull_plan_fetch(plan, s, &p, NULL, err)) == 0)
                r = build_base(s, &p, NULL, o ? o->headroom : 0, path, err);
        } else {
            r = fetch_feeding(plan, s, &p, &feed, err);
            pthread_join(th, NULL);
            if (r < 0) {
                if (job.result == 0)
                    unlink(path); /* cannot happen: every layer was needed; be safe */
            } else if (job.result < 0 && job.err.code == BOXLITE_ERR_IMAGE && feed.replaced) {
                /* A download restarted under the builder (a retry, another source), and a
                 * layer it read did not verify, yet every blob is now stored verified:
                 * build once more from the store. A real mismatch fails again. */
                r = build_base(s, &p, NULL, o ? o->headroom : 0, path, err);
            } else if (job.result < 0) {
                *err = job.err;
                r = job.result;
            }
        }
        feed_free(&feed);
    }
    if (r == 0 && (r = check_platform(s, &p, o, err)) < 0 && lk >= 0)
        unlink(path); /* built by this call for an image we refuse */
    if (r == -BOXLITE_ERR_IMAGE || r == -BOXLITE_ERR_UNSUPPORTED)
        drop_pulled(s, &p);
    if (r == 0 || r == -BOXLITE_ERR_IMAGE || r == -BOXLITE_ERR_UNSUPPORTED)
        blobstore_pull_forget(&s->bs, pull_plan_ref(plan)); /* ended: nothing to resume */
    if (r == 0 && (r = make_record(out, pull_plan_ref(plan), &p, err)) == 0)
        r = image_index_put(&s->bs, out, err);
out:
    if (r < 0)
        image_record_free(out);
    if (lk >= 0)
        close(lk);
    pulled_free(&p);
    pull_plan_close(plan);
    return r;
}

/* A reference, or a short name through the search list: the first registry that has it.
 * Every pull builds the ext4 base as it downloads (unless it is there already): that is
 * where each layer is checked against its DiffID, so an image is refused at pull time. */
static int pull_any(struct image_store *s, const char *refstr, const struct image_pull_opts *o,
                    struct image_record *out, char *path, size_t n, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    char dir[PATH_MAX];
    const char *tag;
    if (split_oci(refstr, dir, sizeof dir, &tag)) {
        int r = image_import_oci_layout(s, dir, tag, o, out, err);
        if (r == 0 && (r = image_prepare(s, out->id, o, path, n, err)) < 0)
            image_record_free(out);
        return r;
    }
    cleanup_close int hold = blobstore_hold(&s->bs, err);
    if (hold < 0)
        return hold;
    char **cand = NULL;
    int r = pull_candidates(refstr, o, &cand, err);
    if (r < 0)
        return r;
    char tried[1024] = "";
    for (char **c = cand; *c; c++) {
        r = pull_one(s, *c, o, out, path, n, err);
        if (r == 0) {
            /* A short name is never resolved silently. */
            if (!image_ref_has_registry(refstr))
                pull_notice(o, "%s resolved to %s%s", refstr, out->ref,
                            strcmp(*c, refstr) ? " (registries search list)" : "");
            /* Later uses of the short name find what the search list found. */
            if (strcmp(*c, refstr) != 0)
                r = image_index_alias(&s->bs, refstr, out->ref, err);
            break;
        }
        /* Not there (or not for us): the next registry of the list may have it. */
        if (!c[1] || (err->code != BOXLITE_ERR_NOT_FOUND && err->code != BOXLITE_ERR_AUTH &&
                      err->code != BOXLITE_ERR_NETWORK))
            break;
        snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s%s: %s", tried[0] ? "; " : "", *c, err->msg);
    }
    if (r < 0 && tried[0])
        bl_err_prefix(err, "%s; then", tried);
    if (r < 0)
        bl_err_prefix(err, "pull %s", refstr);
    pull_candidates_free(cand);
    return r;
}

int image_pull_prepare(struct image_store *s, const char *refstr, const struct image_pull_opts *o,
                       struct image_record *out, char *path, size_t n, struct bl_error *err)
{
    return pull_any(s, refstr, o, out, path, n, err);
}

/* ---- other sources ------------------------------------------------------------------- */

static int read_file(const char *path, size_t max, char **out, size_t *len, struct bl_error *err)
{
    *out = NULL;
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "stat %s", path);
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
        return bl_err(err, BOXLITE_ERR_IMAGE, "%s: not a regular file of at most %zu bytes", path, max);
    char *b = malloc((size_t)st.st_size + 1);
    if (!b)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    ssize_t got = pread(fd, b, (size_t)st.st_size, 0);
    if (got != st.st_size) {
        free(b);
        return bl_errno(err, got < 0 ? errno : EIO, "read %s", path);
    }
    b[got] = 0;
    *out = b;
    *len = (size_t)got;
    return 0;
}

/* Reads blob digest from the layout, checks it and stores it. */
static int layout_blob(struct image_store *s, const char *dir, const char *digest, int64_t size, char **body,
                       size_t *len, struct bl_error *err)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/blobs/sha256/%s", dir, digest + 7);
    int r = blobstore_import_file(&s->bs, digest, size, p, err);
    if (r < 0)
        return bl_err_prefix(err, "OCI layout %s", dir);
    if (body)
        return blobstore_read(&s->bs, digest, 4u << 20, body, len, err);
    return 0;
}

int image_import_oci_layout(struct image_store *s, const char *dir, const char *tag,
                            const struct image_pull_opts *o, struct image_record *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    char real[PATH_MAX], p[PATH_MAX];
    if (!realpath(dir, real))
        return bl_errno(err, errno, "OCI layout %s", dir);
    cleanup_close int hold = blobstore_hold(&s->bs, err);
    if (hold < 0)
        return hold;
    snprintf(p, sizeof p, "%s/index.json", real);
    cleanup_free char *idx = NULL;
    size_t len;
    int r = read_file(p, 4u << 20, &idx, &len, err);
    if (r < 0)
        return bl_err_prefix(err, "OCI layout %s", dir);
    json_t *root = json_loadb(idx, len, 0, NULL);
    json_t *list = json_object_get(root, "manifests");
    if (!json_is_array(list)) {
        json_decref(root);
        return bl_err(err, BOXLITE_ERR_IMAGE, "OCI layout %s: index.json has no manifests", dir);
    }
    json_t *pick = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *name = json_string_value(json_object_get(json_object_get(v, "annotations"), "org.opencontainers.image.ref.name"));
        if (tag ? (name && !strcmp(name, tag)) : 1) {
            if (!tag && pick) {
                json_decref(root);
                return bl_err(err, BOXLITE_ERR_INVALID, "OCI layout %s holds several images: name a tag", dir);
            }
            pick = v;
        }
    }
    const char *digest = json_string_value(json_object_get(pick, "digest"));
    json_int_t size = json_integer_value(json_object_get(pick, "size"));
    struct pulled pl = {0};
    if (!pick || !image_digest_valid(digest)) {
        json_decref(root);
        return bl_err(err, BOXLITE_ERR_NOT_FOUND, "OCI layout %s: no image%s%s", dir, tag ? " tagged " : "", tag ? tag : "");
    }
    snprintf(pl.top, sizeof pl.top, "%s", digest);
    json_decref(root);
    cleanup_free char *body = NULL;
    if ((r = layout_blob(s, real, pl.top, size, &body, &len, err)) < 0)
        return r;
    int kind = oci_detect_kind(body, len, NULL, err);
    if (kind < 0)
        return bl_err_prefix(err, "OCI layout %s", dir);
    snprintf(pl.manifest, sizeof pl.manifest, "%s", pl.top);
    if (kind == OCI_KIND_INDEX) {
        struct oci_index ix;
        if ((r = oci_index_parse(&ix, body, len, err)) < 0)
            return bl_err_prefix(err, "OCI layout %s", dir);
        const char *os, *arch, *variant;
        pull_platform(o, &os, &arch, &variant);
        int sel = oci_index_select(&ix, os, arch, variant, err);
        if (sel >= 0) {
            snprintf(pl.manifest, sizeof pl.manifest, "%s", ix.manifests[sel].digest);
            size = ix.manifests[sel].size;
        }
        oci_index_free(&ix);
        if (sel < 0)
            return bl_err_prefix(err, "OCI layout %s", dir);
        free(body);
        body = NULL;
        if ((r = layout_blob(s, real, pl.manifest, size, &body, &len, err)) < 0)
            return r;
    }
    if ((r = pulled_from_manifest(&pl, body, len, err)) < 0) {
        pulled_free(&pl);
        return bl_err_prefix(err, "OCI layout %s", dir);
    }
    for (size_t k = 0; k < pl.n_blobs && r == 0; k++)
        r = layout_blob(s, real, pl.blobs[k].digest, pl.blobs[k].size, NULL, NULL, err);
    if (r == 0 && (r = check_platform(s, &pl, o, err)) < 0)
        bl_err_prefix(err, "OCI layout %s", dir);
    char refstr[PATH_MAX + 300];
    snprintf(refstr, sizeof refstr, "oci:%s%s%s", real, tag ? ":" : "", tag ? tag : "");
    if (r == 0 && (r = make_record(out, refstr, &pl, err)) == 0)
        r = image_index_put(&s->bs, out, err);
    if (r < 0)
        image_record_free(out);
    pulled_free(&pl);
    return r;
}

int image_prepare_dir(struct image_store *s, const char *dir, uint64_t headroom, char *path, size_t n,
                      struct bl_error *err)
{
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return bl_errno(err, errno, "rootfs directory %s", dir);
    struct stat st;
    if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
        return bl_err(err, BOXLITE_ERR_INVALID, "rootfs %s is not a directory", dir);
    char d[DIGEST_LEN + 1];
    blob_digest(real, strlen(real), d);
    snprintf(path, n, "%s/rootfs/dir-%s.ext4", s->bs.root, d + 7);
    int r = rootfs_build_ext4(real, path, headroom ? headroom : DEFAULT_HEADROOM, NULL, err);
    return r < 0 ? bl_err_prefix(err, "rootfs directory %s", dir) : 0;
}

int image_get_config(struct image_store *s, const char *key, struct image_config *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    struct image_record rec;
    int r = lookup(s, key, &rec, err);
    if (r < 0)
        return r;
    cleanup_free char *body = NULL;
    size_t len;
    r = blobstore_read(&s->bs, rec.config, CONFIG_MAX, &body, &len, err);
    if (r == 0)
        r = image_config_parse(out, body, len, err);
    if (r < 0)
        bl_err_prefix(err, "image %s", key);
    image_record_free(&rec);
    return r;
}

int image_remove(struct image_store *s, const char *ref, struct bl_error *err)
{
    struct image_record rec;
    int r = lookup(s, ref, &rec, err);
    if (r < 0)
        return r;
    r = image_index_remove(&s->bs, rec.ref, err);
    image_record_free(&rec);
    return r;
}

int image_gc(struct image_store *s, const char *const *keep_bases, struct gc_stats *st, struct bl_error *err)
{
    return blobstore_gc(&s->bs, keep_bases, st, err);
}
