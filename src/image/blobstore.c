// SPDX-License-Identifier: Apache-2.0
#include "image/blobstore.h"

#include "common/cleanup.h"
#include "common/io.h"
#include "common/sha256.h"
#include "image/ref.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include "common/lazy_crypto.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STALE_TMP_SECONDS 3600
#define STALE_PARTIAL_SECONDS (24 * 3600)

int blobstore_open(struct blobstore *bs, const char *home, struct bl_error *err)
{
    memset(bs, 0, sizeof *bs);
    if (!home || !*home)
        return bl_err(err, BOXLITE_ERR_INVALID, "image store: no home directory");
    if (snprintf(bs->root, sizeof bs->root, "%s/images", home) >= (int)sizeof bs->root)
        return bl_err(err, BOXLITE_ERR_INVALID, "image store: home path too long");
    static const char *const sub[] = {"blobs/sha256", "tmp", "rootfs"};
    for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", bs->root, sub[i]);
        if (mkdir_p(p, 0755, err) < 0)
            return bl_err_prefix(err, "image store");
    }
    /* Absolute from here on: overlays name their base by this path. */
    char real[PATH_MAX];
    if (!realpath(bs->root, real))
        return bl_errno(err, errno, "image store %s", bs->root);
    if (snprintf(bs->root, sizeof bs->root, "%s", real) >= (int)sizeof bs->root)
        return bl_err(err, BOXLITE_ERR_INVALID, "image store: home path too long");
    return 0;
}

void blobstore_path(const struct blobstore *bs, const char *digest, char *buf, size_t n)
{
    snprintf(buf, n, "%s/blobs/sha256/%s", bs->root, digest + 7);
}

int blobstore_has(const struct blobstore *bs, const char *digest, int64_t size)
{
    if (!image_digest_valid(digest))
        return 0;
    char p[PATH_MAX];
    blobstore_path(bs, digest, p, sizeof p);
    struct stat st;
    if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    return size < 0 || st.st_size == size;
}

int blobstore_mktemp(const struct blobstore *bs, const char *prefix, int dir, char *out, size_t n,
                     int *fd, struct bl_error *err)
{
    if (snprintf(out, n, "%s/tmp/%sXXXXXX", bs->root, prefix) >= (int)n)
        return bl_err(err, BOXLITE_ERR_INVALID, "temp path too long");
    if (dir) {
        if (!mkdtemp(out))
            return bl_errno(err, errno, "mkdtemp %s", out);
        return 0;
    }
    int f = mkostemp(out, O_CLOEXEC);
    if (f < 0)
        return bl_errno(err, errno, "mkstemp %s", out);
    *fd = f;
    return 0;
}

static void hex_of(const unsigned char *md, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[64] = 0;
}

void blob_digest(const void *data, size_t len, char out[DIGEST_LEN + 1])
{
    unsigned char md[32];
    sha256(data, len, md); /* a manifest or a config in memory: small, once */
    memcpy(out, "sha256:", 7);
    hex_of(md, out + 7);
}

/* <root>/tmp/partial-<hex>-<size>: one name per blob and size, so a download killed midway
 * is found again by the next pull of the same blob, and a registry that now gives the blob
 * another size starts a new file. */
static void partial_path(const struct blobstore *bs, const char *digest, int64_t size, char *out, size_t n)
{
    if (size >= 0)
        snprintf(out, n, "%s/tmp/partial-%s-%lld", bs->root, digest + 7, (long long)size);
    else
        snprintf(out, n, "%s/tmp/partial-%s-u", bs->root, digest + 7);
}

/* Removes a partial file unless a writer holds it (locked, then unlinked, so no other
 * process resumes from it meanwhile). */
static void drop_partial_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        unlinkat(dirfd, name, 0);
    close(fd);
}

/* Partial downloads of digest under another size than keep_size (all sizes if keep_size
 * is INT64_MIN): the registry now describes the blob otherwise, so those bytes will never
 * be resumed. Dropped at once rather than left for gc. */
