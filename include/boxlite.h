// SPDX-License-Identifier: Apache-2.0
/* BoxLite: run OCI images in lightweight virtual machines, as a library.
 *
 * This is the one public header. Everything here is exported from libboxlite.so.0, each
 * symbol under the version node BOXLITE_0.1 (objdump -T); everything else is hidden.
 * Compile and link with `pkg-config --cflags --libs boxlite`. Errors: see Conventions. */
#ifndef BOXLITE_H
#define BOXLITE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BOXLITE_VERSION_MAJOR 0
#define BOXLITE_VERSION_MINOR 1
#define BOXLITE_VERSION_PATCH 0
#define BOXLITE_VERSION "0.1.0"
/* MAJOR * 1000000 + MINOR * 1000 + PATCH, as boxlite_version_number() returns it. */
#define BOXLITE_VERSION_NUMBER \
    (BOXLITE_VERSION_MAJOR * 1000000 + BOXLITE_VERSION_MINOR * 1000 + BOXLITE_VERSION_PATCH)

#if defined(__GNUC__)
#define BOXLITE_API __attribute__((visibility("default")))
#else
#define BOXLITE_API
#endif

/* Result codes: stable numbers, never reused. */
typedef enum boxlite_code {
    BOXLITE_OK = 0,
    BOXLITE_ERR_INVALID = 1,     /* bad argument or option */
    BOXLITE_ERR_NOT_FOUND = 2,   /* no such box, image, file */
    BOXLITE_ERR_EXISTS = 3,      /* name taken, already there */
    BOXLITE_ERR_STATE = 4,       /* not allowed in the object's current state (also a path
                                  * that is not what was needed: ENOTDIR, EISDIR, ENOTEMPTY,
                                  * EROFS) */
    BOXLITE_ERR_IO = 5,          /* a system call failed */
    BOXLITE_ERR_NOMEM = 6,
    BOXLITE_ERR_ENGINE = 7,      /* the VMM or QEMU failed or is missing */
    BOXLITE_ERR_TIMEOUT = 8,
    BOXLITE_ERR_IMAGE = 9,       /* registry, manifest, layer or digest problem */
    BOXLITE_ERR_AUTH = 10,       /* registry refused our credentials */
    BOXLITE_ERR_NETWORK = 11,
    BOXLITE_ERR_PROTOCOL = 12,   /* the agent or a peer broke the protocol */
    BOXLITE_ERR_UNSUPPORTED = 13,
    BOXLITE_ERR_INTERNAL = 14,
    BOXLITE_ERR_CANCELLED = 15,  /* the caller asked to stop (a pull's progress callback) */
} boxlite_code;

/* ---- Conventions ---------------------------------------------------------------------
 * - Errors are per thread. Every function that returns a boxlite_code (int) sets the calling
 *   thread's error state: on BOXLITE_OK, boxlite_errcode() is 0 and boxlite_errmsg() "";
 *   on failure, the code and a message saying what failed, with its context (a path, a
 *   field, a box). The few that return something else say so: -1 with boxlite_errmsg()
 *   set (the file descriptor getters, boxlite_log_read), or NULL for a NULL handle (the
 *   name getters). Functions returning void (_free, _close) and boxlite_errmsg(),
 *   boxlite_errcode(), boxlite_last_notice(), boxlite_version(), boxlite_version_number()
 *   and boxlite_code_str() leave it as it was. The message is valid until the thread's next
 *   call that sets it. The library never prints, never exits, never aborts on bad input.
 * - Handles are opaque. Every _free and _close function accepts NULL. Strings returned as char* are
 *   the caller's, released with boxlite_free().
 * - Thread safety: every function may be called from any thread. A runtime and the box and
 *   execution handles opened from it may be shared between threads; the library locks
 *   internally. A handle must not be used after it is freed, and a runtime must outlive
 *   its boxes' and executions' handles.
 * - Structured data (options, box info, lists, metrics) crosses the API as JSON text, so
 *   that the CLI and the SDKs see one format. */

/* The calling thread's last error message ("" if none). Never NULL. */
BOXLITE_API const char *boxlite_errmsg(void);
/* The calling thread's last error code. */
BOXLITE_API int boxlite_errcode(void);
/* Releases a string (or any buffer) the library returned. */
BOXLITE_API void boxlite_free(void *p);

typedef struct boxlite_runtime boxlite_runtime;
typedef struct boxlite_options boxlite_options;
typedef struct boxlite_box boxlite_box;
typedef struct boxlite_exec boxlite_exec;

/* ---- Runtime -------------------------------------------------------------------------
 * home_dir NULL means $BOXLITE_HOME, else ~/.boxlite. Several runtimes in one process and
 * several processes on one home directory work together (state is in SQLite, WAL mode). */
BOXLITE_API int boxlite_runtime_open(const char *home_dir, boxlite_runtime **out);
/* boxlite_runtime_open with settings, as a JSON object (NULL or "" = none). Each one has an
 * environment variable that stays its default when the option is absent or null:
 *   {"vmm": "/path/boxlite-vmm",              BOXLITE_VMM
 *    "kernel": "/path/vmlinux",               BOXLITE_KERNEL (the guest kernel)
 *    "initrd": "/path/initramfs.cpio.gz",     BOXLITE_INITRD (the guest initramfs)
 *    "cache_dir": "/path",                    BOXLITE_CACHE (kernel/current/vmlinux there)
 *    "kernel_cmdline": "quiet",               BOXLITE_KERNEL_CMDLINE (added guest arguments)
 *    "unconfined": false,                     BOXLITE_UNCONFINED=1 (no jail: debugging only)
 *    "jail_uid": 65534, "jail_gid": 65534,    BOXLITE_JAIL_UID, BOXLITE_JAIL_GID (1 and up)
 *    "jail_uids": "200000:1000",              BOXLITE_JAIL_UIDS (a uid of its own per running box)
 *    "insecure_registries": ["host:5000"],    BOXLITE_INSECURE_REGISTRIES (a comma list)
 *    "docker_config": "/path",                DOCKER_CONFIG (folder of config.json)
 *    "qemu": "/path/qemu-system-x86_64",      BOXLITE_QEMU (the QEMU engine's binary; else
 *                                             qemu-system-x86_64 on PATH)
 *    "tcg_tb_mib": 16,                         BOXLITE_TCG_TB_MIB (the QEMU engine's TCG
 *                                             translation cache, MiB, 0..2048; 0 = QEMU's
 *                                             default, 1 GiB; absent: 16)
 *    "anonymous_pulls": false,                 BOXLITE_ANONYMOUS_PULLS=1 (pulls present no
 *                                             stored credentials: neither Docker's config
 *                                             nor its helpers, nor registries.json's
 *                                             username/password; a server that pulls for
 *                                             others sets it)
 *    "cgroup_nested": false}                   BOXLITE_CGROUP_NESTED=1 (each box's cgroups,
 *                                             boxlite/<id>, go under the caller's own
 *                                             cgroup instead of each hierarchy's root, so
 *                                             the caller's limits hold the box too; the
 *                                             caller removes them with its own cgroup)
 * Without "vmm", "kernel", "initrd", they are found relative to libboxlite.so itself: an
 * installed tree (<prefix>/lib, <prefix>/libexec/boxlite, <prefix>/share/boxlite) works
 * wherever it is copied. An unknown option, a wrong type or a value out of range is
 * BOXLITE_ERR_INVALID naming the option, and nothing is created. */
