/* boxlite-vmm: the per-box process. Reads its config (docs/architecture.md), runs the
 * selected engine, serves the box socket (library clients multiplexed onto the agent's
 * stream, src/proto/mux.h), writes the ready file once the guest's agent is up, and ends
 * with the VM: exit code = the guest's status where the agent reported one, else 0 for a
 * guest that powered off, 3 when stopped from the host, 2 when the engine failed; the same
 * goes to exit.json beside the ready file (the library does not wait for this process).
 * SIGTERM/SIGINT/SIGHUP: ask the agent to shut down, and end the VM if it has not within
 * STOP_GRACE_MS (or at once, if the agent is not up or on a second signal).
 *
 *   boxlite-vmm --config FILE [--stats]   run a box (--stats: a JSON line of figures at exit)
 *   boxlite-vmm --check [--json]           which engines can run here (check.c)
 *   boxlite-vmm --cpuid                    the host's KVM-supported CPUID, for bug reports
 *   boxlite-vmm --cpu-templates [NAME]     what the CPU templates expose */
#include "common/cleanup.h"
#include "proto/mux.h"
#include "vmm/check.h"
#include "vmm/config.h"
#include "vmm/conlog.h"
#include "vmm/engine.h"
#include "vmm/jail/jail.h"
#include "vmm/health.h"
#include "vmm/logrot.h"
#include "vmm/kvm/kvm.h"
#include "vmm/qemu/qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_MS 5000
#define STATS_PERIOD_MS 1000

struct run {
    const struct engine_ops *ops;
    struct engine *e;
    struct engine_exit exit;
    int wait_rc;
    int done_fd; /* eventfd: the VM has ended */
};

/* Why the box ended, gathered while it runs: the agent's container-exit event (the mux's
 * thread), a stop the host asked for (this thread), a panic line on the console (the pump). */
struct box_end {
    pthread_mutex_t lock;
    bool have_event;
    struct proto_event ev;
    const char *requested; /* "stopped", "stopped: its creator exited" */
};

