// SPDX-License-Identifier: Apache-2.0
/* Registry settings: see regconf.h. */
#include "image/regconf.h"

#include "common/cleanup.h"
#include "image/ref.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 64

static int bad(struct bl_error *err, const char *where, const char *what)
{
    return bl_err(err, BOXLITE_ERR_INVALID, "registries: %s: %s", where, what);
}

static int check_keys(json_t *obj, const char *where, const char *const *keys, struct bl_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int known = 0;
        for (const char *const *p = keys; *p && !known; p++)
            known = !strcmp(*p, k);
        if (!known)
            return bl_err(err, BOXLITE_ERR_INVALID, "registries: %s: unknown key \"%.64s\"", where, k);
    }
    return 0;
}

static int host_ok(const char *h) { return h && *h && image_host_valid(h, strlen(h)) && !strchr(h, '/'); }

/* A list of registry names into a NULL-terminated array. */
static int host_list(json_t *arr, const char *where, char ***out, size_t *n, struct bl_error *err)
{
    *out = NULL;
    *n = 0;
    if (!arr)
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > MAX_LIST)
        return bad(err, where, "must be a list of at most 64 registry names");
    char **v = calloc(json_array_size(arr) + 1, sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    *out = v;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *s = json_string_value(e);
        if (!host_ok(s))
            return bl_err(err, BOXLITE_ERR_INVALID, "registries: %s: \"%.100s\" is not a registry name (host[:port])",
                          where, s ? s : "(not a string)");
        if (!(v[i] = strdup(s)))
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        (*n)++;
    }
    return 0;
}

static int opt_str(json_t *obj, const char *key, const char *where, char **out, struct bl_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v)) {
        char w[300];
        snprintf(w, sizeof w, "%s.%s", where, key);
        return bad(err, w, "must be a string");
    }
    return (*out = strdup(json_string_value(v))) ? 0 : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
}

static int parse_entry(struct regconf_entry *e, const char *host, json_t *v, struct bl_error *err)
{
    static const char *const keys[] = {"mirrors", "ca_file", "insecure", "username", "password", NULL};
    char where[300];
    snprintf(where, sizeof where, "registries.%.200s", host);
    if (!host_ok(host))
        return bad(err, where, "not a registry name (host[:port])");
    if (!json_is_object(v))
        return bad(err, where, "must be an object");
    if (check_keys(v, where, keys, err) < 0)
        return -BOXLITE_ERR_INVALID;
    if (!(e->host = strdup(host)))
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    char w[320];
    snprintf(w, sizeof w, "%s.mirrors", where);
    int r = host_list(json_object_get(v, "mirrors"), w, &e->mirrors, &e->n_mirrors, err);
    if (r < 0 || (r = opt_str(v, "ca_file", where, &e->ca_file, err)) < 0 ||
        (r = opt_str(v, "username", where, &e->username, err)) < 0 ||
        (r = opt_str(v, "password", where, &e->password, err)) < 0)
        return r;
    if (e->ca_file && e->ca_file[0] != '/')
        return bad(err, where, "ca_file must be an absolute path");
    if (!e->username != !e->password)
        return bad(err, where, "username and password go together");
    json_t *ins = json_object_get(v, "insecure");
    if (ins && !json_is_boolean(ins))
        return bad(err, where, "insecure must be true or false");
    e->insecure = json_is_true(ins);
    return 0;
}

int regconf_parse(struct regconf *c, const char *json, size_t len, struct bl_error *err)
{
    static const char *const keys[] = {"search", "registries", NULL};
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return bl_err(err, BOXLITE_ERR_INVALID, "registries: invalid JSON at line %d: %s", je.line, je.text);
    int r;
    json_t *regs = json_object_get(root, "registries");
    if (!json_is_object(root))
        r = bad(err, "top level", "must be an object");
    else if ((r = check_keys(root, "top level", keys, err)) < 0)
        ;
    else if ((r = host_list(json_object_get(root, "search"), "search", &c->search, &c->n_search, err)) < 0)
        ;
    else if (regs && !json_is_object(regs))
        r = bad(err, "registries", "must be an object");
    else if (regs && json_object_size(regs) > MAX_LIST)
        r = bad(err, "registries", "at most 64 registries");
    else if (regs && !(c->entries = calloc(json_object_size(regs), sizeof *c->entries)))
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    if (r == 0 && regs) {
        const char *k;
        json_t *v;
        json_object_foreach(regs, k, v)
        {
            if ((r = parse_entry(&c->entries[c->n_entries++], k, v, err)) < 0)
                break;
        }
    }
    json_decref(root);
    if (r < 0)
        regconf_free(c);
    return r;
}

int regconf_load(struct regconf *c, const char *path, struct bl_error *err)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : bl_errno(err, errno, "open %s", path);
    cleanup_free char *buf = malloc(1u << 20);
    size_t n = buf ? fread(buf, 1, 1u << 20, f) : 0;
    int big = buf && n == (1u << 20);
    fclose(f);
    if (!buf)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    if (big)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s: larger than 1 MiB", path);
    int r = regconf_parse(c, buf, n, err);
    return r < 0 ? bl_err_prefix(err, "%s", path) : 0;
}

const struct regconf_entry *regconf_find(const struct regconf *c, const char *host)
{
    for (size_t i = 0; c && i < c->n_entries; i++)
        if (!strcmp(c->entries[i].host, host))
            return &c->entries[i];
    return NULL;
}

static void strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

void regconf_free(struct regconf *c)
{
    if (!c)
        return;
    strv_free(c->search);
    for (size_t i = 0; i < c->n_entries; i++) {
        struct regconf_entry *e = &c->entries[i];
        free(e->host);
        strv_free(e->mirrors);
        free(e->ca_file);
        free(e->username);
        if (e->password)
            memset(e->password, 0, strlen(e->password));
        free(e->password);
    }
    free(c->entries);
    memset(c, 0, sizeof *c);
}
