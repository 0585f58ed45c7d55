// SPDX-License-Identifier: Apache-2.0
/* Disks natively, as root: file-backed ext4 filesystems on loop devices stand in for the
 * guest's virtio-blk disks. The rootfs disk grows online to its device's size; extra disks
 * are mounted in the container, read-only where asked. */
#include "agent_fixture.h"

#include "common/cleanup.h"

#include <sys/stat.h>
#include <sys/statfs.h>

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

static char loops[4][64];
static int nloops;

static void need_root_and_tools(void)
{
    if (geteuid() != 0)
        harness_need("needs root for loop devices and mounts");
    if (system("command -v mke2fs >/dev/null && command -v losetup >/dev/null") != 0)
        harness_need("no mke2fs or losetup");
    if (access("/dev/loop-control", F_OK) < 0)
        harness_need("no loop devices");
}

/* A filesystem image of fs_mib holding the tree `from` (or empty; fs_mib 0: no filesystem,
 * zeros) in a file of file_mib, attached to a free loop device. */
static const char *loop_disk(const char *name, int fs_mib, int file_mib, const char *from)
{
    char img[512], cmd[2048];
    snprintf(img, sizeof img, "%s/%s.img", harness_tmpdir(), name);
    if (fs_mib)
        snprintf(cmd, sizeof cmd, "mke2fs -q -F -t ext4 %s%s %s %dM >/dev/null && truncate -s %dM %s",
                 from ? "-d " : "", from ? from : "", img, fs_mib, file_mib, img);
    else
        snprintf(cmd, sizeof cmd, "truncate -s %dM %s", file_mib, img);
    if (system(cmd) != 0 || nloops == ARRAY_SIZE(loops))
        return NULL;
    snprintf(cmd, sizeof cmd, "losetup -f --show %s", img);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char *dev = loops[nloops];
    bool ok = fgets(dev, sizeof loops[0], p) != NULL;
    pclose(p);
    dev[strcspn(dev, "\n")] = 0;
    if (!ok || strncmp(dev, "/dev/loop", 9) != 0)
        return NULL;
    nloops++;
    return dev;
}

static void detach_loops(void)
{
    for (int i = 0; i < nloops; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "losetup -d %s 2>/dev/null", loops[i]);
        if (system(cmd) != 0) {
        }
    }
    nloops = 0;
}

/* EXT4_IOC_RESIZE_FS needs CAP_SYS_RESOURCE, which some sandboxes take from root. */
static bool can_resize(void)
{
    cleanup_fclose FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long eff = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &eff) == 1)
            break;
    return eff & (1ull << 24); /* CAP_SYS_RESOURCE */
}

/* The test's own mounts stay in a private mount namespace. */
static void private_mounts(void)
{
    static bool done;
    if (done)
        return;
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        harness_need("no private mount namespace: %s", strerror(errno));
    done = true;
}

TEST(rootfs_grows_to_its_device)
{
    need_root_and_tools();
    private_mounts();
    const char *dev = loop_disk("grow", 32, 160, NULL);
    REQUIRE(dev);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/mnt", harness_tmpdir());
    mkdir(dir, 0755);
    REQUIRE(mount(dev, dir, "ext4", 0, NULL) == 0);
    struct statfs before, after;
    REQUIRE(statfs(dir, &before) == 0);
    uint64_t from = 0, to = 0;
    struct bl_error e = {0};
    if (!can_resize()) {
        /* the attempt is made and fails with the reason, the sizes in the message */
        CHECK(disk_grow(dir, dev, &from, &to, &e) < 0);
        CHECK(strstr(e.msg, "blocks of") && strstr(e.msg, "Operation not permitted"));
        CHECK_EQ(umount(dir), 0);
        detach_loops();
        harness_skip("no CAP_SYS_RESOURCE in this sandbox; proven by tests/e2e/agent_disk.sh (grows a disk in a VM)");
    }
    CHECK_EQ(disk_grow(dir, dev, &from, &to, &e), 0);
    CHECK(e.msg[0] == 0);
    /* the filesystem now spans the device: 160 MiB in its block size */
    CHECK_EQ(to, 160ull * 1024 * 1024 / (uint64_t)before.f_bsize);
    CHECK(from < to);
    REQUIRE(statfs(dir, &after) == 0);
    CHECK((uint64_t)after.f_blocks * after.f_bsize > 140ull * 1024 * 1024);
    CHECK((uint64_t)before.f_blocks * before.f_bsize < 33ull * 1024 * 1024);
    /* a second time there is nothing to do */
    uint64_t from2 = 0, to2 = 0;
    CHECK_EQ(disk_grow(dir, dev, &from2, &to2, &e), 0);
    CHECK_EQ(from2, to);
    CHECK_EQ(to2, to);
    /* the filesystem is still sound and usable beyond its old end */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero of=%s/big bs=1M count=100 2>/dev/null", dir);
    CHECK_EQ(system(cmd), 0);
    CHECK_EQ(umount(dir), 0);
    snprintf(cmd, sizeof cmd, "e2fsck -fn %s >/dev/null 2>&1", dev);
    CHECK_EQ(system(cmd), 0);
    detach_loops();
}

