// SPDX-License-Identifier: Apache-2.0
/* Box options: setters with validation, JSON in and out (jansson). Every error names the
 * field it is about. */
#include "runtime/options.h"

#include "common/cleanup.h"
#include "runtime/platform.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void opts_init(struct boxlite_options *o)
{
    memset(o, 0, sizeof *o);
    o->cpus = BL_DEFAULT_CPUS;
    o->memory_mib = BL_DEFAULT_MEMORY_MIB;
    o->network = true;
    o->auto_remove = true;
    o->ready_timeout_ms = BL_DEFAULT_READY_TIMEOUT_MS;
    o->log_max_bytes = BL_DEFAULT_LOG_MAX_BYTES;
    o->log_max_files = BL_DEFAULT_LOG_MAX_FILES;
}

static void strv_clear(char ***v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

void opts_clear(struct boxlite_options *o)
{
    if (!o)
        return;
    free(o->image);
    free(o->rootfs_path);
    free(o->working_dir);
    free(o->user);
    free(o->name);
    free(o->engine);
    free(o->cpu_template);
    free(o->netns);
    free(o->platform);
    for (size_t i = 0; i < o->nenv; i++) {
        free(o->env[i].key);
        free(o->env[i].value);
    }
    free(o->env);
    for (size_t i = 0; i < o->nlabels; i++) {
        free(o->labels[i].key);
        free(o->labels[i].value);
    }
    free(o->labels);
    free(o->hostname);
    free(o->restart);
    for (size_t i = 0; i < o->nvolumes; i++) {
        free(o->volumes[i].host_path);
        free(o->volumes[i].guest_path);
    }
    free(o->volumes);
    for (size_t i = 0; i < o->nports; i++)
        free(o->ports[i].host_addr);
    free(o->ports);
    strv_clear(&o->cmd, &o->ncmd);
    strv_clear(&o->entrypoint, &o->nentrypoint);
    strv_clear(&o->health.test, &o->health.ntest);
    strv_clear(&o->allow_net, &o->nallow_net);
    strv_clear(&o->deny_net, &o->ndeny_net);
    free(o->allow_host);
    opts_init(o);
}

/* A copy of argv (NULL-terminated when n < 0), checked: at most 4096 entries of 4096 bytes. */
static int strv_copy(char ***out, size_t *nout, const char *const *argv, long n, const char *what,
                     struct bl_error *err)
{
    size_t count = 0;
    if (argv)
        while ((n < 0 || (long)count < n) && argv[count])
            count++;
    if (n >= 0 && argv && (long)count != n)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: entry %zu is NULL", what, count);
    if (count > 4096)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: more than 4096 entries", what);
    char **v = calloc(count + 1, sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < count; i++) {
        if (strlen(argv[i]) > 4096 || !(v[i] = strdup(argv[i]))) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return strlen(argv[i]) > 4096
                       ? bl_err(err, BOXLITE_ERR_INVALID, "%s[%zu]: longer than 4096 bytes", what, i)
                       : bl_err(err, BOXLITE_ERR_NOMEM, "%s: out of memory", what);
        }
    }
    *out = v;
    *nout = count;
    return 0;
}

int opts_set_argv(struct boxlite_options *o, const char *which, const char *const *argv, long n,
                  struct bl_error *err)
{
    bool ep = !strcmp(which, "entrypoint");
    char **v = NULL;
    size_t count = 0;
    if (argv) {
        int r = strv_copy(&v, &count, argv, n, which, err);
        if (r)
            return r;
    }
    if (ep) {
        strv_clear(&o->entrypoint, &o->nentrypoint);
        o->entrypoint = v;
        o->nentrypoint = count;
        o->entrypoint_set = argv != NULL;
    } else {
        strv_clear(&o->cmd, &o->ncmd);
        o->cmd = v;
        o->ncmd = count;
    }
    return 0;
}

bool opts_has_main(const struct boxlite_options *o)
{
    return o->main_process || o->ncmd > 0 || o->entrypoint_set;
}

size_t opts_env_bytes(const struct boxlite_options *o)
{
    size_t n = 0;
    for (size_t i = 0; i < o->nenv; i++)
        n += 4 + strlen(o->env[i].key) + 1 + strlen(o->env[i].value); /* TLV header, K=V */
    return n;
}

static int range(const char *what, long long v, long long lo, long long hi, struct bl_error *err)
{
    if (v < lo || v > hi)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: %lld is not between %lld and %lld", what, v,
                      lo, hi);
    return 0;
}

int opts_set_health(struct boxlite_options *o, const char *const *test, long ntest,
                    long long interval_ms, long long timeout_ms, long long retries,
                    long long start_period_ms, struct bl_error *err)
{
    const long long day = 24LL * 3600 * 1000;
    int r;
    if ((r = range("healthcheck.interval_ms", interval_ms, 0, day, err)) ||
        (r = range("healthcheck.timeout_ms", timeout_ms, 0, day, err)) ||
        (r = range("healthcheck.start_period_ms", start_period_ms, 0, day, err)) ||
        (r = range("healthcheck.retries", retries, 0, 1000, err)))
        return r;
    if ((interval_ms && interval_ms < 100) || (timeout_ms && timeout_ms < 100))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "healthcheck: interval and timeout are at least 100 ms (0 = default)");
    char **v = NULL;
    size_t n = 0;
    if (test && (r = strv_copy(&v, &n, test, ntest, "healthcheck.test", err)))
        return r;
    bool ok = n == 0 || (!strcmp(v[0], "NONE") && n == 1) ||
              (!strcmp(v[0], "CMD") && n >= 2) || (!strcmp(v[0], "CMD-SHELL") && n == 2);
    if (!ok) {
        strv_clear(&v, &n);
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "healthcheck.test: expected [\"CMD\", program, args...], "
                      "[\"CMD-SHELL\", command] or [\"NONE\"]");
    }
    strv_clear(&o->health.test, &o->health.ntest);
    o->health = (struct bl_health){ v, n, interval_ms, timeout_ms, start_period_ms, (int)retries };
    return 0;
}

