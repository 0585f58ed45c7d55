// SPDX-License-Identifier: Apache-2.0
/* The layer byte stream: see layerstream.h. */
#include "image/layerstream.h"

#include <errno.h>
#include "common/lazy_crypto.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <isa-l/igzip_lib.h>
#include <unistd.h>
#include <zstd.h>

#define CHUNK (1u << 20)

enum kind { K_UNKNOWN, K_PLAIN, K_GZIP, K_ZSTD };

struct layer_stream {
    int fd;                 /* -1 for a memory source */
    const uint8_t *mem;
    size_t mem_len;
    layer_wait_fn wait;
    void *wait_ud;
    uint64_t src_off;       /* compressed bytes taken from the source */
    int src_eof;
    const uint8_t *in;      /* compressed bytes not yet decompressed */
    size_t in_len, in_pos;
    uint8_t *rdbuf, *outbuf;
    enum kind kind;
    int member_done;        /* gzip: a member ended; more may follow */
    int ended;              /* the uncompressed stream is over */
    struct inflate_state *gz; /* ISA-L's inflate: the same format as zlib's, 2-3x less CPU */
    ZSTD_DStream *zs;
    size_t zs_last;         /* ZSTD_decompressStream's last hint: 0 = at a frame's end */
    EVP_MD_CTX *md_in, *md_out;
    uint64_t bytes_out;
};

static int new_stream(struct layer_stream **out, struct bl_error *err)
{
    struct layer_stream *s = calloc(1, sizeof *s);
    if (!s)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    s->fd = -1;
    s->outbuf = malloc(CHUNK);
    s->md_in = EVP_MD_CTX_new();
    s->md_out = EVP_MD_CTX_new();
    if (!s->outbuf || !s->md_in || !s->md_out || !EVP_DigestInit_ex(s->md_in, EVP_sha256(), NULL) ||
        !EVP_DigestInit_ex(s->md_out, EVP_sha256(), NULL)) {
        layer_stream_free(s);
        return lazylib_null_err(&lazy_crypto_lib, err);
    }
    *out = s;
    return 0;
}

