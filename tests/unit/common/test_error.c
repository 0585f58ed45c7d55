// SPDX-License-Identifier: Apache-2.0
#include "common/error.h"
#include "common/cleanup.h"
#include "harness/harness.h"

#include <errno.h>
#include <fcntl.h>

TEST(err_sets_code_and_message)
{
    struct bl_error e = {0};
    int r = bl_err(&e, BOXLITE_ERR_INVALID, "bad cpus %d", 0);
    CHECK_EQ(r, -BOXLITE_ERR_INVALID);
    CHECK_EQ(e.code, BOXLITE_ERR_INVALID);
    CHECK_STR(e.msg, "bad cpus 0");
}

TEST(errno_maps_code_and_appends_strerror)
{
    struct bl_error e = {0};
    CHECK_EQ(bl_errno(&e, ENOENT, "open %s", "/x"), -BOXLITE_ERR_NOT_FOUND);
    CHECK_STR(e.msg, "open /x: No such file or directory");
    CHECK_EQ(bl_errno(&e, EACCES, "open"), -BOXLITE_ERR_IO);
    CHECK_EQ(e.errnum, EACCES);
}

TEST(errno_of_a_path_that_does_not_fit_is_not_io)
{
    /* the caller's to resolve (a server answers 409 or 400 for them, not 500) */
    struct bl_error e = {0};
    CHECK_EQ(bl_errno(&e, ENOTDIR, "rename"), -BOXLITE_ERR_STATE);
    CHECK_EQ(bl_errno(&e, EISDIR, "open"), -BOXLITE_ERR_STATE);
    CHECK_EQ(bl_errno(&e, ENOTEMPTY, "rmdir"), -BOXLITE_ERR_STATE);
    CHECK_EQ(bl_errno(&e, EROFS, "open"), -BOXLITE_ERR_STATE);
    CHECK_EQ(bl_errno(&e, ENAMETOOLONG, "open"), -BOXLITE_ERR_INVALID);
    CHECK_EQ(bl_errno(&e, ELOOP, "open"), -BOXLITE_ERR_INVALID);
    CHECK_EQ(bl_errno(&e, EIO, "read"), -BOXLITE_ERR_IO);
}

TEST(prefix_adds_context)
{
    struct bl_error e = {0};
    bl_errno(&e, ENOENT, "open /x");
    CHECK_EQ(bl_err_prefix(&e, "attach disk %s", "foo"), -BOXLITE_ERR_NOT_FOUND);
    CHECK_STR(e.msg, "attach disk foo: open /x: No such file or directory");
}

TEST(long_messages_are_truncated_not_overflowed)
{
    struct bl_error e = {0};
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bl_err(&e, BOXLITE_ERR_IO, "%s", big);
    CHECK_EQ(strlen(e.msg), BL_ERRMSG_MAX - 1);
    bl_err_prefix(&e, "%s", big);
    CHECK_EQ(strlen(e.msg), BL_ERRMSG_MAX - 1);
}

TEST(null_error_object_still_returns_code)
{
    CHECK_EQ(bl_err(NULL, BOXLITE_ERR_STATE, "x"), -BOXLITE_ERR_STATE);
    CHECK_EQ(bl_err(NULL, 0, "x"), -BOXLITE_ERR_INTERNAL);
    bl_err_clear(NULL);
}

TEST(cleanup_close_closes)
{
    int saved;
    {
        cleanup_close int fd = open("/dev/null", O_RDONLY);
        REQUIRE(fd >= 0);
        saved = fd;
    }
    CHECK(fcntl(saved, F_GETFD) == -1 && errno == EBADF);
}
