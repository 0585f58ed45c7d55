// SPDX-License-Identifier: Apache-2.0
/* Export and import of a box as one archive (the format: archive.h). Export writes into an
 * unnamed file (O_TMPFILE) in the destination's folder and names it only once it is whole,
 * so an export killed at any point leaves nothing. Import reads every member into a staging
 * folder of its own under <home>/import-tmp, checking as it goes (order, names, types,
 * sizes, SHA-256), then the qcow2 headers (whose backing names it replaces with its own:
 * an archive's could name any host file), then the whole chain through the disk layer;
 * only then does the box exist. Anything wrong removes the staging folder. */
#include "runtime/archive.h"

#include "common/boxpath.h"
#include "common/cleanup.h"
#include "common/io.h"
#include "common/sha256.h"
#include "disk/disk.h"
#include "disk/qcow2.h"
#include "runtime/api_error.h"
#include "runtime/runtime.h"
#include "runtime/snapshot.h"

#include "common/lazy_archive.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include "common/lazy_crypto.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)
#define HEAD_MAX (1u << QCOW2_MAX_CLUSTER_BITS)

static void hex(const unsigned char *md, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* ---- export ----------------------------------------------------------------------------- */

struct src {
    char path[4200];
    struct bx_member m;
    char backing[32], backing_fmt[8]; /* what the exported header names ("" for none) */
};

typedef int (*sink_fn)(void *ctx, const void *p, size_t n, struct bl_error *err);

/* Streams the member's bytes: the file, with a qcow2's backing name rewritten in its first
 * cluster to the member below it (never the host's paths). */
static int stream(const struct src *s, sink_fn fn, void *ctx, struct bl_error *err)
{
    cleanup_close int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", s->path);
    cleanup_free uint8_t *buf = malloc(HEAD_MAX > CHUNK ? HEAD_MAX : CHUNK);
    if (!buf)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    uint64_t off = 0;
    if (!strcmp(s->m.format, "qcow2")) {
        ssize_t n = io_read_full(fd, buf, HEAD_MAX);
        if (n < 0)
            return bl_errno(err, errno, "read %s", s->path);
        int r = qcow2_header_set_backing(buf, (size_t)n, s->m.size, s->backing[0] ? s->backing : NULL,
                                         s->backing[0] ? s->backing_fmt : NULL, err);
        if (r < 0)
            return bl_err_prefix(err, "%s", s->path);
        if ((r = fn(ctx, buf, (size_t)n, err)) < 0)
            return r;
        off = (uint64_t)n;
    }
    while (off < s->m.size) {
        ssize_t n = pread(fd, buf, CHUNK, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bl_errno(err, errno, "read %s", s->path);
        if (n == 0)
            return bl_err(err, BOXLITE_ERR_IO, "%s: shorter than %llu bytes (changed while "
                          "exported?)", s->path, (unsigned long long)s->m.size);
        size_t k = (uint64_t)n > s->m.size - off ? (size_t)(s->m.size - off) : (size_t)n;
        int r = fn(ctx, buf, k, err);
        if (r < 0)
            return r;
        off += k;
    }
    return 0;
}

static int hash_sink(void *ctx, const void *p, size_t n, struct bl_error *err)
{
    return EVP_DigestUpdate(ctx, p, n) == 1 ? 0 : bl_err(err, BOXLITE_ERR_INTERNAL, "sha256");
}

static int sha256_of(const struct src *s, char out[65], struct bl_error *err)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        return lazylib_null_err(&lazy_crypto_lib, err);
    }
    int r = stream(s, hash_sink, c, err);
    unsigned char md[32];
    unsigned len = 0;
    if (!r && EVP_DigestFinal_ex(c, md, &len) != 1)
        r = bl_err(err, BOXLITE_ERR_INTERNAL, "sha256");
    EVP_MD_CTX_free(c);
    if (!r)
        hex(md, 32, out);
    return r;
}

static void sha256_mem(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    sha256(p, n, md); /* a config or a manifest: small, once */
    hex(md, 32, out);
}

static int ar_fail(struct archive *a, struct bl_error *err, const char *what)
{
    const char *m = archive_error_string(a);
    int e = archive_errno(a);
    return e > 0 ? bl_errno(err, e, "%s: %s", what, m ? m : "archive error")
                 : bl_err(err, BOXLITE_ERR_IO, "%s: %s", what, m ? m : "archive error");
}

