// SPDX-License-Identifier: Apache-2.0
/* Disk snapshots and clones on external qcow2 chains (snapshot.h has the folder's layout).
 *
 * Why external chains and not qcow2's internal snapshots: the KVM engine's qcow2 code
 * (src/disk/qcow2.c) refuses to write an image that has internal snapshots (writing one
 * means copy-on-write by refcount and a snapshot table kept in step), whereas a chain needs
 * nothing new from either engine: both already open a qcow2 over a qcow2 over a raw base.
 * Frozen layers are plain immutable files, so a clone shares them by hard link and an
 * export writes them as they are. The cost is a chain one file longer per snapshot (at most
 * SNAP_MAX_LAYERS) and reads that may walk it.
 *
 * Crash safety: each step is a link, a create or a rename, ordered so that a process
 * killed at any point leaves disk.qcow2 whole: either the old file, or the new overlay over
 * the frozen old one. What an interrupted operation leaves (a layer nothing reaches, a
 * half-made overlay) is removed by the next operation's snap_gc. */
#include "runtime/snapshot.h"

#include "common/boxpath.h"
#include "common/cleanup.h"
#include "disk/disk.h"
#include "disk/qcow2.h"
#include "runtime/api_error.h"
#include "runtime/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NEW_DISK "disk.qcow2.new"
#define COPY_TMP "layer-copy.tmp" /* a running box's top being copied (snap_copy_running) */

void snap_test_hook(const char *point)
{
    const char *h = getenv("BOXLITE_TEST_HOOK");
    size_t n = strlen(point);
    if (!h || strncmp(h, point, n) != 0 || h[n] != ':')
        return;
    int fd = open(h + n + 1, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char line[128];
    int len = snprintf(line, sizeof line, "%s\n", point);
    if (write(fd, line, (size_t)len) < 0) { /* the test reads it; nothing to do otherwise */
    }
    close(fd);
    for (;;)
        pause(); /* until the test kills us */
}

bool snap_is_layer_name(const char *name)
{
    if (strncmp(name, "layer-", 6) != 0)
        return false;
    for (int i = 6; i < 22; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return false;
    return !strcmp(name + 22, ".qcow2") || !strcmp(name + 22, ".raw");
}

int snap_new_layer_name(char out[SNAP_LAYER_NAME_MAX], const char *suffix, struct bl_error *err)
{
    unsigned char raw[8];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return bl_errno(err, errno, "getrandom");
    char hex[17];
    for (int i = 0; i < 8; i++)
        sprintf(hex + 2 * i, "%02x", raw[i]);
    snprintf(out, SNAP_LAYER_NAME_MAX, "layer-%s%s", hex, suffix);
    return 0;
}

/* The backing name and format in a qcow2 header; 1 when it has one, 0 when not (or the
 * file is raw), <0 on error. */
static int read_backing(const char *path, char *name, size_t n, char *fmt, size_t fn,
                        bool *is_qcow2, struct bl_error *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "stat %s", path);
    char magic[4];
    if (pread(fd, magic, 4, 0) != 4 || memcmp(magic, QCOW2_MAGIC_BYTES, 4) != 0) {
        *is_qcow2 = false;
        return 0;
    }
    *is_qcow2 = true;
    struct qcow2_header *h = malloc(sizeof *h);
    if (!h)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int r = qcow2_header_read(fd, (uint64_t)st.st_size, h, err);
    if (r == 0) {
        r = h->backing_file[0] != 0;
        snprintf(name, n, "%s", h->backing_file);
        snprintf(fmt, fn, "%s", h->backing_format);
    } else {
        bl_err_prefix(err, "%s", path);
    }
    free(h);
    return r;
}

int snap_chain_read(const char *dir, const char *top, struct snap_chain *c, struct bl_error *err)
{
    memset(c, 0, sizeof *c);
    char cur[SNAP_LAYER_NAME_MAX];
    snprintf(cur, sizeof cur, "%s", top);
    for (int depth = 0;; depth++) {
        if (depth > SNAP_MAX_LAYERS + 1)
            return bl_err(err, BOXLITE_ERR_INVALID, "%s/%s: the disk chain is deeper than %d",
                          dir, top, SNAP_MAX_LAYERS + 1);
        snprintf(c->layers[c->n++], SNAP_LAYER_NAME_MAX, "%s", cur);
        char path[4200], name[QCOW2_MAX_BACKING_NAME + 1], fmt[32];
        snprintf(path, sizeof path, "%s/%s", dir, cur);
        bool q = false;
        int r = read_backing(path, name, sizeof name, fmt, sizeof fmt, &q, err);
        if (r < 0)
            return r;
        if (r == 0)
            return 0; /* the chain ends in the folder (a raw base, or a qcow2 without one) */
        if (!snap_is_layer_name(name)) {
            snprintf(c->base, sizeof c->base, "%s", name);
            snprintf(c->base_format, sizeof c->base_format, "%s", fmt);
            return 0;
        }
        snprintf(cur, sizeof cur, "%s", name);
    }
}

int snap_disk_base(const char *disk, char *out, size_t n, struct bl_error *err)
{
    cleanup_free char *copy = strdup(disk);
    if (!copy)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    char *slash = strrchr(copy, '/');
    const char *top = slash ? slash + 1 : copy;
    const char *dir = ".";
    if (slash) {
        *slash = 0;
        dir = copy;
    }
    struct snap_chain *c = malloc(sizeof *c);
    if (!c)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int r = snap_chain_read(dir, top, c, err);
    if (r == 0) {
        r = c->base[0] != 0;
        snprintf(out, n, "%s", c->base);
    }
    free(c);
    return r;
}

int snap_lock(const char *dir, struct bl_error *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/disk.lock", dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", p);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return bl_errno(err, e, "lock %s", p);
        }
    }
    return fd;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* A new <dir>/disk.qcow2 over layer (by its name in the folder), switched in by rename. */
