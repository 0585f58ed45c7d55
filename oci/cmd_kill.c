// SPDX-License-Identifier: Apache-2.0
/* kill and delete (runtime-spec runtime.md "Kill", "Delete"): both act through the
 * relay process, whose end takes the box with it. */
#include "runtime.h"
#include "cgroup.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int cmd_kill(int argc, char **argv, int i)
{
    bool all = false;
    const struct flag fl[] = { FLAG_B("all", 'a', &all), FLAG_END };
    if (parse_flags(argc, argv, &i, fl, "kill"))
        return 1;
    if (i != argc - 1 && i != argc - 2)
        return fail("kill: usage: kill [--all] CONTAINER-ID [SIGNAL]");
    int sig = SIGTERM;
    struct bl_error err = { 0 };
    if (i == argc - 2 && oci_parse_signal(argv[i + 1], &sig, &err))
        return fail("%s", err.msg);
    struct oci_state st;
    if (load_state(argv[i], &st))
        return 1;
    int fd = relay_pidfd(&st);
    int rc = 0;
    /* the relay forwards the signal to the guest process (SIGKILL ends the relay, and with
     * it the box) */
    if (fd < 0)
        rc = fail("container not running");
    else if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
        rc = errno == ESRCH ? fail("container not running") : fail("kill: %s", strerror(errno));
    /* a frozen process takes a signal only when thawed: as runc, SIGKILL thaws the
     * container so it dies now; any other signal waits for resume */
    struct cgroup cg;
    if (!rc && sig == SIGKILL && load_cgroup(st.id, &cg) == 1 && cgroup_frozen(&cg))
        cgroup_freeze(&cg, false, NULL);
    if (fd >= 0)
        close(fd);
    oci_state_free(&st);
    return rc;
}

int cmd_delete(int argc, char **argv, int i)
{
    bool force = false;
    const struct flag fl[] = { FLAG_B("force", 'f', &force),
                               FLAG_END };
    if (parse_flags(argc, argv, &i, fl, "delete"))
        return 1;
    if (i != argc - 1)
        return fail("delete: usage: delete [--force] CONTAINER-ID");
    struct oci_state st;
    char dir[PATH_MAX], sp[PATH_MAX + 32];
    state_dir(argv[i], dir, sizeof dir);
    snprintf(sp, sizeof sp, "%s/state.json", dir);
    /* As runc: forced, a container that does not exist (or whose create never finished
     * writing its state) is not an error; otherwise "does not exist", which callers match. */
    if (force && oci_id_valid(argv[i], NULL) == 0 && access(sp, F_OK) != 0 && errno == ENOENT) {
        rm_state_dir(argv[i]);
        return 0;
    }
    if (load_state(argv[i], &st))
        return 1;
    enum oci_status s = status_of(&st);
    if ((s == OCI_RUNNING || s == OCI_PAUSED) && !force) {
        oci_state_free(&st);
        return fail("cannot delete container %s that is not stopped: %s", argv[i],
                    oci_status_name(s));
    }
    struct cgroup cg;
    int have_cg = load_cgroup(st.id, &cg);
    /* the poststop hooks, read before anything is removed (the bundle is the caller's,
     * and may be gone already: then there are none to run, as far as we can know) */
    struct oci_spec spec = { 0 };
    struct bl_error err = { 0 };
    if (load_spec(st.bundle, &spec, &err))
        debug("delete %s: no poststop hooks: %s", st.id, err.msg);
    int fd = relay_pidfd(&st);
    if (fd >= 0) {
        syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
        if (have_cg == 1 && cgroup_frozen(&cg)) /* a frozen relay dies once thawed */
            cgroup_freeze(&cg, false, NULL);
        /* a pidfd polls readable once the process has exited, child of ours or not */
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, 10000);
        close(fd);
    }
    boxlite_runtime *rt = NULL;
    struct pod pod;
    enum pod_kind pk = pod_of(st.id, &pod);
    int rc = pk == POD_CONTAINER ? 0 : open_runtime(&rt);
    if (pk == POD_CONTAINER)
        pod_leave(&pod, st.id); /* its box is the sandbox's */
    else if (!rc) {
        int r = boxlite_box_remove(rt, st.box, 1);
        if (r != BOXLITE_OK && r != BOXLITE_ERR_NOT_FOUND)
            rc = fail("remove box %s: %s", st.box, boxlite_errmsg());
        boxlite_runtime_close(rt);
        if (pk == POD_SANDBOX)
            pod_sandbox_gone(&pod);
    }
    /* what the box left in the cgroup, and its folders */
    if (!rc && have_cg == 1 && cgroup_destroy(&cg, &err) < 0)
        rc = fail("remove the cgroup of %s: %s", st.id, err.msg);
    if (!rc && rm_state_dir(st.id) < 0)
        rc = fail("remove the state of %s: %s", st.id, strerror(errno));
    /* runtime.md "Lifecycle" step 13: after the container is deleted */
    if (!rc)
        host_hooks(&spec, OCI_HOOK_POSTSTOP, &st, OCI_STOPPED, &err);
    oci_spec_free(&spec);
    oci_state_free(&st);
    return rc;
}
