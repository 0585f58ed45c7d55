// SPDX-License-Identifier: Apache-2.0
/* A fork's /etc/hosts (identity_hosts_rename): the old host name becomes the new one on the
 * 127.0.1.1 line the agent writes, as a whole token only; a user's lines stay as they are. */
#include "../../../guest/agent/agent.h"
#include "harness/harness.h"

#include <string.h>

static const char *renamed(const char *in, const char *old, const char *new)
{
    static char out[512];
    long n = identity_hosts_rename(in, strlen(in), old, new, out, sizeof out - 1);
    if (n < 0)
        return "(too long)";
    out[n] = 0;
    return out;
}

TEST(the_agents_line)
{
    CHECK_STR(renamed("127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\tweb\n", "web", "web-2"),
              "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\tweb-2\n");
    /* aliases on the line, spaces or tabs, no newline at the end */
    CHECK_STR(renamed("127.0.1.1 web  web.local web\tx", "web", "f1"),
              "127.0.1.1 f1  web.local f1\tx");
}

TEST(only_whole_tokens_on_that_line)
{
    /* a prefix, a suffix, another address naming the old host, a comment */
    CHECK_STR(renamed("127.0.1.1\twebby\n", "web", "x"), "127.0.1.1\twebby\n");
    CHECK_STR(renamed("127.0.1.1\tmyweb\n", "web", "x"), "127.0.1.1\tmyweb\n");
    CHECK_STR(renamed("10.0.0.5 web\n127.0.1.10 web\n# 127.0.1.1 web\n", "web", "x"),
              "10.0.0.5 web\n127.0.1.10 web\n# 127.0.1.1 web\n");
    /* the address itself is never taken for a name */
    CHECK_STR(renamed("127.0.1.1 a\n", "127.0.1.1", "x"), "127.0.1.1 a\n");
    CHECK_STR(renamed("127.0.1.1\tweb\n", "", "x"), "127.0.1.1\tweb\n");
}

TEST(bounded)
{
    char out[16];
    CHECK_EQ(identity_hosts_rename("127.0.1.1 a\n", 12, "a", "a-much-longer-name", out,
                                   sizeof out),
             -1);
    CHECK_EQ(identity_hosts_rename("127.0.1.1 a\n", 12, "a", "b", out, 12), 12);
    CHECK_EQ(identity_hosts_rename("127.0.1.1 a\n", 12, "a", "b", out, 11), -1);
}
