// SPDX-License-Identifier: Apache-2.0
/* The command line's one parser, driven by the verb tables (cli/verbs.c): Docker's
 * spelling (-a, --all, --name=x, --name x, -it, -eK=V, -- ends the options), a verb's
 * --help and -h, unknown flags named with the closest known one. The same tables print the
 * help and the man pages, so a flag the parser accepts is always a flag the help lists. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const struct cli_verb *cli_find_verb(const char *name)
{
    for (size_t i = 0; i < cli_nverbs; i++)
        if (!strcmp(cli_verbs[i].name, name))
            return &cli_verbs[i];
    return NULL;
}

bool cli_fancy(int fd)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    /* no-color.org: set and not empty disables colour */
    return isatty(fd) && !(nc && *nc) && !(term && !strcmp(term, "dumb"));
}

/* Levenshtein distance, capped: the names compared are short. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *cli_closest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, len = strlen(s);
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(s, names[i]);
        /* a prefix of a longer name is as good as a typo ("--form" -> "--format") */
        if (len >= 3 && !strncmp(names[i], s, len))
            d = 1;
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    /* close: at most a third of the word wrong, and never more than 3 edits */
    size_t limit = len / 3 < 1 ? 1 : len / 3 > 3 ? 3 : len / 3;
    return best_d <= limit ? best : NULL;
}

static const struct cli_flag help_flag = { FL_HELP, 'h', "help", NULL, NULL, "Show this help", false };

/* Every flag of v, --help last, through fn; stops when fn returns non-zero. */
static const struct cli_flag *each_flag(const struct cli_verb *v,
                                        int (*fn)(const struct cli_flag *, void *), void *ud)
{
    for (const struct cli_flag *const *t = v->flags; t && *t; t++)
        for (const struct cli_flag *f = *t; f->id; f++)
            if (fn(f, ud))
                return f;
    return fn(&help_flag, ud) ? &help_flag : NULL;
}

static int match_long(const struct cli_flag *f, void *ud) { return !strcmp(f->name, ud); }
static int match_short(const struct cli_flag *f, void *ud) { return f->short_name && f->short_name == *(char *)ud; }

struct names { const char *v[128]; size_t n; };
static int collect(const struct cli_flag *f, void *ud)
{
    struct names *n = ud;
    if (n->n < sizeof n->v / sizeof n->v[0])
        n->v[n->n++] = f->name;
    return 0;
}

static int unknown_flag(const struct cli_verb *v, const char *spelled, bool is_long)
{
    struct names n = { .n = 0 };
    each_flag(v, collect, &n);
    const char *near = NULL;
    if (is_long) {
        const char *name = spelled + 2;
        size_t len = strcspn(name, "=");
        char buf[128];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < 100 ? len : 100), name);
        near = cli_closest(buf, n.v, n.n);
    }
    if (near)
        return cli_usage_error("%s: unknown flag %s (did you mean --%s?); see 'boxlite %s --help'",
                               v->name, spelled, near, v->name);
    return cli_usage_error("%s: unknown flag %s; see 'boxlite %s --help'", v->name, spelled,
                           v->name);
}

static bool switch_on_by_default(const struct cli_flag *f)
{
    return !f->arg && f->def && !strcmp(f->def, "true");
}

static int add_opt(struct cli_args *a, int id, const char *value)
{
    struct cli_opt *n = realloc(a->opts, (size_t)(a->nopts + 1) * sizeof *n);
    if (!n)
        return -1;
    a->opts = n;
    a->opts[a->nopts++] = (struct cli_opt){ id, value };
    return 0;
}

void cli_args_free(struct cli_args *a)
{
    free(a->opts);
    free(a->ops);
    memset(a, 0, sizeof *a);
}

