// SPDX-License-Identifier: Apache-2.0
/* lab_timeline: runs a VMM (ours or QEMU) and measures it the same way for both, from
 * outside: its console lines, stamped with the time since it was started, are written out
 * as they come (no buffering); when the first line containing the ready mark arrives it
 * samples the process's CPU time and its resident memory outside guest RAM; when it ends
 * it prints one summary line:
 *   timeline: ready_ms=N cpu_to_ready_ms=N rss_outside_guest_kib=N rss_kib=N total_ms=N
 *             cpu_user_ms=N cpu_sys_ms=N exit=N
 * (ready_ms=-1 when the mark never came). Exit status: the command's, 124 after --timeout.
 *
 * usage: lab_timeline --ready STR [--tag NAME] [--timeout SEC] [--guest-mib N]
 *                     [--stop-after-ready] -- CMD [ARG...]
 * SIGTERM or SIGINT sent to lab_timeline is passed on to the command.
 * --stop-after-ready: send the command SIGTERM as soon as the mark has come (a guest that
 *   would otherwise serve its host forever); SIGKILL follows at --timeout.
 * --tag: lines read "[NAME] [seconds] line" and the summary "NAME: timeline: ...".
 * The command's stdout and stderr both go through the pipe that is read here, so its
 * console must be its stdout (QEMU: -serial stdio; boxlite-vmm: console_log /proc/self/fd/1).
 * --guest-mib: mappings at least this large are guest RAM and left out of the RSS figure.
 * A lab tool built static by lab-check.sh, not part of any component. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child = -1;
static volatile sig_atomic_t timed_out;

/* SIGTERM/SIGINT to us: passed on to the command, which then ends as it would. */
static void on_term(int sig)
{
    if (child > 0)
        kill(child, sig);
}

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
    if (child > 0)
        kill(child, SIGKILL);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* The process to measure: boxlite-vmm runs jailed as the only child of its supervisor
 * (src/vmm/jail/jail.h), which bears the same name; anything else is measured itself. */
static pid_t measured(pid_t pid)
{
    char path[96], comm[64] = "", ccomm[64] = "", kids[256] = "";
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (!fgets(kids, sizeof kids, f))
            kids[0] = 0;
        fclose(f);
    }
    int kid = 0, n = 0;
    for (char *p = strtok(kids, " \n"); p; p = strtok(NULL, " \n"), n++)
        kid = atoi(p);
    if (n != 1)
        return pid;
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    if ((f = fopen(path, "re"))) {
        if (!fgets(comm, sizeof comm, f))
            comm[0] = 0;
        fclose(f);
    }
    snprintf(path, sizeof path, "/proc/%d/comm", kid);
    if ((f = fopen(path, "re"))) {
        if (!fgets(ccomm, sizeof ccomm, f))
            ccomm[0] = 0;
        fclose(f);
    }
    return comm[0] && !strcmp(comm, ccomm) ? kid : pid;
}

/* utime+stime of a live process in ms, -1 if it is gone. */
static long cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

/* Resident KiB of the whole process and of its mappings smaller than guest_kib. */
static void rss_kib(pid_t pid, long guest_kib, long *total, long *outside)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    *total = *outside = -1;
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    long size = 0, t = 0, o = 0, v;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Size: %ld kB", &v) == 1)
            size = v;
        else if (sscanf(line, "Rss: %ld kB", &v) == 1) {
            t += v;
            if (guest_kib <= 0 || size < guest_kib)
                o += v;
        }
    }
    fclose(f);
    *total = t;
    *outside = o;
}

int main(int argc, char **argv)
{
    const char *ready = NULL, *tag = NULL;
    unsigned timeout_s = 600;
    long guest_kib = 0;
    int stop_after_ready = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc)
            ready = argv[++i];
        else if (strcmp(argv[i], "--stop-after-ready") == 0)
            stop_after_ready = 1;
        else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc)
            tag = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout_s = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--guest-mib") == 0 && i + 1 < argc)
            guest_kib = atol(argv[++i]) * 1024;
        else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else
            break;
    }
    if (!ready || i >= argc) {
        fprintf(stderr, "usage: lab_timeline --ready STR [--tag NAME] [--timeout SEC] [--guest-mib N] [--stop-after-ready] -- CMD...\n");
        return 2;
    }
    int pfd[2];
    if (pipe(pfd) < 0) {
        perror("lab_timeline: pipe");
        return 2;
    }
    double start = now_ms();
    child = fork();
    if (child < 0) {
        perror("lab_timeline: fork");
        return 2;
    }
    if (child == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execvp(argv[i], argv + i);
        fprintf(stderr, "lab_timeline: exec %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, NULL);
    struct sigaction st = { .sa_handler = on_term };
    sigaction(SIGTERM, &st, NULL);
    sigaction(SIGINT, &st, NULL);
    alarm(timeout_s);

    static char buf[65536];
    size_t len = 0;
    double ready_ms = -1;
    long cpu_ready = -1, rss_total = -1, rss_outside = -1;
    for (;;) {
        ssize_t n = read(pfd[0], buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = 0;
        char *p = buf, *nl;
        /* Whole lines, or the whole buffer when it is full of one line. */
        while ((nl = memchr(p, '\n', len - (size_t)(p - buf))) ||
               (p == buf && len == sizeof buf - 1 && (nl = buf + len - 1))) {
            *nl = 0;
            double t = now_ms() - start;
            if (ready_ms < 0 && strstr(p, ready)) {
                ready_ms = t;
                pid_t m = measured(child);
                cpu_ready = cpu_ms(m);
                rss_kib(m, guest_kib, &rss_total, &rss_outside);
                if (stop_after_ready)
                    kill(child, SIGTERM);
            }
            /* One write per line: another process writing to the same output (the lab
             * client) cannot land between a line and its newline. */
            static char out[96 + sizeof buf];
            int m = snprintf(out, 96, "%s%s%s[%8.3f] ", tag ? "[" : "", tag ? tag : "",
                             tag ? "] " : "", t / 1e3);
            size_t ol = m < 0 ? 0 : (size_t)m < 96 ? (size_t)m : 95;
            size_t ll = strlen(p);
            if (ll && p[ll - 1] == '\r')
                ll--;
            memcpy(out + ol, p, ll);
            out[ol + ll] = '\n';
            write_all(1, out, ol + ll + 1);
            p = nl + 1;
        }
        len -= (size_t)(p - buf);
        memmove(buf, p, len);
    }
    if (len) {
        buf[len] = 0;
        if (ready_ms < 0 && strstr(buf, ready))
            ready_ms = now_ms() - start;
        buf[len] = '\n';
        write_all(1, buf, len + 1);
    }
    int status = 0;
    struct rusage ru = { 0 };
    while (wait4(child, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    double total = now_ms() - start;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (timed_out)
        rc = 124;
    printf("%s%stimeline: ready_ms=%.0f cpu_to_ready_ms=%ld rss_outside_guest_kib=%ld rss_kib=%ld "
           "total_ms=%.0f cpu_user_ms=%ld cpu_sys_ms=%ld exit=%d\n",
           tag ? tag : "", tag ? ": " : "", ready_ms, cpu_ready, rss_outside, rss_total, total,
           ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000,
           ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000, rc);
    fflush(stdout);
    return rc;
}