BOXLITE_API int boxlite_runtime_open_with(const char *home_dir, const char *options_json,
                                          boxlite_runtime **out);
BOXLITE_API void boxlite_runtime_close(boxlite_runtime *rt);
/* Runtime metrics as JSON: boxes created, failed, running. */
BOXLITE_API int boxlite_runtime_metrics(boxlite_runtime *rt, char **json_out);
/* What opening the home had to tell the user (the library never prints): one line each,
 * e.g. permissions it narrowed ("home /h was readable by others (0755): now 0700"), or
 * leftovers of crashed processes it removed. *text_out is "" when there is nothing; each
 * notice is returned once. */
BOXLITE_API int boxlite_runtime_notices(boxlite_runtime *rt, char **text_out);

/* ---- Box options ---------------------------------------------------------------------
 * Settable by functions or by one JSON document:
 *   {"image": "alpine:latest", "rootfs_path": null, "cpus": 1, "memory_mib": 512,
 *    "disk_size_gb": 0, "env": {"K": "V"}, "working_dir": "/", "user": "0:0",
 *    "volumes": [{"host_path": "/h", "guest_path": "/g", "read_only": true}],
 *    "ports": [{"host_port": 8080, "guest_port": 80, "protocol": "tcp",
 *               "host_addr": "127.0.0.1"}],
 *    "network": true, "name": "web", "auto_remove": true, "detach": false,
 *    "ready_timeout_ms": 60000, "engine": "auto", "cpu_template": "auto",
 *    "cmd": ["sleep", "inf"], "entrypoint": null, "main_process": false,
 *    "allow_net": ["api.example.com:443", "198.51.100.0/24"], "deny_net": [],
 *    "allow_host": [{"port": 5432, "protocol": "tcp"}],
 *    "healthcheck": {"test": ["CMD-SHELL", "wget -q -O- localhost"], "interval_ms": 30000,
 *                    "timeout_ms": 30000, "retries": 3, "start_period_ms": 0},
 *    "log_max_size": 1048576, "log_max_files": 2}
 * ("network" also takes "none", "default" or "netns:PATH", see
 * boxlite_options_set_network_mode.)
 * Unknown or invalid fields are an error that names the field; integers out of range are
 * refused, never wrapped.
 * Main process: with "cmd", "entrypoint" or "main_process": true, the box runs a main
 * process from its start, built as Docker does (entrypoint, else the image's Entrypoint;
 * then cmd, else the image's Cmd unless the entrypoint was given); its output goes to the
 * box's console log and its exit stops the box, the status being the stop reason. Without
 * them the box runs no command of its own (executions only).
 * Health check: Docker's HEALTHCHECK (test ["CMD", prog, args...], ["CMD-SHELL", command]
 * or ["NONE"] to disable the image's; 0 = Docker's default for the others); without one the
 * image's Healthcheck applies. The box's info then says "health": starting, healthy,
 * unhealthy. Checks run in the per-box process, so detached boxes are checked too.
 * Logs: the console log and the per-box process's log rotate at log_max_size bytes (at
 * least 4096), keeping log_max_files files (1-100) of each.
 * The environment ("env") may take at most 32 KiB (4 bytes per variable plus KEY=VALUE). */
BOXLITE_API int boxlite_options_new(boxlite_options **out);
BOXLITE_API int boxlite_options_from_json(const char *json, boxlite_options **out);
BOXLITE_API int boxlite_options_to_json(const boxlite_options *o, char **json_out);
BOXLITE_API void boxlite_options_free(boxlite_options *o);
BOXLITE_API int boxlite_options_set_image(boxlite_options *o, const char *image);
BOXLITE_API int boxlite_options_set_rootfs_path(boxlite_options *o, const char *path);
BOXLITE_API int boxlite_options_set_cpus(boxlite_options *o, int cpus);
BOXLITE_API int boxlite_options_set_memory_mib(boxlite_options *o, int mib);
BOXLITE_API int boxlite_options_set_disk_size_gb(boxlite_options *o, int gb);
BOXLITE_API int boxlite_options_set_env(boxlite_options *o, const char *key, const char *value);
BOXLITE_API int boxlite_options_set_working_dir(boxlite_options *o, const char *dir);
BOXLITE_API int boxlite_options_set_user(boxlite_options *o, const char *user);
BOXLITE_API int boxlite_options_add_volume(boxlite_options *o, const char *host_path,
                                           const char *guest_path, int read_only);
/* protocol "tcp" or "udp"; host_port 0 = any free port; host_addr NULL = 127.0.0.1, else
 * an IPv4 or IPv6 address ("::1", without brackets; an IPv6 address's UDP is relayed one
 * flow per client address, a flow ending after 60 s without a datagram) */
BOXLITE_API int boxlite_options_add_port(boxlite_options *o, int host_port, int guest_port,
                                         const char *protocol, const char *host_addr);
BOXLITE_API int boxlite_options_set_network(boxlite_options *o, int enabled);
/* The network policy. By default a box reaches the internet and nothing of the host: not
 * its loopback, not link-local (cloud metadata), not private networks, not other boxes.
 * mode: "default", or "none" (no network interface at all), or "netns:PATH": the box's NIC
 * is a tap created in the network namespace at PATH (e.g. /run/netns/NAME), mirrored to
 * that namespace's interface, whose MAC, IPv4 address, gateway and MTU the guest takes;
 * the box's traffic then obeys that namespace's routes and firewall, not this policy (no
 * ports, allow_net, deny_net or allow_host with it). It needs CAP_NET_ADMIN over that
 * namespace and the QEMU engine; a namespace with loopback only gives the box no NIC. */
BOXLITE_API int boxlite_options_set_network_mode(boxlite_options *o, const char *mode);
/* rule: an IP address or CIDR prefix ("198.51.100.7", "198.51.100.0/24", "2001:db8::/32",
 * "[2001:db8::1]:443") or a host name ("api.example.com", "*.example.com", matched through
 * the box's own DNS answers), each optionally ":PORT". With any allow rule, everything
 * else is denied; a deny rule wins over every allow rule. An invalid rule is an error that
 * names it (BOXLITE_ERR_INVALID). */
