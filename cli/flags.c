/* Box flags shared by `run` and `create`, docker's spelling. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long long cli_parse_mib(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0)
        return -1;
    if (!*end || !strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib"))
        return v;
    if (!strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib"))
        return v * 1024;
    return -1;
}

long long cli_parse_bytes(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    int shift = 0;
    if (!*end || !strcasecmp(end, "b"))
        shift = 0;
    else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb") || !strcasecmp(end, "kib"))
        shift = 10;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib"))
        shift = 20;
    else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib"))
        shift = 30;
    else
        return -1;
    if (v > (LLONG_MAX >> shift))
        return -1;
    return v << shift;
}

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

/* -p [ADDR:]HOST:GUEST[/tcp|/udp] */
static int add_port(boxlite_options *o, const char *spec)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    const char *proto = "tcp";
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = 0;
        proto = slash + 1;
    }
    char *parts[3];
    int n = 0;
    for (char *p = strtok(buf, ":"); p && n < 3; p = strtok(NULL, ":"))
        parts[n++] = p;
    if (n < 2 || strtok(NULL, ":"))
        return cli_usage_error("-p %s: expected [ADDR:]HOST:GUEST[/udp]", spec);
    const char *addr = n == 3 ? parts[0] : NULL;
    char *e1, *e2;
    long hp = strtol(parts[n - 2], &e1, 10), gp = strtol(parts[n - 1], &e2, 10);
    if (*e1 || *e2)
        return cli_usage_error("-p %s: ports must be numbers", spec);
    return boxlite_options_add_port(o, (int)hp, (int)gp, proto, addr) == BOXLITE_OK
               ? 0 : cli_fail("-p");
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

int cli_parse_box_flags(int argc, char **argv, boxlite_options *o, struct box_flags *f,
                        int *next)
{
    enum { OPT_CPUS = 1000, OPT_MEMORY, OPT_NAME, OPT_DISK, OPT_RM, OPT_ENGINE, OPT_NONET,
           OPT_CPU_TEMPLATE, OPT_NETWORK, OPT_ALLOW_NET, OPT_DENY_NET, OPT_ALLOW_HOST };
    static const struct option longopts[] = {
        { "interactive", no_argument, NULL, 'i' },
        { "tty", no_argument, NULL, 't' },
        { "detach", no_argument, NULL, 'd' },
        { "env", required_argument, NULL, 'e' },
        { "workdir", required_argument, NULL, 'w' },
        { "user", required_argument, NULL, 'u' },
        { "volume", required_argument, NULL, 'v' },
        { "publish", required_argument, NULL, 'p' },
        { "cpus", required_argument, NULL, OPT_CPUS },
        { "memory", required_argument, NULL, OPT_MEMORY },
        { "name", required_argument, NULL, OPT_NAME },
        { "disk-size", required_argument, NULL, OPT_DISK },
        { "rm", no_argument, NULL, OPT_RM },
        { "engine", required_argument, NULL, OPT_ENGINE },
        { "no-network", no_argument, NULL, OPT_NONET },
        { "cpu-template", required_argument, NULL, OPT_CPU_TEMPLATE },
        { "network", required_argument, NULL, OPT_NETWORK },
        { "allow-net", required_argument, NULL, OPT_ALLOW_NET },
        { "deny-net", required_argument, NULL, OPT_DENY_NET },
        { "allow-host", required_argument, NULL, OPT_ALLOW_HOST },
        { 0 },
    };
    memset(f, 0, sizeof *f);
    optind = 1;
    opterr = 0;
    int ch, r = 0;
    while (!r && (ch = getopt_long(argc, argv, "+itde:w:u:v:p:m:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'i': f->interactive = true; break;
        case 't': f->tty = true; break;
        case 'd': f->detach = true; break;
        case 'e': {
            char *eq = strchr(optarg, '=');
            if (eq) {
                *eq = 0;
                r = boxlite_options_set_env(o, optarg, eq + 1) == BOXLITE_OK ? 0 : cli_fail("-e");
                *eq = '=';
            } else if (getenv(optarg)) {
                r = boxlite_options_set_env(o, optarg, getenv(optarg)) == BOXLITE_OK
                        ? 0 : cli_fail("-e");
            }
            break;
        }
        case 'w':
            r = boxlite_options_set_working_dir(o, optarg) == BOXLITE_OK ? 0 : cli_fail("-w");
            break;
        case 'u':
            r = boxlite_options_set_user(o, optarg) == BOXLITE_OK ? 0 : cli_fail("-u");
            break;
        case 'v': r = add_volume(o, optarg); break;
        case 'p': r = add_port(o, optarg); break;
        case OPT_CPUS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            r = *end ? cli_usage_error("--cpus %s: expected a whole number", optarg)
                     : boxlite_options_set_cpus(o, (int)v) == BOXLITE_OK ? 0 : cli_fail("--cpus");
            break;
        }
        case 'm':
        case OPT_MEMORY: {
            long long mib = cli_parse_mib(optarg);
            r = mib < 0 ? cli_usage_error("--memory %s: expected e.g. 512m or 2g", optarg)
                        : boxlite_options_set_memory_mib(o, (int)mib) == BOXLITE_OK
                              ? 0 : cli_fail("--memory");
            break;
        }
        case OPT_NAME:
            r = boxlite_options_set_name(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--name");
            break;
        case OPT_DISK: {
            long long mib = cli_parse_mib(optarg);
            r = mib < 1024 || mib % 1024
                    ? cli_usage_error("--disk-size %s: expected whole gigabytes, e.g. 10g", optarg)
                    : boxlite_options_set_disk_size_gb(o, (int)(mib / 1024)) == BOXLITE_OK
                          ? 0 : cli_fail("--disk-size");
            break;
        }
        case OPT_RM: f->rm = true; break;
        case OPT_ENGINE:
            f->engine = optarg;
            r = boxlite_options_set_engine(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--engine");
            break;
        case OPT_NONET: boxlite_options_set_network(o, 0); break;
        case OPT_CPU_TEMPLATE:
            r = boxlite_options_set_cpu_template(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--cpu-template");
            break;
        case OPT_NETWORK:
            r = boxlite_options_set_network_mode(o, optarg) == BOXLITE_OK ? 0
                                                                          : cli_fail("--network");
            break;
        case OPT_ALLOW_NET:
            r = boxlite_options_add_allow_net(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--allow-net");
            break;
        case OPT_DENY_NET:
            r = boxlite_options_add_deny_net(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--deny-net");
            break;
        case OPT_ALLOW_HOST: r = add_allow_host(o, optarg); break;
        default:
            r = cli_usage_error("unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    *next = optind;
    return r;
}
