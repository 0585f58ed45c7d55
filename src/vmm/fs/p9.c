// SPDX-License-Identifier: Apache-2.0
/* The 9P2000.L server (protocol as implemented by Linux net/9p and fs/9p; message layouts
 * in Documentation/filesystems/9p.rst and the diod protocol notes). One fid table per
 * server; each fid holds an O_PATH descriptor, and every lookup is one component (never
 * "/", "." or "..") opened with O_NOFOLLOW relative to its directory's descriptor, so the
 * guest can never name a host path outside the share. */
#include "vmm/fs/p9.h"
#include "vmm/fs/p9_impl.h"

#include "common/cleanup.h"
#include "vmm/fs/p9_meta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define RLERROR_SIZE 11 /* size[4] type[1] tag[2] ecode[4] */
#define MSIZE_MAX (16u * 1024 * 1024)

/* ---- message reading and writing --------------------------------------------------- */

struct wr {
    uint8_t *p;
    size_t cap, off;
    bool overflow;
};

static uint8_t *wr_take(struct wr *w, size_t n)
{
    if (w->overflow || n > w->cap - w->off) {
        w->overflow = true;
        return NULL;
    }
    uint8_t *p = w->p + w->off;
    w->off += n;
    return p;
}

static void wr_le(struct wr *w, uint64_t v, unsigned n)
{
    uint8_t *p = wr_take(w, n);
    if (!p)
        return;
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void wr8(struct wr *w, uint8_t v) { wr_le(w, v, 1); }
static void wr16(struct wr *w, uint16_t v) { wr_le(w, v, 2); }
static void wr32(struct wr *w, uint32_t v) { wr_le(w, v, 4); }
static void wr64(struct wr *w, uint64_t v) { wr_le(w, v, 8); }

static void wr_str(struct wr *w, const char *s)
{
    size_t n = strlen(s);
    if (n > UINT16_MAX) {
        w->overflow = true;
        return;
    }
    wr16(w, (uint16_t)n);
    uint8_t *p = wr_take(w, n);
    if (p)
        memcpy(p, s, n);
}

struct qid p9_qid_of(const struct p9_server *s, const struct stat *st)
{
    struct qid q = { .type = P9_QTFILE, .version = 0, .path = st->st_ino };
    if (S_ISDIR(st->st_mode))
        q.type = P9_QTDIR;
    else if (S_ISLNK(st->st_mode))
        q.type = P9_QTSYMLINK;
    /* Files on another filesystem mounted inside the share could repeat inode numbers;
     * fold the device into the top bits so their qids stay distinct in practice. */
    if (st->st_dev != s->root_dev)
        q.path ^= (uint64_t)st->st_dev << 48;
    return q;
}

static void wr_qid(struct wr *w, struct qid q)
{
    wr8(w, q.type);
    wr32(w, q.version);
    wr64(w, q.path);
}

/* ---- fids ---------------------------------------------------------------------------- */

static struct p9_fid **fid_slot(struct p9_server *s, uint32_t id)
{
    struct p9_fid **pp = &s->fids[id % FID_BUCKETS];
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    return pp;
}

struct p9_fid *p9_fid_get(struct p9_server *s, uint32_t id)
{
    return *fid_slot(s, id);
}

static void fid_release(struct p9_fid *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->pfd >= 0)
        close(f->pfd);
    if (f->parent >= 0)
        close(f->parent);
    free(f->name);
    free(f);
}

static void fid_clunk(struct p9_server *s, uint32_t id)
{
    struct p9_fid **pp = fid_slot(s, id);
    struct p9_fid *f = *pp;
    if (!f)
        return;
    *pp = f->next;
    s->nfids--;
    fid_release(f);
}

void p9_fid_clunk_all(struct p9_server *s)
{
    for (size_t i = 0; i < FID_BUCKETS; i++) {
        while (s->fids[i]) {
            struct p9_fid *f = s->fids[i];
            s->fids[i] = f->next;
            fid_release(f);
        }
    }
    s->nfids = 0;
}

/* Adds a fid taking ownership of pfd, parent and name (released on failure too). */
int p9_fid_add(struct p9_server *s, uint32_t id, int pfd, int parent, char *name,
               uint8_t qtype, bool is_root, uint32_t uid)
{
    int err = 0;
    struct p9_fid *f = NULL;
    if (id == P9_NOFID || p9_fid_get(s, id))
        err = EBADF;
    else if (s->nfids >= P9_MAX_FIDS)
        err = EMFILE;
    else if (!(f = calloc(1, sizeof *f)))
        err = ENOMEM;
    if (err) {
        close(pfd);
        if (parent >= 0)
            close(parent);
        free(name);
        return err;
    }
    *f = (struct p9_fid){ .id = id, .pfd = pfd, .parent = parent, .name = name, .fd = -1,
                          .qtype = qtype, .is_root = is_root, .uid = uid };
    struct p9_fid **pp = &s->fids[id % FID_BUCKETS];
    f->next = *pp;
    *pp = f;
    s->nfids++;
    return 0;
}

/* ---- host file helpers --------------------------------------------------------------- */

int p9_stat_fd(int fd, struct stat *st)
{
    return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
}

/* The file as the guest sees it: the host's stat with the recorded owner and mode. */
int p9_stat_guest(const struct p9_server *s, int fd, struct stat *st)
{
    int e = p9_stat_fd(fd, st);
    if (!e && s->mapped)
        p9_meta_apply(fd, st);
    return e;
}

