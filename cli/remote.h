// SPDX-License-Identifier: Apache-2.0
/* What the remote verbs share (cli/remote.c: the verbs on boxes and executions;
 * cli/remote_stream.c: the streaming ones, logs, attach, stats and top). */
#ifndef BL_CLI_REMOTE_H
#define BL_CLI_REMOTE_H

#include "cli.h"
#include "client/client.h"

struct client_opts remote_opts(const struct cli *c);
/* "boxlite: WHAT: message" on stderr; 125. */
int fail_err(const char *what, const struct bl_error *e);
/* "VERB --FLAG: not supported with --url"; 125. */
int unsupported_flag(const struct cli_verb *v, int id);
/* "/boxes/BOX" + tail, BOX escaped; malloc'd (NULL: out of memory). */
char *box_path(struct bl_client *cl, const char *box, const char *tail);

/* remote_stream.c */
int remote_logs(struct bl_client *cl, const struct cli_args *a);
int remote_attach(struct cli *c, struct bl_client *cl, const struct cli_args *a);
int remote_stats(struct bl_client *cl, const struct cli_args *a);
int remote_top(struct bl_client *cl, const struct cli_args *a);

#endif
