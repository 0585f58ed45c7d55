// SPDX-License-Identifier: Apache-2.0
/* boxlite_host_check (include/boxlite.h): whether and how boxes can run on this host, one
 * check per line of `boxlite doctor`, each with what to do about it. The engines' own view
 * (KVM's device, capabilities and CPU templates, QEMU) comes from `boxlite-vmm --check
 * --json`, so the library never needs to know an architecture; the rest is looked at here.
 * Nothing is booted and nothing is changed (the home folder is not created). */
#include "common/cleanup.h"
#include "common/clock.h"
#include "runtime/api_error.h"
#include "runtime/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS 20000

static void add(json_t *checks, const char *name, const char *status, const char *fix,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add(json_t *checks, const char *name, const char *status, const char *fix,
                const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_array_append_new(checks, json_pack("{s:s, s:s, s:s, s:s}", "name", name, "status",
                                            status, "detail", detail, "fix", fix ? fix : ""));
}

/* Runs argv with stdout into a buffer (at most len - 1 bytes), stdin and stderr to
 * /dev/null, for at most PROBE_TIMEOUT_MS. Returns the exit status, or -1. */
static int run_capture(char *const argv[], char *out, size_t len)
{
    int p[2];
    out[0] = 0;
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(p[1], 1);
        dup2(null, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    size_t have = 0;
    uint64_t t0 = mono_ms();
    for (;;) {
        long left = PROBE_TIMEOUT_MS - (long)(mono_ms() - t0);
        struct pollfd pf = { .fd = p[0], .events = POLLIN };
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        ssize_t n = read(p[0], out + have, len - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        if (have == len - 1)
            break;
    }
    out[have] = 0;
    close(p[0]);
    int st = 0, w;
    while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
    }
    /* (a caller that ignores SIGCHLD gets ECHILD: the status is then unknown) */
    return w == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The CPU as boxlite-vmm --check --json saw it (its arch code reads the CPU's flags). */
static void check_cpu(json_t *checks, json_t *engines)
{
    json_t *k = json_object_get(engines, "kvm");
    const char *virt = json_string_value(json_object_get(k, "hardware_virtualization"));
    const char *name = json_string_value(json_object_get(k, "hardware_virtualization_name"));
    const char *wanted = json_string_value(json_object_get(k, "hardware_virtualization_wanted"));
    if (!k)
        add(checks, "cpu virtualization", "warn", NULL,
            "unknown: boxlite-vmm --check --json gave no answer");
    else if (virt)
        add(checks, "cpu virtualization", "ok", NULL, "%s (%s)", virt, name ? name : "?");
    else
        add(checks, "cpu virtualization", "warn",
            "enable VT-x/AMD-V in the firmware; in a cloud VM choose an instance type with "
            "nested virtualization",
            "the CPU has no %s flag: boxes run on QEMU with TCG (emulation, many "
            "times slower)", wanted ? wanted : "hardware virtualization");
    bool vm = json_is_true(json_object_get(k, "nested"));
    struct stat st;
    if (stat("/sys/module/kvm_pvm", &st) == 0)
        add(checks, "nested virtualization", "warn",
            "run boxes on a host with hardware virtualization (or accept QEMU with TCG here)",
            "the kvm_pvm module (software virtualization) provides KVM here: it cannot run a "
            "Linux guest's user space, so the KVM engine is not used");
    else if (vm)
        add(checks, "nested virtualization", "info", NULL,
            "this host is itself a virtual machine: the KVM engine runs nested%s",
            virt ? "" : " only where the outer hypervisor passes vmx/svm through");
    else
        add(checks, "nested virtualization", "info", NULL, "not a virtual machine (no "
            "hypervisor flag)");
    /* Whether this host's KVM would offer nested virtualization to its own guests. */
    char buf[16] = "";
    const char *params[] = { "/sys/module/kvm_intel/parameters/nested",
                             "/sys/module/kvm_amd/parameters/nested" };
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(params[i], "re");
        if (f && fgets(buf, sizeof buf, f))
            add(checks, "nested virtualization for guests", "info", NULL, "%s: %s",
                i ? "kvm_amd" : "kvm_intel",
                buf[0] == 'Y' || buf[0] == '1' ? "enabled" : "disabled");
        if (f)
            fclose(f);
    }
}

/* The engines' view, from boxlite-vmm --check --json (src/vmm/check.c). */
static void check_engines(json_t *checks, json_t *vm)
{
    json_t *k = json_object_get(vm, "kvm");
    bool virt = json_is_string(json_object_get(k, "hardware_virtualization"));
    if (!json_is_true(json_object_get(k, "device_open"))) {
        const char *e = json_string_value(json_object_get(k, "device_error"));
        struct stat st;
        bool exists = stat("/dev/kvm", &st) == 0;
        add(checks, "/dev/kvm", virt ? "fail" : "info",
            !virt    ? NULL
            : !exists ? "load KVM: sudo modprobe kvm_intel (Intel) or kvm_amd (AMD)"
                      : "let your user open it: sudo usermod -aG kvm $USER (or the group `ls -l "
                        "/dev/kvm` shows), then log in again",
            "cannot open /dev/kvm: %s%s", e ? e : "?",
            virt ? "" : " (without vmx/svm it would not be used anyway)");
    } else {
        add(checks, "/dev/kvm", "ok", NULL, "opens read-write, API version %lld",
            (long long)json_integer_value(json_object_get(k, "api_version")));
        const char *miss = json_string_value(json_object_get(k, "missing_caps"));
        if (miss && *miss)
            add(checks, "kvm capabilities", "fail", "a newer Linux kernel on the host",
                "KVM lacks what the engine needs: %s", miss);
        else
            add(checks, "kvm capabilities", "ok", NULL, "every capability the KVM engine needs");
        const char *def = json_string_value(json_object_get(k, "cpu_template_default"));
        char list[512] = "";
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(k, "cpu_templates"), i, t) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s %s", i ? ", " : "",
                     json_string_value(json_object_get(t, "name")),
                     json_is_true(json_object_get(t, "ok")) ? "ok" : "not satisfied");
        }
        if (def)
            add(checks, "cpu templates", "ok", NULL, "default %s (%s)", def, list);
        else
            add(checks, "cpu templates", "warn",
                "start boxes with --cpu-template host, or let them fall back to QEMU",
                "%s", json_string_value(json_object_get(k, "cpu_template_error")));
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(vm, "engines"), i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        bool ok = json_is_true(json_object_get(e, "available"));
        char label[64];
        snprintf(label, sizeof label, "engine %s", name ? name : "?");
        const char *accel = json_string_value(json_object_get(json_object_get(vm, "qemu"),
                                                              "accel"));
        bool qemu = name && !strcmp(name, "qemu");
        if (ok)
            add(checks, label, "ok", NULL, "usable%s",
                !qemu ? "" : accel && !strcmp(accel, "kvm") ? " (with KVM acceleration)"
                                                            : " (TCG: emulation)");
        else {
            const char *why = json_string_value(json_object_get(e, "why"));
            /* a QEMU named by the runtime (its "qemu" setting) is not one to install */
            bool named = why && !strncmp(why, "qemu_binary ", 12);
            add(checks, label, name && !strcmp(name, "kvm") ? "info" : "fail",
                !qemu ? NULL : named ? "name an executable qemu-system-x86_64 (the runtime's "
                                       "\"qemu\" setting, boxlite --qemu, BOXLITE_QEMU)"
                                     : "apt-get install qemu-system-x86",
                "not usable: %s", why);
        }
    }
    const char *sel = json_string_value(json_object_get(vm, "selected"));
    add(checks, "engine auto", sel ? "ok" : "fail", sel ? NULL : "install QEMU (apt-get install qemu-system-x86)",
        "%s%s", sel ? sel : json_string_value(json_object_get(vm, "error")),
        sel && !strcmp(sel, "kvm") ? " (falls back to QEMU if a guest does not come up)" : "");
}

