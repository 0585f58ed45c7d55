// SPDX-License-Identifier: Apache-2.0
/* An ext4 image written through libext2fs (ext4img.h). The on-disk format is ext4's
 * (Documentation/filesystems/ext4 in Linux: inodes, extent trees, linear directories with
 * checksum tails, extended attributes); e2fsprogs' library keeps the bitmaps, group
 * descriptors and checksums right.
 *
 * Two writers reach the image file: libext2fs's I/O channel (metadata, through its small
 * write-back cache) and our own descriptor (file data, gathered per run of consecutive
 * blocks). They never hold the same block at once: blocks are freed only between
 * ext4img_release_begin (the data in flight goes out) and ext4img_release_end (the
 * channel's dirty blocks go out), so a freed block has nothing pending when it is used
 * again, by either writer. */
#include "image/ext4img.h"

#include "common/cleanup.h"
#include "image/rootfs.h"

#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BS 4096u                 /* mke2fs -b 4096 */
#define FILE_CHUNK (1u << 20)    /* a file's bytes gathered before their blocks are allocated */
#define WRITE_CHUNK (4u << 20)   /* data bound for consecutive blocks, written at once */
#define MARGIN_BLOCKS 256        /* kept free for extent-tree and xattr blocks */
#define MAX_BLOCKS (1ULL << 28)  /* 1 TiB: an image that would be larger is refused */
#define MAX_FILE ((1ULL << 44) - BS) /* ext4, 4 KiB blocks, 32-bit logical block numbers */
#define MIB (1024ULL * 1024)

/* Room for an inode of any size mke2fs may make (we ask for 256). */
union ibuf {
    struct ext2_inode_large in;
    char raw[1024];
};

struct ext4img {
    ext2_filsys fs;
    char tmp[PATH_MAX], out[PATH_MAX];
    int fd; /* the image, for file data */
    int done;
    unsigned isz; /* inode size */
    blk64_t goal; /* where the next data goes: files follow each other on disk */
    char *wbuf;   /* WRITE_CHUNK: data for blocks wblk.. */
    size_t wlen;
    blk64_t wblk;
    /* The file being written: its bytes from logical offset fstart (block-aligned) in fbuf. */
    ext2_ino_t fino;
    const char *fpath;
    union ibuf fib;
    char *fbuf; /* FILE_CHUNK */
    uint64_t fstart;
    size_t fused;
    struct ext4img_stats st;
};

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static void load_tables(void) { initialize_ext2_error_table(); }

/* libext2fs returns errno values and its own codes (com_err) in one errcode_t. */
static int e2err(struct bl_error *err, errcode_t code, const char *what, const char *path)
{
    if (code > 0 && code < 4096)
        return bl_errno(err, (int)code, "%s %.300s", what, path);
    return bl_err(err, BOXLITE_ERR_IO, "%s %.300s: %s", what, path, error_message(code));
}

/* ---- inodes -------------------------------------------------------------------------- */

/* ext4 times: 32 seconds bits, two more "epoch" bits in the extra field (until 2446). */
static void set_time(__u32 *t, __u32 *extra, int64_t sec)
{
    if (sec < INT32_MIN)
        sec = INT32_MIN;
    if (sec > 0x37fffffffLL)
        sec = 0x37fffffffLL;
    *t = (__u32)sec;
    *extra = (__u32)(((sec - (int32_t)(__u32)sec) >> 32) & EXT4_EPOCH_MASK);
}

static void inode_init(union ibuf *ib, const struct ext4img_attr *a)
{
    memset(ib, 0, sizeof *ib);
    struct ext2_inode_large *in = &ib->in;
    in->i_mode = (__u16)a->mode;
    in->i_uid = (__u16)a->uid;
    in->i_gid = (__u16)a->gid;
    ext2fs_set_i_uid_high(*in, a->uid >> 16);
    ext2fs_set_i_gid_high(*in, a->gid >> 16);
    in->i_links_count = 1;
    in->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
    set_time(&in->i_mtime, &in->i_mtime_extra, a->mtime);
    set_time(&in->i_atime, &in->i_atime_extra, a->mtime);
    set_time(&in->i_ctime, &in->i_ctime_extra, a->mtime);
    set_time(&in->i_crtime, &in->i_crtime_extra, a->mtime);
}

/* An empty extent tree in the inode: its blocks are mapped by extents (ext4's "extents"). */
static void extents_init(struct ext2_inode_large *in)
{
    struct ext3_extent_header *eh = (struct ext3_extent_header *)in->i_block;
    memset(in->i_block, 0, sizeof in->i_block);
    eh->eh_magic = ext2fs_cpu_to_le16(EXT3_EXT_MAGIC);
    eh->eh_max = ext2fs_cpu_to_le16((sizeof in->i_block - sizeof *eh) / sizeof(struct ext3_extent));
    in->i_flags |= EXT4_EXTENTS_FL;
}

