// SPDX-License-Identifier: Apache-2.0
/* The container: the image's rootfs (a virtio-blk ext4 disk in the guest, a directory in
 * tests) with the box's volumes mounted in it, and a process that is PID 1 of a new PID
 * namespace and lives in new mount, UTS and IPC namespaces rooted there. Executions enter
 * those namespaces (the agent's children are born in the PID namespace). */
#include "agent.h"

#include "common/cleanup.h"
#include "common/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GUEST_ROOT "/mnt/rootfs"

/* 9p mounts (volumes, a shared rootfs): cache=mmap so that writes reach the host at once */
const char P9_OPTS[] = "trans=virtio,version=9p2000.L,msize=262144,cache=mmap";

int mkdir_beneath(int dirfd, const char *rel, struct bl_error *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", rel) >= (int)sizeof buf)
        return bl_err(err, BOXLITE_ERR_INVALID, "path too long");
    int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    char *save = NULL;
    for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".") || !strcmp(c, "..")) {
            close(cur);
            return bl_err(err, BOXLITE_ERR_INVALID, "path %s has a . or .. component", rel);
        }
        if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            close(cur);
            return bl_errno(err, e, "mkdir %s", c);
        }
        int next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        if (next < 0)
            return bl_errno(err, e, "open %s in %s", c, rel);
        cur = next;
    }
    return cur;
}

#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif

/* The fields of an ext4 superblock (1024 bytes at offset 1024) that a resize needs. */
static int ext4_blocks(int devfd, uint64_t *blocks, uint32_t *block_size, bool *is64, struct bl_error *err)
{
    uint8_t sb[1024];
    if (pread(devfd, sb, sizeof sb, 1024) != (ssize_t)sizeof sb)
        return bl_errno(err, errno ? errno : EIO, "read the superblock");
    if (get_le16(sb + 0x38) != 0xef53)
        return bl_err(err, BOXLITE_ERR_INVALID, "not an ext2/3/4 filesystem");
    uint32_t log = get_le32(sb + 24);
    if (log > 6)
        return bl_err(err, BOXLITE_ERR_INVALID, "block size 1024 << %u", log);
    *block_size = 1024u << log;
    *is64 = get_le32(sb + 0x60) & 0x80; /* INCOMPAT_64BIT */
    *blocks = get_le32(sb + 4) | (*is64 ? (uint64_t)get_le32(sb + 0x150) << 32 : 0);
    return 0;
}

int disk_grow(const char *dir, const char *dev, uint64_t *old_blocks, uint64_t *new_blocks,
              struct bl_error *err)
{
    cleanup_close int devfd = open(dev, O_RDONLY | O_CLOEXEC);
    if (devfd < 0)
        return bl_errno(err, errno, "open %s", dev);
    uint64_t bytes = 0;
    if (ioctl(devfd, BLKGETSIZE64, &bytes) < 0)
        return bl_errno(err, errno, "size of %s", dev);
    uint64_t blocks;
    uint32_t bs;
    bool is64;
    if (ext4_blocks(devfd, &blocks, &bs, &is64, err) < 0)
        return bl_err_prefix(err, "%s", dev);
    uint64_t want = bytes / bs;
    if (!is64 && want > UINT32_MAX)
        want = UINT32_MAX; /* the most a filesystem without the 64bit feature can address */
    if (old_blocks)
        *old_blocks = blocks;
    if (new_blocks)
        *new_blocks = blocks;
    if (want <= blocks)
        return 0;
    cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return bl_errno(err, errno, "open %s", dir);
    if (ioctl(dirfd, EXT4_IOC_RESIZE_FS, &want) < 0)
        return bl_errno(err, errno, "grow %s from %llu to %llu blocks of %u bytes", dev,
                        (unsigned long long)blocks, (unsigned long long)want, bs);
    if (new_blocks)
        *new_blocks = want;
    return 0;
}

int disk_by_serial(const char *sys_block, const char *serial, char *dev, size_t n, struct bl_error *err)
{
    cleanup_closedir DIR *d = opendir(sys_block);
    if (!d)
        return bl_errno(err, errno, "open %s", sys_block);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p[512], val[128] = "";
        snprintf(p, sizeof p, "%s/%s/serial", sys_block, de->d_name);
        cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t got = read(fd, val, sizeof val - 1);
        val[got > 0 ? got : 0] = 0;
        val[strcspn(val, "\n")] = 0;
        if (strcmp(val, serial) != 0)
            continue;
        if (snprintf(dev, n, "/dev/%s", de->d_name) >= (int)n)
            return bl_err(err, BOXLITE_ERR_INVALID, "device name %s too long", de->d_name);
        return 0;
    }
    return bl_err(err, BOXLITE_ERR_NOT_FOUND, "no disk with serial %s", serial);
}

