// SPDX-License-Identifier: Apache-2.0
/* --format for ps, images and inspect: "table" (the verb's columns), "json" (one JSON object
 * per line), "table TEMPLATE" (aligned columns with a header) or a TEMPLATE in the spirit of
 * Docker's Go templates: {{.Field}}, {{.Field.Sub}}, {{json .Field}}, {{json .}}, with \t and
 * \n as tab and newline. Field names match the JSON keys ignoring case and underscores
 * ({{.ExitCode}} is "exit_code"); a missing field prints "<no value>", an object or array
 * prints as JSON. Anything else in {{ }} is an error, said before any output. */
#include "cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct buf { char *p; size_t n, cap; };

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256) + n;
        char *p = realloc(b->p, cap);
        if (!p)
            return; /* output truncated: only on exhaustion */
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static bool key_eq(const char *json_key, const char *field, size_t len)
{
    size_t i = 0;
    for (const char *k = json_key; *k; k++) {
        if (*k == '_')
            continue;
        if (i >= len || tolower((unsigned char)*k) != tolower((unsigned char)field[i]))
            return false;
        i++;
    }
    return i == len;
}

/* ".A.B" in obj; NULL if missing. "." alone is obj. */
static json_t *lookup(json_t *obj, const char *path, size_t len)
{
    if (len == 1 && path[0] == '.')
        return obj;
    json_t *cur = obj;
    size_t i = 0;
    while (i < len) {
        if (path[i] != '.' || !json_is_object(cur))
            return NULL;
        size_t start = ++i;
        while (i < len && path[i] != '.')
            i++;
        const char *k;
        json_t *v, *found = NULL;
        json_object_foreach(cur, k, v) {
            if (key_eq(k, path + start, i - start)) {
                found = v;
                break;
            }
        }
        if (!found)
            return NULL;
        cur = found;
    }
    return cur;
}

static void put_value(struct buf *b, json_t *v, bool as_json)
{
    char num[64];
    if (!v) {
        put(b, "<no value>", 10);
    } else if (!as_json && json_is_string(v)) {
        put(b, json_string_value(v), json_string_length(v));
    } else if (!as_json && json_is_integer(v)) {
        int n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(b, num, (size_t)n);
    } else if (!as_json && json_is_null(v)) {
        /* nothing: Docker prints <nil>, which reads as an error */
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s)
            put(b, s, strlen(s));
        free(s);
    }
}

/* The header of a column from its field: ".RunningFor" -> "CREATED" (Docker's), else the
 * name in words: ".ExitCode" -> "EXIT CODE", "." -> "". */
static void put_header(struct buf *b, const char *path, size_t len)
{
    static const char *const named[][2] = {
        { "RunningFor", "CREATED" }, { "Ref", "REFERENCE" }, { "ID", "ID" }, { "CPUPerc", "CPU %" },
        { "MemPerc", "MEM %" }, { "MemUsage", "MEM USAGE / LIMIT" }, { "NetIO", "NET I/O" },
        { "BlockIO", "BLOCK I/O" }, { "PIDs", "PIDS" }, { "GuestMem", "GUEST MEM" },
    };
    const char *last = path;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '.')
            last = path + i + 1;
    size_t n = len - (size_t)(last - path);
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strlen(named[i][0]) == n && !strncmp(named[i][0], last, n)) {
            put(b, named[i][1], strlen(named[i][1]));
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char c = last[i];
        if (i && isupper((unsigned char)c) && islower((unsigned char)last[i - 1]))
            put(b, " ", 1);
        c = c == '_' ? ' ' : (char)toupper((unsigned char)c);
        put(b, &c, 1);
    }
}

/* Renders tmpl with obj (or, header true, the columns' names). NULL with *why on a bad
 * template. */