static void check_qemu(json_t *checks, json_t *vm)
{
    const char *bin = json_string_value(json_object_get(json_object_get(vm, "qemu"), "binary"));
    if (!bin)
        return; /* "engine qemu" says why */
    char out[512];
    char *argv[] = { (char *)bin, "--version", NULL };
    int st = run_capture(argv, out, sizeof out);
    out[strcspn(out, "\n")] = 0;
    if (st != 0 || !*out) {
        add(checks, "qemu", "fail", "reinstall it: apt-get install --reinstall qemu-system-x86",
            "%s --version failed (status %d)", bin, st);
        return;
    }
    /* microvm boots through qboot; QEMU looks for it in its data folder. */
    struct stat sb;
    bool fw = stat("/usr/share/qemu/qboot.rom", &sb) == 0 ||
              stat("/usr/share/qemu/bios-microvm.bin", &sb) == 0;
    add(checks, "qemu", fw ? "ok" : "warn", fw ? NULL : "apt-get install qemu-system-data",
        "%s: %s%s", bin, out, fw ? "" : "; microvm firmware (qboot.rom) not in /usr/share/qemu");
}

static void check_assets(json_t *checks, const struct rt_settings *s, struct rt_assets *a)
{
    struct bl_error err = { 0 };
    memset(a, 0, sizeof *a);
    if (rt_find_assets(s, a, &err) < 0) {
        add(checks, "guest kernel and initramfs", "fail",
            "run scripts/setup.sh, or set BOXLITE_VMM, BOXLITE_KERNEL and BOXLITE_INITRD",
            "%s", err.msg);
        return;
    }
    struct stat k, i;
    stat(a->kernel, &k);
    stat(a->initrd, &i);
    add(checks, "guest kernel and initramfs", "ok", NULL, "%s (%lld KiB), %s (%lld KiB)",
        a->kernel, (long long)k.st_size / 1024, a->initrd, (long long)i.st_size / 1024);
}

