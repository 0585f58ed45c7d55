// SPDX-License-Identifier: Apache-2.0
/* The QEMU engine's parsers and command line, without running QEMU: QMP messages and the
 * line reader, "info usernet" forwards, the pcap counter, and the argv for a config. */
#include "harness/harness.h"
#include "vmm/qemu/qemu.h"
#include "vmm/qemu/qmp.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *s, struct qmp_msg *m)
{
    struct bl_error err = {0};
    return qmp_msg_parse(s, strlen(s), m, &err);
}

TEST(qmp_message_kinds)
{
    struct qmp_msg m;
    REQUIRE(parse("{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}", &m) == 0);
    CHECK_EQ(m.kind, QMP_GREETING);
    qmp_msg_free(&m);
    REQUIRE(parse("{\"return\": {\"status\": \"running\"}}", &m) == 0);
    CHECK_EQ(m.kind, QMP_RETURN);
    CHECK_STR(json_string_value(json_object_get(m.value, "status")), "running");
    qmp_msg_free(&m);
    REQUIRE(parse("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}}", &m) == 0);
    CHECK_EQ(m.kind, QMP_ERROR);
    CHECK_STR(m.error_class, "CommandNotFound");
    CHECK_STR(m.error_desc, "nope");
    qmp_msg_free(&m);
    REQUIRE(parse("{\"timestamp\": {}, \"event\": \"SHUTDOWN\", \"data\": {\"guest\": true}}",
                  &m) == 0);
    CHECK_EQ(m.kind, QMP_EVENT);
    CHECK_STR(m.event, "SHUTDOWN");
    qmp_msg_free(&m);
}

TEST(qmp_malformed_messages)
{
    const char *bad[] = {
        "", "[]", "42", "\"return\"", "{", "{\"return\": 1", "{\"hello\": 1}",
        "{\"error\": 5}", "{\"error\": {\"class\": \"X\"}}", "{\"event\": 7}",
        "{\"event\": \"X\", \"data\": []}", "{\"QMP\": 1}", "{\"return\": 1}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct qmp_msg m;
        struct bl_error err = {0};
        CHECK(qmp_msg_parse(bad[i], strlen(bad[i]), &m, &err) < 0);
        CHECK_EQ(err.code, BOXLITE_ERR_PROTOCOL);
        CHECK(m.json == NULL);
    }
    /* A NUL inside is not JSON text */
    struct qmp_msg m;
    CHECK(qmp_msg_parse("{\"return\": \"a\0b\"}", 17, &m, NULL) < 0);
}

TEST(qmp_reader_splits_and_recovers)
{
    struct qmp_reader r = {0};
    struct qmp_msg m;
    struct bl_error err = {0};
    const char *in = "{\"return\": 1}\r\n\n{\"ret";
    REQUIRE(qmp_reader_feed(&r, in, strlen(in), &err) == 0);
    CHECK_EQ(qmp_reader_next(&r, &m, &err), 1);
    CHECK_EQ(json_integer_value(m.value), 1);
    qmp_msg_free(&m);
    CHECK_EQ(qmp_reader_next(&r, &m, &err), 0); /* half a message */
    const char *rest = "urn\": 2}\nnot json\n{\"return\": 3}\n";
    REQUIRE(qmp_reader_feed(&r, rest, strlen(rest), &err) == 0);
    CHECK_EQ(qmp_reader_next(&r, &m, &err), 1);
    CHECK_EQ(json_integer_value(m.value), 2);
    qmp_msg_free(&m);
    CHECK(qmp_reader_next(&r, &m, &err) < 0); /* "not json" is consumed */
    CHECK_EQ(qmp_reader_next(&r, &m, &err), 1);
    CHECK_EQ(json_integer_value(m.value), 3);
    qmp_msg_free(&m);
    CHECK_EQ(qmp_reader_next(&r, &m, &err), 0);
    qmp_reader_free(&r);
}

TEST(qmp_reader_refuses_endless_message)
{
    struct qmp_reader r = {0};
    struct qmp_msg m;
    struct bl_error err = {0};
    char *chunk = malloc(65536);
    REQUIRE(chunk);
    memset(chunk, 'x', 65536);
    int rc = 0;
    for (int i = 0; i < 40 && rc == 0; i++) {
        REQUIRE(qmp_reader_feed(&r, chunk, 65536, &err) == 0);
        rc = qmp_reader_next(&r, &m, &err);
    }
    CHECK(rc < 0);
    CHECK(strstr(err.msg, "longer") != NULL);
    CHECK(r.len <= QMP_MAX_MESSAGE);
    free(chunk);
    qmp_reader_free(&r);
}

