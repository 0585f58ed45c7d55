// SPDX-License-Identifier: Apache-2.0
/* A box's disk history: external qcow2 chains in the box's folder (snapshot.c).
 *
 *   <box>/disk.qcow2              the writable top, backed by the newest layer (or the base)
 *   <box>/layer-<16 hex>.qcow2    frozen layers: never written again, backed by the one below
 *                                 (by a name relative to the folder) or by the image's base
 *   <box>/layer-<16 hex>.raw      an imported box's own base (the image's ext4)
 *   <box>/snapshots/<NAME>.json   a named snapshot: {"name", "layer", "created"}
 *   <box>/disk.lock               flock: one disk operation at a time, and none while the
 *                                 box is being started (lifecycle.c takes it for the claim)
 *
 * A snapshot freezes disk.qcow2 into a layer (a hard link, then a new empty disk.qcow2 over
 * it, switched in by rename): O(1), nothing copied. A clone hard-links the frozen layers
 * into its own folder (layers are immutable, so sharing the inode is sharing copy-on-write)
 * and gets a disk.qcow2 of its own over them. A layer that no disk and no snapshot reaches
 * any more is deleted (snap_gc). */
#ifndef RT_SNAPSHOT_H
#define RT_SNAPSHOT_H

#include "boxlite.h"
#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>

#define SNAP_LAYER_NAME_MAX 48
/* Box-local layers a chain may hold: the disk layer's chain limit (DISK_MAX_BACKING_DEPTH,
 * 16) less the top and the base. */
#define SNAP_MAX_LAYERS 14

/* A chain from a top image down: the box-local layers (file names, top first) and what the
 * lowest of them (or the top) sits on outside the folder ("" when nothing). */
struct snap_chain {
    char layers[SNAP_MAX_LAYERS + 2][SNAP_LAYER_NAME_MAX];
    int n;
    char base[4096];
    char base_format[16]; /* "raw", "qcow2" or "" (the header did not say) */
};

/* Whether name is a layer file's name this code makes ("layer-<16 hex>.qcow2|.raw"). */
bool snap_is_layer_name(const char *name);
/* Reads the chain under <dir>/<top> (top: "disk.qcow2" or a layer's name). */
int snap_chain_read(const char *dir, const char *top, struct snap_chain *c, struct bl_error *err);
/* The lowest backing file of the disk at path (absolute or as written), following the
 * chain; 1 and out filled, 0 when it has none, <0 when it cannot be read. Image gc keeps
 * the bases that boxes' chains end on through this. */
int snap_disk_base(const char *disk, char *out, size_t n, struct bl_error *err);
/* Takes <dir>/disk.lock (exclusive, waiting); returns the fd to close, or <0. */
int snap_lock(const char *dir, struct bl_error *err);
/* Freezes <dir>/disk.qcow2 into a new layer whose name goes to layer (see above). The box
 * must not be running. */
int snap_freeze(const char *dir, char layer[SNAP_LAYER_NAME_MAX], struct bl_error *err);
/* A new empty <dir>/disk.qcow2 over layer (a file name in dir), switched in by rename: what
 * the old disk.qcow2 held is gone unless a layer still has it. */
int snap_new_top(const char *dir, const char *layer, struct bl_error *err);
/* Deletes layers nothing reaches and leftovers of an interrupted operation. */
void snap_gc(const char *dir);
/* A new random layer name with the given suffix (".qcow2", ".raw"). */
int snap_new_layer_name(char out[SNAP_LAYER_NAME_MAX], const char *suffix, struct bl_error *err);
/* Takes the box's disk lock and checks its state (what: "export", for the message): a
 * running box is refused unless running is not NULL (then set); returns the lock's fd
 * (close it to release) or <0. */
int rt_box_disk_begin(boxlite_box *b, const char *what, bool *running, struct bl_error *err);
/* The agent thaws a frozen root by itself after this long (a host killed mid-copy). */
#define SNAP_AUTO_THAW_MS 30000
/* A running box's top copied into a new layer while its root is frozen (snapshot.c). */
int snap_copy_running(boxlite_box *b, char layer[SNAP_LAYER_NAME_MAX], struct bl_error *err);
/* A test hook: with BOXLITE_TEST_HOOK=POINT:FIFO, reaching POINT writes "POINT\n" to FIFO
 * and waits there forever (tests kill the process at that exact step). */
void snap_test_hook(const char *point);

#endif
