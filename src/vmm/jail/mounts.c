// SPDX-License-Identifier: Apache-2.0
/* What the jail's root holds (jail_int.h): each object the box needs, bound at the path its
 * config names, and nothing else. Binds are taken as detached clones (open_tree, Linux 5.2)
 * before the new root exists, so no host path is looked up again once the root is built;
 * mount points are made walking one component at a time without following symlinks. */
#include "vmm/jail/jail_int.h"

#include "common/cleanup.h"
#include "disk/qcow2.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_BACKING_DEPTH 16

static int add_dir(struct jail_plan *p, const char *path, size_t len, struct bl_error *err);

/* "/a//b/./c/../d" -> "/a/b/d". The kernel resolves the config's path in the jail the same
 * way provided "/a/b/c" exists there as a folder: each folder a ".." leaves is added to the
 * plan's skeleton. */
static char *lexical(struct jail_plan *pl, const char *path, struct bl_error *err)
{
    char *out = malloc(strlen(path) + 2), *o = out;
    if (!out)
        return NULL;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (o > out && add_dir(pl, out, (size_t)(o - out), err) < 0) {
                free(out);
                return NULL;
            }
            while (o > out && *--o != '/')
                ;
        } else if (len && !(len == 1 && p[0] == '.')) {
            *o++ = '/';
            memcpy(o, p, len);
            o += len;
        }
        p += len;
    }
    if (o == out)
        *o++ = '/';
    *o = 0;
    return out;
}

/* A folder of the skeleton (made in the jail, nothing bound there). */
static int add_dir(struct jail_plan *p, const char *path, size_t len, struct bl_error *err)
{
    char **nd = realloc(p->dirs, (p->ndirs + 1) * sizeof *nd);
    if (!nd || !(nd[p->ndirs] = strndup(path, len))) {
        if (nd)
            p->dirs = nd;
        return bl_errno(err, ENOMEM, "jail");
    }
    p->dirs = nd;
    p->ndirs++;
    return 0;
}

