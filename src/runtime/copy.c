// SPDX-License-Identifier: Apache-2.0
/* Copies between the host and a box (include/boxlite.h). A copy out is written by the guest,
 * so it lands the way `docker cp` lands it and no further: owned by the caller, without
 * setuid/setgid bits, regular files, directories and symlinks only (tar_extract_untrusted),
 * under host_path/<name> when host_path is a directory, never merged into an existing tree,
 * and whole or not at all. */
#include "runtime/runtime.h"

#include "common/cleanup.h"
#include "common/io.h"
#include "runtime/api_error.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

BOXLITE_API int boxlite_box_copy_in(boxlite_box *b, const char *host_path,
                                    const char *guest_path)
{
    API_CHECK_ARG(b && host_path && guest_path, "NULL argument");
    API_CHECK_ARG(guest_path[0] == '/', "guest path must be absolute");
    struct bl_error err = { 0 };
    struct proto_client *c;
    int r = rt_box_conn(b, &c, &err);
    if (!r)
        r = proto_copy_in(c, host_path, guest_path, &err);
    return api_return(r, &err);
}

/* What the copy becomes: host_path, or host_path/<last component of guest_path> when
 * host_path is an existing directory (followed if it is a symlink: the caller named it). */
static int copy_target(const char *guest_path, const char *host_path, char *out, size_t len,
                       struct bl_error *err)
{
    struct stat st;
    if (stat(host_path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (snprintf(out, len, "%s", host_path) >= (int)len)
            return bl_err(err, BOXLITE_ERR_INVALID, "%s: path too long", host_path);
        return 0;
    }
    size_t n = strlen(guest_path);
    while (n > 1 && guest_path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && guest_path[b - 1] != '/')
        b--;
    const char *name = guest_path + b;
    size_t nlen = n - b;
    if (nlen == 0 || (nlen == 1 && name[0] == '.') || (nlen == 2 && !strncmp(name, "..", 2)))
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "%s has no name to copy under %s: give a destination that does not exist",
                      guest_path, host_path);
    if (snprintf(out, len, "%s/%.*s", host_path, (int)nlen, name) >= (int)len)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: path too long", host_path);
    return 0;
}

/* A fresh name beside target for the copy while it arrives; it is renamed to target at the
 * end, so a refused or broken copy leaves nothing behind and never half-replaces a file. */
static int temp_beside(const char *target, char *out, size_t len, struct bl_error *err)
{
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return bl_errno(err, errno, "getrandom");
    const char *slash = strrchr(target, '/');
    int dirlen = slash ? (int)(slash - target) : 0;
    if (snprintf(out, len, "%.*s%s.boxlite-cp-%02x%02x%02x%02x%02x%02x", dirlen, target,
                 slash ? "/" : "", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]) >= (int)len)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: path too long", target);
    return 0;
}

/* Puts the arrived copy in place: a directory only where nothing is (never merged), a file
 * or symlink over a file but never over a directory. */
static int move_into_place(const char *tmp, const char *target, const char *guest_path,
                           struct bl_error *err)
{
    struct stat st, dst;
    if (lstat(tmp, &st) != 0)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "nothing to copy: %s is not a regular file, directory or symlink",
                      guest_path);
    if (S_ISDIR(st.st_mode)) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_NOREPLACE) != 0)
            return errno == EEXIST ? bl_err(err, BOXLITE_ERR_EXISTS,
                                            "%s exists: a copy never merges into it", target)
                                   : bl_errno(err, errno, "rename to %s", target);
        return 0;
    }
    if (lstat(target, &dst) == 0 && S_ISDIR(dst.st_mode))
        return bl_err(err, BOXLITE_ERR_EXISTS, "%s is a directory", target);
    if (rename(tmp, target) != 0)
        return bl_errno(err, errno, "rename to %s", target);
    return 0;
}

BOXLITE_API int boxlite_box_copy_out_opts(boxlite_box *b, const char *guest_path,
                                          const char *host_path,
                                          const boxlite_copy_options *opts)
{
    API_CHECK_ARG(b && host_path && guest_path, "NULL argument");
    API_CHECK_ARG(guest_path[0] == '/', "guest path must be absolute");
    API_CHECK_ARG(!opts || opts->size >= offsetof(boxlite_copy_options, max_bytes) +
                                              sizeof opts->max_bytes,
                  "boxlite_copy_options.size is too small");
    unsigned long long max = opts ? opts->max_bytes : 0;
    struct bl_error err = { 0 };
    char target[4200], tmp[4300] = "";
    int r = copy_target(guest_path, host_path, target, sizeof target, &err);
    if (!r)
        r = temp_beside(target, tmp, sizeof tmp, &err);
    struct proto_client *c = NULL;
    if (!r)
        r = rt_box_conn(b, &c, &err);
    if (!r)
        r = proto_copy_out_max(c, guest_path, tmp, max, &err);
    if (!r)
        r = move_into_place(tmp, target, guest_path, &err);
    if (r && tmp[0])
        io_remove_tree(tmp);
    if (r)
        bl_err_prefix(&err, "copy %s out of box %s", guest_path, b->name);
    return api_return(r, &err);
}

BOXLITE_API int boxlite_box_copy_out(boxlite_box *b, const char *guest_path,
                                     const char *host_path)
{
    return boxlite_box_copy_out_opts(b, guest_path, host_path, NULL);
}
