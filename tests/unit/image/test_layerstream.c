// SPDX-License-Identifier: Apache-2.0
/* The layer stream (src/image/layerstream.c): gzip in one member or several (pigz, eStargz
 * layers are concatenated members), followed by padding, corrupt or cut short; read from
 * memory, from a file, and from a file that grows as a download would, a few bytes at a
 * time, so that member ends fall at every place in the reads. */
#include "harness/harness.h"
#include "image/layerstream.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static unsigned char *pattern(size_t n, unsigned seed, int text)
{
    unsigned char *p = malloc(n);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = text ? (unsigned char)("abcdefgh  \n"[x % 11]) : (unsigned char)x;
    }
    return p;
}

/* One gzip member of data, appended to *out. */
static void gzip_append(unsigned char **out, size_t *len, const unsigned char *data, size_t n)
{
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, n) + 64;
    *out = realloc(*out, *len + cap);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)n;
    z.next_out = *out + *len;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    *len += cap - z.avail_out;
    deflateEnd(&z);
}

static void sha256_of(const void *p, size_t n, char out[72])
{
    unsigned char d[32];
    unsigned int l;
    EVP_Digest(p, n, d, &l, EVP_sha256(), NULL);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

/* A file that grows as a download: each wait appends `step` more bytes. */
struct grower {
    int fd;
    const unsigned char *data;
    size_t len, written, step;
};

static int grow_wait(void *ud, uint64_t have, uint64_t *avail, int *complete, struct bl_error *err)
{
    struct grower *g = ud;
    (void)have;
    (void)err;
    size_t n = g->len - g->written < g->step ? g->len - g->written : g->step;
    if (n && pwrite(g->fd, g->data + g->written, n, (off_t)g->written) != (ssize_t)n)
        return -1;
    g->written += n;
    *avail = g->written;
    *complete = g->written == g->len;
    return 0;
}

enum src { MEM, FILE_WHOLE, FILE_GROWING };

/* Reads the stream from src; returns what it gave (malloc'd) and finish's result. */
static unsigned char *read_all(enum src how, const unsigned char *blob, size_t blen, size_t step, size_t *out_len,
                               const char *blob_digest, const char *diff_id, int *result, struct bl_error *e)
{
    struct layer_stream *s = NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/blob", harness_tmpdir());
    int fd = -1;
    struct grower g = {.data = blob, .len = blen, .step = step};
    if (how == MEM) {
        *result = layer_stream_open_mem(&s, blob, blen, e);
    } else {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        g.fd = fd;
        if (how == FILE_WHOLE && write(fd, blob, blen) != (ssize_t)blen)
            abort();
        *result = layer_stream_open_fd(&s, fd, how == FILE_GROWING ? grow_wait : NULL, &g, e);
    }
    unsigned char *got = NULL;
    size_t n = 0;
    const void *p;
    ssize_t k;
    while (*result == 0 && (k = layer_stream_read(s, &p, e)) != 0) {
        if (k < 0) {
            *result = (int)k;
            break;
        }
        got = realloc(got, n + (size_t)k);
        memcpy(got + n, p, (size_t)k);
        n += (size_t)k;
    }
    if (*result == 0)
        *result = layer_stream_finish(s, blob_digest, diff_id, e);
    layer_stream_free(s);
    if (fd >= 0)
        close(fd);
    *out_len = n;
    return got;
}

/* Every source, and growing files with steps that put the member ends everywhere. */
static void expect_reads(const unsigned char *blob, size_t blen, const unsigned char *want, size_t wlen)
{
    char bd[72], di[72];
    sha256_of(blob, blen, bd);
    sha256_of(want, wlen, di);
    static const size_t steps[] = {0, 0, 1, 7, 4093, 65536, 1000003};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        enum src how = i == 0 ? MEM : i == 1 ? FILE_WHOLE : FILE_GROWING;
        struct bl_error e = {0};
        size_t n;
        int r;
        if (how == FILE_GROWING && steps[i] * 20000 < blen)
            continue; /* a byte at a time through megabytes: too slow for what it adds */
        unsigned char *got = read_all(how, blob, blen, steps[i], &n, bd, di, &r, &e);
        if (r != 0 || n != wlen || memcmp(got, want, wlen) != 0)
            harness_fail(__FILE__, __LINE__, "source %d step %zu: result %d (%s), %zu of %zu bytes", (int)how, steps[i], r,
                         e.msg, n, wlen);
        free(got);
    }
}