BOXLITE_API int boxlite_options_add_allow_net(boxlite_options *o, const char *rule);
BOXLITE_API int boxlite_options_add_deny_net(boxlite_options *o, const char *rule);
/* Lets the box reach one port of the host's loopback (127.0.0.1 / ::1), at its gateway
 * address 10.0.2.2 (fec0::2): the way to reach a local registry or database on purpose.
 * protocol "tcp" (NULL) or "udp". */
BOXLITE_API int boxlite_options_add_allow_host(boxlite_options *o, int port,
                                               const char *protocol);
BOXLITE_API int boxlite_options_set_name(boxlite_options *o, const char *name);
BOXLITE_API int boxlite_options_set_auto_remove(boxlite_options *o, int auto_remove);
BOXLITE_API int boxlite_options_set_detach(boxlite_options *o, int detach);
BOXLITE_API int boxlite_options_set_ready_timeout_ms(boxlite_options *o, int ms);
/* "auto" (default), "kvm" or "qemu". With "auto", a box whose guest does not come up on
 * the KVM engine (a triple fault, a KVM error, no ready guest within half of
 * ready_timeout_ms) is started again on the QEMU engine; boxlite_box_info says why under
 * "runtime"."fallback", and its "notice" asks the user to report it. */
BOXLITE_API int boxlite_options_set_engine(boxlite_options *o, const char *engine);
/* The CPU the KVM engine's guest sees: "auto" (default: the most capable template this
 * host fully supports), "v3" (x86-64-v3), "baseline" (x86-64-v2) or "host" (pass-through).
 * A template the host cannot satisfy fails the start, naming the missing features.
 * `boxlite-vmm --cpu-templates` says what each exposes. The QEMU engine uses QEMU's own
 * CPU models ("qemu:host" with KVM, "qemu:max" with TCG). The template in use is in
 * boxlite_box_info ("runtime"."cpu_template") and the metrics. */
BOXLITE_API int boxlite_options_set_cpu_template(boxlite_options *o, const char *name);
/* The box's platform, "os/arch[/variant]" as in an image index ("linux/arm64",
 * "linux/amd64"; NULL or "" = the host's, the default): the variant of a multi-platform
 * image the box runs (none for it in the index is BOXLITE_ERR_NOT_FOUND, naming it), and the
 * guest's architecture. Another architecture than the host's runs on the QEMU engine under
 * TCG (engine "kvm" is refused), with that architecture's guest kernel and initramfs
 * (scripts/build-kernel.sh --arch arm64). Options JSON key "platform". */
BOXLITE_API int boxlite_options_set_platform(boxlite_options *o, const char *platform);
/* The main process's arguments (NULL-terminated; NULL = none). */
BOXLITE_API int boxlite_options_set_cmd(boxlite_options *o, const char *const *argv);
/* Overrides the image's Entrypoint (NULL-terminated, may be empty; NULL = the image's). */
BOXLITE_API int boxlite_options_set_entrypoint(boxlite_options *o, const char *const *argv);
/* Runs the image's Entrypoint/Cmd as the main process even without cmd or entrypoint. */
BOXLITE_API int boxlite_options_set_main_process(boxlite_options *o, int enabled);
/* test NULL-terminated ("CMD"/"CMD-SHELL"/"NONE" first; NULL = the image's test); 0 for a
 * duration or retries = the default (30 s, 30 s, 3, 0). */
BOXLITE_API int boxlite_options_set_healthcheck(boxlite_options *o, const char *const *test,
                                                long long interval_ms, long long timeout_ms,
                                                int retries, long long start_period_ms);
BOXLITE_API int boxlite_options_set_log_rotation(boxlite_options *o, long long max_bytes,
                                                 int max_files);

/* ---- Boxes ---------------------------------------------------------------------------
 * States: "configured" (created, never started), "starting", "running", "stopping",
 * "stopped", "unknown". create returns at once; the first exec starts the box, or call
 * boxlite_box_start. auto_remove (default on) removes the box when it stops; detach (default
 * off) lets it outlive the creating process; both together are refused. Without detach,
 * a box stops when the process that started it exits, even if that process crashes. */
BOXLITE_API int boxlite_box_create(boxlite_runtime *rt, const boxlite_options *o,
                                   boxlite_box **out);
/* By id, unique id prefix, or name. */
BOXLITE_API int boxlite_box_get(boxlite_runtime *rt, const char *id_or_name,
                                boxlite_box **out);
BOXLITE_API int boxlite_box_start(boxlite_box *box);
/* Graceful (the agent stops processes, syncs, powers off) for up to timeout_ms, then forced.
 * Stopping a stopped box is an error (BOXLITE_ERR_STATE). A box that stopped by itself (its
 * main process or container init ended, the guest or its VM process died) answers
 * executions and copies with BOXLITE_ERR_STATE and the reason until it is started again;
 * a box stopped on request (or never started) is started by its first execution. */
BOXLITE_API int boxlite_box_stop(boxlite_box *box, int timeout_ms);
/* Refused while running unless force (which stops it first). */
BOXLITE_API int boxlite_box_remove(boxlite_runtime *rt, const char *id_or_name, int force);
/* Releases the handle only; the box itself is unaffected. */
BOXLITE_API void boxlite_box_free(boxlite_box *box);
BOXLITE_API const char *boxlite_box_id(const boxlite_box *box);
BOXLITE_API const char *boxlite_box_name(const boxlite_box *box);
/* JSON: {"id","name","state","status","image","created","pid","cpus","memory_mib",
 * "ports":[...],...}. "status" is state in words with what explains it: "running",
 * "running (healthy)", "stopped (main process exited with status 3)". A stopped box that
 * ran has "stop_reason" (why it stopped: "stopped" when asked to, "killed by OOM", "guest
 * kernel panic: ...", "the box's VM process died: ..."), and "exit_code" and "oom_killed"
 * when its main process or container init ended it. A box with a health check has
 * "health": {"status": "starting"|"healthy"|"unhealthy", "failing_streak", "checks",
 * "failures", "last": {"exit_code", "output", ...}} while it runs. */
BOXLITE_API int boxlite_box_info(boxlite_box *box, char **json_out);
/* JSON array of box infos; state NULL = all, else one state name ("running"). */
BOXLITE_API int boxlite_box_list(boxlite_runtime *rt, const char *state, char **json_out);
/* JSON: cpu, memory, network bytes and connections (vmm.net_allowed / vmm.net_denied:
 * connection attempts the network policy let through / refused), executions and errors,
 * timings. */
