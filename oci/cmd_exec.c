// SPDX-License-Identifier: Apache-2.0
/* exec: another process in a running container, with a relay of its own (this process,
 * or a detached child with --detach), as runc exec. */
#include "runtime.h"
#include "cgroup.h"

#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int exec_process(int argc, char **argv, int i, const char *process_file,
                        const struct oci_state *st, struct oci_process *p, const char *cwd,
                        const char *user, const char *const *envs, size_t nenv, bool tty)
{
    struct bl_error err = { 0 };
    cleanup_free char *text = NULL;
    size_t len;
    if (process_file) {
        if (read_file(process_file, OCI_SPEC_MAX_BYTES, &text, &len) < 0)
            return fail("read %s: %s", process_file, strerror(errno));
        if (oci_process_parse(text, len, p, &err))
            return fail("%s: %s", process_file, err.msg);
        return 0;
    }
    if (i >= argc)
        return fail("exec: no command (exec [flags] CONTAINER-ID COMMAND [ARGS...])");
    /* the plain form: the container's process settings, this command */
    char cfg[PATH_MAX + 16];
    snprintf(cfg, sizeof cfg, "%s/config.json", st->bundle);
    struct oci_spec s;
    if (read_file(cfg, OCI_SPEC_MAX_BYTES, &text, &len) < 0)
        return fail("read %s: %s", cfg, strerror(errno));
    if (oci_spec_parse(text, len, &s, &err))
        return fail("%s: %s", cfg, err.msg);
    *p = s.process;
    memset(&s.process, 0, sizeof s.process);
    oci_spec_free(&s);
    size_t n = (size_t)(argc - i), ne = 0;
    while (p->env[ne])
        ne++;
    char **args = calloc(n + 1, sizeof *args);
    char **env = realloc(p->env, (ne + nenv + 1) * sizeof *env);
    if (!args || !env) {
        free(args);
        return fail("out of memory");
    }
    p->env = env;
    for (size_t k = 0; k < nenv; k++)
        env[ne + k] = strdup(envs[k]);
    env[ne + nenv] = NULL;
    for (size_t k = 0; k < n; k++)
        args[k] = strdup(argv[i + k]);
    for (size_t k = 0; p->args[k]; k++)
        free(p->args[k]);
    free(p->args);
    p->args = args;
    p->terminal = tty;
    if (cwd) {
        free(p->cwd);
        p->cwd = strdup(cwd);
    }
    if (user) {
        unsigned uid = 0, gid = 0;
        int k = sscanf(user, "%u:%u", &uid, &gid);
        if (k < 1)
            return fail("exec: --user %s: uid[:gid] expected", user);
        p->uid = uid;
        p->gid = k == 2 ? gid : 0;
    }
    return 0;
}

