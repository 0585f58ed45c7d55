// SPDX-License-Identifier: Apache-2.0
/* The per-box process's config file (docs/architecture.md, "The per-box process"): JSON
 * read with jansson into struct vmm_config. Every key is known; an unknown key, a wrong
 * type or an out-of-range value is an error that names the key, so a typo in the library's
 * writer shows up at once instead of as a default silently taken. */
#include "vmm/config.h"

#include "common/cleanup.h"
#include "common/hostarch.h"
#include "proto/proto.h"
#include "vmm/arch/arch.h"
#include "vmm/logrot.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_CPUS 64           /* CONFIG_NR_CPUS of our guest kernel */
#define CFG_MIN_MEMORY_MIB 32
#define CFG_MAX_MEMORY_MIB (1u << 20) /* 1 TiB */
#define CFG_MAX_DISKS 16
#define CFG_MAX_SHARES 16
#define CFG_MAX_PORTS 64

static int bad(struct bl_error *err, const char *where, const char *what)
{
    return bl_err(err, BOXLITE_ERR_INVALID, "config: %s: %s", where, what);
}

/* Rejects any key of obj not in the NULL-terminated list. */
static int check_keys(json_t *obj, const char *where, const char *const *known,
                      struct bl_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (const char *const *k = known; *k; k++)
            if (strcmp(*k, key) == 0)
                ok = true;
        if (!ok)
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s%sunknown key \"%s\"", where,
                          *where ? ": " : "", key);
    }
    return 0;
}

/* Optional string: absent or null leaves *out NULL. */
static int get_str(json_t *obj, const char *key, const char *where, char **out,
                   struct bl_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    char name[160];
    snprintf(name, sizeof name, "%s%s%s", where, *where ? "." : "", key);
    if (!json_is_string(v))
        return bad(err, name, "must be a string");
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return bad(err, name, "contains a NUL byte");
    if (!*s)
        return bad(err, name, "must not be empty");
    *out = strdup(s);
    if (!*out)
        return bl_errno(err, ENOMEM, "config: %s", name);
    return 0;
}

static int get_bool(json_t *obj, const char *key, const char *where, bool *out,
                    struct bl_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        char name[160];
        snprintf(name, sizeof name, "%s%s%s", where, *where ? "." : "", key);
        return bad(err, name, "must be true or false");
    }
    *out = json_is_true(v);
    return 0;
}

static int get_uint(json_t *obj, const char *key, const char *where, uint64_t lo,
                    uint64_t hi, uint64_t *out, struct bl_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    char name[160];
    snprintf(name, sizeof name, "%s%s%s", where, *where ? "." : "", key);
    if (!json_is_integer(v))
        return bad(err, name, "must be an integer");
    json_int_t n = json_integer_value(v);
    if (n < 0 || (uint64_t)n < lo || (uint64_t)n > hi)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s: %lld is outside %llu..%llu", name,
                      (long long)n, (unsigned long long)lo, (unsigned long long)hi);
    *out = (uint64_t)n;
    return 0;
}

/* An optional array of objects; *n is set to its length (0 when absent). */
static int get_array(json_t *obj, const char *key, const char *where, size_t max, json_t **out,
                     size_t *n, struct bl_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return 0;
    char name[160];
    snprintf(name, sizeof name, "%s%s%s", where, *where ? "." : "", key);
    if (!json_is_array(v))
        return bad(err, name, "must be an array");
    if (json_array_size(v) > max)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s: more than %zu entries", name, max);
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_object(json_array_get(v, i)))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s[%zu]: must be an object", name,
                          i);
    *out = v;
    *n = json_array_size(v);
    return 0;
}

