// SPDX-License-Identifier: Apache-2.0
/* Memory snapshots of a box (QEMU engine): pause, resume, fork.
 *
 * A box's RAM is a file in its folder (BOX_MEMORY, mapped shared by QEMU: the guest writes
 * the file as it runs). Pause asks the per-box process (PAUSE on the box socket): it saves
 * the device state to BOX_MEMORY_STATE and ends; the box is then "paused", no process runs,
 * and the next start (resume, or any execution) hands the state to a new per-box process
 * (vmm.json's memory.incoming), which deletes the file before the guest runs again. So a
 * folder holding memory.state is a box that can be resumed, whatever else happened: a
 * library killed while it paused or resumed finds the box paused (rt_box_lookup), a per-box
 * process killed while it paused left no state (renamed into place only once complete), and
 * the box is stopped with the reason.
 *
 * Fork freezes the source's memory and disk: RAM becomes BOX_MEMORY_BASE (never written again), the
 * disk a frozen layer of its qcow2 chain (snapshot.h) the source and every fork put a top on;
 * both are hard-linked
 * into each fork's folder, so removing any box leaves the others whole, and QEMU maps the
 * RAM file privately (MAP_PRIVATE): pages no box writes stay shared in the page cache. Each
 * fork gets an identity (BOX_IDENTITY) sent to its agent once it runs: host name, MAC, RNG
 * seed, clock (docs/protocol.md, IDENTITY). */
#include "runtime/runtime.h"

#include "common/boxpath.h"
#include "common/clock.h"
#include "disk/disk.h"
#include "proto/client.h"
#include "runtime/api_error.h"
#include "runtime/boxfiles.h"
#include "runtime/snapshot.h"
#include "runtime/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAUSE_TIMEOUT_MS 120000

static void path_of(char *out, size_t len, const char *dir, enum box_file f)
{
    box_file_path(out, len, dir, f, 0);
}

static bool exists(const char *dir, enum box_file f)
{
    char p[4200];
    path_of(p, sizeof p, dir, f);
    return access(p, F_OK) == 0;
}

bool rt_memory_saved(const char *dir) { return exists(dir, BOX_MEMORY_STATE); }

void rt_memory_forget(const char *dir)
{
    const enum box_file f[] = { BOX_MEMORY, BOX_MEMORY_STATE, BOX_MEMORY_BASE, BOX_IDENTITY };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char p[4200];
        path_of(p, sizeof p, dir, f[i]);
        unlink(p);
    }
    char tmp[4300]; /* a pause killed midway (qemu.c writes the state under this name) */
    box_file_path(tmp, sizeof tmp - 4, dir, BOX_MEMORY_STATE, 0);
    strcat(tmp, ".tmp");
    unlink(tmp);
}

json_t *rt_memory_config(const boxlite_box *b, bool resume)
{
    char file[4200], state[4200];
    bool base = exists(b->dir, BOX_MEMORY_BASE);
    path_of(file, sizeof file, b->dir, base ? BOX_MEMORY_BASE : BOX_MEMORY);
    path_of(state, sizeof state, b->dir, BOX_MEMORY_STATE);
    json_t *m = json_pack("{s:s, s:b, s:s, s:I}", "file", file, "shared", !base, "state", state,
                          "idle_pause_ms", (json_int_t)b->opts.idle_pause_s * 1000);
    if (m && resume)
        json_object_set_new(m, "incoming", json_string(state));
    if (m && resume && b->resume_restarts)
        json_object_set_new(m, "restarts", json_integer((json_int_t)b->resume_restarts));
    return m;
}

uint64_t rt_memory_saved_restarts(const char *dir)
{
    struct box_end_info end; /* the pause's end record (boxfiles.c) */
    boxfiles_end(dir, &end);
    return end.restarts;
}

void rt_memory_read_pause(boxlite_box *b)
{
    struct box_end_info end = { 0 };
    if (b->resuming)
        boxfiles_end(b->dir, &end);
    b->resume_restarts = end.restarts;
    b->resume_shares = end.pause_shares;
}

/* A fork about to resume: its new MAC in vmm.json's "network" too, so that the KVM engine's
 * virtio-net shows it in config space (a guest that probes the device again reads it there;
 * IDENTITY changes the running interface). The QEMU engine keeps its migrated one. */
