// SPDX-License-Identifier: Apache-2.0
/* IDENTITY (docs/protocol.md): a fork resumed from another box's memory is that box in
 * every byte, so it must become someone else before it serves anyone: its own host name
 * (in the agent's and the container's UTS namespaces, and on the container's /etc/hosts
 * line for it), its own MAC on eth0, its own boot_id, and an RNG whose state no sibling
 * shares: the host's seed is mixed in (RNDADDENTROPY) and the kernel's CRNG reseeded at
 * once (RNDRESEEDCRNG, Linux >= 4.17) rather than at its next scheduled reseed, so the
 * first bytes any fork reads differ. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Linux include/uapi/linux/random.h (musl's headers do not carry it) */
#define RNDADDENTROPY _IOW('R', 0x03, int[2])
#define RNDRESEEDCRNG _IO('R', 0x07)
struct rand_pool_info {
    int entropy_count;
    int buf_size;
};

static int reseed(const uint8_t *seed, size_t n, struct bl_error *err)
{
    int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "open /dev/urandom");
    struct {
        struct rand_pool_info info;
        uint8_t buf[64];
    } in;
    memset(&in, 0, sizeof in);
    in.info.entropy_count = (int)(n * 8);
    in.info.buf_size = (int)n;
    memcpy(in.buf, seed, n);
    int rc = 0;
    if (ioctl(fd, RNDADDENTROPY, &in) < 0)
        rc = bl_errno(err, errno, "RNDADDENTROPY");
    else if (ioctl(fd, RNDRESEEDCRNG) < 0)
        rc = bl_errno(err, errno, "RNDRESEEDCRNG");
    explicit_bzero(&in, sizeof in);
    close(fd);
    return rc;
}

static int set_hostname(const char *name, struct container *ct, struct bl_error *err)
{
    if (sethostname(name, strlen(name)) < 0)
        return bl_errno(err, errno, "sethostname");
    if (!ct->ready)
        return 0;
    /* The container's own UTS namespace: enter it, set, come back. */
    int self = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return bl_errno(err, errno, "open our UTS namespace");
    int rc = 0;
    if (setns(ct->uts_fd, CLONE_NEWUTS) < 0)
        rc = bl_errno(err, errno, "enter the container's UTS namespace");
    else if (sethostname(name, strlen(name)) < 0)
        rc = bl_errno(err, errno, "sethostname in the container");
    if (setns(self, CLONE_NEWUTS) < 0 && !rc)
        rc = bl_errno(err, errno, "return to our UTS namespace");
    close(self);
    if (!rc)
        snprintf(ct->hostname, sizeof ct->hostname, "%s", name);
    return rc;
}

/* ---- boot_id and /etc/hosts, inside the container ----------------------------------- */

#define BOOT_ID "/proc/sys/kernel/random/boot_id"
#define BOOT_ID_FILE "/run/boxlite-boot_id" /* in the agent's own /run */
#define HOSTS_MAX (64 * 1024)

/* Linux makes boot_id once per boot and offers no way to change it, so a fork would share
 * its source's, and programs that tell boots or machines apart by it would take every fork
 * for one machine. The container gets its own instead: a read-only file holding a fresh
 * version 4 UUID, bound over BOOT_ID in the container's mount namespace (the agent's own
 * view keeps the kernel's). The file is made in the agent's /run; open_tree(OPEN_TREE_CLONE)
 * turns it into a detached mount, which move_mount can attach in another mount namespace
 * (a plain bind mount cannot cross namespaces). Returns the detached mount's descriptor. */
static int boot_id_tree(struct bl_error *err)
{
    uint8_t u[16];
    if (getrandom(u, sizeof u, 0) != (ssize_t)sizeof u)
        return bl_errno(err, errno, "getrandom");
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* RFC 4122 4.4: version 4, variant 10 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    char text[40];
    int n = snprintf(text, sizeof text,
                     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n",
                     u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                     u[12], u[13], u[14], u[15]);
    const char *path = BOOT_ID_FILE;
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return bl_errno(err, errno, "create %s", path);
    ssize_t w = write(fd, text, (size_t)n);
    close(fd);
    if (w != n) {
        unlink(path);
        return bl_errno(err, w < 0 ? errno : EIO, "write %s", path);
    }
    /* The name stays until the mount is attached: move_mount refuses an unlinked source
     * (ENOENT); container_identity unlinks it then. */
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | O_CLOEXEC);
    if (tree < 0) {
        int e = errno;
        unlink(path);
        return bl_errno(err, e, "open_tree %s", path);
    }
    return tree;
}

/* In the container's mount namespace: the detached mount over BOOT_ID, read-only. A fork
 * of a fork replaces its source's file rather than stacking another. */