/* A name the guest may create or look up: one component, not "." or "..". */
bool p9_name_ok(const char *name)
{
    return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Opens one component beneath dirfd without following a symlink. With a single component
 * and O_NOFOLLOW nothing is resolved but the name itself, in dirfd: what
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) would guarantee, through a call whose
 * flags and mode the jail's seccomp filter can check (openat2 hides them in a struct). */
int p9_open_beneath(int dirfd, const char *name, uint64_t flags, uint64_t mode)
{
    if (!p9_name_ok(name))
        return -EINVAL;
    int fd = openat(dirfd, name, (int)flags | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    return fd < 0 ? -errno : fd;
}

static bool is_root_fd(const struct p9_server *s, int fd)
{
    struct stat st;
    return p9_stat_fd(fd, &st) == 0 && st.st_dev == s->root_dev && st.st_ino == s->root_ino;
}

/* Whether the fid's remembered parent and name still name its file: a rename through
 * other fids (Trenameat) leaves them stale, and acting on a stale name could hit another
 * file that took the old name since. */
static bool name_current(const struct p9_fid *f)
{
    struct stat a, b;
    if (f->parent < 0 || !f->name)
        return false;
    return fstatat(f->parent, f->name, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
           p9_stat_fd(f->pfd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* One step of a walk from dir (O_PATH). Returns a new O_PATH fd or -errno; *at_root says
 * whether the result is the share root. ".." at the root stays at the root. */
static int walk_step(struct p9_server *s, int dir, bool dir_is_root, const char *name,
                     bool *at_root)
{
    int fd;
    *at_root = false;
    if (!name[0] || strchr(name, '/'))
        return -EINVAL;
    if (strcmp(name, ".") == 0 || (strcmp(name, "..") == 0 && dir_is_root)) {
        fd = fcntl(dir_is_root ? s->rootfd : dir, F_DUPFD_CLOEXEC, 0);
        *at_root = dir_is_root;
        return fd < 0 ? -errno : fd;
    }
    if (strcmp(name, "..") == 0) {
        /* dir lies beneath the root and is not the root, so its parent is still inside. */
        fd = openat(dir, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        *at_root = is_root_fd(s, fd);
        return fd;
    }
    return p9_open_beneath(dir, name, O_PATH, 0);
}

/* Reopens an O_PATH fd for I/O through /proc/self/fd. Only regular files and directories:
 * symlinks would be followed, and FIFOs or devices could block or reach host devices. */
int p9_reopen(struct p9_server *s, struct p9_fid *f, int flags)
{
    struct stat st;
    int e = p9_stat_guest(s, f->pfd, &st);
    if (e)
        return -e;
    if (S_ISLNK(st.st_mode))
        return -ELOOP; /* a host symlink, or a guest symlink recorded in a host file */
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return -EOPNOTSUPP;
    char num[16];
    snprintf(num, sizeof num, "%d", f->pfd);
    int fd = openat(s->procfd, num, (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC |
                                        O_NOCTTY);
    return fd < 0 ? -errno : fd;
}

int p9_dotl_open_flags(uint32_t l, bool readonly, int *out)
{
    int f;
    switch (l & DOTL_ACCMODE) {
    case 0: f = O_RDONLY; break;
    case 1: f = O_WRONLY; break;
    case 2: f = O_RDWR; break;
    default: return EINVAL;
    }
    if (l & DOTL_TRUNC)
        f |= O_TRUNC;
    if (l & DOTL_APPEND)
        f |= O_APPEND;
    if (l & DOTL_DSYNC)
        f |= O_DSYNC;
    if (l & DOTL_SYNC)
        f |= O_SYNC;
    if (l & DOTL_DIRECTORY)
        f |= O_DIRECTORY;
    if (readonly && ((f & O_ACCMODE) != O_RDONLY || (f & (O_TRUNC | O_APPEND))))
        return EROFS;
    *out = f;
    return 0;
}

/* ---- request handlers: each parses its whole message before acting, returns 0 with the
 * reply body written, or a Linux errno for Rlerror. ---------------------------------- */

typedef int (*p9_handler)(struct p9_server *s, struct rd *r, struct wr *w);

#define PARSED(r)                                                                         \
    do {                                                                                  \
        if (!rd_ok(r))                                                                    \
            return EINVAL;                                                                \
    } while (0)

#define FID(var, s, id)                                                                   \
    struct p9_fid *var = p9_fid_get((s), (id));                                           \
    if (!var)                                                                             \
        return EBADF;                                                                     \
    if (var->stale)                                                                       \
        return ESTALE

#define WRITABLE(s)                                                                       \
    do {                                                                                  \
        if ((s)->readonly)                                                                \
            return EROFS;                                                                 \
    } while (0)

static int h_version(struct p9_server *s, struct rd *r, struct wr *w)
{
    char version[64];
    uint32_t msize = rd32(r);
    rd_str(r, version, sizeof version);
    PARSED(r);
    if (msize < P9_MSIZE_MIN)
        return EINVAL;
    p9_fid_clunk_all(s);
    s->msize = msize < s->max_msize ? msize : s->max_msize;
    wr32(w, s->msize);
    wr_str(w, strcmp(version, "9P2000.L") == 0 ? "9P2000.L" : "unknown");
    return 0;
}

static int h_auth(struct p9_server *s, struct rd *r, struct wr *w)
{
    return EOPNOTSUPP; /* no authentication: Tattach takes afid = NOFID */
}

static int h_attach(struct p9_server *s, struct rd *r, struct wr *w)
{
    char uname[256], aname[256];
    uint32_t fid = rd32(r), afid = rd32(r);
    rd_str(r, uname, sizeof uname);
    rd_str(r, aname, sizeof aname);
    uint32_t uid = rd32(r); /* n_uname: Linux attaches once per user (access=user/client) */
    PARSED(r);
    if (afid != P9_NOFID)
        return EINVAL;
    int fd = fcntl(s->rootfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    struct stat st;
    int e = p9_stat_guest(s, fd, &st);
    if (e) {
        close(fd);
        return e;
    }
    if ((e = p9_fid_add(s, fid, fd, -1, NULL, P9_QTDIR, true, uid)))
        return e;
    wr_qid(w, p9_qid_of(s, &st));
    return 0;
}

static int h_flush(struct p9_server *s, struct rd *r, struct wr *w)
{
    rd16(r); /* oldtag: every request has already completed */
    PARSED(r);
    return 0;
}

static int h_walk(struct p9_server *s, struct rd *r, struct wr *w)
{
    char names[P9_MAXWELEM][NAME_MAX + 1];
    uint32_t fid = rd32(r), newfid = rd32(r);
    uint16_t n = rd16(r);
    if (n > P9_MAXWELEM)
        return EINVAL;
    for (unsigned i = 0; i < n; i++)
        rd_str(r, names[i], sizeof names[i]);
    PARSED(r);
    FID(f, s, fid);
    if (newfid != fid && p9_fid_get(s, newfid))
        return EBADF;

    int cur = fcntl(f->pfd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        return errno;
    int parent = f->parent >= 0 ? fcntl(f->parent, F_DUPFD_CLOEXEC, 0) : -1;
    char *name = f->name ? strdup(f->name) : NULL;
    bool at_root = f->is_root;
    uint8_t qtype = f->qtype;
    int err = 0;
    unsigned done = 0;
    wr16(w, 0); /* nwqid, patched below */
    for (; done < n; done++) {
        bool next_root;
        int next = walk_step(s, cur, at_root, names[done], &next_root);
        struct stat st;
        if (next >= 0 && (err = p9_stat_guest(s, next, &st))) {
            close(next);
            next = -err;
        }
        if (next < 0) {
            err = -next;
            break;
        }
        struct qid q = p9_qid_of(s, &st);
        wr_qid(w, q);
        if (parent >= 0)
            close(parent);
        parent = -1;
        free(name);
        name = NULL;
        if (strcmp(names[done], ".") == 0 || strcmp(names[done], "..") == 0 || next_root) {
            close(cur); /* parent and name of this directory are not known here */
        } else {
            parent = cur;
            name = strdup(names[done]);
        }
        cur = next;
        at_root = next_root;
        qtype = q.type;
    }
    if (done < n) {
        close(cur);
        if (parent >= 0)
            close(parent);
        free(name);
        if (done == 0)
            return err ? err : ENOENT;
        w->p[0] = (uint8_t)done; /* a partial walk: Rwalk with the qids that succeeded */
        w->p[1] = 0;
        return 0;
    }
    w->p[0] = (uint8_t)done;
    w->p[1] = 0;
    if (newfid == fid) {
        if (n > 0 && f->fd >= 0) {
            close(f->fd); /* the fid now names another file, not opened */
            f->fd = -1;
        }
        close(f->pfd);
        if (f->parent >= 0)
            close(f->parent);
        free(f->name);
        f->pfd = cur;
        f->parent = parent;
        f->name = name;
        f->qtype = qtype;
        f->is_root = at_root;
        return 0;
    }
    int e = p9_fid_add(s, newfid, cur, parent, name, qtype, at_root, f->uid);
    if (e)
        w->off = 0;
    return e;
}

static int h_clunk(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r);
    PARSED(r);
    if (!p9_fid_get(s, fid)) /* a stale fid too is freed */
        return EBADF;
    fid_clunk(s, fid);
    return 0;
}

static int h_remove(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r);
    PARSED(r);
    struct p9_fid *f = p9_fid_get(s, fid);
    if (!f)
        return EBADF;
    int e = 0;
    if (f->stale)
        e = ESTALE;
    else if (s->readonly)
        e = EROFS;
    else if (f->is_root)
        e = EBUSY;
    else if (!name_current(f))
        e = f->name ? ESTALE : EOPNOTSUPP;
    else if (unlinkat(f->parent, f->name, f->qtype == P9_QTDIR ? AT_REMOVEDIR : 0) < 0)
        e = errno;
    fid_clunk(s, fid); /* Tremove clunks the fid even when removal fails */
    return e;
}

static int h_getattr(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r);
    rd64(r); /* request_mask: we always answer the basic set */
    PARSED(r);
    FID(f, s, fid);
    struct stat st;
    int e = p9_stat_guest(s, f->pfd, &st);
    if (e)
        return e;
    wr64(w, P9_GETATTR_BASIC);
    wr_qid(w, p9_qid_of(s, &st));
    wr32(w, st.st_mode);
    wr32(w, st.st_uid);
    wr32(w, st.st_gid);
    wr64(w, st.st_nlink);
    wr64(w, st.st_rdev);
    wr64(w, (uint64_t)st.st_size);
    wr64(w, (uint64_t)st.st_blksize);
    wr64(w, (uint64_t)st.st_blocks);
    wr64(w, (uint64_t)st.st_atim.tv_sec);
    wr64(w, (uint64_t)st.st_atim.tv_nsec);
    wr64(w, (uint64_t)st.st_mtim.tv_sec);
    wr64(w, (uint64_t)st.st_mtim.tv_nsec);
    wr64(w, (uint64_t)st.st_ctim.tv_sec);
    wr64(w, (uint64_t)st.st_ctim.tv_nsec);
    for (int i = 0; i < 4; i++)
        wr64(w, 0); /* btime sec/nsec, gen, data_version: not provided */
    return 0;
}

static int h_setattr(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r), valid = rd32(r), mode = rd32(r), uid = rd32(r), gid = rd32(r);
    uint64_t size = rd64(r), asec = rd64(r), ansec = rd64(r), msec = rd64(r), mnsec = rd64(r);
    PARSED(r);
    FID(f, s, fid);
    WRITABLE(s);
    char num[16];
    snprintf(num, sizeof num, "%d", f->pfd);
    bool link = f->qtype == P9_QTSYMLINK;

    /* The guest's chmod and chown never reach the host file's mode bits or owner: a
     * setuid-root file made in the guest must not become one on the host. With the record
     * (p9_meta.h) the guest keeps what it set; without it, chmod keeps the rwx bits only and
     * chown succeeds without effect (so package installs do not fail on a share). Host
     * symlinks take neither, as in Linux. */
    if (!link && s->mapped && (valid & (P9_SETATTR_MODE | P9_SETATTR_UID | P9_SETATTR_GID))) {
        struct stat st;
        int e = p9_stat_guest(s, f->pfd, &st);
        if (e)
            return e;
        struct p9_meta m = { .set_mode = valid & P9_SETATTR_MODE,
                             .mode = (st.st_mode & S_IFMT) | (mode & 07777),
                             .set_uid = valid & P9_SETATTR_UID, .uid = uid,
                             .set_gid = valid & P9_SETATTR_GID, .gid = gid };
        if ((e = p9_meta_set(f->pfd, &m)))
            return e;
    } else if (!link && (valid & P9_SETATTR_MODE) &&
               fchmodat(s->procfd, num, mode & 0777, 0) < 0) {
        return errno;
    }
    if (valid & P9_SETATTR_SIZE) {
        if (size > INT64_MAX)
            return EFBIG;
        if (f->qtype != P9_QTFILE)
            return EINVAL;
        int fd = p9_reopen(s, f, O_WRONLY);
        if (fd < 0)
            return -fd;
        int rc = ftruncate(fd, (off_t)size);
        int e = errno;
        close(fd);
        if (rc < 0)
            return e;
    }
    if (valid & (P9_SETATTR_ATIME | P9_SETATTR_MTIME)) {
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
        if (valid & P9_SETATTR_ATIME) {
            if (valid & P9_SETATTR_ATIME_SET) {
                if (ansec >= 1000000000ull)
                    return EINVAL;
                ts[0] = (struct timespec){ .tv_sec = (time_t)asec, .tv_nsec = (long)ansec };
            } else {
                ts[0].tv_nsec = UTIME_NOW;
            }
        }
        if (valid & P9_SETATTR_MTIME) {
            if (valid & P9_SETATTR_MTIME_SET) {
                if (mnsec >= 1000000000ull)
                    return EINVAL;
                ts[1] = (struct timespec){ .tv_sec = (time_t)msec, .tv_nsec = (long)mnsec };
            } else {
                ts[1].tv_nsec = UTIME_NOW;
            }
        }
        int rc;
        if (!link)
            rc = utimensat(s->procfd, num, ts, 0);
        else if (name_current(f))
            rc = utimensat(f->parent, f->name, ts, AT_SYMLINK_NOFOLLOW);
        else
            rc = 0; /* a symlink reached through "..": nothing safe to name it by */
        if (rc < 0)
            return errno;
    }
    return 0; /* CTIME alone: the kernel updates ctime on any of the above */
}

/* The host mode of a file or directory the guest creates: fixed when the guest's own mode
 * is recorded beside it, else the guest's rwx bits only (never setuid, setgid or sticky). */
static mode_t host_mode(const struct p9_server *s, uint32_t mode, bool dir)
{
    if (s->mapped)
        return dir ? P9_META_DMODE : P9_META_FMODE;
    return mode & 0777;
}

/* Records the guest's owner and mode on a file it just created as name in dir (fd: the
 * file, or -1 to open it here), or removes the file again: what the guest cannot see as it
 * asked must not stay behind. No-op without the record. */
static int record_new(struct p9_server *s, int dir, const char *name, int fd, uint32_t mode,
                      uint32_t uid, uint32_t gid, uint64_t rdev)
{
    if (!s->mapped)
        return 0;
    int own = fd < 0 ? p9_open_beneath(dir, name, O_PATH, 0) : -1;
    struct p9_meta m = { .set_uid = true, .uid = uid, .set_gid = true, .gid = gid,
                         .set_mode = true, .mode = mode, .set_rdev = rdev != 0, .rdev = rdev };
    int e = fd < 0 && own < 0 ? -own : p9_meta_set(fd >= 0 ? fd : own, &m);
    if (own >= 0)
        close(own);
    if (e)
        unlinkat(dir, name, S_ISDIR(mode) ? AT_REMOVEDIR : 0);
    return e;
}

static int h_lopen(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r), flags = rd32(r);
    PARSED(r);
    FID(f, s, fid);
    if (f->fd >= 0)
        return EBADF; /* already open */
    int of, e = p9_dotl_open_flags(flags, s->readonly, &of);
    if (e)
        return e;
    int fd = p9_reopen(s, f, of);
    if (fd < 0)
        return -fd;
    struct stat st;
    if ((e = p9_stat_fd(fd, &st))) {
        close(fd);
        return e;
    }
    f->fd = fd;
    f->oflags = flags & DOTL_REOPEN;
    wr_qid(w, p9_qid_of(s, &st));
    wr32(w, 0); /* iounit: the client uses msize */
    return 0;
}

static int h_lcreate(struct p9_server *s, struct rd *r, struct wr *w)
{
    char name[NAME_MAX + 1];
    uint32_t fid = rd32(r);
    rd_str(r, name, sizeof name);
    uint32_t flags = rd32(r), mode = rd32(r), gid = rd32(r);
    PARSED(r);
    FID(f, s, fid);
    WRITABLE(s);
    if (!p9_name_ok(name))
        return EINVAL;
    if (f->qtype != P9_QTDIR || f->fd >= 0)
        return f->qtype != P9_QTDIR ? ENOTDIR : EBADF;
    int of, e = p9_dotl_open_flags(flags & ~DOTL_DIRECTORY, false, &of);
    if (e)
        return e;
    int fd = p9_open_beneath(f->pfd, name, (uint64_t)(of | O_CREAT | O_EXCL),
                             host_mode(s, mode, false));
    if (fd < 0)
        return -fd;
    if ((e = record_new(s, f->pfd, name, fd, S_IFREG | (mode & 07777), f->uid, gid, 0))) {
        close(fd);
        return e;
    }
    int pfd = p9_open_beneath(f->pfd, name, O_PATH, 0);
    struct stat st;
    if (pfd < 0 || (e = p9_stat_fd(fd, &st))) {
        e = pfd < 0 ? -pfd : e;
        close(fd);
        if (pfd >= 0)
            close(pfd);
        return e;
    }
    char *nm = strdup(name);
    if (!nm) {
        close(fd);
        close(pfd);
        return ENOMEM;
    }
    /* The fid now stands for the new file, opened; its directory becomes the parent. */
    if (f->parent >= 0)
        close(f->parent);
    free(f->name);
    f->parent = f->pfd;
    f->name = nm;
    f->pfd = pfd;
    f->fd = fd;
    f->oflags = flags & DOTL_REOPEN & ~DOTL_DIRECTORY;
    f->qtype = P9_QTFILE;
    f->is_root = false;
    wr_qid(w, p9_qid_of(s, &st));
    wr32(w, 0);
    return 0;
}

static int new_entry_qid(struct p9_server *s, int dir, const char *name, struct wr *w)
{
    int fd = p9_open_beneath(dir, name, O_PATH, 0);
    if (fd < 0)
        return -fd;
    struct stat st;
    int e = p9_stat_guest(s, fd, &st);
    close(fd);
    if (e)
        return e;
    wr_qid(w, p9_qid_of(s, &st));
    return 0;
}

static int h_mkdir(struct p9_server *s, struct rd *r, struct wr *w)
{
    char name[NAME_MAX + 1];
    uint32_t dfid = rd32(r);
    rd_str(r, name, sizeof name);
    uint32_t mode = rd32(r), gid = rd32(r);
    PARSED(r);
    FID(d, s, dfid);
    WRITABLE(s);
    if (!p9_name_ok(name))
        return EINVAL;
    if (mkdirat(d->pfd, name, host_mode(s, mode, true)) < 0)
        return errno;
    int e = record_new(s, d->pfd, name, -1, S_IFDIR | (mode & 07777), d->uid, gid, 0);
    return e ? e : new_entry_qid(s, d->pfd, name, w);
}

static int h_symlink(struct p9_server *s, struct rd *r, struct wr *w)
{
    char name[NAME_MAX + 1], target[PATH_MAX];
    uint32_t dfid = rd32(r);
    rd_str(r, name, sizeof name);
    rd_str(r, target, sizeof target);
    uint32_t gid = rd32(r);
    PARSED(r);
    FID(d, s, dfid);
    WRITABLE(s);
    if (!p9_name_ok(name) || !target[0])
        return EINVAL;
    if (!s->mapped) {
        /* The target is stored as text; the server never follows it. */
        if (symlinkat(target, d->pfd, name) < 0)
            return errno;
        return new_entry_qid(s, d->pfd, name, w);
    }
    /* Recorded as QEMU does: a host file holding the text, so not even a host program
     * walking the share can be led elsewhere by a link the guest made. */
    int fd = p9_open_beneath(d->pfd, name, O_WRONLY | O_CREAT | O_EXCL, P9_META_FMODE);
    if (fd < 0)
        return -fd;
    size_t len = strlen(target), done = 0;
    int e = 0;
    while (done < len && !e) {
        ssize_t n = write(fd, target + done, len - done);
        if (n > 0)
            done += (size_t)n;
        else if (n < 0 && errno != EINTR)
            e = errno;
    }
    if (e)
        unlinkat(d->pfd, name, 0);
    else
        e = record_new(s, d->pfd, name, fd, S_IFLNK | 0777, d->uid, gid, 0);
    close(fd);
    return e ? e : new_entry_qid(s, d->pfd, name, w);
}

static int h_mknod(struct p9_server *s, struct rd *r, struct wr *w)
{
    char name[NAME_MAX + 1];
    uint32_t dfid = rd32(r);
    rd_str(r, name, sizeof name);
    uint32_t mode = rd32(r);
    rd32(r); /* major */
    rd32(r); /* minor */
    uint32_t gid = rd32(r);
    PARSED(r);
    FID(d, s, dfid);
    WRITABLE(s);
    if (!p9_name_ok(name))
        return EINVAL;
    switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFSOCK: /* a name for the guest's own socket: nothing reaches the host through it */
        break;
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
        /* Device nodes would hand the guest host devices; a FIFO on the host is a rendezvous
         * with host processes. Both stay refused. */
        return EPERM;
    default:
        return EINVAL;
    }
    int e;
    if (s->mapped) {
        int fd = p9_open_beneath(d->pfd, name, O_WRONLY | O_CREAT | O_EXCL, P9_META_FMODE);
        if (fd < 0)
            return -fd;
        e = record_new(s, d->pfd, name, fd, (mode & S_IFMT) | (mode & 07777), d->uid, gid, 0);
        close(fd);
    } else {
        e = mknodat(d->pfd, name, (mode & S_IFMT) | (mode & 0777), 0) < 0 ? errno : 0;
    }
    return e ? e : new_entry_qid(s, d->pfd, name, w);
}

static int h_link(struct p9_server *s, struct rd *r, struct wr *w)
{
    char name[NAME_MAX + 1];
    uint32_t dfid = rd32(r), fid = rd32(r);
    rd_str(r, name, sizeof name);
    PARSED(r);
    FID(d, s, dfid);
    FID(f, s, fid);
    WRITABLE(s);
    if (!p9_name_ok(name))
        return EINVAL;
    if (f->qtype == P9_QTDIR)
        return EPERM;
    int rc;
    if (f->qtype == P9_QTSYMLINK) {
        /* the link itself, by its name (following it through /proc would link its target) */
        if (!name_current(f))
            return f->name ? ESTALE : EOPNOTSUPP;
        rc = linkat(f->parent, f->name, d->pfd, name, 0);
    } else {
        /* the inode the fid holds, whatever it is called now (open(2), O_PATH) */
        char num[16];
        snprintf(num, sizeof num, "%d", f->pfd);
        rc = linkat(s->procfd, num, d->pfd, name, AT_SYMLINK_FOLLOW);
    }
    return rc < 0 ? errno : 0;
}

static int h_rename(struct p9_server *s, struct rd *r, struct wr *w)
{
    char name[NAME_MAX + 1];
    uint32_t fid = rd32(r), dfid = rd32(r);
    rd_str(r, name, sizeof name);
    PARSED(r);
    FID(f, s, fid);
    FID(d, s, dfid);
    WRITABLE(s);
    if (!p9_name_ok(name))
        return EINVAL;
    if (f->is_root)
        return EBUSY;
    if (!name_current(f))
        return f->name ? ESTALE : EOPNOTSUPP;
    int np = fcntl(d->pfd, F_DUPFD_CLOEXEC, 0);
    char *nm = strdup(name);
    if (np < 0 || !nm) {
        if (np >= 0)
            close(np);
        free(nm);
        return ENOMEM;
    }
    if (renameat(f->parent, f->name, d->pfd, name) < 0) {
        int e = errno;
        close(np);
        free(nm);
        return e;
    }
    close(f->parent);
    free(f->name);
    f->parent = np;
    f->name = nm;
    return 0;
}

static int h_renameat(struct p9_server *s, struct rd *r, struct wr *w)
{
    char oldname[NAME_MAX + 1], newname[NAME_MAX + 1];
    uint32_t odfid = rd32(r);
    rd_str(r, oldname, sizeof oldname);
    uint32_t ndfid = rd32(r);
    rd_str(r, newname, sizeof newname);
    PARSED(r);
    FID(od, s, odfid);
    FID(nd, s, ndfid);
    WRITABLE(s);
    if (!p9_name_ok(oldname) || !p9_name_ok(newname))
        return EINVAL;
    if (renameat(od->pfd, oldname, nd->pfd, newname) < 0)
        return errno;
    return 0;
}

static int h_unlinkat(struct p9_server *s, struct rd *r, struct wr *w)
{
    char name[NAME_MAX + 1];
    uint32_t dfid = rd32(r);
    rd_str(r, name, sizeof name);
    uint32_t flags = rd32(r);
    PARSED(r);
    FID(d, s, dfid);
    WRITABLE(s);
    if (!p9_name_ok(name) || (flags & ~DOTL_AT_REMOVEDIR))
        return EINVAL;
    if (unlinkat(d->pfd, name, (flags & DOTL_AT_REMOVEDIR) ? AT_REMOVEDIR : 0) < 0)
        return errno;
    return 0;
}

static int h_readlink(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r);
    PARSED(r);
    FID(f, s, fid);
    if (f->qtype != P9_QTSYMLINK)
        return EINVAL;
    char target[PATH_MAX];
    struct stat st;
    int e = p9_stat_fd(f->pfd, &st);
    if (e)
        return e;
    ssize_t n;
    if (S_ISLNK(st.st_mode)) {
        n = readlinkat(f->pfd, "", target, sizeof target - 1);
    } else if (S_ISREG(st.st_mode)) {
        /* a guest symlink recorded in a host file (p9_meta.h): its text is the content */
        char num[16];
        snprintf(num, sizeof num, "%d", f->pfd);
        int fd = openat(s->procfd, num, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return errno;
        n = pread(fd, target, sizeof target - 1, 0);
        e = errno;
        close(fd);
        errno = e;
    } else {
        return EINVAL;
    }
    if (n < 0)
        return errno;
    target[n] = '\0';
    wr_str(w, target);
    return 0;
}

static int h_statfs(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r);
    PARSED(r);
    FID(f, s, fid);
    struct statfs st;
    if (fstatfs(f->pfd, &st) < 0)
        return errno;
    uint64_t fsid;
    memcpy(&fsid, &st.f_fsid, sizeof fsid);
    wr32(w, (uint32_t)st.f_type);
    wr32(w, (uint32_t)st.f_bsize);
    wr64(w, st.f_blocks);
    wr64(w, st.f_bfree);
    wr64(w, st.f_bavail);
    wr64(w, st.f_files);
    wr64(w, st.f_ffree);
    wr64(w, fsid);
    wr32(w, (uint32_t)st.f_namelen);
    return 0;
}

static int h_fsync(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r), datasync = rd32(r);
    PARSED(r);
    FID(f, s, fid);
    if (f->fd < 0)
        return EBADF;
    if ((datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0)
        return errno;
    return 0;
}

static int h_read(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r);
    uint64_t off = rd64(r);
    uint32_t count = rd32(r);
    PARSED(r);
    FID(f, s, fid);
    if (f->fd < 0)
        return EBADF;
    if (off > INT64_MAX)
        return EINVAL;
    size_t room = w->cap - w->off - 4;
    if (count > room)
        count = (uint32_t)room;
    uint8_t *cnt = wr_take(w, 4);
    ssize_t n = pread(f->fd, w->p + w->off, count, (off_t)off);
    if (n < 0)
        return errno;
    w->off += (size_t)n;
    cnt[0] = (uint8_t)n;
    cnt[1] = (uint8_t)(n >> 8);
    cnt[2] = (uint8_t)(n >> 16);
    cnt[3] = (uint8_t)(n >> 24);
    return 0;
}

