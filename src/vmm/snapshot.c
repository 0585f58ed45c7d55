// SPDX-License-Identifier: Apache-2.0
/* The KVM engine's snapshot file (snapshot.h): building it, writing it whole, and parsing
 * one that may have been altered by anyone who can write the box folder. */
#include "vmm/snapshot.h"

#include "common/cleanup.h"
#include "common/io.h"
#include "common/sha256.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* Header fields (offsets). */
enum {
    H_MAGIC = 0,
    H_VERSION = 8,
    H_HEADER_LEN = 12,
    H_FILE_LEN = 16,
    H_NSECTIONS = 24,
    H_BUILD_ID_LEN = 28,
    H_BUILD_ID = 32,
    H_CPU = 64,
    H_MEM = 96,
    H_RESERVED = 104, /* to SNAP_HEADER_LEN: zeros */
};

/* ---- writing ---------------------------------------------------------------------------- */

static uint8_t *grow(struct vmsnap_buf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (n > SNAP_MAX_FILE || b->len > SNAP_MAX_FILE - n) {
        b->failed = "the state is larger than a snapshot may be";
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = "out of memory";
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    memset(at, 0, n);
    b->len += n;
    return at;
}

void vmsnap_begin(struct vmsnap_buf *b, const struct vmsnap_ident *id)
{
    *b = (struct vmsnap_buf){ 0 };
    uint8_t *h = grow(b, SNAP_HEADER_LEN);
    if (!h)
        return;
    memcpy(h + H_MAGIC, SNAP_MAGIC, 8);
    put32(h + H_VERSION, SNAP_VERSION);
    put32(h + H_HEADER_LEN, SNAP_HEADER_LEN);
    uint32_t idlen = id->build_id_len > SNAP_ID_MAX ? SNAP_ID_MAX : id->build_id_len;
    put32(h + H_BUILD_ID_LEN, idlen);
    memcpy(h + H_BUILD_ID, id->build_id, idlen);
    memcpy(h + H_CPU, id->cpu, 32);
    put64(h + H_MEM, id->mem_bytes);
}

void vmsnap_add(struct vmsnap_buf *b, uint32_t type, uint32_t instance, const void *payload,
                size_t len)
{
    if (b->failed)
        return;
    if (type == 0 || type >= SNAP_SEC_END || len > SNAP_MAX_SECTION ||
        b->nsections >= SNAP_MAX_SECTIONS ||
        (b->nsections && (type < b->last_type ||
                          (type == b->last_type && instance <= b->last_instance)))) {
        b->failed = "sections added out of order, of an unknown type or too large";
        return;
    }
    size_t padded = (len + 7) & ~(size_t)7;
    uint8_t *s = grow(b, SNAP_SECTION_HDR + padded);
    if (!s)
        return;
    put32(s, type);
    put32(s + 4, instance);
    put64(s + 8, len);
    if (len)
        memcpy(s + SNAP_SECTION_HDR, payload, len);
    b->nsections++;
    b->last_type = type;
    b->last_instance = instance;
}

void vmsnap_fail(struct vmsnap_buf *b, int code, const char *why)
{
    if (!b->failed) {
        b->failed = why;
        b->failed_code = code;
    }
}

void vmsnap_fail_from(struct vmsnap_buf *b, const struct vmsnap_buf *from)
{
    if (from->failed)
        vmsnap_fail(b, from->failed_code, from->failed);
}

static int failure(const struct vmsnap_buf *b, const char *none, struct bl_error *err)
{
    return bl_err(err, b->failed && b->failed_code ? b->failed_code : BOXLITE_ERR_INTERNAL,
                  "snapshot: %s", b->failed ? b->failed : none);
}

int vmsnap_finish(struct vmsnap_buf *b, struct bl_error *err)
{
    uint8_t *t = grow(b, SNAP_TRAILER_LEN);
    if (!t)
        return failure(b, "not begun", err);
    put64(b->p + H_FILE_LEN, b->len);
    put32(b->p + H_NSECTIONS, b->nsections);
    sha256(b->p, b->len - SNAP_TRAILER_LEN, b->p + b->len - SNAP_TRAILER_LEN);
    return 0;
}

void vmsnap_buf_free(struct vmsnap_buf *b)
{
    free(b->p);
    *b = (struct vmsnap_buf){ 0 };
}

/* ---- parsing ---------------------------------------------------------------------------- */

static void hex(const uint8_t *p, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 <= outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%02x", p[i]);
    if (outlen)
        out[o < outlen ? o : outlen - 1] = 0;
}

int vmsnap_parse(const uint8_t *data, size_t len, const struct vmsnap_ident *expect,
                 struct vmsnap_view *out, struct bl_error *err)
{
    *out = (struct vmsnap_view){ 0 };
    if (len < SNAP_HEADER_LEN + SNAP_TRAILER_LEN || memcmp(data + H_MAGIC, SNAP_MAGIC, 8) != 0)
        return bl_err(err, BOXLITE_ERR_INVALID, "not a boxlite-vmm snapshot (%s)",
                      len < SNAP_HEADER_LEN + SNAP_TRAILER_LEN ? "too short" : "bad magic");
    uint32_t version = get32(data + H_VERSION);
    if (version != SNAP_VERSION)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "snapshot format version %u: this boxlite-vmm reads version %u", version,
                      SNAP_VERSION);
    uint64_t file_len = get64(data + H_FILE_LEN);
    if (get32(data + H_HEADER_LEN) != SNAP_HEADER_LEN)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot header length %u is not %u",
                      get32(data + H_HEADER_LEN), SNAP_HEADER_LEN);
    if (len > SNAP_MAX_FILE || file_len > SNAP_MAX_FILE)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot of %llu bytes: larger than %u",
                      (unsigned long long)(len > file_len ? len : file_len), SNAP_MAX_FILE);
    if (file_len != len)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "snapshot is %zu bytes but says %llu (truncated or extended)", len,
                      (unsigned long long)file_len);
    uint8_t md[32];
    sha256(data, len - SNAP_TRAILER_LEN, md);
    if (memcmp(md, data + len - SNAP_TRAILER_LEN, 32) != 0)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot checksum (SHA-256) does not match: "
                                                "the file was altered or damaged");

    struct vmsnap_ident id = { .build_id_len = get32(data + H_BUILD_ID_LEN),
                               .mem_bytes = get64(data + H_MEM) };
    if (id.build_id_len > SNAP_ID_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot build id of %u bytes", id.build_id_len);
    memcpy(id.build_id, data + H_BUILD_ID, SNAP_ID_MAX);
    memcpy(id.cpu, data + H_CPU, 32);
    for (size_t i = H_RESERVED; i < SNAP_HEADER_LEN; i++)
        if (data[i])
            return bl_err(err, BOXLITE_ERR_INVALID, "snapshot header: reserved byte %zu is set",
                          i);
    for (size_t i = id.build_id_len; i < SNAP_ID_MAX; i++)
        if (id.build_id[i])
            return bl_err(err, BOXLITE_ERR_INVALID, "snapshot header: build id padding is set");
    if (expect) {
        char a[2 * SNAP_ID_MAX + 1], b[2 * SNAP_ID_MAX + 1];
        if (id.build_id_len != expect->build_id_len ||
            memcmp(id.build_id, expect->build_id, id.build_id_len) != 0) {
            hex(id.build_id, id.build_id_len, a, sizeof a);
            hex(expect->build_id, expect->build_id_len, b, sizeof b);
            return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                          "snapshot was made by another boxlite-vmm build (build id %s; this "
                          "one is %s): resume it with the build that paused it",
                          a[0] ? a : "none", b[0] ? b : "none");
        }
        if (memcmp(id.cpu, expect->cpu, 32) != 0) {
            hex(id.cpu, 8, a, sizeof a);
            hex(expect->cpu, 8, b, sizeof b);
            return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                          "snapshot was made on a CPU with other features (CPUID fingerprint "
                          "%s…, this host gives the guest %s…)", a, b);
        }
        if (expect->mem_bytes && id.mem_bytes != expect->mem_bytes)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "snapshot has %llu bytes of guest RAM, the box %llu",
                          (unsigned long long)id.mem_bytes,
                          (unsigned long long)expect->mem_bytes);
    }

    uint32_t n = get32(data + H_NSECTIONS);
    if (n > SNAP_MAX_SECTIONS)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot has %u sections, at most %u", n,
                      SNAP_MAX_SECTIONS);
    struct vmsnap_section *sec = calloc(n ? n : 1, sizeof *sec);
    if (!sec)
        return bl_errno(err, ENOMEM, "snapshot sections");
    size_t off = SNAP_HEADER_LEN, end = len - SNAP_TRAILER_LEN;
    for (uint32_t i = 0; i < n; i++) {
        if (end - off < SNAP_SECTION_HDR) {
            free(sec);
            return bl_err(err, BOXLITE_ERR_INVALID, "snapshot section %u of %u is cut off", i,
                          n);
        }
        const uint8_t *s = data + off;
        struct vmsnap_section x = { get32(s), get32(s + 4), s + SNAP_SECTION_HDR, get64(s + 8) };
        off += SNAP_SECTION_HDR;
        const char *bad = NULL;
        if (x.type == 0 || x.type >= SNAP_SEC_END)
            bad = "has an unknown type";
        else if (i && (x.type < sec[i - 1].type ||
                       (x.type == sec[i - 1].type && x.instance <= sec[i - 1].instance)))
            bad = "is out of order";
        else if (x.len > SNAP_MAX_SECTION || x.len > end - off || ((x.len + 7) & ~7ull) > end - off)
            bad = "is longer than the file";
        if (bad) {
            free(sec);
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "snapshot section %u (type %u, instance %u) %s", i, x.type,
                          x.instance, bad);
        }
        sec[i] = x;
        off += (size_t)((x.len + 7) & ~7ull);
    }
    if (off != end) {
        free(sec);
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "snapshot has %zu bytes after its %u sections", end - off, n);
    }
    out->id = id;
    out->n = n;
    out->sec = sec;
    return 0;
}

