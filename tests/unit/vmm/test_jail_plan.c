// SPDX-License-Identifier: Apache-2.0
/* What the jail's root holds (src/vmm/jail/mounts.c, jail_plan_build): the box's folder, and
 * a writable disk of the box's own as a bind of its own even inside that folder, so that
 * where no idmapped mount is possible it can be given to the VMM's user (a disk root copied
 * in with mode 0644 was not writable by the jailed VMM: found by the lab's CPU matrix). */
#include "harness/harness.h"

#include "vmm/config.h"
#include "vmm/jail/jail_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct jail_bind *find(const struct jail_plan *p, const char *path)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->b[i].path, path))
            return &p->b[i];
    return NULL;
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
}

TEST(own_disk_inside_the_box_folder_keeps_its_bind)
{
    char dir[512], disk[600], ro[600], kernel[600], ready[600], console[600];
    snprintf(dir, sizeof dir, "%s/box", harness_tmpdir());
    REQUIRE(mkdir(dir, 0700) == 0);
    snprintf(disk, sizeof disk, "%s/disk.ext4", dir);
    snprintf(ro, sizeof ro, "%s/base.ext4", dir);
    snprintf(kernel, sizeof kernel, "%s/vmlinux", harness_tmpdir());
    snprintf(ready, sizeof ready, "%s/ready", dir);
    snprintf(console, sizeof console, "%s/console.log", dir);
    touch(disk);
    touch(ro);
    touch(kernel);
    struct vmm_disk_cfg disks[2] = { { .path = disk, .format = (char *)"raw", .readonly = false },
                                     { .path = ro, .format = (char *)"raw", .readonly = true } };
    struct vmm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kernel = kernel;
    cfg.disks = disks;
    cfg.ndisks = 2;
    cfg.ready_file = ready;
    cfg.console_log = console;
    struct jail_plan p;
    struct bl_error err = { 0 };
    REQUIRE(jail_plan_build(&p, &cfg, NULL, &err) == 0);
    const struct jail_bind *folder = find(&p, dir), *d = find(&p, disk), *r = find(&p, ro);
    CHECK(folder && folder->dir && folder->rw && folder->own);
    CHECK(d != NULL);
    CHECK(d && d->rw && d->own && !d->dir);
    CHECK(r == NULL); /* read-only, inside a folder already shown: no bind of its own */
    CHECK(find(&p, kernel) != NULL);
    jail_plan_free(&p);
}

/* A QEMU under a prefix of its own (the runtime's "qemu" setting) finds its modules and
 * firmware relative to its binary: the jail shows <prefix>/lib/<multiarch>/qemu,
 * <prefix>/lib/qemu and <prefix>/share/qemu too; a system QEMU adds nothing under /usr. */
TEST(qemu_under_a_prefix_brings_its_modules_and_firmware)
{
    const char *t = harness_tmpdir();
    char path[600], kernel[600], bin[600];
    static const char *const dirs[] = { "bin", "lib", "lib/x86_64-linux-gnu",
                                        "lib/x86_64-linux-gnu/qemu", "lib/qemu", "lib/other",
                                        "share", "share/qemu", "share/doc" };
    snprintf(path, sizeof path, "%s/opt", t);
    REQUIRE(mkdir(path, 0755) == 0);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/opt/%s", t, dirs[i]);
        REQUIRE(mkdir(path, 0755) == 0);
    }
    snprintf(bin, sizeof bin, "%s/opt/bin/qemu-system-x86_64", t);
    touch(bin);
    snprintf(kernel, sizeof kernel, "%s/vmlinux", t);
    touch(kernel);
    struct vmm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kernel = kernel;
    struct jail_needs needs = { .qemu_binary = bin };
    struct jail_plan p;
    struct bl_error err = { 0 };
    REQUIRE(jail_plan_build(&p, &cfg, &needs, &err) == 0);
    CHECK(find(&p, bin) != NULL);
    static const char *const want[] = { "lib/x86_64-linux-gnu/qemu", "lib/qemu", "share/qemu" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/opt/%s", t, want[i]);
        const struct jail_bind *b = find(&p, path);
        if (!b || b->rw)
            harness_fail(__FILE__, __LINE__, "%s: %s", path, b ? "writable" : "not shown");
    }
    snprintf(path, sizeof path, "%s/opt/share/doc", t);
    CHECK(find(&p, path) == NULL);
    snprintf(path, sizeof path, "%s/opt/lib/other", t);
    CHECK(find(&p, path) == NULL);
    jail_plan_free(&p);
    /* the system's QEMU: its folders are the system's, nothing of its own below them */
    needs.qemu_binary = "/usr/bin/qemu-system-x86_64";
    REQUIRE(jail_plan_build(&p, &cfg, &needs, &err) == 0);
    for (size_t i = 0; i < p.n; i++)
        if (!strncmp(p.b[i].path, "/usr/lib/", 9) || !strncmp(p.b[i].path, "/usr/share/qemu/", 16))
            harness_fail(__FILE__, __LINE__, "a bind below a system folder: %s", p.b[i].path);
    jail_plan_free(&p);
}
