// SPDX-License-Identifier: Apache-2.0
/* Box lifecycle: start (spawn the per-box process) and stop (graceful, then forced). */
#include "runtime/runtime.h"

#include "common/boxpath.h"
#include "common/clock.h"
#include "common/hostarch.h"
#include "runtime/api_error.h"
#include "runtime/boxfiles.h"
#include "runtime/fallback.h"
#include "runtime/platform.h"
#include "runtime/snapshot.h"
#include "runtime/spawn.h"

#include "image/rootfs.h"
#include "runtime/images.h"

#include <jansson.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdio.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The 9p tag of a shared rootfs (rootfs_share); volumes are vol0, vol1, ... */
#define RT_ROOTFS_TAG "rootfs"

/* SIGTERM asks the per-box process for a graceful stop (it asks the agent to stop
 * processes, sync and power off); after timeout_ms, SIGKILL. */
int rt_box_stop_record(boxlite_runtime *rt, struct box_record *rec, int timeout_ms,
                       bool allow_auto_remove, const struct box_stop *why, struct bl_error *err)
{
    int r = state_box_set_state(rt->db, rec->id, rec->state, BOX_STATE_STOPPING, rec->pid,
                                rec->pid_start, err);
    if (r)
        return r;
    if (rt_process_alive(rec->pid, rec->pid_start)) {
        kill((pid_t)rec->pid, timeout_ms > 0 ? SIGTERM : SIGKILL);
        if (!rt_process_wait_gone(rec->pid, rec->pid_start, timeout_ms > 0 ? timeout_ms : 5000)) {
            kill((pid_t)rec->pid, SIGKILL);
            rt_process_wait_gone(rec->pid, rec->pid_start, 5000);
        }
    }
    rt_box_cgroups_remove(rec->id);
    struct box_stop asked = { .reason = "stopped" };
    r = state_box_set_stopped(rt->db, rec->id, BOX_STATE_ANY, why ? why : &asked, err);
    if (r)
        return r;
    struct boxlite_options o;
    opts_init(&o);
    if (allow_auto_remove && opts_from_json(&o, rec->options, NULL) == 0 && o.auto_remove)
        r = rt_box_destroy(rt, rec->id, err);
    opts_clear(&o);
    return r;
}

BOXLITE_API int boxlite_box_stop(boxlite_box *b, int timeout_ms)
{
    API_CHECK_ARG(b, "box is NULL");
    struct bl_error err = {0};
    struct box_record rec;
    int r = rt_box_lookup(b->rt, b->id, &rec, &err);
    if (r)
        return api_return(r, &err);
    if (rec.state == BOX_STATE_CONFIGURED || rec.state == BOX_STATE_STOPPED)
        r = bl_err(&err, BOXLITE_ERR_STATE, "stop box %s: it is not running (%s)", rec.name,
                   box_state_name(rec.state));
    else {
        /* Graceful: the agent stops its processes, syncs, unmounts and powers off; the
         * per-box process then exits by itself. Whatever is left after the timeout is
         * ended by rt_box_stop_record. */
        pthread_mutex_lock(&b->lock);
        proto_client_close(b->conn);
        b->conn = NULL;
        pthread_mutex_unlock(&b->lock);
        /* A paused box has no process to ask: stopping it drops its saved memory once it
         * reads stopped (its next start is a cold boot; forks keep their own links to a
         * shared memory.base). */
        bool paused = rec.state == BOX_STATE_PAUSED;
        if (paused)
            timeout_ms = 0;
        double t0 = mono_ms_f();
        if (timeout_ms > 0) {
            char sock[4200];
            struct proto_client *c = NULL;
            rt_box_socket(b, sock, sizeof sock);
            if (proto_client_connect(sock, timeout_ms < 2000 ? timeout_ms : 2000, &c, NULL) == 0)
                proto_shutdown(c, timeout_ms, NULL);
            proto_client_close(c);
            int left = timeout_ms - (int)(mono_ms_f() - t0);
            rt_process_wait_gone(rec.pid, rec.pid_start, left > 0 ? left : 0);
        }
        int left = timeout_ms - (int)(mono_ms_f() - t0);
        r = rt_box_stop_record(b->rt, &rec, left > 0 ? left : 0, true, NULL, &err);
        if (!r && paused)
            rt_memory_forget(b->dir);
        if (!r)
            rt_vm_restarts_reset(b->rt, b->id);
    }
    box_record_clear(&rec);
    return api_return(r, &err);
}

/* The box socket: <dir>/box.sock, unless that path is too long for a Unix socket address
 * (108 bytes, e.g. a home deep in a test's temporary folder); then a short path in a private
 * folder under /tmp, named by the box's unique id. */
void rt_box_socket(const boxlite_box *b, char *out, size_t len)
{
    rt_box_socket_path(b->dir, b->id, out, len);
}

void rt_box_socket_path(const char *box_dir, const char *id, char *out, size_t len)
{
    struct sockaddr_un sa;
    box_file_path(out, len, box_dir, BOX_SOCKET, 0);
    if (strlen(out) < sizeof sa.sun_path)
        return;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/boxlite-%u", (unsigned)getuid());
    mkdir(dir, 0700);
    struct stat st;
    /* Only a folder that is ours alone (another user could have made it first). */
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077))
        return; /* keep the long path: binding it fails with a clear error */
    snprintf(out, len, "%s/%s.sock", dir, id);
}

int rt_box_status(const char *box_dir, const char *id, struct proto_status *st,
                  struct bl_error *err)
{
    char sock[4200];
    rt_box_socket_path(box_dir, id, sock, sizeof sock);
    struct proto_client *c = NULL;
    /* a running box answers HELLO at once: the timeouts only bound a process that hangs */
    int r = proto_client_connect(sock, 5000, &c, err);
    if (!r)
        r = proto_client_status(c, 5000, st, err);
    proto_client_close(c);
    return r;
}

