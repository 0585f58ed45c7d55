// SPDX-License-Identifier: Apache-2.0
/* An OCI bundle's config.json as boxlite-runtime reads it (runtime-spec v1.x, config.md):
 * the parts a box honours (root, process, hostname, mounts, annotations); everything else
 * is accepted and ignored. The input is the caller's file: any bytes may be there, so
 * every field is type-checked and bounded, and a mistake names the field. */
#ifndef BOXLITE_OCI_SPEC_H
#define BOXLITE_OCI_SPEC_H

#include "common/error.h"
#include "oci/resources.h"
#include "oci/seccomp.h"
#include "oci/view.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most config.json (or exec --process file) we read: real ones are a few KiB. */
#define OCI_SPEC_MAX_BYTES (4u << 20)
#define OCI_MAX_ARGS 4096
#define OCI_MAX_ENV 4096
#define OCI_MAX_MOUNTS 256
#define OCI_MAX_PORTS 16

struct oci_process {
    char **args;       /* NULL-terminated, at least one */
    char **env;        /* NULL-terminated "K=V" (may be empty) */
    char *cwd;         /* absolute; "/" when absent */
    uint32_t uid, gid; /* process.user */
    bool terminal;
    unsigned rows, cols; /* process.consoleSize (0 = unset) */
    /* config.md "POSIX process": what the process may do, applied in the guest */
    struct oci_rlimit {
        int resource;        /* RLIMIT_* */
        uint64_t soft, hard; /* UINT64_MAX = unlimited */
    } *rlimits;              /* process.rlimits, one per type */
    size_t nrlimits;
    bool has_caps;           /* process.capabilities present: the five sets exactly */
    uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
    char *cap_unknown;       /* the first capability name this runtime does not know (ignored,
                                as config.md asks: "log a warning", "SHOULD NOT fail") */
    bool no_new_privs;       /* process.noNewPrivileges */
    uint32_t *gids;          /* process.user.additionalGids */
    size_t ngids;
    bool has_gids;
    bool has_umask;          /* process.user.umask */
    uint32_t umask;
    bool has_oom_score_adj;  /* process.oomScoreAdj */
    int oom_score_adj;
};
#define OCI_MAX_RLIMITS 16
#define OCI_MAX_GIDS 1024

struct oci_mount {
    char *destination; /* absolute path in the container */
    char *source;      /* may be NULL (tmpfs, proc) */
    char *type;        /* may be NULL (then "bind" in options makes it a bind) */
    bool bind;         /* type "bind" or an option "bind"/"rbind" */
    bool readonly;     /* option "ro" */
    /* type "tmpfs" and no bind: its options joined by commas ("" for none), checked as
     * tmpfs options (proto_tmpfs_options); NULL for any other mount */
    char *tmpfs_options;
};
#define OCI_TMPFS_OPTIONS_MAX 1024

/* config.md "POSIX-platform Hooks": the stages, in the order of the lifecycle (runtime.md). */
enum oci_hook_stage {
    OCI_HOOK_PRESTART,          /* deprecated; create, after the box is up (runc: before pivot_root) */
    OCI_HOOK_CREATE_RUNTIME,    /* create, in the runtime's namespace */
    OCI_HOOK_CREATE_CONTAINER,  /* create, "in the container namespace": on the host here */
    OCI_HOOK_START_CONTAINER,   /* start, before the process, in the container: in the guest */
    OCI_HOOK_POSTSTART,         /* after start; a failure is only logged */
    OCI_HOOK_POSTSTOP,          /* after delete; a failure is only logged */
    OCI_HOOK_STAGES
};
#define OCI_MAX_HOOKS 64 /* per stage */

struct oci_hook {
    char *path;  /* absolute (config.md) */
    char **args; /* NULL-terminated, args[0] is argv[0]; NULL = absent (argv = { path }) */
    char **env;  /* NULL-terminated "K=V"; NULL = absent (the runtime's environment, as runc) */
    int timeout; /* seconds, > 0; 0 = none */
};

