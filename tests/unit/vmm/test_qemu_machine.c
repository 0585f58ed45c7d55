// SPDX-License-Identifier: Apache-2.0
/* The QEMU machine chosen by the box's architecture (src/vmm/qemu/machine.c): the command
 * line of an arm64 box (-M virt, its console, its disks' order), the x86_64 one unchanged,
 * the binary looked up for the box's architecture, and vmm.json's "arch". */
#include "harness/harness.h"
#include "common/hostarch.h"
#include "vmm/config.h"
#include "vmm/qemu/qemu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int argv_index(char **argv, const char *s)
{
    for (int i = 0; argv[i]; i++)
        if (strcmp(argv[i], s) == 0)
            return i;
    return -1;
}

static const char *after(char **argv, const char *opt)
{
    int i = argv_index(argv, opt);
    return i >= 0 && argv[i + 1] ? argv[i + 1] : "";
}

static void touch(const char *path, mode_t mode)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("#!/bin/false\n", f);
    fclose(f);
    chmod(path, mode);
}

TEST(machine_table)
{
    const struct qemu_machine *m = qemu_machine_for("aarch64");
    REQUIRE(m);
    CHECK_STR(m->binary, "qemu-system-aarch64");
    CHECK_STR(m->console, "ttyAMA0");
    CHECK(m->disks_reversed);
    CHECK(qemu_machine_for("arm64") == m); /* the OCI name is the same machine */
    const struct qemu_machine *x = qemu_machine_for("amd64");
    REQUIRE(x);
    CHECK_STR(x->binary, "qemu-system-x86_64");
    CHECK_EQ(x->transports, QEMU_MICROVM_TRANSPORTS);
    CHECK(qemu_machine_for("riscv64") == NULL);
    CHECK(qemu_machine_for(NULL) == qemu_machine_for(host_machine()));
    CHECK(qemu_machine_is_host(qemu_machine_for(NULL)));
    CHECK(!qemu_machine_is_host(qemu_machine_for(strcmp(host_machine(), "x86_64") ? "x86_64"
                                                                                 : "aarch64")));
}

TEST(argv_for_an_arm64_box)
{
    const char *dir = harness_tmpdir();
    char d0[512], d1[512];
    snprintf(d0, sizeof d0, "%s/root.img", dir);
    snprintf(d1, sizeof d1, "%s/data.img", dir);
    touch(d0, 0644);
    touch(d1, 0644);
    struct vmm_disk_cfg disks[2] = { {.path = d0, .format = "raw"}, {.path = d1, .format = "raw"} };
    struct vmm_config cfg = { .kernel = "/Image", .initrd = "/i", .cpus = 2, .memory_mib = 256,
                              .arch = "aarch64", .disks = disks, .ndisks = 2,
                              .cmdline = "loglevel=3", .balloon_reporting = true };
    struct qemu_launch l = {.binary = "/usr/bin/qemu-system-aarch64", .qmp_fd = 3,
                            .agent_fd = 4, .net_fd = -1};
    char **argv = NULL;
    struct bl_error err = {0};
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK_STR(argv[0], "/usr/bin/qemu-system-aarch64");
    CHECK_STR(after(argv, "-M"), "virt,gic-version=3,acpi=off,mem-merge=off");
    CHECK_STR(after(argv, "-cpu"), "max");
    CHECK_STR(after(argv, "-accel"), "tcg");
    CHECK_STR(after(argv, "-kernel"), "/Image");
    CHECK_STR(after(argv, "-append"), "console=ttyAMA0 " QEMU_GUEST_CMDLINE_REST " loglevel=3");
    /* the rootfs (disk 0) last on the command line: the lowest transport, /dev/vda */
    int i0 = argv_index(argv, "virtio-blk-device,drive=disk0");
    int i1 = argv_index(argv, "virtio-blk-device,drive=disk1");
    CHECK(i0 > 0 && i1 > 0 && i1 < i0);
    CHECK(argv_index(argv, "virtio-balloon-device,id=balloon0,free-page-reporting=on") > 0);
    qemu_argv_free(argv);

    /* -M virt has 32 transports: 6 disks still leave the balloon its slot */
    struct vmm_disk_cfg six[6];
    for (int i = 0; i < 6; i++)
        six[i] = (struct vmm_disk_cfg){.path = d0, .format = "raw"};
    cfg.disks = six;
    cfg.ndisks = 6;
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK(argv_index(argv, "virtio-balloon-device,id=balloon0,free-page-reporting=on") > 0);
    CHECK(argv_index(argv, "virtio-blk-device,drive=disk5") <
          argv_index(argv, "virtio-blk-device,drive=disk0"));
    qemu_argv_free(argv);

    /* an architecture QEMU has no machine for here */
    cfg.arch = "riscv64";
    CHECK(qemu_build_argv(&cfg, &l, &argv, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "riscv64") != NULL);
}

