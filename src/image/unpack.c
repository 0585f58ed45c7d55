#include "image/unpack.h"

#include "image/layerstream.h"

#include "common/cleanup.h"
#include "image/ref.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define PATH_LIMIT 4096
#define READ_CHUNK (1 << 20)

/* ---- per-inode metadata ------------------------------------------------------------ */

void fsmeta_init(struct fsmeta *m) { memset(m, 0, sizeof *m); }

void fsmeta_xattrs_free(struct fsmeta_xattr *x)
{
    while (x) {
        struct fsmeta_xattr *n = x->next;
        free(x->name);
        free(x->value);
        free(x);
        x = n;
    }
}

void fsmeta_free(struct fsmeta *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].ino)
            fsmeta_xattrs_free(m->slots[i].xattrs);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static void fsmeta_insert(struct fsmeta_entry *slots, size_t cap, const struct fsmeta_entry *e,
                          size_t *used)
{
    for (size_t i = hash64(e->ino) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (slots[i].ino == e->ino) {
            if (slots[i].xattrs != e->xattrs)
                fsmeta_xattrs_free(slots[i].xattrs);
            slots[i] = *e;
            return;
        }
        if (!slots[i].ino) {
            slots[i] = *e;
            (*used)++;
            return;
        }
    }
}

int fsmeta_set(struct fsmeta *m, const struct fsmeta_entry *e)
{
    if (!e->ino) {
        fsmeta_xattrs_free(e->xattrs);
        return -BOXLITE_ERR_INVALID;
    }
    if ((m->used + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 1024;
        struct fsmeta_entry *ns = calloc(ncap, sizeof *ns);
        if (!ns) {
            fsmeta_xattrs_free(e->xattrs);
            return -BOXLITE_ERR_NOMEM;
        }
        size_t used = 0;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].ino)
                fsmeta_insert(ns, ncap, &m->slots[i], &used);
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
        m->used = used;
    }
    fsmeta_insert(m->slots, m->cap, e, &m->used);
    return 0;
}

const struct fsmeta_entry *fsmeta_get(const struct fsmeta *m, uint64_t ino)
{
    if (!m->cap || !ino)
        return NULL;
    for (size_t i = hash64(ino) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].ino == ino)
            return &m->slots[i];
        if (!m->slots[i].ino)
            return NULL;
    }
}

/* ---- paths made by the current layer (whiteouts only hide lower layers) ------------- */

struct pathset {
    char **slots;
    size_t cap, used;
};

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int pathset_has(const struct pathset *ps, const char *p)
{
    if (!ps->cap)
        return 0;
    for (size_t i = hash_str(p) & (ps->cap - 1);; i = (i + 1) & (ps->cap - 1)) {
        if (!ps->slots[i])
            return 0;
        if (!strcmp(ps->slots[i], p))
            return 1;
    }
}

static int pathset_add_one(struct pathset *ps, const char *p);

/* Adds p and its parents: an opaque marker must not hide a directory this layer fills. */
static int pathset_add(struct pathset *ps, const char *p)
{
    char buf[PATH_LIMIT];
    snprintf(buf, sizeof buf, "%s", p);
    for (;;) {
        if (pathset_has(ps, buf))
            return 0;
        int r = pathset_add_one(ps, buf);
        if (r < 0)
            return r;
        char *slash = strrchr(buf, '/');
        if (!slash)
            return 0;
        *slash = 0;
    }
}

static int pathset_add_one(struct pathset *ps, const char *p)
{
    if ((ps->used + 1) * 2 > ps->cap) {
        size_t ncap = ps->cap ? ps->cap * 2 : 1024;
        char **ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return -BOXLITE_ERR_NOMEM;
        for (size_t i = 0; i < ps->cap; i++) {
            if (!ps->slots[i])
                continue;
            size_t j = hash_str(ps->slots[i]) & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = ps->slots[i];
        }
        free(ps->slots);
        ps->slots = ns;
        ps->cap = ncap;
    }
    char *d = strdup(p);
    if (!d)
        return -BOXLITE_ERR_NOMEM;
    size_t j = hash_str(p) & (ps->cap - 1);
    while (ps->slots[j])
        j = (j + 1) & (ps->cap - 1);
    ps->slots[j] = d;
    ps->used++;
    return 0;
}