/* ---- start ------------------------------------------------------------------------------*/

/* The box's disk: <dir>/disk.qcow2, a thin overlay over the image's cached ext4 base. Made
 * once; a box that is stopped and started again keeps its disk. */
int rt_box_prepare_disk(boxlite_box *b, const char *overlay, struct bl_error *err)
{
    if (access(overlay, F_OK) == 0 || b->opts.rootfs_share)
        return 0; /* a shared rootfs is the host folder itself: no disk */
    struct image_store *store;
    int r = rt_images(b->rt, &store, err);
    if (r)
        return r;
    uint64_t size = (uint64_t)b->opts.disk_size_gb << 30;
    char base[4096];
    if (b->opts.rootfs_path) {
        r = image_prepare_dir(store, b->opts.rootfs_path, 0, base, sizeof base, err);
        if (!r)
            r = rootfs_box_disk(base, overlay, size, err);
        return r ? bl_err_prefix(err, "rootfs %s", b->opts.rootfs_path) : 0;
    }
    struct rt_pull pl;
    struct rt_platform plat;
    if (b->opts.platform && (r = rt_platform_parse(b->opts.platform, &plat, NULL, 0, err)) < 0)
        return r;
    if ((r = rt_pull_open(b->rt, &pl, err)) < 0)
        return r;
    if (b->opts.platform) {
        /* the image index's entry for the box's platform (image.h: the record of another
         * platform under the same reference is pulled again, as docker pull --platform) */
        pl.po.os = plat.os;
        pl.po.arch = plat.arch;
        pl.po.variant = plat.variant[0] ? plat.variant : NULL;
    }
    r = image_prepare(store, b->opts.image, &pl.po, base, sizeof base, err);
    if (r == -BOXLITE_ERR_NOT_FOUND) {
        struct image_record rec = { 0 };
        bl_err_clear(err);
        r = image_pull_prepare(store, b->opts.image, &pl.po, &rec, base, sizeof base, err);
        image_record_free(&rec);
    }
    if (r)
        rt_images_after_failed_pull(b->rt, err);
    rt_pull_close(&pl);
    if (!r)
        r = image_box_disk(store, b->opts.image, overlay, size, err);
    return r ? bl_err_prefix(err, "image %s", b->opts.image) : 0;
}