static int write_sink(void *ctx, const void *p, size_t n, struct bl_error *err)
{
    struct archive *a = ctx;
    while (n) {
        la_ssize_t w = archive_write_data(a, p, n);
        if (w <= 0)
            return ar_fail(a, err, "write");
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    snap_test_hook("export-writing");
    return 0;
}

static int add_member(struct archive *a, const char *name, uint64_t size, const struct src *s,
                      const void *mem, struct bl_error *err)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return lazylib_null_err(&lazy_archive_lib, err);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_mtime(e, time(NULL), 0);
    int r = archive_write_header(a, e) == ARCHIVE_OK ? 0 : ar_fail(a, err, name);
    archive_entry_free(e);
    if (!r)
        r = s ? stream(s, write_sink, a, err) : write_sink(a, mem, size, err);
    return r < 0 ? bl_err_prefix(err, "%s", name) : 0;
}

/* The box's image: reference, digest and configuration blob, from the store, else from what
 * an import left in the box's folder (image.json, image-config.json). */
static void image_info(boxlite_box *b, char *digest, size_t dn, char **config, size_t *clen)
{
    *digest = 0;
    *config = NULL;
    *clen = 0;
    struct image_store *store;
    struct bl_error ignored = { 0 };
    struct image_record rec = { 0 };
    if (b->opts.image && rt_images(b->rt, &store, &ignored) == 0 &&
        image_index_get(&store->bs, b->opts.image, &rec, &ignored) == 0) {
        snprintf(digest, dn, "%s", rec.manifest ? rec.manifest : "");
        if (blobstore_read(&store->bs, rec.config, BX_MAX_CONFIG, config, clen, &ignored) < 0)
            *config = NULL, *clen = 0;
        image_record_free(&rec);
        return;
    }
    char p[4300];
    snprintf(p, sizeof p, "%s/image.json", b->dir);
    json_t *j = json_load_file(p, 0, NULL);
    const char *d = json_string_value(json_object_get(j, "digest"));
    snprintf(digest, dn, "%s", d ? d : "");
    json_decref(j);
    snprintf(p, sizeof p, "%s/" BX_CONFIG, b->dir);
    FILE *f = fopen(p, "re");
    if (!f)
        return;
    char *buf = malloc(BX_MAX_CONFIG);
    size_t n = buf ? fread(buf, 1, BX_MAX_CONFIG, f) : 0;
    fclose(f);
    if (buf && n > 0 && n < BX_MAX_CONFIG) {
        *config = buf;
        *clen = n;
    } else {
        free(buf);
    }
}

/* The disk chain, bottom first, as export members. */
static int chain_members(const char *dir, const char *top, struct src *out, int *n,
                         struct bl_error *err)
{
    struct snap_chain *c = malloc(sizeof *c);
    if (!c)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int r = snap_chain_read(dir, top, c, err);
    int k = 0;
    if (!r && c->base[0]) {
        if (c->base[0] == '/')
            snprintf(out[k].path, sizeof out[k].path, "%s", c->base);
        else
            snprintf(out[k].path, sizeof out[k].path, "%s/%s", dir, c->base);
        const char *fmt = c->base_format[0] ? c->base_format : NULL;
        if (!fmt) {
            char magic[4] = { 0 };
            int fd = open(out[k].path, O_RDONLY | O_CLOEXEC);
            fmt = fd >= 0 && pread(fd, magic, 4, 0) == 4 && !memcmp(magic, QCOW2_MAGIC_BYTES, 4)
                      ? "qcow2" : "raw";
            if (fd >= 0)
                close(fd);
        }
        snprintf(out[k].m.format, sizeof out[k].m.format, "%s", fmt);
        k++;
    }
    for (int i = c->n - 1; !r && i >= 0; i--, k++) {
        if (k >= BX_MAX_DISKS) {
            r = bl_err(err, BOXLITE_ERR_UNSUPPORTED, "the disk chain is deeper than %d",
                       BX_MAX_DISKS);
            break;
        }
        snprintf(out[k].path, sizeof out[k].path, "%s/%s", dir, c->layers[i]);
        size_t len = strlen(c->layers[i]);
        snprintf(out[k].m.format, sizeof out[k].m.format, "%s",
                 len > 4 && !strcmp(c->layers[i] + len - 4, ".raw") ? "raw" : "qcow2");
    }
    free(c);
    for (int i = 0; !r && i < k; i++) {
        struct stat st;
        if (stat(out[i].path, &st) < 0)
            return bl_errno(err, errno, "stat %s", out[i].path);
        if (i > 0 && strcmp(out[i].m.format, "qcow2"))
            return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "%s: a raw image in the middle of the "
                          "chain", out[i].path);
        out[i].m.size = (uint64_t)st.st_size;
        bx_disk_member_name(out[i].m.member, sizeof out[i].m.member, i, out[i].m.format);
        if (i > 0) {
            const char *below = strchr(out[i - 1].m.member, '/') + 1;
            snprintf(out[i].backing, sizeof out[i].backing, "%s", below);
            snprintf(out[i].backing_fmt, sizeof out[i].backing_fmt, "%s", out[i - 1].m.format);
        }
    }
    *n = k;
    return r;
}

