// SPDX-License-Identifier: Apache-2.0
/* The export archive's manifest parser (archive.h): strict, since the archive may come from
 * anyone. Every key is known, every string bounded, every member name the one its place
 * requires; the options are only carried here (the importer reads them with the options
 * parser and drops what is host-specific). */
#include "runtime/archive.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bx_disk_member_name(char *out, size_t n, int i, const char *format)
{
    snprintf(out, n, "disk/%d.%s", i, format);
}

void bx_manifest_free(struct bx_manifest *m)
{
    free(m->options);
    m->options = NULL;
}

static bool only_keys(json_t *o, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool known = false;
        for (size_t i = 0; keys[i] && !known; i++)
            known = !strcmp(k, keys[i]);
        if (!known)
            return false;
    }
    return true;
}

static bool is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* A bounded string without control characters; NULL when not. */
static const char *str_field(json_t *o, const char *key, size_t max, bool required)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return required ? NULL : "";
    const char *s = json_string_value(v);
    if (!s || strlen(s) > max || json_string_length(v) != strlen(s))
        return NULL;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return NULL;
    return s;
}

static int member(json_t *o, const char *where, const char *expect_name, bool disk, int index,
                  struct bx_member *out, struct bl_error *err)
{
    static const char *const keys[] = { "member", "format", "size", "sha256", NULL };
    if (!json_is_object(o) || !only_keys(o, keys))
        return bl_err(err, BOXLITE_ERR_INVALID, "manifest: %s: not an object of member, format, "
                      "size and sha256", where);
    const char *name = str_field(o, "member", 31, true);
    const char *sum = str_field(o, "sha256", 64, true);
    json_t *size = json_object_get(o, "size");
    if (!name || !json_is_integer(size) || json_integer_value(size) < 0 ||
        (uint64_t)json_integer_value(size) > BX_MAX_MEMBER || !is_hex64(sum))
        return bl_err(err, BOXLITE_ERR_INVALID, "manifest: %s: bad member, size (at most %llu) "
                      "or sha256", where, (unsigned long long)BX_MAX_MEMBER);
    char want[32];
    if (disk) {
        const char *fmt = str_field(o, "format", 7, true);
        if (!fmt || (strcmp(fmt, "raw") && strcmp(fmt, "qcow2")))
            return bl_err(err, BOXLITE_ERR_INVALID, "manifest: %s: format must be raw or qcow2",
                          where);
        if (index > 0 && strcmp(fmt, "qcow2"))
            return bl_err(err, BOXLITE_ERR_INVALID, "manifest: %s: only the bottom of the chain "
                          "may be raw", where);
        snprintf(out->format, sizeof out->format, "%s", fmt);
        bx_disk_member_name(want, sizeof want, index, fmt);
        expect_name = want;
    } else if (json_object_get(o, "format")) {
        return bl_err(err, BOXLITE_ERR_INVALID, "manifest: %s: no format expected", where);
    }
    if (strcmp(name, expect_name))
        return bl_err(err, BOXLITE_ERR_INVALID, "manifest: %s: member \"%s\" (expected \"%s\")",
                      where, name, expect_name);
    snprintf(out->member, sizeof out->member, "%s", name);
    snprintf(out->sha256, sizeof out->sha256, "%s", sum);
    out->size = (uint64_t)json_integer_value(size);
    return 0;
}

int bx_manifest_parse(struct bx_manifest *m, const char *text, size_t len, struct bl_error *err)
{
    memset(m, 0, sizeof *m);
    if (len > BX_MAX_MANIFEST)
        return bl_err(err, BOXLITE_ERR_INVALID, "manifest: %zu bytes (at most %u)", len,
                      BX_MAX_MANIFEST);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return bl_err(err, BOXLITE_ERR_INVALID, "manifest: not JSON: %s (line %d)", je.text,
                      je.line);
    int r = 0;
    static const char *const top[] = { "format", "version", "boxlite", "created", "box",
                                       "image_config", "disk", NULL };
    static const char *const box[] = { "name", "image", "image_digest", "options", NULL };
    json_t *b = json_object_get(root, "box"), *disk = json_object_get(root, "disk");
    json_t *ver = json_object_get(root, "version"), *cr = json_object_get(root, "created");
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!json_is_object(root) || !fmt || strcmp(fmt, BX_FORMAT)) {
        r = bl_err(err, BOXLITE_ERR_INVALID, "manifest: not a boxlite box archive (format is "
                   "not \"%s\")", BX_FORMAT);
        goto out;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) != BX_VERSION) {
        r = bl_err(err, BOXLITE_ERR_UNSUPPORTED, "manifest: format version %lld (this boxlite "
                   "reads version %d)", json_is_integer(ver) ? (long long)json_integer_value(ver)
                   : -1LL, BX_VERSION);
        goto out;
    }
    m->version = BX_VERSION;
    if (!only_keys(root, top) || !json_is_object(b) || !only_keys(b, box) ||
        !json_is_array(disk) || (cr && !json_is_integer(cr)) ||
        !str_field(root, "boxlite", 32, false)) {
        r = bl_err(err, BOXLITE_ERR_INVALID, "manifest: unexpected or missing keys (format, "
                   "version, boxlite, created, box{name, image, image_digest, options}, "
                   "image_config, disk)");
        goto out;
    }
    m->created = cr ? json_integer_value(cr) : 0;
    const char *name = str_field(b, "name", 64, true);
    const char *image = str_field(b, "image", sizeof m->image - 1, false);
    const char *digest = str_field(b, "image_digest", sizeof m->image_digest - 1, false);
    json_t *opts = json_object_get(b, "options");
    if (!name || !image || !digest || !json_is_object(opts)) {
        r = bl_err(err, BOXLITE_ERR_INVALID, "manifest: box: bad name, image, image_digest or "
                   "options");
        goto out;
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->image, sizeof m->image, "%s", image);
    snprintf(m->image_digest, sizeof m->image_digest, "%s", digest);
    if (!(m->options = json_dumps(opts, JSON_COMPACT))) {
        r = bl_err(err, BOXLITE_ERR_NOMEM, "manifest: out of memory");
        goto out;
    }
    json_t *cfg = json_object_get(root, "image_config");
    if (cfg) {
        if ((r = member(cfg, "image_config", BX_CONFIG, false, 0, &m->config, err)) < 0)
            goto out;
        if (m->config.size > BX_MAX_CONFIG) {
            r = bl_err(err, BOXLITE_ERR_INVALID, "manifest: image_config: %llu bytes (at most "
                       "%u)", (unsigned long long)m->config.size, BX_MAX_CONFIG);
            goto out;
        }
        m->has_config = true;
    }
    size_t nd = json_array_size(disk);
    if (nd == 0 || nd > BX_MAX_DISKS) {
        r = bl_err(err, BOXLITE_ERR_INVALID, "manifest: disk: %zu members (1 to %d)", nd,
                   BX_MAX_DISKS);
        goto out;
    }
    for (size_t i = 0; i < nd; i++) {
        char where[32];
        snprintf(where, sizeof where, "disk[%zu]", i);
        if ((r = member(json_array_get(disk, i), where, NULL, true, (int)i, &m->disk[i], err)) < 0)
            goto out;
    }
    m->ndisk = (int)nd;
out:
    json_decref(root);
    if (r)
        bx_manifest_free(m);
    return r;
}
