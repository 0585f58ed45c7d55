// SPDX-License-Identifier: Apache-2.0
#include "image/imageconfig.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 65536

static void strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* An array of strings (or, for Entrypoint/Cmd, null) into a NULL-terminated vector. */
static int strv_from(char ***out, json_t *a, const char *what, struct bl_error *err)
{
    *out = NULL;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bl_err(err, BOXLITE_ERR_IMAGE, "image config: %s is not an array", what);
    size_t n = json_array_size(a);
    if (n > MAX_ITEMS)
        return bl_err(err, BOXLITE_ERR_IMAGE, "image config: %s too long", what);
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s) {
            strv_free(v);
            return bl_err(err, BOXLITE_ERR_IMAGE, "image config: %s[%zu] is not a string", what, i);
        }
        if (!(v[i] = strdup(s))) {
            strv_free(v);
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        }
    }
    *out = v;
    return 0;
}

static char *dup_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? strdup(s) : NULL;
}

void image_config_free(struct image_config *c)
{
    if (!c)
        return;
    free(c->os);
    free(c->arch);
    free(c->variant);
    strv_free(c->entrypoint);
    strv_free(c->cmd);
    strv_free(c->env);
    free(c->working_dir);
    free(c->user);
    strv_free(c->exposed_ports);
    strv_free(c->diff_ids);
    strv_free(c->health_test);
    memset(c, 0, sizeof *c);
}

int image_config_parse(struct image_config *out, const char *json, size_t len, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root)
        return bl_err(err, BOXLITE_ERR_IMAGE, "image config: invalid JSON at line %d: %s", je.line, je.text);
    int r = 0;
    if (!json_is_object(root)) {
        r = bl_err(err, BOXLITE_ERR_IMAGE, "image config: not an object");
        goto out;
    }
    out->os = dup_str(root, "os");
    out->arch = dup_str(root, "architecture");
    out->variant = dup_str(root, "variant");
    json_t *cfg = json_object_get(root, "config");
    if (cfg && !json_is_null(cfg)) {
        if (!json_is_object(cfg)) {
            r = bl_err(err, BOXLITE_ERR_IMAGE, "image config: config is not an object");
            goto out;
        }
        if ((r = strv_from(&out->entrypoint, json_object_get(cfg, "Entrypoint"), "Entrypoint", err)) < 0 ||
            (r = strv_from(&out->cmd, json_object_get(cfg, "Cmd"), "Cmd", err)) < 0 ||
            (r = strv_from(&out->env, json_object_get(cfg, "Env"), "Env", err)) < 0)
            goto out;
        json_t *hc = json_object_get(cfg, "Healthcheck");
        if (hc && !json_is_null(hc)) {
            if (!json_is_object(hc)) {
                r = bl_err(err, BOXLITE_ERR_IMAGE, "image config: Healthcheck is not an object");
                goto out;
            }
            if ((r = strv_from(&out->health_test, json_object_get(hc, "Test"),
                               "Healthcheck.Test", err)) < 0)
                goto out;
            static const char *const keys[] = { "Interval", "Timeout", "StartPeriod", "Retries" };
            long long *dst[] = { &out->health_interval_ns, &out->health_timeout_ns,
                                 &out->health_start_period_ns, &out->health_retries };
            for (size_t i = 0; i < 4; i++) {
                json_t *v = json_object_get(hc, keys[i]);
                if (!v || json_is_null(v))
                    continue;
                if (!json_is_integer(v) || json_integer_value(v) < 0) {
                    r = bl_err(err, BOXLITE_ERR_IMAGE,
                               "image config: Healthcheck.%s is not a non-negative integer", keys[i]);
                    goto out;
                }
                *dst[i] = json_integer_value(v);
            }
        }
        out->working_dir = dup_str(cfg, "WorkingDir");
        out->user = dup_str(cfg, "User");
        json_t *ports = json_object_get(cfg, "ExposedPorts");
        if (json_is_object(ports)) {
            size_t n = json_object_size(ports), i = 0;
            out->exposed_ports = calloc(n + 1, sizeof(char *));
            if (!out->exposed_ports) {
                r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
                goto out;
            }
            const char *k;
            json_t *v;
            json_object_foreach(ports, k, v)
            {
                if (i < n && !(out->exposed_ports[i++] = strdup(k))) {
                    r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
                    goto out;
                }
            }
        }
    }
    json_t *rootfs = json_object_get(root, "rootfs");
    if (json_is_object(rootfs)) {
        if ((r = strv_from(&out->diff_ids, json_object_get(rootfs, "diff_ids"), "rootfs.diff_ids", err)) < 0)
            goto out;
        for (char **p = out->diff_ids; p && *p; p++)
            out->n_diff_ids++;
    }
out:
    json_decref(root);
    if (r < 0)
        image_config_free(out);
    return r;
}
