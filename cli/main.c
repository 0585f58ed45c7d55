/* boxlite: a docker-like command line over libboxlite. */
#include "cli.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct cli_cmd commands[] = {
    { "run", "Create and start a box, run a command in it", cmd_run },
    { "exec", "Run a command in a running box", cmd_exec },
    { "create", "Create a box (does not start it)", cmd_create },
    { "start", "Start a created or stopped box", cmd_start },
    { "stop", "Stop a running box", cmd_stop },
    { "rm", "Remove boxes", cmd_rm },
    { "ps", "List boxes", cmd_ps },
    { "ls", "List boxes (same as ps)", cmd_ps },
    { "inspect", "Show a box as JSON", cmd_inspect },
    { "logs", "Show a box's console log", cmd_logs },
    { "cp", "Copy files between a box and the host", cmd_cp },
    { "stats", "Show a box's metrics as JSON", cmd_stats },
    { "pull", "Pull an image from a registry", cmd_pull },
    { "images", "List local images", cmd_images },
    { "rmi", "Remove local images", cmd_rmi },
    { "version", "Show the version", cmd_version },
    { "doctor", "Check this host and boot a smoke box on every engine", cmd_doctor },
};

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

int cli_open(struct cli *c)
{
    if (c->rt)
        return 0;
    if (boxlite_runtime_open(c->home, &c->rt) != BOXLITE_OK)
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

static void usage(FILE *f)
{
    fprintf(f, "Usage: boxlite [--home DIR] COMMAND [ARGS...]\n\n"
               "Run OCI images in lightweight virtual machines.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nThe home directory defaults to $BOXLITE_HOME, else ~/.boxlite.\n");
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
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--version")) {
            return cmd_version(&c, 0, NULL);
        } else {
            return cli_usage_error("unknown option %s (see boxlite --help)", argv[i]);
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 125;
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (!strcmp(argv[i], commands[k].name)) {
            int r = commands[k].run(&c, argc - i, argv + i);
            boxlite_runtime_close(c.rt);
            return r;
        }
    }
    return cli_usage_error("unknown command \"%s\" (see boxlite --help)", argv[i]);
}
