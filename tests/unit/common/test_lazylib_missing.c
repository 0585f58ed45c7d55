// SPDX-License-Identifier: Apache-2.0
/* A library loaded on first use that cannot be loaded (src/common/lazylib.h): every call the
 * project makes gives the library's own failure value, never a crash, and the outputs a
 * caller cannot check are left defined (EVP_EncodeBlock, SHA1); OPENSSL_cleanse still
 * clears, CRYPTO_memcmp says "different"; lazylib_why says what failed. A process of its
 * own: a library is tried once per process. */
#include "common/error.h"
#include "common/lazy_archive.h"
#include "common/lazy_crypto.h"
#include "common/lazy_curl.h"
#include "common/lazy_mhd.h"
#include "harness/harness.h"

#define MISSING "libboxlite-not-installed.so.9"

TEST(a_missing_library_gives_failures)
{
    lazy_curl_lib.soname = lazy_archive_lib.soname = MISSING;
    lazy_mhd_lib.soname = lazy_crypto_lib.soname = MISSING;

    CHECK(lazy_curl() == NULL);
    CHECK(strstr(lazylib_why(&lazy_curl_lib), MISSING) != NULL);
    CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_FAILED_INIT);
    CHECK(curl_easy_init() == NULL);
    CHECK(curl_multi_init() == NULL);
    CHECK(curl_slist_append(NULL, "A: b") == NULL);
    CHECK(curl_easy_setopt(NULL, CURLOPT_URL, "http://127.0.0.1/") == CURLE_FAILED_INIT);
    CHECK(strstr(curl_easy_strerror(CURLE_OK), MISSING) != NULL);
    curl_slist_free_all(NULL);

    CHECK(archive_read_new() == NULL);
    struct bl_error e = {0};
    CHECK_EQ(lazylib_null_err(&lazy_archive_lib, &e), -BOXLITE_ERR_UNSUPPORTED);
    CHECK(strstr(e.msg, MISSING " cannot be loaded") != NULL);
    CHECK(archive_write_new() == NULL);
    CHECK(archive_entry_new() == NULL);
    CHECK(archive_read_free(NULL) == ARCHIVE_FATAL);
    CHECK(strstr(archive_error_string(NULL), MISSING) != NULL);

    CHECK(MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, NULL, NULL, MHD_OPTION_END) ==
          NULL);

    char b64[8] = "xxxxxxx";
    CHECK(EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)"hi", 2) == 0);
    CHECK_STR(b64, "");
    unsigned char md[20];
    memset(md, 0xaa, sizeof md);
    CHECK(SHA1((const unsigned char *)"a", 1, md) == NULL);
    int zero = 1;
    for (int i = 0; i < 20; i++)
        zero &= md[i] == 0;
    CHECK(zero);
    CHECK(CRYPTO_memcmp("same", "same", 4) != 0);
    char secret[] = "secret";
    OPENSSL_cleanse(secret, 6);
    CHECK(memcmp(secret, "\0\0\0\0\0\0", 6) == 0);
    unsigned char r[4];
    CHECK(RAND_bytes(r, 4) == 0);
    CHECK(EVP_MD_CTX_new() == NULL);
    CHECK(EVP_sha256() == NULL);
    CHECK(EVP_DecodeBlock(md, (const unsigned char *)"aGk=", 4) == -1);
}
