// SPDX-License-Identifier: Apache-2.0
/* The spec's tmpfs mounts (config.md "Mounts", type tmpfs): Podman's --tmpfs and the tmpfs
 * it adds on /tmp, /var/tmp and /run for --read-only, Docker's --tmpfs, a Kubernetes
 * emptyDir of medium Memory. They go to the guest with the container's first process, in
 * the spec's order, and are made there in the container's mount namespace. Their mount
 * points are made in the rootfs on the host first, as runc makes them before it makes a
 * read-only root read-only (the box's rootfs share is read-only then). */
#include "runtime.h"

#include <string.h>

/* Where the guest's container already has a file system of its own: /proc and /sys (and
 * what is under them) and /dev itself; / would hide the rootfs. */
static bool tmpfs_left_out(const char *dest)
{
    static const char *const own[] = { "/proc", "/sys" };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        size_t n = strlen(own[i]);
        if (!strncmp(dest, own[i], n) && (!dest[n] || dest[n] == '/'))
            return true;
    }
    return !strcmp(dest, "/") || !strcmp(dest, "/dev") || !strcmp(dest, "/dev/");
}

void relay_tmpfs(const struct oci_spec *s, struct relay_security *sec)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nmounts && n < OCI_MAX_MOUNTS; i++) {
        const struct oci_mount *m = &s->mounts[i];
        if (m->tmpfs_options && !tmpfs_left_out(m->destination))
            sec->tmpfs[n++] = (boxlite_tmpfs){ .destination = m->destination,
                                               .options = m->tmpfs_options };
    }
    sec->ps.tmpfs = sec->tmpfs;
    sec->ps.n_tmpfs = n;
}

int relay_tmpfs_mountpoints(const char *rootfs, const struct oci_spec *s, struct bl_error *err)
{
    for (size_t i = 0; i < s->nmounts; i++) {
        const struct oci_mount *m = &s->mounts[i];
        if (m->tmpfs_options && !tmpfs_left_out(m->destination) &&
            relay_mkdir_in_root(rootfs, m->destination, err) < 0)
            return -1;
    }
    return 0;
}