/* Grows a read-write ext4 disk just mounted; a failure leaves the box usable, so it is logged. */
static void grow_logged(const char *dir, const char *dev, const char *fstype)
{
    if (strcmp(fstype, "ext4") != 0)
        return;
    struct bl_error e = {0};
    uint64_t from, to;
    uint64_t t0 = mono_ns();
    if (disk_grow(dir, dev, &from, &to, &e) < 0) {
        agent_log("%s", e.msg);
        return;
    }
    uint64_t t1 = mono_ns();
    if (to != from)
        agent_log("grew %s from %llu to %llu blocks in %.0f ms", dev, (unsigned long long)from,
                  (unsigned long long)to,
                  (double)(t1 - t0) / 1e6);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The regular files in the rootfs's /dev, each an open_tree clone (a pod's container: what
 * the host bound there, the kubelet's /dev/termination-log, runc's mounts after its /dev):
 * at most DEV_CARRY_MAX; the image's own /dev (device nodes) is hidden as under runc. */
#define DEV_CARRY_MAX 16
struct dev_carry {
    int tree[DEV_CARRY_MAX];
    char name[DEV_CARRY_MAX][256];
    size_t n;
};

static void dev_carry_take(struct dev_carry *k)
{
    k->n = 0;
    cleanup_closedir DIR *d = opendir("dev");
    struct dirent *de;
    while (d && k->n < DEV_CARRY_MAX && (de = readdir(d))) {
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            strlen(de->d_name) >= sizeof k->name[0])
            continue;
        int t = (int)syscall(SYS_open_tree, dirfd(d), de->d_name,
                             OPEN_TREE_CLONE | O_CLOEXEC | AT_SYMLINK_NOFOLLOW);
        if (t < 0)
            continue;
        k->tree[k->n] = t;
        snprintf(k->name[k->n++], sizeof k->name[0], "%s", de->d_name);
    }
}

/* Each carried file onto an empty file of the same name in the new /dev (never over a
 * device node or link made here). */
static int dev_carry_put(struct dev_carry *k, struct bl_error *err)
{
    int r = 0;
    for (size_t i = 0; i < k->n; i++) {
        char p[300];
        snprintf(p, sizeof p, "dev/%s", k->name[i]);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
        if (!r && fd >= 0 &&
            syscall(SYS_move_mount, k->tree[i], "", AT_FDCWD, p, MOVE_MOUNT_F_EMPTY_PATH) < 0)
            r = bl_errno(err, errno, "bind /%s", p);
        close(k->tree[i]);
    }
    k->n = 0;
    return r;
}

static int mount_dev(int shm_tree, bool carry, struct bl_error *err)
{
    struct dev_carry kept = { .n = 0 };
    if (carry)
        dev_carry_take(&kept);
    if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") < 0) {
        for (size_t i = 0; i < kept.n; i++)
            close(kept.tree[i]);
        return bl_errno(err, errno, "mount tmpfs on /dev");
    }
    static const struct { const char *name; unsigned maj, min; } nodes[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
        {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
    };
    char p[64];
    for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
        snprintf(p, sizeof p, "dev/%s", nodes[i].name);
        if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0)
            return bl_errno(err, errno, "mknod /%s", p);
        chmod(p, 0666);
    }
    if (mkdir("dev/pts", 0755) < 0 || mkdir("dev/shm", 01777) < 0)
        return bl_errno(err, errno, "mkdir in /dev");
    if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0)
        return bl_errno(err, errno, "mount devpts");
    /* a pod's: the sandbox's /dev/shm, shared by the pod's containers as runc's share the
     * sandbox's IPC namespace and its /dev/shm */
    if (shm_tree >= 0 ? syscall(SYS_move_mount, shm_tree, "", AT_FDCWD, "dev/shm",
                                MOVE_MOUNT_F_EMPTY_PATH) < 0
                      : mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
                              "mode=1777,size=65536k") < 0)
        return bl_errno(err, errno, "mount /dev/shm");
    /* POSIX message queues where runc's default spec puts them (not fatal: a kernel may
     * lack CONFIG_POSIX_MQUEUE, and tests on a host may refuse it) */
    if (mkdir("dev/mqueue", 0755) == 0)
        mount("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    if (symlink("pts/ptmx", "dev/ptmx") < 0 || symlink("/proc/self/fd", "dev/fd") < 0 ||
        symlink("/proc/self/fd/0", "dev/stdin") < 0 || symlink("/proc/self/fd/1", "dev/stdout") < 0 ||
        symlink("/proc/self/fd/2", "dev/stderr") < 0)
        return bl_errno(err, errno, "symlinks in /dev");
    return dev_carry_put(&kept, err);
}

