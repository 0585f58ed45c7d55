// SPDX-License-Identifier: Apache-2.0
/* The API's paths (docs/api.yaml "paths"): a request path to a route and its parameters,
 * the methods each route takes and the OAuth2 scope each needs. Pure: no I/O. */
#include "serve/serve.h"

#include <string.h>

bool serve_valid_prefix(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SERVE_SEG_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

/* A path parameter: 1-128 bytes of printable ASCII (no controls, no space). */
static bool valid_param(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SERVE_SEG_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

#define MAX_SEGS 8

int serve_route_parse(const char *path, struct serve_route *r)
{
    memset(r, 0, sizeof *r);
    if (!path || strncmp(path, "/v1/", 4) != 0)
        return -1;
    /* split into at most MAX_SEGS non-empty segments; a trailing slash is tolerated */
    char buf[1024];
    size_t len = strlen(path + 4);
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, path + 4, len + 1);
    if (len && buf[len - 1] == '/')
        buf[--len] = 0;
    const char *s[MAX_SEGS];
    int n = 0;
    char *p = buf;
    while (1) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = 0;
        if (!*p || n == MAX_SEGS)
            return -1;
        s[n++] = p;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (n == 1 && !strcmp(s[0], "config")) {
        r->id = R_CONFIG;
        return 0;
    }
    if (n == 2 && !strcmp(s[0], "oauth") && !strcmp(s[1], "tokens")) {
        r->id = R_TOKENS;
        return 0;
    }
    if (n < 2 || !serve_valid_prefix(s[0]))
        return -1;
    strcpy(r->prefix, s[0]);
    const char *kind = s[1];
    if (!strcmp(kind, "metrics")) {
        r->id = n == 2 ? R_METRICS : R_NONE;
    } else if (!strcmp(kind, "host")) {
        r->id = n == 2 ? R_HOST : R_NONE;
    } else if (!strcmp(kind, "images")) {
        if (n == 2)
            r->id = R_IMAGES;
        else if (n == 3 && !strcmp(s[2], "pull"))
            r->id = R_IMAGES_PULL;
        else if (n == 3 && !strcmp(s[2], "prune"))
            r->id = R_IMAGES_PRUNE;
        else if (n == 3 && valid_param(s[2])) {
            r->id = R_IMAGE;
            strcpy(r->sub, s[2]);
        }
    } else if (!strcmp(kind, "boxes")) {
        if (n == 2) {
            r->id = R_BOXES;
            return 0;
        }
        if (n == 3 && (!strcmp(s[2], "import") || !strcmp(s[2], "prune"))) {
            r->id = s[2][0] == 'i' ? R_BOXES_IMPORT : R_BOXES_PRUNE;
            return 0;
        }
        if (!valid_param(s[2]))
            return -1;
        strcpy(r->box, s[2]);
        if (n == 3) {
            r->id = R_BOX;
            return 0;
        }
        const char *a = s[3];
        if (n == 4) {
            static const struct { const char *name; enum serve_route_id id; } leaf[] = {
                { "start", R_BOX_START },     { "stop", R_BOX_STOP },
                { "exec", R_BOX_EXEC },       { "files", R_BOX_FILES },
                { "metrics", R_BOX_METRICS }, { "snapshots", R_BOX_SNAPSHOTS },
                { "clone", R_BOX_CLONE },     { "export", R_BOX_EXPORT },
                { "kill", R_BOX_KILL },       { "wait", R_BOX_WAIT },
                { "rename", R_BOX_RENAME },   { "pause", R_BOX_PAUSE },
                { "resume", R_BOX_RESUME },   { "fork", R_BOX_FORK },
                { "reclaim", R_BOX_RECLAIM }, { "balloon", R_BOX_BALLOON },
                { "logs", R_BOX_LOGS },       { "stdin", R_BOX_STDIN },
            };
            for (size_t i = 0; i < sizeof leaf / sizeof leaf[0]; i++)
                if (!strcmp(a, leaf[i].name))
                    r->id = leaf[i].id;
        } else if (n == 5 && !strcmp(a, "exec") && !strcmp(s[4], "tty")) {
            r->id = R_BOX_TTY;
        } else if (!strcmp(a, "snapshots") && valid_param(s[4])) {
            strcpy(r->sub, s[4]);
            if (n == 5)
                r->id = R_SNAPSHOT;
            else if (n == 6 && !strcmp(s[5], "restore"))
                r->id = R_SNAPSHOT_RESTORE;
        } else if (!strcmp(a, "executions") && valid_param(s[4])) {
            strcpy(r->sub, s[4]);
            if (n == 5)
                r->id = R_EXECUTION;
            else if (n == 6 && !strcmp(s[5], "output"))
                r->id = R_EXEC_OUTPUT;
            else if (n == 6 && !strcmp(s[5], "input"))
                r->id = R_EXEC_INPUT;
            else if (n == 6 && !strcmp(s[5], "signal"))
                r->id = R_EXEC_SIGNAL;
            else if (n == 6 && !strcmp(s[5], "resize"))
                r->id = R_EXEC_RESIZE;
        }
    }
    return r->id == R_NONE ? -1 : 0;
}

static const struct {
    enum serve_route_id id;
    const char *methods;
    const char *read_scope;  /* GET, HEAD */
    const char *write_scope; /* the others */
} routes[] = {
    { R_CONFIG, "GET", NULL, NULL },
    { R_TOKENS, "POST", NULL, NULL },
    { R_BOXES, "GET, POST", "boxes:read", "boxes:write" },
    { R_BOXES_IMPORT, "POST", NULL, "boxes:write" },
    { R_BOX, "GET, HEAD, DELETE", "boxes:read", "boxes:write" },
    { R_BOX_START, "POST", NULL, "boxes:write" },
    { R_BOX_STOP, "POST", NULL, "boxes:write" },
    { R_BOX_EXEC, "POST", NULL, "boxes:exec" },
    { R_BOX_TTY, "GET", "boxes:exec", NULL },
    { R_BOX_FILES, "GET, PUT", "boxes:exec", "boxes:exec" },
    { R_BOX_METRICS, "GET", "boxes:read", NULL },
    { R_BOX_SNAPSHOTS, "GET, POST", "boxes:read", "boxes:write" },
    { R_SNAPSHOT, "GET, DELETE", "boxes:read", "boxes:write" },
    { R_SNAPSHOT_RESTORE, "POST", NULL, "boxes:write" },
    { R_BOX_CLONE, "POST", NULL, "boxes:write" },
    { R_BOX_EXPORT, "POST", NULL, "boxes:write" },
    { R_EXECUTION, "GET", "boxes:exec", NULL },
    { R_EXEC_OUTPUT, "GET", "boxes:exec", NULL },
    { R_EXEC_INPUT, "POST", NULL, "boxes:exec" },
    { R_EXEC_SIGNAL, "POST", NULL, "boxes:exec" },
    { R_EXEC_RESIZE, "POST", NULL, "boxes:exec" },
    { R_METRICS, "GET", "runtime:admin", NULL },
    { R_HOST, "GET", "runtime:admin", NULL },
    { R_IMAGES, "GET", "images:read", NULL },
    { R_IMAGES_PULL, "POST", NULL, "images:write" },
    { R_IMAGE, "GET, HEAD, DELETE", "images:read", "images:write" },
    { R_BOX_KILL, "POST", NULL, "boxes:write" },
    { R_BOX_WAIT, "POST", NULL, "boxes:read" }, /* a POST that changes nothing, as Docker's */
    { R_BOX_RENAME, "POST", NULL, "boxes:write" },
    { R_BOX_PAUSE, "POST", NULL, "boxes:write" },
    { R_BOX_RESUME, "POST", NULL, "boxes:write" },
    { R_BOX_FORK, "POST", NULL, "boxes:write" },
    { R_BOX_RECLAIM, "POST", NULL, "boxes:write" },
    { R_BOX_BALLOON, "POST", NULL, "boxes:write" },
    { R_BOXES_PRUNE, "POST", NULL, "boxes:write" },
    { R_IMAGES_PRUNE, "POST", NULL, "images:write" },
    { R_BOX_LOGS, "GET", "boxes:exec", NULL },
    { R_BOX_STDIN, "POST", NULL, "boxes:exec" },
};

const char *serve_route_methods(enum serve_route_id id)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (routes[i].id == id)
            return routes[i].methods;
    return "";
}

const char *serve_route_scope(enum serve_route_id id, const char *method)
{
    bool read = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (routes[i].id == id)
            return read ? routes[i].read_scope : routes[i].write_scope;
    return NULL;
}
