// SPDX-License-Identifier: Apache-2.0
/* Our 9P2000.L server against the real Linux client: the project's guest kernel boots under
 * QEMU TCG, reaches this test's server at 10.0.2.2 over trans=tcp (QEMU's user network
 * maps it to our 127.0.0.1 listener) and works on the share with busybox: read, write,
 * mkdir, rename, symlink, unlink, a large file, readdir, umount. The host checks the
 * effects on disk and that a host symlink pointing outside the share gives the guest only
 * the link's text, never the host file it names. */
#include "vmm/fs/p9.h"

#include "harness/harness.h"
#include "p9_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

struct srv {
    struct p9_server *p9;
    int lfd;
    int rc;
};

/* One connection per mount, one after the other (each mount's Tversion starts afresh). */
static void *serve(void *arg)
{
    struct srv *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        s->rc = p9_serve_stream(s->p9, fd, fd);
        close(fd);
    }
}

/* How each guest's /init that mounts over TCP starts: busybox's applets, /proc and /dev,
 * QEMU's user network (10.0.2.2 is our loopback), the mount point $S. */
#define GUEST_INIT_START                                                                \
    "#!/bin/busybox sh\n"                                                                \
    "/bin/busybox --install -s /bin\n"                                                   \
    "export PATH=/bin\n"                                                                 \
    "mount -t proc proc /proc; mount -t devtmpfs dev /dev\n"                             \
    "ip link set lo up; ip link set eth0 up\n"                                           \
    "ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2\n"             \
    "S=/mnt/share; mkdir -p $S\n"

static const char init_script[] =
    GUEST_INIT_START
    "echo T:$(cat /proc/uptime)\n"
    "mount -t 9p -o trans=tcp,port=$P9PORT,version=9p2000.L,msize=65536 10.0.2.2 $S "
    "&& echo R:MOUNT_OK\n"
    "echo \"R:READ=$(cat $S/hello.txt)\"\n"
    "echo from-guest > $S/new.txt && echo R:WRITE_OK\n"
    "mkdir $S/dir && mv $S/new.txt $S/dir/moved.txt && echo R:RENAME_OK\n"
    "ln -s /etc/passwd $S/link && echo R:SYMLINK_OK\n"
    "rm $S/todelete && echo R:UNLINK_OK\n"
    "echo T:$(cat /proc/uptime)\n"
    "head -c 300000 /dev/zero > $S/big; echo \"R:BIG=$(wc -c < $S/big)\"\n"
    "echo T:$(cat /proc/uptime)\n"
    "echo \"R:LS=$(ls $S | tr '\\n' ' ')\"\n"
    /* Host-made symlinks pointing outside the share: the server hands back the link's own
     * text (never the file it names), and the Linux client resolves that text in the
     * guest's own tree, here onto a decoy. The server's own refusal to walk or open through
     * a symlink needs a client that asks for it: test_p9.c symlinks_never_escape. */
    "echo \"R:READLINK=$(readlink $S/escape)\"\n"
    "echo guest-decoy > /mnt/secret; echo \"R:ESCAPE=$(cat $S/escape 2>&1)\"\n"
    "cat $S/abs_escape 2>/dev/null\n"
    "cat $S/../secret 2>/dev/null\n"
    "chmod 600 $S/hello.txt && echo \"R:MODE=$(stat -c %a $S/hello.txt)\"\n"
    /* issue 13's reproduction: a setuid-root binary and a foreign owner made in the guest
     * stay the guest's view only */
    "cp /bin/busybox $S/s && chown 0:0 $S/s && chmod 4755 $S/s && "
    "echo \"R:SUID=$(stat -c '%a %u %g' $S/s)\"\n"
    "touch $S/o && chown 1234:5678 $S/o && echo \"R:OWN=$(stat -c '%u %g' $S/o)\"\n"
    "mkfifo $S/fifo 2>/dev/null || echo R:FIFO_REFUSED\n"
    "mknod $S/null c 1 3 2>/dev/null || echo R:DEV_REFUSED\n"
    "umount $S && echo R:UMOUNT_OK\n"
    /* as the agent mounts volumes: cache=mmap, writes through the page cache */
    "mount -t 9p -o trans=tcp,port=$P9PORT,version=9p2000.L,cache=mmap 10.0.2.2 $S "
    "&& echo R:MOUNT_MMAP_OK\n"
    "echo cached-write > $S/mm.txt; sync; echo \"R:MMREAD=$(cat $S/mm.txt)\"\n"
    "echo \"R:SUID2=$(stat -c '%a %u %g' $S/s) $(stat -c '%u %g' $S/o)\"\n"
    "echo \"R:LINK2=$(readlink $S/link)\"\n"
    "seq 1 20000 > $S/seq.txt; echo \"R:SEQ=$(tail -n 1 $S/seq.txt)\"\n"
    "umount $S && echo R:UMOUNT2_OK\n"
    "echo R:DONE\n"
    "reboot -f\n"; /* reboot=t and -no-reboot: QEMU exits */

