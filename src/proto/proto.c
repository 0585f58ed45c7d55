// SPDX-License-Identifier: Apache-2.0
/* Frame header codec, stream reassembly, output buffering and the TLV bodies of the agent
 * protocol (docs/protocol.md). Every length read from the peer is checked before use. */
#include "proto/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *proto_type_name(unsigned type)
{
    switch (type) {
    case PROTO_HELLO: return "HELLO";
    case PROTO_ERROR: return "ERROR";
    case PROTO_PING: return "PING";
    case PROTO_PONG: return "PONG";
    case PROTO_EVENT: return "EVENT";
    case PROTO_STATUS: return "STATUS";
    case PROTO_EXIT: return "EXIT";
    case PROTO_PAUSE: return "PAUSE";
    case PROTO_BALLOON: return "BALLOON";
    case PROTO_EXEC: return "EXEC";
    case PROTO_COPY_IN: return "COPY_IN";
    case PROTO_COPY_OUT: return "COPY_OUT";
    case PROTO_SETUP: return "SETUP";
    case PROTO_SHUTDOWN: return "SHUTDOWN";
    case PROTO_IDENTITY: return "IDENTITY";
    case PROTO_KILL: return "KILL";
    case PROTO_FSFREEZE: return "FSFREEZE";
    case PROTO_RECLAIM: return "RECLAIM";
    case PROTO_VOLUMES: return "VOLUMES";
    case PROTO_GROUP_LIMITS: return "GROUP_LIMITS";
    case PROTO_HOLD: return "HOLD";
    case PROTO_DATA: return "DATA";
    case PROTO_EOF: return "EOF";
    case PROTO_CREDIT: return "CREDIT";
    case PROTO_SIGNAL: return "SIGNAL";
    case PROTO_RESIZE: return "RESIZE";
    case PROTO_RESULT: return "RESULT";
    case PROTO_CLOSE: return "CLOSE";
    default: return NULL;
    }
}

void proto_hdr_encode(uint8_t out[PROTO_HDR_SIZE], const struct proto_hdr *h)
{
    put_le32(out, h->len);
    put_le16(out + 4, h->type);
    out[6] = h->stream;
    out[7] = h->flags;
    put_le32(out + 8, h->channel);
}

int proto_hdr_decode(const uint8_t in[PROTO_HDR_SIZE], struct proto_hdr *h, struct bl_error *err)
{
    h->len = get_le32(in);
    h->type = get_le16(in + 4);
    h->stream = in[6];
    h->flags = in[7];
    h->channel = get_le32(in + 8);
    if (h->len > PROTO_MAX_PAYLOAD)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "frame length %u exceeds the maximum %u",
                      h->len, PROTO_MAX_PAYLOAD);
    return 0;
}

bool proto_is_hello_hdr(const uint8_t in[PROTO_HDR_SIZE])
{
    struct proto_hdr h;
    return proto_hdr_decode(in, &h, NULL) == 0 && h.type == PROTO_HELLO && h.len <= 1024 &&
           proto_hdr_check(&h, NULL) == 0;
}

size_t proto_reader_resync(struct proto_reader *r, const uint8_t *data, size_t len)
{
    size_t used = 0;
    if (!r->failed)
        return 0;
    if (r->have > PROTO_HDR_SIZE || r->done)
        r->have = 0;
    r->done = false;
    while (used < len) {
        if (r->have == PROTO_HDR_SIZE) {
            memmove(r->buf, r->buf + 1, PROTO_HDR_SIZE - 1);
            r->have--;
        }
        r->buf[r->have++] = data[used++];
        if (r->have == PROTO_HDR_SIZE && proto_is_hello_hdr(r->buf)) {
            r->failed = false; /* the header is in place; the payload follows */
            break;
        }
    }
    return used;
}

int proto_hdr_check(const struct proto_hdr *h, struct bl_error *err)
{
    const char *name = proto_type_name(h->type);
    if (!name)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "unknown frame type 0x%x", h->type);
    if (h->flags)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "%s frame with reserved flags 0x%x", name,
                      h->flags);
    bool streamed = h->type == PROTO_DATA || h->type == PROTO_EOF || h->type == PROTO_CREDIT;
    if (streamed ? h->stream > PROTO_STDERR : h->stream != 0)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "%s frame with bad stream %u", name, h->stream);
    bool conn = h->type == PROTO_HELLO || h->type == PROTO_PING || h->type == PROTO_PONG ||
                h->type == PROTO_EVENT || h->type == PROTO_STATUS || h->type == PROTO_EXIT ||
                h->type == PROTO_PAUSE || h->type == PROTO_BALLOON || h->type == PROTO_HOLD;
    if (conn && h->channel != 0)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "%s frame on channel %u (must be 0)", name,
                      h->channel);
    if (!conn && h->type != PROTO_ERROR && h->channel == 0)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "%s frame on channel 0", name);
    if (h->type == PROTO_CREDIT && h->len != 4)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "CREDIT frame of %u bytes (must be 4)", h->len);
    if ((h->type == PROTO_EOF || h->type == PROTO_CLOSE) && h->len != 0)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "%s frame with a payload", name);
    if (h->type == PROTO_SIGNAL && h->len != 4)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "SIGNAL frame of %u bytes (must be 4)", h->len);
    if (h->type == PROTO_RESIZE && h->len != 8)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "RESIZE frame of %u bytes (must be 8)", h->len);
    return 0;
}

int proto_reader_feed(struct proto_reader *r, const uint8_t *data, size_t len, size_t *used,
                      struct proto_hdr *h, const uint8_t **payload, struct bl_error *err)
{
    *used = 0;
    if (r->failed)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "stream already failed");
    /* A previous call returned a whole frame: start the next one. */
    if (r->done) {
        r->have = 0;
        r->done = false;
    }
    if (r->have < PROTO_HDR_SIZE) {
        size_t n = PROTO_HDR_SIZE - r->have;
        if (n > len)
            n = len;
        memcpy(r->buf + r->have, data, n);
        r->have += n;
        *used += n;
        if (r->have < PROTO_HDR_SIZE)
            return 0;
        if (proto_hdr_decode(r->buf, h, err) < 0) {
            r->failed = true;
            r->have = 0;
            return -BOXLITE_ERR_PROTOCOL;
        }
    } else {
        proto_hdr_decode(r->buf, h, NULL);
    }
    size_t want = PROTO_HDR_SIZE + h->len - r->have;
    size_t n = len - *used;
    if (n > want)
        n = want;
    memcpy(r->buf + r->have, data + *used, n);
    r->have += n;
    *used += n;
    if (r->have < PROTO_HDR_SIZE + h->len)
        return 0;
    *payload = r->buf + PROTO_HDR_SIZE;
    r->done = true;
    return 1;
}