/* An unnamed file in path's folder (named by publish), or a ".partial" name where the
 * filesystem has no O_TMPFILE. */
static int open_out(const char *path, char *partial, size_t pn, struct bl_error *err)
{
    cleanup_free char *copy = strdup(path);
    if (!copy)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    char *slash = strrchr(copy, '/');
    const char *dir = slash ? (slash == copy ? "/" : (*slash = 0, copy)) : ".";
    *partial = 0;
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0)
        return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
        return bl_errno(err, errno, "create a file in %s", dir);
    snprintf(partial, pn, "%s.partial", path);
    fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    return fd >= 0 ? fd : bl_errno(err, errno, "create %s", partial);
}

static int publish(int fd, const char *path, const char *partial, struct bl_error *err)
{
    if (fsync(fd) < 0)
        return bl_errno(err, errno, "fsync %s", path);
    if (*partial)
        return rename(partial, path) < 0 ? bl_errno(err, errno, "rename %s", partial) : 0;
    char proc[64], tmp[4300];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    unlink(tmp);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0)
        return bl_errno(err, errno, "link %s", path);
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return bl_errno(err, e, "rename %s", path);
    }
    return 0;
}

static int export_locked(boxlite_box *b, const char *top, const char *path,
                         struct bl_error *err)
{
    struct src *s = calloc(BX_MAX_DISKS, sizeof *s);
    if (!s)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int n = 0, r = chain_members(b->dir, top, s, &n, err);
    for (int i = 0; !r && i < n; i++)
        if ((r = sha256_of(&s[i], s[i].m.sha256, err)) < 0)
            bl_err_prefix(err, "%s", s[i].path);
    char digest[80];
    cleanup_free char *config = NULL;
    size_t clen = 0;
    image_info(b, digest, sizeof digest, &config, &clen);
    json_t *opts = NULL, *disk = json_array(), *m = NULL;
    cleanup_free char *opt_text = opts_to_json(&b->opts);
    if (!r && (!opt_text || !(opts = json_loads(opt_text, 0, NULL)) || !disk))
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    if (opts)
        json_object_del(opts, "name");
    for (int i = 0; !r && i < n; i++)
        json_array_append_new(disk, json_pack("{s:s, s:s, s:I, s:s}", "member", s[i].m.member,
                                              "format", s[i].m.format, "size",
                                              (json_int_t)s[i].m.size, "sha256", s[i].m.sha256));
    if (!r) {
        m = json_pack("{s:s, s:i, s:s, s:I, s:{s:s, s:s, s:s, s:O}, s:O}", "format", BX_FORMAT,
                      "version", BX_VERSION, "boxlite", boxlite_version(), "created",
                      (json_int_t)time(NULL), "box", "name", b->name, "image",
                      b->opts.image ? b->opts.image : "", "image_digest", digest, "options",
                      opts, "disk", disk);
        if (m && config) {
            char sum[65];
            sha256_mem(config, clen, sum);
            json_object_set_new(m, "image_config", json_pack("{s:s, s:I, s:s}", "member",
                                                             BX_CONFIG, "size", (json_int_t)clen,
                                                             "sha256", sum));
        }
        if (!m)
            r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    json_decref(opts);
    json_decref(disk);
    cleanup_free char *mtext = m ? json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(m);
    if (!r && !mtext)
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    char partial[4300] = "";
    int fd = -1;
    if (!r && (fd = open_out(path, partial, sizeof partial, err)) < 0)
        r = fd;
    struct archive *a = NULL;
    if (!r) {
        a = archive_write_new();
        if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
            archive_write_open_fd(a, fd) != ARCHIVE_OK)
            r = a ? ar_fail(a, err, path) : lazylib_null_err(&lazy_archive_lib, err);
    }
    if (!r)
        r = add_member(a, BX_MANIFEST, strlen(mtext), NULL, mtext, err);
    if (!r && config)
        r = add_member(a, BX_CONFIG, clen, NULL, config, err);
    for (int i = 0; !r && i < n; i++)
        r = add_member(a, s[i].m.member, s[i].m.size, &s[i], NULL, err);
    if (!r) {
        char sum[66];
        sha256_mem(mtext, strlen(mtext), sum);
        strcat(sum, "\n");
        r = add_member(a, BX_MANIFEST_SUM, 65, NULL, sum, err);
    }
    if (a && archive_write_close(a) != ARCHIVE_OK && !r)
        r = ar_fail(a, err, path);
    if (a)
        archive_write_free(a);
    if (!r)
        r = publish(fd, path, partial, err);
    if (fd >= 0)
        close(fd);
    if (r && *partial)
        unlink(partial);
    free(s);
    return r;
}

