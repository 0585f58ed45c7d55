// SPDX-License-Identifier: Apache-2.0
/* Verbs on box records: create, start, stop, rm, ps/ls, inspect, version. */
#include "cli.h"

#include "common/signame.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_version(struct cli *c, const struct cli_args *a)
{
    (void)c; (void)a;
    printf("boxlite %s\n", boxlite_version());
    return 0;
}

int cmd_create(struct cli *c, const struct cli_args *a)
{
    boxlite_options *o = NULL;
    struct box_flags f;
    int next = 0, argc = a->nops, r;
    char **argv = a->ops;
    if (boxlite_options_new(&o) != BOXLITE_OK)
        return cli_fail("create");
    /* A created box is kept until removed: auto_remove only with --rm. */
    boxlite_options_set_auto_remove(o, 0);
    r = cli_apply_box_flags(a, o, &f);
    if (!r && f.restart && f.rm)
        r = cli_usage_error("create: --restart and --rm exclude each other");
    if (!r) {
        /* A created box is started later by another command (`boxlite start`), so it must
         * not die with that command: detached, unless --rm asks for the opposite. */
        boxlite_options_set_auto_remove(o, f.rm);
        boxlite_options_set_detach(o, !f.rm);
        if (argv[next][0] == '/' || argv[next][0] == '.')
            boxlite_options_set_rootfs_path(o, argv[next]);
        else
            boxlite_options_set_image(o, argv[next]);
        /* As with docker create: a command (or --entrypoint) is the box's main process. */
        const char *ep[] = { f.entrypoint, NULL };
        const char *none[] = { NULL };
        if (next + 1 < argc && boxlite_options_set_cmd(o, (const char *const *)argv + next + 1) != BOXLITE_OK)
            r = cli_fail("create");
        if (!r && f.entrypoint &&
            boxlite_options_set_entrypoint(o, f.entrypoint[0] ? ep : none) != BOXLITE_OK)
            r = cli_fail("create");
        /* -i: the main process's stdin stays open for `attach` */
        if (!r && f.interactive && boxlite_options_set_stdin_open(o, 1) != BOXLITE_OK)
            r = cli_fail("create");
        /* -t: it runs on a terminal (attach bridges ours to it) */
        if (!r && f.tty && boxlite_options_set_tty(o, 1) != BOXLITE_OK)
            r = cli_fail("create");
    }
    boxlite_box *b = NULL;
    if (!r && !(r = cli_open(c)) && boxlite_box_create(c->rt, o, &b) != BOXLITE_OK)
        r = cli_fail("create");
    if (!r)
        printf("%s\n", boxlite_box_id(b));
    boxlite_box_free(b);
    boxlite_options_free(o);
    return r;
}

/* Runs fn on each box named in the operands; the status is 125 if any failed. */
static int each_box(struct cli *c, const struct cli_args *a, const char *verb,
                    int (*fn)(struct cli *c, const char *key))
{
    int r = cli_open(c), failed = 0;
    if (r)
        return r;
    for (int i = 0; i < a->nops; i++) {
        if (fn(c, a->ops[i]) != BOXLITE_OK) {
            fprintf(stderr, "boxlite: %s %s: %s\n", verb, a->ops[i], boxlite_errmsg());
            failed = 1;
        } else {
            printf("%s\n", a->ops[i]);
        }
    }
    return failed ? 125 : 0;
}

static int do_start(struct cli *c, const char *key)
{
    boxlite_box *b = NULL;
    int r = boxlite_box_get(c->rt, key, &b);
    if (r == BOXLITE_OK && (r = boxlite_box_start(b)) == BOXLITE_OK) {
        cli_print_notice(b);
    }
    boxlite_box_free(b);
    return r;
}

int cmd_start(struct cli *c, const struct cli_args *a)
{
    return each_box(c, a, "start", do_start);
}

static int stop_timeout_ms = 10000;
static int do_stop(struct cli *c, const char *key)
{
    boxlite_box *b = NULL;
    int r = boxlite_box_get(c->rt, key, &b);
    if (r == BOXLITE_OK)
        r = boxlite_box_stop(b, stop_timeout_ms);
    boxlite_box_free(b);
    return r;
}