static int parse_disks(struct vmm_config *cfg, json_t *root, struct bl_error *err)
{
    static const char *const keys[] = { "path", "format", "readonly", NULL };
    json_t *arr;
    size_t n;
    if (get_array(root, "disks", "", CFG_MAX_DISKS, &arr, &n, err) < 0)
        return -err->code;
    if (!n)
        return 0;
    cfg->disks = calloc(n, sizeof *cfg->disks);
    if (!cfg->disks)
        return bl_errno(err, ENOMEM, "config: disks");
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(arr, i);
        struct vmm_disk_cfg *dc = &cfg->disks[i];
        char where[32];
        snprintf(where, sizeof where, "disks[%zu]", i);
        cfg->ndisks = (unsigned)i + 1;
        if (check_keys(d, where, keys, err) < 0 || get_str(d, "path", where, &dc->path, err) < 0 ||
            get_str(d, "format", where, &dc->format, err) < 0 ||
            get_bool(d, "readonly", where, &dc->readonly, err) < 0)
            return -err->code;
        if (!dc->path)
            return bad(err, where, "\"path\" is required");
        if (dc->format && strcmp(dc->format, "raw") && strcmp(dc->format, "qcow2"))
            return bad(err, where, "\"format\" must be \"raw\" or \"qcow2\"");
    }
    return 0;
}

static bool valid_tag(const char *tag)
{
    /* virtio-9p mount tags travel in a 16-bit-length field; keep them short and plain so
     * they fit the guest's mount command line as well. */
    size_t n = strlen(tag);
    if (n > 31)
        return false;
    for (const char *p = tag; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

static int parse_shares(struct vmm_config *cfg, json_t *root, struct bl_error *err)
{
    static const char *const keys[] = { "tag", "path", "readonly", "rootfs", NULL };
    json_t *arr;
    size_t n;
    if (get_array(root, "shares", "", CFG_MAX_SHARES, &arr, &n, err) < 0)
        return -err->code;
    if (!n)
        return 0;
    cfg->shares = calloc(n, sizeof *cfg->shares);
    if (!cfg->shares)
        return bl_errno(err, ENOMEM, "config: shares");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(arr, i);
        struct vmm_share_cfg *sc = &cfg->shares[i];
        char where[32];
        snprintf(where, sizeof where, "shares[%zu]", i);
        cfg->nshares = (unsigned)i + 1;
        if (check_keys(s, where, keys, err) < 0 || get_str(s, "tag", where, &sc->tag, err) < 0 ||
            get_str(s, "path", where, &sc->path, err) < 0 ||
            get_bool(s, "readonly", where, &sc->readonly, err) < 0 ||
            get_bool(s, "rootfs", where, &sc->rootfs, err) < 0)
            return -err->code;
        if (!sc->tag || !sc->path)
            return bad(err, where, "\"tag\" and \"path\" are required");
        if (!valid_tag(sc->tag))
            return bad(err, where, "\"tag\" must be 1-31 characters of [A-Za-z0-9._-]");
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->shares[j].tag, sc->tag) == 0)
                return bad(err, where, "duplicate \"tag\"");
    }
    return 0;
}

/* network.allow_net / deny_net: arrays of rule strings (src/vmm/net/rule.h). */
static int parse_rules(json_t *net, const char *key, struct net_rule **out, unsigned *n,
                       struct bl_error *err)
{
    json_t *v = json_object_get(net, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: network.%s: must be an array", key);
    if (json_array_size(v) > NET_RULES_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: network.%s: more than %d rules", key,
                      NET_RULES_MAX);
    if (!json_array_size(v))
        return 0;
    *out = calloc(json_array_size(v), sizeof **out);
    if (!*out)
        return bl_errno(err, ENOMEM, "config: network.%s", key);
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *r = json_array_get(v, i);
        if (!json_is_string(r) || strlen(json_string_value(r)) != json_string_length(r))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: network.%s[%zu]: must be a string",
                          key, i);
        if (net_rule_parse(json_string_value(r), &(*out)[i], err) < 0)
            return bl_err_prefix(err, "config: network.%s[%zu]", key, i);
        *n = (unsigned)i + 1;
    }
    return 0;
}