static void pathset_free(struct pathset *ps)
{
    for (size_t i = 0; i < ps->cap; i++)
        free(ps->slots[i]);
    free(ps->slots);
    memset(ps, 0, sizeof *ps);
}

/* ---- path handling ------------------------------------------------------------------ */

int unpack_clean_path(const char *name, char *out, size_t n, struct bl_error *err)
{
    size_t o = 0;
    if (!name)
        return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry without a name");
    const char *p = name;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 1 && p[0] == '.') {
            /* skip */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\" has a \"..\" component (escapes the root)", name);
        } else {
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
    if (n == 0)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "no room for path");
    out[o] = 0;
    return 0;
}

static int openat2_beneath(int dirfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    return (int)r;
}

struct applier {
    int rootfd;
    struct fsmeta *meta;
    struct pathset layer_paths;
    uid_t host_uid;
    struct fsmeta_xattr *pending; /* the current entry's xattrs, until recorded */
    struct bl_error *err;
};

/* Records the guest metadata of dirfd/name; own: the entry being applied (its xattrs). */
static int record_x(struct applier *a, int dirfd, const char *name, uint32_t uid, uint32_t gid,
                    uint32_t mode, uint64_t rdev, int own)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH)) < 0)
        return bl_errno(a->err, errno, "stat %s", name);
    struct fsmeta_entry e = {.ino = st.st_ino, .uid = uid, .gid = gid, .mode = mode, .rdev = rdev};
    if (own) {
        e.xattrs = a->pending;
        a->pending = NULL;
    }
    if (fsmeta_set(a->meta, &e) < 0)
        return bl_err(a->err, BOXLITE_ERR_NOMEM, "out of memory");
    return 0;
}

static int record(struct applier *a, int dirfd, const char *name, uint32_t uid, uint32_t gid,
                  uint32_t mode, uint64_t rdev)
{
    return record_x(a, dirfd, name, uid, gid, mode, rdev, 1);
}

/* Opens the directory at relative path dir (may be ""), creating missing components as
 * 0755 root:root directories. A component that is a symlink or not a directory is an
 * error: entries are never written through symlinks. */
static int open_parent(struct applier *a, const char *dir, const char *entry)
{
    if (!*dir)
        return fcntl(a->rootfd, F_DUPFD_CLOEXEC, 0);
    int fd = openat2_beneath(a->rootfd, dir, O_PATH | O_DIRECTORY);
    if (fd >= 0)
        return fd;
    if (errno == ENOSYS)
        return bl_err(a->err, BOXLITE_ERR_UNSUPPORTED, "openat2 is not available (Linux 5.6+ needed)");
    if (errno != ENOENT)
        goto bad;
    /* Walk component by component, creating what is missing. */
    fd = fcntl(a->rootfd, F_DUPFD_CLOEXEC, 0);
    char buf[PATH_LIMIT];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf; p && *p;) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = 0;
        int nfd = openat2_beneath(fd, p, O_PATH | O_DIRECTORY);
        if (nfd < 0 && errno == ENOENT) {
            if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
                int e = errno;
                close(fd);
                return bl_errno(a->err, e, "layer entry %.200s: mkdir %s", entry, p);
            }
            /* A guest directory the layer did not describe: root-owned 0755. */
            if (record_x(a, fd, p, 0, 0, S_IFDIR | 0755, 0, 0) < 0) {
                close(fd);
                return -a->err->code;
            }
            nfd = openat2_beneath(fd, p, O_PATH | O_DIRECTORY);
        }
        if (nfd < 0) {
            close(fd);
            goto bad;
        }
        close(fd);
        fd = nfd;
        p = slash ? slash + 1 : NULL;
    }
    return fd;
bad:
    if (errno == ELOOP || errno == EXDEV)
        return bl_err(a->err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\" would be written through a symlink in \"%.200s\"", entry, dir);
    if (errno == ENOTDIR)
        return bl_err(a->err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\": a parent in \"%.200s\" is not a directory", entry, dir);
    return bl_errno(a->err, errno, "layer entry \"%.200s\": open %s", entry, dir);
}

/* Removes name (a file, symlink or whole tree) below dirfd without following links. */
static int remove_at(int at, const char *name)
{
    struct stat st;
    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(at, name, 0) < 0 ? -errno : 0;
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        int rr = remove_at(dirfd(d), de->d_name);
        if (rr < 0)
            r = rr;
    }
    closedir(d);
    if (unlinkat(at, name, AT_REMOVEDIR) < 0 && !r)
        r = -errno;
    return r;
}