static json_t *strv_json(char **v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* The health check the box runs: its own, else its image's (Docker's rules: ["NONE"]
 * turns the image's off; timings left 0 take the image's, then Docker's defaults). *out is
 * NULL when there is none. */
static int health_config(boxlite_box *b, const struct image_config *ic, json_t **out,
                         struct bl_error *err)
{
    *out = NULL;
    const struct bl_health *h = &b->opts.health;
    char **test = h->ntest ? h->test : ic->health_test;
    if (!test || !test[0] || !strcmp(test[0], "NONE"))
        return 0;
    char *shell[] = { "/bin/sh", "-c", test[1], NULL };
    char **argv = !strcmp(test[0], "CMD-SHELL") ? shell : !strcmp(test[0], "CMD") ? test + 1 : NULL;
    if (!argv || !argv[0] || !argv[0][0])
        return 0; /* an image's malformed test is ignored, as Docker does */
    struct proto_exec_req req;
    int r = rt_box_request(b, ic, NULL, false, NULL, NULL, &req, err);
    if (r < 0)
        return r;
    long long ns_ms = 1000000;
    long long interval = h->interval_ms ? h->interval_ms
                         : ic->health_interval_ns ? ic->health_interval_ns / ns_ms
                         : BL_HEALTH_INTERVAL_MS;
    long long timeout = h->timeout_ms ? h->timeout_ms
                        : ic->health_timeout_ns ? ic->health_timeout_ns / ns_ms
                        : BL_HEALTH_TIMEOUT_MS;
    long long start = h->start_period_ms ? h->start_period_ms
                      : ic->health_start_period_ns / ns_ms;
    long long retries = h->retries ? h->retries : ic->health_retries ? ic->health_retries
                                                                     : BL_HEALTH_RETRIES;
    /* an image's values are clamped into what the per-box process accepts */
    const long long day = 24LL * 3600 * 1000;
    interval = interval < 100 ? 100 : interval > day ? day : interval;
    timeout = timeout < 100 ? 100 : timeout > day ? day : timeout;
    start = start > day ? day : start;
    retries = retries > 1000 ? 1000 : retries;
    json_t *j = json_pack("{s:o, s:o, s:s, s:s, s:I, s:I, s:I, s:I}", "argv", strv_json(argv),
                          "env", strv_json(req.env), "cwd", req.cwd, "user", req.user,
                          "interval_ms", (json_int_t)interval, "timeout_ms", (json_int_t)timeout,
                          "start_period_ms", (json_int_t)start, "retries", (json_int_t)retries);
    rt_request_free(&req);
    if (!j)
        return bl_err(err, BOXLITE_ERR_NOMEM, "health check: out of memory");
    *out = j;
    return 0;
}

/* The per-box process's jail (src/vmm/jail/jail.h): on unless BOXLITE_UNCONFINED=1 (for
 * debugging only). Started by root it runs as BOXLITE_JAIL_UID:BOXLITE_JAIL_GID (default
 * 65534:65534, like NFS's root squash), or with BOXLITE_JAIL_UIDS=FIRST:COUNT as a uid (and
 * gid) of its own from that range, none shared by two running boxes (locks under
 * <home>/jail-uids); its cgroups named after the box. */
static int jail_config(const boxlite_box *b, json_t **out, struct bl_error *err)
{
    const char *off = rt_settings_get(&b->rt->settings, RT_SET_UNCONFINED);
    if (off && !strcmp(off, "1")) {
        *out = json_pack("{s:b}", "enabled", 0);
        return *out ? 0 : bl_err(err, BOXLITE_ERR_NOMEM, "vmm config: out of memory");
    }
    long long id[2] = { 65534, 65534 };
    const char *names[2] = { "BOXLITE_JAIL_UID", "BOXLITE_JAIL_GID" };
    const enum rt_setting_key keys[2] = { RT_SET_JAIL_UID, RT_SET_JAIL_GID };
    for (int i = 0; i < 2; i++) {
        const char *v = rt_settings_get(&b->rt->settings, keys[i]);
        char *end;
        if (!v || !*v)
            continue;
        errno = 0;
        id[i] = strtoll(v, &end, 10);
        if (errno || *end || id[i] < 1 || id[i] > 4294967294LL)
            return bl_err(err, BOXLITE_ERR_INVALID, "%s=%s: expected a uid/gid from 1 to "
                          "4294967294 (not root)", names[i], v);
    }
    char cgroup[64];
    snprintf(cgroup, sizeof cgroup, "boxlite/%s", b->id);
    const char *nested = rt_settings_get(&b->rt->settings, RT_SET_CGROUP_NESTED);
    *out = json_pack("{s:b, s:I, s:I, s:s, s:b}", "enabled", 1, "uid", (json_int_t)id[0], "gid",
                     (json_int_t)id[1], "cgroup", cgroup, "cgroup_nested",
                     nested && !strcmp(nested, "1"));
    if (!*out)
        return bl_err(err, BOXLITE_ERR_NOMEM, "vmm config: out of memory");
    const char *range = rt_settings_get(&b->rt->settings, RT_SET_JAIL_UIDS);
    if (range && *range) {
        unsigned long long first, count;
        int n = 0;
        if (sscanf(range, "%llu:%llu%n", &first, &count, &n) != 2 || range[n] || first < 1 ||
            count < 1 || count > (1u << 20) || first + count > 4294967295ULL) {
            json_decref(*out);
            *out = NULL;
            return bl_err(err, BOXLITE_ERR_INVALID, "BOXLITE_JAIL_UIDS=%s: expected FIRST:COUNT "
                          "(FIRST >= 1, COUNT from 1 to 1048576)", range);
        }
        char locks[4200];
        snprintf(locks, sizeof locks, "%s/jail-uids", b->rt->home);
        json_object_set_new(*out, "uid_range", json_pack("{s:I, s:I, s:s}", "first",
                                                          (json_int_t)first, "count",
                                                          (json_int_t)count, "locks", locks));
    }
    return 0;
}

/* engine: NULL for the box's own choice, or the engine a fallback forces. */
static int write_vmm_config(boxlite_box *b, const struct rt_assets *a, const char *path,
                            const struct image_config *ic, const char *engine,
                            struct bl_error *err)
{
    json_t *jail = NULL;
    int jr = jail_config(b, &jail, err);
    if (jr)
        return jr;
    json_t *disks = json_array(), *shares = json_array(), *ports = json_array();
    json_t *allow = json_array(), *deny = json_array(), *host = json_array();
    for (size_t i = 0; i < b->opts.nallow_net; i++)
        json_array_append_new(allow, json_string(b->opts.allow_net[i]));
    for (size_t i = 0; i < b->opts.ndeny_net; i++)
        json_array_append_new(deny, json_string(b->opts.deny_net[i]));
    for (size_t i = 0; i < b->opts.nallow_host; i++)
        json_array_append_new(host, json_pack("{s:i, s:s}", "port", b->opts.allow_host[i].port,
                                              "proto", b->opts.allow_host[i].udp ? "udp" : "tcp"));
    char p[4200];
    box_file_path(p, sizeof p, b->dir, BOX_DISK, 0);
    if (b->opts.rootfs_share)
        json_array_append_new(shares, json_pack("{s:s, s:s, s:b, s:b}", "tag", RT_ROOTFS_TAG,
                                                "path", b->opts.rootfs_path, "readonly",
                                                b->opts.read_only, "rootfs", 1));
    else
        json_array_append_new(disks, json_pack("{s:s, s:s, s:b}", "path", p, "format",
                                               "qcow2", "readonly", 0));
    for (size_t i = 0; i < b->opts.nvolumes; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "vol%zu", i);
        json_array_append_new(shares, json_pack("{s:s, s:s, s:b}", "tag", tag, "path",
                                                b->opts.volumes[i].host_path, "readonly",
                                                b->opts.volumes[i].read_only));
    }
    for (size_t i = 0; i < b->opts.nports; i++)
        json_array_append_new(ports, json_pack("{s:s, s:s, s:i, s:i}", "proto",
                                               b->opts.ports[i].udp ? "udp" : "tcp",
                                               "host_addr", b->opts.ports[i].host_addr,
                                               "host_port", b->opts.ports[i].host_port,
                                               "guest_port", b->opts.ports[i].guest_port));
    char console[4200], sock[4200], ready[4200];
    box_file_path(console, sizeof console, b->dir, BOX_CONSOLE_LOG, 0);
    rt_box_socket(b, sock, sizeof sock);
    /* ready_file names the box's folder to the VMM (its post-mortem record goes there) */
    box_file_path(ready, sizeof ready, b->dir, BOX_READY, 0); /* ready_file: no file is written */
    /* BOXLITE_KERNEL_CMDLINE adds guest kernel arguments (the lab uses it for TCG-only
     * timer options). */
    const char *extra = rt_settings_get(&b->rt->settings, RT_SET_KERNEL_CMDLINE);
    /* A platform of another architecture than the host's runs on the QEMU engine's machine
     * for that architecture, under TCG (src/vmm/qemu/machine.c); the KVM engine runs the
     * host's own. */
    struct rt_platform plat;
    bool foreign = b->opts.platform &&
                   rt_platform_parse(b->opts.platform, &plat, NULL, 0, NULL) == 0 &&
                   rt_platform_foreign(&plat);
    if (!engine && foreign)
        engine = "qemu";
    /* a shared rootfs is served by QEMU's 9p only (src/vmm/kvm/kvm_engine.c refuses it) */
    if (!engine && b->opts.rootfs_share && (!b->opts.engine || !strcmp(b->opts.engine, "auto")))
        engine = "qemu";
    /* and so is a NIC in a network namespace (a tap QEMU takes; src/vmm/main.c) */
    if (!engine && b->opts.netns && (!b->opts.engine || !strcmp(b->opts.engine, "auto")))
        engine = "qemu";
    json_t *cfg = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:i, s:o, s:o, s:{s:b, s:o, s:o, s:o, s:o}, s:s, s:s, s:s}",
        "engine", engine ? engine : b->opts.engine ? b->opts.engine : "auto", "kernel", a->kernel,
        "initrd", a->initrd, "cmdline", extra ? extra : "", "cpus", b->opts.cpus,
        "memory_mib", b->opts.memory_mib, "disks", disks, "shares", shares, "network",
        "enabled", b->opts.network, "ports", ports, "allow_net", allow, "deny_net", deny,
        "allow_host", host, "console_log", console, "box_socket",
        sock, "ready_file", ready);
    if (!cfg)
        json_decref(jail);
    if (!cfg || json_object_set_new(cfg, "jail", jail) < 0) {
        json_decref(cfg);
        return bl_err(err, BOXLITE_ERR_NOMEM, "vmm config: out of memory");
    }
    /* The KVM engine's CPU template; with "auto", the KVM engine gets half of the ready
     * timeout, so that a guest stuck there leaves QEMU the other half (fallback.h).
     * BOXLITE_TEST_BREAK_KVM makes the KVM boot fail on purpose (tests of the fallback). */
    const char *brk = getenv("BOXLITE_TEST_BREAK_KVM");
    bool auto_engine = !engine && (!b->opts.engine || !strcmp(b->opts.engine, "auto"));
    if (b->opts.netns)
        json_object_set_new(json_object_get(cfg, "network"), "netns",
                            json_string(b->opts.netns));
    if (b->opts.cpu_template)
        json_object_set_new(cfg, "cpu_template", json_string(b->opts.cpu_template));
    if (auto_engine)
        json_object_set_new(cfg, "kvm_boot_timeout_ms", json_integer(b->opts.ready_timeout_ms / 2));
    if (!engine && brk && *brk)
        json_object_set_new(cfg, "test_break_boot", json_string(brk));
    char vlog[4200];
    box_file_path(vlog, sizeof vlog, b->dir, BOX_VMM_LOG, 0);
    json_object_set_new(cfg, "vmm_log", json_string(vlog));
    /* The runtime's QEMU (its "qemu" setting, else BOXLITE_QEMU) goes in the config, so that
     * a program that set it through the API is obeyed; made absolute here, where a relative
     * path means what its user meant (the per-box process changes folders and root). */
    const char *qemu = rt_settings_get(&b->rt->settings, RT_SET_QEMU);
    if (qemu) {
        char abs[PATH_MAX];
        json_object_set_new(cfg, "qemu_binary", json_string(realpath(qemu, abs) ? abs : qemu));
    }
    json_object_set_new(cfg, "log_max_bytes", json_integer(b->opts.log_max_bytes));
    json_object_set_new(cfg, "log_files", json_integer(b->opts.log_max_files));
    json_t *health = NULL;
    int hr = health_config(b, ic, &health, err);
    if (hr < 0) {
        json_decref(cfg);
        return hr;
    }
    if (health)
        json_object_set_new(cfg, "health", health);
    /* Density (docs/protocol.md "Balloon"): the balloon, KSM, and TCG's translation cache
     * (a runtime setting: an engine tuning, not the box's business) */
    json_object_set_new(cfg, "balloon", json_pack("{s:b, s:i}", "free_page_reporting",
                                                  !b->opts.no_page_reporting, "target_mib",
                                                  b->opts.balloon_target_mib));
    json_object_set_new(cfg, "ksm", json_boolean(b->opts.ksm));
    if (foreign)
        json_object_set_new(cfg, "arch", json_string(machine_of_oci_arch(plat.arch)));
    const char *tb = rt_settings_get(&b->rt->settings, RT_SET_TCG_TB_MIB);
    char *tb_end = NULL;
    long tb_mib = tb ? strtol(tb, &tb_end, 10) : 0;
    if (tb && (!*tb || *tb_end || tb_mib < 0 || tb_mib > 2048)) {
        json_decref(cfg);
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: \"%s\" is not MiB from 0 to 2048",
                      rt_settings_env_name(RT_SET_TCG_TB_MIB), tb);
    }
    json_object_set_new(cfg, "tcg_tb_mib", json_integer(tb ? tb_mib : BL_DEFAULT_TCG_TB_MIB));
    /* Guest RAM in a file of the box's folder (QEMU engine: pause, resume, fork; pause.c) */
    json_t *mem = rt_memory_config(b, b->resuming);
    if (mem)
        json_object_set_new(cfg, "memory", mem);
    rt_memory_fork_network(b, json_object_get(cfg, "network"));
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int r = json_dump_file(cfg, tmp, JSON_INDENT(2));
    json_decref(cfg);
    if (r != 0 || rename(tmp, path) != 0)
        return bl_errno(err, errno, "write %s", path);
    return 0;
}