int opts_set_log(struct boxlite_options *o, long long max_bytes, long long max_files,
                 struct bl_error *err)
{
    int r;
    if ((r = range("log_max_size", max_bytes, BL_MIN_LOG_MAX_BYTES, BL_MAX_LOG_MAX_BYTES, err)) ||
        (r = range("log_max_files", max_files, 1, BL_MAX_LOG_MAX_FILES, err)))
        return r;
    o->log_max_bytes = max_bytes;
    o->log_max_files = (int)max_files;
    return 0;
}

int opts_set_str(char **field, const char *what, const char *v, struct bl_error *err)
{
    char *copy = NULL;
    if (v) {
        if (strlen(v) > 4096)
            return bl_err(err, BOXLITE_ERR_INVALID, "%s: longer than 4096 bytes", what);
        copy = strdup(v);
        if (!copy)
            return bl_err(err, BOXLITE_ERR_NOMEM, "%s: out of memory", what);
    }
    free(*field);
    *field = copy;
    return 0;
}

int opts_set_cpus(struct boxlite_options *o, long long v, struct bl_error *err)
{
    if (v < 1 || v > BL_MAX_CPUS)
        return bl_err(err, BOXLITE_ERR_INVALID, "cpus: %lld is not between 1 and %d", v,
                      BL_MAX_CPUS);
    o->cpus = (int)v;
    return 0;
}

int opts_set_memory(struct boxlite_options *o, long long v, struct bl_error *err)
{
    if (v < BL_MIN_MEMORY_MIB || v > BL_MAX_MEMORY_MIB)
        return bl_err(err, BOXLITE_ERR_INVALID, "memory_mib: %lld is not between %d and %d",
                      v, BL_MIN_MEMORY_MIB, BL_MAX_MEMORY_MIB);
    o->memory_mib = (int)v;
    return 0;
}

int opts_set_disk(struct boxlite_options *o, long long v, struct bl_error *err)
{
    if (v < 0 || v > BL_MAX_DISK_GB)
        return bl_err(err, BOXLITE_ERR_INVALID, "disk_size_gb: %lld is not between 0 and %d",
                      v, BL_MAX_DISK_GB);
    o->disk_size_gb = (int)v;
    return 0;
}

int opts_set_ready_timeout(struct boxlite_options *o, long long ms, struct bl_error *err)
{
    if (ms < 1 || ms > 3600 * 1000)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "ready_timeout_ms: %lld is not between 1 and 3600000", ms);
    o->ready_timeout_ms = (int)ms;
    return 0;
}

int opts_set_label(struct boxlite_options *o, const char *k, const char *v, struct bl_error *err)
{
    if (!k || !*k || strchr(k, '=') || !v)
        return bl_err(err, BOXLITE_ERR_INVALID, "labels: invalid label name \"%s\"", k ? k : "");
    if (strlen(k) > 256 || strlen(v) > 4096)
        return bl_err(err, BOXLITE_ERR_INVALID, "labels: %.64s: too long", k);
    for (size_t i = 0; i < o->nlabels; i++)
        if (!strcmp(o->labels[i].key, k))
            return opts_set_str(&o->labels[i].value, "labels", v, err);
    if (o->nlabels >= 256)
        return bl_err(err, BOXLITE_ERR_INVALID, "labels: more than 256");
    struct bl_env *n = realloc(o->labels, (o->nlabels + 1) * sizeof *n);
    if (!n)
        return bl_err(err, BOXLITE_ERR_NOMEM, "labels: out of memory");
    o->labels = n;
    n[o->nlabels] = (struct bl_env){ strdup(k), strdup(v) };
    if (!n[o->nlabels].key || !n[o->nlabels].value) {
        free(n[o->nlabels].key);
        free(n[o->nlabels].value);
        return bl_err(err, BOXLITE_ERR_NOMEM, "labels: out of memory");
    }
    o->nlabels++;
    return 0;
}

int opts_set_hostname(struct boxlite_options *o, const char *name, struct bl_error *err)
{
    if (!name)
        return opts_set_str(&o->hostname, "hostname", NULL, err);
    size_t len = strlen(name), label = 0;
    bool ok = len >= 1 && len <= 253 && name[0] != '-' && name[0] != '.';
    for (size_t i = 0; ok && i < len; i++) {
        char ch = name[i];
        if (ch == '.') {
            ok = label > 0 && name[i - 1] != '-';
            label = 0;
        } else {
            ok = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-') && ++label <= 63;
        }
    }
    if (!ok || name[len - 1] == '-' || name[len - 1] == '.')
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "hostname: \"%.64s\" is not a host name (RFC 1123: letters, digits, "
                      "hyphens; labels of 1-63 characters)", name);
    return opts_set_str(&o->hostname, "hostname", name, err);
}

int opts_set_restart(struct boxlite_options *o, const char *policy, long long max_retries,
                     struct bl_error *err)
{
    if (!policy || !strcmp(policy, "no")) {
        if (max_retries)
            return bl_err(err, BOXLITE_ERR_INVALID, "restart: a retry count needs on-failure");
        o->restart_max = 0;
        return opts_set_str(&o->restart, "restart", NULL, err);
    }
    /* unless-stopped is always here: a box stopped on request is never restarted, and no
     * daemon restarts boxes after a reboot */
    if (strcmp(policy, "on-failure") && strcmp(policy, "always") && strcmp(policy, "unless-stopped"))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "restart: \"%.32s\" is not a policy (no, on-failure[:N], always, "
                      "unless-stopped)", policy);
    if (max_retries && strcmp(policy, "on-failure"))
        return bl_err(err, BOXLITE_ERR_INVALID, "restart: a retry count needs on-failure");
    int r = range("restart_max", max_retries, 0, 1000000, err);
    if (r)
        return r;
    o->restart_max = (int)max_retries;
    return opts_set_str(&o->restart, "restart", policy, err);
}