static int add(struct jail_plan *p, const char *path, bool rw, bool own, bool system,
               struct bl_error *err)
{
    if (!path || !*path)
        return bl_err(err, BOXLITE_ERR_INVALID, "jail: an empty path");
    /* a relative path is the config's relative to our working directory, which the jail
     * keeps (jail_plan_build) */
    cleanup_free char *abs = NULL;
    if (path[0] != '/') {
        if (asprintf(&abs, "%s/%s", p->cwd, path) < 0)
            return bl_errno(err, ENOMEM, "jail");
        path = abs;
    }
    char *real = realpath(path, NULL);
    if (!real)
        return bl_errno(err, errno, "jail: %s", path);
    struct stat st;
    if (stat(real, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        int e = errno;
        free(real);
        return e ? bl_errno(err, e, "jail: %s", path)
                 : bl_err(err, BOXLITE_ERR_INVALID, "jail: %s is not a file or a folder", path);
    }
    char *lex = lexical(p, path, err);
    if (!lex) {
        free(real);
        return err->code ? -err->code : bl_errno(err, ENOMEM, "jail");
    }
    for (size_t i = 0; i < p->n; i++) {
        if (!strcmp(p->b[i].path, lex)) {
            p->b[i].rw |= rw;
            p->b[i].own |= own;
            free(real);
            free(lex);
            return 0;
        }
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        struct jail_bind *nb = realloc(p->b, cap * sizeof *nb);
        if (!nb) {
            free(real);
            free(lex);
            return bl_errno(err, ENOMEM, "jail");
        }
        p->b = nb;
        p->cap = cap;
    }
    p->b[p->n++] = (struct jail_bind){ .path = lex, .real = real, .dir = S_ISDIR(st.st_mode),
                                       .rw = rw, .own = own, .system = system, .fd = -1 };
    return 0;
}

static int add_link(struct jail_plan *p, const char *path, const char *target,
                    struct bl_error *err)
{
    struct jail_link *nl = realloc(p->links, (p->nlinks + 1) * sizeof *nl);
    if (!nl)
        return bl_errno(err, ENOMEM, "jail");
    p->links = nl;
    nl[p->nlinks] = (struct jail_link){ strdup(path), strdup(target) };
    if (!nl[p->nlinks].path || !nl[p->nlinks].target) {
        free(nl[p->nlinks].path);
        free(nl[p->nlinks].target);
        return bl_errno(err, ENOMEM, "jail");
    }
    p->nlinks++;
    return 0;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* The backing files of a qcow2 image, read from its header the way the disk layer reads
 * them (src/disk/qcow2.c: a relative name is relative to the image's folder). */
static int add_backing(struct jail_plan *p, const char *image, const char *format, int depth,
                       struct bl_error *err)
{
    if (format && strcmp(format, "qcow2") != 0)
        return 0;
    if (depth >= MAX_BACKING_DEPTH)
        return bl_err(err, BOXLITE_ERR_INVALID, "jail: %s: backing chain deeper than %d",
                      image, MAX_BACKING_DEPTH);
    cleanup_close int fd = open(image, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "jail: %s", image);
    uint8_t head[QCOW2_V2_HEADER_LEN];
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "jail: %s", image);
    ssize_t n = pread(fd, head, sizeof head, 0);
    if (n < QCOW2_V2_HEADER_LEN || memcmp(head, QCOW2_MAGIC_BYTES, 4) != 0)
        return 0; /* raw (or not an image the engine will open: it says so itself) */
    struct qcow2_header h;
    if (qcow2_header_read(fd, (uint64_t)st.st_size, &h, err) < 0)
        return bl_err_prefix(err, "jail: %s", image);
    if (!h.backing_file[0])
        return 0;
    cleanup_free char *full = NULL;
    if (h.backing_file[0] == '/') {
        full = strdup(h.backing_file);
    } else {
        cleanup_free char *dir = dir_of(image);
        if (dir && asprintf(&full, "%s/%s", strcmp(dir, "/") ? dir : "", h.backing_file) < 0)
            full = NULL; /* relative to the image's folder, as the disk layer reads it */
    }
    if (!full)
        return bl_errno(err, ENOMEM, "jail");
    if (add(p, full, false, false, false, err) < 0)
        return -err->code;
    return add_backing(p, full, h.backing_format[0] ? h.backing_format : NULL, depth + 1, err);
}

static bool under_any(const char *path, const char *const *dirs)
{
    for (; *dirs; dirs++) {
        size_t n = strlen(*dirs);
        if (!strncmp(path, *dirs, n) && (path[n] == '/' || !path[n]))
            return true;
    }
    return false;
}

/* Adds dir (read-only) when it is a folder the system folders do not already hold. */
static int add_dir_if(struct jail_plan *p, const char *dir, const char *const *system,
                      struct bl_error *err)
{
    struct stat st;
    if (under_any(dir, system) || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    return add(p, dir, false, false, true, err) < 0 ? -err->code : 0;
}

/* A QEMU installed under a prefix of its own (<prefix>/bin/qemu-system-*, the runtime's
 * "qemu" setting) looks for its modules and firmware relative to its binary (QEMU's
 * get_relocated_path): <prefix>/lib[64]/[<multiarch>/]qemu and <prefix>/share/qemu. */
static int add_qemu_prefix(struct jail_plan *p, const char *binary, const char *const *system,
                           struct bl_error *err)
{
    char prefix[PATH_MAX], path[PATH_MAX + 300];
    if (!realpath(binary, prefix))
        return 0; /* the engine says it cannot run it */
    for (int up = 0; up < 2; up++) { /* <prefix>/bin/qemu -> <prefix> */
        char *slash = strrchr(prefix, '/');
        if (!slash)
            return 0;
        *slash = 0;
    }
    static const char *const libs[] = { "lib", "lib64", NULL };
    for (const char *const *l = libs; *l; l++) {
        snprintf(path, sizeof path, "%s/%s/qemu", prefix, *l);
        if (add_dir_if(p, path, system, err) < 0)
            return -err->code;
        snprintf(path, sizeof path, "%s/%s", prefix, *l);
        if (under_any(path, system))
            continue; /* /usr/lib: bound whole already */
        cleanup_closedir DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s/%s/qemu", prefix, *l, e->d_name);
            if (add_dir_if(p, path, system, err) < 0)
                return -err->code;
        }
    }
    snprintf(path, sizeof path, "%s/share/qemu", prefix);
    return add_dir_if(p, path, system, err);
}

/* QEMU's binary, the libraries and modules it loads, its firmware: read-only. Whole library
 * folders rather than a list read from the ELF files, so that modules QEMU loads later
 * (accel-tcg-x86_64.so) are there too. */
static int add_qemu(struct jail_plan *p, const char *binary, struct bl_error *err)
{
    if (add(p, binary, false, false, true, err) < 0)
        return -err->code;
    static const char *const dirs[] = { "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib",
                                        "/usr/share/qemu", "/usr/share/seabios",
                                        "/usr/share/ipxe", NULL };
    static const char *const tops[] = { "/lib", "/lib64", "/lib32", "/libx32", NULL };
    struct stat st;
    for (const char *const *d = dirs; *d; d++)
        if (lstat(*d, &st) == 0 && S_ISDIR(st.st_mode) && add(p, *d, false, false, true, err) < 0)
            return -err->code;
    for (const char *const *t = tops; *t; t++) {
        if (lstat(*t, &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(*t, target, sizeof target - 1);
            if (n <= 0)
                continue;
            target[n] = 0;
            if (add_link(p, *t, target, err) < 0)
                return -err->code;
        } else if (S_ISDIR(st.st_mode) && add(p, *t, false, false, true, err) < 0) {
            return -err->code;
        }
    }
    if (access("/etc/ld.so.cache", R_OK) == 0 &&
        add(p, "/etc/ld.so.cache", false, false, true, err) < 0)
        return -err->code;
    return add_qemu_prefix(p, binary, dirs, err);
}

static size_t depth_of(const char *path)
{
    size_t d = 0;
    for (const char *c = path; *c; c++)
        d += *c == '/';
    return d;
}

static int by_depth(const void *a, const void *b)
{
    const struct jail_bind *x = a, *y = b;
    size_t dx = depth_of(x->path), dy = depth_of(y->path);
    return dx < dy ? -1 : dx > dy ? 1 : strcmp(x->path, y->path);
}

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return !strcmp(dir, "/") || (!strncmp(path, dir, n) && path[n] == '/');
}

int jail_plan_build(struct jail_plan *p, const struct vmm_config *cfg,
                    const struct jail_needs *needs, struct bl_error *err)
{
    memset(p, 0, sizeof *p);
    p->kvm_dev = needs && needs->kvm_dev;
    /* The working directory stays what it is (the library starts us in the box's folder),
     * so relative paths in the config mean the same in the jail. */
    char here[PATH_MAX];
    if (!getcwd(here, sizeof here))
        return bl_errno(err, errno, "jail: getcwd");
    if (!(p->cwd = strdup(here)) || add_dir(p, here, strlen(here), err) < 0)
        return bl_errno(err, ENOMEM, "jail");
    int r = 0;
    /* the box folder(s): where the ready, stats and exit files and the console log go */
    const char *files[] = { cfg->ready_file, cfg->console_log };
    for (size_t i = 0; i < 2 && !r; i++) {
        /* /proc/self/fd/N and /dev/fd/N name a descriptor the VMM holds: in the jail they
         * are its own /proc's */
        if (!files[i] || !strncmp(files[i], "/proc/", 6) || !strncmp(files[i], "/dev/fd/", 8))
            continue;
        cleanup_free char *dir = dir_of(files[i]);
        if (!dir)
            return bl_errno(err, ENOMEM, "jail");
        r = add(p, dir, true, true, false, err);
    }
    if (!r)
        r = add(p, cfg->kernel, false, false, false, err);
    if (!r && cfg->initrd)
        r = add(p, cfg->initrd, false, false, false, err);
    for (unsigned i = 0; i < cfg->ndisks && !r; i++) {
        r = add(p, cfg->disks[i].path, !cfg->disks[i].readonly, !cfg->disks[i].readonly, false,
                err);
        if (!r)
            r = add_backing(p, cfg->disks[i].path, cfg->disks[i].format, 0, err);
    }
    for (unsigned i = 0; i < cfg->nshares && !r; i++)
        r = add(p, cfg->shares[i].path, !cfg->shares[i].readonly, false, false, err);
    /* libslirp forwards the guest's DNS to the host's servers, read from resolv.conf */
    if (!r && cfg->network && access("/etc/resolv.conf", R_OK) == 0)
        r = add(p, "/etc/resolv.conf", false, false, true, err);
    if (!r && needs && needs->qemu_binary)
        r = add_qemu(p, needs->qemu_binary, err);
    if (r)
        return r;
    qsort(p->b, p->n, sizeof *p->b, by_depth);
    /* What an enclosing folder already shows (as writable as needed) needs no bind. */
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        bool covered = false;
        /* A writable file of the box's own keeps a bind of its own even inside its folder:
         * where no idmapped mount is possible it must be given to the VMM's user itself
         * (clone_bind), as a disk copied in by root would not be writable otherwise. */
        bool own_file = p->b[i].own && p->b[i].rw && !p->b[i].dir;
        for (size_t j = 0; j < k && !covered && !own_file; j++)
            covered = p->b[j].dir && under(p->b[i].path, p->b[j].path) &&
                      under(p->b[i].real, p->b[j].real) && (p->b[j].rw || !p->b[i].rw);
        if (covered) {
            free(p->b[i].path);
            free(p->b[i].real);
        } else {
            p->b[k++] = p->b[i];
        }
    }
    p->n = k;
    return 0;
}

void jail_plan_free(struct jail_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->b[i].path);
        free(p->b[i].real);
        if (p->b[i].fd >= 0)
            close(p->b[i].fd);
    }
    free(p->b);
    for (size_t i = 0; i < p->nlinks; i++) {
        free(p->links[i].path);
        free(p->links[i].target);
    }
    free(p->links);
    for (size_t i = 0; i < p->ndirs; i++)
        free(p->dirs[i]);
    free(p->dirs);
    free(p->cwd);
    memset(p, 0, sizeof *p);
}