/* Full-size reads and writes: nothing of an earlier inode in the same slot survives. */
static int read_inode(struct ext4img *m, ext2_ino_t ino, union ibuf *ib, const char *path, struct bl_error *err)
{
    errcode_t e = ext2fs_read_inode_full(m->fs, ino, (struct ext2_inode *)&ib->in, (int)m->isz);
    return e ? e2err(err, e, "read inode of", path) : 0;
}

static int write_inode(struct ext4img *m, ext2_ino_t ino, union ibuf *ib, const char *path, struct bl_error *err)
{
    errcode_t e = ext2fs_write_inode_full(m->fs, ino, (struct ext2_inode *)&ib->in, (int)m->isz);
    return e ? e2err(err, e, "write inode of", path) : 0;
}

/* ---- the image file: data, open, resize ---------------------------------------------- */

static int pwrite_all(int fd, const char *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -1 : (errno = EIO, -1);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int data_flush(struct ext4img *m, struct bl_error *err)
{
    if (!m->wlen)
        return 0;
    if (pwrite_all(m->fd, m->wbuf, m->wlen, m->wblk * BS) < 0)
        return bl_errno(err, errno, "write %s", m->tmp);
    m->wlen = 0;
    return 0;
}

/* len bytes (whole blocks) for the blocks from blk on. */
static int data_write(struct ext4img *m, blk64_t blk, const char *p, size_t len, struct bl_error *err)
{
    if (m->wlen && blk == m->wblk + m->wlen / BS && m->wlen + len <= WRITE_CHUNK) {
        memcpy(m->wbuf + m->wlen, p, len);
        m->wlen += len;
        return 0;
    }
    if (data_flush(m, err) < 0)
        return -err->code;
    if (len >= WRITE_CHUNK / 2) {
        if (pwrite_all(m->fd, p, len, blk * BS) < 0)
            return bl_errno(err, errno, "write %s", m->tmp);
        return 0;
    }
    memcpy(m->wbuf, p, len);
    m->wblk = blk;
    m->wlen = len;
    return 0;
}

static int fs_open(struct ext4img *m, struct bl_error *err)
{
    errcode_t e = ext2fs_open2(m->tmp, NULL, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &m->fs);
    if (e) {
        m->fs = NULL;
        return e2err(err, e, "open", m->tmp);
    }
    if ((e = ext2fs_read_bitmaps(m->fs)))
        return e2err(err, e, "read bitmaps of", m->tmp);
    m->isz = EXT2_INODE_SIZE(m->fs->super);
    if (m->fs->blocksize != BS || m->isz < sizeof(struct ext2_inode_large) || m->isz > sizeof(union ibuf) ||
        !ext2fs_has_feature_extents(m->fs->super) || !ext2fs_has_feature_filetype(m->fs->super))
        return bl_err(err, BOXLITE_ERR_INTERNAL, "%s: not the ext4 mke2fs was asked for", m->tmp);
    return 0;
}

/* sync = 0 leaves the fsync out (a resize follows). */
static int fs_close(struct ext4img *m, int sync, struct bl_error *err)
{
    int r = data_flush(m, err);
    if (!m->fs)
        return r;
    errcode_t e = ext2fs_close2(m->fs, sync ? 0 : EXT2_FLAG_FLUSH_NO_SYNC);
    if (e)
        ext2fs_free(m->fs);
    m->fs = NULL;
    if (r == 0 && e)
        r = e2err(err, e, "write", m->tmp);
    return r;
}

/* resize2fs to `blocks` (4 KiB) on the closed image. Growing needs no check (-f):
 * resize2fs's minimum is an estimate, and a larger size is above it anyway. A shrink below
 * that estimate is refused, and then made to the estimate (from its message) instead. */
static int run_resize(struct ext4img *m, uint64_t old, uint64_t *blocks, struct bl_error *err)
{
    if (*blocks > MAX_BLOCKS)
        return bl_err(err, BOXLITE_ERR_IMAGE, "the image would be larger than %llu GiB",
                      (unsigned long long)(MAX_BLOCKS * BS >> 30));
    if (*blocks > old && ftruncate(m->fd, (off_t)(*blocks * BS)) < 0)
        return bl_errno(err, errno, "grow %s", m->tmp);
    char size[32];
    snprintf(size, sizeof size, "%llu", (unsigned long long)*blocks);
    char *grow[] = {"resize2fs", "-f", m->tmp, size, NULL}, *shrink[] = {"resize2fs", m->tmp, size, NULL};
    int r = run_tool(*blocks > old ? grow : shrink, 0, err);
    const char *p = r < 0 && *blocks < old ? strstr(err->msg, "smaller than minimum (") : NULL;
    unsigned long long min;
    if (p && sscanf(p, "smaller than minimum (%llu)", &min) == 1 && min > *blocks) {
        if (min >= old) {
            *blocks = old; /* no smaller after all */
            return 0;
        }
        *blocks = min;
        snprintf(size, sizeof size, "%llu", min);
        r = run_tool(shrink, 0, err);
    }
    if (r < 0)
        return r;
    if (*blocks < old && ftruncate(m->fd, (off_t)(*blocks * BS)) < 0)
        return bl_errno(err, errno, "shrink %s", m->tmp);
    m->st.resizes++;
    return 0;
}

/* Closes, resizes and opens the image again. Growing never moves a block or an inode
 * (mke2fs reserved room for the group descriptors), so what the caller knows stays true. */
static int resize(struct ext4img *m, uint64_t blocks, struct bl_error *err)
{
    uint64_t old = ext2fs_blocks_count(m->fs->super);
    /* A file being written is on disk as it is now (resize2fs would move its blocks, if
     * any moved) and read back after. */
    int r = m->fino ? write_inode(m, m->fino, &m->fib, m->fpath, err) : 0;
    if (r == 0)
        r = fs_close(m, 0, err);
    if (r == 0)
        r = run_resize(m, old, &blocks, err);
    if (r == 0)
        r = fs_open(m, err);
    if (r == 0 && m->fino)
        r = read_inode(m, m->fino, &m->fib, m->fpath, err);
    m->goal = 0;
    return r;
}

/* Makes sure `blocks` blocks and `inodes` inodes are free, growing the filesystem by half
 * at least (inodes come with block groups). */
static int need(struct ext4img *m, uint64_t blocks, uint64_t inodes, struct bl_error *err)
{
    struct ext2_super_block *sb = m->fs->super;
    if (ext2fs_free_blocks_count(sb) >= blocks + MARGIN_BLOCKS && sb->s_free_inodes_count >= inodes)
        return 0;
    uint64_t cur = ext2fs_blocks_count(sb);
    uint64_t want = cur + (cur / 2 > blocks + 2 * MARGIN_BLOCKS ? cur / 2 : blocks + 2 * MARGIN_BLOCKS);
    uint64_t used_inodes = sb->s_inodes_count - sb->s_free_inodes_count;
    uint64_t groups = (used_inodes + inodes + 1024 + sb->s_inodes_per_group - 1) / sb->s_inodes_per_group;
    if (groups * sb->s_blocks_per_group > want)
        want = groups * sb->s_blocks_per_group;
    return resize(m, want, err);
}

int ext4img_reserve(struct ext4img *m, uint64_t blocks, struct bl_error *err) { return need(m, blocks, 0, err); }

static int new_inode(struct ext4img *m, ext2_ino_t parent, uint32_t mode, ext2_ino_t *ino, const char *path,
                     struct bl_error *err)
{
    int r = need(m, 0, 1, err);
    if (r < 0)
        return r;
    errcode_t e = ext2fs_new_inode(m->fs, parent, (int)mode, NULL, ino);
    if (e)
        return e2err(err, e, "new inode for", path);
    ext2fs_inode_alloc_stats2(m->fs, *ino, +1, LINUX_S_ISDIR(mode));
    m->st.inodes++;
    return 0;
}

/* Calls fn for each run of consecutive physical blocks behind logical blocks
 * [lblk, lblk + n) of the inode, which are allocated. */
typedef int (*run_fn)(struct ext4img *m, blk64_t pblk, blk64_t off, blk64_t len, void *ctx, struct bl_error *err);

static int for_each_run(struct ext4img *m, ext2_ino_t ino, struct ext2_inode_large *in, blk64_t lblk, blk64_t n,
                        run_fn fn, void *ctx, const char *path, struct bl_error *err)
{
    ext2_extent_handle_t h;
    errcode_t e = ext2fs_extent_open2(m->fs, ino, (struct ext2_inode *)in, &h);
    if (e)
        return e2err(err, e, "map", path);
    int r = 0;
    for (blk64_t l = lblk; l < lblk + n && r == 0;) {
        struct ext2fs_extent ex;
        e = ext2fs_extent_goto(h, l);
        if (!e)
            e = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ex);
        if (!e && (l < ex.e_lblk || l >= ex.e_lblk + ex.e_len))
            e = EXT2_ET_EXTENT_NOT_FOUND;
        if (e) {
            r = e2err(err, e, "map", path);
            break;
        }
        blk64_t run = ex.e_lblk + ex.e_len - l;
        if (run > lblk + n - l)
            run = lblk + n - l;
        r = fn(m, ex.e_pblk + (l - ex.e_lblk), l - lblk, run, ctx, err);
        l += run;
    }
    ext2fs_extent_free(h);
    return r;
}

