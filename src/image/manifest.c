// SPDX-License-Identifier: Apache-2.0
#include "image/manifest.h"

#include "image/ref.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 4096

static char *dup_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? strdup(s) : NULL;
}

void oci_descriptor_free(struct oci_descriptor *d)
{
    if (!d)
        return;
    free(d->media_type);
    free(d->digest);
    free(d->os);
    free(d->arch);
    free(d->variant);
    memset(d, 0, sizeof *d);
}

static int parse_descriptor(struct oci_descriptor *d, json_t *o, const char *what,
                            struct bl_error *err)
{
    memset(d, 0, sizeof *d);
    if (!json_is_object(o))
        return bl_err(err, BOXLITE_ERR_IMAGE, "%s: not an object", what);
    const char *digest = json_string_value(json_object_get(o, "digest"));
    if (!image_digest_valid(digest))
        return bl_err(err, BOXLITE_ERR_IMAGE, "%s: missing or unsupported digest (want sha256:<hex>)", what);
    json_t *size = json_object_get(o, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return bl_err(err, BOXLITE_ERR_IMAGE, "%s: missing or negative size", what);
    d->digest = strdup(digest);
    d->size = json_integer_value(size);
    d->media_type = dup_str(o, "mediaType");
    json_t *plat = json_object_get(o, "platform");
    if (json_is_object(plat)) {
        d->os = dup_str(plat, "os");
        d->arch = dup_str(plat, "architecture");
        d->variant = dup_str(plat, "variant");
    }
    if (!d->digest) {
        oci_descriptor_free(d);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static json_t *load(const char *json, size_t len, struct bl_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        bl_err(err, BOXLITE_ERR_IMAGE, "invalid JSON at line %d: %s", je.line, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        bl_err(err, BOXLITE_ERR_IMAGE, "JSON document is not an object");
        return NULL;
    }
    return root;
}

int oci_detect_kind(const char *json, size_t len, const char *content_type, struct bl_error *err)
{
    json_t *root = load(json, len, err);
    if (!root)
        return -BOXLITE_ERR_IMAGE;
    const char *mt = json_string_value(json_object_get(root, "mediaType"));
    if (!mt)
        mt = content_type;
    int kind = 0;
    if (mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST)))
        kind = OCI_KIND_INDEX;
    else if (mt && (!strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIFEST)))
        kind = OCI_KIND_MANIFEST;
    else if (json_is_array(json_object_get(root, "manifests")))
        kind = OCI_KIND_INDEX;
    else if (json_is_array(json_object_get(root, "layers")))
        kind = OCI_KIND_MANIFEST;
    json_int_t schema = json_integer_value(json_object_get(root, "schemaVersion"));
    int r = kind;
    if (schema == 1)
        r = bl_err(err, BOXLITE_ERR_UNSUPPORTED, "Docker schema 1 manifests are not supported");
    else if (!kind)
        r = bl_err(err, BOXLITE_ERR_IMAGE, "unknown manifest media type \"%.100s\"", mt ? mt : "(none)");
    json_decref(root);
    return r;
}

