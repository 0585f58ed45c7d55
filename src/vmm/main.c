// SPDX-License-Identifier: Apache-2.0
/* boxlite-vmm: the per-box process. Reads its config (docs/architecture.md), runs the
 * selected engine, serves the box socket (library clients multiplexed onto the agent's
 * stream, src/proto/mux.h; the control frames STATUS and EXIT, src/proto/control.h), and
 * ends with the VM: exit code = the guest's status where the agent reported one, else 0 for
 * a guest that powered off, 3 when stopped from the host, 2 when the engine failed. The box
 * is ready when the agent's HELLO reaches the mux. How it ended goes to every connected
 * client as EXIT and, for whoever comes later, to exit.json beside the ready file (written
 * once, at the end: the post-mortem record).
 * SIGTERM/SIGINT/SIGHUP: ask the agent to shut down, and end the VM if it has not within
 * STOP_GRACE_MS (or at once, if the agent is not up or on a second signal).
 *
 *   boxlite-vmm --config FILE [--stats] [--lifeline-fd N] [--client-fd N]
 *                                          run a box (--stats: a JSON line of figures at exit;
 *                                          --client-fd: a connected socket served as a client
 *                                          of the box socket, the library's first connection)
 *   boxlite-vmm --status SOCKET [--wait MS] wait until the box is ready, print its STATUS
 *   boxlite-vmm [--qemu PATH] --check [--json]
 *                                          which engines can run here (check.c); --qemu: the
 *                                          QEMU binary, as vmm.json's qemu_binary
 *   boxlite-vmm --cpuid                    the host's KVM-supported CPUID, for bug reports
 *   boxlite-vmm --cpu-templates [NAME]     what the CPU templates expose */
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/guest_abi.h"
#include "common/hostarch.h"
#include "proto/client.h"
#include "proto/control_json.h"
#include "proto/mux.h"
#include "vmm/check.h"
#include "vmm/config.h"
#include "vmm/conlog.h"
#include "vmm/engine.h"
#include "vmm/jail/jail.h"
#include "vmm/health.h"
#include "vmm/logrot.h"
#include "vmm/net/netns.h"
#include "vmm/kvm/kvm.h"
#include "vmm/qemu/qemu.h"
#include "vmm/status_tool.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_MS 5000
#define AUTO_PAUSE_VOLUMES_MS 30000 /* the agent unmounting or mounting the volumes */

struct run {
    const struct engine_ops *ops;
    struct engine *e;
    struct engine_exit exit;
    int wait_rc;
    int done_fd; /* eventfd: the VM has ended */
};

/* The box as this process sees it, shared by the main thread, the mux's (STATUS, the agent's
 * HELLO and events) and the log pump's. */
struct box {
    pthread_mutex_t lock;
    const struct engine_ops *ops;
    const struct vmm_config *cfg;
    struct proto_mux *mux;
    struct engine *e;          /* once started (STATUS reads its figures) */
    struct health *health;     /* while it runs */
    const char *notice;        /* engine_select's line for the user */
    bool stopping;             /* a stop was asked */
    uint64_t ready_us;         /* the agent's HELLO reached the mux (0: not yet) */
    uint64_t agent_boot_ms;
    int ready_fd;              /* eventfd: the main loop learns of ready */
    /* Why the box ended: the agent's container-exit event, a stop the host asked for. */
    bool have_event;
    struct proto_event ev;
    const char *requested;     /* "stopped", "stopped: its creator exited" */
    uint64_t restarts;         /* the main process's, as the agent counts them */
    bool exec_marked;          /* the first exec after the HELLO ended (engine_ops.mark) */
};

static void on_agent_event(void *opaque, const struct proto_event *ev)
{
    struct box *b = opaque;
    if (!strcmp(ev->kind, PROTO_EVENT_MAIN_RESTART)) {
        /* the restart policy at work (the agent re-runs the main process): counted for
         * STATUS and EXIT; the box goes on */
        pthread_mutex_lock(&b->lock);
        if (ev->restarts > b->restarts)
            b->restarts = ev->restarts;
        pthread_mutex_unlock(&b->lock);
        fprintf(stderr, "boxlite-vmm: the agent says: %s\n", ev->message);
        return;
    }
    if (strcmp(ev->kind, PROTO_EVENT_CONTAINER_EXIT) != 0)
        return;
    pthread_mutex_lock(&b->lock);
    if (!b->have_event) {
        b->have_event = true;
        b->ev = *ev;
    }
    pthread_mutex_unlock(&b->lock);
    fprintf(stderr, "boxlite-vmm: the agent says: %s\n", ev->message);
}

/* The engine's counters at a moment of the box's start (engine_ops.mark), for the log. */
static void mark(struct box *b, const char *what)
{
    pthread_mutex_lock(&b->lock);
    struct engine *e = b->e;
    pthread_mutex_unlock(&b->lock);
    if (e && b->ops->mark)
        b->ops->mark(e, what);
}

/* The first command's end after the HELLO: what an exec on the fresh (or resumed) box
 * cost the hypervisor. */
static void on_exec_done(void *opaque)
{
    struct box *b = opaque;
    pthread_mutex_lock(&b->lock);
    bool first = b->ready_us && !b->exec_marked;
    b->exec_marked = true;
    pthread_mutex_unlock(&b->lock);
    if (first)
        mark(b, "the first exec's end");
}