TEST(grow_does_nothing_when_the_filesystem_fills_the_device)
{
    need_root_and_tools();
    private_mounts();
    const char *dev = loop_disk("full", 24, 24, NULL);
    REQUIRE(dev);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/full", harness_tmpdir());
    mkdir(dir, 0755);
    REQUIRE(mount(dev, dir, "ext4", MS_RDONLY, NULL) == 0);
    uint64_t from = 0, to = 0;
    struct bl_error e = {0};
    CHECK_EQ(disk_grow(dir, dev, &from, &to, &e), 0);
    CHECK(from > 0);
    CHECK_EQ(from, to);
    struct statfs st;
    REQUIRE(statfs(dir, &st) == 0);
    CHECK_EQ(from * st.f_bsize, 24ull * 1024 * 1024);
    CHECK_EQ(umount(dir), 0);
    detach_loops();
}

TEST(grow_refuses_what_is_not_ext4)
{
    need_root_and_tools();
    char f[512];
    snprintf(f, sizeof f, "%s/zeros", harness_tmpdir());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "truncate -s 4M %s", f);
    REQUIRE(system(cmd) == 0);
    struct bl_error e = {0};
    /* a regular file is not a block device */
    CHECK(disk_grow(harness_tmpdir(), f, NULL, NULL, &e) < 0);
    CHECK(e.msg[0] != 0);
    const char *dev = loop_disk("zero", 0, 8, NULL);
    REQUIRE(dev);
    e = (struct bl_error){0};
    CHECK(disk_grow(harness_tmpdir(), dev, NULL, NULL, &e) < 0);
    CHECK(strstr(e.msg, "not an ext2/3/4 filesystem") != NULL);
    detach_loops();
}

static char rootfs[512];

static void make_rootfs(void)
{
    snprintf(rootfs, sizeof rootfs, "%s/rootfs", harness_tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "set -e; mkdir -p %s/bin %s/etc; cp /bin/busybox %s/bin/; "
             "for a in sh cat df touch grep; do ln -s busybox %s/bin/$a; done",
             rootfs, rootfs, rootfs, rootfs);
    if (access("/bin/busybox", X_OK) < 0 || system(cmd) != 0)
        harness_need("no /bin/busybox (busybox-static)");
}

