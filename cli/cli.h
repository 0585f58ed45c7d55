// SPDX-License-Identifier: Apache-2.0
/* The boxlite command: one verb per file, sharing these helpers. */
#ifndef CLI_H
#define CLI_H

#include "boxlite.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cli {
    const char *home; /* --home, or NULL for the library's default */
    boxlite_runtime *rt;
    const char *qemu; /* --qemu: the runtime's "qemu" setting, or NULL (BOXLITE_QEMU, PATH) */
    /* --url (BOXLITE_URL): the verbs go to a remote `boxlite serve` (cli/remote.c) with
     * these credentials (--client-id, --client-secret, --prefix; BOXLITE_CLIENT_ID,
     * BOXLITE_CLIENT_SECRET, BOXLITE_PREFIX) */
    const char *url, *client_id, *client_secret, *prefix;
};
struct cli_args;
/* Runs a verb against c->url (cli/remote.c); 125 for one the API cannot carry. */
int cli_remote(struct cli *c, const struct cli_args *a);
/* The management verbs over --url (cli/remote_manage.c): whether verb is one, and running
 * it with a client (src/client). */
struct bl_client;
bool cli_remote_manages(const char *verb);
int cli_remote_manage(struct bl_client *cl, const struct cli_args *a);

/* ---- The verb tables (cli/verbs.c) ----------------------------------------------------
 * One table per verb drives the parser (cli/args.c), `boxlite VERB --help`, `boxlite help
 * VERB`, the man pages and the shell completions: a flag exists only if its table lists it,
 * so what the parser accepts and what the help lists cannot drift apart. */
enum cli_flag_id {
    FL_HELP = 1,
    /* box flags (run, create) */
    FL_INTERACTIVE, FL_TTY, FL_DETACH, FL_ENV, FL_WORKDIR, FL_USER, FL_VOLUME, FL_PUBLISH,
    FL_CPUS, FL_MEMORY, FL_NAME, FL_DISK_SIZE, FL_RM, FL_ENGINE, FL_NO_NETWORK,
    FL_CPU_TEMPLATE, FL_NETWORK, FL_ALLOW_NET, FL_DENY_NET, FL_ALLOW_HOST, FL_ENTRYPOINT,
    FL_HEALTH_CMD, FL_HEALTH_INTERVAL, FL_HEALTH_TIMEOUT, FL_HEALTH_RETRIES,
    FL_HEALTH_START, FL_NO_HEALTHCHECK, FL_LOG_OPT, FL_ENV_FILE, FL_LABEL, FL_READ_ONLY,
    FL_HOSTNAME, FL_RESTART,
    /* other verbs */
    FL_ALL, FL_JSON, FL_QUIET, FL_FORCE, FL_TIME, FL_FOLLOW, FL_RAW, FL_VMM, FL_MAX_SIZE,
    FL_IMAGE, FL_NO_SMOKE, FL_FILTER, FL_FORMAT, FL_NO_TRUNC, FL_TAIL, FL_SINCE,
    FL_NO_STREAM, FL_MAN, FL_UNTIL, FL_TIMESTAMPS, FL_NO_STDIN,
    FL_IDLE_PAUSE, /* run, create: auto-pause (cmd_pause.c) */
    FL_SIGNAL, FL_SIG_PROXY,
    FL_BALLOON_TARGET, FL_NO_PAGE_REPORTING, FL_KSM, /* run, create: density (issue 21) */
    FL_IDLE, /* reclaim */
    /* serve (cli/cmd_serve.c) */
    FL_LISTEN, FL_CREDENTIALS, FL_TLS_CERT, FL_TLS_KEY, FL_INSECURE, FL_TOKEN_TTL,
    FL_ROOTFS_DIR, FL_MAX_BOXES, FL_SCOPES, FL_RATE, FL_MAX_FILE_BYTES, FL_REGISTRY_CREDENTIALS,
    FL_PLATFORM, /* run, create: the box's platform (issue 18) */
};