int cmd_stop(struct cli *c, const struct cli_args *a)
{
    for (int i = 0; i < a->nopts; i++) {
        long long secs;
        if (a->opts[i].id != FL_TIME)
            continue;
        if (cli_parse_ll(a->opts[i].value, 0, 3600, &secs))
            return cli_usage_error("stop -t %s: expected seconds, 0-3600", a->opts[i].value);
        stop_timeout_ms = (int)secs * 1000;
    }
    return each_box(c, a, "stop", do_stop);
}

static int kill_signal = SIGKILL;
static int do_kill(struct cli *c, const char *key)
{
    boxlite_box *b = NULL;
    int r = boxlite_box_get(c->rt, key, &b);
    if (r == BOXLITE_OK)
        r = boxlite_box_kill(b, kill_signal);
    boxlite_box_free(b);
    return r;
}

int cmd_kill(struct cli *c, const struct cli_args *a)
{
    for (int i = 0; i < a->nopts; i++)
        if (a->opts[i].id == FL_SIGNAL && (kill_signal = signal_parse(a->opts[i].value)) < 0)
            return cli_usage_error("kill -s %s: not a signal name or number (1-64)",
                                   a->opts[i].value);
    return each_box(c, a, "kill", do_kill);
}

static int rm_force;
static int do_rm(struct cli *c, const char *key) { return boxlite_box_remove(c->rt, key, rm_force); }

int cmd_rm(struct cli *c, const struct cli_args *a)
{
    bool all = false;
    for (int i = 0; i < a->nopts; i++) {
        if (a->opts[i].id == FL_FORCE)
            rm_force = 1;
        all |= a->opts[i].id == FL_ALL;
    }
    if (all) {
        if (a->nops)
            return cli_usage_error("rm: -a removes every stopped box; name no box with it");
        unsigned n;
        int r = cli_open(c);
        return r ? r : cli_remove_all(c, rm_force, &n);
    }
    if (!a->nops)
        return cli_usage_error("rm: name at least one box (or -a); see 'boxlite rm --help'");
    return each_box(c, a, "rm", do_rm);
}

static const char *ago(long long created, char *buf, size_t len)
{
    long long d = (long long)time(NULL) - created;
    if (d < 60)
        snprintf(buf, len, "%llds ago", d < 0 ? 0 : d);
    else if (d < 3600)
        snprintf(buf, len, "%lldm ago", d / 60);
    else if (d < 86400)
        snprintf(buf, len, "%lldh ago", d / 3600);
    else
        snprintf(buf, len, "%lldd ago", d / 86400);
    return buf;
}

/* "127.0.0.1:8080->80/tcp, ..." */
static void ports_text(json_t *ports, char *out, size_t len)
{
    size_t k, off = 0;
    json_t *p;
    out[0] = 0;
    json_array_foreach(ports, k, p) {
        const char *addr = json_string_value(json_object_get(p, "host_addr"));
        bool v6 = addr && strchr(addr, ':'); /* [::1]:8080, as Docker writes it */
        off += (size_t)snprintf(out + off, off < len ? len - off : 0, "%s%s%s%s:%lld->%lld/%s",
                                k ? ", " : "", v6 ? "[" : "", addr ? addr : "", v6 ? "]" : "",
                                json_integer_value(json_object_get(p, "host_port")),
                                json_integer_value(json_object_get(p, "guest_port")),
                                json_string_value(json_object_get(p, "protocol")));
        if (off >= len)
            break;
    }
}