static int h_write(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r);
    uint64_t off = rd64(r);
    uint32_t count = rd32(r);
    const uint8_t *data = rd_take(r, count);
    PARSED(r);
    FID(f, s, fid);
    WRITABLE(s);
    if (f->fd < 0)
        return EBADF;
    if (off > INT64_MAX)
        return EINVAL;
    ssize_t n = pwrite(f->fd, data, count, (off_t)off);
    if (n < 0)
        return errno;
    wr32(w, (uint32_t)n);
    return 0;
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int h_readdir(struct p9_server *s, struct rd *r, struct wr *w)
{
    uint32_t fid = rd32(r);
    uint64_t off = rd64(r);
    uint32_t count = rd32(r);
    PARSED(r);
    FID(f, s, fid);
    if (f->fd < 0 || f->qtype != P9_QTDIR)
        return EBADF;
    if (off > INT64_MAX)
        return EINVAL;
    size_t room = w->cap - w->off - 4;
    if (count < room)
        room = count;
    if (lseek(f->fd, (off_t)off, SEEK_SET) < 0)
        return errno;
    /* On the heap, per call: as thread-local storage, it took 32 KiB of every thread of the
     * per-box process (the static TLS block is set up in each thread's stack). */
    enum { DENTS_BYTES = 32768 };
    uint8_t *buf cleanup_free = malloc(DENTS_BYTES);
    if (!buf)
        return ENOMEM;
    uint8_t *cnt = wr_take(w, 4);
    size_t start = w->off, used = 0;
    bool full = false;
    while (!full) {
        long n = syscall(SYS_getdents64, f->fd, buf, DENTS_BYTES);
        if (n < 0)
            return errno;
        if (n == 0)
            break;
        for (long pos = 0; pos < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + pos);
            size_t nlen = strnlen(d->d_name, NAME_MAX + 1);
            size_t need = P9_QID_SIZE + 8 + 1 + 2 + nlen;
            if (nlen > NAME_MAX || used + need > room) {
                full = true;
                break;
            }
            struct qid q = { .type = d->d_type == DT_DIR   ? P9_QTDIR
                                     : d->d_type == DT_LNK ? P9_QTSYMLINK
                                                           : P9_QTFILE,
                             .path = d->d_ino };
            /* A host file may be a guest symlink or socket by its record: the guest must
             * ask (as with QEMU's mapped models). */
            uint8_t type = s->mapped && d->d_type == DT_REG ? DT_UNKNOWN : d->d_type;
            wr_qid(w, q);
            wr64(w, (uint64_t)d->d_off);
            wr8(w, type);
            wr_str(w, d->d_name);
            used += need;
            pos += d->d_reclen;
        }
    }
    size_t n = w->off - start;
    cnt[0] = (uint8_t)n;
    cnt[1] = (uint8_t)(n >> 8);
    cnt[2] = (uint8_t)(n >> 16);
    cnt[3] = (uint8_t)(n >> 24);
    return 0;
}