int proto_buf_put(struct proto_buf *b, const void *p, size_t n)
{
    if (b->off && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + n > b->cap) {
        if (b->off) { /* compact before growing */
            memmove(b->data, b->data + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap : 4096;
            while (cap < b->len + n)
                cap *= 2;
            uint8_t *d = realloc(b->data, cap);
            if (!d)
                return -BOXLITE_ERR_NOMEM;
            b->data = d;
            b->cap = cap;
        }
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int proto_buf_frame(struct proto_buf *b, uint16_t type, uint32_t channel, uint8_t stream,
                    const void *payload, size_t len)
{
    if (len > PROTO_MAX_PAYLOAD)
        return -BOXLITE_ERR_INVALID;
    uint8_t hdr[PROTO_HDR_SIZE];
    struct proto_hdr h = {.len = (uint32_t)len, .type = type, .stream = stream, .channel = channel};
    proto_hdr_encode(hdr, &h);
    if (proto_buf_put(b, hdr, sizeof hdr) < 0 || (len && proto_buf_put(b, payload, len) < 0))
        return -BOXLITE_ERR_NOMEM;
    return 0;
}

int proto_buf_flush(struct proto_buf *b, int fd)
{
    while (b->off < b->len) {
        ssize_t n = write(fd, b->data + b->off, b->len - b->off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -errno;
        }
        b->off += (size_t)n;
    }
    b->off = b->len = 0;
    /* Give back memory after a burst. */
    if (b->cap > (1u << 20)) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
    return 0;
}

void proto_buf_free(struct proto_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- TLV ----------------------------------------------------------------------------- */

void tlv_init(struct tlv_writer *w)
{
    w->len = 0;
    w->overflow = false;
}

void tlv_bytes(struct tlv_writer *w, uint16_t tag, const void *p, size_t n)
{
    if (n > 0xffff || w->len + 4 + n > sizeof w->buf) {
        w->overflow = true;
        return;
    }
    put_le16(w->buf + w->len, tag);
    put_le16(w->buf + w->len + 2, (uint16_t)n);
    if (n)
        memcpy(w->buf + w->len + 4, p, n);
    w->len += 4 + n;
}

void tlv_str(struct tlv_writer *w, uint16_t tag, const char *s)
{
    if (s)
        tlv_bytes(w, tag, s, strlen(s));
}

void tlv_u64(struct tlv_writer *w, uint16_t tag, uint64_t v)
{
    uint8_t b[8];
    put_le64(b, v);
    tlv_bytes(w, tag, b, 8);
}

void tlv_iter_init(struct tlv_iter *it, const void *p, size_t len)
{
    it->p = p;
    it->len = len;
    it->off = 0;
}

int tlv_next(struct tlv_iter *it, struct tlv_field *f, struct bl_error *err)
{
    if (it->off == it->len)
        return 0;
    if (it->len - it->off < 4)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "truncated field header at byte %zu", it->off);
    f->tag = get_le16(it->p + it->off);
    f->len = get_le16(it->p + it->off + 2);
    if (it->len - it->off - 4 < f->len)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "field %u of %u bytes overruns the frame",
                      f->tag, f->len);
    f->val = it->p + it->off + 4;
    it->off += 4 + (size_t)f->len;
    return 1;
}

int tlv_get_str(const struct tlv_field *f, char **out, struct bl_error *err)
{
    if (memchr(f->val, 0, f->len))
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "field %u: string contains NUL", f->tag);
    char *s = malloc((size_t)f->len + 1);
    if (!s)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    memcpy(s, f->val, f->len);
    s[f->len] = 0;
    free(*out); /* a repeated scalar field: the last one wins */
    *out = s;
    return 0;
}

int tlv_get_u64(const struct tlv_field *f, uint64_t *out, struct bl_error *err)
{
    if (f->len != 8)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "field %u: integer of %u bytes (must be 8)",
                      f->tag, f->len);
    *out = get_le64(f->val);
    return 0;
}

/* Appends a string to a NULL-terminated vector, bounded so a peer cannot make us allocate
 * without limit (the frame size bounds it anyway). */