int opts_set_env(struct boxlite_options *o, const char *k, const char *v, struct bl_error *err)
{
    if (!k || !*k || strchr(k, '=') || !v)
        return bl_err(err, BOXLITE_ERR_INVALID, "env: invalid variable name \"%s\"",
                      k ? k : "(null)");
    if (strlen(k) > 4096 || strlen(v) > 4096 * 8)
        return bl_err(err, BOXLITE_ERR_INVALID, "env: %.64s: too long", k);
    for (size_t i = 0; i < o->nenv; i++)
        if (!strcmp(o->env[i].key, k))
            return opts_set_str(&o->env[i].value, "env", v, err);
    struct bl_env *n = realloc(o->env, (o->nenv + 1) * sizeof *n);
    if (!n)
        return bl_err(err, BOXLITE_ERR_NOMEM, "env: out of memory");
    o->env = n;
    n[o->nenv] = (struct bl_env){ strdup(k), strdup(v) };
    if (!n[o->nenv].key || !n[o->nenv].value) {
        free(n[o->nenv].key);
        free(n[o->nenv].value);
        return bl_err(err, BOXLITE_ERR_NOMEM, "env: out of memory");
    }
    o->nenv++;
    return 0;
}

/* Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*, here at most 64 bytes. */
bool opts_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > BL_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
            return false;
    }
    return true;
}

int opts_set_name(struct boxlite_options *o, const char *name, struct bl_error *err)
{
    if (name && !opts_valid_name(name))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "name: \"%s\" must be 1-%d characters [a-zA-Z0-9_.-], starting with a "
                      "letter or digit", name, BL_MAX_NAME);
    return opts_set_str(&o->name, "name", name, err);
}

/* The names are the architecture's (boxlite-vmm --cpu-templates lists them, and refuses an
 * unknown one when the box starts); here only their form is checked. */
int opts_set_cpu_template(struct boxlite_options *o, const char *name, struct bl_error *err)
{
    size_t n = name ? strlen(name) : 0;
    bool ok = n > 0 && n <= 31;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '-' || name[i] == '_';
    if (!ok)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "cpu_template: \"%s\" is not a template name (auto, v3, baseline, host)",
                      name ? name : "(null)");
    return opts_set_str(&o->cpu_template, "cpu_template", strcmp(name, "auto") ? name : NULL,
                        err);
}

int opts_set_platform(struct boxlite_options *o, const char *platform, struct bl_error *err)
{
    if (!platform || !*platform)
        return opts_set_str(&o->platform, "platform", NULL, err);
    struct rt_platform p;
    char text[64];
    int r = rt_platform_parse(platform, &p, text, sizeof text, err);
    return r ? r : opts_set_str(&o->platform, "platform", text, err);
}

int opts_set_engine(struct boxlite_options *o, const char *engine, struct bl_error *err)
{
    if (!engine || (strcmp(engine, "auto") && strcmp(engine, "kvm") && strcmp(engine, "qemu")))
        return bl_err(err, BOXLITE_ERR_INVALID, "engine: \"%s\" is not auto, kvm or qemu",
                      engine ? engine : "(null)");
    return opts_set_str(&o->engine, "engine", engine, err);
}

int opts_add_volume(struct boxlite_options *o, const char *host, const char *guest, bool ro,
                    struct bl_error *err)
{
    if (!host || host[0] != '/')
        return bl_err(err, BOXLITE_ERR_INVALID, "volumes: host path \"%s\" is not absolute",
                      host ? host : "(null)");
    if (!guest || guest[0] != '/' || !strcmp(guest, "/"))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "volumes: guest path \"%s\" is not an absolute path below /",
                      guest ? guest : "(null)");
    if (strlen(host) > 4096 || strlen(guest) > 4096)
        return bl_err(err, BOXLITE_ERR_INVALID, "volumes: path too long");
    struct bl_volume *n = realloc(o->volumes, (o->nvolumes + 1) * sizeof *n);
    if (!n)
        return bl_err(err, BOXLITE_ERR_NOMEM, "volumes: out of memory");
    o->volumes = n;
    n[o->nvolumes] = (struct bl_volume){ strdup(host), strdup(guest), ro };
    if (!n[o->nvolumes].host_path || !n[o->nvolumes].guest_path) {
        free(n[o->nvolumes].host_path);
        free(n[o->nvolumes].guest_path);
        return bl_err(err, BOXLITE_ERR_NOMEM, "volumes: out of memory");
    }
    o->nvolumes++;
    return 0;
}