static void check_cgroups(json_t *checks)
{
    struct statfs fs;
    if (statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
        char ctl[512] = "";
        FILE *f = fopen("/sys/fs/cgroup/cgroup.controllers", "re");
        if (f) {
            if (!fgets(ctl, sizeof ctl, f))
                ctl[0] = 0;
            fclose(f);
        }
        ctl[strcspn(ctl, "\n")] = 0;
        add(checks, "cgroups", "ok", NULL, "v2 (controllers: %s)", *ctl ? ctl : "none");
        return;
    }
    /* v1: the hierarchies the kernel has enabled */
    FILE *f = fopen("/proc/cgroups", "re");
    char line[256], list[512] = "";
    while (f && fgets(line, sizeof line, f)) {
        char name[64];
        int hier, num, enabled;
        if (line[0] == '#' || sscanf(line, "%63s %d %d %d", name, &hier, &num, &enabled) != 4 ||
            !enabled)
            continue;
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", used ? " " : "", name);
    }
    if (f)
        fclose(f);
    add(checks, "cgroups", *list ? "info" : "warn", *list ? NULL : "mount cgroup2 at /sys/fs/cgroup",
        *list ? "v1 (controllers: %s)" : "no cgroup controllers%s", list);
}

/* A user namespace, tried in a child so nothing here changes. */
static void check_jail(json_t *checks)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno & 0xff);
    int st = 0, w = -1;
    if (pid > 0)
        while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
        }
    int e = w == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (e == 0)
        add(checks, "user namespaces", "ok", NULL, "can be created (the per-box jail uses them)");
    else
        add(checks, "user namespaces", "warn",
            "sysctl -w user.max_user_namespaces=10000 (and kernel.unprivileged_userns_clone=1 "
            "where it exists)",
            "cannot be created: %s", e > 0 ? strerror(e) : "the probe could not run");
    /* PR_SET_SECCOMP with a NULL filter: EFAULT means filters are supported (EINVAL: the
     * kernel has no seccomp filter support; EACCES: supported, but we lack no_new_privs). */
    errno = 0;
    int r = prctl(PR_SET_SECCOMP, 2 /* SECCOMP_MODE_FILTER */, NULL, 0, 0);
    if (r < 0 && (errno == EFAULT || errno == EACCES))
        add(checks, "seccomp", "ok", NULL, "filters supported");
    else
        add(checks, "seccomp", "warn", "a kernel built with CONFIG_SECCOMP_FILTER",
            "filters unavailable: %s", strerror(errno ? errno : EINVAL));
}