BOXLITE_API int boxlite_box_metrics(boxlite_box *box, char **json_out);
/* Last lines of the box's console log (for errors and `boxlite logs`). */
BOXLITE_API int boxlite_box_console(boxlite_box *box, char **text_out);

/* Reading a box's log as it grows, across rotations: which is "console" (the guest's
 * console and the main process's output) or "vmm" (the per-box process's own log). It
 * starts at the oldest retained byte. boxlite_log_read returns the number of bytes read
 * into buf, 0 when there is nothing new yet (call again later to follow), or -1 with
 * boxlite_errmsg(). Bytes are as the guest wrote them: escape control sequences before
 * showing them on a terminal. */
typedef struct boxlite_log boxlite_log;
BOXLITE_API int boxlite_box_log_open(boxlite_box *box, const char *which, boxlite_log **out);
BOXLITE_API long long boxlite_log_read(boxlite_log *log, void *buf, size_t len);
BOXLITE_API void boxlite_log_close(boxlite_log *log);
/* 1 once the log can give nothing more: opened with an "until" time (below) that has
 * passed, and boxlite_log_read returned everything up to it (a follower stops there, as
 * `docker logs -f --until` does); 0 otherwise, and for a NULL handle. */
BOXLITE_API int boxlite_log_ended(boxlite_log *log);
/* The same with options (a JSON object; NULL or "" = boxlite_box_log_open):
 *   {"since": "10m", "until": "2026-12-04T18:35:39Z", "timestamps": true}
 * since/until keep the lines that arrived at or after / at or before a time: a duration
 * back from now in Go's syntax ("10m", "1h30m", "1.5h", "250ms"), an RFC 3339 time
 * (fraction and +hh:mm allowed; without a zone, local time; a date alone is its midnight),
 * Unix seconds as a string ("1733300000.5") or a number. timestamps starts each line with
 * the time it arrived, RFC 3339 in UTC with nanoseconds and a space
 * ("2026-12-04T18:35:39.123456789Z "). The per-box process records when each line
 * arrived beside the log (<log>.idx); lines it holds no time for (written by an older
 * version) are left out by since/until and given without a time. An unknown key or a bad
 * time is BOXLITE_ERR_INVALID, naming it. */
BOXLITE_API int boxlite_box_log_open_with(boxlite_box *box, const char *which,
                                          const char *options_json, boxlite_log **out);
/* Where the next boxlite_log_read starts, as a token of at most BOXLITE_LOG_POSITION_MAX
 * bytes (with its NUL) written into buf: a place in the log itself, not a count of what
 * this reader gave, so it holds across rotations and whatever window the reader was opened
 * with. A reader opened with {"from": token} (and the same "timestamps") goes on exactly
 * there, with the first reader's "since" and "until" as they were then (a relative time is
 * not read again; the token carries them); a token of a file no longer retained starts at
 * the oldest retained byte. A malformed token is
 * BOXLITE_ERR_INVALID. */
#define BOXLITE_LOG_POSITION_MAX 96
BOXLITE_API int boxlite_log_position(boxlite_log *log, char *buf, size_t len);
/* Copy a host file or directory into the box at guest_path (names with ".." or absolute
 * names inside the archive are refused by the agent), or out of it.
 * A copy out is the guest's data and lands as `docker cp` lands it: when host_path is an
 * existing directory the copy is host_path/<last component of guest_path>, else host_path
 * itself. Files and directories belong to the caller and carry no setuid, setgid or sticky
 * bit; symlinks are copied as symlinks (never followed); device nodes and FIFOs are refused.
 * A directory never merges into an existing one (BOXLITE_ERR_EXISTS); a file replaces a
 * file, never a directory. The copy arrives under a temporary name and is renamed into
 * place: on any failure nothing is left behind. A path missing in the box (guest_path out,
 * its parent in) is BOXLITE_ERR_NOT_FOUND. */
BOXLITE_API int boxlite_box_copy_in(boxlite_box *box, const char *host_path,
                                    const char *guest_path);
BOXLITE_API int boxlite_box_copy_out(boxlite_box *box, const char *guest_path,
                                     const char *host_path);
typedef struct boxlite_copy_options {
    unsigned size;                /* sizeof(boxlite_copy_options): lets the struct grow */
    unsigned long long max_bytes; /* 0 = no limit; else the copy is refused once more than
                                     this would arrive (file data plus 512 bytes per entry) */
} boxlite_copy_options;
/* boxlite_box_copy_out with options; opts NULL = the defaults. */
BOXLITE_API int boxlite_box_copy_out_opts(boxlite_box *box, const char *guest_path,
                                          const char *host_path,
                                          const boxlite_copy_options *opts);

/* ---- Executions ----------------------------------------------------------------------*/
typedef struct boxlite_exec_spec {
    unsigned size;                 /* sizeof(boxlite_exec_spec): lets the struct grow */
    const char *const *argv;       /* NULL-terminated; argv[0] is the program */
    const char *const *env;        /* NULL-terminated "K=V" added to the box's, or NULL */
    const char *working_dir;       /* NULL = the box's */
    const char *user;              /* "uid[:gid]" or a name; NULL = the box's */
    int tty;                       /* give the process a terminal */
    unsigned rows, cols;           /* terminal size when tty */
    long long timeout_ms;          /* 0 = none; on expiry the process group is killed */
    /* Added later (a caller whose size ends before it is read as NULL): */
    const struct boxlite_process_security *security; /* NULL = as the box's processes */
    /* A folder of the box (absolute, no "." or ".." component, symlinks not followed)
     * that becomes the process's root: a mount namespace of its own with /proc, /dev and
     * /sys, the rest of the box unreachable (the containers of a Kubernetes pod sharing
     * one box; docs/kubernetes.md). NULL = the box's root. */
    const char *root;
    /* A name ([A-Za-z0-9_.+-], at most 128) for a group of processes in the guest (a cgroup
     * there): the executions given one name share it. The execution that makes the group
     * leads it: when the leader's process ends, or its execution is dropped (its caller gone),
     * every process left in the group is killed, as a container's end with its main one.
     * NULL = none. */
    const char *group;
    long long pids_max; /* the group's most processes in the guest, set by its leader; 0 = none */
} boxlite_exec_spec;

/* A running box's process group (boxlite_exec_spec.group) gets a new limit now: at most
 * pids_max processes in the guest (0 = none), whatever its leader set. A group is counted
 * as it is: lowered below what runs, its processes go on and new ones fail to fork.
 * BOXLITE_ERR_NOT_FOUND when no execution of the box made the group, BOXLITE_ERR_STATE
 * when the box is not running, BOXLITE_ERR_INVALID for a bad name or a negative limit. */