/* The main process's argv, as Docker builds it from the box's options and the image
 * (include/boxlite.h, "Main process"). */
static int main_argv(const boxlite_box *b, const struct image_config *ic, char ***out,
                     struct bl_error *err)
{
    const struct boxlite_options *o = &b->opts;
    char **ep = o->entrypoint_set ? o->entrypoint : ic->entrypoint;
    char **cmd = o->ncmd ? o->cmd : o->entrypoint_set ? NULL : ic->cmd;
    size_t n = 0;
    for (size_t i = 0; ep && ep[i]; i++)
        n++;
    for (size_t i = 0; cmd && cmd[i]; i++)
        n++;
    if (!n)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "main process: no command (the image has no Entrypoint or Cmd, and none "
                      "was given)");
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    n = 0;
    for (size_t i = 0; ep && ep[i]; i++)
        v[n++] = ep[i];
    for (size_t i = 0; cmd && cmd[i]; i++)
        v[n++] = cmd[i];
    *out = v; /* the strings stay the options' or the image config's */
    return 0;
}

static int send_setup(boxlite_box *b, struct proto_client *c, const struct image_config *ic,
                      int timeout_ms, struct bl_error *err)
{
    struct proto_setup s = { 0 };
    struct proto_exec_req main = { 0 };
    if (opts_has_main(&b->opts)) {
        char **argv = NULL;
        int r = main_argv(b, ic, &argv, err);
        if (!r)
            r = rt_box_request(b, ic, NULL, b->opts.tty, NULL, NULL, &main, err);
        if (r) {
            free(argv);
            return r;
        }
        main.argv = argv;
        s.main = &main;
        s.main_stdin = b->opts.stdin_open; /* attach's stdin (-i) */
        main.tty = b->opts.tty;            /* -t: a terminal, 24x80 until attach resizes it */
        main.rows = 24;
        main.cols = 80;
        /* the restart policy is the agent's to apply: it re-runs the main process in the
         * same container, whoever started the box (docs/architecture.md) */
        if (b->opts.restart) {
            s.restart = !strcmp(b->opts.restart, "on-failure") ? PROTO_RESTART_ON_FAILURE
                                                              : PROTO_RESTART_ALWAYS;
            s.restart_max = (uint32_t)b->opts.restart_max;
        }
    }
    int r = 0;
    struct proto_volume vols[64];
    char tags[64][16];
    if (b->opts.nvolumes > 64) {
        r = bl_err(err, BOXLITE_ERR_INVALID, "at most 64 volumes");
        goto out;
    }
    s.root_dev = b->opts.rootfs_share ? RT_ROOTFS_TAG : "/dev/vda";
    s.root_fstype = b->opts.rootfs_share ? "9p" : "ext4";
    s.hostname = b->opts.hostname ? b->opts.hostname : b->name; /* --hostname, else its name */
    s.root_ro = b->opts.read_only;
    s.net = b->opts.network;
    for (size_t i = 0; i < b->opts.nvolumes; i++) {
        snprintf(tags[i], sizeof tags[i], "vol%zu", i);
        vols[i] = (struct proto_volume){ tags[i], b->opts.volumes[i].guest_path,
                                         b->opts.volumes[i].read_only };
    }
    s.vols = vols;
    s.nvols = (unsigned)b->opts.nvolumes;
    r = proto_setup(c, &s, timeout_ms, err);
out:
    free(main.argv);
    rt_request_free(&main);
    return r;
}