/* ---- files --------------------------------------------------------------------------- */

static int data_run(struct ext4img *m, blk64_t pblk, blk64_t off, blk64_t len, void *ctx, struct bl_error *err)
{
    m->goal = pblk + len;
    return data_write(m, pblk, (const char *)ctx + off * BS, len * BS, err);
}

/* The gathered bytes get blocks (one extent when the free space allows) and go out. */
static int file_flush(struct ext4img *m, struct bl_error *err)
{
    if (!m->fused)
        return 0;
    blk64_t n = (m->fused + BS - 1) / BS, lblk = m->fstart / BS;
    memset(m->fbuf + m->fused, 0, n * BS - m->fused);
    int r = need(m, n + n / 256 + 4, 0, err);
    if (r < 0)
        return r;
    errcode_t e = ext2fs_fallocate(m->fs, EXT2_FALLOCATE_FORCE_INIT, m->fino, (struct ext2_inode *)&m->fib.in,
                                   m->goal, lblk, n);
    if (e)
        return e2err(err, e, "allocate blocks for", m->fpath);
    if ((r = for_each_run(m, m->fino, &m->fib.in, lblk, n, data_run, m->fbuf, m->fpath, err)) < 0)
        return r;
    m->fstart += n * BS;
    m->fused = 0;
    return 0;
}

