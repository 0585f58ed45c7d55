// SPDX-License-Identifier: Apache-2.0
/* The per-box process's configuration (docs/architecture.md, "The per-box process"), parsed
 * from JSON by config.c. Strings are owned by the struct; vmm_config_free() releases them. */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include "common/error.h"
#include "vmm/net/rule.h"

#include <stdbool.h>
#include <stdint.h>

/* format: "raw" or "qcow2". Left out, the engines probe the file's header, which is safe only
 * for images the guest has never written: a guest that writes a qcow2 header into a raw
 * disk could otherwise name any host file as its backing file. The library always sets it. */
struct vmm_disk_cfg { char *path; char *format; bool readonly; };
/* rootfs: the share is a container's root file system (an OCI bundle's rootfs): the host's
 * symlinks, modes and owners are served as they are (QEMU security_model=none), since a
 * mapped-xattr share cannot read a symlink the host made. */
struct vmm_share_cfg { char *tag; char *path; bool readonly; bool rootfs; };
struct vmm_port_cfg {
    bool udp;
    char *host_addr;    /* "127.0.0.1" default */
    uint16_t host_port; /* 0 = any free port (the chosen one is reported) */
    uint16_t guest_port;
};

/* The jail (src/vmm/jail/jail.h): on unless "enabled": false (debugging only). */
struct vmm_jail_cfg {
    bool disabled;
    uint32_t uid, gid;     /* the VMM's user when started as root (default 65534:65534) */
    char *cgroup;          /* a group per controller, e.g. "boxlite/<box id>"; NULL: none */
    bool cgroup_nested;    /* cgroup is under the process's own cgroup, not the root's */
    uint32_t memory_mib;   /* cgroup memory limit; 0 = guest RAM plus the engine's overhead */
    uint32_t pids;         /* cgroup pids.max; 0 = 512 */
    /* A uid of the box's own (started by root): the first of uid_first..+uid_count-1 whose
     * lock file in uid_locks no running box holds; uid_count 0 = uid/gid above for all. */
    uint32_t uid_first, uid_count;
    char *uid_locks;
};

/* A health check (Docker's HEALTHCHECK): argv run in the box every interval_ms once the
 * guest is ready, as an execution with env/cwd/user; killed after timeout_ms; the box is
 * unhealthy after `retries` failures in a row, not counting those in the first
 * start_period_ms. */
struct vmm_health_cfg {
    char **argv, **env; /* NULL-terminated */
    char *cwd, *user;
    uint64_t interval_ms, timeout_ms, start_period_ms;
    uint32_t retries;
};

struct vmm_config {
    char *engine;       /* "kvm", "qemu" or "auto" */
    char *kernel, *initrd, *cmdline;
    uint32_t cpus, memory_mib;
    struct vmm_disk_cfg *disks; unsigned ndisks;
    struct vmm_share_cfg *shares; unsigned nshares;
    bool network;
    struct vmm_port_cfg *ports; unsigned nports;
    /* network policy (src/vmm/net/policy.h): network.allow_net, deny_net, allow_host */
    struct net_rule *allow_net; unsigned nallow_net;
    struct net_rule *deny_net; unsigned ndeny_net;
    struct net_host_port *allow_host; unsigned nallow_host;
    /* network.mac: the guest's MAC in virtio-net's config space (KVM engine; a fork's new
     * one wins over its snapshot's). Unset: 52:54:00:12:34:56, or the snapshot's. */
    uint8_t mac[6];
    bool mac_set;
    /* network.netns: the NIC is a tap in this network namespace, mirrored to its interface
     * (src/vmm/net/netns.h), instead of the user-mode network; no ports or policy then
     * (the namespace's own rules apply). Not from the file: net_tap_fd, the tap the
     * per-box process opened there (main.c), which the QEMU engine hands to QEMU. */
    char *netns;
    int net_tap_fd;
    char *console_log, *box_socket, *ready_file;
    /* KVM engine: the CPU template (NULL = "auto"), how long a boot chosen by "auto" may
     * take to ready (0 = no limit of its own), a boot broken on purpose (tests; NULL). */
    char *cpu_template;
    uint32_t kvm_boot_timeout_ms;
    char *test_break_boot;
    struct vmm_jail_cfg jail;
    char *vmm_log;            /* where this process's stderr goes, rotated; NULL: left as is */
    uint64_t log_max_bytes;   /* console and vmm log rotation (logrot.h) */
    uint32_t log_files;
    struct vmm_health_cfg *health; /* NULL: no health check */
    /* The QEMU engine's binary (an absolute path: the jail binds it where it is); NULL:
     * $BOXLITE_QEMU, else qemu-system-x86_64 on $PATH (src/vmm/qemu/qemu.h). */
    char *qemu_binary;
    /* Not from the file: with console_pipe, the engines write the guest's serial console
     * to console_fd (a pipe the per-box process pumps into console_log, rotated) instead of
     * opening console_log themselves. */
    bool console_pipe;
    int console_fd;
    /* "memory" (QEMU engine, src/vmm/qemu/migrate.c): guest RAM in memory_file, mapped
     * shared (the box's own file, written as the guest runs) or privately (a frozen file
     * several forks share copy-on-write); memory_incoming: a saved device state to resume
     * from; memory_state: where a pause writes it; idle_pause_ms: pause after that long
     * without a request (0 = never); memory_restarts: the main process's restarts before
     * the pause (the agent goes on counting from there; STATUS and EXIT report it). */
    char *memory_file, *memory_incoming, *memory_state;
    bool memory_shared;
    uint64_t idle_pause_ms, memory_restarts;
    /* Density (docs/protocol.md "Balloon"): the balloon's free page reporting (default on)
     * and target (the guest memory the guest may keep, MiB; 0 = none, else
     * VMM_BALLOON_MIN_MIB..memory_mib), guest RAM offered to KSM, and the QEMU engine's TCG
     * translation cache in MiB (0 = QEMU's default). */
    bool balloon_reporting, ksm;
    uint32_t balloon_target_mib, tcg_tb_mib;
    /* "arch": the box's architecture, "x86_64" or "aarch64" ("amd64"/"arm64" accepted and
     * normalised); NULL: the host's. */
    char *arch;
};

/* The smallest balloon target: below it the guest's own kernel and agent run out. */
#define VMM_BALLOON_MIN_MIB 32

int vmm_config_parse(struct vmm_config *cfg, const char *json, struct bl_error *err);
int vmm_config_load(struct vmm_config *cfg, const char *path, struct bl_error *err);
void vmm_config_free(struct vmm_config *cfg);
/* Whether path names a descriptor this process holds (/proc/self/fd/N, /dev/fd/N: the lab
 * passes its console so); its number in *fd. Such a path is the caller's to keep: written
 * through that descriptor, never reopened by name or rotated. */
bool vmm_path_names_fd(const char *path, int *fd);

#endif
