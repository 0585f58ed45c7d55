// SPDX-License-Identifier: Apache-2.0
/* The ext4 base built from the layer streams (ext4build.h): the tree of names, kept in
 * memory until the end, and the OCI rules for merging layers into it (image-spec
 * layer.md); the inodes and blocks are ext4img's. */
#include "image/ext4build.h"

#include "common/cleanup.h"
#include "image/ext4img.h"
#include "image/layerstream.h"

#include "common/lazy_archive.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PATH_LIMIT 4096
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* ---- the tree ------------------------------------------------------------------------ */

struct dir;

/* A name in a directory. */
struct dent {
    struct dent *hnext;       /* hash chain */
    struct dent *prev, *next; /* in its directory, in the order made */
    struct dir *parent;
    struct dir *sub; /* the directory it names, if it names one */
    uint32_t ino;
    unsigned layer;  /* the last layer that made it or an entry below it */
    uint8_t ftype;   /* EXT4IMG_FT_* */
    uint8_t len;
    char name[];
};

struct dir {
    uint32_t ino;
    struct dir *parent;
    struct dent *first, *last;
    uint32_t nsub;      /* subdirectories: the link count */
    uint8_t has_xattrs; /* a later entry for it replaces them */
};

struct ext4b {
    struct ext4img *img;
    char out[4096]; /* for messages */
    int failed;
    struct dir root;
    struct dent **hash;
    size_t nbuckets, count;
    unsigned layer;
};

static size_t name_hash(const struct dir *d, const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)d;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 31));
}

static struct dent *lookup(const struct ext4b *b, const struct dir *d, const char *name)
{
    size_t len = strlen(name);
    if (!b->nbuckets)
        return NULL;
    for (struct dent *e = b->hash[name_hash(d, name, len) & (b->nbuckets - 1)]; e; e = e->hnext)
        if (e->parent == d && e->len == len && !memcmp(e->name, name, len))
            return e;
    return NULL;
}

static int rehash(struct ext4b *b)
{
    size_t n = b->nbuckets ? b->nbuckets * 2 : 4096;
    struct dent **h = calloc(n, sizeof *h);
    if (!h)
        return -1;
    for (size_t i = 0; i < b->nbuckets; i++)
        for (struct dent *e = b->hash[i], *nx; e; e = nx) {
            nx = e->hnext;
            size_t j = name_hash(e->parent, e->name, e->len) & (n - 1);
            e->hnext = h[j];
            h[j] = e;
        }
    free(b->hash);
    b->hash = h;
    b->nbuckets = n;
    return 0;
}

static struct dent *add_dent(struct ext4b *b, struct dir *d, const char *name, uint32_t ino, uint8_t ftype,
                             unsigned layer)
{
    size_t len = strlen(name);
    if (b->count >= b->nbuckets && rehash(b) < 0)
        return NULL;
    struct dent *e = calloc(1, sizeof *e + len + 1);
    if (!e)
        return NULL;
    memcpy(e->name, name, len);
    e->len = (uint8_t)len;
    e->parent = d;
    e->ino = ino;
    e->ftype = ftype;
    e->layer = layer;
    size_t j = name_hash(d, name, len) & (b->nbuckets - 1);
    e->hnext = b->hash[j];
    b->hash[j] = e;
    e->prev = d->last;
    if (d->last)
        d->last->next = e;
    else
        d->first = e;
    d->last = e;
    b->count++;
    return e;
}