static void join(char *out, size_t n, const char *dir, const char *base)
{
    if (*dir)
        snprintf(out, n, "%s/%s", dir, base);
    else
        snprintf(out, n, "%s", base);
}

/* Opaque directory: hide everything lower layers put in dir, keep what this layer made. */
static int opaque_clear(struct applier *a, int dfd, const char *dir)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(a->err, errno, "opaque dir %s", dir);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return bl_errno(a->err, errno, "opaque dir %s", dir);
    }
    struct dirent *de;
    int r = 0;
    while (r == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char child[PATH_LIMIT + 256];
        join(child, sizeof child, dir, de->d_name);
        if (pathset_has(&a->layer_paths, child)) {
            struct stat st;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
                int cfd = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0)
                    r = bl_errno(a->err, errno, "opaque dir %s", child);
                else {
                    r = opaque_clear(a, cfd, child);
                    close(cfd);
                }
            }
            continue;
        }
        int rr = remove_at(dirfd(d), de->d_name);
        if (rr < 0)
            r = bl_errno(a->err, -rr, "opaque dir: remove %s", child);
    }
    closedir(d);
    return r;
}

static int write_file(struct applier *a, struct archive *ar, int fd, const char *path,
                      int64_t size)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(ar, &buf, &len, &off)) == ARCHIVE_OK) {
        const char *p = buf;
        while (len > 0) {
            ssize_t n = pwrite(fd, p, len, off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return bl_errno(a->err, errno, "write %s", path);
            p += n;
            off += n;
            len -= (size_t)n;
        }
    }
    if (r != ARCHIVE_EOF)
        return bl_err(a->err, BOXLITE_ERR_IMAGE, "layer entry %s: %s", path, archive_error_string(ar));
    if (ftruncate(fd, size) < 0) /* sparse tails */
        return bl_errno(a->err, errno, "truncate %s", path);
    return 0;
}

static int xattrs_of(struct applier *a, struct archive_entry *ent)
{
    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(ent);
    while (archive_entry_xattr_next(ent, &name, &value, &size) == ARCHIVE_OK) {
        if (strncmp(name, "security.", 9) && strncmp(name, "user.", 5) && strncmp(name, "trusted.", 8))
            continue;
        if (strlen(name) > 255 || size > 65536 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(name))
            continue;
        struct fsmeta_xattr *x = calloc(1, sizeof *x);
        if (!x || !(x->name = strdup(name)) || !(x->value = malloc(size ? size : 1))) {
            fsmeta_xattrs_free(x);
            return bl_err(a->err, BOXLITE_ERR_NOMEM, "out of memory");
        }
        memcpy(x->value, value, size);
        x->size = size;
        x->next = a->pending;
        a->pending = x;
    }
    return 0;
}

static int apply_entry_inner(struct applier *a, struct archive *ar, struct archive_entry *ent);

static int apply_entry(struct applier *a, struct archive *ar, struct archive_entry *ent)
{
    int r = xattrs_of(a, ent);
    if (r == 0)
        r = apply_entry_inner(a, ar, ent);
    fsmeta_xattrs_free(a->pending);
    a->pending = NULL;
    return r;
}

