// SPDX-License-Identifier: Apache-2.0
/* boxlite-agent as PID 1 of the guest: mounts the basics, reads its settings from the
 * kernel command line (boxlite.* words, docs/protocol.md), brings up the network and the
 * container, finds the "boxlite.agent" virtio-console port, marks the guest ready and
 * serves the host until told to shut down; then stops everything and reboots (the kernel
 * runs with reboot=t, so that ends the VM in every engine). */
#include "agent.h"

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/guest_abi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


struct boot_cfg {
    bool ctl;
    struct proto_setup setup;
    uint64_t fault_exit_ms;
};

/* The initramfs is the kernel's rootfs, the one mount pivot_root can never move away from.
 * So the agent first puts a tmpfs over / and roots itself there (switch_root without the
 * exec: the running binary stays mapped from the initramfs, nothing is copied); the
 * container's pivot_root then works and leaves nothing of the agent reachable. */
static void root_on_tmpfs(void)
{
    static const char dir[] = "/.agent-root";
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        goto fail;
    if (mount("tmpfs", dir, "tmpfs", 0, "mode=0755") < 0 || chdir(dir) < 0 ||
        mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
        goto fail;
    return;
fail:
    agent_log("tmpfs root: %s (the container cannot pivot_root)", strerror(errno));
}

static void mount_basics(void)
{
    static const struct { const char *src, *dst, *type, *opts; unsigned long flags; } m[] = {
        {"proc", "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
        {"sysfs", "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
        {"devtmpfs", "/dev", "devtmpfs", "mode=0755", MS_NOSUID},
        {"devpts", "/dev/pts", "devpts", "ptmxmode=0666,mode=0620,gid=5", MS_NOSUID | MS_NOEXEC},
        {"tmpfs", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV},
        {"tmpfs", "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV},
        {"tmpfs", "/tmp", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV},
        {"cgroup2", "/sys/fs/cgroup", "cgroup2", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
    };
    for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
        mkdir(m[i].dst, 0755);
        if (mount(m[i].src, m[i].dst, m[i].type, m[i].flags, m[i].opts) < 0 && errno != EBUSY)
            agent_log("mount %s on %s: %s", m[i].type, m[i].dst, strerror(errno));
    }
}

static void console_stdio(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (fd != i)
            dup2(fd, i);
    if (fd > 2)
        close(fd);
}

static void parse_cmdline(struct boot_cfg *b)
{
    char line[4096] = "";
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, line, sizeof line - 1);
        line[n > 0 ? n : 0] = 0;
        close(fd);
    }
    b->setup.net = access("/sys/class/net/eth0", F_OK) == 0;
    agent_parse_cmdline(line, &b->setup, &b->ctl);
    /* the balloon driver registered before /init and reset it (reporting.c) */
    agent_reporting_order_apply(line, GUEST_REPORTING_ORDER_SYSFS);
    static const char fault[] = GUEST_CMDLINE_PREFIX GUEST_KEY_FAULT_EXIT_MS "=";
    const char *f = strstr(line, fault);
    if (f)
        b->fault_exit_ms = strtoull(f + strlen(fault), NULL, 10);
}

/* /sys/class/virtio-ports/vportNpM/name holds the port's name; its node is /dev/vportNpM. */
static int open_port(int wait_ms)
{
    for (int waited = 0;; waited += 10) {
        cleanup_closedir DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char p[300], name[64] = "";
            snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", de->d_name);
            int fd = open(p, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            ssize_t n = read(fd, name, sizeof name - 1);
            close(fd);
            name[n > 0 ? n : 0] = 0;
            name[strcspn(name, "\n")] = 0;
            if (strcmp(name, GUEST_AGENT_PORT) != 0)
                continue;
            snprintf(p, sizeof p, "/dev/%s", de->d_name);
            fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
            if (fd >= 0)
                return fd;
        }
        if (waited >= wait_ms)
            return -1;
        usleep(10000);
    }
}

static volatile uint32_t *ctl_map(void)
{
    int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
    if (fd < 0) {
        agent_log("control page: open /dev/mem: %s", strerror(errno));
        return NULL;
    }
    void *p = mmap(NULL, GUEST_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)GUEST_CTL_PAGE);
    close(fd);
    if (p == MAP_FAILED) {
        agent_log("control page: mmap: %s", strerror(errno));
        return NULL;
    }
    return p;
}

/* Unmounts what lies below /mnt (rootfs and volumes), deepest first. */
static void unmount_disks(void)
{
    for (int round = 0; round < 8; round++) {
        FILE *f = fopen("/proc/self/mounts", "re");
        if (!f)
            return;
        char line[1024], last[512] = "";
        while (fgets(line, sizeof line, f)) {
            char dev[256], dir[512];
            if (sscanf(line, "%255s %511s", dev, dir) == 2 && !strncmp(dir, "/mnt/", 5))
                snprintf(last, sizeof last, "%s", dir);
        }
        fclose(f);
        if (!last[0])
            return;
        if (umount2(last, 0) < 0 && umount2(last, MNT_DETACH) < 0)
            return;
    }
}

int main(void)
{
    double t0 = ((double)boot_ns() / 1e6);
    root_on_tmpfs();
    mount_basics();
    console_stdio();
    agent_log("started as pid %d at %.0f ms of uptime", (int)getpid(), t0);

    /* The guest's PID 1: if the OOM killer took it, the kernel would panic. */
    oom_adj_self(OOM_ADJ_AGENT);
    struct boot_cfg b = {0};
    parse_cmdline(&b);
    struct bl_error err = {0};
    sethostname("boxlite", 7);

    int port = open_port(500);
    if (port < 0) {
        agent_log("no virtio-console port named %s: powering off", GUEST_AGENT_PORT);
        sync();
        reboot(RB_AUTOBOOT);
        return 1;
    }
    struct agent_options opt = {.port = true, .boot_ms = (uint64_t)t0, .guest = true,
                                .fault_exit_ms = b.fault_exit_ms};
    struct agent *a = agent_new(port, &opt, &err);
    if (!a) {
        agent_log("%s", err.msg);
        reboot(RB_AUTOBOOT);
        return 1;
    }
    /* Network, hostname and, with boxlite.root, the container; a failure is logged and
     * HELLO says "not ready": the host may still send a SETUP. */
    const char *container = b.setup.root_dev ? "ready" : "none";
    if (agent_setup(a, &b.setup, &err) < 0) {
        agent_log("setup: %s", err.msg);
        container = "failed";
    }

    volatile uint32_t *ctl = b.ctl ? ctl_map() : NULL;
    if (ctl)
        ctl[GUEST_CTL_REG_READY / 4] = GUEST_CTL_READY_MAGIC;
    agent_log("ready in %.0f ms (container %s)", ((double)boot_ns() / 1e6) - t0, container);

    agent_run(a);
    int status = agent_exit_status(a);
    agent_log("shutting down");
    agent_stop_all(a, 3000);
    agent_free(a);
    sync();
    unmount_disks();
    sync();
    if (ctl)
        ctl[GUEST_CTL_REG_EXIT / 4] = (uint32_t)status;
    reboot(RB_AUTOBOOT);
    return 0;
}