static int vec_push(char ***vec, size_t *n, char *s, struct bl_error *err)
{
    char **v = realloc(*vec, (*n + 2) * sizeof *v);
    if (!v) {
        free(s);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    v[(*n)++] = s;
    v[*n] = NULL;
    *vec = v;
    return 0;
}

static void vec_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

int proto_exec_req_encode(const struct proto_exec_req *r, struct tlv_writer *w, struct bl_error *err)
{
    tlv_init(w);
    if (!r->argv || !r->argv[0])
        return bl_err(err, BOXLITE_ERR_INVALID, "exec: empty argv");
    for (size_t i = 0; r->argv[i]; i++)
        tlv_str(w, T_ARG, r->argv[i]);
    for (size_t i = 0; r->env && r->env[i]; i++)
        tlv_str(w, T_ENV, r->env[i]);
    tlv_str(w, T_CWD, r->cwd);
    tlv_str(w, T_USER, r->user);
    if (r->root)
        tlv_str(w, T_ROOT, r->root);
    if (r->group)
        tlv_str(w, T_GROUP, r->group);
    if (r->pids_max)
        tlv_u64(w, T_PIDS_MAX, r->pids_max);
    if (r->tty) {
        tlv_u64(w, T_TTY, 1);
        tlv_u64(w, T_ROWS, r->rows);
        tlv_u64(w, T_COLS, r->cols);
    }
    if (r->timeout_ms)
        tlv_u64(w, T_TIMEOUT_MS, r->timeout_ms);
    if (r->detach)
        tlv_u64(w, T_DETACH, 1);
    if (r->attach)
        tlv_u64(w, T_ATTACH, 1);
    for (unsigned i = 0; i < r->nrlimits; i++) {
        uint8_t b[24];
        put_le64(b, r->rlimits[i].resource);
        put_le64(b + 8, r->rlimits[i].soft);
        put_le64(b + 16, r->rlimits[i].hard);
        tlv_bytes(w, T_RLIMIT, b, sizeof b);
    }
    if (r->has_caps) {
        uint8_t b[8 * PROTO_CAP_SETS];
        for (int i = 0; i < PROTO_CAP_SETS; i++)
            put_le64(b + 8 * i, r->caps[i]);
        tlv_bytes(w, T_CAPS, b, sizeof b);
    }
    if (r->no_new_privs)
        tlv_u64(w, T_NO_NEW_PRIVS, 1);
    if (r->has_groups) {
        if (r->ngroups > PROTO_MAX_GROUPS)
            return bl_err(err, BOXLITE_ERR_INVALID, "exec: %u groups (at most %u)", r->ngroups,
                          PROTO_MAX_GROUPS);
        uint8_t b[4 * PROTO_MAX_GROUPS];
        for (unsigned i = 0; i < r->ngroups; i++)
            put_le32(b + 4 * i, r->groups[i]);
        tlv_bytes(w, T_GROUPS, b, 4 * (size_t)r->ngroups);
    }
    if (r->has_umask)
        tlv_u64(w, T_UMASK, r->umask);
    if (r->has_oom_score_adj)
        tlv_u64(w, T_OOM_SCORE_ADJ, (uint64_t)(int64_t)r->oom_score_adj);
    if (r->seccomp_len) {
        if (r->seccomp_len % 8 || r->seccomp_len / 8 > PROTO_SECCOMP_MAX_INSNS ||
            r->seccomp_flags & ~PROTO_SECCOMP_FLAGS)
            return bl_err(err, BOXLITE_ERR_INVALID, "exec: a seccomp filter of %u bytes, flags "
                          "%#x (8 bytes per instruction, at most %u; flags %#x)",
                          r->seccomp_len, r->seccomp_flags, PROTO_SECCOMP_MAX_INSNS,
                          PROTO_SECCOMP_FLAGS);
        tlv_bytes(w, T_SECCOMP, r->seccomp, r->seccomp_len);
        if (r->seccomp_flags)
            tlv_u64(w, T_SECCOMP_FLAGS, r->seccomp_flags);
    }
    if (r->nmasked > PROTO_MAX_CONFINE || r->nro_paths > PROTO_MAX_CONFINE ||
        r->nsysctl > PROTO_MAX_CONFINE || r->ndevices > PROTO_MAX_CONFINE)
        return bl_err(err, BOXLITE_ERR_INVALID, "exec: more than %u masked paths, read-only "
                      "paths, sysctls or devices", PROTO_MAX_CONFINE);
    for (size_t i = 0; i < r->nmasked; i++)
        tlv_str(w, T_MASK, r->masked[i]);
    for (size_t i = 0; i < r->nro_paths; i++)
        tlv_str(w, T_RO_PATH, r->ro_paths[i]);
    for (size_t i = 0; i < r->nsysctl; i++)
        tlv_str(w, T_SYSCTL, r->sysctl[i]);
    for (size_t i = 0; i < r->ndevices; i++) {
        const struct proto_device *d = &r->devices[i];
        size_t pl = strlen(d->path);
        uint8_t b[PROTO_DEVICE_FIXED + PROTO_DEVICE_PATH_MAX];
        if (!pl || pl > PROTO_DEVICE_PATH_MAX)
            return bl_err(err, BOXLITE_ERR_INVALID, "exec: device path of %zu bytes (1 to %u)",
                          pl, PROTO_DEVICE_PATH_MAX);
        memset(b, 0, PROTO_DEVICE_FIXED);
        b[0] = (uint8_t)d->type;
        put_le32(b + 4, d->major);
        put_le32(b + 8, d->minor);
        put_le32(b + 12, d->mode);
        put_le32(b + 16, d->uid);
        put_le32(b + 20, d->gid);
        memcpy(b + PROTO_DEVICE_FIXED, d->path, pl);
        tlv_bytes(w, T_DEVICE, b, PROTO_DEVICE_FIXED + pl);
    }
    if (r->ntmpfs > PROTO_MAX_CONFINE)
        return bl_err(err, BOXLITE_ERR_INVALID, "exec: more than %u tmpfs mounts",
                      PROTO_MAX_CONFINE);
    for (size_t i = 0; i < r->ntmpfs; i++) {
        const struct proto_tmpfs *t = &r->tmpfs[i];
        size_t pl = strlen(t->path), dl = t->data ? strlen(t->data) : 0;
        uint8_t b[4 + PROTO_DEVICE_PATH_MAX + 1 + PROTO_TMPFS_DATA_MAX];
        if (!pl || pl > PROTO_DEVICE_PATH_MAX || dl >= PROTO_TMPFS_DATA_MAX ||
            t->flags & ~PROTO_TMPFS_FLAGS || !proto_confine_path_ok(t->path))
            return bl_err(err, BOXLITE_ERR_INVALID, "exec: tmpfs %.64s: an absolute path "
                          "without \"..\" of at most %u bytes, flags %#x, data of at most %u "
                          "bytes", t->path, PROTO_DEVICE_PATH_MAX, PROTO_TMPFS_FLAGS,
                          PROTO_TMPFS_DATA_MAX - 1);
        put_le32(b, t->flags);
        memcpy(b + 4, t->path, pl + 1);
        if (dl)
            memcpy(b + 4 + pl + 1, t->data, dl);
        tlv_bytes(w, T_TMPFS, b, 4 + pl + 1 + dl);
    }
    if (w->overflow)
        return bl_err(err, BOXLITE_ERR_INVALID, "exec request larger than %u bytes",
                      PROTO_MAX_PAYLOAD);
    return 0;
}

/* RLIMIT(130): u64 resource, u64 soft, u64 hard; one per resource, soft <= hard. */
static int rlimit_decode(struct proto_exec_req *r, const struct tlv_field *f, struct bl_error *err)
{
    if (f->len != 24)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: RLIMIT of %u bytes (24 expected)",
                      f->len);
    struct proto_rlimit l = { .soft = get_le64(f->val + 8), .hard = get_le64(f->val + 16) };
    uint64_t res = get_le64(f->val);
    if (res >= PROTO_RLIMIT_RESOURCES)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: rlimit resource %llu unknown",
                      (unsigned long long)res);
    l.resource = (uint32_t)res;
    if (l.soft > l.hard)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: rlimit %u: soft limit above hard",
                      l.resource);
    for (unsigned i = 0; i < r->nrlimits; i++)
        if (r->rlimits[i].resource == l.resource)
            return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: rlimit %u given twice", l.resource);
    struct proto_rlimit *v = realloc(r->rlimits, (r->nrlimits + 1) * sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "exec: out of memory");
    r->rlimits = v;
    v[r->nrlimits++] = l;
    return 0;
}