/* Readiness has one meaning: the agent's HELLO reached the mux. */
static void on_ready(void *opaque, uint64_t boot_ms, bool container_ready)
{
    struct box *b = opaque;
    uint64_t us = (uint64_t)(engine_ms_since_start() * 1000.0);
    pthread_mutex_lock(&b->lock);
    bool first = !b->ready_us;
    if (first)
        b->ready_us = us ? us : 1;
    b->agent_boot_ms = boot_ms;
    pthread_mutex_unlock(&b->lock);
    /* a resume's last step in this process, after the engine's own line (bench/lab_pause.sh
     * and bench/pause.sh set the two apart) */
    if (first && b->cfg->memory_incoming)
        fprintf(stderr, "boxlite-vmm: the agent's HELLO %.1f ms after the spawn\n", us / 1000.0);
    uint64_t one = 1;
    if (write(b->ready_fd, &one, sizeof one) < 0) {
        /* an eventfd with a small counter does not fail */
    }
    if (first) /* after the main loop was told: a diagnostic never delays readiness */
        mark(b, "the agent's HELLO");
}

static void on_mux_thread(void *opaque)
{
    jail_thread_enter(JAIL_MAIN); /* started before the main thread's own filter */
}

static void figures(struct proto_figures *f, const char *engine, const struct engine_stats *s,
                    uint64_t ready_us)
{
    memset(f, 0, sizeof *f);
    snprintf(f->engine, sizeof f->engine, "%s", engine);
    snprintf(f->cpu_template, sizeof f->cpu_template, "%s", s->cpu_template ? s->cpu_template : "");
    f->first_run_us = (uint64_t)(s->start_to_first_run_ms * 1000.0);
    f->ready_us = ready_us;
    f->vm_exits = s->vm_exits;
    f->cpu_user_us = s->cpu_user_us;
    f->cpu_sys_us = s->cpu_sys_us;
    f->rss_bytes = s->rss_bytes;
    f->net_rx = s->net_rx_bytes;
    f->net_tx = s->net_tx_bytes;
    f->net_conns = s->net_connections;
    f->net_allowed = s->net_allowed;
    f->net_denied = s->net_denied;
    f->balloon_target_mib = s->balloon_target_mib;
    f->balloon_actual_mib = s->balloon_actual_mib;
    f->mem_returned = s->mem_returned_bytes;
    f->guest_resident = s->guest_resident_bytes;
    f->host_rss = s->host_rss_bytes;
}

/* What this engine's pause does with the box's volumes, as STATUS and a pause's EXIT say
 * it (PAUSE_SHARES): the library goes by it around its PAUSE and after the resume. */
static enum proto_pause_shares pause_shares(const struct engine_ops *ops)
{
    switch (ops->pause_shares) {
    case PAUSE_SHARES_KEPT: return PROTO_SHARES_KEPT;
    case PAUSE_SHARES_UNMOUNTED: return PROTO_SHARES_UNMOUNTED;
    case PAUSE_SHARES_REFUSED: break;
    }
    return PROTO_SHARES_REFUSED;
}

/* STATUS, on the mux's thread. The engine lives until the mux's thread has stopped. */
static void on_status(void *opaque, struct proto_status *out)
{
    struct box *b = opaque;
    pthread_mutex_lock(&b->lock);
    struct engine *e = b->e;
    bool stopping = b->stopping;
    uint64_t ready_us = b->ready_us;
    out->agent_boot_ms = b->agent_boot_ms;
    snprintf(out->notice, sizeof out->notice, "%s", b->notice ? b->notice : "");
    out->health = health_report(b->health);
    out->restarts = b->restarts;
    pthread_mutex_unlock(&b->lock);
    if (b->mux && proto_mux_shutdown_requested(b->mux))
        stopping = true; /* a client's SHUTDOWN (boxlite stop) */
    snprintf(out->state, sizeof out->state, "%s",
             stopping ? "stopping" : ready_us ? "running" : "starting");
    struct engine_stats st = { 0 };
    if (e)
        b->ops->stats(e, &st);
    figures(&out->fig, b->ops->name, &st, ready_us);
    out->pause_shares = pause_shares(b->ops);
    for (unsigned i = 0; e && i < b->cfg->nports && i < PROTO_MAX_PORTS; i++)
        out->host_ports[out->nports++] = (uint32_t)b->ops->host_port(e, i);
}

static bool rootfs_shared(const struct vmm_config *cfg)
{
    for (unsigned i = 0; i < cfg->nshares; i++)
        if (cfg->shares[i].rootfs)
            return true;
    return false;
}

/* Pause (PAUSE from a client on the mux's thread, or the idle timer on the main thread:
 * idle; either way no request is open and new ones are held back): the engine saves the
 * VM's memory and device state to memory.state and ends the VM. What cannot be saved is
 * refused with the reason, and the box runs on. */
