// SPDX-License-Identifier: Apache-2.0
/* The QEMU engine: runs the box's VM as a qemu-system-x86_64 microvm child process (TCG, or
 * KVM acceleration where the CPU has hardware virtualization) and drives it over QMP.
 * QMP and the agent's virtio-serial port use socketpairs handed to QEMU as chardev fds, so
 * there are no socket paths (no length limit, no race with QEMU's listen, nothing stale). */
#include "vmm/qemu/qemu.h"

#include "common/cleanup.h"
#include "common/procstat.h"
#include "vmm/arch/arch.h"
#include "vmm/jail/jail.h"
#include "vmm/net/boxnet.h"
#include "vmm/net/link.h"
#include "vmm/qemu/output.h"
#include "vmm/qemu/qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QMP_START_TIMEOUT_MS 30000 /* QEMU's own start-up, on a loaded machine */
#define QMP_TIMEOUT_MS 10000

/* The fd numbers QEMU sees (the child moves its ends there before exec). */
enum { CHILD_QMP_FD = 3, CHILD_AGENT_FD, CHILD_NET_FD, CHILD_NFDS = 3 };
/* The serial console's pipe to the per-box process (config console_pipe), after the others. */
enum { CHILD_CONSOLE_FD = CHILD_QMP_FD + CHILD_NFDS, CHILD_ALL_FDS = CHILD_NFDS + 1 };

struct engine {
    pid_t pid;
    bool kvm; /* -accel kvm (else TCG) */
    int pidfd;
    struct qemu_output *output; /* QEMU's stdout and stderr, the last of it (output.h) */
    int agent_fd;
    pthread_mutex_t lock; /* qmp, exited, force */
    struct qmp qmp;
    bool reaped, force, exit_known;
    bool paused; /* its memory was saved (qemu_pause): the VM ended paused */
    struct engine_exit exit;
    uint16_t *ports;
    unsigned nports;
    double start_to_launch_ms;
    double start_to_ready_ms; /* the agent's HELLO; under ready_lock */
    pthread_mutex_t ready_lock;
    struct rusage final_usage; /* QEMU's, from wait4() once reaped */
    struct relay *relay;
    int qemu_agent_fd; /* QEMU's side until the relay takes it */
    /* the box's network: ours, fed by QEMU's virtio-net over net_fd */
    struct slirp_net *net;
    struct net_link *link;
    int net_fd; /* our end of the frame socket until the link takes it */
    /* Guest memory (docs/protocol.md "Balloon"), under lock: the RAM mapping to find in
     * QEMU's smaps (the memory file, else an anonymous mapping of mem_bytes), the target
     * set, and the resident bytes at the last look, whose drops count as returned (QEMU
     * counts no reports). */
    char *mem_path;
    uint64_t mem_bytes;
    uint32_t balloon_target_mib;
    uint64_t resident_last, returned;
};

/* ---- finding QEMU ---------------------------------------------------------------- */

static bool executable(const char *p) { return access(p, X_OK) == 0; }

/* The configured binary (vmm.json's qemu_binary, --qemu): one box per process, so one
 * setting per process; set before any engine is chosen, read-only after. */
static char configured[4096];

void qemu_use_binary(const char *path)
{
    snprintf(configured, sizeof configured, "%s", path ? path : "");
}

/* The box's architecture's machine (qemu_use_arch); NULL until set: the host's. */
static const struct qemu_machine *box_machine;

void qemu_use_arch(const char *arch) { box_machine = qemu_machine_for(arch); }

const struct qemu_machine *qemu_machine(void)
{
    const struct qemu_machine *m = box_machine ? box_machine : qemu_machine_for(NULL);
    /* a host QEMU has no machine for (config.c refuses such an "arch" for a box): x86_64's */
    return m ? m : qemu_machine_for("x86_64");
}

/* The configured binary (and $BOXLITE_QEMU) is the host architecture's QEMU: for a box of
 * another architecture, its sibling of that name in the same folder, when there is one. */
static bool sibling(const char *bin, const struct qemu_machine *m, char *path, size_t path_len)
{
    const char *slash = strrchr(bin, '/');
    if (qemu_machine_is_host(m) || !slash)
        return false;
    snprintf(path, path_len, "%.*s/%s", (int)(slash - bin), bin, m->binary);
    return executable(path);
}

