// SPDX-License-Identifier: Apache-2.0
/* Memory snapshots on the QEMU engine, without running QEMU: the config's "memory" object
 * (src/vmm/config.c), the command line it gives (guest RAM in a file, shared or private;
 * -incoming defer and -S for a resume), and the engines' contract: the KVM engine has no
 * pause (the per-box process refuses it with UNSUPPORTED naming the engine), QEMU's has.
 * The state file's header (the balloon target kept across a pause). The real pause, resume
 * and fork run in tests/e2e/pause.sh (and the target's in tests/e2e/density.sh). */
#include "harness/harness.h"
#include "vmm/config.h"
#include "vmm/engine.h"
#include "vmm/qemu/qemu.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

static bool argv_has(char **argv, const char *s)
{
    for (char **p = argv; *p; p++)
        if (strcmp(*p, s) == 0)
            return true;
    return false;
}

static int parse(const char *memory, struct vmm_config *cfg, struct bl_error *err)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"kernel\": \"/k\", \"initrd\": \"/i\", \"memory\": %s}",
             memory);
    return vmm_config_parse(cfg, json, err);
}

TEST(memory_config_parses)
{
    struct vmm_config cfg;
    struct bl_error err = {0};
    REQUIRE(parse("{\"file\": \"/b/memory\", \"state\": \"/b/memory.state\", \"incoming\":"
                  " \"/b/memory.state\", \"idle_pause_ms\": 30000, \"restarts\": 3}", &cfg,
                  &err) == 0);
    CHECK_STR(cfg.memory_file, "/b/memory");
    CHECK_STR(cfg.memory_state, "/b/memory.state");
    CHECK_STR(cfg.memory_incoming, "/b/memory.state");
    CHECK(cfg.memory_shared); /* the default: the box's own file */
    CHECK_EQ(cfg.idle_pause_ms, 30000u);
    CHECK_EQ(cfg.memory_restarts, 3u); /* the restart policy's count before the pause */
    vmm_config_free(&cfg);
    REQUIRE(parse("{\"file\": \"/f/memory.base\", \"shared\": false}", &cfg, &err) == 0);
    CHECK(!cfg.memory_shared);
    CHECK(cfg.memory_incoming == NULL);
    vmm_config_free(&cfg);
    REQUIRE(vmm_config_parse(&cfg, "{\"kernel\": \"/k\"}", &err) == 0);
    CHECK(cfg.memory_file == NULL);
    CHECK_EQ(cfg.idle_pause_ms, 0u);
    vmm_config_free(&cfg);
}

TEST(memory_config_bad)
{
    struct {
        const char *memory, *says;
    } bad[] = {
        {"[]", "memory"},
        {"{\"file\": \"memory\"}", "memory.file"},             /* relative */
        {"{\"file\": \"/b/a,b\"}", "memory.file"},             /* a comma ends QEMU's value */
        {"{\"incoming\": \"/b/s\"}", "memory.incoming"},        /* nothing to load it into */
        {"{\"file\": \"/b/m\", \"state\": \"s\"}", "memory.state"},
        {"{\"file\": \"/b/m\", \"shared\": 1}", "shared"},
        {"{\"file\": \"/b/m\", \"idle_pause_ms\": -1}", "idle_pause_ms"},
        {"{\"file\": \"/b/m\", \"restarts\": -1}", "restarts"},
        {"{\"file\": \"/b/m\", \"restarts\": 4294967296}", "restarts"},
        {"{\"file\": \"/b/m\", \"size\": 1}", "size"},           /* unknown key */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct vmm_config cfg;
        struct bl_error err = {0};
        CHECK(parse(bad[i].memory, &cfg, &err) < 0);
        CHECK_EQ(err.code, BOXLITE_ERR_INVALID);
        if (!strstr(err.msg, bad[i].says))
            CHECK_STR(err.msg, bad[i].says);
    }
}

TEST(argv_puts_ram_in_the_file)
{
    struct vmm_config cfg = {.kernel = "/k", .initrd = "/i", .cpus = 1, .memory_mib = 256,
                             .memory_file = "/b/memory", .memory_shared = true};
    struct qemu_launch l = {.binary = "/q", .qmp_fd = 3, .agent_fd = 4, .net_fd = -1};
    char **argv = NULL;
    struct bl_error err = {0};
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK(argv_has(argv, "microvm,acpi=off,x-option-roms=off,mem-merge=off,memory-backend=mem"));
    CHECK(argv_has(argv, "memory-backend-file,id=mem,size=256M,mem-path=/b/memory,share=on"));
    CHECK(!argv_has(argv, "-incoming"));
    CHECK(!argv_has(argv, "-S"));
    CHECK(argv_has(argv, "-kernel") && argv_has(argv, "/k") && argv_has(argv, "/i"));
    qemu_argv_free(argv);

    /* a fork: the frozen file mapped privately, the saved state loaded before it runs */
    cfg.memory_file = "/b/memory.base";
    cfg.memory_shared = false;
    cfg.memory_incoming = "/b/memory.state";
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK(argv_has(argv, "memory-backend-file,id=mem,size=256M,mem-path=/b/memory.base,share=off"));
    CHECK(argv_has(argv, "-incoming"));
    CHECK(argv_has(argv, "defer"));
    CHECK(argv_has(argv, "-S"));
    /* a resume boots nothing: no kernel for QEMU to load and keep (cmdline.c) */
    CHECK(!argv_has(argv, "-kernel") && !argv_has(argv, "-initrd") && !argv_has(argv, "-append"));
    qemu_argv_free(argv);

    /* no memory file: RAM is QEMU's own, as before */
    cfg.memory_file = NULL;
    cfg.memory_incoming = NULL;
    REQUIRE(qemu_build_argv(&cfg, &l, &argv, &err) == 0);
    CHECK(argv_has(argv, "microvm,acpi=off,x-option-roms=off,mem-merge=off"));
    for (char **p = argv; *p; p++)
        CHECK(strstr(*p, "memory-backend") == NULL);
    qemu_argv_free(argv);
}