static int do_pause(struct box *b, char *why, size_t why_len)
{
    struct bl_error err = {0};
    pthread_mutex_lock(&b->lock);
    struct engine *e = b->e;
    pthread_mutex_unlock(&b->lock);
    int code = 0;
    if (!b->ops->pause) {
        code = BOXLITE_ERR_UNSUPPORTED;
        snprintf(why, why_len, "pause: the %s engine cannot save a box's memory (memory "
                 "snapshots exist on the QEMU engine only)", b->ops->name);
    } else if (!b->cfg->memory_file || !b->cfg->memory_state) {
        code = BOXLITE_ERR_UNSUPPORTED;
        snprintf(why, why_len, "pause: this box was started without a memory file (its "
                 "vmm.log says why)");
    } else if (rootfs_shared(b->cfg) ||
               (b->cfg->nshares && b->ops->pause_shares == PAUSE_SHARES_REFUSED)) {
        /* A 9p root cannot be unmounted under the running container (QEMU's blocker; the
         * KVM engine serves no shared rootfs at all: kvm_engine.c refuses it). */
        code = BOXLITE_ERR_UNSUPPORTED;
        snprintf(why, why_len, "pause: a box %s cannot be paused", rootfs_shared(b->cfg)
                 ? "whose rootfs is a shared host folder" : "with volumes on this engine");
    } else if (!e) {
        code = BOXLITE_ERR_STATE;
        snprintf(why, why_len, "pause: the box is not running");
    } else if (b->ops->pause(e, b->cfg->memory_state, &err) < 0) {
        code = err.code ? err.code : BOXLITE_ERR_ENGINE;
        snprintf(why, why_len, "pause: %s", err.msg);
    }
    if (code)
        fprintf(stderr, "boxlite-vmm: %s\n", why);
    return code; /* saved: the VM's end says so ("paused: memory saved") */
}

/* Auto-pause's volumes on an engine that cannot save a share the guest has mounted (QEMU;
 * the KVM engine saves the 9P sessions and leaves them mounted): the agent unmounts them
 * first, as the library has it do before a PAUSE (src/runtime/pause.c), here
 * through a connection of the pause's own (it passes the hold); the library that resumes
 * the box mounts them again (rt_memory_after_resume). 0, or the agent's code (STATE: a
 * volume is in use). */
static int auto_pause_volumes(struct box *b, bool mount_them)
{
    struct proto_client *c = NULL;
    struct bl_error err = {0};
    int r = proto_mux_dial_pauser(b->mux, 5000, &c, &err);
    if (r == 0)
        r = proto_volumes(c, mount_them, AUTO_PAUSE_VOLUMES_MS, &err);
    proto_client_close(c);
    if (r < 0)
        fprintf(stderr, "boxlite-vmm: auto-pause: %s the volumes: %s\n",
                mount_them ? "mount" : "unmount", err.msg);
    return r < 0 ? (err.code ? err.code : BOXLITE_ERR_IO) : 0;
}

/* The idle timer ran out with no request open. Returns false to try again after another
 * idle period (a request came in meanwhile, or a volume is in use), true when the timer is
 * spent: paused (the VM's end follows on done_fd), or refused with the reason in vmm.log
 * and the box running on. The hold comes first: a request let in while the volumes are
 * unmounted would run without them (its writes landing beneath the mount points). */
static bool auto_pause(struct box *b)
{
    char why[512];
    const struct vmm_config *cfg = b->cfg;
    if (proto_mux_hold(b->mux) != 0)
        return false;
    bool vols = cfg->nshares && !rootfs_shared(cfg) && b->ops->pause &&
                b->ops->pause_shares == PAUSE_SHARES_UNMOUNTED && cfg->memory_file &&
                cfg->memory_state;
    if (vols) {
        int code = auto_pause_volumes(b, false);
        if (code) {
            proto_mux_release(b->mux);
            return code != BOXLITE_ERR_STATE;
        }
    }
    if (do_pause(b, why, sizeof why) == 0)
        return true;
    if (vols)
        auto_pause_volumes(b, true);
    proto_mux_release(b->mux);
    return true;
}

static int on_pause(void *opaque, char *why, size_t why_len)
{
    return do_pause(opaque, why, why_len);
}

/* BALLOON (docs/protocol.md "Balloon"), on the mux's thread: the range checked here, the
 * target set by the engine. */
static int on_balloon(void *opaque, uint64_t target, uint64_t *actual, char *why, size_t why_len)
{
    struct box *b = opaque;
    uint32_t mem = b->cfg->memory_mib;
    if (target && (target < VMM_BALLOON_MIN_MIB || target > mem)) {
        snprintf(why, why_len, "BALLOON: target %llu MiB is out of range (0 = none, or %u..%u, "
                 "the box's memory)", (unsigned long long)target, VMM_BALLOON_MIN_MIB, mem);
        return BOXLITE_ERR_INVALID;
    }
    pthread_mutex_lock(&b->lock);
    struct engine *e = b->e;
    pthread_mutex_unlock(&b->lock);
    if (!b->ops->balloon) {
        snprintf(why, why_len, "BALLOON: the %s engine has no balloon device", b->ops->name);
        return BOXLITE_ERR_UNSUPPORTED;
    }
    if (!e) {
        snprintf(why, why_len, "BALLOON: the box is not running");
        return BOXLITE_ERR_STATE;
    }
    struct bl_error err = {0};
    if (b->ops->balloon(e, (uint32_t)target, &err) < 0) {
        snprintf(why, why_len, "BALLOON: %s", err.msg);
        return err.code ? err.code : BOXLITE_ERR_ENGINE;
    }
    struct engine_stats st = { 0 };
    b->ops->stats(e, &st);
    *actual = st.balloon_actual_mib;
    return 0;
}

static void *waiter(void *arg)
{
    struct run *r = arg;
    pthread_setname_np(pthread_self(), "waiter");
    r->wait_rc = r->ops->wait(r->e, &r->exit);
    uint64_t one = 1;
    if (write(r->done_fd, &one, sizeof one) < 0) {
        /* cannot fail for an eventfd with a small counter */
    }
    return NULL;
}

/* Listening once its path exists: bound under a temporary name, then renamed into place, so
 * a client that sees the path never meets "Connection refused" (bench/vmm.sh did). */
