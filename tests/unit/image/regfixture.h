// SPDX-License-Identifier: Apache-2.0
/* Test images and a real registry for the image tests: tests/fixtures/mkimages.py builds
 * OCI layouts, tests/fixtures/registry.sh runs Debian's docker-registry on 127.0.0.1 and
 * pushes with skopeo. Tests run from the repository root (tests/run.sh does). */
#ifndef TEST_IMAGE_REGFIXTURE_H
#define TEST_IMAGE_REGFIXTURE_H

#include "harness/harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void need_tools(void)
{
    if (access("/usr/bin/docker-registry", X_OK) != 0 || access("/usr/bin/skopeo", X_OK) != 0)
        harness_need("docker-registry or skopeo not installed");
    if (access("tests/fixtures/registry.sh", X_OK) != 0)
        harness_need("not run from the repository root");
}

/* Builds the named images (space-separated) into <tmp>/fx; returns that path. */
static inline const char *fixtures(const char *names)
{
    static char dir[600];
    snprintf(dir, sizeof dir, "%s/fx", harness_tmpdir());
    if (harness_sh("python3 tests/fixtures/mkimages.py %s %s >&2", dir, names) != 0)
        return NULL;
    return dir;
}

/* Starts a registry (with htpasswd auth if user); returns its port or -1. */
static inline int registry_start(const char *name, const char *user, const char *pass, char *dir, size_t n)
{
    snprintf(dir, n, "%s/reg-%s", harness_tmpdir(), name);
    mkdir(dir, 0755);
    char cmd[1200], portfile[700];
    snprintf(cmd, sizeof cmd, "tests/fixtures/registry.sh start %s %d %s %s >/dev/null", dir, (int)getpid(),
             user ? user : "", pass ? pass : "");
    if (system(cmd) != 0)
        return -1;
    snprintf(portfile, sizeof portfile, "%s/port", dir);
    FILE *f = fopen(portfile, "r");
    int port = -1;
    if (f) {
        if (fscanf(f, "%d", &port) != 1)
            port = -1;
        fclose(f);
    }
    return port;
}

static inline void registry_stop(const char *dir) { harness_sh("tests/fixtures/registry.sh stop %s", dir); }

static inline int registry_push(const char *dir, const char *layout, const char *name, const char *extra)
{
    return harness_sh("tests/fixtures/registry.sh push %s %s %s %s >&2", dir, layout, name, extra ? extra : "");
}

/* Count of regular files in a directory (non-recursive). */
static inline int count_files(const char *path)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "find %s -maxdepth 1 -type f 2>/dev/null | wc -l", path);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

/* Output of a shell command, first line, into buf. */
static inline const char *sh_out(char *buf, size_t n, const char *cmd)
{
    harness_output(buf, n, "%s", cmd);
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = 0;
    return buf;
}

#endif
