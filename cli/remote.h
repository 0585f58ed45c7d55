// SPDX-License-Identifier: Apache-2.0
/* What cli/remote.c and cli/remote_manage.c (the verbs over --url) share. */
#ifndef BL_CLI_REMOTE_H
#define BL_CLI_REMOTE_H

#include "cli.h"
#include "client/client.h"

/* "boxlite: WHAT: message", 125. */
int fail_err(const char *what, const struct bl_error *e);
/* 125, "VERB --FLAG: not supported with --url". */
int unsupported_flag(const struct cli_verb *v, int id);
/* "/boxes/<box escaped><tail>", malloc'd (NULL: out of memory). */
char *box_path(struct bl_client *cl, const char *box, const char *tail);

/* The -p flags of a (run, create) as CreateBoxRequest's ports in req, parsed as locally;
 * 0, or the usage error's status. */
int remote_publish(json_t *req, const struct cli_args *a);

#endif