int snap_new_top(const char *dir, const char *layer, struct bl_error *err)
{
    char tmp[4200], disk[4200];
    snprintf(tmp, sizeof tmp, "%s/" NEW_DISK, dir);
    box_file_path(disk, sizeof disk, dir, BOX_DISK, 0);
    unlink(tmp);
    int r = qcow2_create(tmp, 0, layer, "qcow2", err);
    if (r < 0)
        return r;
    snap_test_hook("snapshot-top-made");
    if (rename(tmp, disk) < 0) {
        r = bl_errno(err, errno, "rename %s", tmp);
        unlink(tmp);
        return r;
    }
    fsync_dir(dir);
    return 0;
}

int snap_freeze(const char *dir, char layer[SNAP_LAYER_NAME_MAX], struct bl_error *err)
{
    char disk[4200], lp[4200];
    box_file_path(disk, sizeof disk, dir, BOX_DISK, 0);
    if (access(disk, F_OK) != 0)
        return bl_err(err, BOXLITE_ERR_STATE, "the box has no disk yet (start it once first)");
    struct snap_chain *c = malloc(sizeof *c);
    if (!c)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    int r = snap_chain_read(dir, "disk.qcow2", c, err);
    int n = c->n;
    free(c);
    if (r < 0)
        return r;
    if (n > SNAP_MAX_LAYERS)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "the disk already sits on %d layers (at most %d: remove snapshots, or "
                      "export and import the box, which keeps only its current chain)",
                      n - 1, SNAP_MAX_LAYERS);
    if ((r = snap_new_layer_name(layer, ".qcow2", err)) < 0)
        return r;
    snprintf(lp, sizeof lp, "%s/%s", dir, layer);
    /* 1. the frozen file gets its second name; disk.qcow2 is still the same inode, and a
     *    crash here leaves a layer nothing reaches (snap_gc removes it) */
    if (link(disk, lp) < 0)
        return bl_errno(err, errno, "link %s", lp);
    snap_test_hook("snapshot-linked");
    /* 2. the new top over it replaces disk.qcow2 in one rename */
    if ((r = snap_new_top(dir, layer, err)) < 0) {
        unlink(lp);
        return r;
    }
    snap_test_hook("snapshot-switched");
    /* 3. readable by the jailed per-box process whatever its uid (it is never written) */
    chmod(lp, 0644);
    return 0;
}