static int remember_lifeline(boxlite_runtime *rt, int fd)
{
    pthread_mutex_lock(&rt->lock);
    int *n = realloc(rt->lifelines, (rt->nlifelines + 1) * sizeof *n);
    if (n) {
        rt->lifelines = n;
        n[rt->nlifelines++] = fd;
    }
    pthread_mutex_unlock(&rt->lock);
    return n ? 0 : -1;
}

/* The KVM engine did not bring the guest up and the box's engine is "auto": record why,
 * start the box again on QEMU and wait for it with what is left of the ready timeout. On
 * return *fallback holds the record (for the box's info) and notice the user's line. */
static int retry_on_qemu(boxlite_box *b, const struct rt_assets *a,
                         const struct image_config *ic, struct rt_child *child, double t0,
                         struct proto_exit *end, struct proto_client **conn, json_t **fallback,
                         char *notice, size_t notice_len, struct bl_error *err)
{
    struct rt_fallback fb;
    if (!rt_fallback_wanted(b->dir, &b->opts, end, &fb))
        return -err->code;
    char cfgpath[4200], log[4200], console[4200];
    box_file_path(cfgpath, sizeof cfgpath, b->dir, BOX_VMM_JSON, 0);
    box_file_path(log, sizeof log, b->dir, BOX_VMM_LOG, 0);
    box_file_path(console, sizeof console, b->dir, BOX_CONSOLE_LOG, 0);
    if (child->lifeline_fd >= 0)
        close(child->lifeline_fd);
    rt_child_close(child);
    *child = (struct rt_child){ .lifeline_fd = -1, .conn_fd = -1, .pidfd = -1 };
    *fallback = rt_fallback_record(b->dir, b->name, &fb, err->msg, notice, notice_len);
    char why[sizeof fb.reason];
    snprintf(why, sizeof why, "%s", fb.reason);
    rt_fallback_clear(&fb);
    state_counter_add(b->rt->db, "kvm_fallbacks", 1, NULL);
    bl_err_clear(err);
    int left = b->opts.ready_timeout_ms - (int)(mono_ms_f() - t0);
    int r = write_vmm_config(b, a, cfgpath, ic, "qemu", err);
    if (!r)
        r = rt_spawn_vmm(a->vmm, cfgpath, log, b->opts.detach, child, err);
    if (!r)
        state_box_set_state(b->rt->db, b->id, BOX_STATE_STARTING, BOX_STATE_STARTING, child->pid,
                            child->pid_start, NULL);
    if (!r)
        r = rt_wait_ready(child, console, log, left > 1000 ? left : 1000, conn, end, err);
    return r ? bl_err_prefix(err, "after the KVM engine failed (%s), on QEMU", why) : 0;
}

