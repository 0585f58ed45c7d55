// SPDX-License-Identifier: Apache-2.0
/* A 9P session carried to another process: a paused VM resumed, or a fork of it, keeps the
 * guest's mounted shares without a new Tversion/Tattach. What the guest holds are fid
 * numbers; what the server held were host descriptors, which do not survive the process.
 * So each fid is saved as its file's path relative to the share root and found again in the
 * new process exactly as Twalk finds a file: one component at a time from the root, each
 * opened with O_NOFOLLOW beneath the one before (p9_open_beneath). A path that no longer
 * leads to the same file (deleted, renamed, replaced, through a symlink, outside the root)
 * is not followed: that fid comes back stale (every request on it answers ESTALE, Tclunk
 * frees it), as an NFS client's handle does when its file went away.
 *
 * The path is derived when the session is saved, from the kernel's own name of the
 * descriptor (/proc/self/fd), and proved there and then: walked from the root as above, it
 * must reach the very inode the fid holds. Renames through any fid or on the host are thus
 * followed without bookkeeping, and an open file already unlinked (its name ends in
 * " (deleted)") fails the proof and is saved stale: it cannot be reopened by any name.
 * A file with several hard links is found again by whichever name the kernel reports.
 *
 * Not saved, because the server keeps none: directory read positions (every Treaddir
 * carries the offset the guest got from the previous reply: a filesystem cookie, the same
 * in the new process), extended attribute fids (Txattrwalk is not supported), locks
 * (granted, never recorded: p9.c).
 *
 * Layout, integers little-endian:
 *   "P9S1" msize[4] nfids[4]
 *   nfids times: fid[4] uid[4] qid_path[8] qtype[1] state[1] oflags[4] path[2 + n]
 * state: bit 0 open (oflags: the 9P2000.L flags to reopen with), bit 1 stale.
 * path: names joined by "/", "" for the root itself. */
#include "vmm/fs/p9.h"
#include "vmm/fs/p9_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "P9S1"
#define ST_OPEN 1u
#define ST_STALE 2u
#define FID_FIXED (4 + 4 + 8 + 1 + 1 + 4 + 2) /* a fid's record before its path's bytes */

/* Walks path (names joined by "/", "" for the root) from the root as Twalk would. Returns
 * the file's O_PATH descriptor, with *parent (its directory's, or -1 at the root) and *name
 * (the last name, or NULL) when those are asked for; -EINVAL for a path no walk could name
 * ("/a", "a//b", "a/", ".", ".." or a name over NAME_MAX), another -errno when the walk
 * fails on the host (a name gone, a symlink where a directory was: ENOTDIR). */
static int walk_path(const struct p9_server *s, const char *path, int *parent, char **name)
{
    int cur = fcntl(s->rootfd, F_DUPFD_CLOEXEC, 0), up = -1;
    if (cur < 0)
        return -errno;
    const char *p = path, *last = NULL;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char comp[NAME_MAX + 1];
        if (n == 0 || n > NAME_MAX || (slash && !slash[1])) {
            cur = (close(cur), -EINVAL);
            break;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        if (!p9_name_ok(comp)) {
            cur = (close(cur), -EINVAL);
            break;
        }
        int next = p9_open_beneath(cur, comp, O_PATH, 0);
        if (up >= 0)
            close(up);
        up = cur;
        cur = next;
        last = p;
        if (cur < 0)
            break;
        p += n + (slash ? 1 : 0);
    }
    if (cur < 0 || !parent) {
        if (up >= 0)
            close(up);
        return cur;
    }
    *parent = up;
    *name = NULL;
    if (last && !(*name = strndup(last, strcspn(last, "/")))) {
        close(cur);
        if (up >= 0)
            close(up);
        return -ENOMEM;
    }
    return cur;
}

/* ---- save ---------------------------------------------------------------------------- */

struct saved_fid {
    const struct p9_fid *f;
    char *path; /* NULL: stale */
    uint64_t qpath;
};

/* The kernel's name of fd (this process's view), or -errno. */
static int fd_path(const struct p9_server *s, int fd, char *buf, size_t cap)
{
    char num[16];
    snprintf(num, sizeof num, "%d", fd);
    ssize_t n = readlinkat(s->procfd, num, buf, cap);
    if (n < 0)
        return -errno;
    if ((size_t)n >= cap)
        return -ENAMETOOLONG;
    buf[n] = '\0';
    return 0;
}