/* ---- named snapshots ------------------------------------------------------------------ */

static void snap_dir(const char *dir, char *out, size_t n)
{
    snprintf(out, n, "%s/snapshots", dir);
}

static int snap_record_path(const char *dir, const char *name, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/snapshots/%s.json", dir, name);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

/* The layer a snapshot record names; 0, or <0 (BOXLITE_ERR_NOT_FOUND when none). */
static int snap_record_layer(const char *dir, const char *name, char layer[SNAP_LAYER_NAME_MAX],
                             json_int_t *created, struct bl_error *err)
{
    char p[4300];
    snap_record_path(dir, name, p, sizeof p);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j)
        return access(p, F_OK) != 0
                   ? bl_err(err, BOXLITE_ERR_NOT_FOUND, "no snapshot named %s", name)
                   : bl_err(err, BOXLITE_ERR_IO, "snapshot %s: %s: %s", name, p, je.text);
    const char *l = json_string_value(json_object_get(j, "layer"));
    int r = 0;
    if (!l || !snap_is_layer_name(l))
        r = bl_err(err, BOXLITE_ERR_IO, "snapshot %s: %s names no layer", name, p);
    else
        snprintf(layer, SNAP_LAYER_NAME_MAX, "%s", l);
    if (created)
        *created = json_integer_value(json_object_get(j, "created"));
    json_decref(j);
    return r;
}

/* Marks every layer of the chain under top as reached. */
struct reached {
    char (*names)[SNAP_LAYER_NAME_MAX];
    size_t n, cap;
};

/* false when the chain could not be read to its end (nothing may then be deleted). */
static bool reach_chain(const char *dir, const char *top, struct reached *rc)
{
    struct snap_chain *c = malloc(sizeof *c);
    struct bl_error ignored = { 0 };
    if (!c)
        return false;
    bool ok = snap_chain_read(dir, top, c, &ignored) == 0;
    {
        for (int i = 0; i < c->n; i++) {
            if (rc->n == rc->cap) {
                size_t cap = rc->cap ? rc->cap * 2 : 32;
                void *p = realloc(rc->names, cap * sizeof *rc->names);
                if (!p)
                    break;
                rc->names = p;
                rc->cap = cap;
            }
            snprintf(rc->names[rc->n++], SNAP_LAYER_NAME_MAX, "%s", c->layers[i]);
        }
    }
    free(c);
    return ok;
}

static bool reached_has(const struct reached *rc, const char *name)
{
    for (size_t i = 0; i < rc->n; i++)
        if (!strcmp(rc->names[i], name))
            return true;
    return false;
}

void snap_gc(const char *dir)
{
    struct reached rc = { 0 };
    char sd[4200];
    snap_dir(dir, sd, sizeof sd);
    char disk[4200];
    box_file_path(disk, sizeof disk, dir, BOX_DISK, 0);
    /* never delete on a chain that could not be read */
    bool unreadable = access(disk, F_OK) == 0 && !reach_chain(dir, "disk.qcow2", &rc);
    DIR *d = opendir(sd);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".json")) {
            char name[128], layer[SNAP_LAYER_NAME_MAX];
            snprintf(name, sizeof name, "%.*s", (int)(len - 5), e->d_name);
            struct bl_error ignored = { 0 };
            if (snap_record_layer(dir, name, layer, NULL, &ignored) != 0 ||
                !reach_chain(dir, layer, &rc))
                unreadable = true;
        } else if (len > 4 && !strcmp(e->d_name + len - 4, ".tmp")) {
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", sd, e->d_name);
            unlink(p);
        }
    }
    if (d)
        closedir(d);
    if (!unreadable && (d = opendir(dir))) {
        while ((e = readdir(d))) {
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (!strcmp(e->d_name, NEW_DISK) || !strcmp(e->d_name, COPY_TMP) ||
                (snap_is_layer_name(e->d_name) && !reached_has(&rc, e->d_name)))
                unlink(p);
        }
        closedir(d);
    }
    free(rc.names);
}