static bool argv_has(char **argv, const char *s)
{
    for (char **p = argv; *p; p++)
        if (strcmp(*p, s) == 0)
            return true;
    return false;
}

TEST(argv_for_a_config)
{
    const char *dir = harness_tmpdir();
    char qcow[512], raw[512], share[512];
    snprintf(qcow, sizeof qcow, "%s/over,lay.qcow2", dir);
    snprintf(raw, sizeof raw, "%s/data.img", dir);
    snprintf(share, sizeof share, "%s", dir);
    FILE *f = fopen(qcow, "w");
    REQUIRE(f);
    fwrite("QFI\xfb\0\0\0\3", 1, 8, f);
    fclose(f);
    f = fopen(raw, "w");
    REQUIRE(f);
    fwrite("hello", 1, 5, f);
    fclose(f);

    struct vmm_disk_cfg disks[] = {{.path = qcow}, {.path = raw, .readonly = true}};
    struct vmm_share_cfg shares[] = {{.tag = "vol0", .path = share, .readonly = true}};
    struct vmm_port_cfg ports[] = {{.host_addr = "127.0.0.1", .host_port = 0, .guest_port = 80},
                                   {.udp = true, .host_port = 5353, .guest_port = 53}};
    struct vmm_config cfg = {
        .kernel = "/k", .initrd = "/i", .cmdline = "loglevel=3", .cpus = 2, .memory_mib = 384,
        .disks = disks, .ndisks = 2, .shares = shares, .nshares = 1, .network = true,
        .ports = ports, .nports = 2, .console_log = "/box/console.log",
    };
    struct qemu_launch l = {.binary = "/usr/bin/qemu-system-x86_64", .qmp_fd = 3,
                            .agent_fd = 4, .net_fd = 5};
    char **argv = NULL;
    struct bl_error err = {0};
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK(argv_has(argv, "microvm,acpi=off,x-option-roms=off,mem-merge=off"));
    CHECK(argv_has(argv, "tcg"));
    CHECK(argv_has(argv, "-nodefaults"));
    CHECK(argv_has(argv, "-no-reboot"));
    CHECK(argv_has(argv, "384M"));
    CHECK(argv_has(argv, "2"));
    CHECK(argv_has(argv, QEMU_GUEST_CMDLINE " loglevel=3"));
    char want[1200];
    snprintf(want, sizeof want,
             "id=disk0,if=none,file=%s/over,,lay.qcow2,format=qcow2,cache=writeback,discard=unmap,"
             "werror=report,rerror=report",
             dir);
    CHECK(argv_has(argv, want));
    snprintf(want, sizeof want,
             "id=disk1,if=none,file=%s,format=raw,cache=writeback,discard=unmap,werror=report,"
             "rerror=report,readonly=on", raw);
    CHECK(argv_has(argv, want));
    /* the network is the per-box process's: QEMU only hands over frames, never -netdev user */
    CHECK(argv_has(argv, "dgram,id=net0,local.type=fd,local.str=5"));
    CHECK(argv_has(argv, "virtio-net-device,netdev=net0"));
    for (char **a = argv; *a; a++)
        CHECK(strncmp(*a, "user", 4) != 0 && !strstr(*a, "hostfwd"));
    snprintf(want, sizeof want, "local,id=fs0,path=%s,security_model=mapped-xattr,readonly=on", share);
    CHECK(argv_has(argv, want));
    CHECK(argv_has(argv, "virtio-9p-device,fsdev=fs0,mount_tag=vol0"));
    CHECK(argv_has(argv, "virtserialport,chardev=agent,name=boxlite.agent"));
    CHECK(argv_has(argv, "socket,id=agent,fd=4"));
    CHECK(argv_has(argv, "file,id=console,path=/box/console.log"));
    CHECK(argv_has(argv, "virtio-rng-device"));
    qemu_argv_free(argv);

    /* the console through the per-box process's pipe (rotated there), not QEMU's own file */
    struct qemu_launch lp = l;
    lp.console_fd = 7;
    REQUIRE(qemu_build_argv(&cfg, &lp, &argv, &err) == 0);
    CHECK(argv_has(argv, "file,id=console,path=/dev/fd/7"));
    CHECK(!argv_has(argv, "file,id=console,path=/box/console.log"));
    qemu_argv_free(argv);

    /* hardware virtualization: KVM acceleration and the host's CPU; no network */
    struct qemu_launch lk = l;
    lk.kvm = true;
    lk.net_fd = -1;
    cfg.network = false;
    REQUIRE(qemu_build_argv(&cfg, &lk, &argv, &err) == 0);
    CHECK(argv_has(argv, "kvm"));
    CHECK(argv_has(argv, "host"));
    CHECK(!argv_has(argv, "tcg"));
    CHECK(!argv_has(argv, "-netdev"));
    qemu_argv_free(argv);
    cfg.network = true;

    /* refusals */
    struct vmm_disk_cfg nodisk[] = {{.path = "/nonexistent/disk"}};
    cfg.disks = nodisk;
    cfg.ndisks = 1;
    CHECK(qemu_build_argv(&cfg, &l, &argv, &err) < 0);
    CHECK(strstr(err.msg, "/nonexistent/disk") != NULL);
    cfg.ndisks = 0;
    struct vmm_share_cfg badtag[] = {{.tag = "a,b", .path = "/"}};
    cfg.shares = badtag;
    CHECK(qemu_build_argv(&cfg, &l, &argv, &err) < 0);
    cfg.nshares = 0;
    cfg.kernel = NULL;
    CHECK(qemu_build_argv(&cfg, &l, &argv, &err) < 0);
}