static const char *boot_id_attach(int tree)
{
    umount2(BOOT_ID, MNT_DETACH); /* EINVAL when nothing is mounted there: fine */
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, BOOT_ID, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return "move_mount over " BOOT_ID;
    if (mount(NULL, BOOT_ID, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        return "remount " BOOT_ID " read-only";
    return NULL;
}

long identity_hosts_rename(const char *in, size_t n, const char *old, const char *new, char *out,
                           size_t cap)
{
    size_t o = 0, oldlen = strlen(old), newlen = strlen(new);
#define PUT(p, len)                                                                          \
    do {                                                                                     \
        if ((len) > cap - o)                                                                 \
            return -1;                                                                       \
        memcpy(out + o, (p), (len));                                                         \
        o += (len);                                                                          \
    } while (0)
    for (size_t i = 0; i < n;) {
        size_t end = i;
        while (end < n && in[end] != '\n')
            end++;
        bool ours = end - i > 9 && memcmp(in + i, "127.0.1.1", 9) == 0 &&
                    (in[i + 9] == ' ' || in[i + 9] == '\t');
        for (size_t j = i; j < end;) {
            /* a name: a token after the address (the line's first) */
            bool starts = j > i && (in[j - 1] == ' ' || in[j - 1] == '\t');
            bool whole = oldlen > 0 && oldlen <= end - j && memcmp(in + j, old, oldlen) == 0 &&
                         (j + oldlen == end || in[j + oldlen] == ' ' || in[j + oldlen] == '\t');
            if (ours && starts && whole) {
                PUT(new, newlen);
                j += oldlen;
            } else {
                PUT(in + j, 1);
                j++;
            }
        }
        if (end < n)
            PUT("\n", 1);
        i = end + 1;
    }
#undef PUT
    return (long)o;
}

/* In the container's mount namespace: /etc/hosts renamed through a temporary file and
 * rename(2), so a reader sees the old file or the new one, never half of one. Fills msg
 * when it could not be done; a file without a line of ours is left alone. */
static void hosts_update(const char *old, const char *new, char *msg, size_t cap)
{
    static char in[HOSTS_MAX], out[HOSTS_MAX + 4096];
    int fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            snprintf(msg, cap, "open /etc/hosts: %s", strerror(errno));
        return;
    }
    ssize_t n = read(fd, in, sizeof in);
    int e = errno;
    close(fd);
    if (n < 0) {
        snprintf(msg, cap, "read /etc/hosts: %s", strerror(e));
        return;
    }
    long m = (size_t)n == sizeof in ? -1 : identity_hosts_rename(in, (size_t)n, old, new, out, sizeof out);
    if (m < 0) {
        snprintf(msg, cap, "/etc/hosts is over %d KiB: left as it is", HOSTS_MAX / 1024);
        return;
    }
    if (m == n && memcmp(in, out, (size_t)n) == 0)
        return;
    const char *tmp = "/etc/.hosts.boxlite";
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(msg, cap, "/etc/hosts left as it is: create %s: %s", tmp, strerror(errno));
        return;
    }
    bool ok = write(fd, out, (size_t)m) == m && fsync(fd) == 0;
    e = errno;
    close(fd);
    if (ok && rename(tmp, "/etc/hosts") == 0)
        return;
    e = ok ? errno : e;
    unlink(tmp);
    snprintf(msg, cap, "/etc/hosts left as it is: %s", strerror(e));
}

/* boot_id and /etc/hosts of the container, in a child: setns(CLONE_NEWNS) would move the
 * agent itself, which keeps its own view. The child sends back what failed, if anything;
 * a boot_id that cannot be replaced fails the identity (forks must not share one), a hosts
 * file that cannot be (a read-only root) is only logged. */
static int container_identity(struct container *ct, const char *old, const char *new,
                              struct bl_error *err)
{
    int tree = boot_id_tree(err);
    if (tree < 0)
        return bl_err_prefix(err, "boot_id");
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        close(tree);
        unlink(BOOT_ID_FILE);
        return bl_errno(err, errno, "pipe");
    }
    pid_t pid = fork();
    if (pid == 0) {
        char msg[200] = "";
        const char *what = NULL;
        if (setns(ct->mnt_fd, CLONE_NEWNS) < 0)
            what = "enter the container's mount namespace";
        else if ((what = boot_id_attach(tree)) == NULL && strcmp(old, new) != 0)
            hosts_update(old, new, msg, sizeof msg);
        if (what)
            snprintf(msg, sizeof msg, "boot_id: %s: %s", what, strerror(errno));
        if (msg[0] && write(p[1], msg, strlen(msg)) < 0) {
        }
        _exit(what ? 1 : 0);
    }
    int e = errno;
    close(tree);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        unlink(BOOT_ID_FILE);
        return bl_errno(err, e, "fork");
    }
    char msg[201];
    int status = helper_reap(pid, p[0], msg, sizeof msg);
    unlink(BOOT_ID_FILE); /* attached (or not): the mount keeps the file */
    if (status != 0)
        return bl_err(err, BOXLITE_ERR_IO, "%s", msg[0] ? msg : "boot_id: the helper died");
    if (msg[0])
        agent_log("%s", msg); /* the hosts file's trouble: not fatal */
    return 0;
}

int identity_apply(const struct proto_identity *id, struct container *ct, bool guest,
                   struct bl_error *err)
{
    if (!guest)
        return 0; /* natively (unit tests) the machine is not ours to change */
    if (reseed(id->seed, sizeof id->seed, err) < 0)
        return bl_err_prefix(err, "reseed the RNG");
    /* Said only once done: tests/e2e/pause.sh reads it (two forks' first bytes differ
     * anyway while the source is young: Linux reseeds every uptime/2 s then). */
    agent_log("RNG reseeded from the host's seed");
    char old[sizeof ct->hostname];
    snprintf(old, sizeof old, "%s", ct->hostname);
    if (id->hostname[0] && set_hostname(id->hostname, ct, err) < 0)
        return bl_err_prefix(err, "hostname");
    if (ct->ready && container_identity(ct, old, ct->hostname, err) < 0)
        return -err->code;
    if (id->mac[0] && net_set_mac(id->mac, err) < 0)
        return -err->code;
    return 0;
}
