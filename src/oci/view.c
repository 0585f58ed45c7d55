// SPDX-License-Identifier: Apache-2.0
/* linux.maskedPaths, readonlyPaths, sysctl and devices decoded (runtime-spec config-linux.md).
 * Paths must be absolute (the spec says so) and, since they are resolved inside the
 * container by a root process of the guest, carry no ".." component; a sysctl name is
 * relative to /proc/sys with no ".." either. runc refuses sysctls outside the kernel's
 * namespaced set because they would change the host; a box's kernel is its own, so any
 * name is taken. */
#include "oci/view.h"

#include "oci/spec.h"
#include "proto/proto.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int path_list(json_t *a, const char *f, char ***out, struct bl_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a) || json_array_size(a) > OCI_MAX_VIEW)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an array of at most %d "
                      "paths", f, OCI_MAX_VIEW);
    char **v = realloc(*out, (json_array_size(a) + 1) * sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    *out = v;
    v[0] = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        const char *s = json_is_string(e) ? json_string_value(e) : NULL;
        if (!s || strlen(s) != json_string_length(e) || !proto_confine_path_ok(s))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s[%zu] must be an absolute path "
                          "without \"..\"", f, i);
        if (!(v[i] = strdup(s)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
        v[i + 1] = NULL;
    }
    return 0;
}

static int sysctl_list(json_t *o, char ***out, struct bl_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o) || json_object_size(o) > OCI_MAX_VIEW)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.sysctl must be an object of at "
                      "most %d names", OCI_MAX_VIEW);
    char **v = realloc(*out, (json_object_size(o) + 1) * sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    *out = v;
    v[0] = NULL;
    size_t i = 0;
    const char *k;
    json_t *val;
    json_object_foreach(o, k, val) {
        if (!json_is_string(val) || strlen(json_string_value(val)) != json_string_length(val))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.sysctl.%.64s must be a "
                          "string", k);
        size_t n = strlen(k) + strlen(json_string_value(val)) + 2;
        if (!(v[i] = malloc(n)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
        snprintf(v[i], n, "%s=%s", k, json_string_value(val));
        v[i + 1] = NULL;
        if (strchr(k, '=') || !proto_sysctl_ok(v[i++]))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.sysctl \"%.64s\": a name "
                          "under /proc/sys (net.ipv4.ip_forward), not a path", k);
    }
    return 0;
}

static int u32_of(json_t *o, const char *key, const char *f, unsigned *out, struct bl_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.%s must be an integer from 0 to "
                      "4294967295", f, key);
    *out = (unsigned)json_integer_value(v);
    return 0;
}

static int device_list(json_t *a, struct oci_view *view, struct bl_error *err)
{
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a) || json_array_size(a) > OCI_MAX_VIEW)
        return bl_err(err, BOXLITE_ERR_INVALID, "config: linux.devices must be an array of at "
                      "most %d devices", OCI_MAX_VIEW);
    if (json_array_size(a) &&
        !(view->devices = calloc(json_array_size(a), sizeof *view->devices)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        char f[48];
        snprintf(f, sizeof f, "linux.devices[%zu]", i);
        if (!json_is_object(e))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s must be an object", f);
        boxlite_device *d = &view->devices[i];
        json_t *t = json_object_get(e, "type"), *p = json_object_get(e, "path");
        const char *ts = json_is_string(t) ? json_string_value(t) : "";
        /* config-linux.md: c, b, u or p */
        if (strlen(ts) != 1 || !strchr("cbup", ts[0]))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.type must be c, b, u or p", f);
        const char *ps = json_is_string(p) ? json_string_value(p) : NULL;
        if (!ps || strlen(ps) != json_string_length(p) || !proto_confine_path_ok(ps))
            return bl_err(err, BOXLITE_ERR_INVALID, "config: %s.path must be an absolute path "
                          "without \"..\"", f);
        if (!(d->path = strdup(ps)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "config: out of memory");
        view->ndevices = i + 1;
        d->type = ts[0];
        d->mode = 0666; /* runc's default for a device without fileMode */
        int r = u32_of(e, "major", f, &d->major, err);
        if (!r)
            r = u32_of(e, "minor", f, &d->minor, err);
        if (!r)
            r = u32_of(e, "fileMode", f, &d->mode, err);
        if (!r)
            r = u32_of(e, "uid", f, &d->uid, err);
        if (!r)
            r = u32_of(e, "gid", f, &d->gid, err);
        if (r)
            return r;
        d->mode &= 07777; /* Go writes the type bits into fileMode at times; they are ours */
        if (!d->mode)
            d->mode = 0666;
    }
    return 0;
}

int oci_view_from(json_t *linux, struct oci_view *v, struct bl_error *err)
{
    memset(v, 0, sizeof *v);
    int r = path_list(json_object_get(linux, "maskedPaths"), "linux.maskedPaths", &v->masked,
                      err);
    if (!r)
        r = path_list(json_object_get(linux, "readonlyPaths"), "linux.readonlyPaths",
                      &v->readonly, err);
    if (!r)
        r = sysctl_list(json_object_get(linux, "sysctl"), &v->sysctl, err);
    if (!r)
        r = device_list(json_object_get(linux, "devices"), v, err);
    if (r)
        oci_view_free(v);
    return r;
}

void oci_view_free(struct oci_view *v)
{
    oci_strv_free(v->masked);
    oci_strv_free(v->readonly);
    oci_strv_free(v->sysctl);
    for (size_t i = 0; i < v->ndevices; i++)
        free((char *)v->devices[i].path);
    free(v->devices);
    memset(v, 0, sizeof *v);
}
