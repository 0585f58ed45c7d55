// SPDX-License-Identifier: Apache-2.0
/* The version the library reports, and the error code names. */
#include "boxlite.h"
#include "harness/harness.h"

#include <stdio.h>

TEST(version_agrees_with_its_parts)
{
    /* The string is built from the three numbers the header gives: a header whose parts
     * were bumped without the string (or the reverse) fails here. */
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", BOXLITE_VERSION_MAJOR, BOXLITE_VERSION_MINOR,
             BOXLITE_VERSION_PATCH);
    CHECK_STR(BOXLITE_VERSION, want);
    CHECK_STR(boxlite_version(), want);
}

TEST(every_code_has_its_own_name)
{
    CHECK_STR(boxlite_code_str(BOXLITE_OK), "ok");
    CHECK_STR(boxlite_code_str(BOXLITE_ERR_NOT_FOUND), "not found");
    CHECK_STR(boxlite_code_str(9999), "unknown error");
    CHECK_STR(boxlite_code_str(-1), "unknown error");
    for (int a = BOXLITE_ERR_INVALID; a <= BOXLITE_ERR_INTERNAL; a++) {
        CHECK(strcmp(boxlite_code_str(a), "unknown error") != 0);
        for (int b = BOXLITE_OK; b < a; b++)
            CHECK(strcmp(boxlite_code_str(a), boxlite_code_str(b)) != 0);
    }
}
