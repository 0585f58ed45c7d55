// SPDX-License-Identifier: Apache-2.0
/* The KVM engine's snapshot file: a box's vCPU, interrupt controller, timer and device state
 * in one versioned file of our own (guest RAM goes to a file of its own, mem.h). Layout,
 * all integers little-endian:
 *
 *   header (128 bytes)  magic "BLVMSNAP", format version, header length, file length,
 *                       section count, the writer's build id (length + 32 bytes), the CPU
 *                       fingerprint (SHA-256 of the CPUID leaves the guest sees), guest RAM
 *                       bytes, reserved zeros
 *   sections            {type u32, instance u32, length u64, payload padded to 8 bytes},
 *                       in strictly increasing (type, instance) order
 *   trailer (32 bytes)  SHA-256 of everything before it
 *
 * The file lives in the box folder, which its user can write: vmsnap_parse treats it as
 * hostile. It refuses a truncated or oversized file, a bad checksum, another format
 * version, another VMM build (the payloads are that build's structures), another CPU (the
 * guest's saved state may use features this one lacks), unknown or out-of-order
 * sections, and lengths that do not add up; every section it returns lies inside the
 * buffer. What a section's payload holds is checked by its reader (arch, virtio). */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC "BLVMSNAP"
#define SNAP_VERSION 1
#define SNAP_HEADER_LEN 128
#define SNAP_SECTION_HDR 16
#define SNAP_TRAILER_LEN 32
#define SNAP_ID_MAX 32
#define SNAP_MAX_FILE (64u << 20)  /* state only: a few KiB per vCPU and device */
#define SNAP_MAX_SECTIONS 1024
#define SNAP_MAX_SECTION (16u << 20)

enum vmsnap_section_type {
    SNAP_SEC_MACHINE = 1, /* RAM layout, vCPU count (machine.c) */
    SNAP_SEC_VM = 2,      /* VM-wide arch state: interrupt controllers, timer, clock */
    SNAP_SEC_VCPU = 3,    /* one per vCPU, instance = its index (arch) */
    SNAP_SEC_VIRTIO = 4,  /* one per virtio-mmio device, instance = its slot (mmio.c) */
    SNAP_SEC_DEVICE = 5,  /* a device model's own state, instance = its slot */
    SNAP_SEC_END
};

/* What must match between the writer and the reader. */
struct vmsnap_ident {
    uint32_t build_id_len;
    uint8_t build_id[SNAP_ID_MAX]; /* the VMM's GNU build id */
    uint8_t cpu[32];               /* SHA-256 of the guest's CPUID leaves */
    uint64_t mem_bytes;            /* guest RAM, the memory file's length */
};

/* A file (or a payload, vmsnap_rec) being built in memory. On out-of-memory the buffer is marked failed and
 * vmsnap_finish reports it, so callers need not check each vmsnap_add. */
struct vmsnap_buf {
    uint8_t *p;
    size_t len, cap;
    uint32_t nsections;
    uint32_t last_type, last_instance;
    const char *failed; /* why, or NULL */
    int failed_code;    /* the BOXLITE_ERR_* a caller gets for it (0: INTERNAL) */
};

void vmsnap_begin(struct vmsnap_buf *b, const struct vmsnap_ident *id);
/* Appends a section; (type, instance) must be greater than the previous one's. */
void vmsnap_add(struct vmsnap_buf *b, uint32_t type, uint32_t instance, const void *payload,
              size_t len);
/* Marks the buffer failed: why, and the code the pause's caller gets (a device that cannot
 * be saved in its present state says BOXLITE_ERR_STATE: the box runs on and may be paused
 * later). The first failure is kept. */
void vmsnap_fail(struct vmsnap_buf *b, int code, const char *why);
/* Carries a nested buffer's failure (a device's record) into the one it goes into. */
void vmsnap_fail_from(struct vmsnap_buf *b, const struct vmsnap_buf *from);
/* Writes the counts and the checksum. 0, or -BOXLITE_ERR_* with err set. */
int vmsnap_finish(struct vmsnap_buf *b, struct bl_error *err);
void vmsnap_buf_free(struct vmsnap_buf *b);

struct vmsnap_section {
    uint32_t type, instance;
    const uint8_t *data;
    uint64_t len;
};

struct vmsnap_view {
    struct vmsnap_ident id;
    uint32_t n;
    struct vmsnap_section *sec; /* n of them, malloc'd; vmsnap_view_free */
};

/* Checks data[0, len) as described above against expect (mem_bytes 0: any size) and
 * lists its sections into out. 0, or -BOXLITE_ERR_* with err saying what is wrong;
 * out then holds nothing to free. */
int vmsnap_parse(const uint8_t *data, size_t len, const struct vmsnap_ident *expect,
               struct vmsnap_view *out, struct bl_error *err);
void vmsnap_view_free(struct vmsnap_view *v);
/* The section (type, instance), or NULL. */
const struct vmsnap_section *vmsnap_find(const struct vmsnap_view *v, uint32_t type,
                                     uint32_t instance);

/* ---- records inside a payload ----------------------------------------------------------
 * The arch and device payloads are lists of records {tag u32, length u32, data padded to 8
 * bytes}, tags strictly increasing, so a reader finds each piece by name and a missing,
 * repeated or unknown piece is an error rather than a misread. */
void vmsnap_rec(struct vmsnap_buf *b, uint32_t tag, const void *data, size_t len);
/* Checks that p[0, len) is well formed: every record inside, tags increasing and below
 * tag_end. 0, or -BOXLITE_ERR_INVALID with err naming what (what: "vCPU 0"). */
int vmsnap_rec_check(const uint8_t *p, size_t len, uint32_t tag_end, const char *what,
                     struct bl_error *err);
/* The record tag of a checked payload, or NULL; its length into *n. */
const uint8_t *vmsnap_rec_get(const uint8_t *p, size_t len, uint32_t tag, size_t *n);
/* Copies record tag, which must be exactly n bytes, into out. */
int vmsnap_rec_copy(const uint8_t *p, size_t len, uint32_t tag, void *out, size_t n,
                    const char *what, struct bl_error *err);

/* The running program's GNU build id (its ELF note) into id; 0, or -1 if it has none. */
int vmsnap_build_id(struct vmsnap_ident *id);

/* Writes the finished buffer to path through path.tmp, fsync and rename: a reader sees the
 * whole file or none. */
int vmsnap_write_file(const struct vmsnap_buf *b, const char *path, struct bl_error *err);
/* Reads a regular file of at most SNAP_MAX_FILE bytes (no symlink followed) into a malloc'd
 * buffer. */
int vmsnap_read_file(const char *path, uint8_t **data, size_t *len, struct bl_error *err);

#endif