static void drop_partials(const struct blobstore *bs, const char *digest, int64_t keep_size)
{
    char dir[PATH_MAX], prefix[100], keep[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tmp", bs->root);
    snprintf(prefix, sizeof prefix, "partial-%s-", digest + 7);
    partial_path(bs, digest, keep_size, keep, sizeof keep);
    const char *keep_name = strrchr(keep, '/') + 1;
    size_t pl = strlen(prefix);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, prefix, pl) != 0)
            continue;
        if (keep_size != INT64_MIN && !strcmp(de->d_name, keep_name))
            continue;
        drop_partial_at(dirfd(d), de->d_name);
    }
    if (d)
        closedir(d);
}

/* <root>/tmp/pullnote-<sha256 of ref>: the blobs ("<digest> <size>" lines) that the
 * last pull of ref needed. */
static void pull_note_path(const struct blobstore *bs, const char *ref, char *out, size_t n)
{
    char d[DIGEST_LEN + 1];
    blob_digest(ref, strlen(ref), d);
    snprintf(out, n, "%s/tmp/pullnote-%s", bs->root, d + 7);
}

void blobstore_pull_note(const struct blobstore *bs, const char *ref, const char *const *digests,
                         const int64_t *sizes, size_t n)
{
    char note[PATH_MAX], dir[PATH_MAX];
    pull_note_path(bs, ref, note, sizeof note);
    snprintf(dir, sizeof dir, "%s/tmp", bs->root);
    FILE *f = fopen(note, "re");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char line[160];
    while (f && dfd >= 0 && fgets(line, sizeof line, f)) {
        char digest[DIGEST_LEN + 2];
        long long size;
        if (sscanf(line, "%72s %lld", digest, &size) != 2 || !image_digest_valid(digest))
            continue;
        int needed = 0;
        for (size_t i = 0; i < n && !needed; i++)
            needed = sizes[i] == size && !strcmp(digests[i], digest);
        if (needed)
            continue;
        /* The earlier attempt's blob that this one does not need: the tag moved, or the
         * registry changed it. Its partial download will never be resumed. */
        char p[PATH_MAX];
        partial_path(bs, digest, size, p, sizeof p);
        drop_partial_at(dfd, strrchr(p, '/') + 1);
    }
    if (f)
        fclose(f);
    if (dfd >= 0)
        close(dfd);
    /* The new note, whole or not at all. */
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", note);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return;
    FILE *o = fdopen(fd, "w");
    if (!o) {
        close(fd);
        unlink(tmp);
        return;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(o, "%s %lld\n", digests[i], (long long)sizes[i]);
    if (fclose(o) != 0 || rename(tmp, note) < 0)
        unlink(tmp);
}

void blobstore_pull_forget(const struct blobstore *bs, const char *ref)
{
    char note[PATH_MAX];
    pull_note_path(bs, ref, note, sizeof note);
    unlink(note);
}

/* Hashes what an earlier download left in the file, so the digest carries on from there. */
static int rehash_prefix(struct blob_writer *w, struct bl_error *err)
{
    struct stat st;
    if (fstat(w->fd, &st) < 0)
        return bl_errno(err, errno, "stat %s", w->tmp);
    if (w->expected >= 0 && st.st_size > w->expected) {
        if (ftruncate(w->fd, 0) < 0)
            return bl_errno(err, errno, "truncate %s", w->tmp);
        st.st_size = 0;
    }
    cleanup_free char *buf = st.st_size ? malloc(1u << 20) : NULL;
    if (st.st_size && !buf)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int64_t off = 0;
    while (off < st.st_size) {
        ssize_t n = pread(w->fd, buf, 1u << 20, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* shorter than fstat said: keep what was read */
        EVP_DigestUpdate(w->md, buf, (size_t)n);
        off += n;
    }
    if (ftruncate(w->fd, off) < 0 || lseek(w->fd, off, SEEK_SET) < 0)
        return bl_errno(err, errno, "resume %s", w->tmp);
    w->written = w->resumed_from = off;
    return 0;
}

int blob_writer_open(struct blob_writer *w, const struct blobstore *bs, const char *digest,
                     int64_t expected_size, struct bl_error *err)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    if (!image_digest_valid(digest))
        return bl_err(err, BOXLITE_ERR_IMAGE, "invalid digest \"%.80s\"", digest);
    w->bs = bs;
    snprintf(w->digest, sizeof w->digest, "%s", digest);
    w->expected = expected_size;
    partial_path(bs, digest, expected_size, w->tmp, sizeof w->tmp);
    for (;;) {
        w->fd = open(w->tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (w->fd < 0) {
            int r = bl_errno(err, errno, "open %s", w->tmp);
            w->tmp[0] = 0;
            return r;
        }
        /* One writer per blob across processes: the others wait for it (the shared work). */
        if (flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            close(w->fd);
            w->fd = -1;
            w->tmp[0] = 0;
            if (e == EWOULDBLOCK)
                return BLOB_WRITER_BUSY;
            return bl_errno(err, e, "lock partial blob %s", digest);
        }
        /* The lock is ours only if the file is still the one at that name: its holder may
         * have renamed it into the store, or unlinked it, between our open and our lock. */
        struct stat a, b;
        if (fstat(w->fd, &a) == 0 && stat(w->tmp, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            break;
        close(w->fd);
        w->fd = -1;
    }
    drop_partials(bs, digest, expected_size);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        blob_writer_abort(w);
        return lazy_crypto() ? bl_err(err, BOXLITE_ERR_INTERNAL, "sha256 init failed")
                             : lazylib_null_err(&lazy_crypto_lib, err);
    }
    w->md = md;
    int r = rehash_prefix(w, err);
    if (r < 0)
        blob_writer_abort(w);
    return r;
}

int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct bl_error *err)
{
    if (w->expected >= 0 && w->written + (int64_t)len > w->expected)
        return bl_err(err, BOXLITE_ERR_IMAGE, "blob %s: more bytes than the %lld its descriptor says",
                      w->digest, (long long)w->expected);
    EVP_DigestUpdate(w->md, buf, len);
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return bl_errno(err, errno, "write blob %s", w->digest);
        }
        p += n;
        len -= (size_t)n;
        w->written += n;
    }
    return 0;
}

