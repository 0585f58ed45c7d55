/* The per-box process's configuration (docs/architecture.md, "The per-box process"), parsed
 * from JSON by config.c. Strings are owned by the struct; vmm_config_free() releases them. */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include "common/error.h"

#include <stdbool.h>
#include <stdint.h>

/* format: "raw" or "qcow2". Left out, the engines probe the file's header, which is safe only
 * for images the guest has never written: a guest that writes a qcow2 header into a raw
 * disk could otherwise name any host file as its backing file. The library always sets it. */
struct vmm_disk_cfg { char *path; char *format; bool readonly; };
struct vmm_share_cfg { char *tag; char *path; bool readonly; };
struct vmm_port_cfg {
    bool udp;
    char *host_addr;    /* "127.0.0.1" default */
    uint16_t host_port; /* 0 = any free port (the chosen one is reported) */
    uint16_t guest_port;
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
    char *console_log, *box_socket, *ready_file;
    char *vmm_log;            /* where this process's stderr goes, rotated; NULL: left as is */
    uint64_t log_max_bytes;   /* console and vmm log rotation (logrot.h) */
    uint32_t log_files;
    struct vmm_health_cfg *health; /* NULL: no health check */
    /* Not from the file: with console_pipe, the engines write the guest's serial console
     * to console_fd (a pipe the per-box process pumps into console_log, rotated) instead of
     * opening console_log themselves. */
    bool console_pipe;
    int console_fd;
};

int vmm_config_parse(struct vmm_config *cfg, const char *json, struct bl_error *err);
int vmm_config_load(struct vmm_config *cfg, const char *path, struct bl_error *err);
void vmm_config_free(struct vmm_config *cfg);

#endif
