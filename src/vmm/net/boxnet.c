// SPDX-License-Identifier: Apache-2.0
/* From the per-box config to a running network stack (boxnet.h). */
#include "vmm/net/boxnet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* "2026-11-30T12:00:00Z boxlite-vmm: network: denied tcp 10.0.2.2 port 8080: ..." */
static void log_line(void *opaque, const char *line)
{
    (void)opaque;
    char when[32] = "";
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    fprintf(stderr, "%sboxlite-vmm: network: %s\n", when, line);
}

int boxnet_new(struct slirp_net **out, const struct vmm_config *cfg, uint16_t *host_ports,
               struct bl_error *err)
{
    *out = NULL;
    struct slirp_net_cfg ncfg = {
        .policy = { .allow = cfg->allow_net, .nallow = cfg->nallow_net,
                    .deny = cfg->deny_net, .ndeny = cfg->ndeny_net,
                    .host = cfg->allow_host, .nhost = cfg->nallow_host },
        .host_loopback = cfg->nallow_host > 0,
        .log = log_line,
    };
    /* The guest answers a UDP forward at the gateway address, which libslirp sends to the
     * host's loopback: it must be allowed to (the policy lets only those replies through). */
    uint16_t *udp_ports = calloc(cfg->nports ? cfg->nports : 1, sizeof *udp_ports);
    if (!udp_ports)
        return bl_errno(err, ENOMEM, "network");
    unsigned nudp = 0;
    for (unsigned i = 0; i < cfg->nports; i++)
        if (cfg->ports[i].udp)
            udp_ports[nudp++] = cfg->ports[i].guest_port;
    ncfg.host_loopback |= nudp > 0;
    ncfg.policy.udp_forwards = udp_ports;
    ncfg.policy.nudp_forwards = nudp;
    struct slirp_net *sn;
    int rc = slirp_net_new(&sn, &ncfg, err); /* the policy keeps its own copy */
    free(udp_ports);
    if (rc < 0)
        return bl_err_prefix(err, "network");
    for (unsigned i = 0; i < cfg->nports; i++) {
        const struct vmm_port_cfg *p = &cfg->ports[i];
        uint16_t bound = 0;
        if (slirp_net_add_fwd(sn, p->udp, p->host_addr, p->host_port, p->guest_port, &bound,
                              err) < 0) {
            slirp_net_free(sn);
            return bl_err_prefix(err, "network: forward %s:%u to guest port %u",
                                 p->host_addr ? p->host_addr : "127.0.0.1", p->host_port,
                                 p->guest_port);
        }
        if (host_ports)
            host_ports[i] = bound;
    }
    *out = sn;
    return 0;
}