int layer_stream_open_fd(struct layer_stream **out, int fd, layer_wait_fn wait, void *wait_ud,
                         struct bl_error *err)
{
    int r = new_stream(out, err);
    if (r < 0)
        return r;
    struct layer_stream *s = *out;
    s->fd = fd;
    s->wait = wait;
    s->wait_ud = wait_ud;
    if (!(s->rdbuf = malloc(CHUNK))) {
        layer_stream_free(s);
        *out = NULL;
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int layer_stream_open_mem(struct layer_stream **out, const void *data, size_t len, struct bl_error *err)
{
    int r = new_stream(out, err);
    if (r < 0)
        return r;
    (*out)->mem = data;
    (*out)->mem_len = len;
    return 0;
}

/* Reads up to cap more bytes from a file source into dst (hashed as the blob's), waiting
 * for a download in progress; returns the count, 0 at the source's end. */
static ssize_t read_more(struct layer_stream *s, uint8_t *dst, size_t cap, struct bl_error *err)
{
    for (;;) {
        ssize_t n = pread(s->fd, dst, cap, (off_t)s->src_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bl_errno(err, errno, "read layer");
        if (n > 0) {
            EVP_DigestUpdate(s->md_in, dst, (size_t)n);
            s->src_off += (uint64_t)n;
            return n;
        }
        if (!s->wait) {
            s->src_eof = 1;
            return 0;
        }
        /* A download in progress: wait until it has written past what we read. A restarted
         * download (truncated, then rewritten) is waited for the same way; what we read
         * before is checked against the digests at the end either way. */
        uint64_t avail = 0;
        int complete = 0;
        int r = s->wait(s->wait_ud, s->src_off, &avail, &complete, err);
        if (r < 0)
            return r;
        if (complete && avail <= s->src_off) {
            s->src_eof = 1;
            return 0;
        }
    }
}

/* Makes at least k compressed bytes available unless the source ends first (a magic number
 * may straddle two reads); returns 1 if any byte is there, 0 at the source's end. */
static int fill_at_least(struct layer_stream *s, size_t k, struct bl_error *err)
{
    while (s->in_len - s->in_pos < k && !s->src_eof) {
        if (s->fd < 0) {
            s->src_eof = 1;
            if (s->src_off < s->mem_len) {
                s->in = s->mem + s->src_off;
                s->in_len = s->mem_len - s->src_off;
                s->in_pos = 0;
                EVP_DigestUpdate(s->md_in, s->in, s->in_len);
                s->src_off = s->mem_len;
            }
            break;
        }
        size_t have = s->in_len - s->in_pos;
        if (have)
            memmove(s->rdbuf, s->in + s->in_pos, have);
        s->in = s->rdbuf;
        s->in_pos = 0;
        s->in_len = have;
        ssize_t n = read_more(s, s->rdbuf + have, CHUNK - have, err);
        if (n < 0)
            return (int)n;
        s->in_len += (size_t)n;
    }
    return s->in_len > s->in_pos;
}

static int fill(struct layer_stream *s, struct bl_error *err) { return fill_at_least(s, 1, err); }

static int detect(struct layer_stream *s, struct bl_error *err)
{
    int r = fill_at_least(s, 4, err);
    if (r <= 0) {
        s->kind = K_PLAIN;
        return r;
    }
    const uint8_t *p = s->in + s->in_pos;
    size_t n = s->in_len - s->in_pos;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        s->kind = K_GZIP;
        if (!(s->gz = malloc(sizeof *s->gz)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        isal_inflate_init(s->gz);
        s->gz->crc_flag = ISAL_GZIP; /* RFC 1952: header parsed, CRC-32 and size checked */
    } else if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) {
        s->kind = K_ZSTD;
        if (!(s->zs = ZSTD_createDStream()) || ZSTD_isError(ZSTD_initDStream(s->zs)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "layer: zstd init failed");
    } else {
        s->kind = K_PLAIN;
    }
    return 0;
}

static ssize_t read_gzip(struct layer_stream *s, const void **out, struct bl_error *err)
{
    for (;;) {
        int r = fill_at_least(s, s->member_done ? 2 : 1, err);
        if (r < 0)
            return r;
        if (r == 0) {
            if (s->member_done)
                return 0;
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer: gzip stream truncated");
        }
        if (s->member_done) {
            /* Another member may follow (concatenated gzip, as eStargz layers are);
             * anything else ends the layer (its bytes are still hashed as part of the
             * blob). */
            const uint8_t *p = s->in + s->in_pos;
            if (s->in_len - s->in_pos >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
                isal_inflate_reset(s->gz);
                s->gz->crc_flag = ISAL_GZIP;
                s->member_done = 0;
            } else {
                return 0;
            }
        }
        s->gz->next_in = (uint8_t *)(s->in + s->in_pos);
        s->gz->avail_in = (uint32_t)(s->in_len - s->in_pos);
        s->gz->next_out = s->outbuf;
        s->gz->avail_out = CHUNK;
        int zr = isal_inflate(s->gz);
        s->in_pos = s->in_len - s->gz->avail_in;
        size_t produced = CHUNK - s->gz->avail_out;
        if (zr != ISAL_DECOMP_OK && zr != ISAL_END_INPUT)
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer: gzip: %s",
                          zr == ISAL_INCORRECT_CHECKSUM ? "CRC or length mismatch" : "corrupt data");
        /* At a member's end ISA-L gives back, through avail_in, the bytes its bit buffer
         * took past the trailer: in_pos is then the next member's first byte. */
        if (s->gz->block_state == ISAL_BLOCK_FINISH)
            s->member_done = 1;
        if (produced) {
            *out = s->outbuf;
            return (ssize_t)produced;
        }
    }
}

static ssize_t read_zstd(struct layer_stream *s, const void **out, struct bl_error *err)
{
    for (;;) {
        int r = fill(s, err);
        if (r < 0)
            return r;
        if (r == 0) {
            if (s->zs_last == 0)
                return 0;
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer: zstd stream truncated");
        }
        ZSTD_inBuffer ib = {s->in, s->in_len, s->in_pos};
        ZSTD_outBuffer ob = {s->outbuf, CHUNK, 0};
        size_t zr = ZSTD_decompressStream(s->zs, &ob, &ib);
        if (ZSTD_isError(zr))
            return bl_err(err, BOXLITE_ERR_IMAGE, "layer: zstd: %s", ZSTD_getErrorName(zr));
        s->zs_last = zr;
        s->in_pos = ib.pos;
        if (ob.pos) {
            *out = s->outbuf;
            return (ssize_t)ob.pos;
        }
    }
}

ssize_t layer_stream_read(struct layer_stream *s, const void **out, struct bl_error *err)
{
    if (s->ended)
        return 0;
    if (s->kind == K_UNKNOWN) {
        int r = detect(s, err);
        if (r < 0)
            return r;
    }
    ssize_t n;
    if (s->kind == K_GZIP) {
        n = read_gzip(s, out, err);
    } else if (s->kind == K_ZSTD) {
        n = read_zstd(s, out, err);
    } else {
        int r = fill(s, err);
        n = r;
        if (r > 0) {
            *out = s->in + s->in_pos;
            n = (ssize_t)(s->in_len - s->in_pos);
            s->in_pos = s->in_len;
        }
    }
    if (n > 0) {
        EVP_DigestUpdate(s->md_out, *out, (size_t)n);
        s->bytes_out += (uint64_t)n;
    } else if (n == 0) {
        s->ended = 1;
    }
    return n;
}

static void hex_digest(EVP_MD_CTX *md, char out[72])
{
    unsigned char d[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md, d, &len);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

int layer_stream_finish(struct layer_stream *s, const char *blob_digest, const char *diff_id,
                        struct bl_error *err)
{
    const void *p;
    ssize_t n;
    while ((n = layer_stream_read(s, &p, err)) > 0)
        ;
    if (n < 0)
        return (int)n;
    /* Bytes after the compressed stream's end still belong to the blob. */
    int r;
    while ((r = fill(s, err)) > 0)
        s->in_pos = s->in_len;
    if (r < 0)
        return r;
    char got_in[72], got_out[72];
    hex_digest(s->md_in, got_in);
    hex_digest(s->md_out, got_out);
    if (blob_digest && strcmp(blob_digest, got_in) != 0)
        return bl_err(err, BOXLITE_ERR_IMAGE, "layer %s does not match its digest (got %s)", blob_digest,
                      got_in);
    if (diff_id && strcmp(diff_id, got_out) != 0)
        return bl_err(err, BOXLITE_ERR_IMAGE,
                      "layer %s: its contents do not match the image config's DiffID %s (got %s)",
                      blob_digest ? blob_digest : "", diff_id, got_out);
    return 0;
}

void layer_stream_counts(const struct layer_stream *s, uint64_t *in, uint64_t *out)
{
    *in = s->src_off;
    *out = s->bytes_out;
}

void layer_stream_free(struct layer_stream *s)
{
    if (!s)
        return;
    free(s->gz);
    ZSTD_freeDStream(s->zs);
    EVP_MD_CTX_free(s->md_in);
    EVP_MD_CTX_free(s->md_out);
    free(s->rdbuf);
    free(s->outbuf);
    free(s);
}
