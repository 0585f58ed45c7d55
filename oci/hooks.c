// SPDX-License-Identifier: Apache-2.0
/* Where boxlite-runtime runs each stage of config.json's hooks (runtime-spec runtime.md
 * "Lifecycle", config.md "POSIX-platform Hooks"). prestart, createRuntime and
 * createContainer run on the host in `create`, once the box is up (prestart and
 * createRuntime before it boots when the relay made the network namespace: cmd_create.c,
 * relay_netns_later): "the container
 * namespace" of createContainer is a VM here, whose tools are not the host's, and the hooks
 * engines inject (Podman's, Docker's libnetwork-setkey, NVIDIA's) are host programs that
 * expect the host. startContainer runs in the guest, before the process, as the spec says
 * (its path is the container's). poststart runs in `start`, poststop in `delete`. */
#include "runtime.h"

#include "oci/hooks.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int host_hooks(const struct oci_spec *s, enum oci_hook_stage stage, const struct oci_state *st,
               enum oci_status status, struct bl_error *err)
{
    if (!s->nhooks[stage])
        return 0;
    char *js = oci_state_report(st, status);
    if (!js)
        return bl_err(err, BOXLITE_ERR_NOMEM, "%s hooks: out of memory",
                      oci_hook_stage_name(stage));
    debug("%s: %zu %s hooks", st->id, s->nhooks[stage], oci_hook_stage_name(stage));
    int r = oci_hooks_run(s, stage, js, err);
    free(js);
    /* runtime.md: a poststart or poststop hook that fails is a warning; the operation
     * goes on */
    if (r && (stage == OCI_HOOK_POSTSTART || stage == OCI_HOOK_POSTSTOP)) {
        warn("%s", err->msg);
        return 0;
    }
    return r;
}

/* One startContainer hook as an execution in the box. argv[0] is the hook's path: the
 * agent runs argv[0], so args[0] (the name the hook would see) cannot differ from it. */
static int guest_hook(boxlite_box *box, const struct oci_hook *h, const char *state,
                      struct bl_error *err)
{
    size_t n = 0;
    while (h->args && h->args[n])
        n++;
    const char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    argv[0] = h->path;
    for (size_t k = 1; k < n; k++)
        argv[k] = h->args[k];
    boxlite_exec_spec spec = { .size = sizeof spec,
                               .argv = argv,
                               .env = (const char *const *)h->env,
                               .working_dir = "/",
                               .user = "0:0",
                               .timeout_ms = (long long)h->timeout * 1000 };
    boxlite_exec *ex = NULL;
    int r = boxlite_exec_start(box, &spec, &ex);
    free(argv);
    if (r != BOXLITE_OK)
        return bl_err(err, BOXLITE_ERR_IO, "%s", boxlite_errmsg());
    boxlite_exec_write_stdin(ex, state, strlen(state));
    boxlite_exec_close_stdin(ex);
    /* its output, kept for the error, read while it runs so it cannot fill and stall */
    char out[1025];
    size_t got = 0;
    int fds[2] = { boxlite_exec_stdout_fd(ex), boxlite_exec_stderr_fd(ex) };
    for (;;) {
        struct pollfd p[3] = { { .fd = boxlite_exec_done_fd(ex), .events = POLLIN },
                               { .fd = fds[0], .events = POLLIN },
                               { .fd = fds[1], .events = POLLIN } };
        if (poll(p, 3, -1) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < 2; k++) {
            if (!p[k + 1].revents)
                continue;
            char buf[4096];
            ssize_t m = read(fds[k], buf, sizeof buf);
            if (m > 0 && got < sizeof out - 1) {
                size_t take = (size_t)m < sizeof out - 1 - got ? (size_t)m : sizeof out - 1 - got;
                memcpy(out + got, buf, take);
                got += take;
            } else if (m == 0 || (m < 0 && errno != EAGAIN && errno != EINTR)) {
                fds[k] = -1;
            }
        }
        if (p[0].revents)
            break;
    }
    boxlite_exec_result res = { 0 };
    r = boxlite_exec_wait(ex, -1, &res);
    boxlite_exec_free(ex);
    out[got] = 0;
    while (got && (out[got - 1] == '\n' || out[got - 1] == ' '))
        out[--got] = 0;
    if (r != BOXLITE_OK)
        return bl_err(err, BOXLITE_ERR_IO, "%s", boxlite_errmsg());
    if (res.timed_out)
        return bl_err(err, BOXLITE_ERR_TIMEOUT, "ran past its timeout of %d s", h->timeout);
    if (res.signal)
        return bl_err(err, BOXLITE_ERR_IO, "killed by signal %d%s%s", res.signal,
                      got ? ", output: " : "", out);
    if (res.exit_code)
        return bl_err(err, BOXLITE_ERR_IO, "exit status %d%s%s", res.exit_code,
                      got ? ", output: " : "", out);
    return 0;
}

int guest_start_hooks(boxlite_box *box, const struct oci_spec *s, const char *state,
                      struct bl_error *err)
{
    for (size_t i = 0; i < s->nhooks[OCI_HOOK_START_CONTAINER]; i++) {
        const struct oci_hook *h = &s->hooks[OCI_HOOK_START_CONTAINER][i];
        if (guest_hook(box, h, state, err))
            return bl_err_prefix(err, "startContainer hook #%zu (%s)", i, h->path);
    }
    return 0;
}