int opts_add_port(struct boxlite_options *o, long long host_port, long long guest_port,
                  const char *proto, const char *host_addr, struct bl_error *err)
{
    if (guest_port < 1 || guest_port > 65535)
        return bl_err(err, BOXLITE_ERR_INVALID, "ports: guest port %lld is not 1-65535",
                      guest_port);
    if (host_port < 0 || host_port > 65535)
        return bl_err(err, BOXLITE_ERR_INVALID, "ports: host port %lld is not 0-65535",
                      host_port);
    bool udp = false;
    if (proto && !strcmp(proto, "udp"))
        udp = true;
    else if (proto && strcmp(proto, "tcp"))
        return bl_err(err, BOXLITE_ERR_INVALID, "ports: protocol \"%s\" is not tcp or udp",
                      proto);
    /* IPv4 or IPv6 (both engines forward through the per-box process's libslirp) */
    struct in6_addr a;
    if (host_addr && inet_pton(AF_INET, host_addr, &a) != 1 &&
        inet_pton(AF_INET6, host_addr, &a) != 1)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "ports: host address \"%s\" is not an IPv4 or IPv6 address", host_addr);
    for (size_t i = 0; i < o->nports; i++)
        if (host_port && o->ports[i].host_port == host_port && o->ports[i].udp == udp)
            return bl_err(err, BOXLITE_ERR_INVALID, "ports: host port %lld/%s given twice",
                          host_port, udp ? "udp" : "tcp");
    struct bl_port *n = realloc(o->ports, (o->nports + 1) * sizeof *n);
    if (!n)
        return bl_err(err, BOXLITE_ERR_NOMEM, "ports: out of memory");
    o->ports = n;
    n[o->nports] = (struct bl_port){ (int)host_port, (int)guest_port, udp,
                                     strdup(host_addr ? host_addr : "127.0.0.1") };
    if (!n[o->nports].host_addr)
        return bl_err(err, BOXLITE_ERR_NOMEM, "ports: out of memory");
    o->nports++;
    return 0;
}

int opts_add_net_rule(struct boxlite_options *o, bool deny, const char *rule,
                      struct bl_error *err)
{
    const char *what = deny ? "deny_net" : "allow_net";
    char ***list = deny ? &o->deny_net : &o->allow_net;
    size_t *n = deny ? &o->ndeny_net : &o->nallow_net;
    struct net_rule r;
    if (net_rule_parse(rule, &r, err) < 0)
        return bl_err_prefix(err, "%s", what);
    if (*n >= NET_RULES_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: more than %d rules", what, NET_RULES_MAX);
    char text[NET_RULE_TEXT_MAX + 16];
    net_rule_format(&r, text, sizeof text);
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], text))
            return 0; /* the same rule twice says nothing more */
    char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l)
        return bl_err(err, BOXLITE_ERR_NOMEM, "%s: out of memory", what);
    *list = l;
    if (!(l[*n] = strdup(text)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "%s: out of memory", what);
    (*n)++;
    return 0;
}

int opts_add_allow_host(struct boxlite_options *o, long long port, const char *proto,
                        struct bl_error *err)
{
    if (port < 1 || port > 65535)
        return bl_err(err, BOXLITE_ERR_INVALID, "allow_host: port %lld is not 1-65535", port);
    bool udp = false;
    if (proto && !strcmp(proto, "udp"))
        udp = true;
    else if (proto && strcmp(proto, "tcp"))
        return bl_err(err, BOXLITE_ERR_INVALID, "allow_host: protocol \"%s\" is not tcp or udp",
                      proto);
    for (size_t i = 0; i < o->nallow_host; i++)
        if (o->allow_host[i].port == port && o->allow_host[i].udp == udp)
            return 0;
    if (o->nallow_host >= NET_RULES_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "allow_host: more than %d ports", NET_RULES_MAX);
    struct net_host_port *h = realloc(o->allow_host, (o->nallow_host + 1) * sizeof *h);
    if (!h)
        return bl_err(err, BOXLITE_ERR_NOMEM, "allow_host: out of memory");
    o->allow_host = h;
    h[o->nallow_host++] = (struct net_host_port){ (uint16_t)port, udp };
    return 0;
}

int opts_set_network_mode(struct boxlite_options *o, const char *mode, struct bl_error *err)
{
    if (mode && !strncmp(mode, "netns:", 6)) {
        if (mode[6] != '/')
            return bl_err(err, BOXLITE_ERR_INVALID, "network: \"%s\": netns: takes an "
                          "absolute path", mode);
        if (opts_set_str(&o->netns, "network", mode + 6, err) < 0)
            return -err->code;
        o->network = true;
        return 0;
    }
    if (mode && (!strcmp(mode, "default") || !strcmp(mode, "true")))
        o->network = true;
    else if (mode && (!strcmp(mode, "none") || !strcmp(mode, "false")))
        o->network = false;
    else
        return bl_err(err, BOXLITE_ERR_INVALID, "network: \"%s\" is not none, default or "
                      "netns:PATH", mode ? mode : "(null)");
    free(o->netns);
    o->netns = NULL;
    return 0;
}

