// SPDX-License-Identifier: Apache-2.0
/* libarchive, loaded on its first use (lazylib.h explains why). Include this instead of
 * <archive.h> and <archive_entry.h>. Without the library, the constructors give NULL, the
 * calls ARCHIVE_FATAL and archive_error_string why it could not be loaded. */
#ifndef BOXLITE_COMMON_LAZY_ARCHIVE_H
#define BOXLITE_COMMON_LAZY_ARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "common/lazylib.h"

#define LAZY_ARCHIVE_FNS(X) \
    X(archive_read_new) X(archive_read_support_format_tar) \
    X(archive_read_support_filter_zstd) X(archive_read_support_filter_none) \
    X(archive_read_open) X(archive_read_open_filename) X(archive_read_next_header) \
    X(archive_read_data) X(archive_read_data_block) X(archive_read_free) \
    X(archive_write_new) X(archive_write_set_format_pax_restricted) \
    X(archive_write_add_filter_zstd) X(archive_write_open_fd) X(archive_write_header) \
    X(archive_write_data) X(archive_write_close) X(archive_write_free) \
    X(archive_error_string) X(archive_errno) X(archive_set_error) X(archive_entry_new) \
    X(archive_entry_free) X(archive_entry_pathname) X(archive_entry_symlink) \
    X(archive_entry_hardlink) X(archive_entry_filetype) X(archive_entry_perm) \
    X(archive_entry_uid) X(archive_entry_gid) X(archive_entry_mtime) X(archive_entry_size) \
    X(archive_entry_size_is_set) X(archive_entry_rdevmajor) X(archive_entry_rdevminor) \
    X(archive_entry_xattr_reset) X(archive_entry_xattr_next) X(archive_entry_set_pathname) \
    X(archive_entry_set_filetype) X(archive_entry_set_perm) X(archive_entry_set_mtime) \
    X(archive_entry_set_size)

LAZYLIB_DECLARE(archive, LAZY_ARCHIVE_FNS)

#define archive_read_new(...) LAZY_CALL(lazy_archive, archive_read_new, NULL, __VA_ARGS__)
#define archive_read_support_format_tar(...) \
    LAZY_CALL(lazy_archive, archive_read_support_format_tar, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_read_support_filter_zstd(...) \
    LAZY_CALL(lazy_archive, archive_read_support_filter_zstd, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_read_support_filter_none(...) \
    LAZY_CALL(lazy_archive, archive_read_support_filter_none, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_read_open(...) \
    LAZY_CALL(lazy_archive, archive_read_open, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_read_open_filename(...) \
    LAZY_CALL(lazy_archive, archive_read_open_filename, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_read_next_header(...) \
    LAZY_CALL(lazy_archive, archive_read_next_header, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_read_data(...) \
    LAZY_CALL(lazy_archive, archive_read_data, (la_ssize_t)ARCHIVE_FATAL, __VA_ARGS__)
#define archive_read_data_block(...) \
    LAZY_CALL(lazy_archive, archive_read_data_block, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_read_free(...) \
    LAZY_CALL(lazy_archive, archive_read_free, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_write_new(...) LAZY_CALL(lazy_archive, archive_write_new, NULL, __VA_ARGS__)
#define archive_write_set_format_pax_restricted(...) \
    LAZY_CALL(lazy_archive, archive_write_set_format_pax_restricted, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_write_add_filter_zstd(...) \
    LAZY_CALL(lazy_archive, archive_write_add_filter_zstd, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_write_open_fd(...) \
    LAZY_CALL(lazy_archive, archive_write_open_fd, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_write_header(...) \
    LAZY_CALL(lazy_archive, archive_write_header, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_write_data(...) \
    LAZY_CALL(lazy_archive, archive_write_data, (la_ssize_t)ARCHIVE_FATAL, __VA_ARGS__)
#define archive_write_close(...) \
    LAZY_CALL(lazy_archive, archive_write_close, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_write_free(...) \
    LAZY_CALL(lazy_archive, archive_write_free, ARCHIVE_FATAL, __VA_ARGS__)
#define archive_error_string(...) \
    LAZY_CALL(lazy_archive, archive_error_string, lazylib_why(&lazy_archive_lib), __VA_ARGS__)
#define archive_errno(...) LAZY_CALL(lazy_archive, archive_errno, 0, __VA_ARGS__)
#define archive_set_error(...) LAZY_CALL(lazy_archive, archive_set_error, (void)0, __VA_ARGS__)
#define archive_entry_new(...) LAZY_CALL(lazy_archive, archive_entry_new, NULL, __VA_ARGS__)
#define archive_entry_free(...) LAZY_CALL(lazy_archive, archive_entry_free, (void)0, __VA_ARGS__)
#define archive_entry_pathname(...) \
    LAZY_CALL(lazy_archive, archive_entry_pathname, NULL, __VA_ARGS__)
#define archive_entry_symlink(...) LAZY_CALL(lazy_archive, archive_entry_symlink, NULL, __VA_ARGS__)
#define archive_entry_hardlink(...) \
    LAZY_CALL(lazy_archive, archive_entry_hardlink, NULL, __VA_ARGS__)
#define archive_entry_filetype(...) LAZY_CALL(lazy_archive, archive_entry_filetype, 0, __VA_ARGS__)
#define archive_entry_perm(...) LAZY_CALL(lazy_archive, archive_entry_perm, 0, __VA_ARGS__)
#define archive_entry_uid(...) LAZY_CALL(lazy_archive, archive_entry_uid, 0, __VA_ARGS__)
#define archive_entry_gid(...) LAZY_CALL(lazy_archive, archive_entry_gid, 0, __VA_ARGS__)
#define archive_entry_mtime(...) LAZY_CALL(lazy_archive, archive_entry_mtime, 0, __VA_ARGS__)
#define archive_entry_size(...) LAZY_CALL(lazy_archive, archive_entry_size, 0, __VA_ARGS__)
#define archive_entry_size_is_set(...) \
    LAZY_CALL(lazy_archive, archive_entry_size_is_set, 0, __VA_ARGS__)
#define archive_entry_rdevmajor(...) \
    LAZY_CALL(lazy_archive, archive_entry_rdevmajor, 0, __VA_ARGS__)
#define archive_entry_rdevminor(...) \
    LAZY_CALL(lazy_archive, archive_entry_rdevminor, 0, __VA_ARGS__)
#define archive_entry_xattr_reset(...) \
    LAZY_CALL(lazy_archive, archive_entry_xattr_reset, 0, __VA_ARGS__)
#define archive_entry_xattr_next(...) \
    LAZY_CALL(lazy_archive, archive_entry_xattr_next, ARCHIVE_WARN, __VA_ARGS__)
#define archive_entry_set_pathname(...) \
    LAZY_CALL(lazy_archive, archive_entry_set_pathname, (void)0, __VA_ARGS__)
#define archive_entry_set_filetype(...) \
    LAZY_CALL(lazy_archive, archive_entry_set_filetype, (void)0, __VA_ARGS__)
#define archive_entry_set_perm(...) \
    LAZY_CALL(lazy_archive, archive_entry_set_perm, (void)0, __VA_ARGS__)
#define archive_entry_set_mtime(...) \
    LAZY_CALL(lazy_archive, archive_entry_set_mtime, (void)0, __VA_ARGS__)
#define archive_entry_set_size(...) \
    LAZY_CALL(lazy_archive, archive_entry_set_size, (void)0, __VA_ARGS__)

#endif
