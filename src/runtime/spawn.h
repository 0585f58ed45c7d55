/* Starting a box's per-box process (boxlite-vmm) and waiting for its guest to be ready. */
#ifndef RT_SPAWN_H
#define RT_SPAWN_H

#include "common/error.h"
#include "runtime/assets.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct rt_child {
    pid_t pid;          /* the per-box process (not our child: it is double-forked) */
    int64_t pid_start;  /* its /proc start time */
    int lifeline_fd;    /* our end of the lifeline pipe, or -1 when detached */
};

/* Starts `vmm --config config_path` in its own session with stdio to log_path, in the
 * config's folder, with nothing of ours but an allow-list of the environment (PATH, the
 * locale, TZ, the VMM's own BOXLITE_ switches; BOXLITE_SPAWN_NS added) and no descriptor
 * but stdio and the lifeline. Unless detach, the process gets, as descriptor 3, the read end
 * of a pipe whose write end we keep (CLOEXEC): when this process exits or crashes, the pipe
 * closes and the box stops. */
int rt_spawn_vmm(const char *vmm, const char *config_path, const char *log_path, bool detach,
                 struct rt_child *out, struct bl_error *err);

/* Waits until ready_file exists (the per-box process writes it when the agent said hello),
 * the process dies, or timeout_ms passes. On failure the error carries the last line of
 * vmm_log (the per-box process's own account) and the last lines of console_log, so the
 * user sees why the guest did not come up. */
int rt_wait_ready(const struct rt_child *c, const char *ready_file, const char *console_log,
                  const char *vmm_log, int timeout_ms, struct bl_error *err);

/* The last max_lines lines of a text file (malloc'd), or NULL. */
char *rt_tail_file(const char *path, int max_lines);

#endif