/* SECCOMP(137): whole instructions, at least one, at most BPF_MAXINSNS; the last field
 * wins. What the instructions do is the kernel's to check (seccomp_check_filter). */
static int seccomp_decode(struct proto_exec_req *r, const struct tlv_field *f,
                          struct bl_error *err)
{
    if (!f->len || f->len % 8 || f->len / 8 > PROTO_SECCOMP_MAX_INSNS)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: SECCOMP of %u bytes (8 per "
                      "instruction, 1 to %u instructions)", f->len, PROTO_SECCOMP_MAX_INSNS);
    uint8_t *b = malloc(f->len);
    if (!b)
        return bl_err(err, BOXLITE_ERR_NOMEM, "exec: out of memory");
    memcpy(b, f->val, f->len);
    free(r->seccomp);
    r->seccomp = b;
    r->seccomp_len = f->len;
    return 0;
}

bool proto_confine_path_ok(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *c = p; (c = strstr(c, "..")); c += 2)
        if ((c == p || c[-1] == '/') && (!c[2] || c[2] == '/'))
            return false;
    return true;
}

bool proto_sysctl_ok(const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || kv[0] == '/' || kv[0] == '.')
        return false;
    for (const char *c = kv; c + 1 < eq; c++)
        if ((c[0] == '.' || c[0] == '/') && c[1] == '.')
            return false;
    return true;
}

/* MASK, RO_PATH, SYSCTL: one string each, at most PROTO_MAX_CONFINE of a kind. */
static int confine_str(const struct tlv_field *f, char ***v, size_t *n, struct bl_error *err)
{
    if (*n >= PROTO_MAX_CONFINE)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: more than %u of tag %u",
                      PROTO_MAX_CONFINE, f->tag);
    char *s = NULL;
    int rc = tlv_get_str(f, &s, err);
    if (rc < 0)
        return rc;
    if (!(f->tag == T_SYSCTL ? proto_sysctl_ok(s) : proto_confine_path_ok(s))) {
        rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: tag %u \"%.64s\": %s", f->tag, s,
                    f->tag == T_SYSCTL ? "not name=value with a relative name without \"..\""
                                       : "not an absolute path without \"..\"");
        free(s);
        return rc;
    }
    return vec_push(v, n, s, err);
}

static int device_decode(struct proto_exec_req *r, const struct tlv_field *f,
                         struct bl_error *err)
{
    if (r->ndevices >= PROTO_MAX_CONFINE || f->len <= PROTO_DEVICE_FIXED ||
        f->len > PROTO_DEVICE_FIXED + PROTO_DEVICE_PATH_MAX)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: DEVICE of %u bytes (a path of 1 to %u, "
                      "at most %u devices)", f->len, PROTO_DEVICE_PATH_MAX, PROTO_MAX_CONFINE);
    struct proto_device d = { .type = (char)f->val[0], .major = get_le32(f->val + 4),
                              .minor = get_le32(f->val + 8), .mode = get_le32(f->val + 12),
                              .uid = get_le32(f->val + 16), .gid = get_le32(f->val + 20) };
    size_t pl = f->len - PROTO_DEVICE_FIXED;
    const char *pp = (const char *)f->val + PROTO_DEVICE_FIXED;
    if (!strchr("cbup", d.type) || !d.type || d.mode > 07777 || memchr(pp, 0, pl))
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: DEVICE: type %#x, mode %o (c, b, u or "
                      "p; at most 07777; a path without NUL)", (unsigned)(uint8_t)d.type, d.mode);
    if (!(d.path = strndup(pp, pl)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "exec: out of memory");
    if (!proto_confine_path_ok(d.path)) {
        free(d.path);
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: DEVICE path is not absolute without "
                      "\"..\"");
    }
    struct proto_device *v = realloc(r->devices, (r->ndevices + 1) * sizeof *v);
    if (!v) {
        free(d.path);
        return bl_err(err, BOXLITE_ERR_NOMEM, "exec: out of memory");
    }
    r->devices = v;
    v[r->ndevices++] = d;
    return 0;
}

/* TMPFS(165): u32 flags, the path, NUL, the data (checked as the host's parser would). */
static int tmpfs_decode(struct proto_exec_req *r, const struct tlv_field *f,
                        struct bl_error *err)
{
    const char *pp = (const char *)f->val + 4;
    const char *nul = f->len > 4 ? memchr(pp, 0, f->len - 4u) : NULL;
    if (r->ntmpfs >= PROTO_MAX_CONFINE || !nul)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: TMPFS of %u bytes (flags, a path, a "
                      "NUL, data; at most %u mounts)", f->len, PROTO_MAX_CONFINE);
    size_t pl = (size_t)(nul - pp), dl = f->len - 4u - pl - 1;
    struct proto_tmpfs t = { .flags = get_le32(f->val) };
    if (!pl || pl > PROTO_DEVICE_PATH_MAX || dl >= PROTO_TMPFS_DATA_MAX ||
        memchr(nul + 1, 0, dl) || t.flags & ~PROTO_TMPFS_FLAGS)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: TMPFS: a path of %zu bytes, data of "
                      "%zu, flags %#x (1 to %u, below %u, within %#x, no NUL)", pl, dl, t.flags,
                      PROTO_DEVICE_PATH_MAX, PROTO_TMPFS_DATA_MAX, PROTO_TMPFS_FLAGS);
    if (!(t.path = strndup(pp, pl)) || !(t.data = strndup(nul + 1, dl))) {
        free(t.path);
        return bl_err(err, BOXLITE_ERR_NOMEM, "exec: out of memory");
    }
    char data[PROTO_TMPFS_DATA_MAX];
    uint32_t flags;
    int rc = 0;
    if (!proto_confine_path_ok(t.path))
        rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: TMPFS path is not absolute without "
                    "\"..\"");
    /* only tmpfs(5)'s parameters: the data string must read back as it is, with no flag */
    else if (proto_tmpfs_options(t.data, &flags, data, sizeof data, err) < 0 || flags ||
             strcmp(data, t.data))
        rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: TMPFS data \"%.64s\" is not tmpfs(5)'s "
                    "options", t.data);
    struct proto_tmpfs *v = rc ? NULL : realloc(r->tmpfs, (r->ntmpfs + 1) * sizeof *v);
    if (!v) {
        free(t.path);
        free(t.data);
        return rc ? rc : bl_err(err, BOXLITE_ERR_NOMEM, "exec: out of memory");
    }
    r->tmpfs = v;
    v[r->ntmpfs++] = t;
    return 0;
}