bool qemu_find_binary(char *path, size_t path_len, char *why, size_t why_len)
{
    const struct qemu_machine *m = qemu_machine();
    const char *env = getenv("BOXLITE_QEMU");
    if ((configured[0] && sibling(configured, m, path, path_len)) ||
        (!configured[0] && env && *env && sibling(env, m, path, path_len)))
        return true;
    if (configured[0] && qemu_machine_is_host(m)) {
        snprintf(path, path_len, "%s", configured);
        if (executable(configured))
            return true;
        snprintf(why, why_len, "qemu_binary %s (the runtime's \"qemu\" setting) is not an "
                 "executable file", configured);
        return false;
    }
    if (!configured[0] && env && *env && qemu_machine_is_host(m)) {
        snprintf(path, path_len, "%s", env);
        if (executable(env))
            return true;
        snprintf(why, why_len, "BOXLITE_QEMU=%s is not an executable file", env);
        return false;
    }
    const char *name = m->binary;
    const char *search = getenv("PATH");
    if (!search || !*search)
        search = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = search; p && *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0) {
            snprintf(path, path_len, "%.*s/%s", (int)len, p, name);
            if (executable(path))
                return true;
        }
        p = colon ? colon + 1 : NULL;
    }
    snprintf(why, why_len,
             "%s is not installed (not found on PATH; on Debian: apt-get install "
             "%s)",
             name, m->package);
    return false;
}

/* Asked once: the answer needs /proc/cpuinfo, which the jail does not show (the per-box
 * process asks before it enters the jail). */
static bool hw_virt_probe(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    close(fd);
    return arch_host_virt(NULL);
}

static bool hw_virt;
static void hw_virt_once(void) { hw_virt = hw_virt_probe(); }

bool qemu_hw_virt_usable(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, hw_virt_once);
    return hw_virt;
}

static bool qemu_available(char *why, size_t why_len)
{
    char path[4096];
    return qemu_find_binary(path, sizeof path, why, why_len);
}

/* ---- small helpers --------------------------------------------------------------- */

/* Milliseconds since this process was spawned (engine.h). */
static double ms_since_process_start(void) { return engine_ms_since_start(); }

static int signal_qemu(struct engine *e, int sig)
{
    if (e->pidfd >= 0)
        return (int)syscall(SYS_pidfd_send_signal, e->pidfd, sig, NULL, 0);
    return e->reaped ? 0 : kill(e->pid, sig);
}

/* ---- the agent's HELLO ----------------------------------------------------------- */

static void on_agent_hello(void *arg)
{
    struct engine *e = arg;
    double ms = ms_since_process_start();
    pthread_mutex_lock(&e->ready_lock);
    if (e->start_to_ready_ms == 0)
        e->start_to_ready_ms = ms > 0 ? ms : 0.001;
    pthread_mutex_unlock(&e->ready_lock);
}

/* ---- start ----------------------------------------------------------------------- */

static void engine_free(struct engine *e)
{
    if (!e)
        return;
    net_link_stop(e->link); /* before the stack it feeds */
    slirp_net_free(e->net);
    relay_stop(e->relay);
    qmp_close(&e->qmp);
    int fds[] = {e->pidfd, e->agent_fd, e->qemu_agent_fd, e->net_fd};
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    qemu_output_free(e->output); /* after QEMU: its last words are read first */
    pthread_mutex_destroy(&e->lock);
    pthread_mutex_destroy(&e->ready_lock);
    free(e->ports);
    free(e->mem_path);
    free(e);
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn))
child_exec(const char *binary, char **argv, const int *fds, int stderr_fd, pid_t parent,
           bool private_ram)
{
    setpgid(0, 0); /* the terminal's Ctrl-C goes to the per-box process, not to QEMU */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    /* Everything moves above the numbers QEMU is told about before they are filled. */
    int out_fd = fcntl(stderr_fd, F_DUPFD_CLOEXEC, 64);
    int tmp[CHILD_ALL_FDS];
    for (int i = 0; i < CHILD_ALL_FDS; i++)
        tmp[i] = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD_CLOEXEC, 64) : -1;
    for (int i = 0; i < CHILD_ALL_FDS; i++) {
        if (tmp[i] >= 0)
            dup2(tmp[i], CHILD_QMP_FD + i);
        else
            close(CHILD_QMP_FD + i);
    }
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0)
        dup2(devnull, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    /* Nothing else of ours reaches QEMU, even an fd someone opened without O_CLOEXEC. */
    syscall(SYS_close_range, CHILD_QMP_FD + CHILD_ALL_FDS, ~0u, 0);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    jail_qemu_child(private_ram); /* seccomp filters under QEMU's -sandbox (src/vmm/jail/) */
    execv(binary, argv);
    static const char msg[] = "boxlite: cannot execute QEMU\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing left to tell */
    }
    _exit(127);
}

