// SPDX-License-Identifier: Apache-2.0
/* Memory snapshots on the QEMU engine: QEMU's own migration (docs/devel/migration in QEMU's
 * tree) into a file the per-box process opened and passed over QMP (getfd; `fd:` URIs, as
 * QEMU 7.2 has no `file:` and the sandbox forbids `exec:`). Guest RAM lives in a file
 * (memory-backend-file, cmdline.c); with the x-ignore-shared capability a RAM block mapped
 * shared is not copied into the stream, so a pause writes only the device state (tens of
 * KiB) and a resume maps the same file. A box resumed from a frozen file mapped privately
 * (a fork) has RAM that is not shared: its stream then carries every page, and a destination
 * that maps the frozen file privately receives no page for it (the file is the RAM).
 * The "events" capability makes QEMU say when a migration ends (MIGRATION events).
 *
 * The file starts with a header of ours (struct qemu_saved), QEMU's stream after it: what a
 * resume needs that the stream holds but QEMU cannot be asked for. The balloon's target is
 * migrated (the device's num_pages: the guest stays ballooned) but no QMP command reads it
 * back, so without the header a resumed box would report the start's target, not what its
 * guest holds. QEMU reads and writes the descriptor from where its offset stands. */
#include "vmm/qemu/qemu.h"

#include "vmm/qemu/qmp.h"

#include "common/io.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MIGRATE_TIMEOUT_MS 120000 /* a full stream of a few GiB on a loaded disk */
#define QMP_STEP_MS 10000

static int set_caps(struct qmp *q, struct bl_error *err)
{
    json_t *caps = json_pack("{s:[{s:s, s:b}, {s:s, s:b}]}", "capabilities", "capability",
                             "x-ignore-shared", "state", 1, "capability", "events", "state", 1);
    return qmp_execute(q, "migrate-set-capabilities", caps, NULL, QMP_STEP_MS, err);
}

/* The header: magic, version, then the balloon's target in MiB (0 = none), little-endian.
 * QEMU's own stream begins "QEVM": a state saved before the header existed. */
static const char state_magic[8] = "BLQSTATE";
#define STATE_VERSION 1
#define STATE_HEADER_LEN 16

int qemu_state_header_write(int fd, const struct qemu_saved *s, struct bl_error *err)
{
    uint8_t h[STATE_HEADER_LEN];
    uint32_t version = htole32(STATE_VERSION), target = htole32(s->balloon_target_mib);
    memcpy(h, state_magic, 8);
    memcpy(h + 8, &version, 4);
    memcpy(h + 12, &target, 4);
    int rc = io_write_all(fd, h, sizeof h);
    return rc < 0 ? bl_errno(err, -rc, "write the state's header") : 0;
}

int qemu_state_header_read(int fd, struct qemu_saved *s, struct bl_error *err)
{
    memset(s, 0, sizeof *s);
    uint8_t h[STATE_HEADER_LEN];
    ssize_t n = io_read_full(fd, h, sizeof h);
    if (n < 0)
        return bl_errno(err, (int)-n, "read the state's header");
    if (n >= 4 && memcmp(h, "QEVM", 4) == 0) /* QEMU's stream from its first byte */
        return lseek(fd, 0, SEEK_SET) == 0 ? 0 : bl_errno(err, errno, "saved state");
    if (n < STATE_HEADER_LEN || memcmp(h, state_magic, 8) != 0)
        return bl_err(err, BOXLITE_ERR_ENGINE, "saved state: not a QEMU engine's (no header, "
                      "no QEMU stream)");
    uint32_t version, target;
    memcpy(&version, h + 8, 4);
    memcpy(&target, h + 12, 4);
    if (le32toh(version) != STATE_VERSION)
        return bl_err(err, BOXLITE_ERR_ENGINE, "saved state: header version %u (this "
                      "boxlite reads %u)", le32toh(version), STATE_VERSION);
    s->balloon_target_mib = le32toh(target);
    return 1;
}

int qemu_migrate_out(struct qmp *q, int state_fd, const struct qemu_saved *s,
                     struct bl_error *err)
{
    q->migration_status[0] = 0;
    /* Stopped first: nothing the guest does after this point is lost. */
    if (qmp_execute(q, "stop", NULL, NULL, QMP_STEP_MS, err) < 0 ||
        qemu_state_header_write(state_fd, s, err) < 0 || set_caps(q, err) < 0 ||
        qmp_execute_fd(q, "getfd", json_pack("{s:s}", "fdname", "boxlite-state"), state_fd,
                       QMP_STEP_MS, err) < 0 ||
        qmp_execute(q, "migrate", json_pack("{s:s}", "uri", "fd:boxlite-state"), NULL,
                    QMP_STEP_MS, err) < 0 ||
        qmp_wait_migration(q, MIGRATE_TIMEOUT_MS, err) < 0) {
        struct bl_error e2 = {0};
        /* the guest goes on as if nothing happened */
        qmp_execute(q, "migrate_cancel", NULL, NULL, QMP_STEP_MS, &e2);
        qmp_execute(q, "cont", NULL, NULL, QMP_STEP_MS, &e2);
        return bl_err_prefix(err, "save the VM's state");
    }
    return 0;
}

int qemu_migrate_in(struct qmp *q, int state_fd, struct qemu_saved *s, bool *known,
                    struct bl_error *err)
{
    q->migration_status[0] = 0;
    int h = qemu_state_header_read(state_fd, s, err);
    *known = h > 0;
    if (h < 0 || set_caps(q, err) < 0 ||
        qmp_execute_fd(q, "getfd", json_pack("{s:s}", "fdname", "boxlite-state"), state_fd,
                       QMP_STEP_MS, err) < 0 ||
        qmp_execute(q, "migrate-incoming", json_pack("{s:s}", "uri", "fd:boxlite-state"), NULL,
                    QMP_STEP_MS, err) < 0 ||
        qmp_wait_migration(q, MIGRATE_TIMEOUT_MS, err) < 0)
        return bl_err_prefix(err, "load the VM's saved state");
    return 0;
}

/* The RAM file's blocks, reserved before QEMU maps it: a guest page QEMU cannot write back
 * for want of room would kill QEMU with SIGBUS (the guest's first touch of a page in a
 * sparse file on a full disk). On tmpfs the file is memory already and fallocate would
 * take it all at once: there only the room is checked. */
int qemu_memory_reserve(const char *path, uint64_t bytes, struct bl_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return bl_errno(err, errno, "memory file %s", path);
    struct statfs sf;
    int rc = 0;
    if (fstatfs(fd, &sf) < 0) {
        rc = bl_errno(err, errno, "memory file %s", path);
    } else if (sf.f_type == TMPFS_MAGIC) {
        if ((uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize < bytes)
            rc = bl_err(err, BOXLITE_ERR_IO, "memory file %s: %llu MiB do not fit in its "
                        "folder (tmpfs)", path, (unsigned long long)(bytes >> 20));
        else if (ftruncate(fd, (off_t)bytes) < 0)
            rc = bl_errno(err, errno, "memory file %s", path);
    } else if ((errno = posix_fallocate(fd, 0, (off_t)bytes)) != 0) {
        rc = bl_errno(err, errno, "memory file %s: reserve %llu MiB", path,
                      (unsigned long long)(bytes >> 20));
    }
    close(fd);
    if (rc < 0)
        unlink(path);
    return rc;
}