BOXLITE_API int boxlite_box_set_group_pids(boxlite_box *box, const char *group,
                                           long long pids_max);

/* What an execution's process may do beyond its user (runtime-spec config.md "POSIX
 * process": rlimits, capabilities, noNewPrivileges, user.additionalGids and umask,
 * oomScoreAdj), applied in the guest before the program starts. A zeroed struct changes
 * nothing; each flag in `set` makes the fields it names apply. rlimits apply always. */
typedef struct boxlite_rlimit {
    int resource;                  /* RLIMIT_* (Linux's numbering: RLIMIT_NOFILE is 7) */
    unsigned long long soft, hard; /* BOXLITE_RLIM_INFINITY = unlimited; soft <= hard */
} boxlite_rlimit;
#define BOXLITE_RLIM_INFINITY (~0ULL)
#define BOXLITE_PROC_CAPS 1u          /* the five capability sets exactly (bit N = cap N) */
#define BOXLITE_PROC_GROUPS 2u        /* the supplementary groups exactly groups[] */
#define BOXLITE_PROC_UMASK 4u
#define BOXLITE_PROC_OOM_SCORE_ADJ 8u
/* A device node of the container (boxlite_process_security.devices). */
typedef struct boxlite_device {
    const char *path;              /* absolute */
    char type;                     /* 'c', 'b', 'u' (= c) or 'p' (a FIFO) */
    unsigned major, minor;
    unsigned mode;                 /* permission bits; 0 = 0666 */
    unsigned uid, gid;
} boxlite_device;
/* A tmpfs mount (boxlite_process_security.tmpfs). The destination is resolved in the
 * container (its symlinks stay inside it) and made if missing. */
typedef struct boxlite_tmpfs {
    const char *destination;       /* absolute, no ".." component */
    const char *options;           /* mount(8)'s words, "size=64m,mode=1777,nosuid"; NULL =
                                    * none: the flags ro, nosuid, nodev, noexec, (no)atime and
                                    * the like; tmpfs(5)'s size, nr_inodes, mode, uid, gid...;
                                    * propagation words are accepted and change nothing */
} boxlite_tmpfs;
typedef struct boxlite_process_security {
    unsigned size;                 /* sizeof(boxlite_process_security): lets the struct grow */
    unsigned set;                  /* BOXLITE_PROC_* */
    const boxlite_rlimit *rlimits; /* one per resource, at most 16 */
    size_t n_rlimits;
    unsigned long long cap_bounding, cap_effective, cap_permitted, cap_inheritable,
        cap_ambient;
    int no_new_privs;              /* prctl(PR_SET_NO_NEW_PRIVS) */
    const unsigned *groups;        /* at most 1024 */
    size_t n_groups;
    unsigned umask;                /* 0..0777 */
    int oom_score_adj;             /* -1000..1000 */
    /* A seccomp filter (runtime-spec config-linux.md "Seccomp"), installed in the process
     * last before its program when no_new_privs is set, else before the user and
     * capabilities change (runc's order; without no_new_privs only a process with
     * CAP_SYS_ADMIN may install one). A classic BPF program, struct sock_filter[] as
     * seccomp(2) takes it, for the box's architecture: 8 bytes per instruction, at most
     * 4096. NULL / 0 = none. Fields added later: a caller whose size ends before them
     * installs none. */
    const void *seccomp_filter;
    size_t seccomp_len;            /* bytes */
    unsigned seccomp_flags;        /* BOXLITE_SECCOMP_* (seccomp(2)'s SECCOMP_FILTER_FLAG_*) */
    /* The container's view (runtime-spec config-linux.md maskedPaths, readonlyPaths,
     * sysctl, devices), made in the box's container (its mount namespace, or the
     * execution's root) before this process starts and kept for later ones: give them
     * with the first. NULL-terminated lists of at most 256. Masked: /dev/null bound over a
     * file, an empty read-only tmpfs over a folder; read-only: bound onto itself read-only;
     * a path that does not exist is skipped (runc's). Absolute, no ".." component. */
    const char *const *masked_paths;
    const char *const *readonly_paths;
    const char *const *sysctl;     /* "net.ipv4.ip_forward=1": written under /proc/sys */
    const boxlite_device *devices;  /* device nodes made (mknod) */
    size_t n_devices;
    /* tmpfs mounts of the container (runtime-spec config.md "Mounts" of type tmpfs, Docker's
     * --tmpfs), made in this order before the view above, with the first process like it.
     * At most 256. Added later: a caller whose size ends before them makes none. */
    const boxlite_tmpfs *tmpfs;
    size_t n_tmpfs;
} boxlite_process_security;
#define BOXLITE_SECCOMP_TSYNC 1u
#define BOXLITE_SECCOMP_LOG 2u
#define BOXLITE_SECCOMP_SPEC_ALLOW 4u
#define BOXLITE_SECCOMP_MAX_INSNS 4096

typedef struct boxlite_exec_result {
    int exit_code;      /* valid when signal == 0 */
    int signal;         /* the signal that ended the process, or 0 */
    int timed_out;      /* killed by the timeout */
    double duration_ms;
} boxlite_exec_result;

BOXLITE_API int boxlite_exec_start(boxlite_box *box, const boxlite_exec_spec *spec,
                                   boxlite_exec **out);
/* Pollable, non-blocking file descriptors carrying the process's stdout and stderr; each
 * reaches end-of-file when its stream ends. They stay owned by the execution. With a tty,
 * all output comes on stdout. Reading one never waits on the other. -1 (with
 * boxlite_errmsg()) for a NULL execution. */
BOXLITE_API int boxlite_exec_stdout_fd(boxlite_exec *ex);
BOXLITE_API int boxlite_exec_stderr_fd(boxlite_exec *ex);
BOXLITE_API int boxlite_exec_write_stdin(boxlite_exec *ex, const void *data, size_t len);
BOXLITE_API int boxlite_exec_close_stdin(boxlite_exec *ex);
BOXLITE_API int boxlite_exec_signal(boxlite_exec *ex, int sig);
BOXLITE_API int boxlite_exec_resize(boxlite_exec *ex, unsigned rows, unsigned cols);
/* Waits up to timeout_ms (-1 = forever) for the process to end. BOXLITE_ERR_TIMEOUT if it
 * has not. */
BOXLITE_API int boxlite_exec_wait(boxlite_exec *ex, int timeout_ms, boxlite_exec_result *res);
/* A pollable fd that becomes readable when the process has ended (for event loops); -1
 * (with boxlite_errmsg()) for a NULL execution. */
