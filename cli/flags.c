// SPDX-License-Identifier: Apache-2.0
/* Box flags shared by `run` and `create`, docker's spelling. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -v HOST:GUEST[:ro|:rw] */
static int add_volume(boxlite_options *o, const char *spec)
{
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", spec);
    char *guest = strchr(buf, ':');
    if (!guest)
        return cli_usage_error("-v %s: expected HOST:GUEST[:ro]", spec);
    *guest++ = 0;
    int ro = 0;
    char *mode = strchr(guest, ':');
    if (mode) {
        *mode++ = 0;
        if (!strcmp(mode, "ro"))
            ro = 1;
        else if (strcmp(mode, "rw"))
            return cli_usage_error("-v %s: mode must be ro or rw", spec);
    }
    char *host = realpath(buf, NULL);
    if (!host)
        return cli_usage_error("-v %s: host path %s does not exist", spec, buf);
    int r = boxlite_options_add_volume(o, host, guest, ro);
    free(host);
    return r == BOXLITE_OK ? 0 : cli_fail("-v");
}

/* "80" or "8000-8010" -> lo..hi; -1 if malformed. */
static int port_range(const char *s, long long min, long long *lo, long long *hi)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%s", s);
    char *dash = strchr(buf, '-');
    if (dash)
        *dash = 0;
    if (cli_parse_ll(buf, min, 65535, lo))
        return -1;
    if (!dash) {
        *hi = *lo;
        return 0;
    }
    return cli_parse_ll(dash + 1, min, 65535, hi) || *hi < *lo ? -1 : 0;
}

/* -p [IP:][HOST:]GUEST[/tcp|/udp], Docker's forms: HOST and GUEST may be ranges of the same
 * length (8000-8010:80-90), IP an IPv4 address or [IPv6]; HOST empty or absent = any free
 * port (IP:: GUEST). */
static int add_port(boxlite_options *o, const char *spec)
{
    const char *usage = "expected [IP:][HOST:]GUEST[/tcp|/udp], ports or ranges (8000-8010:80-90)";
    char buf[256];
    if (strlen(spec) >= sizeof buf)
        return cli_usage_error("-p %.64s...: too long", spec);
    snprintf(buf, sizeof buf, "%s", spec);
    const char *proto = "tcp";
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = 0;
        proto = slash + 1;
        if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
            return cli_usage_error("-p %s: the protocol is tcp or udp", spec);
    }
    char *addr = NULL, *rest = buf;
    if (buf[0] == '[') { /* [IPv6]:... */
        char *close = strchr(buf, ']');
        if (!close || close[1] != ':')
            return cli_usage_error("-p %s: %s", spec, usage);
        *close = 0;
        addr = buf + 1;
        rest = close + 2;
    }
    char *parts[3];
    int n = 0;
    for (char *p = rest;; ) {
        if (n == 3)
            return cli_usage_error("-p %s: %s", spec, usage);
        parts[n++] = p;
        char *colon = strchr(p, ':');
        if (!colon)
            break;
        *colon = 0;
        p = colon + 1;
    }
    if (addr && n == 3)
        return cli_usage_error("-p %s: %s", spec, usage);
    if (!addr && n == 3)
        addr = parts[0];
    /* Docker's -p 80 (any host port) is refused: say the host port (0 for any free one) */
    if (n == 1)
        return cli_usage_error("-p %s: expected [IP:]HOST:GUEST (HOST 0 for any free port)", spec);
    const char *host = parts[n - 2], *guest = parts[n - 1];
    long long hlo, hhi, glo, ghi;
    if (!*host)
        host = "0";
    if (port_range(host, 0, &hlo, &hhi) || port_range(guest, 1, &glo, &ghi))
        return cli_usage_error("-p %s: ports must be numbers 0-65535 (host) and 1-65535 (box), "
                               "or ranges", spec);
    if (hhi - hlo != ghi - glo && !(hlo == 0 && hhi == 0))
        return cli_usage_error("-p %s: the host and box ranges differ in length", spec);
    if (addr && !*addr)
        addr = NULL;
    for (long long g = glo; g <= ghi; g++) {
        long long h = hlo == 0 && hhi == 0 ? 0 : hlo + (g - glo);
        if (boxlite_options_add_port(o, (int)h, (int)g, proto, addr) != BOXLITE_OK)
            return cli_fail("-p");
    }
    return 0;
}