static int listen_unix(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    char tmp[sizeof a.sun_path + 8];
    snprintf(tmp, sizeof tmp, "%s~", path);
    if (strlen(tmp) >= sizeof a.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(a.sun_path, tmp);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    unlink(tmp);  /* a previous run's */
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
        rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The box's end, most telling reason first: what the agent said ended the container, a stop
 * the host asked for, the guest kernel's panic message, what the engine saw.
 * start_error: the code (boxlite_code) of an engine that failed to start, else 0. */
static void box_end(struct proto_exit *x, struct box *b, const struct engine_exit *ex,
                    int wait_rc, const struct engine_stats *s, const char *panic,
                    int start_error)
{
    memset(x, 0, sizeof *x);
    x->powered_off = ex->powered_off;
    x->killed = ex->killed;
    x->engine_failed = wait_rc < 0;
    x->guest_status = ex->guest_status;
    x->start_error = start_error;
    snprintf(x->reason, sizeof x->reason, "%s", ex->reason);
    pthread_mutex_lock(&b->lock);
    figures(&x->fig, b->ops->name, s, b->ready_us);
    x->restarts = b->restarts;
    if (ex->paused) {
        snprintf(x->stop_reason, sizeof x->stop_reason, "paused");
        x->paused = true;
        x->pause_shares = pause_shares(b->ops); /* kept: the resume need not mount them */
    } else if (b->have_event) {
        snprintf(x->stop_reason, sizeof x->stop_reason, "%s",
                 b->ev.message[0] ? b->ev.message : "the container ended");
        x->has_exit_code = true;
        x->exit_code = b->ev.signo ? 128 + b->ev.signo : b->ev.exit_code;
        x->signo = b->ev.signo;
        x->oom_killed = b->ev.oom;
    } else if (b->requested) {
        snprintf(x->stop_reason, sizeof x->stop_reason, "%s", b->requested);
        x->requested = true;
    } else if (panic && panic[0]) {
        snprintf(x->stop_reason, sizeof x->stop_reason, "guest kernel panic: %s", panic);
    } else {
        snprintf(x->stop_reason, sizeof x->stop_reason, "%s",
                 ex->reason[0] ? ex->reason : "the VM ended");
    }
    pthread_mutex_unlock(&b->lock);
}

/* exit.json beside the ready file: the post-mortem record, for a library that was not
 * connected when the box ended (it opens the home later). Written whole, then renamed. */
static void write_exit(const char *ready_file, const struct proto_exit *x)
{
    const char *slash = strrchr(ready_file, '/');
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%.*s/exit.json", slash ? (int)(slash - ready_file) : 1,
             slash ? ready_file : ".");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    json_t *j = proto_exit_json(x);
    if (j && json_dump_file(j, tmp, JSON_COMPACT) == 0)
        rename(tmp, path);
    json_decref(j);
}

static void ask_stop(struct box *b, const char *why)
{
    pthread_mutex_lock(&b->lock);
    if (!b->requested)
        b->requested = why;
    b->stopping = true;
    pthread_mutex_unlock(&b->lock);
}

#ifdef BOXLITE_VMM_TEST_HOOKS
/* The test build (tests/boxlite-vmm-test): with BOXLITE_VMM_TEST=forbidden-syscall, a
 * system call no thread may make once the file "crash-now" appears in the box's folder
 * (watched with inotify) after the guest is ready, to prove that the jail kills the VMM and
 * that the box says why. */
static int test_watch(const struct vmm_config *cfg)
{
    const char *t = getenv("BOXLITE_VMM_TEST");
    if (!t || strcmp(t, "forbidden-syscall") != 0 || !cfg->ready_file)
        return -1;
    char dir[4096];
    const char *slash = strrchr(cfg->ready_file, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - cfg->ready_file) : 1,
             slash ? cfg->ready_file : ".");
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd >= 0 && inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO | IN_ATTRIB) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void test_crash_now(int fd, const struct vmm_config *cfg)
{
    char buf[4096];
    while (fd >= 0 && read(fd, buf, sizeof buf) > 0) {
    }
    char path[4200];
    const char *slash = strrchr(cfg->ready_file, '/');
    snprintf(path, sizeof path, "%.*s/crash-now", slash ? (int)(slash - cfg->ready_file) : 1,
             slash ? cfg->ready_file : ".");
    struct stat st;
    if (stat(path, &st) == 0)
        syscall(SYS_ptrace, 0, 0, 0, 0);
}
#endif

/* This process's own log (vmm.log), rotated like the console: stderr and stdout become a
 * pipe pumped into it. At exit the pipe is closed and what it holds is written. */
static struct logrot *vmm_log;
static struct conlog *vmm_log_pump;

static void vmm_log_finish(void)
{
    fflush(stdout);
    fflush(stderr);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        /* dup3, not dup2: this runs at exit under the main thread's seccomp filter */
        dup3(null, 1, 0);
        dup3(null, 2, 0);
        close(null);
    }
    conlog_stop(vmm_log_pump, 2000, NULL, 0);
    logrot_close(vmm_log);
}