static int apply_entry_inner(struct applier *a, struct archive *ar, struct archive_entry *ent)
{
    const char *name = archive_entry_pathname(ent);
    char path[PATH_LIMIT];
    int r = unpack_clean_path(name, path, sizeof path, a->err);
    if (r < 0)
        return r;
    mode_t type = archive_entry_filetype(ent);
    uint32_t perm = archive_entry_perm(ent) & 07777;
    uint32_t uid = (uint32_t)archive_entry_uid(ent), gid = (uint32_t)archive_entry_gid(ent);
    const char *hardlink = archive_entry_hardlink(ent);

    if (!*path) {
        if (type == AE_IFDIR && !hardlink) {
            fchmod(a->rootfd, perm | 0700);
            return record(a, a->rootfd, "", uid, gid, S_IFDIR | perm, 0);
        }
        return bl_err(a->err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\" replaces the root with a non-directory", name);
    }
    char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char dir[PATH_LIMIT];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 0, path);

    cleanup_close int pfd = open_parent(a, dir, path);
    if (pfd < 0)
        return pfd;

    if (!strncmp(base, WH_PREFIX, strlen(WH_PREFIX))) {
        if (!strcmp(base, WH_OPAQUE))
            return opaque_clear(a, pfd, dir);
        const char *victim = base + strlen(WH_PREFIX);
        if (!*victim || !strcmp(victim, ".") || !strcmp(victim, ".."))
            return bl_err(a->err, BOXLITE_ERR_IMAGE, "layer entry \"%.200s\": bad whiteout", name);
        char vpath[PATH_LIMIT + 256];
        join(vpath, sizeof vpath, dir, victim);
        if (pathset_has(&a->layer_paths, vpath))
            return 0; /* whiteouts hide lower layers only */
        r = remove_at(pfd, victim);
        if (r < 0)
            return bl_errno(a->err, -r, "whiteout %s", vpath);
        return 0;
    }

    if (pathset_add(&a->layer_paths, path) < 0)
        return bl_err(a->err, BOXLITE_ERR_NOMEM, "out of memory");

    struct stat old;
    int exists = fstatat(pfd, base, &old, AT_SYMLINK_NOFOLLOW) == 0;

    if (hardlink) {
        char target[PATH_LIMIT];
        if ((r = unpack_clean_path(hardlink, target, sizeof target, a->err)) < 0)
            return bl_err_prefix(a->err, "hardlink %s", path);
        char *ts = strrchr(target, '/');
        const char *tbase = ts ? ts + 1 : target;
        char tdir[PATH_LIMIT];
        snprintf(tdir, sizeof tdir, "%.*s", ts ? (int)(ts - target) : 0, target);
        if (!*target)
            return bl_err(a->err, BOXLITE_ERR_IMAGE, "hardlink %s to the root directory", path);
        cleanup_close int tfd = open_parent(a, tdir, path);
        if (tfd < 0)
            return tfd;
        struct stat tst;
        if (fstatat(tfd, tbase, &tst, AT_SYMLINK_NOFOLLOW) < 0)
            return bl_errno(a->err, errno, "hardlink %s: target %s", path, target);
        if (S_ISDIR(tst.st_mode))
            return bl_err(a->err, BOXLITE_ERR_IMAGE, "hardlink %s: target %s is a directory", path, target);
        if (exists && old.st_ino == tst.st_ino)
            return 0;
        if (exists && (r = remove_at(pfd, base)) < 0)
            return bl_errno(a->err, -r, "replace %s", path);
        if (linkat(tfd, tbase, pfd, base, 0) < 0)
            return bl_errno(a->err, errno, "hardlink %s -> %s", path, target);
        return 0;
    }

    if (exists && !(type == AE_IFDIR && S_ISDIR(old.st_mode))) {
        r = remove_at(pfd, base);
        if (r < 0)
            return bl_errno(a->err, -r, "replace %s", path);
    }
    struct timespec ts[2] = {{.tv_sec = archive_entry_mtime(ent)}, {.tv_sec = archive_entry_mtime(ent)}};
    switch (type) {
    case AE_IFDIR:
        if (!(exists && S_ISDIR(old.st_mode)) && mkdirat(pfd, base, 0700) < 0)
            return bl_errno(a->err, errno, "mkdir %s", path);
        if (fchmodat(pfd, base, perm | 0700, 0) < 0)
            return bl_errno(a->err, errno, "chmod %s", path);
        return record(a, pfd, base, uid, gid, S_IFDIR | perm, 0);
    case AE_IFREG: {
        cleanup_close int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return bl_errno(a->err, errno, "create %s", path);
        if ((r = write_file(a, ar, fd, path, archive_entry_size(ent))) < 0)
            return r;
        if (fchmod(fd, perm | 0400) < 0)
            return bl_errno(a->err, errno, "chmod %s", path);
        futimens(fd, ts);
        return record(a, fd, "", uid, gid, S_IFREG | perm, 0);
    }
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(ent);
        if (!target || !*target)
            return bl_err(a->err, BOXLITE_ERR_IMAGE, "symlink %s without a target", path);
        if (symlinkat(target, pfd, base) < 0)
            return bl_errno(a->err, errno, "symlink %s", path);
        utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
        return record(a, pfd, base, uid, gid, S_IFLNK | 0777, 0);
    }
    case AE_IFCHR:
    case AE_IFBLK: {
        /* A placeholder; the ext4 builder makes the real node. */
        cleanup_close int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return bl_errno(a->err, errno, "create %s", path);
        return record(a, fd, "", uid, gid, (type == AE_IFCHR ? S_IFCHR : S_IFBLK) | perm,
                      makedev(archive_entry_rdevmajor(ent), archive_entry_rdevminor(ent)));
    }
    case AE_IFIFO:
        if (mkfifoat(pfd, base, 0600) < 0)
            return bl_errno(a->err, errno, "mkfifo %s", path);
        if (fchmodat(pfd, base, perm | 0600, 0) < 0)
            return bl_errno(a->err, errno, "chmod %s", path);
        return record(a, pfd, base, uid, gid, S_IFIFO | perm, 0);
    default:
        return 0; /* sockets and unknown types are not part of a filesystem image */
    }
}