BOXLITE_API int boxlite_box_export(boxlite_box *b, const char *path)
{
    API_CHECK_ARG(b && path && *path, "box or path is NULL");
    struct bl_error err = { 0 };
    bool running = false;
    int lock = rt_box_disk_begin(b, "export", &running, &err);
    if (lock < 0)
        return api_return(lock, &err);
    snap_gc(b->dir);
    /* A running box: its top copied while its root is frozen, exported, then dropped. */
    char layer[SNAP_LAYER_NAME_MAX] = "disk.qcow2";
    int r = running ? snap_copy_running(b, layer, &err) : 0;
    if (!r)
        r = export_locked(b, layer, path, &err);
    if (running)
        snap_gc(b->dir);
    close(lock);
    return api_return(r ? bl_err_prefix(&err, "export %s to %s", b->name, path) : 0, &err);
}

/* ---- import ----------------------------------------------------------------------------- */

/* <home>/import-tmp/<random>: one import's staging folder, held by a lock of its own;
 * folders whose lock is free belong to imports that died (removed here). */
static int staging_open(boxlite_runtime *rt, char *out, size_t n, int *lock, struct bl_error *err)
{
    char root[4200];
    snprintf(root, sizeof root, "%s/import-tmp", rt->home);
    if (mkdir(root, 0700) < 0 && errno != EEXIST)
        return bl_errno(err, errno, "mkdir %s", root);
    DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4400], lp[4500];
        snprintf(p, sizeof p, "%s/%s", root, e->d_name);
        snprintf(lp, sizeof lp, "%s/.lock", p);
        int fd = open(lp, O_RDWR | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
            io_remove_tree(p); /* its import died (a folder without a lock is being made) */
        if (fd >= 0)
            close(fd);
    }
    if (d)
        closedir(d);
    char name[SNAP_LAYER_NAME_MAX];
    int r = snap_new_layer_name(name, "", err);
    if (r < 0)
        return r;
    snprintf(out, n, "%s/%s", root, name + 6);
    if (mkdir(out, 0700) < 0)
        return bl_errno(err, errno, "mkdir %s", out);
    char lp[4400];
    snprintf(lp, sizeof lp, "%s/.lock", out);
    *lock = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*lock < 0 || flock(*lock, LOCK_EX) < 0)
        return bl_errno(err, errno, "lock %s", lp);
    return 0;
}

/* Reads the current member into memory (max bytes at most). */
static int read_small(struct archive *a, uint64_t size, char **out, struct bl_error *err)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    size_t got = 0;
    while (got < size) {
        la_ssize_t n = archive_read_data(a, buf + got, size - got);
        if (n < 0) {
            free(buf);
            return ar_fail(a, err, "read");
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got != size) {
        free(buf);
        return bl_err(err, BOXLITE_ERR_INVALID, "truncated (%zu of %llu bytes)", got,
                      (unsigned long long)size);
    }
    buf[size] = 0;
    *out = buf;
    return 0;
}