TEST(missing_binary_is_a_clear_error)
{
    char path[256], why[512];
    setenv("BOXLITE_QEMU", "/nonexistent/qemu", 1);
    CHECK(!qemu_find_binary(path, sizeof path, why, sizeof why));
    CHECK(strstr(why, "/nonexistent/qemu") != NULL);
    CHECK(!engine_qemu_ops.available(why, sizeof why));
    struct vmm_config cfg = {.kernel = "/k", .initrd = "/i", .cpus = 1, .memory_mib = 128};
    struct engine *e = NULL;
    struct bl_error err = {0};
    CHECK(engine_qemu_ops.start(&e, &cfg, &err) < 0);
    CHECK_EQ(err.code, BOXLITE_ERR_ENGINE);
    CHECK(e == NULL);

    /* The configured binary (vmm.json's qemu_binary) comes before BOXLITE_QEMU, */
    setenv("BOXLITE_QEMU", "/bin/true", 1);
    qemu_use_binary("/nonexistent/configured-qemu");
    CHECK(!qemu_find_binary(path, sizeof path, why, sizeof why));
    CHECK(strstr(why, "qemu_binary /nonexistent/configured-qemu") != NULL);
    CHECK(!engine_qemu_ops.available(why, sizeof why));
    CHECK(engine_qemu_ops.start(&e, &cfg, &err) < 0);
    CHECK(strstr(err.msg, "/nonexistent/configured-qemu") != NULL);
    qemu_use_binary("/bin/sh");
    CHECK(qemu_find_binary(path, sizeof path, why, sizeof why));
    CHECK_STR(path, "/bin/sh");
    qemu_use_binary(NULL); /* and "none" gives the environment back */
    CHECK(qemu_find_binary(path, sizeof path, why, sizeof why));
    CHECK_STR(path, "/bin/true");

    unsetenv("BOXLITE_QEMU");
    setenv("PATH", harness_tmpdir(), 1);
    CHECK(!qemu_find_binary(path, sizeof path, why, sizeof why));
    CHECK(strstr(why, "qemu-system-x86_64 is not installed") != NULL);
    CHECK(engine_qemu_ops.start(&e, &cfg, &err) < 0);
    CHECK(strstr(err.msg, "qemu-system-x86_64 is not installed") != NULL);
}

/* Density (docs/protocol.md "Balloon"): the balloon with free page reporting unless turned
 * off, KSM only when asked (QEMU merges by default), the TCG translation cache when sized,
 * and no balloon when the box's devices take every virtio-mmio slot of microvm. */
