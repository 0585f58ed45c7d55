// SPDX-License-Identifier: Apache-2.0
/* tar for file copy (POSIX.1-2001 ustar and pax extended headers, IEEE Std 1003.1
 * "pax" format; GNU 'L'/'K' long names read too). Extraction never follows a symlink: every
 * directory on an entry's path is opened with O_NOFOLLOW below the destination. */
#include "proto/tar.h"

#include "common/cleanup.h"
#include "common/io.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 512
#define NAME_MAX_LEN 4096

struct ustar {
    char name[100], mode[8], uid[8], gid[8], size[12], mtime[12], chksum[8], typeflag;
    char linkname[100], magic[6], version[2], uname[32], gname[32], devmajor[8], devminor[8];
    char prefix[155], pad[12];
};
_Static_assert(sizeof(struct ustar) == BLOCK, "ustar header is one block");

/* The archive's byte counter and error text around io.h's whole reads and writes. */
static int write_all(int fd, const void *p, size_t n, uint64_t *count, struct bl_error *err)
{
    int r = io_write_all(fd, p, n);
    if (r < 0)
        return bl_errno(err, -r, "write archive");
    *count += n;
    return 0;
}

/* Returns bytes read (short only at end of file) or negative. */
static ssize_t read_full(int fd, void *p, size_t n, uint64_t *count, struct bl_error *err)
{
    ssize_t got = io_read_full(fd, p, n);
    if (got < 0)
        return bl_errno(err, (int)-got, "read archive");
    *count += (uint64_t)got;
    return got;
}

/* ---- writer ------------------------------------------------------------------------- */

static void octal(char *field, size_t len, uint64_t v)
{
    snprintf(field, len, "%0*llo", (int)len - 1, (unsigned long long)v);
}

static void checksum(struct ustar *h)
{
    memset(h->chksum, ' ', sizeof h->chksum);
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += ((unsigned char *)h)[i];
    snprintf(h->chksum, sizeof h->chksum, "%06o", sum);
    h->chksum[7] = ' ';
}

static void pax_record(char *buf, size_t cap, size_t *len, const char *key, const char *val)
{
    size_t body = strlen(key) + strlen(val) + 3; /* ' ' '=' '\n' */
    size_t n = body + 1;
    for (;;) { /* the length counts its own digits */
        char d[24];
        size_t total = body + (size_t)snprintf(d, sizeof d, "%zu", n);
        if (total == n)
            break;
        n = total;
    }
    if (*len + n < cap)
        *len += (size_t)snprintf(buf + *len, cap - *len, "%zu %s=%s\n", n, key, val);
}

struct tw {
    int fd;
    uint64_t count;
    struct bl_error *err;
};

