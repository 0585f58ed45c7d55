// SPDX-License-Identifier: Apache-2.0
/* An ext4 image written inode by inode through libext2fs (e2fsprogs' library): the disk
 * half of the image builder (ext4build.h holds the tree and the layers' rules).
 *
 * The image starts as an empty filesystem made by mke2fs in a temporary file beside the
 * final path, sized from a guess; it grows with resize2fs whenever an inode or a block is
 * needed that it lacks, and ext4img_finish resizes it to its contents plus the headroom
 * asked for, syncs it and renames it into place. Names are not kept here: directories are
 * written whole, once, from the entries the caller gives (ext4img_write_dir).
 *
 * Only one file is being written at a time (ext4img_file_*). Before any inode is freed
 * (ext4img_unlink) the caller brackets the removals with ext4img_release_begin/_end. */
#ifndef IMAGE_EXT4IMG_H
#define IMAGE_EXT4IMG_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

struct ext4img;

struct ext4img_attr {
    uint32_t mode; /* type (LINUX_S_IF*, the same as S_IF*) and permission bits */
    uint32_t uid, gid;
    int64_t mtime; /* seconds; atime, ctime and crtime get it too */
};

struct ext4img_xattr {
    const char *name; /* "security.capability", "user.x", "trusted.x" */
    const void *value;
    size_t size;
};

struct ext4img_dirent {
    uint32_t ino;
    uint8_t ftype; /* EXT2_FT_*, below */
    uint8_t len;
    const char *name;
};

/* Directory entry types (ext4's, Documentation/filesystems/ext4/directory.rst). */
enum { EXT4IMG_FT_REG = 1, EXT4IMG_FT_DIR = 2, EXT4IMG_FT_CHR = 3, EXT4IMG_FT_BLK = 4, EXT4IMG_FT_FIFO = 5,
       EXT4IMG_FT_SYMLINK = 7 };

#define EXT4IMG_ROOT_INO 2
#define EXT4IMG_KEEP_SIZE UINT64_MAX

struct ext4img_stats {
    uint64_t inodes, bytes, image_size;
    unsigned resizes;
};

/* A new empty image for out_path; expect guesses its final size in bytes (contents and
 * free space). */
int ext4img_create(struct ext4img **out, const char *out_path, uint64_t expect, struct bl_error *err);
/* The same from a copy of an empty image made earlier (no mke2fs run). */
int ext4img_create_from(struct ext4img **out, const char *out_path, const char *empty_image,
                        struct bl_error *err);
/* The names in the root of the image as it is (mke2fs's lost+found), to fn. */
int ext4img_root_entries(struct ext4img *m, int (*fn)(void *ud, const struct ext4img_dirent *d), void *ud,
                         struct bl_error *err);
/* Frees; an image not finished is removed. NULL is a no-op. */
void ext4img_free(struct ext4img *m);

/* A directory inode (no blocks until ext4img_write_dir). */
int ext4img_mkdir(struct ext4img *m, uint32_t parent, const struct ext4img_attr *a, uint32_t *ino,
                  const char *path, struct bl_error *err);
/* Owner, mode (its type kept) and time of an inode that exists. */
int ext4img_set_attr(struct ext4img *m, uint32_t ino, const struct ext4img_attr *a, const char *path,
                     struct bl_error *err);
/* A regular file: open, its bytes at offsets that only grow (holes stay unallocated), then
 * close with its size. */
int ext4img_file_open(struct ext4img *m, uint32_t parent, const struct ext4img_attr *a, uint32_t *ino,
                      const char *path, struct bl_error *err);
int ext4img_file_write(struct ext4img *m, uint64_t off, const void *p, size_t len, struct bl_error *err);
int ext4img_file_close(struct ext4img *m, uint64_t size, struct bl_error *err);
/* A symlink (target shorter than 4096 bytes), or a device node or FIFO (rdev: major, minor). */
int ext4img_symlink(struct ext4img *m, uint32_t parent, const struct ext4img_attr *a, const char *target,
                    uint32_t *ino, const char *path, struct bl_error *err);
int ext4img_node(struct ext4img *m, uint32_t parent, const struct ext4img_attr *a, unsigned major,
                 unsigned minor, uint32_t *ino, const char *path, struct bl_error *err);
/* Extended attributes; replace: the inode's own go first. */
int ext4img_set_xattrs(struct ext4img *m, uint32_t ino, const struct ext4img_xattr *x, size_t n, int replace,
                       const char *path, struct bl_error *err);
/* One link more (a hard link) or less; the last unlink frees the inode and its blocks. */
int ext4img_link(struct ext4img *m, uint32_t ino, const char *path, struct bl_error *err);
int ext4img_unlink(struct ext4img *m, uint32_t ino, int isdir, const char *path, struct bl_error *err);
int ext4img_release_begin(struct ext4img *m, struct bl_error *err);
int ext4img_release_end(struct ext4img *m, struct bl_error *err);

/* Blocks a directory of these entries takes ("." and ".." added). */
uint64_t ext4img_dir_blocks(struct ext4img *m, const struct ext4img_dirent *e, size_t n);
/* Makes sure that many blocks are free (growing the image). */
int ext4img_reserve(struct ext4img *m, uint64_t blocks, struct bl_error *err);
/* Writes directory ino: "." and "..", then the entries; its size and link count (nsub:
 * subdirectories). */
int ext4img_write_dir(struct ext4img *m, uint32_t ino, uint32_t parent, uint32_t nsub,
                      const struct ext4img_dirent *e, size_t n, const char *path, struct bl_error *err);

/* Resizes to the contents plus headroom bytes (EXT4IMG_KEEP_SIZE: as it is), syncs and
 * renames the image to out_path. */
int ext4img_finish(struct ext4img *m, uint64_t headroom, struct ext4img_stats *st, struct bl_error *err);

#endif