int blob_writer_restart(struct blob_writer *w, struct bl_error *err)
{
    if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
        return bl_errno(err, errno, "truncate %s", w->tmp);
    w->written = w->resumed_from = 0;
    if (!EVP_DigestInit_ex(w->md, EVP_sha256(), NULL))
        return bl_err(err, BOXLITE_ERR_INTERNAL, "sha256 init failed");
    return 0;
}

void blob_writer_abort(struct blob_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd); /* releases the lock; the partial file stays for a resume */
        w->fd = -1;
    }
    w->tmp[0] = 0;
    EVP_MD_CTX_free(w->md);
    w->md = NULL;
}

void blob_writer_discard(struct blob_writer *w)
{
    /* Unlinked while still locked, so no other process resumes from these bytes. */
    if (w->tmp[0])
        unlink(w->tmp);
    blob_writer_abort(w);
}

int blob_writer_commit(struct blob_writer *w, struct bl_error *err)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    char got[DIGEST_LEN + 1] = "sha256:";
    if (w->expected >= 0 && w->written != w->expected) {
        int r = bl_err(err, BOXLITE_ERR_IMAGE, "blob %s: truncated: got %lld of %lld bytes", w->digest,
                       (long long)w->written, (long long)w->expected);
        blob_writer_abort(w); /* a true prefix: kept for a resume */
        return r;
    }
    EVP_DigestFinal_ex(w->md, md, &mdlen);
    hex_of(md, got + 7);
    if (strcmp(got, w->digest) != 0) {
        int r = bl_err(err, BOXLITE_ERR_IMAGE, "blob %s: content does not match its digest (got %s)",
                       w->digest, got);
        blob_writer_discard(w);
        return r;
    }
    char dst[PATH_MAX];
    blobstore_path(w->bs, w->digest, dst, sizeof dst);
    if (rename(w->tmp, dst) < 0) {
        int r = bl_errno(err, errno, "store blob %s", w->digest);
        blob_writer_abort(w);
        return r;
    }
    w->tmp[0] = 0;
    blob_writer_abort(w); /* the lock goes last: a waiter then finds the blob stored */
    return 0;
}