int container_pivot_here(int shm_tree, bool carry_dev, struct bl_error *err)
{
    mkdir("proc", 0555);
    mkdir("dev", 0755);
    mkdir("sys", 0555);
    mkdir("tmp", 01777);
    mkdir("etc", 0755);
    if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return bl_errno(err, errno, "mount /proc");
    int rc = mount_dev(shm_tree, carry_dev, err);
    if (rc < 0)
        return rc;
    /* after /dev, in the order of runc's default spec (runtime-tools checks the order) */
    if (mount("sysfs", "sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0) {
        /* not fatal: tests on a host may refuse it */
    }
    /* The agent's own root is a tmpfs over the initramfs (main.c), so this works in the
     * guest too: the old root is detached and nothing of the agent stays reachable. */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return bl_errno(err, errno, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        return bl_errno(err, errno, "detach the old root");
    if (chdir("/") < 0)
        return bl_errno(err, errno, "chdir /");
    return 0;
}

/* Runs in the child that becomes the container's PID 1, cwd = the new root. */
static int container_init_setup(const struct proto_setup *s, const char *root, struct bl_error *err)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) < 0)
        return bl_errno(err, errno, "unshare");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return bl_errno(err, errno, "make / private");
    if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
        return bl_errno(err, errno, "bind %s", root);
    if (chdir(root) < 0)
        return bl_errno(err, errno, "chdir %s", root);
    if (container_pivot_here(-1, false, err) < 0)
        return -1;
    const char *host = s->hostname && s->hostname[0] ? s->hostname : "boxlite";
    sethostname(host, strlen(host));
    /* The network files come from the box's config; an image's own are replaced. */
    char text[512];
    const char *dns = s->net_dns && s->net_dns[0] ? s->net_dns : "10.0.2.3";
    snprintf(text, sizeof text, "nameserver %s\n", dns);
    unlink("/etc/resolv.conf");
    write_file("/etc/resolv.conf", text);
    snprintf(text, sizeof text,
             "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n",
             host);
    unlink("/etc/hosts");
    write_file("/etc/hosts", text);
    /* --read-only: the root (this bind mount) only, once the files above are written;
     * /proc, /dev, volumes and disks are mounts of their own and keep their modes */
    if (s->root_ro && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        return bl_errno(err, errno, "remount the root read-only");
    return 0;
}

static __attribute__((noreturn)) void container_init_loop(void)
{
    /* PID 1 of the container: reap whatever is orphaned to us. */
    for (;;)
        if (waitpid(-1, NULL, 0) < 0)
            sleep(1);
}

