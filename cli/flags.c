/* Box flags shared by `run` and `create`, docker's spelling. */
#include "cli.h"

#include <getopt.h>
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
    long long hp, gp;
    if (cli_parse_ll(parts[n - 2], 0, 65535, &hp) || cli_parse_ll(parts[n - 1], 1, 65535, &gp))
        return cli_usage_error("-p %s: ports must be numbers 0-65535 (host) and 1-65535 (box)",
                               spec);
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

int cli_parse_box_flags(int argc, char **argv, boxlite_options *o, struct box_flags *f,
                        int *next)
{
    enum { OPT_CPUS = 1000, OPT_MEMORY, OPT_NAME, OPT_DISK, OPT_RM, OPT_ENGINE, OPT_NONET,
           OPT_CPU_TEMPLATE, OPT_NETWORK, OPT_ALLOW_NET, OPT_DENY_NET, OPT_ALLOW_HOST,

           OPT_ENTRYPOINT, OPT_HCMD, OPT_HINTERVAL, OPT_HTIMEOUT, OPT_HRETRIES, OPT_HSTART,
           OPT_NOHEALTH, OPT_LOGOPT };
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
        { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
        { "health-cmd", required_argument, NULL, OPT_HCMD },
        { "health-interval", required_argument, NULL, OPT_HINTERVAL },
        { "health-timeout", required_argument, NULL, OPT_HTIMEOUT },
        { "health-retries", required_argument, NULL, OPT_HRETRIES },
        { "health-start-period", required_argument, NULL, OPT_HSTART },
        { "no-healthcheck", no_argument, NULL, OPT_NOHEALTH },
        { "log-opt", required_argument, NULL, OPT_LOGOPT },
        { 0 },
    };
    struct health_flags h = { 0 };
    long long log_bytes = 1 << 20, log_files = 2;
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
            long long v;
            r = cli_parse_ll(optarg, 1, 1 << 20, &v)
                    ? cli_usage_error("--cpus %s: expected a whole number of CPUs", optarg)
                    : boxlite_options_set_cpus(o, (int)v) == BOXLITE_OK ? 0 : cli_fail("--cpus");
            break;
        }
        case 'm':
        case OPT_MEMORY: {
            long long mib = cli_parse_mib(optarg);
            /* a value that cannot even be an int is refused here, not wrapped into one */
            r = mib < 0 || mib > 0x7fffffff
                    ? cli_usage_error("--memory %s: expected e.g. 512m or 2g (at most 1t)", optarg)
                    : boxlite_options_set_memory_mib(o, (int)mib) == BOXLITE_OK
                          ? 0 : cli_fail("--memory");
            break;
        }
        case OPT_NAME:
            r = boxlite_options_set_name(o, optarg) == BOXLITE_OK ? 0 : cli_fail("--name");
            break;
        case OPT_DISK: {
            long long mib = cli_parse_mib(optarg);
            r = mib < 1024 || mib % 1024 || mib / 1024 > 0x7fffffff
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
        case OPT_ENTRYPOINT: f->entrypoint = optarg; break;
        case OPT_HCMD: h.cmd = optarg; h.any = true; break;
        case OPT_NOHEALTH: h.none = h.any = true; break;
        case OPT_HINTERVAL:
            h.any = true;
            r = health_duration("--health-interval", optarg, &h.interval);
            break;
        case OPT_HTIMEOUT:
            h.any = true;
            r = health_duration("--health-timeout", optarg, &h.timeout);
            break;
        case OPT_HSTART:
            h.any = true;
            r = health_duration("--health-start-period", optarg, &h.start);
            break;
        case OPT_HRETRIES:
            h.any = true;
            r = cli_parse_ll(optarg, 1, 1000, &h.retries)
                    ? cli_usage_error("--health-retries %s: expected 1-1000", optarg) : 0;
            break;
        case OPT_LOGOPT: r = log_opt(o, optarg, &log_bytes, &log_files); break;
        default:
            r = cli_usage_error("unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    if (!r)
        r = health_apply(o, &h);
    *next = optind;
    return r;
}