void rt_memory_fork_network(const boxlite_box *b, json_t *network)
{
    char p[4200];
    path_of(p, sizeof p, b->dir, BOX_IDENTITY);
    json_t *j = b->resuming ? json_load_file(p, 0, NULL) : NULL;
    const char *mac = json_string_value(json_object_get(j, "mac"));
    if (mac && *mac && network)
        json_object_set_new(network, "mac", json_string(mac));
    json_decref(j);
}

/* A fork's first words: who it is now. The file goes once the agent took it. */
static int send_identity(boxlite_box *b, struct proto_client *c, int timeout_ms,
                         struct bl_error *err)
{
    char p[4200];
    path_of(p, sizeof p, b->dir, BOX_IDENTITY);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j)
        return access(p, F_OK) == 0 ? bl_err(err, BOXLITE_ERR_IO, "%s: %s", p, je.text) : 0;
    struct proto_identity id = { 0 };
    const char *h = json_string_value(json_object_get(j, "hostname"));
    const char *mac = json_string_value(json_object_get(j, "mac"));
    snprintf(id.hostname, sizeof id.hostname, "%s", h ? h : "");
    snprintf(id.mac, sizeof id.mac, "%s", mac ? mac : "");
    json_decref(j);
    if (getrandom(id.seed, sizeof id.seed, 0) != (ssize_t)sizeof id.seed)
        return bl_errno(err, errno, "getrandom");
    id.time_ns = wall_ns();
    int r = proto_identity(c, &id, timeout_ms, err);
    explicit_bzero(id.seed, sizeof id.seed);
    if (r)
        return bl_err_prefix(err, "the fork's new identity");
    unlink(p);
    return 0;
}

/* After a resume: a fork's identity, then the volumes, unless the pause kept them mounted
 * (the KVM engine saves the guest's 9P sessions with the VM: src/vmm/fs/p9_session.c).
 * What the pause did is its end record's word (rt_memory_read_pause): a pause by an
 * older boxlite says nothing and had them unmounted, and the agent mounts only what is not
 * mounted, so an unsaid record costs at most a round trip. A fork mounts its source's host
 * folders (the same options; a volume is host data, never part of the snapshot) and has
 * its source's record (boxfiles_fork_end); on the KVM engine its own 9P server finds the
 * same files by the saved session's paths, in the same folders. */
int rt_memory_after_resume(boxlite_box *b, struct proto_client *c, int timeout_ms,
                           struct bl_error *err)
{
    int r = send_identity(b, c, timeout_ms, err);
    if (!r && b->opts.nvolumes && b->resume_shares != PROTO_SHARES_KEPT &&
        (r = proto_volumes(c, true, timeout_ms, err)) < 0)
        bl_err_prefix(err, "mount the volumes again");
    return r;
}

/* What the running per-box process's pause does with the volumes (STATUS: its engine's
 * word). A process that does not say predates PAUSE_SHARES and needs them unmounted (an
 * older one on the KVM engine refuses a pause while a 9p share is mounted); a STATUS that
 * fails reads the same, and a broken connection then fails the requests that follow. */
static enum proto_pause_shares process_pause_shares(struct proto_client *c, int timeout_ms)
{
    struct proto_status st;
    struct bl_error e = { 0 };
    if (proto_client_status(c, timeout_ms, &st, &e) < 0)
        return PROTO_SHARES_UNSAID;
    enum proto_pause_shares v = st.pause_shares;
    proto_status_free(&st);
    return v;
}

/* ---- pause ----------------------------------------------------------------------------- */