TEST(one_gzip_member)
{
    size_t n = 100000;
    unsigned char *d = pattern(n, 1, 1), *blob = NULL;
    size_t blen = 0;
    gzip_append(&blob, &blen, d, n);
    expect_reads(blob, blen, d, n);
    free(d);
    free(blob);
}

/* Members of every size, one of them empty, one larger than a read, then zero padding
 * (which ends the layer and still counts in the blob's digest). */
TEST_TIMEOUT(concatenated_members_and_padding, 120)
{
    static const size_t sizes[] = {5000, 0, 1, 2500000, 70000, 3};
    /* and a small stream that the byte-at-a-time reads go through */
    static const size_t small[] = {300, 0, 1, 4000, 3};
    unsigned char *blob = NULL, *want = NULL;
    size_t blen = 0, wlen = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *d = pattern(sizes[i], (unsigned)i + 2, i != 3);
        gzip_append(&blob, &blen, d, sizes[i]);
        want = realloc(want, wlen + sizes[i] + 1);
        memcpy(want + wlen, d, sizes[i]);
        wlen += sizes[i];
        free(d);
    }
    expect_reads(blob, blen, want, wlen);
    blob = realloc(blob, blen + 1024);
    memset(blob + blen, 0, 1024);
    expect_reads(blob, blen + 1024, want, wlen);
    free(blob);
    free(want);
    blob = want = NULL;
    blen = wlen = 0;
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        unsigned char *d = pattern(small[i], (unsigned)i + 20, 1);
        gzip_append(&blob, &blen, d, small[i]);
        want = realloc(want, wlen + small[i] + 1);
        memcpy(want + wlen, d, small[i]);
        wlen += small[i];
        free(d);
    }
    expect_reads(blob, blen, want, wlen);
    free(blob);
    free(want);
}

TEST(corrupt_and_cut_gzip_are_errors)
{
    size_t n = 200000;
    unsigned char *d = pattern(n, 9, 1), *blob = NULL;
    size_t blen = 0;
    gzip_append(&blob, &blen, d, n);
    struct bl_error e = {0};
    size_t got_n;
    int r;
    /* Cut short, in the data and in the trailer. */
    free(read_all(MEM, blob, blen / 2, 0, &got_n, NULL, NULL, &r, &e));
    CHECK(r < 0);
    CHECK(strstr(e.msg, "truncated") != NULL);
    free(read_all(FILE_GROWING, blob, blen - 3, 4093, &got_n, NULL, NULL, &r, &e));
    CHECK(r < 0);
    /* A flipped bit in the deflate data or in the trailer's CRC. */
    blob[blen / 2] ^= 0x10;
    free(read_all(MEM, blob, blen, 0, &got_n, NULL, NULL, &r, &e));
    CHECK(r < 0);
    CHECK_EQ(e.code, BOXLITE_ERR_IMAGE);
    blob[blen / 2] ^= 0x10;
    blob[blen - 6] ^= 0x01;
    free(read_all(FILE_WHOLE, blob, blen, 0, &got_n, NULL, NULL, &r, &e));
    CHECK(r < 0);
    CHECK_EQ(e.code, BOXLITE_ERR_IMAGE);
    blob[blen - 6] ^= 0x01;
    /* Sound again: the digests are checked. */
    char bd[72], di[72];
    sha256_of(blob, blen, bd);
    sha256_of(d, n, di);
    free(read_all(MEM, blob, blen, 0, &got_n, bd, di, &r, &e));
    CHECK_EQ(r, 0);
    di[10] = di[10] == 'a' ? 'b' : 'a';
    free(read_all(MEM, blob, blen, 0, &got_n, bd, di, &r, &e));
    CHECK(r < 0);
    CHECK(strstr(e.msg, "DiffID") != NULL);
    free(d);
    free(blob);
}
