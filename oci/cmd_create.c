// SPDX-License-Identifier: Apache-2.0
/* create and start (runtime-spec runtime.md "Create", "Start"): create forks the
 * container's relay, which boots the box and waits on relay.sock for start; start asks it
 * to run the process. */
#include "runtime.h"
#include "cgroup.h"

#include "common/cleanup.h"
#include "common/io.h"
#include "common/procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- create: a relay that boots the box and waits for start ------------------------------*/

/* nic_ns: the network namespace whose interface the box's NIC mirrors, NULL for the
 * user-mode network */
static int box_options(const struct oci_spec *s, const char *id, const char *rootfs,
                       const char *nic_ns, boxlite_options **out, struct bl_error *err)
{
    boxlite_options *o = NULL;
    int r = boxlite_options_new(&o);
    if (!r)
        r = boxlite_options_set_rootfs_path(o, rootfs);
    if (!r)
        r = boxlite_options_set_rootfs_share(o, 1);
    if (!r)
        r = boxlite_options_set_read_only(o, s->root_readonly);
    /* the container id names the box when it is a valid box name (podman's are) */
    if (!r && boxlite_options_set_name(o, id) != BOXLITE_OK)
        r = 0;
    if (!r && s->hostname && s->hostname[0])
        r = boxlite_options_set_hostname(o, s->hostname);
    /* the annotations win over what linux.resources sizes (docs/oci-runtime.md "cgroups") */
    int cpus, mib;
    cgroup_box_size(&s->res, &cpus, &mib);
    if (!r && (s->cpus || cpus))
        r = boxlite_options_set_cpus(o, s->cpus ? s->cpus : cpus);
    if (!r && (s->memory_mib || mib))
        r = boxlite_options_set_memory_mib(o, s->memory_mib ? s->memory_mib : mib);
    if (!r && s->engine)
        r = boxlite_options_set_engine(o, s->engine);
    /* the container's network namespace is the box's network (relay_netns_nic), or the
     * published ports of the annotation are the box's side of each, a free loopback port
     * (oci/ports.c) */
    char mode[PATH_MAX + 8];
    if (!r && nic_ns) {
        snprintf(mode, sizeof mode, "netns:%s", nic_ns);
        r = boxlite_options_set_network_mode(o, mode);
    }
    for (size_t i = 0; !r && !nic_ns && i < s->nports; i++)
        r = boxlite_options_add_port(o, 0, s->ports[i], "tcp", NULL);
    for (size_t i = 0; !r && i < s->nmounts; i++)
        if (relay_mount_kind(&s->mounts[i]) == S_IFDIR && /* a volume is a folder (9p) */
            !(r = relay_mkdir_in_root(rootfs, s->mounts[i].destination, err) < 0 ? -1 : 0))
            r = boxlite_options_add_volume(o, s->mounts[i].source, s->mounts[i].destination,
                                           s->mounts[i].readonly);
    if (!r && relay_tmpfs_mountpoints(rootfs, s, err) < 0)
        r = -1;
    if (r) {
        if (r > 0) /* the library's error; a mount point's is in err already */
            bl_err(err, BOXLITE_ERR_INVALID, "%s", boxlite_errmsg());
        boxlite_options_free(o);
        return -1;
    }
    *out = o;
    return 0;
}

/* The startContainer hooks, in the box, with the state create wrote (status "created"). */
static int start_hooks(const char *id, boxlite_box *box, const struct oci_spec *s,
                       struct bl_error *err)
{
    char dir[PATH_MAX], p[PATH_MAX + 32];
    state_dir(id, dir, sizeof dir);
    snprintf(p, sizeof p, "%s/state.json", dir);
    cleanup_free char *text = NULL;
    size_t len;
    struct oci_state st;
    if (read_file(p, 1 << 20, &text, &len) < 0)
        return bl_errno(err, errno, "read %s", p);
    if (oci_state_parse(text, len, &st, err))
        return bl_err_prefix(err, "%s", p);
    char *js = oci_state_report(&st, OCI_CREATED);
    oci_state_free(&st);
    if (!js)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int r = guest_start_hooks(box, s, js, err);
    free(js);
    return r;
}