/* The next member must be a regular file named want of size bytes (size -1: any up to max). */
static int next_member(struct archive *a, const char *want, int64_t size, uint64_t max,
                       uint64_t *got_size, struct bl_error *err)
{
    struct archive_entry *e;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF)
        return bl_err(err, BOXLITE_ERR_INVALID, "the archive ends before %s (truncated?)", want);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return ar_fail(a, err, want);
    const char *name = archive_entry_pathname(e);
    if (!name || strcmp(name, want))
        return bl_err(err, BOXLITE_ERR_INVALID, "member \"%.200s\" where %s was expected (not "
                      "an archive of boxlite export, or altered)", name ? name : "", want);
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_symlink(e) ||
        archive_entry_hardlink(e))
        return bl_err(err, BOXLITE_ERR_INVALID, "member %s is not a regular file (links and "
                      "special files are refused)", want);
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
        return bl_err(err, BOXLITE_ERR_INVALID, "member %s has no size", want);
    uint64_t sz = (uint64_t)archive_entry_size(e);
    if ((size >= 0 && sz != (uint64_t)size) || sz > max)
        return bl_err(err, BOXLITE_ERR_INVALID, "member %s is %llu bytes (the manifest says %lld, "
                      "at most %llu)", want, (unsigned long long)sz, (long long)size,
                      (unsigned long long)max);
    if (got_size)
        *got_size = sz;
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Copies the current member to path (holes where it is zero), checking its SHA-256. */
static int extract(struct archive *a, const struct bx_member *m, const char *path,
                   struct bl_error *err)
{
    cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return bl_errno(err, errno, "create %s", path);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t *buf = malloc(CHUNK);
    int r = 0;
    if (!c || !buf || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
        r = lazylib_null_err(&lazy_crypto_lib, err);
    uint64_t off = 0;
    while (!r) {
        la_ssize_t n = archive_read_data(a, buf, CHUNK);
        if (n < 0) {
            r = ar_fail(a, err, m->member);
            break;
        }
        if (n == 0)
            break;
        if (off + (uint64_t)n > m->size) {
            r = bl_err(err, BOXLITE_ERR_INVALID, "%s: longer than %llu bytes", m->member,
                       (unsigned long long)m->size);
            break;
        }
        EVP_DigestUpdate(c, buf, (size_t)n);
        for (size_t k = 0; !r && k < (size_t)n; k += 65536) {
            size_t len = (size_t)n - k < 65536 ? (size_t)n - k : 65536;
            if (all_zero(buf + k, len))
                continue;
            int w = 0;
            for (size_t done = 0; !w && done < len;) {
                ssize_t x = pwrite(fd, buf + k + done, len - done, (off_t)(off + k + done));
                if (x < 0 && errno != EINTR)
                    w = -errno;
                else if (x > 0)
                    done += (size_t)x;
            }
            if (w)
                r = bl_errno(err, -w, "write %s", path);
        }
        off += (uint64_t)n;
    }
    if (!r && off != m->size)
        r = bl_err(err, BOXLITE_ERR_INVALID, "%s: truncated (%llu of %llu bytes)", m->member,
                   (unsigned long long)off, (unsigned long long)m->size);
    if (!r && ftruncate(fd, (off_t)m->size) < 0)
        r = bl_errno(err, errno, "truncate %s", path);
    if (!r) {
        unsigned char md[32];
        unsigned len = 0;
        char sum[65];
        EVP_DigestFinal_ex(c, md, &len);
        hex(md, 32, sum);
        if (strcmp(sum, m->sha256))
            r = bl_err(err, BOXLITE_ERR_INVALID, "%s: SHA-256 %s, the manifest says %s "
                       "(damaged or altered)", m->member, sum, m->sha256);
    }
    if (!r && fdatasync(fd) < 0)
        r = bl_errno(err, errno, "sync %s", path);
    EVP_MD_CTX_free(c);
    free(buf);
    return r;
}

/* A qcow2 layer from an archive: its header checked (qcow2_header_parse refuses external
 * data files, encryption, unknown features), nothing the read-only chain should not carry
 * (dirty, corrupt, internal snapshots), and its backing name replaced by ours. */
static int adopt_qcow2(const char *path, const char *said, const char *backing, const char *fmt,
                       bool bottom, struct bl_error *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return bl_errno(err, errno, "open %s", path);
    struct qcow2_header *h = malloc(sizeof *h);
    if (!h)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int r = qcow2_header_read(fd, (uint64_t)st.st_size, h, err);
    if (!r && (h->incompatible_features & (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)))
        r = bl_err(err, BOXLITE_ERR_INVALID, "the image is marked dirty or corrupt");
    else if (!r && h->nb_snapshots)
        r = bl_err(err, BOXLITE_ERR_INVALID, "the image has internal snapshots");
    else if (!r && bottom && h->backing_file[0])
        r = bl_err(err, BOXLITE_ERR_INVALID, "the bottom of the chain has a backing file "
                   "(\"%.100s\")", h->backing_file);
    else if (!r && !bottom && strcmp(h->backing_file, said))
        r = bl_err(err, BOXLITE_ERR_INVALID, "its backing file is \"%.200s\", not the member "
                   "below it (\"%s\"): refused", h->backing_file, said);
    free(h);
    if (!r && !bottom)
        r = qcow2_set_backing(path, backing, fmt, err);
    return r;
}

struct staged {
    char file[SNAP_LAYER_NAME_MAX]; /* its name in the box's folder */
};

/* What boxlite_box_import_with's options ask: labels set over the archive's, and the one
 * of them (owner) the archive may not carry with another value. */
struct import_opts {
    json_t *labels;
    const char *owner;
};

static int import_opts_parse(const char *text, json_t **doc, struct import_opts *io,
                             struct bl_error *err)
{
    *doc = NULL;
    memset(io, 0, sizeof *io);
    if (!text || !*text)
        return 0;
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return bl_err(err, BOXLITE_ERR_INVALID, "import options: not a JSON object%s%.100s",
                      j ? "" : ": ", j ? "" : je.text);
    }
    *doc = j;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        if (!strcmp(k, "labels") && json_is_object(v)) {
            const char *lk;
            json_t *lv;
            json_object_foreach(v, lk, lv)
                if (!json_is_string(lv) || !*lk)
                    return bl_err(err, BOXLITE_ERR_INVALID, "import options: labels: \"%.64s\" "
                                  "must be a non-empty key with a string value", lk);
            io->labels = v;
        } else if (!strcmp(k, "owner_label") && json_is_string(v)) {
            io->owner = json_string_value(v);
        } else {
            return bl_err(err, BOXLITE_ERR_INVALID, "import options: \"%.64s\" is not labels "
                          "(an object of strings) or owner_label (a string)", k);
        }
    }
    if (io->owner && !json_is_string(json_object_get(io->labels, io->owner)))
        return bl_err(err, BOXLITE_ERR_INVALID, "import options: owner_label \"%.64s\" is not "
                      "a key of labels", io->owner);
    return 0;
}