static void drop_dent(struct ext4b *b, struct dent *e)
{
    struct dent **pp = &b->hash[name_hash(e->parent, e->name, e->len) & (b->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        e->parent->first = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        e->parent->last = e->prev;
    b->count--;
    free(e->sub);
    free(e);
}

/* ---- extended attributes from the tar -------------------------------------------- */

/* The namespaces a container image may carry (file capabilities, for one); others, and
 * names or values no kernel would take, are left out. */
static int xattr_wanted(const char *name, size_t size)
{
    if (strncmp(name, "security.", 9) && strncmp(name, "user.", 5) && strncmp(name, "trusted.", 8))
        return 0;
    return strlen(name) <= 255 && size <= 65536 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(name);
}

/* The entry's wanted attributes (pointing into the entry); *out NULL when none. */
static int xattrs_of(struct archive_entry *ent, struct ext4img_xattr **out, size_t *n, struct bl_error *err)
{
    const char *name;
    const void *value;
    size_t size, cap = 0;
    *out = NULL;
    *n = 0;
    archive_entry_xattr_reset(ent);
    while (archive_entry_xattr_next(ent, &name, &value, &size) == ARCHIVE_OK) {
        if (!xattr_wanted(name, size))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            struct ext4img_xattr *v = realloc(*out, cap * sizeof *v);
            if (!v) {
                free(*out);
                *out = NULL;
                return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
            }
            *out = v;
        }
        (*out)[(*n)++] = (struct ext4img_xattr){name, value, size};
    }
    return 0;
}

/* Sets the entry's attributes on a new inode; returns how many, or an error. */
static int set_xattrs(struct ext4b *b, uint32_t ino, struct archive_entry *ent, const char *path,
                      struct bl_error *err)
{
    struct ext4img_xattr *x;
    size_t n;
    int r = xattrs_of(ent, &x, &n, err);
    if (r == 0 && n)
        r = ext4img_set_xattrs(b->img, ino, x, n, 0, path, err);
    free(x);
    return r < 0 ? r : (int)n;
}

/* ---- making and removing entries ----------------------------------------------------- */

static int make_dir(struct ext4b *b, struct dir *pd, const char *name, const struct ext4img_attr *a,
                    unsigned layer, struct dent **out, const char *path, struct bl_error *err)
{
    uint32_t ino;
    int r = ext4img_mkdir(b->img, pd->ino, a, &ino, path, err);
    if (r < 0)
        return r;
    struct dir *d = calloc(1, sizeof *d);
    struct dent *e = d ? add_dent(b, pd, name, ino, EXT4IMG_FT_DIR, layer) : NULL;
    if (!e) {
        free(d);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    d->ino = ino;
    d->parent = pd;
    e->sub = d;
    pd->nsub++;
    *out = e;
    return 0;
}

static int remove_tree(struct ext4b *b, struct dent *e, const char *path, struct bl_error *err)
{
    int r = 0;
    if (e->sub) {
        while (e->sub->first && r == 0)
            r = remove_tree(b, e->sub->first, path, err);
        if (r == 0)
            r = ext4img_unlink(b->img, e->ino, 1, path, err);
        e->parent->nsub--;
    } else {
        r = ext4img_unlink(b->img, e->ino, 0, path, err);
    }
    drop_dent(b, e);
    return r;
}

static int remove_entry(struct ext4b *b, struct dent *e, const char *path, struct bl_error *err)
{
    int r = ext4img_release_begin(b->img, err);
    if (r == 0)
        r = remove_tree(b, e, path, err);
    if (r == 0)
        r = ext4img_release_end(b->img, err);
    return r;
}

/* Opaque directory: what lower layers put in d goes, what this layer made stays (and below
 * it, the same again). */
static int opaque_clear(struct ext4b *b, struct dir *d, const char *path, struct bl_error *err)
{
    int r = ext4img_release_begin(b->img, err);
    for (struct dent *e = d->first, *nx; e && r == 0; e = nx) {
        nx = e->next;
        if (e->layer == b->layer) {
            if (e->sub)
                r = opaque_clear(b, e->sub, path, err);
            continue;
        }
        r = remove_tree(b, e, path, err);
    }
    if (r == 0)
        r = ext4img_release_end(b->img, err);
    return r;
}

enum walk { WALK_FIND, WALK_MAKE, WALK_MARK };

/* The directory at relative path dir ("" is the root), without following symlinks.
 * Missing components are made as 0755 root:root directories unless how is WALK_FIND;
 * WALK_MARK also marks each as part of this layer (a whiteout in it leaves them). */
static int walk_dir(struct ext4b *b, const char *dir, const char *entry, enum walk how, struct dir **out,
                    struct bl_error *err)
{
    struct dir *d = &b->root;
    char buf[PATH_LIMIT];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf, *next; p && *p; p = next) {
        char *slash = strchr(p, '/');
        next = slash ? slash + 1 : NULL;
        if (slash)
            *slash = 0;
        struct dent *e = lookup(b, d, p);
        if (!e && how == WALK_FIND)
            return bl_errno(err, ENOENT, "%.300s", dir);
        if (!e) {
            struct ext4img_attr a = {.mode = S_IFDIR | 0755, .mtime = time(NULL)};
            int r = make_dir(b, d, p, &a, 0, &e, entry, err);
            if (r < 0)
                return r;
        } else if (e->ftype == EXT4IMG_FT_SYMLINK) {
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\" would be written through a symlink in \"%.200s\"",
                          entry, dir);
        } else if (!e->sub) {
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\": a parent in \"%.200s\" is not a directory",
                          entry, dir);
        }
        if (how == WALK_MARK)
            e->layer = b->layer;
        d = e->sub;
    }
    *out = d;
    return 0;
}

