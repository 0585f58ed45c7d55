// SPDX-License-Identifier: Apache-2.0
/* 9P over a byte stream (a TCP or Unix socket, a pipe pair): messages framed by their own
 * size field. Not used by the VMM (virtio-9p frames messages itself); it lets the server be
 * driven by a real Linux 9P client over trans=tcp or trans=fd, in tests and for debugging. */
#include "vmm/fs/p9.h"

#include "common/io.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* 1: n bytes read; 0: end of file before the first; negative: an error or a cut message. */
static int read_msg(int fd, uint8_t *buf, size_t n)
{
    ssize_t r = io_read_full(fd, buf, n);
    return r < 0 ? (int)r : (size_t)r == n ? 1 : r == 0 ? 0 : -EPIPE;
}

int p9_serve_stream(struct p9_server *s, int rfd, int wfd)
{
    size_t cap = p9_server_max_msize(s);
    uint8_t *req = malloc(cap), *resp = malloc(cap);
    int rc = 0;
    if (!req || !resp) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        rc = read_msg(rfd, req, 4);
        if (rc <= 0)
            break;
        uint32_t size = (uint32_t)req[0] | (uint32_t)req[1] << 8 | (uint32_t)req[2] << 16 |
                        (uint32_t)req[3] << 24;
        if (size < P9_HDR_SIZE || size > cap) {
            rc = -EMSGSIZE; /* the stream cannot be resynchronised: drop the connection */
            break;
        }
        rc = read_msg(rfd, req + 4, size - 4);
        if (rc <= 0) {
            rc = rc == 0 ? -EPIPE : rc;
            break;
        }
        size_t n = p9_handle(s, req, size, resp, cap);
        if ((rc = io_write_all(wfd, resp, n)) < 0)
            break;
    }
out:
    free(req);
    free(resp);
    return rc;
}
