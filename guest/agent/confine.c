// SPDX-License-Identifier: Apache-2.0
/* What confines a container's process inside the guest (docs/protocol.md, "The process's
 * seccomp filter", "The container's view"). First the container's view, made in its mount
 * namespace by the child that starts its first process (runtime-spec config-linux.md
 * "Masked Paths", "Readonly Paths", "Sysctl", "Devices"), while it is still root with every
 * capability. Then the process's seccomp filter: a classic BPF program the host compiled
 * from the container's profile, installed with seccomp(2) SECCOMP_SET_MODE_FILTER. Without
 * no_new_privs the kernel lets only a process with CAP_SYS_ADMIN in its namespace install
 * one, so, as runc does, the filter goes in before the user and capabilities change when
 * no_new_privs is off, and last, after no_new_privs, when it is on (the profile then also
 * governs the steps that follow it, as it does under runc). Paths are resolved in the
 * container the child entered: its symlinks cannot lead out of it. */
#include "agent.h"

#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* seccomp(2)'s structures and constants (linux/filter.h, linux/seccomp.h, which the musl
 * build does not see) */
#define SECCOMP_SET_MODE_FILTER 1
struct bpf_insn_classic {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};
struct bpf_prog_classic {
    unsigned short len;
    struct bpf_insn_classic *filter;
};

int process_seccomp(const struct proto_exec_req *r, bool after_nnp, struct bl_error *e)
{
    if (!r->seccomp_len || after_nnp != r->no_new_privs)
        return 0;
    /* the decoder bounded it: 1 to PROTO_SECCOMP_MAX_INSNS whole instructions */
    struct bpf_prog_classic prog = { .len = (unsigned short)(r->seccomp_len / 8),
                                     .filter = (struct bpf_insn_classic *)r->seccomp };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)r->seccomp_flags, &prog) < 0)
        return bl_errno(e, errno, "install the seccomp filter (%u instructions, flags %#x)",
                        prog.len, r->seccomp_flags);
    return 0;
}

/* A file gets /dev/null bound over it, a folder an empty read-only tmpfs (runc's way); a
 * path that does not exist in this container is skipped, as runc skips it. */
static int mask(const char *p, struct bl_error *e)
{
    struct stat st;
    if (stat(p, &st) < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : bl_errno(e, errno, "masked path %s", p);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=0,mode=0555") < 0)
            return bl_errno(e, errno, "masked path %s: an empty tmpfs over it", p);
    } else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) {
        return bl_errno(e, errno, "masked path %s: /dev/null over it", p);
    }
    return 0;
}

/* Bound onto itself, then remounted read-only keeping the flags it had (a bind remount
 * that drops nosuid, nodev or noexec is refused in a user namespace, and would loosen it). */
static int readonly(const char *p, struct bl_error *e)
{
    struct statvfs sv;
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0
                                                   : bl_errno(e, errno, "read-only path %s", p);
    unsigned long keep = 0;
    if (statvfs(p, &sv) == 0)
        keep = (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
               (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0);
    if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | keep, NULL) < 0)
        return bl_errno(e, errno, "read-only path %s: remount read-only", p);
    return 0;
}

/* "net.ipv4.ip_forward=1" into /proc/sys/net/ipv4/ip_forward (dots are the separators, as
 * sysctl(8) reads them; a name with slashes is taken as it is). The decoder refused ".."
 * and absolute names; the file is opened without following a symlink. */
static int sysctl_set(const char *kv, struct bl_error *e)
{
    const char *eq = strchr(kv, '=');
    char path[512];
    int n = snprintf(path, sizeof path, "/proc/sys/%.*s", (int)(eq - kv), kv);
    if (n >= (int)sizeof path)
        return bl_err(e, BOXLITE_ERR_INVALID, "sysctl %.64s: name too long", kv);
    if (!memchr(kv, '/', (size_t)(eq - kv)))
        for (char *c = path + 10; *c; c++)
            if (*c == '.')
                *c = '/';
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_TRUNC);
    if (fd < 0)
        return bl_errno(e, errno, "sysctl %.*s (%s)", (int)(eq - kv), kv, path);
    size_t len = strlen(eq + 1);
    ssize_t w = write(fd, eq + 1, len);
    int saved = errno;
    close(fd);
    if (w != (ssize_t)len)
        return bl_errno(e, w < 0 ? saved : EIO, "sysctl %.*s = %s", (int)(eq - kv), kv, eq + 1);
    return 0;
}

/* mknod with the exact mode (no umask) and owner; an existing node is replaced, as the
 * spec's node must be the one there. */
static int device(const struct proto_device *d, struct bl_error *e)
{
    mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
    unlink(d->path);
    if (mknod(d->path, type | (d->mode & 0777), makedev(d->major, d->minor)) < 0)
        return bl_errno(e, errno, "device %s (%c %u:%u)", d->path, d->type, d->major,
                        d->minor);
    /* chown first: it clears set-id bits a mode may ask for */
    if (chown(d->path, d->uid, d->gid) < 0 || chmod(d->path, d->mode) < 0)
        return bl_errno(e, errno, "device %s: mode %o, owner %u:%u", d->path, d->mode, d->uid,
                        d->gid);
    return 0;
}

/* A tmpfs at a destination made if missing (a folder, as runc makes it). The process is
 * in the container's root already, so a symlink on the way resolves inside it. Under a
 * read-only root (a read-only share) the runtime made the folder on the host first. */
static int tmpfs_mount(const struct proto_tmpfs *t, struct bl_error *e)
{
    if (mkdir_p(t->path, 0755, e) < 0)
        return bl_err_prefix(e, "tmpfs %s", t->path);
    if (mount("tmpfs", t->path, "tmpfs", t->flags, t->data) < 0)
        return bl_errno(e, errno, "tmpfs %s (%s, flags %#x)", t->path, t->data, t->flags);
    return 0;
}

int container_view(const struct proto_exec_req *r, struct bl_error *e)
{
    /* the spec's mounts first, in its order, as runc makes them before the rest */
    for (size_t i = 0; i < r->ntmpfs; i++)
        if (tmpfs_mount(&r->tmpfs[i], e) < 0)
            return -1;
    /* devices and sysctls first: a read-only or masked /dev or /proc/sys must not stop them */
    for (size_t i = 0; i < r->ndevices; i++)
        if (device(&r->devices[i], e) < 0)
            return -1;
    for (size_t i = 0; i < r->nsysctl; i++)
        if (sysctl_set(r->sysctl[i], e) < 0)
            return -1;
    for (size_t i = 0; i < r->nro_paths; i++)
        if (readonly(r->ro_paths[i], e) < 0)
            return -1;
    for (size_t i = 0; i < r->nmasked; i++)
        if (mask(r->masked[i], e) < 0)
            return -1;
    return 0;
}
