// SPDX-License-Identifier: Apache-2.0
/* A wide box's user namespace and capabilities (src/vmm/jail/userns.c, caps.c; jail_int.h):
 * the range of host uids per jail uid, the map the namespace gets, and what QEMU keeps in it:
 * CHOWN, DAC_OVERRIDE and FOWNER across an exec, acting on files whose owner is mapped
 * (the idmapped shares) and on nothing owned by the host's root. Needs root (tests run so). */
#include "harness/harness.h"

#include "vmm/jail/jail_int.h"
#include "common/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(ranges_are_disjoint_above_2_31_and_end_below_2_32)
{
    CHECK_EQ(jail_range_first(65534), 0x80000000u); /* the default jail uid */
    CHECK_EQ(jail_range_first(200000), 0x80000000u + 3398u * 65536u);
    /* one BOXLITE_JAIL_UIDS range of up to 32767 uids: all disjoint */
    static uint8_t seen[32767];
    int clash = 0, low = 0, high = 0;
    for (uint32_t u = 200000; u < 200000 + 32767; u++) {
        uint32_t r = jail_range_first(u);
        uint32_t slot = (r - JAIL_RANGE_BASE) / JAIL_RANGE;
        clash += seen[slot]++ != 0;
        low += r < 0x80000000u;
        high += (uint64_t)r + JAIL_RANGE > 0xffff0000ull;
    }
    CHECK_EQ(clash, 0);
    CHECK_EQ(low, 0);
    CHECK_EQ(high, 0);
    CHECK(jail_range_first(0xfffffffeu) + (uint64_t)JAIL_RANGE <= 0xffff0000ull);
}

static unsigned long long status_hex(const char *key)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long v = ~0ull;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key)))
            v = strtoull(line + strlen(key), NULL, 16);
    if (f)
        fclose(f);
    return v;
}

static void slurp(const char *path, char *buf, size_t len)
{
    buf[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, len - 1);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
}

static void put(const char *path, uid_t uid, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd >= 0) {
        (void)!write(fd, "x\n", 2);
        fchown(fd, uid, uid);
        fchmod(fd, mode);
        close(fd);
    }
}

/* The VMM's steps (jail.c, a wide box), then what an exec'd program (QEMU) can do. */
TEST(qemu_keeps_three_capabilities_over_mapped_files_only)
{
    if (geteuid() != 0)
        harness_skip("needs root; proven by tests/e2e/oci_process.sh");
    const uint32_t R = jail_range_first(65534);
    const char *d = harness_tmpdir();
    REQUIRE(chmod(d, 0755) == 0);
    char mapped[600], hostroot[600], out[600], script[2400];
    snprintf(mapped, sizeof mapped, "%s/mapped", d);     /* the container's 1000 */
    snprintf(hostroot, sizeof hostroot, "%s/hostroot", d); /* the host's root */
    snprintf(out, sizeof out, "%s/out", d);
    put(mapped, R + 1000, 0600);
    put(hostroot, 0, 0600);
    put(out, R, 0644);

    int ns = userns_idmap_fd(0, R, 0, R, JAIL_RANGE);
    REQUIRE(ns >= 0);
    REQUIRE(setns(ns, CLONE_NEWUSER) == 0);
    close(ns);
    char map[128];
    slurp("/proc/self/uid_map", map, sizeof map);
    unsigned a = 1, b = 0, c = 0;
    CHECK(sscanf(map, "%u %u %u", &a, &b, &c) == 3 && a == 0 && b == R && c == JAIL_RANGE);

    struct bl_error err = { 0 };
    REQUIRE(jail_caps_bound(JAIL_FS_CAPS, &err) == 0);
    REQUIRE(setgroups(0, NULL) == 0 && setresgid(0, 0, 0) == 0 && setresuid(0, 0, 0) == 0);
    REQUIRE(jail_caps_set(JAIL_FS_CAPS, &err) == 0);
    REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK_EQ(status_hex("CapBnd:"), 0xbull); /* CHOWN 0, DAC_OVERRIDE 1, FOWNER 3 */
    CHECK_EQ(status_hex("CapPrm:"), 0xbull);
    CHECK_EQ(status_hex("CapInh:"), 0xbull);
    CHECK_EQ(status_hex("CapEff:"), 0ull); /* the VMM uses none itself */
    jail_caps_ambient(JAIL_FS_CAPS);
    CHECK_EQ(status_hex("CapAmb:"), 0xbull);

    /* The exec'd program: its capabilities, then each operation's result (0 or 1). */
    snprintf(script, sizeof script,
             "exec >%s 2>/dev/null; grep CapEff /proc/self/status | tr -d '\\t'; "
             "cat %s >/dev/null; echo read-mapped $?; chown 1234:1234 %s; echo chown-mapped $?; "
             "cat %s >/dev/null; echo read-hostroot $?; chown 1234 %s; echo chown-hostroot $?; "
             "chown 70000 %s; echo chown-unmapped-uid $?; chmod 644 %s; echo chmod-hostroot $?",
             out, mapped, mapped, hostroot, hostroot, mapped, hostroot);
    pid_t p = fork();
    REQUIRE(p >= 0);
    if (p == 0) {
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    char got[512];
    slurp(out, got, sizeof got);
    CHECK_STR(got, "CapEff:000000000000000b\nread-mapped 0\nchown-mapped 0\nread-hostroot 1\n"
                   "chown-hostroot 1\nchown-unmapped-uid 1\nchmod-hostroot 1\n");
    /* seen from the namespace: host R+1234 is 1234, host root is unmapped (overflow uid) */
    struct stat sm, sh;
    CHECK(stat(mapped, &sm) == 0 && sm.st_uid == 1234 && sm.st_gid == 1234);
    CHECK(stat(hostroot, &sh) == 0 && sh.st_uid == 65534 && (sh.st_mode & 0777) == 0600);
}
