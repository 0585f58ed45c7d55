// SPDX-License-Identifier: Apache-2.0
/* pause and resume (runc's commands; runtime-spec 1.0 has no paused state). They are wired
 * to the box's memory pause (boxlite_box_pause), which the library refuses for every
 * container's box today, by its contract: the box's root is a 9p share (QEMU cannot save a
 * mounted 9p device) and the container's process is an open execution (a pause ends the
 * per-box process, and with it every execution: the relay, the container's process as the
 * engine sees it, would end). So `pause` fails with the library's reason and the container
 * runs on untouched; a freeze of the VM's vCPUs that keeps the per-box process (QMP stop)
 * would need a library call of its own (docs/oci-runtime.md, "Not yet"). */
#include "runtime.h"

#include <stdio.h>
#include <string.h>

static int box_of(const char *cmd, int argc, char **argv, int i, struct oci_state *st,
                  boxlite_runtime **rt, boxlite_box **box)
{
    const struct flag fl[] = { FLAG_END };
    if (parse_flags(argc, argv, &i, fl, cmd))
        return -1;
    if (i != argc - 1)
        return fail("%s: usage: %s CONTAINER-ID", cmd, cmd), -1;
    if (load_state(argv[i], st))
        return -1;
    if (status_of(st) != OCI_RUNNING) {
        fail("container not running");
        oci_state_free(st);
        return -1;
    }
    if (open_runtime(rt) || boxlite_box_get(*rt, st->box, box) != BOXLITE_OK) {
        fail("%s: the container's box %s: %s", cmd, st->box, boxlite_errmsg());
        boxlite_runtime_close(*rt);
        oci_state_free(st);
        return -1;
    }
    return 0;
}

int cmd_pause(int argc, char **argv, int i)
{
    struct oci_state st;
    boxlite_runtime *rt = NULL;
    boxlite_box *box = NULL;
    if (box_of("pause", argc, argv, i, &st, &rt, &box))
        return 1;
    int rc = 0;
    if (boxlite_box_pause(box, 0) != BOXLITE_OK)
        rc = fail("pause: the container's box cannot be paused (%s); the container runs on",
                  boxlite_errmsg());
    else /* the library's contract says this cannot happen to a container's box (above) */
        rc = fail("pause: the box paused, which ended the container's process");
    boxlite_box_free(box);
    boxlite_runtime_close(rt);
    oci_state_free(&st);
    return rc;
}

int cmd_resume(int argc, char **argv, int i)
{
    struct oci_state st;
    boxlite_runtime *rt = NULL;
    boxlite_box *box = NULL;
    if (box_of("resume", argc, argv, i, &st, &rt, &box))
        return 1;
    /* a running container's box is never paused (pause above never leaves it so) */
    int rc = fail("container not paused");
    boxlite_box_free(box);
    boxlite_runtime_close(rt);
    oci_state_free(&st);
    return rc;
}