TEST(both_engines_pause)
{
    /* QEMU by migration to a file (migrate.c); KVM by its own snapshot (kvm_engine.c,
     * proven in the lab: tests/lab/suite.sh, test_kvm_snapshot) */
    CHECK(engine_qemu_ops.pause != NULL);
    CHECK(engine_kvm_ops.pause != NULL);
}

TEST(the_ram_file_has_its_room_reserved)
{
    /* blocks allocated up front: a full disk can never SIGBUS QEMU on a page's first touch */
    char path[512];
    snprintf(path, sizeof path, "%s/memory", harness_tmpdir());
    struct bl_error err = {0};
    REQUIRE(qemu_memory_reserve(path, 8u << 20, &err) == 0);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    CHECK_EQ((unsigned long long)st.st_size, 8ull << 20);
    CHECK((st.st_mode & 0777) == 0600);
    struct statfs sf;
    REQUIRE(statfs(path, &sf) == 0);
    if (sf.f_type != TMPFS_MAGIC)
        CHECK((unsigned long long)st.st_blocks * 512 >= 8ull << 20);
    /* a symlink planted in its place is not followed */
    char target[600];
    snprintf(target, sizeof target, "%s/elsewhere", harness_tmpdir());
    unlink(path);
    REQUIRE(symlink(target, path) == 0);
    CHECK(qemu_memory_reserve(path, 1u << 20, &err) < 0);
    CHECK(access(target, F_OK) != 0);
}

/* The state file's header (migrate.c): what QEMU's stream cannot give back, the balloon's
 * target at the pause, read before QEMU reads its stream from the offset left behind. */
static int state_file(const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", harness_tmpdir(), name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && n && write(fd, p, n) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    if (fd >= 0)
        lseek(fd, 0, SEEK_SET);
    return fd;
}

TEST(state_header_carries_the_balloon_target)
{
    struct bl_error err = {0};
    int fd = state_file("state", NULL, 0);
    REQUIRE(fd >= 0);
    struct qemu_saved s = {.balloon_target_mib = 384};
    REQUIRE(qemu_state_header_write(fd, &s, &err) == 0);
    REQUIRE(write(fd, "QEVM\0\0\0\3", 8) == 8); /* QEMU's stream goes on after it */
    REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
    struct qemu_saved got = {.balloon_target_mib = 1};
    CHECK_EQ(qemu_state_header_read(fd, &got, &err), 1);
    CHECK_EQ(got.balloon_target_mib, 384u);
    char next[4] = {0};
    CHECK(read(fd, next, 4) == 4 && memcmp(next, "QEVM", 4) == 0); /* QEMU reads from here */
    close(fd);

    /* no target: 0, as the box's option says none */
    fd = state_file("state0", NULL, 0);
    REQUIRE(fd >= 0);
    s.balloon_target_mib = 0;
    REQUIRE(qemu_state_header_write(fd, &s, &err) == 0);
    REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
    CHECK_EQ(qemu_state_header_read(fd, &got, &err), 1);
    CHECK_EQ(got.balloon_target_mib, 0u);
    close(fd);
}

TEST(state_header_absent_or_foreign)
{
    struct bl_error err = {0};
    struct qemu_saved got;
    /* a state saved before the header: QEMU's stream from byte 0, which it must read whole */
    int fd = state_file("old", "QEVM\0\0\0\3\2\1\0\0\0\0\0\0\0\0", 18);
    REQUIRE(fd >= 0);
    got.balloon_target_mib = 7;
    CHECK_EQ(qemu_state_header_read(fd, &got, &err), 0);
    CHECK_EQ(got.balloon_target_mib, 0u);
    CHECK_EQ((long)lseek(fd, 0, SEEK_CUR), 0L);
    close(fd);
    struct {
        const char *data;
        size_t len;
        const char *says;
    } bad[] = {
        {"", 0, "no header"},                                           /* empty */
        {"BLQSTATE\1\0", 10, "no header"},                             /* cut short */
        {"NOTSTATE\1\0\0\0\0\0\0\0", 16, "no header"},                  /* someone else's */
        {"BLQSTATE\2\0\0\0\0\1\0\0", 16, "header version 2"},           /* a newer boxlite's */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fd = state_file("bad", bad[i].data, bad[i].len);
        REQUIRE(fd >= 0);
        err = (struct bl_error){0};
        CHECK(qemu_state_header_read(fd, &got, &err) < 0);
        CHECK_EQ(err.code, BOXLITE_ERR_ENGINE);
        if (!strstr(err.msg, bad[i].says))
            CHECK_STR(err.msg, bad[i].says);
        close(fd);
    }
}
