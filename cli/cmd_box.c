/* Verbs on box records: create, start, stop, rm, ps/ls, inspect, version. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_version(struct cli *c, int argc, char **argv)
{
    (void)c; (void)argc; (void)argv;
    printf("boxlite %s\n", boxlite_version());
    return 0;
}

int cmd_create(struct cli *c, int argc, char **argv)
{
    boxlite_options *o = NULL;
    struct box_flags f;
    int next, r;
    if (boxlite_options_new(&o) != BOXLITE_OK)
        return cli_fail("create");
    /* A created box is kept until removed: auto_remove only with --rm. */
    boxlite_options_set_auto_remove(o, 0);
    r = cli_parse_box_flags(argc, argv, o, &f, &next);
    if (!r && next >= argc)
        r = cli_usage_error("create: an image (or --rootfs DIR) is required");
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

/* Runs fn on each box named in argv[1..]; the status is 125 if any failed. */
static int each_box(struct cli *c, int argc, char **argv, int first, const char *verb,
                    int (*fn)(struct cli *c, const char *key))
{
    if (first >= argc)
        return cli_usage_error("%s: name at least one box", verb);
    int r = cli_open(c), failed = 0;
    if (r)
        return r;
    for (int i = first; i < argc; i++) {
        if (fn(c, argv[i]) != BOXLITE_OK) {
            fprintf(stderr, "boxlite: %s %s: %s\n", verb, argv[i], boxlite_errmsg());
            failed = 1;
        } else {
            printf("%s\n", argv[i]);
        }
    }
    return failed ? 125 : 0;
}

static int do_start(struct cli *c, const char *key)
{
    boxlite_box *b = NULL;
    int r = boxlite_box_get(c->rt, key, &b);
    if (r == BOXLITE_OK && (r = boxlite_box_start(b)) == BOXLITE_OK)
        cli_print_notice(b);
    boxlite_box_free(b);
    return r;
}

int cmd_start(struct cli *c, int argc, char **argv)
{
    return each_box(c, argc, argv, 1, "start", do_start);
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

int cmd_stop(struct cli *c, int argc, char **argv)
{
    int first = 1;
    if (argc > 2 && (!strcmp(argv[1], "-t") || !strcmp(argv[1], "--time"))) {
        long long secs;
        if (cli_parse_ll(argv[2], 0, 3600, &secs))
            return cli_usage_error("stop -t %s: expected seconds, 0-3600", argv[2]);
        stop_timeout_ms = (int)secs * 1000;
        first = 3;
    }
    return each_box(c, argc, argv, first, "stop", do_stop);
}

static int rm_force;
static int do_rm(struct cli *c, const char *key) { return boxlite_box_remove(c->rt, key, rm_force); }

int cmd_rm(struct cli *c, int argc, char **argv)
{
    int first = 1;
    if (argc > 1 && (!strcmp(argv[1], "-f") || !strcmp(argv[1], "--force"))) {
        rm_force = 1;
        first = 2;
    }
    return each_box(c, argc, argv, first, "rm", do_rm);
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

int cmd_ps(struct cli *c, int argc, char **argv)
{
    int all = 0, as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))
            all = 1;
        else if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else
            return cli_usage_error("%s: unknown option %s", argv[0], argv[i]);
    }
    int r = cli_open(c);
    if (r)
        return r;
    char *list = NULL;
    if (boxlite_box_list(c->rt, all ? NULL : "running", &list) != BOXLITE_OK)
        return cli_fail(argv[0]);
    if (as_json) {
        printf("%s\n", list);
        boxlite_free(list);
        return 0;
    }
    json_t *arr = json_loads(list, 0, NULL);
    boxlite_free(list);
    printf("%-12s  %-20s  %-24s  %-10s  %-28s  %s\n", "ID", "NAME", "IMAGE", "CREATED",
           "STATUS", "PORTS");
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b) {
        char when[32], ports[256] = "";
        size_t k, off = 0;
        json_t *p;
        json_array_foreach(json_object_get(b, "ports"), k, p) {
            off += (size_t)snprintf(ports + off, off < sizeof ports ? sizeof ports - off : 0,
                                    "%s%s:%lld->%lld/%s", k ? ", " : "",
                                    json_string_value(json_object_get(p, "host_addr")),
                                    json_integer_value(json_object_get(p, "host_port")),
                                    json_integer_value(json_object_get(p, "guest_port")),
                                    json_string_value(json_object_get(p, "protocol")));
            if (off >= sizeof ports)
                break;
        }
        const char *image = json_string_value(json_object_get(b, "image"));
        /* STATUS: the state and what explains it (health, why it stopped), whole */
        const char *status = json_string_value(json_object_get(b, "status"));
        printf("%-12.12s  %-20s  %-24.24s  %-10s  %-28s  %s\n",
               json_string_value(json_object_get(b, "id")),
               json_string_value(json_object_get(b, "name")), image ? image : "",
               ago(json_integer_value(json_object_get(b, "created")), when, sizeof when),
               status ? status : json_string_value(json_object_get(b, "state")), ports);
    }
    json_decref(arr);
    return 0;
}

int cmd_inspect(struct cli *c, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("inspect: name at least one box");
    int r = cli_open(c), failed = 0;
    if (r)
        return r;
    json_t *out = json_array();
    for (int i = 1; i < argc; i++) {
        boxlite_box *b = NULL;
        char *info = NULL;
        if (boxlite_box_get(c->rt, argv[i], &b) != BOXLITE_OK ||
            boxlite_box_info(b, &info) != BOXLITE_OK) {
            fprintf(stderr, "boxlite: inspect %s: %s\n", argv[i], boxlite_errmsg());
            failed = 1;
        } else {
            json_array_append_new(out, json_loads(info, 0, NULL));
        }
        boxlite_free(info);
        boxlite_box_free(b);
    }
    char *s = json_dumps(out, JSON_INDENT(2));
    printf("%s\n", s ? s : "[]");
    free(s);
    json_decref(out);
    return failed ? 125 : 0;
}