/* The box with its disk lock held: the common start of every disk operation. Returns the
 * lock fd; *running (when not NULL) says the box runs, which is refused when it is NULL.
 * A box starting or stopping is refused either way. */
static int disk_begin(boxlite_box *b, const char *what, bool *running, struct bl_error *err)
{
    int fd = snap_lock(b->dir, err);
    if (fd < 0)
        return fd;
    struct box_record rec;
    int r = rt_box_lookup(b->rt, b->id, &rec, err);
    if (r) {
        close(fd);
        return r;
    }
    if (running)
        *running = rec.state == BOX_STATE_RUNNING;
    if (running && *running)
        ; /* the caller copies the disk's top while the guest's root is frozen */
    else if (rec.state == BOX_STATE_PAUSED)
        /* Its disk alone is not the box: what the guest last wrote may be only in its page
         * cache, in the saved memory (the agent cannot freeze a guest that is not running),
         * and a restore under its memory would corrupt the file system it resumes with.
         * Memory files are never exported or cloned: fork copies a paused box whole. */
        r = bl_err(err, BOXLITE_ERR_STATE,
                   "%s: box %s is paused: its latest writes may be only in its saved memory; "
                   "resume it first (or stop it, which drops that memory; fork copies a paused "
                   "box whole)", what, rec.name);
    else if (rec.state != BOX_STATE_CONFIGURED && rec.state != BOX_STATE_STOPPED)
        r = bl_err(err, BOXLITE_ERR_STATE,
                   "%s: box %s is %s: %s", what, rec.name, box_state_name(rec.state),
                   rec.state == BOX_STATE_RUNNING
                       ? "stop it first (its disk is open in its VMM: restore replaces it)"
                       : "wait until it has started or stopped");
    box_record_clear(&rec);
    /* a box never started gets its disk now, as its first start would make it */
    char disk[4200];
    box_file_path(disk, sizeof disk, b->dir, BOX_DISK, 0);
    if (!r && access(disk, F_OK) != 0)
        r = rt_box_prepare_disk(b, disk, err);
    if (r) {
        close(fd);
        return r;
    }
    return fd;
}

static int stopped_and_locked(boxlite_box *b, const char *what, struct bl_error *err)
{
    return disk_begin(b, what, NULL, err);
}

int rt_box_disk_begin(boxlite_box *b, const char *what, bool *running, struct bl_error *err)
{
    return disk_begin(b, what, running, err);
}

/* Copies the file at from to a new file to (FICLONE where the filesystem shares blocks,
 * else copy_file_range, holes kept as far as the kernel keeps them), synced. */
static int copy_file(const char *from, const char *to, struct bl_error *err)
{
    cleanup_close int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return bl_errno(err, errno, "open %s", from);
    cleanup_close int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0)
        return bl_errno(err, errno, "create %s", to);
    struct stat st;
    if (fstat(in, &st) < 0)
        return bl_errno(err, errno, "stat %s", from);
    if (ioctl(out, FICLONE, in) < 0) {
        off_t left = st.st_size;
        while (left > 0) {
            ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return bl_errno(err, n < 0 ? errno : EIO, "copy %s to %s", from, to);
            left -= n;
        }
    }
    if (fdatasync(out) < 0)
        return bl_errno(err, errno, "sync %s", to);
    return 0;
}

