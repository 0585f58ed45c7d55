// SPDX-License-Identifier: Apache-2.0
/* pod_root_enter (guest/agent/podroot.c), natively: a forked child as root makes a folder
 * its root, as the agent does for a container of a pod, and reports what it sees from
 * there. The same code in the guest, under containerd's CRI: tests/e2e/oci_cri.sh. */
#include "agent_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct enter_args {
    const char *path, *outside;
};

/* In the child: pod_root_enter from "/" (the agent's cwd after container_enter), then what
 * is visible from there: its own marker file, the test's folder (outside), a /proc. */
static int enter_child(void *arg, FILE *f)
{
    const struct enter_args *a = arg;
    struct bl_error e = {0};
    if (chdir("/") < 0 || pod_root_enter(a->path, &e) < 0) {
        fprintf(f, "error: %s\n", e.msg);
        return 1;
    }
    fprintf(f, "marker %s outside %s proc %s\n", access("/marker", F_OK) ? "no" : "yes",
            access(a->outside, F_OK) ? "no" : "yes",
            access("/proc/self/status", F_OK) ? "no" : "yes");
    return 0;
}

static int enter(const char *path, const char *outside, char *out, size_t len)
{
    struct enter_args a = {path, outside};
    return in_child(enter_child, &a, out, len);
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