static void vmm_log_rotated(const struct vmm_config *cfg)
{
    struct bl_error err = {0};
    int p[2];
    if (logrot_open(&vmm_log, cfg->vmm_log, cfg->log_max_bytes, cfg->log_files, &err) < 0) {
        fprintf(stderr, "boxlite-vmm: %s (logging unrotated)\n", err.msg);
        return;
    }
    logrot_index(vmm_log); /* when each line came (logs --since/--timestamps) */
    if (pipe2(p, O_CLOEXEC) < 0 || conlog_start(&vmm_log_pump, p[0], vmm_log, &err) < 0) {
        fprintf(stderr, "boxlite-vmm: log pipe: %s (logging unrotated)\n",
                err.msg[0] ? err.msg : strerror(errno));
        logrot_close(vmm_log);
        vmm_log = NULL;
        return;
    }
    fflush(stdout);
    fflush(stderr);
    dup2(p[1], 1);
    dup2(p[1], 2);
    close(p[1]);
    setvbuf(stderr, NULL, _IOLBF, 0);
    atexit(vmm_log_finish);
}

static int check(void)
{
    const struct engine_ops *all[] = { &engine_kvm_ops, &engine_qemu_ops };
    for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
        char why[256] = "";
        bool ok = all[i]->available(why, sizeof why);
        printf("%s: %s%s%s\n", all[i]->name, ok ? "available" : "unavailable", ok ? "" : ": ",
               why);
    }
    char notice[512];
    struct bl_error err = { 0 };
    const struct engine_ops *sel = engine_select("auto", notice, sizeof notice, &err);
    if (!sel) {
        printf("selected: none (%s)\n", err.msg);
        return 1;
    }
    printf("selected: %s\n", sel->name);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: boxlite-vmm --config FILE [--stats] [--lifeline-fd N] [--client-fd N]"
                    " | --status SOCKET [--wait MS] | [--qemu PATH] --check [--json]\n");
}

/* The tap in cfg->netns (netns.h) and the guest's side of it on its command line: the
 * interface's MAC, address, gateway and MTU; no NIC at all when the namespace has none. */
static int netns_guest(struct vmm_config *cfg, struct netns_nic *nicp, struct bl_error *err)
{
    struct netns_nic nic;
    if (netns_nic_attach(cfg->netns, &nic, err) < 0)
        return -err->code;
    char words[256];
    if (nic.tap_fd < 0) {
        cfg->network = false;
        snprintf(words, sizeof words, GUEST_CMDLINE_PREFIX GUEST_KEY_NET "=0");
    } else {
        const uint8_t *m = nic.mac;
        snprintf(words, sizeof words,
                 GUEST_CMDLINE_PREFIX GUEST_KEY_IP "=%s " GUEST_CMDLINE_PREFIX GUEST_KEY_MTU "=%u "
                 GUEST_CMDLINE_PREFIX GUEST_KEY_MAC "=%02x:%02x:%02x:%02x:%02x:%02x%s%s",
                 nic.addr, nic.mtu, m[0], m[1], m[2], m[3], m[4], m[5],
                 nic.gw[0] ? " " GUEST_CMDLINE_PREFIX GUEST_KEY_GW "=" : "", nic.gw);
    }
    size_t old = cfg->cmdline ? strlen(cfg->cmdline) : 0;
    char *line = malloc(old + strlen(words) + 2);
    if (!line) {
        netns_nic_detach(&nic);
        return bl_errno(err, ENOMEM, "network namespace");
    }
    sprintf(line, "%s%s%s", old ? cfg->cmdline : "", old ? " " : "", words);
    free(cfg->cmdline);
    cfg->cmdline = line;
    cfg->net_tap_fd = nic.tap_fd;
    *nicp = nic;
    return 0;
}