static int h_xattrwalk(struct p9_server *s, struct rd *r, struct wr *w)
{
    char name[256];
    uint32_t fid = rd32(r);
    rd32(r); /* newfid */
    rd_str(r, name, sizeof name);
    PARSED(r);
    FID(f, s, fid);
    (void)f;
    return EOPNOTSUPP; /* no extended attributes on shares */
}

static int h_xattrcreate(struct p9_server *s, struct rd *r, struct wr *w)
{
    char name[256];
    uint32_t fid = rd32(r);
    rd_str(r, name, sizeof name);
    rd64(r); /* attr_size */
    rd32(r); /* flags */
    PARSED(r);
    FID(f, s, fid);
    (void)f;
    WRITABLE(s);
    return EOPNOTSUPP;
}

/* POSIX locks are granted without being recorded: one guest is the only client of a share,
 * and its kernel arbitrates between its own processes (as QEMU's 9p server does). */
static int h_lock(struct p9_server *s, struct rd *r, struct wr *w)
{
    char client[256];
    uint32_t fid = rd32(r);
    uint8_t type = rd8(r);
    rd32(r);                  /* flags */
    rd64(r);                  /* start */
    rd64(r);                  /* length */
    rd32(r);                  /* proc_id */
    rd_str(r, client, sizeof client);
    PARSED(r);
    FID(f, s, fid);
    (void)f;
    if (type > 2)
        return EINVAL;
    wr8(w, P9_LOCK_SUCCESS);
    return 0;
}

