// SPDX-License-Identifier: Apache-2.0
/* pod_root_enter (guest/agent/podroot.c), natively: a forked child as root makes a folder
 * its root, as the agent does for a container of a pod, and reports what it sees from
 * there. The same code in the guest, under containerd's CRI: tests/e2e/oci_cri.sh. */
#include "agent_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct enter_args {
    const char *path, *outside, *shm;
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
    /* a file of the root's dev/ carried onto the new /dev (written through), and the
     * /dev/shm of where it was entered from */
    FILE *t = fopen("/dev/termlog", "r+");
    char line[64] = "";
    if (t && fgets(line, sizeof line, t)) {
        fseek(t, 0, SEEK_END);
        fputs("from-the-root\n", t);
    }
    if (t)
        fclose(t);
    line[strcspn(line, "\n")] = 0;
    fprintf(f, "termlog %s shm %s\n", line[0] ? line : "none",
            a->shm && !access(a->shm, F_OK) ? "shared" : "own");
    return 0;
}

static int enter(const char *path, const char *outside, char *out, size_t len)
{
    struct enter_args a = {path, outside, NULL};
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
    /* a file in the root's dev/ (a bind the host made: the kubelet's termination log) is
     * on the new /dev and written through; /dev/shm is the one it was entered from (the
     * pod's, the sandbox's) */
    char dev[80], termlog[96], shm[64], got[128] = "";
    snprintf(dev, sizeof dev, "%s/dev", c1);
    snprintf(termlog, sizeof termlog, "%s/termlog", dev);
    snprintf(shm, sizeof shm, "/dev/shm/podroot.%d", (int)getpid());
    REQUIRE(mkdir(dev, 0755) == 0 || errno == EEXIST); /* the first entry made it */
    FILE *tl = fopen(termlog, "w"), *sm = fopen(shm, "w");
    REQUIRE(tl != NULL && sm != NULL);
    fputs("from-the-host\n", tl);
    fclose(tl);
    fclose(sm);
    struct enter_args a = {c1, base, shm};
    CHECK_EQ(in_child(enter_child, &a, out, sizeof out), 0);
    CHECK(strstr(out, "termlog from-the-host shm shared") != NULL);
    tl = fopen(termlog, "r");
    REQUIRE(tl != NULL);
    size_t n = fread(got, 1, sizeof got - 1, tl);
    got[n] = 0;
    fclose(tl);
    CHECK_STR(got, "from-the-host\nfrom-the-root\n");
    unlink(shm);
    /* a symlink to the folder (a pod's process may have made one) is refused, not followed */
    CHECK_EQ(enter(link, base, out, sizeof out), 1);
    CHECK(strstr(out, "error: root") != NULL);
    CHECK_EQ(enter("var/tmp", base, out, sizeof out), 1);
    CHECK(strstr(out, "not an absolute path") != NULL);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf %s", base);
    CHECK_EQ(system(rm), 0);
}
