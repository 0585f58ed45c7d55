// SPDX-License-Identifier: Apache-2.0
/* The cgroup file words the jail and boxlite-runtime share: /proc/self/cgroup's lines and
 * the controller lists (a hierarchy's, a cgroup mount's options). */
#include "common/cgroupfs.h"

#include "harness/harness.h"

#include <string.h>

TEST(a_line_of_proc_self_cgroup_splits_in_three)
{
    char v1[] = "4:cpu,cpuacct:/user.slice/x\n", v2[] = "0::/init.scope", *id, *c, *p;
    CHECK(cgroup_line_split(v1, &id, &c, &p));
    CHECK_STR(id, "4");
    CHECK_STR(c, "cpu,cpuacct");
    CHECK_STR(p, "/user.slice/x");
    CHECK(cgroup_line_split(v2, &id, &c, &p));
    CHECK_STR(id, "0");
    CHECK_STR(c, "");
    CHECK_STR(p, "/init.scope");
    char named[] = "1:name=systemd:/a:b"; /* a path may hold a colon: only the first two split */
    CHECK(cgroup_line_split(named, &id, &c, &p));
    CHECK_STR(p, "/a:b");
    char bad[] = "no colon here", one[] = "3:memory";
    CHECK(!cgroup_line_split(bad, &id, &c, &p));
    CHECK(!cgroup_line_split(one, &id, &c, &p));
}

TEST(a_list_holds_whole_items_only)
{
    CHECK(csv_has("cpu,cpuacct", "cpu"));
    CHECK(csv_has("cpu,cpuacct", "cpuacct"));
    CHECK(csv_has("rw,nosuid,memory", "memory"));
    CHECK(csv_has("memory", "memory"));
    CHECK(!csv_has("cpu,cpuacct", "cpuac"));
    CHECK(!csv_has("cpuacct", "cpu"));
    CHECK(!csv_has("net_cls,net_prio", "net"));
    CHECK(!csv_has("", "cpu"));
}