void vmsnap_view_free(struct vmsnap_view *v)
{
    free(v->sec);
    *v = (struct vmsnap_view){ 0 };
}

const struct vmsnap_section *vmsnap_find(const struct vmsnap_view *v, uint32_t type,
                                         uint32_t instance)
{
    for (uint32_t i = 0; i < v->n; i++)
        if (v->sec[i].type == type && v->sec[i].instance == instance)
            return &v->sec[i];
    return NULL;
}

/* ---- records ---------------------------------------------------------------------------- */

void vmsnap_rec(struct vmsnap_buf *b, uint32_t tag, const void *data, size_t len)
{
    if (len > SNAP_MAX_SECTION) {
        b->failed = "a record is too large";
        return;
    }
    uint8_t *r = grow(b, 8 + ((len + 7) & ~(size_t)7));
    if (!r)
        return;
    put32(r, tag);
    put32(r + 4, (uint32_t)len);
    if (len)
        memcpy(r + 8, data, len);
}

int vmsnap_rec_check(const uint8_t *p, size_t len, uint32_t tag_end, const char *what,
                     struct bl_error *err)
{
    size_t off = 0;
    uint32_t last = 0;
    bool first = true;
    while (off < len) {
        if (len - off < 8)
            return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: %s: a record is cut off", what);
        uint32_t tag = get32(p + off), n = get32(p + off + 4);
        size_t padded = ((size_t)n + 7) & ~(size_t)7;
        if (tag >= tag_end || (!first && tag <= last))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "snapshot: %s: record %u is unknown or out of order", what, tag);
        if (padded > len - off - 8)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "snapshot: %s: record %u is longer than its section", what, tag);
        off += 8 + padded;
        last = tag;
        first = false;
    }
    return 0;
}

