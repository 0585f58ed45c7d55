// SPDX-License-Identifier: Apache-2.0
/* The per-box process's config: good files parse into the struct, and every kind of bad
 * input is refused with a message that names the key at fault. */
#include "harness/harness.h"
#include "vmm/config.h"

#include <stdio.h>
#include <string.h>

static const char *full =
    "{\"engine\": \"kvm\", \"kernel\": \"/k/vmlinux\", \"initrd\": \"/k/initrd\","
    " \"cmdline\": \"quiet\", \"cpus\": 2, \"memory_mib\": 4096,"
    " \"disks\": [{\"path\": \"/b/disk.qcow2\", \"readonly\": false}, {\"path\": \"/b/ro.raw\","
    " \"readonly\": true}],"
    " \"shares\": [{\"tag\": \"vol0\", \"path\": \"/host/dir\", \"readonly\": true}],"
    " \"network\": {\"enabled\": true, \"ports\": [{\"proto\": \"tcp\", \"host_addr\":"
    " \"127.0.0.1\", \"host_port\": 8080, \"guest_port\": 80}, {\"proto\": \"udp\","
    " \"guest_port\": 53}]},"
    " \"console_log\": \"/b/console.log\", \"box_socket\": \"/b/box.sock\","
    " \"ready_file\": \"/b/ready\"}";

TEST(config_full)
{
    struct vmm_config c;
    struct bl_error e = { 0 };
    REQUIRE(vmm_config_parse(&c, full, &e) == 0);
    CHECK_STR(c.engine, "kvm");
    CHECK_STR(c.kernel, "/k/vmlinux");
    CHECK_STR(c.initrd, "/k/initrd");
    CHECK_STR(c.cmdline, "quiet");
    CHECK_EQ(c.cpus, 2);
    CHECK_EQ(c.memory_mib, 4096);
    REQUIRE(c.ndisks == 2);
    CHECK_STR(c.disks[0].path, "/b/disk.qcow2");
    CHECK(!c.disks[0].readonly);
    CHECK(c.disks[1].readonly);
    REQUIRE(c.nshares == 1);
    CHECK_STR(c.shares[0].tag, "vol0");
    CHECK_STR(c.shares[0].path, "/host/dir");
    CHECK(c.shares[0].readonly);
    CHECK(c.network);
    REQUIRE(c.nports == 2);
    CHECK(!c.ports[0].udp);
    CHECK_STR(c.ports[0].host_addr, "127.0.0.1");
    CHECK_EQ(c.ports[0].host_port, 8080);
    CHECK_EQ(c.ports[0].guest_port, 80);
    CHECK(c.ports[1].udp);
    CHECK_STR(c.ports[1].host_addr, "127.0.0.1"); /* the default */
    CHECK_EQ(c.ports[1].host_port, 0);
    CHECK_STR(c.console_log, "/b/console.log");
    CHECK_STR(c.box_socket, "/b/box.sock");
    CHECK_STR(c.ready_file, "/b/ready");
    vmm_config_free(&c);
    CHECK(c.kernel == NULL);
    vmm_config_free(&c); /* twice is harmless */
}

TEST(config_defaults)
{
    struct vmm_config c;
    struct bl_error e = { 0 };
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\"}", &e) == 0);
    CHECK_STR(c.engine, "auto");
    CHECK_EQ(c.cpus, 1);
    CHECK_EQ(c.memory_mib, 512);
    CHECK(c.initrd == NULL && c.cmdline == NULL && c.console_log == NULL);
    CHECK_EQ(c.ndisks, 0);
    CHECK_EQ(c.nshares, 0);
    CHECK(!c.network);
    vmm_config_free(&c);
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"cmdline\": \"\", \"initrd\": null}",
                             &e) == 0);
    CHECK_STR(c.cmdline, "");
    vmm_config_free(&c);
}

