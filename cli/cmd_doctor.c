// SPDX-License-Identifier: Apache-2.0
/* doctor: whether and how boxes run on this host. The checks come from the library
 * (boxlite_host_check), one line each with what to do about it; then a smoke box boots on
 * every usable engine (a busybox rootfs made from /bin/busybox, or --image), runs a command,
 * and the line says its boot time, command round trip and CPU template.
 *
 *   boxlite doctor [--json] [--image REF] [--engine kvm|qemu] [--no-smoke]
 * Exit status 0 when some engine can run boxes (and every smoke box worked), else 1. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SMOKE_EXECS 5

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The smoke box's rootfs: <home>/doctor/rootfs with a static busybox and its applets'
 * names. A fixed folder, so its cached disk base is reused from one run to the next. */
static int smoke_rootfs(const char *home, char *out, size_t len, char *why, size_t why_len)
{
    const char *bb = "/bin/busybox";
    FILE *f = fopen(bb, "rb");
    if (!f) {
        snprintf(why, why_len, "%s: %s (apt-get install busybox-static, or use --image)", bb,
                 strerror(errno));
        return -1;
    }
    /* A dynamically linked busybox would need its libraries in the box: refuse it. */
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n < 64 || memcmp(buf, "\177ELF", 4) != 0 || memmem(buf, n, "ld-linux", 8)) {
        snprintf(why, why_len, "%s is not a static ELF busybox (apt-get install busybox-static, "
                 "or use --image)", bb);
        return -1;
    }
    snprintf(out, len, "%s/doctor/rootfs", home);
    const char *dirs[] = { "/doctor", "/doctor/rootfs", "/doctor/rootfs/bin",
                           "/doctor/rootfs/etc", "/doctor/rootfs/proc", "/doctor/rootfs/sys",
                           "/doctor/rootfs/dev", "/doctor/rootfs/tmp", "/doctor/rootfs/root" };
    char p[4200];
    mkdir(home, 0700);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s%s", home, dirs[i]);
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            snprintf(why, why_len, "mkdir %s: %s", p, strerror(errno));
            return -1;
        }
    }
    snprintf(p, sizeof p, "%s/bin/busybox", out);
    struct stat st;
    if (stat(p, &st) != 0 || st.st_size == 0) {
        char tmp[4300];
        snprintf(tmp, sizeof tmp, "%s.tmp", p);
        FILE *in = fopen(bb, "rb"), *o = fopen(tmp, "wb");
        size_t k;
        while (in && o && (k = fread(buf, 1, sizeof buf, in)) > 0)
            fwrite(buf, 1, k, o);
        bool ok = in && o && !ferror(in);
        if (in)
            fclose(in);
        if (o && fclose(o) != 0)
            ok = false;
        if (!ok || chmod(tmp, 0755) < 0 || rename(tmp, p) < 0) {
            snprintf(why, why_len, "copy %s to %s failed", bb, p);
            return -1;
        }
    }
    const char *applets[] = { "sh", "echo", "true", "cat", "ls" };
    for (size_t i = 0; i < sizeof applets / sizeof applets[0]; i++) {
        snprintf(p, sizeof p, "%s/bin/%s", out, applets[i]);
        if (symlink("busybox", p) < 0 && errno != EEXIST) {
            snprintf(why, why_len, "symlink %s: %s", p, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* One command's round trip: start, its output to the end, its exit. */
static int exec_once(boxlite_box *b, double *ms, char *why, size_t why_len)
{
    const char *argv[] = { "echo", "doctor", NULL };
    boxlite_exec_spec spec = { .size = sizeof spec, .argv = argv, .timeout_ms = 60000 };
    boxlite_exec *ex = NULL;
    double t0 = now_ms();
    if (boxlite_exec_start(b, &spec, &ex) != BOXLITE_OK) {
        snprintf(why, why_len, "exec: %s", boxlite_errmsg());
        return -1;
    }
    boxlite_exec_close_stdin(ex);
    char out[256];
    size_t have = 0;
    int fd = boxlite_exec_stdout_fd(ex);
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 60000) <= 0)
            break;
        ssize_t n = read(fd, out + have, sizeof out - 1 - have);
        if (n > 0)
            have += (size_t)n;
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            break;
    }
    out[have] = 0;
    boxlite_exec_result res;
    int r = boxlite_exec_wait(ex, 60000, &res);
    *ms = now_ms() - t0;
    boxlite_exec_free(ex);
    if (r != BOXLITE_OK || res.exit_code != 0 || res.signal || strcmp(out, "doctor\n") != 0) {
        snprintf(why, why_len, "echo in the box: %s (exit %d, output \"%.40s\")",
                 r != BOXLITE_OK ? boxlite_errmsg() : "wrong result", res.exit_code, out);
        return -1;
    }
    return 0;
}