static int fail_started(struct engine *e, struct bl_error *err)
{
    /* QEMU may have printed why it stopped: say it after our own reason. */
    signal_qemu(e, SIGKILL);
    int st;
    while (waitpid(e->pid, &st, 0) < 0 && errno == EINTR)
        ;
    e->reaped = true;
    char tail[512];
    qemu_output_tail(e->output, tail, sizeof tail); /* QEMU's last words */
    if (tail[0] && err) {
        char reason[BL_ERRMSG_MAX];
        snprintf(reason, sizeof reason, "%s", err->msg);
        bl_err(err, err->code ? err->code : BOXLITE_ERR_ENGINE, "%s (QEMU said: %s)", reason,
               tail);
    }
    return err ? -err->code : -BOXLITE_ERR_ENGINE;
}

/* QMP "balloon" takes the guest's memory size in bytes (no target: all of it). Under
 * e->lock or before the engine is shared. */
static int balloon_set(struct engine *e, uint32_t target_mib, struct bl_error *err)
{
    uint64_t bytes = (uint64_t)(target_mib ? target_mib : e->mem_bytes >> 20) << 20;
    json_t *args = json_pack("{s:I}", "value", (json_int_t)bytes);
    if (!args)
        return bl_errno(err, ENOMEM, "balloon");
    if (qmp_execute(&e->qmp, "balloon", args, NULL, QMP_TIMEOUT_MS, err) < 0) {
        if (strstr(err->msg, "DeviceNotActive"))
            err->code = BOXLITE_ERR_UNSUPPORTED; /* cmdline.c left it out: no slot free */
        return -err->code;
    }
    e->balloon_target_mib = target_mib;
    return 0;
}