static void split(const char *path, char *dir, size_t n, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    snprintf(dir, n, "%.*s", slash ? (int)(slash - path) : 0, path);
}

/* A directory that exists takes the entry's owner, mode, time and extended attributes
 * (replacing its own: the entry says what the directory is). */
static int update_dir(struct ext4b *b, struct dir *d, const struct ext4img_attr *a, struct archive_entry *ent,
                      const char *path, struct bl_error *err)
{
    int r = ext4img_set_attr(b->img, d->ino, a, path, err);
    struct ext4img_xattr *x = NULL;
    size_t n = 0;
    if (r == 0)
        r = xattrs_of(ent, &x, &n, err);
    if (r == 0 && (n || d->has_xattrs)) {
        /* Replacing attributes may free an xattr block. */
        if ((r = ext4img_release_begin(b->img, err)) == 0 &&
            (r = ext4img_set_xattrs(b->img, d->ino, x, n, 1, path, err)) == 0)
            r = ext4img_release_end(b->img, err);
        d->has_xattrs = n > 0;
    }
    free(x);
    return r;
}

static int make_file(struct ext4b *b, struct dir *pd, const char *base, const char *path,
                     const struct ext4img_attr *a, struct archive *ar, struct archive_entry *ent,
                     struct bl_error *err)
{
    int64_t size = archive_entry_size(ent);
    if (size < 0)
        return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry %.300s: negative size", path);
    uint32_t ino;
    int r = ext4img_file_open(b->img, pd->ino, a, &ino, path, err);
    if (r < 0)
        return r;
    const void *buf;
    size_t len;
    la_int64_t off;
    int ar_r;
    while ((ar_r = archive_read_data_block(ar, &buf, &len, &off)) == ARCHIVE_OK) {
        if (off < 0)
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry %.300s: bad data offset", path);
        if (off >= size)
            continue; /* past the size: cut, as a truncate would */
        if (len > (uint64_t)(size - off))
            len = (size_t)(size - off);
        if ((r = ext4img_file_write(b->img, (uint64_t)off, buf, len, err)) < 0)
            return r;
    }
    if (ar_r != ARCHIVE_EOF)
        return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry %.300s: %s", path, archive_error_string(ar));
    if ((r = ext4img_file_close(b->img, (uint64_t)size, err)) < 0)
        return r;
    if (!add_dent(b, pd, base, ino, EXT4IMG_FT_REG, b->layer))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    return (r = set_xattrs(b, ino, ent, path, err)) < 0 ? r : 0;
}

/* Symlinks, device nodes and FIFOs. */
static int make_special(struct ext4b *b, struct dir *pd, const char *base, const char *path,
                        const struct ext4img_attr *a, struct archive_entry *ent, struct bl_error *err)
{
    uint32_t ino;
    uint8_t ft;
    int r;
    if (S_ISLNK(a->mode)) {
        const char *target = archive_entry_symlink(ent);
        if (!target || !*target)
            return bl_err(err, BOXLITE_ERR_IMAGE, "symlink %.300s without a target", path);
        r = ext4img_symlink(b->img, pd->ino, a, target, &ino, path, err);
        ft = EXT4IMG_FT_SYMLINK;
    } else {
        r = ext4img_node(b->img, pd->ino, a, archive_entry_rdevmajor(ent), archive_entry_rdevminor(ent), &ino, path,
                         err);
        ft = S_ISCHR(a->mode) ? EXT4IMG_FT_CHR : S_ISBLK(a->mode) ? EXT4IMG_FT_BLK : EXT4IMG_FT_FIFO;
    }
    if (r < 0)
        return r;
    if (!add_dent(b, pd, base, ino, ft, b->layer))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    return (r = set_xattrs(b, ino, ent, path, err)) < 0 ? r : 0;
}