/* Boots one smoke box on engine, runs SMOKE_EXECS commands, stops it. Fills o. */
static void smoke(struct cli *c, const char *engine, const char *image, const char *rootfs,
                  json_t *o)
{
    char why[1024] = "";
    boxlite_options *opt = NULL;
    boxlite_box *b = NULL;
    char name[64];
    snprintf(name, sizeof name, "doctor-%s-%d", engine, (int)getpid());
    json_object_set_new(o, "engine", json_string(engine));
    boxlite_options_new(&opt);
    boxlite_options_set_engine(opt, engine);
    boxlite_options_set_name(opt, name);
    boxlite_options_set_network(opt, 0);
    if (image)
        boxlite_options_set_image(opt, image);
    else
        boxlite_options_set_rootfs_path(opt, rootfs);
    double t0 = now_ms();
    if (boxlite_box_create(c->rt, opt, &b) != BOXLITE_OK || boxlite_box_start(b) != BOXLITE_OK) {
        snprintf(why, sizeof why, "%s", boxlite_errmsg());
    } else {
        json_object_set_new(o, "start_ms", json_real(now_ms() - t0));
        double best = 0;
        for (int i = 0; i < SMOKE_EXECS && !why[0]; i++) {
            double ms;
            if (exec_once(b, &ms, why, sizeof why) == 0 && (i == 0 || ms < best))
                best = ms;
        }
        if (!why[0])
            json_object_set_new(o, "exec_round_trip_ms", json_real(best));
        char *info = NULL, *metrics = NULL;
        if (boxlite_box_info(b, &info) == BOXLITE_OK) {
            json_t *j = json_loads(info, 0, NULL);
            json_t *rt = json_object_get(j, "runtime");
            json_object_set(o, "cpu_template", json_object_get(rt, "cpu_template"));
            json_object_set(o, "engine_used", json_object_get(j, "engine"));
            json_object_set(o, "notice", json_object_get(rt, "notice"));
            json_object_set(o, "fallback", json_object_get(rt, "fallback"));
            json_decref(j);
        }
        if (boxlite_box_metrics(b, &metrics) == BOXLITE_OK) {
            json_t *j = json_loads(metrics, 0, NULL);
            json_object_set(o, "vmm_start_to_ready_ms",
                            json_object_get(json_object_get(j, "boot"), "start_to_ready_ms"));
            json_decref(j);
        }
        boxlite_free(info);
        boxlite_free(metrics);
        boxlite_box_stop(b, 5000);
    }
    if (b && boxlite_box_remove(c->rt, boxlite_box_id(b), 1) != BOXLITE_OK) {
        /* auto_remove took it already */
    }
    boxlite_box_free(b);
    boxlite_options_free(opt);
    json_object_set_new(o, "ok", json_boolean(!why[0]));
    if (why[0])
        json_object_set_new(o, "error", json_string(why));
}

static const char *home_of(const struct cli *c, char *buf, size_t len)
{
    const char *env = getenv("BOXLITE_HOME");
    if (c->home)
        snprintf(buf, len, "%s", c->home);
    else if (env && *env)
        snprintf(buf, len, "%s", env);
    else
        snprintf(buf, len, "%s/.boxlite", getenv("HOME") ? getenv("HOME") : "/root");
    return buf;
}

void cli_doctor_line(const char *status, const char *name, const char *detail,
                     const char *fix)
{
    bool f = fix && *fix;
    printf("%-5s %s: %s%s%s%s\n", status, name, detail ? detail : "", f ? " (fix: " : "",
           f ? fix : "", f ? ")" : "");
}

