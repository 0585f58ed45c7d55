// SPDX-License-Identifier: Apache-2.0
/* Numbers from the command line: whole numbers, sizes and durations, each checked for
 * overflow and range (refused, never wrapped: `--cpus 4294967297` is an error, not 1). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cli_parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* "<digits><unit>" with unit one of units[i].name scaling by units[i].mul; v * mul must
 * not overflow. */
struct unit { const char *name; long long mul; };

static int scaled(const char *s, const struct unit *units, long long *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno)
        return -1;
    for (const struct unit *u = units; u->name; u++) {
        if (strcasecmp(end, u->name) != 0)
            continue;
        if (v > LLONG_MAX / u->mul)
            return -1;
        *out = v * u->mul;
        return 0;
    }
    return -1;
}

long long cli_parse_mib(const char *s)
{
    static const struct unit units[] = {
        { "", 1 }, { "m", 1 }, { "mb", 1 }, { "mib", 1 },
        { "g", 1024 }, { "gb", 1024 }, { "gib", 1024 },
        { "t", 1024 * 1024 }, { "tb", 1024 * 1024 }, { "tib", 1024 * 1024 }, { NULL, 0 } };
    long long v;
    return scaled(s, units, &v) == 0 && v > 0 ? v : -1;
}

long long cli_parse_bytes(const char *s)
{
    static const struct unit units[] = {
        { "", 1 }, { "b", 1 }, { "k", 1024 }, { "kb", 1024 }, { "kib", 1024 },
        { "m", 1 << 20 }, { "mb", 1 << 20 }, { "mib", 1 << 20 },
        { "g", 1 << 30 }, { "gb", 1 << 30 }, { "gib", 1 << 30 }, { NULL, 0 } };
    long long v;
    return scaled(s, units, &v) == 0 && v > 0 ? v : -1;
}

long long cli_parse_duration_ms(const char *s)
{
    static const struct unit units[] = {
        { "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "m", 60000 }, { "h", 3600000 },
        { NULL, 0 } };
    long long v;
    return scaled(s, units, &v) == 0 ? v : -1;
}
