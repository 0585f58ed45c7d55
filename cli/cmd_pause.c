// SPDX-License-Identifier: Apache-2.0
/* pause, resume, fork: memory snapshots of a box (src/runtime/pause.c). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int each(struct cli *c, const struct cli_args *a, const char *verb,
                int (*fn)(boxlite_box *b))
{
    int r = cli_open(c), failed = 0;
    if (r)
        return r;
    for (int i = 0; i < a->nops; i++) {
        boxlite_box *b = NULL;
        r = boxlite_box_get(c->rt, a->ops[i], &b);
        if (r == BOXLITE_OK)
            r = fn(b);
        if (r != BOXLITE_OK) {
            fprintf(stderr, "boxlite: %s %s: %s\n", verb, a->ops[i], boxlite_errmsg());
            failed = 1;
        } else {
            printf("%s\n", a->ops[i]);
        }
        boxlite_box_free(b);
    }
    return failed ? 125 : 0;
}

static int pause_one(boxlite_box *b) { return boxlite_box_pause(b, 0); }

int cmd_pause(struct cli *c, const struct cli_args *a) { return each(c, a, "pause", pause_one); }

int cmd_resume(struct cli *c, const struct cli_args *a)
{
    return each(c, a, "resume", boxlite_box_resume);
}

int cmd_fork(struct cli *c, const struct cli_args *a)
{
    int r = cli_open(c);
    if (r)
        return r;
    size_t n = (size_t)a->nops - 1;
    boxlite_box *src = NULL;
    boxlite_box **out = calloc(n, sizeof *out);
    if (!out)
        return cli_usage_error("fork: out of memory");
    r = boxlite_box_get(c->rt, a->ops[0], &src);
    if (r == BOXLITE_OK)
        r = boxlite_box_fork(src, (const char *const *)(a->ops + 1), n, out);
    if (r != BOXLITE_OK) {
        fprintf(stderr, "boxlite: fork %s: %s\n", a->ops[0], boxlite_errmsg());
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", boxlite_box_id(out[i]));
    }
    for (size_t i = 0; i < n; i++)
        boxlite_box_free(out[i]);
    free(out);
    boxlite_box_free(src);
    return r == BOXLITE_OK ? 0 : 125;
}
