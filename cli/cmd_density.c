// SPDX-License-Identifier: Apache-2.0
/* reclaim, balloon: a running box's memory (src/runtime/density.c, issue 21). */
#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line per box: its name and how much the guest freed, or why not. */
int cli_print_reclaimed(json_t *o)
{
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *e = json_string_value(json_object_get(o, "error"));
    char b[32];
    if (e) {
        fprintf(stderr, "boxlite: reclaim %s: %s\n", name ? name : "?", e);
        return 1;
    }
    if (json_is_true(json_object_get(o, "skipped"))) {
        long long idle = json_integer_value(json_object_get(o, "idle_ms"));
        if (idle)
            printf("%s\tskipped: idle for %lld.%llds only\n", name ? name : "?", idle / 1000,
                   idle % 1000 / 100);
        else
            printf("%s\tskipped: in use\n", name ? name : "?");
        return 0;
    }
    printf("%s\t%s freed\n", name ? name : "?",
           cli_human_bytes((unsigned long long)json_integer_value(json_object_get(o, "freed_bytes")),
                           b, sizeof b));
    return 0;
}

int cli_reclaim_idle(const struct cli_args *a, long long *idle)
{
    *idle = 0;
    for (int i = 0; i < a->nopts; i++)
        if (a->opts[i].id == FL_IDLE) {
            *idle = cli_parse_duration_ms(a->opts[i].value);
            if (*idle < 0 || *idle > INT32_MAX)
                return cli_usage_error("--idle %s: expected a duration such as 30s, 5m",
                                       a->opts[i].value);
        }
    if (*idle && a->nops)
        return cli_usage_error("--idle picks among every running box: name no box with it");
    return 0;
}

int cmd_reclaim(struct cli *c, const struct cli_args *a)
{
    long long idle;
    int r = cli_reclaim_idle(a, &idle), failed = 0;
    if (r)
        return r;
    if ((r = cli_open(c)))
        return r;
    if (!a->nops) {
        char *out = NULL;
        if (boxlite_runtime_reclaim(c->rt, (int)idle, &out) != BOXLITE_OK)
            return cli_fail("reclaim");
        json_t *arr = json_loads(out, 0, NULL);
        boxlite_free(out);
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o)
            failed |= cli_print_reclaimed(o);
        json_decref(arr);
        return failed ? 125 : 0;
    }
    for (int i = 0; i < a->nops; i++) {
        boxlite_box *b = NULL;
        char *out = NULL;
        if (boxlite_box_get(c->rt, a->ops[i], &b) != BOXLITE_OK ||
            boxlite_box_reclaim(b, &out) != BOXLITE_OK) {
            fprintf(stderr, "boxlite: reclaim %s: %s\n", a->ops[i], boxlite_errmsg());
            failed = 1;
        } else {
            json_t *o = json_loads(out, 0, NULL);
            failed |= cli_print_reclaimed(o);
            json_decref(o);
        }
        boxlite_free(out);
        boxlite_box_free(b);
    }
    return failed ? 125 : 0;
}

int cmd_balloon(struct cli *c, const struct cli_args *a)
{
    long long mib = !strcmp(a->ops[1], "none") ? 0 : cli_parse_mib(a->ops[1]);
    if (mib < 0 || mib > 0x7fffffff)
        return cli_usage_error("balloon %s: expected a size (e.g. 128m) or none", a->ops[1]);
    int r = cli_open(c);
    if (r)
        return r;
    boxlite_box *b = NULL;
    r = boxlite_box_get(c->rt, a->ops[0], &b);
    if (r == BOXLITE_OK)
        r = boxlite_box_set_balloon(b, (int)mib);
    boxlite_box_free(b);
    if (r != BOXLITE_OK) {
        fprintf(stderr, "boxlite: balloon %s: %s\n", a->ops[0], boxlite_errmsg());
        return 125;
    }
    printf("%s\n", a->ops[0]);
    return 0;
}