static void check_home(json_t *checks, const char *home_dir)
{
    char home[4096];
    if (home_dir)
        snprintf(home, sizeof home, "%s", home_dir);
    else if (getenv("BOXLITE_HOME") && *getenv("BOXLITE_HOME"))
        snprintf(home, sizeof home, "%s", getenv("BOXLITE_HOME"));
    else
        snprintf(home, sizeof home, "%s/.boxlite", getenv("HOME") ? getenv("HOME") : "/root");
    struct stat st;
    char where[4096];
    snprintf(where, sizeof where, "%s", home);
    if (stat(home, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            add(checks, "home", "fail", "remove it or choose another home (--home, BOXLITE_HOME)",
                "%s is not a folder", home);
        else if (st.st_uid != getuid())
            add(checks, "home", "warn", "chown it to yourself", "%s belongs to uid %u, not to you",
                home, (unsigned)st.st_uid);
        else if (access(home, W_OK | X_OK) != 0)
            add(checks, "home", "fail", "chmod u+rwx on it", "%s is not writable: %s", home,
                strerror(errno));
        else if (st.st_mode & 022)
            add(checks, "home", "warn", "chmod go-w on it",
                "%s is writable by others (mode %03o): they could tamper with boxes", home,
                st.st_mode & 0777);
        else
            add(checks, "home", "ok", NULL, "%s", home);
    } else {
        /* Created on first use: its nearest existing parent must let us. */
        char *slash;
        while ((slash = strrchr(where, '/')) && slash != where) {
            *slash = 0;
            if (stat(where, &st) == 0)
                break;
        }
        if (access(where, W_OK | X_OK) == 0)
            add(checks, "home", "ok", NULL, "%s (created on first use)", home);
        else
            add(checks, "home", "fail", "choose another home (--home, BOXLITE_HOME)",
                "%s does not exist and %s is not writable", home, where);
    }
    struct statvfs vs;
    const char *at = stat(home, &st) == 0 ? home : where;
    if (statvfs(at, &vs) == 0) {
        double gib = (double)vs.f_bavail * vs.f_frsize / (1 << 30);
        add(checks, "free disk", gib < 1 ? "fail" : gib < 4 ? "warn" : "ok",
            gib < 4 ? "free some space: images and box disks live there" : NULL,
            "%.1f GiB free under %s", gib, at);
    }
}

/* s: a runtime's settings (NULL: the environment's), as boxlite_runtime_open_with has them. */
static int host_check(const char *home_dir, const struct rt_settings *s, char **json_out)
{
    json_t *checks = json_array(), *assets = json_array(), *vm = NULL;
    struct rt_assets a;
    check_assets(assets, s, &a);
    if (a.vmm[0]) {
        char *out = malloc(1 << 16);
        /* the QEMU the runtime's boxes would get (its "qemu" setting, else BOXLITE_QEMU,
         * which the per-box process also reads, else PATH) */
        const char *qemu = rt_settings_get(s, RT_SET_QEMU);
        char abs[PATH_MAX];
        if (qemu && realpath(qemu, abs))
            qemu = abs;
        char *argv[] = { a.vmm, "--check", "--json", NULL };
        char *with_qemu[] = { a.vmm, "--qemu", (char *)qemu, "--check", "--json", NULL };
        if (out) {
            run_capture(qemu ? with_qemu : argv, out, 1 << 16);
            vm = json_loads(out, 0, NULL);
        }
        free(out);
    }
    /* the CPU first, as ever, though learnt from boxlite-vmm */
    check_cpu(checks, vm);
    json_array_extend(checks, assets);
    json_decref(assets);
    if (a.vmm[0]) {
        if (vm) {
            check_engines(checks, vm);
            check_qemu(checks, vm);
        } else {
            add(checks, "engines", "fail", "rebuild it (make)",
                "%s --check --json gave no answer", a.vmm);
        }
    }
    check_cgroups(checks);
    check_jail(checks);
    check_home(checks, home_dir);
    json_t *o = json_pack("{s:o, s:o}", "checks", checks, "engines", vm ? vm : json_null());
    *json_out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *json_out ? 0 : -BOXLITE_ERR_NOMEM;
}

BOXLITE_API int boxlite_host_check(const char *home_dir, char **json_out)
{
    API_CHECK_ARG(json_out, "json_out is NULL");
    *json_out = NULL;
    if (host_check(home_dir, NULL, json_out) < 0)
        return api_fail(BOXLITE_ERR_NOMEM, "host check: out of memory");
    return api_return(0, NULL);
}

BOXLITE_API int boxlite_host_check_with(const char *home_dir, const char *options_json,
                                        char **json_out)
{
    API_CHECK_ARG(json_out, "json_out is NULL");
    *json_out = NULL;
    struct rt_settings s;
    struct bl_error err = { 0 };
    int r = rt_settings_parse(&s, options_json, &err);
    if (r < 0)
        return api_return(r, &err);
    r = host_check(home_dir, &s, json_out);
    rt_settings_free(&s);
    if (r < 0)
        return api_fail(BOXLITE_ERR_NOMEM, "host check: out of memory");
    return api_return(0, NULL);
}
