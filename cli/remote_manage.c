// SPDX-License-Identifier: Apache-2.0
/* boxlite --url: the management verbs (create, kill, wait, restart, rename, port, pause,
 * resume, fork, prune, snapshot, clone, pull, images, rmi, image prune, reclaim, balloon)
 * against a remote `boxlite serve`, through BoxLite's REST API where it has the operation
 * (snapshots, clone, images) and the server's documented extensions where it has not
 * (docs/api.yaml, x-boxlite-extension). Same flags, output and exit statuses as the local
 * verbs: the printing is theirs (cli_port_show, cli_images_print, ...), fed with the API's
 * records turned into the library's shape. A flag the server cannot honour is refused
 * (125) before anything is done. */
#include "remote.h"

#include "common/signame.h"
#include "image/ref.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *const verbs[] = { "create", "kill", "wait", "restart", "rename", "port",
                                     "pause", "resume", "fork", "prune", "snapshot", "clone",
                                     "pull", "images", "rmi", "image prune", "reclaim",
                                     "balloon", NULL };

bool cli_remote_manages(const char *verb)
{
    for (size_t i = 0; verbs[i]; i++)
        if (!strcmp(verbs[i], verb))
            return true;
    return false;
}

/* "boxlite: VERB BOX: message" for one box of many; 1 so callers can OR it. */
static int box_failed(const char *verb, const char *box, const struct bl_error *e)
{
    fprintf(stderr, "boxlite: %s %s: %s\n", verb, box, e->msg);
    return 1;
}

/* ---- create ------------------------------------------------------------------------------ */

/* The flags of create the API carries (CreateBoxRequest); the others are refused. */
static bool create_flag_ok(int id)
{
    static const int ok[] = { FL_NAME, FL_ENV, FL_ENV_FILE, FL_LABEL, FL_WORKDIR, FL_USER,
                              FL_PUBLISH, FL_CPUS, FL_MEMORY, FL_DISK_SIZE, FL_NETWORK,
                              FL_NO_NETWORK, FL_ENTRYPOINT, FL_RM, FL_INTERACTIVE, FL_TTY, 0 };
    for (size_t i = 0; ok[i]; i++)
        if (ok[i] == id)
            return true;
    return false;
}

static bool flag_given(const struct cli_args *a, int id)
{
    for (int i = 0; i < a->nopts; i++)
        if (a->opts[i].id == id)
            return true;
    return false;
}

/* The library's options JSON for a's flags, parsed as the local verb parses them (one
 * parser for -p, -e, -m, ...); NULL with *status set when one is malformed. */
static json_t *lib_options(const struct cli_args *a, struct box_flags *f, int *status)
{
    boxlite_options *o = NULL;
    char *text = NULL;
    if (boxlite_options_new(&o) != BOXLITE_OK) {
        *status = cli_fail(a->verb->name);
        return NULL;
    }
    *status = cli_apply_box_flags(a, o, f);
    if (!*status && boxlite_options_to_json(o, &text) != BOXLITE_OK)
        *status = cli_fail(a->verb->name);
    boxlite_options_free(o);
    json_t *lib = *status ? NULL : json_loads(text, 0, NULL);
    boxlite_free(text);
    if (!*status && !lib)
        *status = cli_usage_error("%s: the options' JSON", a->verb->name);
    return lib;
}

/* The library's published ports (-p) as the API's PortSpec list in req. */
static void set_ports(json_t *req, json_t *lib)
{
    json_t *ports = json_array(), *p;
    size_t i;
    json_array_foreach(json_object_get(lib, "ports"), i, p) {
        json_t *q = json_pack("{s:O,s:O,s:O}", "host_port", json_object_get(p, "host_port"),
                              "guest_port", json_object_get(p, "guest_port"), "protocol",
                              json_object_get(p, "protocol"));
        if (q && json_is_string(json_object_get(p, "host_addr")))
            json_object_set(q, "host_ip", json_object_get(p, "host_addr"));
        if (q)
            json_array_append_new(ports, q);
    }
    if (json_array_size(ports))
        json_object_set(req, "ports", ports);
    json_decref(ports);
}