/* A running box's disk, frozen in a layer without stopping it: the agent freezes the
 * container's root (FIFREEZE: every write the guest made is on the disk, engine caches
 * flushed, later writers wait), the top is copied into a new layer beside it (same folder:
 * its backing name means the same), and the root is thawed, whatever happened. The box goes
 * on writing to its own disk.qcow2. The guest waits for the copy: the top only (the frozen
 * layers below are shared), in-kernel, or O(1) where the filesystem can share blocks. */
int snap_copy_running(boxlite_box *b, char layer[SNAP_LAYER_NAME_MAX], struct bl_error *err)
{
    char sock[4200], disk[4200], tmp[4300], lp[4300];
    rt_box_socket(b, sock, sizeof sock);
    box_file_path(disk, sizeof disk, b->dir, BOX_DISK, 0);
    snprintf(tmp, sizeof tmp, "%s/" COPY_TMP, b->dir);
    int r = snap_new_layer_name(layer, ".qcow2", err);
    if (r < 0)
        return r;
    snprintf(lp, sizeof lp, "%s/%s", b->dir, layer);
    struct proto_client *c = NULL;
    /* a connection of its own: the box's (rt_box_conn) would start the box under our lock */
    r = proto_client_connect(sock, 10000, &c, err);
    /* BOXLITE_TEST_AUTO_THAW_MS: a test's shorter auto-thaw (tests/e2e/snapshot.sh) */
    const char *t = getenv("BOXLITE_TEST_AUTO_THAW_MS");
    int auto_thaw = t && atoi(t) > 0 && atoi(t) <= 60000 ? atoi(t) : SNAP_AUTO_THAW_MS;
    if (!r)
        r = proto_fsfreeze(c, true, auto_thaw, 10000, err);
    if (r) {
        proto_client_close(c);
        return bl_err_prefix(err, "freeze the box's root filesystem");
    }
    snap_test_hook("snapshot-frozen");
    unlink(tmp);
    r = copy_file(disk, tmp, err);
    struct bl_error terr = { 0 };
    int tr = proto_fsfreeze(c, false, 0, 10000, &terr);
    proto_client_close(c);
    if (!r && tr)
        r = bl_err(err, terr.code, "thaw the box's root filesystem: %s (the copy is not "
                   "kept: it may have been made while the guest wrote)", terr.msg);
    if (!r && rename(tmp, lp) < 0)
        r = bl_errno(err, errno, "rename %s", lp);
    if (r) {
        unlink(tmp);
        return r;
    }
    fsync_dir(b->dir);
    return 0;
}

static int check_snap_name(const char *name, struct bl_error *err)
{
    if (!name || !opts_valid_name(name))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "snapshot name \"%.64s\": 1-%d characters [a-zA-Z0-9_.-], starting with a "
                      "letter or digit", name ? name : "", BL_MAX_NAME);
    return 0;
}

BOXLITE_API int boxlite_snapshot_create(boxlite_box *b, const char *name)
{
    API_CHECK_ARG(b, "box is NULL");
    struct bl_error err = { 0 };
    int r = check_snap_name(name, &err);
    if (r)
        return api_return(r, &err);
    bool running = false;
    int lock = disk_begin(b, "snapshot", &running, &err);
    if (lock < 0)
        return api_return(lock, &err);
    snap_gc(b->dir);
    char sd[4200], rp[4300], tmp[4400], layer[SNAP_LAYER_NAME_MAX];
    snap_dir(b->dir, sd, sizeof sd);
    snap_record_path(b->dir, name, rp, sizeof rp);
    if (mkdir(sd, 0700) < 0 && errno != EEXIST)
        r = bl_errno(&err, errno, "mkdir %s", sd);
    else if (access(rp, F_OK) == 0)
        r = bl_err(&err, BOXLITE_ERR_EXISTS, "box %s already has a snapshot named %s", b->name,
                   name);
    if (!r)
        r = running ? snap_copy_running(b, layer, &err) : snap_freeze(b->dir, layer, &err);
    if (!r) {
        /* The name last: a crash before it leaves an unnamed layer under the disk, which is
         * harmless (the box is whole, the snapshot was not made). */
        snprintf(tmp, sizeof tmp, "%s.tmp", rp);
        json_t *j = json_pack("{s:s, s:s, s:I}", "name", name, "layer", layer, "created",
                              (json_int_t)time(NULL));
        if (!j || json_dump_file(j, tmp, JSON_COMPACT) != 0 || rename(tmp, rp) != 0)
            r = bl_errno(&err, errno ? errno : ENOMEM, "write %s", rp);
        json_decref(j);
        fsync_dir(sd);
    }
    close(lock);
    return api_return(r ? bl_err_prefix(&err, "snapshot create %s", name) : 0, &err);
}

