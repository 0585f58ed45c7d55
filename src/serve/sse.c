// SPDX-License-Identifier: Apache-2.0
/* Server-sent events: the stream's response, a reconnect's Last-Event-ID, and the one event
 * a polling reader (a log follower, a pull's progress) has on its way out. libmicrohttpd
 * asks a stream's reader for at most `max` bytes at a time, so an event goes out over as
 * many calls as it takes; a quiet stream sends a comment now and then so that a client that
 * went away is noticed (the write fails) and proxies keep the connection. */
#include "serve/server.h"

#include "common/clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum MHD_Result reply_events(struct MHD_Connection *c, struct req *q,
                             MHD_ContentReaderCallback read, void *cls,
                             MHD_ContentReaderFreeCallback done)
{
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, read,
                                                               cls, done);
    if (!r) {
        done(cls);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* a proxy passes each event on */
    return reply_response(c, q, 200, r);
}

int serve_last_event_id(struct MHD_Connection *c, uint64_t *id)
{
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (!last)
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(last, &end, 10);
    if (!isdigit((unsigned char)*last) || *end || errno || v >= UINT64_MAX - 1)
        return -1;
    *id = v;
    return 1;
}

void sse_out_init(struct sse_out *o)
{
    *o = (struct sse_out){ .quiet_since = mono_ms() };
}

int sse_out_event(struct sse_out *o, const char *id, const char *name, json_t *data)
{
    free(o->ev);
    o->ev = NULL;
    o->off = o->len = 0;
    char *js = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    int len = !js ? -1
              : id ? asprintf(&o->ev, "id: %s\nevent: %s\ndata: %s\n\n", id, name, js)
                   : asprintf(&o->ev, "event: %s\ndata: %s\n\n", name, js);
    free(js);
    if (len < 0) {
        o->ev = NULL;
        return -1;
    }
    o->len = (size_t)len;
    o->quiet_since = mono_ms();
    return 0;
}

size_t sse_out_copy(struct sse_out *o, char *out, size_t max)
{
    if (o->off >= o->len)
        return 0; /* nothing pending (no event yet: ev is NULL, not a source for memcpy) */
    size_t n = o->len - o->off < max ? o->len - o->off : max;
    memcpy(out, o->ev + o->off, n);
    o->off += n;
    return n;
}

size_t sse_keepalive(char *out, size_t max)
{
    static const char keepalive[] = ": keepalive\n\n";
    if (max < sizeof keepalive - 1)
        return 0;
    memcpy(out, keepalive, sizeof keepalive - 1);
    return sizeof keepalive - 1;
}

size_t sse_out_keepalive(struct sse_out *o, char *out, size_t max)
{
    uint64_t now = mono_ms();
    if (now - o->quiet_since < SSE_KEEPALIVE_MS)
        return 0;
    size_t n = sse_keepalive(out, max);
    if (n)
        o->quiet_since = now;
    return n;
}

void sse_out_free(struct sse_out *o)
{
    free(o->ev);
    o->ev = NULL;
}