/* A row of ps, the fields its --format documents (verbs.c). */
static json_t *ps_row(json_t *b, bool no_trunc)
{
    const char *id = json_string_value(json_object_get(b, "id"));
    const char *status = json_string_value(json_object_get(b, "status"));
    char when[32], ports[512], at[64], id12[13], cmd[600] = "", labels[2048] = "";
    snprintf(id12, sizeof id12, "%.12s", id ? id : "");
    ports_text(json_object_get(b, "ports"), ports, sizeof ports);
    time_t created = (time_t)json_integer_value(json_object_get(b, "created"));
    struct tm tm;
    gmtime_r(&created, &tm);
    strftime(at, sizeof at, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
    size_t i, off = 0;
    json_t *v;
    json_array_foreach(json_object_get(b, "cmd"), i, v)
        off += (size_t)snprintf(cmd + off, off < sizeof cmd ? sizeof cmd - off : 0, "%s%s",
                                i ? " " : "", json_string_value(v));
    if (!no_trunc && strlen(cmd) > 20)
        strcpy(cmd + 17, "...");
    cli_labels_text(json_object_get(b, "labels"), labels, sizeof labels);
    json_t *row = json_object();
    json_object_set_new(row, "ID", json_string(no_trunc ? id : id12));
    json_object_set(row, "Name", json_object_get(b, "name"));
    json_object_set_new(row, "Image", json_string(json_string_value(json_object_get(b, "image")) ?: ""));
    json_object_set_new(row, "Command", json_string(cmd));
    json_object_set(row, "Created", json_object_get(b, "created"));
    json_object_set_new(row, "CreatedAt", json_string(at));
    json_object_set_new(row, "RunningFor", json_string(ago(created, when, sizeof when)));
    json_object_set(row, "State", json_object_get(b, "state"));
    json_object_set_new(row, "Status", json_string(status ? status : ""));
    json_object_set_new(row, "Ports", json_string(ports));
    json_object_set_new(row, "Labels", json_string(labels));
    json_object_set(row, "Engine", json_object_get(b, "engine"));
    json_t *ec = json_object_get(b, "exit_code");
    json_object_set(row, "ExitCode", ec ? ec : json_null());
    return row;
}

/* --filter KEY=VALUE, Docker's: the same key given twice matches either value, different
 * keys must all match. id: a prefix; name: a substring; state (status): the state, with
 * Docker's "exited" and "created" read as stopped and configured; label: KEY or KEY=VALUE. */
struct filters { const char *v[64]; int n; bool any_state; };

static int filter_add(struct filters *f, const char *spec)
{
    static const char *const keys[] = { "id", "name", "state", "status", "label" };
    const char *eq = strchr(spec, '=');
    size_t kl = eq ? (size_t)(eq - spec) : 0;
    bool known = false;
    for (size_t i = 0; eq && i < sizeof keys / sizeof keys[0]; i++)
        known |= strlen(keys[i]) == kl && !strncmp(spec, keys[i], kl);
    if (!known || !eq[1])
        return cli_usage_error("--filter %s: expected id=, name=, state=, status= or label= "
                               "with a value", spec);
    if (f->n == 64)
        return cli_usage_error("--filter: at most 64");
    if (!strncmp(spec, "state=", 6) || !strncmp(spec, "status=", 7))
        f->any_state = true;
    f->v[f->n++] = spec;
    return 0;
}

static bool filter_one(json_t *b, const char *spec)
{
    const char *val = strchr(spec, '=') + 1;
    if (!strncmp(spec, "id=", 3)) {
        const char *id = json_string_value(json_object_get(b, "id"));
        return id && !strncmp(id, val, strlen(val));
    }
    if (!strncmp(spec, "name=", 5)) {
        const char *name = json_string_value(json_object_get(b, "name"));
        return name && strstr(name, val);
    }
    if (!strncmp(spec, "state=", 6) || !strncmp(spec, "status=", 7)) {
        const char *st = json_string_value(json_object_get(b, "state"));
        if (!strcmp(val, "exited"))
            val = "stopped";
        else if (!strcmp(val, "created"))
            val = "configured";
        return st && !strcmp(st, val);
    }
    /* label=KEY or label=KEY=VALUE */
    json_t *labels = json_object_get(b, "labels");
    const char *eq = strchr(val, '=');
    char key[512];
    snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - val) : (int)strlen(val), val);
    json_t *lv = json_object_get(labels, key);
    return lv && (!eq || !strcmp(json_string_value(lv), eq + 1));
}

static bool filters_match(const struct filters *f, json_t *b)
{
    for (int i = 0; i < f->n; i++) {
        size_t kl = strcspn(f->v[i], "=");
        bool any = false, seen_before = false;
        for (int k = 0; k < i; k++)
            seen_before |= strncmp(f->v[k], f->v[i], kl + 1) == 0;
        if (seen_before)
            continue; /* this key was judged with all its values already */
        for (int k = i; k < f->n; k++)
            if (!strncmp(f->v[k], f->v[i], kl + 1) && filter_one(b, f->v[k]))
                any = true;
        if (!any)
            return false;
    }
    return true;
}