/* GROUPS(133): u32 gids, possibly none; the last field wins. */
static int groups_decode(struct proto_exec_req *r, const struct tlv_field *f, struct bl_error *err)
{
    if (f->len % 4 || f->len / 4 > PROTO_MAX_GROUPS)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: GROUPS of %u bytes (4 per group, at "
                      "most %u groups)", f->len, PROTO_MAX_GROUPS);
    uint32_t *g = f->len ? malloc(f->len) : NULL;
    if (f->len && !g)
        return bl_err(err, BOXLITE_ERR_NOMEM, "exec: out of memory");
    for (unsigned i = 0; i < f->len / 4u; i++)
        g[i] = get_le32(f->val + 4 * i);
    free(r->groups);
    r->groups = g;
    r->ngroups = f->len / 4u;
    r->has_groups = true;
    return 0;
}

int proto_exec_req_decode(struct proto_exec_req *r, const void *p, size_t len, struct bl_error *err)
{
    memset(r, 0, sizeof *r);
    size_t argc = 0, envc = 0;
    struct tlv_iter it;
    struct tlv_field f;
    int rc;
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, err)) > 0) {
        char *s = NULL;
        uint64_t v = 0;
        switch (f.tag) {
        case T_ARG:
        case T_ENV:
            if ((rc = tlv_get_str(&f, &s, err)) < 0)
                goto fail;
            if (f.tag == T_ENV && !strchr(s, '=')) {
                free(s);
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: env entry without '='");
                goto fail;
            }
            rc = f.tag == T_ARG ? vec_push(&r->argv, &argc, s, err) : vec_push(&r->env, &envc, s, err);
            if (rc < 0)
                goto fail;
            break;
        case T_CWD: rc = tlv_get_str(&f, &r->cwd, err); break;
        case T_USER: rc = tlv_get_str(&f, &r->user, err); break;
        case T_ROOT: rc = tlv_get_str(&f, &r->root, err); break;
        case T_GROUP:
            rc = tlv_get_str(&f, &r->group, err);
            if (!rc && !proto_group_name_ok(r->group))
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: bad group name");
            break;
        case T_PIDS_MAX: rc = tlv_get_u64(&f, &r->pids_max, err); break;
        case T_TTY: rc = tlv_get_u64(&f, &v, err); r->tty = v != 0; break;
        case T_ROWS:
        case T_COLS:
            rc = tlv_get_u64(&f, &v, err);
            if (rc == 0 && v > 0xffff)
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: terminal size %llu too large",
                            (unsigned long long)v);
            if (f.tag == T_ROWS)
                r->rows = (uint32_t)v;
            else
                r->cols = (uint32_t)v;
            break;
        case T_TIMEOUT_MS: rc = tlv_get_u64(&f, &r->timeout_ms, err); break;
        case T_DETACH: rc = tlv_get_u64(&f, &v, err); r->detach = v != 0; break;
        case T_ATTACH: rc = tlv_get_u64(&f, &v, err); r->attach = v != 0; break;
        case T_RLIMIT: rc = rlimit_decode(r, &f, err); break;
        case T_CAPS:
            if (f.len != 8 * PROTO_CAP_SETS) {
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: CAPS of %u bytes (%d expected)",
                            f.len, 8 * PROTO_CAP_SETS);
                break;
            }
            for (int i = 0; i < PROTO_CAP_SETS; i++)
                r->caps[i] = get_le64(f.val + 8 * i);
            r->has_caps = true;
            break;
        case T_NO_NEW_PRIVS: rc = tlv_get_u64(&f, &v, err); r->no_new_privs = v != 0; break;
        case T_GROUPS: rc = groups_decode(r, &f, err); break;
        case T_UMASK:
            rc = tlv_get_u64(&f, &v, err);
            if (rc == 0 && v > 0777)
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: umask %llo out of range",
                            (unsigned long long)v);
            r->umask = (uint32_t)v;
            r->has_umask = true;
            break;
        case T_OOM_SCORE_ADJ:
            rc = tlv_get_u64(&f, &v, err);
            if (rc == 0 && ((int64_t)v < -1000 || (int64_t)v > 1000))
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: oom_score_adj %lld out of "
                            "-1000..1000", (long long)(int64_t)v);
            r->oom_score_adj = (int32_t)(int64_t)v;
            r->has_oom_score_adj = true;
            break;
        case T_SECCOMP: rc = seccomp_decode(r, &f, err); break;
        case T_MASK: rc = confine_str(&f, &r->masked, &r->nmasked, err); break;
        case T_RO_PATH: rc = confine_str(&f, &r->ro_paths, &r->nro_paths, err); break;
        case T_SYSCTL: rc = confine_str(&f, &r->sysctl, &r->nsysctl, err); break;
        case T_DEVICE: rc = device_decode(r, &f, err); break;
        case T_TMPFS: rc = tmpfs_decode(r, &f, err); break;
        case T_SECCOMP_FLAGS:
            rc = tlv_get_u64(&f, &v, err);
            if (rc == 0 && v & ~(uint64_t)PROTO_SECCOMP_FLAGS)
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: seccomp flags %#llx (only "
                            "TSYNC, LOG, SPEC_ALLOW)", (unsigned long long)v);
            r->seccomp_flags = (uint32_t)v;
            break;
        default: break; /* unknown fields are skipped: newer hosts may add some */
        }
        if (rc < 0)
            goto fail;
    }
    if (rc < 0)
        goto fail;
    if (!argc) {
        rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "exec: no program given");
        goto fail;
    }
    if (!envc && (rc = vec_push(&r->env, &envc, NULL, err)) < 0)
        goto fail;
    return 0;