/* ---- building the root ---------------------------------------------------------------- */

/* An O_PATH descriptor of path below root, made as a folder or an empty file where
 * missing, never through a symlink. */
static int make_target(int root, const char *path, bool dir, struct bl_error *err)
{
    int cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
    char comp[NAME_MAX + 1];
    for (const char *p = path; cur >= 0;) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!len)
            return cur; /* the root itself */
        if (len > NAME_MAX) {
            close(cur);
            return bl_err(err, BOXLITE_ERR_INVALID, "jail: %s: name too long", path);
        }
        memcpy(comp, p, len);
        comp[len] = 0;
        p += len;
        while (*p == '/')
            p++;
        bool last = !*p;
        int next;
        if (!last || dir) {
            if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
                int en = errno;
                close(cur);
                return bl_errno(err, en, "jail: mkdir %s", path);
            }
            next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } else {
            next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (next < 0 && errno == ENOENT) {
                int fd = openat(cur, comp, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                0600);
                if (fd >= 0)
                    close(fd);
                next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            }
        }
        int en = errno;
        close(cur);
        if (next < 0)
            return bl_errno(err, en, "jail: mount point %s", path);
        cur = next;
        if (last)
            return cur;
    }
    return bl_errno(err, errno, "jail: dup");
}

static int setattr_fd(int fd, uint64_t set, int userns)
{
    struct mount_attr a = { .attr_set = set, .userns_fd = userns >= 0 ? (uint64_t)userns : 0 };
    return mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof a);
}

