// component: image
/* Manifests, indexes and image configs as a registry or an OCI layout could send them. */
#include "image/imageconfig.h"
#include "image/manifest.h"

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
    return 0;
}