static int pause_locked(boxlite_box *b, int timeout_ms, struct bl_error *err)
{
    boxlite_runtime *rt = b->rt;
    struct box_record rec;
    int r = rt_box_lookup(rt, b->id, &rec, err);
    if (r)
        return r;
    if (rec.state == BOX_STATE_PAUSED) {
        box_record_clear(&rec);
        return 0;
    }
    if (rec.state != BOX_STATE_RUNNING) {
        r = bl_err(err, BOXLITE_ERR_STATE, "pause box %s: it is %s", rec.name,
                   box_state_name(rec.state));
        box_record_clear(&rec);
        return r;
    }
    /* The disk lock until the box reads paused: a request of another process that found
     * the box pausing waits for its process to end and then resumes it (rt_box_conn, whose
     * start takes this lock), never before this pause has checked and recorded it. */
    int lock = snap_lock(b->dir, err);
    if (lock < 0) {
        box_record_clear(&rec);
        return bl_err_prefix(err, "pause box %s", b->name);
    }
    char sock[4200];
    rt_box_socket(b, sock, sizeof sock);
    struct proto_client *c = NULL;
    r = proto_client_connect(sock, 5000, &c, err);
    /* Every other connection's requests are held back first (HOLD): one let in while the
     * volumes are unmounted would run without them. This connection's pass; its end (this
     * process killed) lifts the hold too. A per-box process older than HOLD skips it. */
    bool held = !r && proto_client_holds(c);
    if (held && (r = proto_client_hold(c, true, timeout_ms, err)) < 0)
        held = false;
    /* QEMU cannot save a 9p share the guest has mounted: the agent unmounts the volumes
     * (refused while the workload uses one) and mounts them again should the pause fail;
     * the resume mounts them (rt_memory_after_resume). The KVM engine keeps them; an
     * engine that refuses them refuses the PAUSE itself, with its reason. */
    enum proto_pause_shares shares = !r && b->opts.nvolumes
                                         ? process_pause_shares(c, timeout_ms)
                                         : PROTO_SHARES_UNSAID;
    bool vols = !r && b->opts.nvolumes &&
                (shares == PROTO_SHARES_UNSAID || shares == PROTO_SHARES_UNMOUNTED);
    if (vols && (r = proto_volumes(c, false, timeout_ms, err)) < 0)
        bl_err_prefix(err, "unmount the volumes");
    if (!r && (r = proto_client_pause(c, timeout_ms, err)) < 0 && vols) {
        struct bl_error e2 = { 0 };
        char was[BL_ERRMSG_MAX];
        snprintf(was, sizeof was, "%s", err->msg);
        if (proto_volumes(c, true, timeout_ms, &e2) < 0)
            bl_err(err, -r, "%s; and the volumes could not be mounted again: %s", was, e2.msg);
    }
    if (r && held) { /* the box runs on: requests pass again (closing c would too) */
        struct bl_error e2 = { 0 };
        proto_client_hold(c, false, 5000, &e2);
    }
    if (!r)
        proto_client_wait_end(c, timeout_ms); /* the process ends once the VM has */
    proto_client_close(c);
    if (!r && !rt_process_wait_gone(rec.pid, rec.pid_start, timeout_ms))
        r = bl_err(err, BOXLITE_ERR_TIMEOUT, "the box's process did not end after saving");
    if (!r && !rt_memory_saved(b->dir))
        r = bl_err(err, BOXLITE_ERR_ENGINE, "the box's process ended without its saved state");
    if (!r) {
        rt_box_cgroups_remove(rec.id);
        r = state_box_set_state(rt->db, b->id, BOX_STATE_ANY, BOX_STATE_PAUSED, 0, 0, err);
    }
    close(lock);
    /* This handle's connection went with the process. */
    proto_client_close(b->conn);
    b->conn = NULL;
    if (r)
        bl_err_prefix(err, "pause box %s", rec.name);
    box_record_clear(&rec);
    return r;
}

BOXLITE_API int boxlite_box_pause(boxlite_box *b, int timeout_ms)
{
    API_CHECK_ARG(b, "box is NULL");
    struct bl_error err = { 0 };
    pthread_mutex_lock(&b->lock);
    int r = pause_locked(b, timeout_ms > 0 ? timeout_ms : PAUSE_TIMEOUT_MS, &err);
    pthread_mutex_unlock(&b->lock);
    return api_return(r, &err);
}

BOXLITE_API int boxlite_box_resume(boxlite_box *b)
{
    API_CHECK_ARG(b, "box is NULL");
    struct bl_error err = { 0 };
    struct box_record rec;
    int r = rt_box_lookup(b->rt, b->id, &rec, &err);
    if (!r && rec.state != BOX_STATE_PAUSED && rec.state != BOX_STATE_RUNNING)
        r = bl_err(&err, BOXLITE_ERR_STATE, "resume box %s: it is %s, not paused", rec.name,
                   box_state_name(rec.state));
    if (!r)
        box_record_clear(&rec);
    if (!r)
        r = rt_box_ensure_running(b, true, &err);
    return api_return(r, &err);
}

/* ---- fork ------------------------------------------------------------------------------ */