int blobstore_put(const struct blobstore *bs, const char *expect, const void *data, size_t len,
                  char digest_out[DIGEST_LEN + 1], struct bl_error *err)
{
    char d[DIGEST_LEN + 1];
    blob_digest(data, len, d);
    if (expect && strcmp(expect, d) != 0)
        return bl_err(err, BOXLITE_ERR_IMAGE, "blob %.80s: content does not match its digest (got %s)", expect, d);
    if (digest_out)
        memcpy(digest_out, d, sizeof d);
    if (blobstore_has(bs, d, (int64_t)len))
        return 0;
    struct blob_writer w;
    int r;
    /* Another process storing the same small blob: it is done in a moment. */
    for (int tries = 0; (r = blob_writer_open(&w, bs, d, (int64_t)len, err)) == BLOB_WRITER_BUSY; tries++) {
        if (blobstore_has(bs, d, (int64_t)len))
            return 0;
        if (tries == 1500)
            return bl_err(err, BOXLITE_ERR_IO, "blob %s: another process has been writing it for 30 s", d);
        usleep(20000);
    }
    if (r < 0)
        return r;
    if ((w.written && (r = blob_writer_restart(&w, err)) < 0) || (r = blob_writer_write(&w, data, len, err)) < 0) {
        blob_writer_discard(&w);
        return r;
    }
    return blob_writer_commit(&w, err);
}

int blobstore_read(const struct blobstore *bs, const char *digest, size_t max, char **data,
                   size_t *len, struct bl_error *err)
{
    *data = NULL;
    *len = 0;
    if (!image_digest_valid(digest))
        return bl_err(err, BOXLITE_ERR_IMAGE, "invalid digest \"%.80s\"", digest);
    char p[PATH_MAX];
    blobstore_path(bs, digest, p, sizeof p);
    cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "blob %s", digest);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "stat blob %s", digest);
    if ((uint64_t)st.st_size > max)
        return bl_err(err, BOXLITE_ERR_IMAGE, "blob %s: %lld bytes, more than %zu allowed", digest,
                      (long long)st.st_size, max);
    cleanup_free char *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return bl_errno(err, n < 0 ? errno : EIO, "read blob %s", digest);
        got += (size_t)n;
    }
    buf[got] = 0;
    char d[DIGEST_LEN + 1];
    blob_digest(buf, got, d);
    if (strcmp(d, digest) != 0)
        return bl_err(err, BOXLITE_ERR_IMAGE, "blob %s is corrupt in the store (sha256 %s)", digest, d);
    *data = steal_ptr(&buf);
    *len = got;
    return 0;
}

int blobstore_import_file(const struct blobstore *bs, const char *digest, int64_t size,
                          const char *path, struct bl_error *err)
{
    if (blobstore_has(bs, digest, size))
        return 0;
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", path);
    struct blob_writer w;
    int r = blob_writer_open(&w, bs, digest, size, err);
    if (r < 0)
        return r;
    enum { CHUNK = 1 << 20 };
    cleanup_free char *buf = malloc(CHUNK);
    if (!buf) {
        blob_writer_abort(&w);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            blob_writer_abort(&w);
            return bl_errno(err, errno, "read %s", path);
        }
        if (n == 0)
            break;
        if ((r = blob_writer_write(&w, buf, (size_t)n, err)) < 0) {
            blob_writer_abort(&w);
            return r;
        }
    }
    return blob_writer_commit(&w, err);
}

/* ---- the index ------------------------------------------------------------------- */

void image_record_free(struct image_record *r)
{
    if (!r)
        return;
    free(r->ref);
    free(r->manifest);
    free(r->config);
    free(r->id);
    for (size_t i = 0; i < r->n_blobs; i++)
        free(r->blobs[i]);
    free(r->blobs);
    memset(r, 0, sizeof *r);
}