int remote_publish(json_t *req, const struct cli_args *a)
{
    struct box_flags f;
    int status;
    json_t *lib = lib_options(a, &f, &status);
    if (lib)
        set_ports(req, lib);
    json_decref(lib);
    return status;
}

/* The library's options (as the local create builds them) as the API's CreateBoxRequest. */
static json_t *create_request(json_t *lib, const struct cli_args *a, bool rm)
{
    json_t *req = json_object();
    const char *image = a->ops[0];
    if (!strncmp(image, "rootfs:", 7))
        json_object_set_new(req, "rootfs_path", json_string(image + 7));
    else
        json_object_set_new(req, "image", json_string(image));
    const char *name = json_string_value(json_object_get(lib, "name"));
    if (name && *name)
        json_object_set_new(req, "name", json_string(name));
    static const struct { int flag; const char *key; } same[] = {
        { FL_WORKDIR, "working_dir" }, { FL_USER, "user" }, { FL_CPUS, "cpus" },
        { FL_MEMORY, "memory_mib" }, { FL_DISK_SIZE, "disk_size_gb" },
        { FL_ENTRYPOINT, "entrypoint" },
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        if (flag_given(a, same[i].flag) && json_object_get(lib, same[i].key))
            json_object_set(req, same[i].key, json_object_get(lib, same[i].key));
    json_t *env = json_object_get(lib, "env"), *labels = json_object_get(lib, "labels");
    if (json_object_size(env))
        json_object_set(req, "env", env);
    if (json_object_size(labels))
        json_object_set(req, "labels", labels);
    json_t *net = json_object_get(lib, "network");
    if (json_is_false(net) || (json_is_string(net) && !strcmp(json_string_value(net), "none")))
        json_object_set_new(req, "network", json_string("disabled"));
    set_ports(req, lib);
    if (a->nops > 1) {
        json_t *cmd = json_array();
        for (int k = 1; k < a->nops; k++)
            json_array_append_new(cmd, json_string(a->ops[k]));
        json_object_set_new(req, "cmd", cmd);
    }
    /* -i/-t: the main process keeps its stdin open (a terminal) for a later attach */
    if (flag_given(a, FL_INTERACTIVE))
        json_object_set_new(req, "stdin_open", json_true());
    if (flag_given(a, FL_TTY))
        json_object_set_new(req, "tty", json_true());
    /* as locally: kept until removed (started later by another command), unless --rm */
    json_object_set_new(req, "auto_remove", json_boolean(rm));
    json_object_set_new(req, "detach", json_boolean(!rm));
    return req;
}

static int remote_create(struct bl_client *cl, const struct cli_args *a)
{
    for (int i = 0; i < a->nopts; i++)
        if (!create_flag_ok(a->opts[i].id))
            return unsupported_flag(a->verb, a->opts[i].id);
    const char *image = a->ops[0];
    if (image[0] == '/' || image[0] == '.')
        return cli_usage_error("create %s: a host folder cannot be a remote box's root; "
                               "rootfs:NAME names a folder of the server's --rootfs-dir", image);
    struct box_flags f;
    int r;
    json_t *lib = lib_options(a, &f, &r);
    if (!lib)
        return r;
    struct bl_error err = {0};
    json_t *box = NULL;
    json_t *req = create_request(lib, a, f.rm);
    r = client_call(cl, "POST", "/boxes", req, &box, &err);
    json_decref(lib);
    const char *id = json_string_value(json_object_get(box, "box_id"));
    if (r >= 0 && id)
        printf("%s\n", id);
    json_decref(box);
    return r < 0 ? fail_err("create", &err) : id ? 0 : cli_usage_error("create: no box_id");
}

/* ---- one box at a time: kill, pause, resume, restart, wait ------------------------------ */

static int remote_each_box(struct bl_client *cl, const struct cli_args *a)
{
    const char *verb = a->verb->name;
    int sig = SIGKILL;
    long long secs = 10;
    for (int i = 0; i < a->nopts; i++) {
        const char *v = a->opts[i].value;
        if (a->opts[i].id == FL_SIGNAL && (sig = signal_parse(v)) < 0)
            return cli_usage_error("kill -s %s: not a signal name or number (1-64)", v);
        if (a->opts[i].id == FL_TIME && cli_parse_ll(v, 0, 3600, &secs))
            return cli_usage_error("%s -t %s: expected seconds, 0-3600", verb, v);
    }
    int failed = 0, status = 0;
    for (int i = 0; i < a->nops; i++) {
        const char *box = a->ops[i];
        struct bl_error err = {0};
        json_t *ans = NULL;
        int r;
        if (!strcmp(verb, "kill")) {
            r = box_call(cl, "POST", box, "/kill", json_pack("{s:i}", "signal", sig), NULL, &err);
        } else if (!strcmp(verb, "wait")) {
            if ((r = box_call(cl, "POST", box, "/wait", NULL, &ans, &err)) >= 0) {
                status = cli_stop_status(ans);
                printf("%d\n", status);
                fflush(stdout);
                json_decref(ans);
                continue;
            }
            box_failed(verb, box, &err);
            return 125; /* as locally: wait stops at the first box it cannot wait for */
        } else if (!strcmp(verb, "restart")) {
            /* as locally: a box not running is simply started; a paused one is stopped
             * first (its saved memory dropped) */
            r = box_call(cl, "GET", box, NULL, NULL, &ans, &err);
            const char *st = json_string_value(json_object_get(ans, "status"));
            if (r >= 0 && st && (!strcmp(st, "running") || !strcmp(st, "stopping") ||
                                 !strcmp(st, "paused")))
                r = box_call(cl, "POST", box, "/stop",
                             json_pack("{s:I}", "timeout_seconds", (json_int_t)secs), NULL, &err);
            json_decref(ans);
            if (r >= 0)
                r = box_call(cl, "POST", box, "/start", NULL, NULL, &err);
        } else {
            r = box_call(cl, "POST", box, !strcmp(verb, "pause") ? "/pause" : "/resume", NULL,
                         NULL, &err);
        }
        if (r < 0)
            failed |= box_failed(verb, box, &err);
        else
            printf("%s\n", box);
    }
    return failed ? 125 : status;
}

/* ---- rename, port, fork, clone, balloon --------------------------------------------------- */

static int remote_rename(struct bl_client *cl, const struct cli_args *a)
{
    struct bl_error err = {0};
    if (box_call(cl, "POST", a->ops[0], "/rename", json_pack("{s:s}", "name", a->ops[1]), NULL,
                 &err) < 0)
        return fail_err("rename", &err);
    return 0;
}

static int remote_port(struct bl_client *cl, const struct cli_args *a)
{
    int r = cli_port_show(a, NULL);
    if (r)
        return r;
    struct bl_error err = {0};
    json_t *box = NULL;
    if (box_call(cl, "GET", a->ops[0], NULL, NULL, &box, &err) < 0)
        return fail_err("port", &err);
    /* the API's PortSpec names the address host_ip; the library's records host_addr */
    json_t *ports = json_array(), *p;
    size_t i;
    json_array_foreach(json_object_get(box, "ports"), i, p) {
        json_t *q = json_deep_copy(p);
        json_t *ip = json_object_get(q, "host_ip");
        if (json_is_string(ip))
            json_object_set(q, "host_addr", ip);
        json_array_append_new(ports, q);
    }
    r = cli_port_show(a, ports);
    json_decref(ports);
    json_decref(box);
    return r;
}

static int remote_fork(struct bl_client *cl, const struct cli_args *a)
{
    json_t *names = json_array();
    for (int i = 1; i < a->nops; i++)
        json_array_append_new(names, json_string(a->ops[i]));
    struct bl_error err = {0};
    json_t *ans = NULL;
    if (box_call(cl, "POST", a->ops[0], "/fork", json_pack("{s:o}", "names", names), &ans,
                 &err) < 0)
        return fail_err("fork", &err);
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(ans, "boxes"), i, b)
        printf("%s\n", json_string_value(json_object_get(b, "box_id")) ?: "");
    json_decref(ans);
    return 0;
}