int cli_parse(const struct cli_verb *v, int argc, char **argv, struct cli_args *a, int *status)
{
    memset(a, 0, sizeof *a);
    a->verb = v;
    a->ops = calloc((size_t)argc + 1, sizeof *a->ops);
    if (!a->ops) {
        *status = cli_usage_error("out of memory");
        return 0;
    }
    bool options = true, help = false;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (!options || arg[0] != '-' || !arg[1]) {
            a->ops[a->nops++] = arg;
            if (v->stop_at_operand)
                options = false;
            continue;
        }
        if (!strcmp(arg, "--")) {
            options = false;
            continue;
        }
        if (arg[1] == '-') {
            char name[128];
            const char *eq = strchr(arg + 2, '=');
            size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            if (len >= sizeof name) {
                *status = unknown_flag(v, arg, true);
                goto fail;
            }
            memcpy(name, arg + 2, len);
            name[len] = 0;
            const struct cli_flag *f = each_flag(v, match_long, name);
            if (!f) {
                *status = unknown_flag(v, arg, true);
                goto fail;
            }
            const char *value = NULL;
            if (f->arg) {
                if (eq)
                    value = eq + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else {
                    *status = cli_usage_error("%s: --%s needs a value (%s); see 'boxlite %s --help'",
                                              v->name, f->name, f->arg, v->name);
                    goto fail;
                }
            } else if (eq) {
                /* Docker's --rm=false, --sig-proxy=false: a switch is on or off */
                bool on = !strcmp(eq + 1, "true");
                if (!on && strcmp(eq + 1, "false")) {
                    *status = cli_usage_error("%s: --%s takes true or false, not '%s'", v->name,
                                              f->name, eq + 1);
                    goto fail;
                }
                if (on == switch_on_by_default(f))
                    continue; /* what it is anyway */
            } else if (switch_on_by_default(f)) {
                continue;
            }
            if (f->id == FL_HELP)
                help = true;
            else if (add_opt(a, f->id, value)) {
                *status = cli_usage_error("out of memory");
                goto fail;
            }
            continue;
        }
        /* -abc: switches bundled; a flag with a value takes the rest or the next word */
        for (char *p = arg + 1; *p; p++) {
            const struct cli_flag *f = each_flag(v, match_short, p);
            if (!f) {
                char spelled[3] = { '-', *p, 0 };
                *status = unknown_flag(v, spelled, false);
                goto fail;
            }
            const char *value = NULL;
            if (f->arg) {
                if (p[1])
                    value = p + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else {
                    *status = cli_usage_error("%s: -%c needs a value (%s); see 'boxlite %s --help'",
                                              v->name, *p, f->arg, v->name);
                    goto fail;
                }
            }
            if (f->id == FL_HELP)
                help = true;
            else if (add_opt(a, f->id, value)) {
                *status = cli_usage_error("out of memory");
                goto fail;
            }
            if (value)
                break;
        }
    }
    if (help) {
        cli_print_help(v, stdout);
        *status = 0;
        goto fail;
    }
    if (a->nops < v->min_ops || (v->max_ops >= 0 && a->nops > v->max_ops)) {
        if (v->max_ops == 0)
            *status = cli_usage_error("\"%s\" accepts no arguments; see 'boxlite %s --help'",
                                      v->name, v->name);
        else
            *status = cli_usage_error("usage: boxlite %s [OPTIONS] %s; see 'boxlite %s --help'",
                                      v->name, v->operands, v->name);
        goto fail;
    }
    return 1;
fail:
    cli_args_free(a);
    return 0;
}

/* ---- help ------------------------------------------------------------------------------ */

static void flag_left(const struct cli_flag *f, char *buf, size_t len)
{
    if (f->short_name)
        snprintf(buf, len, "-%c, --%s%s%s", f->short_name, f->name, f->arg ? " " : "",
                 f->arg ? f->arg : "");
    else
        snprintf(buf, len, "    --%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
}

/* Words of text from column col on, wrapped before column 100, continued at column indent. */
static void wrap(FILE *out, const char *text, int col, int indent)
{
    while (*text) {
        size_t w = strcspn(text, " ");
        if (col > indent && col + 1 + (int)w > 100) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int)w, text);
        col += (int)w;
        text += w;
        while (*text == ' ')
            text++;
    }
}