static int lock_file(const struct blobstore *bs, const char *name, int op, struct bl_error *err)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", bs->root, name);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", p);
    while (flock(fd, op) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return bl_errno(err, e, "lock %s", p);
        }
    }
    return fd;
}

static int lock_index(const struct blobstore *bs, int op, struct bl_error *err)
{
    return lock_file(bs, "index.lock", op, err);
}

int blobstore_hold(const struct blobstore *bs, struct bl_error *err)
{
    return lock_file(bs, "gc.lock", LOCK_SH, err);
}

/* The whole index (an empty one if there is none yet). */
static json_t *index_load(const struct blobstore *bs, struct bl_error *err)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/index.json", bs->root);
    json_error_t je;
    json_t *root = json_load_file(p, 0, &je);
    if (!root) {
        if (access(p, F_OK) < 0 && errno == ENOENT) {
            root = json_pack("{s:i,s:{}}", "version", 1, "images");
            if (!root)
                bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
            return root;
        }
        bl_err(err, BOXLITE_ERR_IO, "image index %s: %s", p, je.text);
        return NULL;
    }
    if (!json_is_object(json_object_get(root, "images"))) {
        json_decref(root);
        bl_err(err, BOXLITE_ERR_IO, "image index %s: no images object", p);
        return NULL;
    }
    return root;
}

static int index_save(const struct blobstore *bs, json_t *root, struct bl_error *err)
{
    char p[PATH_MAX], tmp[PATH_MAX];
    snprintf(p, sizeof p, "%s/index.json", bs->root);
    snprintf(tmp, sizeof tmp, "%s/index.json.tmp", bs->root);
    if (json_dump_file(root, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) < 0) {
        int e = errno;
        unlink(tmp);
        return bl_errno(err, e ? e : EIO, "write %s", tmp);
    }
    cleanup_close int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        fsync(fd);
    if (rename(tmp, p) < 0) {
        int e = errno;
        unlink(tmp);
        return bl_errno(err, e, "rename %s", tmp);
    }
    return 0;
}

int image_index_put(const struct blobstore *bs, const struct image_record *r, struct bl_error *err)
{
    cleanup_close int lk = lock_index(bs, LOCK_EX, err);
    if (lk < 0)
        return lk;
    json_t *root = index_load(bs, err);
    if (!root)
        return -err->code;
    json_t *blobs = json_array();
    for (size_t i = 0; i < r->n_blobs; i++)
        json_array_append_new(blobs, json_string(r->blobs[i]));
    json_t *rec = json_pack("{s:s,s:s,s:s,s:o}", "manifest", r->manifest, "config", r->config,
                            "id", r->id, "blobs", blobs);
    int ret = 0;
    if (!rec || json_object_set_new(json_object_get(root, "images"), r->ref, rec) < 0)
        ret = bl_err(err, BOXLITE_ERR_NOMEM, "image index: cannot add %s", r->ref);
    else
        ret = index_save(bs, root, err);
    json_decref(root);
    return ret;
}

