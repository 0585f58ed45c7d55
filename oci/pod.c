// SPDX-License-Identifier: Apache-2.0
/* Kubernetes pods (docs/kubernetes.md): the containers of one pod share one box, as runsc
 * and Kata group them, by the annotations containerd's CRI plugin writes into config.json
 * (io.kubernetes.cri.container-type: "sandbox" or "container"; io.kubernetes.cri.sandbox-id).
 * The sandbox (pause) container boots the box; the pod's folder is POD_GUEST_DIR in its
 * rootfs (empty, 0700), so it reaches the VM with that rootfs's share (9p served as a root
 * file system is: symlinks and modes as they are, which a volume's mapped attributes are
 * not). Each later container of the pod is an execution in that box whose root is its own
 * rootfs: bound into the pod's folder as the box's VMM sees it (inside its jail's mount
 * namespace only: no other box and not the host's namespace sees the bind), then entered
 * by the agent in a mount namespace of its own (guest/agent/podroot.c). A box only ever
 * holds its own pod's folder, so one pod's VM never reaches another pod's rootfs or any
 * other host path. */
#include "runtime.h"

#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ANN_TYPE "io.kubernetes.cri.container-type"
#define ANN_SANDBOX "io.kubernetes.cri.sandbox-id"

#define POD_RECORD "pod" /* in the state folder: "sandbox|container SANDBOX-ID\nDIR" */

static void pod_fill(struct pod *p, enum pod_kind kind, const char *sandbox,
                     const char *sandbox_rootfs, const char *id)
{
    p->kind = kind;
    snprintf(p->sandbox, sizeof p->sandbox, "%s", sandbox);
    snprintf(p->dir, sizeof p->dir, "%s" POD_GUEST_DIR, sandbox_rootfs);
    snprintf(p->guest_root, sizeof p->guest_root, POD_GUEST_DIR "/%s", id);
}

int pod_record(const struct pod *p, const char *id, struct bl_error *err)
{
    if (p->kind == POD_NONE)
        return 0;
    char dir[PATH_MAX], f[PATH_MAX + 16];
    state_dir(id, dir, sizeof dir);
    snprintf(f, sizeof f, "%s/" POD_RECORD, dir);
    char text[PATH_MAX + 300];
    int n = snprintf(text, sizeof text, "%s %s\n%s", p->kind == POD_SANDBOX ? "sandbox" : "container",
                     p->sandbox, p->dir);
    return oci_write_atomic(f, text, (size_t)n, err);
}

enum pod_kind pod_of(const char *id, struct pod *p)
{
    memset(p, 0, sizeof *p);
    char dir[PATH_MAX], f[PATH_MAX + 16], kind[16], sb[256];
    state_dir(id, dir, sizeof dir);
    snprintf(f, sizeof f, "%s/" POD_RECORD, dir);
    cleanup_free char *text = NULL;
    size_t len;
    char *nl;
    if (read_file(f, PATH_MAX + 512, &text, &len) < 0 || !(nl = strchr(text, '\n')) ||
        sscanf(text, "%15s %255s", kind, sb) != 2 || oci_id_valid(sb, NULL))
        return POD_NONE;
    pod_fill(p, !strcmp(kind, "sandbox") ? POD_SANDBOX : POD_CONTAINER, sb, "", id);
    snprintf(p->dir, sizeof p->dir, "%s", nl + 1);
    return p->kind;
}

/* The sandbox's record, quietly (load_state prints): 0, or -1 if there is none. */
static int sandbox_state(const char *sandbox, struct oci_state *st)
{
    char sp[PATH_MAX + 300];
    snprintf(sp, sizeof sp, "%s/%s/state.json", opts.root, sandbox);
    cleanup_free char *text = NULL;
    size_t len;
    struct bl_error err = { 0 };
    return read_file(sp, 1 << 20, &text, &len) < 0 || oci_state_parse(text, len, st, &err) ? -1
                                                                                          : 0;
}