int container_create(struct container *c, const struct proto_setup *s, struct bl_error *err)
{
    const char *root = s->root_dir;
    if (s->root_dev) {
        root = GUEST_ROOT;
        mkdir("/mnt", 0755);
        mkdir(root, 0755);
        const char *fstype = s->root_fstype && s->root_fstype[0] ? s->root_fstype : "ext4";
        /* A 9p root is a host folder shared by tag (an OCI bundle's rootfs): mounted as
         * volumes are, so the host sees writes at once. */
        bool p9 = !strcmp(fstype, "9p");
        if (mount(s->root_dev, root, fstype, 0,
                  p9 ? P9_OPTS : NULL) < 0)
            return bl_errno(err, errno, "mount %s (%s) on %s", s->root_dev, fstype, root);
        grow_logged(root, s->root_dev, fstype);
    }
    if (!root || root[0] != '/' || strlen(root) >= sizeof c->root)
        return bl_err(err, BOXLITE_ERR_INVALID, "no usable rootfs");
    cleanup_close int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return bl_errno(err, errno, "open rootfs %s", root);
    /* Disks first, so that a volume may lie inside one. */
    for (unsigned i = 0; i < s->ndisks; i++) {
        const struct proto_disk *d = &s->disks[i];
        const char *fstype = d->fstype && d->fstype[0] ? d->fstype : "ext4";
        char dev[300];
        snprintf(dev, sizeof dev, "%s", d->dev);
        if (!strncmp(d->dev, "serial:", 7) &&
            disk_by_serial("/sys/block", d->dev + 7, dev, sizeof dev, err) < 0)
            return -1;
        cleanup_close int dfd = mkdir_beneath(rootfd, d->path, err);
        if (dfd < 0)
            return bl_err_prefix(err, "disk %s", d->dev);
        char target[64];
        snprintf(target, sizeof target, "/proc/self/fd/%d", dfd);
        if (mount(dev, target, fstype, d->readonly ? MS_RDONLY : 0, NULL) < 0)
            return bl_errno(err, errno, "mount disk %s (%s) on %s", dev, fstype, d->path);
        if (!d->readonly)
            grow_logged(target, dev, fstype);
    }
    for (unsigned i = 0; i < s->nvols; i++) {
        const struct proto_volume *v = &s->vols[i];
        cleanup_close int dfd = mkdir_beneath(rootfd, v->path, err);
        if (dfd < 0)
            return bl_err_prefix(err, "volume %s", v->tag);
        char target[64];
        snprintf(target, sizeof target, "/proc/self/fd/%d", dfd);
        if (mount(v->tag, target, "9p", v->readonly ? MS_RDONLY : 0,
                  P9_OPTS) < 0)
            return bl_errno(err, errno, "mount volume %s on %s", v->tag, v->path);
    }
    if (volumes_remember(c, s->vols, s->nvols) < 0)
        return bl_err(err, BOXLITE_ERR_NOMEM, "volumes: out of memory");
    cleanup_close int self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (self_pidns < 0)
        return bl_errno(err, errno, "open /proc/self/ns/pid");
    if (unshare(CLONE_NEWPID) < 0)
        return bl_errno(err, errno, "new PID namespace");
    int rep[2];
    if (pipe2(rep, O_CLOEXEC) < 0) {
        setns(self_pidns, CLONE_NEWPID);
        return bl_errno(err, errno, "pipe");
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(rep[0]);
        close(rep[1]);
        setns(self_pidns, CLONE_NEWPID);
        return bl_errno(err, e, "fork the container's init");
    }
    if (pid == 0) {
        struct bl_error e = {0};
        /* Without its init the container's PID namespace is dead (no process can enter
         * it): the OOM killer must take every workload process first. */
        oom_adj_self(OOM_ADJ_CONTAINER_INIT);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int fd = 3; fd < 1024; fd++)
            if (fd != rep[1])
                close(fd);
        if (container_init_setup(s, root, &e) < 0) {
            if (write(rep[1], e.msg, strlen(e.msg)) < 0) {
            }
            _exit(1);
        }
        if (write(rep[1], "", 1) < 0)
            _exit(1);
        close(rep[1]);
        container_init_loop();
    }
    close(rep[1]);
    char msg[1024];
    ssize_t n, got = 0;
    while ((n = read(rep[0], msg + got, sizeof msg - 1 - (size_t)got)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            got += n;
    close(rep[0]);
    if (got != 1 || msg[0] != 0) {
        msg[got > 0 ? got : 0] = 0;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        setns(self_pidns, CLONE_NEWPID);
        return bl_err(err, BOXLITE_ERR_IO, "container: %s", got ? msg : "init died");
    }
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/ns/mnt", (int)pid);
    c->mnt_fd = open(p, O_RDONLY | O_CLOEXEC);
    snprintf(p, sizeof p, "/proc/%d/ns/uts", (int)pid);
    c->uts_fd = open(p, O_RDONLY | O_CLOEXEC);
    snprintf(p, sizeof p, "/proc/%d/ns/ipc", (int)pid);
    c->ipc_fd = open(p, O_RDONLY | O_CLOEXEC);
    c->init_pid = pid;
    if (c->mnt_fd < 0 || c->uts_fd < 0 || c->ipc_fd < 0) {
        int e = errno;
        container_destroy(c);
        setns(self_pidns, CLONE_NEWPID);
        return bl_errno(err, e, "open the container's namespaces");
    }
    snprintf(c->root, sizeof c->root, "%s", root);
    snprintf(c->hostname, sizeof c->hostname, "%s",
             s->hostname && s->hostname[0] ? s->hostname : "boxlite");
    c->ready = true;
    return 0;
}

int helper_reap(pid_t pid, int fd, char *msg, size_t len)
{
    ssize_t n = read(fd, msg, len - 1);
    close(fd);
    msg[n > 0 ? n : 0] = 0;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int container_enter(const struct container *c, struct bl_error *err)
{
    if (setns(c->mnt_fd, CLONE_NEWNS) < 0)
        return bl_errno(err, errno, "enter the container's mount namespace");
    if (setns(c->uts_fd, CLONE_NEWUTS) < 0 || setns(c->ipc_fd, CLONE_NEWIPC) < 0)
        return bl_errno(err, errno, "enter the container's namespaces");
    if (chdir("/") < 0)
        return bl_errno(err, errno, "chdir /");
    return 0;
}

void container_destroy(struct container *c)
{
    if (c->init_pid > 0) {
        kill(c->init_pid, SIGKILL); /* takes every process of the namespace with it */
        /* The namespace's init is only gone once every process of the namespace is reaped,
         * and the ones the agent started there are the agent's children: reap whatever
         * ends until the init does, or both would wait for each other forever. */
        pid_t p;
        while ((p = waitpid(-1, NULL, 0)) > 0 && p != c->init_pid) {
        }
        c->init_pid = -1;
    }
    int *fds[] = {&c->mnt_fd, &c->uts_fd, &c->ipc_fd};
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    c->ready = false;
}

/* ---- users: /etc/passwd and /etc/group of the current root -------------------------- */

static bool parse_id(const char *s, unsigned *out)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > 0x7fffffff)
        return false;
    *out = (unsigned)v;
    return true;
}