int opts_validate_for_create(const struct boxlite_options *o, struct bl_error *err)
{
    if (!o->image == !o->rootfs_path)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "options: exactly one of image and rootfs_path must be given");
    if (o->detach && o->auto_remove)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "options: detach requires auto_remove off (a detached box that removes "
                      "itself could never be reattached)");
    /* The policy applies to the main process (the agent re-runs it) */
    if (o->restart && !opts_has_main(o))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "options: restart \"%s\" needs a main process (main_process, cmd or "
                      "entrypoint)", o->restart);
    if (o->stdin_open && !opts_has_main(o))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "options: stdin_open is the main process's stdin: it needs one "
                      "(main_process, cmd or entrypoint)");
    if (o->tty && !opts_has_main(o))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "options: tty is the main process's terminal: it needs one "
                      "(main_process, cmd or entrypoint)");
    if (o->restart_max && (!o->restart || strcmp(o->restart, "on-failure")))
        return bl_err(err, BOXLITE_ERR_INVALID, "options: restart_max needs restart on-failure");
    if (o->netns && (o->nallow_net || o->ndeny_net || o->nallow_host || o->nports))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "options: %s: not with network netns:PATH (the namespace's own rules "
                      "apply there)", o->nallow_net ? "allow_net" : o->ndeny_net ? "deny_net"
                      : o->nallow_host ? "allow_host" : "a published port");
    if (!o->network && (o->nallow_net || o->ndeny_net || o->nallow_host || o->nports))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "options: %s needs a network (the network is none)",
                      o->nallow_net ? "allow_net" : o->ndeny_net ? "deny_net"
                      : o->nallow_host ? "allow_host" : "a published port");
    if (o->balloon_target_mib &&
        (o->balloon_target_mib < BL_MIN_BALLOON_MIB || o->balloon_target_mib > o->memory_mib))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "options: balloon_target_mib %d is out of range (0 = none, or %d..%d, the "
                      "box's memory_mib)", o->balloon_target_mib, BL_MIN_BALLOON_MIB,
                      o->memory_mib);
    if (o->rootfs_share && !o->rootfs_path)
        return bl_err(err, BOXLITE_ERR_INVALID, "options: rootfs_share needs rootfs_path");
    if (o->rootfs_share && o->engine && !strcmp(o->engine, "kvm"))
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "options: rootfs_share needs the QEMU engine (engine \"kvm\" cannot "
                      "serve a shared rootfs yet)");
    struct stat st;
    if (o->rootfs_path && (stat(o->rootfs_path, &st) != 0 || !S_ISDIR(st.st_mode)))
        return bl_errno(err, errno ? errno : ENOTDIR, "rootfs_path: %s", o->rootfs_path);
    /* A volume is a folder shared with the guest (9p): what would fail at start, with only
     * the engine's log saying why, is refused here with the reason. */
    for (size_t i = 0; i < o->nvolumes; i++) {
        const char *h = o->volumes[i].host_path;
        if (stat(h, &st) != 0)
            return bl_errno(err, errno, "volumes: host path %s", h);
        if (!S_ISDIR(st.st_mode))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "volumes: host path %s is not a directory (a volume shares a folder)", h);
        if (access(h, R_OK | X_OK) != 0)
            return bl_errno(err, errno, "volumes: host path %s is not readable", h);
        if (!o->volumes[i].read_only && access(h, W_OK) != 0)
            return bl_errno(err, errno,
                            "volumes: host path %s is not writable (mount it read-only?)", h);
    }
    size_t env = opts_env_bytes(o);
    if (env > BL_MAX_ENV_BYTES)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "env: %zu variables take %zu bytes; at most %d fit (an execution's request "
                      "carries them all and is limited to %u bytes)",
                      o->nenv, env, BL_MAX_ENV_BYTES, 65536u);
    return 0;
}

/* ---- JSON ----------------------------------------------------------------------------*/

static int want_int(json_t *v, const char *key, long long *out, struct bl_error *err)
{
    if (!json_is_integer(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "options: field \"%s\": expected an integer",
                      key);
    *out = json_integer_value(v);
    return 0;
}

static int want_str(json_t *v, const char *key, const char **out, struct bl_error *err)
{
    if (json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "options: field \"%s\": expected a string",
                      key);
    *out = json_string_value(v);
    return 0;
}

static int want_bool(json_t *v, const char *key, bool *out, struct bl_error *err)
{
    if (!json_is_boolean(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "options: field \"%s\": expected true or false",
                      key);
    *out = json_is_true(v);
    return 0;
}

/* Reads an object whose keys must all be in `allowed`. */
static int check_keys(json_t *obj, const char *field, const char *const *allowed,
                      struct bl_error *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj))
        return bl_err(err, BOXLITE_ERR_INVALID, "options: field \"%s\": expected an object",
                      field);
    json_object_foreach(obj, k, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok |= !strcmp(*a, k);
        if (!ok)
            return bl_err(err, BOXLITE_ERR_INVALID, "options: unknown field \"%s.%s\"", field,
                          k);
    }
    return 0;
}

static int read_volume(struct boxlite_options *o, json_t *v, struct bl_error *err)
{
    static const char *const keys[] = { "host_path", "guest_path", "read_only", NULL };
    const char *host = NULL, *guest = NULL;
    bool ro = false;
    int r = check_keys(v, "volumes[]", keys, err);
    json_t *x;
    if (!r && (x = json_object_get(v, "host_path")))
        r = want_str(x, "volumes[].host_path", &host, err);
    if (!r && (x = json_object_get(v, "guest_path")))
        r = want_str(x, "volumes[].guest_path", &guest, err);
    if (!r && (x = json_object_get(v, "read_only")))
        r = want_bool(x, "volumes[].read_only", &ro, err);
    return r ? r : opts_add_volume(o, host, guest, ro, err);
}

static int read_port(struct boxlite_options *o, json_t *v, struct bl_error *err)
{
    static const char *const keys[] = { "host_port", "guest_port", "protocol", "host_addr",
                                        NULL };
    long long hp = 0, gp = 0;
    const char *proto = NULL, *addr = NULL;
    int r = check_keys(v, "ports[]", keys, err);
    json_t *x;
    if (!r && (x = json_object_get(v, "host_port")))
        r = want_int(x, "ports[].host_port", &hp, err);
    if (!r && (x = json_object_get(v, "guest_port")))
        r = want_int(x, "ports[].guest_port", &gp, err);
    if (!r && (x = json_object_get(v, "protocol")))
        r = want_str(x, "ports[].protocol", &proto, err);
    if (!r && (x = json_object_get(v, "host_addr")))
        r = want_str(x, "ports[].host_addr", &addr, err);
    return r ? r : opts_add_port(o, hp, gp, proto, addr, err);
}

static int read_allow_host(struct boxlite_options *o, json_t *v, struct bl_error *err)
{
    static const char *const keys[] = { "port", "protocol", NULL };
    long long port = 0;
    const char *proto = NULL;
    int r = check_keys(v, "allow_host[]", keys, err);
    json_t *x;
    if (!r && (x = json_object_get(v, "port")))
        r = want_int(x, "allow_host[].port", &port, err);
    if (!r && (x = json_object_get(v, "protocol")))
        r = want_str(x, "allow_host[].protocol", &proto, err);
    return r ? r : opts_add_allow_host(o, port, proto, err);
}