static int put_header(struct tw *t, const char *name, const struct stat *st, char type,
                      const char *link, uint64_t size)
{
    struct ustar h;
    char pax[2 * NAME_MAX_LEN + 256];
    size_t plen = 0;
    if (strlen(name) >= sizeof h.name)
        pax_record(pax, sizeof pax, &plen, "path", name);
    if (link && strlen(link) >= sizeof h.linkname)
        pax_record(pax, sizeof pax, &plen, "linkpath", link);
    if (size > 077777777777ull) {
        char v[24];
        snprintf(v, sizeof v, "%llu", (unsigned long long)size);
        pax_record(pax, sizeof pax, &plen, "size", v);
    }
    if (plen) {
        memset(&h, 0, sizeof h);
        snprintf(h.name, sizeof h.name, "././@PaxHeader");
        octal(h.mode, sizeof h.mode, 0644);
        octal(h.uid, sizeof h.uid, 0);
        octal(h.gid, sizeof h.gid, 0);
        octal(h.size, sizeof h.size, plen);
        octal(h.mtime, sizeof h.mtime, 0);
        h.typeflag = 'x';
        memcpy(h.magic, "ustar", 6);
        memcpy(h.version, "00", 2);
        checksum(&h);
        char padded[sizeof pax + BLOCK] = {0};
        memcpy(padded, pax, plen);
        size_t total = (plen + BLOCK - 1) / BLOCK * BLOCK;
        if (write_all(t->fd, &h, BLOCK, &t->count, t->err) < 0 ||
            write_all(t->fd, padded, total, &t->count, t->err) < 0)
            return -1;
    }
    memset(&h, 0, sizeof h);
    memcpy(h.name, name, strlen(name) < sizeof h.name ? strlen(name) : sizeof h.name);
    octal(h.mode, sizeof h.mode, st->st_mode & 07777);
    octal(h.uid, sizeof h.uid, st->st_uid & 07777777);
    octal(h.gid, sizeof h.gid, st->st_gid & 07777777);
    octal(h.size, sizeof h.size, size > 077777777777ull ? 0 : size);
    octal(h.mtime, sizeof h.mtime, st->st_mtime > 0 ? (uint64_t)st->st_mtime : 0);
    h.typeflag = type;
    if (link)
        memcpy(h.linkname, link, strlen(link) < sizeof h.linkname ? strlen(link) : sizeof h.linkname);
    memcpy(h.magic, "ustar", 6);
    memcpy(h.version, "00", 2);
    checksum(&h);
    return write_all(t->fd, &h, BLOCK, &t->count, t->err);
}

