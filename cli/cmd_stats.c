// SPDX-License-Identifier: Apache-2.0
/* stats: boxes' CPU, memory and network, like `docker stats`. The per-box process refreshes
 * its figures about once a second (boxlite_box_metrics "vmm"): CPU % is the VM process's
 * CPU time over the wall time between two readings (100% = one host CPU), memory the
 * resident size of the box's processes (guest RAM included) against the box's memory;
 * .GuestMem the guest RAM resident on the host, .Returned what the balloon gave back. On a terminal the table is redrawn every second
 * until Ctrl-C; --no-stream prints one table (after the two readings a CPU figure needs);
 * --json prints the library's metrics as they are. */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct sample {
    char key[80];
    json_t *metrics, *info;
    double cpu_us, at_us;
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void take(const struct stats_source *src, struct sample *s)
{
    json_decref(s->metrics);
    json_decref(s->info);
    s->metrics = s->info = NULL;
    src->take(src->ud, s->key, &s->metrics, &s->info);
    json_t *vmm = json_object_get(s->metrics, "vmm");
    s->at_us = now_us();
    s->cpu_us = (double)json_integer_value(json_object_get(vmm, "cpu_user_us")) +
                (double)json_integer_value(json_object_get(vmm, "cpu_sys_us"));
}

/* The library's figures of a box (the local source). */
static void local_take(void *ud, const char *key, json_t **metrics, json_t **info)
{
    struct cli *c = ud;
    boxlite_box *b = NULL;
    char *m = NULL, *i = NULL;
    if (boxlite_box_get(c->rt, key, &b) == BOXLITE_OK &&
        boxlite_box_metrics(b, &m) == BOXLITE_OK && boxlite_box_info(b, &i) == BOXLITE_OK) {
        *metrics = json_loads(m, 0, NULL);
        *info = json_loads(i, 0, NULL);
    }
    boxlite_free(m);
    boxlite_free(i);
    boxlite_box_free(b);
}

/* The row's fields (stats --help documents them). */
static json_t *row(const struct sample *prev, const struct sample *cur)
{
    json_t *vmm = json_object_get(cur->metrics, "vmm");
    const char *id = json_string_value(json_object_get(cur->info, "id"));
    const char *state = json_string_value(json_object_get(cur->info, "state"));
    bool running = state && !strcmp(state, "running") && json_is_object(vmm);
    double wall = cur->at_us - prev->at_us;
    double cpu = running && wall > 0 && prev->metrics ? (cur->cpu_us - prev->cpu_us) * 100.0 / wall : 0;
    if (cpu < 0)
        cpu = 0;
    /* what the box costs the host: its processes' resident memory, guest RAM included
     * (host_rss_bytes), where the engine counts it; else the engine's own */
    unsigned long long rss = (unsigned long long)json_integer_value(json_object_get(vmm, "host_rss_bytes"));
    if (!rss)
        rss = (unsigned long long)json_integer_value(json_object_get(vmm, "rss_bytes"));
    unsigned long long guest = (unsigned long long)json_integer_value(json_object_get(vmm, "guest_resident_bytes"));
    unsigned long long back = (unsigned long long)json_integer_value(json_object_get(vmm, "mem_returned_bytes"));
    unsigned long long limit = (unsigned long long)json_integer_value(json_object_get(cur->info, "memory_mib")) << 20;
    unsigned long long rx = (unsigned long long)json_integer_value(json_object_get(vmm, "net_rx_bytes"));
    unsigned long long tx = (unsigned long long)json_integer_value(json_object_get(vmm, "net_tx_bytes"));
    char a[32], b[32], text[96], id12[13];
    snprintf(id12, sizeof id12, "%.12s", id ? id : "");
    json_t *r = json_object();
    json_object_set_new(r, "ID", json_string(id12));
    json_object_set(r, "Name", json_object_get(cur->info, "name"));
    json_object_set_new(r, "State", json_string(state ? state : "unknown"));
    snprintf(text, sizeof text, running ? "%.2f%%" : "--", cpu);
    json_object_set_new(r, "CPUPerc", json_string(text));
    snprintf(text, sizeof text, "%s / %s", running ? cli_human_bytes(rss, a, sizeof a) : "--",
             cli_human_bytes(limit, b, sizeof b));
    json_object_set_new(r, "MemUsage", json_string(text));
    snprintf(text, sizeof text, running && limit ? "%.2f%%" : "--",
             limit ? rss * 100.0 / (double)limit : 0);
    json_object_set_new(r, "MemPerc", json_string(text));
    snprintf(text, sizeof text, "%s / %s", cli_human_bytes(rx, a, sizeof a), cli_human_bytes(tx, b, sizeof b));
    json_object_set_new(r, "NetIO", json_string(text));
    json_object_set(r, "Executions", json_object_get(cur->metrics, "executions"));
    json_object_set_new(r, "GuestMem", json_string(running ? cli_human_bytes(guest, a, sizeof a) : "--"));
    json_object_set_new(r, "Returned", json_string(running ? cli_human_bytes(back, a, sizeof a) : "--"));
    return r;
}

static volatile sig_atomic_t interrupted;
static void on_int(int sig) { (void)sig; interrupted = 1; }

/* The boxes named, or every running box (the local source). */
static int local_keys(void *ud, const struct cli_args *a, char (**out)[80], int *n)
{
    struct cli *c = ud;
    if (a->nops) {
        *out = calloc((size_t)a->nops, sizeof **out);
        if (!*out)
            return cli_usage_error("out of memory");
        for (int i = 0; i < a->nops; i++) {
            boxlite_box *b = NULL;
            if (boxlite_box_get(c->rt, a->ops[i], &b) != BOXLITE_OK) {
                free(*out);
                return cli_fail("stats");
            }
            snprintf((*out)[i], sizeof (*out)[i], "%s", boxlite_box_id(b));
            boxlite_box_free(b);
        }
        *n = a->nops;
        return 0;
    }
    char *list = NULL;
    if (boxlite_box_list(c->rt, "running", &list) != BOXLITE_OK)
        return cli_fail("stats");
    json_t *arr = json_loads(list, 0, NULL);
    boxlite_free(list);
    *n = (int)json_array_size(arr);
    *out = calloc((size_t)*n + 1, sizeof **out);
    for (int i = 0; *out && i < *n; i++)
        snprintf((*out)[i], sizeof (*out)[i], "%s",
                 json_string_value(json_object_get(json_array_get(arr, (size_t)i), "id")));
    json_decref(arr);
    return *out ? 0 : cli_usage_error("out of memory");
}

int cmd_stats(struct cli *c, const struct cli_args *a)
{
    int r = cli_open(c);
    if (r)
        return r;
    struct stats_source src = { local_keys, local_take, c };
    return cli_stats(a, &src);
}

int cli_stats(const struct cli_args *a, const struct stats_source *src)
{
    bool no_stream = false, as_json = false;
    const char *format = NULL;
    for (int i = 0; i < a->nopts; i++) {
        switch (a->opts[i].id) {
        case FL_NO_STREAM: no_stream = true; break;
        case FL_JSON: as_json = true; break;
        case FL_FORMAT: format = a->opts[i].value; break;
        }
    }
    struct cli_format fmt;
    int r = cli_format_parse(format, &fmt);
    if (r)
        return r;
    char (*keys)[80] = NULL;
    int n = 0;
    if ((r = src->keys(src->ud, a, &keys, &n)))
        return r;
    struct sample *cur = calloc((size_t)n + 1, sizeof *cur);
    for (int i = 0; cur && i < n; i++)
        snprintf(cur[i].key, sizeof cur[i].key, "%s", keys[i]);
    free(keys);
    if (!cur)
        return cli_usage_error("out of memory");
    if (as_json) {
        for (int i = 0; i < n; i++) {
            take(src, &cur[i]);
            char *s = cur[i].metrics ? json_dumps(cur[i].metrics, JSON_COMPACT) : NULL;
            if (s)
                printf("%s\n", s);
            else
                r = cli_fail("stats");
            free(s);
            json_decref(cur[i].metrics);
            json_decref(cur[i].info);
        }
        free(cur);
        return r;
    }
    if (fmt.kind == FMT_TABLE) {
        fmt.kind = FMT_TEMPLATE;
        fmt.header = true;
        fmt.tmpl = "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}";
    }
    struct sample *prev = calloc((size_t)n + 1, sizeof *prev);
    if (!prev) {
        free(cur);
        return cli_usage_error("out of memory");
    }
    bool live = !no_stream && cli_fancy(1);
    struct sigaction sa = { .sa_handler = on_int };
    sigaction(SIGINT, &sa, NULL);
    for (int i = 0; i < n; i++)
        take(src, &cur[i]);
    for (int round = 0; !interrupted; round++) {
        /* a CPU figure needs two readings a second apart (the process refreshes each second) */
        sleep(1);
        if (interrupted)
            break;
        for (int i = 0; i < n; i++) {
            struct sample t = prev[i];
            prev[i] = cur[i];
            cur[i] = t;
            snprintf(cur[i].key, sizeof cur[i].key, "%s", prev[i].key);
            take(src, &cur[i]);
        }
        struct cli_table t = { 0 };
        if (fmt.header)
            cli_table_add(&t, cli_format_header(&fmt));
        for (int i = 0; i < n; i++) {
            if (!cur[i].info)
                continue; /* removed meanwhile */
            json_t *rw = row(&prev[i], &cur[i]);
            cli_table_add(&t, cli_format_row(&fmt, rw));
            json_decref(rw);
        }
        if (live)
            fputs("\033[H\033[2J", stdout); /* home, clear: a redrawn table, as docker's */
        cli_table_print(&t, stdout, fmt.header);
        fflush(stdout);
        if (no_stream)
            break;
    }
    for (int i = 0; i < n; i++) {
        json_decref(cur[i].metrics);
        json_decref(cur[i].info);
        json_decref(prev[i].metrics);
        json_decref(prev[i].info);
    }
    free(cur);
    free(prev);
    return 0;
}
