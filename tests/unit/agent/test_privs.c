// SPDX-License-Identifier: Apache-2.0
/* process_become (guest/agent/privs.c), natively: a forked child as root takes a request's
 * rlimits, oom_score_adj, umask, capability sets, groups, user and no_new_privs, then reads
 * them back from /proc/self/status as the container's process would. The same code in the
 * guest, under Podman and a hand-written config.json: tests/e2e/oci_process.sh. */
#include "agent_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct become_args {
    const struct proto_exec_req *r;
    const struct user_info *u;
};

/* In the child: process_become, then its /proc/self/status lines of interest, the limits,
 * the umask and oom_score_adj (or the error) written to f. */
static int become_child(void *arg, FILE *f)
{
    const struct become_args *a = arg;
    struct bl_error e = {0};
    if (process_become(a->r, a->u, &e) < 0) {
        fprintf(f, "error: %s\n", e.msg);
        return 1;
    }
    FILE *st = fopen("/proc/self/status", "re");
    char line[256];
    while (st && fgets(line, sizeof line, st))
        if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) ||
            !strncmp(line, "Uid", 3) || !strncmp(line, "Gid", 3) || !strncmp(line, "Groups", 6))
            fputs(line, f);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    mode_t m = umask(0);
    FILE *o = fopen("/proc/self/oom_score_adj", "re");
    int adj = -9999;
    if (o && fscanf(o, "%d", &adj) != 1)
        adj = -9999;
    fprintf(f, "nofile %llu %llu\numask %03o\noom %d\n", (unsigned long long)rl.rlim_cur,
            (unsigned long long)rl.rlim_max, (unsigned)m, adj);
    return 0;
}

static int become(const struct proto_exec_req *r, const struct user_info *u, char *out,
                  size_t len)
{
    struct become_args a = {r, u};
    return in_child(become_child, &a, out, len);
}

TEST(a_non_root_process_gets_exactly_the_requested_sets)
{
    if (geteuid() != 0)
        harness_skip("needs root to change users; proven in the guest by tests/e2e/oci_process.sh");
    char *argv[] = {"true", NULL};
    struct proto_rlimit rl[] = {{RLIMIT_NOFILE, 100, 200}};
    uint32_t groups[] = {1000, 2000};
    uint64_t nbs = 1ull << 10; /* CAP_NET_BIND_SERVICE */
    struct proto_exec_req r = {.argv = argv, .rlimits = rl, .nrlimits = 1, .has_caps = true,
                               .caps = {nbs, nbs, nbs, nbs, nbs}, .no_new_privs = true,
                               .has_groups = true, .groups = groups, .ngroups = 2,
                               .has_umask = true, .umask = 027, .has_oom_score_adj = true,
                               .oom_score_adj = 300};
    struct user_info u = {.uid = 1000, .gid = 1000, .groups = {5}, .ngroups = 1};
    char out[4096];
    REQUIRE(become(&r, &u, out, sizeof out) == 0);
    CHECK(strstr(out, "Uid:\t1000\t1000\t1000\t1000") != NULL);
    CHECK(strstr(out, "Gid:\t1000\t1000\t1000\t1000") != NULL);
    CHECK(strstr(out, "Groups:\t1000 2000") != NULL); /* the request's, not the user's */
    CHECK(strstr(out, "CapInh:\t0000000000000400") != NULL);
    CHECK(strstr(out, "CapPrm:\t0000000000000400") != NULL);
    CHECK(strstr(out, "CapEff:\t0000000000000400") != NULL);
    CHECK(strstr(out, "CapBnd:\t0000000000000400") != NULL);
    CHECK(strstr(out, "CapAmb:\t0000000000000400") != NULL);
    CHECK(strstr(out, "NoNewPrivs:\t1") != NULL);
    CHECK(strstr(out, "nofile 100 200") != NULL);
    CHECK(strstr(out, "umask 027") != NULL);
    CHECK(strstr(out, "oom 300") != NULL);
}

TEST(without_the_fields_nothing_changes_but_the_user)
{
    if (geteuid() != 0)
        harness_skip("needs root to change users; proven in the guest by tests/e2e/oci_process.sh");
    char *argv[] = {"true", NULL};
    struct proto_exec_req r = {.argv = argv};
    struct user_info u = {.uid = 0, .gid = 0, .groups = {0, 3}, .ngroups = 2};
    char out[4096];
    REQUIRE(become(&r, &u, out, sizeof out) == 0);
    CHECK(strstr(out, "Groups:\t0 3") != NULL);
    CHECK(strstr(out, "NoNewPrivs:\t0") != NULL);
    CHECK(strstr(out, "CapAmb:\t0000000000000000") != NULL);
}

TEST(an_impossible_request_is_an_error_not_a_half_applied_process)
{
    if (geteuid() != 0)
        harness_skip("needs root to change users; proven in the guest by tests/e2e/oci_process.sh");
    char *argv[] = {"true", NULL};
    /* ambient needs permitted and inheritable */
    struct proto_exec_req r = {.argv = argv, .has_caps = true,
                               .caps = {1ull << 10, 0, 0, 0, 1ull << 10}};
    struct user_info u = {.uid = 1000, .gid = 1000};
    char out[4096];
    CHECK(become(&r, &u, out, sizeof out) == 1);
    CHECK(strstr(out, "raise ambient capability 10") != NULL);
    /* a soft limit above the hard one */
    struct proto_rlimit rl[] = {{RLIMIT_NOFILE, 300, 200}};
    struct proto_exec_req r2 = {.argv = argv, .rlimits = rl, .nrlimits = 1};
    CHECK(become(&r2, &u, out, sizeof out) == 1);
    CHECK(strstr(out, "setrlimit 7") != NULL);
}
