// SPDX-License-Identifier: Apache-2.0
/* sha256.c against FIPS 180-2's examples and OpenSSL (the oracle) for every length that
 * crosses the padding's edges (55, 56, 63, 64 bytes...) and a few large ones. */
#include "common/sha256.h"
#include "harness/harness.h"

#include <openssl/evp.h>
#include <stdlib.h>

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

TEST(fips_examples)
{
    uint8_t d[32];
    char h[65];
    sha256("abc", 3, d);
    hex(d, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256("", 0, d);
    hex(d, h);
    CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256(two, strlen(two), d);
    hex(d, h);
    CHECK_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(same_as_openssl_for_every_length_to_300_and_large_ones)
{
    size_t max = 1 << 20;
    uint8_t *buf = malloc(max);
    REQUIRE(buf != NULL);
    srand(7);
    for (size_t i = 0; i < max; i++)
        buf[i] = (uint8_t)rand();
    size_t big[] = { 4095, 4096, 10848, 65537, 1 << 20 };
    int bad = 0;
    for (size_t k = 0; k < 301 + sizeof big / sizeof big[0]; k++) {
        size_t n = k < 301 ? k : big[k - 301];
        uint8_t ours[32], ref[32];
        unsigned len = 32;
        sha256(buf, n, ours);
        REQUIRE(EVP_Digest(buf, n, ref, &len, EVP_sha256(), NULL) == 1);
        if (memcmp(ours, ref, 32) != 0 && bad++ < 3)
            printf("# %zu bytes: not OpenSSL's digest\n", n);
    }
    CHECK_EQ(bad, 0);
    free(buf);
}