int cmd_exec(int argc, char **argv, int i)
{
    const char *process_file = NULL, *pid_file = NULL, *console = NULL, *cwd = NULL,
               *user = NULL, *preserve = NULL, *label = NULL, *apparmor = NULL, *cap = NULL;
    bool detach = false, tty = false, nnp = false;
    const char *envs[256];
    size_t nenv = 0;
    const struct flag fl[] = {
        FLAG_V("process", 'p', &process_file),
        FLAG_B("detach", 'd', &detach),
        FLAG_V("pid-file", 0, &pid_file),
        FLAG_B("tty", 't', &tty),
        FLAG_V("console-socket", 0, &console),
        FLAG_V("cwd", 0, &cwd),
        FLAG_V("user", 'u', &user),
        { .name = "env", .short_name = 'e', .has_value = true, .list = envs, .nlist = &nenv,
          .maxlist = sizeof envs / sizeof envs[0] },
        FLAG_V("preserve-fds", 0, &preserve),
        FLAG_V("process-label", 0, &label),
        FLAG_V("apparmor", 0, &apparmor),
        FLAG_V("cap", 'c', &cap),
        FLAG_B("no-new-privs", 0, &nnp),
        FLAG_END,
    };
    if (parse_flags(argc, argv, &i, fl, "exec"))
        return 1;
    if (i >= argc)
        return fail("exec: usage: exec [flags] CONTAINER-ID [COMMAND...]");
    const char *id = argv[i++];
    struct oci_state st;
    if (load_state(id, &st))
        return 1;
    int rc = 1;
    struct oci_process p = { 0 };
    struct oci_spec cs = { 0 }; /* the container's config: its seccomp filter, its volumes */
    enum oci_status status = status_of(&st);
    if (status == OCI_PAUSED) {
        rc = fail("cannot exec in a paused container");
        goto out;
    }
    if (status != OCI_RUNNING) {
        rc = fail("cannot exec in a stopped container: container not running");
        goto out;
    }
    if (exec_process(argc, argv, i, process_file, &st, &p, cwd, user, envs, nenv, tty))
        goto out;
    struct bl_error err = { 0 };
    /* the container's filter holds for its exec'd processes too (runc's): a bundle that
     * cannot be read any more fails the exec rather than run it unconfined */
    if (load_spec(st.bundle, &cs, &err) < 0) {
        rc = fail("exec: the container's seccomp profile: %s", err.msg);
        goto out;
    }
    if (relay_lookpath(st.rootfs, &cs, &p, &err) < 0) {
        rc = fail("%s", err.msg);
        goto out;
    }
    if (p.terminal && detach && !console) {
        rc = fail("exec: a detached terminal needs --console-socket");
        goto out;
    }
    int cfd = -1;
    if (console && (cfd = connect_unix(console)) < 0) {
        rc = fail("console socket %s: %s", console, strerror(errno));
        goto out;
    }
    int ready[2] = { -1, -1 };
    pid_t pid = 0;
    if (detach) {
        if (pipe2(ready, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
            rc = fail("fork: %s", strerror(errno));
            goto out;
        }
        if (pid > 0) {
            close(ready[1]);
            char msg[2048];
            read_report(ready[0], msg, sizeof msg);
            if (strcmp(msg, "ok")) {
                int ws;
                waitpid(pid, &ws, 0);
                rc = fail("%s", msg[0] ? msg : "the exec's relay process died");
                goto out;
            }
            rc = write_pid_file(pid_file, pid);
            goto out;
        }
        close(ready[0]);
    }
    /* the relay (this process, or the detached child), counted in the container's cgroup
     * as runc's exec'd processes are */
    struct cgroup cg;
    if (load_cgroup(st.id, &cg) == 1 && cgroup_join(&cg, 0, &err) < 0)
        warn("exec: %s", err.msg);
    int sigfd = signal_fd();
    int term = -1;
    struct termios saved;
    bool restore = false;
    if (p.terminal && cfd >= 0) {
        term = relay_pty(cfd, p.rows, p.cols, &err);
        if (term < 0) {
            report(ready[1], "%s", err.msg);
            rc = detach ? 1 : fail("%s", err.msg);
            goto relay_out;
        }
        if (detach)
            relay_stdio_to_null();
    } else if (p.terminal && isatty(STDIN_FILENO)) {
        /* `exec -t` at a terminal: ours, in raw mode while the process runs */
        term = STDIN_FILENO;
        if (tcgetattr(term, &saved) == 0) {
            struct termios t = saved;
            cfmakeraw(&t);
            restore = tcsetattr(term, TCSANOW, &t) == 0;
        }
        struct winsize ws;
        if (ioctl(term, TIOCGWINSZ, &ws) == 0 && ws.ws_row) {
            p.rows = ws.ws_row;
            p.cols = ws.ws_col;
        }
    }
    if (cfd >= 0)
        close(cfd);
    boxlite_runtime *rt = NULL;
    boxlite_box *box = NULL;
    boxlite_exec *ex = NULL;
    boxlite_exec_spec spec;
    char ustr[32];
    struct relay_security sec;
    relay_exec_spec(&p, &spec, ustr, sizeof ustr, &sec);
    relay_confine(&cs, false, &sec);
    struct pod pod;
    if (pod_of(st.id, &pod) == POD_CONTAINER)
        spec.root = pod.guest_root;
    spec.group = st.id; /* the container's (its main process leads it) */
    if (open_runtime(&rt) || boxlite_box_get(rt, st.box, &box) != BOXLITE_OK ||
        boxlite_exec_start(box, &spec, &ex) != BOXLITE_OK) {
        const char *m = boxlite_errmsg();
        if (detach)
            report(ready[1], "%s", m);
        else
            fail("%s", m);
        rc = boxlite_errcode() == BOXLITE_ERR_NOT_FOUND ? 127 : 1;
        goto relay_out;
    }
    if (detach) {
        report(ready[1], "ok");
        close(ready[1]);
        ready[1] = -1;
    }
    rc = term >= 0 ? relay_pump(ex, term, term, term, term, sigfd)
                   : relay_pump(ex, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, -1, sigfd);
    boxlite_exec_free(ex);
relay_out:
    if (restore)
        tcsetattr(term, TCSANOW, &saved);
    boxlite_box_free(box);
    boxlite_runtime_close(rt);
    if (detach)
        _exit(rc);
out:
    oci_spec_free(&cs);
    oci_process_free(&p);
    oci_state_free(&st);
    return rc;
}