/* network.allow_host: [{"port": 5432, "proto": "tcp"}] */
static int parse_allow_host(struct vmm_config *cfg, json_t *net, struct bl_error *err)
{
    static const char *const keys[] = { "port", "proto", NULL };
    json_t *arr;
    size_t n;
    if (get_array(net, "allow_host", "network", CFG_MAX_PORTS, &arr, &n, err) < 0)
        return -err->code;
    if (!n)
        return 0;
    cfg->allow_host = calloc(n, sizeof *cfg->allow_host);
    if (!cfg->allow_host)
        return bl_errno(err, ENOMEM, "config: network.allow_host");
    for (size_t i = 0; i < n; i++) {
        json_t *h = json_array_get(arr, i);
        char where[48];
        snprintf(where, sizeof where, "network.allow_host[%zu]", i);
        char *proto cleanup_free = NULL;
        uint64_t port = 0;
        if (check_keys(h, where, keys, err) < 0 || get_str(h, "proto", where, &proto, err) < 0 ||
            get_uint(h, "port", where, 1, 65535, &port, err) < 0)
            return -err->code;
        if (!port)
            return bad(err, where, "\"port\" is required");
        if (proto && strcmp(proto, "tcp") && strcmp(proto, "udp"))
            return bad(err, where, "\"proto\" must be \"tcp\" or \"udp\"");
        cfg->allow_host[i] = (struct net_host_port){ (uint16_t)port, proto && !strcmp(proto, "udp") };
        cfg->nallow_host = (unsigned)i + 1;
    }
    return 0;
}

static int parse_network(struct vmm_config *cfg, json_t *root, struct bl_error *err)
{
    static const char *const keys[] = { "enabled", "ports", "allow_net", "deny_net",
                                        "allow_host", "mac", "netns", NULL };
    static const char *const port_keys[] = { "proto", "host_addr", "host_port", "guest_port",
                                             NULL };
    json_t *net = json_object_get(root, "network");
    if (!net || json_is_null(net))
        return 0;
    if (!json_is_object(net))
        return bad(err, "network", "must be an object");
    if (check_keys(net, "network", keys, err) < 0 ||
        get_bool(net, "enabled", "network", &cfg->network, err) < 0)
        return -err->code;
    if (parse_rules(net, "allow_net", &cfg->allow_net, &cfg->nallow_net, err) < 0 ||
        parse_rules(net, "deny_net", &cfg->deny_net, &cfg->ndeny_net, err) < 0 ||
        parse_allow_host(cfg, net, err) < 0)
        return -err->code;
    char *mac cleanup_free = NULL;
    if (get_str(net, "mac", "network", &mac, err) < 0)
        return -err->code;
    if (mac && proto_mac_parse(mac, cfg->mac) < 0)
        return bad(err, "network.mac", "must be a unicast MAC as aa:bb:cc:dd:ee:ff");
    cfg->mac_set = mac != NULL;
    if (get_str(net, "netns", "network", &cfg->netns, err) < 0)
        return -err->code;
    if (cfg->netns && (cfg->netns[0] != '/' || !cfg->network))
        return bad(err, "network.netns", "must be an absolute path, with \"enabled\": true");
    if (cfg->netns && (cfg->nallow_net || cfg->ndeny_net || cfg->nallow_host ||
                       json_array_size(json_object_get(net, "ports"))))
        return bad(err, "network.netns", "takes no ports, allow_net, deny_net or allow_host: "
                   "the namespace's own rules apply");
    if (!cfg->network && (cfg->nallow_net || cfg->ndeny_net || cfg->nallow_host))
        return bad(err, "network", "allow_net, deny_net and allow_host need \"enabled\": true");
    json_t *arr;
    size_t n;
    if (get_array(net, "ports", "network", CFG_MAX_PORTS, &arr, &n, err) < 0)
        return -err->code;
    if (!n)
        return 0;
    if (!cfg->network)
        return bad(err, "network.ports", "port forwarding needs \"enabled\": true");
    cfg->ports = calloc(n, sizeof *cfg->ports);
    if (!cfg->ports)
        return bl_errno(err, ENOMEM, "config: network.ports");
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(arr, i);
        struct vmm_port_cfg *pc = &cfg->ports[i];
        char where[48];
        snprintf(where, sizeof where, "network.ports[%zu]", i);
        cfg->nports = (unsigned)i + 1;
        char *proto cleanup_free = NULL;
        uint64_t host_port = 0, guest_port = 0;
        if (check_keys(p, where, port_keys, err) < 0 ||
            get_str(p, "proto", where, &proto, err) < 0 ||
            get_str(p, "host_addr", where, &pc->host_addr, err) < 0 ||
            get_uint(p, "host_port", where, 0, 65535, &host_port, err) < 0 ||
            get_uint(p, "guest_port", where, 1, 65535, &guest_port, err) < 0)
            return -err->code;
        if (!proto || strcmp(proto, "tcp") == 0)
            pc->udp = false;
        else if (strcmp(proto, "udp") == 0)
            pc->udp = true;
        else
            return bad(err, where, "\"proto\" must be \"tcp\" or \"udp\"");
        if (!guest_port)
            return bad(err, where, "\"guest_port\" is required");
        if (!pc->host_addr && !(pc->host_addr = strdup("127.0.0.1")))
            return bl_errno(err, ENOMEM, "config: %s", where);
        pc->host_port = (uint16_t)host_port;
        pc->guest_port = (uint16_t)guest_port;
    }
    return 0;
}

