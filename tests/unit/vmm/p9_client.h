// SPDX-License-Identifier: Apache-2.0
/* A tiny 9P2000.L client for the server's tests: messages built in flat buffers and handed
 * to p9_handle(); the reply is left in reply[]. Shared by test_p9.c and test_p9_linux.c. */
#ifndef TEST_P9_CLIENT_H
#define TEST_P9_CLIENT_H

#include "vmm/fs/p9.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Host-side files of a share: written with a mode, read back whole (NULL if missing; the
 * text stays valid until the next call). */
static inline void put_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
        chmod(path, (mode_t)mode);
    }
}
static inline char *slurp(const char *path)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}


struct msg {
    uint8_t b[70000];
    size_t n;
};

static inline void put(struct msg *m, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        m->b[m->n++] = (uint8_t)(v >> (8 * i));
}
static inline void put_s(struct msg *m, const char *s)
{
    size_t n = strlen(s);
    put(m, n, 2);
    memcpy(m->b + m->n, s, n);
    m->n += n;
}
static inline void begin(struct msg *m, uint8_t type, uint16_t tag)
{
    m->n = 0;
    put(m, 0, 4);
    put(m, type, 1);
    put(m, tag, 2);
}
static inline void finish(struct msg *m)
{
    for (int i = 0; i < 4; i++)
        m->b[i] = (uint8_t)(m->n >> (8 * i));
}
static inline uint64_t get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint8_t reply[1 << 20];
static size_t reply_len;

/* Sends m; returns the reply type (reply[] holds it). */
static inline int rpc(struct p9_server *s, struct msg *m)
{
    finish(m);
    reply_len = p9_handle(s, m->b, m->n, reply, sizeof reply);
    if (reply_len < 7 || get(reply, 4) != reply_len)
        return -1;
    return reply[4];
}
/* The Rlerror code of the last reply, or 0 if it was not an Rlerror. */
static inline int lerror(void) { return reply[4] == P9_RLERROR ? (int)get(reply + 7, 4) : 0; }

static inline struct p9_server *server(const char *root, bool ro)
{
    struct p9_server *s = NULL;
    struct bl_error err = {0};
    if (p9_server_new(&s, root, ro, 65536, &err) < 0)
        return NULL;
    struct msg m;
    begin(&m, P9_TVERSION, P9_NOTAG);
    put(&m, 65536, 4);
    put_s(&m, "9P2000.L");
    if (rpc(s, &m) != P9_RVERSION)
        return NULL;
    begin(&m, P9_TATTACH, 1);
    put(&m, 0, 4);          /* fid 0 = root */
    put(&m, P9_NOFID, 4);   /* afid */
    put_s(&m, "root");
    put_s(&m, "");
    put(&m, 0, 4);
    if (rpc(s, &m) != P9_RATTACH)
        return NULL;
    return s;
}

/* Walks fid -> newfid along names (NULL-terminated); returns the reply type. */
static inline int walk(struct p9_server *s, uint32_t fid, uint32_t newfid, ...)
{
    struct msg m;
    const char *names[20];
    int n = 0;
    va_list ap;
    va_start(ap, newfid);
    for (const char *p; (p = va_arg(ap, const char *));)
        names[n++] = p;
    va_end(ap);
    begin(&m, P9_TWALK, 2);
    put(&m, fid, 4);
    put(&m, newfid, 4);
    put(&m, (uint64_t)n, 2);
    for (int i = 0; i < n; i++)
        put_s(&m, names[i]);
    return rpc(s, &m);
}
static inline int nwqid(void) { return (int)get(reply + 7, 2); }

static inline int lopen(struct p9_server *s, uint32_t fid, uint32_t flags)
{
    struct msg m;
    begin(&m, P9_TLOPEN, 3);
    put(&m, fid, 4);
    put(&m, flags, 4);
    return rpc(s, &m);
}

static inline int clunk(struct p9_server *s, uint32_t fid)
{
    struct msg m;
    begin(&m, P9_TCLUNK, 3);
    put(&m, fid, 4);
    return rpc(s, &m);
}

static inline int do_read(struct p9_server *s, uint32_t fid, uint64_t off, uint32_t count)
{
    struct msg m;
    begin(&m, P9_TREAD, 4);
    put(&m, fid, 4);
    put(&m, off, 8);
    put(&m, count, 4);
    return rpc(s, &m);
}

static inline int do_write(struct p9_server *s, uint32_t fid, uint64_t off, const char *data)
{
    struct msg m;
    begin(&m, P9_TWRITE, 4);
    put(&m, fid, 4);
    put(&m, off, 8);
    put(&m, strlen(data), 4);
    memcpy(m.b + m.n, data, strlen(data));
    m.n += strlen(data);
    return rpc(s, &m);
}

static inline int lcreate(struct p9_server *s, uint32_t dfid, const char *name, uint32_t flags)
{
    struct msg m;
    begin(&m, P9_TLCREATE, 5);
    put(&m, dfid, 4);
    put_s(&m, name);
    put(&m, flags, 4);
    put(&m, 0644, 4);
    put(&m, 0, 4);
    return rpc(s, &m);
}

static inline int mkdir9(struct p9_server *s, uint32_t dfid, const char *name)
{
    struct msg m;
    begin(&m, P9_TMKDIR, 5);
    put(&m, dfid, 4);
    put_s(&m, name);
    put(&m, 0755, 4);
    put(&m, 0, 4);
    return rpc(s, &m);
}

/* Tgetattr of fid: the 4-byte field at off in the body after valid[8] and qid[13]
 * (0 mode, 4 uid, 8 gid), or -1. */
static inline long long getattr_u32(struct p9_server *s, uint32_t fid, unsigned off)
{
    struct msg m;
    begin(&m, P9_TGETATTR, 9);
    put(&m, fid, 4);
    put(&m, P9_GETATTR_BASIC, 8);
    if (rpc(s, &m) != P9_RGETATTR)
        return -1;
    return (long long)get(reply + 7 + 8 + 13 + off, 4);
}
static inline long long getattr_mode(struct p9_server *s, uint32_t fid) { return getattr_u32(s, fid, 0); }

/* A second attach as another guest user (Linux attaches once per uid). */
static inline int attach_as(struct p9_server *s, uint32_t fid, uint32_t uid)
{
    struct msg m;
    begin(&m, P9_TATTACH, 1);
    put(&m, fid, 4);
    put(&m, P9_NOFID, 4);
    put_s(&m, "u");
    put_s(&m, "");
    put(&m, uid, 4);
    return rpc(s, &m);
}

static inline int setattr_mode_owner(struct p9_server *s, uint32_t fid, uint32_t valid, uint32_t mode,
                              uint32_t uid, uint32_t gid)
{
    struct msg m;
    begin(&m, P9_TSETATTR, 8);
    put(&m, fid, 4);
    put(&m, valid, 4);
    put(&m, mode, 4);
    put(&m, uid, 4);
    put(&m, gid, 4);
    for (int i = 0; i < 5; i++)
        put(&m, 0, 8);
    return rpc(s, &m);
}


#endif