int main(int argc, char **argv)
{
    /* One malloc arena for every thread: glibc gives each thread that allocates an arena of
     * its own (up to 8 per core), each keeping freed memory for itself. Here the vCPU's
     * exits and the virtqueues do not allocate; what does per packet is libslirp, in its one
     * thread: the shared arena's lock is rarely contended, and the per-box process keeps
     * less resident (issue 15). */
    mallopt(M_ARENA_MAX, 1);
    const char *config = NULL;
    bool want_stats = false;
    int lifeline = -1, client_fd = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--lifeline-fd") == 0 && i + 1 < argc)
            lifeline = atoi(argv[++i]);
        else if (strcmp(argv[i], "--client-fd") == 0 && i + 1 < argc)
            client_fd = atoi(argv[++i]);
        else if (strcmp(argv[i], "--status") == 0)
            return vmm_status_tool(argc - i, argv + i);
        else if (strcmp(argv[i], "--qemu") == 0 && i + 1 < argc)
            qemu_use_binary(argv[++i]); /* before --check: the runtime's "qemu" setting */
        else if (strcmp(argv[i], "--check") == 0)
            return i + 1 < argc && strcmp(argv[i + 1], "--json") == 0 ? vmm_check_json() : check();
        else if (strcmp(argv[i], "--cpuid") == 0)
            return vmm_cpuid_dump();
        else if (strcmp(argv[i], "--cpu-templates") == 0)
            return vmm_cpu_templates(i + 1 < argc ? argv[i + 1] : NULL);
        else if (strcmp(argv[i], "--stats") == 0)
            want_stats = true;
        else {
            usage();
            return 2;
        }
    }
    if (!config) {
        usage();
        return 2;
    }

    struct bl_error err = { 0 };
    struct vmm_config cfg;
    if (vmm_config_load(&cfg, config, &err) < 0) {
        fprintf(stderr, "boxlite-vmm: %s\n", err.msg);
        return 2;
    }
    if (cfg.qemu_binary)
        qemu_use_binary(cfg.qemu_binary); /* the engine choice and the jail's binds see it */
    /* Signals arrive on a descriptor, in this thread only: every thread started from here
     * inherits the mask (so it is set before the first one, the log pumps: a thread with
     * SIGTERM unblocked would take it and die of it). SIGTERM/SIGINT/SIGHUP stop the VM. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    char notice[512];
    struct run r = { .done_fd = -1 };
    /* The box's architecture: the KVM engine runs the host's own (src/vmm/arch/); a box of
     * another one runs on the QEMU engine, under TCG (src/vmm/qemu/machine.c). */
    qemu_use_arch(cfg.arch);
    const char *engine = cfg.engine;
    if (!qemu_machine_is_host(qemu_machine())) {
        if (engine && !strcmp(engine, "kvm")) {
            fprintf(stderr, "boxlite-vmm: engine kvm runs only %s boxes on this host, not %s "
                    "(the qemu engine runs them under TCG)\n", host_machine(), cfg.arch);
            vmm_config_free(&cfg);
            return 2;
        }
        engine = "qemu";
    }
    /* A NIC in a namespace is a tap QEMU takes as it is (the KVM engine's virtio-net has
     * only the user-mode back end; a shared rootfs needs QEMU anyway). */
    if (cfg.netns) {
        if (engine && !strcmp(engine, "kvm")) {
            fprintf(stderr, "boxlite-vmm: network.netns needs the qemu engine (the kvm engine "
                    "has no tap back end)\n");
            vmm_config_free(&cfg);
            return 2;
        }
        engine = "qemu";
    }
    r.ops = engine_select(engine, notice, sizeof notice, &err);
    if (!r.ops) {
        fprintf(stderr, "boxlite-vmm: %s\n", err.msg);
        vmm_config_free(&cfg);
        return 2;
    }
    if (notice[0])
        fprintf(stderr, "boxlite-vmm: %s\n", notice);
    struct box b = { .lock = PTHREAD_MUTEX_INITIALIZER, .ops = r.ops, .cfg = &cfg,
                     .notice = notice, .ready_fd = -1,
                     /* a resumed box's agent counts on from the restarts before its pause */
                     .restarts = cfg.memory_incoming ? cfg.memory_restarts : 0 };
    /* The box socket before the jail: its folder need not be in it (a long box path puts
     * it in a shared /tmp folder, which the jail must not show). */
    int lfd cleanup_close = -1;
    if (cfg.box_socket && (lfd = listen_unix(cfg.box_socket)) < 0) {
        fprintf(stderr, "boxlite-vmm: box socket %s: %s\n", cfg.box_socket, strerror(errno));
        vmm_config_free(&cfg);
        return 2;
    }
    /* The jail (src/vmm/jail/jail.h), while this process has one thread (the log pumps
     * start in it); the supervisor stays outside and never returns. */
    char qemu_path[4096], why[256];
    bool qemu = r.ops == &engine_qemu_ops;
    /* The namespace's NIC before the jail: joining it needs this process's privileges. */
    cfg.net_tap_fd = -1;
    struct netns_nic nic = { .tap_fd = -1, .nl_fd = -1 };
    if (cfg.netns && netns_guest(&cfg, &nic, &err) < 0) {
        fprintf(stderr, "boxlite-vmm: %s\n", err.msg);
        vmm_config_free(&cfg);
        return 2;
    }
    int undo_fd cleanup_close = -1;
    if (cfg.netns && netns_nic_undo_at_exit(&nic, &undo_fd, &err) < 0) {
        fprintf(stderr, "boxlite-vmm: %s\n", err.msg);
        netns_nic_detach(&nic);
        vmm_config_free(&cfg);
        return 2;
    }
    int keep[6], nkeep = 0;
    if (nic.tap_fd >= 0)
        keep[nkeep++] = nic.tap_fd;
    if (undo_fd >= 0)
        keep[nkeep++] = undo_fd;
    if (lifeline >= 0)
        keep[nkeep++] = lifeline;
    if (lfd >= 0)
        keep[nkeep++] = lfd;
    if (client_fd >= 0)
        keep[nkeep++] = client_fd;
    keep[nkeep] = -1;
    struct jail_needs needs = {
        .kvm_dev = r.ops == &engine_kvm_ops ||
                   (qemu && qemu_machine_is_host(qemu_machine()) && qemu_hw_virt_usable()),
        .qemu_binary = qemu && qemu_find_binary(qemu_path, sizeof qemu_path, why, sizeof why)
                           ? qemu_path : NULL,
        .keep_fds = keep,
    };
#ifdef BOXLITE_VMM_TEST_HOOKS
    const char *test = getenv("BOXLITE_VMM_TEST");
    if (test && !strcmp(test, "trace-syscalls"))
        jail_seccomp_trace_mode();