BOXLITE_API int boxlite_exec_done_fd(boxlite_exec *ex);
BOXLITE_API void boxlite_exec_free(boxlite_exec *ex);

/* ---- Images --------------------------------------------------------------------------
 * The runtime's local image store (<home>/images). References as Docker reads them
 * ("alpine" = docker.io/library/alpine:latest, "127.0.0.1:5000/x:1", "x@sha256:..."), or
 * "oci:<dir>[:tag]" for a local OCI image layout. Registries are HTTPS with verified
 * certificates, except that localhost and 127.0.0.1 may answer plain HTTP, and so may the
 * "host[:port]" entries of $BOXLITE_INSECURE_REGISTRIES (a comma list, read by
 * boxlite_image_pull), whose certificates are also not verified. */

/* Progress of one layer: layer is 0-based, n_layers the image's layer count (0 if not
 * known, e.g. for "oci:" references), done and total in bytes (total 0 if the registry
 * did not say). A layer already in the store is reported once with done == total.
 * Called on the thread that called boxlite_image_pull, before it returns, possibly many
 * times per layer and with layers interleaved (several download at once). It should
 * return quickly: downloads wait while it runs.
 * It returns BOXLITE_PULL_CONTINUE, or BOXLITE_PULL_STOP to cancel the pull: then
 * boxlite_image_pull returns BOXLITE_ERR_CANCELLED soon after (within one network read),
 * records no image, and keeps the layers downloaded so far, whole or partial: a later pull
 * of the same image resumes them. */
#define BOXLITE_PULL_CONTINUE 0
#define BOXLITE_PULL_STOP 1
typedef int (*boxlite_pull_progress_fn)(void *user_data, int layer, int n_layers,
                                        const char *digest, unsigned long long done,
                                        unsigned long long total);
/* Registry settings for this runtime's pulls, as the JSON of <home>/registries.json:
 *   {"search": ["registry.example.com", "docker.io"],
 *    "registries": {"docker.io": {"mirrors": ["mirror.example:5000"]},
 *                   "registry.example.com": {"ca_file": "/path/ca.pem", "insecure": false,
 *                                            "username": "u", "password": "p"}}}
 * search: where short names ("alpine") are looked for, in order (default docker.io);
 * mirrors: tried first, the registry itself last, every byte checked against the digest the
 * registry gives the tag; ca_file: an extra CA for that registry; insecure: plain HTTP and
 * no certificate check. Replaces the file's settings for this runtime (the file is read at
 * each pull otherwise); NULL goes back to the file. Invalid settings: BOXLITE_ERR_INVALID,
 * naming what is wrong, and nothing changes. */
BOXLITE_API int boxlite_runtime_set_registries(boxlite_runtime *rt, const char *json);
/* What the last call on this thread wants its user to know although it did not fail: the
 * name a short reference resolved to, a mirror passed over, a fallback taken. One line per
 * notice, "" if none; valid until the thread's next call. */
BOXLITE_API const char *boxlite_last_notice(void);
/* Downloads an image (layers not already stored) and records it under its normalised
 * reference. progress may be NULL. The box disk is built on first use, not here. */
BOXLITE_API int boxlite_image_pull(boxlite_runtime *rt, const char *ref,
                                   boxlite_pull_progress_fn progress, void *user_data);
/* boxlite_image_pull of the variant for a platform ("os/arch[/variant]", as
 * boxlite_options_set_platform; NULL or "" = the host's): what a box of that platform runs,
 * recorded under the reference in place of another platform's (as docker pull --platform).
 * An image without that variant: BOXLITE_ERR_NOT_FOUND (a single-platform image of another
 * platform: BOXLITE_ERR_UNSUPPORTED), naming the platform. */
BOXLITE_API int boxlite_image_pull_platform(boxlite_runtime *rt, const char *ref,
                                            const char *platform,
                                            boxlite_pull_progress_fn progress, void *user_data);
/* JSON array, one entry per reference: [{"ref": "docker.io/library/alpine:latest",
 * "id": "<64 hex>", "size": <bytes of its stored blobs>, "layers": <n>,
 * "created": "<RFC 3339, from the image config>" or null}], sorted by ref. */
BOXLITE_API int boxlite_image_list(boxlite_runtime *rt, char **json_out);
/* Removes a reference (or an image id / unique id prefix of at least 12 hex digits), then
 * garbage-collects blobs no remaining image needs. Refused (BOXLITE_ERR_STATE) while a box
 * was created from it, unless force; the disk bases of existing boxes are always kept. A
 * box created while this runs may not be seen; it pulls the image again when it starts. */
BOXLITE_API int boxlite_image_remove(boxlite_runtime *rt, const char *ref, int force);

/* ---- Host check ----------------------------------------------------------------------
 * Whether and how boxes can run here, as `boxlite doctor` shows it: JSON
 * {"checks": [{"name", "status": "ok"|"info"|"warn"|"fail", "detail", "fix"}, ...],
 *  "engines": <what `boxlite-vmm --check --json` says: engines, KVM, CPU templates, QEMU>}.
 * Looks at the CPU's virtualization, /dev/kvm and its capabilities, the CPU templates, QEMU,
 * the guest kernel and initramfs, cgroups, user namespaces and seccomp (the jail), the home
 * folder (home_dir as for boxlite_runtime_open; not created) and its free disk. Boots
 * nothing; takes well under a second. */
BOXLITE_API int boxlite_host_check(const char *home_dir, char **json_out);
/* The same for a runtime opened with boxlite_runtime_open_with(home_dir, options_json):
 * its "vmm", "kernel", "initrd" and "qemu" settings are the ones checked (else their
 * environment variables, as boxlite_host_check does). Options as for
 * boxlite_runtime_open_with (a mistake is BOXLITE_ERR_INVALID naming it); nothing is
 * created. */
BOXLITE_API int boxlite_host_check_with(const char *home_dir, const char *options_json,
                                        char **json_out);

/* "0.1.0": the library's version, which may differ from BOXLITE_VERSION at build time. */
BOXLITE_API const char *boxlite_version(void);
/* The same as a number (BOXLITE_VERSION_NUMBER of the library: 1000 for 0.1.0), for
 * comparing with the header a program was built with. */
BOXLITE_API int boxlite_version_number(void);
/* A short English name for a code ("not found"). Never NULL. */
BOXLITE_API const char *boxlite_code_str(int code);

