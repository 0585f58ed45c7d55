// SPDX-License-Identifier: Apache-2.0
/* The tar subset the agent protocol's file copy uses (POSIX ustar plus pax 'x' records for
 * long names and large sizes; GNU 'L'/'K' long names are read too). Both sides use it: the
 * host library to pack/unpack host trees, the agent inside the box. libc only.
 *
 * Naming: the archive of a directory holds "." (the directory itself) and paths below it;
 * the archive of a file holds one entry ".". Extracting into `dest` makes `dest` the copy:
 * "." lands on dest itself, "a/b" on dest/a/b. */
#ifndef PROTO_TAR_H
#define PROTO_TAR_H

#include "common/error.h"

#include <stdint.h>

/* Writes the tree at src (not following symlinks) to fd as a tar stream, ending with the
 * two zero blocks. Regular files, directories and symlinks; other types are skipped.
 * *bytes (may be NULL) receives the archive size. */
int tar_write(int fd, const char *src, uint64_t *bytes, struct bl_error *err);
/* The same with the root entry named name ("etc": "etc/", "etc/hosts", ...) instead of ".",
 * as `tar -C parent -cf - name` lays it out (the REST server's downloads). */
int tar_write_as(int fd, const char *src, const char *name, uint64_t *bytes,
                 struct bl_error *err);

/* Reads a tar stream from fd until its end marker (or end of file) and creates its entries
 * under dest. Refused (error, extraction stops): absolute names, any ".." component,
 * hard links pointing outside the archive's tree, bad checksums, truncation. Symlinks are
 * created as they are but never followed while extracting, so a link cannot lead a later
 * entry outside dest. Owners are restored only when running as root. */
int tar_extract(int fd, const char *dest, uint64_t *bytes, struct bl_error *err);

/* Extraction of an archive from an untrusted side (a copy out of a box: the guest wrote it).
 * On top of tar_extract's refusals: owners are never restored (files belong to the caller),
 * setuid, setgid and sticky bits are dropped, device nodes, FIFOs and unknown entry types are
 * refused, dest must not exist when the archive is a directory (a copy never merges into an
 * existing tree) and must not be a directory when it is a file or a symlink (a symlink at
 * the root is created as a symlink). max_bytes (0 = none) bounds what may arrive: file data
 * plus one 512-byte block per entry; an entry that would pass it is refused before any of
 * it is written. */
struct tar_untrusted {
    uint64_t max_bytes;
};
int tar_extract_untrusted(int fd, const char *dest, const struct tar_untrusted *u,
                          uint64_t *bytes, struct bl_error *err);

#endif