/* The archive's labels as the caller asked: an owner label of another value refuses the
 * archive (a box must not change hands by import), the caller's labels are set over it. */
static int apply_labels(json_t *j, const struct import_opts *io, struct bl_error *err)
{
    if (!io->labels)
        return 0;
    json_t *have = json_object_get(j, "labels");
    if (have && !json_is_object(have))
        return bl_err(err, BOXLITE_ERR_INVALID, "labels: not an object");
    const char *was = io->owner ? json_string_value(json_object_get(have, io->owner)) : NULL;
    if (io->owner && json_object_get(have, io->owner) &&
        (!was || strcmp(was, json_string_value(json_object_get(io->labels, io->owner)))))
        return bl_err(err, BOXLITE_ERR_INVALID, "the archive's box carries label %.64s of "
                      "another owner: refused", io->owner);
    if (!have) {
        have = json_object();
        json_object_set_new(j, "labels", have);
    }
    return json_object_update(have, io->labels) ? bl_err(err, BOXLITE_ERR_NOMEM, "out of memory")
                                                : 0;
}

static int strip_host_options(const char *text, const struct bx_manifest *m, const char *name,
                              const struct import_opts *io, struct boxlite_options *o,
                              char *dropped, size_t dn, struct bl_error *err)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return bl_err(err, BOXLITE_ERR_INVALID, "manifest: box options are not an object");
    }
    int lr = apply_labels(j, io, err);
    if (lr) {
        json_decref(j);
        return bl_err_prefix(err, "box options");
    }
    /* Host paths and host ports mean something on the host that made the archive only. */
    static const char *const host_keys[] = { "volumes", "ports", "allow_host", "rootfs_path",
                                             "name" };
    *dropped = 0;
    for (size_t i = 0; i < sizeof host_keys / sizeof host_keys[0]; i++) {
        json_t *v = json_object_get(j, host_keys[i]);
        if (v && strcmp(host_keys[i], "name") && !(json_is_array(v) && !json_array_size(v)) &&
            !json_is_null(v)) {
            size_t len = strlen(dropped);
            snprintf(dropped + len, dn - len, "%s%s", len ? ", " : "", host_keys[i]);
        }
        json_object_del(j, host_keys[i]);
    }
    if (!json_string_value(json_object_get(j, "image")))
        json_object_set_new(j, "image", json_string(m->image[0] ? m->image : "imported"));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int r = opts_from_json(o, s, err);
    free(s);
    if (!r)
        r = opts_set_name(o, name, err);
    if (!r)
        r = opts_validate_for_create(o, err);
    return r ? bl_err_prefix(err, "box options") : 0;
}