static int apply_archive(int rootfd, struct archive *ar, struct fsmeta *meta, struct bl_error *err)
{
    struct applier a = {.rootfd = rootfd, .meta = meta, .err = err, .host_uid = geteuid()};
    struct archive_entry *ent;
    int r = 0, ar_r;
    unsigned long count = 0;
    while ((ar_r = archive_read_next_header(ar, &ent)) == ARCHIVE_OK || ar_r == ARCHIVE_WARN) {
        count++;
        if ((r = apply_entry(&a, ar, ent)) < 0)
            break;
    }
    if (r == 0 && ar_r != ARCHIVE_EOF)
        r = bl_err(err, BOXLITE_ERR_IMAGE, "layer is not a valid tar stream (after %lu entries): %s", count,
                   archive_error_string(ar) ? archive_error_string(ar) : "unknown error");
    pathset_free(&a.layer_paths);
    return r;
}

/* The tar reader: decompression and hashing happen in the layer stream, so libarchive only
 * parses tar (ustar, pax, GNU) from the bytes it is handed. */
static struct archive *new_reader(void)
{
    struct archive *ar = archive_read_new();
    if (!ar)
        return NULL;
    archive_read_support_filter_none(ar);
    archive_read_support_format_tar(ar);
    return ar;
}

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

int layer_apply_stream(int rootfd, struct layer_stream *s, const char *blob_digest, const char *diff_id,
                       struct fsmeta *meta, struct bl_error *err)
{
    struct stream_src src = {.s = s};
    struct archive *ar = new_reader();
    if (!ar)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int r;
    if (archive_read_open(ar, &src, NULL, stream_read, NULL) != ARCHIVE_OK)
        r = src.failed ? bl_err(err, src.err.code, "%s", src.err.msg)
                       : bl_err(err, BOXLITE_ERR_IMAGE, "layer: %s", archive_error_string(ar));
    else
        r = apply_archive(rootfd, ar, meta, err);
    if (r < 0 && src.failed)
        r = bl_err(err, src.err.code, "%s", src.err.msg); /* the cause, not libarchive's echo */
    archive_read_free(ar);
    /* The tar's end leaves padding unread; the digests cover every byte. */
    if (r == 0)
        r = layer_stream_finish(s, blob_digest, diff_id, err);
    return r;
}

int layer_apply_file(int rootfd, const char *path, const char *blob_digest, const char *diff_id,
                     struct fsmeta *meta, struct bl_error *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "open layer %s", path);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    struct layer_stream *s;
    int r = layer_stream_open_fd(&s, fd, NULL, NULL, err);
    if (r < 0)
        return r;
    r = layer_apply_stream(rootfd, s, blob_digest, diff_id, meta, err);
    layer_stream_free(s);
    return r;
}

int layer_apply_mem(int rootfd, const void *data, size_t len, struct fsmeta *meta, struct bl_error *err)
{
    struct layer_stream *s;
    int r = layer_stream_open_mem(&s, data, len, err);
    if (r < 0)
        return r;
    r = layer_apply_stream(rootfd, s, NULL, NULL, meta, err);
    layer_stream_free(s);
    return r;
}

int unpack_init_root(int rootfd, struct fsmeta *meta, struct bl_error *err)
{
    struct applier a = {.rootfd = rootfd, .meta = meta, .err = err};
    fchmod(rootfd, 0755);
    return record(&a, rootfd, "", 0, 0, S_IFDIR | 0755, 0);
}
