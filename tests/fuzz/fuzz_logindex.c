// component: runtime
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the library's log reader over a hostile time index (src/runtime/logs.c reading
 * common/logindex.h's format): the index lies in the box's folder, which the jailed
 * per-box process writes, so any bytes may be there. Input: one byte of flags (1: the
 * header names the log's real inode, 2: timestamps, 4: since, 8: until), two bytes of the
 * log's length, the log, then the index's bytes after its 16-byte header (or the whole
 * index when flag 1 is clear). The reader must give every byte of the log without times
 * asked for, and never crash, hang or read past what it was given. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > 65536)
        return 0;
    uint8_t flags = data[0];
    size_t loglen = (size_t)(data[1] | data[2] << 8);
    data += 3;
    size -= 3;
    if (loglen > size)
        loglen = size;
    uint64_t log_ino = log_dir_write("/tmp/fuzz-logindex-XXXXXX", data, loglen);
    size_t ilen = size - loglen;
    uint8_t *idx = malloc(ilen + LOGIDX_HDR_SIZE + 1);
    if (!idx)
        return 0;
    size_t n = 0;
    if (flags & 1) {
        logidx_header(idx, log_ino);
        n = LOGIDX_HDR_SIZE;
    }
    memcpy(idx + n, data + loglen, ilen);
    log_dir_put("console.log.idx", idx, n + ilen);
    free(idx);

    char opts[128];
    snprintf(opts, sizeof opts, "{\"timestamps\": %s%s%s}", flags & 2 ? "true" : "false",
             flags & 4 ? ", \"since\": 1000" : "", flags & 8 ? ", \"until\": 3000000000" : "");
    boxlite_log *l = NULL;
    if (rt_log_open_path(log_path, 2, opts, &l) != BOXLITE_OK)
        abort();
    size_t got = 0;
    char buf[37]; /* odd, smaller than a time stamp: every split is tried */
    long long r;
    while ((r = boxlite_log_read(l, buf, sizeof buf)) > 0)
        got += (size_t)r;
    if (r < 0)
        abort();
    boxlite_log_close(l);
    if (!(flags & 12) && got < loglen)
        abort(); /* without filters no byte of the log may be lost */
    return 0;
}