TEST(argv_for_an_x86_64_box_is_unchanged)
{
    struct vmm_config cfg = { .kernel = "/k", .initrd = "/i", .cpus = 1, .memory_mib = 512,
                              .arch = "x86_64" };
    struct qemu_launch l = {.binary = "/q", .qmp_fd = 3, .agent_fd = 4, .net_fd = -1};
    char **argv = NULL;
    struct bl_error err = {0};
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK_STR(after(argv, "-M"), "microvm,acpi=off,x-option-roms=off,mem-merge=off");
    CHECK_STR(after(argv, "-append"), QEMU_GUEST_CMDLINE);
    qemu_argv_free(argv);
}

TEST(binary_for_the_box_arch)
{
    const char *dir = harness_tmpdir();
    char bin[512], path[4096], why[512];
    snprintf(bin, sizeof bin, "%s/bin", dir);
    mkdir(bin, 0755);
    char x86[600], arm[600];
    snprintf(x86, sizeof x86, "%s/qemu-system-x86_64", bin);
    snprintf(arm, sizeof arm, "%s/qemu-system-aarch64", bin);
    touch(x86, 0755);
    const char *foreign = strcmp(host_machine(), "x86_64") ? "x86_64" : "aarch64";
    const char *foreign_bin = strcmp(host_machine(), "x86_64") ? x86 : arm;
    const char *host_bin = strcmp(host_machine(), "x86_64") ? arm : x86;
    touch(host_bin, 0755);

    /* the configured binary is the host architecture's; another box's is its sibling */
    qemu_use_binary(host_bin);
    qemu_use_arch(foreign);
    unlink(foreign_bin);
    setenv("PATH", "/nonexistent", 1);
    CHECK(!qemu_find_binary(path, sizeof path, why, sizeof why));
    CHECK(strstr(why, qemu_machine()->binary) != NULL);
    CHECK(strstr(why, qemu_machine()->package) != NULL);
    touch(foreign_bin, 0755);
    REQUIRE(qemu_find_binary(path, sizeof path, why, sizeof why));
    CHECK_STR(path, foreign_bin);
    /* ...or on PATH */
    qemu_use_binary(NULL);
    unsetenv("BOXLITE_QEMU");
    setenv("PATH", bin, 1);
    REQUIRE(qemu_find_binary(path, sizeof path, why, sizeof why));
    CHECK_STR(path, foreign_bin);
    /* a box of the host's architecture keeps the configured one */
    qemu_use_arch(NULL);
    qemu_use_binary(host_bin);
    REQUIRE(qemu_find_binary(path, sizeof path, why, sizeof why));
    CHECK_STR(path, host_bin);
    qemu_use_binary(NULL);
}

TEST(config_arch)
{
    struct vmm_config c;
    struct bl_error e = {0};
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"arch\": \"arm64\"}", &e) == 0);
    CHECK_STR(c.arch, "aarch64"); /* the OCI name, normalised */
    vmm_config_free(&c);
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"arch\": \"x86_64\"}", &e) == 0);
    CHECK_STR(c.arch, "x86_64");
    vmm_config_free(&c);
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\"}", &e) == 0);
    CHECK(c.arch == NULL); /* the host's */
    vmm_config_free(&c);
    CHECK(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"arch\": \"riscv64\"}", &e) < 0);
    CHECK(strstr(e.msg, "arch") != NULL);
    CHECK(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"arch\": 64}", &e) < 0);
    CHECK(strstr(e.msg, "arch") != NULL);
}