static int remote_clone(struct bl_client *cl, const struct cli_args *a)
{
    struct bl_error err = {0};
    json_t *ans = NULL;
    if (box_call(cl, "POST", a->ops[0], "/clone", json_pack("{s:s}", "name", a->ops[1]), &ans,
                 &err) < 0)
        return fail_err("clone", &err);
    printf("%s\n", json_string_value(json_object_get(ans, "box_id")) ?: "");
    json_decref(ans);
    return 0;
}

static int remote_balloon(struct bl_client *cl, const struct cli_args *a)
{
    long long mib = !strcmp(a->ops[1], "none") ? 0 : cli_parse_mib(a->ops[1]);
    if (mib < 0 || mib > 0x7fffffff)
        return cli_usage_error("balloon %s: expected a size (e.g. 128m) or none", a->ops[1]);
    struct bl_error err = {0};
    if (box_call(cl, "POST", a->ops[0], "/balloon",
                 json_pack("{s:I}", "target_mib", (json_int_t)mib), NULL, &err) < 0) {
        box_failed("balloon", a->ops[0], &err);
        return 125;
    }
    printf("%s\n", a->ops[0]);
    return 0;
}

/* ---- the tenant's running boxes (reclaim without BOX) -------------------------------------- */

static json_t *running_boxes(struct bl_client *cl, struct bl_error *err)
{
    json_t *boxes = client_list_all(cl, "/boxes?pageSize=1000&status=running", "boxes", err);
    if (!boxes)
        return NULL;
    json_t *names = json_array(), *b;
    size_t i;
    json_array_foreach(boxes, i, b) {
        json_t *n = json_object_get(b, "name");
        json_array_append(names, json_is_string(n) ? n : json_object_get(b, "box_id"));
    }
    json_decref(boxes);
    return names;
}