static int print_flag(const struct cli_flag *f, void *ud)
{
    FILE *out = ud;
    char left[96], text[600];
    flag_left(f, left, sizeof left);
    int n = snprintf(text, sizeof text, "%s", f->help);
    if (f->def && n < (int)sizeof text)
        n += snprintf(text + n, sizeof text - (size_t)n, " (default: %s)", f->def);
    if (f->repeat && n < (int)sizeof text)
        snprintf(text + n, sizeof text - (size_t)n, " (repeatable)");
    fprintf(out, "  %-30s", left);
    if (strlen(left) > 29)
        fprintf(out, "\n%32s", "");
    wrap(out, text, 32, 32);
    fputc('\n', out);
    return 0;
}

static void print_indented(FILE *f, const char *text, const char *indent)
{
    while (text && *text) {
        size_t n = strcspn(text, "\n");
        fprintf(f, "%s%.*s\n", n ? indent : "", (int)n, text);
        text += n + (text[n] == '\n');
    }
}

void cli_print_help(const struct cli_verb *v, FILE *f)
{
    fprintf(f, "Usage:  boxlite %s [OPTIONS]%s%s\n\n%s\n", v->name, v->operands[0] ? " " : "",
            v->operands, v->summary);
    if (v->details) {
        fputc('\n', f);
        print_indented(f, v->details, "");
    }
    fprintf(f, "\nOptions:\n");
    each_flag(v, print_flag, f);
    if (v->example) {
        fprintf(f, "\nExample%s:\n", strchr(v->example, '\n') ? "s" : "");
        print_indented(f, v->example, "  ");
    }
}

void cli_print_main_help(FILE *f)
{
    fprintf(f, "Usage:  boxlite [--home DIR] [--qemu PATH] [--url URL] COMMAND [OPTIONS] [ARGS...]\n\n"
               "Run OCI images in lightweight virtual machines.\n\nCommands:\n");
    for (size_t i = 0; i < cli_nverbs; i++)
        if (cli_verbs[i].name[0] != '_')
            fprintf(f, "  %-11s %s\n", cli_verbs[i].name, cli_verbs[i].summary);
    fprintf(f, "\nGlobal options:\n"
               "  --home DIR     the runtime's home (default: $BOXLITE_HOME, else ~/.boxlite)\n"
               "  --qemu PATH    the QEMU engine's qemu-system-x86_64 (default: $BOXLITE_QEMU,\n"
               "                 else the one on PATH)\n"
               "  --url URL      drive a remote `boxlite serve` (default: $BOXLITE_URL): run,\n"
               "                 exec (-it too), ps, ls, inspect, rm, stop, start, cp,\n"
               "                 export, import; other commands say they are not supported\n"
               "                 (125). rootfs:NAME as the image names a folder of the\n"
               "                 server's --rootfs-dir\n"
               "  --client-id ID, --client-secret SECRET, --prefix PREFIX\n"
               "                 the server's credentials and their tenant (default:\n"
               "                 $BOXLITE_CLIENT_ID, $BOXLITE_CLIENT_SECRET, $BOXLITE_PREFIX,\n"
               "                 else \"default\"); $BOXLITE_CA_FILE: a CA for https\n"
               "  -h, --help     this help; 'boxlite COMMAND --help' or 'boxlite help COMMAND'\n"
               "                 for a command's\n"
               "  -v, --version  the version\n"
               "\nExit status: the command's own in the box (run, exec); 125 for an error of\n"
               "boxlite itself; 126 when the command cannot be run in the box, 127 when it is\n"
               "not found there.\n");
}

/* ---- man pages (roff, man(7)) ---------------------------------------------------------- */

/* Text for roff: a backslash doubled, a leading dot or quote guarded, '-' as \-. */
static void roff(FILE *f, const char *s)
{
    bool bol = true;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", f);
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
        bol = *s == '\n';
    }
}