/* A JSON array of strings (null allowed when nullable) into a NULL-terminated vector. */
static int json_strv(json_t *v, const char *what, bool nullable, const char ***out, size_t *n,
                     struct bl_error *err)
{
    *out = NULL;
    *n = 0;
    if (nullable && json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > 4096)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "options: field \"%s\": expected an array of at most 4096 strings%s", what,
                      nullable ? " or null" : "");
    const char **a = calloc(json_array_size(v) + 1, sizeof *a);
    if (!a)
        return bl_err(err, BOXLITE_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e)) {
            free(a);
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "options: field \"%s[%zu]\": expected a string without NUL bytes",
                          what, i);
        }
        a[i] = json_string_value(e);
    }
    *out = a;
    *n = json_array_size(v);
    return 0;
}

static int read_argv_or_health(struct boxlite_options *o, const char *k, json_t *v,
                               struct bl_error *err)
{
    const char **a = NULL;
    size_t n = 0;
    int r;
    if (strcmp(k, "healthcheck") != 0) {
        if ((r = json_strv(v, k, !strcmp(k, "entrypoint"), &a, &n, err)))
            return r;
        r = opts_set_argv(o, k, a, a ? (long)n : -1, err);
        free(a);
        return r;
    }
    static const char *const keys[] = { "test", "interval_ms", "timeout_ms", "retries",
                                        "start_period_ms", NULL };
    if (json_is_null(v))
        return opts_set_health(o, NULL, 0, 0, 0, 0, 0, err);
    if ((r = check_keys(v, "healthcheck", keys, err)))
        return r;
    long long num[4] = { 0, 0, 0, 0 };
    static const char *const nums[] = { "interval_ms", "timeout_ms", "retries", "start_period_ms" };
    for (size_t i = 0; i < 4; i++) {
        json_t *x = json_object_get(v, nums[i]);
        char what[64];
        snprintf(what, sizeof what, "healthcheck.%s", nums[i]);
        if (x && !json_is_null(x) && (r = want_int(x, what, &num[i], err)))
            return r;
    }
    json_t *t = json_object_get(v, "test");
    if (t && (r = json_strv(t, "healthcheck.test", true, &a, &n, err)))
        return r;
    r = opts_set_health(o, a, (long)n, num[0], num[1], num[2], num[3], err);
    free(a);
    return r;
}