/* The project's guest kernel, or the test is skipped as set-up work. */
static void need_guest(char vmlinux[4096])
{
    if (system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0)
        harness_need("qemu-system-x86_64 not installed");
    if (access("/bin/busybox", X_OK) != 0)
        harness_need("no /bin/busybox");
    FILE *k = popen("scripts/build-kernel.sh --cached-only 2>/dev/null", "r");
    vmlinux[0] = '\0';
    if (k) {
        if (!fgets(vmlinux, 4096, k))
            vmlinux[0] = '\0';
        pclose(k);
    }
    vmlinux[strcspn(vmlinux, "\n")] = '\0';
    if (!vmlinux[0] || access(vmlinux, R_OK) != 0)
        harness_need("no cached guest kernel (scripts/build-kernel.sh)");
}

/* A listener on 127.0.0.1 at a port of the kernel's choice (into *port), or -1. */
static int listen_loopback(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* The guest's initramfs, <tmp>/initrd.gz: busybox, and script as /init; log gets the path
 * for its console, <tmp>/console.log. 0, or -1. */
static int guest_initrd(const char *script, char initrd[4200], char log[4200])
{
    const char *tmp = harness_tmpdir();
    char init[4200], cmd[13000];
    snprintf(init, sizeof init, "%s/init", tmp);
    snprintf(initrd, 4200, "%s/initrd.gz", tmp);
    snprintf(log, 4200, "%s/console.log", tmp);
    put_file(init, script, 0755);
    snprintf(cmd, sizeof cmd,
             "python3 scripts/mkinitramfs.py %s /init=%s /bin/busybox=/bin/busybox", initrd,
             init);
    return system(cmd) == 0 ? 0 : -1;
}

/* Boots vmlinux under QEMU TCG with busybox and script as /init, its user network reaching
 * port on our loopback as 10.0.2.2:port (P9PORT on the kernel command line). Returns the
 * console's text (slurp), or NULL; QEMU's exit status into *rc. */
static char *run_guest(const char *vmlinux, const char *script, unsigned port, int *rc)
{
    char initrd[4200], log[4200], cmd[16384];
    if (guest_initrd(script, initrd, log) < 0)
        return NULL;
    snprintf(cmd, sizeof cmd,
             "timeout 200 qemu-system-x86_64 -M microvm,acpi=off -accel tcg -cpu max -m 256 "
             "-smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot "
             "-netdev user,id=n0 -device virtio-net-device,netdev=n0 "
             "-kernel %s -initrd %s -append 'console=ttyS0 reboot=t panic=-1 quiet P9PORT=%u' "
             ">%s 2>&1 </dev/null",
             vmlinux, initrd, port, log);
    *rc = system(cmd);
    return slurp(log);
}

/* The guest kernel (or the test is skipped: need_guest) and an empty folder to share,
 * <tmp>/share. */
static bool guest_and_share(char vmlinux[4096], char share[4096])
{
    need_guest(vmlinux);
    snprintf(share, 4096, "%s/share", harness_tmpdir());
    return mkdir(share, 0755) == 0;
}

/* run_guest against a 9P server: serve_fn runs on a thread of its own with arg while the
 * guest lives, accepting on *lfd, a loopback listener opened here for the guest's port and
 * closed once the guest is done (which ends serve_fn). The console, or NULL. */
static char *run_guest_served(const char *vmlinux, const char *script, int *lfd,
                              void *(*serve_fn)(void *), void *arg, int *rc)
{
    unsigned port = 0;
    pthread_t th;
    if ((*lfd = listen_loopback(&port)) < 0)
        return NULL;
    if (pthread_create(&th, NULL, serve_fn, arg) != 0) {
        close(*lfd);
        return NULL;
    }
    char *out = run_guest(vmlinux, script, port, rc);
    shutdown(*lfd, SHUT_RDWR);
    close(*lfd);
    pthread_join(th, NULL);
    return out;
}

TEST_TIMEOUT(linux_client_over_tcp, 240)
{
    char vmlinux[4096], share[4096], path[4200];
    const char *tmp = harness_tmpdir();
    REQUIRE(guest_and_share(vmlinux, share));
    snprintf(path, sizeof path, "%s/secret", tmp);
    put_file(path, "host-secret-text\n", 0644);
    snprintf(path, sizeof path, "%s/hello.txt", share);
    put_file(path, "hello-from-host", 0644);
    snprintf(path, sizeof path, "%s/todelete", share);
    put_file(path, "x", 0644);
    snprintf(path, sizeof path, "%s/escape", share);
    REQUIRE(symlink("../secret", path) == 0);
    char target[4200];
    snprintf(path, sizeof path, "%s/abs_escape", share);
    snprintf(target, sizeof target, "%s/secret", tmp);
    REQUIRE(symlink(target, path) == 0);

    struct srv s = {0};
    REQUIRE(p9_server_new(&s.p9, share, false, 0, NULL) == 0);
    int rc = -1;
    char *out = run_guest_served(vmlinux, init_script, &s.lfd, serve, &s, &rc);
    REQUIRE(out);
    if (!strstr(out, "R:DONE") || !strstr(out, "R:BIG=300000") || getenv("P9_LINUX_VERBOSE"))
        fprintf(stderr, "qemu exit %d, console:\n%s\n", rc, out);
    CHECK(strstr(out, "R:MOUNT_OK"));
    CHECK(strstr(out, "R:READ=hello-from-host"));
    CHECK(strstr(out, "R:WRITE_OK"));
    CHECK(strstr(out, "R:RENAME_OK"));
    CHECK(strstr(out, "R:SYMLINK_OK"));
    CHECK(strstr(out, "R:UNLINK_OK"));
    CHECK(strstr(out, "R:BIG=300000"));
    CHECK(strstr(out, "R:READLINK=../secret"));
    CHECK(strstr(out, "R:ESCAPE=guest-decoy")); /* resolved by the guest, in the guest */
    CHECK(strstr(out, "R:MODE=600"));
    CHECK(strstr(out, "R:SUID=4755 0 0"));
    CHECK(strstr(out, "R:OWN=1234 5678"));
    CHECK(strstr(out, "R:FIFO_REFUSED"));
    CHECK(strstr(out, "R:DEV_REFUSED"));
    CHECK(strstr(out, "R:SUID2=4755 0 0 1234 5678")); /* after a new mount: recorded */
    CHECK(strstr(out, "R:LINK2=/etc/passwd"));
    CHECK(strstr(out, "R:UMOUNT_OK"));
    CHECK(strstr(out, "R:MOUNT_MMAP_OK"));
    CHECK(strstr(out, "R:MMREAD=cached-write"));
    CHECK(strstr(out, "R:SEQ=20000"));
    CHECK(strstr(out, "R:UMOUNT2_OK"));
    CHECK(strstr(out, "R:DONE"));
    CHECK(!strstr(out, "host-secret-text")); /* nothing outside the share was read */
    char *ls = strstr(out, "R:LS=");
    CHECK(ls && strstr(ls, "dir") && strstr(ls, "link") && strstr(ls, "big"));

    snprintf(path, sizeof path, "%s/dir/moved.txt", share);
    char *moved = slurp(path);
    CHECK(moved && strcmp(moved, "from-guest\n") == 0);
    /* the guest's symlink is a file holding its text: nothing on the host follows it */
    snprintf(path, sizeof path, "%s/link", share);
    struct stat st;
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(slurp(path) && strcmp(slurp(path), "/etc/passwd") == 0);
    /* no setuid bit, no owner but ours, no FIFO or device on the host */
    snprintf(path, sizeof path, "%s/s", share);
    CHECK(lstat(path, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_uid == geteuid());
    snprintf(path, sizeof path, "%s/o", share);
    CHECK(lstat(path, &st) == 0 && st.st_uid == geteuid() && st.st_gid == getegid());
    snprintf(path, sizeof path, "%s/fifo", share);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/null", share);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/todelete", share);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/big", share);
    CHECK(stat(path, &st) == 0 && st.st_size == 300000);
    snprintf(path, sizeof path, "%s/mm.txt", share);
    CHECK(slurp(path) && strcmp(slurp(path), "cached-write\n") == 0);
    snprintf(path, sizeof path, "%s/seq.txt", share);
    CHECK(stat(path, &st) == 0 && st.st_size == 108894); /* seq 1 20000 */
    snprintf(path, sizeof path, "%s/secret", tmp);
    CHECK(slurp(path) && strcmp(slurp(path), "host-secret-text\n") == 0);
    p9_server_free(s.p9);
}

/* QEMU's own 9p server with security_model=mapped-xattr (what the QEMU engine runs) and ours
 * on one folder: QEMU 7.2 keeps the guest's setuid bit and owners out of the host file too
 * (checked here, not assumed), and each server reads what the other recorded, so a volume
 * means the same under either engine. */
static const char qemu_script[] =
    "#!/bin/busybox sh\n"
    "/bin/busybox --install -s /bin\n"
    "export PATH=/bin\n"
    "mount -t proc proc /proc; mount -t devtmpfs dev /dev\n"
    "S=/mnt/share; mkdir -p $S\n"
    "mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap share $S && echo R:MOUNT_OK\n"
    "cp /bin/busybox $S/s && chown 0:0 $S/s && chmod 4755 $S/s && "
    "echo \"R:SUID=$(stat -c '%a %u %g' $S/s)\"\n"
    "touch $S/o && chown 1234:5678 $S/o && echo \"R:OWN=$(stat -c '%u %g' $S/o)\"\n"
    "ln -s /etc/shadow $S/ql && echo R:SYMLINK_OK\n"
    "mkdir $S/qd && chmod 2750 $S/qd && echo R:MKDIR_OK\n"
    "mkfifo $S/qfifo && echo R:FIFO_MADE\n"
    "echo \"R:OURS=$(stat -c '%a %u %g' $S/ours)\"\n"
    "echo \"R:OURSL=$(readlink $S/oursl)\"\n"
    "umount $S && echo R:DONE\n"
    "reboot -f\n";

TEST_TIMEOUT(qemu_mapped_xattr_agrees_with_ours, 240)
{
    char vmlinux[4096];
    need_guest(vmlinux);
    const char *tmp = harness_tmpdir();
    char share[4096], path[4200], cmd[16384];
    snprintf(share, sizeof share, "%s/share", tmp);
    REQUIRE(mkdir(share, 0755) == 0);

    /* ours first: a setuid file of guest user 1000 and a symlink */
    struct p9_server *p9 = server(share, false);
    REQUIRE(p9);
    REQUIRE(attach_as(p9, 10, 1000) == P9_RATTACH);
    REQUIRE(walk(p9, 10, 11, NULL) == P9_RWALK);
    struct msg m;
    begin(&m, P9_TLCREATE, 5);
    put(&m, 11, 4);
    put_s(&m, "ours");
    put(&m, 2, 4);
    put(&m, 04711, 4);
    put(&m, 55, 4);
    REQUIRE(rpc(p9, &m) == P9_RLCREATE);
    begin(&m, P9_TSYMLINK, 4);
    put(&m, 10, 4);
    put_s(&m, "oursl");
    put_s(&m, "../target");
    put(&m, 0, 4);
    REQUIRE(rpc(p9, &m) == P9_RSYMLINK);
    p9_server_free(p9);

    char initrd[4200], log[4200], eshare[4200];
    REQUIRE(guest_initrd(qemu_script, initrd, log) == 0);
    snprintf(eshare, sizeof eshare, "%s", share); /* mkdtemp names have no commas */
    snprintf(cmd, sizeof cmd,
             "timeout 200 qemu-system-x86_64 -M microvm,acpi=off -accel tcg -cpu max -m 256 "
             "-smp 1 -nodefaults -no-user-config -nographic -serial stdio -no-reboot "
             "-fsdev local,id=fs0,path=%s,security_model=mapped-xattr "
             "-device virtio-9p-device,fsdev=fs0,mount_tag=share "
             "-kernel %s -initrd %s -append 'console=ttyS0 reboot=t panic=-1 quiet' "
             ">%s 2>&1 </dev/null",
             eshare, vmlinux, initrd, log);
    int rc = system(cmd);
    char *out = slurp(log);
    REQUIRE(out);
    if (!strstr(out, "R:DONE") || getenv("P9_LINUX_VERBOSE"))
        fprintf(stderr, "qemu exit %d, console:\n%s\n", rc, out);
    CHECK(strstr(out, "R:MOUNT_OK"));
    CHECK(strstr(out, "R:SUID=4755 0 0"));
    CHECK(strstr(out, "R:OWN=1234 5678"));
    CHECK(strstr(out, "R:SYMLINK_OK"));
    CHECK(strstr(out, "R:MKDIR_OK"));
    CHECK(strstr(out, "R:OURS=4711 1000 55")); /* QEMU reads our records */
    CHECK(strstr(out, "R:OURSL=../target"));
    CHECK(strstr(out, "R:DONE"));

    /* QEMU 7.2, mapped-xattr: host files 0600 (dirs 0700) of QEMU's own user, whatever the
     * guest asked; a symlink or FIFO is a plain file holding the record */
    struct stat st;
    snprintf(path, sizeof path, "%s/s", share);
    CHECK(lstat(path, &st) == 0 && st.st_mode == (S_IFREG | 0600) && st.st_uid == geteuid());
    snprintf(path, sizeof path, "%s/o", share);
    CHECK(lstat(path, &st) == 0 && st.st_uid == geteuid() && st.st_gid == getegid());
    snprintf(path, sizeof path, "%s/ql", share);
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
    snprintf(path, sizeof path, "%s/qd", share);
    CHECK(lstat(path, &st) == 0 && st.st_mode == (S_IFDIR | 0700));
    snprintf(path, sizeof path, "%s/qfifo", share);
    CHECK(lstat(path, &st) != 0 || S_ISREG(st.st_mode)); /* never a FIFO on the host */

    /* ours reads QEMU's records */
    p9 = server(share, false);
    REQUIRE(p9);
    REQUIRE(walk(p9, 0, 1, "s", NULL) == P9_RWALK);
    CHECK_EQ(getattr_mode(p9, 1), S_IFREG | 04755);
    CHECK_EQ(getattr_u32(p9, 1, 4), 0);
    REQUIRE(walk(p9, 0, 2, "o", NULL) == P9_RWALK);
    CHECK_EQ(getattr_u32(p9, 2, 4), 1234);
    CHECK_EQ(getattr_u32(p9, 2, 8), 5678);
    REQUIRE(walk(p9, 0, 3, "ql", NULL) == P9_RWALK);
    CHECK_EQ(getattr_mode(p9, 3), S_IFLNK | 0777);
    begin(&m, P9_TREADLINK, 4);
    put(&m, 3, 4);
    REQUIRE(rpc(p9, &m) == P9_RREADLINK);
    CHECK(get(reply + 7, 2) == 11 && memcmp(reply + 9, "/etc/shadow", 11) == 0);
    REQUIRE(walk(p9, 0, 4, "qd", NULL) == P9_RWALK);
    CHECK_EQ(getattr_mode(p9, 4), S_IFDIR | 02750);
    p9_server_free(p9);
}

/* A pause on the KVM engine, as the real Linux client lives it: mid-mount, between two
 * requests, the server's session is saved, the server freed and a new one restored from
 * the saved bytes (what a resumed per-box process does: fs/p9_session.c); the client goes on
 * on the same connection with the fids it holds: a file open for appending, an open file
 * the host deleted meanwhile (stale: ESTALE), its working directory. The guest asks for the
 * swap by creating "swap-now" in the share. */
static const char swap_script[] =
    GUEST_INIT_START
    "mount -t 9p -o trans=tcp,port=$P9PORT,version=9p2000.L,msize=65536 10.0.2.2 $S "
    "&& echo R:MOUNT_OK\n"
    "echo one > $S/held.txt; exec 3>>$S/held.txt; exec 4<$S/gone.txt\n"
    "mkdir $S/dir; echo inside > $S/dir/in.txt; cd $S/dir\n"
    "touch $S/swap-now\n"
    "echo two >&3 && echo R:HELD_WRITE_OK\n"
    "echo \"R:HELD=$(cat $S/held.txt | tr '\\n' ' ')\"\n"
    "echo \"R:CWD=$(ls | tr '\\n' ' ')$(cat in.txt)\"\n"
    "echo \"R:GONE=$(cat <&4 2>&1)\"\n"
    "exec 3>&- 4<&-; cd /\n"
    "umount $S && echo R:UMOUNT_OK\n"
    "echo R:DONE\n"
    "reboot -f\n";

struct swap_srv {
    struct p9_server *p9;
    int lfd;
    const char *share;
    int swaps;
    char why[256]; /* a failed swap */
};

static bool read_full(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static void swap_server(struct swap_srv *s)
{
    struct bl_error err = { 0 };
    uint8_t *blob = NULL;
    size_t len = 0;
    char path[4200];
    s->swaps++;
    if (p9_session_save(s->p9, &blob, &len, &err) < 0) {
        snprintf(s->why, sizeof s->why, "save: %s", err.msg);
        return;
    }
    p9_server_free(s->p9);
    s->p9 = NULL;
    snprintf(path, sizeof path, "%s/gone.txt", s->share); /* deleted while "paused" */
    unlink(path);
    if (p9_server_new(&s->p9, s->share, false, 0, &err) < 0 ||
        p9_session_restore(s->p9, blob, len, &err) < 0)
        snprintf(s->why, sizeof s->why, "restore: %s", err.msg);
    free(blob);
}

static void *serve_swapping(void *arg)
{
    struct swap_srv *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t cap = p9_server_max_msize(s->p9);
    uint8_t *req = malloc(cap), *resp = malloc(cap);
    char flag[4200];
    snprintf(flag, sizeof flag, "%s/swap-now", s->share);
    while (req && resp && read_full(fd, req, 4)) {
        uint32_t size = (uint32_t)get(req, 4);
        if (size < 7 || size > cap || !read_full(fd, req + 4, size - 4))
            break;
        size_t n = p9_handle(s->p9, req, size, resp, cap);
        if (write(fd, resp, n) != (ssize_t)n)
            break;
        if (!s->swaps && access(flag, F_OK) == 0)
            swap_server(s);
        if (!s->p9)
            break;
    }
    free(req);
    free(resp);
    close(fd);
    return NULL;
}

TEST_TIMEOUT(linux_client_keeps_its_mount_across_a_restored_session, 240)
{
    char vmlinux[4096], share[4096], path[4200];
    REQUIRE(guest_and_share(vmlinux, share));
    snprintf(path, sizeof path, "%s/gone.txt", share);
    put_file(path, "gone-data", 0644);

    struct swap_srv s = { .share = share };
    REQUIRE(p9_server_new(&s.p9, share, false, 0, NULL) == 0);
    int rc = -1;
    char *out = run_guest_served(vmlinux, swap_script, &s.lfd, serve_swapping, &s, &rc);
    REQUIRE(out);
    if (!strstr(out, "R:DONE") || s.why[0] || getenv("P9_LINUX_VERBOSE"))
        fprintf(stderr, "qemu exit %d, swap: %s, console:\n%s\n", rc, s.why, out);
    CHECK_EQ(s.swaps, 1);
    CHECK_STR(s.why, "");
    CHECK(strstr(out, "R:MOUNT_OK"));
    CHECK(strstr(out, "R:HELD_WRITE_OK"));
    CHECK(strstr(out, "R:HELD=one two "));
    CHECK(strstr(out, "R:CWD=in.txt inside"));
    CHECK(strstr(out, "R:GONE=") && strstr(out, "Stale file handle"));
    CHECK(!strstr(out, "R:GONE=gone-data"));
    CHECK(strstr(out, "R:UMOUNT_OK"));
    CHECK(strstr(out, "R:DONE"));
    snprintf(path, sizeof path, "%s/held.txt", share);
    CHECK(slurp(path) && strcmp(slurp(path), "one\ntwo\n") == 0);
    p9_server_free(s.p9);
}