/* A hard link to an entry of this or a lower layer, found in the image only. */
static int make_hardlink(struct ext4b *b, struct dir *pd, const char *base, const char *path, struct dent *old,
                         const char *hardlink, struct bl_error *err)
{
    char target[PATH_LIMIT], tdir[PATH_LIMIT];
    const char *tbase;
    int r = ext4b_clean_path(hardlink, target, sizeof target, err);
    if (r < 0)
        return bl_err_prefix(err, "hardlink %.300s", path);
    if (!*target)
        return bl_err(err, BOXLITE_ERR_IMAGE, "hardlink %.300s to the root directory", path);
    split(target, tdir, sizeof tdir, &tbase);
    struct dir *td;
    struct dent *t = NULL;
    for (int pass = 0; pass < 2; pass++) {
        if ((r = walk_dir(b, tdir, path, WALK_FIND, &td, err)) < 0 && err->code != BOXLITE_ERR_NOT_FOUND)
            return r;
        if (r < 0 || !(t = lookup(b, td, tbase)))
            return bl_errno(err, ENOENT, "hardlink %.300s: target %.300s", path, target);
        if (t->sub)
            return bl_err(err, BOXLITE_ERR_IMAGE, "hardlink %.300s: target %.300s is a directory", path, target);
        if (!old || pass)
            break;
        if (old->ino == t->ino) {
            old->layer = b->layer;
            return 0;
        }
        /* The old entry goes first; the target is looked up again, it may have gone too. */
        if ((r = remove_entry(b, old, path, err)) < 0)
            return r;
    }
    if ((r = ext4img_link(b->img, t->ino, path, err)) < 0)
        return r;
    if (!add_dent(b, pd, base, t->ino, t->ftype, b->layer))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    return 0;
}

static int apply_entry(struct ext4b *b, struct archive *ar, struct archive_entry *ent, struct bl_error *err)
{
    const char *name = archive_entry_pathname(ent);
    char path[PATH_LIMIT], dir[PATH_LIMIT];
    int r = ext4b_clean_path(name, path, sizeof path, err);
    if (r < 0)
        return r;
    mode_t type = archive_entry_filetype(ent);
    uint32_t perm = archive_entry_perm(ent) & 07777;
    struct ext4img_attr a = {.uid = (uint32_t)archive_entry_uid(ent), .gid = (uint32_t)archive_entry_gid(ent),
                             .mtime = archive_entry_mtime(ent)};
    const char *hardlink = archive_entry_hardlink(ent);

    if (!*path) {
        if (type != AE_IFDIR || hardlink)
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\" replaces the root with a non-directory", name);
        a.mode = S_IFDIR | perm;
        return update_dir(b, &b->root, &a, ent, "/", err);
    }
    const char *base;
    split(path, dir, sizeof dir, &base);
    int whiteout = !strncmp(base, WH_PREFIX, strlen(WH_PREFIX));
    struct dir *pd;
    if ((r = walk_dir(b, dir, path, whiteout ? WALK_MAKE : WALK_MARK, &pd, err)) < 0)
        return r;

    if (whiteout) {
        if (!strcmp(base, WH_OPAQUE))
            return opaque_clear(b, pd, path, err);
        const char *victim = base + strlen(WH_PREFIX);
        if (!*victim || !strcmp(victim, ".") || !strcmp(victim, ".."))
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\": bad whiteout", name);
        struct dent *v = lookup(b, pd, victim);
        if (!v || v->layer == b->layer)
            return 0; /* whiteouts hide lower layers only */
        return remove_entry(b, v, path, err);
    }

    struct dent *old = lookup(b, pd, base);
    if (hardlink)
        return make_hardlink(b, pd, base, path, old, hardlink, err);
    if (old && !(type == AE_IFDIR && old->sub)) {
        if ((r = remove_entry(b, old, path, err)) < 0)
            return r;
        old = NULL;
    }
    switch (type) {
    case AE_IFDIR: {
        a.mode = S_IFDIR | perm;
        if (old) {
            old->layer = b->layer;
            return update_dir(b, old->sub, &a, ent, path, err);
        }
        struct dent *e;
        if ((r = make_dir(b, pd, base, &a, b->layer, &e, path, err)) < 0)
            return r;
        if ((r = set_xattrs(b, e->ino, ent, path, err)) < 0)
            return r;
        e->sub->has_xattrs = r > 0;
        return 0;
    }
    case AE_IFREG:
        a.mode = S_IFREG | perm;
        return make_file(b, pd, base, path, &a, ar, ent, err);
    case AE_IFLNK:
        a.mode = S_IFLNK | 0777;
        return make_special(b, pd, base, path, &a, ent, err);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
        a.mode = (uint32_t)type | perm;
        return make_special(b, pd, base, path, &a, ent, err);
    default:
        return 0; /* sockets and unknown types are not part of a filesystem image */
    }
}

/* ---- paths --------------------------------------------------------------------------- */