static int h_getlock(struct p9_server *s, struct rd *r, struct wr *w)
{
    char client[256];
    uint32_t fid = rd32(r);
    uint8_t type = rd8(r);
    uint64_t start = rd64(r), length = rd64(r);
    uint32_t proc = rd32(r);
    rd_str(r, client, sizeof client);
    PARSED(r);
    FID(f, s, fid);
    (void)f;
    if (type > 2)
        return EINVAL;
    wr8(w, P9_LOCK_TYPE_UNLCK);
    wr64(w, start);
    wr64(w, length);
    wr32(w, proc);
    wr_str(w, client);
    return 0;
}

static const p9_handler handlers[256] = {
    [P9_TSTATFS] = h_statfs,     [P9_TLOPEN] = h_lopen,       [P9_TLCREATE] = h_lcreate,
    [P9_TSYMLINK] = h_symlink,   [P9_TMKNOD] = h_mknod,       [P9_TRENAME] = h_rename,
    [P9_TREADLINK] = h_readlink, [P9_TGETATTR] = h_getattr,   [P9_TSETATTR] = h_setattr,
    [P9_TXATTRWALK] = h_xattrwalk, [P9_TXATTRCREATE] = h_xattrcreate,
    [P9_TREADDIR] = h_readdir,   [P9_TFSYNC] = h_fsync,       [P9_TLOCK] = h_lock,
    [P9_TGETLOCK] = h_getlock,   [P9_TLINK] = h_link,         [P9_TMKDIR] = h_mkdir,
    [P9_TRENAMEAT] = h_renameat, [P9_TUNLINKAT] = h_unlinkat, [P9_TVERSION] = h_version,
    [P9_TAUTH] = h_auth,         [P9_TATTACH] = h_attach,     [P9_TFLUSH] = h_flush,
    [P9_TWALK] = h_walk,         [P9_TREAD] = h_read,         [P9_TWRITE] = h_write,
    [P9_TCLUNK] = h_clunk,       [P9_TREMOVE] = h_remove,
};

