// SPDX-License-Identifier: Apache-2.0
/* Free page reporting's order from the kernel command line (guest/agent/reporting.c): what
 * the engines pass is what the agent writes back to the kernel's parameter. */
#include "../../../guest/agent/agent.h"
#include "common/guest_abi.h"
#include "harness/harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TEST(engines_value_parses)
{
    /* the word both engines put on the command line names GUEST_REPORTING_ORDER */
    CHECK_EQ(agent_reporting_order_parse(GUEST_REPORTING_ORDER_ARG), GUEST_REPORTING_ORDER);
    CHECK_EQ(agent_reporting_order_parse("console=ttyS0 reboot=t " GUEST_REPORTING_ORDER_ARG
                                         " boxlite.ctl=1"),
             GUEST_REPORTING_ORDER);
}

TEST(words)
{
    CHECK_EQ(agent_reporting_order_parse(NULL), -1);
    CHECK_EQ(agent_reporting_order_parse(""), -1);
    CHECK_EQ(agent_reporting_order_parse("quiet"), -1);
    CHECK_EQ(agent_reporting_order_parse("page_reporting.page_reporting_order=0"), 0);
    CHECK_EQ(agent_reporting_order_parse("page_reporting.page_reporting_order=10"), 10);
    /* the last one wins, as the kernel's own parsing does */
    CHECK_EQ(agent_reporting_order_parse("page_reporting.page_reporting_order=3 x "
                                         "page_reporting.page_reporting_order=7"), 7);
    CHECK_EQ(agent_reporting_order_parse("page_reporting.page_reporting_order=3\t"
                                         "page_reporting.page_reporting_order=x"), -1);
    /* not an order Linux keeps free lists for, not a number, not the whole word */
    CHECK_EQ(agent_reporting_order_parse("page_reporting.page_reporting_order=11"), -1);
    CHECK_EQ(agent_reporting_order_parse("page_reporting.page_reporting_order=100"), -1);
    CHECK_EQ(agent_reporting_order_parse("page_reporting.page_reporting_order=-1"), -1);
    CHECK_EQ(agent_reporting_order_parse("page_reporting.page_reporting_order="), -1);
    CHECK_EQ(agent_reporting_order_parse("page_reporting.page_reporting_order=5k"), -1);
    CHECK_EQ(agent_reporting_order_parse("xpage_reporting.page_reporting_order=5"), -1);
    CHECK_EQ(agent_reporting_order_parse("page_reporting.page_reporting_orderx=5"), -1);
}

static char *read_all(const char *path)
{
    static char buf[64];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

TEST(apply_writes_the_parameter)
{
    char path[] = "/tmp/test_reporting_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "10\n", 3) == 3); /* what 6.1's page_reporting_register() left */
    close(fd);
    CHECK_EQ(agent_reporting_order_apply("quiet " GUEST_REPORTING_ORDER_ARG, path),
             GUEST_REPORTING_ORDER);
    char want[8];
    snprintf(want, sizeof want, "%d\n", GUEST_REPORTING_ORDER);
    CHECK_STR(read_all(path), want);
    /* none asked for: the file is left as it is */
    REQUIRE(truncate(path, 0) == 0);
    CHECK_EQ(agent_reporting_order_apply("quiet", path), -1);
    CHECK_STR(read_all(path), "");
    unlink(path);
    /* a kernel without the parameter: an error, logged, nothing else */
    CHECK_EQ(agent_reporting_order_apply(GUEST_REPORTING_ORDER_ARG, "/nonexistent/x/order"), -2);
}