/* ---- Docker-like box settings and verbs (the CLI's run/create flags, rename) ----------
 * Labels: free-form KEY=VALUE metadata kept with the box (its info's "labels"), not seen by
 * the box. Host name: the box's (RFC 1123), default its name. Read-only: the box's root
 * file system is mounted read-only, as Docker's --read-only (volumes and disks keep their
 * own mode; /dev, /dev/shm and /proc are mounts of their own). Restart, Docker's policy
 * for the box's main process (a box without one refuses it at create): "no" (default),
 * "on-failure" (when it exits non-zero; max_retries restarts at most, 0 = no limit),
 * "always" or "unless-stopped" (whenever it ends; the same here, as no daemon restarts
 * boxes at boot). The box's agent runs the main process again in the same container and
 * VM after Docker's back-off (100 ms, doubled each time, back to 100 ms after 10 s of
 * running, at most a minute), so it works whoever started the box and after that process
 * exited; the box stays running meanwhile. A stop on request ends it for good. A VM that
 * dies (kernel panic, its per-box process killed, a host reboot) is started again by the
 * next boxlite_runtime_open of the home (a detached box only: no daemon is left to do it
 * sooner), after the same back-off and within on-failure's count, with a notice. The box's
 * info counts both kinds: "restart_count". Options JSON:
 * "labels": {"k": "v"}, "hostname", "read_only", "restart", "restart_max". */
BOXLITE_API int boxlite_options_set_label(boxlite_options *o, const char *key,
                                          const char *value);
BOXLITE_API int boxlite_options_set_hostname(boxlite_options *o, const char *hostname);
BOXLITE_API int boxlite_options_set_read_only(boxlite_options *o, int read_only);
BOXLITE_API int boxlite_options_set_restart(boxlite_options *o, const char *policy,
                                            int max_retries);
/* Docker's -i for a box's main process (JSON "stdin_open"): its stdin is a pipe that stays
 * open for the box's life, fed by boxlite_box_attach_stdin, instead of /dev/null. Needs a
 * main process. */
BOXLITE_API int boxlite_options_set_stdin_open(boxlite_options *o, int stdin_open);
/* Docker's -t for a box's main process (JSON "tty"): it runs on a terminal (the box's own
 * devpts, 24x80 until an attach resizes it, TERM=xterm unless set), whose output goes to
 * the console log as the process's would; with stdin_open, attach input is typed on it.
 * Needs a main process. */
BOXLITE_API int boxlite_options_set_tty(boxlite_options *o, int tty);
/* An execution whose stdin is the box's main process's (a box created with stdin_open):
 * boxlite_exec_write_stdin reaches it; its output fds end at once (the main process writes
 * to the console: boxlite_box_log_open); closing its stdin or freeing it leaves the main
 * process's stdin open for the next attach. BOXLITE_ERR_STATE when the box's main process
 * has no open stdin. */
BOXLITE_API int boxlite_box_attach_stdin(boxlite_box *box, boxlite_exec **out);
/* Sends sig (1..64) to the box's main process (Docker's kill: that process only, which may
 * pass it on). BOXLITE_ERR_STATE when the box is not running or has no main process running
 * (none was given, it ended, or it waits to restart). A paused box is resumed first. */
BOXLITE_API int boxlite_box_kill(boxlite_box *box, int sig);
/* Starts spec->argv in the box to run on its own (`exec -d`): no terminal, stdin
 * /dev/null, its output to the box's console log; returns once it started, or with the
 * agent's reason (BOXLITE_ERR_NOT_FOUND "exec PROG: No such file or directory"). It is not
 * stopped when the caller goes away; it ends with the box. */
BOXLITE_API int boxlite_exec_start_detached(boxlite_box *box, const boxlite_exec_spec *spec);
/* Renames a box (any state). The new name must be valid and free (BOXLITE_ERR_EXISTS). A
 * running box keeps its host name until it restarts. */
BOXLITE_API int boxlite_box_rename(boxlite_runtime *rt, const char *id_or_name,
                                   const char *new_name);

/* ---- Disk snapshots, clones, export and import ----------------------------------------
 * A box's disk is a qcow2 chain: a writable top over frozen layers over its image's base
 * (docs/architecture.md, "Disk snapshots"). Snapshot create, clone and export also work on a
 * running box: its root filesystem is frozen (the agent's FIFREEZE) while its disk's top is
 * copied, so they capture what the guest had written; restore needs a stopped box
 * (BOXLITE_ERR_STATE "stop it first"), and a box starting or stopping is refused, as is a
 * paused one (its latest writes may be only in its saved memory: resume or stop it first).
 * Snapshot names: 1-64 characters [a-zA-Z0-9_.-], starting with a letter or digit.
 * create freezes the current disk (nothing is copied; BOXLITE_ERR_EXISTS for a name the box
 * has; BOXLITE_ERR_UNSUPPORTED once the chain is 14 layers deep); restore makes the disk what
 * it was at the snapshot (later writes are dropped; the snapshot stays); remove drops the
 * name (any state) and the layers nothing else needs. list: a JSON array, oldest first, of
 * {"name", "created" (unix seconds), "size_bytes" (what the snapshot's layer holds)}. */
BOXLITE_API int boxlite_snapshot_create(boxlite_box *box, const char *name);
BOXLITE_API int boxlite_snapshot_list(boxlite_box *box, char **json_out);
BOXLITE_API int boxlite_snapshot_restore(boxlite_box *box, const char *name);
BOXLITE_API int boxlite_snapshot_remove(boxlite_box *box, const char *name);
/* A new box (name new_name, the source's options) whose disk shares the source's history
 * copy-on-write: writes in either are not seen by the other, and either may be removed. */
BOXLITE_API int boxlite_box_clone(boxlite_runtime *rt, const char *id_or_name,
                                  const char *new_name, boxlite_box **out);
/* Writes the box (options, image reference and digest, image configuration, its disk chain
 * down to the base, SHA-256 of every member) into one archive at path (a zstd-compressed
 * tar, format in docs/architecture.md); the file appears whole or not at all. */
BOXLITE_API int boxlite_box_export(boxlite_box *box, const char *path);
/* Makes a box from an archive of boxlite_box_export, named name (NULL: the name in the
 * archive). Everything is checked (members, sizes, checksums, qcow2 headers, options)
 * before the box exists; a corrupt or hostile archive is refused (BOXLITE_ERR_INVALID with
 * what is wrong) and leaves nothing behind. Host-specific options (volumes, published
 * ports, host ports the box may reach) are not imported: boxlite_last_notice says so. */
BOXLITE_API int boxlite_box_import(boxlite_runtime *rt, const char *path, const char *name,
                                   boxlite_box **out);
/* The same with options (a JSON object; NULL or "" = boxlite_box_import):
 *   {"labels": {"owner": "acme"}, "owner_label": "owner"}
 * labels are set on the box over the archive's (a key given replaces the archive's value;
 * its other labels stay). owner_label names one of them that the archive may carry only
 * with the same value: an archive whose box has it with another value is refused
 * (BOXLITE_ERR_INVALID), so a box cannot change hands by import (a server's tenant label;
 * an archive without the label is adopted). An unknown key is BOXLITE_ERR_INVALID. */