/* A detached clone of b, idmapped when ids asks for it and the filesystem allows. */
static int clone_bind(struct jail_bind *b, const struct jail_ids *ids, struct bl_error *err)
{
    b->fd = open_tree(AT_FDCWD, b->real, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (b->fd < 0)
        return bl_errno(err, errno, "jail: open_tree %s", b->path);
    bool mapped = false;
    if (ids->idmap_fd >= 0 && !b->system) {
        mapped = setattr_fd(b->fd, MOUNT_ATTR_IDMAP, ids->idmap_fd) == 0;
        /* Without idmapped mounts here, the box's own folder, disks and log are given to
         * the VMM's user instead (the library's files, under the box's folder). */
        if (!mapped && b->own && b->rw && lchown(b->real, ids->uid, ids->gid) < 0)
            return bl_errno(err, errno, "jail: chown %s", b->real);
    }
    uint64_t set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b->rw ? 0 : MOUNT_ATTR_RDONLY) |
                   (b->system ? 0 : MOUNT_ATTR_NOEXEC);
    if (setattr_fd(b->fd, set, -1) < 0)
        return bl_errno(err, errno, "jail: mount attributes of %s", b->path);
    return 0;
}

/* /dev: null, zero, random, urandom, and kvm when the engine needs it. Started by root the
 * nodes are made here (kvm owned by the VMM's user: the host's is often root-only);
 * in a user namespace (no mknod there) the host's nodes are bound. */
