/* What the engine reads back about QEMU's user-mode network: the host-forward table of
 * "info usernet" (libslirp's slirp_connection_info), and packet counts from the pcap
 * streams of QEMU's filter-dump (pcap: a 24-byte file header, then per packet a 16-byte
 * record header and the captured bytes, in the writer's byte order). */
#include "vmm/qemu/qemu.h"

#include "common/cleanup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || v < 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int qemu_usernet_parse(const char *text, struct usernet_fwd *out, unsigned max, unsigned *n,
                       struct bl_error *err)
{
    *n = 0;
    const char *line = text;
    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[512];
        if (len < sizeof buf) {
            memcpy(buf, line, len);
            buf[len] = 0;
            char proto[32], addr[64], dst[64], srcport[16], dstport[16];
            int fd;
            /* "  TCP[HOST_FORWARD]  8  127.0.0.1 41463  10.0.2.15  80  0  0" */
            if (sscanf(buf, " %31s %d %63s %15s %63s %15s", proto, &fd, addr, srcport, dst,
                       dstport) == 6 &&
                (strcmp(proto, "TCP[HOST_FORWARD]") == 0 ||
                 strcmp(proto, "UDP[HOST_FORWARD]") == 0)) {
                struct usernet_fwd f = {.udp = proto[0] == 'U'};
                if (parse_port(srcport, &f.host_port) < 0 || parse_port(dstport, &f.guest_port) < 0)
                    return bl_err(err, BOXLITE_ERR_PROTOCOL, "info usernet: bad port in \"%s\"",
                                  buf);
                snprintf(f.host_addr, sizeof f.host_addr, "%s",
                         strcmp(addr, "*") == 0 ? "0.0.0.0" : addr);
                if (*n >= max)
                    return bl_err(err, BOXLITE_ERR_PROTOCOL, "info usernet: more than %u forwards",
                                  max);
                out[(*n)++] = f;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return 0;
}

int qemu_ports_resolve(const struct vmm_config *cfg, const struct usernet_fwd *fwd,
                       unsigned nfwd, uint16_t *chosen, struct bl_error *err)
{
    bool used[256] = {0};
    if (nfwd > ARRAY_SIZE(used))
        nfwd = ARRAY_SIZE(used);
    /* Fixed ports first, so a port-0 entry cannot claim another entry's line. */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < cfg->nports; i++) {
            const struct vmm_port_cfg *p = &cfg->ports[i];
            if ((pass == 0) != (p->host_port != 0))
                continue;
            unsigned j;
            for (j = 0; j < nfwd; j++) {
                if (used[j] || fwd[j].udp != p->udp || fwd[j].guest_port != p->guest_port)
                    continue;
                if (p->host_port && fwd[j].host_port != p->host_port)
                    continue;
                break;
            }
            if (j == nfwd)
                return bl_err(err, BOXLITE_ERR_ENGINE,
                              "port %u (%s guest port %u): QEMU did not set up the forward", i,
                              p->udp ? "udp" : "tcp", p->guest_port);
            used[j] = true;
            chosen[i] = fwd[j].host_port;
        }
    }
    return 0;
}

/* ---- pcap ---------------------------------------------------------------------------- */

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v; /* filter-dump writes in the host's order, and so do we read */
}
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* TCP SYN without ACK in an Ethernet frame's first bytes (IPv4 or IPv6, no extension
 * headers: a connection opening is what we count, nothing needs to be exact beyond that). */
static bool is_tcp_syn(const uint8_t *f, size_t n)
{
    if (n < 14)
        return false;
    uint16_t type = be16(f + 12);
    const uint8_t *tcp;
    size_t left;
    if (type == 0x0800) {
        if (n < 14 + 20 || (f[14] >> 4) != 4 || f[14 + 9] != 6)
            return false;
        size_t ihl = (size_t)(f[14] & 0xf) * 4;
        if (ihl < 20 || n < 14 + ihl)
            return false;
        tcp = f + 14 + ihl;
        left = n - 14 - ihl;
    } else if (type == 0x86dd) {
        if (n < 14 + 40 || (f[14] >> 4) != 6 || f[14 + 6] != 6)
            return false;
        tcp = f + 14 + 40;
        left = n - 14 - 40;
    } else {
        return false;
    }
    if (left < 14)
        return false;
    uint8_t flags = tcp[13];
    return (flags & 0x02) && !(flags & 0x10);
}

void netcount_feed(struct netcount *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0 && !c->broken) {
        size_t want;
        if (!c->header_done)
            want = 24;
        else if (c->have < 16)
            want = 16;
        else
            want = 16 + rd32(c->hold + 8);
        size_t take = want - c->have < len ? want - c->have : len;
        memcpy(c->hold + c->have, p, take);
        c->have += take;
        p += take;
        len -= take;
        if (c->have < want)
            continue;
        if (!c->header_done) {
            /* magic 0xa1b2c3d4 (microseconds), linktype 1 = Ethernet */
            if (rd32(c->hold) != 0xa1b2c3d4 || rd32(c->hold + 20) != 1) {
                c->broken = true;
                return;
            }
            c->header_done = true;
            c->have = 0;
        } else if (want == 16 && rd32(c->hold + 8) > 0) {
            uint32_t caplen = rd32(c->hold + 8), orig = rd32(c->hold + 12);
            if (caplen > NETCOUNT_SNAPLEN || caplen > orig) {
                c->broken = true;
                return;
            }
        } else {
            c->bytes += rd32(c->hold + 12);
            c->packets++;
            if (is_tcp_syn(c->hold + 16, c->have - 16))
                c->tcp_syns++;
            c->have = 0;
        }
    }
}