/* Splits a line into at most n colon-separated fields. */
static int split_colon(char *line, char **f, int n)
{
    int i = 0;
    f[i++] = line;
    for (char *p = line; *p && i < n; p++)
        if (*p == ':') {
            *p = 0;
            f[i++] = p + 1;
        }
    char *nl = strchr(f[i - 1], '\n');
    if (nl)
        *nl = 0;
    return i;
}

int user_resolve(const char *spec, struct user_info *u, struct bl_error *err)
{
    memset(u, 0, sizeof *u);
    snprintf(u->home, sizeof u->home, "/");
    if (!spec || !*spec)
        spec = "0";
    char user[256], group[256] = "";
    const char *colon = strchr(spec, ':');
    if (colon) {
        snprintf(user, sizeof user, "%.*s", (int)(colon - spec), spec);
        snprintf(group, sizeof group, "%s", colon + 1);
    } else {
        snprintf(user, sizeof user, "%s", spec);
    }
    unsigned id;
    bool numeric = parse_id(user, &id);
    bool found = false;
    cleanup_fclose FILE *pw = fopen("/etc/passwd", "re");
    char line[1024];
    while (pw && fgets(line, sizeof line, pw)) {
        char *f[7];
        unsigned uid, gid;
        if (split_colon(line, f, 7) < 7 || !parse_id(f[2], &uid) || !parse_id(f[3], &gid))
            continue;
        if (numeric ? uid != id : strcmp(f[0], user) != 0)
            continue;
        u->uid = uid;
        u->gid = gid;
        snprintf(u->name, sizeof u->name, "%s", f[0]);
        snprintf(u->home, sizeof u->home, "%s", f[5][0] ? f[5] : "/");
        snprintf(u->shell, sizeof u->shell, "%s", f[6]);
        found = true;
        break;
    }
    if (!found) {
        if (!numeric)
            return bl_err(err, BOXLITE_ERR_NOT_FOUND, "user %s: not in /etc/passwd", user);
        u->uid = id;
        u->gid = 0;
    }
    bool gnumeric = group[0] && parse_id(group, &id);
    bool gfound = !group[0] || gnumeric;
    if (gnumeric)
        u->gid = id;
    cleanup_fclose FILE *gr = fopen("/etc/group", "re");
    while (gr && fgets(line, sizeof line, gr)) {
        char *f[4];
        unsigned gid;
        if (split_colon(line, f, 4) < 4 || !parse_id(f[2], &gid))
            continue;
        if (group[0] && !gnumeric && !strcmp(f[0], group)) {
            u->gid = gid;
            gfound = true;
        }
        /* supplementary groups: where the user is listed by name */
        if (!u->name[0] || u->ngroups >= (int)ARRAY_SIZE(u->groups) - 1)
            continue;
        char *save = NULL;
        for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
            if (!strcmp(m, u->name))
                u->groups[u->ngroups++] = gid;
    }
    if (!gfound)
        return bl_err(err, BOXLITE_ERR_NOT_FOUND, "group %s: not in /etc/group", group);
    /* the primary group first, as login does */
    bool have = false;
    for (int i = 0; i < u->ngroups; i++)
        have |= u->groups[i] == u->gid;
    if (!have && u->ngroups < (int)ARRAY_SIZE(u->groups))
        u->groups[u->ngroups++] = u->gid;
    return 0;
}