int ext4b_clean_path(const char *name, char *out, size_t n, struct bl_error *err)
{
    size_t o = 0;
    if (!name)
        return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry without a name");
    if (n == 0)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "no room for path");
    const char *p = name;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\" has a \"..\" component (escapes the root)", name);
        if (!(len == 1 && p[0] == '.')) {
            if (len > 255)
                return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\": name component longer than 255", name);
            if (o + len + 2 > n || o + len + 2 > PATH_LIMIT)
                return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\": path too long", name);
            if (o)
                out[o++] = '/';
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
    }
    out[o] = 0;
    return 0;
}

/* ---- layers -------------------------------------------------------------------------- */

static int apply_archive(struct ext4b *b, struct archive *ar, struct bl_error *err)
{
    struct archive_entry *ent;
    int r = 0, ar_r;
    unsigned long count = 0;
    while ((ar_r = archive_read_next_header(ar, &ent)) == ARCHIVE_OK || ar_r == ARCHIVE_WARN) {
        count++;
        if ((r = apply_entry(b, ar, ent, err)) < 0)
            break;
    }
    if (r == 0 && ar_r != ARCHIVE_EOF)
        r = bl_err(err, BOXLITE_ERR_IMAGE, "layer is not a valid tar stream (after %lu entries): %s", count,
                   archive_error_string(ar) ? archive_error_string(ar) : "unknown error");
    return r;
}

/* The tar reader: decompression and hashing happen in the layer stream, so libarchive only
 * parses tar (ustar, pax, GNU) from the bytes it is handed. */
struct stream_src {
    struct layer_stream *s;
    struct bl_error err; /* the stream's own failure, kept apart from libarchive's text */
    int failed;
};

static la_ssize_t stream_read(struct archive *ar, void *ud, const void **out)
{
    struct stream_src *src = ud;
    ssize_t n = layer_stream_read(src->s, out, &src->err);
    if (n < 0) {
        src->failed = 1;
        archive_set_error(ar, EIO, "%s", src->err.msg);
        return -1;
    }
    return n;
}

int ext4b_apply_stream(struct ext4b *b, struct layer_stream *s, const char *blob_digest, const char *diff_id,
                       struct bl_error *err)
{
    if (b->failed)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "build ext4 %s: an earlier step failed", b->out);
    b->layer++;
    struct stream_src src = {.s = s};
    struct archive *ar = archive_read_new();
    if (!ar)
        return lazylib_null_err(&lazy_archive_lib, err);
    archive_read_support_filter_none(ar);
    archive_read_support_format_tar(ar);
    int r;
    if (archive_read_open(ar, &src, NULL, stream_read, NULL) != ARCHIVE_OK)
        r = src.failed ? bl_err(err, src.err.code, "%s", src.err.msg)
                       : bl_err(err, BOXLITE_ERR_IMAGE, "layer: %s", archive_error_string(ar));
    else
        r = apply_archive(b, ar, err);
    if (r < 0 && src.failed)
        r = bl_err(err, src.err.code, "%s", src.err.msg); /* the cause, not libarchive's echo */
    archive_read_free(ar);
    /* The tar's end leaves padding unread; the digests cover every byte. */
    if (r == 0)
        r = layer_stream_finish(s, blob_digest, diff_id, err);
    if (r < 0)
        b->failed = 1;
    return r;
}

int ext4b_apply_mem(struct ext4b *b, const void *data, size_t len, struct bl_error *err)
{
    struct layer_stream *s;
    int r = layer_stream_open_mem(&s, data, len, err);
    if (r < 0)
        return r;
    r = ext4b_apply_stream(b, s, NULL, NULL, err);
    layer_stream_free(s);
    return r;
}

/* ---- start and finish ---------------------------------------------------------------- */

static int root_entry(void *ud, const struct ext4img_dirent *de)
{
    struct ext4b *b = ud;
    struct dir *d = calloc(1, sizeof *d);
    struct dent *e = d && de->ftype == EXT4IMG_FT_DIR && !strcmp(de->name, "lost+found") &&
                             !lookup(b, &b->root, de->name)
                         ? add_dent(b, &b->root, de->name, de->ino, EXT4IMG_FT_DIR, 0)
                         : NULL;
    if (!e) {
        free(d);
        return -1;
    }
    d->ino = de->ino;
    d->parent = &b->root;
    e->sub = d;
    b->root.nsub++;
    return 0;
}

