// SPDX-License-Identifier: Apache-2.0
/* A tmpfs mount's options, mount(8)'s comma-separated words (runtime-spec config.md
 * "Mounts" options, Docker's --tmpfs DEST:OPTIONS), split into mount(2)'s flags and the
 * data string tmpfs(5) parses. One parser for the host, which refuses a bad spec early,
 * and the agent, which checks what it is sent. Flags are as runc maps them; a data option
 * tmpfs(5) does not name is refused, as the kernel refuses it ("tmpfs: Unknown
 * parameter"); mount propagation and runc's tmpcopyup are accepted and change nothing
 * here (docs/protocol.md, "Tmpfs mounts"). */
#include "proto/proto.h"

#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

static const struct {
    const char *name;
    bool clear;
    uint32_t flag;
} tmpfs_flags[] = {
    { "ro", false, MS_RDONLY },         { "rw", true, MS_RDONLY },
    { "nosuid", false, MS_NOSUID },     { "suid", true, MS_NOSUID },
    { "nodev", false, MS_NODEV },       { "dev", true, MS_NODEV },
    { "noexec", false, MS_NOEXEC },     { "exec", true, MS_NOEXEC },
    { "sync", false, MS_SYNCHRONOUS },  { "async", true, MS_SYNCHRONOUS },
    { "dirsync", false, MS_DIRSYNC },   { "noatime", false, MS_NOATIME },
    { "atime", true, MS_NOATIME },      { "nodiratime", false, MS_NODIRATIME },
    { "diratime", true, MS_NODIRATIME }, { "relatime", false, MS_RELATIME },
    { "norelatime", true, MS_RELATIME }, { "strictatime", false, MS_STRICTATIME },
    { "nostrictatime", true, MS_STRICTATIME }, { "defaults", true, 0 },
};

/* Words that change nothing for a tmpfs made in the container's own mount namespace:
 * propagation (the guest's container namespace is private) and runc's tmpcopyup (Podman
 * adds it; the folder's files beneath are not copied in, see docs/oci-runtime.md). */
static const char *const tmpfs_ignored[] = {
    "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable",
    "runbindable", "tmpcopyup", "notmpcopyup", "norbind", "nobind",
};

/* tmpfs(5)'s parameters; "key" alone or "key=value" as it says */
static const char *const tmpfs_data_keys[] = {
    "size", "nr_blocks", "nr_inodes", "mode", "uid", "gid", "huge", "mpol",
    "inode32", "inode64", "noswap",
};

static bool word_is(const char *w, size_t n, const char *name)
{
    return strlen(name) == n && !memcmp(w, name, n);
}

int proto_tmpfs_options(const char *opts, uint32_t *flags, char *data, size_t cap,
                        struct bl_error *err)
{
    size_t dl = 0;
    *flags = 0;
    if (cap)
        data[0] = 0;
    for (const char *w = opts ? opts : ""; *w;) {
        size_t n = strcspn(w, ",");
        bool known = !n;
        for (size_t i = 0; !known && i < sizeof tmpfs_flags / sizeof tmpfs_flags[0]; i++)
            if (word_is(w, n, tmpfs_flags[i].name)) {
                known = true;
                if (tmpfs_flags[i].clear)
                    *flags &= ~tmpfs_flags[i].flag;
                else
                    *flags |= tmpfs_flags[i].flag;
            }
        for (size_t i = 0; !known && i < sizeof tmpfs_ignored / sizeof tmpfs_ignored[0]; i++)
            known = word_is(w, n, tmpfs_ignored[i]);
        size_t key = strcspn(w, "=,");
        for (size_t i = 0; !known && i < sizeof tmpfs_data_keys / sizeof tmpfs_data_keys[0];
             i++)
            if (word_is(w, key, tmpfs_data_keys[i])) {
                /* a value of plain characters: the data string is the kernel's to parse */
                const char *v = w + key + (key < n);
                size_t vn = n - key - (key < n);
                if ((key < n && !vn) ||
                    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                              ":%.-") < vn)
                    return bl_err(err, BOXLITE_ERR_INVALID, "tmpfs option \"%.*s\": a bad "
                                  "value", (int)(n > 64 ? 64 : n), w);
                if (dl + (dl > 0) + n >= cap)
                    return bl_err(err, BOXLITE_ERR_INVALID, "tmpfs options: more than %zu "
                                  "bytes of size, mode and the like", cap ? cap - 1 : 0);
                if (dl)
                    data[dl++] = ',';
                memcpy(data + dl, w, n);
                data[dl += n] = 0;
                known = true;
            }
        if (!known)
            return bl_err(err, BOXLITE_ERR_INVALID, "tmpfs option \"%.*s\" unknown (mount "
                          "flags, propagation, or tmpfs(5)'s size, nr_blocks, nr_inodes, mode, "
                          "uid, gid, huge, mpol, inode32, inode64, noswap)",
                          (int)(n > 64 ? 64 : n), w);
        w += n + (w[n] == ',');
    }
    return 0;
}