struct cli_flag {
    int id;               /* enum cli_flag_id: what the verb's code switches on */
    char short_name;      /* 'a' for -a, 0 for none */
    const char *name;     /* "all" for --all */
    const char *arg;      /* the value's placeholder ("SIZE"), NULL for a switch */
    const char *def;      /* the default, as help shows it; NULL when there is none. A
                           * switch whose default is "true" is on unless given --NAME=false,
                           * and only that is recorded (the verb sees it as "turned off") */
    const char *help;
    bool repeat;          /* may be given several times */
};

struct cli_args;
struct cli;
struct cli_verb {
    const char *name;
    const char *operands;   /* after "boxlite VERB [OPTIONS] ": "BOX [BOX...]" */
    const char *summary;
    const char *example;    /* one or more lines, each a command */
    const char *details;    /* more text for --help and the man page, or NULL */
    const struct cli_flag *const *flags; /* NULL-terminated list of flag tables */
    int (*run)(struct cli *c, const struct cli_args *a);
    int min_ops, max_ops;   /* operand counts; max -1 = any */
    bool stop_at_operand;   /* options end at the first operand (its command's own follow) */
    const char *complete;   /* what operands complete to: "box", "image", "verb", "file", "" */
    const char *alias_of;   /* "ls" is "ps": shown under the other's name */
};

/* What the parser found: the flags in order (a verb's code switches on id), the operands. */
struct cli_opt { int id; const char *value; };
struct cli_args {
    const struct cli_verb *verb;
    struct cli_opt *opts; int nopts;
    char **ops; int nops;
};

extern const struct cli_verb cli_verbs[];
extern const size_t cli_nverbs;
const struct cli_verb *cli_find_verb(const char *name);
/* Parses argv[1..] (argv[0] is the verb). Returns 1 to run the verb; otherwise 0 with
 * *status the exit status (0 after --help, 125 with the error printed). */
int cli_parse(const struct cli_verb *v, int argc, char **argv, struct cli_args *a,
              int *status);
void cli_args_free(struct cli_args *a);
void cli_print_help(const struct cli_verb *v, FILE *f);
void cli_print_main_help(FILE *f);
/* Writes man pages boxlite.1 and boxlite-VERB.1 into dir. */
int cli_write_man(const char *dir);
/* The closest name in names (n of them) to s, or NULL when none is close. */
const char *cli_closest(const char *s, const char *const *names, size_t n);
/* Whether output may carry colour, bars and cursor movement: fd is a terminal, NO_COLOR is
 * unset and TERM is not "dumb". */
bool cli_fancy(int fd);

/* Prints "boxlite: <what>: <library message>" to stderr; returns 125 (docker's status for
 * errors of the tool itself, as opposed to the command run in the box). */
int cli_fail(const char *what);
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_open(struct cli *c);
/* The runtime options JSON of the global flags (--qemu), malloc'd, or NULL when none. */
char *cli_runtime_options(const struct cli *c);
/* Prints the engine's one-line notice for a started box (e.g. running under QEMU without
 * hardware virtualization, slower), if it has one. */
/* The library's notices for the last call (boxlite_last_notice), one line each, on stderr. */
void cli_print_last_notice(void);
/* The same, then the box's engine notice (a fallback engine). Call right after starting. */
void cli_print_notice(boxlite_box *b);

/* Box flags shared by run and create (the table box_flag_table in cli/verbs.c), applied to
 * o; the image and command are a->ops. */
struct box_flags {
    bool interactive, tty, rm, detach, restart;
    const char *engine;
    const char *entrypoint; /* --entrypoint, or NULL */
};
int cli_apply_box_flags(const struct cli_args *a, boxlite_options *o, struct box_flags *f);
/* The exit status for a failed boxlite_exec_start, Docker's convention, with the error
 * printed: 127 when the program is not found in the box, 126 when it could not be run
 * (not executable, bad working directory or user), else 125 (the tool's own error). */
