// SPDX-License-Identifier: Apache-2.0
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

/* A health check (Docker's HEALTHCHECK): test ["CMD", args...], ["CMD-SHELL", command] or
 * ["NONE"] (no check, not even the image's); 0 for a duration or retries = the default. */
struct bl_health {
    char **test; size_t ntest; /* ntest 0: none set here (the image's, if any) */
    long long interval_ms, timeout_ms, start_period_ms;
    int retries;
};

struct boxlite_options {
    char *image, *rootfs_path;
    int cpus, memory_mib, disk_size_gb;
    struct bl_env *env; size_t nenv;
    char *working_dir, *user, *name, *engine;
    struct bl_volume *volumes; size_t nvolumes;
    struct bl_port *ports; size_t nports;
    /* The main process (its exit stops the box, as a container's PID 1): runs when
     * main_process is set, cmd is given or entrypoint is given; argv as Docker builds it
     * (entrypoint, else the image's Entrypoint; then cmd, else the image's Cmd unless the
     * entrypoint was overridden). */
    char **cmd; size_t ncmd;
    char **entrypoint; size_t nentrypoint;
    bool entrypoint_set; /* entrypoint given, possibly empty (none) */
    bool main_process;
    bool network, auto_remove, detach;
    /* network "netns:PATH": the box's NIC is a tap in that network namespace, mirrored to
     * its interface (src/vmm/net/netns.h); NULL: the user-mode network (or none) */
    char *netns;
    int ready_timeout_ms;
    char *cpu_template; /* KVM engine's CPU template; NULL = "auto" */
    /* network policy (src/vmm/net/rule.h): rules in canonical text, host ports */
    char **allow_net; size_t nallow_net;
    char **deny_net; size_t ndeny_net;
    struct net_host_port *allow_host; size_t nallow_host;
    struct bl_health health;
    long long log_max_bytes; /* console and per-box logs rotate at this size */
    int log_max_files;       /* files kept per log, the current one included */
    /* Docker's --label, --hostname, --read-only and --restart (issue 19) */
    struct bl_env *labels; size_t nlabels; /* free-form KEY=VALUE metadata, not seen by the box */
    char *hostname;          /* the box's host name; NULL = its name */
    bool read_only;          /* the root file system is mounted read-only */
    char *restart;           /* "no" (NULL), "on-failure" or "always" */
    int restart_max;         /* on-failure:N, N restarts at most; 0 = no limit */
    bool stdin_open;         /* Docker's -i with -d: the main process's stdin stays open for
                              * attach (boxlite_box_attach_stdin) instead of /dev/null */
    bool tty;                /* Docker's -t with -d: the main process runs on a terminal */
    int idle_pause_s;        /* auto-pause after this many seconds without a request; 0 = off */
    /* Density (issue 21, docs/protocol.md "Balloon"): the balloon's target (guest memory
     * the guest may keep, MiB; 0 = none, else BL_MIN_BALLOON_MIB..memory_mib), free page
     * reporting (on unless turned off), guest RAM offered to the host's KSM (off). */
    int balloon_target_mib;
    bool no_page_reporting;
    bool ksm;
    bool rootfs_share;       /* rootfs_path is shared into the VM (9p) as the root itself, not
                              * copied into a disk: the host sees the box's writes (OCI bundles) */
    char *platform;          /* "linux/arm64" (canonical, platform.h); NULL = the host's */
};

#define BL_MIN_BALLOON_MIB 32 /* src/vmm/config.h VMM_BALLOON_MIN_MIB */
/* The QEMU engine's TCG translation cache unless the runtime's tcg_tb_mib setting says
 * otherwise (0 there = QEMU's default: 1 GiB, an eighth of host RAM at most): measured in
 * docs/architecture.md "Density". */
#define BL_DEFAULT_TCG_TB_MIB 16

#define BL_DEFAULT_CPUS 1
#define BL_DEFAULT_MEMORY_MIB 512
#define BL_DEFAULT_READY_TIMEOUT_MS 120000
#define BL_MAX_CPUS 64
#define BL_MIN_MEMORY_MIB 64
#define BL_MAX_MEMORY_MIB (1024 * 1024)
#define BL_MAX_DISK_GB 4096
#define BL_MAX_NAME 64
#define BL_DEFAULT_LOG_MAX_BYTES (1 << 20)
#define BL_DEFAULT_LOG_MAX_FILES 2
#define BL_MIN_LOG_MAX_BYTES 4096
#define BL_MAX_LOG_MAX_BYTES (1LL << 40)
#define BL_MAX_LOG_MAX_FILES 100
/* The box's environment travels in every EXEC request (at most PROTO_MAX_PAYLOAD bytes,
 * docs/protocol.md) with the image's environment, the arguments and the rest: the box's
 * own variables may take half of it, so that a box that was created can always exec. */
#define BL_MAX_ENV_BYTES (32 * 1024)
/* Docker's defaults for a health check. */
#define BL_HEALTH_INTERVAL_MS 30000
#define BL_HEALTH_TIMEOUT_MS 30000
#define BL_HEALTH_RETRIES 3

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
/* "os/arch[/variant]" (runtime/platform.h); NULL or "" = the host's. */
int opts_set_platform(struct boxlite_options *o, const char *platform, struct bl_error *err);
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
/* argv NULL-terminated (n < 0) or of n entries; which is "cmd" or "entrypoint". */
int opts_set_argv(struct boxlite_options *o, const char *which, const char *const *argv,
                  long n, struct bl_error *err);
int opts_set_health(struct boxlite_options *o, const char *const *test, long ntest,
                    long long interval_ms, long long timeout_ms, long long retries,
                    long long start_period_ms, struct bl_error *err);
int opts_set_log(struct boxlite_options *o, long long max_bytes, long long max_files,
                 struct bl_error *err);
bool opts_valid_name(const char *name);
int opts_set_label(struct boxlite_options *o, const char *k, const char *v, struct bl_error *err);
/* RFC 1123 host name: letters, digits and hyphens, labels of 1-63, 253 at most. */
int opts_set_hostname(struct boxlite_options *o, const char *name, struct bl_error *err);
/* policy "no", "on-failure" or "always"; max_retries only with on-failure (0 = no limit). */
int opts_set_restart(struct boxlite_options *o, const char *policy, long long max_retries,
                     struct bl_error *err);
/* Whether the box runs a main process (see struct boxlite_options). */
bool opts_has_main(const struct boxlite_options *o);
/* Bytes the box's environment takes in an EXEC request. */
size_t opts_env_bytes(const struct boxlite_options *o);

#endif
