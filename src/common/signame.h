// SPDX-License-Identifier: Apache-2.0
/* Signals as people and runc's callers write them: a number 1..64, a name with or without
 * SIG in any case ("KILL", "SIGkill", "hup"), its aliases (IOT, POLL), or RTMIN+N /
 * RTMAX-N. One parser for the CLI's kill and boxlite-runtime's. */
#ifndef COMMON_SIGNAME_H
#define COMMON_SIGNAME_H

/* The signal's number, or -1 when s names none. */
int signal_parse(const char *s);

#endif