static int read_field(struct boxlite_options *o, const char *k, json_t *v, struct bl_error *err)
{
    long long n = 0;
    const char *s = NULL;
    bool b = false;
    int r;
    if (!strcmp(k, "image"))
        return (r = want_str(v, k, &s, err)) ? r : opts_set_str(&o->image, k, s, err);
    if (!strcmp(k, "rootfs_path"))
        return (r = want_str(v, k, &s, err)) ? r : opts_set_str(&o->rootfs_path, k, s, err);
    if (!strcmp(k, "working_dir"))
        return (r = want_str(v, k, &s, err)) ? r : opts_set_str(&o->working_dir, k, s, err);
    if (!strcmp(k, "user"))
        return (r = want_str(v, k, &s, err)) ? r : opts_set_str(&o->user, k, s, err);
    if (!strcmp(k, "name"))
        return (r = want_str(v, k, &s, err)) ? r : opts_set_name(o, s, err);
    if (!strcmp(k, "engine"))
        return (r = want_str(v, k, &s, err)) ? r : opts_set_engine(o, s, err);
    if (!strcmp(k, "cpu_template"))
        return (r = want_str(v, k, &s, err)) ? r : opts_set_cpu_template(o, s, err);
    if (!strcmp(k, "platform"))
        return json_is_null(v) ? opts_set_platform(o, NULL, err)
               : (r = want_str(v, k, &s, err)) ? r : opts_set_platform(o, s, err);
    if (!strcmp(k, "cpus"))
        return (r = want_int(v, k, &n, err)) ? r : opts_set_cpus(o, n, err);
    if (!strcmp(k, "memory_mib"))
        return (r = want_int(v, k, &n, err)) ? r : opts_set_memory(o, n, err);
    if (!strcmp(k, "disk_size_gb"))
        return (r = want_int(v, k, &n, err)) ? r : opts_set_disk(o, n, err);
    if (!strcmp(k, "ready_timeout_ms"))
        return (r = want_int(v, k, &n, err)) ? r : opts_set_ready_timeout(o, n, err);
    if (!strcmp(k, "network")) {
        if (json_is_string(v))
            return opts_set_network_mode(o, json_string_value(v), err);
        return (r = want_bool(v, k, &b, err)) ? r : opts_set_network_mode(o, b ? "default" : "none", err);
    }
    if (!strcmp(k, "allow_net") || !strcmp(k, "deny_net") || !strcmp(k, "allow_host")) {
        size_t i;
        json_t *e;
        if (!json_is_array(v))
            return bl_err(err, BOXLITE_ERR_INVALID, "options: field \"%s\": expected an array",
                          k);
        json_array_foreach(v, i, e) {
            if (!strcmp(k, "allow_host"))
                r = read_allow_host(o, e, err);
            else if (!json_is_string(e))
                r = bl_err(err, BOXLITE_ERR_INVALID,
                           "options: field \"%s\": expected an array of strings", k);
            else
                r = opts_add_net_rule(o, k[0] == 'd', json_string_value(e), err);
            if (r)
                return r;
        }
        return 0;
    }
    if (!strcmp(k, "auto_remove"))
        return (r = want_bool(v, k, &b, err)) ? r : (o->auto_remove = b, 0);
    if (!strcmp(k, "detach"))
        return (r = want_bool(v, k, &b, err)) ? r : (o->detach = b, 0);
    if (!strcmp(k, "env")) {
        const char *ek;
        json_t *ev;
        if (!json_is_object(v))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "options: field \"env\": expected an object of strings");
        json_object_foreach(v, ek, ev) {
            if (!json_is_string(ev))
                return bl_err(err, BOXLITE_ERR_INVALID,
                              "options: field \"env.%s\": expected a string", ek);
            if ((r = opts_set_env(o, ek, json_string_value(ev), err)))
                return r;
        }
        return 0;
    }
    if (!strcmp(k, "labels")) {
        const char *lk;
        json_t *lv;
        if (!json_is_object(v))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "options: field \"labels\": expected an object of strings");
        json_object_foreach(v, lk, lv) {
            if (!json_is_string(lv))
                return bl_err(err, BOXLITE_ERR_INVALID,
                              "options: field \"labels.%s\": expected a string", lk);
            if ((r = opts_set_label(o, lk, json_string_value(lv), err)))
                return r;
        }
        return 0;
    }
    if (!strcmp(k, "hostname"))
        return (r = want_str(v, k, &s, err)) ? r : opts_set_hostname(o, s, err);
    if (!strcmp(k, "read_only"))
        return (r = want_bool(v, k, &b, err)) ? r : (o->read_only = b, 0);
    if (!strcmp(k, "stdin_open"))
        return (r = want_bool(v, k, &b, err)) ? r : (o->stdin_open = b, 0);
    if (!strcmp(k, "tty"))
        return (r = want_bool(v, k, &b, err)) ? r : (o->tty = b, 0);
    /* the two are checked together by opts_validate_for_create, in whatever order they come */
    if (!strcmp(k, "restart")) {
        int keep = o->restart_max;
        r = (r = want_str(v, k, &s, err)) ? r : opts_set_restart(o, s, 0, err);
        o->restart_max = keep;
        return r;
    }
    if (!strcmp(k, "restart_max"))
        return (r = want_int(v, k, &n, err)) ? r
               : (r = range("restart_max", n, 0, 1000000, err)) ? r : (o->restart_max = (int)n, 0);
    if (!strcmp(k, "cmd") || !strcmp(k, "entrypoint") || !strcmp(k, "healthcheck"))
        return read_argv_or_health(o, k, v, err);
    if (!strcmp(k, "main_process"))
        return (r = want_bool(v, k, &b, err)) ? r : (o->main_process = b, 0);
    if (!strcmp(k, "idle_pause_s"))
        return (r = want_int(v, k, &n, err)) ? r
               : (r = range("idle_pause_s", n, 0, 365 * 24 * 3600, err)) ? r
               : (o->idle_pause_s = (int)n, 0);
    if (!strcmp(k, "balloon_target_mib"))
        return (r = want_int(v, k, &n, err)) ? r
               : (r = range("balloon_target_mib", n, 0, BL_MAX_MEMORY_MIB, err)) ? r
               : (o->balloon_target_mib = (int)n, 0);
    if (!strcmp(k, "free_page_reporting"))
        return (r = want_bool(v, k, &b, err)) ? r : (o->no_page_reporting = !b, 0);
    if (!strcmp(k, "ksm"))
        return (r = want_bool(v, k, &b, err)) ? r : (o->ksm = b, 0);
    if (!strcmp(k, "rootfs_share"))
        return (r = want_bool(v, k, &b, err)) ? r : (o->rootfs_share = b, 0);
    if (!strcmp(k, "log_max_size"))
        return (r = want_int(v, k, &n, err)) ? r : opts_set_log(o, n, o->log_max_files, err);
    if (!strcmp(k, "log_max_files"))
        return (r = want_int(v, k, &n, err)) ? r : opts_set_log(o, o->log_max_bytes, n, err);
    if (!strcmp(k, "volumes") || !strcmp(k, "ports")) {
        size_t i;
        json_t *e;
        if (!json_is_array(v))
            return bl_err(err, BOXLITE_ERR_INVALID, "options: field \"%s\": expected an array",
                          k);
        json_array_foreach(v, i, e) {
            if (!strcmp(k, "volumes"))
                r = read_volume(o, e, err);
            else
                r = read_port(o, e, err);
            if (r)
                return r;
        }
        return 0;
    }
    return bl_err(err, BOXLITE_ERR_INVALID, "options: unknown field \"%s\"", k);
}

int opts_from_json(struct boxlite_options *o, const char *json, struct bl_error *err)
{
    json_error_t jerr;
    if (!json)
        return bl_err(err, BOXLITE_ERR_INVALID, "options: no JSON given");
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bl_err(err, BOXLITE_ERR_INVALID, "options: malformed JSON at line %d column %d: %s",
                      jerr.line, jerr.column, jerr.text);
    int r = 0;
    if (!json_is_object(root))
        r = bl_err(err, BOXLITE_ERR_INVALID, "options: expected a JSON object");
    const char *k;
    json_t *v;
    if (!r) {
        json_object_foreach(root, k, v) {
            if ((r = read_field(o, k, v, err)))
                break;
        }
    }
    json_decref(root);
    return r;
}

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

