// SPDX-License-Identifier: Apache-2.0
/* A 9P2000.L file server over one host directory (the share root), independent of its
 * transport: it takes one request message in a flat buffer and writes one reply.
 * virtio/9p.c carries it over a virtqueue; tests call p9_handle() directly.
 *
 * Safety: every fid holds an O_PATH descriptor of its file; names from the guest are single
 * path components (never "/", "." or "..") opened with O_NOFOLLOW relative to the
 * directory fid's descriptor, never joined into path strings, and symlinks are never
 * followed on the host (the guest resolves them itself), so nothing outside the root can be
 * reached. ".." at the root stays at the root. A read-only server answers every modifying
 * request with EROFS. Every field of every message is length-checked; a malformed request
 * gets an Rlerror reply (EINVAL, EPROTO, EBADF...), never a crash.
 *
 * Threads: a server is not thread-safe; one thread handles its requests (the event loop).
 * Requests complete synchronously, so Tflush has nothing to cancel. */
#ifndef VMM_FS_P9_H
#define VMM_FS_P9_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P9_HDR_SIZE 7                /* size[4] type[1] tag[2] */
#define P9_MSIZE_MIN 4096            /* smallest msize we accept from Tversion */
#define P9_MSIZE_DEFAULT (512 * 1024) /* our largest msize unless told otherwise */
#define P9_MAX_FIDS 65536            /* fids per session, bounds host fds and memory */

struct p9_server;

/* Opens root (must be a directory) and prepares a server. max_msize bounds every message
 * (0 = P9_MSIZE_DEFAULT; clamped to [P9_MSIZE_MIN, 16 MiB]). Raises this process's
 * RLIMIT_NOFILE soft limit to its hard limit, since each fid holds one or two fds. */
int p9_server_new(struct p9_server **out, const char *root, bool readonly, uint32_t max_msize,
                  struct bl_error *err);
void p9_server_free(struct p9_server *s); /* NULL is a no-op; clunks every fid */

/* Largest message in either direction: the negotiated msize after Tversion, before it the
 * server's maximum. A transport sizes its buffers with p9_server_max_msize(). */
uint32_t p9_server_msize(const struct p9_server *s);
uint32_t p9_server_max_msize(const struct p9_server *s);
size_t p9_server_nfids(const struct p9_server *s);

/* Handles one request of req_len bytes and writes the reply into resp (resp_cap bytes).
 * Returns the reply's length, or 0 if resp_cap cannot hold even an Rlerror (11 bytes).
 * A reply never exceeds min(resp_cap, msize); Tread and Treaddir shorten their data to fit. */
size_t p9_handle(struct p9_server *s, const uint8_t *req, size_t req_len, uint8_t *resp,
                 size_t resp_cap);

/* Serves requests read from rfd (framed by their size field) with replies written to wfd,
 * blocking, until end of file (returns 0) or an error or a message over the maximum msize
 * (returns -errno; the stream cannot be resynchronised). For trans=tcp/fd clients. */
int p9_serve_stream(struct p9_server *s, int rfd, int wfd);

/* A session in another process (p9_session.c): the negotiated msize and every fid, its
 * file as a path beneath the root, whether and how it was open. p9_session_save fills a
 * malloc'd buffer (0, or -BOXLITE_ERR_* with err: STATE when it would pass
 * P9_SESSION_MAX). p9_session_restore puts a saved session into a server (created as the
 * saved one was; any fids it had are clunked) from bytes it treats as hostile: each path is
 * walked again from the root as Twalk does, and a fid whose file is not found again as it
 * was comes back stale (ESTALE to every request but Tclunk). 0, or -BOXLITE_ERR_INVALID
 * with err for malformed bytes, the server then holding no fids. */
#define P9_SESSION_MAX (8u << 20)
int p9_session_save(struct p9_server *s, uint8_t **out, size_t *len, struct bl_error *err);
int p9_session_restore(struct p9_server *s, const uint8_t *data, size_t len,
                       struct bl_error *err);

/* Message types (9P2000.L, Linux include/net/9p/9p.h). */
enum {
    P9_TLERROR = 6, P9_RLERROR,
    P9_TSTATFS = 8, P9_RSTATFS,
    P9_TLOPEN = 12, P9_RLOPEN,
    P9_TLCREATE = 14, P9_RLCREATE,
    P9_TSYMLINK = 16, P9_RSYMLINK,
    P9_TMKNOD = 18, P9_RMKNOD,
    P9_TRENAME = 20, P9_RRENAME,
    P9_TREADLINK = 22, P9_RREADLINK,
    P9_TGETATTR = 24, P9_RGETATTR,
    P9_TSETATTR = 26, P9_RSETATTR,
    P9_TXATTRWALK = 30, P9_RXATTRWALK,
    P9_TXATTRCREATE = 32, P9_RXATTRCREATE,
    P9_TREADDIR = 40, P9_RREADDIR,
    P9_TFSYNC = 50, P9_RFSYNC,
    P9_TLOCK = 52, P9_RLOCK,
    P9_TGETLOCK = 54, P9_RGETLOCK,
    P9_TLINK = 70, P9_RLINK,
    P9_TMKDIR = 72, P9_RMKDIR,
    P9_TRENAMEAT = 74, P9_RRENAMEAT,
    P9_TUNLINKAT = 76, P9_RUNLINKAT,
    P9_TVERSION = 100, P9_RVERSION,
    P9_TAUTH = 102, P9_RAUTH,
    P9_TATTACH = 104, P9_RATTACH,
    P9_TFLUSH = 108, P9_RFLUSH,
    P9_TWALK = 110, P9_RWALK,
    P9_TREAD = 116, P9_RREAD,
    P9_TWRITE = 118, P9_RWRITE,
    P9_TCLUNK = 120, P9_RCLUNK,
    P9_TREMOVE = 122, P9_RREMOVE,
};

#define P9_NOTAG 0xffffu
#define P9_NOFID 0xffffffffu
#define P9_MAXWELEM 16
#define P9_QID_SIZE 13
#define P9_QTDIR 0x80
#define P9_QTSYMLINK 0x02
#define P9_QTFILE 0x00

/* Tsetattr valid bits */
#define P9_SETATTR_MODE 0x1
#define P9_SETATTR_UID 0x2
#define P9_SETATTR_GID 0x4
#define P9_SETATTR_SIZE 0x8
#define P9_SETATTR_ATIME 0x10
#define P9_SETATTR_MTIME 0x20
#define P9_SETATTR_CTIME 0x40
#define P9_SETATTR_ATIME_SET 0x80
#define P9_SETATTR_MTIME_SET 0x100

#define P9_GETATTR_BASIC 0x7ffull /* mode..blocks, what Rgetattr fills */

/* Tlock status / Tgetlock types */
#define P9_LOCK_SUCCESS 0
#define P9_LOCK_TYPE_UNLCK 2

#endif