/* The tree of the new image: the root and mke2fs's lost+found. */
static int start(struct ext4b **out, struct ext4img *img, const char *out_path, struct bl_error *err)
{
    struct ext4b *b = calloc(1, sizeof *b);
    if (!b || rehash(b) < 0) {
        free(b);
        ext4img_free(img);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    b->img = img;
    snprintf(b->out, sizeof b->out, "%s", out_path);
    b->root.ino = EXT4IMG_ROOT_INO;
    b->root.parent = &b->root;
    int r = ext4img_root_entries(img, root_entry, b, err);
    if (r == 0 && b->count != 1)
        r = bl_err(err, BOXLITE_ERR_INTERNAL, "%s: not an empty filesystem", out_path);
    if (r < 0) {
        ext4b_free(b);
        return bl_err_prefix(err, "build ext4 %s", out_path);
    }
    *out = b;
    return 0;
}

int ext4b_create(struct ext4b **out, const char *out_path, uint64_t expect, struct bl_error *err)
{
    struct ext4img *img;
    int r = ext4img_create(&img, out_path, expect, err);
    return r < 0 ? bl_err_prefix(err, "build ext4 %s", out_path) : start(out, img, out_path, err);
}

int ext4b_create_from(struct ext4b **out, const char *out_path, const char *empty_image, struct bl_error *err)
{
    struct ext4img *img;
    int r = ext4img_create_from(&img, out_path, empty_image, err);
    return r < 0 ? bl_err_prefix(err, "build ext4 %s", out_path) : start(out, img, out_path, err);
}

/* The directories, each from its entries, parents first (walked without recursion). */
static int write_dirs(struct ext4b *b, struct bl_error *err)
{
    size_t nd = 0, capd = 64, cape = 0;
    cleanup_free const struct dir **dirs = malloc(capd * sizeof *dirs);
    cleanup_free struct ext4img_dirent *ents = NULL;
    if (!dirs)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    dirs[nd++] = &b->root;
    uint64_t blocks = 0;
    for (size_t i = 0; i < nd; i++) {
        size_t n = 0;
        for (const struct dent *e = dirs[i]->first; e; e = e->next) {
            if (n == cape) {
                cape = cape ? cape * 2 : 256;
                struct ext4img_dirent *v = realloc(ents, cape * sizeof *v);
                if (!v)
                    return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
                ents = v;
            }
            ents[n++] = (struct ext4img_dirent){e->ino, e->ftype, e->len, e->name};
            if (!e->sub)
                continue;
            if (nd == capd) {
                const struct dir **v = realloc(dirs, capd * 2 * sizeof *v);
                if (!v)
                    return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
                dirs = v;
                capd *= 2;
            }
            dirs[nd++] = e->sub;
        }
        blocks += ext4img_dir_blocks(b->img, ents, n);
    }
    int r = ext4img_reserve(b->img, blocks + blocks / 256 + 16, err);
    for (size_t i = 0; r == 0 && i < nd; i++) {
        size_t n = 0;
        for (const struct dent *e = dirs[i]->first; e; e = e->next)
            ents[n++] = (struct ext4img_dirent){e->ino, e->ftype, e->len, e->name};
        r = ext4img_write_dir(b->img, dirs[i]->ino, dirs[i]->parent->ino, dirs[i]->nsub, ents, n,
                              dirs[i] == &b->root ? "/" : "a directory", err);
    }
    return r;
}

int ext4b_finish(struct ext4b *b, uint64_t headroom, struct ext4b_stats *st, struct bl_error *err)
{
    if (b->failed)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "build ext4 %s: an earlier step failed", b->out);
    b->failed = 1; /* spent, whatever happens */
    struct ext4img_stats s;
    int r = write_dirs(b, err);
    if (r == 0)
        r = ext4img_finish(b->img, headroom == EXT4B_KEEP_SIZE ? EXT4IMG_KEEP_SIZE : headroom, &s, err);
    if (r < 0)
        return bl_err_prefix(err, "build ext4 %s", b->out);
    if (st)
        *st = (struct ext4b_stats){.inodes = s.inodes, .bytes = s.bytes, .image_size = s.image_size,
                                   .resizes = s.resizes};
    return 0;
}

void ext4b_free(struct ext4b *b)
{
    if (!b)
        return;
    ext4img_free(b->img);
    for (size_t i = 0; i < b->nbuckets; i++)
        for (struct dent *e = b->hash[i], *nx; e; e = nx) {
            nx = e->hnext;
            free(e->sub);
            free(e);
        }
    free(b->hash);
    free(b);
}