static int put_file(struct tw *t, int at, const char *base, const char *name, const struct stat *st)
{
    cleanup_close int fd = openat(at, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(t->err, errno, "open %s", name);
    uint64_t size = (uint64_t)st->st_size, done = 0;
    if (put_header(t, name, st, '0', NULL, size) < 0)
        return -1;
    char buf[65536];
    while (done < size) {
        size_t want = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        ssize_t r = read(fd, buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return bl_errno(t->err, errno, "read %s", name);
        if (r == 0) { /* the file shrank while we read it: pad with zeros, keep the archive valid */
            memset(buf, 0, want);
            r = (ssize_t)want;
        }
        if (write_all(t->fd, buf, (size_t)r, &t->count, t->err) < 0)
            return -1;
        done += (uint64_t)r;
    }
    size_t pad = (size_t)((BLOCK - size % BLOCK) % BLOCK);
    memset(buf, 0, BLOCK);
    return write_all(t->fd, buf, pad, &t->count, t->err);
}

static int put_tree(struct tw *t, int at, const char *base, const char *name, int depth)
{
    struct stat st;
    if (depth > 256)
        return bl_err(t->err, BOXLITE_ERR_INVALID, "%s: directories nested too deep", name);
    if (fstatat(at, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return bl_errno(t->err, errno, "stat %s", name);
    if (S_ISREG(st.st_mode))
        return put_file(t, at, base, name, &st);
    if (S_ISLNK(st.st_mode)) {
        char target[NAME_MAX_LEN];
        ssize_t n = readlinkat(at, base, target, sizeof target - 1);
        if (n < 0)
            return bl_errno(t->err, errno, "readlink %s", name);
        target[n] = 0;
        return put_header(t, name, &st, '2', target, 0);
    }
    if (!S_ISDIR(st.st_mode))
        return 0; /* devices, fifos, sockets: not copied */
    char dname[NAME_MAX_LEN];
    if (snprintf(dname, sizeof dname, "%s/", name) >= (int)sizeof dname)
        return bl_err(t->err, BOXLITE_ERR_INVALID, "%s: name too long", name);
    if (put_header(t, dname, &st, '5', NULL, 0) < 0)
        return -1;
    int fd = openat(at, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(t->err, errno, "open %s", name);
    cleanup_closedir DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return bl_errno(t->err, errno, "opendir %s", name);
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char child[NAME_MAX_LEN];
        if (snprintf(child, sizeof child, "%s/%s", name, de->d_name) >= (int)sizeof child)
            return bl_err(t->err, BOXLITE_ERR_INVALID, "%s/%s: name too long", name, de->d_name);
        if (put_tree(t, dirfd(d), de->d_name, child, depth + 1) < 0)
            return -1;
    }
    return 0;
}

int tar_write(int fd, const char *src, uint64_t *bytes, struct bl_error *err)
{
    return tar_write_as(fd, src, ".", bytes, err);
}

int tar_write_as(int fd, const char *src, const char *name, uint64_t *bytes,
                 struct bl_error *err)
{
    struct tw t = {.fd = fd, .err = err};
    int rc = put_tree(&t, AT_FDCWD, src, name, 0);
    if (rc < 0)
        return bl_err_prefix(err, "archive %s", src);
    char zero[2 * BLOCK] = {0};
    if (write_all(fd, zero, sizeof zero, &t.count, err) < 0)
        return -1;
    if (bytes)
        *bytes = t.count;
    return 0;
}

/* ---- reader ------------------------------------------------------------------------- */

/* Normalises an entry name relative to the archive root: "" is the root itself. Refuses
 * absolute names and ".." anywhere. */
static int clean_name(const char *in, char *out, size_t cap, struct bl_error *err)
{
    if (in[0] == '/')
        return bl_err(err, BOXLITE_ERR_INVALID, "absolute name %s refused", in);
    size_t n = 0;
    const char *p = in;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return bl_err(err, BOXLITE_ERR_INVALID, "name %s with '..' refused", in);
        if (len && !(len == 1 && p[0] == '.')) {
            if (n + len + 2 > cap)
                return bl_err(err, BOXLITE_ERR_INVALID, "name too long");
            if (n)
                out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
        if (*p == '/')
            p++;
    }
    out[n] = 0;
    return 0;
}

static bool parse_octal(const char *f, size_t len, uint64_t *out)
{
    if ((unsigned char)f[0] & 0x80) { /* base-256 (GNU): big-endian after the marker bit */
        uint64_t v = (unsigned char)f[0] & 0x3f;
        for (size_t i = 1; i < len; i++) {
            if (v >> 55)
                return false;
            v = v << 8 | (unsigned char)f[i];
        }
        *out = v;
        return !((unsigned char)f[0] & 0x40);
    }
    uint64_t v = 0;
    size_t i = 0;
    while (i < len && f[i] == ' ')
        i++;
    bool any = false;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60)
            return false;
        v = v * 8 + (uint64_t)(f[i] - '0');
        any = true;
    }
    for (; i < len; i++)
        if (f[i] != ' ' && f[i] != 0)
            return false;
    *out = v;
    return any || f[0] == 0 || f[0] == ' ';
}

static bool checksum_ok(const struct ustar *h)
{
    uint64_t want;
    if (!parse_octal(h->chksum, sizeof h->chksum, &want))
        return false;
    unsigned usum = 0;
    int ssum = 0;
    for (size_t i = 0; i < BLOCK; i++) {
        bool in = i >= offsetof(struct ustar, chksum) && i < offsetof(struct ustar, chksum) + 8;
        unsigned char c = in ? ' ' : ((const unsigned char *)h)[i];
        usum += c;
        ssum += in ? ' ' : ((const signed char *)h)[i];
    }
    return want == usum || (int64_t)want == ssum;
}

struct tr {
    int fd;
    int root;      /* O_PATH fd of dest once it is a directory, else -1 */
    const char *dest;
    uint64_t count;
    bool as_root;
    bool untrusted;  /* tar_extract_untrusted's rules */
    uint64_t budget; /* bytes still allowed (untrusted with a limit), else UINT64_MAX */
    uint64_t limit;
    struct bl_error *err;
};

/* Charges an entry against the limit before any of it is written. */
static int charge(struct tr *t, const char *name, uint64_t size)
{
    uint64_t need = size > UINT64_MAX - BLOCK ? UINT64_MAX : size + BLOCK;
    if (need > t->budget)
        return bl_err(t->err, BOXLITE_ERR_INVALID,
                      "%s (%llu bytes) passes the copy's limit of %llu bytes", name[0] ? name : ".",
                      (unsigned long long)size, (unsigned long long)t->limit);
    t->budget -= need;
    return 0;
}

static int skip_bytes(struct tr *t, uint64_t n)
{
    char buf[8192];
    while (n) {
        size_t want = n < sizeof buf ? (size_t)n : sizeof buf;
        ssize_t r = read_full(t->fd, buf, want, &t->count, t->err);
        if (r < 0)
            return -1;
        if ((size_t)r < want)
            return bl_err(t->err, BOXLITE_ERR_INVALID, "archive truncated");
        n -= want;
    }
    return 0;
}

/* Reads a pax extended header's records into path/linkpath/size. */
static int read_pax(struct tr *t, uint64_t size, char *path, char *link, uint64_t *psize, bool *has_size)
{
    if (size > 1u << 20)
        return bl_err(t->err, BOXLITE_ERR_INVALID, "pax header of %llu bytes refused",
                      (unsigned long long)size);
    uint64_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;
    cleanup_free char *buf = malloc(padded + 1);
    if (!buf)
        return bl_err(t->err, BOXLITE_ERR_NOMEM, "out of memory");
    ssize_t r = read_full(t->fd, buf, padded, &t->count, t->err);
    if (r < 0)
        return -1;
    if ((uint64_t)r < padded)
        return bl_err(t->err, BOXLITE_ERR_INVALID, "archive truncated in a pax header");
    buf[size] = 0;
    size_t off = 0;
    while (off < size) {
        char *end;
        unsigned long len = strtoul(buf + off, &end, 10);
        if (end == buf + off || *end != ' ' || len < 5 || len > size - off || buf[off + len - 1] != '\n')
            return bl_err(t->err, BOXLITE_ERR_INVALID, "malformed pax record");
        char *kv = end + 1, *rec_end = buf + off + len - 1;
        *rec_end = 0;
        char *eq = strchr(kv, '=');
        if (!eq)
            return bl_err(t->err, BOXLITE_ERR_INVALID, "malformed pax record");
        *eq = 0;
        const char *val = eq + 1;
        if (strlen(val) >= NAME_MAX_LEN && (!strcmp(kv, "path") || !strcmp(kv, "linkpath")))
            return bl_err(t->err, BOXLITE_ERR_INVALID, "pax name too long");
        if (!strcmp(kv, "path"))
            snprintf(path, NAME_MAX_LEN, "%s", val);
        else if (!strcmp(kv, "linkpath"))
            snprintf(link, NAME_MAX_LEN, "%s", val);
        else if (!strcmp(kv, "size")) {
            char *e2;
            errno = 0;
            unsigned long long v = strtoull(val, &e2, 10);
            if (*e2 || errno || !*val)
                return bl_err(t->err, BOXLITE_ERR_INVALID, "bad pax size");
            *psize = v;
            *has_size = true;
        }
        off += len;
    }
    return 0;
}

static int read_longname(struct tr *t, uint64_t size, char *out)
{
    if (size >= NAME_MAX_LEN)
        return bl_err(t->err, BOXLITE_ERR_INVALID, "long name of %llu bytes refused",
                      (unsigned long long)size);
    char buf[NAME_MAX_LEN + BLOCK];
    uint64_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;
    ssize_t r = read_full(t->fd, buf, padded, &t->count, t->err);
    if (r < 0)
        return -1;
    if ((uint64_t)r < padded)
        return bl_err(t->err, BOXLITE_ERR_INVALID, "archive truncated in a long name");
    memcpy(out, buf, size);
    out[size] = 0;
    return 0;
}

/* Opens the parent directory of a cleaned, non-empty name below root, creating missing
 * directories, never following a symlink. *base points at the last component. */
static int open_parent(struct tr *t, char *name, char **base)
{
    int cur = fcntl(t->root, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        return bl_errno(t->err, errno, "dup");
    char *p = name;
    for (char *slash; (slash = strchr(p, '/')); p = slash + 1) {
        *slash = 0;
        if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            close(cur);
            *slash = '/';
            return bl_errno(t->err, e, "mkdir %s", name);
        }
        int next = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        *slash = '/';
        if (next < 0)
            return bl_errno(t->err, e == ELOOP || e == ENOTDIR ? ENOTDIR : e,
                            "%s: a parent is not a directory (symlinks are not followed)", name);
        cur = next;
    }
    *base = p;
    return cur;
}

/* Makes room for a new non-directory entry. */
static void remove_existing(int dir, const char *base)
{
    struct stat st;
    if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
        unlinkat(dir, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
}

static int ensure_root_dir(struct tr *t)
{
    if (t->root >= 0)
        return 0;
    if (mkdir(t->dest, t->untrusted ? 0700 : 0755) < 0 && (errno != EEXIST || t->untrusted))
        return errno == EEXIST
                   ? bl_err(t->err, BOXLITE_ERR_EXISTS,
                            "%s exists: a copy never merges into an existing directory", t->dest)
                   : bl_errno(t->err, errno, "mkdir %s", t->dest);
    t->root = open(t->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->root < 0)
        return bl_errno(t->err, errno, "open %s", t->dest);
    return 0;
}

static int copy_data(struct tr *t, int out, uint64_t size, const char *name)
{
    char buf[65536];
    uint64_t left = (size + BLOCK - 1) / BLOCK * BLOCK;
    while (left) {
        size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
        ssize_t r = read_full(t->fd, buf, want, &t->count, t->err);
        if (r < 0)
            return -1;
        if ((size_t)r < want)
            return bl_err(t->err, BOXLITE_ERR_INVALID, "archive truncated in %s", name);
        size_t keep = size < want ? (size_t)size : want;
        for (size_t off = 0; off < keep;) {
            ssize_t w = write(out, buf + off, keep - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return bl_errno(t->err, w < 0 ? errno : EIO, "write %s", name);
            off += (size_t)w;
        }
        size -= keep;
        left -= want;
    }
    return 0;
}

static int extract_entry(struct tr *t, char type, char *name, const char *link, uint64_t size,
                         const struct ustar *h)
{
    uint64_t mode = 0644, uid = 0, gid = 0, mtime = 0;
    parse_octal(h->mode, sizeof h->mode, &mode);
    parse_octal(h->uid, sizeof h->uid, &uid);
    parse_octal(h->gid, sizeof h->gid, &gid);
    parse_octal(h->mtime, sizeof h->mtime, &mtime);
    mode &= t->as_root && !t->untrusted ? 07777 : 0777;
    if (t->untrusted && type != '0' && type != '\0' && type != '7' && type != '5' &&
        type != '2' && type != '1')
        return bl_err(t->err, BOXLITE_ERR_INVALID, "%s: %s refused (regular files, directories "
                      "and symlinks only)", name[0] ? name : ".",
                      type == '3' || type == '4' ? "a device node"
                      : type == '6'              ? "a FIFO"
                                                 : "an unknown entry type");
    if (t->untrusted && charge(t, name, type == '0' || type == '\0' || type == '7' ? size : 0) < 0)
        return -1;
    struct timespec ts[2] = {{.tv_sec = (time_t)mtime}, {.tv_sec = (time_t)mtime}};
    bool is_root = !name[0];

    if (type == '5') {
        if (is_root)
            return ensure_root_dir(t);
        if (ensure_root_dir(t) < 0)
            return -1;
        char *base;
        cleanup_close int dir = open_parent(t, name, &base);
        if (dir < 0)
            return -1;
        struct stat st;
        if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
            unlinkat(dir, base, 0);
        if (mkdirat(dir, base, 0700) < 0 && errno != EEXIST)
            return bl_errno(t->err, errno, "mkdir %s", name);
        if (t->as_root && !t->untrusted)
            fchownat(dir, base, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW);
        fchmodat(dir, base, (mode_t)mode, 0);
        return 0;
    }
    if (type != '0' && type != '\0' && type != '7' && type != '2' && type != '1')
        return skip_bytes(t, (size + BLOCK - 1) / BLOCK * BLOCK); /* devices, fifos */

    /* The entry's directory and last component. The root entry of a file archive is dest. */
    cleanup_close int dir = -1;
    char *base;
    char rootbase[NAME_MAX_LEN];
    if (is_root) {
        if (type != '0' && type != '\0' && type != '7' && !(type == '2' && t->untrusted))
            return bl_err(t->err, BOXLITE_ERR_INVALID, "archive root is a link");
        snprintf(rootbase, sizeof rootbase, "%s", t->dest);
        char *slash = strrchr(rootbase, '/');
        if (slash) {
            *slash = 0;
            dir = open(rootbase[0] ? rootbase : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            base = slash + 1;
        } else {
            dir = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            base = rootbase;
        }
        if (dir < 0)
            return bl_errno(t->err, errno, "open the parent of %s", t->dest);
        if (!*base)
            return bl_err(t->err, BOXLITE_ERR_INVALID, "bad destination %s", t->dest);
    } else {
        if (ensure_root_dir(t) < 0)
            return -1;
        dir = open_parent(t, name, &base);
        if (dir < 0)
            return -1;
    }
    if (t->untrusted) {
        struct stat st;
        if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            return bl_err(t->err, BOXLITE_ERR_EXISTS, "%s is a directory",
                          is_root ? t->dest : name);
    }
    remove_existing(dir, base);
    if (type == '2') {
        if (symlinkat(link, dir, base) < 0)
            return bl_errno(t->err, errno, "symlink %s", name);
        if (t->as_root && !t->untrusted)
            fchownat(dir, base, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW);
        utimensat(dir, base, ts, AT_SYMLINK_NOFOLLOW);
        return 0;
    }
    if (type == '1') {
        char target[NAME_MAX_LEN];
        if (clean_name(link, target, sizeof target, t->err) < 0)
            return bl_err_prefix(t->err, "hard link %s", name);
        if (!target[0])
            return bl_err(t->err, BOXLITE_ERR_INVALID, "hard link %s to the root", name);
        char *tbase;
        cleanup_close int tdir = open_parent(t, target, &tbase);
        if (tdir < 0)
            return -1;
        if (linkat(tdir, tbase, dir, base, 0) < 0)
            return bl_errno(t->err, errno, "hard link %s to %s", name, target);
        return 0;
    }
    cleanup_close int out = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return bl_errno(t->err, errno, "create %s", is_root ? t->dest : name);
    if (copy_data(t, out, size, name) < 0)
        return -1;
    if (t->as_root && !t->untrusted)
        fchown(out, (uid_t)uid, (gid_t)gid);
    fchmod(out, (mode_t)mode);
    futimens(out, ts);
    return 0;
}

static int extract(struct tr *t_, uint64_t *bytes);

int tar_extract(int fd, const char *dest, uint64_t *bytes, struct bl_error *err)
{
    struct tr t = {.fd = fd, .root = -1, .dest = dest, .as_root = geteuid() == 0, .err = err,
                   .budget = UINT64_MAX};
    return extract(&t, bytes);
}

int tar_extract_untrusted(int fd, const char *dest, const struct tar_untrusted *u,
                          uint64_t *bytes, struct bl_error *err)
{
    struct tr t = {.fd = fd, .root = -1, .dest = dest, .untrusted = true, .err = err,
                   .budget = u && u->max_bytes ? u->max_bytes : UINT64_MAX,
                   .limit = u ? u->max_bytes : 0};
    return extract(&t, bytes);
}

static int extract(struct tr *t_, uint64_t *bytes)
{
    struct tr t = *t_;
    struct bl_error *err = t.err;
    const char *dest = t.dest;
    int fd = t.fd;
    char path[NAME_MAX_LEN] = "", link[NAME_MAX_LEN] = "", clean[NAME_MAX_LEN];
    uint64_t pax_size = 0;
    bool has_pax_size = false, has_path = false, has_link = false;
    int rc = 0;
    int zeros = 0;
    for (;;) {
        struct ustar h;
        ssize_t r = read_full(fd, &h, BLOCK, &t.count, err);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0 && !has_path && !has_link && !has_pax_size)
            break; /* end of file without the end marker: accepted */
        if (r < BLOCK) {
            rc = bl_err(err, BOXLITE_ERR_INVALID, "archive truncated in a header");
            break;
        }
        static const char zero[BLOCK];
        if (!memcmp(&h, zero, BLOCK)) {
            if (++zeros == 2)
                break;
            continue;
        }
        zeros = 0;
        if (!checksum_ok(&h)) {
            rc = bl_err(err, BOXLITE_ERR_INVALID, "bad header checksum at byte %llu",
                        (unsigned long long)(t.count - BLOCK));
            break;
        }
        uint64_t size;
        if (!parse_octal(h.size, sizeof h.size, &size)) {
            rc = bl_err(err, BOXLITE_ERR_INVALID, "bad size field");
            break;
        }
        char type = h.typeflag;
        if (type == 'x' || type == 'L' || type == 'K' || type == 'g') {
            if (type == 'x')
                rc = read_pax(&t, size, path, link, &pax_size, &has_pax_size);
            else if (type == 'g')
                rc = charge(&t, "a pax global header", size) < 0
                         ? -1
                         : skip_bytes(&t, (size + BLOCK - 1) / BLOCK * BLOCK);
            else
                rc = read_longname(&t, size, type == 'L' ? path : link);
            if (rc < 0)
                break;
            has_path |= type == 'L' || (type == 'x' && path[0]);
            has_link |= type == 'K' || (type == 'x' && link[0]);
            continue;
        }
        if (!has_path) {
            /* ustar: prefix "/" name, each field NUL-terminated unless full */
            char nm[101], pf[156];
            memcpy(nm, h.name, 100);
            nm[100] = 0;
            memcpy(pf, h.prefix, 155);
            pf[155] = 0;
            if (!memcmp(h.magic, "ustar", 5) && pf[0])
                snprintf(path, sizeof path, "%s/%s", pf, nm);
            else
                snprintf(path, sizeof path, "%s", nm);
        }
        if (!has_link) {
            memcpy(link, h.linkname, 100);
            link[100] = 0;
        }
        if (has_pax_size)
            size = pax_size;
        if (type == '5' || type == '2' || type == '1')
            size = 0;
        if (clean_name(path, clean, sizeof clean, err) < 0) {
            rc = -1;
            break;
        }
        rc = extract_entry(&t, type, clean, link, size, &h);
        if (rc < 0)
            break;
        path[0] = link[0] = 0;
        has_path = has_link = has_pax_size = false;
    }
    if (t.root >= 0)
        close(t.root);
    if (rc == 0) { /* drain what follows the end marker so the writer never sees EPIPE */
        char buf[4096];
        while (t.budget >= sizeof buf && read_full(t.fd, buf, sizeof buf, &t.count, NULL) > 0)
            if (t.budget != UINT64_MAX)
                t.budget -= sizeof buf; /* an untrusted writer cannot keep us reading */
    }
    if (bytes)
        *bytes = t.count;
    if (rc < 0)
        return bl_err_prefix(err, "extract into %s", dest);
    return 0;
}