/* The KVM engine's CPU and its boot: "cpu_template" (arch.h, "CPU templates"; the QEMU
 * engine uses QEMU's own models), "kvm_boot_timeout_ms" (an engine chosen by "auto" as KVM
 * that has no ready guest by then is ended, so the library can start the box on QEMU), and
 * "test_break_boot" (tests only: a KVM boot that fails on purpose, engine.h). */
static int parse_cpu(struct vmm_config *cfg, json_t *root, struct bl_error *err)
{
    uint64_t ms = 0;
    if (get_str(root, "cpu_template", "", &cfg->cpu_template, err) < 0 ||
        get_str(root, "test_break_boot", "", &cfg->test_break_boot, err) < 0 ||
        get_uint(root, "kvm_boot_timeout_ms", "", 0, 24u * 3600 * 1000, &ms, err) < 0)
        return -err->code;
    cfg->kvm_boot_timeout_ms = (uint32_t)ms;
    if (cfg->cpu_template && strcmp(cfg->cpu_template, "auto") != 0) {
        bool known = false;
        for (const char *const *t = arch_cpu_templates; *t; t++)
            known |= strcmp(*t, cfg->cpu_template) == 0;
        if (!known)
            return bad(err, "cpu_template", "unknown template (see boxlite-vmm --cpu-templates)");
    }
    if (cfg->test_break_boot && strcmp(cfg->test_break_boot, "triple-fault") != 0 &&
        strcmp(cfg->test_break_boot, "internal-error") != 0)
        return bad(err, "test_break_boot", "must be \"triple-fault\" or \"internal-error\"");
    return 0;
}