int pod_role(const struct oci_spec *s, const char *id, const char *rootfs, struct pod *p,
             struct bl_error *err)
{
    memset(p, 0, sizeof *p);
    const char *type = oci_spec_annotation(s, ANN_TYPE);
    const char *sb = oci_spec_annotation(s, ANN_SANDBOX);
    if (!type)
        return 0;
    if (!sb || oci_id_valid(sb, err))
        return bl_err(err, BOXLITE_ERR_INVALID, "annotation %s: missing or not a container id",
                      ANN_SANDBOX);
    bool sandbox = !strcmp(type, "sandbox");
    if (!sandbox && strcmp(type, "container"))
        return bl_err(err, BOXLITE_ERR_INVALID, "annotation %s: \"%s\" is neither sandbox nor "
                      "container", ANN_TYPE, type);
    if (sandbox != !strcmp(sb, id))
        return bl_err(err, BOXLITE_ERR_INVALID, "container %s (%s) whose %s is %s", id, type,
                      ANN_SANDBOX, sb);
    if (sandbox) {
        pod_fill(p, POD_SANDBOX, sb, rootfs, id);
        return 0;
    }
    /* the pod's folder is in the sandbox's rootfs */
    struct oci_state st;
    if (sandbox_state(sb, &st) < 0)
        return bl_err(err, BOXLITE_ERR_NOT_FOUND, "the pod's sandbox %s does not exist", sb);
    pod_fill(p, POD_CONTAINER, sb, st.rootfs, id);
    oci_state_free(&st);
    return 0;
}

/* The pod's folder, a child of the sandbox's rootfs (a path the caller gave): never through
 * a symlink, which the image or the running guest may have put there to make the host
 * create or remove folders elsewhere. */
static int pod_dir_open(const char *dir)
{
    return open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int pod_sandbox_prepare(const char *rootfs, struct bl_error *err)
{
    if (relay_mkdir_in_root(rootfs, POD_GUEST_DIR, err) < 0)
        return -1;
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s" POD_GUEST_DIR, rootfs);
    cleanup_close int fd = pod_dir_open(dir);
    return fd < 0 || fchmod(fd, 0700) < 0 ? bl_errno(err, errno, "pod folder %s", dir) : 0;
}

/* The pid of the box's per-box process (jailed, in the VMM's mount namespace). */
static pid_t box_pid(boxlite_box *box)
{
    char *js = NULL;
    if (boxlite_box_info(box, &js) != BOXLITE_OK)
        return -1;
    json_t *o = json_loads(js, 0, NULL);
    boxlite_free(js);
    json_int_t pid = o ? json_integer_value(json_object_get(o, "pid")) : 0;
    json_decref(o);
    return pid > 0 ? (pid_t)pid : -1;
}

static char idmap_stack[16384] __attribute__((aligned(64)));
static int idmap_child(void *arg)
{
    const int *sync = arg; /* waits for the end of the pipe: its maps are written by then */
    char c;
    close(sync[1]);
    return (int)read(sync[0], &c, 1);
}

static int write_map(pid_t pid, const char *file, unsigned id)
{
    char p[64], map[32];
    snprintf(p, sizeof p, "/proc/%d/%s", (int)pid, file);
    int n = snprintf(map, sizeof map, "0 %u 1\n", id);
    cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC);
    return fd >= 0 && write(fd, map, (size_t)n) == n ? 0 : -1;
}

/* A user namespace in which 0 is host uid/gid (the jail maps the box's own files so: its
 * VMM's user owns them): the idmap of the rootfs's bind, as the pod's folder has it. The
 * child that holds it is reaped here. */
static int idmap_ns(uid_t uid, gid_t gid)
{
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = clone(idmap_child, idmap_stack + sizeof idmap_stack, CLONE_NEWUSER | SIGCHLD, sync);
    int fd = -1;
    if (pid > 0 && write_map(pid, "uid_map", uid) == 0 && write_map(pid, "gid_map", gid) == 0) {
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/ns/user", (int)pid);
        fd = open(p, O_RDONLY | O_CLOEXEC);
    }
    close(sync[0]);
    close(sync[1]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return fd;
}

/* The owner of the box's per-box process (the jail's user). */
static int proc_owner(pid_t pid, uid_t *uid, gid_t *gid)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d", (int)pid);
    struct stat st;
    if (stat(p, &st) < 0)
        return -1;
    *uid = st.st_uid;
    *gid = st.st_gid;
    return 0;
}

/* One of the container's own mounts (a spec mount bound on the host), ready to attach. */
struct pod_bind {
    int tree;         /* open_tree clone, idmapped and read-only as asked */
    const char *dest; /* where in the container's root */
};