static int qemu_balloon(struct engine *e, uint32_t target_mib, struct bl_error *err)
{
    pthread_mutex_lock(&e->lock);
    int rc = e->reaped ? bl_err(err, BOXLITE_ERR_STATE, "QEMU has exited")
                       : balloon_set(e, target_mib, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

/* Guest memory figures, under e->lock with QEMU running: QEMU's query-balloon, and the
 * resident pages of the RAM mapping in its smaps. */
static void memory_stats(struct engine *e, struct engine_stats *out)
{
    struct bl_error qerr = {0};
    json_t *b = NULL;
    out->balloon_target_mib = e->balloon_target_mib;
    if (qmp_execute(&e->qmp, "query-balloon", NULL, &b, QMP_TIMEOUT_MS, &qerr) == 0) {
        json_int_t actual = json_integer_value(json_object_get(b, "actual"));
        if (actual > 0)
            out->balloon_actual_mib = (uint32_t)((uint64_t)actual >> 20);
    }
    json_decref(b);
    struct proc_smaps sm = { .path = e->mem_path, .anon_size = e->mem_bytes };
    if (proc_smaps_read(e->pid, &sm) == 0) {
        if (sm.match_rss < e->resident_last)
            e->returned += e->resident_last - sm.match_rss;
        e->resident_last = sm.match_rss;
        out->guest_resident_bytes = sm.match_rss;
    }
    out->mem_returned_bytes = e->returned;
}

/* QEMU runs: talk to it, relay the agent's channel and the network's frames. */
static int after_launch(struct engine *e, const struct vmm_config *cfg, struct bl_error *err)
{
    if (qmp_open(&e->qmp, e->qmp.fd, QMP_START_TIMEOUT_MS, err) < 0)
        return -err->code;
    uint32_t balloon_target = cfg->balloon_target_mib;
    if (cfg->memory_incoming) {
        double t_qmp = ms_since_process_start();
        /* A resume: the saved state, then the file goes before the guest runs (a guest that
         * ran has changed its shared RAM file: that state could never be loaded again), so a
         * resume killed before this point leaves a box that can still be resumed. */
        int fd = open(cfg->memory_incoming, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return bl_errno(err, errno, "resume: open %s", cfg->memory_incoming);
        struct qemu_saved saved;
        bool known;
        int rc = qemu_migrate_in(&e->qmp, fd, &saved, &known, err);
        close(fd);
        if (rc < 0)
            return rc;
        /* The target at the pause (a BALLOON since the start moved it, a fork's source's
         * too), which the guest's migrated balloon holds: not vmm.json's, as on the KVM
         * engine. A state without the header keeps vmm.json's, as before. */
        uint32_t t = saved.balloon_target_mib;
        if (known && t && (t < VMM_BALLOON_MIN_MIB || t > cfg->memory_mib))
            return bl_err(err, BOXLITE_ERR_ENGINE, "resume: the saved balloon target %u MiB "
                          "is out of range (%u..%u)", t, VMM_BALLOON_MIN_MIB, cfg->memory_mib);
        if (known)
            balloon_target = t;
        if (unlink(cfg->memory_incoming) < 0 && errno != ENOENT)
            return bl_errno(err, errno, "resume: remove %s", cfg->memory_incoming);
        double t_loaded = ms_since_process_start();
        if (qmp_execute(&e->qmp, "cont", NULL, NULL, QMP_TIMEOUT_MS, err) < 0)
            return -err->code;
        /* the resume's steps, for its figures (bench/pause.sh reads this line) */
        fprintf(stderr, "boxlite-vmm: resume: QEMU launched at %.1f ms, answered QMP at %.1f "
                "ms, state loaded at %.1f ms, guest running at %.1f ms\n",
                e->start_to_launch_ms, t_qmp, t_loaded, ms_since_process_start());
    }
    json_t *st = NULL;
    if (qmp_execute(&e->qmp, "query-status", NULL, &st, QMP_TIMEOUT_MS, err) < 0)
        return -err->code;
    const char *status = json_string_value(json_object_get(st, "status"));
    bool running = status && strcmp(status, "running") == 0;
    json_decref(st);
    if (!running)
        return bl_err(err, BOXLITE_ERR_ENGINE, "the VM is not running after start (status %s)",
                      status ? status : "unknown");
    /* The balloon's target at start; QEMU has none of its own (docs/protocol.md "Balloon").
     * On a resume QEMU's device has it already: set again, it moves nothing. */
    if (balloon_target && balloon_set(e, balloon_target, err) < 0)
        return bl_err_prefix(err, "balloon");
    if (relay_start(&e->relay, e->qemu_agent_fd, &e->agent_fd, on_agent_hello, e, err) < 0)
        return -err->code;
    e->qemu_agent_fd = -1; /* the relay's now */
    if (e->net) {
        int fd = e->net_fd;
        e->net_fd = -1; /* the link's now, even if it fails */
        if (net_link_start(&e->link, fd, slirp_net_backend(e->net), err) < 0)
            return bl_err_prefix(err, "network");
    }
    return 0;
}

static int qemu_start(struct engine **out, const struct vmm_config *cfg, struct bl_error *err)
{
    *out = NULL;
    struct bl_error local = {0};
    if (!err)
        err = &local;
    char binary[4096], why[512];
    if (!qemu_find_binary(binary, sizeof binary, why, sizeof why))
        return bl_err(err, BOXLITE_ERR_ENGINE, "QEMU engine: %s", why);

    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return bl_errno(err, ENOMEM, "QEMU engine");
    e->pidfd = e->agent_fd = e->qemu_agent_fd = e->net_fd = -1;
    e->qmp.fd = -1;
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->ready_lock, NULL);

    int qmp_sv[2] = {-1, -1}, agent_sv[2] = {-1, -1}, net_sv[2] = {-1, -1}, out_w = -1;
    char **argv = NULL;
    int rc;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp_sv) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, agent_sv) < 0) {
        rc = bl_errno(err, errno, "socketpair");
        goto fail;
    }
    if (cfg->network && cfg->netns) {
        /* the tap the per-box process opened in the namespace (main.c): QEMU's own copy */
        if ((net_sv[1] = fcntl(cfg->net_tap_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
            rc = bl_errno(err, errno, "network: the tap");
            goto fail;
        }
    } else if (cfg->network) {
        /* The stack and its forwards first: a forward that cannot bind fails the start
         * before QEMU runs, and a port-0 forward's port is known at once. */
        e->nports = cfg->nports;
        if (!(e->ports = calloc(cfg->nports ? cfg->nports : 1, sizeof *e->ports))) {
            rc = bl_errno(err, ENOMEM, "network");
            goto fail;
        }
        if ((rc = boxnet_new(&e->net, cfg, e->ports, err)) < 0)
            goto fail;
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, net_sv) < 0) {
            rc = bl_errno(err, errno, "network: socketpair");
            goto fail;
        }
        /* QEMU sends the guest's bursts into this one: room for them */
        int sz = 1 << 20;
        setsockopt(net_sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    if ((rc = qemu_output_open(&e->output, &out_w, err)) < 0)
        goto fail;

    struct qemu_launch l = {
        .binary = binary,
        /* KVM runs only a box of the host's own architecture; another is TCG's */
        .kvm = qemu_machine_is_host(qemu_machine()) && qemu_hw_virt_usable(),
        .machine = qemu_machine(),
        .qmp_fd = CHILD_QMP_FD,
        .agent_fd = CHILD_AGENT_FD,
        .net_fd = cfg->network ? CHILD_NET_FD : -1,
        .console_fd = cfg->console_pipe ? CHILD_CONSOLE_FD : -1,
    };
    e->kvm = l.kvm;
    e->mem_bytes = (uint64_t)cfg->memory_mib << 20;
    if (cfg->memory_file && !(e->mem_path = strdup(cfg->memory_file))) {
        rc = bl_errno(err, ENOMEM, "QEMU engine");
        goto fail;
    }
    rc = qemu_build_argv(cfg, &l, &argv, err);
    if (rc < 0)
        goto fail;

    int child_fds[CHILD_ALL_FDS] = {qmp_sv[1], agent_sv[1], net_sv[1],
                                    cfg->console_pipe ? cfg->console_fd : -1};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        rc = bl_errno(err, errno, "fork");
        goto fail;
    }
    if (pid == 0)
        child_exec(binary, argv, child_fds, out_w, parent,
                   cfg->memory_file && !cfg->memory_shared);
    e->pid = pid;
    e->start_to_launch_ms = ms_since_process_start();
    e->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    qemu_argv_free(argv);
    argv = NULL;
    close(qmp_sv[1]);
    close(agent_sv[1]);
    if (net_sv[1] >= 0)
        close(net_sv[1]);
    close(out_w); /* QEMU's alone: its end is the reader's end of file */
    out_w = -1;
    e->qemu_agent_fd = agent_sv[0];
    e->net_fd = net_sv[0];

    e->qmp.fd = qmp_sv[0]; /* owned by e from here (qmp_open keeps it on failure) */
    rc = after_launch(e, cfg, err);
    if (rc < 0) {
        rc = fail_started(e, err);
        engine_free(e);
        return bl_err_prefix(err, "QEMU engine");
    }
    *out = e;
    return 0;

fail:
    qemu_argv_free(argv);
    int fds[] = {qmp_sv[0], qmp_sv[1], agent_sv[0], agent_sv[1], net_sv[0], net_sv[1], out_w};
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    engine_free(e);
    return bl_err_prefix(err, "QEMU engine");
}