static void unlink_logs(const char *path, int files)
{
    char p[4300];
    unlink(path);
    for (int i = 1; i < files || i < BL_DEFAULT_LOG_MAX_FILES; i++) {
        snprintf(p, sizeof p, "%s.%d", path, i);
        unlink(p);
    }
}

static int start_claimed(boxlite_box *b, bool explicit_start, struct bl_error *err);

/* A start holds the box's disk lock, so that a disk operation (snapshot.c: it takes the
 * lock, then checks that the box is stopped) never overlaps it; a start waits for one
 * under way (an export) to end. */
static int start_locked(boxlite_box *b, bool explicit_start, struct bl_error *err)
{
    int lock = snap_lock(b->dir, err);
    if (lock < 0)
        return lock;
    int r = start_claimed(b, explicit_start, err);
    close(lock);
    return r;
}

static int start_claimed(boxlite_box *b, bool explicit_start, struct bl_error *err)
{
    double t_lookup = mono_ms_f(); /* the claim's records, before t0 */
    boxlite_runtime *rt = b->rt;
    struct box_record rec;
    int r = rt_box_lookup(rt, b->id, &rec, err);
    if (r)
        return r;
    if (rec.state == BOX_STATE_RUNNING) {
        box_record_clear(&rec);
        return 0;
    }
    if (rec.state != BOX_STATE_CONFIGURED && rec.state != BOX_STATE_STOPPED &&
        rec.state != BOX_STATE_PAUSED) {
        r = bl_err(err, BOXLITE_ERR_STATE, "start box %s: it is %s", rec.name,
                   box_state_name(rec.state));
        box_record_clear(&rec);
        return r;
    }
    /* A paused box resumes from its saved state (pause.c); any other start is cold and
     * forgets every memory file. */
    b->resuming = rec.state == BOX_STATE_PAUSED && rt_memory_saved(b->dir);
    /* The saved state is the format of the engine that paused (QEMU's migration stream or
     * our VMM's snapshot): a resume runs that engine, whatever "auto" would choose now. */
    char paused_engine[16] = "";
    if (b->resuming && rec.engine && (!strcmp(rec.engine, "kvm") || !strcmp(rec.engine, "qemu")))
        snprintf(paused_engine, sizeof paused_engine, "%s", rec.engine);
    /* A box that stopped by itself is not brought back behind its user's back: an exec
     * says why it stopped (boxlite_box_start starts it again). */
    if (!explicit_start && rec.state == BOX_STATE_STOPPED && rec.stop_abnormal) {
        r = bl_err(err, BOXLITE_ERR_STATE, "box %s has stopped: %s (start it again to use it)",
                   rec.name, rec.stop_reason ? rec.stop_reason : "unknown reason");
        box_record_clear(&rec);
        return r;
    }
    /* Claim the start; while "starting" the box lives as long as this process (its owner):
     * a crash here leaves a box that reads as stopped, not one stuck starting. */
    int64_t self_start = rt_process_start_time(getpid());
    r = state_box_set_state(rt->db, b->id, rec.state, BOX_STATE_STARTING, 0, 0, err);
    box_record_clear(&rec);
    if (r)
        return r;
    state_box_set_owner(rt->db, b->id, getpid(), self_start, NULL);

    double t0 = mono_ms_f();
    struct rt_assets a;
    /* a failure before the spawn closes nothing */
    struct rt_child child = { .lifeline_fd = -1, .conn_fd = -1, .pidfd = -1 };
    struct image_config ic = { 0 };
    char overlay[4200], cfgpath[4200], log[4200], console[4200];
    box_file_path(overlay, sizeof overlay, b->dir, BOX_DISK, 0);
    box_file_path(cfgpath, sizeof cfgpath, b->dir, BOX_VMM_JSON, 0);
    box_file_path(log, sizeof log, b->dir, BOX_VMM_LOG, 0);
    box_file_path(console, sizeof console, b->dir, BOX_CONSOLE_LOG, 0);
    /* The pause's end record, read before it is cleared: the main process's restarts (the
     * agent goes on from there, and so must the new per-box process that reports them:
     * vmm.json memory) and whether the pause left the volumes mounted. */
    rt_memory_read_pause(b);
    boxfiles_clear(b->dir);
    if (!b->resuming) {
        unlink_logs(console, b->opts.log_max_files);
        rt_memory_forget(b->dir);
    }
    r = rt_find_assets(&rt->settings, &a, err);
    struct rt_platform plat;
    if (!r && b->opts.platform && !(r = rt_platform_parse(b->opts.platform, &plat, NULL, 0, err)) &&
        rt_platform_foreign(&plat)) {
        if (b->opts.engine && !strcmp(b->opts.engine, "kvm"))
            r = bl_err(err, BOXLITE_ERR_UNSUPPORTED, "platform %s: the kvm engine runs only "
                       "%s boxes here (engine qemu or auto runs it under TCG)",
                       b->opts.platform, host_oci_arch());
        else
            r = rt_find_platform_assets(&rt->settings, &plat, &a, err);
    }
    if (!r)
        r = rt_box_prepare_disk(b, overlay, err);
    double t_disk = mono_ms_f();
    if (!r)
        rt_box_image_config(b, &ic);
    if (!r)
        r = write_vmm_config(b, &a, cfgpath, &ic, paused_engine[0] ? paused_engine : NULL, err);
    bool spawned = false;
    if (!r)
        spawned = !(r = rt_spawn_vmm(a.vmm, cfgpath, log, b->opts.detach, &child, err));
    /* Recorded at once: whoever finds this start abandoned can end the process. */
    if (!r)
        state_box_set_state(rt->db, b->id, BOX_STATE_STARTING, BOX_STATE_STARTING, child.pid, child.pid_start,
                            NULL);
    /* Ready: the agent's HELLO through the process's mux, on the connection made at spawn
     * (no file, no polling); its EXIT if the box ended instead. */
    struct proto_client *conn = NULL;
    struct proto_exit end = { 0 };
    if (!r)
        r = rt_wait_ready(&child, console, log, b->opts.ready_timeout_ms, &conn, &end, err);
    json_t *fallback = NULL; /* fallback.h */
    char fallback_notice[1024] = "";
    /* (a resume does not fall back: the other engine cannot read the saved state) */
    if (r && spawned && !paused_engine[0] && !rt_process_alive(child.pid, child.pid_start))
        r = retry_on_qemu(b, &a, &ic, &child, t0, &end, &conn, &fallback, fallback_notice,
                          sizeof fallback_notice, err);
    double t_ready = mono_ms_f();
    int left = b->opts.ready_timeout_ms - (int)(t_ready - t0);
    /* What the per-box process says of itself: the engine it chose and, when that is a
     * fallback (QEMU without hardware virtualization), a one-line notice for the user. */
    struct proto_status st = { 0 };
    if (!r)
        r = proto_client_status(conn, left > 1000 ? left : 1000, &st, err);
    double t_status = mono_ms_f();
    if (!r && b->resuming)
        r = rt_memory_after_resume(b, conn, left > 1000 ? left : 1000, err);
    else if (!r)
        r = send_setup(b, conn, &ic, left > 1000 ? left : 1000, err);
    image_config_free(&ic);
    double t_setup = mono_ms_f();
    if (r) {
        if (child.pid > 0)
            kill(child.pid, SIGKILL);
        if (child.lifeline_fd >= 0)
            close(child.lifeline_fd);
        rt_child_close(&child);
        proto_client_close(conn);
        proto_status_free(&st);
        json_decref(fallback);
        char why[600];
        rt_exit_reason(b->dir, &end, why, sizeof why);
        if (why[0] && !strstr(err->msg, why))
            bl_err_prefix(err, "%s", why);
        bl_err_prefix(err, "start box %s", b->name);
        char reason[600];
        snprintf(reason, sizeof reason, "the start failed: %s", err->msg);
        struct box_stop st = { .reason = reason };
        if (rt_memory_saved(b->dir)) /* it paused itself (auto-pause) or was never resumed */
            state_box_set_state(rt->db, b->id, BOX_STATE_ANY, BOX_STATE_PAUSED, 0, 0, NULL);
        else
            state_box_set_stopped(rt->db, b->id, BOX_STATE_ANY, &st, NULL);
        state_counter_add(rt->db, "boxes_failed", 1, NULL);
        return -err->code;
    }
    if (child.lifeline_fd >= 0)
        remember_lifeline(rt, child.lifeline_fd);
    proto_client_close(b->conn);
    b->conn = conn;
    rt_child_close(&child);
    const char *engine = st.fig.engine[0] ? st.fig.engine : NULL;
    const char *notice = st.notice;
    json_t *info = json_pack("{s:{s:f, s:f, s:f, s:f, s:f, s:f}, s:s}", "start_ms", "claim",
                             t0 - t_lookup, "disk", t_disk - t0, "boot_to_ready",
                             t_ready - t_disk, "setup", t_setup - t_ready, "status",
                             t_status - t_ready, "total", t_setup - t0, "notice",
                             fallback_notice[0] ? fallback_notice : notice ? notice : "");
    /* The CPU the guest sees, and a KVM failure the box survived by running on QEMU. */
    json_object_set_new(info, "cpu_template", json_string(st.fig.cpu_template));
    if (fallback)
        json_object_set_new(info, "fallback", fallback);
    char *infos = info ? json_dumps(info, JSON_COMPACT) : NULL;
    state_box_set_info(rt->db, b->id, engine ? engine : "unknown", infos, NULL);
    free(infos);
    json_decref(info);
    proto_status_free(&st);
    state_counter_add(rt->db, "boxes_started", 1, NULL);
    return state_box_set_state(rt->db, b->id, BOX_STATE_STARTING, BOX_STATE_RUNNING, child.pid,
                               child.pid_start, err);
}