/* The source's RAM and disk, frozen once: RAM -> memory.base (0600, never written again);
 * the disk -> a layer of its qcow2 chain (snapshot.h: the same frozen layers disk snapshots
 * and clones make, so its snapshots, clones and export go on working and snap_gc keeps
 * what the forks share), named in layer, under a new empty top that becomes the source's
 * disk; *chain gets the layers the forks link. The caller holds the source's disk lock. */
static int freeze(boxlite_box *src, char layer[SNAP_LAYER_NAME_MAX], struct snap_chain *chain,
                  struct bl_error *err)
{
    char mem[4200], base[4200];
    path_of(mem, sizeof mem, src->dir, BOX_MEMORY);
    path_of(base, sizeof base, src->dir, BOX_MEMORY_BASE);
    if (access(base, F_OK) != 0) {
        if (rename(mem, base) < 0)
            return bl_errno(err, errno, "freeze %s", mem);
        /* Owner-writable: QEMU 7.2 opens a privately mapped RAM file read-write (it never
         * writes it: MAP_PRIVATE); nobody else may even read guest memory. */
        chmod(base, 0600);
    } else {
        unlink(mem); /* a stale one: the box maps memory.base */
    }
    /* The paused guest's disk as QEMU left it (flushed at the end of the migration): the
     * saved memory and this layer belong together, so each fork resumes consistent. */
    snap_gc(src->dir);
    int r = snap_freeze(src->dir, layer, err);
    if (!r)
        r = snap_chain_read(src->dir, layer, chain, err);
    return r < 0 ? bl_err_prefix(err, "freeze the disk") : 0;
}

static void random_mac(char out[18])
{
    uint8_t m[6] = { 0 };
    if (getrandom(m, sizeof m, 0) != (ssize_t)sizeof m)
        m[5] = (uint8_t)getpid();
    m[0] = (uint8_t)((m[0] & 0xfc) | 0x02); /* locally administered, unicast */
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static bool hostname_ok(const char *h)
{
    size_t n = strlen(h);
    if (!n || n > 64 || h[0] == '-' || h[n - 1] == '-')
        return false;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            return false;
    return true;
}

/* One fork: a new box (the source's options, its own name), its folder linked to the
 * frozen files, paused; it runs at its first start. */
static int make_fork(boxlite_box *src, const char *name, const char *layer,
                     const struct snap_chain *chain, boxlite_box **out, struct bl_error *err)
{
    *out = NULL;
    struct boxlite_options o;
    int r = opts_copy(&o, &src->opts, err);
    if (r)
        return r;
    free(o.name);
    o.name = name ? strdup(name) : NULL;
    free(o.hostname);
    o.hostname = NULL; /* a fork's host name is its own name */
    boxlite_box *child = NULL;
    if (boxlite_box_create(src->rt, &o, &child) != BOXLITE_OK) {
        opts_clear(&o);
        return bl_err(err, boxlite_errcode(), "%s", boxlite_errmsg());
    }
    opts_clear(&o);
    char from[4200], to[4200];
    const enum box_file linked[] = { BOX_MEMORY_BASE, BOX_MEMORY_STATE };
    for (size_t i = 0; i < 2 && !r; i++) {
        path_of(from, sizeof from, src->dir, linked[i]);
        path_of(to, sizeof to, child->dir, linked[i]);
        if (link(from, to) < 0)
            r = bl_errno(err, errno, "link %s", to);
    }
    /* the disk's frozen layers, as a clone links them (snapshot.c) */
    for (int i = 0; !r && i < chain->n; i++) {
        snprintf(from, sizeof from, "%s/%s", src->dir, chain->layers[i]);
        snprintf(to, sizeof to, "%s/%s", child->dir, chain->layers[i]);
        if (link(from, to) < 0)
            r = bl_errno(err, errno, "link %s", to);
    }
    if (!r)
        r = snap_new_top(child->dir, layer, err);
    if (!r) /* what the source's pause did with the volumes: the state linked is that one */
        r = boxfiles_fork_end(src->dir, child->dir, err);
    if (!r) {
        char mac[18];
        random_mac(mac);
        json_t *id = json_pack("{s:s, s:s}", "hostname",
                               hostname_ok(child->name) ? child->name : "", "mac", mac);
        path_of(to, sizeof to, child->dir, BOX_IDENTITY);
        if (!id || json_dump_file(id, to, 0) != 0)
            r = bl_err(err, BOXLITE_ERR_IO, "write %s", to);
        json_decref(id);
    }
    if (!r)
        r = state_box_set_state(src->rt->db, child->id, BOX_STATE_ANY, BOX_STATE_PAUSED, 0, 0,
                                err);
    if (r) {
        rt_box_destroy(src->rt, child->id, NULL);
        boxlite_box_free(child);
        return bl_err_prefix(err, "fork %s", name ? name : "");
    }
    *out = child;
    return 0;
}

/* The forks start at once, a thread each: a resume mostly waits (for QEMU to start, for
 * the guest to answer), so n of them take little more than one. The first error is kept. */
struct fork_start {
    boxlite_box *box;
    struct bl_error err;
    int r;
};

static void *fork_start_one(void *arg)
{
    struct fork_start *f = arg;
    f->r = rt_box_ensure_running(f->box, true, &f->err);
    return NULL;
}

static int start_all(boxlite_box **boxes, size_t n, struct bl_error *err)
{
    struct fork_start *f = calloc(n, sizeof *f);
    pthread_t *t = calloc(n, sizeof *t);
    bool *threaded = calloc(n, sizeof *threaded);
    int r = 0;
    if (!f || !t || !threaded)
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !r && i < n; i++) {
        f[i].box = boxes[i];
        threaded[i] = pthread_create(&t[i], NULL, fork_start_one, &f[i]) == 0;
        if (!threaded[i]) /* no thread to spare: this one starts here */
            fork_start_one(&f[i]);
    }
    for (size_t i = 0; !r && i < n; i++)
        if (threaded[i])
            pthread_join(t[i], NULL);
    for (size_t i = 0; !r && i < n; i++)
        if (f[i].r)
            r = bl_err(err, f[i].err.code, "%s", f[i].err.msg);
    free(f);
    free(t);
    free(threaded);
    return r;
}