static int remote_reclaim(struct bl_client *cl, const struct cli_args *a)
{
    long long idle;
    int r = cli_reclaim_idle(a, &idle);
    if (r)
        return r;
    /* --idle: the server decides each box's idleness, as the library does locally */
    char tail[48];
    snprintf(tail, sizeof tail, idle ? "/reclaim?idle_ms=%lld" : "/reclaim", idle);
    struct bl_error err = {0};
    json_t *boxes = json_array();
    for (int i = 0; i < a->nops; i++)
        json_array_append_new(boxes, json_string(a->ops[i]));
    if (!a->nops) {
        json_decref(boxes);
        if (!(boxes = running_boxes(cl, &err)))
            return fail_err("reclaim", &err);
    }
    int failed = 0;
    size_t i;
    json_t *b;
    json_array_foreach(boxes, i, b) {
        const char *box = json_string_value(b);
        json_t *ans = NULL;
        if (box_call(cl, "POST", box, tail, NULL, &ans, &err) < 0) {
            failed |= box_failed("reclaim", box, &err);
            continue;
        }
        json_object_set_new(ans, "name", json_string(box));
        failed |= cli_print_reclaimed(ans);
        json_decref(ans);
    }
    json_decref(boxes);
    return failed ? 125 : 0;
}

/* ---- snapshot ------------------------------------------------------------------------------ */

static int remote_snapshot(struct bl_client *cl, const struct cli_args *a)
{
    bool as_json = false, ls;
    for (int i = 0; i < a->nopts; i++)
        as_json |= a->opts[i].id == FL_JSON;
    int r = cli_snapshot_action(a, &ls);
    if (r)
        return r;
    const char *action = a->ops[0], *box = a->ops[1];
    char what[64];
    snprintf(what, sizeof what, "snapshot %s", action);
    struct bl_error err = {0};
    if (!strcmp(action, "create")) {
        r = box_call(cl, "POST", box, "/snapshots", json_pack("{s:s}", "name", a->ops[2]), NULL,
                     &err);
        return r < 0 ? fail_err(what, &err) : 0;
    }
    if (!ls) {
        char *name = client_escape(cl, a->ops[2]), *tail = NULL;
        if (!name || asprintf(&tail, "/snapshots/%s%s", name,
                              !strcmp(action, "rm") ? "" : "/restore") < 0)
            tail = NULL;
        free(name);
        r = tail ? box_call(cl, !strcmp(action, "rm") ? "DELETE" : "POST", box, tail, NULL, NULL,
                            &err)
                 : bl_err(&err, BOXLITE_ERR_NOMEM, "out of memory");
        free(tail);
        return r < 0 ? fail_err(what, &err) : 0;
    }
    json_t *ans = NULL;
    if (box_call(cl, "GET", box, "/snapshots", NULL, &ans, &err) < 0)
        return fail_err(what, &err);
    /* the API's Snapshot in the library's shape: name, created (unix seconds), size_bytes */
    json_t *list = json_array(), *s;
    size_t i;
    json_array_foreach(json_object_get(ans, "snapshots"), i, s)
        json_array_append_new(list, json_pack("{s:O,s:O,s:O}", "name", json_object_get(s, "name"),
                                              "created", json_object_get(s, "created_at"),
                                              "size_bytes", json_object_get(s, "size_bytes")));
    json_decref(ans);
    if (as_json) {
        char *t = json_dumps(list, JSON_COMPACT);
        printf("%s\n", t ? t : "[]");
        free(t);
    } else {
        cli_snapshot_print(list);
    }
    json_decref(list);
    return 0;
}