static int parse_jail(struct vmm_config *cfg, json_t *root, struct bl_error *err)
{
    static const char *const keys[] = { "enabled", "uid", "gid", "cgroup", "memory_mib",
                                        "pids", "uid_range", "cgroup_nested", NULL };
    struct vmm_jail_cfg *j = &cfg->jail;
    j->uid = j->gid = 65534;
    json_t *o = json_object_get(root, "jail");
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o))
        return bad(err, "jail", "must be an object");
    bool enabled = true;
    uint64_t uid = j->uid, gid = j->gid, mem = 0, pids = 0;
    if (check_keys(o, "jail", keys, err) < 0 || get_bool(o, "enabled", "jail", &enabled, err) < 0 ||
        get_uint(o, "uid", "jail", 1, UINT32_MAX - 1, &uid, err) < 0 ||
        get_uint(o, "gid", "jail", 1, UINT32_MAX - 1, &gid, err) < 0 ||
        get_str(o, "cgroup", "jail", &j->cgroup, err) < 0 ||
        get_bool(o, "cgroup_nested", "jail", &j->cgroup_nested, err) < 0 ||
        get_uint(o, "memory_mib", "jail", 0, CFG_MAX_MEMORY_MIB * 2ull, &mem, err) < 0 ||
        get_uint(o, "pids", "jail", 0, 1u << 22, &pids, err) < 0)
        return -err->code;
    if (j->cgroup && (j->cgroup[0] == '/' || strstr(j->cgroup, "..")))
        return bad(err, "jail.cgroup", "must be a relative name without \"..\"");
    json_t *range = json_object_get(o, "uid_range");
    if (range && !json_is_null(range)) {
        static const char *const rkeys[] = { "first", "count", "locks", NULL };
        uint64_t first = 0, count = 0;
        if (!json_is_object(range))
            return bad(err, "jail.uid_range", "must be an object");
        if (check_keys(range, "jail.uid_range", rkeys, err) < 0 ||
            get_uint(range, "first", "jail.uid_range", 1, UINT32_MAX - 1, &first, err) < 0 ||
            get_uint(range, "count", "jail.uid_range", 1, 1u << 20, &count, err) < 0 ||
            get_str(range, "locks", "jail.uid_range", &j->uid_locks, err) < 0)
            return -err->code;
        if (first + count > UINT32_MAX)
            return bad(err, "jail.uid_range", "first + count must stay below 4294967295");
        if (!j->uid_locks || j->uid_locks[0] != '/')
            return bad(err, "jail.uid_range.locks", "must be an absolute folder");
        j->uid_first = (uint32_t)first;
        j->uid_count = (uint32_t)count;
    }
    j->disabled = !enabled;
    j->uid = (uint32_t)uid;
    j->gid = (uint32_t)gid;
    j->memory_mib = (uint32_t)mem;
    j->pids = (uint32_t)pids;
    return 0;
}

/* An array of strings into a NULL-terminated vector; absent leaves *out NULL. */
static int get_strv(json_t *obj, const char *key, const char *where, size_t max, char ***out,
                    struct bl_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    char name[160];
    snprintf(name, sizeof name, "%s%s%s", where, *where ? "." : "", key);
    if (!json_is_array(v) || json_array_size(v) > max)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s: must be an array of at most %zu "
                      "strings", name, max);
    char **sv = calloc(json_array_size(v) + 1, sizeof *sv);
    if (!sv)
        return bl_errno(err, ENOMEM, "config: %s", name);
    *out = sv;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
            return bad(err, name, "must hold strings without NUL bytes");
        if (!(sv[i] = strdup(json_string_value(e))))
            return bl_errno(err, ENOMEM, "config: %s", name);
    }
    return 0;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

#define DAY_MS (24ull * 3600 * 1000)

static int parse_health(struct vmm_config *cfg, json_t *root, struct bl_error *err)
{
    static const char *const keys[] = { "argv", "env", "cwd", "user", "interval_ms",
                                        "timeout_ms", "start_period_ms", "retries", NULL };
    json_t *h = json_object_get(root, "health");
    if (!h || json_is_null(h))
        return 0;
    if (!json_is_object(h))
        return bad(err, "health", "must be an object");
    if (check_keys(h, "health", keys, err) < 0)
        return -err->code;
    struct vmm_health_cfg *hc = calloc(1, sizeof *hc);
    if (!hc)
        return bl_errno(err, ENOMEM, "config: health");
    cfg->health = hc;
    uint64_t retries = 3;
    hc->interval_ms = 30000;
    hc->timeout_ms = 30000;
    if (get_strv(h, "argv", "health", 4096, &hc->argv, err) < 0 ||
        get_strv(h, "env", "health", 4096, &hc->env, err) < 0 ||
        get_str(h, "cwd", "health", &hc->cwd, err) < 0 ||
        get_str(h, "user", "health", &hc->user, err) < 0 ||
        get_uint(h, "interval_ms", "health", 100, DAY_MS, &hc->interval_ms, err) < 0 ||
        get_uint(h, "timeout_ms", "health", 100, DAY_MS, &hc->timeout_ms, err) < 0 ||
        get_uint(h, "start_period_ms", "health", 0, DAY_MS, &hc->start_period_ms, err) < 0 ||
        get_uint(h, "retries", "health", 1, 1000, &retries, err) < 0)
        return -err->code;
    if (!hc->argv || !hc->argv[0] || !hc->argv[0][0])
        return bad(err, "health.argv", "is required");
    hc->retries = (uint32_t)retries;
    return 0;
}