static size_t reply_error(uint8_t *resp, uint16_t tag, uint32_t ecode)
{
    struct wr w = { .p = resp, .cap = RLERROR_SIZE };
    wr32(&w, RLERROR_SIZE);
    wr8(&w, P9_RLERROR);
    wr16(&w, tag);
    wr32(&w, ecode);
    return RLERROR_SIZE;
}

size_t p9_handle(struct p9_server *s, const uint8_t *req, size_t req_len, uint8_t *resp,
                 size_t resp_cap)
{
    if (!s || !resp || resp_cap < RLERROR_SIZE)
        return 0;
    if (!req || req_len < P9_HDR_SIZE)
        return reply_error(resp, P9_NOTAG, EINVAL);
    struct rd r = { .p = req, .len = req_len };
    uint32_t size = rd32(&r);
    uint8_t type = rd8(&r);
    uint16_t tag = rd16(&r);
    if (size != req_len)
        return reply_error(resp, tag, EINVAL);
    if (req_len > s->msize)
        return reply_error(resp, tag, EMSGSIZE);
    p9_handler h = handlers[type];
    if (!h)
        return reply_error(resp, tag, EOPNOTSUPP);

    size_t cap = resp_cap < s->msize ? resp_cap : s->msize;
    struct wr w = { .p = resp + P9_HDR_SIZE, .cap = cap - P9_HDR_SIZE };
    int e = h(s, &r, &w);
    if (e)
        return reply_error(resp, tag, (uint32_t)e);
    if (w.overflow)
        return reply_error(resp, tag, ERANGE);
    size_t len = P9_HDR_SIZE + w.off;
    struct wr hdr = { .p = resp, .cap = P9_HDR_SIZE };
    wr32(&hdr, (uint32_t)len);
    wr8(&hdr, (uint8_t)(type + 1));
    wr16(&hdr, tag);
    return len;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

int p9_server_new(struct p9_server **out, const char *root, bool readonly, uint32_t max_msize,
                  struct bl_error *err)
{
    *out = NULL;
    struct p9_server *s = calloc(1, sizeof *s);
    if (!s)
        return bl_errno(err, ENOMEM, "9p server");
    s->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s->rootfd < 0) {
        int e = errno;
        free(s);
        return bl_errno(err, e, "9p share %s", root);
    }
    s->procfd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (s->procfd < 0 || p9_stat_fd(s->rootfd, &st) != 0) {
        int e = errno;
        p9_server_free(s);
        return bl_errno(err, e, "9p share %s: /proc/self/fd", root);
    }
    s->root_dev = st.st_dev;
    s->root_ino = st.st_ino;
    s->readonly = readonly;
    s->mapped = p9_meta_supported(s->rootfd);
    if (max_msize == 0)
        max_msize = P9_MSIZE_DEFAULT;
    if (max_msize < P9_MSIZE_MIN)
        max_msize = P9_MSIZE_MIN;
    if (max_msize > MSIZE_MAX)
        max_msize = MSIZE_MAX;
    s->max_msize = s->msize = max_msize;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl); /* best effort: more fids before EMFILE */
    }
    *out = s;
    return 0;
}

void p9_server_free(struct p9_server *s)
{
    if (!s)
        return;
    p9_fid_clunk_all(s);
    if (s->rootfd >= 0)
        close(s->rootfd);
    if (s->procfd >= 0)
        close(s->procfd);
    free(s);
}

uint32_t p9_server_msize(const struct p9_server *s) { return s->msize; }
uint32_t p9_server_max_msize(const struct p9_server *s) { return s->max_msize; }
size_t p9_server_nfids(const struct p9_server *s) { return s->nfids; }
