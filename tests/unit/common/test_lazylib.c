// SPDX-License-Identifier: Apache-2.0
/* The libraries loaded on first use (src/common/lazylib.h): through the same macros the
 * project's code calls, each library loads once, from many threads at once, and gives the
 * real results (OpenSSL's SHA-256 against common/sha256.c, libcurl's escaping, libarchive's
 * and libmicrohttpd's constructors). */
#include "common/error.h"
#include "common/lazy_archive.h"
#include "common/lazy_crypto.h"
#include "common/lazy_curl.h"
#include "common/lazy_mhd.h"
#include "common/sha256.h"
#include "harness/harness.h"

#include <pthread.h>

static void *first_use(void *arg)
{
    return (void *)lazy_curl();
}

TEST(many_threads_at_the_first_use_get_one_table)
{
    pthread_t t[8];
    void *got[8];
    for (int i = 0; i < 8; i++)
        REQUIRE(pthread_create(&t[i], NULL, first_use, NULL) == 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], &got[i]);
    CHECK(got[0] != NULL);
    for (int i = 1; i < 8; i++)
        CHECK(got[i] == got[0]);
    CHECK_STR(lazylib_why(&lazy_curl_lib), "");
    struct bl_error e = {0}; /* loaded: a NULL from a constructor was memory */
    CHECK_EQ(lazylib_null_err(&lazy_curl_lib, &e), -BOXLITE_ERR_NOMEM);
}

TEST(each_library_gives_its_real_results)
{
    char *e = curl_easy_escape(NULL, "a b/c", 0);
    REQUIRE(e != NULL);
    CHECK_STR(e, "a%20b%2Fc");
    curl_free(e);

    unsigned char md[32], mine[32];
    unsigned n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    REQUIRE(c != NULL);
    CHECK(EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1);
    CHECK(EVP_DigestUpdate(c, "abc", 3) == 1);
    CHECK(EVP_DigestFinal_ex(c, md, &n) == 1);
    EVP_MD_CTX_free(c);
    sha256("abc", 3, mine);
    CHECK(n == 32 && memcmp(md, mine, 32) == 0);
    char b64[8];
    CHECK(EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)"hi", 2) == 4);
    CHECK_STR(b64, "aGk=");

    struct archive *a = archive_read_new();
    CHECK(a != NULL);
    CHECK(archive_read_support_format_tar(a) == ARCHIVE_OK);
    CHECK(archive_read_free(a) == ARCHIVE_OK);

    struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    CHECK(r != NULL);
    CHECK(MHD_add_response_header(r, "X-A", "b") == MHD_YES);
    CHECK_STR(MHD_get_response_header(r, "X-A"), "b");
    MHD_destroy_response(r);
}