/* "memory" (QEMU engine; src/vmm/qemu/migrate.c): the guest RAM in a file, what a pause
 * saves and a resume loads. */
static int parse_memory(struct vmm_config *cfg, json_t *root, struct bl_error *err)
{
    static const char *const keys[] = { "file", "shared", "incoming", "state",
                                        "idle_pause_ms", "restarts", NULL };
    json_t *o = json_object_get(root, "memory");
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o))
        return bad(err, "memory", "must be an object");
    cfg->memory_shared = true;
    uint64_t idle = 0;
    if (check_keys(o, "memory", keys, err) < 0 ||
        get_str(o, "file", "memory", &cfg->memory_file, err) < 0 ||
        get_bool(o, "shared", "memory", &cfg->memory_shared, err) < 0 ||
        get_str(o, "incoming", "memory", &cfg->memory_incoming, err) < 0 ||
        get_str(o, "state", "memory", &cfg->memory_state, err) < 0 ||
        get_uint(o, "idle_pause_ms", "memory", 0, 365ull * 24 * 3600 * 1000, &idle, err) < 0 ||
        get_uint(o, "restarts", "memory", 0, UINT32_MAX, &cfg->memory_restarts, err) < 0)
        return -err->code;
    cfg->idle_pause_ms = idle;
    const char *paths[] = { cfg->memory_file, cfg->memory_incoming, cfg->memory_state };
    const char *names[] = { "memory.file", "memory.incoming", "memory.state" };
    for (size_t i = 0; i < 3; i++)
        if (paths[i] && (paths[i][0] != '/' || strchr(paths[i], ',')))
            return bad(err, names[i], "must be an absolute path without a comma");
    if (cfg->memory_incoming && !cfg->memory_file)
        return bad(err, "memory.incoming", "needs memory.file");
    return 0;
}

/* "balloon", "ksm", "tcg_tb_mib" (docs/protocol.md "Balloon"): what the engines do to give
 * an idle guest's memory back. Reporting is on unless turned off; KSM off unless turned on. */
static int parse_density(struct vmm_config *cfg, json_t *root, struct bl_error *err)
{
    static const char *const keys[] = { "free_page_reporting", "target_mib", NULL };
    cfg->balloon_reporting = true;
    uint64_t target = 0, tb = 0;
    json_t *o = json_object_get(root, "balloon");
    if (o && !json_is_null(o)) {
        if (!json_is_object(o))
            return bad(err, "balloon", "must be an object");
        if (check_keys(o, "balloon", keys, err) < 0 ||
            get_bool(o, "free_page_reporting", "balloon", &cfg->balloon_reporting, err) < 0 ||
            get_uint(o, "target_mib", "balloon", 0, CFG_MAX_MEMORY_MIB, &target, err) < 0)
            return -err->code;
        if (target && (target < VMM_BALLOON_MIN_MIB || target > cfg->memory_mib))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "config: balloon.target_mib: %llu is out of range (0 = none, or "
                          "%u..%u, the box's memory)",
                          (unsigned long long)target, VMM_BALLOON_MIN_MIB, cfg->memory_mib);
    }
    if (get_bool(root, "ksm", "", &cfg->ksm, err) < 0 ||
        get_uint(root, "tcg_tb_mib", "", 0, 2048, &tb, err) < 0)
        return -err->code;
    cfg->balloon_target_mib = (uint32_t)target;
    cfg->tcg_tb_mib = (uint32_t)tb;
    return 0;
}

