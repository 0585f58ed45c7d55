// SPDX-License-Identifier: Apache-2.0
/* signal_parse: the forms boxlite kill -s and boxlite-runtime's kill both take. */
#include "common/signame.h"

#include "harness/harness.h"

#include <signal.h>

TEST(names_numbers_aliases_and_realtime)
{
    CHECK_EQ(signal_parse("KILL"), SIGKILL);
    CHECK_EQ(signal_parse("SIGTERM"), SIGTERM);
    CHECK_EQ(signal_parse("usr1"), SIGUSR1);
    CHECK_EQ(signal_parse("sigwinch"), SIGWINCH);
    CHECK_EQ(signal_parse("IOT"), SIGABRT);
    CHECK_EQ(signal_parse("POLL"), SIGIO);
    CHECK_EQ(signal_parse("9"), 9);
    CHECK_EQ(signal_parse("64"), 64);
    CHECK_EQ(signal_parse("RTMIN"), SIGRTMIN);
    CHECK_EQ(signal_parse("SIGRTMIN+3"), SIGRTMIN + 3);
    CHECK_EQ(signal_parse("RTMAX-1"), SIGRTMAX - 1);
}

TEST(what_names_no_signal)
{
    static const char *const bad[] = { "", "0", "65", "9x", "-9", "BOGUS", "SIG", "RTMIN-1",
                                       "RTMAX+1", "RTMIN+", "RTMIN+99", "RTMIN+x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(signal_parse(bad[i]), -1);
}
