/* The boxlite command: one verb per file, sharing these helpers. */
#ifndef CLI_H
#define CLI_H

#include "boxlite.h"

#include <stdbool.h>
#include <stddef.h>

struct cli {
    const char *home; /* --home, or NULL for the library's default */
    boxlite_runtime *rt;
};

struct cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(struct cli *c, int argc, char **argv);
};

/* Prints "boxlite: <what>: <library message>" to stderr; returns 125 (docker's status for
 * errors of the tool itself, as opposed to the command run in the box). */
int cli_fail(const char *what);
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_open(struct cli *c);
/* Prints the engine's one-line notice for a started box (e.g. running under QEMU without
 * hardware virtualization, slower), if it has one. */
/* The library's notices for the last call (boxlite_last_notice), one line each, on stderr. */
void cli_print_last_notice(void);
/* The same, then the box's engine notice (a fallback engine). Call right after starting. */
void cli_print_notice(boxlite_box *b);

/* Box flags shared by run and create. Parses argv from optind on, leaving the image and
 * command at argv[*next]. */
struct box_flags {
    bool interactive, tty, rm, detach;
    const char *engine;
    const char *entrypoint; /* --entrypoint, or NULL */
};
int cli_parse_box_flags(int argc, char **argv, boxlite_options *o, struct box_flags *f,
                        int *next);
/* "512", "512m", "2g" -> MiB; -1 if malformed, zero or too large. */
long long cli_parse_mib(const char *s);
/* "4096", "64k", "1m" -> bytes; -1 if malformed, zero or too large. */
long long cli_parse_bytes(const char *s);
/* "30s", "500ms", "2m", "1h" (a plain number is seconds) -> ms; -1 if malformed. */
long long cli_parse_duration_ms(const char *s);
/* A whole number between lo and hi; -1 if malformed or out of range (never wrapped). */
int cli_parse_ll(const char *s, long long lo, long long hi, long long *out);
/* Writes guest text to a terminal with its control characters made visible (escape
 * sequences could retitle the window, set the clipboard, clear the screen): ESC as ^[,
 * C1 controls as \u009b, a lone CR as ^M. State carries across calls; flush at the end. */
struct term_escape { bool cr, c2; };
void term_escape_write(struct term_escape *st, int fd, const char *p, size_t n);
void term_escape_flush(struct term_escape *st, int fd);

int cmd_create(struct cli *c, int argc, char **argv);
int cmd_start(struct cli *c, int argc, char **argv);
int cmd_stop(struct cli *c, int argc, char **argv);
int cmd_rm(struct cli *c, int argc, char **argv);
int cmd_ps(struct cli *c, int argc, char **argv);
int cmd_inspect(struct cli *c, int argc, char **argv);
int cmd_version(struct cli *c, int argc, char **argv);
int cmd_run(struct cli *c, int argc, char **argv);
int cmd_exec(struct cli *c, int argc, char **argv);
int cmd_logs(struct cli *c, int argc, char **argv);
int cmd_cp(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_pull(struct cli *c, int argc, char **argv);
int cmd_images(struct cli *c, int argc, char **argv);
int cmd_rmi(struct cli *c, int argc, char **argv);
int cmd_doctor(struct cli *c, int argc, char **argv);

#endif
