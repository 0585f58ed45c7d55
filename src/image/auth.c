// SPDX-License-Identifier: Apache-2.0
/* Registry credentials: WWW-Authenticate challenges (RFC 7235 section 4.1, auth-param
 * lists) and Docker's config.json "auths" entries. */
#include "image/registry.h"

#include "common/cleanup.h"

#include <ctype.h>
#include <jansson.h>
#include "common/lazy_crypto.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PARAM 4096

void auth_challenge_free(struct auth_challenge *c)
{
    if (!c)
        return;
    free(c->realm);
    free(c->service);
    free(c->scope);
    memset(c, 0, sizeof *c);
}

int auth_challenge_parse(struct auth_challenge *c, const char *v, struct bl_error *err)
{
    memset(c, 0, sizeof *c);
    if (!v)
        return bl_err(err, BOXLITE_ERR_AUTH, "no WWW-Authenticate challenge");
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = 0;
    while (v[n] && !isspace((unsigned char)v[n]) && n + 1 < sizeof c->scheme) {
        c->scheme[n] = (char)tolower((unsigned char)v[n]);
        n++;
    }
    c->scheme[n] = 0;
    if (!n || (v[n] && !isspace((unsigned char)v[n])))
        return bl_err(err, BOXLITE_ERR_AUTH, "malformed WWW-Authenticate challenge");
    const char *p = v + n;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *k = p;
        while (*p && *p != '=' && *p != ',' && !isspace((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - k);
        while (*p == ' ')
            p++;
        if (*p != '=') {
            if (!*p || *p == ',')
                continue; /* token68 or a bare word: not used by registries */
            break;
        }
        p++;
        while (*p == ' ')
            p++;
        char val[MAX_PARAM];
        size_t vl = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                if (vl + 1 < sizeof val)
                    val[vl++] = *p;
                p++;
            }
            if (*p != '"') {
                auth_challenge_free(c);
                return bl_err(err, BOXLITE_ERR_AUTH, "malformed WWW-Authenticate challenge: unterminated quote");
            }
            p++;
        } else {
            while (*p && *p != ',' && !isspace((unsigned char)*p)) {
                if (vl + 1 < sizeof val)
                    val[vl++] = *p;
                p++;
            }
        }
        val[vl] = 0;
        char **slot = NULL;
        if (klen == 5 && !strncasecmp(k, "realm", 5))
            slot = &c->realm;
        else if (klen == 7 && !strncasecmp(k, "service", 7))
            slot = &c->service;
        else if (klen == 5 && !strncasecmp(k, "scope", 5))
            slot = &c->scope;
        if (slot) {
            free(*slot);
            *slot = strdup(val);
        }
    }
    if (!strcmp(c->scheme, "bearer") && !c->realm) {
        auth_challenge_free(c);
        return bl_err(err, BOXLITE_ERR_AUTH, "Bearer challenge without a realm");
    }
    return 0;
}

void registry_creds_free(struct registry_creds *c)
{
    if (!c)
        return;
    if (c->password)
        memset(c->password, 0, strlen(c->password));
    free(c->username);
    free(c->password);
    free(c->identitytoken);
    memset(c, 0, sizeof *c);
}

/* "https://index.docker.io/v1/" -> "index.docker.io" for comparison. */
static void host_of(const char *key, char *out, size_t n)
{
    const char *p = strstr(key, "://");
    p = p ? p + 3 : key;
    size_t l = strcspn(p, "/");
    snprintf(out, n, "%.*s", (int)l, p);
}

static int is_docker_hub(const char *h)
{
    return !strcmp(h, "docker.io") || !strcmp(h, "index.docker.io") || !strcmp(h, "registry-1.docker.io");
}

int registry_creds_lookup(struct registry_creds *out, const char *config_path, const char *registry,
                          unsigned helper_timeout_ms, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    char path[4096];
    if (config_path) {
        snprintf(path, sizeof path, "%s", config_path);
    } else {
        const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
        if (dc)
            snprintf(path, sizeof path, "%s/config.json", dc);
        else if (home)
            snprintf(path, sizeof path, "%s/.docker/config.json", home);
        else
            return 0;
    }
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    json_error_t je;
    json_t *root = json_loadf(f, 0, &je);
    fclose(f);
    if (!root)
        return bl_err(err, BOXLITE_ERR_AUTH, "docker config %s: invalid JSON at line %d: %s", path, je.line, je.text);
    int found = 0;
    const char *k;
    json_t *v;
    /* Docker's order: a helper named for this registry (credHelpers), else the default
     * store (credsStore); what they do not know comes from "auths". */
    const char *helper = NULL;
    json_object_foreach(json_object_get(root, "credHelpers"), k, v)
    {
        char h[512];
        host_of(k, h, sizeof h);
        if ((!strcmp(h, registry) || (is_docker_hub(h) && is_docker_hub(registry))) && json_is_string(v))
            helper = json_string_value(v);
    }
    if (!helper)
        helper = json_string_value(json_object_get(root, "credsStore"));
    if (helper && *helper) {
        /* Docker Hub's credentials are stored under its v1 index address. */
        const char *server = is_docker_hub(registry) ? "https://index.docker.io/v1/" : registry;
        int r = credhelper_get(helper, server, helper_timeout_ms, out, err);
        if (r != 0) {
            json_decref(root);
            return r < 0 ? bl_err_prefix(err, "docker config %s", path) : r;
        }
    }
    json_object_foreach(json_object_get(root, "auths"), k, v)
    {
        char h[512];
        host_of(k, h, sizeof h);
        if (strcmp(h, registry) != 0 && !(is_docker_hub(h) && is_docker_hub(registry)))
            continue;
        const char *auth = json_string_value(json_object_get(v, "auth"));
        const char *user = json_string_value(json_object_get(v, "username"));
        const char *pass = json_string_value(json_object_get(v, "password"));
        const char *idt = json_string_value(json_object_get(v, "identitytoken"));
        if (auth && *auth) {
            size_t al = strlen(auth);
            if (al > 8192) {
                int r = bl_err(err, BOXLITE_ERR_AUTH, "docker config %s: auth for %s too long", path, k);
                json_decref(root); /* k lives in root */
                return r;
            }
            cleanup_free unsigned char *dec = malloc(al + 4);
            int dl = dec ? EVP_DecodeBlock(dec, (const unsigned char *)auth, (int)al) : -1;
            if (dl < 0) {
                int r = bl_err(err, BOXLITE_ERR_AUTH, "docker config %s: auth for %s is not base64", path, k);
                json_decref(root); /* k lives in root */
                return r;
            }
            /* EVP_DecodeBlock counts '=' padding as zero bytes. */
            while (dl > 0 && al > 0 && auth[al - 1] == '=') {
                dl--;
                al--;
            }
            dec[dl] = 0;
            char *colon = memchr(dec, ':', (size_t)dl);
            if (!colon) {
                int r = bl_err(err, BOXLITE_ERR_AUTH, "docker config %s: auth for %s is not user:password", path, k);
                json_decref(root); /* k lives in root */
                return r;
            }
            *colon = 0;
            out->username = strdup((char *)dec);
            out->password = strdup(colon + 1);
            memset(dec, 0, (size_t)dl);
        } else if (user && pass) {
            out->username = strdup(user);
            out->password = strdup(pass);
        }
        if (idt && *idt)
            out->identitytoken = strdup(idt);
        found = out->username || out->identitytoken;
        if (found)
            break;
    }
    json_decref(root);
    return found;
}
