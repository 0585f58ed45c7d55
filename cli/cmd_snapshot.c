// SPDX-License-Identifier: Apache-2.0
/* The disk history verbs: snapshot (create, ls, restore, rm), clone, export, import. Each
 * works through the public API only (include/boxlite.h, "Disk snapshots"). */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static boxlite_box *get_box(struct cli *c, const char *key)
{
    boxlite_box *b = NULL;
    if (boxlite_box_get(c->rt, key, &b) != BOXLITE_OK) {
        cli_fail(key);
        return NULL;
    }
    return b;
}

static void print_size(unsigned long long n)
{
    if (n >= 10ull << 20)
        printf("%llu MiB", n >> 20);
    else if (n >= 10ull << 10)
        printf("%llu KiB", n >> 10);
    else
        printf("%llu B", n);
}

void cli_snapshot_print(json_t *a)
{
    printf("%-24s %-20s %s\n", "NAME", "CREATED", "SIZE");
    size_t i;
    json_t *it;
    json_array_foreach(a, i, it) {
        time_t t = (time_t)json_integer_value(json_object_get(it, "created"));
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
        printf("%-24s %-20s ", json_string_value(json_object_get(it, "name")), when);
        print_size((unsigned long long)json_integer_value(json_object_get(it, "size_bytes")));
        printf("\n");
    }
}

static int snapshot_ls(boxlite_box *b, bool as_json)
{
    char *s = NULL;
    if (boxlite_snapshot_list(b, &s) != BOXLITE_OK)
        return cli_fail("snapshot ls");
    if (as_json) {
        printf("%s\n", s);
        boxlite_free(s);
        return 0;
    }
    json_t *a = json_loads(s, 0, NULL);
    boxlite_free(s);
    cli_snapshot_print(a);
    json_decref(a);
    return 0;
}

int cli_snapshot_action(const struct cli_args *a, bool *ls_out)
{
    const char *action = a->ops[0];
    bool ls = !strcmp(action, "ls") || !strcmp(action, "list");
    bool known = ls || !strcmp(action, "create") || !strcmp(action, "restore") ||
                 !strcmp(action, "rm");
    if (!known)
        return cli_usage_error("snapshot: unknown action \"%s\" (create, ls, restore, rm)",
                               action);
    if (ls != (a->nops == 2))
        return cli_usage_error(ls ? "snapshot ls: BOX only" : "snapshot %s: BOX NAME", action);
    *ls_out = ls;
    return 0;
}

int cmd_snapshot(struct cli *c, const struct cli_args *a)
{
    const char *action = a->ops[0];
    bool as_json = false, ls;
    for (int i = 0; i < a->nopts; i++)
        as_json |= a->opts[i].id == FL_JSON;
    int r = cli_snapshot_action(a, &ls);
    if (r || (r = cli_open(c)))
        return r;
    boxlite_box *b = get_box(c, a->ops[1]);
    if (!b)
        return 125;
    char what[64];
    snprintf(what, sizeof what, "snapshot %s", action);
    if (ls)
        r = snapshot_ls(b, as_json);
    else if (!strcmp(action, "create"))
        r = boxlite_snapshot_create(b, a->ops[2]) == BOXLITE_OK ? 0 : cli_fail(what);
    else if (!strcmp(action, "restore"))
        r = boxlite_snapshot_restore(b, a->ops[2]) == BOXLITE_OK ? 0 : cli_fail(what);
    else
        r = boxlite_snapshot_remove(b, a->ops[2]) == BOXLITE_OK ? 0 : cli_fail(what);
    boxlite_box_free(b);
    return r;
}

int cmd_clone(struct cli *c, const struct cli_args *a)
{
    int r = cli_open(c);
    if (r)
        return r;
    boxlite_box *b = NULL;
    if (boxlite_box_clone(c->rt, a->ops[0], a->ops[1], &b) != BOXLITE_OK)
        return cli_fail("clone");
    printf("%s\n", boxlite_box_id(b));
    boxlite_box_free(b);
    return 0;
}

int cmd_export(struct cli *c, const struct cli_args *a)
{
    int r = cli_open(c);
    if (r)
        return r;
    boxlite_box *b = get_box(c, a->ops[0]);
    if (!b)
        return 125;
    r = boxlite_box_export(b, a->ops[1]) == BOXLITE_OK ? 0 : cli_fail("export");
    boxlite_box_free(b);
    return r;
}

int cmd_import(struct cli *c, const struct cli_args *a)
{
    const char *name = NULL;
    for (int i = 0; i < a->nopts; i++)
        if (a->opts[i].id == FL_NAME)
            name = a->opts[i].value;
    int r = cli_open(c);
    if (r)
        return r;
    boxlite_box *b = NULL;
    if (boxlite_box_import(c->rt, a->ops[0], name, &b) != BOXLITE_OK)
        return cli_fail("import");
    cli_print_last_notice();
    printf("%s\n", boxlite_box_id(b));
    boxlite_box_free(b);
    return 0;
}