/* ---- running --------------------------------------------------------------------- */

static int qemu_agent_fd(struct engine *e) { return e->agent_fd; }

static int qemu_host_port(struct engine *e, unsigned i)
{
    return e && e->ports && i < e->nports ? e->ports[i] : 0;
}

int engine_qemu_pid(struct engine *e) { return e ? (int)e->pid : -1; }

int engine_qemu_status(struct engine *e, char *buf, size_t len, struct bl_error *err)
{
    pthread_mutex_lock(&e->lock);
    json_t *st = NULL;
    int rc = e->reaped ? bl_err(err, BOXLITE_ERR_STATE, "QEMU has exited")
                       : qmp_execute(&e->qmp, "query-status", NULL, &st, QMP_TIMEOUT_MS, err);
    pthread_mutex_unlock(&e->lock);
    if (rc < 0)
        return rc;
    const char *s = json_string_value(json_object_get(st, "status"));
    snprintf(buf, len, "%s", s ? s : "unknown");
    json_decref(st);
    return 0;
}

static int qemu_stop(struct engine *e, bool force, struct bl_error *err)
{
    if (!force)
        /* microvm without ACPI has no power button; the agent powers the guest off. */
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "QEMU engine: no graceful power-off without ACPI (ask the agent, or force)");
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    if (!e->reaped) {
        e->force = true;
        struct bl_error qerr = {0};
        /* "quit" lets QEMU flush its disk caches; a signal if it cannot answer. */
        if (qmp_execute(&e->qmp, "quit", NULL, NULL, QMP_TIMEOUT_MS, &qerr) < 0 &&
            signal_qemu(e, SIGKILL) < 0 && errno != ESRCH)
            rc = bl_errno(err, errno, "QEMU engine: kill QEMU");
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

static void describe_exit(struct engine *e, int status)
{
    struct engine_exit *x = &e->exit;
    memset(x, 0, sizeof *x);
    x->guest_status = -1; /* no control page under QEMU: the agent reports over its channel */
    char tail[200];
    qemu_output_tail(e->output, tail, sizeof tail); /* QEMU's last words */
    const char *why = e->qmp.shutdown_seen ? e->qmp.shutdown_reason : "";
    if (e->paused) {
        x->paused = true;
        snprintf(x->reason, sizeof x->reason, "paused: memory saved");
    } else if (strcmp(why, "guest-shutdown") == 0) {
        x->powered_off = true;
        snprintf(x->reason, sizeof x->reason, "guest powered off");
    } else if (strcmp(why, "guest-reset") == 0) {
        x->powered_off = true;
        snprintf(x->reason, sizeof x->reason, "guest rebooted (treated as power-off)");
    } else if (strcmp(why, "guest-panic") == 0) {
        x->powered_off = true;
        snprintf(x->reason, sizeof x->reason, "guest kernel panicked");
    } else if (e->force) {
        x->killed = true;
        snprintf(x->reason, sizeof x->reason, "stopped by force");
    } else if (WIFSIGNALED(status)) {
        snprintf(x->reason, sizeof x->reason, "QEMU killed by signal %d%s%s", WTERMSIG(status),
                 tail[0] ? ": " : "", tail);
    } else if (WIFEXITED(status) && e->qmp.shutdown_seen) {
        snprintf(x->reason, sizeof x->reason, "QEMU shut down (%s), status %d", why,
                 WEXITSTATUS(status));
    } else if (WIFEXITED(status)) {
        snprintf(x->reason, sizeof x->reason, "QEMU exited with status %d%s%s",
                 WEXITSTATUS(status), tail[0] ? ": " : "", tail);
    } else {
        snprintf(x->reason, sizeof x->reason, "QEMU ended (exit status unknown)");
    }
}

static int qemu_wait(struct engine *e, struct engine_exit *out)
{
    pthread_mutex_lock(&e->lock);
    bool known = e->exit_known;
    pthread_mutex_unlock(&e->lock);
    if (!known) {
        int status = 0;
        pid_t r;
        struct rusage ru = {0};
        while ((r = wait4(e->pid, &status, 0, &ru)) < 0 && errno == EINTR)
            ;
        if (r < 0 && e->pidfd >= 0) {
            /* Someone else reaped it (SIGCHLD ignored?): the pidfd still says when. */
            struct pollfd p = {.fd = e->pidfd, .events = POLLIN};
            while (poll(&p, 1, -1) < 0 && errno == EINTR)
                ;
            status = -1;
        }
        pthread_mutex_lock(&e->lock);
        if (!e->exit_known) {
            e->reaped = true;
            e->final_usage = ru;
            qmp_drain(&e->qmp, 1000); /* the SHUTDOWN event says why */
            describe_exit(e, status);
            if (status == -1)
                snprintf(e->exit.reason + strlen(e->exit.reason),
                         sizeof e->exit.reason - strlen(e->exit.reason), " (not reaped here)");
            e->exit_known = true;
        }
        pthread_mutex_unlock(&e->lock);
    }
    if (out)
        *out = e->exit;
    return 0;
}

static int read_proc_usage(pid_t pid, struct engine_stats *s)
{
    char path[64], buf[2048];
    struct proc_stat ps;
    if (proc_stat_read(pid, &ps) < 0)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    s->cpu_user_us = ps.utime * 1000000ull / (unsigned long long)hz;
    s->cpu_sys_us = ps.stime * 1000000ull / (unsigned long long)hz;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    cleanup_fclose FILE *g = fopen(path, "re");
    while (g && fgets(buf, sizeof buf, g)) {
        unsigned long long kb;
        if (sscanf(buf, "VmRSS: %llu kB", &kb) == 1)
            s->rss_bytes = kb * 1024;
    }
    return 0;
}

static int qemu_stats(struct engine *e, struct engine_stats *out)
{
    memset(out, 0, sizeof *out);
    out->cpu_template = e->kvm ? "qemu:host" : "qemu:max"; /* cmdline.c's -cpu */
    out->start_to_first_run_ms = e->start_to_launch_ms;
    pthread_mutex_lock(&e->lock);
    if (!e->reaped) {
        read_proc_usage(e->pid, out);
        memory_stats(e, out);
        /* the box's cost: this process and QEMU */
        struct engine_stats self = {0};
        read_proc_usage(getpid(), &self);
        out->host_rss_bytes = out->rss_bytes + self.rss_bytes;
    } else {
        /* QEMU's totals; its memory is the peak resident size */
        const struct rusage *ru = &e->final_usage;
        out->cpu_user_us = (uint64_t)ru->ru_utime.tv_sec * 1000000u +
                           (uint64_t)ru->ru_utime.tv_usec;
        out->cpu_sys_us = (uint64_t)ru->ru_stime.tv_sec * 1000000u +
                           (uint64_t)ru->ru_stime.tv_usec;
        out->rss_bytes = (uint64_t)ru->ru_maxrss * 1024;
    }
    pthread_mutex_unlock(&e->lock);
    if (e->net) {
        struct net_stats ns;
        slirp_net_stats(e->net, &ns);
        out->net_rx_bytes = ns.rx_bytes;
        out->net_tx_bytes = ns.tx_bytes;
        out->net_connections = ns.tcp_out + ns.tcp_in;
        out->net_allowed = ns.conn_allowed;
        out->net_denied = ns.conn_denied;
    }
    pthread_mutex_lock(&e->ready_lock);
    out->start_to_ready_ms = e->start_to_ready_ms;
    pthread_mutex_unlock(&e->ready_lock);
    return 0;
}

/* Pause: the state goes to a temporary name, made durable, then renamed into place, so a
 * per-box process killed midway leaves no state file (the box is then stopped, not paused:
 * the library finds no file to resume from). QEMU then quits: the VM has ended, paused. */
static int qemu_pause(struct engine *e, const char *state_path, struct bl_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", state_path);
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    int fd = -1;
    if (e->reaped) {
        rc = bl_err(err, BOXLITE_ERR_STATE, "QEMU has exited");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = bl_errno(err, errno, "pause: %s", tmp);
        goto out;
    }
    struct qemu_saved saved = { .balloon_target_mib = e->balloon_target_mib };
    if ((rc = qemu_migrate_out(&e->qmp, fd, &saved, err)) < 0)
        goto out;
    if (fsync(fd) < 0 || rename(tmp, state_path) < 0) {
        rc = bl_errno(err, errno, "pause: %s", state_path);
        struct bl_error e2 = {0};
        qmp_execute(&e->qmp, "cont", NULL, NULL, QMP_TIMEOUT_MS, &e2);
        goto out;
    }
    e->paused = true;
    struct bl_error qerr = {0};
    if (qmp_execute(&e->qmp, "quit", NULL, NULL, QMP_TIMEOUT_MS, &qerr) < 0)
        signal_qemu(e, SIGKILL);
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

static void qemu_destroy(struct engine *e)
{
    if (!e)
        return;
    if (!e->exit_known) {
        qemu_stop(e, true, NULL);
        qemu_wait(e, NULL);
    }
    engine_free(e);
}

const struct engine_ops engine_qemu_ops = {
    .name = "qemu",
    .available = qemu_available,
    .start = qemu_start,
    .agent_fd = qemu_agent_fd,
    .stop = qemu_stop,
    .wait = qemu_wait,
    .stats = qemu_stats,
    .host_port = qemu_host_port,
    .destroy = qemu_destroy,
    .pause = qemu_pause,
    /* QEMU's 9p device blocks a migration only while the guest has the share mounted */
    .pause_shares = PAUSE_SHARES_UNMOUNTED,
    .balloon = qemu_balloon,
};
