// SPDX-License-Identifier: Apache-2.0
/* boxlite --url doctor: what a client can check of a server, in local doctor's lines
 * ("STATUS NAME: detail (fix: ...)") and exit status (0 when boxes can run there, else 1).
 *   server       GET /v1/config answers (no token needed), with the server's limits
 *   tls          https with a verified certificate; plain http only on loopback
 *   credentials  a token for our client id
 *   scopes       which verbs the token's scopes allow
 *   server ...   with runtime:admin, the server host's own check (GET .../host, ours in
 *                docs/api.yaml): the lines local doctor prints there, without its smoke box
 * A smoke box would be a box of the tenant's: doctor boots none remotely (`boxlite --url
 * run` is that test), so --image and --engine are refused and --no-smoke changes nothing. */
#include "remote.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add(json_t *checks, bool print, const char *status, const char *name,
                const char *fix, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add(json_t *checks, bool print, const char *status, const char *name,
                const char *fix, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_array_append_new(checks, json_pack("{s:s,s:s,s:s,s:s?}", "name", name, "status",
                                            status, "detail", detail, "fix", fix));
    if (print)
        cli_doctor_line(status, name, detail, fix);
}

/* Whether the URL's host is a loopback address, where plain http is the server's own
 * default (boxlite serve refuses another address without TLS unless --insecure). */
static bool loopback_url(const char *url)
{
    const char *h = strstr(url, "//");
    h = h ? h + 2 : url;
    return !strncmp(h, "127.", 4) || !strncmp(h, "localhost", 9) || !strncmp(h, "[::1]", 5);
}

static bool has_scope(const char *list, const char *scope)
{
    size_t n = strlen(scope);
    for (const char *p = list ? strstr(list, scope) : NULL; p; p = strstr(p + 1, scope))
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
            return true;
    return false;
}

int remote_doctor(struct cli *c, struct bl_client *cl, const struct cli_args *a)
{
    bool as_json = false;
    for (int i = 0; i < a->nopts; i++) {
        switch (a->opts[i].id) {
        case FL_JSON: as_json = true; break;
        case FL_NO_SMOKE: break;
        default: return unsupported_flag(a->verb, a->opts[i].id);
        }
    }
    const bool print = !as_json;
    const char *url = c->url;
    json_t *checks = json_array(), *host = NULL, *cfg = NULL;
    struct bl_error err = {0};
    bool failed = false, reached = client_config(cl, &cfg, &err) == 0;
    if (reached) {
        json_t *cap = json_object_get(cfg, "capabilities");
        add(checks, print, "ok", "server", NULL,
            "%s answers (at most %lld cpus, %lld MiB, %lld boxes per prefix)", url,
            (long long)json_integer_value(json_object_get(cap, "max_cpus")),
            (long long)json_integer_value(json_object_get(cap, "max_memory_mib")),
            (long long)json_integer_value(json_object_get(cap, "max_boxes_per_prefix")));
    } else {
        add(checks, print, "fail", "server", "check --url, and that boxlite serve runs there",
            "%s", err.msg);
        failed = true;
    }
    json_decref(cfg);
    if (!strncmp(url, "https://", 8))
        add(checks, print, reached ? "ok" : "fail", "tls",
            reached ? NULL : "BOXLITE_CA_FILE naming the CA that signed the server's certificate",
            reached ? "https, the certificate verified against %s" : "https, not verified: %s",
            reached ? (client_ca(cl) ? client_ca(cl) : "the system's CAs") : err.msg);
    else if (loopback_url(url))
        add(checks, print, "ok", "tls", NULL, "plain http on loopback");
    else
        add(checks, print, "warn", "tls", "serve with --tls-cert/--tls-key, use an https:// URL",
            "plain http to another host: the token and every byte travel unencrypted");
    bool admin = false;
    if (!reached) {
        add(checks, print, "info", "credentials", NULL, "not checked (no server)");
    } else if (!client_token(cl, true, &err)) {
        add(checks, print, "fail", "credentials",
            "--client-id/--client-secret (or BOXLITE_CLIENT_ID, BOXLITE_CLIENT_SECRET) as "
            "`boxlite serve credentials add` printed them", "%s", err.msg);
        failed = true;
    } else {
        const char *sc = client_scopes(cl);
        add(checks, print, "ok", "credentials", NULL, "a token for prefix %s, scopes: %s",
            client_prefix(cl), sc && *sc ? sc : "(none named)");
        static const struct { const char *scope, *verbs; } need[] = {
            { "boxes:read", "ps, inspect, stats, wait" },
            { "boxes:write", "create, run, start, stop, rm" },
            { "boxes:exec", "run, exec, cp, logs, attach, top" },
            { "images:read", "images" },
            { "images:write", "pull, rmi, image prune" },
        };
        char missing[512] = "";
        for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
            if (!has_scope(sc, need[i].scope))
                snprintf(missing + strlen(missing), sizeof missing - strlen(missing),
                         "%s%s (%s)", *missing ? "; " : "", need[i].scope, need[i].verbs);
        admin = has_scope(sc, "runtime:admin");
        if (*missing)
            add(checks, print, "warn", "scopes", "a client with those scopes (`boxlite serve "
                "credentials add FILE ID PREFIX --scopes LIST`)", "without %s: refused (403)",
                missing);
        else
            add(checks, print, "ok", "scopes", NULL, "every verb%s",
                admin ? ", and the server's own figures (runtime:admin)" : "");
    }
    bool usable = !failed;
    if (admin) {
        if (client_call(cl, "GET", "/host", NULL, &host, &err) < 0) {
            add(checks, print, "fail", "server host", NULL, "%s", err.msg);
            failed = true;
        } else {
            size_t i;
            json_t *k;
            json_array_foreach(json_object_get(host, "checks"), i, k) {
                const char *st = json_string_value(json_object_get(k, "status"));
                char name[160];
                snprintf(name, sizeof name, "server %s",
                         json_string_value(json_object_get(k, "name")) ?: "?");
                add(checks, print, st ? st : "info", name,
                    json_string_value(json_object_get(k, "fix")), "%s",
                    json_string_value(json_object_get(k, "detail")) ?: "");
                failed |= st && !strcmp(st, "fail");
            }
            bool engine = false;
            json_array_foreach(json_object_get(json_object_get(host, "engines"), "engines"), i, k)
                engine |= json_is_true(json_object_get(k, "available"));
            usable &= engine;
        }
    } else if (reached && !failed) {
        add(checks, print, "info", "server host", NULL,
            "not checked: the server's own check needs runtime:admin");
    }
    int status = usable && !failed ? 0 : 1;
    if (as_json) {
        json_t *o = json_pack("{s:s,s:o,s:O?,s:b}", "url", url, "checks", checks, "server_host",
                              host, "ok", status == 0);
        char *s = json_dumps(o, JSON_COMPACT);
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        json_decref(checks);
        printf("%s %s\n",
               status == 0 ? "boxes can run on" : usable ? "boxes can run, with problems above, on"
                                                         : "boxes cannot run on",
               url);
    }
    json_decref(host);
    return status;
}