/* ---- images ---------------------------------------------------------------------------------- */

static int show_pull(void *ud, const struct client_pull_event *e)
{
    cli_pull_view_show(ud, e->layer, e->n_layers, e->digest, e->done, e->total);
    return 0;
}

/* pull: the server's layers' progress as events, shown as the local pull shows its own;
 * -q asks for the plain answer. */
static int remote_pull(struct bl_client *cl, const struct cli_args *a)
{
    bool quiet = false;
    for (int i = 0; i < a->nopts; i++) {
        if (a->opts[i].id != FL_QUIET)
            return unsupported_flag(a->verb, a->opts[i].id);
        quiet = true;
    }
    struct bl_error err = {0};
    int r;
    if (quiet) {
        json_t *ans = NULL;
        r = client_call(cl, "POST", "/images/pull", json_pack("{s:s}", "reference", a->ops[0]),
                        &ans, &err);
        json_decref(ans);
    } else {
        struct cli_pull_view *v = cli_pull_view_new();
        r = client_pull(cl, a->ops[0], show_pull, v, &err);
        cli_pull_view_end(v);
    }
    if (r < 0) {
        fprintf(stderr, "boxlite: %s\n", err.msg);
        return 125;
    }
    printf("pulled %s\n", a->ops[0]);
    return 0;
}

/* The tenant's images (every page) in the library's shape (ref, id, size, layers, created). */
static json_t *tenant_images(struct bl_client *cl, struct bl_error *err)
{
    json_t *api = client_list_all(cl, "/images?pageSize=1000", "images", err);
    if (!api)
        return NULL;
    json_t *out = json_array(), *im;
    size_t i;
    json_array_foreach(api, i, im) {
        const char *id = json_string_value(json_object_get(im, "id"));
        if (id && !strncmp(id, "sha256:", 7))
            id += 7;
        json_t *layers = json_object_get(im, "layers");
        json_array_append_new(out, json_pack("{s:O?,s:s,s:O?,s:O?,s:O?}", "ref",
                                             json_object_get(im, "reference"), "id",
                                             id ? id : "", "size",
                                             json_object_get(im, "size_bytes"), "layers",
                                             layers, "created",
                                             json_object_get(im, "cached_at")));
    }
    json_decref(api);
    return out;
}

static int remote_images(struct bl_client *cl, const struct cli_args *a)
{
    int r = cli_images_print(NULL, a);
    if (r)
        return r;
    struct bl_error err = {0};
    json_t *list = tenant_images(cl, &err);
    if (!list)
        return fail_err("images", &err);
    r = cli_images_print(list, a);
    json_decref(list);
    return r;
}

/* The API's key for an image the user names: a reference holds '/' and ':' that a path
 * segment cannot carry, so the tenant's image is named by its id. As the library's remove
 * reads a name: the reference as stored, an id prefix of at least 12 hex digits, then the
 * name's normalised form ("busybox": docker.io/library/busybox:latest). Anything else goes
 * as given (404). */
static char *image_key(const json_t *list, const char *name)
{
    size_t i, n = strlen(name);
    json_t *im;
    struct image_ref pr;
    struct bl_error perr = {0};
    char *norm = image_ref_parse(&pr, name, &perr) == 0 ? image_ref_string(&pr) : NULL;
    if (!perr.code)
        image_ref_free(&pr);
    const char *id = NULL;
    for (int pass = 0; pass < 2 && !id; pass++)
        json_array_foreach(list, i, im) {
            const char *ref = json_string_value(json_object_get(im, "ref"));
            const char *iid = json_string_value(json_object_get(im, "id"));
            bool hit = pass == 0 ? (ref && !strcmp(ref, name)) || (n >= 12 && iid &&
                                                                   !strncmp(iid, name, n))
                                 : ref && norm && !strcmp(ref, norm);
            if (iid && hit) {
                id = iid;
                break;
            }
        }
    free(norm);
    return strdup(id ? id : name);
}

