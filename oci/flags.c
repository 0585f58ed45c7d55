// SPDX-License-Identifier: Apache-2.0
/* boxlite-runtime's flag parser: runc's (Go) style, -f and --f, "--f v" and "--f=v". */
#include "runtime.h"

#include <string.h>



/* Parses flags from argv[*i] on, stopping at the first operand (or after "--"). Returns 0,
 * or an error message printed. */
int parse_flags(int argc, char **argv, int *i, const struct flag *fl, const char *cmd)
{
    while (*i < argc) {
        const char *a = argv[*i];
        if (!strcmp(a, "--")) {
            (*i)++;
            return 0;
        }
        if (a[0] != '-' || !a[1])
            return 0;
        const char *name = a + 1 + (a[1] == '-');
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        const struct flag *f = NULL;
        for (const struct flag *x = fl; x->name; x++)
            if ((strlen(x->name) == n && !strncmp(x->name, name, n)) ||
                (x->short_name && n == 1 && name[0] == x->short_name))
                f = x;
        if (!f)
            return fail("%s: unknown flag %s", cmd, a);
        (*i)++;
        if (f->has_value) {
            const char *v = eq ? eq + 1 : *i < argc ? argv[(*i)++] : NULL;
            if (!v)
                return fail("%s: flag %s needs a value", cmd, a);
            if (f->list) {
                if (*f->nlist == f->maxlist)
                    return fail("%s: more than %zu %s", cmd, f->maxlist, a);
                f->list[(*f->nlist)++] = v;
            } else {
                *f->value = v;
            }
        } else if (f->set) {
            /* a boolean may be written --flag=false */
            *f->set = !eq || strcmp(eq + 1, "false");
        }
    }
    return 0;
}