static int man_flag(const struct cli_flag *fl, void *ud)
{
    FILE *f = ud;
    fputs(".TP\n", f);
    if (fl->short_name)
        fprintf(f, "\\fB\\-%c\\fR, ", fl->short_name);
    fputs("\\fB\\-\\-", f);
    roff(f, fl->name);
    fputs("\\fR", f);
    if (fl->arg) {
        fputs(" \\fI", f);
        roff(f, fl->arg);
        fputs("\\fR", f);
    }
    fputc('\n', f);
    roff(f, fl->help);
    if (fl->def) {
        fputs(" (default: ", f);
        roff(f, fl->def);
        fputc(')', f);
    }
    if (fl->repeat)
        fputs(" (repeatable)", f);
    fputs(".\n", f);
    return 0;
}

static int write_page(const char *dir, const struct cli_verb *v)
{
    char path[4200], dashed[64];
    snprintf(dashed, sizeof dashed, "%s", v->name);
    for (char *p = dashed; *p; p++)
        if (*p == ' ')
            *p = '-';
    snprintf(path, sizeof path, "%s/boxlite-%s.1", dir, dashed);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "boxlite: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, ".TH BOXLITE\\-");
    for (const char *p = dashed; *p; p++)
        fputc(*p >= 'a' && *p <= 'z' ? *p - 32 : *p, f);
    fprintf(f, " 1 \"\" \"boxlite %s\" \"BoxLite Manual\"\n.SH NAME\nboxlite\\-", boxlite_version());
    roff(f, dashed);
    fputs(" \\- ", f);
    roff(f, v->summary);
    fputs("\n.SH SYNOPSIS\n\\fBboxlite ", f);
    roff(f, v->name);
    fputs("\\fR [\\fIOPTIONS\\fR] ", f);
    roff(f, v->operands);
    fputs("\n.SH DESCRIPTION\n", f);
    roff(f, v->summary);
    fputs(".\n", f);
    if (v->details) {
        fputs(".PP\n.nf\n", f);
        roff(f, v->details);
        fputs("\n.fi\n", f);
    }
    fputs(".SH OPTIONS\n", f);
    each_flag(v, man_flag, f);
    if (v->example) {
        fputs(".SH EXAMPLES\n.nf\n", f);
        roff(f, v->example);
        fputs("\n.fi\n", f);
    }
    fputs(".SH EXIT STATUS\n0 on success; 125 for an error of boxlite itself; for \\fBrun\\fR and"
          " \\fBexec\\fR the command's own status, 126 when it cannot be run in the box and 127"
          " when it is not found there.\n.SH SEE ALSO\n\\fBboxlite\\fR(1)\n", f);
    return fclose(f) ? -1 : 0;
}

int cli_write_man(const char *dir)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "boxlite: mkdir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/boxlite.1", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "boxlite: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, ".TH BOXLITE 1 \"\" \"boxlite %s\" \"BoxLite Manual\"\n.SH NAME\nboxlite \\- run OCI"
               " images in lightweight virtual machines\n.SH SYNOPSIS\n\\fBboxlite\\fR"
               " [\\fB\\-\\-home\\fR \\fIDIR\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n"
               ".SH COMMANDS\n", boxlite_version());
    for (size_t i = 0; i < cli_nverbs; i++) {
        if (cli_verbs[i].name[0] == '_')
            continue;
        fprintf(f, ".TP\n\\fBboxlite\\-");
        for (const char *p = cli_verbs[i].name; *p; p++)
            fputs(*p == ' ' ? "\\-" : (char[]){ *p, 0 }, f);
        fputs("\\fR(1)\n", f);
        roff(f, cli_verbs[i].summary);
        fputs("\n", f);
    }
    fputs(".SH ENVIRONMENT\n.TP\n\\fBBOXLITE_HOME\\fR\nThe runtime's home (default"
          " ~/.boxlite).\n.TP\n\\fBNO_COLOR\\fR\nWhen set, no colour, bars or cursor movement.\n", f);
    if (fclose(f))
        return -1;
    for (size_t i = 0; i < cli_nverbs; i++)
        if (cli_verbs[i].name[0] != '_' && !cli_verbs[i].alias_of && write_page(dir, &cli_verbs[i]))
            return -1;
    return 0;
}
