// SPDX-License-Identifier: Apache-2.0
/* boxlite: a docker-like command line over libboxlite. The verbs and their flags are the
 * tables in verbs.c; this file dispatches and holds the output conventions: errors on
 * stderr as "boxlite: ...", status 125 for the tool's own errors, 126/127 for a command the
 * box cannot run / does not have (Docker's), the command's own status otherwise. */
#include "cli.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *what)
{
    fprintf(stderr, "boxlite: %s: %s\n", what, boxlite_errmsg());
    return 125;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("boxlite: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    return 125;
}

static int unknown_command(const char *name)
{
    const char *names[64];
    size_t n = 0;
    for (size_t k = 0; k < cli_nverbs && n < 64; k++)
        if (cli_verbs[k].name[0] != '_')
            names[n++] = cli_verbs[k].name;
    const char *near = cli_closest(name, names, n);
    if (near)
        return cli_usage_error("unknown command \"%s\" (did you mean \"%s\"?); see 'boxlite --help'",
                               name, near);
    return cli_usage_error("unknown command \"%s\"; see 'boxlite --help'", name);
}

char *cli_runtime_options(const struct cli *c)
{
    if (!c->qemu)
        return NULL;
    json_t *o = json_pack("{s:s}", "qemu", c->qemu);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

int cli_open(struct cli *c)
{
    if (c->rt)
        return 0;
    char *opts = cli_runtime_options(c);
    int r = opts ? boxlite_runtime_open_with(c->home, opts, &c->rt)
                 : boxlite_runtime_open(c->home, &c->rt);
    free(opts);
    if (r != BOXLITE_OK)
        return cli_fail("open runtime");
    /* what opening the home found (permissions narrowed, leftovers removed) */
    char *n = NULL;
    if (boxlite_runtime_notices(c->rt, &n) == BOXLITE_OK && n) {
        for (char *line = strtok(n, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(stderr, "boxlite: %s\n", line);
    }
    boxlite_free(n);
    return 0;
}

void cli_print_last_notice(void)
{
    const char *n = boxlite_last_notice();
    while (n && *n) {
        size_t len = strcspn(n, "\n");
        fprintf(stderr, "boxlite: %.*s\n", (int)len, n);
        n += len + (n[len] == '\n');
    }
}

void cli_print_notice(boxlite_box *b)
{
    cli_print_last_notice(); /* what starting the box said (an image it pulled) */
    char *info = NULL;
    if (boxlite_box_info(b, &info) != BOXLITE_OK)
        return;
    json_t *j = json_loads(info, 0, NULL);
    const char *n = json_string_value(json_object_get(json_object_get(j, "runtime"), "notice"));
    if (n && *n)
        fprintf(stderr, "boxlite: %s\n", n);
    json_decref(j);
    boxlite_free(info);
}

int cli_exec_failed(const char *what)
{
    int code = boxlite_errcode();
    const char *msg = boxlite_errmsg();
    fprintf(stderr, "boxlite: %s: %s\n", what, msg);
    /* The agent refuses a start with the reason (docs/protocol.md): "exec PROG: No such file
     * or directory" (NOT_FOUND) for a program not found; a program it could not run, a bad
     * working directory or user, as INVALID or NOT_FOUND. Anything else (a box that
     * stopped, the connection, the engine) is ours. */
    if (code == BOXLITE_ERR_NOT_FOUND && strstr(msg, ": No such file or directory") &&
        !strstr(msg, "working directory"))
        return 127;
    if (code == BOXLITE_ERR_INVALID || code == BOXLITE_ERR_NOT_FOUND)
        return 126;
    return 125;
}

int cmd_help(struct cli *c, const struct cli_args *a)
{
    (void)c;
    for (int i = 0; i < a->nopts; i++)
        if (a->opts[i].id == FL_MAN)
            return cli_write_man(a->opts[i].value) ? 125 : 0;
    if (a->nops == 0) {
        cli_print_main_help(stdout);
        return 0;
    }
    char two[128];
    snprintf(two, sizeof two, "%s%s%s", a->ops[0], a->nops > 1 ? " " : "",
             a->nops > 1 ? a->ops[1] : "");
    const struct cli_verb *v = cli_find_verb(two);
    if (!v)
        return unknown_command(two);
    cli_print_help(v, stdout);
    return 0;
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]: true with *out set and *i past it. */
static bool global_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    if (!strcmp(argv[*i], name) && *i + 1 < argc) {
        *out = argv[*i + 1];
        *i += 2;
        return true;
    }
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        *i += 1;
        return true;
    }
    return false;
}

/* A global setting from its flag, else the environment ("" counts as unset). */
static const char *flag_or_env(const char *flag, const char *env)
{
    if (flag)
        return flag;
    const char *v = getenv(env);
    return v && *v ? v : NULL;
}

int main(int argc, char **argv)
{
    struct cli c = { 0 };
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--home") && i + 1 < argc) {
            c.home = argv[i + 1];
            i += 2;
        } else if (!strncmp(argv[i], "--home=", 7)) {
            c.home = argv[i] + 7;
            i++;
        } else if (!strcmp(argv[i], "--qemu") && i + 1 < argc) {
            c.qemu = argv[i + 1];
            i += 2;
        } else if (!strncmp(argv[i], "--qemu=", 7)) {
            c.qemu = argv[i] + 7;
            i++;
        } else if (global_value(argc, argv, &i, "--url", &c.url) ||
                   global_value(argc, argv, &i, "--client-id", &c.client_id) ||
                   global_value(argc, argv, &i, "--client-secret", &c.client_secret) ||
                   global_value(argc, argv, &i, "--prefix", &c.prefix)) {
            continue;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            cli_print_main_help(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--version")) {
            printf("boxlite %s\n", boxlite_version());
            return 0;
        } else {
            return cli_usage_error("unknown option %s (see boxlite --help)", argv[i]);
        }
    }
    /* passed to the library as the runtime's "qemu" setting (cli_runtime_options) */
    if (c.qemu && !*c.qemu)
        return cli_usage_error("--qemu: empty path");
    if (i >= argc) {
        cli_print_main_help(stderr);
        return 125;
    }
    /* two-word verbs: "image prune" */
    const struct cli_verb *v = cli_find_verb(argv[i]);
    if (!v && i + 1 < argc && !strcmp(argv[i], "image")) {
        char two[64];
        snprintf(two, sizeof two, "image %s", argv[i + 1]);
        if ((v = cli_find_verb(two)))
            i++;
    }
    if (!v)
        return unknown_command(argv[i]);
    struct cli_args a;
    int status;
    if (!cli_parse(v, argc - i, argv + i, &a, &status))
        return status;
    c.url = flag_or_env(c.url, "BOXLITE_URL");
    c.client_id = flag_or_env(c.client_id, "BOXLITE_CLIENT_ID");
    c.client_secret = flag_or_env(c.client_secret, "BOXLITE_CLIENT_SECRET");
    c.prefix = flag_or_env(c.prefix, "BOXLITE_PREFIX");
    status = c.url ? cli_remote(&c, &a) : v->run(&c, &a);
    cli_args_free(&a);
    boxlite_runtime_close(c.rt);
    return status;
}