TEST(argv_for_density)
{
    struct vmm_config cfg = { .kernel = "/k", .initrd = "/i", .cpus = 1, .memory_mib = 512,
                              .balloon_reporting = true };
    struct qemu_launch l = {.binary = "/q", .qmp_fd = 3, .agent_fd = 4, .net_fd = -1};
    char **argv = NULL;
    struct bl_error err = {0};
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK(argv_has(argv, "microvm,acpi=off,x-option-roms=off,mem-merge=off"));
    CHECK(argv_has(argv, "virtio-balloon-device,id=balloon0,free-page-reporting=on"));
    CHECK(argv_has(argv, "tcg")); /* 0: QEMU's own cache size */
    /* free page reporting's order for the guest kernel (and its agent: guest_abi.h), and no
     * legacy ptys (issue 21e) */
    bool order = false, ptys = false;
    for (char **a = argv; *a; a++) {
        order |= strstr(*a, " page_reporting.page_reporting_order=5") != NULL;
        ptys |= strstr(*a, " pty.legacy_count=0") != NULL;
    }
    CHECK(order);
    CHECK(ptys);
    qemu_argv_free(argv);

    cfg.ksm = true;
    cfg.balloon_reporting = false;
    cfg.tcg_tb_mib = 8;
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK(argv_has(argv, "microvm,acpi=off,x-option-roms=off,mem-merge=on"));
    CHECK(argv_has(argv, "virtio-balloon-device,id=balloon0,free-page-reporting=off"));
    CHECK(argv_has(argv, "tcg,tb-size=8"));
    qemu_argv_free(argv);

    /* more devices than microvm's slots: refused, saying so (QEMU's own message names
     * neither); as many as its slots: no balloon, but it starts */
    struct vmm_share_cfg shares[QEMU_MICROVM_TRANSPORTS];
    for (unsigned i = 0; i < QEMU_MICROVM_TRANSPORTS; i++)
        shares[i] = (struct vmm_share_cfg){ .tag = "vol", .path = "/etc" };
    struct vmm_config many = cfg;
    many.shares = shares;
    many.nshares = QEMU_MICROVM_TRANSPORTS - 2; /* + the console's serial and the rng */
    REQUIRE(qemu_build_argv(&many, &l, &argv, &err) == 0);
    CHECK(!argv_has(argv, "virtio-balloon-device,id=balloon0,free-page-reporting=off"));
    qemu_argv_free(argv);
    many.nshares++;
    CHECK(qemu_build_argv(&many, &l, &argv, &err) < 0);
    CHECK(argv == NULL);
    CHECK(strstr(err.msg, "9 virtio devices") && strstr(err.msg, "microvm machine has 8 virtio-mmio slots"));

    /* under KVM acceleration there is no translation cache to size */
    struct qemu_launch lk = l;
    lk.kvm = true;
    REQUIRE(qemu_build_argv(&cfg, &lk, &argv, &err) == 0);
    CHECK(argv_has(argv, "kvm"));
    for (char **a = argv; *a; a++)
        CHECK(!strstr(*a, "tb-size"));
    qemu_argv_free(argv);

    /* 6 disks + serial + rng = 8: microvm has no slot left for the balloon */
    const char *dir = harness_tmpdir();
    char raw[512];
    snprintf(raw, sizeof raw, "%s/d.img", dir);
    FILE *f = fopen(raw, "w");
    REQUIRE(f);
    fclose(f);
    struct vmm_disk_cfg disks[6];
    for (int i = 0; i < 6; i++)
        disks[i] = (struct vmm_disk_cfg){.path = raw, .format = "raw"};
    cfg.disks = disks;
    cfg.ndisks = 6;
    CHECK_EQ(qemu_virtio_devices(&cfg, &l), QEMU_MICROVM_TRANSPORTS);
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    for (char **a = argv; *a; a++)
        CHECK(!strstr(*a, "virtio-balloon-device"));
    qemu_argv_free(argv);
    cfg.ndisks = 5;
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK(argv_has(argv, "virtio-balloon-device,id=balloon0,free-page-reporting=off"));
    qemu_argv_free(argv);
}

/* A shared rootfs (shares[].rootfs) is served with security_model=none: mapped-xattr cannot
 * read the symlinks a host rootfs is full of; volumes keep mapped-xattr. */
TEST(argv_for_a_shared_rootfs)
{
    struct vmm_share_cfg shares[] = {{.tag = "rootfs", .path = "/b/rootfs", .rootfs = true},
                                     {.tag = "vol0", .path = "/v"}};
    struct vmm_config cfg = {.kernel = "/k", .initrd = "/i", .cpus = 1, .memory_mib = 128,
                             .shares = shares, .nshares = 2};
    struct qemu_launch l = {.binary = "/usr/bin/qemu-system-x86_64", .qmp_fd = 3,
                            .agent_fd = 4, .net_fd = -1};
    char **argv = NULL;
    struct bl_error err = {0};
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK(argv_has(argv, "local,id=fs0,path=/b/rootfs,security_model=none"));
    CHECK(argv_has(argv, "virtio-9p-device,fsdev=fs0,mount_tag=rootfs"));
    CHECK(argv_has(argv, "local,id=fs1,path=/v,security_model=mapped-xattr"));
    qemu_argv_free(argv);
}