int cmd_doctor(struct cli *c, const struct cli_args *a)
{
    bool as_json = false, no_smoke = false;
    const char *image = NULL, *only = NULL;
    for (int i = 0; i < a->nopts; i++) {
        switch (a->opts[i].id) {
        case FL_JSON: as_json = true; break;
        case FL_IMAGE: image = a->opts[i].value; break;
        case FL_ENGINE: only = a->opts[i].value; break;
        case FL_NO_SMOKE: no_smoke = true; break;
        }
    }
    if (only && strcmp(only, "kvm") && strcmp(only, "qemu"))
        return cli_usage_error("doctor: --engine %s: expected kvm or qemu", only);
    double t0 = now_ms();
    char home[4096];
    home_of(c, home, sizeof home);
    char *text = NULL;
    char *opts = cli_runtime_options(c);
    int hr = opts ? boxlite_host_check_with(home, opts, &text) : boxlite_host_check(home, &text);
    free(opts);
    if (hr != BOXLITE_OK)
        return cli_fail("doctor");
    json_t *report = json_loads(text, 0, NULL);
    boxlite_free(text);
    if (!report)
        return cli_usage_error("doctor: the library's report is not JSON");
    json_t *checks = json_object_get(report, "checks");
    bool any_fail = false;
    size_t i;
    json_t *k;
    json_array_foreach(checks, i, k) {
        const char *st = json_string_value(json_object_get(k, "status"));
        const char *fix = json_string_value(json_object_get(k, "fix"));
        any_fail |= st && !strcmp(st, "fail");
        if (!as_json)
            cli_doctor_line(st, json_string_value(json_object_get(k, "name")),
                            json_string_value(json_object_get(k, "detail")), fix);
    }
    fflush(stdout);

    /* Smoke boxes on every engine that says it can run here. */
    json_t *smokes = json_array();
    bool usable = false, smoke_failed = false;
    json_t *engines = json_object_get(json_object_get(report, "engines"), "engines");
    char rootfs[4200] = "", why[1024] = "";
    if (!no_smoke && !image && smoke_rootfs(home, rootfs, sizeof rootfs, why, sizeof why) < 0) {
        if (!as_json)
            printf("fail  smoke: %s\n", why);
        json_array_append_new(smokes, json_pack("{s:b, s:s}", "ok", 0, "error", why));
        smoke_failed = true;
        no_smoke = true;
    }
    json_array_foreach(engines, i, k) {
        const char *name = json_string_value(json_object_get(k, "name"));
        if (!name || !json_is_true(json_object_get(k, "available")))
            continue;
        usable = true;
        if (no_smoke || (only && strcmp(only, name)))
            continue;
        if (!c->rt && cli_open(c) != 0)
            return 125;
        json_t *o = json_object();
        smoke(c, name, image, rootfs, o);
        json_array_append(smokes, o);
        bool ok = json_is_true(json_object_get(o, "ok"));
        smoke_failed |= !ok;
        if (!as_json) {
            const char *tpl = json_string_value(json_object_get(o, "cpu_template"));
            const char *used = json_string_value(json_object_get(o, "engine_used"));
            if (ok)
                printf("ok    smoke %s: box started in %.0f ms (guest ready %.0f ms after its "
                       "VMM started), command round trip %.1f ms, CPU %s%s%s\n",
                       name, json_number_value(json_object_get(o, "start_ms")),
                       json_number_value(json_object_get(o, "vmm_start_to_ready_ms")),
                       json_number_value(json_object_get(o, "exec_round_trip_ms")),
                       tpl && *tpl ? tpl : "?", used && strcmp(used, name) ? ", ran on " : "",
                       used && strcmp(used, name) ? used : "");
            else
                printf("fail  smoke %s: %s\n", name,
                       json_string_value(json_object_get(o, "error")));
            const char *notice = json_string_value(json_object_get(o, "notice"));
            if (ok && notice && *notice)
                printf("info  smoke %s: %s\n", name, notice);
            fflush(stdout);
        }
        json_decref(o);
    }
    double elapsed = now_ms() - t0;
    int status = usable && !any_fail && !smoke_failed ? 0 : 1;
    if (as_json) {
        json_object_set_new(report, "smoke", smokes);
        json_object_set_new(report, "elapsed_ms", json_real(elapsed));
        json_object_set_new(report, "ok", json_boolean(status == 0));
        char *s = json_dumps(report, JSON_COMPACT);
        if (s)
            puts(s);
        free(s);
    } else {
        json_decref(smokes);
        printf("%s: doctor took %.1f s\n",
               status == 0 ? "boxes can run here" : usable ? "boxes can run here, with problems above"
                                                           : "boxes cannot run here",
               elapsed / 1000);
    }
    json_decref(report);
    return status;
}