fail:
    proto_exec_req_free(r);
    return rc;
}

bool proto_group_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (!n || n > PROTO_GROUP_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-") == n;
}

void proto_group_limits_encode(const struct proto_group_limits *g, struct tlv_writer *w)
{
    tlv_init(w);
    tlv_str(w, T_GROUP, g->group);
    tlv_u64(w, T_PIDS_MAX, g->pids_max);
}

int proto_group_limits_decode(struct proto_group_limits *g, const void *p, size_t len,
                              struct bl_error *err)
{
    memset(g, 0, sizeof *g);
    bool has_pids = false;
    struct tlv_iter it;
    struct tlv_field f;
    tlv_iter_init(&it, p, len);
    int n;
    while ((n = tlv_next(&it, &f, err)) > 0) {
        int rc = 0;
        if (f.tag == T_GROUP) {
            char *s = NULL;
            rc = tlv_get_str(&f, &s, err);
            if (!rc && !proto_group_name_ok(s))
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "group limits: bad group name");
            if (!rc)
                memcpy(g->group, s, strlen(s) + 1);
            free(s);
        } else if (f.tag == T_PIDS_MAX) {
            rc = tlv_get_u64(&f, &g->pids_max, err);
            has_pids = !rc;
        }
        if (rc)
            return rc;
    }
    if (n < 0)
        return n;
    if (!g->group[0] || !has_pids)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "group limits: GROUP and PIDS_MAX are required");
    return 0;
}

void proto_exec_req_free(struct proto_exec_req *r)
{
    vec_free(r->argv);
    vec_free(r->env);
    free(r->cwd);
    free(r->user);
    free(r->root);
    free(r->group);
    free(r->rlimits);
    free(r->groups);
    free(r->seccomp);
    vec_free(r->masked);
    vec_free(r->ro_paths);
    vec_free(r->sysctl);
    for (size_t i = 0; i < r->ndevices; i++)
        free(r->devices[i].path);
    free(r->devices);
    for (size_t i = 0; i < r->ntmpfs; i++) {
        free(r->tmpfs[i].path);
        free(r->tmpfs[i].data);
    }
    free(r->tmpfs);
    memset(r, 0, sizeof *r);
}

void proto_result_encode(const struct proto_result *r, struct tlv_writer *w)
{
    tlv_init(w);
    tlv_u64(w, T_EXIT_CODE, (uint64_t)r->exit_code);
    tlv_u64(w, T_SIGNO, (uint64_t)r->signo);
    tlv_u64(w, T_TIMED_OUT, r->timed_out);
    tlv_u64(w, T_DURATION_US, r->duration_us);
    tlv_u64(w, T_BYTES, r->bytes);
}

int proto_result_decode(struct proto_result *r, const void *p, size_t len, struct bl_error *err)
{
    memset(r, 0, sizeof *r);
    struct tlv_iter it;
    struct tlv_field f;
    int rc;
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, err)) > 0) {
        uint64_t v;
        if (f.tag < T_EXIT_CODE || f.tag > T_BYTES)
            continue;
        if ((rc = tlv_get_u64(&f, &v, err)) < 0)
            return rc;
        switch (f.tag) {
        case T_EXIT_CODE: r->exit_code = (int64_t)v; break;
        case T_SIGNO: r->signo = (int64_t)v; break;
        case T_TIMED_OUT: r->timed_out = v != 0; break;
        case T_DURATION_US: r->duration_us = v; break;
        case T_BYTES: r->bytes = v; break;
        }
    }
    return rc;
}

/* A volume travels as "tag\0path\0ro" in one field: "0" or "1". */
int proto_setup_encode(const struct proto_setup *s, struct tlv_writer *w, struct bl_error *err)
{
    tlv_init(w);
    tlv_str(w, T_ROOT_DEV, s->root_dev);
    tlv_str(w, T_ROOT_FSTYPE, s->root_fstype);
    tlv_str(w, T_ROOT_DIR, s->root_dir);
    for (unsigned i = 0; i < s->nvols; i++) {
        char b[8192];
        int n = snprintf(b, sizeof b, "%s%c%s%c%d", s->vols[i].tag, 0, s->vols[i].path, 0,
                         s->vols[i].readonly ? 1 : 0);
        if (n < 0 || (size_t)n >= sizeof b)
            return bl_err(err, BOXLITE_ERR_INVALID, "setup: volume path too long");
        tlv_bytes(w, T_VOLUME, b, (size_t)n);
    }
    for (unsigned i = 0; i < s->ndisks; i++) {
        const struct proto_disk *d = &s->disks[i];
        char b[8192];
        int n = snprintf(b, sizeof b, "%s%c%s%c%s%c%d", d->dev, 0, d->fstype ? d->fstype : "", 0,
                         d->path, 0, d->readonly ? 1 : 0);
        if (n < 0 || (size_t)n >= sizeof b)
            return bl_err(err, BOXLITE_ERR_INVALID, "setup: disk path too long");
        tlv_bytes(w, T_DISK, b, (size_t)n);
    }
    tlv_str(w, T_HOSTNAME, s->hostname);
    if (s->root_ro)
        tlv_u64(w, T_ROOT_RO, 1);
    if (s->main_stdin)
        tlv_u64(w, T_MAIN_STDIN, 1);
    if (s->restart) {
        tlv_u64(w, T_RESTART, s->restart);
        tlv_u64(w, T_RESTART_MAX, s->restart_max);
    }
    if (s->net) {
        tlv_u64(w, T_NET, 1);
        tlv_str(w, T_NET_ADDR, s->net_addr);
        tlv_str(w, T_NET_GW, s->net_gw);
        tlv_str(w, T_NET_DNS, s->net_dns);
    }
    if (s->main) {
        struct tlv_writer *m = malloc(sizeof *m);
        if (!m)
            return bl_err(err, BOXLITE_ERR_NOMEM, "setup: out of memory");
        int rc = proto_exec_req_encode(s->main, m, err);
        /* a TLV value holds at most 65535 bytes */
        if (rc == 0 && m->len > 0xffff)
            rc = bl_err(err, BOXLITE_ERR_INVALID, "setup: main process request too large");
        if (rc == 0)
            tlv_bytes(w, T_MAIN, m->buf, m->len);
        free(m);
        if (rc < 0)
            return bl_err_prefix(err, "setup: main process");
    }
    if (w->overflow)
        return bl_err(err, BOXLITE_ERR_INVALID, "setup request too large");
    return 0;
}

