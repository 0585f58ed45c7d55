// SPDX-License-Identifier: Apache-2.0
/* The runtime's settings (boxlite_runtime_open_with): each one has an environment variable
 * that stays its default, so that a program embedding the library can set everything
 * through the API and the CLI keeps working from the environment. */
#ifndef RT_SETTINGS_H
#define RT_SETTINGS_H

#include "common/error.h"

enum rt_setting_key {
    RT_SET_VMM,            /* "vmm": path of boxlite-vmm; BOXLITE_VMM */
    RT_SET_KERNEL,         /* "kernel": the guest kernel (vmlinux); BOXLITE_KERNEL */
    RT_SET_INITRD,         /* "initrd": the guest initramfs; BOXLITE_INITRD */
    RT_SET_CACHE,          /* "cache_dir": where the built kernel is cached; BOXLITE_CACHE */
    RT_SET_KERNEL_CMDLINE, /* "kernel_cmdline": extra guest kernel arguments;
                              BOXLITE_KERNEL_CMDLINE */
    RT_SET_UNCONFINED,     /* "unconfined": true turns the jail off; BOXLITE_UNCONFINED=1 */
    RT_SET_JAIL_UID,       /* "jail_uid": BOXLITE_JAIL_UID */
    RT_SET_JAIL_GID,       /* "jail_gid": BOXLITE_JAIL_GID */
    RT_SET_JAIL_UIDS,      /* "jail_uids": "FIRST:COUNT", a uid of its own per box; BOXLITE_JAIL_UIDS */
    RT_SET_INSECURE,       /* "insecure_registries": ["host[:port]", ...];
                              BOXLITE_INSECURE_REGISTRIES (a comma list) */
    RT_SET_DOCKER_CONFIG,  /* "docker_config": the folder of Docker's config.json;
                              DOCKER_CONFIG */
    RT_SET_QEMU,           /* "qemu": the QEMU engine's qemu-system-x86_64; BOXLITE_QEMU */
    RT_SET_TCG_TB_MIB,     /* "tcg_tb_mib": the QEMU engine's TCG translation cache, MiB
                              (0..2048, 0 = the engine's choice); BOXLITE_TCG_TB_MIB */
    RT_SET_ANONYMOUS_PULLS, /* "anonymous_pulls": true = pulls use no stored registry
                               credentials; BOXLITE_ANONYMOUS_PULLS=1 */
    RT_SET_CGROUP_NESTED,  /* "cgroup_nested": true = the box's cgroups go under the caller's
                              own (not each hierarchy's root); BOXLITE_CGROUP_NESTED=1 */
    RT_SET_COUNT
};

/* Values kept in their environment variable's text form, so one reader serves both. */
struct rt_settings {
    char *v[RT_SET_COUNT]; /* NULL: not set (the environment decides) */
};

/* Parses the options JSON of boxlite_runtime_open_with (NULL or "" = none). Unknown keys,
 * wrong types and out-of-range numbers are BOXLITE_ERR_INVALID naming the key. */
int rt_settings_parse(struct rt_settings *s, const char *json, struct bl_error *err);
void rt_settings_free(struct rt_settings *s);
/* The setting's value: the option if set, else its environment variable, else NULL.
 * s may be NULL (the environment only). */
const char *rt_settings_get(const struct rt_settings *s, enum rt_setting_key k);
/* The environment variable behind a key ("BOXLITE_VMM"), for messages. */
const char *rt_settings_env_name(enum rt_setting_key k);
/* The JSON key behind a key ("vmm"), for messages. */
const char *rt_settings_key_name(enum rt_setting_key k);

#endif