static int file_begin(struct ext4img *m, ext2_ino_t parent, const struct ext4img_attr *a, uint32_t *ino,
                      const char *path, struct bl_error *err)
{
    int r = new_inode(m, parent, a->mode, &m->fino, path, err);
    if (r < 0)
        return r;
    inode_init(&m->fib, a);
    extents_init(&m->fib.in);
    m->fpath = path;
    m->fstart = 0;
    m->fused = 0;
    *ino = m->fino;
    return 0;
}

int ext4img_file_open(struct ext4img *m, uint32_t parent, const struct ext4img_attr *a, uint32_t *ino,
                      const char *path, struct bl_error *err)
{
    return file_begin(m, parent, a, ino, path, err);
}

int ext4img_file_write(struct ext4img *m, uint64_t off, const void *data, size_t len, struct bl_error *err)
{
    const char *p = data;
    uint64_t end = m->fstart + m->fused;
    if (off < end)
        return bl_err(err, BOXLITE_ERR_IMAGE, "%.300s: data out of order", m->fpath);
    if (off > MAX_FILE || len > MAX_FILE - off)
        return bl_err(err, BOXLITE_ERR_IMAGE, "%.300s: more than ext4 holds in a file", m->fpath);
    if (off > end) {
        if (m->fused && off / BS == (end - 1) / BS) {
            memset(m->fbuf + m->fused, 0, off - end); /* a hole inside the last block */
            m->fused = off - m->fstart;
        } else {
            int r = file_flush(m, err);
            if (r < 0)
                return r;
            m->fstart = off / BS * BS;
            m->fused = off - m->fstart;
            memset(m->fbuf, 0, m->fused);
        }
    }
    while (len > 0) {
        size_t n = FILE_CHUNK - m->fused;
        if (n > len)
            n = len;
        memcpy(m->fbuf + m->fused, p, n);
        m->fused += n;
        p += n;
        len -= n;
        m->st.bytes += n;
        if (m->fused == FILE_CHUNK) {
            int r = file_flush(m, err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

int ext4img_file_close(struct ext4img *m, uint64_t size, struct bl_error *err)
{
    if (size > MAX_FILE)
        return bl_err(err, BOXLITE_ERR_IMAGE, "%.300s: more than ext4 holds in a file", m->fpath);
    int r = file_flush(m, err);
    if (r < 0)
        return r;
    errcode_t e = ext2fs_inode_size_set(m->fs, (struct ext2_inode *)&m->fib.in, size);
    if (e)
        return e2err(err, e, "size", m->fpath);
    r = write_inode(m, m->fino, &m->fib, m->fpath, err);
    m->fino = 0;
    return r;
}

/* A target shorter than i_block (60 bytes) is kept in the inode itself (a "fast" symlink);
 * a longer one gets a block, written like file data. */
int ext4img_symlink(struct ext4img *m, uint32_t parent, const struct ext4img_attr *a, const char *target,
                    uint32_t *ino, const char *path, struct bl_error *err)
{
    size_t len = strlen(target);
    if (len >= BS)
        return bl_err(err, BOXLITE_ERR_IMAGE, "symlink %.300s: target longer than %u bytes", path, BS - 1);
    if (len >= sizeof m->fib.in.i_block) {
        int r = file_begin(m, parent, a, ino, path, err);
        if (r == 0)
            r = ext4img_file_write(m, 0, target, len, err);
        return r < 0 ? r : ext4img_file_close(m, len, err);
    }
    int r = new_inode(m, parent, a->mode, ino, path, err);
    if (r < 0)
        return r;
    union ibuf ib;
    inode_init(&ib, a);
    memcpy(ib.in.i_block, target, len);
    ib.in.i_size = (__u32)len;
    return write_inode(m, *ino, &ib, path, err);
}

int ext4img_node(struct ext4img *m, uint32_t parent, const struct ext4img_attr *a, unsigned major, unsigned minor,
                 uint32_t *ino, const char *path, struct bl_error *err)
{
    int r = new_inode(m, parent, a->mode, ino, path, err);
    if (r < 0)
        return r;
    union ibuf ib;
    inode_init(&ib, a);
    if (LINUX_S_ISCHR(a->mode) || LINUX_S_ISBLK(a->mode)) {
        /* The kernel's old and new device encodings in i_block (fs/ext4/inode.c). */
        if (major < 256 && minor < 256)
            ib.in.i_block[0] = major * 256 + minor;
        else
            ib.in.i_block[1] = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
    }
    return write_inode(m, *ino, &ib, path, err);
}

int ext4img_mkdir(struct ext4img *m, uint32_t parent, const struct ext4img_attr *a, uint32_t *ino,
                  const char *path, struct bl_error *err)
{
    int r = new_inode(m, parent, a->mode, ino, path, err);
    if (r < 0)
        return r;
    union ibuf ib;
    inode_init(&ib, a);
    ib.in.i_links_count = 2;
    extents_init(&ib.in);
    return write_inode(m, *ino, &ib, path, err);
}

int ext4img_set_attr(struct ext4img *m, uint32_t ino, const struct ext4img_attr *a, const char *path,
                     struct bl_error *err)
{
    union ibuf ib, fresh;
    int r = read_inode(m, ino, &ib, path, err);
    if (r < 0)
        return r;
    inode_init(&fresh, a);
    ib.in.i_mode = (__u16)((ib.in.i_mode & LINUX_S_IFMT) | (fresh.in.i_mode & ~LINUX_S_IFMT));
    ib.in.i_uid = fresh.in.i_uid;
    ib.in.i_gid = fresh.in.i_gid;
    ib.in.osd2.linux2.l_i_uid_high = fresh.in.osd2.linux2.l_i_uid_high;
    ib.in.osd2.linux2.l_i_gid_high = fresh.in.osd2.linux2.l_i_gid_high;
    ib.in.i_mtime = fresh.in.i_mtime;
    ib.in.i_mtime_extra = fresh.in.i_mtime_extra;
    return write_inode(m, ino, &ib, path, err);
}

/* ---- extended attributes, links ------------------------------------------------------ */

struct names {
    char **v;
    size_t n;
};

static int collect_name(char *name, char *value, size_t len, void *data)
{
    struct names *ns = data;
    (void)value;
    (void)len;
    char **v = realloc(ns->v, (ns->n + 1) * sizeof *v);
    if (!v)
        return XATTR_ABORT;
    ns->v = v;
    if ((v[ns->n] = strdup(name)))
        ns->n++;
    return 0;
}

int ext4img_set_xattrs(struct ext4img *m, uint32_t ino, const struct ext4img_xattr *x, size_t n, int replace,
                       const char *path, struct bl_error *err)
{
    int r = need(m, 2, 0, err);
    if (r < 0)
        return r;
    struct ext2_xattr_handle *h;
    errcode_t e = ext2fs_xattrs_open(m->fs, ino, &h);
    if (e)
        return e2err(err, e, "extended attributes of", path);
    if (!(e = ext2fs_xattrs_read(h)) && replace) {
        struct names ns = {0};
        e = ext2fs_xattrs_iterate(h, collect_name, &ns);
        for (size_t i = 0; i < ns.n; i++) {
            if (!e)
                e = ext2fs_xattr_remove(h, ns.v[i]);
            free(ns.v[i]);
        }
        free(ns.v);
    }
    for (size_t i = 0; i < n && !e; i++)
        if ((e = ext2fs_xattr_set(h, x[i].name, x[i].value, x[i].size)) == EXT2_ET_EA_NO_SPACE) {
            ext2fs_xattrs_close(&h);
            return bl_err(err, BOXLITE_ERR_IMAGE, "%.300s: extended attribute %.100s (%zu bytes) does not fit", path,
                          x[i].name, x[i].size);
        }
    ext2fs_xattrs_close(&h);
    return e ? e2err(err, e, "set extended attributes of", path) : 0;
}

int ext4img_link(struct ext4img *m, uint32_t ino, const char *path, struct bl_error *err)
{
    union ibuf ib;
    int r = read_inode(m, ino, &ib, path, err);
    if (r < 0)
        return r;
    if (ib.in.i_links_count >= EXT2_LINK_MAX)
        return bl_err(err, BOXLITE_ERR_IMAGE, "hardlink %.300s: the target has too many links", path);
    ib.in.i_links_count++;
    return write_inode(m, ino, &ib, path, err);
}

int ext4img_unlink(struct ext4img *m, uint32_t ino, int isdir, const char *path, struct bl_error *err)
{
    union ibuf ib;
    int r = read_inode(m, ino, &ib, path, err);
    if (r < 0)
        return r;
    if (!isdir && ib.in.i_links_count > 1) {
        ib.in.i_links_count--;
        return write_inode(m, ino, &ib, path, err);
    }
    errcode_t e = 0;
    if (ext2fs_inode_has_valid_blocks2(m->fs, (struct ext2_inode *)&ib.in))
        e = ext2fs_punch(m->fs, ino, (struct ext2_inode *)&ib.in, NULL, 0, ~0ULL);
    if (!e)
        e = ext2fs_free_ext_attr(m->fs, ino, &ib.in);
    if (e)
        return e2err(err, e, "free", path);
    ib.in.i_links_count = 0;
    ib.in.i_dtime = (__u32)time(NULL);
    if ((r = write_inode(m, ino, &ib, path, err)) < 0)
        return r;
    ext2fs_inode_alloc_stats2(m->fs, ino, -1, isdir);
    return 0;
}

int ext4img_release_begin(struct ext4img *m, struct bl_error *err) { return data_flush(m, err); }

/* Writes the channel's dirty blocks without the fsync that io_channel_flush does: turning
 * the unix I/O manager's cache off flushes it. */
int ext4img_release_end(struct ext4img *m, struct bl_error *err)
{
    errcode_t e = io_channel_set_options(m->fs->io, "cache=off");
    if (!e)
        e = io_channel_set_options(m->fs->io, "cache=on");
    return e ? e2err(err, e, "write", m->tmp) : 0;
}

/* ---- directories --------------------------------------------------------------------- */

static size_t rec_len(size_t name_len) { return (8 + name_len + 3) & ~(size_t)3; }

static size_t dir_usable(struct ext4img *m)
{
    return BS - (ext2fs_has_feature_metadata_csum(m->fs->super) ? sizeof(struct ext2_dir_entry_tail) : 0);
}

/* Lays "." and "..", then the entries, into blocks of `usable` bytes each, into buf when
 * it is not NULL; returns the blocks used. */
static blk64_t dir_layout(struct ext4img *m, ext2_ino_t ino, ext2_ino_t parent, const struct ext4img_dirent *ents,
                          size_t n, char *buf, size_t usable)
{
    blk64_t blk = 0;
    size_t pos = 0;
    struct ext2_dir_entry *last = NULL;
    for (size_t i = 0; i < n + 2; i++) {
        struct ext4img_dirent dot = {ino, EXT2_FT_DIR, 1, "."}, dotdot = {parent, EXT2_FT_DIR, 2, ".."};
        const struct ext4img_dirent *e = i == 0 ? &dot : i == 1 ? &dotdot : &ents[i - 2];
        size_t rl = rec_len(e->len);
        if (pos + rl > usable) {
            if (buf)
                ext2fs_set_rec_len(m->fs, (unsigned)(usable - ((char *)last - (buf + blk * BS))), last);
            blk++;
            pos = 0;
        }
        if (buf) {
            last = (struct ext2_dir_entry *)(buf + blk * BS + pos);
            last->inode = e->ino;
            ext2fs_dirent_set_name_len(last, e->len);
            ext2fs_dirent_set_file_type(last, e->ftype);
            memcpy(last->name, e->name, e->len);
            ext2fs_set_rec_len(m->fs, (unsigned)rl, last);
        }
        pos += rl;
    }
    if (buf)
        ext2fs_set_rec_len(m->fs, (unsigned)(usable - ((char *)last - (buf + blk * BS))), last);
    return blk + 1;
}

uint64_t ext4img_dir_blocks(struct ext4img *m, const struct ext4img_dirent *e, size_t n)
{
    return dir_layout(m, 0, 0, e, n, NULL, dir_usable(m));
}

struct dirw {
    char *buf;
    ext2_ino_t ino;
    const char *path;
};

static int dir_run(struct ext4img *m, blk64_t pblk, blk64_t off, blk64_t len, void *ctx, struct bl_error *err)
{
    struct dirw *w = ctx;
    for (blk64_t i = 0; i < len; i++) {
        errcode_t e = ext2fs_write_dir_block4(m->fs, pblk + i, w->buf + (off + i) * BS, 0, w->ino);
        if (e)
            return e2err(err, e, "write directory", w->path);
    }
    return 0;
}

/* Never fewer blocks than the directory had: mke2fs's lost+found keeps its 16 KiB. */
int ext4img_write_dir(struct ext4img *m, uint32_t ino, uint32_t parent, uint32_t nsub,
                      const struct ext4img_dirent *ents, size_t n, const char *path, struct bl_error *err)
{
    int csum = ext2fs_has_feature_metadata_csum(m->fs->super);
    size_t usable = dir_usable(m);
    union ibuf ib;
    int r = read_inode(m, ino, &ib, path, err);
    if (r < 0)
        return r;
    blk64_t nb = dir_layout(m, ino, parent, ents, n, NULL, usable), had = EXT2_I_SIZE(&ib.in) / BS;
    if (had > nb)
        nb = had;
    cleanup_free char *buf = calloc(nb, BS);
    if (!buf)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    dir_layout(m, ino, parent, ents, n, buf, usable);
    for (blk64_t i = 0; i < nb; i++) {
        struct ext2_dir_entry *first = (struct ext2_dir_entry *)(buf + i * BS);
        if (!first->rec_len) /* a block left empty */
            ext2fs_set_rec_len(m->fs, (unsigned)usable, first);
        if (csum)
            ext2fs_initialize_dirent_tail(m->fs, EXT2_DIRENT_TAIL(buf + i * BS, BS));
    }
    errcode_t e = ext2fs_fallocate(m->fs, EXT2_FALLOCATE_FORCE_INIT, ino, (struct ext2_inode *)&ib.in, m->goal, 0, nb);
    if (e)
        return e2err(err, e, "allocate directory", path);
    struct dirw w = {.buf = buf, .ino = ino, .path = path};
    if ((r = for_each_run(m, ino, &ib.in, 0, nb, dir_run, &w, path, err)) < 0)
        return r;
    if ((e = ext2fs_inode_size_set(m->fs, (struct ext2_inode *)&ib.in, nb * BS)))
        return e2err(err, e, "size directory", path);
    uint32_t links = 2 + nsub;
    /* dir_nlink: past the limit a directory counts 1 (fs/ext4/namei.c, ext4_inc_count) */
    ib.in.i_links_count = (__u16)(links >= EXT2_LINK_MAX ? 1 : links);
    return write_inode(m, ino, &ib, path, err);
}

/* ---- start, finish ------------------------------------------------------------------- */

static int alloc_image(struct ext4img **out, const char *out_path, struct bl_error *err)
{
    pthread_once(&tables_once, load_tables);
    struct ext4img *m = calloc(1, sizeof *m);
    if (!m)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    m->fd = -1;
    m->done = 1; /* nothing to remove yet */
    if (snprintf(m->out, sizeof m->out, "%s", out_path) >= (int)sizeof m->out ||
        snprintf(m->tmp, sizeof m->tmp, "%s.tmp.XXXXXX", out_path) >= (int)sizeof m->tmp) {
        free(m);
        return bl_err(err, BOXLITE_ERR_INVALID, "path too long: %.100s", out_path);
    }
    m->fbuf = malloc(FILE_CHUNK);
    m->wbuf = malloc(WRITE_CHUNK);
    if (!m->fbuf || !m->wbuf) {
        ext4img_free(m);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    if ((m->fd = mkostemp(m->tmp, O_CLOEXEC)) < 0) {
        int e = errno;
        ext4img_free(m);
        return bl_errno(err, e, "create %s.tmp", out_path);
    }
    m->done = 0;
    *out = m;
    return 0;
}

/* The root is 0755 root:root unless a layer says otherwise. */
static int open_empty(struct ext4img *m, struct bl_error *err)
{
    int r = fs_open(m, err);
    if (r < 0)
        return r;
    struct ext4img_attr a = {.mode = LINUX_S_IFDIR | 0755, .mtime = time(NULL)};
    return ext4img_set_attr(m, EXT2_ROOT_INO, &a, "/", err);
}

int ext4img_create(struct ext4img **out, const char *out_path, uint64_t expect, struct bl_error *err)
{
    struct ext4img *m;
    int r = alloc_image(&m, out_path, err);
    if (r < 0)
        return r;
    /* What is expected plus inode tables (one 256-byte inode per 8 KiB) and a journal; too
     * small grows, too large shrinks at the end. */
    uint64_t size = expect + expect / 16 + 64 * MIB;
    size = (size + MIB - 1) / MIB * MIB;
    char *argv[] = {"mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-i", "8192", "-L", "boxlite-root",
                    /* The journal at the start, where a shrink does not have to move it. */
                    "-J", "location=0",
                    /* A new sparse file reads as zeros: nothing to zero, nothing for the
                     * kernel to zero later in the box. */
                    "-E", "assume_storage_prezeroed=1,root_owner=0:0", m->tmp, NULL};
    if (size / BS > MAX_BLOCKS)
        r = bl_err(err, BOXLITE_ERR_IMAGE, "the image would be larger than %llu GiB",
                   (unsigned long long)(MAX_BLOCKS * BS >> 30));
    else if (ftruncate(m->fd, (off_t)size) < 0)
        r = bl_errno(err, errno, "size %s", m->tmp);
    else if ((r = run_tool(argv, 0, err)) == 0)
        r = open_empty(m, err);
    if (r < 0) {
        ext4img_free(m);
        return r;
    }
    *out = m;
    return 0;
}

/* Copies a sparse file's data, leaving its holes holes. */
static int copy_sparse(int from, int to)
{
    struct stat st;
    if (fstat(from, &st) < 0 || ftruncate(to, st.st_size) < 0)
        return -1;
    cleanup_free char *buf = malloc(1 << 20);
    if (!buf)
        return -1;
    for (off_t pos = 0; pos < st.st_size;) {
        off_t data = lseek(from, pos, SEEK_DATA);
        if (data < 0)
            return errno == ENXIO ? 0 : -1; /* only a hole is left */
        off_t hole = lseek(from, data, SEEK_HOLE);
        if (hole < 0)
            return -1;
        for (pos = data; pos < hole;) {
            size_t want = (size_t)(hole - pos < (1 << 20) ? hole - pos : (1 << 20));
            ssize_t n = pread(from, buf, want, pos);
            if (n <= 0 || pwrite_all(to, buf, (size_t)n, (uint64_t)pos) < 0)
                return -1;
            pos += n;
        }
    }
    return 0;
}

int ext4img_create_from(struct ext4img **out, const char *out_path, const char *empty_image, struct bl_error *err)
{
    struct ext4img *m;
    int r = alloc_image(&m, out_path, err);
    if (r < 0)
        return r;
    cleanup_close int from = open(empty_image, O_RDONLY | O_CLOEXEC);
    if (from < 0 || copy_sparse(from, m->fd) < 0)
        r = bl_errno(err, errno, "copy %s", empty_image);
    else
        r = open_empty(m, err);
    if (r < 0) {
        ext4img_free(m);
        return r;
    }
    *out = m;
    return 0;
}

struct root_walk {
    int (*fn)(void *ud, const struct ext4img_dirent *d);
    void *ud;
};

static int root_entry(struct ext2_dir_entry *de, int offset, int blocksize, char *buf, void *priv)
{
    struct root_walk *w = priv;
    (void)offset;
    (void)blocksize;
    (void)buf;
    int len = ext2fs_dirent_name_len(de);
    if ((len == 1 && de->name[0] == '.') || (len == 2 && de->name[0] == '.' && de->name[1] == '.'))
        return 0;
    char name[256];
    memcpy(name, de->name, (size_t)len);
    name[len] = 0;
    struct ext4img_dirent d = {de->inode, (uint8_t)ext2fs_dirent_file_type(de), (uint8_t)len, name};
    return w->fn(w->ud, &d) < 0 ? DIRENT_ABORT : 0;
}

int ext4img_root_entries(struct ext4img *m, int (*fn)(void *ud, const struct ext4img_dirent *d), void *ud,
                         struct bl_error *err)
{
    struct root_walk w = {fn, ud};
    errcode_t e = ext2fs_dir_iterate(m->fs, EXT2_ROOT_INO, 0, NULL, root_entry, &w);
    return e ? e2err(err, e, "read the root of", m->tmp) : 0;
}

int ext4img_finish(struct ext4img *m, uint64_t headroom, struct ext4img_stats *st, struct bl_error *err)
{
    if (!m->fs)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "image %s: an earlier step failed", m->out);
    uint64_t total = ext2fs_blocks_count(m->fs->super), final = total;
    if (headroom != EXT4IMG_KEEP_SIZE) {
        /* Contents plus headroom, in whole MiB; a little over is kept rather than paid for
         * with a resize2fs run. */
        uint64_t used = total - ext2fs_free_blocks_count(m->fs->super);
        uint64_t want = (used + (headroom + BS - 1) / BS + 255) / 256 * 256;
        uint64_t slack = want / 8 > 16384 ? want / 8 : 16384;
        if (total < want || total > want + slack)
            final = want;
    }
    int r = fs_close(m, final == total, err);
    if (r == 0 && final != total && (r = run_resize(m, total, &final, err)) == 0 && fsync(m->fd) < 0)
        r = bl_errno(err, errno, "sync %s", m->tmp);
    /* A base is read by the jailed per-box process through a bind of its own; where no
     * idmapped mount is possible (tmpfs before 6.3) that process's uid is not the owner's:
     * readable by every user (the home's 0700 keeps other users out on the host). */
    if (r == 0 && fchmod(m->fd, 0644) < 0)
        r = bl_errno(err, errno, "chmod %s", m->tmp);
    if (r == 0 && rename(m->tmp, m->out) < 0)
        r = bl_errno(err, errno, "rename to %s", m->out);
    if (r < 0)
        return r;
    m->done = 1;
    m->st.image_size = final * BS;
    if (st)
        *st = m->st;
    return 0;
}

void ext4img_free(struct ext4img *m)
{
    if (!m)
        return;
    if (m->fs)
        ext2fs_free(m->fs);
    if (m->fd >= 0)
        close(m->fd);
    if (!m->done)
        unlink(m->tmp);
    free(m->fbuf);
    free(m->wbuf);
    free(m);
}