void oci_manifest_free(struct oci_manifest *m)
{
    if (!m)
        return;
    free(m->media_type);
    oci_descriptor_free(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        oci_descriptor_free(&m->layers[i]);
    free(m->layers);
    memset(m, 0, sizeof *m);
}

int oci_manifest_parse(struct oci_manifest *out, const char *json, size_t len, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = load(json, len, err);
    if (!root)
        return bl_err_prefix(err, "manifest");
    int r = 0;
    if (json_integer_value(json_object_get(root, "schemaVersion")) != 2) {
        r = bl_err(err, BOXLITE_ERR_UNSUPPORTED, "manifest: schemaVersion is not 2");
        goto out;
    }
    out->media_type = dup_str(root, "mediaType");
    if ((r = parse_descriptor(&out->config, json_object_get(root, "config"), "manifest config", err)) < 0)
        goto out;
    json_t *layers = json_object_get(root, "layers");
    if (!json_is_array(layers)) {
        r = bl_err(err, BOXLITE_ERR_IMAGE, "manifest: no layers array");
        goto out;
    }
    size_t n = json_array_size(layers);
    if (n > MAX_ENTRIES) {
        r = bl_err(err, BOXLITE_ERR_IMAGE, "manifest: too many layers (%zu)", n);
        goto out;
    }
    out->layers = calloc(n ? n : 1, sizeof *out->layers);
    if (!out->layers) {
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char what[48];
        snprintf(what, sizeof what, "manifest layer %zu", i);
        if ((r = parse_descriptor(&out->layers[i], json_array_get(layers, i), what, err)) < 0)
            goto out;
        out->n_layers++;
        enum layer_compression c;
        if ((r = oci_layer_compression(out->layers[i].media_type, &c, err)) < 0)
            goto out;
    }
out:
    json_decref(root);
    if (r < 0)
        oci_manifest_free(out);
    return r;
}

void oci_index_free(struct oci_index *ix)
{
    if (!ix)
        return;
    free(ix->media_type);
    for (size_t i = 0; i < ix->n_manifests; i++)
        oci_descriptor_free(&ix->manifests[i]);
    free(ix->manifests);
    memset(ix, 0, sizeof *ix);
}

int oci_index_parse(struct oci_index *out, const char *json, size_t len, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = load(json, len, err);
    if (!root)
        return bl_err_prefix(err, "index");
    int r = 0;
    out->media_type = dup_str(root, "mediaType");
    json_t *list = json_object_get(root, "manifests");
    if (!json_is_array(list)) {
        r = bl_err(err, BOXLITE_ERR_IMAGE, "index: no manifests array");
        goto out;
    }
    size_t n = json_array_size(list);
    if (n > MAX_ENTRIES) {
        r = bl_err(err, BOXLITE_ERR_IMAGE, "index: too many entries (%zu)", n);
        goto out;
    }
    out->manifests = calloc(n ? n : 1, sizeof *out->manifests);
    if (!out->manifests) {
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char what[48];
        snprintf(what, sizeof what, "index entry %zu", i);
        if ((r = parse_descriptor(&out->manifests[i], json_array_get(list, i), what, err)) < 0)
            goto out;
        out->n_manifests++;
    }
out:
    json_decref(root);
    if (r < 0)
        oci_index_free(out);
    return r;
}

static int streq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

int oci_index_select(const struct oci_index *ix, const char *os, const char *arch,
                     const char *variant, struct bl_error *err)
{
    /* Without a requested variant, an entry without one wins, then the arch's usual one. */
    const char *def_variant = streq(arch, "arm64") ? "v8" : streq(arch, "arm") ? "v7" : NULL;
    int best = -1, best_score = 0;
    for (size_t i = 0; i < ix->n_manifests; i++) {
        const struct oci_descriptor *d = &ix->manifests[i];
        if (!streq(d->os, os) || !streq(d->arch, arch))
            continue;
        int score;
        if (variant)
            score = streq(d->variant, variant) ? 3 : (!d->variant && streq(variant, def_variant)) ? 2 : 0;
        else
            score = !d->variant ? 3 : streq(d->variant, def_variant) ? 2 : 1;
        if (score > best_score) {
            best = (int)i;
            best_score = score;
        }
    }
    if (best < 0)
        return bl_err(err, BOXLITE_ERR_NOT_FOUND, "no manifest for platform %s/%s%s%s in the index (%zu entries)",
                      os, arch, variant ? "/" : "", variant ? variant : "", ix->n_manifests);
    return best;
}

int oci_layer_compression(const char *mt, enum layer_compression *out, struct bl_error *err)
{
    static const struct { const char *mt; enum layer_compression c; } known[] = {
        {"application/vnd.oci.image.layer.v1.tar", LAYER_PLAIN},
        {"application/vnd.oci.image.layer.v1.tar+gzip", LAYER_GZIP},
        {"application/vnd.oci.image.layer.v1.tar+zstd", LAYER_ZSTD},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", LAYER_GZIP},
        {"application/vnd.docker.image.rootfs.diff.tar", LAYER_PLAIN},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", LAYER_PLAIN},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_GZIP},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LAYER_ZSTD},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", LAYER_GZIP},
    };
    if (!mt) {
        *out = LAYER_GZIP; /* libarchive detects the filter anyway */
        return 0;
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(mt, known[i].mt)) {
            *out = known[i].c;
            return 0;
        }
    return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "unsupported layer media type \"%.100s\"", mt);
}
