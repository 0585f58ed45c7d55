// SPDX-License-Identifier: Apache-2.0
/* The runtime's settings: see settings.h. */
#include "runtime/settings.h"

#include "boxlite.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { PATH, TEXT, FLAG, ID, LIST, MIB };

static const struct {
    const char *key, *env;
    enum kind kind;
} table[RT_SET_COUNT] = {
    [RT_SET_VMM] = { "vmm", "BOXLITE_VMM", PATH },
    [RT_SET_KERNEL] = { "kernel", "BOXLITE_KERNEL", PATH },
    [RT_SET_INITRD] = { "initrd", "BOXLITE_INITRD", PATH },
    [RT_SET_CACHE] = { "cache_dir", "BOXLITE_CACHE", PATH },
    [RT_SET_KERNEL_CMDLINE] = { "kernel_cmdline", "BOXLITE_KERNEL_CMDLINE", TEXT },
    [RT_SET_UNCONFINED] = { "unconfined", "BOXLITE_UNCONFINED", FLAG },
    [RT_SET_JAIL_UID] = { "jail_uid", "BOXLITE_JAIL_UID", ID },
    [RT_SET_JAIL_GID] = { "jail_gid", "BOXLITE_JAIL_GID", ID },
    [RT_SET_JAIL_UIDS] = { "jail_uids", "BOXLITE_JAIL_UIDS", TEXT }, /* "FIRST:COUNT" */
    [RT_SET_INSECURE] = { "insecure_registries", "BOXLITE_INSECURE_REGISTRIES", LIST },
    [RT_SET_DOCKER_CONFIG] = { "docker_config", "DOCKER_CONFIG", PATH },
    [RT_SET_QEMU] = { "qemu", "BOXLITE_QEMU", PATH },
    [RT_SET_TCG_TB_MIB] = { "tcg_tb_mib", "BOXLITE_TCG_TB_MIB", MIB },
    [RT_SET_ANONYMOUS_PULLS] = { "anonymous_pulls", "BOXLITE_ANONYMOUS_PULLS", FLAG },
    [RT_SET_CGROUP_NESTED] = { "cgroup_nested", "BOXLITE_CGROUP_NESTED", FLAG },
};

const char *rt_settings_env_name(enum rt_setting_key k) { return table[k].env; }
const char *rt_settings_key_name(enum rt_setting_key k) { return table[k].key; }

void rt_settings_free(struct rt_settings *s)
{
    for (int i = 0; i < RT_SET_COUNT; i++) {
        free(s->v[i]);
        s->v[i] = NULL;
    }
}

const char *rt_settings_get(const struct rt_settings *s, enum rt_setting_key k)
{
    if (s && s->v[k])
        return s->v[k];
    const char *e = getenv(table[k].env);
    return e && *e ? e : NULL;
}

/* One value in its environment variable's text form. */
static int convert(int k, json_t *v, char **out, struct bl_error *err)
{
    const char *key = table[k].key;
    switch (table[k].kind) {
    case PATH:
    case TEXT:
        if (!json_is_string(v))
            return bl_err(err, BOXLITE_ERR_INVALID, "runtime option \"%s\": expected a string",
                          key);
        if (table[k].kind == PATH && !*json_string_value(v))
            return bl_err(err, BOXLITE_ERR_INVALID, "runtime option \"%s\": empty path", key);
        *out = strdup(json_string_value(v));
        break;
    case FLAG:
        if (!json_is_boolean(v))
            return bl_err(err, BOXLITE_ERR_INVALID, "runtime option \"%s\": expected true or "
                          "false", key);
        *out = strdup(json_is_true(v) ? "1" : "0");
        break;
    case ID: {
        /* The jail never runs the box's process as root: 0 and the "nobody" of 32 bits
         * ((uid_t)-1, which means "unchanged" to setresuid) are refused. */
        json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
        if (n < 1 || n > 4294967294LL)
            return bl_err(err, BOXLITE_ERR_INVALID, "runtime option \"%s\": expected a uid/gid "
                          "from 1 to 4294967294 (not root)", key);
        if (asprintf(out, "%lld", (long long)n) < 0)
            *out = NULL;
        break;
    }
    case MIB: {
        json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
        if (n < 0 || n > 2048)
            return bl_err(err, BOXLITE_ERR_INVALID, "runtime option \"%s\": expected MiB from "
                          "0 to 2048", key);
        if (asprintf(out, "%lld", (long long)n) < 0)
            *out = NULL;
        break;
    }
    case LIST: {
        if (!json_is_array(v))
            return bl_err(err, BOXLITE_ERR_INVALID, "runtime option \"%s\": expected an array "
                          "of \"host[:port]\" strings", key);
        size_t i, len = 1;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            const char *s = json_string_value(e);
            if (!s || !*s || strpbrk(s, ", \t"))
                return bl_err(err, BOXLITE_ERR_INVALID, "runtime option \"%s\"[%zu]: expected "
                              "a \"host[:port]\" string", key, i);
            len += strlen(s) + 1;
        }
        if (!(*out = calloc(1, len)))
            break;
        json_array_foreach(v, i, e)
        {
            if (i)
                strcat(*out, ",");
            strcat(*out, json_string_value(e));
        }
        break;
    }
    }
    return *out ? 0 : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
}

int rt_settings_parse(struct rt_settings *s, const char *json, struct bl_error *err)
{
    memset(s, 0, sizeof *s);
    if (!json || !*json)
        return 0;
    json_error_t je;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return root ? bl_err(err, BOXLITE_ERR_INVALID, "runtime options: expected a JSON object")
                    : bl_err(err, BOXLITE_ERR_INVALID, "runtime options: %s (line %d)", je.text,
                             je.line);
    }
    const char *key;
    json_t *v;
    int r = 0;
    json_object_foreach(root, key, v)
    {
        int k = 0;
        while (k < RT_SET_COUNT && strcmp(table[k].key, key))
            k++;
        if (k == RT_SET_COUNT) {
            r = bl_err(err, BOXLITE_ERR_INVALID, "runtime options: unknown option \"%s\"", key);
            break;
        }
        if (json_is_null(v))
            continue; /* the default: the environment */
        if ((r = convert(k, v, &s->v[k], err)) < 0)
            break;
    }
    json_decref(root);
    if (r < 0)
        rt_settings_free(s);
    return r;
}
