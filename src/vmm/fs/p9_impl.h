// SPDX-License-Identifier: Apache-2.0
/* The 9P server's insides, shared by the files of src/vmm/fs/ only (p9.c: the requests;
 * p9_session.c: a session saved and restored across processes). Not for other callers:
 * p9.h is the interface. */
#ifndef VMM_FS_P9_IMPL_H
#define VMM_FS_P9_IMPL_H

#include "vmm/fs/p9.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FID_BUCKETS 1024
/* 9P2000.L open flags (Linux include/net/9p/9p.h, P9_DOTL_*): fixed by the protocol,
 * translated here so the server does not depend on the host's O_* values. */
#define DOTL_ACCMODE 03
#define DOTL_CREATE 0100
#define DOTL_EXCL 0200
#define DOTL_TRUNC 01000
#define DOTL_APPEND 02000
#define DOTL_DSYNC 010000
#define DOTL_DIRECTORY 0200000
#define DOTL_SYNC 04000000

/* What an open fid's flags keep for a reopen in a restored session: never CREATE, EXCL or
 * TRUNC (the file exists, and its data must not be cut again). */
#define DOTL_REOPEN (DOTL_ACCMODE | DOTL_APPEND | DOTL_DSYNC | DOTL_DIRECTORY | DOTL_SYNC)

#define DOTL_AT_REMOVEDIR 0x200 /* Tunlinkat flags */

struct p9_fid {
    uint32_t id;
    int pfd;         /* O_PATH | O_NOFOLLOW descriptor of the file itself */
    int parent;      /* O_PATH descriptor of the directory holding it, -1 if unknown/root */
    char *name;      /* its name in parent, NULL if unknown */
    int fd;          /* opened for I/O by Tlopen/Tlcreate, or -1 */
    uint8_t qtype;   /* P9_QTDIR, P9_QTSYMLINK or P9_QTFILE (the guest's view) */
    uint32_t uid;    /* the attaching user (Tattach n_uname): owner of what this fid creates */
    uint32_t oflags; /* the 9P2000.L flags fd was opened with (Tlopen/Tlcreate), for a
                      * session restored in another process (p9_session.c) */
    bool is_root;
    bool stale;      /* restored, but its file could not be found again: pfd is -1 and every
                      * request on it but Tclunk answers ESTALE */
    struct p9_fid *next;
};

struct p9_server {
    int rootfd;  /* O_PATH | O_DIRECTORY */
    int procfd;  /* /proc/self/fd, to reopen an O_PATH fd for I/O */
    dev_t root_dev;
    ino_t root_ino;
    bool readonly;
    /* The host filesystem keeps user.* attributes: the guest's owners and modes are recorded
     * there (p9_meta.h). Without them chown is dropped and chmod keeps only rwx bits. */
    bool mapped;
    uint32_t max_msize, msize;
    size_t nfids;
    struct p9_fid *fids[FID_BUCKETS];
};

/* ---- reading little-endian messages (requests, a saved session) -------------------- */

struct rd {
    const uint8_t *p;
    size_t len, off;
    bool bad; /* ran past the end, or a string was invalid */
};

static inline const uint8_t *rd_take(struct rd *r, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static inline uint64_t rd_le(struct rd *r, unsigned n)
{
    const uint8_t *p = rd_take(r, n);
    uint64_t v = 0;
    if (!p)
        return 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline uint8_t rd8(struct rd *r) { return (uint8_t)rd_le(r, 1); }
static inline uint16_t rd16(struct rd *r) { return (uint16_t)rd_le(r, 2); }
static inline uint32_t rd32(struct rd *r) { return (uint32_t)rd_le(r, 4); }
static inline uint64_t rd64(struct rd *r) { return rd_le(r, 8); }

/* A string s[2 + n] copied NUL-terminated into buf; embedded NULs or n >= cap are bad. */
static inline void rd_str(struct rd *r, char *buf, size_t cap)
{
    uint16_t n = rd16(r);
    const uint8_t *p = rd_take(r, n);
    buf[0] = '\0';
    if (!p)
        return;
    if ((size_t)n >= cap || memchr(p, '\0', n)) {
        r->bad = true;
        return;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
}

/* The whole message was consumed, exactly. */
static inline bool rd_ok(const struct rd *r) { return !r->bad && r->off == r->len; }

struct qid {
    uint8_t type;
    uint32_t version;
    uint64_t path;
};

/* ---- helpers of p9.c ------------------------------------------------------------------ */

/* The guest's qid of a file described by st. */
struct qid p9_qid_of(const struct p9_server *s, const struct stat *st);
/* Adds a fid taking ownership of pfd, parent and name (released on failure too); 0 or an
 * errno. */
int p9_fid_add(struct p9_server *s, uint32_t id, int pfd, int parent, char *name,
               uint8_t qtype, bool is_root, uint32_t uid);
struct p9_fid *p9_fid_get(struct p9_server *s, uint32_t id);
void p9_fid_clunk_all(struct p9_server *s);
int p9_stat_fd(int fd, struct stat *st);                                    /* 0 or an errno */
int p9_stat_guest(const struct p9_server *s, int fd, struct stat *st);      /* 0 or an errno */
/* One component, not "." or "..", no "/". */
bool p9_name_ok(const char *name);
/* One component opened beneath dirfd with O_NOFOLLOW; an fd or -errno. */
int p9_open_beneath(int dirfd, const char *name, uint64_t flags, uint64_t mode);
/* The fid's file opened for I/O (regular files and directories only); an fd or -errno. */
int p9_reopen(struct p9_server *s, struct p9_fid *f, int flags);
/* 9P2000.L open flags to the host's; 0 or an errno (EINVAL, EROFS). */
int p9_dotl_open_flags(uint32_t l, bool readonly, int *out);

#endif
