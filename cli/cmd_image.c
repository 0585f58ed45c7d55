// SPDX-License-Identifier: Apache-2.0
/* Verbs on the local image store: pull, images, rmi. */
#include "cli.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* ---- pull ------------------------------------------------------------------------------ */

struct layer_line {
    char digest[80];
    unsigned long long done, total;
    int seen, finished;
};

struct cli_pull_view {
    int tty;
    struct layer_line *lines;
    int n;          /* lines known so far */
    int drawn;      /* lines on the screen from the last redraw */
    int n_layers;   /* 0 while unknown */
    long long last_ms;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "sha256:0123456789ab…" */
static const char *short_digest(const char *d, char *buf, size_t n)
{
    const char *hex = strchr(d, ':');
    size_t algo = hex ? (size_t)(hex - d) + 1 : 0;
    if (strlen(d) > algo + 12)
        snprintf(buf, n, "%.*s%.12s\u2026", (int)algo, d, d + algo);
    else
        snprintf(buf, n, "%s", d);
    return buf;
}

const char *cli_human_bytes(unsigned long long b, char *buf, size_t n)
{
    if (b < 1024)
        snprintf(buf, n, "%llu B", b);
    else if (b < 1024ULL * 1024)
        snprintf(buf, n, "%.1f KiB", b / 1024.0);
    else if (b < 1024ULL * 1024 * 1024)
        snprintf(buf, n, "%.1f MiB", b / 1048576.0);
    else
        snprintf(buf, n, "%.2f GiB", b / 1073741824.0);
    return buf;
}

/* Bar width: a line that wraps would break the cursor-up redraw, so the bar gives way on a
 * narrow terminal (the rest of a line takes about 56 columns). */
static int bar_width(void)
{
    struct winsize ws;
    int cols = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
    int w = cols - 57;
    return w > 24 ? 24 : w < 4 ? 0 : w;
}

static void draw(struct cli_pull_view *v)
{
    if (v->drawn)
        printf("\033[%dA", v->drawn);
    const int width = bar_width();
    for (int i = 0; i < v->n; i++) {
        struct layer_line *l = &v->lines[i];
        char sd[64], a[32], b[32], bar[32];
        int fill = l->total ? (int)(l->done * width / l->total) : 0;
        if (fill > width)
            fill = width;
        for (int k = 0; k < width; k++)
            bar[k] = k < fill ? '=' : (k == fill && !l->finished && l->seen) ? '>' : ' ';
        bar[width] = 0;
        printf("\r\033[2Klayer %d/%d %s %s%s%s", i + 1, v->n_layers ? v->n_layers : v->n,
               l->seen ? short_digest(l->digest, sd, sizeof sd) : "waiting",
               width ? "[" : "", bar, width ? "] " : "");
        if (l->finished)
            printf("%s done\n", cli_human_bytes(l->total, a, sizeof a));
        else if (l->seen)
            printf("%s / %s\n", cli_human_bytes(l->done, a, sizeof a), cli_human_bytes(l->total, b, sizeof b));
        else
            printf("\n");
    }
    v->drawn = v->n;
    fflush(stdout);
}

static void show_progress(void *ud, int layer, int n_layers, const char *digest,
                          unsigned long long done, unsigned long long total)
{
    struct cli_pull_view *v = ud;
    if (layer < 0 || layer > 100000)
        return;
    if (n_layers > v->n_layers)
        v->n_layers = n_layers;
    int want = layer + 1 > v->n_layers ? layer + 1 : v->n_layers;
    if (want > v->n) {
        struct layer_line *nl = realloc(v->lines, (size_t)want * sizeof *nl);
        if (!nl)
            return;
        memset(nl + v->n, 0, (size_t)(want - v->n) * sizeof *nl);
        v->lines = nl;
        v->n = want;
    }
    struct layer_line *l = &v->lines[layer];
    snprintf(l->digest, sizeof l->digest, "%s", digest);
    l->seen = 1;
    l->done = done;
    l->total = total;
    int finished_now = !l->finished && total > 0 && done >= total;
    if (finished_now)
        l->finished = 1;
    if (!v->tty) {
        if (finished_now) {
            char sd[64];
            if (v->n_layers)
                printf("layer %d/%d %s done\n", layer + 1, v->n_layers,
                       short_digest(digest, sd, sizeof sd));
            else
                printf("layer %d %s done\n", layer + 1, short_digest(digest, sd, sizeof sd));
            fflush(stdout);
        }
        return;
    }
    /* A redraw for every chunk would flood a slow terminal. */
    long long t = now_ms();
    if (finished_now || t - v->last_ms >= 100) {
        v->last_ms = t;
        draw(v);
    }
}

static int on_progress(void *ud, int layer, int n_layers, const char *digest,
                       unsigned long long done, unsigned long long total)
{
    show_progress(ud, layer, n_layers, digest, done, total);
    return BOXLITE_PULL_CONTINUE;
}

struct cli_pull_view *cli_pull_view_new(void)
{
    struct cli_pull_view *v = calloc(1, sizeof *v);
    if (v) /* bars and cursor movement only on a terminal, and not with NO_COLOR */
        v->tty = cli_fancy(STDOUT_FILENO);
    return v;
}

void cli_pull_view_show(struct cli_pull_view *v, int layer, int n_layers, const char *digest,
                        unsigned long long done, unsigned long long total)
{
    if (v)
        show_progress(v, layer, n_layers, digest, done, total);
}

void cli_pull_view_end(struct cli_pull_view *v)
{
    if (!v)
        return;
    if (v->tty && v->n)
        draw(v);
    free(v->lines);
    free(v);
}

int cmd_pull(struct cli *c, const struct cli_args *a)
{
    int quiet = 0;
    const char *platform = NULL;
    for (int i = 0; i < a->nopts; i++) {
        if (a->opts[i].id == FL_QUIET)
            quiet = 1;
        else if (a->opts[i].id == FL_PLATFORM)
            platform = a->opts[i].value;
    }
    const char *ref = a->ops[0];
    int r = cli_open(c);
    if (r)
        return r;
    struct cli_pull_view *v = quiet ? NULL : cli_pull_view_new();
    int rc = boxlite_image_pull_platform(c->rt, ref, platform, v ? on_progress : NULL, v);
    cli_pull_view_end(v);
    if (rc != BOXLITE_OK) {
        fprintf(stderr, "boxlite: %s\n", boxlite_errmsg()); /* it names the reference */
        return 125;
    }
    cli_print_last_notice(); /* the name a short reference resolved to, a mirror passed over */
    printf("pulled %s\n", ref);
    return 0;
}

/* ---- images ---------------------------------------------------------------------------- */

/* A row of images, the fields its --format documents (verbs.c). */
static json_t *image_row(json_t *im, bool no_trunc)
{
    const char *ref = json_string_value(json_object_get(im, "ref"));
    const char *id = json_string_value(json_object_get(im, "id"));
    const char *created = json_string_value(json_object_get(im, "created"));
    char repo[512], tag[256] = "", id12[13], size[32];
    snprintf(repo, sizeof repo, "%s", ref ? ref : "");
    /* the tag is after the last ':' that follows the last '/' (a registry's port is not) */
    char *at = strchr(repo, '@'), *slash = strrchr(repo, '/'), *colon = strrchr(repo, ':');
    if (at) {
        snprintf(tag, sizeof tag, "%s", at);
        *at = 0;
    } else if (colon && (!slash || colon > slash)) {
        snprintf(tag, sizeof tag, "%s", colon + 1);
        *colon = 0;
    }
    snprintf(id12, sizeof id12, "%.12s", id ? id : "");
    json_t *row = json_object();
    json_object_set_new(row, "ID", json_string(no_trunc && id ? id : id12));
    json_object_set_new(row, "Ref", json_string(ref ? ref : ""));
    json_object_set_new(row, "Repository", json_string(repo));
    json_object_set_new(row, "Tag", json_string(tag));
    json_object_set_new(row, "Size", json_string(cli_human_bytes(
        (unsigned long long)json_integer_value(json_object_get(im, "size")), size, sizeof size)));
    json_object_set(row, "Bytes", json_object_get(im, "size"));
    json_object_set(row, "Layers", json_object_get(im, "layers"));
    json_object_set_new(row, "CreatedAt", json_string(created ? created : ""));
    return row;
}

/* The library's image list (boxlite_image_list's entries) as `images` prints it, by its
 * flags (--json, -q, --no-trunc, --format). Shared with `images --url`. */
int cli_images_print(json_t *arr, const struct cli_args *a)
{
    bool as_json = false, quiet = false, no_trunc = false;
    const char *format = NULL;
    for (int i = 0; i < a->nopts; i++) {
        switch (a->opts[i].id) {
        case FL_JSON: as_json = true; break;
        case FL_QUIET: quiet = true; break;
        case FL_NO_TRUNC: no_trunc = true; break;
        case FL_FORMAT: format = a->opts[i].value; break;
        }
    }
    struct cli_format fmt;
    int r = cli_format_parse(format, &fmt);
    if (r || !arr)
        return r;
    if (as_json) {
        char *s = json_dumps(arr, JSON_COMPACT);
        printf("%s\n", s ? s : "[]");
        free(s);
        return 0;
    }
    if (fmt.kind == FMT_TABLE) {
        fmt.kind = FMT_TEMPLATE;
        fmt.header = true;
        fmt.tmpl = "{{.Ref}}\t{{.ID}}\t{{.Size}}\t{{.Layers}}\t{{.CreatedAt}}";
    }
    struct cli_table t = { 0 };
    if (fmt.header && !quiet)
        cli_table_add(&t, cli_format_header(&fmt));
    size_t i;
    json_t *im;
    json_array_foreach(arr, i, im) {
        json_t *row = image_row(im, no_trunc);
        cli_table_add(&t, quiet ? strdup(json_string_value(json_object_get(row, "ID")))
                                : cli_format_row(&fmt, row));
        json_decref(row);
    }
    cli_table_print(&t, stdout, fmt.header && !quiet);
    return 0;
}

int cmd_images(struct cli *c, const struct cli_args *a)
{
    int r = cli_images_print(NULL, a); /* the flags checked before the home is opened */
    if (r || (r = cli_open(c)))
        return r;
    char *list = NULL;
    if (boxlite_image_list(c->rt, &list) != BOXLITE_OK)
        return cli_fail("images");
    json_t *arr = json_loads(list, 0, NULL);
    boxlite_free(list);
    r = cli_images_print(arr, a);
    json_decref(arr);
    return r;
}

/* ---- rmi ------------------------------------------------------------------------------- */

int cmd_rmi(struct cli *c, const struct cli_args *a)
{
    int force = 0;
    for (int i = 0; i < a->nopts; i++)
        if (a->opts[i].id == FL_FORCE)
            force = 1;
    int r = cli_open(c), failed = 0;
    if (r)
        return r;
    for (int i = 0; i < a->nops; i++) {
        if (boxlite_image_remove(c->rt, a->ops[i], force) != BOXLITE_OK) {
            fprintf(stderr, "boxlite: %s\n", boxlite_errmsg());
            failed = 1;
        } else {
            printf("removed %s\n", a->ops[i]);
        }
    }
    return failed ? 125 : 0;
}

/* ---- image prune ------------------------------------------------------------------------ */

/* Removes every image no box was created from: the library refuses (BOXLITE_ERR_STATE) one
 * that a box still uses, and that refusal is what keeps it. */
int cmd_image_prune(struct cli *c, const struct cli_args *a)
{
    bool force = false;
    for (int i = 0; i < a->nopts; i++)
        force |= a->opts[i].id == FL_FORCE;
    if (!force && !cli_confirm("WARNING! This will remove all images no box uses.\nAre you "
                               "sure you want to continue?"))
        return 0;
    int r = cli_open(c);
    if (r)
        return r;
    char *list = NULL;
    if (boxlite_image_list(c->rt, &list) != BOXLITE_OK)
        return cli_fail("image prune");
    json_t *arr = json_loads(list, 0, NULL);
    boxlite_free(list);
    size_t i, n = 0;
    json_t *im;
    json_array_foreach(arr, i, im) {
        const char *ref = json_string_value(json_object_get(im, "ref"));
        if (!ref)
            continue;
        if (boxlite_image_remove(c->rt, ref, 0) == BOXLITE_OK) {
            printf("removed %s\n", ref);
            n++;
        } else if (boxlite_errcode() != BOXLITE_ERR_STATE &&
                   boxlite_errcode() != BOXLITE_ERR_NOT_FOUND) {
            fprintf(stderr, "boxlite: %s\n", boxlite_errmsg());
            r = 125;
        }
    }
    json_decref(arr);
    fprintf(stderr, "Removed %zu image%s\n", n, n == 1 ? "" : "s");
    return r;
}
