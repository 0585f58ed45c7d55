// component: image
// SPDX-License-Identifier: Apache-2.0
/* Manifests, indexes and image configs as a registry or an OCI layout could send them,
 * and the docker config.json credentials file. */
#include "image/imageconfig.h"
#include "image/manifest.h"
#include "image/registry.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *j = (const char *)data;
    struct bl_error e = {0};
    oci_detect_kind(j, size, NULL, &e);
    struct oci_manifest m;
    if (oci_manifest_parse(&m, j, size, &e) == 0) {
        if (strlen(m.config.digest) != 71)
            abort();
        oci_manifest_free(&m);
    }
    struct oci_index ix;
    if (oci_index_parse(&ix, j, size, &e) == 0) {
        int i = oci_index_select(&ix, "linux", "amd64", NULL, &e);
        if (i >= (int)ix.n_manifests)
            abort();
        oci_index_select(&ix, "linux", "arm64", "v8", &e);
        oci_index_free(&ix);
    }
    struct image_config c;
    if (image_config_parse(&c, j, size, &e) == 0)
        image_config_free(&c);
    int fd = memfd_create("docker-config", 0);
    if (fd >= 0) {
        if (write(fd, data, size) == (ssize_t)size) {
            char path[64];
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            struct registry_creds cr;
            static const char *hosts[] = {"docker.io", "ghcr.io", "127.0.0.1:5000"};
            for (int i = 0; i < 3; i++)
                if (registry_creds_lookup(&cr, path, hosts[i], 0, &e) > 0)
                    registry_creds_free(&cr);
        }
        close(fd);
    }
    return 0;
}