const uint8_t *vmsnap_rec_get(const uint8_t *p, size_t len, uint32_t tag, size_t *n)
{
    size_t off = 0;
    while (len - off >= 8) {
        uint32_t t = get32(p + off), l = get32(p + off + 4);
        size_t padded = ((size_t)l + 7) & ~(size_t)7;
        if (padded > len - off - 8)
            return NULL;
        if (t == tag) {
            *n = l;
            return p + off + 8;
        }
        off += 8 + padded;
    }
    return NULL;
}

int vmsnap_rec_copy(const uint8_t *p, size_t len, uint32_t tag, void *out, size_t n,
                    const char *what, struct bl_error *err)
{
    size_t got = 0;
    const uint8_t *d = vmsnap_rec_get(p, len, tag, &got);
    if (!d)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: %s: record %u is missing", what, tag);
    if (got != n)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "snapshot: %s: record %u has %zu bytes, not %zu", what, tag, got, n);
    memcpy(out, d, n);
    return 0;
}

/* ---- build id --------------------------------------------------------------------------- */

static int find_note(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct vmsnap_ident *id = arg;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        size_t left = ph->p_memsz;
        while (left >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t name = (nh->n_namesz + 3) & ~3u, desc = (nh->n_descsz + 3) & ~3u;
            if (sizeof *nh + name + desc > left)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(p + sizeof *nh, "GNU", 4) == 0 && nh->n_descsz <= SNAP_ID_MAX) {
                memset(id->build_id, 0, SNAP_ID_MAX);
                memcpy(id->build_id, p + sizeof *nh + name, nh->n_descsz);
                id->build_id_len = nh->n_descsz;
                return 1;
            }
            p += sizeof *nh + name + desc;
            left -= sizeof *nh + name + desc;
        }
    }
    return 1; /* only the program itself (the first object) counts */
}