static char *render(const char *tmpl, json_t *obj, bool header, const char **why)
{
    struct buf b = { 0 };
    put(&b, "", 0);
    for (const char *p = tmpl; *p;) {
        if (p[0] == '\\' && (p[1] == 't' || p[1] == 'n')) {
            put(&b, p[1] == 't' ? "\t" : "\n", 1);
            p += 2;
            continue;
        }
        if (p[0] != '{' || p[1] != '{') {
            put(&b, p, 1);
            p++;
            continue;
        }
        const char *end = strstr(p + 2, "}}");
        if (!end) {
            *why = "unclosed {{";
            free(b.p);
            return NULL;
        }
        const char *a = p + 2, *z = end;
        while (a < z && *a == ' ')
            a++;
        while (z > a && z[-1] == ' ')
            z--;
        bool as_json = false;
        if ((size_t)(z - a) > 5 && !strncmp(a, "json ", 5)) {
            as_json = true;
            a += 5;
            while (a < z && *a == ' ')
                a++;
        }
        if (a == z || *a != '.' || memchr(a, ' ', (size_t)(z - a))) {
            *why = "expected {{.Field}}, {{.Field.Sub}}, {{json .Field}} or {{json .}}";
            free(b.p);
            return NULL;
        }
        if (header)
            put_header(&b, a, (size_t)(z - a));
        else
            put_value(&b, lookup(obj, a, (size_t)(z - a)), as_json);
        p = end + 2;
    }
    return b.p;
}

int cli_format_parse(const char *spec, struct cli_format *f)
{
    memset(f, 0, sizeof *f);
    if (!spec || !strcmp(spec, "table")) {
        f->kind = FMT_TABLE;
        return 0;
    }
    if (!strcmp(spec, "json")) {
        f->kind = FMT_JSON;
        return 0;
    }
    f->kind = FMT_TEMPLATE;
    f->tmpl = spec;
    if (!strncmp(spec, "table ", 6)) {
        f->header = true;
        f->tmpl = spec + 6;
    }
    const char *why = NULL;
    char *probe = render(f->tmpl, NULL, true, &why);
    free(probe);
    if (!probe)
        return cli_usage_error("--format %s: %s", spec, why);
    return 0;
}

char *cli_format_row(const struct cli_format *f, json_t *obj)
{
    const char *why;
    if (f->kind == FMT_JSON)
        return json_dumps(obj, JSON_COMPACT);
    return render(f->tmpl, obj, false, &why);
}

char *cli_format_header(const struct cli_format *f)
{
    const char *why;
    return render(f->tmpl, NULL, true, &why);
}

/* ---- aligned columns ------------------------------------------------------------------- */

void cli_table_add(struct cli_table *t, char *line)
{
    char **n = realloc(t->lines, (t->n + 1) * sizeof *n);
    if (!n) {
        free(line);
        return;
    }
    t->lines = n;
    t->lines[t->n++] = line;
}

/* Cells are tab-separated; each column is as wide as its widest cell, 3 spaces apart (as
 * Docker's tabwriter). Unaligned, each line is printed as it is (a --format without
 * "table", -q). */
void cli_table_print(struct cli_table *t, FILE *out, bool align)
{
    size_t width[32] = { 0 };
    for (size_t i = 0; align && i < t->n; i++) {
        size_t col = 0;
        for (const char *p = t->lines[i]; p && col < 32; col++) {
            size_t w = strcspn(p, "\t");
            if (w > width[col])
                width[col] = w;
            p = p[w] ? p + w + 1 : NULL;
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        size_t col = 0;
        if (!align)
            fprintf(out, "%s", t->lines[i] ? t->lines[i] : "");
        for (const char *p = align ? t->lines[i] : NULL; p; col++) {
            size_t w = strcspn(p, "\t");
            bool last = !p[w];
            if (last || col >= 32)
                fprintf(out, "%s", p);
            else
                fprintf(out, "%.*s%*s", (int)w, p, (int)(width[col] - w + 3), "");
            if (last || col >= 32)
                break;
            p += w + 1;
        }
        fputc('\n', out);
        free(t->lines[i]);
    }
    free(t->lines);
    t->lines = NULL;
    t->n = 0;
}

/* A box's or image's labels as "k=v,k2=v2" (ps and images --format .Labels), cut to len. */
void cli_labels_text(json_t *labels, char *out, size_t len)
{
    const char *k;
    json_t *v;
    size_t off = 0;
    out[0] = 0;
    json_object_foreach(labels, k, v) {
        int n = snprintf(out + off, len - off, "%s%s=%s", off ? "," : "", k, json_string_value(v));
        if (n < 0 || (size_t)n >= len - off)
            break;
        off += (size_t)n;
    }
}