static int make_dev(int root, const struct jail_plan *p, const struct jail_ids *ids,
                    struct bl_error *err)
{
    cleanup_close int dev = make_target(root, "/dev", true, err);
    if (dev < 0)
        return -err->code;
    /* /dev/fd/N names a descriptor (QEMU's filter-dump and chardev files are given so) */
    static const char *const links[][2] = { { "fd", "/proc/self/fd" },
                                            { "stdin", "/proc/self/fd/0" },
                                            { "stdout", "/proc/self/fd/1" },
                                            { "stderr", "/proc/self/fd/2" } };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (symlinkat(links[i][1], dev, links[i][0]) < 0)
            return bl_errno(err, errno, "jail: /dev/%s", links[i][0]);
    static const char *const names[] = { "null", "zero", "random", "urandom", "kvm" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bool kvm = !strcmp(names[i], "kvm");
        if (kvm && !p->kvm_dev)
            continue;
        char host[32];
        snprintf(host, sizeof host, "/dev/%s", names[i]);
        struct stat st;
        if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode))
            return bl_errno(err, errno ? errno : ENODEV, "jail: %s", host);
        if (ids->as_root) {
            mode_t mode = kvm ? 0600 : 0666;
            if (mknodat(dev, names[i], S_IFCHR | mode, st.st_rdev) < 0 ||
                fchmodat(dev, names[i], mode, 0) < 0 ||
                (kvm && fchownat(dev, names[i], ids->uid, ids->gid, 0) < 0))
                return bl_errno(err, errno, "jail: make /dev/%s", names[i]);
            continue;
        }
        cleanup_close int src = open_tree(AT_FDCWD, host, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (src < 0)
            return bl_errno(err, errno, "jail: bind %s", host);
        cleanup_close int t = make_target(root, host, false, err);
        if (t < 0)
            return -err->code;
        if (move_mount(src, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            return bl_errno(err, errno, "jail: bind %s", host);
    }
    return 0;
}

int jail_root_build(struct jail_plan *p, const char *root, const struct jail_ids *ids,
                    struct bl_error *err)
{
    for (size_t i = 0; i < p->n; i++)
        if (clone_bind(&p->b[i], ids, err) < 0)
            return -err->code;
    /* The root: a small tmpfs of our own, read-only once built. */
    if (mount("boxlite-jail", root, "tmpfs", MS_NOSUID, "mode=0755,size=1m,nr_inodes=4096") < 0)
        return bl_errno(err, errno, "jail: mount a tmpfs at %s", root);
    cleanup_close int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return bl_errno(err, errno, "jail: %s", root);
    for (size_t i = 0; i < p->n; i++) {
        cleanup_close int t = make_target(rfd, p->b[i].path, p->b[i].dir, err);
        if (t < 0)
            return -err->code;
        if (move_mount(p->b[i].fd, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            return bl_errno(err, errno, "jail: mount %s", p->b[i].path);
        close(p->b[i].fd);
        p->b[i].fd = -1;
    }
    for (size_t i = 0; i < p->ndirs; i++) {
        cleanup_close int d = make_target(rfd, p->dirs[i], true, err);
        if (d < 0)
            return -err->code;
    }
    for (size_t i = 0; i < p->nlinks; i++) {
        const char *slash = strrchr(p->links[i].path, '/');
        cleanup_free char *dir = strndup(p->links[i].path, (size_t)(slash - p->links[i].path));
        cleanup_close int d = dir ? make_target(rfd, dir[0] ? dir : "/", true, err) : -1;
        if (d < 0)
            return dir ? -err->code : bl_errno(err, ENOMEM, "jail");
        if (symlinkat(p->links[i].target, d, slash + 1) < 0 && errno != EEXIST)
            return bl_errno(err, errno, "jail: symlink %s", p->links[i].path);
    }
    if (make_dev(rfd, p, ids, err) < 0)
        return -err->code;
    cleanup_close int proc = make_target(rfd, "/proc", true, err);
    if (proc < 0)
        return -err->code;
    if (mount(NULL, root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL) < 0)
        return bl_errno(err, errno, "jail: make the root read-only");
    return 0;
}
