/* Box options (include/boxlite.h): the struct behind boxlite_options, its validation and
 * its JSON form. The JSON form is also what the state database stores per box. */
#ifndef RT_OPTIONS_H
#define RT_OPTIONS_H

#include "common/error.h"
#include "vmm/net/rule.h"

#include <stdbool.h>
#include <stddef.h>

struct bl_volume { char *host_path, *guest_path; bool read_only; };
struct bl_port { int host_port, guest_port; bool udp; char *host_addr; };
struct bl_env { char *key, *value; };

struct boxlite_options {
    char *image, *rootfs_path;
    int cpus, memory_mib, disk_size_gb;
    struct bl_env *env; size_t nenv;
    char *working_dir, *user, *name, *engine;
    struct bl_volume *volumes; size_t nvolumes;
    struct bl_port *ports; size_t nports;
    char **cmd; size_t ncmd;
    bool network, auto_remove, detach;
    int ready_timeout_ms;
    char *cpu_template; /* KVM engine's CPU template; NULL = "auto" */
    /* network policy (src/vmm/net/rule.h): rules in canonical text, host ports */
    char **allow_net; size_t nallow_net;
    char **deny_net; size_t ndeny_net;
    struct net_host_port *allow_host; size_t nallow_host;
};

#define BL_DEFAULT_CPUS 1
#define BL_DEFAULT_MEMORY_MIB 512
#define BL_DEFAULT_READY_TIMEOUT_MS 120000
#define BL_MAX_CPUS 64
#define BL_MIN_MEMORY_MIB 64
#define BL_MAX_MEMORY_MIB (1024 * 1024)
#define BL_MAX_DISK_GB 4096
#define BL_MAX_NAME 64

void opts_init(struct boxlite_options *o);
void opts_clear(struct boxlite_options *o);
int opts_copy(struct boxlite_options *dst, const struct boxlite_options *src,
              struct bl_error *err);
int opts_from_json(struct boxlite_options *o, const char *json, struct bl_error *err);
/* Returns a malloc'd JSON string, or NULL on allocation failure. */
char *opts_to_json(const struct boxlite_options *o);
/* What create checks across fields: image xor rootfs_path, detach without auto_remove,
 * volume host paths exist. */
int opts_validate_for_create(const struct boxlite_options *o, struct bl_error *err);

/* Field setters shared by the C setters and the JSON reader. */
int opts_set_str(char **field, const char *what, const char *v, struct bl_error *err);
int opts_set_cpus(struct boxlite_options *o, long long v, struct bl_error *err);
int opts_set_memory(struct boxlite_options *o, long long v, struct bl_error *err);
int opts_set_disk(struct boxlite_options *o, long long v, struct bl_error *err);
int opts_set_env(struct boxlite_options *o, const char *k, const char *v, struct bl_error *err);
int opts_set_name(struct boxlite_options *o, const char *name, struct bl_error *err);
int opts_set_engine(struct boxlite_options *o, const char *engine, struct bl_error *err);
int opts_set_cpu_template(struct boxlite_options *o, const char *name, struct bl_error *err);
int opts_add_volume(struct boxlite_options *o, const char *host, const char *guest, bool ro,
                    struct bl_error *err);
int opts_add_port(struct boxlite_options *o, long long host_port, long long guest_port,
                  const char *proto, const char *host_addr, struct bl_error *err);
int opts_set_ready_timeout(struct boxlite_options *o, long long ms, struct bl_error *err);
/* A rule for allow_net (deny false) or deny_net; refused with a message naming it. */
int opts_add_net_rule(struct boxlite_options *o, bool deny, const char *rule,
                      struct bl_error *err);
int opts_add_allow_host(struct boxlite_options *o, long long port, const char *proto,
                        struct bl_error *err);
/* "none" / "default" (and true / false). */
int opts_set_network_mode(struct boxlite_options *o, const char *mode, struct bl_error *err);
bool opts_valid_name(const char *name);

#endif