static int record_from(struct image_record *out, const char *ref, json_t *rec, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    const char *m = json_string_value(json_object_get(rec, "manifest"));
    const char *c = json_string_value(json_object_get(rec, "config"));
    const char *id = json_string_value(json_object_get(rec, "id"));
    json_t *blobs = json_object_get(rec, "blobs");
    if (!m || !c || !id || !json_is_array(blobs))
        return bl_err(err, BOXLITE_ERR_IO, "image index: record %s is incomplete", ref);
    out->ref = strdup(ref);
    out->manifest = strdup(m);
    out->config = strdup(c);
    out->id = strdup(id);
    out->blobs = calloc(json_array_size(blobs) + 1, sizeof(char *));
    if (!out->ref || !out->manifest || !out->config || !out->id || !out->blobs) {
        image_record_free(out);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    size_t i;
    json_t *v;
    json_array_foreach(blobs, i, v)
    {
        const char *s = json_string_value(v);
        if (s && (out->blobs[out->n_blobs] = strdup(s)))
            out->n_blobs++;
    }
    return 0;
}

int image_index_get(const struct blobstore *bs, const char *key, struct image_record *out,
                    struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    cleanup_close int lk = lock_index(bs, LOCK_SH, err);
    if (lk < 0)
        return lk;
    json_t *root = index_load(bs, err);
    if (!root)
        return -err->code;
    json_t *images = json_object_get(root, "images");
    json_t *rec = json_object_get(images, key);
    const char *ref = key;
    int r;
    /* A short name the search list resolved: its record is under the full name. */
    const char *full = rec ? NULL : json_string_value(json_object_get(json_object_get(root, "aliases"), key));
    if (full && (rec = json_object_get(images, full)))
        ref = full;
    if (!rec) {
        /* An image id or a unique prefix of one. */
        size_t klen = strlen(key);
        if (!strncmp(key, "sha256:", 7)) {
            key += 7;
            klen -= 7;
        }
        const char *k;
        json_t *v;
        const char *found_id = NULL;
        int ambiguous = 0;
        if (klen >= 12)
            json_object_foreach(images, k, v)
            {
                const char *id = json_string_value(json_object_get(v, "id"));
                if (id && !strncmp(id, key, klen)) {
                    if (found_id && strcmp(found_id, id) != 0)
                        ambiguous = 1;
                    found_id = id;
                    rec = v;
                    ref = k;
                }
            }
        if (ambiguous) {
            json_decref(root);
            return bl_err(err, BOXLITE_ERR_INVALID, "image id prefix %s is ambiguous", key);
        }
    }
    if (!rec)
        r = bl_err(err, BOXLITE_ERR_NOT_FOUND, "image %s is not in the local store", key);
    else
        r = record_from(out, ref, rec, err);
    json_decref(root);
    return r;
}

int blobstore_drop_unreferenced(const struct blobstore *bs, const char *const *digests, size_t n)
{
    struct bl_error e = {0};
    cleanup_close int lk = lock_index(bs, LOCK_EX, &e);
    if (lk < 0)
        return lk;
    json_t *root = index_load(bs, &e);
    if (!root)
        return -e.code;
    int dropped = 0;
    for (size_t i = 0; i < n; i++) {
        if (!image_digest_valid(digests[i]))
            continue;
        int used = 0;
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(root, "images"), k, v)
        {
            size_t j;
            json_t *b;
            json_array_foreach(json_object_get(v, "blobs"), j, b)
                used |= json_is_string(b) && !strcmp(json_string_value(b), digests[i]);
        }
        char p[PATH_MAX];
        blobstore_path(bs, digests[i], p, sizeof p);
        if (!used && unlink(p) == 0)
            dropped++;
    }
    json_decref(root);
    return dropped;
}

int image_index_alias(const struct blobstore *bs, const char *name, const char *ref, struct bl_error *err)
{
    cleanup_close int lk = lock_index(bs, LOCK_EX, err);
    if (lk < 0)
        return lk;
    json_t *root = index_load(bs, err);
    if (!root)
        return -err->code;
    json_t *aliases = json_object_get(root, "aliases");
    if (!json_is_object(aliases)) {
        aliases = json_object();
        json_object_set_new(root, "aliases", aliases);
    }
    int r = json_object_set_new(aliases, name, json_string(ref)) < 0
                ? bl_err(err, BOXLITE_ERR_NOMEM, "image index: cannot add %s", name)
                : index_save(bs, root, err);
    json_decref(root);
    return r;
}