int cli_exec_failed(const char *what);
/* "512", "512m", "2g" -> MiB; -1 if malformed, zero or too large. */
long long cli_parse_mib(const char *s);
/* "4096", "64k", "1m" -> bytes; -1 if malformed, zero or too large. */
long long cli_parse_bytes(const char *s);
/* "30s", "500ms", "2m", "1h" (a plain number is seconds) -> ms; -1 if malformed. */
long long cli_parse_duration_ms(const char *s);
/* A whole number between lo and hi; -1 if malformed or out of range (never wrapped). */
int cli_parse_ll(const char *s, long long lo, long long hi, long long *out);
/* Our terminal (fd 0, when it is one) in raw mode until cli_tty_restore or exit, its
 * resizes noticed (SIGWINCH); cli_tty_resized gives the new size once after each, and
 * once at the start (cmd_run.c). */
void cli_tty_raw(void);
void cli_tty_restore(void);
bool cli_tty_resized(int *rows, int *cols);
/* Writes guest text to a terminal with its control characters made visible (escape
 * sequences could retitle the window, set the clipboard, clear the screen): ESC as ^[,
 * C1 controls as \u009b, a lone CR as ^M. State carries across calls; flush at the end. */
struct term_escape { bool cr, c2; };
void term_escape_write(struct term_escape *st, int fd, const char *p, size_t n);
void term_escape_flush(struct term_escape *st, int fd);

/* --format (cli/format.c): "table", "json", "table TEMPLATE" or TEMPLATE. */
struct cli_format {
    enum { FMT_TABLE, FMT_JSON, FMT_TEMPLATE } kind;
    bool header;      /* "table TEMPLATE": aligned columns under a header */
    const char *tmpl;
};
/* Checks spec; 0, or 125 with the error printed. */
int cli_format_parse(const char *spec, struct cli_format *f);
/* One line for obj (JSON, or the template filled), malloc'd; the header line likewise. */
char *cli_format_row(const struct cli_format *f, json_t *obj);
char *cli_format_header(const struct cli_format *f);
/* Lines of tab-separated cells printed as aligned columns; the table owns the lines. */
struct cli_table { char **lines; size_t n; };
void cli_table_add(struct cli_table *t, char *line);
void cli_table_print(struct cli_table *t, FILE *out, bool align);
void cli_labels_text(json_t *labels, char *out, size_t len);
/* Sizes for people: "1.5 MiB". */
const char *cli_human_bytes(unsigned long long b, char *buf, size_t n);

/* Runs argv in the box and collects its output; returns its status (or 125/126/127 as
 * cli_exec_failed, with the error printed). */
int cli_capture(boxlite_box *b, const char **argv, char **out, char **err);
/* Reads y/yes on stdin after printing question on stderr. */
bool cli_confirm(const char *question);
/* Removes every stopped or configured box (every box with force), printing their ids. */
int cli_remove_all(struct cli *c, bool force, unsigned *count);

/* A stopped box's status (wait, attach): see `boxlite wait --help`. */
int cli_stop_status(json_t *info);
/* Printing shared by a verb and its --url form (the records in the library's shape):
 * port's lines (ports NULL: only its GUEST-PORT checked), snapshot ls's table, the images
 * table by its flags (arr NULL: only the flags checked), one reclaim line (1 for an error),
 * and snapshot's action and operands checked. */
int cli_port_show(const struct cli_args *a, json_t *ports);
void cli_snapshot_print(json_t *list);
int cli_images_print(json_t *arr, const struct cli_args *a);
int cli_print_reclaimed(json_t *o);
/* One of doctor's lines: "STATUS NAME: detail (fix: ...)". */
void cli_doctor_line(const char *status, const char *name, const char *detail,
                     const char *fix);
/* pull's per-layer progress as `boxlite pull` shows it (bars on a terminal, a line per
 * finished layer elsewhere), fed with the library's callback figures or a server's. */
