// SPDX-License-Identifier: Apache-2.0
/* pod_root_enter (guest/agent/podroot.c), natively: a forked child as root makes a folder
 * its root, as the agent does for a container of a pod, and reports what it sees from
 * there. The same code in the guest, under containerd's CRI: tests/e2e/oci_cri.sh. */
#include "../../../guest/agent/agent.h"
#include "harness/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a child: pod_root_enter(path) from "/" (the agent's cwd after container_enter), then
 * what is visible: its own marker file, the test's folder (outside), a /proc of its own. */
static int enter(const char *path, const char *outside, char *out, size_t len)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        FILE *f = fdopen(p[1], "w");
        struct bl_error e = {0};
        if (chdir("/") < 0 || pod_root_enter(path, &e) < 0) {
            fprintf(f, "error: %s\n", e.msg);
            fclose(f);
            _exit(1);
        }
        fprintf(f, "marker %s outside %s proc %s\n", access("/marker", F_OK) ? "no" : "yes",
                access(outside, F_OK) ? "no" : "yes", access("/proc/self/status", F_OK) ? "no" : "yes");
        fclose(f);
        _exit(0);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t n;
    while (got < len - 1 && (n = read(p[0], out + got, len - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = 0;
    close(p[0]);
    int ws;
    waitpid(pid, &ws, 0);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

TEST(a_folder_becomes_the_root_and_nothing_else_is_reachable)
{
    if (geteuid() != 0)
        harness_skip("needs root for mount namespaces; proven in the guest by tests/e2e/oci_cri.sh");
    char base[] = "/var/tmp/podroot.XXXXXX", c1[64], marker[80], link[64], out[512];
    REQUIRE(mkdtemp(base) != NULL);
    snprintf(c1, sizeof c1, "%s/c1", base);
    snprintf(marker, sizeof marker, "%s/marker", c1);
    snprintf(link, sizeof link, "%s/link", base);
    REQUIRE(mkdir(c1, 0755) == 0);
    FILE *m = fopen(marker, "w");
    REQUIRE(m != NULL);
    fclose(m);
    REQUIRE(symlink("c1", link) == 0);

    CHECK_EQ(enter(c1, base, out, sizeof out), 0);
    CHECK(strstr(out, "marker yes outside no proc yes") != NULL);
    /* a symlink to the folder (a pod's process may have made one) is refused, not followed */
    CHECK_EQ(enter(link, base, out, sizeof out), 1);
    CHECK(strstr(out, "error: root") != NULL);
    CHECK_EQ(enter("var/tmp", base, out, sizeof out), 1);
    CHECK(strstr(out, "not an absolute path") != NULL);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf %s", base);
    CHECK_EQ(system(rm), 0);
}