int image_index_remove(const struct blobstore *bs, const char *ref, struct bl_error *err)
{
    cleanup_close int lk = lock_index(bs, LOCK_EX, err);
    if (lk < 0)
        return lk;
    json_t *root = index_load(bs, err);
    if (!root)
        return -err->code;
    int r;
    if (json_object_del(json_object_get(root, "images"), ref) < 0) {
        r = bl_err(err, BOXLITE_ERR_NOT_FOUND, "image %s is not in the local store", ref);
    } else {
        /* Short names that led to it go with it. */
        json_t *aliases = json_object_get(root, "aliases");
        const char *k;
        json_t *v, *tmp;
        json_object_foreach_safe(aliases, tmp, k, v)
        {
            if (json_is_string(v) && !strcmp(json_string_value(v), ref))
                json_object_del(aliases, k);
        }
        r = index_save(bs, root, err);
    }
    json_decref(root);
    return r;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    /* Unpack trees may hold directories without write permission (mode 0555). */
    return nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

int blobstore_gc(const struct blobstore *bs, const char *const *keep_bases, struct gc_stats *st,
                 struct bl_error *err)
{
    struct gc_stats local = {0};
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    cleanup_close int hold = lock_file(bs, "gc.lock", LOCK_EX, err);
    if (hold < 0)
        return hold;
    cleanup_close int lk = lock_index(bs, LOCK_EX, err);
    if (lk < 0)
        return lk;
    json_t *root = index_load(bs, err);
    if (!root)
        return -err->code;
    json_t *keep = json_object(), *keep_ids = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(root, "images"), k, v)
    {
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(v, "blobs"), i, b)
            if (json_is_string(b))
                json_object_set_new(keep, json_string_value(b), json_true());
        const char *id = json_string_value(json_object_get(v, "id"));
        if (id)
            json_object_set_new(keep_ids, id, json_true());
    }
    char dirp[PATH_MAX];
    snprintf(dirp, sizeof dirp, "%s/blobs/sha256", bs->root);
    DIR *d = opendir(dirp);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char dg[DIGEST_LEN + 80];
        snprintf(dg, sizeof dg, "sha256:%s", de->d_name);
        if (json_object_get(keep, dg))
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
            unlinkat(dirfd(d), de->d_name, 0) == 0) {
            st->blobs_removed++;
            st->bytes_freed += (uint64_t)sb.st_size;
        }
    }
    if (d)
        closedir(d);
    snprintf(dirp, sizeof dirp, "%s/rootfs", bs->root);
    d = opendir(dirp);
    time_t now = time(NULL);
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        struct stat ts;
        /* A base a builder that died left half-made ("<id>.ext4.tmp.XXXXXX"); a running
         * builder writes to its own all along. */
        if (strstr(de->d_name, ".ext4.tmp.") && fstatat(dirfd(d), de->d_name, &ts, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(ts.st_mode) && now - ts.st_mtime > STALE_TMP_SECONDS && unlinkat(dirfd(d), de->d_name, 0) == 0) {
            st->bytes_freed += (uint64_t)ts.st_blocks * 512;
            continue;
        }
        if (n <= 5 || n > 200 || strcmp(de->d_name + n - 5, ".ext4") != 0)
            continue;
        char id[201];
        memcpy(id, de->d_name, n - 5);
        id[n - 5] = 0;
        int keep = json_object_get(keep_ids, id) != NULL;
        for (const char *const *k = keep_bases; k && *k && !keep; k++)
            keep = !strcmp(*k, id);
        if (keep)
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
            unlinkat(dirfd(d), de->d_name, 0) == 0) {
            st->rootfs_removed++;
            st->bytes_freed += (uint64_t)sb.st_blocks * 512;
        }
    }
    if (d)
        closedir(d);
    /* Temp entries of pulls that died; a running pull touches its files continuously.
     * Partial downloads (and the notes of what their pulls needed) are kept longer: the
     * next pull of the same blob resumes them. */
    snprintf(dirp, sizeof dirp, "%s/tmp", bs->root);
    d = opendir(dirp);
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        struct stat sb;
        int resumable = !strncmp(de->d_name, "partial-", 8) || !strncmp(de->d_name, "pullnote-", 9);
        time_t stale = resumable ? STALE_PARTIAL_SECONDS : STALE_TMP_SECONDS;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && now - sb.st_mtime > stale) {
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", dirp, de->d_name);
            remove_tree(p);
        }
    }
    if (d)
        closedir(d);
    json_decref(keep);
    json_decref(keep_ids);
    json_decref(root);
    return 0;
}