int rt_box_ensure_running(boxlite_box *b, bool explicit_start, struct bl_error *err)
{
    pthread_mutex_lock(&b->lock);
    int r = start_locked(b, explicit_start, err);
    pthread_mutex_unlock(&b->lock);
    return r;
}

/* How long a request waits for a box that is pausing itself (auto-pause) to end its
 * process, after which it resumes the box: a pause saves the box's memory, seconds at most. */
#define RT_PAUSING_WAIT_MS 60000

/* Waits up to timeout_ms for the box's process to end (its pidfd becomes readable): a box
 * pausing itself ends it once its memory is saved. Returns at once if there is none. */
static void wait_process_end(boxlite_box *b, int timeout_ms)
{
    struct box_record rec;
    struct bl_error e = { 0 };
    if (rt_box_lookup(b->rt, b->id, &rec, &e) < 0)
        return;
    int fd = rec.pid > 0 && rt_process_alive(rec.pid, rec.pid_start)
                 ? (int)syscall(SYS_pidfd_open, (pid_t)rec.pid, 0) : -1;
    box_record_clear(&rec);
    if (fd < 0)
        return;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR) {
    }
    close(fd);
}

int rt_box_conn(boxlite_box *b, struct proto_client **out, struct bl_error *err)
{
    /* A box may pause itself as a request comes. The PING first: while a pause is under
     * way it is refused ("the box is pausing") and the request waits for the box's process
     * to end, then resumes the box (rt_box_ensure_running); once answered, the idle timer
     * restarted, so no auto-pause begins before the request does (docs/protocol.md). A
     * pause that is refused leaves the process running: the PING is asked again each
     * second. */
    double until = mono_ms_f() + RT_PAUSING_WAIT_MS;
    for (;;) {
        int r = rt_box_ensure_running(b, false, err);
        if (r)
            return r;
        pthread_mutex_lock(&b->lock);
        if (!b->conn) {
            char sock[4200];
            rt_box_socket(b, sock, sizeof sock);
            r = proto_client_connect(sock, 10000, &b->conn, err);
        }
        struct proto_client *c = b->conn;
        pthread_mutex_unlock(&b->lock);
        if (!r) {
            r = proto_client_ping(c, 10000, err);
            if (!r || r == -BOXLITE_ERR_UNSUPPORTED) { /* UNSUPPORTED: an older box process */
                *out = c;
                return 0;
            }
        }
        /* pausing, or the connection ended with the process (paused: the next round
         * resumes it); anything else is the request's error */
        if (r != -BOXLITE_ERR_STATE && c)
            return r;
        pthread_mutex_lock(&b->lock);
        if (c && b->conn == c && proto_client_dead(c)) {
            proto_client_close(c); /* executions still holding it stay valid */
            b->conn = NULL;
        }
        pthread_mutex_unlock(&b->lock);
        if (mono_ms_f() > until)
            return bl_err_prefix(err, "box %s: still pausing after %d s", b->name,
                                 RT_PAUSING_WAIT_MS / 1000);
        wait_process_end(b, 1000);
        memset(err, 0, sizeof *err);
    }
}