struct cli_pull_view;
struct cli_pull_view *cli_pull_view_new(void);
void cli_pull_view_show(struct cli_pull_view *v, int layer, int n_layers, const char *digest,
                        unsigned long long done, unsigned long long total);
void cli_pull_view_end(struct cli_pull_view *v); /* the last redraw, then freed */
/* reclaim's --idle as milliseconds (0: not given) into *idle; 0, or the usage error's
 * status (a bad duration, or --idle beside named boxes). */
int cli_reclaim_idle(const struct cli_args *a, long long *idle);
int cli_snapshot_action(const struct cli_args *a, bool *ls);
/* Waits until the box is no longer running; its info then, or NULL. */
json_t *cli_wait_stopped(boxlite_box *b);
/* --restart (cli/restart.c): the policy's syntax; a supervisor for b if it has one. */

int cmd_create(struct cli *c, const struct cli_args *a);
int cmd_start(struct cli *c, const struct cli_args *a);
int cmd_stop(struct cli *c, const struct cli_args *a);
int cmd_rm(struct cli *c, const struct cli_args *a);
int cmd_ps(struct cli *c, const struct cli_args *a);
int cmd_inspect(struct cli *c, const struct cli_args *a);
int cmd_version(struct cli *c, const struct cli_args *a);
int cmd_run(struct cli *c, const struct cli_args *a);
int cmd_exec(struct cli *c, const struct cli_args *a);
int cmd_logs(struct cli *c, const struct cli_args *a);
int cmd_cp(struct cli *c, const struct cli_args *a);
int cmd_stats(struct cli *c, const struct cli_args *a);
/* Where stats reads its figures: the library here, a server with --url (cli/remote_stream.c).
 * keys: the ids of the boxes named in a, or of every running box (*keys the caller's);
 * take: one box's library metrics and its info ({"id","name","state","memory_mib"}),
 * both left NULL when the box is gone. */
struct stats_source {
    int (*keys)(void *ud, const struct cli_args *a, char (**keys)[80], int *n);
    void (*take)(void *ud, const char *key, json_t **metrics, json_t **info);
    void *ud;
};
int cli_stats(const struct cli_args *a, const struct stats_source *src);
int cmd_pull(struct cli *c, const struct cli_args *a);
int cmd_images(struct cli *c, const struct cli_args *a);
int cmd_rmi(struct cli *c, const struct cli_args *a);
int cmd_doctor(struct cli *c, const struct cli_args *a);
int cmd_help(struct cli *c, const struct cli_args *a);
int cmd_restart(struct cli *c, const struct cli_args *a);
int cmd_wait(struct cli *c, const struct cli_args *a);
int cmd_port(struct cli *c, const struct cli_args *a);
int cmd_rename(struct cli *c, const struct cli_args *a);
int cmd_pause(struct cli *c, const struct cli_args *a);
int cmd_resume(struct cli *c, const struct cli_args *a);
int cmd_fork(struct cli *c, const struct cli_args *a);
int cmd_prune(struct cli *c, const struct cli_args *a);
int cmd_attach(struct cli *c, const struct cli_args *a);
int cmd_top(struct cli *c, const struct cli_args *a);
/* top's listing of processes for an image without ps (sh -c ...), NULL-terminated. */
extern const char *const cli_top_proc_ls[];
int cmd_kill(struct cli *c, const struct cli_args *a);
int cmd_image_prune(struct cli *c, const struct cli_args *a);
int cmd_completion(struct cli *c, const struct cli_args *a);
int cmd_snapshot(struct cli *c, const struct cli_args *a);
int cmd_clone(struct cli *c, const struct cli_args *a);
int cmd_export(struct cli *c, const struct cli_args *a);
int cmd_import(struct cli *c, const struct cli_args *a);
int cmd_reclaim(struct cli *c, const struct cli_args *a);
int cmd_balloon(struct cli *c, const struct cli_args *a);
int cmd_serve(struct cli *c, const struct cli_args *a);

#endif
