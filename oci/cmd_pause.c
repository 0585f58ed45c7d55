// SPDX-License-Identifier: Apache-2.0
/* pause and resume (runc's commands; runtime-spec 1.0 has no paused state): the container's
 * cgroup freezer, which holds the relay, the per-box process and QEMU, so the guest's vCPUs
 * stop where they are and go on at resume. The box's own memory pause (boxlite_box_pause)
 * is not used: the library refuses it for every container's box by its contract (the root
 * is a 9p share, which QEMU cannot save, and a pause would end the per-box process and with
 * it the container's process as the engine sees it). A container of a Kubernetes pod
 * (pod.c) pauses only as its sandbox, whose VM holds every container of the pod. */
#include "runtime.h"
#include "cgroup.h"

#include <stdio.h>
#include <string.h>

static int freeze(const char *cmd, int argc, char **argv, int i, bool frozen)
{
    const struct flag fl[] = { FLAG_END };
    if (parse_flags(argc, argv, &i, fl, cmd))
        return 1;
    if (i != argc - 1)
        return fail("%s: usage: %s CONTAINER-ID", cmd, cmd);
    struct oci_state st;
    if (load_state(argv[i], &st))
        return 1;
    enum oci_status s = status_of(&st);
    struct cgroup cg;
    int have = load_cgroup(st.id, &cg);
    struct bl_error err = { 0 };
    struct pod pod;
    int rc = 0;
    /* a pod's later container: its cgroup holds its relay only, its processes run in the
     * sandbox's VM, so a freeze would report "paused" while they go on */
    if (pod_of(st.id, &pod) == POD_CONTAINER)
        rc = fail("%s: %s runs in the VM of pod sandbox %s, which only pauses whole: pause the "
                  "sandbox", cmd, st.id, pod.sandbox);
    else if (frozen && s != OCI_RUNNING && s != OCI_CREATED)
        rc = fail("container not running");
    else if (!frozen && s != OCI_PAUSED)
        rc = fail("container not paused");
    else if (have != 1)
        rc = fail("%s: the container has no cgroup to freeze (made without one)", cmd);
    else if (cgroup_freeze(&cg, frozen, &err) < 0)
        rc = fail("%s: %s", cmd, err.msg);
    oci_state_free(&st);
    return rc;
}

int cmd_pause(int argc, char **argv, int i)
{
    return freeze("pause", argc, argv, i, true);
}

int cmd_resume(int argc, char **argv, int i)
{
    return freeze("resume", argc, argv, i, false);
}
