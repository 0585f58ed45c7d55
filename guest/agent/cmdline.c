// SPDX-License-Identifier: Apache-2.0
/* The boxlite.* words of the kernel command line (docs/protocol.md, "Guest configuration"):
 * the box's setup, available at boot without a round trip to the host. */
#include "agent.h"

#include "common/guest_abi.h"

#include <stdlib.h>
#include <string.h>

void agent_parse_cmdline(const char *cmdline, struct proto_setup *s, bool *ctl)
{
    char *line = strdup(cmdline ? cmdline : "");
    if (!line)
        return;
    char *save = NULL;
    for (char *w = strtok_r(line, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
        if (strncmp(w, GUEST_CMDLINE_PREFIX, strlen(GUEST_CMDLINE_PREFIX)) != 0)
            continue;
        char *key = w + strlen(GUEST_CMDLINE_PREFIX), *val = strchr(key, '=');
        if (!val)
            continue;
        *val++ = 0;
        char **str = NULL;
        if (!strcmp(key, GUEST_KEY_CTL))
            *ctl = !strcmp(val, "1");
        else if (!strcmp(key, GUEST_KEY_ROOT))
            str = &s->root_dev;
        else if (!strcmp(key, GUEST_KEY_FSTYPE))
            str = &s->root_fstype;
        else if (!strcmp(key, GUEST_KEY_HOSTNAME))
            str = &s->hostname;
        else if (!strcmp(key, GUEST_KEY_NET))
            s->net = s->net && strcmp(val, "0") != 0;
        else if (!strcmp(key, GUEST_KEY_IP))
            str = &s->net_addr;
        else if (!strcmp(key, GUEST_KEY_GW))
            str = &s->net_gw;
        else if (!strcmp(key, GUEST_KEY_DNS))
            str = &s->net_dns;
        else if (!strcmp(key, GUEST_KEY_MAC))
            str = &s->net_mac;
        else if (!strcmp(key, GUEST_KEY_MTU)) {
            char *end;
            unsigned long mtu = strtoul(val, &end, 10);
            if (*end || mtu < 68 || mtu > 65535) /* IPv4's minimum; the largest an ifreq takes */
                agent_log("ignoring malformed boxlite.mtu=%s", val);
            else
                s->net_mtu = (uint32_t)mtu;
        }
        else if (!strcmp(key, GUEST_KEY_VOL)) {
            /* TAG:/guest/path[:ro|:rw] */
            char *c1 = strchr(val, ':');
            if (!c1 || c1 == val || c1[1] != '/' || s->nvols >= 64) {
                agent_log("ignoring malformed boxlite.vol=%s", val);
                continue;
            }
            *c1 = 0;
            char *path = c1 + 1, *c2 = strrchr(path, ':');
            bool ro = false;
            if (c2 && (!strcmp(c2, ":ro") || !strcmp(c2, ":rw"))) {
                ro = !strcmp(c2, ":ro");
                *c2 = 0;
            }
            struct proto_volume *v = realloc(s->vols, (s->nvols + 1) * sizeof *v);
            if (!v)
                continue;
            s->vols = v;
            s->vols[s->nvols] = (struct proto_volume){strdup(val), strdup(path), ro};
            if (s->vols[s->nvols].tag && s->vols[s->nvols].path)
                s->nvols++;
        }
        else if (!strcmp(key, GUEST_KEY_DISK)) {
            /* DEV:/guest/path[:ro|:rw][:FSTYPE], DEV a path or serial:NAME */
            bool by_serial = !strncmp(val, "serial:", 7);
            char *c1 = strchr(by_serial ? val + 7 : val, ':');
            if ((val[0] != '/' && !by_serial) || !c1 || c1 == val + 7 || c1[1] != '/' ||
                s->ndisks >= 64) {
                agent_log("ignoring malformed boxlite.disk=%s", val);
                continue;
            }
            *c1 = 0;
            char *path = c1 + 1, *opt = strchr(path, ':'), *fstype = "";
            bool ro = false;
            while (opt) {
                *opt++ = 0;
                char *next = strchr(opt, ':');
                if (next)
                    *next = 0;
                if (!strcmp(opt, "ro") || !strcmp(opt, "rw"))
                    ro = !strcmp(opt, "ro");
                else
                    fstype = opt;
                opt = next;
            }
            struct proto_disk *d = realloc(s->disks, (s->ndisks + 1) * sizeof *d);
            if (!d)
                continue;
            s->disks = d;
            d = &s->disks[s->ndisks];
            *d = (struct proto_disk){strdup(val), strdup(fstype), strdup(path), ro};
            if (d->dev && d->fstype && d->path)
                s->ndisks++;
            else {
                free(d->dev);
                free(d->fstype);
                free(d->path);
            }
        }
        if (str) {
            free(*str);
            *str = strdup(val);
        }
    }
    free(line);
}