/* f's path relative to the root, proved to lead to f's file; NULL if there is none (the
 * file was unlinked, moved outside the share, is reached through a mount we cannot name). */
static char *derive_path(const struct p9_server *s, const char *root, const struct p9_fid *f,
                         uint64_t *qpath)
{
    char full[PATH_MAX];
    struct stat have, found;
    /* no p9_stat_guest: the qid's path is the host inode's, and the save runs on the
     * pause's thread, whose seccomp allow-list has no xattr calls (src/vmm/jail/) */
    if (f->stale || fd_path(s, f->pfd, full, sizeof full) < 0 || p9_stat_fd(f->pfd, &have))
        return NULL;
    size_t rl = strlen(root);
    const char *rel;
    if (strcmp(full, root) == 0)
        rel = "";
    else if (strcmp(root, "/") == 0 && full[0] == '/')
        rel = full + 1;
    else if (strncmp(full, root, rl) == 0 && full[rl] == '/')
        rel = full + rl + 1;
    else
        return NULL;
    int fd = walk_path(s, rel, NULL, NULL);
    if (fd < 0)
        return NULL;
    int e = p9_stat_fd(fd, &found);
    close(fd);
    if (e || found.st_dev != have.st_dev || found.st_ino != have.st_ino)
        return NULL;
    *qpath = p9_qid_of(s, &have).path;
    return strdup(rel);
}

