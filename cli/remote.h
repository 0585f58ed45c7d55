// SPDX-License-Identifier: Apache-2.0
/* What the verbs over --url share: cli/remote.c (boxes and executions), cli/remote_manage.c
 * (the management verbs) and cli/remote_stream.c (the streaming ones: logs, attach, stats,
 * top). */
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
/* client_call of body (taken, as client_call takes it) to a box's TAIL; *out the answer
 * when wanted. */
int box_call(struct bl_client *cl, const char *method, const char *box, const char *tail,
             json_t *body, json_t **out, struct bl_error *err);

/* The -p flags of a (run, create) as CreateBoxRequest's ports in req, parsed as locally;
 * 0, or the usage error's status. */
int remote_publish(json_t *req, const struct cli_args *a);

/* remote_doctor.c */
int remote_doctor(struct cli *c, struct bl_client *cl, const struct cli_args *a);

/* remote_stream.c */
int remote_logs(struct bl_client *cl, const struct cli_args *a);
int remote_attach(struct cli *c, struct bl_client *cl, const struct cli_args *a);
int remote_stats(struct bl_client *cl, const struct cli_args *a);
int remote_top(struct bl_client *cl, const struct cli_args *a);

#endif
