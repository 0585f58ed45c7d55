// SPDX-License-Identifier: Apache-2.0
#include "common/signame.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct { const char *name; int sig; } signals[] = {
    { "HUP", SIGHUP },   { "INT", SIGINT },     { "QUIT", SIGQUIT },   { "ILL", SIGILL },
    { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },   { "IOT", SIGIOT },     { "BUS", SIGBUS },
    { "FPE", SIGFPE },   { "KILL", SIGKILL },   { "USR1", SIGUSR1 },   { "SEGV", SIGSEGV },
    { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },   { "ALRM", SIGALRM },   { "TERM", SIGTERM },
    { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
    { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },   { "TTOU", SIGTTOU },   { "URG", SIGURG },
    { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },   { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
    { "WINCH", SIGWINCH }, { "IO", SIGIO },     { "POLL", SIGPOLL },   { "PWR", SIGPWR },
    { "SYS", SIGSYS },
};

/* A whole decimal number in lo..hi, or -1. */
static long whole(const char *s, long lo, long hi)
{
    if (!isdigit((unsigned char)s[0]))
        return -1;
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    return errno || *end || n < lo || n > hi ? -1 : n;
}

int signal_parse(const char *s)
{
    if (isdigit((unsigned char)s[0]))
        return (int)whole(s, 1, 64);
    const char *name = strncasecmp(s, "SIG", 3) ? s : s + 3;
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (!strcasecmp(name, signals[i].name))
            return signals[i].sig;
    if (!strncasecmp(name, "RTMIN", 5) || !strncasecmp(name, "RTMAX", 5)) {
        int min = !strncasecmp(name, "RTMIN", 5);
        long off = 0;
        if (name[5] && (name[5] != (min ? '+' : '-') ||
                        (off = whole(name + 6, 0, SIGRTMAX - SIGRTMIN)) < 0))
            return -1;
        return min ? SIGRTMIN + (int)off : SIGRTMAX - (int)off;
    }
    return -1;
}