static void put_le(uint8_t **p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

int p9_session_save(struct p9_server *s, uint8_t **out, size_t *out_len, struct bl_error *err)
{
    *out = NULL;
    *out_len = 0;
    char root[PATH_MAX];
    int e = fd_path(s, s->rootfd, root, sizeof root);
    if (e < 0)
        return bl_errno(err, -e, "9p session: the share root's name");
    struct saved_fid *v = calloc(s->nfids ? s->nfids : 1, sizeof *v);
    if (!v)
        return bl_errno(err, ENOMEM, "9p session");
    size_t n = 0, total = 12;
    for (size_t b = 0; b < FID_BUCKETS; b++) {
        for (const struct p9_fid *f = s->fids[b]; f && n < s->nfids; f = f->next) {
            v[n] = (struct saved_fid){ .f = f };
            v[n].path = derive_path(s, root, f, &v[n].qpath);
            total += FID_FIXED + (v[n].path ? strlen(v[n].path) : 0);
            n++;
        }
    }
    int r = 0;
    uint8_t *buf = NULL;
    if (total > P9_SESSION_MAX)
        r = bl_err(err, BOXLITE_ERR_STATE, "9p session: %zu fids take %zu bytes (at most %u)",
                   n, total, P9_SESSION_MAX);
    else if (!(buf = malloc(total)))
        r = bl_errno(err, ENOMEM, "9p session");
    if (r == 0) {
        uint8_t *p = buf;
        memcpy(p, MAGIC, 4);
        p += 4;
        put_le(&p, s->msize, 4);
        put_le(&p, n, 4);
        for (size_t i = 0; i < n; i++) {
            const struct p9_fid *f = v[i].f;
            size_t plen = v[i].path ? strlen(v[i].path) : 0;
            unsigned st = (f->fd >= 0 ? ST_OPEN : 0) | (v[i].path ? 0 : ST_STALE);
            put_le(&p, f->id, 4);
            put_le(&p, f->uid, 4);
            put_le(&p, v[i].qpath, 8);
            put_le(&p, f->qtype, 1);
            put_le(&p, st, 1);
            put_le(&p, f->fd >= 0 ? f->oflags : 0, 4);
            put_le(&p, plen, 2);
            if (plen)
                memcpy(p, v[i].path, plen);
            p += plen;
        }
        *out = buf;
        *out_len = total;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
    return r;
}

/* ---- restore ------------------------------------------------------------------------- */

/* Makes fid id stand for path again, or stale. 0, or an errno for a record the walk could
 * never have produced (the blob is bad). */
static int restore_fid(struct p9_server *s, uint32_t id, uint32_t uid, uint64_t qpath,
                       uint8_t qtype, unsigned st, uint32_t oflags, const char *path)
{
    int parent = -1, pfd = -ENOENT;
    char *name = NULL;
    if (!(st & ST_STALE)) {
        pfd = walk_path(s, path, &parent, &name);
        if (pfd == -EINVAL)
            return EINVAL;
    }
    struct stat sb;
    if (pfd >= 0 && (p9_stat_guest(s, pfd, &sb) || p9_qid_of(s, &sb).type != qtype ||
                     p9_qid_of(s, &sb).path != qpath)) {
        close(pfd); /* another file took the name, or the type changed: not the fid's file */
        pfd = -ESTALE;
    }
    if (pfd < 0) {
        if (parent >= 0)
            close(parent);
        free(name);
        parent = -1;
        name = NULL;
    }
    int e = p9_fid_add(s, id, pfd < 0 ? -1 : pfd, parent, name, qtype, path[0] == '\0', uid);
    if (e)
        return e == EBADF ? EINVAL : e; /* EBADF: the fid twice, or NOFID */
    struct p9_fid *f = p9_fid_get(s, id);
    f->stale = pfd < 0;
    if (f->stale || !(st & ST_OPEN))
        return 0;
    int of, fd = -EINVAL;
    if (p9_dotl_open_flags(oflags, s->readonly, &of) == 0)
        fd = p9_reopen(s, f, of);
    if (fd >= 0) {
        f->fd = fd;
        f->oflags = oflags;
        return 0;
    }
    /* It cannot be opened as it was (its mode changed on the host, say): stale. */
    close(f->pfd);
    if (f->parent >= 0)
        close(f->parent);
    free(f->name);
    f->pfd = f->parent = -1;
    f->name = NULL;
    f->stale = true;
    return 0;
}

int p9_session_restore(struct p9_server *s, const uint8_t *data, size_t len,
                       struct bl_error *err)
{
    p9_fid_clunk_all(s);
    if (len > P9_SESSION_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "9p session: %zu bytes (at most %u)", len,
                      P9_SESSION_MAX);
    struct rd r = { .p = data, .len = len };
    const uint8_t *magic = rd_take(&r, 4);
    uint32_t msize = rd32(&r), n = rd32(&r);
    if (!magic || memcmp(magic, MAGIC, 4) != 0 || r.bad)
        return bl_err(err, BOXLITE_ERR_INVALID, "9p session: not a saved session");
    if (msize < P9_MSIZE_MIN || msize > s->max_msize)
        return bl_err(err, BOXLITE_ERR_INVALID, "9p session: msize %u is outside %u..%u",
                      msize, P9_MSIZE_MIN, s->max_msize);
    if (n > P9_MAX_FIDS || n > (len - r.off) / FID_FIXED)
        return bl_err(err, BOXLITE_ERR_INVALID, "9p session: %u fids cannot be", n);
    char path[PATH_MAX];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = rd32(&r), uid = rd32(&r);
        uint64_t qpath = rd64(&r);
        uint8_t qtype = rd8(&r), st = rd8(&r);
        uint32_t oflags = rd32(&r);
        rd_str(&r, path, sizeof path);
        int e = 0;
        if (r.bad || (st & ~(ST_OPEN | ST_STALE)) || (oflags & ~DOTL_REOPEN) ||
            (!(st & ST_OPEN) && oflags) ||
            (qtype != P9_QTDIR && qtype != P9_QTFILE && qtype != P9_QTSYMLINK))
            e = EINVAL;
        else
            e = restore_fid(s, id, uid, qpath, qtype, st, oflags, path);
        if (e) {
            p9_fid_clunk_all(s);
            return e == EINVAL ? bl_err(err, BOXLITE_ERR_INVALID, "9p session: fid %u of %u is "
                                        "malformed", i, n)
                               : bl_errno(err, e, "9p session: fid %u", id);
        }
    }
    if (!rd_ok(&r)) {
        p9_fid_clunk_all(s);
        return bl_err(err, BOXLITE_ERR_INVALID, "9p session: %zu bytes after the last fid",
                      r.len - r.off);
    }
    s->msize = msize;
    return 0;
}