/* A connection to a running box's socket, or why not. */
int rt_box_conn_running(boxlite_box *b, const char *what, struct proto_client **c,
                           struct box_record *rec, struct bl_error *err)
{
    *c = NULL;
    int r = rt_box_lookup(b->rt, b->id, rec, err);
    if (r)
        return r;
    if (rec->state != BOX_STATE_RUNNING)
        return bl_err(err, BOXLITE_ERR_STATE, "%s box %s: it is %s", what, rec->name,
                      box_state_name(rec->state));
    char sock[4200];
    rt_box_socket(b, sock, sizeof sock);
    return proto_client_connect(sock, 5000, c, err);
}

BOXLITE_API int boxlite_box_start(boxlite_box *b)
{
    API_CHECK_ARG(b, "box is NULL");
    api_notice("%s", "");
    struct bl_error err = { 0 };
    int r = rt_box_ensure_running(b, true, &err);
    if (!r)
        rt_vm_restarts_reset(b->rt, b->id); /* the user's start: a new count, as Docker's */
    return api_return(r, &err);
}

/* ---- restart after the VM died ----------------------------------------------------------
 * The agent restarts the main process when it ends (the box's restart policy). A VM that
 * dies (kernel panic, its per-box process killed, the host rebooted) has nobody left to do
 * that, and there is no daemon: the next runtime open does it (runtime.c). Docker's back-off
 * holds between such restarts (100 ms, doubling, at most a minute: a later open restarts a
 * box it skipped), and on-failure:N counts them. The count goes back to 0 when the box is
 * started or stopped on request. */
#define VM_RESTARTS "box:%s:vm_restarts"
#define VM_RESTART_AT "box:%s:vm_restart_at_ms"

static int64_t counter(sqlite3 *db, const char *fmt, const char *id)
{
    char key[80];
    snprintf(key, sizeof key, fmt, id);
    return state_counter_get(db, key);
}

static void counter_set(sqlite3 *db, const char *fmt, const char *id, int64_t v)
{
    char key[80];
    snprintf(key, sizeof key, fmt, id);
    state_counter_add(db, key, v - state_counter_get(db, key), NULL);
}

int64_t rt_vm_restarts(const boxlite_runtime *rt, const char *id)
{
    return counter(rt->db, VM_RESTARTS, id);
}

void rt_vm_restarts_reset(boxlite_runtime *rt, const char *id)
{
    if (counter(rt->db, VM_RESTARTS, id))
        counter_set(rt->db, VM_RESTARTS, id, 0);
}

int rt_box_restart_if_died(boxlite_box *b, char *why, size_t why_len, struct bl_error *err)
{
    const struct boxlite_options *o = &b->opts;
    /* a box not detached lives as long as its owner: another process must not adopt it */
    if (!o->restart || !strcmp(o->restart, "no") || !o->detach)
        return 0;
    pthread_mutex_lock(&b->lock);
    int lock = snap_lock(b->dir, err);
    if (lock < 0) {
        pthread_mutex_unlock(&b->lock);
        return lock;
    }
    /* looked at under the lock: another runtime opening now finds it running */
    struct box_record rec;
    int r = rt_box_lookup(b->rt, b->id, &rec, err), done = 0;
    bool found = !r;
    if (found && rec.state == BOX_STATE_STOPPED && rec.stop_abnormal && !rec.has_exit_code) {
        sqlite3 *db = b->rt->db;
        int64_t n = counter(db, VM_RESTARTS, b->id), now = (int64_t)(wall_ns() / 1000000);
        int64_t delay = n >= 10 ? 60000 : 100LL << n;
        bool spent = !strcmp(o->restart, "on-failure") && o->restart_max && n >= o->restart_max;
        if (!spent && now - counter(db, VM_RESTART_AT, b->id) >= (delay < 60000 ? delay : 60000)) {
            snprintf(why, why_len, "%s", rec.stop_reason ? rec.stop_reason : "unknown reason");
            r = start_claimed(b, true, err);
            if (!r) {
                counter_set(db, VM_RESTARTS, b->id, n + 1);
                counter_set(db, VM_RESTART_AT, b->id, now);
                done = 1;
            }
        }
    }
    if (found)
        box_record_clear(&rec);
    close(lock);
    pthread_mutex_unlock(&b->lock);
    return r ? r : done;
}