static void on_agent_event(void *opaque, const struct proto_event *ev)
{
    struct box_end *b = opaque;
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

static int listen_unix(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof a.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    unlink(path); /* a previous run's */
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void stats_json(FILE *f, const char *engine, const struct engine_stats *s)
{
    fprintf(f,
            "{\"engine\":\"%s\",\"start_to_first_run_ms\":%.3f,\"start_to_ready_ms\":%.3f,"
            "\"vm_exits\":%llu,\"cpu_user_us\":%llu,\"cpu_sys_us\":%llu,\"rss_bytes\":%llu,"
            "\"net_rx_bytes\":%llu,\"net_tx_bytes\":%llu,\"net_connections\":%llu,"
            "\"net_allowed\":%llu,\"net_denied\":%llu,\"cpu_template\":\"%s\"}",
            engine, s->start_to_first_run_ms, s->start_to_ready_ms,
            (unsigned long long)s->vm_exits, (unsigned long long)s->cpu_user_us,
            (unsigned long long)s->cpu_sys_us, (unsigned long long)s->rss_bytes,
            (unsigned long long)s->net_rx_bytes, (unsigned long long)s->net_tx_bytes,
            (unsigned long long)s->net_connections, (unsigned long long)s->net_allowed,
            (unsigned long long)s->net_denied, s->cpu_template ? s->cpu_template : "");
}

/* Written whole under a temporary name, then renamed: the library never sees half a file.
 * The figures, plus "host_ports": the host port bound for each of the config's forwards. */
static void json_escaped(FILE *f, const char *str)
{
    for (const char *c = str; *c; c++)
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
}

/* notice: engine_select's one line (e.g. "KVM is not usable ...: running under QEMU"), for
 * the library to pass on to its user; may be empty. */
static int write_ready(const char *path, const struct run *r, const struct vmm_config *cfg,
                       const struct engine_stats *s, const char *notice)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    stats_json(f, r->ops->name, s);
    fseek(f, -1, SEEK_CUR); /* reopen the object for one more member */
    fputs(",\"host_ports\":[", f);
    for (unsigned i = 0; i < cfg->nports; i++)
        fprintf(f, "%s%d", i ? "," : "",
                r->ops == &engine_kvm_ops ? engine_kvm_host_port(r->e, i)
                                          : engine_qemu_host_port(r->e, i));
    fputs("],\"notice\":\"", f);
    json_escaped(f, notice);
    fputs("\"}\n", f);
    if (fclose(f) != 0 || rename(tmp, path) < 0)
        return -errno;
    return 0;
}

/* Opens <folder of ready_file>/<name>.tmp for writing; the caller renames tmp to path once
 * the file is whole, so readers never see half of it. */
static FILE *open_beside(const char *ready_file, const char *name, char path[4096],
                         char tmp[4200])
{
    const char *slash = strrchr(ready_file, '/');
    int dirlen = slash ? (int)(slash - ready_file) : 1;
    snprintf(path, 4096, "%.*s/%s", dirlen, slash ? ready_file : ".", name);
    snprintf(tmp, 4200, "%s.tmp", path);
    return fopen(tmp, "we");
}

/* The VM's end, for the library (which does not wait for this process): exit.json beside
 * the ready file, written whole like it. */
/* The box's stop reason, most telling first: what the agent said ended the container, a
 * stop the host asked for, the guest kernel's panic message, what the engine saw.
 * start_error: the code (boxlite_code) of an engine that failed to start, else 0. */
static void write_exit(const char *ready_file, const char *engine, const struct engine_exit *x,
                       int wait_rc, const struct engine_stats *s, struct box_end *end,
                       const char *panic, int start_error)
{
    char path[4096], tmp[4200];
    FILE *f = open_beside(ready_file, "exit.json", path, tmp);
    if (!f)
        return;
    fprintf(f, "{\"powered_off\":%s,\"killed\":%s,\"engine_failed\":%s,\"guest_status\":%d,"
               "\"reason\":\"",
            x->powered_off ? "true" : "false", x->killed ? "true" : "false",
            wait_rc < 0 ? "true" : "false", x->guest_status);
    json_escaped(f, x->reason);
    pthread_mutex_lock(&end->lock);
    char why[400];
    bool requested = false;
    if (end->have_event)
        snprintf(why, sizeof why, "%s", end->ev.message[0] ? end->ev.message : "the container ended");
    else if (end->requested) {
        snprintf(why, sizeof why, "%s", end->requested);
        requested = true;
    } else if (panic && panic[0])
        snprintf(why, sizeof why, "guest kernel panic: %s", panic);
    else
        snprintf(why, sizeof why, "%s", x->reason[0] ? x->reason : "the VM ended");
    fputs("\",\"stop_reason\":\"", f);
    json_escaped(f, why);
    fprintf(f, "\",\"requested\":%s", requested ? "true" : "false");
    if (end->have_event)
        fprintf(f, ",\"exit_code\":%lld,\"signal\":%lld,\"oom_killed\":%s",
                end->ev.signo ? 128 + (long long)end->ev.signo : (long long)end->ev.exit_code,
                (long long)end->ev.signo, end->ev.oom ? "true" : "false");
    pthread_mutex_unlock(&end->lock);
    fprintf(f, ",\"start_error\":%d,\"stats\":", start_error);
    stats_json(f, engine, s);
    fputs("}\n", f);
    if (fclose(f) == 0)
        rename(tmp, path);
}

/* stats.json beside the ready file: the engine's figures, refreshed while the box runs. */
static void write_stats(const char *ready_file, const char *engine, struct run *r)
{
    struct engine_stats s;
    if (r->ops->stats(r->e, &s) != 0)
        return;
    char path[4096], tmp[4200];
    FILE *f = open_beside(ready_file, "stats.json", path, tmp);
    if (!f)
        return;
    stats_json(f, engine, &s);
    fputc('\n', f);
    if (fclose(f) == 0)
        rename(tmp, path);
}

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
        dup2(null, 1);
        dup2(null, 2);
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

int main(int argc, char **argv)
{
    const char *config = NULL;
    bool want_stats = false;
    int lifeline = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--lifeline-fd") == 0 && i + 1 < argc)
            lifeline = atoi(argv[++i]);
        else if (strcmp(argv[i], "--check") == 0)
            return i + 1 < argc && strcmp(argv[i + 1], "--json") == 0 ? vmm_check_json() : check();
        else if (strcmp(argv[i], "--cpuid") == 0)
            return vmm_cpuid_dump();
        else if (strcmp(argv[i], "--cpu-templates") == 0)
            return vmm_cpu_templates(i + 1 < argc ? argv[i + 1] : NULL);
        else if (strcmp(argv[i], "--stats") == 0)
            want_stats = true;
        else {
            fprintf(stderr, "usage: boxlite-vmm --config FILE [--stats] [--lifeline-fd N] | --check\n");
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "usage: boxlite-vmm --config FILE [--stats] [--lifeline-fd N] | --check\n");
        return 2;
    }

    struct bl_error err = { 0 };
    struct vmm_config cfg;
    if (vmm_config_load(&cfg, config, &err) < 0) {
        fprintf(stderr, "boxlite-vmm: %s\n", err.msg);
        return 2;
    }
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
    struct box_end end = { .lock = PTHREAD_MUTEX_INITIALIZER };
    char notice[512];
    struct run r = { .done_fd = -1 };
    r.ops = engine_select(cfg.engine, notice, sizeof notice, &err);
    if (!r.ops) {
        fprintf(stderr, "boxlite-vmm: %s\n", err.msg);
        vmm_config_free(&cfg);
        return 2;
    }
    if (notice[0])
        fprintf(stderr, "boxlite-vmm: %s\n", notice);
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
    int keep[3], nkeep = 0;
    if (lifeline >= 0)
        keep[nkeep++] = lifeline;
    if (lfd >= 0)
        keep[nkeep++] = lfd;
    keep[nkeep] = -1;
    struct jail_needs needs = {
        .kvm_dev = r.ops == &engine_kvm_ops || (qemu && qemu_hw_virt_usable()),
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
    /* The guest's console through a pipe of ours, whatever the engine: one writer rotates it
     * and watches it for a kernel panic. */
    struct logrot *console = NULL;
    struct conlog *console_pump = NULL;
    if (cfg.console_log) {
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
        cfg.console_pipe = true;
        cfg.console_fd = p[1];
    }

    int sfd cleanup_close = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    r.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sfd < 0 || r.done_fd < 0) {
        fprintf(stderr, "boxlite-vmm: signalfd/eventfd: %s\n", strerror(errno));
        return 2;
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
        if (cfg.ready_file) { /* the library reads why (e.g. to start the box on QEMU) */
            struct engine_exit x = { .guest_status = -1 };
            struct engine_stats none = { 0 };
            snprintf(x.reason, sizeof x.reason, "%s", err.msg);
            write_exit(cfg.ready_file, r.ops->name, &x, -1, &none, &end, NULL, err.code);
        }
        vmm_config_free(&cfg);
        return 2;
    }
    /* From here the main thread runs under its allow-list; the mux and waiter threads it
     * starts inherit it. The engine's own threads installed theirs as they started. */
    jail_thread_enter(JAIL_MAIN);
    struct proto_mux *mux = NULL;
    if (cfg.box_socket) {
        struct proto_mux_events ev = { .opaque = &end, .event = on_agent_event };
        if (proto_mux_new(lfd, &ev, &mux, &err) < 0 || proto_mux_start(mux, &err) < 0) {
            fprintf(stderr, "boxlite-vmm: box socket: %s\n", err.msg);
            proto_mux_free(mux);
            r.ops->stop(r.e, true, &err);
            r.ops->wait(r.e, &r.exit);
            r.ops->destroy(r.e);
            vmm_config_free(&cfg);
            return 2;
        }
    }

    pthread_t wt;
    if (pthread_create(&wt, NULL, waiter, &r) != 0) {
        proto_mux_free(mux);
        r.ops->stop(r.e, true, &err);
        r.ops->wait(r.e, &r.exit);
        r.ops->destroy(r.e);
        vmm_config_free(&cfg);
        return 2;
    }

    struct health *health = NULL;
    if (cfg.health && mux && cfg.ready_file) {
        char hpath[4096], htmp[4200];
        FILE *probe = open_beside(cfg.ready_file, "health.json", hpath, htmp);
        if (probe) {
            fclose(probe);
            unlink(htmp);
        }
        unlink(hpath); /* a previous run's */
        if (health_start(&health, cfg.health, mux, hpath, &err) < 0)
            fprintf(stderr, "boxlite-vmm: %s (no health checks)\n", err.msg);
    }

    bool ready = false, agent_set = false;
    uint64_t stop_deadline = 0; /* when a graceful stop turns into a forced one */
    uint64_t next_stats = 0;    /* when stats.json is next refreshed */
    struct engine_stats st;
    for (;;) {
        if (mux && !agent_set && r.ops->agent_fd(r.e) >= 0) {
            proto_mux_set_agent_fd(mux, r.ops->agent_fd(r.e));
            agent_set = true;
        }
        /* The ready mark is polled: cheap, and the same for every engine. Once ready, wake
         * every second to refresh stats.json for the library's metrics. */
        int timeout = ready && agent_set ? STATS_PERIOD_MS : 10;
        if (stop_deadline) {
            uint64_t now = now_ms();
            if (now >= stop_deadline) {
                r.ops->stop(r.e, true, &err);
                stop_deadline = UINT64_MAX; /* forced once */
            } else if (stop_deadline != UINT64_MAX) {
                timeout = (int)(stop_deadline - now);
            }
        }
        struct pollfd p[3] = { { .fd = sfd, .events = POLLIN },
                               { .fd = r.done_fd, .events = POLLIN },
                               { .fd = lifeline, .events = POLLIN } };
        int n = poll(p, 3, timeout);
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
            char b;
            if (read(lifeline, &b, 1) <= 0) {
                close(lifeline);
                lifeline = -1;
                stop_asked = true;
                pthread_mutex_lock(&end.lock);
                if (!end.requested)
                    end.requested = "stopped: the process that started it exited";
                pthread_mutex_unlock(&end.lock);
                fprintf(stderr, "boxlite-vmm: the creating process is gone: stopping\n");
            }
        }
        if (p[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si)
                if (si.ssi_signo != SIGPIPE) {
                    stop_asked = true;
                    pthread_mutex_lock(&end.lock);
                    if (!end.requested)
                        end.requested = "stopped";
                    pthread_mutex_unlock(&end.lock);
                }
        }
        if (stop_asked) {
            if (!stop_deadline && mux && proto_mux_ready(mux) &&
                proto_mux_shutdown_agent(mux, &err) == 0) {
                stop_deadline = now_ms() + STOP_GRACE_MS;
            } else if (stop_deadline != UINT64_MAX) {
                r.ops->stop(r.e, true, &err);
                stop_deadline = UINT64_MAX;
            }
        }
        if (!ready && r.ops->stats(r.e, &st) == 0 &&
            (st.start_to_ready_ms > 0 || (mux && proto_mux_ready(mux)))) {
            ready = true;
            if (cfg.ready_file) { /* stats.json first: whoever sees ready finds it */
                write_stats(cfg.ready_file, r.ops->name, &r);
                next_stats = now_ms() + STATS_PERIOD_MS;
            }
            if (cfg.ready_file && write_ready(cfg.ready_file, &r, &cfg, &st, notice) < 0)
                fprintf(stderr, "boxlite-vmm: write %s: %s\n", cfg.ready_file, strerror(errno));
            health_ready(health);
        }
        if (ready && cfg.ready_file && now_ms() >= next_stats) {
            next_stats = now_ms() + STATS_PERIOD_MS;
            write_stats(cfg.ready_file, r.ops->name, &r);
#ifdef BOXLITE_VMM_TEST_HOOKS
            /* The test build (tests/boxlite-vmm-test): with BOXLITE_VMM_TEST=forbidden-syscall,
             * a system call no thread may make once the file "crash-now" appears in the
             * working directory (the box's folder), to prove that the jail kills the VMM
             * and that the box says why. */
            const char *t = getenv("BOXLITE_VMM_TEST");
            struct stat cst;
            if (t && !strcmp(t, "forbidden-syscall") && stat("crash-now", &cst) == 0)
                syscall(SYS_ptrace, 0, 0, 0, 0);
#endif
        }
    }
    pthread_join(wt, NULL);
    health_stop(health);
    r.ops->stats(r.e, &st);
    if (want_stats) {
        stats_json(stdout, r.ops->name, &st);
        putchar('\n');
        fflush(stdout);
    }
    fprintf(stderr, "boxlite-vmm: %s\n", r.exit.reason);
    if (mux && proto_mux_shutdown_requested(mux)) {
        /* a client's SHUTDOWN (boxlite stop): asked for, even if the asker is gone */
        pthread_mutex_lock(&end.lock);
        if (!end.requested)
            end.requested = "stopped";
        pthread_mutex_unlock(&end.lock);
    }
    proto_mux_free(mux); /* before the engine: the mux reads the agent fd */
    r.ops->destroy(r.e);
    /* The engine is gone, so is the console pipe's writer: the pump reaches its end, and a
     * panic line in the last output is seen before the reason is written. */
    char panic[256];
    conlog_stop(console_pump, 2000, panic, sizeof panic);
    if (console && logrot_dropped(console))
        fprintf(stderr, "boxlite-vmm: %llu bytes of console output lost (disk)\n",
                (unsigned long long)logrot_dropped(console));
    logrot_close(console);
    if (cfg.ready_file)
        write_exit(cfg.ready_file, r.ops->name, &r.exit, r.wait_rc, &st, &end, panic, 0);
    close(r.done_fd);
    if (cfg.box_socket)
        unlink(cfg.box_socket);
    vmm_config_free(&cfg);
    if (r.wait_rc < 0)
        return 2;
    if (r.exit.guest_status >= 0)
        return r.exit.guest_status & 0xff;
    return r.exit.powered_off ? 0 : 3;
}