static int parse_root(struct vmm_config *cfg, json_t *root, struct bl_error *err)
{
    static const char *const keys[] = { "engine",  "kernel",     "initrd",     "cmdline",
                                        "cpus",    "memory_mib", "disks",      "shares",
                                        "network", "console_log", "box_socket", "ready_file",
                                        "cpu_template", "kvm_boot_timeout_ms", "test_break_boot",
                                        "jail", "vmm_log", "log_max_bytes", "log_files", "health",
                                        "qemu_binary", "memory", "balloon", "ksm", "tcg_tb_mib",
                                        "arch", NULL };
    if (!json_is_object(root))
        return bl_err(err, BOXLITE_ERR_INVALID, "config: the top level must be an object");
    if (check_keys(root, "", keys, err) < 0)
        return -err->code;

    uint64_t cpus = 1, mem = 512;
    if (get_str(root, "engine", "", &cfg->engine, err) < 0 ||
        get_str(root, "kernel", "", &cfg->kernel, err) < 0 ||
        get_str(root, "initrd", "", &cfg->initrd, err) < 0 ||
        get_str(root, "console_log", "", &cfg->console_log, err) < 0 ||
        get_str(root, "box_socket", "", &cfg->box_socket, err) < 0 ||
        get_str(root, "ready_file", "", &cfg->ready_file, err) < 0 ||
        get_uint(root, "cpus", "", 1, CFG_MAX_CPUS, &cpus, err) < 0 ||
        get_uint(root, "memory_mib", "", CFG_MIN_MEMORY_MIB, CFG_MAX_MEMORY_MIB, &mem, err) < 0)
        return -err->code;
    uint64_t files = LOGROT_DEFAULT_FILES;
    cfg->log_max_bytes = LOGROT_DEFAULT_MAX_BYTES;
    if (get_str(root, "vmm_log", "", &cfg->vmm_log, err) < 0 ||
        get_uint(root, "log_max_bytes", "", LOGROT_MIN_MAX_BYTES, 1ull << 40,
                 &cfg->log_max_bytes, err) < 0 ||
        get_uint(root, "log_files", "", 1, LOGROT_MAX_FILES, &files, err) < 0 ||
        parse_health(cfg, root, err) < 0 ||
        get_str(root, "qemu_binary", "", &cfg->qemu_binary, err) < 0)
        return -err->code;
    /* Relative to what? The process changes folders and the jail pivots its root. */
    if (cfg->qemu_binary && cfg->qemu_binary[0] != '/')
        return bad(err, "qemu_binary", "must be an absolute path");
    /* "arch": the box's architecture, uname's name (the OCI one accepted); absent: the
     * host's. Another than the host's runs on the QEMU engine (main.c). */
    if (get_str(root, "arch", "", &cfg->arch, err) < 0)
        return -err->code;
    if (cfg->arch) {
        const char *m = machine_of_oci_arch(cfg->arch);
        if (strcmp(m, "x86_64") && strcmp(m, "aarch64"))
            return bad(err, "arch", "must be \"x86_64\" or \"aarch64\"");
        if (m != cfg->arch) {
            char *norm = strdup(m);
            if (!norm)
                return bl_errno(err, ENOMEM, "config: arch");
            free(cfg->arch);
            cfg->arch = norm;
        }
    }
    cfg->log_files = (uint32_t)files;
    /* The command line may be empty, unlike the other strings. */
    json_t *cl = json_object_get(root, "cmdline");
    if (cl && !json_is_null(cl)) {
        if (!json_is_string(cl) || strlen(json_string_value(cl)) != json_string_length(cl))
            return bad(err, "cmdline", "must be a string");
        if (!(cfg->cmdline = strdup(json_string_value(cl))))
            return bl_errno(err, ENOMEM, "config: cmdline");
    }
    cfg->cpus = (uint32_t)cpus;
    cfg->memory_mib = (uint32_t)mem;
    if (!cfg->engine && !(cfg->engine = strdup("auto")))
        return bl_errno(err, ENOMEM, "config: engine");
    if (strcmp(cfg->engine, "kvm") != 0 && strcmp(cfg->engine, "qemu") != 0 &&
        strcmp(cfg->engine, "auto") != 0)
        return bad(err, "engine", "must be \"kvm\", \"qemu\" or \"auto\"");
    if (!cfg->kernel)
        return bad(err, "kernel", "is required");
    if (parse_disks(cfg, root, err) < 0 || parse_shares(cfg, root, err) < 0 ||
        parse_network(cfg, root, err) < 0 || parse_cpu(cfg, root, err) < 0 ||
        parse_jail(cfg, root, err) < 0 || parse_memory(cfg, root, err) < 0 ||
        parse_density(cfg, root, err) < 0)
        return -err->code;
    return 0;
}