struct oci_spec {
    char *oci_version;
    char *root_path; /* root.path as written (relative to the bundle unless absolute) */
    bool root_readonly;
    struct oci_process process;
    char *hostname; /* NULL = unset */
    struct oci_mount *mounts;
    size_t nmounts;
    char **ann_keys, **ann_values; /* annotations, nann of them */
    size_t nann;
    /* box settings from annotations (io.boxlite.cpus, io.boxlite.memory, io.boxlite.engine):
     * 0 / NULL = the library's default */
    int cpus;
    int memory_mib;
    const char *engine; /* points into ann_values */
    struct oci_hook *hooks[OCI_HOOK_STAGES]; /* config.json "hooks", nhooks[stage] each */
    size_t nhooks[OCI_HOOK_STAGES];
    /* linux.namespaces' "network" entry: absent (the runtime's), new (no path), or the
     * path of one to join (config-linux.md "Namespaces") */
    bool netns;
    char *netns_path; /* NULL = a new one, when netns */
    /* annotation io.boxlite.network=user: the box keeps its user-mode network even where
     * its NIC could be a tap in netns_path (oci/relay.c relay_netns_nic) */
    bool user_network;
    /* annotation io.boxlite.ports: the container's TCP ports the relay carries from the
     * network namespace into the box (the engine's published ports land there) */
    uint16_t ports[OCI_MAX_PORTS];
    size_t nports;
    /* linux.cgroupsPath as written (NULL = absent) and linux.resources (oci/cgroup.c) */
    char *cgroups_path;
    struct oci_resources res;
    /* linux.namespaces entries with a path (the network one too), one per type */
    struct oci_ns_path {
        int type;   /* CLONE_NEW* */
        char *path; /* absolute */
    } ns[8];
    size_t nns;
    /* linux.seccomp compiled (oci/seccomp.c); len 0 = none */
    struct oci_seccomp seccomp;
    /* linux.maskedPaths, readonlyPaths, sysctl, devices (oci/view.c) */
    struct oci_view view;
};
/* "80,443/tcp" into ports (at most OCI_MAX_PORTS, each once). */
int oci_parse_ports(const char *s, uint16_t *ports, size_t *n, struct bl_error *err);

/* Parses a whole config.json (len bytes, not NUL-terminated). On failure *s is left empty
 * (nothing to free) and err names the field. */
int oci_spec_parse(const char *json, size_t len, struct oci_spec *s, struct bl_error *err);
void oci_spec_free(struct oci_spec *s);
/* Whether each namespace path names a namespace of its entry's type (create checks it;
 * a later command may find the file gone). */
int oci_namespaces_check(const struct oci_spec *s, struct bl_error *err);
const char *oci_ns_type_name(int clone_flag);
/* Parses a process object alone (exec --process FILE). */
int oci_process_parse(const char *json, size_t len, struct oci_process *p, struct bl_error *err);
void oci_process_free(struct oci_process *p);
/* The value of annotation key, or NULL. */
const char *oci_spec_annotation(const struct oci_spec *s, const char *key);
/* A memory size as an annotation gives it: plain digits are MiB ("512"); a suffix k, m or g
 * (any case, optionally followed by "i" and/or "b": "512Mi", "2GiB") scales it. The result
 * is in MiB, at least 1 and at most 1 TiB. */
int oci_parse_memory_mib(const char *s, int *mib, struct bl_error *err);
/* A signal as runc's kill takes it (common/signame.h: "KILL", "SIGKILL", "kill", "9"). */
int oci_parse_signal(const char *s, int *sig, struct bl_error *err);
/* The key of a stage in config.json's "hooks" ("createRuntime", "poststop", ...). */
const char *oci_hook_stage_name(enum oci_hook_stage stage);
/* RLIMIT_NOFILE -> 7 (Linux's numbering), -1 when unknown; and the other way (NULL). */
int oci_rlimit_number(const char *name);
const char *oci_rlimit_name(int resource);
/* CAP_NET_BIND_SERVICE -> 10, -1 when unknown. */
int oci_cap_number(const char *name);
/* Frees a NULL-terminated vector of strings (NULL is fine). */
void oci_strv_free(char **v);
/* The value of NAME in a NULL-terminated "K=V" list, or NULL. */
const char *oci_env_get(char *const *env, const char *name);

#endif