/* What a create that fails after its relay is up leaves behind, removed: the relay (the
 * box stops with it), the box, the state; then the poststop hooks (runtime.md: a failed
 * create hook continues the lifecycle at delete). */
static void destroy_created(pid_t pid, const struct oci_spec *s, const struct oci_state *st,
                            const struct cgroup *cg)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cgroup_destroy(cg, NULL);
    boxlite_runtime *rt = NULL;
    struct pod pod;
    if (pod_of(st->id, &pod) == POD_CONTAINER)
        pod_leave(&pod, st->id); /* its box is the sandbox's, which runs on */
    else if (st->box[0] && open_runtime(&rt) == 0) { /* "": not booted yet */
        boxlite_box_remove(rt, st->box, 1);
        boxlite_runtime_close(rt);
    }
    rm_state_dir(st->id);
    struct bl_error err = { 0 };
    host_hooks(s, OCI_HOOK_POSTSTOP, st, OCI_STOPPED, &err);
}

/* The relay's pipes to create: ready_fd gets "ok BOXID" or the error. With
 * relay_netns_later, early_fd gets "ok" once the relay is in its new network namespace,
 * and go_fd brings "go" once create has run the prestart and createRuntime hooks (-1 both
 * otherwise). */
struct relay_pipes {
    int ready_fd, early_fd, go_fd;
};

/* relay_netns_later: the relay makes its new network namespace and waits while create
 * runs the hooks that configure it (Docker's libnetwork-setkey moves the veth in), as
 * runc runs them after making the namespaces and before the process. Then the box's NIC
 * mirrors the namespace's interface (nic_ns is set to the relay's namespace), or, with
 * loopback only (ctr run), the box keeps its user-mode network: the relay goes back to
 * the caller's namespace (host_ns) to boot it, so that network reaches out. */
static int netns_after_hooks(const struct relay_pipes *rp, int *host_ns, int *own_ns,
                             char *nic_ns, size_t len, struct bl_error *err)
{
    *host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (*host_ns < 0)
        return bl_errno(err, errno, "open /proc/self/ns/net");
    if (relay_enter_netns(NULL, err) < 0)
        return -1;
    *own_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (*own_ns < 0)
        return bl_errno(err, errno, "open the new /proc/self/ns/net");
    report(rp->early_fd, "ok");
    close(rp->early_fd);
    char go[8];
    read_report(rp->go_fd, go, sizeof go);
    close(rp->go_fd);
    if (strcmp(go, "go"))
        _exit(1); /* create failed a hook and kills this process */
    if (relay_netns_has_nic()) {
        snprintf(nic_ns, len, "/proc/%d/ns/net", (int)getpid());
        return 0;
    }
    return setns(*host_ns, CLONE_NEWNET) < 0 ? bl_errno(err, errno, "back to the caller's "
                                                                    "network namespace")
                                             : 0;
}

/* The created container's relay: boots the box, reports to create (ready_fd), waits for
 * start, then runs the process. Never returns. */
