#include "boxlite.h"
#include "harness/harness.h"

TEST(version_and_code_strings)
{
    CHECK_STR(boxlite_version(), BOXLITE_VERSION);
    CHECK_STR(boxlite_code_str(BOXLITE_ERR_NOT_FOUND), "not found");
    CHECK_STR(boxlite_code_str(9999), "unknown error");
}