struct snap_item {
    char name[128];
    json_int_t created;
};

static int by_created(const void *a, const void *b)
{
    const struct snap_item *x = a, *y = b;
    return x->created < y->created ? -1 : x->created > y->created ? 1 : strcmp(x->name, y->name);
}

BOXLITE_API int boxlite_snapshot_list(boxlite_box *b, char **json_out)
{
    API_CHECK_ARG(b && json_out, "box or json_out is NULL");
    *json_out = NULL;
    char sd[4200];
    snap_dir(b->dir, sd, sizeof sd);
    struct snap_item *items = NULL;
    size_t n = 0;
    DIR *d = opendir(sd);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || len - 5 >= sizeof items->name || strcmp(e->d_name + len - 5, ".json"))
            continue;
        struct snap_item *p = realloc(items, (n + 1) * sizeof *items);
        if (!p)
            break;
        items = p;
        snprintf(items[n].name, sizeof items[n].name, "%.*s", (int)(len - 5), e->d_name);
        char layer[SNAP_LAYER_NAME_MAX];
        struct bl_error ignored = { 0 };
        items[n].created = 0;
        if (snap_record_layer(b->dir, items[n].name, layer, &items[n].created, &ignored) == 0)
            n++;
    }
    if (d)
        closedir(d);
    if (n)
        qsort(items, n, sizeof *items, by_created);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        char layer[SNAP_LAYER_NAME_MAX], p[4400];
        struct bl_error ignored = { 0 };
        struct stat st = { 0 };
        if (snap_record_layer(b->dir, items[i].name, layer, NULL, &ignored) == 0) {
            snprintf(p, sizeof p, "%s/%s", b->dir, layer);
            stat(p, &st);
        }
        json_array_append_new(a, json_pack("{s:s, s:I, s:I}", "name", items[i].name, "created",
                                           items[i].created, "size_bytes",
                                           (json_int_t)st.st_blocks * 512));
    }
    free(items);
    if (!a || rt_dump_json(a, json_out))
        return api_fail(BOXLITE_ERR_NOMEM, "snapshot list: out of memory");
    return api_return(0, NULL);
}

BOXLITE_API int boxlite_snapshot_restore(boxlite_box *b, const char *name)
{
    API_CHECK_ARG(b, "box is NULL");
    struct bl_error err = { 0 };
    int r = check_snap_name(name, &err);
    if (r)
        return api_return(r, &err);
    int lock = stopped_and_locked(b, "restore", &err);
    if (lock < 0)
        return api_return(lock, &err);
    char layer[SNAP_LAYER_NAME_MAX];
    r = snap_record_layer(b->dir, name, layer, NULL, &err);
    /* The box's disk becomes a new empty top over the snapshot's layer: what was written
     * since is dropped with the old top (and the layers only it reached, by snap_gc). */
    if (!r)
        r = snap_new_top(b->dir, layer, &err);
    if (!r)
        snap_gc(b->dir);
    close(lock);
    return api_return(r ? bl_err_prefix(&err, "snapshot restore %s", name) : 0, &err);
}