static int volume_decode(struct proto_setup *s, const struct tlv_field *f, struct bl_error *err)
{
    const char *p = (const char *)f->val, *end = p + f->len;
    const char *z1 = memchr(p, 0, f->len);
    const char *z2 = z1 ? memchr(z1 + 1, 0, (size_t)(end - z1 - 1)) : NULL;
    if (!z1 || !z2 || end - z2 != 2 || (z2[1] != '0' && z2[1] != '1') || z1 == p || z2 == z1 + 1)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "setup: malformed volume field");
    if (s->nvols >= 64)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "setup: more than 64 volumes");
    struct proto_volume *v = realloc(s->vols, (s->nvols + 1) * sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    s->vols = v;
    v = &s->vols[s->nvols];
    v->tag = strdup(p);
    v->path = strdup(z1 + 1);
    v->readonly = z2[1] == '1';
    s->nvols++;
    if (!v->tag || !v->path)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    if (v->path[0] != '/')
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "setup: volume path %s is not absolute", v->path);
    return 0;
}

/* A disk travels as "dev\0fstype\0path\0ro" in one field; fstype may be empty. */
static int disk_decode(struct proto_setup *s, const struct tlv_field *f, struct bl_error *err)
{
    const char *p = (const char *)f->val, *end = p + f->len;
    const char *z[3];
    const char *at = p;
    for (int i = 0; i < 3; i++) {
        z[i] = at < end ? memchr(at, 0, (size_t)(end - at)) : NULL;
        if (!z[i])
            return bl_err(err, BOXLITE_ERR_PROTOCOL, "setup: malformed disk field");
        at = z[i] + 1;
    }
    if (end - z[2] != 2 || (z[2][1] != '0' && z[2][1] != '1') || z[0] == p || z[2] == z[1] + 1)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "setup: malformed disk field");
    if (s->ndisks >= 64)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "setup: more than 64 disks");
    struct proto_disk *d = realloc(s->disks, (s->ndisks + 1) * sizeof *d);
    if (!d)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    s->disks = d;
    d = &s->disks[s->ndisks++];
    d->dev = strdup(p);
    d->fstype = strdup(z[0] + 1);
    d->path = strdup(z[1] + 1);
    d->readonly = z[2][1] == '1';
    if (!d->dev || !d->fstype || !d->path)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    bool by_serial = !strncmp(d->dev, "serial:", 7) && d->dev[7];
    if ((d->dev[0] != '/' && !by_serial) || d->path[0] != '/')
        return bl_err(err, BOXLITE_ERR_PROTOCOL,
                      "setup: disk %s on %s: a device path or serial:NAME and an absolute path",
                      d->dev, d->path);
    return 0;
}

int proto_setup_decode(struct proto_setup *s, const void *p, size_t len, struct bl_error *err)
{
    memset(s, 0, sizeof *s);
    struct tlv_iter it;
    struct tlv_field f;
    int rc;
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, err)) > 0) {
        uint64_t v = 0;
        switch (f.tag) {
        case T_ROOT_DEV: rc = tlv_get_str(&f, &s->root_dev, err); break;
        case T_ROOT_FSTYPE: rc = tlv_get_str(&f, &s->root_fstype, err); break;
        case T_ROOT_DIR: rc = tlv_get_str(&f, &s->root_dir, err); break;
        case T_VOLUME: rc = volume_decode(s, &f, err); break;
        case T_DISK: rc = disk_decode(s, &f, err); break;
        case T_HOSTNAME: rc = tlv_get_str(&f, &s->hostname, err); break;
        case T_NET: rc = tlv_get_u64(&f, &v, err); s->net = v != 0; break;
        case T_ROOT_RO: rc = tlv_get_u64(&f, &v, err); s->root_ro = v != 0; break;
        case T_MAIN_STDIN: rc = tlv_get_u64(&f, &v, err); s->main_stdin = v != 0; break;
        case T_RESTART:
            rc = tlv_get_u64(&f, &v, err);
            if (rc == 0 && v > PROTO_RESTART_ALWAYS)
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "setup: unknown restart policy %llu",
                            (unsigned long long)v);
            s->restart = (uint8_t)v;
            break;
        case T_RESTART_MAX:
            rc = tlv_get_u64(&f, &v, err);
            if (rc == 0 && v > 1000000)
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "setup: restart max %llu out of range",
                            (unsigned long long)v);
            s->restart_max = (uint32_t)v;
            break;
        case T_NET_ADDR: rc = tlv_get_str(&f, &s->net_addr, err); break;
        case T_NET_GW: rc = tlv_get_str(&f, &s->net_gw, err); break;
        case T_NET_DNS: rc = tlv_get_str(&f, &s->net_dns, err); break;
        case T_MAIN:
            if (s->main) {
                rc = bl_err(err, BOXLITE_ERR_PROTOCOL, "setup: more than one main process");
                break;
            }
            if (!(s->main = calloc(1, sizeof *s->main))) {
                rc = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
                break;
            }
            rc = proto_exec_req_decode(s->main, f.val, f.len, err);
            if (rc < 0) {
                free(s->main);
                s->main = NULL;
                bl_err_prefix(err, "setup: main process");
            }
            break;
        default: break;
        }
        if (rc < 0)
            break;
    }
    if (rc < 0)
        proto_setup_free(s);
    return rc;
}

void proto_setup_free(struct proto_setup *s)
{
    free(s->root_dev);
    free(s->root_fstype);
    free(s->root_dir);
    for (unsigned i = 0; i < s->nvols; i++) {
        free(s->vols[i].tag);
        free(s->vols[i].path);
    }
    free(s->vols);
    for (unsigned i = 0; i < s->ndisks; i++) {
        free(s->disks[i].dev);
        free(s->disks[i].fstype);
        free(s->disks[i].path);
    }
    free(s->disks);
    free(s->hostname);
    free(s->net_addr);
    free(s->net_gw);
    free(s->net_mac);
    free(s->net_dns);
    if (s->main) {
        proto_exec_req_free(s->main);
        free(s->main);
    }
    memset(s, 0, sizeof *s);
}