static __attribute__((noreturn)) void create_relay(const char *id, const struct oci_spec *s,
                                                   const char *rootfs, int console_fd,
                                                   int listen_fd, const struct relay_pipes *rp,
                                                   const struct pod *pod,
                                                   const struct cgroup *cg)
{
    int ready_fd = rp->ready_fd;
    int sigfd = signal_fd();
    struct bl_error err = { 0 };
    /* first: the per-box process and QEMU inherit the cgroup from this process */
    if (cg->n && cgroup_join(cg, 0, &err) < 0) {
        report(ready_fd, "join the container's cgroup: %s", err.msg);
        _exit(1);
    }
    int tty = -1;
    if (s->process.terminal) {
        tty = relay_pty(console_fd, s->process.rows, s->process.cols, &err);
        if (tty < 0) {
            report(ready_fd, "%s", err.msg);
            _exit(1);
        }
        relay_stdio_to_null();
    }
    if (console_fd >= 0)
        close(console_fd);
    boxlite_runtime *rt = NULL;
    boxlite_options *o = NULL;
    boxlite_box *box = NULL;
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s/home", opts.root);
    /* the box's own cgroups (its jail's limits) inside the container's, which hold it */
    if (boxlite_runtime_open_with(home, cg->n ? "{\"cgroup_nested\": true}" : NULL, &rt) !=
        BOXLITE_OK) {
        report(ready_fd, "open the box runtime at %s: %s", home, boxlite_errmsg());
        _exit(1);
    }
    if (pod->kind == POD_CONTAINER && pod_join(rt, pod, id, rootfs, s, &box, &err) < 0) {
        report(ready_fd, "%s", err.msg);
        _exit(1);
    }
    /* a box left by an earlier container of this id (its relay killed before delete) */
    if (!box)
        boxlite_box_remove(rt, id, 1);
    /* the box's NIC: the namespace's interface (relay_netns_nic, or relay_netns_later's
     * namespace once hooks have configured it), else the user-mode network */
    bool later = rp->early_fd >= 0;
    char nic_ns[PATH_MAX] = "";
    int host_ns = -1, own_ns = -1;
    if (relay_netns_nic(s))
        snprintf(nic_ns, sizeof nic_ns, "%s", s->netns_path);
    else if (later && netns_after_hooks(rp, &host_ns, &own_ns, nic_ns, sizeof nic_ns, &err) < 0) {
        report(ready_fd, "%s", err.msg);
        _exit(1);
    }
    bool nic = nic_ns[0];
    if (!box && (box_options(s, id, rootfs, nic ? nic_ns : NULL, &o, &err) < 0 ||
                 (pod->kind == POD_SANDBOX && pod_sandbox_prepare(rootfs, &err) < 0))) {
        report(ready_fd, "%s", err.msg);
        _exit(1);
    }
    if (o && (boxlite_box_create(rt, o, &box) != BOXLITE_OK || boxlite_box_start(box) != BOXLITE_OK)) {
        report(ready_fd, "start the box: %s", boxlite_errmsg());
        if (box)
            boxlite_box_remove(rt, boxlite_box_id(box), 1);
        _exit(1);
    }
    boxlite_options_free(o);
    /* a box of its own: the spec's bound files onto its rootfs share, which carries them
     * as it carries the rootfs (a volume is a folder); a pod's container has them already */
    if (pod->kind != POD_CONTAINER && boxns_bind(box, rootfs, rootfs, s, BOXNS_FILES, &err) < 0) {
        report(ready_fd, "%s", err.msg);
        boxlite_box_remove(rt, boxlite_box_id(box), 1);
        _exit(1);
    }
    /* the caller's namespace, where the box's port forwards listen */
    bool proxies = s->nports && !nic;
    if (proxies && host_ns < 0)
        host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int r = 0;
    if (later && !nic && setns(own_ns, CLONE_NEWNET) < 0)
        r = bl_errno(&err, errno, "back into the container's network namespace");
    else if (!later && s->netns)
        r = relay_enter_netns(s->netns_path, &err);
    if (r < 0 || (proxies && relay_ports_start(box, s, host_ns, &err) < 0)) {
        report(ready_fd, "%s", err.msg);
        boxlite_box_remove(rt, boxlite_box_id(box), 1);
        _exit(1);
    }
    if (host_ns >= 0)
        close(host_ns);
    if (own_ns >= 0)
        close(own_ns);
    report(ready_fd, "ok %s", boxlite_box_id(box));
    close(ready_fd);

    /* created: wait for start (or a signal: a container killed before it started) */
    int conn = -1;
    while (conn < 0) {
        struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN },
                               { .fd = sigfd, .events = POLLIN } };
        if (poll(p, 2, -1) < 0)
            continue;
        if (p[1].revents) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si && si.ssi_signo != SIGWINCH &&
                si.ssi_signo != SIGCHLD && si.ssi_signo != SIGPIPE)
                _exit(128 + (int)si.ssi_signo); /* the box stops with us (its lifeline) */
        }
        if (p[0].revents)
            conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn >= 0) {
            char req[16];
            read_report(conn, req, sizeof req);
            if (strncmp(req, "start", 5)) {
                close(conn);
                conn = -1;
            }
        }
    }
    close(listen_fd);
    if (s->nhooks[OCI_HOOK_START_CONTAINER] && start_hooks(id, box, s, &err) < 0) {
        report(conn, "%s", err.msg);
        _exit(1); /* runtime.md: a failing startContainer hook stops the container */
    }
    boxlite_exec_spec spec;
    char user[32];
    struct relay_security sec;
    relay_exec_spec(&s->process, &spec, user, sizeof user, &sec);
    relay_confine(s, true, &sec);
    if (pod->kind == POD_CONTAINER)
        spec.root = pod->guest_root;
    /* the container's processes in the guest: counted by its pids limit there, and ended
     * with this one (a pod's container leaves nothing behind in the pod's VM) */
    spec.group = id;
    if (s->res.has_pids_limit && s->res.pids_limit > 0)
        spec.pids_max = s->res.pids_limit;
    /* the caller sizes the terminal once it holds the master, possibly while the container
     * was only created (its SIGWINCH was not forwarded then): the size at start is the one */
    struct winsize ws;
    if (tty >= 0 && ioctl(tty, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
        spec.rows = ws.ws_row;
        spec.cols = ws.ws_col;
    }
    boxlite_exec *ex = NULL;
    if (boxlite_exec_start(box, &spec, &ex) != BOXLITE_OK) {
        report(conn, "%s", boxlite_errmsg());
        _exit(boxlite_errcode() == BOXLITE_ERR_NOT_FOUND ? 127 : 1);
    }
    char dir[PATH_MAX], mark[PATH_MAX + 32];
    state_dir(id, dir, sizeof dir);
    snprintf(mark, sizeof mark, "%s/" STARTED_MARK, dir);
    close(open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    report(conn, "ok");
    close(conn);
    int status = tty >= 0 ? relay_pump(ex, tty, tty, tty, tty, sigfd)
                          : relay_pump(ex, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, -1, sigfd);
    /* the box goes down with this process (its lifeline); nothing to wait for here */
    _exit(status);
}

/* state.json, written whole (create writes it twice when the box boots after hooks) */
static int save_state(const char *path, const struct oci_state *st, struct bl_error *err)
{
    char *js = oci_state_dump(st);
    int r = js ? oci_write_atomic(path, js, strlen(js), err)
               : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    free(js);
    return r ? bl_err_prefix(err, "write %s", path) : 0;
}

static int abs_path(const char *base, const char *p, char *out, size_t len)
{
    char joined[PATH_MAX * 2];
    snprintf(joined, sizeof joined, "%s%s%s", p[0] == '/' ? "" : base, p[0] == '/' ? "" : "/", p);
    if (!realpath(joined, out))
        return -1;
    (void)len;
    return 0;
}

int cmd_create(int argc, char **argv, int i)
{
    const char *bundle = ".", *pid_file = NULL, *console = NULL, *preserve = NULL;
    bool nopivot = false, nokeyring = false;
    const struct flag fl[] = {
        FLAG_V("bundle", 'b', &bundle),
        FLAG_V("pid-file", 0, &pid_file),
        FLAG_V("console-socket", 0, &console),
        FLAG_V("preserve-fds", 0, &preserve),
        FLAG_B("no-pivot", 0, &nopivot),
        FLAG_B("no-new-keyring", 0, &nokeyring),
        FLAG_END,
    };
    if (parse_flags(argc, argv, &i, fl, "create"))
        return 1;
    if (i != argc - 1)
        return fail("create: usage: create [flags] CONTAINER-ID");
    const char *id = argv[i];
    struct bl_error err = { 0 };
    if (oci_id_valid(id, &err))
        return fail("%s", err.msg);
    char bdir[PATH_MAX], cfg[PATH_MAX + 16], rootfs[PATH_MAX];
    if (!realpath(bundle, bdir))
        return fail("bundle %s: %s", bundle, strerror(errno));
    snprintf(cfg, sizeof cfg, "%s/config.json", bdir);
    cleanup_free char *text = NULL;
    size_t len;
    if (read_file(cfg, OCI_SPEC_MAX_BYTES, &text, &len) < 0)
        return fail("read %s: %s", cfg, strerror(errno));
    struct oci_spec s;
    if (oci_spec_parse(text, len, &s, &err))
        return fail("%s: %s", cfg, err.msg);
    int rc = 1;
    if (abs_path(bdir, s.root_path, rootfs, sizeof rootfs) < 0) {
        rc = fail("root.path %s: %s", s.root_path, strerror(errno));
        goto out;
    }
    if (s.process.terminal && !console) {
        rc = fail("create: a terminal was asked for (process.terminal) without --console-socket");
        goto out;
    }
    struct pod pod;
    if (oci_namespaces_check(&s, &err) < 0 || relay_lookpath(rootfs, &s, &s.process, &err) < 0 ||
        pod_role(&s, id, rootfs, &pod, &err) < 0) {
        rc = fail("%s", err.msg);
        goto out;
    }
    /* the pod's containers write through the sandbox's rootfs share (containerd asks for a
     * read-only pause root): the share, and so that root, stays writable */
    if (pod.kind == POD_SANDBOX)
        s.root_readonly = false;
    /* containerd's shim passes a --root whose parents may not exist yet (runc: MkdirAll) */
    if (mkdir_p(opts.root, 0700, &err) < 0) {
        rc = fail("--root %s: %s", opts.root, err.msg);
        goto out;
    }
    char dir[PATH_MAX];
    state_dir(id, dir, sizeof dir);
    if (mkdir(dir, 0700) < 0) {
        rc = errno == EEXIST ? fail("container with id exists: %s", id)
                             : fail("mkdir %s: %s", dir, strerror(errno));
        goto out;
    }
    /* the socket start connects to, made before the relay exists so no start can miss it */
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a;
    if (dfd < 0 || ls < 0 || sock_addr(dfd, RELAY_SOCK, &a) < 0 ||
        bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4) < 0) {
        rc = fail("relay socket in %s: %s", dir, strerror(errno));
        rm_state_dir(id);
        goto out;
    }
    close(dfd);
    if (pod_record(&pod, id, &err) < 0) {
        rc = fail("%s", err.msg);
        rm_state_dir(id);
        goto out;
    }
    int cfd = -1;
    if (console && (cfd = connect_unix(console)) < 0) {
        rc = fail("console socket %s: %s", console, strerror(errno));
        rm_state_dir(id);
        goto out;
    }
    /* the container's cgroup, resources applied, before anything runs in it; on a host
     * that will not have one made (rootless), a container that asks for none goes on */
    struct cgroup cg;
    if (cgroup_create(s.cgroups_path, opts.systemd_cgroup, id, &s.res, &cg, &err) < 0 ||
        cgroup_save(&cg, dir, &err) < 0) {
        cgroup_destroy(&cg, NULL);
        if (s.cgroups_path || oci_resources_given(&s.res)) {
            rc = fail("%s", err.msg);
            rm_state_dir(id);
            goto out;
        }
        warn("no cgroup for %s: %s", id, err.msg);
        memset(&cg, 0, sizeof cg);
    }
    /* ready, and with relay_netns_later early and go (struct relay_pipes) */
    bool later = relay_netns_later(&s) && pod.kind != POD_CONTAINER;
    int ready[2], early[2] = { -1, -1 }, go[2] = { -1, -1 };
    if (pipe2(ready, O_CLOEXEC) < 0 ||
        (later && (pipe2(early, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0))) {
        rc = fail("pipe: %s", strerror(errno));
        cgroup_destroy(&cg, NULL);
        rm_state_dir(id);
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        rc = fail("fork: %s", strerror(errno));
        cgroup_destroy(&cg, NULL);
        rm_state_dir(id);
        goto out;
    }
    if (pid == 0) {
        close(ready[0]);
        if (later) {
            close(early[0]);
            close(go[1]);
        }
        struct relay_pipes rp = { .ready_fd = ready[1], .early_fd = early[1], .go_fd = go[0] };
        create_relay(id, &s, rootfs, cfd, ls, &rp, &pod, &cg);
    }
    close(ready[1]);
    if (later) {
        close(early[1]);
        close(go[0]);
    }
    close(ls);
    if (cfd >= 0)
        close(cfd);
    struct proc_stat ps = { 0 };
    proc_stat_read(pid, &ps);
    char created[64];
    oci_now_rfc3339(created, sizeof created);
    struct oci_state st = { .id = (char *)id, .bundle = bdir, .rootfs = rootfs,
                            .created = created, .box = "", .pid = pid,
                            .pid_start = ps.starttime };
    char sp[PATH_MAX + 32];
    snprintf(sp, sizeof sp, "%s/state.json", dir);
    /* runtime.md "Lifecycle" steps 3-5, the box being the runtime environment; with
     * relay_netns_later the first two run before the box boots, in the relay's new
     * network namespace (the state's box is "" until then) */
    static const enum oci_hook_stage create_stages[] = {
        OCI_HOOK_PRESTART, OCI_HOOK_CREATE_RUNTIME, OCI_HOOK_CREATE_CONTAINER
    };
    size_t stage = 0;
    char msg[2048] = "";
    if (later) {
        read_report(early[0], msg, sizeof msg);
        close(early[0]);
        if (!strcmp(msg, "ok")) {
            if (save_state(sp, &st, &err)) {
                rc = fail("%s", err.msg);
                destroy_created(pid, &s, &st, &cg);
                goto out;
            }
            for (; stage < 2; stage++)
                if (host_hooks(&s, create_stages[stage], &st, OCI_CREATING, &err)) {
                    rc = fail("%s", err.msg);
                    destroy_created(pid, &s, &st, &cg);
                    goto out;
                }
            io_write_all(go[1], "go", 2);
        }
        close(go[1]);
    }
    read_report(ready[0], msg, sizeof msg);
    close(ready[0]);
    if (strncmp(msg, "ok ", 3)) {
        int ws = 0;
        waitpid(pid, &ws, 0);
        rc = fail("%s", msg[0] ? msg : "the container's relay process died");
        cgroup_destroy(&cg, NULL);
        rm_state_dir(id);
        if (stage) /* runtime.md: after a create hook, the lifecycle goes on at delete */
            host_hooks(&s, OCI_HOOK_POSTSTOP, &st, OCI_STOPPED, &err);
        goto out;
    }
    st.box = msg + 3;
    if (save_state(sp, &st, &err)) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        cgroup_destroy(&cg, NULL);
        rc = fail("%s", err.msg);
        rm_state_dir(id);
        goto out;
    }
    for (; stage < sizeof create_stages / sizeof create_stages[0]; stage++)
        if (host_hooks(&s, create_stages[stage], &st, OCI_CREATING, &err)) {
            rc = fail("%s", err.msg);
            destroy_created(pid, &s, &st, &cg);
            goto out;
        }
    rc = write_pid_file(pid_file, pid);
    debug("created %s: relay %d, box %s", id, (int)pid, msg + 3);
out:
    oci_spec_free(&s);
    return rc;
}