/* Each bad input must fail with BOXLITE_ERR_INVALID and a message containing `needle`. */
static void expect_bad(const char *json, const char *needle)
{
    struct vmm_config c;
    struct bl_error e = { 0 };
    int r = vmm_config_parse(&c, json, &e);
    if (r != -BOXLITE_ERR_INVALID) {
        harness_fail(__FILE__, __LINE__, "accepted or wrong code %d: %s", r, json);
        if (r == 0)
            vmm_config_free(&c);
        return;
    }
    if (!strstr(e.msg, needle))
        harness_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", e.msg, needle);
    CHECK(c.kernel == NULL && c.disks == NULL); /* nothing left behind */
}

TEST(config_bad)
{
    expect_bad("", "line");
    expect_bad("{\"kernel\": \"/k\"", "line");
    expect_bad("[]", "top level");
    expect_bad("{}", "kernel");
    expect_bad("{\"kernel\": \"/k\", \"kernal\": \"/x\"}", "unknown key \"kernal\"");
    expect_bad("{\"kernel\": \"/k\", \"kernel\": \"/y\"}", "duplicate");
    expect_bad("{\"kernel\": 5}", "kernel: must be a string");
    expect_bad("{\"kernel\": \"\"}", "kernel: must not be empty");
    expect_bad("{\"kernel\": \"/k\\u0000x\"}", "NUL");
    expect_bad("{\"kernel\": \"/k\", \"engine\": \"xen\"}", "engine");
    expect_bad("{\"kernel\": \"/k\", \"cpus\": 0}", "cpus: 0 is outside");
    expect_bad("{\"kernel\": \"/k\", \"cpus\": 65}", "cpus");
    expect_bad("{\"kernel\": \"/k\", \"cpus\": -1}", "cpus");
    expect_bad("{\"kernel\": \"/k\", \"cpus\": 1.5}", "cpus: must be an integer");
    expect_bad("{\"kernel\": \"/k\", \"memory_mib\": 1}", "memory_mib");
    expect_bad("{\"kernel\": \"/k\", \"memory_mib\": \"512\"}", "memory_mib");
    expect_bad("{\"kernel\": \"/k\", \"disks\": {}}", "disks: must be an array");
    expect_bad("{\"kernel\": \"/k\", \"disks\": [1]}", "disks[0]: must be an object");
    expect_bad("{\"kernel\": \"/k\", \"disks\": [{\"readonly\": true}]}", "disks[0]");
    expect_bad("{\"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\"}, {\"path\": \"/b\", "
               "\"ro\": 1}]}",
               "disks[1]: unknown key \"ro\"");
    expect_bad("{\"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"readonly\": 1}]}",
               "disks[0].readonly");
    expect_bad("{\"kernel\": \"/k\", \"shares\": [{\"tag\": \"a b\", \"path\": \"/x\"}]}",
               "tag");
    expect_bad("{\"kernel\": \"/k\", \"shares\": [{\"tag\": \"a\", \"path\": \"/x\"}, "
               "{\"tag\": \"a\", \"path\": \"/y\"}]}",
               "duplicate");
    expect_bad("{\"kernel\": \"/k\", \"network\": true}", "network: must be an object");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"on\": true}}",
               "network: unknown key \"on\"");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"ports\": [{\"guest_port\": 80}]}}",
               "enabled");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, \"ports\": "
               "[{\"guest_port\": 80, \"proto\": \"sctp\"}]}}",
               "proto");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, \"ports\": "
               "[{\"guest_port\": 70000}]}}",
               "network.ports[0].guest_port");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, \"ports\": "
               "[{\"host_port\": 80}]}}",
               "guest_port");
}