static int import_staged(boxlite_runtime *rt, struct archive *a, const char *stage,
                         const char *name, const struct import_opts *io, boxlite_box **out,
                         char *notice, size_t nn, struct bl_error *err)
{
    uint64_t size = 0;
    cleanup_free char *mtext = NULL, *sumtext = NULL;
    int r = next_member(a, BX_MANIFEST, -1, BX_MAX_MANIFEST, &size, err);
    if (!r)
        r = read_small(a, size, &mtext, err);
    if (r)
        return bl_err_prefix(err, "%s", BX_MANIFEST);
    struct bx_manifest m;
    if ((r = bx_manifest_parse(&m, mtext, size, err)) < 0)
        return r;
    struct staged files[BX_MAX_DISKS];
    char p[4400];
    /* Room: the members' sizes (holes excepted, the bound is generous) against the free
     * space, so that an archive cannot fill the host's disk before its checksum fails. */
    uint64_t total = m.has_config ? m.config.size : 0;
    for (int i = 0; i < m.ndisk; i++)
        total += m.disk[i].size;
    struct statvfs vfs;
    if (statvfs(stage, &vfs) == 0 && total > (uint64_t)vfs.f_bavail * vfs.f_frsize)
        r = bl_err(err, BOXLITE_ERR_INVALID, "the archive's members take %llu bytes, more than "
                   "the %llu free in %s", (unsigned long long)total,
                   (unsigned long long)vfs.f_bavail * vfs.f_frsize, rt->home);
    if (!r && m.has_config) {
        snprintf(p, sizeof p, "%s/" BX_CONFIG, stage);
        r = next_member(a, BX_CONFIG, (int64_t)m.config.size, BX_MAX_CONFIG, NULL, err);
        if (!r)
            r = extract(a, &m.config, p, err);
    }
    for (int i = 0; !r && i < m.ndisk; i++) {
        r = snap_new_layer_name(files[i].file, !strcmp(m.disk[i].format, "raw") ? ".raw"
                                                                                 : ".qcow2", err);
        snprintf(p, sizeof p, "%s/%s", stage, files[i].file);
        if (!r)
            r = next_member(a, m.disk[i].member, (int64_t)m.disk[i].size, BX_MAX_MEMBER, NULL,
                            err);
        if (!r)
            r = extract(a, &m.disk[i], p, err);
    }
    if (!r)
        r = next_member(a, BX_MANIFEST_SUM, 65, 65, NULL, err);
    if (!r)
        r = read_small(a, 65, &sumtext, err);
    if (!r) {
        char sum[65];
        sha256_mem(mtext, size, sum);
        if (strncmp(sumtext, sum, 64) || sumtext[64] != '\n')
            r = bl_err(err, BOXLITE_ERR_INVALID, "manifest.json: SHA-256 %s, manifest.sha256 "
                       "says %.64s (damaged or altered)", sum, sumtext);
    }
    struct archive_entry *e;
    if (!r && archive_read_next_header(a, &e) != ARCHIVE_EOF)
        r = bl_err(err, BOXLITE_ERR_INVALID, "members after %s (altered archive)",
                   BX_MANIFEST_SUM);
    /* The chain: each layer over the one below, by our names, then read through. */
    for (int i = 0; !r && i < m.ndisk; i++) {
        snprintf(p, sizeof p, "%s/%s", stage, files[i].file);
        if (!strcmp(m.disk[i].format, "qcow2"))
            r = adopt_qcow2(p, i ? strchr(m.disk[i - 1].member, '/') + 1 : NULL,
                            i ? files[i - 1].file : NULL, i ? m.disk[i - 1].format : NULL,
                            i == 0, err);
        if (r)
            bl_err_prefix(err, "%s", m.disk[i].member);
    }
    struct disk *d = NULL;
    if (!r) {
        snprintf(p, sizeof p, "%s/%s", stage, files[m.ndisk - 1].file);
        r = disk_open_fmt(&d, p, m.disk[m.ndisk - 1].format, 1, err);
        if (r)
            bl_err_prefix(err, "the disk chain");
        disk_close(d);
    }
    /* The box: options without what belongs to the exporting host. */
    struct boxlite_options o;
    opts_init(&o);
    char dropped[128] = "";
    if (!r)
        r = strip_host_options(m.options, &m, name ? name : m.name, io, &o, dropped,
                               sizeof dropped, err);
    boxlite_box *b = NULL;
    if (!r && boxlite_box_create(rt, &o, &b) != BOXLITE_OK)
        r = bl_err(err, boxlite_errcode(), "%s", boxlite_errmsg());
    opts_clear(&o);
    for (int i = 0; !r && i < m.ndisk; i++) {
        char to[4400];
        snprintf(p, sizeof p, "%s/%s", stage, files[i].file);
        snprintf(to, sizeof to, "%s/%s", b->dir, files[i].file);
        if (rename(p, to) < 0)
            r = bl_errno(err, errno, "rename %s", to);
    }
    if (!r && m.has_config) {
        char to[4400];
        snprintf(p, sizeof p, "%s/" BX_CONFIG, stage);
        snprintf(to, sizeof to, "%s/" BX_CONFIG, b->dir);
        if (rename(p, to) < 0)
            r = bl_errno(err, errno, "rename %s", to);
    }
    if (!r) {
        snprintf(p, sizeof p, "%s/image.json", b->dir);
        json_t *j = json_pack("{s:s, s:s}", "reference", m.image, "digest", m.image_digest);
        if (!j || json_dump_file(j, p, JSON_COMPACT) != 0)
            r = bl_errno(err, errno ? errno : ENOMEM, "write %s", p);
        json_decref(j);
    }
    /* The imported top stays a frozen layer: the box writes to a fresh disk.qcow2 over it. */
    if (!r)
        r = snap_new_top(b->dir, files[m.ndisk - 1].file, err);
    if (r && b) {
        struct bl_error ignored = { 0 };
        rt_box_destroy(rt, b->id, &ignored);
        boxlite_box_free(b);
        b = NULL;
    }
    if (!r && dropped[0])
        snprintf(notice, nn, "imported box %s without its host-specific options (%s)",
                 b->name, dropped);
    bx_manifest_free(&m);
    *out = b;
    return r;
}