/* In a child (setns wants one thread): into the box's mount namespace, then bind (tree >= 0)
 * or unbind (tree < 0) <pod folder>/<id> there, the folder found from the VMM's root, and
 * the container's own binds on that root. */
static int in_box_ns(pid_t vmm, const struct pod *p, const char *id, int tree,
                     const struct pod_bind *b, size_t nb, struct bl_error *err)
{
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "/proc/%d/root", (int)vmm);
    cleanup_close int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)vmm);
    cleanup_close int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (root < 0 || ns < 0)
        return bl_errno(err, errno, "the box's mount namespace (process %d)", (int)vmm);
    int rep[2];
    if (pipe2(rep, O_CLOEXEC) < 0)
        return bl_errno(err, errno, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(rep[0]);
        if (setns(ns, CLONE_NEWNS) < 0) {
            report(rep[1], "setns: %s", strerror(errno));
            _exit(1);
        }
        /* the folder as the VMM sees it (its jail binds it at the host's path), no link */
        snprintf(path, sizeof path, "%s/%s", p->dir + 1, id);
        struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS };
        int t = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
        if (t < 0) {
            report(rep[1], "/%s in the box's jail: %s", path, strerror(errno));
            _exit(1);
        }
        if (tree >= 0 &&
            move_mount(tree, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
            report(rep[1], "move_mount to /%s: %s", path, strerror(errno));
            _exit(1);
        }
        /* tree is the container's root now: each mount point resolved in it as the guest
         * would (a link in the image stays inside), as runc resolves its mounts */
        for (size_t i = 0; i < nb; i++) {
            struct open_how in = { .flags = O_PATH | O_CLOEXEC,
                                   .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
            cleanup_close int at = (int)syscall(SYS_openat2, tree, b[i].dest, &in, sizeof in);
            if (at < 0 || move_mount(b[i].tree, "", at, "",
                                     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
                report(rep[1], "mount %s: %s", b[i].dest, strerror(errno));
                _exit(1);
            }
        }
        char at[64];
        snprintf(at, sizeof at, "/proc/self/fd/%d", t);
        if (tree < 0 && umount2(at, MNT_DETACH) < 0 && errno != EINVAL) {
            report(rep[1], "unmount /%s: %s", path, strerror(errno));
            _exit(1);
        }
        report(rep[1], "ok");
        _exit(0);
    }
    close(rep[1]);
    char msg[512];
    read_report(rep[0], msg, sizeof msg);
    close(rep[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    if (pid < 0 || strcmp(msg, "ok"))
        return bl_err(err, BOXLITE_ERR_IO, "%s", pid < 0 ? strerror(errno) : msg[0] ? msg : "died");
    return 0;
}

/* The sandbox's box, running: a handle of rt's. */
static int sandbox_box(boxlite_runtime *rt, const struct pod *p, boxlite_box **box,
                       struct bl_error *err)
{
    struct oci_state st;
    if (sandbox_state(p->sandbox, &st) < 0)
        return bl_err(err, BOXLITE_ERR_NOT_FOUND, "the pod's sandbox %s does not exist",
                      p->sandbox);
    enum oci_status s = status_of(&st);
    int r = s == OCI_STOPPED ? bl_err(err, BOXLITE_ERR_STATE, "the pod's sandbox %s has stopped",
                                      p->sandbox)
                             : 0;
    if (!r && boxlite_box_get(rt, st.box, box) != BOXLITE_OK)
        r = bl_err(err, BOXLITE_ERR_NOT_FOUND, "the pod's box: %s", boxlite_errmsg());
    oci_state_free(&st);
    return r;
}

/* A clone of the tree at path, as the box's VMM user owns it (uid != 0: an idmap through
 * userns) and read-only if asked: what is attached in the box's namespace. */
static int bind_tree(const char *path, bool recursive_ro, bool top_ro, int userns,
                     struct bl_error *err)
{
    int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0)
        return bl_errno(err, errno, "open_tree %s", path);
    struct mount_attr idmap = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
    struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
    if (userns >= 0 &&
        mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &idmap, sizeof idmap) < 0) {
        close(tree);
        return bl_errno(err, errno, "idmap the bind of %s for the box's user", path);
    }
    unsigned flags = AT_EMPTY_PATH | (recursive_ro ? AT_RECURSIVE : 0);
    if ((recursive_ro || top_ro) && mount_setattr(tree, "", flags, &ro, sizeof ro) < 0) {
        close(tree);
        return bl_errno(err, errno, "read-only bind of %s", path);
    }
    return tree;
}

int pod_join(boxlite_runtime *rt, const struct pod *p, const char *id, const char *rootfs,
             const struct oci_spec *s, boxlite_box **out, struct bl_error *err)
{
    boxlite_box *box = NULL;
    if (sandbox_box(rt, p, &box, err) < 0)
        return -1;
    pid_t vmm = box_pid(box);
    uid_t uid;
    gid_t gid;
    if (vmm <= 0 || proc_owner(vmm, &uid, &gid) < 0) {
        boxlite_box_free(box);
        return bl_err(err, BOXLITE_ERR_STATE, "the pod's box has no running VM");
    }
    char mp[PATH_MAX + 300];
    snprintf(mp, sizeof mp, "%s/%s", p->dir, id);
    /* the box's files are its VMM user's in the jail (an idmapped bind); so are these */
    cleanup_close int userns = uid ? idmap_ns(uid, gid) : -1;
    int r = uid && userns < 0 ? bl_errno(err, errno, "a user namespace for the box's user %u",
                                         (unsigned)uid)
                              : 0;
    struct pod_bind *b = calloc(s->nmounts + 1, sizeof *b);
    size_t nb = 0;
    if (!b)
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    /* the container's own mounts: hostPath and emptyDir folders, CRI's /etc/hosts,
     * resolv.conf and hostname files; mount points made in the rootfs first, as runc does */
    for (size_t i = 0; !r && i < s->nmounts; i++) {
        const struct oci_mount *m = &s->mounts[i];
        int kind = relay_mount_kind(m);
        if (!kind)
            continue;
        if (relay_mountpoint_in_root(rootfs, m->destination, kind == S_IFREG, err) < 0)
            r = -1;
        else if ((b[nb].tree = bind_tree(m->source, m->readonly, false, userns, err)) < 0)
            r = -1;
        else
            b[nb++].dest = m->destination;
    }
    if (!r && relay_tmpfs_mountpoints(rootfs, s, err) < 0)
        r = -1;
    cleanup_close int tree = -1;
    if (!r && (tree = bind_tree(rootfs, false, s->root_readonly, userns, err)) < 0)
        r = -1;
    cleanup_close int dfd = pod_dir_open(p->dir);
    if (!r && (dfd < 0 || (mkdirat(dfd, id, 0700) < 0 && errno != EEXIST)))
        r = bl_errno(err, errno, "mkdir %s", mp);
    if (!r)
        r = in_box_ns(vmm, p, id, tree, b, nb, err);
    for (size_t i = 0; i < nb; i++)
        close(b[i].tree);
    free(b);
    if (r) {
        if (dfd >= 0)
            unlinkat(dfd, id, AT_REMOVEDIR);
        boxlite_box_free(box);
        return bl_err_prefix(err, "join pod %s", p->sandbox);
    }
    *out = box;
    return 0;
}

void pod_leave(const struct pod *p, const char *id)
{
    boxlite_runtime *rt = NULL;
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s/home", opts.root);
    if (boxlite_runtime_open(home, &rt) == BOXLITE_OK) {
        boxlite_box *box = NULL;
        struct bl_error err = { 0 };
        pid_t vmm = -1;
        if (sandbox_box(rt, p, &box, &err) == 0 && (vmm = box_pid(box)) > 0 &&
            in_box_ns(vmm, p, id, -1, NULL, 0, &err) < 0)
            warn("pod %s: %s", p->sandbox, err.msg);
        if (box)
            boxlite_box_free(box);
        boxlite_runtime_close(rt);
    }
    cleanup_close int dfd = pod_dir_open(p->dir);
    if (dfd >= 0)
        unlinkat(dfd, id, AT_REMOVEDIR);
}

void pod_sandbox_gone(const struct pod *p)
{
    /* the box and its namespace are gone: only empty mount points can be left */
    int fd = pod_dir_open(p->dir);
    cleanup_closedir DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (fd >= 0 && !d)
        close(fd);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
    rmdir(p->dir);
}