TEST(extra_disks_in_the_container)
{
    need_root_and_tools();
    make_rootfs();
    char content[512], cmd[1024];
    snprintf(content, sizeof content, "%s/content", harness_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s && echo on-disk > %s/marker", content, content);
    REQUIRE(system(cmd) == 0);
    const char *rw = loop_disk("rw", 16, 48, content);
    const char *ro = loop_disk("ro", 16, 16, content);
    REQUIRE(rw && ro);
    struct proto_disk disks[] = {
        {.dev = (char *)rw, .fstype = "ext4", .path = "/data/rw"},
        {.dev = (char *)ro, .fstype = "", .path = "/srv/ro", .readonly = true},
    };
    struct proto_setup s = {.root_dir = rootfs, .disks = disks, .ndisks = 2};
    struct proto_client *c = start_agent(&s);
    REQUIRE(c);
    CHECK(proto_client_container_ready(c));
    struct run_out o;
    run(c, ARGV("cat", "/data/rw/marker", "/srv/ro/marker"), NULL, &o);
    CHECK_STR(o.out, "on-disk\non-disk\n");
    run_free(&o);
    run(c, ARGV("sh", "-c", "echo new > /data/rw/new && cat /data/rw/new"), NULL, &o);
    CHECK_STR(o.out, "new\n");
    CHECK_EQ(o.res.exit_code, 0);
    run_free(&o);
    run(c, ARGV("touch", "/srv/ro/x"), NULL, &o);
    CHECK(o.res.exit_code != 0);
    CHECK(strstr(o.err, "Read-only") != NULL);
    run_free(&o);
    /* the read-write disk grew to its device (48 MiB), the read-only one did not */
    run(c, ARGV("sh", "-c", "df -k /data/rw | grep -v Filesystem"), NULL, &o);
    char fs[256];
    long kib = 0;
    CHECK(sscanf(o.out, "%255s %ld", fs, &kib) == 2);
    CHECK(can_resize() ? kib > 40 * 1024 : kib < 16 * 1024);
    run_free(&o);
    stop_agent(c);
    /* the disks were mounted in the agent's namespace only: not on the test's side */
    char marker[1024];
    snprintf(marker, sizeof marker, "%s/data/rw/marker", rootfs);
    CHECK(access(marker, F_OK) < 0);
    detach_loops();
}

TEST(a_disk_that_cannot_be_mounted_is_a_clear_error)
{
    need_root_and_tools();
    make_rootfs();
    private_mounts();
    struct proto_disk d = {.dev = "/dev/boxlite-no-such-disk", .path = "/data"};
    struct proto_setup s = {.root_dir = rootfs, .disks = &d, .ndisks = 1};
    struct container ct = {.mnt_fd = -1, .uts_fd = -1, .ipc_fd = -1};
    struct bl_error e = {0};
    CHECK(container_create(&ct, &s, &e) < 0);
    CHECK(strstr(e.msg, "mount disk /dev/boxlite-no-such-disk (ext4) on /data") != NULL);
    CHECK(!ct.ready);
    /* a path leading out of the rootfs through .. is refused before any mount */
    struct proto_disk up = {.dev = "/dev/null", .path = "/../escape"};
    s.disks = &up;
    e = (struct bl_error){0};
    CHECK(container_create(&ct, &s, &e) < 0);
    CHECK(strstr(e.msg, "..") != NULL);
}

TEST(disks_found_by_serial)
{
    /* a stand-in for /sys/block: vda without a serial, vdb and vdc with one */
    char sys[512], cmd[2048];
    snprintf(sys, sizeof sys, "%s/sys-block", harness_tmpdir());
    snprintf(cmd, sizeof cmd,
             "set -e; mkdir -p %s/vda %s/vdb %s/vdc %s/loop0; printf 'data1\\n' > %s/vdb/serial; "
             "printf 'data10\\n' > %s/vdc/serial; : > %s/loop0/serial",
             sys, sys, sys, sys, sys, sys, sys);
    REQUIRE(system(cmd) == 0);
    char dev[64];
    struct bl_error e = {0};
    CHECK_EQ(disk_by_serial(sys, "data1", dev, sizeof dev, &e), 0);
    CHECK_STR(dev, "/dev/vdb");
    CHECK_EQ(disk_by_serial(sys, "data10", dev, sizeof dev, &e), 0);
    CHECK_STR(dev, "/dev/vdc");
    CHECK(disk_by_serial(sys, "data", dev, sizeof dev, &e) < 0);
    CHECK_STR(e.msg, "no disk with serial data");
    e = (struct bl_error){0};
    CHECK(disk_by_serial("/nonexistent-sys", "x", dev, sizeof dev, &e) < 0);
    CHECK(strstr(e.msg, "/nonexistent-sys") != NULL);
    /* in a setup, an unknown serial fails it with that reason */
    if (geteuid() != 0 || access("/bin/busybox", X_OK) < 0)
        return;
    make_rootfs();
    private_mounts();
    struct proto_disk d = {.dev = "serial:boxlite-none", .path = "/data"};
    struct proto_setup s = {.root_dir = rootfs, .disks = &d, .ndisks = 1};
    struct container ct = {.mnt_fd = -1, .uts_fd = -1, .ipc_fd = -1};
    e = (struct bl_error){0};
    CHECK(container_create(&ct, &s, &e) < 0);
    CHECK_STR(e.msg, "no disk with serial boxlite-none");
}