BOXLITE_API int boxlite_box_import_with(boxlite_runtime *rt, const char *path,
                                        const char *name, const char *options_json,
                                        boxlite_box **out)
{
    API_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    API_CHECK_ARG(rt && path, "runtime or path is NULL");
    struct bl_error err = { 0 };
    if (name && !opts_valid_name(name))
        return api_fail(BOXLITE_ERR_INVALID, "import: name \"%.64s\" must be 1-%d characters "
                        "[a-zA-Z0-9_.-], starting with a letter or digit", name, BL_MAX_NAME);
    json_t *doc = NULL;
    struct import_opts io;
    if (import_opts_parse(options_json, &doc, &io, &err) < 0) {
        json_decref(doc);
        return api_return(-err.code, &err);
    }
    char stage[4300] = "";
    int lock = -1;
    int r = staging_open(rt, stage, sizeof stage, &lock, &err);
    struct archive *a = NULL;
    if (!r) {
        a = archive_read_new();
        /* a plain or zstd-compressed tar, nothing else */
        if (!a || archive_read_support_format_tar(a) != ARCHIVE_OK ||
            archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
            archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK)
            r = a ? ar_fail(a, &err, path) : lazylib_null_err(&lazy_archive_lib, &err);
    }
    char notice[512] = "";
    boxlite_box *b = NULL;
    if (!r)
        r = import_staged(rt, a, stage, name, &io, &b, notice, sizeof notice, &err);
    json_decref(doc);
    if (a)
        archive_read_free(a);
    if (stage[0] && lock >= 0)
        io_remove_tree(stage);
    if (lock >= 0)
        close(lock);
    if (r)
        return api_return(bl_err_prefix(&err, "import %s", path), &err);
    *out = b;
    api_notice("%s", notice);
    return api_return(0, NULL);
}

BOXLITE_API int boxlite_box_import(boxlite_runtime *rt, const char *path, const char *name,
                                   boxlite_box **out)
{
    return boxlite_box_import_with(rt, path, name, NULL, out);
}