TEST(config_network_policy)
{
    struct vmm_config c;
    struct bl_error e = { 0 };
    REQUIRE(vmm_config_parse(&c,
        "{\"kernel\": \"/k\", \"network\": {\"enabled\": true,"
        " \"allow_net\": [\"198.51.100.0/24\", \"api.example.com:443\"],"
        " \"deny_net\": [\"[2001:db8::1]:25\"],"
        " \"allow_host\": [{\"port\": 5432}, {\"port\": 53, \"proto\": \"udp\"}]}}",
        &e) == 0);
    REQUIRE(c.nallow_net == 2 && c.ndeny_net == 1 && c.nallow_host == 2);
    CHECK_EQ(c.allow_net[0].kind, NET_RULE_ADDR);
    CHECK_EQ(c.allow_net[0].prefix, 24);
    CHECK_EQ(c.allow_net[1].kind, NET_RULE_NAME);
    CHECK_STR(c.allow_net[1].name, "api.example.com");
    CHECK_EQ(c.allow_net[1].port, 443);
    CHECK_EQ(c.deny_net[0].port, 25);
    CHECK(!c.allow_host[0].udp && c.allow_host[0].port == 5432);
    CHECK(c.allow_host[1].udp && c.allow_host[1].port == 53);
    CHECK(!c.mac_set);
    vmm_config_free(&c);
    /* a fork's MAC (pause.c, KVM engine's virtio-net config space) */
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"network\": {\"enabled\": true,"
                                 " \"mac\": \"06:a1:b2:c3:d4:e5\"}}", &e) == 0);
    CHECK(c.mac_set);
    CHECK(c.mac[0] == 0x06 && c.mac[5] == 0xe5);
    vmm_config_free(&c);
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, "
               "\"mac\": \"01:00:5e:00:00:01\"}}", "network.mac: must be a unicast MAC");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, "
               "\"mac\": \"06:a1:b2:c3:d4\"}}", "network.mac: must be a unicast MAC");

    /* a NIC in a network namespace (src/vmm/net/netns.h): a path, and nothing of slirp's */
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"network\": {\"enabled\": true,"
                                 " \"netns\": \"/run/netns/cni-1\"}}", &e) == 0);
    CHECK_STR(c.netns, "/run/netns/cni-1");
    vmm_config_free(&c);
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, \"netns\": \"cni-1\"}}",
               "network.netns: must be an absolute path");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": false, \"netns\": \"/n\"}}",
               "network.netns: must be an absolute path, with \"enabled\": true");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, \"netns\": \"/n\","
               " \"ports\": [{\"guest_port\": 80}]}}", "network.netns: takes no ports");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, \"netns\": \"/n\","
               " \"allow_host\": [{\"port\": 80}]}}", "network.netns: takes no ports");

    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, "
               "\"allow_net\": [\"198.51.100.7\", \"a..b\"]}}",
               "network.allow_net[1]: \"a..b\": empty label");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, "
               "\"deny_net\": [\"127.0.0.1\"]}}",
               "network.deny_net[0]: \"127.0.0.1\": is the host's loopback");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, "
               "\"allow_net\": \"198.51.100.7\"}}",
               "network.allow_net: must be an array");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, "
               "\"allow_net\": [7]}}",
               "network.allow_net[0]: must be a string");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, "
               "\"allow_host\": [{\"port\": 0}]}}",
               "network.allow_host[0].port");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, "
               "\"allow_host\": [{\"port\": 80, \"proto\": \"icmp\"}]}}",
               "network.allow_host[0]: \"proto\"");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": true, "
               "\"allow_host\": [{\"proto\": \"udp\"}]}}",
               "\"port\" is required");
    expect_bad("{\"kernel\": \"/k\", \"network\": {\"enabled\": false, "
               "\"allow_net\": [\"198.51.100.7\"]}}",
               "need \"enabled\": true");
}

TEST(config_load_file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/vmm.json", harness_tmpdir());
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs(full, f);
    fclose(f);
    struct vmm_config c;
    struct bl_error e = { 0 };
    REQUIRE(vmm_config_load(&c, path, &e) == 0);
    CHECK_EQ(c.memory_mib, 4096);
    vmm_config_free(&c);

    f = fopen(path, "w");
    REQUIRE(f);
    fputs("{\"kernel\": \"/k\", \"bogus\": 1}", f);
    fclose(f);
    CHECK(vmm_config_load(&c, path, &e) == -BOXLITE_ERR_INVALID);
    CHECK(strstr(e.msg, path) != NULL);
    CHECK(strstr(e.msg, "bogus") != NULL);

    snprintf(path, sizeof path, "%s/missing.json", harness_tmpdir());
    CHECK(vmm_config_load(&c, path, &e) == -BOXLITE_ERR_NOT_FOUND);
    CHECK(strstr(e.msg, "missing.json") != NULL);
}