#endif
    if (jail_enter(&cfg, &needs, &err) < 0 || jail_seccomp_prepare(&cfg, &err) < 0) {
        fprintf(stderr, "boxlite-vmm: %s\n", err.msg);
        vmm_config_free(&cfg);
        return 2;
    }
    if (cfg.vmm_log)
        vmm_log_rotated(&cfg);
    /* Guest RAM in a file (memory snapshots, QEMU engine), created here, as the jailed user:
     * without room for all of it the box runs with QEMU's own RAM and cannot be paused. */
    /* The KVM engine writes its memory file only when it pauses (kvm_engine.c). */
    if (cfg.memory_file && ((!qemu && !r.ops->pause) ||
                            (qemu && cfg.memory_shared && !cfg.memory_incoming &&
                             qemu_memory_reserve(cfg.memory_file,
                                                 (uint64_t)cfg.memory_mib << 20, &err) < 0))) {
        if (qemu)
            fprintf(stderr, "boxlite-vmm: %s: this box runs without a memory file and "
                    "cannot be paused\n", err.msg);
        bl_err_clear(&err);
        free(cfg.memory_file);
        cfg.memory_file = NULL;
    }
    /* The guest's console through a pipe of ours, whatever the engine: one writer rotates it
     * and watches it for a kernel panic. */
    struct logrot *console = NULL;
    struct conlog *console_pump = NULL;
    /* A console named as a descriptor (vmm_path_names_fd) is written by the engine as it is:
     * the jailed user could not reopen it by name, and it is not a file to rotate. */
    int console_fd_named;
    if (cfg.console_log && !vmm_path_names_fd(cfg.console_log, &console_fd_named)) {
        int p[2] = {-1, -1};
        if (logrot_open(&console, cfg.console_log, cfg.log_max_bytes, cfg.log_files, &err) < 0 ||
            pipe2(p, O_CLOEXEC) < 0 || conlog_start(&console_pump, p[0], console, &err) < 0) {
            fprintf(stderr, "boxlite-vmm: console log: %s\n",
                    err.msg[0] ? err.msg : strerror(errno));
            if (p[1] >= 0)
                close(p[1]);
            logrot_close(console);
            vmm_config_free(&cfg);
            return 2;
        }
        fcntl(p[1], F_SETPIPE_SZ, 1 << 20); /* a burst of output does not stall the guest */
        if (logrot_index(console) < 0) /* when each line came (logs --since/--timestamps) */
            fprintf(stderr, "boxlite-vmm: console log's time index: %s (no times)\n",
                    strerror(errno));
        cfg.console_pipe = true;
        cfg.console_fd = p[1];
    }

    int sfd cleanup_close = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    r.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    b.ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sfd < 0 || r.done_fd < 0 || b.ready_fd < 0) {
        fprintf(stderr, "boxlite-vmm: signalfd/eventfd: %s\n", strerror(errno));
        return 2;
    }
#ifdef BOXLITE_VMM_TEST_HOOKS
    int test_fd cleanup_close = test_watch(&cfg);
#else
    int test_fd = -1;
