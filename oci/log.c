// SPDX-License-Identifier: Apache-2.0
/* boxlite-runtime's errors and debug lines: stderr, and the --log file (JSON lines with
 * --log-format json, the form containerd and Docker parse). */
#include "runtime.h"


#include <stdarg.h>
#include <stdio.h>

/* ---- errors: stderr, and the --log file (JSON lines with --log-format json) -------------*/

static void log_line(const char *level, const char *msg)
{
    if (!opts.log)
        return;
    FILE *f = fopen(opts.log, "ae");
    if (!f)
        return;
    char when[64];
    oci_now_rfc3339(when, sizeof when);
    if (opts.log_json) {
        fprintf(f, "{\"level\":\"%s\",\"msg\":\"", level);
        for (const char *p = msg; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '"' || c == '\\')
                fprintf(f, "\\%c", c);
            else if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
        fprintf(f, "\",\"time\":\"%s\"}\n", when);
    } else {
        fprintf(f, "time=\"%s\" level=%s msg=\"%s\"\n", when, level, msg);
    }
    fclose(f);
}

/* One message at a level: into --log, and on stderr with prefix (NULL: the log only). */
static void say(const char *level, const char *prefix, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (prefix)
        fprintf(stderr, "boxlite-runtime: %s%s\n", prefix, msg);
    log_line(level, msg);
}

int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("error", "", fmt, ap);
    va_end(ap);
    return 1;
}

void debug(const char *fmt, ...)
{
    if (!opts.debug)
        return;
    va_list ap;
    va_start(ap, fmt);
    say("debug", NULL, fmt, ap);
    va_end(ap);
}

void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("warning", "warning: ", fmt, ap);
    va_end(ap);
}
