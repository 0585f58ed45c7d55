// SPDX-License-Identifier: Apache-2.0
/* boxlite serve: runs the REST server (src/serve/) until SIGTERM or SIGINT, and manages its
 * credentials file (serve credentials add|rm). */
#include "cli.h"

#include "serve/server.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SCOPES "boxes:read,boxes:write,boxes:exec,images:read,images:write"

static int credentials(const struct cli_args *a, const char *scopes)
{
    struct bl_error err = {0};
    const char *action = a->nops > 1 ? a->ops[1] : "";
    if (!strcmp(action, "add")) {
        if (a->nops != 5)
            return cli_usage_error("serve credentials add FILE CLIENT_ID PREFIX [--scopes LIST]");
        char *secret = NULL;
        if (serve_creds_add(a->ops[2], a->ops[3], a->ops[4], scopes ? scopes : DEFAULT_SCOPES,
                            &secret, &err)) {
            fprintf(stderr, "boxlite: serve credentials add: %s\n", err.msg);
            return 125;
        }
        /* the only time the secret exists outside the client: the file keeps its hash */
        printf("%s\n", secret);
        memset(secret, 0, strlen(secret));
        free(secret);
        return 0;
    }
    if (!strcmp(action, "rm")) {
        if (a->nops != 4)
            return cli_usage_error("serve credentials rm FILE CLIENT_ID");
        if (serve_creds_remove(a->ops[2], a->ops[3], &err)) {
            fprintf(stderr, "boxlite: serve credentials rm: %s\n", err.msg);
            return 125;
        }
        return 0;
    }
    return cli_usage_error("serve credentials: add or rm");
}

int cmd_serve(struct cli *c, const struct cli_args *a)
{
    struct server s = {0};
    struct serve_config *cfg = &s.cfg;
    cfg->listen = "127.0.0.1:8100";
    cfg->home = c->home;
    cfg->token_ttl_s = 3600;
    cfg->max_body = 1 << 20;
    cfg->max_input = 8 << 20;
    cfg->max_output = 16 << 20;
    cfg->max_boxes = 50;
    cfg->max_execs = 10;
    cfg->rate = 50;
    cfg->max_file = 256ull << 20;
    cfg->idem_ttl_s = 86400;
    cfg->lim = (struct serve_limits){ .max_cpus = 32, .max_memory_mib = 16384,
                                      .max_disk_size_gb = 100 };
    cfg->log = stderr;
    const char *scopes = NULL;
    long long v;
    for (int i = 0; i < a->nopts; i++) {
        const char *val = a->opts[i].value;
        switch (a->opts[i].id) {
        case FL_LISTEN: cfg->listen = val; break;
        case FL_CREDENTIALS: cfg->credentials = val; break;
        case FL_TLS_CERT: cfg->tls_cert = val; break;
        case FL_TLS_KEY: cfg->tls_key = val; break;
        case FL_INSECURE: cfg->insecure = true; break;
        case FL_REGISTRY_CREDENTIALS: cfg->registry_credentials = true; break;
        case FL_ROOTFS_DIR: cfg->lim.rootfs_dir = val; break;
        case FL_SCOPES: scopes = val; break;
        case FL_TOKEN_TTL:
            if (cli_parse_ll(val, 0, 86400 * 30, &v))
                return cli_usage_error("--token-ttl: seconds, 0 to 2592000");
            cfg->token_ttl_s = (unsigned)v;
            break;
        case FL_RATE:
            if (cli_parse_ll(val, 0, 1000000, &v))
                return cli_usage_error("--rate: requests per second, 0 (no limit) to 1000000");
            cfg->rate = (unsigned)v;
            break;
        case FL_MAX_BOXES:
            if (cli_parse_ll(val, 1, 100000, &v))
                return cli_usage_error("--max-boxes: 1 to 100000");
            cfg->max_boxes = (int)v;
            break;
        case FL_MAX_FILE_BYTES:
            if (cli_parse_ll(val, 1024, 1ll << 40, &v))
                return cli_usage_error("--max-file-bytes: 1024 to 1099511627776");
            cfg->max_file = (unsigned long long)v;
            break;
        }
    }
    if (a->nops > 0) {
        if (strcmp(a->ops[0], "credentials"))
            return cli_usage_error("serve: unknown operand \"%s\" (credentials add|rm)",
                                   a->ops[0]);
        return credentials(a, scopes);
    }
    if (scopes)
        return cli_usage_error("serve: --scopes goes with credentials add");
    if (!cfg->credentials)
        return cli_usage_error("serve: --credentials FILE is required (boxlite serve "
                               "credentials add FILE CLIENT_ID PREFIX makes one)");
    cfg->runtime_options = cli_runtime_options(c);
    /* every thread the server starts inherits this mask: the signals come to sigwait */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct bl_error err = {0};
    if (serve_start(&s, &err)) {
        fprintf(stderr, "boxlite: serve: %s\n", err.msg);
        serve_stop(&s);
        free((char *)cfg->runtime_options);
        return 125;
    }
    bool tls = cfg->tls_cert != NULL;
    char host[80];
    snprintf(host, sizeof host, "%s", cfg->listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = 0;
    printf("serve: listening on %s://%s:%u\n", tls ? "https" : "http", host, s.port);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "serve: %s: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    serve_stop(&s);
    free((char *)cfg->runtime_options);
    fprintf(stderr, "serve: stopped\n");
    return 0;
}
