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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int pod_join(boxlite_runtime *rt, const struct pod *p, const char *id, const char *rootfs,
             const struct oci_spec *s, boxlite_box **out, struct bl_error *err)
{
    boxlite_box *box = NULL;
    if (sandbox_box(rt, p, &box, err) < 0)
        return -1;
    char mp[PATH_MAX + 300];
    snprintf(mp, sizeof mp, "%s/%s", p->dir, id);
    /* the container's root and its own mounts: hostPath and emptyDir folders, CRI's
     * /etc/hosts, resolv.conf and hostname files; its tmpfs mounts' folders (the guest
     * cannot make them under a read-only root) */
    cleanup_close int dfd = pod_dir_open(p->dir);
    int r = 0;
    if (dfd < 0 || (mkdirat(dfd, id, 0700) < 0 && errno != EEXIST))
        r = bl_errno(err, errno, "mkdir %s", mp);
    if (!r && relay_tmpfs_mountpoints(rootfs, s, err) < 0)
        r = -1;
    if (!r)
        r = boxns_bind(box, mp, rootfs, s, BOXNS_ROOT | BOXNS_DIRS | BOXNS_FILES, err);
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
    char home[PATH_MAX], mp[PATH_MAX + 300];
    snprintf(home, sizeof home, "%s/home", opts.root);
    snprintf(mp, sizeof mp, "%s/%s", p->dir, id);
    if (boxlite_runtime_open(home, &rt) == BOXLITE_OK) {
        boxlite_box *box = NULL;
        struct bl_error err = { 0 };
        if (sandbox_box(rt, p, &box, &err) == 0 && boxns_unbind(box, mp, &err) < 0)
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
