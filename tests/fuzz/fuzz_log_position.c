// component: runtime
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes log positions (boxlite_log_position and the "from" option of src/runtime/logs.c):
 * a remote client hands a position back as Last-Event-ID (src/serve/logs.c), so any bytes
 * may come, and a position must resume exactly. Input: one byte of flags (2: timestamps,
 * 4: since, 8: until), one byte k, two bytes of the log's length, the log, then a token.
 * Checks:
 *   - reading k bytes (in odd-sized pieces, so a time stamp is cut too), taking the
 *     position, and reading the rest from a reader opened there gives exactly the bytes of
 *     one whole read;
 *   - the token (an "I" in it stands for the log's inode, so the search reaches the file)
 *     as "from" is refused as invalid or read to the end: never a crash or a hang.
 * The log has an index with one record per line, so the timed paths run. */
#include "boxlite.h"
#include "common/logindex.h"
#include "runtime/runtime.h"
#include "log_dir.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Everything a reader gives from now, appended to *out (malloc'd). */
static size_t read_all(boxlite_log *l, char **out, size_t have, size_t cap_piece)
{
    char buf[64];
    long long r;
    while ((r = boxlite_log_read(l, buf, cap_piece < sizeof buf ? cap_piece : sizeof buf)) > 0) {
        char *p = realloc(*out, have + (size_t)r);
        if (!p)
            abort();
        memcpy(p + have, buf, (size_t)r);
        *out = p;
        have += (size_t)r;
    }
    if (r < 0)
        abort();
    return have;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 32768)
        return 0;
    uint8_t flags = data[0];
    size_t k = data[1];
    size_t loglen = (size_t)(data[2] | data[3] << 8);
    data += 4;
    size -= 4;
    if (loglen > size)
        loglen = size;
    uint64_t log_ino = log_dir_write("/tmp/fuzz-logpos-XXXXXX", data, loglen);
    /* one record per line, a second apart: since/until cut through the log */
    uint8_t *idx = malloc(LOGIDX_HDR_SIZE + (loglen + 1) * LOGIDX_REC_SIZE);
    if (!idx)
        abort();
    logidx_header(idx, log_ino);
    size_t n = LOGIDX_HDR_SIZE;
    for (size_t off = 0, line = 0; off < loglen; line++) {
        logidx_record(idx + n, off, (int64_t)(1000 + line) * 1000000000LL);
        n += LOGIDX_REC_SIZE;
        const void *nl = memchr(data + off, '\n', loglen - off);
        off = nl ? (size_t)((const uint8_t *)nl - data) + 1 : loglen;
    }
    log_dir_put("console.log.idx", idx, n);
    free(idx);

    char opts[128];
    snprintf(opts, sizeof opts, "{\"timestamps\": %s%s%s}", flags & 2 ? "true" : "false",
             flags & 4 ? ", \"since\": 1002" : "", flags & 8 ? ", \"until\": 1005" : "");
    boxlite_log *l = NULL;
    char *whole = NULL, *parts = NULL;
    if (rt_log_open_path(log_path, 2, opts, &l) != BOXLITE_OK)
        abort();
    size_t wn = read_all(l, &whole, 0, 64);
    boxlite_log_close(l);

    /* k bytes, then the rest from the position */
    if (rt_log_open_path(log_path, 2, opts, &l) != BOXLITE_OK)
        abort();
    size_t pn = 0;
    char buf[7];
    while (pn < k) {
        long long r = boxlite_log_read(l, buf, k - pn < sizeof buf ? k - pn : sizeof buf);
        if (r < 0)
            abort();
        if (r == 0)
            break;
        char *p = realloc(parts, pn + (size_t)r);
        if (!p)
            abort();
        memcpy(p + pn, buf, (size_t)r);
        parts = p;
        pn += (size_t)r;
    }
    char at[BOXLITE_LOG_POSITION_MAX], o2[256];
    if (boxlite_log_position(l, at, sizeof at) != BOXLITE_OK)
        abort();
    boxlite_log_close(l);
    snprintf(o2, sizeof o2, "{\"timestamps\": %s, \"from\": \"%s\"}", flags & 2 ? "true" : "false",
             at);
    if (rt_log_open_path(log_path, 2, o2, &l) != BOXLITE_OK)
        abort();
    pn = read_all(l, &parts, pn, 5);
    boxlite_log_close(l);
    if (pn != wn || (wn && memcmp(parts, whole, wn)))
        abort(); /* a resume lost or repeated bytes */
    free(whole);
    free(parts);

    /* a hostile token */
    size_t tl = size - loglen;
    char tok[128], ino[24];
    snprintf(ino, sizeof ino, "%llu", (unsigned long long)log_ino);
    size_t t = 0;
    for (size_t i = 0; i < tl && t + sizeof ino < sizeof tok; i++) {
        char c = (char)data[loglen + i];
        if (c == 'I') {
            memcpy(tok + t, ino, strlen(ino));
            t += strlen(ino);
        } else if (c >= '0' && c <= '9') {
            tok[t++] = c; /* JSON-safe: digits and dots only reach the parser's depths */
        } else {
            tok[t++] = '.';
        }
    }
    tok[t] = 0;
    snprintf(o2, sizeof o2, "{\"timestamps\": %s, \"from\": \"%s\"}", flags & 2 ? "true" : "false",
             tok);
    if (rt_log_open_path(log_path, 2, o2, &l) == BOXLITE_OK) {
        char *rest = NULL;
        read_all(l, &rest, 0, 64);
        free(rest);
        boxlite_log_close(l);
    }
    return 0;
}