static int remove_image(struct bl_client *cl, const char *key, bool force,
                        struct bl_error *err)
{
    char *e = client_escape(cl, key), *path = NULL;
    if (!e || asprintf(&path, "/images/%s?force=%s", e, force ? "true" : "false") < 0)
        path = NULL;
    free(e);
    int r = path ? client_call(cl, "DELETE", path, NULL, NULL, err)
                 : bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    free(path);
    return r;
}

static int remote_rmi(struct bl_client *cl, const struct cli_args *a)
{
    bool force = flag_given(a, FL_FORCE);
    int failed = 0;
    struct bl_error err = {0};
    json_t *list = tenant_images(cl, &err);
    if (!list)
        return fail_err("rmi", &err);
    for (int i = 0; i < a->nops; i++) {
        char *key = image_key(list, a->ops[i]);
        int r = key ? remove_image(cl, key, force, &err)
                    : bl_err(&err, BOXLITE_ERR_NOMEM, "out of memory");
        free(key);
        if (r < 0) {
            fprintf(stderr, "boxlite: %s\n", err.msg);
            failed = 1;
        } else {
            printf("removed %s\n", a->ops[i]);
        }
    }
    json_decref(list);
    return failed ? 125 : 0;
}

/* prune and image prune: the server removes (the tenant's own boxes or images only) and
 * answers what it removed. */
static int remote_prune(struct bl_client *cl, const struct cli_args *a, bool images)
{
    if (!flag_given(a, FL_FORCE) &&
        !cli_confirm(images ? "WARNING! This will remove all images no box uses.\nAre you "
                              "sure you want to continue?"
                            : "WARNING! This will remove all stopped boxes.\nAre you sure you "
                              "want to continue?"))
        return 0;
    struct bl_error err = {0};
    json_t *ans = NULL;
    if (client_call(cl, "POST", images ? "/images/prune" : "/boxes/prune", NULL, &ans,
                    &err) < 0)
        return fail_err(images ? "image prune" : "prune", &err);
    json_t *removed = json_object_get(ans, "removed"), *it;
    size_t i, n = json_array_size(removed);
    json_array_foreach(removed, i, it)
        printf(images ? "removed %s\n" : "%s\n", json_string_value(it) ?: "");
    json_decref(ans);
    if (images)
        fprintf(stderr, "Removed %zu image%s\n", n, n == 1 ? "" : "s");
    else
        fprintf(stderr, "Removed %zu box%s\n", n, n == 1 ? "" : "es");
    return 0;
}

int cli_remote_manage(struct bl_client *cl, const struct cli_args *a)
{
    const char *v = a->verb->name;
    if (!strcmp(v, "create"))
        return remote_create(cl, a);
    if (!strcmp(v, "kill") || !strcmp(v, "wait") || !strcmp(v, "restart") ||
        !strcmp(v, "pause") || !strcmp(v, "resume"))
        return remote_each_box(cl, a);
    if (!strcmp(v, "rename"))
        return remote_rename(cl, a);
    if (!strcmp(v, "port"))
        return remote_port(cl, a);
    if (!strcmp(v, "fork"))
        return remote_fork(cl, a);
    if (!strcmp(v, "clone"))
        return remote_clone(cl, a);
    if (!strcmp(v, "balloon"))
        return remote_balloon(cl, a);
    if (!strcmp(v, "reclaim"))
        return remote_reclaim(cl, a);
    if (!strcmp(v, "snapshot"))
        return remote_snapshot(cl, a);
    if (!strcmp(v, "pull"))
        return remote_pull(cl, a);
    if (!strcmp(v, "images"))
        return remote_images(cl, a);
    if (!strcmp(v, "rmi"))
        return remote_rmi(cl, a);
    return remote_prune(cl, a, !strcmp(v, "image prune"));
}