#endif

    /* The box socket is served from before the engine starts: a client may ask STATUS
     * ("starting"), one that said HELLO waits for the agent's, and if the engine cannot
     * start, every client hears why (EXIT with start_error). */
    if (lfd >= 0 || client_fd >= 0) {
        struct proto_mux_events ev = { .opaque = &b, .event = on_agent_event, .ready = on_ready,
                                       .status = on_status, .thread_start = on_mux_thread,
                                       .pause = on_pause, .balloon = on_balloon,
                                       .exec_done = on_exec_done };
        if (proto_mux_new(lfd, &ev, &b.mux, &err) < 0 ||
            (client_fd >= 0 && proto_mux_adopt(b.mux, client_fd) < 0) ||
            proto_mux_start(b.mux, &err) < 0) {
            fprintf(stderr, "boxlite-vmm: box socket: %s\n", err.msg[0] ? err.msg : "adopt");
            proto_mux_free(b.mux);
            vmm_config_free(&cfg);
            return 2;
        }
    }

    int start_rc = r.ops->start(&r.e, &cfg, &err);
    if (cfg.console_pipe) {
        close(cfg.console_fd); /* the engine holds its own: its end closes the pipe */
        cfg.console_pipe = false;
        cfg.console_fd = -1;
    }
    if (start_rc < 0) {
        fprintf(stderr, "boxlite-vmm: %s\n", err.msg);
        conlog_stop(console_pump, 1000, NULL, 0);
        logrot_close(console);
        /* the library learns why (e.g. to start the box on QEMU) */
        struct engine_exit x = { .guest_status = -1 };
        struct engine_stats none = { 0 };
        snprintf(x.reason, sizeof x.reason, "%s", err.msg);
        struct proto_exit end;
        box_end(&end, &b, &x, -1, &none, NULL, err.code);
        proto_mux_stop(b.mux);
        if (cfg.ready_file)
            write_exit(cfg.ready_file, &end);
        if (b.mux)
            proto_mux_push_exit(b.mux, &end);
        proto_mux_free(b.mux);
        if (cfg.box_socket)
            unlink(cfg.box_socket);
        vmm_config_free(&cfg);
        return 2;
    }
    /* From here the main thread runs under its allow-list; the waiter and health threads it
     * starts inherit it. The engine's own threads installed theirs as they started. */
    jail_thread_enter(JAIL_MAIN);
    pthread_mutex_lock(&b.lock);
    b.e = r.e;
    pthread_mutex_unlock(&b.lock);
    if (b.mux && r.ops->agent_fd(r.e) >= 0) /* both engines have it once started */
        proto_mux_set_agent_fd(b.mux, r.ops->agent_fd(r.e));

    pthread_t wt;
    if (pthread_create(&wt, NULL, waiter, &r) != 0) {
        proto_mux_free(b.mux);
        r.ops->stop(r.e, true, &err);
        r.ops->wait(r.e, &r.exit);
        r.ops->destroy(r.e);
        vmm_config_free(&cfg);
        return 2;
    }

    if (cfg.health && b.mux) {
        struct health *h = NULL;
        if (health_start(&h, cfg.health, b.mux, &err) < 0)
            fprintf(stderr, "boxlite-vmm: %s (no health checks)\n", err.msg);
        pthread_mutex_lock(&b.lock);
        b.health = h;
        pthread_mutex_unlock(&b.lock);
    }

    /* Everything this thread waits for is a descriptor: signals, the VM's end, the
     * creator's lifeline, the agent's HELLO; a timeout only while a stop is under way. */
    bool ready = false;
    uint64_t stop_deadline = 0; /* when a graceful stop turns into a forced one */
    for (;;) {
        int timeout = -1;
        /* Auto-pause: the idle timer runs from the last request opened or ended. */
        if (cfg.idle_pause_ms && ready && b.mux && !stop_deadline) {
            bool busy;
            uint64_t last = proto_mux_last_activity(b.mux, &busy), now = mono_ms();
            uint64_t due = last + cfg.idle_pause_ms;
            if (!busy && now >= due && auto_pause(&b)) {
                cfg.idle_pause_ms = 0; /* once */
                continue;
            } else {
                uint64_t wait = busy || now >= due ? cfg.idle_pause_ms : due - now;
                timeout = wait > INT32_MAX ? INT32_MAX : (int)wait;
            }
        }
        if (stop_deadline) {
            uint64_t now = mono_ms();
            if (now >= stop_deadline) {
                r.ops->stop(r.e, true, &err);
                stop_deadline = UINT64_MAX; /* forced once */
            } else if (stop_deadline != UINT64_MAX) {
                timeout = (int)(stop_deadline - now);
            }

        }
        struct pollfd p[5] = { { .fd = sfd, .events = POLLIN },
                               { .fd = r.done_fd, .events = POLLIN },
                               { .fd = lifeline, .events = POLLIN },
                               { .fd = b.ready_fd, .events = POLLIN },
                               { .fd = test_fd, .events = POLLIN } };
        int n = poll(p, 5, timeout);
        if (n < 0 && errno != EINTR) {
            r.ops->stop(r.e, true, &err); /* cannot go on watching: end the VM */
            break;
        }
        if (p[1].revents)
            break;
        bool stop_asked = false;
        if (p[2].revents) {
            /* The lifeline: the library that started this non-detached box holds the
             * other end; it closed (the creating process exited or crashed). */
            char c;
            if (read(lifeline, &c, 1) <= 0) {
                close(lifeline);
                lifeline = -1;
                stop_asked = true;
                ask_stop(&b, "stopped: the process that started it exited");
                fprintf(stderr, "boxlite-vmm: the creating process is gone: stopping\n");
            }
        }
        if (p[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si)
                if (si.ssi_signo != SIGPIPE) {
                    stop_asked = true;
                    ask_stop(&b, "stopped");
                }
        }
        if (stop_asked) {
            if (!stop_deadline && b.mux && proto_mux_ready(b.mux) &&
                proto_mux_shutdown_agent(b.mux, &err) == 0) {
                stop_deadline = mono_ms() + STOP_GRACE_MS;
            } else if (stop_deadline != UINT64_MAX) {
                r.ops->stop(r.e, true, &err);
                stop_deadline = UINT64_MAX;
            }
        }
        if (p[3].revents) {
            uint64_t v;
            if (read(b.ready_fd, &v, sizeof v) == sizeof v && !ready) {
                ready = true;
                pthread_mutex_lock(&b.lock);
                health_ready(b.health);
                pthread_mutex_unlock(&b.lock);
            }
        }
#ifdef BOXLITE_VMM_TEST_HOOKS
        if (ready && (p[3].revents || p[4].revents))
            test_crash_now(test_fd, &cfg);
#endif
    }
    pthread_join(wt, NULL);
    pthread_mutex_lock(&b.lock);
    struct health *h = b.health;
    b.health = NULL;
    pthread_mutex_unlock(&b.lock);
    health_stop(h);
    /* No STATUS from here on: the mux's thread stops (its connections stay open for EXIT). */
    proto_mux_stop(b.mux);
    struct engine_stats st;
    r.ops->stats(r.e, &st);
    if (b.mux && proto_mux_shutdown_requested(b.mux))
        ask_stop(&b, "stopped"); /* a client's SHUTDOWN (boxlite stop), even if it is gone */
    fprintf(stderr, "boxlite-vmm: %s\n", r.exit.reason);
    r.ops->destroy(r.e);
    netns_nic_detach(&nic); /* the tap; the redirect goes with undo_fd (its helper) */
    /* The engine is gone, so is the console pipe's writer: the pump reaches its end, and a
     * panic line in the last output is seen before the reason is given. */
    char panic[256];
    conlog_stop(console_pump, 2000, panic, sizeof panic);
    if (console && logrot_dropped(console))
        fprintf(stderr, "boxlite-vmm: %llu bytes of console output lost (disk)\n",
                (unsigned long long)logrot_dropped(console));
    logrot_close(console);
    struct proto_exit end;
    box_end(&end, &b, &r.exit, r.wait_rc, &st, panic, 0);
    if (want_stats) {
        json_t *j = proto_figures_json(&end.fig);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        printf("%s\n", text ? text : "{}");
        fflush(stdout);
        free(text);
        json_decref(j);
    }
    if (cfg.ready_file)
        write_exit(cfg.ready_file, &end); /* first: whoever hears EXIT finds it too */
    if (b.mux)
        proto_mux_push_exit(b.mux, &end);
    proto_mux_free(b.mux);
    close(r.done_fd);
    close(b.ready_fd);
    if (cfg.box_socket)
        unlink(cfg.box_socket);
    vmm_config_free(&cfg);
    if (r.wait_rc < 0)
        return 2;
    if (r.exit.guest_status >= 0)
        return r.exit.guest_status & 0xff;
    return r.exit.powered_off ? 0 : 3;
}