char *opts_to_json(const struct boxlite_options *o)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    json_object_set_new(root, "image", jstr(o->image));
    json_object_set_new(root, "rootfs_path", jstr(o->rootfs_path));
    json_object_set_new(root, "cpus", json_integer(o->cpus));
    json_object_set_new(root, "memory_mib", json_integer(o->memory_mib));
    json_object_set_new(root, "disk_size_gb", json_integer(o->disk_size_gb));
    json_t *env = json_object();
    for (size_t i = 0; i < o->nenv; i++)
        json_object_set_new(env, o->env[i].key, json_string(o->env[i].value));
    json_object_set_new(root, "env", env);
    json_object_set_new(root, "working_dir", jstr(o->working_dir));
    json_object_set_new(root, "user", jstr(o->user));
    json_t *vols = json_array();
    for (size_t i = 0; i < o->nvolumes; i++)
        json_array_append_new(vols, json_pack("{s:s, s:s, s:b}", "host_path",
                                              o->volumes[i].host_path, "guest_path",
                                              o->volumes[i].guest_path, "read_only",
                                              o->volumes[i].read_only));
    json_object_set_new(root, "volumes", vols);
    json_t *ports = json_array();
    for (size_t i = 0; i < o->nports; i++)
        json_array_append_new(ports, json_pack("{s:i, s:i, s:s, s:s}", "host_port",
                                               o->ports[i].host_port, "guest_port",
                                               o->ports[i].guest_port, "protocol",
                                               o->ports[i].udp ? "udp" : "tcp", "host_addr",
                                               o->ports[i].host_addr));
    json_object_set_new(root, "ports", ports);
    json_t *cmd = json_array();
    for (size_t i = 0; i < o->ncmd; i++)
        json_array_append_new(cmd, json_string(o->cmd[i]));
    json_object_set_new(root, "cmd", cmd);
    json_t *ep = json_null();
    if (o->entrypoint_set) {
        ep = json_array();
        for (size_t i = 0; i < o->nentrypoint; i++)
            json_array_append_new(ep, json_string(o->entrypoint[i]));
    }
    json_object_set_new(root, "entrypoint", ep);
    json_object_set_new(root, "main_process", json_boolean(o->main_process));
    json_t *hc = json_null();
    if (o->health.ntest || o->health.interval_ms || o->health.timeout_ms || o->health.retries ||
        o->health.start_period_ms) {
        json_t *test = json_null();
        if (o->health.ntest) {
            test = json_array();
            for (size_t i = 0; i < o->health.ntest; i++)
                json_array_append_new(test, json_string(o->health.test[i]));
        }
        hc = json_pack("{s:o, s:I, s:I, s:i, s:I}", "test", test, "interval_ms",
                       (json_int_t)o->health.interval_ms, "timeout_ms",
                       (json_int_t)o->health.timeout_ms, "retries", o->health.retries,
                       "start_period_ms", (json_int_t)o->health.start_period_ms);
    }
    json_object_set_new(root, "healthcheck", hc ? hc : json_null());
    json_object_set_new(root, "log_max_size", json_integer(o->log_max_bytes));
    json_object_set_new(root, "log_max_files", json_integer(o->log_max_files));
    if (o->netns) {
        char *mode = NULL;
        json_object_set_new(root, "network", asprintf(&mode, "netns:%s", o->netns) < 0
                                                 ? json_null() : json_string(mode));
        free(mode);
    } else {
        json_object_set_new(root, "network", json_boolean(o->network));
    }
    json_t *allow = json_array(), *deny = json_array(), *host = json_array();
    for (size_t i = 0; i < o->nallow_net; i++)
        json_array_append_new(allow, json_string(o->allow_net[i]));
    for (size_t i = 0; i < o->ndeny_net; i++)
        json_array_append_new(deny, json_string(o->deny_net[i]));
    for (size_t i = 0; i < o->nallow_host; i++)
        json_array_append_new(host, json_pack("{s:i, s:s}", "port", o->allow_host[i].port,
                                              "protocol", o->allow_host[i].udp ? "udp" : "tcp"));
    json_object_set_new(root, "allow_net", allow);
    json_object_set_new(root, "deny_net", deny);
    json_object_set_new(root, "allow_host", host);
    json_object_set_new(root, "name", jstr(o->name));
    json_object_set_new(root, "auto_remove", json_boolean(o->auto_remove));
    json_object_set_new(root, "detach", json_boolean(o->detach));
    json_object_set_new(root, "ready_timeout_ms", json_integer(o->ready_timeout_ms));
    json_object_set_new(root, "engine", jstr(o->engine ? o->engine : "auto"));
    json_object_set_new(root, "cpu_template", jstr(o->cpu_template ? o->cpu_template : "auto"));
    json_object_set_new(root, "platform", jstr(o->platform));
    json_t *labels = json_object();
    for (size_t i = 0; i < o->nlabels; i++)
        json_object_set_new(labels, o->labels[i].key, json_string(o->labels[i].value));
    json_object_set_new(root, "labels", labels);
    json_object_set_new(root, "hostname", jstr(o->hostname));
    json_object_set_new(root, "read_only", json_boolean(o->read_only));
    json_object_set_new(root, "restart", json_string(o->restart ? o->restart : "no"));
    json_object_set_new(root, "restart_max", json_integer(o->restart_max));
    json_object_set_new(root, "stdin_open", json_boolean(o->stdin_open));
    json_object_set_new(root, "tty", json_boolean(o->tty));
    json_object_set_new(root, "idle_pause_s", json_integer(o->idle_pause_s));
    json_object_set_new(root, "balloon_target_mib", json_integer(o->balloon_target_mib));
    json_object_set_new(root, "free_page_reporting", json_boolean(!o->no_page_reporting));
    json_object_set_new(root, "ksm", json_boolean(o->ksm));
    json_object_set_new(root, "rootfs_share", json_boolean(o->rootfs_share));
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

int opts_copy(struct boxlite_options *dst, const struct boxlite_options *src,
              struct bl_error *err)
{
    cleanup_free char *json = opts_to_json(src);
    if (!json)
        return bl_err(err, BOXLITE_ERR_NOMEM, "options: out of memory");
    opts_init(dst);
    int r = opts_from_json(dst, json, err);
    if (r)
        opts_clear(dst);
    return r;
}
