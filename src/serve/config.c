// SPDX-License-Identifier: Apache-2.0
/* What the server says of itself: GET /v1/config (docs/api.yaml SandboxConfig: the
 * server's defaults, limits and features) and POST /v1/oauth/tokens (OAuth2 client
 * credentials, RFC 6749 section 4.4: TokenRequest form in, TokenResponse out; a bad client
 * is 401 whatever was wrong, so a caller cannot tell a wrong id from a wrong secret), both
 * without a token; and GET /v1/{prefix}/host (ours, runtime:admin): its host check, for
 * `boxlite --url doctor`. */
#include "serve/server.h"

#include <stdlib.h>
#include <string.h>

/* The library's host check of the server's own home and runtime options: the operator's
 * view (runtime:admin), as `boxlite doctor` shows it on that host, without the smoke box. */
enum MHD_Result h_host(struct MHD_Connection *c, struct req *q)
{
    const struct serve_config *cfg = &q->s->cfg;
    char *text = NULL;
    int r = cfg->runtime_options ? boxlite_host_check_with(cfg->home, cfg->runtime_options, &text)
                                 : boxlite_host_check(cfg->home, &text);
    if (r != BOXLITE_OK)
        return reply_lib_error(c, q, "host check");
    json_t *o = json_loads(text, 0, NULL);
    boxlite_free(text);
    if (!json_is_object(o)) {
        json_decref(o);
        return reply_error(c, q, 500, "InternalError", "host check: not a JSON object");
    }
    return reply_json(c, q, 200, o);
}

enum MHD_Result h_config(struct MHD_Connection *c, struct req *q)
{
    const struct serve_config *cfg = &q->s->cfg;
    char lifetime[32]; /* ISO 8601 duration */
    snprintf(lifetime, sizeof lifetime, "PT%uS", cfg->idem_ttl_s);
    json_t *o = json_pack(
        "{s:{s:i,s:i,s:i,s:s,s:b},s:{},"
        "s:{s:i,s:i,s:i,s:i,s:i,s:I,s:f,s:b,s:b,s:b,s:b,s:b,s:[sss],s:s}}",
        "defaults", "cpus", 1, "memory_mib", 512, "disk_size_gb", 10, "security_preset",
        "standard", "auto_remove", 1,
        "overrides",
        "capabilities", "max_cpus", cfg->lim.max_cpus, "max_memory_mib", cfg->lim.max_memory_mib,
        "max_disk_size_gb", cfg->lim.max_disk_size_gb, "max_boxes_per_prefix", cfg->max_boxes,
        "max_concurrent_executions", cfg->max_execs, "file_transfer_max_bytes",
        (json_int_t)cfg->max_file, "exec_timeout_max_seconds", 604800.0, "tty_enabled", 1,
        "streaming_enabled", 1, "snapshots_enabled", 1, "clone_enabled", 1, "export_enabled", 1,
        "supported_security_presets", "development", "standard", "maximum",
        "idempotency_key_lifetime", lifetime);
    return reply_json(c, q, 200, o);
}

enum MHD_Result h_token(struct MHD_Connection *c, struct req *q)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return reply_error(c, q, 400, "InvalidArgumentError",
                           "the token request is an application/x-www-form-urlencoded form");
    json_t *f = NULL;
    struct bl_error err = {0};
    if (serve_form_parse(q->body ? q->body : "", q->len, &f, &err) != 0)
        return reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
    const char *gt = json_string_value(json_object_get(f, "grant_type"));
    const char *id = json_string_value(json_object_get(f, "client_id"));
    const char *secret = json_string_value(json_object_get(f, "client_secret"));
    const char *want = json_string_value(json_object_get(f, "scope"));
    enum MHD_Result res;
    if (!gt || strcmp(gt, "client_credentials") != 0) {
        res = reply_error(c, q, 400, "InvalidArgumentError",
                          "grant_type must be client_credentials");
        goto out;
    }
    const struct serve_client *cl = serve_creds_check(&q->s->creds, id, secret);
    if (!cl) {
        res = reply_error(c, q, 401, "UnauthorizedError", "invalid client credentials");
        goto out;
    }
    /* the granted scopes: those asked for that the client has (all of its own when none
     * are asked for); asking for one it lacks is refused rather than silently narrowed */
    char granted[256] = "";
    if (want && *want) {
        char *norm = serve_scopes_normalise(want);
        if (!norm) {
            res = reply_error(c, q, 400, "InvalidArgumentError", "scope: unknown scope in \"%.128s\"",
                              want);
            goto out;
        }
        char *save = NULL;
        for (char *t = strtok_r(norm, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            if (!serve_scopes_have(cl->scopes, t)) {
                res = reply_error(c, q, 401, "UnauthorizedError",
                                  "client %s may not have scope %s", cl->id, t);
                free(norm);
                goto out;
            }
            if (*granted)
                strcat(granted, " ");
            strcat(granted, t);
        }
        free(norm);
    } else {
        snprintf(granted, sizeof granted, "%s", cl->scopes);
    }
    char *tok = serve_token_issue(q->s->tokens, cl, granted, q->s->cfg.token_ttl_s);
    if (!tok) {
        res = reply_error(c, q, 503, "InternalError", "too many live tokens; try again later");
        goto out;
    }
    q->authed = true; /* the log names the client */
    snprintf(q->tok.client, sizeof q->tok.client, "%s", cl->id);
    json_t *o = json_pack("{s:s,s:s,s:i,s:s}", "access_token", tok, "token_type", "bearer",
                          "expires_in", (int)q->s->cfg.token_ttl_s, "scope", granted);
    memset(tok, 0, strlen(tok));
    free(tok);
    res = reply_json(c, q, 200, o);
out:
    json_decref(f);
    return res;
}