/* ---- start, state, kill, delete, ps --------------------------------------------------------*/

int cmd_start(int argc, char **argv, int i)
{
    const struct flag fl[] = { FLAG_END };
    if (parse_flags(argc, argv, &i, fl, "start"))
        return 1;
    if (i != argc - 1)
        return fail("start: usage: start CONTAINER-ID");
    struct oci_state st;
    if (load_state(argv[i], &st))
        return 1;
    enum oci_status s = status_of(&st);
    int rc = 0;
    if (s == OCI_RUNNING)
        rc = fail("cannot start an already running container");
    else if (s == OCI_STOPPED)
        rc = fail("cannot start a container that has stopped");
    else if (s == OCI_PAUSED)
        rc = fail("cannot start a paused container");
    char dir[PATH_MAX], p[PATH_MAX + 32];
    state_dir(st.id, dir, sizeof dir);
    snprintf(p, sizeof p, "%s/" RELAY_SOCK, dir);
    int c = rc ? -1 : connect_unix(p);
    if (!rc && c < 0)
        rc = fail("container not running: %s: %s", p, strerror(errno));
    if (!rc) {
        char msg[2048];
        io_write_all(c, "start", 5);
        shutdown(c, SHUT_WR);
        read_report(c, msg, sizeof msg);
        close(c);
        if (strcmp(msg, "ok"))
            rc = fail("%s", msg[0] ? msg : "the container's relay process died");
    }
    /* runtime.md "Lifecycle" step 9: after the process started */
    struct oci_spec spec;
    struct bl_error err = { 0 };
    if (!rc && load_spec(st.bundle, &spec, &err) == 0) {
        host_hooks(&spec, OCI_HOOK_POSTSTART, &st, OCI_RUNNING, &err);
        oci_spec_free(&spec);
    } else if (!rc) {
        warn("poststart hooks: %s", err.msg);
    }
    oci_state_free(&st);
    return rc;
}