/* --env-file FILE: KEY=VALUE lines, Docker's format: # comments and empty lines skipped, a
 * KEY alone takes our value (skipped if we have none), nothing unquoted or expanded. */
static int env_file(boxlite_options *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_usage_error("--env-file %s: %s", path, strerror(errno));
    char line[65536];
    int no = 0, r = 0;
    while (!r && fgets(line, sizeof line, f)) {
        no++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            r = cli_usage_error("--env-file %s:%d: line too long", path, no);
            break;
        }
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (eq)
            *eq = 0;
        if (!*p || strpbrk(p, " \t")) {
            r = cli_usage_error("--env-file %s:%d: \"%s\" is not a variable name", path, no, p);
            break;
        }
        const char *v = eq ? eq + 1 : getenv(p);
        if (v && boxlite_options_set_env(o, p, v) != BOXLITE_OK) {
            fprintf(stderr, "boxlite: --env-file %s:%d: %s\n", path, no, boxlite_errmsg());
            r = 125;
        }
    }
    if (!r && ferror(f))
        r = cli_usage_error("--env-file %s: read error", path);
    fclose(f);
    return r;
}

/* --allow-host PORT[/tcp|/udp] */
static int add_allow_host(boxlite_options *o, const char *spec)
{
    char *end;
    long port = strtol(spec, &end, 10);
    const char *proto = "tcp";
    if (*end == '/')
        proto = end + 1;
    else if (*end)
        return cli_usage_error("--allow-host %s: expected PORT or PORT/udp", spec);
    if (end == spec || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
        return cli_usage_error("--allow-host %s: expected PORT or PORT/udp", spec);
    return boxlite_options_add_allow_host(o, port < 0 || port > 65535 ? 0 : (int)port, proto) ==
                   BOXLITE_OK
               ? 0 : cli_fail("--allow-host");
}

/* --log-opt max-size=1m | max-file=3 (Docker's json-file names). */
static int log_opt(boxlite_options *o, const char *spec, long long *max_bytes, long long *files)
{
    const char *eq = strchr(spec, '=');
    long long v = -1;
    if (eq && !strncmp(spec, "max-size=", 9))
        v = cli_parse_bytes(eq + 1), *max_bytes = v;
    else if (eq && !strncmp(spec, "max-file=", 9) && cli_parse_ll(eq + 1, 1, 100, &v) == 0)
        *files = v;
    else
        return cli_usage_error("--log-opt %s: expected max-size=SIZE or max-file=N", spec);
    if (v <= 0)
        return cli_usage_error("--log-opt %s: bad value", spec);
    return boxlite_options_set_log_rotation(o, *max_bytes, (int)*files) == BOXLITE_OK
               ? 0 : cli_fail("--log-opt");
}

/* The --health-* flags are gathered, then set together (a shell command: CMD-SHELL). */
struct health_flags {
    const char *cmd;
    bool none, any;
    long long interval, timeout, retries, start;
};

static int health_duration(const char *flag, const char *v, long long *out)
{
    *out = cli_parse_duration_ms(v);
    if (*out < 0)
        return cli_usage_error("%s %s: expected a duration such as 30s, 500ms, 2m", flag, v);
    return 0;
}

static int health_apply(boxlite_options *o, const struct health_flags *h)
{
    if (!h->any)
        return 0;
    const char *shell[] = { "CMD-SHELL", h->cmd, NULL };
    const char *none[] = { "NONE", NULL };
    const char *const *test = h->none ? none : h->cmd ? shell : NULL;
    return boxlite_options_set_healthcheck(o, test, h->interval, h->timeout, (int)h->retries,
                                           h->start) == BOXLITE_OK
               ? 0 : cli_fail("--health");
}

int cli_apply_box_flags(const struct cli_args *a, boxlite_options *o, struct box_flags *f)
{
    struct health_flags h = { 0 };
    long long log_bytes = 1 << 20, log_files = 2;
    memset(f, 0, sizeof *f);
    int r = 0;
    for (int i = 0; !r && i < a->nopts; i++) {
        const char *optarg = a->opts[i].value;
        switch (a->opts[i].id) {
        case FL_INTERACTIVE: f->interactive = true; break;
        case FL_TTY: f->tty = true; break;
        case FL_DETACH: f->detach = true; break;
        case FL_ENV: {
            const char *eq = strchr(optarg, '=');
            if (eq) {
                char key[4096];
                snprintf(key, sizeof key, "%.*s", (int)(eq - optarg), optarg);
                r = boxlite_options_set_env(o, key, eq + 1) == BOXLITE_OK ? 0 : cli_fail("-e");
            } else if (getenv(optarg)) {
                r = boxlite_options_set_env(o, optarg, getenv(optarg)) == BOXLITE_OK
                        ? 0 : cli_fail("-e");
            }
            break;
        }
        case FL_LABEL: {
            const char *eq = strchr(optarg, '=');
            char key[512];
            snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - optarg) : (int)strlen(optarg), optarg);
            r = boxlite_options_set_label(o, key, eq ? eq + 1 : "") == BOXLITE_OK
                    ? 0 : cli_fail("--label");
            break;
        }
        case FL_ENV_FILE: r = env_file(o, optarg); break;
        case FL_RESTART: {
            /* the library's policy (the box's agent re-runs its main process) */
            char policy[32];
            long long max = 0;
            const char *colon = strchr(optarg, ':');
            snprintf(policy, sizeof policy, "%.*s",
                     colon ? (int)(colon - optarg) : (int)strlen(optarg), optarg);
            if ((colon && (strcmp(policy, "on-failure") ||
                           cli_parse_ll(colon + 1, 1, 1000000, &max))) ||
                (strcmp(policy, "no") && strcmp(policy, "on-failure") &&
                 strcmp(policy, "always") && strcmp(policy, "unless-stopped")))
                r = cli_usage_error("--restart %s: expected no, on-failure[:N], always or "
                                    "unless-stopped", optarg);
            else
                r = boxlite_options_set_restart(o, policy, (int)max) == BOXLITE_OK
                        ? 0 : cli_fail("--restart");
            f->restart = strcmp(optarg, "no") != 0;
            break;
        }
        case FL_IDLE_PAUSE: {
            long long ms = cli_parse_duration_ms(optarg);
            if (ms < 1000 || ms > 365LL * 24 * 3600 * 1000)
                r = cli_usage_error("--idle-pause %s: expected a duration of 1s or more (30s, 5m)",
                                    optarg);
            else
                r = boxlite_options_set_idle_pause(o, (int)(ms / 1000)) == BOXLITE_OK
                        ? 0 : cli_fail("--idle-pause");
            break;
        }
        case FL_READ_ONLY:
            r = boxlite_options_set_read_only(o, 1) == BOXLITE_OK ? 0 : cli_fail("--read-only");
            break;
        case FL_BALLOON_TARGET: {
            long long mib = cli_parse_mib(optarg);
            r = mib < 0 || mib > 0x7fffffff
                    ? cli_usage_error("--balloon-target %s: expected e.g. 128m", optarg)
                    : boxlite_options_set_balloon_target(o, (int)mib) == BOXLITE_OK
                          ? 0 : cli_fail("--balloon-target");
            break;
        }
        case FL_NO_PAGE_REPORTING:
            r = boxlite_options_set_free_page_reporting(o, 0) == BOXLITE_OK
                    ? 0 : cli_fail("--no-page-reporting");
            break;
        case FL_KSM:
            r = boxlite_options_set_ksm(o, 1) == BOXLITE_OK ? 0 : cli_fail("--ksm");
            break;
        case FL_PLATFORM:
            r = boxlite_options_set_platform(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--platform");
            break;
        case FL_HOSTNAME:
            r = boxlite_options_set_hostname(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--hostname");
            break;
        case FL_WORKDIR:
            r = boxlite_options_set_working_dir(o, optarg) == BOXLITE_OK ? 0 : cli_fail("-w");
            break;
        case FL_USER:
            r = boxlite_options_set_user(o, optarg) == BOXLITE_OK ? 0 : cli_fail("-u");
            break;
        case FL_VOLUME: r = add_volume(o, optarg); break;
        case FL_PUBLISH: r = add_port(o, optarg); break;
        case FL_CPUS: {
            long long v;
            r = cli_parse_ll(optarg, 1, 1 << 20, &v)
                    ? cli_usage_error("--cpus %s: expected a whole number of CPUs", optarg)
                    : boxlite_options_set_cpus(o, (int)v) == BOXLITE_OK ? 0 : cli_fail("--cpus");
            break;
        }
        case FL_MEMORY: {
            long long mib = cli_parse_mib(optarg);
            /* a value that cannot even be an int is refused here, not wrapped into one */
            r = mib < 0 || mib > 0x7fffffff
                    ? cli_usage_error("--memory %s: expected e.g. 512m or 2g (at most 1t)", optarg)
                    : boxlite_options_set_memory_mib(o, (int)mib) == BOXLITE_OK
                          ? 0 : cli_fail("--memory");
            break;
        }
        case FL_NAME:
            r = boxlite_options_set_name(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--name");
            break;
        case FL_DISK_SIZE: {
            long long mib = cli_parse_mib(optarg);
            r = mib < 1024 || mib % 1024 || mib / 1024 > 0x7fffffff
                    ? cli_usage_error("--disk-size %s: expected whole gigabytes, e.g. 10g", optarg)
                    : boxlite_options_set_disk_size_gb(o, (int)(mib / 1024)) == BOXLITE_OK
                          ? 0 : cli_fail("--disk-size");
            break;
        }
        case FL_RM: f->rm = true; break;
        case FL_ENGINE:
            f->engine = optarg;
            r = boxlite_options_set_engine(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--engine");
            break;
        case FL_NO_NETWORK: boxlite_options_set_network(o, 0); break;
        case FL_CPU_TEMPLATE:
            r = boxlite_options_set_cpu_template(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--cpu-template");
            break;
        case FL_NETWORK:
            r = boxlite_options_set_network_mode(o, optarg) == BOXLITE_OK ? 0
                                                                          : cli_fail("--network");
            break;
        case FL_ALLOW_NET:
            r = boxlite_options_add_allow_net(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--allow-net");
            break;
        case FL_DENY_NET:
            r = boxlite_options_add_deny_net(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--deny-net");
            break;
        case FL_ALLOW_HOST: r = add_allow_host(o, optarg); break;
        case FL_ENTRYPOINT: f->entrypoint = optarg; break;
        case FL_HEALTH_CMD: h.cmd = optarg; h.any = true; break;
        case FL_NO_HEALTHCHECK: h.none = h.any = true; break;
        case FL_HEALTH_INTERVAL:
            h.any = true;
            r = health_duration("--health-interval", optarg, &h.interval);
            break;
        case FL_HEALTH_TIMEOUT:
            h.any = true;
            r = health_duration("--health-timeout", optarg, &h.timeout);
            break;
        case FL_HEALTH_START:
            h.any = true;
            r = health_duration("--health-start-period", optarg, &h.start);
            break;
        case FL_HEALTH_RETRIES:
            h.any = true;
            r = cli_parse_ll(optarg, 1, 1000, &h.retries)
                    ? cli_usage_error("--health-retries %s: expected 1-1000", optarg) : 0;
            break;
        case FL_LOG_OPT: r = log_opt(o, optarg, &log_bytes, &log_files); break;
        default:
            /* a flag in the table that this code does not handle is a bug, said plainly */
            r = cli_usage_error("internal error: flag %d of %s not handled", a->opts[i].id,
                                a->verb->name);
        }
    }
    if (!r)
        r = health_apply(o, &h);
    return r;
}