TEST(disk_format_is_raw_or_qcow2)
{
    struct vmm_config cfg;
    struct bl_error err = { 0 };
    const char *good = "{\"kernel\":\"/k\",\"disks\":[{\"path\":\"/d\",\"format\":\"qcow2\"}]}";
    REQUIRE(vmm_config_parse(&cfg, good, &err) == 0);
    CHECK_STR(cfg.disks[0].format, "qcow2");
    vmm_config_free(&cfg);
    const char *bad = "{\"kernel\":\"/k\",\"disks\":[{\"path\":\"/d\",\"format\":\"vmdk\"}]}";
    CHECK(vmm_config_parse(&cfg, bad, &err) < 0);
    CHECK(strstr(err.msg, "format") != NULL);
}

/* The jail's object (src/vmm/jail/jail.h): on by default, its keys checked like the rest. */
TEST(config_jail)
{
    struct vmm_config c;
    struct bl_error e = { 0 };
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\"}", &e) == 0);
    CHECK(!c.jail.disabled);
    CHECK_EQ(c.jail.uid, 65534);
    CHECK_EQ(c.jail.gid, 65534);
    CHECK(c.jail.cgroup == NULL);
    CHECK(!c.jail.cgroup_nested);
    vmm_config_free(&c);
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"jail\": {\"enabled\": true, \"uid\": 1000,"
                                 " \"gid\": 100, \"cgroup\": \"boxlite/abc\", \"memory_mib\": 640,"
                                 " \"pids\": 64, \"cgroup_nested\": true}}", &e) == 0);
    CHECK(c.jail.cgroup_nested);
    CHECK_EQ(c.jail.uid, 1000);
    CHECK_EQ(c.jail.gid, 100);
    CHECK_STR(c.jail.cgroup, "boxlite/abc");
    CHECK_EQ(c.jail.memory_mib, 640);
    CHECK_EQ(c.jail.pids, 64);
    vmm_config_free(&c);
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"jail\": {\"enabled\": false}}", &e) == 0);
    CHECK(c.jail.disabled);
    CHECK_EQ(c.jail.uid_count, 0);
    vmm_config_free(&c);
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"jail\": {\"uid_range\": {\"first\": 200000,"
                                 " \"count\": 16, \"locks\": \"/home/x/jail-uids\"}}}", &e) == 0);
    CHECK_EQ(c.jail.uid_first, 200000);
    CHECK_EQ(c.jail.uid_count, 16);
    CHECK_STR(c.jail.uid_locks, "/home/x/jail-uids");
    vmm_config_free(&c);
    static const struct { const char *json, *says; } bad[] = {
        { "{\"kernel\": \"/k\", \"jail\": {\"uid\": 0}}", "jail.uid" },       /* never root */
        { "{\"kernel\": \"/k\", \"jail\": {\"gid\": -1}}", "jail.gid" },
        { "{\"kernel\": \"/k\", \"jail\": {\"cgroup\": \"../x\"}}", "jail.cgroup" },
        { "{\"kernel\": \"/k\", \"jail\": {\"cgroup\": \"/abs\"}}", "jail.cgroup" },
        { "{\"kernel\": \"/k\", \"jail\": {\"enabled\": 1}}", "jail.enabled" },
        { "{\"kernel\": \"/k\", \"jail\": {\"cgroup_nested\": \"yes\"}}", "jail.cgroup_nested" },
        { "{\"kernel\": \"/k\", \"jail\": {\"chroot\": \"/x\"}}", "chroot" },
        { "{\"kernel\": \"/k\", \"jail\": []}", "jail" },
        { "{\"kernel\": \"/k\", \"jail\": {\"uid_range\": {\"first\": 0, \"count\": 1,"
          " \"locks\": \"/l\"}}}", "jail.uid_range.first" },             /* never root */
        { "{\"kernel\": \"/k\", \"jail\": {\"uid_range\": {\"first\": 4294967290,"
          " \"count\": 9, \"locks\": \"/l\"}}}", "jail.uid_range" },     /* past the last uid */
        { "{\"kernel\": \"/k\", \"jail\": {\"uid_range\": {\"first\": 1000, \"count\": 1,"
          " \"locks\": \"rel\"}}}", "jail.uid_range.locks" },
        { "{\"kernel\": \"/k\", \"jail\": {\"uid_range\": {\"first\": 1000, \"count\": 0,"
          " \"locks\": \"/l\"}}}", "jail.uid_range.count" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e.msg[0] = 0;
        CHECK(vmm_config_parse(&c, bad[i].json, &e) < 0);
        if (!strstr(e.msg, bad[i].says))
            harness_fail(__FILE__, __LINE__, "%s: message \"%s\" does not name %s", bad[i].json,
                         e.msg, bad[i].says);
    }
}