BOXLITE_API int boxlite_box_fork(boxlite_box *b, const char *const *names, size_t n,
                                 boxlite_box **out)
{
    API_CHECK_ARG(b, "box is NULL");
    API_CHECK_ARG(out, "out is NULL");
    API_CHECK_ARG(n > 0 && n <= 256, "between 1 and 256 forks at once");
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    struct bl_error err = { 0 };
    struct box_record rec;
    int r = rt_box_lookup(b->rt, b->id, &rec, &err);
    if (r)
        return api_return(r, &err);
    bool was_running = rec.state == BOX_STATE_RUNNING;
    if (!was_running && rec.state != BOX_STATE_PAUSED)
        r = bl_err(&err, BOXLITE_ERR_STATE, "fork box %s: it is %s (running or paused boxes "
                   "fork)", rec.name, box_state_name(rec.state));
    box_record_clear(&rec);
    pthread_mutex_lock(&b->lock);
    if (!r && was_running)
        r = pause_locked(b, PAUSE_TIMEOUT_MS, &err);
    /* The source's disk lock while its chain is frozen and linked: no snapshot, restore,
     * clone or export of it meanwhile (snapshot.c), nor a start (lifecycle.c takes it). */
    int lock = r ? -1 : snap_lock(b->dir, &err);
    if (lock < 0 && !r)
        r = lock;
    char layer[SNAP_LAYER_NAME_MAX] = "";
    struct snap_chain *chain = r ? NULL : calloc(1, sizeof *chain);
    if (!r && !chain)
        r = bl_err(&err, BOXLITE_ERR_NOMEM, "out of memory");
    if (!r)
        r = freeze(b, layer, chain, &err);
    pthread_mutex_unlock(&b->lock);
    size_t made = 0;
    for (; !r && made < n; made++)
        r = make_fork(b, names ? names[made] : NULL, layer, chain, &out[made], &err);
    free(chain);
    if (lock >= 0)
        close(lock);
    /* Every fork runs (and the source again, if it ran): a fork that cannot start is
     * removed, and the others with it, so a failed fork leaves no half of a set. */
    if (!r)
        r = start_all(out, made, &err);
    if (r) {
        for (size_t i = 0; i < made; i++) {
            if (!out[i])
                continue;
            boxlite_box_remove(b->rt, out[i]->id, 1);
            boxlite_box_free(out[i]);
            out[i] = NULL;
        }
    }
    if (was_running) {
        struct bl_error e2 = { 0 };
        int rs = rt_box_ensure_running(b, true, &e2);
        if (!r && rs)
            r = bl_err(&err, e2.code, "the source box did not resume: %s", e2.msg);
    }
    return api_return(r, &err);
}
