// SPDX-License-Identifier: Apache-2.0
/* Docker credential helpers, run the way Docker runs them (docker-credential-helpers'
 * protocol): `docker-credential-<name> get` reads the server address on stdin and prints
 * {"ServerURL": ..., "Username": ..., "Secret": ...} on stdout; a Username of "<token>" makes
 * Secret an identity token. A helper with nothing for that server exits non-zero and says
 * "credentials not found" on stdout. What the helper prints is never put in an error
 * message: only its exit status and the first line of its stderr are. */
#include "image/registry.h"

#include "common/cleanup.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELPER_OUT_MAX (64u << 10)
#define HELPER_TIMEOUT_MS 30000

extern char **environ;

static int valid_name(const char *s)
{
    if (!*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return 0;
    return 1;
}

/* Runs the helper with `input` on its stdin; collects stdout and stderr (bounded) and the
 * exit status, all within timeout_ms: a helper that hangs (waiting on a keychain prompt
 * that never comes, a network that does not answer) is killed and named. The deadline
 * covers the helper's exit too, not only its output: one that closes its pipes and then
 * sits there is waited for on a pidfd, never with a blocking waitpid. */
static int run_helper(const char *prog, const char *input, unsigned timeout_ms, char *out, size_t *out_len,
                      char *errtext, size_t errcap, int *status, struct bl_error *err)
{
    int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1};
    int r = 0, pidfd = -1, reaped = 0;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    int fa_ok = 0;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
        r = bl_errno(err, errno, "credential helper %s: pipe", prog);
        goto out;
    }
    /* The input is tiny: written (and the pipe closed) before the helper runs, so a helper
     * that never reads cannot make us block or take a SIGPIPE. */
    size_t il = strlen(input);
    if (write(in[1], input, il) != (ssize_t)il) {
        r = bl_errno(err, errno, "credential helper %s: write", prog);
        goto out;
    }
    close(in[1]);
    in[1] = -1;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        goto out;
    }
    fa_ok = 1;
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, o[1], 1);
    posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    char *argv[] = {(char *)prog, "get", NULL};
    int se = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    if (se != 0) {
        pid = -1;
        if (se == ENOENT)
            r = bl_err(err, BOXLITE_ERR_AUTH, "credential helper %s is not installed (not found in PATH)", prog);
        else
            r = bl_errno(err, se, "credential helper %s: cannot run it", prog);
        goto out;
    }
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* -1 before Linux 5.3: see below */
    close(o[1]);
    close(e[1]);
    o[1] = e[1] = -1;
    size_t ol = 0, el = 0;
    uint64_t t0 = mono_ms();
    /* Until both pipes are closed and the helper has exited (when a pidfd says so). */
    while (o[0] >= 0 || e[0] >= 0 || (pidfd >= 0 && !reaped)) {
        long left = (long)timeout_ms - (long)(mono_ms() - t0);
        if (left <= 0) {
            kill(pid, SIGKILL);
            r = bl_err(err, BOXLITE_ERR_AUTH, "credential helper %s did not answer within %u ms (killed)", prog,
                       timeout_ms);
            goto out;
        }
        struct pollfd pf[3] = {{.fd = o[0], .events = POLLIN},
                               {.fd = e[0], .events = POLLIN},
                               {.fd = reaped ? -1 : pidfd, .events = POLLIN}};
        int pr = poll(pf, 3, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            r = bl_errno(err, errno, "credential helper %s: poll", prog);
            goto out;
        }
        if (pf[2].revents & POLLIN)
            reaped = 1; /* exited: waitpid below returns at once */
        for (int k = 0; k < 2; k++) {
            if (pf[k].fd < 0 || !(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t n = read(pf[k].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(k == 0 ? o[0] : e[0]);
                if (k == 0)
                    o[0] = -1;
                else
                    e[0] = -1;
                continue;
            }
            if (k == 0) {
                if (ol + (size_t)n >= HELPER_OUT_MAX) {
                    kill(pid, SIGKILL);
                    r = bl_err(err, BOXLITE_ERR_AUTH, "credential helper %s printed more than %u bytes", prog,
                               HELPER_OUT_MAX);
                    goto out;
                }
                memcpy(out + ol, buf, (size_t)n);
                ol += (size_t)n;
            } else if (el + 1 < errcap) {
                size_t take = (size_t)n < errcap - 1 - el ? (size_t)n : errcap - 1 - el;
                memcpy(errtext + el, buf, take);
                el += take;
            }
        }
    }
    out[ol] = 0;
    *out_len = ol;
    errtext[el] = 0;
    errtext[strcspn(errtext, "\r\n")] = 0;
out:
    if (pid > 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        *status = st;
    }
    if (pidfd >= 0)
        close(pidfd);
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (o[i] >= 0)
            close(o[i]);
        if (e[i] >= 0)
            close(e[i]);
    }
    return r;
}

int credhelper_get(const char *name, const char *server, unsigned timeout_ms, struct registry_creds *out,
                   struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!valid_name(name))
        return bl_err(err, BOXLITE_ERR_AUTH, "credential helper name \"%.64s\" is not a plain name", name);
    char prog[96];
    snprintf(prog, sizeof prog, "docker-credential-%s", name);
    cleanup_free char *buf = malloc(HELPER_OUT_MAX);
    if (!buf)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    char errtext[256];
    size_t len = 0;
    int status = 0;
    int r = run_helper(prog, server, timeout_ms ? timeout_ms : HELPER_TIMEOUT_MS, buf, &len, errtext, sizeof errtext,
                       &status, err);
    if (r < 0)
        return r;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        int found_nothing = strstr(buf, "credentials not found") != NULL;
        memset(buf, 0, len);
        if (found_nothing)
            return 0;
        if (WIFSIGNALED(status))
            return bl_err(err, BOXLITE_ERR_AUTH, "credential helper %s for %s was killed by signal %d", prog, server,
                          WTERMSIG(status));
        return bl_err(err, BOXLITE_ERR_AUTH, "credential helper %s for %s failed (exit %d)%s%s", prog, server,
                      WEXITSTATUS(status), errtext[0] ? ": " : "", errtext);
    }
    json_t *j = json_loadb(buf, len, 0, NULL);
    memset(buf, 0, len);
    const char *user = json_string_value(json_object_get(j, "Username"));
    const char *secret = json_string_value(json_object_get(j, "Secret"));
    if (!user || !secret) {
        json_decref(j);
        return bl_err(err, BOXLITE_ERR_AUTH, "credential helper %s for %s: its answer is not the expected JSON",
                      prog, server);
    }
    if (!strcmp(user, "<token>")) {
        out->identitytoken = strdup(secret);
    } else {
        out->username = strdup(user);
        out->password = strdup(secret);
    }
    /* The secret lives in the parsed JSON too: wipe it before letting go. */
    json_t *s = json_object_get(j, "Secret");
    if (json_is_string(s))
        memset((char *)json_string_value(s), 0, strlen(secret));
    json_decref(j);
    if (!out->identitytoken && (!out->username || !out->password)) {
        registry_creds_free(out);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    return 1;
}