int vmsnap_build_id(struct vmsnap_ident *id)
{
    id->build_id_len = 0;
    dl_iterate_phdr(find_note, id);
    return id->build_id_len ? 0 : -1;
}

/* ---- files ------------------------------------------------------------------------------ */

int vmsnap_write_file(const struct vmsnap_buf *b, const char *path, struct bl_error *err)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot path is too long");
    if (b->failed || !b->p)
        return failure(b, "empty", err);
    unlink(tmp);
    cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return bl_errno(err, errno, "create %s", tmp);
    int r = io_write_all(fd, b->p, b->len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return bl_errno(err, -r, "write %s", path);
    }
    return 0;
}

int vmsnap_read_file(const char *path, uint8_t **data, size_t *len, struct bl_error *err)
{
    *data = NULL;
    *len = 0;
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "stat %s", path);
    if (!S_ISREG(st.st_mode))
        return bl_err(err, BOXLITE_ERR_INVALID, "%s is not a regular file", path);
    if (st.st_size > (off_t)SNAP_MAX_FILE)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: %lld bytes, a snapshot is at most %u",
                      path, (long long)st.st_size, SNAP_MAX_FILE);
    /* One byte more than the size: a file that grew meanwhile reads as too long. */
    cleanup_free uint8_t *p = malloc((size_t)st.st_size + 1);
    if (!p)
        return bl_errno(err, ENOMEM, "read %s", path);
    ssize_t n = io_read_full(fd, p, (size_t)st.st_size + 1);
    if (n < 0)
        return bl_errno(err, (int)-n, "read %s", path);
    if ((size_t)n != (size_t)st.st_size)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s changed while it was read", path);
    *data = steal_ptr(&p);
    *len = (size_t)n;
    return 0;
}
