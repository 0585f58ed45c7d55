// SPDX-License-Identifier: Apache-2.0
/* Free page reporting's order (Linux mm/page_reporting.c): the smallest free chunk, 2^order
 * pages, that the guest reports to the host's balloon (virtio 1.2 §5.5.6.7). The engines ask
 * for one on the kernel command line (GUEST_REPORTING_ORDER_PARAM). Linux 6.1's
 * page_reporting_register() overwrites the parameter with the pageblock order (10 in our
 * kernel: 4 MiB) when the balloon driver registers, before /init runs, so the command line
 * alone changes nothing there; the agent writes the command line's value back through the
 * parameter's sysfs file (mode 0644), where it takes effect from the next report on. On a
 * kernel that keeps the command line's value this writes the same value again. */
#include "agent.h"

#include "common/guest_abi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The largest order Linux keeps free lists for is MAX_ORDER - 1 (10 on x86_64 and arm64 with
 * 4 KiB pages); a larger value would switch reporting off altogether. */
#define REPORTING_ORDER_MAX 10

int agent_reporting_order_parse(const char *cmdline)
{
    static const char key[] = GUEST_REPORTING_ORDER_PARAM "=";
    const size_t klen = sizeof key - 1;
    int order = -1;
    /* the last word wins, as with the kernel's own parsing of repeated parameters */
    for (const char *p = cmdline; p && *p;) {
        p += strspn(p, " \t\n");
        size_t wlen = strcspn(p, " \t\n");
        if (wlen > klen && wlen <= klen + 2 && !memcmp(p, key, klen)) {
            int v = 0;
            bool digits = true;
            for (size_t i = klen; i < wlen; i++) {
                if (p[i] < '0' || p[i] > '9')
                    digits = false;
                else
                    v = v * 10 + (p[i] - '0');
            }
            order = digits && v <= REPORTING_ORDER_MAX ? v : -1;
        }
        p += wlen;
    }
    return order;
}

int agent_reporting_order_apply(const char *cmdline, const char *param_path)
{
    int order = agent_reporting_order_parse(cmdline);
    if (order < 0)
        return -1; /* not asked for (or not a valid order): the kernel's choice stays */
    int fd = open(param_path, O_WRONLY | O_TRUNC | O_CLOEXEC); /* as a shell's ">" */
    if (fd < 0) {
        /* a kernel without CONFIG_PAGE_REPORTING (or no balloon): nothing to set */
        agent_log("page reporting order %d: open %s: %s", order, param_path, strerror(errno));
        return -2;
    }
    char b[8];
    int n = snprintf(b, sizeof b, "%d\n", order);
    ssize_t w = write(fd, b, (size_t)n);
    int e = errno;
    close(fd);
    if (w != n) {
        agent_log("page reporting order %d: write %s: %s", order, param_path,
                  w < 0 ? strerror(e) : "short write");
        return -2;
    }
    return order;
}