BOXLITE_API int boxlite_snapshot_remove(boxlite_box *b, const char *name)
{
    API_CHECK_ARG(b, "box is NULL");
    struct bl_error err = { 0 };
    int r = check_snap_name(name, &err);
    if (r)
        return api_return(r, &err);
    /* Any state: only a name goes, and layers a running disk reaches are kept. */
    int lock = snap_lock(b->dir, &err);
    if (lock < 0)
        return api_return(lock, &err);
    char rp[4300], layer[SNAP_LAYER_NAME_MAX];
    snap_record_path(b->dir, name, rp, sizeof rp);
    r = snap_record_layer(b->dir, name, layer, NULL, &err);
    if (!r && unlink(rp) < 0)
        r = bl_errno(&err, errno, "remove %s", rp);
    if (!r)
        snap_gc(b->dir);
    close(lock);
    return api_return(r ? bl_err_prefix(&err, "snapshot rm %s", name) : 0, &err);
}

/* ---- clone ------------------------------------------------------------------------------ */

BOXLITE_API int boxlite_box_clone(boxlite_runtime *rt, const char *key, const char *new_name,
                                  boxlite_box **out)
{
    API_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    API_CHECK_ARG(rt && key && new_name, "runtime, box or new name is NULL");
    struct bl_error err = { 0 };
    boxlite_box *src = NULL, *dst = NULL;
    /* the new name first: a refusal then costs the source nothing (not a layer) */
    if (!opts_valid_name(new_name))
        return api_fail(BOXLITE_ERR_INVALID, "clone: \"%.64s\" is not a valid name (letters, "
                        "digits, _ . -; at most %d)", new_name, BL_MAX_NAME);
    if (boxlite_box_get(rt, new_name, &dst) == BOXLITE_OK) {
        boxlite_box_free(dst);
        return api_fail(BOXLITE_ERR_EXISTS, "clone: a box named %s exists", new_name);
    }
    dst = NULL;
    int r = boxlite_box_get(rt, key, &src);
    if (r)
        return r;
    bool running = false;
    int lock = disk_begin(src, "clone", &running, &err);
    if (lock < 0) {
        boxlite_box_free(src);
        return api_return(lock, &err);
    }
    snap_gc(src->dir);
    char layer[SNAP_LAYER_NAME_MAX];
    struct snap_chain *c = calloc(1, sizeof *c);
    if (!c)
        r = bl_err(&err, BOXLITE_ERR_NOMEM, "out of memory");
    /* The source's disk is frozen (an unnamed layer) so that both go on from the same
     * history, each with a top of its own. */
    if (!r)
        r = running ? snap_copy_running(src, layer, &err) : snap_freeze(src->dir, layer, &err);
    if (!r)
        r = snap_chain_read(src->dir, layer, c, &err);
    struct boxlite_options o;
    opts_init(&o);
    if (!r)
        r = opts_copy(&o, &src->opts, &err);
    if (!r)
        r = opts_set_name(&o, new_name, &err);
    if (!r && boxlite_box_create(rt, &o, &dst) != BOXLITE_OK) {
        r = bl_err(&err, boxlite_errcode(), "%s", boxlite_errmsg());
        dst = NULL;
    }
    opts_clear(&o);
    /* Hard links: one inode, two folders; each box's removal drops only its own name. */
    for (int i = 0; !r && i < c->n; i++) {
        char from[4300], to[4300];
        snprintf(from, sizeof from, "%s/%s", src->dir, c->layers[i]);
        snprintf(to, sizeof to, "%s/%s", dst->dir, c->layers[i]);
        if (link(from, to) < 0)
            r = bl_errno(&err, errno, "link %s", to);
    }
    if (!r)
        r = snap_new_top(dst->dir, layer, &err);
    close(lock);
    free(c);
    if (r && dst) {
        struct bl_error ignored = { 0 };
        rt_box_destroy(rt, dst->id, &ignored);
        boxlite_box_free(dst);
        dst = NULL;
    }
    boxlite_box_free(src);
    if (r)
        return api_return(bl_err_prefix(&err, "clone %s", key), &err);
    *out = dst;
    return api_return(0, NULL);
}