TEST(config_logs_and_health)
{
    struct vmm_config cfg;
    struct bl_error err = {0};
    REQUIRE(vmm_config_parse(&cfg, "{\"kernel\": \"/k\"}", &err) == 0);
    CHECK_EQ(cfg.log_max_bytes, 1 << 20);
    CHECK_EQ(cfg.log_files, 2);
    CHECK(cfg.health == NULL);
    CHECK(!cfg.console_pipe);
    vmm_config_free(&cfg);
    REQUIRE(vmm_config_parse(&cfg,
        "{\"kernel\": \"/k\", \"vmm_log\": \"/b/vmm.log\", \"log_max_bytes\": 4096,"
        " \"log_files\": 5, \"health\": {\"argv\": [\"/bin/sh\", \"-c\", \"true\"],"
        " \"env\": [\"A=1\"], \"interval_ms\": 1000, \"retries\": 2}}", &err) == 0);
    CHECK_STR(cfg.vmm_log, "/b/vmm.log");
    CHECK_EQ(cfg.log_max_bytes, 4096);
    CHECK_EQ(cfg.log_files, 5);
    REQUIRE(cfg.health);
    CHECK_STR(cfg.health->argv[2], "true");
    CHECK(cfg.health->argv[3] == NULL);
    CHECK_STR(cfg.health->env[0], "A=1");
    CHECK_EQ(cfg.health->interval_ms, 1000);
    CHECK_EQ(cfg.health->timeout_ms, 30000);
    CHECK_EQ(cfg.health->retries, 2);
    vmm_config_free(&cfg);
    expect_bad("{\"kernel\": \"/k\", \"log_max_bytes\": 100}", "log_max_bytes");
    expect_bad("{\"kernel\": \"/k\", \"log_files\": 0}", "log_files");
    expect_bad("{\"kernel\": \"/k\", \"log_files\": 101}", "log_files");
    expect_bad("{\"kernel\": \"/k\", \"health\": {}}", "health.argv");
    expect_bad("{\"kernel\": \"/k\", \"health\": {\"argv\": [1]}}", "health.argv");
    expect_bad("{\"kernel\": \"/k\", \"health\": {\"argv\": [\"x\"], \"interval_ms\": 5}}",
               "health.interval_ms");
    expect_bad("{\"kernel\": \"/k\", \"health\": {\"argv\": [\"x\"], \"every\": 5}}",
               "unknown key \"every\"");
}