bool vmm_path_names_fd(const char *path, int *fd)
{
    int n, len = 0;
    if (!path || !((sscanf(path, "/proc/self/fd/%d%n", &n, &len) == 1 ||
                    sscanf(path, "/dev/fd/%d%n", &n, &len) == 1) && !path[len] && n >= 0))
        return false;
    *fd = n;
    return true;
}

int vmm_config_parse(struct vmm_config *cfg, const char *json, struct bl_error *err)
{
    struct bl_error local;
    if (!err)
        err = &local;
    memset(cfg, 0, sizeof *cfg);
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
    int r = parse_root(cfg, root, err);
    json_decref(root);
    if (r < 0)
        vmm_config_free(cfg);
    return r;
}

int vmm_config_load(struct vmm_config *cfg, const char *path, struct bl_error *err)
{
    struct bl_error local;
    if (!err)
        err = &local;
    memset(cfg, 0, sizeof *cfg);
    FILE *f cleanup_fclose = fopen(path, "re");
    if (!f)
        return bl_errno(err, errno, "config: open %s", path);
    char *buf cleanup_free = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            if (cap > (16u << 20))
                return bl_err(err, BOXLITE_ERR_INVALID, "config: %s: larger than 16 MiB", path);
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb)
                return bl_errno(err, ENOMEM, "config: %s", path);
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f))
        return bl_errno(err, EIO, "config: read %s", path);
    buf[len] = '\0';
    if (strlen(buf) != len)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s: contains a NUL byte", path);
    if (vmm_config_parse(cfg, buf, err) < 0)
        return bl_err_prefix(err, "%s", path);
    return 0;
}

void vmm_config_free(struct vmm_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->engine);
    free(cfg->kernel);
    free(cfg->initrd);
    free(cfg->cmdline);
    free(cfg->netns);
    for (unsigned i = 0; i < cfg->ndisks; i++) {
        free(cfg->disks[i].path);
        free(cfg->disks[i].format);
    }
    free(cfg->disks);
    for (unsigned i = 0; i < cfg->nshares; i++) {
        free(cfg->shares[i].tag);
        free(cfg->shares[i].path);
    }
    free(cfg->shares);
    for (unsigned i = 0; i < cfg->nports; i++)
        free(cfg->ports[i].host_addr);
    free(cfg->ports);
    free(cfg->allow_net);
    free(cfg->deny_net);
    free(cfg->allow_host);
    free(cfg->console_log);
    free(cfg->box_socket);
    free(cfg->ready_file);
    free(cfg->cpu_template);
    free(cfg->test_break_boot);
    free(cfg->jail.cgroup);
    free(cfg->jail.uid_locks);
    free(cfg->vmm_log);
    free(cfg->qemu_binary);
    free(cfg->arch);
    free(cfg->memory_file);
    free(cfg->memory_incoming);
    free(cfg->memory_state);
    if (cfg->health) {
        strv_free(cfg->health->argv);
        strv_free(cfg->health->env);
        free(cfg->health->cwd);
        free(cfg->health->user);
        free(cfg->health);
    }
    memset(cfg, 0, sizeof *cfg);
}