BOXLITE_API int boxlite_box_import_with(boxlite_runtime *rt, const char *path,
                                        const char *name, const char *options_json,
                                        boxlite_box **out);

/* ---- Memory snapshots: pause, resume, fork (QEMU engine) -------------------------------
 * Pause saves the box's memory and device state in its folder and ends its per-box
 * process: the box is "paused" (boxlite_box_info's state), nothing of it runs, and it
 * outlives every process of its user. Resume (or any execution or copy, or
 * boxlite_box_start) restores it: its processes, open files and tmpfs contents go on where
 * they were; its network connections are gone (the host side of the network is new). A
 * pause is refused with BOXLITE_ERR_STATE while executions or copies are open on the box,
 * and with BOXLITE_ERR_UNSUPPORTED for a box with volumes (QEMU cannot save a 9p share the
 * guest has mounted) or on the KVM engine (its memory snapshots are not built).
 * Pausing a paused box, or resuming a running one, succeeds and does nothing. timeout_ms
 * <= 0: two minutes. boxlite_box_stop of a paused box drops its saved memory (its next
 * start boots cold). The restart policy's count goes on across a pause; a fork's starts at
 * 0. Disk snapshots, clone and export refuse a paused box (see above). */
BOXLITE_API int boxlite_box_pause(boxlite_box *box, int timeout_ms);
BOXLITE_API int boxlite_box_resume(boxlite_box *box);
/* n new running boxes from box's memory and disk (a running box is paused for the copy and
 * resumed after): each shares the unchanged memory pages and disk blocks copy-on-write and
 * has an identity of its own: box id, name (names[i], or NULL for a generated one), host
 * name (its name), MAC, clock, RNG reseeded. out[] gets n handles (free each with
 * boxlite_box_free). On failure no fork is left. 1 <= n <= 256. */
BOXLITE_API int boxlite_box_fork(boxlite_box *box, const char *const *names, size_t n,
                                 boxlite_box **out);
/* Auto-pause: the box pauses itself after seconds without an execution, copy or other
 * request (0 = never, the default; options JSON "idle_pause_s"); its next use resumes it.
 * A health check counts as use. */
BOXLITE_API int boxlite_options_set_idle_pause(boxlite_options *o, int seconds);
/* The root file system is rootfs_path itself, shared into the VM (9p, as volumes are),
 * instead of a disk made from a copy of it: the host sees the box's writes at once (an OCI
 * bundle's rootfs, boxlite-runtime). Needs rootfs_path (BOXLITE_ERR_INVALID otherwise);
 * options JSON "rootfs_share". Such a box cannot be paused, snapshotted or exported (its
 * root is a host folder, not a disk). */
BOXLITE_API int boxlite_options_set_rootfs_share(boxlite_options *o, int enabled);

/* ---- Density: many idle boxes per host (docs/architecture.md "Density") ----------------
 * Every box has a virtio-balloon device with free page reporting: memory the guest frees
 * goes back to the host within seconds. Options (also JSON "balloon_target_mib",
 * "free_page_reporting", "ksm"):
 * - balloon target: the guest memory, MiB, the guest may keep (0 = none, the default;
 *   else 32..memory_mib): the balloon holds the rest, so the guest cannot use more;
 * - free page reporting: on by default; 0 turns it off (memory the guest touched once
 *   then stays with the box, as before);
 * - KSM: off by default. On, the host kernel's KSM may merge identical pages of this box
 *   with other boxes' (when /sys/kernel/mm/ksm/run is 1): less memory for many boxes of
 *   one image, but a merged page is slower to write, and that difference lets one box learn
 *   whether another holds a given page (a cross-box side channel). Turn it on only for
 *   boxes that trust each other. */
BOXLITE_API int boxlite_options_set_balloon_target(boxlite_options *o, int mib);
BOXLITE_API int boxlite_options_set_free_page_reporting(boxlite_options *o, int enabled);
BOXLITE_API int boxlite_options_set_ksm(boxlite_options *o, int enabled);
/* A running box's balloon target, now (0 = none): lasts until the box stops, through pauses
 * and into its forks (a cold start uses the option again). BOXLITE_ERR_STATE when not running, INVALID out of range,
 * UNSUPPORTED when its engine has no balloon. The guest follows within seconds;
 * boxlite_box_metrics "vmm"."balloon_actual_mib" shows where it is. */
BOXLITE_API int boxlite_box_set_balloon(boxlite_box *box, int target_mib);
/* Reclaims a running box's unused memory: the guest drops its caches (clean pages: nothing
 * is lost) and compacts its free memory, which free page reporting hands back to the host
 * over the next seconds. JSON: {"id", "name", "freed_bytes"} (how much the guest's free
 * memory grew). */
BOXLITE_API int boxlite_box_reclaim(boxlite_box *box, char **json_out);
/* The same for every running box that has been idle for at least idle_ms (0: every running
 * box, for a host short of memory), e.g. on a timer: a JSON array of those objects, each
 * with "idle_ms" too. Idle: no execution, copy or other request open on the box for that
 * long (a running main process alone does not count; a health check's runs do; the reclaim
 * itself is a request, so a box reclaimed now is idle again only idle_ms later). A box that
 * was not idle long enough has "skipped": true and its "idle_ms" (0: busy now); one that
 * could not be reclaimed has "error" instead of "freed_bytes", and the others go on. */
BOXLITE_API int boxlite_runtime_reclaim(boxlite_runtime *rt, int idle_ms, char **json_out);
/* boxlite_box_reclaim of one box only when it has been idle for at least idle_ms (0: as
 * boxlite_box_reclaim), as boxlite_runtime_reclaim decides it for each: "skipped" and
 * "idle_ms" when it was not idle long enough (what a server offers one tenant's boxes,
 * whom boxlite_runtime_reclaim would overstep). */
BOXLITE_API int boxlite_box_reclaim_idle(boxlite_box *box, int idle_ms, char **json_out);
/* boxlite_box_metrics "vmm" has, besides the engine's figures: "host_rss_bytes" (resident
 * memory of the box's processes, QEMU's included, guest RAM included: what the box costs
 * the host), "guest_resident_bytes" (guest RAM resident on the host), "mem_returned_bytes"
 * (given back by the balloon and free page reporting since the start; on the QEMU engine
 * the drops of guest_resident_bytes seen between two readings, a lower bound),
 * "balloon_target_mib" and "balloon_actual_mib" (0 = unknown). */

#ifdef __cplusplus
}
#endif
#endif