/* qemu_binary: the runtime's QEMU, an absolute path (the process changes folders and root). */
TEST(config_qemu_binary)
{
    struct vmm_config c;
    struct bl_error e = { 0 };
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\"}", &e) == 0);
    CHECK(c.qemu_binary == NULL);
    vmm_config_free(&c);
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"qemu_binary\": \"/opt/q/qemu\"}", &e) == 0);
    CHECK_STR(c.qemu_binary, "/opt/q/qemu");
    vmm_config_free(&c);
    expect_bad("{\"kernel\": \"/k\", \"qemu_binary\": \"qemu-system-x86_64\"}",
               "qemu_binary: must be an absolute path");
    expect_bad("{\"kernel\": \"/k\", \"qemu_binary\": \"\"}", "qemu_binary: must not be empty");
    expect_bad("{\"kernel\": \"/k\", \"qemu_binary\": 1}", "qemu_binary: must be a string");
}

/* "balloon", "ksm", "tcg_tb_mib" (docs/protocol.md "Balloon"): reporting on and KSM off by
 * default; a target is 0 or 32..memory_mib. */
TEST(config_density)
{
    struct vmm_config c;
    struct bl_error e = { 0 };
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\"}", &e) == 0);
    CHECK(c.balloon_reporting);
    CHECK_EQ(c.balloon_target_mib, 0);
    CHECK(!c.ksm);
    CHECK_EQ(c.tcg_tb_mib, 0);
    vmm_config_free(&c);
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"memory_mib\": 256, \"balloon\": "
                                 "{\"free_page_reporting\": false, \"target_mib\": 128}, "
                                 "\"ksm\": true, \"tcg_tb_mib\": 8}", &e) == 0);
    CHECK(!c.balloon_reporting);
    CHECK_EQ(c.balloon_target_mib, 128);
    CHECK(c.ksm);
    CHECK_EQ(c.tcg_tb_mib, 8);
    vmm_config_free(&c);
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"memory_mib\": 256, \"balloon\": "
                                 "{\"target_mib\": 256}}", &e) == 0);
    CHECK_EQ(c.balloon_target_mib, 256); /* all of it: an empty balloon */
    CHECK(c.balloon_reporting);
    vmm_config_free(&c);
    expect_bad("{\"kernel\": \"/k\", \"balloon\": {\"target_mib\": 16}}",
               "balloon.target_mib: 16 is out of range (0 = none, or 32..512");
    expect_bad("{\"kernel\": \"/k\", \"memory_mib\": 256, \"balloon\": {\"target_mib\": 257}}",
               "out of range (0 = none, or 32..256");
    expect_bad("{\"kernel\": \"/k\", \"balloon\": {\"target\": 64}}", "unknown key \"target\"");
    expect_bad("{\"kernel\": \"/k\", \"balloon\": true}", "balloon: must be an object");
    expect_bad("{\"kernel\": \"/k\", \"balloon\": {\"free_page_reporting\": 1}}",
               "balloon.free_page_reporting: must be true or false");
    expect_bad("{\"kernel\": \"/k\", \"ksm\": \"yes\"}", "ksm: must be true or false");
    expect_bad("{\"kernel\": \"/k\", \"tcg_tb_mib\": 4096}", "tcg_tb_mib");
    expect_bad("{\"kernel\": \"/k\", \"tcg_tb_mib\": -1}", "tcg_tb_mib");
}

/* shares[].rootfs: a container's root folder (boxlite-runtime), served as the host laid it out */
TEST(share_rootfs_flag)
{
    struct vmm_config c;
    struct bl_error e = { 0 };
    REQUIRE(vmm_config_parse(&c, "{\"kernel\": \"/k\", \"shares\": [{\"tag\": \"rootfs\","
                                 " \"path\": \"/b/rootfs\", \"rootfs\": true}, {\"tag\": \"vol0\","
                                 " \"path\": \"/v\"}]}", &e) == 0);
    REQUIRE(c.nshares == 2);
    CHECK(c.shares[0].rootfs && !c.shares[0].readonly);
    CHECK(!c.shares[1].rootfs);
    vmm_config_free(&c);
    expect_bad("{\"kernel\": \"/k\", \"shares\": [{\"tag\": \"a\", \"path\": \"/x\", \"rootfs\": 1}]}",
               "rootfs");
}