void proto_event_encode(const struct proto_event *ev, struct tlv_writer *w)
{
    tlv_init(w);
    tlv_str(w, T_EVENT, ev->kind);
    if (ev->who[0])
        tlv_str(w, T_WHO, ev->who);
    tlv_u64(w, T_EXIT_CODE, (uint64_t)ev->exit_code);
    tlv_u64(w, T_SIGNO, (uint64_t)ev->signo);
    tlv_u64(w, T_OOM, ev->oom ? 1 : 0);
    if (ev->message[0])
        tlv_str(w, T_MESSAGE, ev->message);
    if (ev->restarts)
        tlv_u64(w, T_RESTARTS, ev->restarts);
}

/* A string field into a fixed buffer: cut to fit, NUL bytes refused. */
int tlv_get_str_buf(const struct tlv_field *f, char *out, size_t cap, struct bl_error *err)
{
    if (memchr(f->val, 0, f->len))
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "NUL byte in a string field (tag %u)", f->tag);
    size_t n = f->len < cap - 1 ? f->len : cap - 1;
    /* the whole buffer: a field repeated with a shorter value leaves nothing of the longer
     * one behind the terminator (found by fuzz_proto_control: fixed buffers compare whole) */
    memset(out, 0, cap);
    memcpy(out, f->val, n);
    return 0;
}

int proto_event_decode(struct proto_event *ev, const void *p, size_t len, struct bl_error *err)
{
    memset(ev, 0, sizeof *ev);
    struct tlv_iter it;
    struct tlv_field f;
    int rc;
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, err)) > 0) {
        uint64_t v = 0;
        switch (f.tag) {
        case T_EVENT: rc = tlv_get_str_buf(&f, ev->kind, sizeof ev->kind, err); break;
        case T_WHO: rc = tlv_get_str_buf(&f, ev->who, sizeof ev->who, err); break;
        case T_MESSAGE: rc = tlv_get_str_buf(&f, ev->message, sizeof ev->message, err); break;
        case T_EXIT_CODE: rc = tlv_get_u64(&f, &v, err); ev->exit_code = (int64_t)v; break;
        case T_SIGNO: rc = tlv_get_u64(&f, &v, err); ev->signo = (int64_t)v; break;
        case T_OOM: rc = tlv_get_u64(&f, &v, err); ev->oom = v != 0; break;
        case T_RESTARTS: rc = tlv_get_u64(&f, &ev->restarts, err); break;
        default: break;
        }
        if (rc < 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    if (!ev->kind[0])
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "EVENT without a kind");
    return 0;
}

void proto_error_encode(struct tlv_writer *w, int code, const char *msg)
{
    tlv_init(w);
    tlv_u64(w, T_CODE, (uint64_t)code);
    size_t n = strlen(msg);
    tlv_bytes(w, T_MESSAGE, msg, n > 4000 ? 4000 : n);
}

int proto_error_decode(const void *p, size_t len, int *code, char *msg, size_t msg_len)
{
    struct tlv_iter it;
    struct tlv_field f;
    int rc;
    *code = BOXLITE_ERR_PROTOCOL;
    if (msg_len)
        snprintf(msg, msg_len, "agent error");
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, NULL)) > 0) {
        if (f.tag == T_CODE && f.len == 8) {
            uint64_t v = get_le64(f.val);
            *code = v > 0 && v < 64 ? (int)v : BOXLITE_ERR_PROTOCOL;
        } else if (f.tag == T_MESSAGE && msg_len) {
            size_t n = f.len < msg_len - 1 ? f.len : msg_len - 1;
            memcpy(msg, f.val, n);
            msg[n] = 0;
            for (size_t i = 0; i < n; i++)
                if (msg[i] == 0)
                    msg[i] = '?';
        }
    }
    return rc;
}

int proto_mac_parse(const char *s, uint8_t out[6])
{
    uint8_t m[6];
    if (strlen(s) != 17)
        return -1;
    for (int i = 0; i < 6; i++) {
        const char *p = s + 3 * i;
        if (i < 5 && p[2] != ':')
            return -1;
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = p[k];
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
            if (d > 15)
                return -1;
            v = v * 16 + d;
        }
        m[i] = (uint8_t)v;
    }
    if (m[0] & 1) /* a multicast address names no one interface */
        return -1;
    if (out)
        memcpy(out, m, 6);
    return 0;
}

static bool hostname_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 64 || h[0] == '-' || h[n - 1] == '-')
        return false;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            return false;
    return true;
}

int proto_identity_decode(struct proto_identity *id, const void *p, size_t len,
                          struct bl_error *err)
{
    memset(id, 0, sizeof *id);
    bool seed = false;
    struct tlv_iter it;
    struct tlv_field f;
    int rc;
    tlv_iter_init(&it, p, len);
    while ((rc = tlv_next(&it, &f, err)) > 0) {
        switch (f.tag) {
        case T_HOSTNAME:
            if (f.len >= sizeof id->hostname)
                return bl_err(err, BOXLITE_ERR_PROTOCOL, "IDENTITY: hostname too long");
            if ((rc = tlv_get_str_buf(&f, id->hostname, sizeof id->hostname, err)) < 0)
                return rc;
            if (!hostname_ok(id->hostname))
                return bl_err(err, BOXLITE_ERR_PROTOCOL, "IDENTITY: bad hostname");
            break;
        case T_MAC:
            if (f.len != 17 || (rc = tlv_get_str_buf(&f, id->mac, sizeof id->mac, err)) < 0 ||
                proto_mac_parse(id->mac, NULL) < 0)
                return rc < 0 ? rc : bl_err(err, BOXLITE_ERR_PROTOCOL, "IDENTITY: bad MAC");
            break;
        case T_SEED:
            if (f.len != PROTO_SEED_BYTES)
                return bl_err(err, BOXLITE_ERR_PROTOCOL, "IDENTITY: seed of %u bytes (must be %d)",
                              f.len, PROTO_SEED_BYTES);
            memcpy(id->seed, f.val, PROTO_SEED_BYTES);
            seed = true;
            break;
        case T_TIME_NS:
            if ((rc = tlv_get_u64(&f, &id->time_ns, err)) < 0)
                return rc;
            break;
        default: break;
        }
    }
    if (rc < 0)
        return rc;
    if (!seed)
        return bl_err(err, BOXLITE_ERR_PROTOCOL, "IDENTITY without a seed");
    return 0;
}