int cmd_ps(struct cli *c, const struct cli_args *a)
{
    bool all = false, as_json = false, quiet = false, no_trunc = false;
    const char *format = NULL;
    struct filters flt = { .n = 0 };
    int r;
    for (int i = 0; i < a->nopts; i++) {
        switch (a->opts[i].id) {
        case FL_ALL: all = true; break;
        case FL_JSON: as_json = true; break;
        case FL_QUIET: quiet = true; break;
        case FL_NO_TRUNC: no_trunc = true; break;
        case FL_FORMAT: format = a->opts[i].value; break;
        case FL_FILTER:
            if ((r = filter_add(&flt, a->opts[i].value)))
                return r;
            break;
        }
    }
    struct cli_format fmt;
    if ((r = cli_format_parse(format, &fmt)))
        return r;
    if ((r = cli_open(c)))
        return r;
    char *list = NULL;
    /* a filter on the state looks at every box, as Docker's does */
    if (boxlite_box_list(c->rt, all || flt.any_state ? NULL : "running", &list) != BOXLITE_OK)
        return cli_fail("ps");
    json_t *arr = json_loads(list, 0, NULL);
    if (as_json && !flt.n) { /* the library's own records, whole */
        printf("%s\n", list);
        boxlite_free(list);
        json_decref(arr);
        return 0;
    }
    boxlite_free(list);
    json_t *kept = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b)
        if (filters_match(&flt, b))
            json_array_append(kept, b);
    json_decref(arr);
    if (as_json) {
        char *s = json_dumps(kept, JSON_COMPACT);
        printf("%s\n", s ? s : "[]");
        free(s);
        json_decref(kept);
        return 0;
    }
    if (fmt.kind == FMT_TABLE) {
        fmt.kind = FMT_TEMPLATE;
        fmt.header = true;
        fmt.tmpl = "{{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}";
    }
    struct cli_table t = { 0 };
    if (fmt.header && !quiet)
        cli_table_add(&t, cli_format_header(&fmt));
    json_array_foreach(kept, i, b) {
        json_t *row = ps_row(b, no_trunc);
        if (quiet)
            cli_table_add(&t, strdup(json_string_value(json_object_get(row, "ID"))));
        else
            cli_table_add(&t, cli_format_row(&fmt, row));
        json_decref(row);
    }
    json_decref(kept);
    cli_table_print(&t, stdout, fmt.header && !quiet);
    return 0;
}

int cmd_inspect(struct cli *c, const struct cli_args *a)
{
    int argc = a->nops;
    char **argv = a->ops;
    const char *format = NULL;
    for (int i = 0; i < a->nopts; i++)
        if (a->opts[i].id == FL_FORMAT)
            format = a->opts[i].value;
    struct cli_format fmt;
    int r = format ? cli_format_parse(format, &fmt) : 0, failed = 0;
    if (r || (r = cli_open(c)))
        return r;
    json_t *out = json_array();
    for (int i = 0; i < argc; i++) {
        boxlite_box *b = NULL;
        char *info = NULL;
        if (boxlite_box_get(c->rt, argv[i], &b) != BOXLITE_OK ||
            boxlite_box_info(b, &info) != BOXLITE_OK) {
            fprintf(stderr, "boxlite: inspect %s: %s\n", argv[i], boxlite_errmsg());
            failed = 1;
        } else if (format && fmt.kind != FMT_TABLE) {
            /* --format: one line per box, the template over its info (Docker's inspect -f) */
            json_t *j = json_loads(info, 0, NULL);
            char *line = cli_format_row(&fmt, j);
            printf("%s\n", line ? line : "");
            free(line);
            json_decref(j);
        } else {
            json_array_append_new(out, json_loads(info, 0, NULL));
        }
        boxlite_free(info);
        boxlite_box_free(b);
    }
    if (!format || fmt.kind == FMT_TABLE) {
        char *s = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", s ? s : "[]");
        free(s);
    }
    json_decref(out);
    return failed ? 125 : 0;
}
