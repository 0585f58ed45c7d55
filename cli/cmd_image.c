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

struct pull_view {
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

static const char *human(unsigned long long b, char *buf, size_t n)
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

static void draw(struct pull_view *v)
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
            printf("%s done\n", human(l->total, a, sizeof a));
        else if (l->seen)
            printf("%s / %s\n", human(l->done, a, sizeof a), human(l->total, b, sizeof b));
        else
            printf("\n");
    }
    v->drawn = v->n;
    fflush(stdout);
}

static void show_progress(void *ud, int layer, int n_layers, const char *digest,
                          unsigned long long done, unsigned long long total)
{
    struct pull_view *v = ud;
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

int cmd_pull(struct cli *c, int argc, char **argv)
{
    int quiet = 0, first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "-q") || !strcmp(argv[first], "--quiet"))
            quiet = 1;
        else
            return cli_usage_error("pull: unknown option %s", argv[first]);
    }
    if (first + 1 != argc)
        return cli_usage_error("pull: name exactly one image (boxlite pull [-q] REF)");
    int r = cli_open(c);
    if (r)
        return r;
    struct pull_view v = { .tty = isatty(STDOUT_FILENO) };
    int rc = boxlite_image_pull(c->rt, argv[first], quiet ? NULL : on_progress, &v);
    if (v.tty && v.n)
        draw(&v);
    free(v.lines);
    if (rc != BOXLITE_OK) {
        fprintf(stderr, "boxlite: %s\n", boxlite_errmsg()); /* it names the reference */
        return 125;
    }
    cli_print_last_notice(); /* the name a short reference resolved to, a mirror passed over */
    printf("pulled %s\n", argv[first]);
    return 0;
}

/* ---- images ---------------------------------------------------------------------------- */

int cmd_images(struct cli *c, int argc, char **argv)
{
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else
            return cli_usage_error("images: unknown option %s", argv[i]);
    }
    int r = cli_open(c);
    if (r)
        return r;
    char *list = NULL;
    if (boxlite_image_list(c->rt, &list) != BOXLITE_OK)
        return cli_fail("images");
    if (as_json) {
        printf("%s\n", list);
        boxlite_free(list);
        return 0;
    }
    json_t *arr = json_loads(list, 0, NULL);
    boxlite_free(list);
    printf("%-48s  %-12s  %-10s  %-6s  %s\n", "REFERENCE", "IMAGE ID", "SIZE", "LAYERS",
           "CREATED");
    size_t i;
    json_t *im;
    json_array_foreach(arr, i, im) {
        char sz[32];
        const char *id = json_string_value(json_object_get(im, "id"));
        const char *created = json_string_value(json_object_get(im, "created"));
        printf("%-48s  %-12.12s  %-10s  %-6lld  %.19s\n",
               json_string_value(json_object_get(im, "ref")), id ? id : "",
               human((unsigned long long)json_integer_value(json_object_get(im, "size")), sz,
                     sizeof sz),
               (long long)json_integer_value(json_object_get(im, "layers")),
               created ? created : "-");
    }
    json_decref(arr);
    return 0;
}

/* ---- rmi ------------------------------------------------------------------------------- */

int cmd_rmi(struct cli *c, int argc, char **argv)
{
    int force = 0, first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "-f") || !strcmp(argv[first], "--force"))
            force = 1;
        else
            return cli_usage_error("rmi: unknown option %s", argv[first]);
    }
    if (first >= argc)
        return cli_usage_error("rmi: name at least one image");
    int r = cli_open(c), failed = 0;
    if (r)
        return r;
    for (int i = first; i < argc; i++) {
        if (boxlite_image_remove(c->rt, argv[i], force) != BOXLITE_OK) {
            fprintf(stderr, "boxlite: %s\n", boxlite_errmsg());
            failed = 1;
        } else {
            printf("removed %s\n", argv[i]);
        }
    }
    return failed ? 125 : 0;
}
